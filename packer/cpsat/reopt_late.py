"""The re-optimizer's LP bounds in a child process, beside the move steps (issue 17, session 15).

Before session 15 :func:`packer.cpsat.reopt.reoptimize` solved the stays LP (and its fallbacks,
:func:`packer.cpsat.reopt._budget_bounds`) first and started the move steps only when it was done:
at 1,024 GPUs under load 5-6 that LP took 20-38 s of a 60 s limit, which left 15-17 steps
(bench/RESULTS_reopt.md, "Session 14"). The steps need the LP only for its guide, and the kinds that
gain most (gang, tenant, spread, wide) do well without one; the bound is needed only by the final plan.

So here the same LPs, in the same order, run in a child process while the run goes on (from its start,
beside the no-move solve, then beside the steps), each with LATE_BOUND_SHARE of the time left: a fresh interpreter (not a fork: the parent runs CP-SAT's thread pool; see
:mod:`packer.cpsat.lpchild`) that reads the instance and the bounds already known pickled on stdin,
and writes a :meth:`packer.cpsat.reopt.BudgetBound.snapshot` on stdout after each LP. A reader
thread in the parent keeps the last whole snapshot; the steps take its guide when it is in, and the
final plan takes its bounds. The child is ended at the steps' deadline; what it wrote by then stands
(a bound is proven when it is written, never half of one).

Why a process and not a thread: HiGHS does release the GIL while it solves (a Python loop ran at
full speed beside it, measured this session), but building the repack model and the stays columns
(0.7 s and more, Python) does not, a thread cannot be ended at a deadline (HiGHS's ``time_limit``
does not hold everywhere, :mod:`packer.cpsat.lpchild`), and a process can be niced.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
import time
from typing import Any

from packer.cpsat.lpguide import Guide

#: The modules whose flags (each module's ``SETTINGS``) the LP child takes from its parent: the child is a
#: fresh interpreter, which would not see a flag set in the parent (e.g. by an A/B bench): the branch
#: and bound after the LPs (session 18), the stays LP's rows (session 23), the build memo (session 24: the
#: child builds the repack model; the same model either way, so only its seconds can differ).
CHILD_SETTINGS = ("packer.cpsat.reopt_intstays", "packer.cpsat.reopt_stays", "packer.cpsat.variables")


def parent_settings() -> dict[str, dict[str, object]]:
    """The flags of :data:`CHILD_SETTINGS` as they are in this process, by module."""
    out: dict[str, dict[str, object]] = {}
    for name in CHILD_SETTINGS:
        mod = importlib.import_module(name)
        out[name] = {k: getattr(mod, k) for k in mod.SETTINGS}
    return out


def take_settings(flags: dict[str, dict[str, object]]) -> None:
    """Sets the flags :func:`parent_settings` read in the parent (only names a module lists)."""
    for name, values in flags.items():
        if name not in CHILD_SETTINGS:
            continue
        mod = importlib.import_module(name)
        for k, v in values.items():
            if k in mod.SETTINGS:
                setattr(mod, k, v)


def main() -> None:
    """In the child: reads (instance, snapshot, cap, deadline as time.time(), nice, the parent's flags of
    :data:`CHILD_SETTINGS`), runs the bounds
    of ``cap`` with the time to the deadline, writes a snapshot after each LP."""
    from packer.cpsat import reopt_intstays
    from packer.cpsat.reopt import LATE_BOUND_SHARE, BudgetBound, _budget_bounds

    inst, snap, cap, deadline, nice, flags = pickle.load(sys.stdin.buffer)
    take_settings(flags)
    if nice > 0:
        os.nice(nice)
    bb = BudgetBound(inst)
    bb.restore(snap)
    out = sys.stdout.buffer

    def left() -> float:
        return deadline - time.time()

    def after() -> None:
        pickle.dump(bb.snapshot(), out)
        out.flush()

    _budget_bounds(bb, cap, left, after, LATE_BOUND_SHARE)

    def wait() -> bool:  # session 21 (AFTER_STALL): the parent's word on stdin, b"g"; EOF: the run ends without it
        return sys.stdin.buffer.read(1) == b"g"

    reopt_intstays.after_lps(bb, cap, left, after, wait)  # branch and bound on the stays form in the time left


class LateBounds:
    """The bounds of budget ``cap`` of ``bb``'s instance, computed in a child process until ``deadline``
    (``time.time()``); :meth:`guide` and :meth:`finish` read what it has written."""

    def __init__(self, bb, cap: int | None, deadline: float, nice: int = 0) -> None:  # type: ignore[no-untyped-def]
        self.bb = bb
        self.snap: dict[str, Any] | None = None
        self.count = 0
        self.first_s: float | None = None  # seconds from the start to the first snapshot
        self.end_s: float | None = None  # seconds from the start to the child's end (or its last answer)
        self._t0 = time.perf_counter()
        self._lock = threading.Lock()
        from packer.cpsat import reopt_intstays

        # Session 21 (reopt_intstays.AFTER_STALL): stdin stays open after the payload for the word that
        # starts branch and bound (:meth:`go`); closed by :meth:`finish` (EOF: no word).
        self._hold = reopt_intstays.AFTER_STALL and not reopt_intstays.INT_STAYS
        self._sent = False  # go() was called
        self._ended = False  # finish() began: no word any more
        self._written = False  # the payload is written (go's byte may follow it)
        self.go_s: float | None = None  # seconds from the start to go()

        payload = pickle.dumps((bb.inst, bb.snapshot(), cap, deadline, nice, parent_settings()))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-c", "from packer.cpsat.reopt_late import main; main()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env)
        # The payload (0.35 MB at 1,024 GPUs) is written by the reader thread: the child reads it only
        # once its imports are done, and the steps should not wait for that.
        self._thread = threading.Thread(target=self._run, args=(payload,), daemon=True)
        self._thread.start()

    def _run(self, payload: bytes) -> None:
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(payload)
            with self._lock:
                self._written = True
                if self._sent:  # go() came before the payload was out (finish() may have come since)
                    proc.stdin.write(b"g")
                if self._sent or self._ended or not self._hold:
                    proc.stdin.close()
                else:
                    proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return
        while True:
            try:
                snap = pickle.load(proc.stdout)  # noqa: S301 - our own child's answer
            except Exception:  # noqa: BLE001 - EOF, or a snapshot cut off when the child was ended
                self.end_s = time.perf_counter() - self._t0
                return
            with self._lock:
                self.snap = snap
                self.count += 1
                if self.first_s is None:
                    self.first_s = time.perf_counter() - self._t0

    def go(self) -> None:
        """Session 21 (AFTER_STALL): tells the child to start branch and bound once its LPs are done
        (at once if they are); once."""
        with self._lock:
            if self._sent or self._ended or not self._hold:
                return
            self._sent = True
            self.go_s = round(time.perf_counter() - self._t0, 3)
            if not self._written:
                return  # written after the payload by the reader thread
            stdin = self.proc.stdin
        try:
            if stdin is not None and not stdin.closed:
                stdin.write(b"g")
                stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def done(self) -> bool:
        """Whether the child has ended (every LP it would run has run)."""
        return not self._thread.is_alive()

    def guide(self) -> Guide | None:
        """The steps' guide as soon as the child has one: the no-limit LP's (:func:`packer.cpsat.reopt._guide_of`'s
        rule; a binding budget's steps take none, and no ``late`` is asked for)."""
        with self._lock:
            snap = self.snap
        if snap is None:
            return None
        return snap.get("guide")

    def finish(self, wait_s: float = 0.0) -> dict[str, float | int | None]:
        """Waits up to ``wait_s`` seconds for the child, ends it if still running, and puts the last
        snapshot it wrote into ``bb``. Returns what happened (for the run's info)."""
        t_wait = time.perf_counter()
        if self._hold:  # no word will come now: EOF lets a child still waiting for it end
            with self._lock:
                self._ended = True
                stdin = self.proc.stdin if self._written else None
            try:
                if stdin is not None and not stdin.closed:
                    stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass
        self._thread.join(max(0.0, wait_s))
        killed = self._thread.is_alive()
        if killed:
            self.proc.kill()
            self._thread.join()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None and not f.closed:
                f.close()
        with self._lock:
            snap = self.snap
        if snap is not None:
            self.bb.restore(snap)
        return {"snapshots": self.count, "first_s": None if self.first_s is None else round(self.first_s, 3),
                "go_s": self.go_s,
                "ended": int(killed), "end_s": None if self.end_s is None else round(self.end_s, 3),
                "wait_s": round(time.perf_counter() - t_wait, 3)}


__all__ = ["CHILD_SETTINGS", "LateBounds", "main", "parent_settings", "take_settings"]
