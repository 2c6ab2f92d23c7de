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
#: Each block first runs CP-SAT sub-problems over its pods with running work pinned (placed work
#: traded for dearer waiting work), then move steps; the two share its time by their gain per second
#: so far, each at least MIN_SHARE of it. Off: at 16,384 GPUs, 300 s, the pods gained 0.5 in 52 s on
#: haein-100 (20,888.53 with them, 20,888.89 without) and 14.2 in 28.5 s on fragmented-101, where the
#: steps gained 1,080 in 164 s (bench/bench_reopt_blocks.py; session 11). True: the A/B arm.
POD_LNS = False
MIN_SHARE = 0.15
#: Blocks side by side in a timed run with ``workers`` > 1 (min(workers, blocks) at once, one process
#: and one CP-SAT worker each); reproducible runs keep one block at a time unless ``parallel`` says.
PARALLEL = True
#: Seconds a wave keeps back from its blocks' time for sending sub-instances and answers.
WAVE_MARGIN_S = 0.5
#: Timed runs with blocks side by side give the blocks' time by what it buys (:func:`_by_rate`): a first
#: pass over every block in equal slots with FIRST_SHARE of the time, then slots of the same length to
#: the blocks whose gain curve ended steepest (gain per CPU second over the last half of their run).
#: False: one pass, every block an equal part of the time (sessions 11-20). Off (session 21,
#: bench/RESULTS_reopt.md): the blocks' gain curves at deterministic time are alike (80-95% of 20 CPU-s'
#: gain by 8 CPU-s on fragmented-0 blocks 0, 8, 9), so even a look-ahead split beats equal shares by ≤ 1%
#: from 8 CPU-s a block on; in a 300 s pair on fragmented-100 at load 6.5-8.6 it gained 13.8 per block
#: CPU-s against 15.7 (objective 19,725.98 against 19,678.35, the hint 9 s faster in its arm: noise).
BY_RATE = False
FIRST_SHARE = 0.5
#: Pack steps (:mod:`packer.cpsat.reopt_pack`: empty some of a node-isolated tenant's nodes onto its
#: others for the other tenants' waiting work; on at 1,024 GPUs since session 17) in the blocks' move
#: steps too. False: the blocks' steps without them (sessions 11-20: "not measured there"). Off: level
#: at deterministic time on fragmented-0 blocks 0, 8, 9 (session 21, bench/RESULTS_reopt.md).
BLOCK_PACK = False
#: Timed runs with blocks side by side keep the pool busy (:func:`_pipeline`): a block starts the moment
#: a worker frees (the oldest block is waited for first), and the next block is cut from the plan while
#: the others run; its offer is disjoint from theirs, and its part of every tenant's unused quota and of
#: the unused migration cap is settled when it starts, from what the running blocks may still take, so no
#: merge is ever refused. False: waves of ``parallel`` blocks with a barrier after each (sessions 11-21:
#: 15-17% of the step phase was the parent alone between waves, both workers waiting). Off (session 22,
#: bench/RESULTS_reopt.md): at equal deterministic work on fragmented 0-4 at 16,384 GPUs it gained
#: +237 / -30 / -23 / +14 / +60 against the waves (a different deal and merge order: level within seeds'
#: spread); in one 300 s pair on fragmented-100 at load 7.5-10.8 it cut the pool's idle share from 14.9% to
#: 8.7% and ended 38 higher (noise), but the blocks got no more CPU and that run's bound by blocks fell back
#: on three blocks (gap 9.78% against 6.82%). True: the A/B arm.
PIPELINE = False
#: Each block's move steps follow the block's own LP, as the 1,024-GPU path's steps follow the whole
#: state's (:mod:`packer.cpsat.lpguide`: aimed and gang steps draw the waiting work the LP places and aim
#: at the nodes it puts it on): the stays LP of the block's sub-instance (its own nodes, its offer, its
#: caps; :meth:`packer.cpsat.reopt.BudgetBound.stays_lp`) is solved in the block's process before its
#: steps, out of the block's own time (at most GUIDE_SHARE of it; no guide where it does not finish).
#: Its value, a bound of the sub-instance, is in the block's record (``lp``). False: unguided block steps
#: (sessions 11-23: the 16,384-GPU path never had a guide). Off (session 24, bench/RESULTS_reopt.md): at
#: equal deterministic steps (det 1.0 x 12 a block, one pass from the same no-move plan) it gained 1,370.63
#: against 1,406.88 on fragmented-100 and 1,838.76 against 1,872.18 on fragmented-101 at 16,384 GPUs, and the
#: LPs cost 3-7 CPU-s a block (26-75% more CPU in all). True: the A/B arm.
BLOCK_GUIDE = False
GUIDE_SHARE = 0.5


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


