"""Move steps block by block, on running clusters too big for steps over the whole cluster.

A move step (:func:`packer.cpsat.reopt.move_steps`) rebuilds its view of the cluster (free room,
waiting requests, gangs) before each step and checks every improvement on the whole plan: at 1,024
GPUs that is a fraction of a step, at 16,384 it is most of it. There the re-optimizer used to give
the no-move solve (its hint, then CP-SAT LNS by pod with running work pinned) the whole time limit
and made no move at all: on fragmented-100 at 16,384 GPUs (6,408 movable running requests, 300 s)
the LNS by pod added 2.2 to the greedy hint's 18,851.6 while move steps had 0.4 s and made none.

Here the cluster is cut into blocks of whole topology domains of about BLOCK_NODES nodes (the size
the move steps were built and tuned on). Each block's sub-instance is the one LNS by domain builds
(:func:`packer.cpsat.decompose._sub_instance`): work that crosses the block's border is pinned, the
tenants' quotas and the migration cap are what the rest of the plan leaves, and the waiting
requests, dearest first, are offered up to BLOCK_OFFER. Move steps run on it for the block's share
of the time and the block's placement is written back when it is worth more. The blocks are solved
in turn, so each one sees what the earlier ones placed; passes go on while time is left and the
last pass improved. The whole plan is checked once at the end; should the check fail, the plan the
blocks started from is returned.

Move steps use about one core whatever ``workers`` says (their CP-SAT sub-problems are small and
the rest is Python: CPU time ≈ wall time at 16,384 GPUs with 2 workers, session 13), and a block
reaches about 60% of what its steps gain in 30 CPU-seconds. So a timed run with ``workers`` > 1
solves blocks side by side in waves, each block in a process of its own with one CP-SAT worker. The
blocks of a wave are cut from the same plan; each gets a disjoint offer of the waiting requests it
can serve and an equal part of every tenant's unused quota and of the unused migration cap, so their
answers merge in any order (each merge is still checked against the totals).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Mapping, Sequence

from packer.model import Instance, Unit
from packer.plans import objective_value
from packer.progress import SILENT, Progress

#: Nodes of a block at most (whole domains of the coarsest level whose domains are no bigger; a
#: block of one domain where none is): the 1,024-GPU clusters the move steps were built on.
BLOCK_NODES = 128
#: Waiting requests offered to a block (dearest first; each block sees what the earlier ones left).
BLOCK_OFFER = 400
#: Seconds below which a block is not started.
MIN_BLOCK_S = 2.0
#: Blocks side by side in a timed run with ``workers`` > 1 (min(workers, blocks) at once, one process
#: and one CP-SAT worker each); reproducible runs keep one block at a time unless ``parallel`` says.
PARALLEL = True
#: Seconds a wave keeps back from its blocks' time for sending sub-instances and answers.
WAVE_MARGIN_S = 0.5
#: Mechanisms measured and left off, removed in session 26 (they run at git tag flags-s25; figures in
#: bench/RESULTS_reopt.md): CP-SAT sub-problems over a block's pods before its steps (POD_LNS, session 11),
#: the blocks' time by gain rate (BY_RATE, session 21), pack steps in the blocks (BLOCK_PACK, session 21),
#: pipelined block waves (PIPELINE, session 22) and each block's steps guided by its own LP (BLOCK_GUIDE,
#: session 24).


def blocks(inst: Instance, size: int | None = None) -> list[list[str]]:
    """The cluster's nodes cut into blocks of whole domains, each of at most ``size`` nodes.

    The domains are those of the coarsest level whose domains all have at most ``size`` nodes
    (nodes themselves where no level has); neighbouring domains (in file order) share a block
    while it has room. ``size``: BLOCK_NODES by default."""
    size = BLOCK_NODES if size is None else size
    topo = inst.cluster_topology
    level = "node"
    for lv in topo.levels[1:]:
        doms = topo.domains(lv)
        if max(len(ns) for ns in doms.values()) <= size:
            level = lv
    out: list[list[str]] = []
    cur: list[str] = []
    for ns in topo.domains(level).values():
        if cur and len(cur) + len(ns) > size:
            out.append(cur)
            cur = []
        cur.extend(ns)
    if cur:
        out.append(cur)
    return out


def parallel_of(workers: int | None, det: float | None, blocks_n: int) -> int:
    """Blocks solved at once by default: min(workers, blocks) in a timed run, else one."""
    if not PARALLEL or det is not None:
        return 1
    w = workers if workers is not None else (os.cpu_count() or 1)
    return max(1, min(w, blocks_n))


def _wave_shares(inst: Instance, placed: Mapping[str, Sequence[Unit]], parts: Sequence[Sequence[str]],
                 wave: Sequence[int]) -> list:
    """What each block of a wave (indices into ``parts``) gets, in wave order: the requests touching it,
    a disjoint offer of at most BLOCK_OFFER waiting requests it can serve (dearest first, each to the
    servable block offered fewest so far), and an equal part of every tenant's unused quota and of the
    unused migration cap (:func:`packer.cpsat.decompose._round_shares`, with this deal of the offers)."""
    from packer.cpsat.decompose import _round_shares, _servable, _serves

    order = [str(i) for i in wave]
    waiting = sorted((r for r in inst.requests if r.id not in placed and r.placement is None),
                     key=lambda r: (-r.priority, r.id))
    serves = {d: _serves(inst, set(parts[int(d)])) for d in order}
    offers: dict[str, list] = {d: [] for d in order}
    for r in waiting:
        fit = [d for d in order if len(offers[d]) < BLOCK_OFFER and _servable(inst, r, serves[d])]
        if fit:
            offers[min(fit, key=lambda d: len(offers[d]))].append(r)
        elif all(len(o) >= BLOCK_OFFER for o in offers.values()):
            break
    domains = {str(i): list(ns) for i, ns in enumerate(parts)}
    shares = _round_shares(inst, placed, domains, order, "block", 0, offers=offers)
    return [shares[d] for d in order]


def _block_job(job: tuple) -> tuple[dict[str, list[Unit]], dict[str, object]]:
    """One block's move steps in a pool process: (sub-instance, its placement, stop, seed, max_steps, det)
    → the improved placement and the steps' statistics (with the run's process CPU seconds, ``cpu_s``, and
    its gain curve, ``curve``: (CPU seconds, gain so far) at each improvement). ``stop``: the wall clock
    (``time.time()``) by which the steps end, so that the time a job waits or a fresh process imports is the
    block's."""
    from packer.cpsat.reopt import move_steps

    sub, here, stop, seed, max_steps, det = job
    t0 = time.time()
    deadline = time.perf_counter() + (stop - t0)
    curve = _Curve(objective_value(sub, here))
    out, st = move_steps(sub, here, cap=sub.objective.max_migrations, deadline=deadline, seed=seed, workers=1,
                         max_steps=max_steps, det=det, pack=False, progress=curve)  # type: ignore[arg-type]
    st["cpu_s"] = round(time.process_time() - curve.c0, 3)
    st["curve"] = curve.points
    st["wall"] = (t0, time.time())  # when the steps began and ended (wall clock): the pool's busy time
    return out, st


