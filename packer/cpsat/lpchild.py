"""The model's LP solved in a child process that is ended at its deadline (the LP beside the search).

HiGHS's ``time_limit`` does not stop it everywhere: on badly scaled models (sharing, coefficients 1 to
1.7e8) the dual simplex reaches the optimum in seconds, then the primal cleanup after unscaling runs
past the limit (53 s for a 25 s limit on sharing-0), holding a core the LNS could use (issue 16
part 3). A thread cannot be stopped; a process can. The child is a fresh interpreter running
:func:`main` (not a fork: the parent runs CP-SAT's and HiGHS's thread pools, which a fork would copy
half-alive; not multiprocessing's spawn, which re-runs the caller's ``__main__``). It reads the
matrices pickled on stdin and writes the LP's optimum pickled on stdout.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from types import SimpleNamespace


def main() -> None:
    """In the child: reads (linear form, time limit), writes the LP's optimum in model units or None."""
    from packer.cpsat.bound import branch_value, lp_value

    form, time_limit, *rest = pickle.load(sys.stdin.buffer)
    nice = int(rest[0]) if rest else 0
    branch = rest[1] if len(rest) > 1 else None
    if nice > 0:
        os.nice(nice)  # the LP beside the search yields the cores to it (tuning.LP_NICE)
    if branch is not None:
        # Stops early enough to answer: the parent ends the child at time_limit.
        inner = None if time_limit is None else max(0.1, 0.9 * time_limit - 0.5)
        value = branch_value(form, branch[0], time_limit=inner, max_lps=branch[1])
    else:
        value = lp_value(form, time_limit=time_limit)
    pickle.dump(None if value is None else float(value), sys.stdout.buffer)
    sys.stdout.buffer.flush()


def lp_value_in_child(form, time_limit: float | None, nice: int = 0,  # type: ignore[no-untyped-def]
                      branch: tuple[list[int], int] | None = None) -> float | None:
    """:func:`packer.cpsat.bound.lp_value` for the linear ``form``, or None if the child has
    no answer within ``time_limit`` seconds (its start included) or fails; ``nice``: OS niceness
    the child adds to its own; ``branch`` (columns, most LPs): :func:`packer.cpsat.bound.branch_value`
    instead, which stops itself before the limit with the bound it has."""
    *mats, obj = form
    # The objective's proto does not pickle; the LP's optimum needs only its offset and scaling.
    payload = pickle.dumps(((*mats, SimpleNamespace(offset=obj.offset, scaling_factor=obj.scaling_factor)),
                            time_limit, nice, branch))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with subprocess.Popen([sys.executable, "-c", "from packer.cpsat.lpchild import main; main()"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          env=env) as proc:  # the context closes the pipes whatever happens
        try:
            out, _ = proc.communicate(payload, timeout=time_limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
    if proc.returncode != 0 or not out:
        return None
    value = pickle.loads(out)  # noqa: S301 - our own child's answer
    return None if value is None else float(value)


__all__ = ["lp_value_in_child", "main"]