def _pods_share(rates: Mapping[str, Sequence[float]]) -> float:
    """The share of a block's time for its pods' CP-SAT sub-problems: by the gain per second of those
    and of the move steps so far, within [MIN_SHARE, 1 - MIN_SHARE]; half before either has gained."""
    per = {k: (g / t if t > 0 else 0.0) for k, (g, t) in rates.items()}
    total = per["pods"] + per["steps"]
    if total <= 0:
        return 0.5
    return min(1.0 - MIN_SHARE, max(MIN_SHARE, per["pods"] / total))


def _pods(sub: Instance, here: Mapping[str, Sequence[Unit]], *, deadline: float, seed: int,
          workers: int | None, det: float | None) -> dict[str, list[Unit]]:
    """``here`` improved by LNS over ``sub``'s domains (one CP-SAT sub-problem each, offered waiting
    work) with its running work pinned; the placement is valid in ``sub`` (it moves nothing)."""
    from packer.cpsat.decompose import lns_by_domain
    from packer.cpsat.reopt import pinned
    from packer.cpsat.search import solve_monolithic

    def solve_sub(s: Instance, h, budget: float, sdet: float | None):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        return solve_monolithic(s, h, seed=seed, workers=workers, start=t0,
                                left=lambda: budget - (time.perf_counter() - t0), info={}, lp=False, det=sdet)

    out, _ = lns_by_domain(pinned(sub), here, deadline=deadline, solve_sub=solve_sub, rounds=1, det=det)
    return out


def parallel_of(workers: int | None, det: float | None, blocks_n: int) -> int:
    """Blocks solved at once by default: min(workers, blocks) in a timed run, else one."""
    if not PARALLEL or det is not None or POD_LNS:
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


def _block_guide(sub: Instance, seconds: float | None):  # type: ignore[no-untyped-def]
    """BLOCK_GUIDE: the guide of ``sub``'s steps from its stays LP solved within ``seconds`` (None: no
    limit), and that LP's value (a bound of ``sub``); (None, None) where it does not finish."""
    from packer.cpsat.reopt import BudgetBound, _guide_of

    bb = BudgetBound(sub)
    cap = sub.objective.max_migrations
    # rows_later: the guide is the LP's without the room rows (reopt_stays.ROOM_GUIDE off), so the
    # second solve with them (a lower bound only) is not run here
    value = bb.stays_lp(cap, seconds, rows_later=True)
    if value is None:
        return None, None
    return _guide_of(bb, sub, cap), value