class _Curve:
    """Records a block's gain curve for its statistics: (process CPU seconds, gain so far) at each
    improvement of its move steps (they report each one to their progress)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.c0 = time.process_time()
        self.points: list[tuple[float, float]] = []

    def update(self, *, best: float | None = None, **_: object) -> None:
        if best is not None:
            self.points.append((round(time.process_time() - self.c0, 3), round(best - self.start, 3)))


def _warm(_: int) -> None:
    """Imports the move steps in a pool process while the first wave is being cut."""
    import packer.cpsat.reopt  # noqa: F401


def _pool(n: int):  # type: ignore[no-untyped-def]
    """A pool of ``n`` fresh processes (spawned: the caller may hold threads), or None where this
    process may not have children (a daemon, e.g. a pool's own worker)."""
    try:
        pool = multiprocessing.get_context("spawn").Pool(n)
    except (AssertionError, OSError):
        return None
    pool.map_async(_warm, range(n))
    return pool


def _wave_pass(capped: Instance, cur: dict[str, list[Unit]], parts: list[list[str]], k: int, par: int, pool,
               *, deadline: float, seed: int, max_steps: int | None, det: float | None,
               stats: dict[str, object], progress: Progress, now: float) -> tuple[bool, float]:
    """One pass over the blocks in waves of ``par`` side by side, each wave an equal part of the time left;
    merges into ``cur``. Returns whether a block improved the plan, and the plan's value."""
    waves = [list(range(i, min(i + par, len(parts)))) for i in range(0, len(parts), par)]
    improved = False
    for w, idx in enumerate(waves):
        if deadline - time.perf_counter() < MIN_BLOCK_S:
            break
        stats["passes"] = k + 1
        got, now = _wave(capped, cur, parts, idx, k, pool, waves_left=len(waves) - w, deadline=deadline,
                         seed=seed, max_steps=max_steps, det=det, stats=stats, progress=progress, now=now)
        improved = improved or got
    return improved, now


def _merge_answer(capped: Instance, sub: Instance, out, cur: dict[str, list[Unit]], used: dict[str, float],  # type: ignore[no-untyped-def]
                  moved: int, gain: float, rec: dict[str, object], stats: dict[str, object]) -> int | None:
    """Merges a block's better answer ``out`` into ``cur`` where its quota use and moves fit what is left
    (``used`` is updated in place, the block's record and the stats say so): the moves after it, or None
    when it does not fit."""
    from packer.cpsat.decompose import _fits, change_units, merge_units

    delta, dmoves = change_units(capped, sub, out, cur)
    if not _fits(capped, used, moved, delta, dmoves) or not merge_units(capped, sub, out, cur):
        return None
    rec["merged"] = True
    for t, x in delta.items():
        used[t] += x
    stats["blocks_improved"] += 1  # type: ignore[operator]
    stats["gain"] = round(float(stats["gain"]) + gain, 6)  # type: ignore[arg-type]
    return moved + dmoves


def _wave(capped: Instance, cur: dict[str, list[Unit]], parts: list[list[str]], idx: Sequence[int],
          visit: int, pool, *, waves_left: int, deadline: float, seed: int, max_steps: int | None,
          det: float | None, stats: dict[str, object], progress: Progress, now: float) -> tuple[bool, float]:
    """The blocks ``idx`` side by side (the ``visit``-th run of each: its seed), each for an equal part
    of the time left over ``waves_left`` waves; merges into ``cur``."""
    from packer.cpsat.decompose import _sub_instance, _totals

    jobs = []
    for i, share in zip(idx, _wave_shares(capped, cur, parts, idx)):
        sub, hint = _sub_instance(capped, cur, set(parts[i]), 0, share)
        if sub.requests and hint is not None:
            jobs.append((i, visit, sub, {a.request: list(a.units) for a in hint.assignments}))
    seconds = (deadline - time.perf_counter()) / waves_left - WAVE_MARGIN_S
    if not jobs or seconds < MIN_BLOCK_S - WAVE_MARGIN_S:
        return False, now
    stop = time.time() + seconds
    sent = [pool.apply_async(_block_job, ((sub, here, stop, seed + i + v * len(parts), max_steps, det),))
            for i, v, sub, here in jobs]
    used, moved = _totals(capped, cur)
    improved = False
    for (i, v, sub, here), res in zip(jobs, sent):
        try:
            out, st = res.get(timeout=max(1.0, deadline - time.perf_counter()) + (30.0 if det is not None else 2.0))
        except Exception:  # a block not back in time, or one that failed: the plan goes on without it
            stats["blocks_lost"] = int(stats.get("blocks_lost", 0)) + 1  # type: ignore[call-overload]
            continue
        stats["steps"] += int(st.get("steps", 0))  # type: ignore[operator]
        stats["improved"] += int(st.get("improved", 0))  # type: ignore[operator]
        before, after = objective_value(sub, here), objective_value(sub, out)
        rec = {"visit": v, "block": i, "s": round(seconds, 2), "cpu_s": st.get("cpu_s"), "steps": st.get("steps"),
               "improved": st.get("improved"), "gain": round(after - before, 3), "start": round(before, 3),
               "curve": st.get("curve"), "wall": st.get("wall"), "merged": False}
        stats.setdefault("per_block", []).append(rec)  # type: ignore[union-attr]
        if after <= before + 1e-9:
            continue
        got = _merge_answer(capped, sub, out, cur, used, moved, after - before, rec, stats)
        if got is None:
            continue
        moved = got
        improved = True
        now += after - before
        progress.update(best=now, note=f"block {i + 1}/{len(parts)}", force=True)
    return improved, now


def _idle_share(stats: Mapping[str, object], par: int, t0: float, t1: float) -> float | None:
    """The share of the pool's worker-seconds from ``t0`` to ``t1`` (wall clock) in which no block's
    steps ran: the parent cutting, sending and merging while workers wait (and any slack at the end)."""
    runs = [r.get("wall") for r in stats.get("per_block", [])]  # type: ignore[union-attr]
    if not runs or t1 <= t0:
        return None
    busy = sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in (w for w in runs if w))
    return round(1.0 - busy / (par * (t1 - t0)), 4)


