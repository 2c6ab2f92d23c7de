"""The hint of a CP-SAT solve: the best valid plan of the fast placers (greedy, online) in time."""

from __future__ import annotations

import threading
import time

from packer.cpsat import tuning
from packer.cpsat.timeplan import greedy_s, online_first
from packer.model import Instance, Plan


def hint_plan(inst: Instance, seed: int, time_limit: float | None, *, online: bool = True,
              pending: list[list[Plan]] | None = None) -> Plan | None:
    """The best valid plan of the fast placers (greedy, then online) that answer in time, or None.

    The placers run one after the other in a daemon thread so that a slow one cannot hold the time
    limit hostage; at ``time_limit`` the best plan finished so far is taken. ``pending``: gets the
    list the thread goes on appending its valid plans to, so that a caller can still use a plan
    that comes after ``time_limit`` (:func:`packer.cpsat.solver.solve` does at its end).
    ``online=False`` leaves the online placer out where greedy answers.
    """
    done: list[Plan] = []
    if pending is not None:
        pending.append(done)
    deadline = None if time_limit is None else time.perf_counter() + time_limit

    def run() -> None:
        for plan in placer_plans(inst, seed, online, deadline):
            if plan is not None and valid_plan(inst, plan):
                done.append(plan)

    if time_limit is None:
        run()
    else:
        if time_limit <= 0:
            return None
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(time_limit)
    finished = list(done)  # a snapshot: the thread may still append after the join times out
    if not finished:
        return None
    return max(finished, key=lambda p: p.objective)  # the first of equals: greedy


def placer_plans(inst: Instance, seed: int, online: bool = True,  # type: ignore[no-untyped-def]
                  deadline: float | None = None):
    """Yields the greedy and the online placer's plans, the cheaper first.

    Greedy grows faster than linearly, so on huge instances the online placer runs first (a plan
    in seconds) and greedy second (usually the better one: xl-0 21,503 against 20,206). Each is
    stopped before ``deadline`` (its plan so far), and none starts after it; on huge instances greedy
    does not start where its estimate (:func:`packer.cpsat.timeplan.greedy_s`) exceeds its limit. The online placer compiles its kernels on first use (about a
    second), so on ordinary sizes it comes second, and only when ``online`` (or greedy is missing).
    """
    huge = online_first(inst)
    order = ["online", "greedy"] if huge else ["greedy", "online"]
    for name in order:
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            # Nothing starts after the deadline: the thread ends instead of holding the GIL beside
            # the rest of the solve (at 131,072 GPUs a placer run past its share took minutes).
            return
        # Each placer stops at its limit (its plan so far is valid); part of the time is kept for
        # checking the plan, so a plan stopped at its limit still counts.
        limit = None if left is None else tuning.HINT_PLACER_SHARE * left
        if name == "greedy" and huge and limit is not None and greedy_s(inst) > limit:
            # Its estimate says it would be cut far short (131,072 GPUs: about an hour against a
            # minute); a partial greedy plan there is a fraction of the online one.
            continue
        try:
            if name == "greedy":
                from packer.greedy.solver import solve as greedy_solve

                # Without the online placer, greedy's own file-order runs are left out too: they
                # load (or, on a fresh machine, compile) the same kernels, which a short limit on a
                # small cluster cannot spare (tiny under 1 s: no plan at all), and CP-SAT closes
                # that gap itself there.
                yield greedy_solve(inst, seed=seed, time_limit=limit, file_order=online or huge)
            else:
                from packer.online.solver import solve as online_solve

                yield online_solve(inst, seed=seed, time_limit=limit, rollout=False)
        except ImportError:
            continue
        if not online and not huge:
            return


def online_ready() -> bool:
    """True when the online placer is installed and its kernels are compiled on disk. On a fresh
    machine its first run compiles them (about 50 s of CPU on 2 cores): a timed solve then leaves the
    online placers out of its hint, and the re-optimizer its placer-based steps, rather than spend
    its limit compiling (a fresh checkout's first 60 s solves of inference-1 and sharing-1 came back
    empty, objective 0). Later runs, and any run after ``packer solve --solver online``, find them warm."""
    try:
        from packer.online.kernels import warm
    except ImportError:  # no numba
        return False
    return warm()


def valid_plan(inst: Instance, plan: Plan) -> bool:
    """True when the checker passes ``plan`` (or the checker is not part of this build)."""
    try:
        from packer.check import check
    except ImportError:
        return True
    return bool(check(inst, plan).ok)


__all__ = ["hint_plan", "online_ready", "placer_plans", "valid_plan"]