def _block_job(job: tuple) -> tuple[dict[str, list[Unit]], dict[str, object]]:
    """One block's move steps in a pool process: (sub-instance, its placement, stop, seed, max_steps,
    det, pack, guide) → the improved placement and the steps' statistics (with the run's process CPU seconds,
    ``cpu_s``, and its gain curve, ``curve``: (CPU seconds, gain so far) at each improvement). ``stop``: the wall clock (``time.time()``)
    by which the steps end, so that the time a job waits or a fresh process imports is the block's."""
    from packer.cpsat.reopt import move_steps

    sub, here, stop, seed, max_steps, det, pack, use_guide, *caps = job
    if isinstance(sub, bytes):  # PIPELINE: pickled while the others ran; its caps settled at dispatch
        import pickle

        sub, here = pickle.loads(sub)  # noqa: S301 - our own parent's bytes
        quotas, cap, withdrawn = caps
        sub = _with_caps(_offered(sub, here, withdrawn, None), quotas, cap)
    t0 = time.time()
    deadline = time.perf_counter() + (stop - t0)
    curve = _Curve(objective_value(sub, here))
    guide, lp = None, None
    if use_guide:
        guide, lp = _block_guide(sub, None if det is not None else GUIDE_SHARE * (stop - t0))
        guide_cpu = time.process_time() - curve.c0  # the curve's CPU seconds count the LP's too
    out, st = move_steps(sub, here, cap=sub.objective.max_migrations, deadline=deadline, seed=seed, workers=1,
                         max_steps=max_steps, det=det, pack=pack, progress=curve, guide=guide)  # type: ignore[arg-type]
    if use_guide:
        st["lp"] = None if lp is None else round(lp, 4)
        st["guide_cpu_s"] = round(guide_cpu, 3)
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
               stats: dict[str, object], progress: Progress, now: float,
               slot: float | None = None, rates: dict[int, float] | None = None) -> tuple[bool, float]:
    """One pass over the blocks in waves of ``par`` side by side; merges into ``cur``. Returns whether
    a block improved the plan, and the plan's value. ``slot``: each wave's seconds at most (None: an
    equal part of the time left); ``rates``: filled with each block's gain rate at the end of its run
    (:func:`_end_rate`)."""
    waves = [list(range(i, min(i + par, len(parts)))) for i in range(0, len(parts), par)]
    improved = False
    for w, idx in enumerate(waves):
        if deadline - time.perf_counter() < MIN_BLOCK_S:
            break
        stats["passes"] = k + 1
        got, now = _wave(capped, cur, parts, idx, [k] * len(idx), pool, waves_left=len(waves) - w, slot=slot,
                         deadline=deadline, seed=seed, max_steps=max_steps, det=det, stats=stats, progress=progress,
                         now=now, rates=rates)
        improved = improved or got
    return improved, now


def _end_rate(rec: Mapping[str, object]) -> float:
    """A block run's gain per CPU second over the second half of its CPU time: where its gain curve
    ends, i.e. what more time on the block is likely to buy (0 where its last half gained nothing)."""
    cpu = float(rec.get("cpu_s") or 0.0)  # type: ignore[arg-type]
    curve = rec.get("curve") or []
    if cpu <= 0 or not curve:
        return 0.0
    half = cpu / 2
    at_half = max([g for c, g in curve if c <= half], default=0.0)  # type: ignore[misc]
    return max(0.0, float(rec["gain"]) - at_half) / half  # type: ignore[arg-type]