def block_steps(inst: Instance, placed: Mapping[str, Sequence[Unit]], *, cap: int | None, deadline: float,
                seed: int = 0, workers: int | None = None, progress: Progress = SILENT,
                max_steps: int | None = None, det: float | None = None,
                size: int | None = None, parallel: int | None = None) -> tuple[dict[str, list[Unit]], dict[str, object]]:
    """Improves ``placed`` by move steps block by block until ``deadline`` (perf_counter); at most
    ``cap`` moves in all. ``max_steps``, ``det``: per block, as in :func:`move_steps` (reproducible
    runs: then exactly one pass). ``parallel``: blocks solved at once (None: :func:`parallel_of`)."""
    from packer.cpsat.decompose import _sub_instance, merge_units
    from packer.cpsat.reopt import _valid, move_steps

    weights = inst.objective.model_copy(update={"max_migrations": cap})
    capped = inst.model_copy(update={"objective": weights})
    cur: dict[str, list[Unit]] = {rid: list(us) for rid, us in placed.items()}
    start = objective_value(capped, cur)
    now = start  # the plan's value for the progress line: each merged block adds its own gain
    parts = blocks(inst, size)
    par = parallel_of(workers, det, len(parts)) if parallel is None else max(1, min(parallel, len(parts)))
    pool = _pool(par) if par > 1 else None
    if pool is None:
        par = 1
    stats: dict[str, object] = {"blocks": len(parts), "parallel": par, "passes": 0, "steps": 0, "improved": 0,
                                "blocks_improved": 0, "gain": 0.0}
    steps_gain_s = [0.0, 0.0]  # what the blocks' move steps gained (one at a time), and their seconds
    k = 0
    improved_last = True
    w0 = time.time()
    try:
        while pool is not None and improved_last and (k == 0 or det is None):
            improved_last, now = _wave_pass(capped, cur, parts, k, par, pool, deadline=deadline, seed=seed,
                                            max_steps=max_steps, det=det, stats=stats, progress=progress, now=now)
            k += 1
            if deadline - time.perf_counter() < MIN_BLOCK_S:
                break
    finally:
        if pool is not None:
            pool.terminate()
    if pool is not None:
        stats["phase_s"] = round(time.time() - w0, 3)
        stats["idle_share"] = _idle_share(stats, par, w0, time.time())
    while pool is None and improved_last and (k == 0 or det is None):
        improved_last = False
        for i, nodes in enumerate(parts):
            tb = time.perf_counter()
            left = deadline - tb
            if left < MIN_BLOCK_S:
                break
            stats["passes"] = k + 1
            sub, hint = _sub_instance(capped, cur, set(nodes), i + k * len(parts), offer=BLOCK_OFFER)
            if not sub.requests or hint is None:
                continue
            here = {a.request: list(a.units) for a in hint.assignments}
            before = objective_value(sub, here)
            end = min(deadline, tb + left / (len(parts) - i))
            bseed = seed + i + k * len(parts)
            tm = time.perf_counter()
            out, st = move_steps(sub, here, cap=sub.objective.max_migrations, deadline=end, seed=bseed,
                                 workers=workers, max_steps=max_steps, det=det, pack=False)
            stats["steps"] += int(st.get("steps", 0))  # type: ignore[operator]
            stats["improved"] += int(st.get("improved", 0))  # type: ignore[operator]
            after = objective_value(sub, out)
            steps_gain_s[0] += after - before
            steps_gain_s[1] += time.perf_counter() - tm
            if after > before + 1e-9 and merge_units(capped, sub, out, cur):
                stats["blocks_improved"] += 1  # type: ignore[operator]
                stats["gain"] = round(float(stats["gain"]) + after - before, 6)  # type: ignore[arg-type]
                improved_last = True
                now += after - before
                progress.update(best=now, note=f"block {i + 1}/{len(parts)}", force=True)
        k += 1
        if deadline - time.perf_counter() < MIN_BLOCK_S:
            break
    stats["steps_gain_s"] = [round(x, 3) for x in steps_gain_s]
    if objective_value(capped, cur) <= start + 1e-9:
        return {rid: list(us) for rid, us in placed.items()}, stats
    if not _valid(capped, cur):
        stats["invalid"] = True  # a safety net: the sub-instances keep quotas, isolation and the cap
        return {rid: list(us) for rid, us in placed.items()}, stats
    return cur, stats


__all__ = ["BLOCK_NODES", "BLOCK_OFFER", "PARALLEL", "block_steps", "blocks", "parallel_of"]