def _merge_answer(capped: Instance, sub: Instance, out, cur: dict[str, list[Unit]], used: dict[str, float],  # type: ignore[no-untyped-def]
                  moved: int, gain: float, rec: dict[str, object], stats: dict[str, object]) -> int | None:
    """Merges a block's better answer ``out`` into ``cur`` where its quota use and moves fit what is left
    (``used`` is updated in place, the block's record and the stats say so): the moves after it, or None
    when it does not fit. The wave and the pipeline merge the same way."""
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
          visits: Sequence[int], pool, *, waves_left: int, slot: float | None, deadline: float, seed: int,
          max_steps: int | None, det: float | None, stats: dict[str, object], progress: Progress, now: float,
          rates: dict[int, float] | None) -> tuple[bool, float]:
    """The blocks ``idx`` side by side (the ``visits``-th run of each: its seed), each for an equal part
    of the time left over ``waves_left`` waves (at most ``slot`` seconds); merges into ``cur``."""
    from packer.cpsat.decompose import _sub_instance, _totals

    jobs = []
    for i, v, share in zip(idx, visits, _wave_shares(capped, cur, parts, idx)):
        sub, hint = _sub_instance(capped, cur, set(parts[i]), 0, share)
        if sub.requests and hint is not None:
            jobs.append((i, v, sub, {a.request: list(a.units) for a in hint.assignments}))
    seconds = (deadline - time.perf_counter()) / waves_left - WAVE_MARGIN_S
    if slot is not None:
        seconds = min(seconds, slot - WAVE_MARGIN_S)
    if not jobs or seconds < MIN_BLOCK_S - WAVE_MARGIN_S:
        return False, now
    stop = time.time() + seconds
    sent = [pool.apply_async(_block_job, ((sub, here, stop, seed + i + v * len(parts), max_steps, det, BLOCK_PACK,
                                             BLOCK_GUIDE),))
            for i, v, sub, here in jobs]
    used, moved = _totals(capped, cur)
    improved = False
    for (i, v, sub, here), res in zip(jobs, sent):
        try:
            out, st = res.get(timeout=max(1.0, deadline - time.perf_counter()) + (30.0 if det is not None else 2.0))
        except Exception:  # a block not back in time, or one that failed: the plan goes on without it
            stats["blocks_lost"] = int(stats.get("blocks_lost", 0)) + 1  # type: ignore[call-overload]
            if rates is not None:
                rates[i] = 0.0
            continue
        stats["steps"] += int(st.get("steps", 0))  # type: ignore[operator]
        stats["improved"] += int(st.get("improved", 0))  # type: ignore[operator]
        before, after = objective_value(sub, here), objective_value(sub, out)
        rec = {"visit": v, "block": i, "s": round(seconds, 2), "cpu_s": st.get("cpu_s"), "steps": st.get("steps"),
               "improved": st.get("improved"), "gain": round(after - before, 3), "start": round(before, 3),
               "curve": st.get("curve"), "wall": st.get("wall"), "merged": False}
        if "lp" in st:  # BLOCK_GUIDE: the block's own LP (a bound of its sub-instance) and its CPU seconds
            rec["lp"], rec["guide_cpu_s"] = st["lp"], st.get("guide_cpu_s")
        stats.setdefault("per_block", []).append(rec)  # type: ignore[union-attr]
        if rates is not None:
            rates[i] = _end_rate(rec)
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


def _by_rate(capped: Instance, cur: dict[str, list[Unit]], parts: list[list[str]], par: int, pool, *,
             deadline: float, seed: int, max_steps: int | None, det: float | None, stats: dict[str, object],
             progress: Progress, now: float) -> float:
    """BY_RATE: a first pass over every block with FIRST_SHARE of the time in equal slots, then the rest
    of the time in slots of the same length, each wave to the ``par`` blocks whose last run ended
    gaining the most per CPU second (:func:`_end_rate`; where those ended flat, the blocks run fewest
    times); a block run again gets its next seed.
    Returns the plan's value."""
    n_waves = -(-len(parts) // par)
    slot = FIRST_SHARE * (deadline - time.perf_counter()) / n_waves
    rates: dict[int, float] = {}
    _, now = _wave_pass(capped, cur, parts, 0, par, pool, deadline=deadline, seed=seed, max_steps=max_steps,
                        det=det, stats=stats, progress=progress, now=now, slot=slot, rates=rates)
    visits = dict.fromkeys(range(len(parts)), 1)
    order: list[int] = []
    while deadline - time.perf_counter() >= max(MIN_BLOCK_S, 0.5 * slot):
        left = deadline - time.perf_counter()
        # steepest first; blocks that ended flat by fewest runs (a second pass over them in order)
        idx = sorted(sorted(rates, key=lambda b: (-rates[b], visits[b], b))[:par])
        if not idx:
            break
        order.extend(idx)
        _, now = _wave(capped, cur, parts, idx, [visits[b] for b in idx], pool,
                       waves_left=max(1, round(left / slot)), slot=None, deadline=deadline, seed=seed,
                       max_steps=max_steps, det=det, stats=stats, progress=progress, now=now, rates=rates)
        for b in idx:
            visits[b] += 1
    stats["rate_order"] = order
    return now


class _Job:
    """One block run of :func:`_pipeline`: its sub-instance as cut (slack settled at dispatch), its hint,
    the waiting requests offered to it, and what it may take of the slack once sent."""

    def __init__(self, block: int, visit: int, sub: Instance, here: dict[str, list[Unit]]) -> None:
        import pickle

        from packer.plans import units_equal

        self.block, self.visit, self.sub, self.here = block, visit, sub, here
        self.offered = frozenset(r.id for r in sub.requests if r.id not in here)
        # GPU-equivalents per tenant and running requests moved inside the block in its hint: what its
        # caps hold before any slack is added (the rest of the plan is what the totals say at dispatch)
        self.used_in: dict[str, float] = {}
        self.moved_in = 0
        for r in sub.requests:
            units = here.get(r.id)
            if units is None:
                continue
            self.used_in[r.tenant] = self.used_in.get(r.tenant, 0.0) + sum(sub.unit_size(r, u) for u in units)
            self.moved_in += r.placement is not None and not units_equal(r.placement, units)
        self.give: dict[str, float] = {}  # the most it may add to each tenant's use (set at dispatch)
        self.give_moves = 0  # the most it may add to the moves
        self.res = None
        self.stop = 0.0  # perf_counter by which its steps end
        self.seconds = 0.0
        self.sent = 0.0  # wall clock when it was handed to the pool
        self.caps: tuple[dict[str, float], int | None] = ({}, None)
        self.withdrawn: frozenset[str] = frozenset()
        # pickled now, while the other blocks run: handing it to the pool is then a copy of bytes
        self.blob = pickle.dumps((sub, here), protocol=pickle.HIGHEST_PROTOCOL)


def _cut(capped: Instance, cur: Mapping[str, Sequence[Unit]], parts: Sequence[Sequence[str]], block: int,
         visit: int, held: set[str], used: Mapping[str, float], moved: int,
         serves: dict[int, set], par: int = 1) -> _Job | None:
    """Block ``block``'s sub-instance cut from ``cur``: the requests touching it, and the waiting requests
    it can serve, dearest first, until ``par`` × BLOCK_OFFER of them are held by no running block
    (``held``): the held ones stay in, as the blocks now running may have left them waiting by the time
    this one starts (:func:`_settle` withdraws what is placed or still held then, and shares the rest
    with the blocks starting at the same time: the deal of a wave, whose ``par`` blocks share the dearest
    ``par`` × BLOCK_OFFER). Its caps are settled at the start too. None: nothing to do there."""
    from packer.cpsat.decompose import _servable, _serves, _Share, _sub_instance

    nodes = set(parts[block])
    if block not in serves:
        serves[block] = _serves(capped, nodes)
    waiting = sorted((r for r in capped.requests if r.placement is None and r.id not in cur),
                     key=lambda r: (-r.priority, r.id))
    offer = []
    free = 0
    for r in waiting:
        if _servable(capped, r, serves[block]):
            offer.append(r)
            free += r.id not in held
            if free >= par * BLOCK_OFFER:
                break
    touching = [r for r in capped.requests if any(u.node in nodes for u in cur.get(r.id, ()))]
    share = _Share(candidates=touching, offer=offer, used=dict(used), moved=moved, withheld={}, withheld_moves=0)
    sub, hint = _sub_instance(capped, cur, nodes, 0, share)
    if not sub.requests or hint is None:
        return None
    return _Job(block, visit, sub, {a.request: list(a.units) for a in hint.assignments})


def _offered(sub: Instance, here: Mapping[str, Sequence[Unit]], withdrawn: frozenset[str],
             limit: int | None, stride: int = 1) -> Instance:
    """``sub`` without the offered requests ``withdrawn`` and with every ``stride``-th of the rest,
    ``limit`` at most (offered: not in ``here``; the sub-instance lists its offer dearest first). The
    parent makes it, and the pool worker makes the same from the parent's whole list of withdrawn ones
    (``limit`` None, ``stride`` 1), so the merge reads the sub-instance the steps ran on."""
    reqs, n, i = [], 0, -1
    for r in sub.requests:
        if r.id not in here:
            if r.id in withdrawn:
                continue
            i += 1
            if i % stride or (limit is not None and n >= limit):
                continue
            n += 1
        reqs.append(r)
    if len(reqs) == len(sub.requests):
        return sub
    out = sub.model_copy(update={"requests": tuple(reqs)})
    out.__dict__.pop("request_index", None)  # derived from the requests: built again from the new ones
    return out


def _settle(capped: Instance, job: _Job, running: Sequence[_Job], slots: int, used: Mapping[str, float],
            moved: int, placed: Mapping[str, Sequence[Unit]]) -> None:
    """Starts ``job``'s offer and slack: its offered requests now placed in ``placed`` or held by a
    ``running`` block are withdrawn, and of the rest every ``slots``-th stays, BLOCK_OFFER at most (the
    blocks starting now share what the running ones do not hold, as a wave's blocks do); of each
    tenant's quota less its use in the plan now and less what the ``running`` blocks may still add, and
    of the migration cap likewise, a ``slots``-th part (the blocks starting now share it); ``job.caps``: the sub-instance's quotas and
    migration cap that follow (:func:`_with_caps`, applied where the block runs)."""
    withdraw = frozenset(rid for rid in job.offered if rid in placed or any(rid in j.offered for j in running))
    job.sub = _offered(job.sub, job.here, withdraw, BLOCK_OFFER, slots)
    kept = frozenset(r.id for r in job.sub.requests if r.id not in job.here)
    job.withdrawn, job.offered = job.offered - kept, kept
    quotas: dict[str, float] = {}
    for t in job.sub.tenants:
        full = capped.tenant_map[t.id].max_gpus
        if full is None:
            continue
        free = full - used.get(t.id, 0.0) - sum(j.give.get(t.id, 0.0) for j in running)
        job.give[t.id] = max(0.0, free) / slots
        quotas[t.id] = job.used_in.get(t.id, 0.0) + job.give[t.id]
    mm = capped.objective.max_migrations
    cap = None
    if mm is not None:
        job.give_moves = max(0, mm - moved - sum(j.give_moves for j in running)) // slots
        cap = job.moved_in + job.give_moves
    job.caps = (quotas, cap)


def _with_caps(sub: Instance, quotas: Mapping[str, float], cap: int | None) -> Instance:
    """``sub`` with the tenants' quotas ``quotas`` (the others as they are) and the migration cap ``cap``."""
    from packer.model import Tenant

    tenants = tuple(t if t.id not in quotas else Tenant(id=t.id, max_gpus=max(0.0, quotas[t.id]), isolation=t.isolation)
                    for t in sub.tenants)
    out = sub.model_copy(update={"tenants": tenants,
                                 "objective": sub.objective.model_copy(update={"max_migrations": cap})})
    out.__dict__.pop("tenant_map", None)  # derived from the tenants: built again from the new ones
    return out


def _pipeline(capped: Instance, cur: dict[str, list[Unit]], parts: list[list[str]], par: int, pool, *,
              deadline: float, seed: int, max_steps: int | None, det: float | None, stats: dict[str, object],
              progress: Progress, now: float) -> float:
    """PIPELINE: the blocks in passes, ``par`` running at once in ``pool``; while they run, the next
    block is cut; the first running block to answer (reproducible runs: the oldest) is merged, and the
    cut one started at once.
    A block's seconds: the pool's worker-seconds left less what the running blocks still hold, over the
    blocks of the pass not yet started. Another pass while time is left and the last one improved
    (reproducible runs: one pass; merges in start order, so the plan does not depend on timing).
    Returns the plan's value."""
    from collections import deque

    from packer.cpsat.decompose import _totals

    used, moved = _totals(capped, cur)
    serves: dict[int, set] = {}
    queue: deque[tuple[int, int]] = deque((b, 0) for b in range(len(parts)))
    improved: set[int] = set()  # passes in which a block improved the plan
    running: deque[_Job] = deque()
    ready: _Job | None = None
    starting = True  # False once a block got too little time: only the running ones are waited for
    k = 0
    while True:
        if ready is not None and len(running) < par:
            t = time.perf_counter()
            held = sum(max(0.0, j.stop - t) for j in running)
            seconds = min((par * (deadline - t) - held) / (len(queue) + 1), deadline - t) - WAVE_MARGIN_S
            if seconds < MIN_BLOCK_S - WAVE_MARGIN_S:
                ready, starting = None, False
                continue
            _settle(capped, ready, running, par - len(running), used, moved, cur)
            ready.seconds, ready.stop, ready.sent = seconds, t + seconds, time.time()
            stats["passes"] = max(int(stats["passes"]), ready.visit + 1)  # type: ignore[call-overload]
            ready.res = pool.apply_async(_block_job, ((ready.blob, None, time.time() + seconds,
                                                       seed + ready.block + ready.visit * len(parts), max_steps, det,
                                                       BLOCK_PACK, BLOCK_GUIDE, *ready.caps, ready.withdrawn),))
            running.append(ready)
            ready = None
            continue
        if ready is None and starting:
            if not queue and k in improved and det is None and deadline - time.perf_counter() >= MIN_BLOCK_S:
                k += 1
                queue.extend((b, k) for b in range(len(parts)))
            busy = {j.block for j in running}
            pick = next((x for x in queue if x[0] not in busy), None)
            if pick is not None:
                queue.remove(pick)
                held_ids: set[str] = set()
                for j in running:
                    held_ids |= j.offered
                ready = _cut(capped, cur, parts, pick[0], pick[1], held_ids, used, moved, serves, par)
                continue
        if not running:
            if ready is None and (not starting or not queue):
                break
            continue
        job = _first_done(running, deadline) if det is None else running[0]  # reproducible runs: in start order
        running.remove(job)
        try:
            out, st = job.res.get(timeout=max(1.0, deadline - time.perf_counter()) + (30.0 if det is not None else 2.0))
        except Exception:  # a block not back in time, or one that failed: the plan goes on without it
            stats["blocks_lost"] = int(stats.get("blocks_lost", 0)) + 1  # type: ignore[call-overload]
            continue
        stats["steps"] += int(st.get("steps", 0))  # type: ignore[operator]
        stats["improved"] += int(st.get("improved", 0))  # type: ignore[operator]
        before, after = objective_value(job.sub, job.here), objective_value(job.sub, out)
        rec = {"visit": job.visit, "block": job.block, "s": round(job.seconds, 2), "cpu_s": st.get("cpu_s"),
               "steps": st.get("steps"), "improved": st.get("improved"), "gain": round(after - before, 3),
               "start": round(before, 3), "curve": st.get("curve"), "wall": st.get("wall"), "sent": job.sent,
               "got": time.time(), "merged": False}
        if "lp" in st:
            rec["lp"], rec["guide_cpu_s"] = st["lp"], st.get("guide_cpu_s")
        stats.setdefault("per_block", []).append(rec)  # type: ignore[union-attr]
        if after <= before + 1e-9:
            continue
        got = _merge_answer(capped, job.sub, out, cur, used, moved, after - before, rec, stats)
        if got is None:
            stats["refused"] = int(stats.get("refused", 0)) + 1  # type: ignore[call-overload]
            continue
        moved = got
        improved.add(job.visit)
        now += after - before
        progress.update(best=now, note=f"block {job.block + 1}/{len(parts)}", force=True)
    return now


def _first_done(running: Sequence[_Job], deadline: float) -> _Job:
    """The running block whose answer comes back first (the oldest once the deadline has passed)."""
    while time.perf_counter() < deadline + 2.0:
        for j in running:
            if j.res.ready():
                return j
        running[0].res.wait(0.02)
    return running[0]


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
    # Gain and seconds of each part so far: the next block's time is shared by their gain per second.
    rates = {"pods": [0.0, 0.0], "steps": [0.0, 0.0]}
    k = 0
    improved_last = True
    w0 = time.time()
    try:
        if pool is not None and PIPELINE and not BY_RATE:
            now = _pipeline(capped, cur, parts, par, pool, deadline=deadline, seed=seed, max_steps=max_steps,
                            det=det, stats=stats, progress=progress, now=now)
            improved_last = False
        if pool is not None and BY_RATE and det is None:
            now = _by_rate(capped, cur, parts, par, pool, deadline=deadline, seed=seed, max_steps=max_steps,
                           det=det, stats=stats, progress=progress, now=now)
            improved_last = False
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
            share = _pods_share(rates) if POD_LNS else 0.0
            mid = before  # the block's value when its move steps start
            if share > 0:
                # First the block's pods, running work pinned: CP-SAT sub-problems that trade placed work
                # for dearer waiting work (what the no-move solve's LNS by pod does on the whole cluster).
                tp = time.perf_counter()
                here = _pods(sub, here, deadline=tp + share * (end - tp), seed=bseed, workers=workers, det=det)
                mid = objective_value(sub, here)
                rates["pods"][0] += mid - before
                rates["pods"][1] += time.perf_counter() - tp
            tm = time.perf_counter()
            guide = None
            if BLOCK_GUIDE:
                guide, _ = _block_guide(sub, None if det is not None else GUIDE_SHARE * (end - tm))
            out, st = move_steps(sub, here, cap=sub.objective.max_migrations, deadline=end, seed=bseed,
                                 workers=workers, max_steps=max_steps, det=det, pack=BLOCK_PACK, guide=guide)
            stats["steps"] += int(st.get("steps", 0))  # type: ignore[operator]
            stats["improved"] += int(st.get("improved", 0))  # type: ignore[operator]
            after = objective_value(sub, out)
            rates["steps"][0] += after - mid
            rates["steps"][1] += time.perf_counter() - tm
            if after > before + 1e-9 and merge_units(capped, sub, out, cur):
                stats["blocks_improved"] += 1  # type: ignore[operator]
                stats["gain"] = round(float(stats["gain"]) + after - before, 6)  # type: ignore[arg-type]
                improved_last = True
                now += after - before
                progress.update(best=now, note=f"block {i + 1}/{len(parts)}", force=True)
        k += 1
        if deadline - time.perf_counter() < MIN_BLOCK_S:
            break
    stats["pods_gain_s"] = [round(x, 3) for x in rates["pods"]]
    stats["steps_gain_s"] = [round(x, 3) for x in rates["steps"]]
    if objective_value(capped, cur) <= start + 1e-9:
        return {rid: list(us) for rid, us in placed.items()}, stats
    if not _valid(capped, cur):
        stats["invalid"] = True  # a safety net: the sub-instances keep quotas, isolation and the cap
        return {rid: list(us) for rid, us in placed.items()}, stats
    return cur, stats


__all__ = ["BLOCK_NODES", "BLOCK_OFFER", "BLOCK_GUIDE", "BLOCK_PACK", "BY_RATE", "FIRST_SHARE", "GUIDE_SHARE", "MIN_SHARE", "PARALLEL", "PIPELINE", "POD_LNS", "block_steps", "blocks", "parallel_of"]
