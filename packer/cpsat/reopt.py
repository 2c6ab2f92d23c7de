"""Re-optimizing a running cluster: which running work to move, under a migration budget, and a bound.

A running cluster's model with every movable request free is big and weak: each GPU that holds
movable work is a class of its own, and its LP relaxation can move a sliver of every running request
at once. So the work is split three ways.

- **No-move plan.** With every running request pinned, fixed work is capacity: GPUs of one node and
  mode with the same fixed work share a class (:mod:`packer.cpsat.data`), and the usual solver places
  the waiting requests around it. Its bound is the budget-0 bound.
- **Move steps.** Large-neighbourhood steps on sub-instances of a few racks: the movable running work
  in them is free (it may stay, move within the region, or make room), waiting requests are offered,
  everything else is pinned where the incumbent has it. Steps are value-driven: most are aimed at a
  waiting request, pairing a rack where it could go if movable work left with a rack that has room
  for that work (an exchange); the rest pair two random racks. A request too wide for that (a spread
  of one unit a node or rack, a gang bigger than half a region) gets a region sized to it, and with
  the LP's guide a region also takes the nodes where the LP sends the running work it moves off it
  (session 6). Each sub-instance's migration cap is
  the budget less the moves made elsewhere; work moved earlier may move again there without counting
  twice. A step's answer is kept when the whole plan gains. While a whole-GPU gang waits, a quarter
  of the steps are gang steps (:mod:`packer.cpsat.reopt_gang`, session 9): clear the nodes of one
  domain that the gang needs, place it, re-place the displaced work anywhere on the online placer's
  state; a 32-64-GPU rack or pod gang never fits a region together with the room for what it displaces.
  Steps over a node-isolated tenant's nodes (tenant steps) offer first the other tenants' work that
  fits the room stranded there, and take the nodes a gang step would clear for the dearest gang of
  that offer (session 10: on the issue's state every free whole GPU sat on such nodes).
- **Bound.** The LP of a relaxed model (every GPU of a node and mode in one class, running work
  counted there with its own ``stay`` choice; only rules that hold for any split of that work over
  the GPUs), with the budget as one row: at most ``budget`` requests move, counting each fractional
  move. A proven upper bound for that budget that accounts for the running work and its migration
  costs, never "everything placed". Beside it the *repack* LP (:func:`repack_instance`): every
  movable running request a waiting one that must be placed, pinned work exact, no migration costs.
  Every plan of any budget is a plan of it with at least its objective, so its LP bounds every
  budget; it keeps pinned work in exact classes (the relaxed build merges them). Session 6 gives it
  the migration costs back (:mod:`packer.cpsat.reopt_stays`: a stay column per movable request,
  which may be 1 only where its units still are, and a budget row): that LP was below both others
  on every 1,024-GPU state measured, so the relaxed LP is now only a fallback where it does not
  finish (bench/RESULTS_reopt.md, "Session 6"). Each budget's bound is the smallest of those known.

Small clusters skip the split: when the exact model (every stay choice, the budget as
``max_migrations``) has at most EXACT_MAX_VARIABLES variables, CP-SAT solves it from the no-move
plan and proves its own bound; up to EXACT_HYBRID_VARIABLES it gets part of the time and move steps
go on from its plan (:func:`exact_share`).

:func:`reoptimize` gives one plan for one budget, :func:`curve` the plans for several budgets (each
starting from the one before: a bigger budget never ends below a smaller one).
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from packer.cpsat import (
    reopt_diff,
    reopt_gang,
    reopt_gangcap,
    reopt_offer,
    reopt_pack,
    reopt_spread,
    reopt_xrack,
    tuning,
)
from packer.cpsat.border import fix_modes, nodes_with_modes, split_at_border
from packer.cpsat.hints import online_ready
from packer.cpsat.lpguide import Guide
from packer.cpsat.proof import padded_bound
from packer.cpsat.timeplan import no_move_share
from packer.model import (
    MODE_OF_KIND,
    Assignment,
    Instance,
    ObjectiveWeights,
    Plan,
    Request,
    SolverInfo,
    Tenant,
    Unit,
)
from packer.plans import build_plan, objective_value, units_equal
from packer.progress import SILENT, Progress

#: Share of a single budget's time limit for the no-move plan (the rest: bound and move steps).
PINNED_SHARE = 0.2
#: Share of the time left for each LP bound (the repack LP, then the budget's relaxed LP; see
#: :func:`_budget_bounds`): an LP that does not finish there is dropped, the others stand in.
BOUND_SHARE = 0.6
#: Racks (or the coarsest level with at least 8 domains) a random move step frees.
STEP_DOMAINS = 2
#: Nodes an aimed or tenant step picks, and at most this many once closed over work that spans nodes.
REGION_NODES = 8
REGION_MAX_NODES = 12
#: Share of the steps aimed at a waiting request, and of those over a node-isolated tenant's nodes
#: (the rest pair random racks).
AIMED_SHARE = 0.6
TENANT_SHARE = 0.25
#: Aimed steps draw their waiting request and its nodes by where the repack LP places waiting work
#: (:mod:`packer.cpsat.lpguide`), when that LP finished; False: by room alone (the A/B arm).
LP_GUIDE = True
#: Aimed steps with a guide from the LP with migration costs also take the nodes where that LP sends
#: the running work it moves off the aim's nodes (its exchange); False: by room alone (the A/B arm).
EXCHANGE = True
#: An aimed request whose units cannot fit in REGION_NODES // 2 nodes (a spread of one or a few units
#: per node or rack, a gang bigger than those nodes: :func:`_span_nodes`) gets a region sized to it,
#: up to WIDE_MAX_NODES nodes (:meth:`_View.wide_region`); False: the usual region (the A/B arm).
#: On issue seed 0's state the requests the LP places and the plan does not were mostly such
#: (MIG gangs of 12-24 units spread one to four a node or rack, a 64-GPU pod gang), which an 8-12
#: node region can never hold (bench/RESULTS_reopt.md, "Session 6").
WIDE = True
WIDE_MAX_NODES = 32
WIDE_STEPS = 3.0
#: A tenant step (a node-isolated tenant's nodes) offers first the waiting work of other tenants that
#: could use the room stranded there (free GPUs on the tenant's nodes, which no other tenant may use
#: while its work is there), dearest per GPU first, up to OFFER // 2 of the offer (:func:`_fill_offer`);
#: False: the usual random slice by priority (the A/B arm). On haein-5 all 15 free whole GPUs of the
#: no-move plan sat on the secure tenant's nodes, while 20 of 164 waiting requests were offered per
#: step at random (bench/RESULTS_reopt.md, "Session 10"). The region also takes the nodes a gang step
#: would clear for the dearest whole-GPU gang offered (:func:`_gang_room`).
TENANT_FILL = True
#: A running request moved by an earlier step, back in a region that holds all of its original units
#: (and all of its current ones), enters the step as it runs at home with its migration cost, hinted
#: where it is now (session 18): staying home is then worth its cost, so a step can take a move back
#: that no longer pays. Without it such a request entered where it is now at no cost, and no step was
#: ever rewarded for undoing a move: on fragmented-101 after 540 s of steps the plan moved 108 running
#: requests at a cost of 15.6 where the stays LP moves 50 at 3.98 (bench/RESULTS_reopt.md "Session 18").
#: False: the A/B arm (``bench/bench_reopt_gang.py --ab reopt.HOME``).
HOME = True
#: Regions grow while CP-SAT proves their steps optimal without a gain, per step kind (aimed, wide,
#: tenant, random): after GROW_AFTER such steps in a row the kind's scale doubles, up to GROW_MAX, and
#: its regions take that many times their nodes (random steps more racks, the others more nodes with
#: free room, drawn from a stream of their own; at most GROW_MAX_NODES); a step CP-SAT does not prove
#: (its limit hit) without a gain halves the scale, down to 1. A gain keeps it. At 1,024 GPUs the
#: lead's profile (bench/bench_reopt_blockgain.py) saw aimed sub-problems proved optimal in ~0.4 s
#: while the steps' gain was flat: regions too small to reach a better plan, not too little time.
#: Only the kinds in GROW_KINDS grow: on haein 0-5 (20 steps at det 1.0, session 14) the aimed and random
#: steps were proved optimal on 22 of 46 steps and gained 1.2 in all, while tenant and wide steps gained
#: 90; growing every kind cost the tenant steps their gain (65 -> 37).
#: False: the fixed sizes (the A/B arm, ``bench/bench_reopt_gang.py --ab reopt.GROW``).
GROW = True
GROW_KINDS: tuple[str, ...] = ("aimed", "random")
GROW_AFTER = 2
GROW_MAX = 4.0
GROW_MAX_NODES = 48
#: On instances solved by decomposition (tuning.DECOMPOSE_ABOVE pairs, 16,384 GPUs) a budget that
#: allows moves starts from the fast placers' no-move plan and spends the rest of the time on move
#: steps block by block (:mod:`packer.cpsat.reopt_blocks`); False: the no-move solve takes all but the
#: final plan's time and whole-cluster steps what is left (none: session 10's rule, the A/B arm).
BLOCKS = True
#: With a time limit, the LP bounds (:func:`_budget_bounds`) run in a child process beside the move
#: steps, which start at once and take the LP's guide when it is in (:mod:`packer.cpsat.reopt_late`);
#: until then aimed steps aim only at wide requests (their regions are sized by the request; an 8-12
#: node aimed region is where the guide's nodes matter). False: the LPs first, then the steps (before
#: session 15; the A/B arm). Untimed runs always take the LPs first (reproducible).
LATE_LP = True
#: Seconds of steps at least for the LP child: a fresh interpreter takes 2 s (load 1.5) to 6 s (load
#: 10) to import what the LPs need, a fixed cost that a short run pays out of its LP's time (a 32-node
#: state at 10 s and load 10: the child's stays LP did not finish, bound 324.8 against 308.2).
LATE_MIN_S = 20.0
#: Each LP's share of the time left in the LP child (BOUND_SHARE in the run's own process, where the
#: LP's time is the steps'): beside the steps the stays LP takes what it needs up to the deadline.
#: At 0.6 the child's stays LP did not finish on haein-100 (load 9-10: the same LP took 17.6 s alone,
#: its 35 s beside the steps were not enough), nor did the fallbacks in the 24 s left: the plan got
#: the capacity bound (gap 17.4% against 5.5%; bench/RESULTS_reopt.md "Session 15").
LATE_BOUND_SHARE = 0.95
#: Niceness the LP child adds to its own (tuning.LP_NICE's precedent for the CP-SAT search's LP).
#: 0: niced 5 the child did not finish the stays LP in 46 s on haein-0 and -2 at load 6-7 (the
#: bound fell back to 1352 and 1366, gaps 16.7% and 11.8%; bench/RESULTS_reopt.md "Session 15").
LATE_NICE = 0
#: On those instances, the bound by blocks (:mod:`packer.cpsat.block_bound`: each block's stays LP,
#: coupled by multipliers) runs in a child process beside the block steps, from their start to the
#: final plan's reserve, with niceness BLOCK_BOUND_NICE; the plan's bound is the smaller of it and the
#: capacity bound (a block bound that is late or fails leaves the capacity bound). Off until session
#: 17: at 16,384 GPUs its first round needs more CPU than a 300 s run leaves beside two step workers on 2 cores (haein-100:
#: 791 s wall at load 10-13 standalone; fragmented-100 in the 300 s run at load 10: not back, and the
#: steps gained 328 instead of 461: bench/RESULTS_reopt.md "Session 15"). With the merged block LPs of
#: session 16 (block_bound.MERGE: round 1 in ~35 CPU-s instead of ~270, 2.7% under the capacity bound
#: instead of 5.4%) it came back in a quiet 300 s run on fragmented-0 (gap 7.93% → 5.45%, steps' gain
#: −0.6%). On since session 17 (report states, load 3-6, bench/RESULTS_reopt.md): started with the
#: steps (not before the no-move hint) the gap fell against the off runs on fragmented-100 (6.86% against
#: 7.76% / 7.64%) and fragmented-101 (7.39% and 6.40% against 8.04% / 7.91%), the steps' gain within the
#: runs' spread (fragmented-100 +1,378 against +1,390 / +1,416; -101 +1,916 and +2,086 against +2,031 /
#: +2,061); haein-100 no bound gain, steps level (+75.8 against +64.4). Started before the hint it lost
#: the steps 15-25% of their gain (session 17: the early child slowed the one-thread hint from 21-22 s to
#: 48-64 s at load 4-6; removed in session 27). False: the capacity bound alone.
BLOCK_BOUND = True
BLOCK_BOUND_NICE = 0
#: Seconds the bound by blocks needs at least to be started.
BLOCK_BOUND_MIN_S = 30.0
#: Most waiting requests offered to one step.
OFFER = 20
#: Session 25 (frag25): a CP-SAT move step's offer starts with the waiting requests the stays LP's guide
#: puts on the region's own nodes (dearest by priority × the LP's units there first, at most
#: OFFER_LP_MAX of the OFFER), then the aim and a random slice by priority as before (``_offer``). Without
#: it the offer is the aim and a random slice of ~20 of the ~120 waiting requests, whatever the region
#: holds room for, so a region freed by the steps is offered the work that fits it by chance. Where the
#: guide puts no waiting work on the region (or there is no guide) the offer, and every draw, is as
#: without it. False: the A/B arm (``bench/bench_reopt_gang.py --ab reopt.OFFER_LP``).
OFFER_LP = False
OFFER_LP_MAX = 10
#: Seconds of CP-SAT per step, at most.
STEP_S = 2.0
#: Seconds of move steps without a time limit (they have no natural end).
UNTIMED_STEPS_S = 60.0
#: Movable running requests at least: below this the whole model with every stay choice is small
#: enough, and ``cpsat.solve`` keeps to it.
MIN_MOVABLE = 32
#: The exact model (every GPU holding movable work a class of its own, every stay choice, the budget
#: as max_migrations) takes over from the three-way split when it has at most this many variables:
#: on 8-node running clusters (1,160-1,672 variables) CP-SAT proved it optimal in 20 s at load 4-6,
#: where the split left gaps of 2.8-49%; from 4,256 variables (16 nodes and up) it proved nothing
#: in 20 s (gaps 4-37% from no hint) and the split did better (bench/RESULTS_reopt.md).
EXACT_MAX_VARIABLES = 2500
#: Up to this many variables the exact model still gets EXACT_SHARE of the time left (its plan and
#: bound), then move steps continue from its plan: at 3,224-5,532 variables (8 and 16 nodes) it
#: beat the split in 4 of 5 clusters in 20 s, by up to 10%, and fell 4% behind on one.
EXACT_HYBRID_VARIABLES = 6000
EXACT_SHARE = 0.5
#: Request-node pairs above which the exact model is not even built to count its variables (16-node
#: clusters have 1,472-2,752; building takes a second there).
EXACT_MAX_PAIRS = 3000


@dataclass
class Point:
    """One budget's result: the plan and its figures."""

    budget: int | None
    plan: Plan
    moves: int
    wall_s: float
    info: dict[str, object] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        """The curve's row: budget, objective, bound, gap, migrations, utilization."""
        obj, bound = self.plan.objective, self.plan.bound
        gap = None if bound is None else max(0.0, bound - obj) / max(abs(bound), 1e-9)
        return {"budget": "all" if self.budget is None else self.budget, "objective": round(obj, 6),
                "bound": None if bound is None else round(bound, 6),
                "gap": None if gap is None else round(gap, 6), "migrations": self.moves,
                "utilization": round(float(self.plan.metrics.get("utilization", 0.0)), 6),
                "wall_s": round(self.wall_s, 3)}


def movable_ids(inst: Instance) -> list[str]:
    """Ids of the running requests that may move."""
    return [r.id for r in inst.requests if r.placement is not None and r.movable]


def pinned(inst: Instance) -> Instance:
    """``inst`` with every running request fixed where it runs (the no-move instance)."""
    if not movable_ids(inst):
        return inst
    reqs = [r.model_copy(update={"movable": False, "migration_cost": None}) if r.placement is not None else r
            for r in inst.requests]
    return inst.replace(requests=reqs)


def moves(inst: Instance, placed: Mapping[str, Sequence[Unit]]) -> int:
    """How many running requests ``placed`` moves."""
    return sum(1 for r in inst.requests if r.placement is not None and r.id in placed
               and not units_equal(r.placement, placed[r.id]))


def exact_variables(inst: Instance) -> int | None:
    """Variables of ``inst``'s exact CP-SAT model (movable work free), or None when its request-node
    pairs exceed EXACT_MAX_PAIRS (too big to build just to count)."""
    if len(inst.requests) * len(inst.nodes) > EXACT_MAX_PAIRS:
        return None
    from packer.cpsat.model import CpsatModel

    return len(CpsatModel(inst).model.proto.variables)


def exact_share(inst: Instance) -> float:
    """Share of the time left that :func:`reoptimize` gives ``inst``'s exact model: 1 up to
    EXACT_MAX_VARIABLES variables, EXACT_SHARE up to EXACT_HYBRID_VARIABLES (then move steps), else 0."""
    n = exact_variables(inst)
    if n is None or n > EXACT_HYBRID_VARIABLES:
        return 0.0
    return 1.0 if n <= EXACT_MAX_VARIABLES else EXACT_SHARE


def no_move_plan(inst: Instance, *, time_limit: float | None, seed: int = 0, workers: int | None = None,
                 progress: Progress = SILENT) -> Plan:
    """The best plan that moves nothing (``inst``'s waiting work around its running work), with its bound."""
    from packer.cpsat import solve

    plan = solve(pinned(inst), time_limit=time_limit, seed=seed, workers=workers, progress=progress)
    return _of_pinned(inst, plan, bound=plan.bound, seed=seed)


def no_move_hint(inst: Instance, *, time_limit: float | None, seed: int = 0) -> Plan | None:
    """The fast placers' plan (greedy, online) of ``inst`` with its running work pinned, or None when
    none answers in the hint's budget of ``time_limit`` (:func:`packer.cpsat.timeplan.hint_budget`)."""
    from packer.cpsat.hints import hint_plan
    from packer.cpsat.timeplan import hint_budget

    pin = pinned(inst)
    plan = hint_plan(pin, seed, None if time_limit is None else hint_budget(pin, time_limit))
    return None if plan is None else _of_pinned(inst, plan, bound=None, seed=seed)


def _of_pinned(inst: Instance, plan: Plan, *, bound: float | None, seed: int) -> Plan:
    """A plan of ``pinned(inst)`` issued for ``inst`` with ``bound``.

    The pinned plan's reasons and modes are reused: pinned() changes only running requests'
    movability and migration cost, every running request is placed in its plan, and reasons
    depend on the placement, the modes and the unplaced requests' shapes, tenants and quotas
    (tests/test_reopt_reuse.py: equal to a fresh conversion). Converting again cost 1 ms a GPU."""
    placed = {a.request: list(a.units) for a in plan.assignments}
    modes = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
    why = {u.request: u.reason for u in plan.unplaced}
    return _plan(inst, placed, bound=bound, seed=seed, wall_s=plan.solver.wall_s or 0.0,
                 info={"no_move": _info(plan)}, modes=modes, why=why)


def repack_instance(inst: Instance) -> tuple[Instance, frozenset[str]]:
    """``inst`` with every movable running request turned into a waiting one, and their ids.

    With those requests forced to be placed (:func:`repack_model`) this is a relaxation of
    re-optimizing ``inst`` under any budget: a plan of ``inst`` is a plan of it (same units, modes,
    quotas, isolation, host resources), and its objective there is at least the plan's, since it
    counts no migration cost and nothing else differs.
    """
    ids = frozenset(movable_ids(inst))
    reqs = [r.model_copy(update={"placement": None, "movable": False, "migration_cost": None}) if r.id in ids else r
            for r in inst.requests]
    return inst.replace(requests=reqs), ids


def repack_model(inst: Instance):  # type: ignore[no-untyped-def]
    """The CP-SAT model of :func:`repack_instance` with every freed running request placed (a
    group's placed count at least its freed members), or None when nothing is movable."""
    from packer.cpsat.model import CpsatModel

    rp, ids = repack_instance(inst)
    if not ids:
        return None
    model = CpsatModel(rp)
    # session 18: waiting whole-GPU requests that no plan can place (reopt_gangcap) are placed by none here
    never = reopt_gangcap.unplaceable(inst) if reopt_gangcap.FIX else frozenset()
    for gr in model.data.groups:
        k = sum(1 for ri in gr.requests if rp.requests[ri].id in ids)
        if k:
            model.model.add(model.vars.active[gr.index] >= k)
        elif never and gr.index in model.vars.active and all(rp.requests[ri].id in never for ri in gr.requests):
            model.model.add(model.vars.active[gr.index] == 0)
    from packer.cpsat import reopt_quotacap

    if reopt_quotacap.FIX:  # session 19: waiting work that no plan fits in its tenant's quota beside the running work
        reopt_quotacap.add_caps(inst, model, ids)
    return model


class BudgetBound:
    """The LP bounds of one instance, per migration budget, built once and cached.

    The LP of the relaxed model (see the module docstring) with ``max_migrations`` set to the budget
    (the instance's own cap, where smaller, wins), and the repack LP (:func:`repack_model`), which
    holds for every budget. The bound of no limit holds for every budget too, so a budget whose own
    LP did not finish in time falls back to it.
    """

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.values: dict[int | None, float] = {}
        #: The repack LP's bound (None: not computed, or it did not finish); tried once.
        self.repack: float | None = None
        self.repack_tried = False
        #: Where the repack LP puts waiting work (:mod:`packer.cpsat.lpguide`), when it finished.
        self.guide = None
        #: Budgets (None: no limit) whose relaxed LP did not finish in the time it was given.
        self.failed: set[int | None] = set()
        self._model = None
        #: The repack LP with migration costs (:mod:`packer.cpsat.reopt_stays`), per budget (None: no
        #: limit): its bound, and the moves its solution makes (Σ 1 − stay).
        self.stays: dict[int | None, float] = {}
        self.stays_moves: dict[int | None, float] = {}
        #: Budgets whose stays LP did not finish (or cannot be built).
        self.stays_failed: set[int | None] = set()
        #: Budget → a guide from that budget's own stays LP (None: the no-limit one).
        self.guides: dict[int | None, Guide] = {}
        self._repack = None
        #: Session 23 (reopt_stays.ROOM_CUTS): budget → its LP without the room rows,
        #: whose bound with them is still to come (:meth:`stays_rows`); and → how many rows it broke.
        self._rows_due: dict[int | None, object] = {}
        self.stays_rows_broken: dict[int | None, int | None] = {}
        #: What branch and bound on the stays LP's form gave in the LP child, when it ran
        #: (:mod:`packer.cpsat.reopt_intstays`; its dual bound, when lower, is in ``stays``).
        self.int_stays: dict[str, object] | None = None

    def repack_lp(self, time_limit: float | None = None) -> float | None:
        """The repack LP bound (every budget), or None when it does not finish in ``time_limit``
        (which counts building the model, and is not started when the build alone would not fit)."""
        from packer.cpsat.bound import lp_solve
        from packer.cpsat.timeplan import build_s

        if self.repack_tried:
            return self.repack
        if not movable_ids(self.inst):
            return None
        t0 = time.perf_counter()
        if time_limit is not None and time_limit < 2 * build_s(self.inst):
            return None
        self.repack_tried = True
        model = repack_model(self.inst)
        form = None if model is None else model.linear_form
        rem = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if form is None or (rem is not None and rem <= 0.1):
            return None
        got = lp_solve(model.model, time_limit=rem, form=form)
        if got is None:
            return None
        self.repack = padded_bound(model, got[0])
        from packer.cpsat.lpguide import repack_guide

        self.guide = repack_guide(model, got[1], frozenset(r.id for r in self.inst.requests if r.placement is None))
        return self.repack

    def stays_lp(self, cap: int | None, time_limit: float | None = None, rows_later: bool = False) -> float | None:
        """The repack LP with migration costs and ``cap``'s budget row (None: no limit), or None when
        it does not finish in ``time_limit`` (which counts building the repack model, once).

        A finite cap that the no-limit solution already keeps (its LP moves at most ``cap``) has the
        same optimum: that one is reused, not solved again.

        With ``reopt_stays.ROOM_CUTS`` the LP is solved without the room rows (its bound and guide are
        set), then with them for the bound (:meth:`stays_rows`), at once or, with ``rows_later``, when
        the caller calls :meth:`stays_rows` (after passing the guide on)."""
        from packer.cpsat import reopt_stays
        from packer.cpsat.lpguide import repack_guide
        from packer.cpsat.reopt_stays import stays_lp
        from packer.cpsat.timeplan import build_s

        if cap in self.stays:
            return self.stays[cap]
        if cap in self.stays_failed or not movable_ids(self.inst):
            return None
        if cap is not None and None in self.stays and self.stays_moves[None] <= cap + 1e-6:
            self.stays[cap], self.stays_moves[cap] = self.stays[None], self.stays_moves[None]
            if None in self.guides:
                self.guides[cap] = self.guides[None]
            return self.stays[cap]
        t0 = time.perf_counter()
        if self._repack is None:
            if time_limit is not None and time_limit < 2 * build_s(self.inst):
                return None
            self._repack = repack_model(self.inst)
        rem = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if self._repack is None or self._repack.linear_form is None or (rem is not None and rem <= 0.1):
            self.stays_failed.add(cap)
            return None
        two = reopt_stays.ROOM_CUTS
        got = stays_lp(self.inst, self._repack, budget=cap, time_limit=rem, cuts=False)
        if got is None:
            self.stays_failed.add(cap)
            return None
        if two:
            self._rows_due[cap] = got
        self.stays[cap] = got.bound
        self.stays_moves[cap] = sum(1.0 - v for v in got.stays.values())
        waiting = frozenset(r.id for r in self.inst.requests if r.placement is None)
        homes = {r.id: frozenset(u.node for u in r.placement or ()) for r in self.inst.requests
                 if r.placement is not None and r.movable}
        self.guides[cap] = repack_guide(self._repack, got.x, waiting, got.stays, homes)
        if cap is None:
            self.guide = self.guides[None]
        if two and not rows_later:
            rem = None if time_limit is None else time_limit - (time.perf_counter() - t0)
            self.stays_rows(cap, rem)
        return self.stays[cap]

    def stays_rows(self, cap: int | None, time_limit: float | None = None) -> bool:
        """Lowers ``cap``'s stays bound to that of its LP with the room rows (:func:`packer.cpsat.
        reopt_stays.rows_bound`) where :meth:`stays_lp` left it due; returns whether it was due (the
        bound stays where it was when that LP does not finish in ``time_limit``)."""
        from packer.cpsat.reopt_stays import rows_bound

        got = self._rows_due.pop(cap, None)
        if got is None or self._repack is None:
            return False
        value = rows_bound(self.inst, self._repack, got, time_limit=time_limit)
        self.stays_rows_broken[cap] = got.rows_broken
        if value is not None and value < self.stays[cap]:
            self.stays[cap] = value
        return True

    #: What another process's LPs leave in a BudgetBound (its models stay there: they do not pickle).
    SNAPSHOT = ("values", "repack", "repack_tried", "guide", "failed", "stays", "stays_moves", "stays_failed",
                "guides", "int_stays", "stays_rows_broken")

    def snapshot(self) -> dict[str, object]:
        """The bounds, guides and failures known, without the models (:mod:`packer.cpsat.reopt_late`)."""
        return {k: getattr(self, k) for k in self.SNAPSHOT}

    def restore(self, snap: Mapping[str, object]) -> None:
        """Takes a :meth:`snapshot` (of this instance's bounds, computed elsewhere) as its own."""
        for k in self.SNAPSHOT:
            if k in snap:
                setattr(self, k, snap[k])

    def _build(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            from packer.cpsat.model import CpsatModel

            free = self.inst.replace(objective=self.inst.objective.model_copy(update={"max_migrations": None}))
            self._model = CpsatModel(free, relaxed=True)
        return self._model

    def lp(self, budget: int | None, time_limit: float | None = None) -> float | None:
        """The LP bound of ``budget`` (None: no limit), or None when it does not finish in ``time_limit``
        (which counts building the model)."""
        from packer.cpsat.bound import lp_solve

        cap = _cap(self.inst.objective.max_migrations, budget)
        if cap in self.values:
            return self.values[cap]
        t0 = time.perf_counter()
        model = self._build()
        form = model.linear_form
        if form is None:
            return None
        c, a, bl, bh, lo, hi, obj = form
        stays = [var.index for var in model.vars.stay.values()]
        if cap is not None and stays:
            from scipy.sparse import csr_matrix, vstack

            # Σ (1 − stay) ≤ cap  ⇔  Σ stay ≥ len(stays) − cap.
            row = csr_matrix((np.ones(len(stays)), (np.zeros(len(stays), dtype=np.int64), stays)),
                             shape=(1, a.shape[1]))
            form = (c, vstack([a, row]).tocsr(), np.append(bl, len(stays) - cap), np.append(bh, np.inf), lo, hi, obj)
        rem = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if rem is not None and rem <= 0.1:
            self.failed.add(cap)
            return None
        got = lp_solve(model.model, time_limit=rem, form=form)
        if got is None:
            self.failed.add(cap)
            return None
        self.values[cap] = padded_bound(model, got[0])
        return self.values[cap]

    def dominated(self, cap: int | None) -> bool:
        """Whether the relaxed LP of ``cap`` cannot beat what is known: a smaller budget's LP is at or
        above the repack LP (budget LPs grow with the budget), or did not finish."""
        def below(b: int | None) -> bool:
            return cap is None or (b is not None and b < cap)

        if any(below(b) for b in self.failed):
            return True
        every = [v for v in (self.repack, self.stays.get(None)) if v is not None]
        return bool(every) and any(below(b) and v >= min(every) - 1e-9 for b, v in self.values.items())

    def best(self, budget: int | None) -> float | None:
        """The smallest bound known for ``budget``: its own LP, that of no limit (or a bigger budget),
        the repack LP."""
        cap = _cap(self.inst.objective.max_migrations, budget)
        valid = [v for b, v in self.values.items() if b is None or (cap is not None and b >= cap)]
        valid += [v for b, v in self.stays.items() if b is None or (cap is not None and b >= cap)]
        if self.repack is not None:
            valid.append(self.repack)
        return min(valid) if valid else None


def budget_bound(inst: Instance, budgets: Sequence[int | None], *,
                 time_limit: float | None = None) -> dict[int | None, float | None]:
    """A proven upper bound on ``inst``'s objective for each migration budget (None: no limit): the
    smallest of its repack LP with migration costs (:mod:`packer.cpsat.reopt_stays`, its budget row),
    and where that does not finish its relaxed LP (:class:`BudgetBound`); None for a budget where none
    finishes within ``time_limit`` (all together)."""
    t0 = time.perf_counter()
    bb = BudgetBound(inst)
    bb.stays_lp(None, time_limit)
    out: dict[int | None, float | None] = {}
    for b in sorted(budgets, key=lambda x: math.inf if x is None else x):
        rem = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        cap = _cap(inst.objective.max_migrations, b)
        if rem is None or rem > 0.1:
            bb.stays_lp(cap, rem)
        rem = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if cap not in bb.stays and (rem is None or rem > 0.1):
            bb.lp(b, rem)
        out[b] = bb.best(b)
    return out


def _budget_bounds(bb: BudgetBound, cap: int | None, left, after=None,  # type: ignore[no-untyped-def]
                   share_of: float = BOUND_SHARE) -> None:
    """Computes the LPs that bound budget ``cap`` into ``bb``, each with BOUND_SHARE of the time left.

    The repack LP with migration costs first (:mod:`packer.cpsat.reopt_stays`; once: it bounds every
    budget and gives the guide), then, for a finite budget that binds, the same LP with its budget
    row (reused when the no-limit solution already keeps within the budget). On the ten 1,024-GPU
    states measured it was below both the plain repack LP and the relaxed LP (budget row or not),
    and faster than either (1-8 s against 4-9 and 6-152 s; bench/RESULTS_reopt.md, "Session 6"), so
    once it has finished for ``cap`` nothing else is tried.

    Otherwise (it did not finish) the session-4 order: the plain repack LP, then the budget's own
    relaxed LP, skipped when it cannot help: the budget LPs grow with the budget, so once a smaller
    budget's LP is at or above a bound of every budget, so is this one; and once a smaller budget's
    LP did not finish, this one (the same model, one row looser) is not expected to either.

    ``after``: called after each LP (finished or not), so that a caller in another process can pass
    on each bound and the guide as soon as they are in (:mod:`packer.cpsat.reopt_late`). ``share_of``:
    each LP's share of the time left (BOUND_SHARE; the child beside the steps: LATE_BOUND_SHARE).
    """
    def share() -> float | None:
        rem = left()
        return None if rem is None else share_of * rem

    def done() -> None:
        if after is not None:
            after()

    key = _bound_key(bb, cap)
    bb.stays_lp(None, share(), rows_later=True)
    done()
    if bb.stays_rows(None, share()):  # session 23: the room rows' bound, after the guide is out
        done()
    if key is not None and None in bb.stays:
        bb.stays_lp(key, share(), rows_later=True)
        done()
        if bb.stays_rows(key, share()):
            done()
    if key in bb.stays:
        return
    if None not in bb.stays:
        bb.repack_lp(share())
        done()
    if key in bb.values or bb.dominated(key):
        return
    bb.lp(key, share())
    done()


def _bound_key(bb: BudgetBound, cap: int | None) -> int | None:
    """The budget whose LPs bound ``cap``: ``cap`` itself where it can bind, else None (no limit)."""
    return cap if cap is not None and cap < len(movable_ids(bb.inst)) else None


def reoptimize(inst: Instance, *, budget: int | None = None, time_limit: float | None = None, seed: int = 0,
               workers: int | None = None, start: Plan | None = None, no_move_bound: float | None = None,
               bounds: BudgetBound | None = None, progress: Progress | None = None) -> Point:
    """The best plan found for ``inst`` that moves at most ``budget`` running requests (None: any number).

    ``start``: a valid plan to improve (moving at most ``budget``); without it the no-move plan is
    solved first. ``no_move_bound``: the no-move plan's bound when the caller has it (budget 0).
    ``bounds``: LP bounds already known (shared by the budgets of a curve). Without ``time_limit`` the
    no-move plan and the LPs run to the end and the move steps for UNTIMED_STEPS_S seconds.
    """
    t0 = time.perf_counter()
    prog = progress or SILENT
    cap = _cap(inst.objective.max_migrations, budget)

    def left() -> float | None:
        return None if time_limit is None else time_limit - (time.perf_counter() - t0)

    info: dict[str, object] = {"budget": budget}
    huge = len(inst.requests) * len(inst.nodes) > tuning.DECOMPOSE_ABOVE
    child = _block_child(inst, cap, left()) if huge else None
    if start is None and huge and cap != 0 and BLOCKS and movable_ids(inst):
        # Too big for steps over the whole cluster: the fast placers' no-move plan, then move steps
        # block by block (packer.cpsat.reopt_blocks) for the rest of the time.
        start = no_move_hint(inst, time_limit=time_limit, seed=seed)
        if start is not None:
            info["no_move_objective"] = start.objective
            info["no_move"] = "hint"
        else:
            child = None  # No hint: the no-move solve takes the whole limit and no steps follow (no_move_share).
    return _reoptimize(inst, info, child, budget=budget, cap=cap, left=left, t0=t0, time_limit=time_limit,
                       seed=seed, workers=workers, start=start, no_move_bound=no_move_bound, bounds=bounds,
                       prog=prog, huge=huge)


def _block_child(inst: Instance, cap: int | None, rem: float | None):  # type: ignore[no-untyped-def]
    """"late" where the bound by blocks (:class:`packer.cpsat.block_bound.Child`) is to start in a child
    process when the huge path's move steps start, or None where BLOCK_BOUND is off, nothing can move, or
    there is no time for it."""
    if not (BLOCK_BOUND and cap != 0 and movable_ids(inst)) or exact_share(inst) > 0:
        return None  # (exact_share: the exact model's branch, never on a huge instance but in tests)
    if rem is not None and rem - _final_s(inst) <= BLOCK_BOUND_MIN_S:
        return None
    return "late"


def _start_child(inst: Instance, cap: int | None, rem: float | None):  # type: ignore[no-untyped-def]
    """The bound by blocks' child process, given ``rem`` seconds left of the run (None: untimed). Its own
    time limit ends a little before the steps so that its answer is back by then."""
    from packer.cpsat import block_bound, block_fold
    from packer.cpsat.block_bound import Child

    # The child is a fresh interpreter: the settings of this one's block_bound go with it.
    return Child(inst, time_limit=None if rem is None else 0.95 * (rem - _final_s(inst)) - 2.0,
                 nice=BLOCK_BOUND_NICE, cap=cap,
                 merge=block_bound.MERGE, fold=block_fold.FOLD,
                 eta_ranges=block_bound.ETA_RANGES, fold_tags=block_fold.FOLD_TAGS)


def _reoptimize(inst: Instance, info: dict[str, object], child, *, budget: int | None, cap: int | None,  # type: ignore[no-untyped-def]
                left, t0: float, time_limit: float | None, seed: int, workers: int | None, start: Plan | None,
                no_move_bound: float | None, bounds: BudgetBound | None, prog: Progress, huge: bool) -> Point:
    """:func:`reoptimize` after the huge path's no-move hint (``child``: "late" for the bound by blocks to
    start with the steps, or None)."""
    late = None
    bb = bounds if bounds is not None else BudgetBound(inst)
    key = _bound_key(bb, cap)
    if (LATE_LP and time_limit is not None and cap != 0 and not huge and key not in bb.stays
            and len(inst.requests) * len(inst.nodes) > EXACT_MAX_PAIRS  # no exact model (exact_share 0)
            and time_limit - _steps_end(inst) >= LATE_MIN_S and movable_ids(inst)):
        # The LPs in a child process from now until the steps' deadline (packer.cpsat.reopt_late):
        # beside the no-move solve, then beside the steps, which take its guide when it comes.
        from packer.cpsat.reopt_late import LateBounds

        late = LateBounds(bb, cap, time.time() + time_limit - _steps_end(inst), nice=LATE_NICE)
    if start is None:
        # On instances solved by decomposition the no-move solve (its hint by estimate, then LNS by
        # pod) gets all but two re-issues of a plan whose reasons are known (its own here, and the
        # final one; timeplan.no_move_share); move steps the rest, when it pays for a conversion.
        share = (1.0 if cap == 0 else PINNED_SHARE if time_limit is None
                 else no_move_share(inst, time_limit, PINNED_SHARE, 2 * _reserve(inst)))
        try:
            start = no_move_plan(inst, time_limit=None if time_limit is None else share * time_limit, seed=seed,
                                 workers=workers, progress=prog)
        except BaseException:
            if late is not None:
                late.finish(0.0)
            raise
        no_move_bound = start.bound
        info["no_move_objective"] = start.objective
        info["no_move_bound"] = start.bound
    placed = {a.request: list(a.units) for a in start.assignments}
    start_placed = placed
    assert moves(inst, placed) <= (math.inf if cap is None else cap), "the start plan moves too much"
    bound: float | None = None
    if cap == 0 or not movable_ids(inst):
        bound = no_move_bound
    elif (share := exact_share(inst)) > 0:
        rem0 = left()
        t1 = time.perf_counter()

        def left_exact() -> float | None:
            if rem0 is None:  # untimed: to the end when the exact model is small, else as long as the steps
                return None if share >= 1.0 else UNTIMED_STEPS_S - (time.perf_counter() - t1)
            return share * rem0 - (time.perf_counter() - t1)

        placed, bound, exact_info = _exact(inst, cap, placed, start, left_exact, seed=seed, workers=workers,
                                           progress=prog)
        info["exact"] = exact_info
        rem = left()
        proved = bound is not None and objective_value(inst, placed) >= bound - 1e-6
        if share < 1.0 and not proved and (rem is None or rem > 1.0):
            deadline = time.perf_counter() + (rem - _steps_end(inst) if rem is not None else UNTIMED_STEPS_S)
            placed, stats = move_steps(inst, placed, cap=cap, deadline=deadline, seed=seed, workers=workers,
                                       progress=prog)
            info["steps"] = stats
    elif huge:
        # Too big for the relaxed model's LP (16,384 GPUs): the capacity bound, movable work counted.
        # Steps leave the final plan's conversion (timeplan.reserve_s: 1 ms a GPU, 137 s at 131,072 GPUs).
        rem = left()
        if child == "late":
            child = None
            if rem is None or rem - _final_s(inst) > BLOCK_BOUND_MIN_S:
                child = _start_child(inst, cap, rem)
        info["steps_at_s"] = round(time.perf_counter() - t0, 2)
        if rem is None or rem > 1.0:
            deadline = time.perf_counter() + (rem - _final_s(inst) if rem is not None else UNTIMED_STEPS_S)
            if BLOCKS:
                from packer.cpsat.reopt_blocks import block_steps

                placed, stats = block_steps(inst, placed, cap=cap, deadline=deadline, seed=seed, workers=workers,
                                            progress=prog)
            else:
                placed, stats = move_steps(inst, placed, cap=cap, deadline=deadline, seed=seed, workers=workers,
                                           progress=prog)
            info["steps"] = stats
        if child is not None:
            from packer.cpsat.bound import capacity_bound

            rem = left()
            got = child.get(math.inf if rem is None else max(0.0, rem - _final_s(inst)))
            cb = capacity_bound(inst)
            info["capacity_bound"] = cb
            info["block_bound"] = None if got is None else got.value
            info["block_bound_s"] = round(time.perf_counter() - child.t0, 2)
            if child.done_at is not None:  # when its first and its last answer came, from the run's start
                info["block_bound_first_at_s"] = round(child.first_at - t0, 2)  # type: ignore[operator]
                info["block_bound_at_s"] = round(child.done_at - t0, 2)
            if got is None or child.error:
                info["block_bound_error"] = child.error  # "late" with a bound: the last one it sent
            if got is not None:
                info["block_bound_values"] = [round(v, 3) for v in got.values]  # round by round, then upgrades
                info["block_bound_per_block"] = got.per_block  # the best round's block LP values (+ lam_u)
                info["block_bound_lam_u"] = round(got.lam_u, 3)
                info["block_bound_first_s"] = round(got.first_s, 2)  # its first round, from its start
                if got.fallbacks:
                    info["block_bound_fallbacks"] = got.fallbacks
            if got is not None and math.isfinite(got.value) and (cb is None or got.value < cb):
                bound = got.value
                info["bound"] = "blocks"
    else:
        if late is not None:
            # The LP child started with the run: the steps until its deadline.
            deadline = t0 + time_limit - _steps_end(inst)  # type: ignore[operator]
            from packer.cpsat import reopt_intstays

            # session 21: branch and bound in the child once the steps stall (reopt_intstays.AFTER_STALL)
            stall = reopt_intstays.Stall(late.go) if late._hold else None
            try:
                placed, stats = move_steps(inst, placed, cap=cap, deadline=deadline, seed=seed, workers=workers,
                                           progress=prog, guide=_guide_of(bb, inst, cap),
                                           late=(lambda: (late.guide(), not late.done())) if key is None else None,
                                           on_step=stall)
            finally:
                info["late_lp"] = late.finish(deadline - time.perf_counter())
                if stall is not None:
                    info["stall_at"] = stall.at
            if bb.int_stays is not None:
                info["int_stays"] = bb.int_stays
            info["steps"] = stats
            bound = bb.best(cap)
            info["lp_bound"] = bound
            info["bound_s"] = info["late_lp"]["end_s"]  # type: ignore[index]  # from the run's start
        else:
            _budget_bounds(bb, cap, left)
            bound = bb.best(cap)
            info["lp_bound"] = bound
            info["bound_s"] = round(time.perf_counter() - t0, 3)
            rem = left()
            if rem is None or rem > 1.0:
                deadline = time.perf_counter() + (rem - _steps_end(inst) if rem is not None else UNTIMED_STEPS_S)
                placed, stats = move_steps(inst, placed, cap=cap, deadline=deadline, seed=seed, workers=workers,
                                           progress=prog, guide=_guide_of(bb, inst, cap))
                info["steps"] = stats
    if bound is None:
        from packer.cpsat.bound import capacity_bound

        bound = capacity_bound(inst)
        info["bound"] = "capacity"
    plan = None
    if placed != start_placed and objective_value(inst, placed) > objective_value(inst, start_placed) + 1e-9:
        # Converted under a deadline: the time limit less the re-issue's reserve. Requests whose
        # reasons are not done by then (the 1 ms a GPU is measured at this machine's usual load, not
        # at 4x contention) carry the time-limit reason: the steps' placement is kept either way, so
        # the plan returned is never worse than the best complete placement held (before session 8
        # a miss re-issued the start plan and lost every step's gain).
        deadline = None if time_limit is None else t0 + time_limit - _reserve(inst)
        plan = _plan(inst, placed, bound=bound, seed=seed, wall_s=time.perf_counter() - t0, info=info,
                     deadline=deadline, late=time_limit)
    else:
        placed = start_placed
    if plan is None:
        # Nothing better (the start plan is at least as good): the start plan re-issued with this
        # bound (its reasons and modes are those of the same placement; converting again costs 1 ms
        # a GPU, 137 s at 131,072 GPUs).
        from packer.cpsat.result import restamp

        plan = restamp(inst, start, seed, t0, info, bound)
    return Point(budget, plan, moves(inst, placed), time.perf_counter() - t0, info)


def curve(inst: Instance, budgets: Sequence[int | None], *, time_limit: float | None = None, seed: int = 0,
          workers: int | None = None, progress: Progress | None = None) -> list[Point]:
    """One :class:`Point` per budget, smallest first; each budget starts from the plan of the one before.

    ``time_limit`` is per budget. The first budget solves the no-move plan first (with all its time
    when that budget is 0).
    """
    order = sorted(dict.fromkeys(budgets), key=lambda b: math.inf if b is None else b)
    out: list[Point] = []
    prev: Plan | None = None
    nm_bound: float | None = None
    bounds = BudgetBound(inst)
    for b in order:
        point = reoptimize(inst, budget=b, time_limit=time_limit, seed=seed, workers=workers, start=prev,
                           no_move_bound=nm_bound, bounds=bounds, progress=progress)
        if prev is None:
            nm_bound = point.plan.bound if b == 0 else point.info.get("no_move_bound")  # type: ignore[assignment]
        out.append(point)
        prev = point.plan
    return out


def _exact(inst: Instance, cap: int | None, placed: dict[str, list[Unit]], start: Plan, left, *,  # type: ignore[no-untyped-def]
           seed: int, workers: int | None,
           progress: Progress) -> tuple[dict[str, list[Unit]], float | None, dict[str, object]]:
    """The exact model of ``inst`` with ``cap`` as max_migrations, hinted with ``start`` (whose
    placement is ``placed``), for the time left: its placement when better, and its proven bound."""
    from packer.cpsat.search import solve_monolithic as _solve_monolithic

    capped = inst.replace(objective=inst.objective.model_copy(update={"max_migrations": cap}))
    info: dict[str, object] = {}
    plan = _solve_monolithic(capped, start, seed=seed, workers=workers, start=time.perf_counter(), left=left,
                             info=info, progress=progress)
    got = {a.request: list(a.units) for a in plan.assignments}
    if (plan.status in ("optimal", "feasible") and (cap is None or moves(inst, got) <= cap)
            and objective_value(inst, got) > objective_value(inst, placed) + 1e-9 and _valid(inst, got)):
        placed = got
    info["status"] = plan.status
    return placed, plan.bound, info


# ------------------------------------------------------------------------------- move steps


def move_steps(inst: Instance, placed: Mapping[str, Sequence[Unit]], *, cap: int | None, deadline: float,
               seed: int = 0, workers: int | None = None,
               progress: Progress = SILENT, guide: Guide | None = None, max_steps: int | None = None,
               det: float | None = None,
               late: Callable[[], tuple[Guide | None, bool]] | None = None, pack: bool = True,
               on_step: Callable[[int, float, bool], None] | None = None,
               ) -> tuple[dict[str, list[Unit]], dict[str, object]]:
    """Improves ``placed`` by steps over a few nodes until ``deadline`` (perf_counter); at most ``cap`` moves.

    ``max_steps``, ``det``: stop after that many CP-SAT steps (gang steps, 0.05-0.3 s each, not
    counted), and give each CP-SAT step that deterministic
    time instead of STEP_S wall seconds (with one worker: a reproducible run, for A/B comparisons).
    While a whole-GPU gang waits, a share GANG_SHARE of the steps are gang steps
    (:mod:`packer.cpsat.reopt_gang`: clear the nodes it needs, place it, re-place what it displaced).

    ``guide``: where the repack LP puts waiting work; aimed steps follow it (:mod:`packer.cpsat.lpguide`).
    ``late``: when ``guide`` is None, asked before each step for (the guide, whether the LP still runs)
    of an LP in another process (:mod:`packer.cpsat.reopt_late`). While it runs without a guide, aimed
    steps aim only at wide requests (LATE_LP). The stats record the step at which the guide came (``guide_step``) and the steps
    run beside the LP (``beside_lp``).
    While a node-isolated tenant holds two nodes or more, pack steps (:mod:`packer.cpsat.reopt_pack`, with
    ``pack`` and reopt_pack.PACK; the blocks of 16,384-GPU clusters pass ``pack=False``: not measured there)
    empty some of its nodes onto its others and give them to the other tenants' waiting work.
    The stats count steps by kind and, in ``by_kind``, per aim kind (aimed, wide, tenant, random): steps,
    improvements, objective gained, region nodes, sub-solves CP-SAT proved optimal, and seconds
    building the step (view, region, sub-instance), solving it (``model_s`` of that: building its
    CP-SAT model), and checking its answer (merge, objective, validity): where a step's time goes
    and which kind pays.
    """
    from packer.cpsat.search import solve_monolithic as _solve_monolithic

    cur: dict[str, list[Unit]] = {rid: list(us) for rid, us in placed.items()}
    best = objective_value(inst, cur)
    rng = random.Random(seed)
    stats: dict = {"steps": 0, "improved": 0, "rejected": 0, "aimed": 0, "tenant": 0, "random": 0}
    by_kind: dict[str, dict[str, float]] = {}
    stats["by_kind"] = by_kind
    racks = _domains(inst, _level(inst))
    grng = random.Random(seed + 7919)  # the gang steps' own draws: the other steps draw as without them
    srng = random.Random(seed + 104729)  # the spread steps' own draws, likewise
    sshare = reopt_spread.Share()
    prng = random.Random(seed + 32452843)  # the pack steps' own draws, likewise
    pshare = reopt_spread.Share(reopt_pack.PACK_SHARE)
    xkrng = random.Random(seed + 179424673)  # the exchange-rack steps' own draws (reopt_xrack), likewise
    # session 27: exchange steps only once the others stall (reopt_xrack.AFTER_STALL); None: as session 26
    xstall = reopt_xrack.Stall() if reopt_xrack.XRACK and reopt_xrack.AFTER_STALL else None
    # Gang and spread steps work on the online placer: while its kernels are not compiled yet (a first
    # run on a machine), a timed run leaves them out rather than spend its limit compiling them.
    placers = det is not None or online_ready()
    xrng = random.Random(seed + 15485863)  # grown regions' extra nodes: the other draws stay as without them
    scales: dict[str, Scale] = {}
    t_start = time.perf_counter()
    lp_running = late is not None
    # session 22: one placer kept loaded with cur across the placer steps (reopt_spread.INCREMENTAL,
    # reopt_base.SHARED), and each request's part of the objective remembered (SHARED: CP-SAT steps too)
    from packer.cpsat import reopt_base
    from packer.cpsat.reopt_base import BaseCache

    bases = BaseCache(inst)
    stats["base_cache"] = bases.stats
    # session 23: kept results checked by their difference from the last plan found valid (reopt_valid.DIFF)
    from packer.cpsat.reopt_valid import Memo

    memo = Memo(inst)
    stats["valid"] = memo.stats
    while True:
        if deadline - time.perf_counter() < 0.5 or (max_steps is not None and stats["steps"] - stats.get("gang", 0)
                                                    - stats.get("spread", 0) - stats.get("pack", 0) >= max_steps):
            break
        if late is not None and lp_running:
            got, lp_running = late()
            if guide is None and got is not None:
                guide = got
                stats["guide_step"] = stats["steps"]
                stats["guide_s"] = round(time.perf_counter() - t_start, 3)
        if on_step is not None:
            on_step(stats["steps"], best, guide is not None)
        if xstall is not None:
            xstall.see(stats["steps"], best)
        pending = lp_running and guide is None
        tb = time.perf_counter()
        sized = bases if reopt_base.SIZES else None  # session 23: unit sizes remembered by the plan's diff
        view = _View(inst, cur, sized)
        ruse = None if sized is None else sized.running_use(cur)  # the spread and gang candidates' one sum
        waiting = [r for r in inst.requests if r.id not in cur
                   and view.quota_left(r) >= _least_size(inst, r) - 1e-9]
        # Pack steps are drawn first, from their own stream (reopt_pack: empty some of a node-isolated
        # tenant's nodes onto its others and give them to the other tenants' waiting work): an iteration
        # that is a pack step draws nothing from the other streams, so that where they change nothing
        # every other step draws exactly as without them.
        ptenants = reopt_pack.tenants(inst, cur) if pack and reopt_pack.PACK and placers else {}
        if ptenants and prng.random() < pshare.value:
            before = best
            cur, best = _pack(inst, cur, best, cap, ptenants, waiting, prng, stats, by_kind, tb, progress,
                              fill={"seed": seed, "workers": workers, "det": det, "deadline": deadline},
                              bases=bases, memo=memo)
            pshare.update(best > before + 1e-9)
            continue
        # Spread steps are drawn next and from their own stream, so that where they change nothing the
        # gang and CP-SAT steps draw exactly as without them (the A/B arms stay identical until one gains).
        scands = reopt_spread.spreads(inst, cur, guide, ruse) if reopt_spread.SPREAD and placers else []
        if scands and srng.random() < sshare.value:
            before = best
            cur, best = _spread(inst, cur, best, cap, scands, waiting, srng, guide, stats, by_kind, tb, progress,
                                bases, memo)
            sshare.update(best > before + 1e-9)
            continue
        cands = reopt_gang.gangs(inst, cur, ruse) if reopt_gang.GANG and placers else []
        if cands and grng.random() < reopt_gang.GANG_SHARE:
            before = best
            cur, best = _gang(inst, cur, best, cap, cands, waiting, grng, guide, stats, by_kind, tb, progress, bases,
                              memo)
            continue
        # Exchange-rack steps (reopt_xrack: racks where the plan differs from the LP, with where the LP sends
        # their running work) from their own stream: an iteration that is one draws nothing from the main stream.
        xnodes: set[str] = set()
        if (reopt_xrack.XRACK and guide is not None
                and (xkrng.random() < reopt_xrack.SHARE if xstall is None
                     else xstall.stalled and xkrng.random() < reopt_xrack.STALL_SHARE)):
            xw = reopt_diff.weights(inst, cur, guide)  # where the plan and the LP differ
            xnodes = reopt_xrack.region(view, guide, xkrng, xw, racks) if xw else set()
        zrng = xkrng if xnodes else rng  # the stream this step's closure and offer draw from
        roll = rng.random() if not xnodes else 1.0
        aim = None
        kind = "random"
        first: list[Request] = []
        # While the LP runs (no guide yet), aimed steps aim at wide requests only; none: the roll's
        # tenant or random step.
        pool = [r for r in waiting if _span_nodes(inst, r) > REGION_NODES // 2] if pending and WIDE else waiting
        if xnodes:
            kind = "xrack"
            nodes = xnodes
            first = _lp_offer(guide, waiting, xnodes, set())[:OFFER_LP_MAX]  # type: ignore[arg-type]
            stats["xrack"] = stats.get("xrack", 0) + 1
        elif pool and roll < AIMED_SHARE:
            kind = "aimed"
            aim = _aim(rng, pool, guide)
            span = _span_nodes(inst, aim)
            if WIDE and span > REGION_NODES // 2:
                kind = "wide"
                nodes = view.wide_region(aim, rng, span, guide)
                stats["wide"] = stats.get("wide", 0) + 1
            else:
                nodes = view.aimed_region(aim, rng, racks, guide)
            stats["aimed"] += 1
        elif (roll < AIMED_SHARE + TENANT_SHARE or (waiting and roll < AIMED_SHARE)) and view.isolated_nodes:
            kind = "tenant"
            t = rng.choice(sorted(view.isolated_nodes))
            nodes = set(view.isolated_nodes[t])
            if len(nodes) > REGION_NODES:
                nodes = set(rng.sample(sorted(nodes), REGION_NODES))
            nodes |= view.roomy(rng, REGION_NODES // 3, exclude=nodes)
            if TENANT_FILL:
                first = _fill_offer(inst, view, t, nodes, waiting)
                nodes |= _gang_room(inst, cur, first, rng, guide)
            stats["tenant"] += 1
        else:
            names = sorted(racks)
            nodes = {nid for d in rng.sample(names, min(STEP_DOMAINS, len(names))) for nid in racks[d]}
            stats["random"] += 1
        scale = scales.setdefault(kind, Scale())
        limit = max(REGION_MAX_NODES, len(nodes) + REGION_MAX_NODES - REGION_NODES)
        nodes = view.close(nodes, limit, zrng)
        if GROW and kind in GROW_KINDS and scale.value > 1.0:
            # grown and closed again on the extra stream: the main one draws exactly as without growth
            big = min(GROW_MAX_NODES, math.ceil(limit * scale.value))
            nodes = view.close(_grown(inst, view, nodes, scale.value, racks if kind == "random" else None, xrng),
                               big, xrng)
        reopt_offer.LAST = None
        sub, hint, uncounted = _sub_instance(inst, cur, nodes, cap, waiting, aim, zrng, first=first, guide=guide)
        if not sub.requests:
            continue
        # A wide region is a bigger model: its step gets time in proportion, up to WIDE_STEPS steps' worth.
        budget = min(STEP_S * min(WIDE_STEPS, max(1.0, len(nodes) / REGION_MAX_NODES)),
                     deadline - time.perf_counter() - 0.3)
        if budget <= 0.2:
            break
        t1 = time.perf_counter()

        def sub_left(t1: float = t1, budget: float = budget) -> float:
            return budget - (time.perf_counter() - t1)

        sinfo: dict[str, object] = {}
        # the sub-solve's seed skips spread steps, like the draws (a clean A/B: bench_reopt_gang --ab)
        if det is not None:
            def sub_left(t1: float = t1) -> float:  # the deterministic budget decides; the deadline is a safety stop
                return deadline - time.perf_counter()
        stats["beside_lp"] = stats.get("beside_lp", 0) + int(lp_running)
        plan = _solve_monolithic(sub, hint, seed=seed + stats["steps"] - stats.get("spread", 0) - stats.get("pack", 0),
                                 workers=workers,
                                 start=t1, left=sub_left,
                                 info=sinfo, lp=False, uncounted=uncounted,
                                 det=None if det is None else det * min(WIDE_STEPS, max(1.0, len(nodes) / REGION_MAX_NODES)))
        t2 = time.perf_counter()
        stats["steps"] += 1
        rec = _kind_stats(by_kind, kind)
        rec["steps"] += 1
        rec["nodes"] += len(nodes)
        if GROW and kind in GROW_KINDS:
            rec["scale_max"] = max(rec.get("scale_max", 1.0), scale.value)  # the most this kind's regions grew
        rec["build_s"] += t1 - tb
        rec["solve_s"] += t2 - t1
        rec["model_s"] += float(sinfo.get("solve_start_s") or 0.0)  # type: ignore[arg-type]
        proved = sinfo.get("cpsat_status") == "OPTIMAL"
        rec["proved"] += int(proved)
        trial = _merge(cur, sub, plan)
        if trial is None:
            scale.update(proved=proved, gained=False)
            rec["check_s"] += time.perf_counter() - t2
            reopt_offer.note(stats, kind, 0.0)
            continue
        value = bases.objective(trial) if reopt_base.SHARED else objective_value(inst, trial)
        before = best
        if value > best + 1e-9 and (cap is None or moves(inst, trial) <= cap) and not _valid(inst, trial, memo):
            stats["invalid"] = stats.get("invalid", 0) + 1  # a safety net: the whole plan is checked before it is kept
        elif value > best + 1e-9 and (cap is None or moves(inst, trial) <= cap):
            cur, best = trial, value
            stats["improved"] += 1
            stats[f"improved_{kind}"] = stats.get(f"improved_{kind}", 0) + 1
            progress.update(best=best, note=f"move step {stats['steps']}", force=True)
            rec["improved"] += 1
            rec["gain"] += best - before
        elif value > best + 1e-9:
            stats["rejected"] += 1
        scale.update(proved=proved, gained=best > before + 1e-9)
        rec["check_s"] += time.perf_counter() - t2
        reopt_offer.note(stats, kind, best - before)  # session 26: what the step's offer did, and its gain
    if xstall is not None:
        stats["xstall_fired"] = list(xstall.fired)  # the step counts at which the run began to count as stalled
    for rec in by_kind.values():
        for k in ("gain", "build_s", "solve_s", "model_s", "check_s"):
            rec[k] = round(rec[k], 3)
    return cur, stats


class Scale:
    """How many times its usual nodes a step kind's regions take (GROW): doubles after GROW_AFTER steps
    in a row that CP-SAT proved optimal without a gain (the region holds no better plan), halves after
    a step it did not prove without a gain (too big for the step's time), within [1, GROW_MAX]."""

    def __init__(self) -> None:
        self.value = 1.0
        self.streak = 0

    def update(self, *, proved: bool, gained: bool) -> None:
        if gained:
            self.streak = 0
        elif proved:
            self.streak += 1
            if self.streak >= GROW_AFTER and self.value < GROW_MAX:
                self.value = min(GROW_MAX, 2.0 * self.value)
                self.streak = 0
        else:
            self.value = max(1.0, self.value / 2.0)
            self.streak = 0


def _grown(inst: Instance, view: _View, nodes: set[str], scale: float, racks: Mapping[str, list[str]] | None,
           rng: random.Random) -> set[str]:
    """``nodes`` grown to ``scale`` times as many (at most GROW_MAX_NODES): with ``racks`` (random steps)
    by whole racks drawn at random, else by nodes drawn by their free room of any mode (where lifted
    work can land), then any node."""
    out = set(nodes)
    want = min(GROW_MAX_NODES, math.ceil(len(nodes) * scale))
    if racks is not None:
        names = [d for d in sorted(racks) if not set(racks[d]) <= out]
        rng.shuffle(names)
        for d in names:
            if len(out) + len(set(racks[d]) - out) > want:
                continue
            out |= set(racks[d])
        return out
    out |= view.roomy(rng, want - len(out), exclude=out)
    if len(out) < want:
        rest = [n.id for n in inst.nodes if n.num_gpus and n.id not in out]
        out |= set(rng.sample(rest, min(len(rest), want - len(out))))
    return out


def _kind_stats(by_kind: dict[str, dict[str, float]], kind: str) -> dict[str, float]:
    """``by_kind``'s record of one step kind (:func:`move_steps`' stats), started at zero on first use."""
    return by_kind.setdefault(kind, {"steps": 0, "improved": 0, "gain": 0.0, "nodes": 0, "build_s": 0.0,
                                     "solve_s": 0.0, "model_s": 0.0, "check_s": 0.0, "proved": 0})


def _gang(inst: Instance, cur: dict[str, list[Unit]], best: float, cap: int | None, cands: Sequence[Request],
          waiting: Sequence[Request], rng: random.Random, guide: Guide | None, stats: dict,
          by_kind: dict[str, dict[str, float]], tb: float, progress: Progress,
          bases=None, memo=None) -> tuple[dict[str, list[Unit]], float]:  # type: ignore[no-untyped-def]
    """One gang step (:func:`packer.cpsat.reopt_gang.gang_step`), kept when valid, within ``cap`` and better
    (``bases``: the move steps' :class:`packer.cpsat.reopt_base.BaseCache`; ``memo``: their
    :class:`packer.cpsat.reopt_valid.Memo`)."""
    gang = reopt_gang.pick_gang(rng, cands, guide)
    stats["steps"] += 1
    stats["gang"] = stats.get("gang", 0) + 1
    rec = _kind_stats(by_kind, "gang")
    rec["steps"] += 1
    trial, ginfo = reopt_gang.gang_step(inst, cur, gang, rng, waiting, guide, cache=bases)
    t2 = time.perf_counter()
    rec["solve_s"] += t2 - tb
    rec["nodes"] += int(ginfo.get("nodes", 0))  # type: ignore[call-overload]
    fails = stats.setdefault("gang_fail", {})
    if trial is None:
        fails[str(ginfo["fail"])] = fails.get(str(ginfo["fail"]), 0) + 1
        return cur, best
    value = float(ginfo["value"])  # type: ignore[arg-type]
    out = cur, best
    if value <= best + 1e-9:
        fails["no gain"] = fails.get("no gain", 0) + 1
    elif cap is not None and moves(inst, trial) > cap:
        fails["cap"] = fails.get("cap", 0) + 1
        stats["rejected"] += 1
    elif not _valid(inst, trial, memo):
        stats["invalid"] = stats.get("invalid", 0) + 1
    else:
        out = trial, value
        stats["improved"] += 1
        stats["improved_gang"] = stats.get("improved_gang", 0) + 1
        tg = ginfo.get("tier_gain")
        if ginfo.get("victims") is not None and (tg is None or float(tg) > 1e-9):  # type: ignore[arg-type]
            # Kept a result of a cheaper victim tier (reopt_gang.VICTIM_TIERS) that beat every
            # all-victims try of the same step: by how much (inf: those gave no result at all).
            stats["tier_wins"] = stats.get("tier_wins", 0) + 1
            stats["tier_gain"] = stats.get("tier_gain", 0.0) + (math.inf if tg is None else float(tg))  # type: ignore[arg-type]
        rec["improved"] += 1
        rec["gain"] += value - best
        progress.update(best=value, note=f"gang step {stats['steps']}", force=True)
    rec["check_s"] += time.perf_counter() - t2
    return out


def _spread(inst: Instance, cur: dict[str, list[Unit]], best: float, cap: int | None, cands: Sequence[Request],
            waiting: Sequence[Request], rng: random.Random, guide: Guide | None, stats: dict,
            by_kind: dict[str, dict[str, float]], tb: float, progress: Progress,
            bases=None, memo=None) -> tuple[dict[str, list[Unit]], float]:  # type: ignore[no-untyped-def]
    """One spread step (:func:`packer.cpsat.reopt_spread.spread_step`), kept when valid, within ``cap`` and
    better; ``bases``: the move steps' :class:`packer.cpsat.reopt_base.BaseCache`."""
    r = reopt_spread.pick(rng, inst, cands, guide)
    stats["steps"] += 1
    stats["spread"] = stats.get("spread", 0) + 1
    rec = _kind_stats(by_kind, "spread")
    rec["steps"] += 1
    left = None if cap is None else cap - moves(inst, cur)
    trial, info = reopt_spread.spread_step(inst, cur, r, rng, waiting, guide, left, cache=bases)
    t2 = time.perf_counter()
    rec["solve_s"] += t2 - tb
    rec["nodes"] += max(1, int(info.get("nodes", 0)))  # type: ignore[call-overload]  # the nodes it opened
    return _keep(inst, cur, best, trial, info, cap, stats, rec, "spread", progress, t2, memo)


def _keep(inst: Instance, cur: dict[str, list[Unit]], best: float, trial: dict[str, list[Unit]] | None,
          info: Mapping[str, object], cap: int | None, stats: dict, rec: dict[str, float], kind: str,
          progress: Progress, t2: float, memo=None) -> tuple[dict[str, list[Unit]], float]:  # type: ignore[no-untyped-def]
    """A placer-built step's result (spread, pack) taken when it is valid (``memo``: :func:`_valid`'s), within
    ``cap`` and better than ``best``; else why not, counted in ``stats[kind + "_fail"]``. (plan, value) either way."""
    fails = stats.setdefault(f"{kind}_fail", {})
    out = cur, best
    if trial is None:
        fails[str(info.get("fail"))] = fails.get(str(info.get("fail")), 0) + 1
    elif float(info["value"]) <= best + 1e-9:  # type: ignore[arg-type]
        fails["no gain"] = fails.get("no gain", 0) + 1
    elif cap is not None and moves(inst, trial) > cap:
        fails["cap"] = fails.get("cap", 0) + 1
        stats["rejected"] += 1
    elif not _valid(inst, trial, memo):
        stats["invalid"] = stats.get("invalid", 0) + 1
    else:
        value = float(info["value"])  # type: ignore[arg-type]
        out = trial, value
        stats["improved"] += 1
        stats[f"improved_{kind}"] = stats.get(f"improved_{kind}", 0) + 1
        rec["improved"] += 1
        rec["gain"] += value - best
        progress.update(best=value, note=f"{kind} step {stats['steps']}", force=True)
    rec["check_s"] += time.perf_counter() - t2
    return out


def _pack(inst: Instance, cur: dict[str, list[Unit]], best: float, cap: int | None, ptenants: Mapping[str, list[str]],
          waiting: Sequence[Request], rng: random.Random, stats: dict,
          by_kind: dict[str, dict[str, float]], tb: float, progress: Progress,
          fill: Mapping[str, object] | None = None, bases=None, memo=None,  # type: ignore[no-untyped-def]
          ) -> tuple[dict[str, list[Unit]], float]:
    """One pack step (:func:`packer.cpsat.reopt_pack.pack_step`) for a node-isolated tenant drawn by its
    nodes, kept when valid, within ``cap`` and better. With reopt_pack.FILL and ``fill`` (the CP-SAT
    step's seed, workers, det and deadline), its result is first refined by :func:`_pack_fill`: one
    CP-SAT step over the emptied and kept nodes, the placer's fill as its hint."""
    names = sorted(ptenants)
    t = rng.choices(names, weights=[len(ptenants[n]) for n in names], k=1)[0]
    stats["steps"] += 1
    stats["pack"] = stats.get("pack", 0) + 1
    rec = _kind_stats(by_kind, "pack")
    rec["steps"] += 1
    trial, info = reopt_pack.pack_step(inst, cur, t, ptenants[t], rng, waiting, cache=bases)
    if trial is not None and reopt_pack.FILL and fill is not None and (cap is None or moves(inst, trial) <= cap):
        got = _pack_fill(inst, trial, float(info["value"]), t, ptenants[t], list(info.get("empty", ())),  # type: ignore[arg-type]
                         cap, waiting, rng, stats, by_kind, memo=memo, **fill)  # type: ignore[arg-type]
        if got is not None:
            trial, info["value"] = got
    t2 = time.perf_counter()
    rec["solve_s"] += t2 - tb
    rec["nodes"] += int(info.get("emptied", 0))  # type: ignore[call-overload]
    return _keep(inst, cur, best, trial, info, cap, stats, rec, "pack", progress, t2, memo)


def step_clock(nodes: int, deadline: float, det: float | None
               ) -> tuple[float, Callable[[], float], float | None] | None:
    """The clock of one CP-SAT step over a region of ``nodes`` nodes that is not a main-loop step (a pack
    fill): its budget is STEP_S, times the region's size in REGION_MAX_NODES up to WIDE_STEPS,
    cut at ``deadline`` less 0.3 s; None when that leaves 0.2 s or less. Returns (start, seconds left,
    deterministic time): with ``det`` the deterministic budget (``det`` times the same scale) decides and
    the deadline is only a safety stop."""
    scale = min(WIDE_STEPS, max(1.0, nodes / REGION_MAX_NODES))
    budget = min(STEP_S * scale, deadline - time.perf_counter() - 0.3)
    if budget <= 0.2:
        return None
    t1 = time.perf_counter()
    if det is None:
        def left() -> float:
            return budget - (time.perf_counter() - t1)

        return t1, left, None

    def safety() -> float:
        return deadline - time.perf_counter()

    return t1, safety, det * scale


def _pack_fill(inst: Instance, trial: dict[str, list[Unit]], value: float, tenant: str, nodes: Sequence[str],
               empty: Sequence[str], cap: int | None, waiting: Sequence[Request], rng: random.Random, stats: dict,
               by_kind: dict[str, dict[str, float]], *, seed: int, workers: int | None, det: float | None,
               deadline: float, memo=None) -> tuple[dict[str, list[Unit]], float] | None:  # type: ignore[no-untyped-def]
    """One CP-SAT step over the nodes a pack step emptied (``empty``) and the tenant's kept ``nodes``
    (REGION_NODES of them drawn when more), from the pack step's ``trial`` (worth ``value``): the work
    it moved may move again at no further cost, the waiting work its placer put there is free, and
    the other tenants' waiting work not placed is offered first. The region is closed over work
    crossing its border like the other steps' (up to REGION_MAX_NODES - REGION_NODES more nodes).
    Returns (plan, value) when the step found a valid plan within ``cap`` better than ``value``."""
    from packer.cpsat.search import solve_monolithic as _solve_monolithic

    if not empty:
        return None
    tb = time.perf_counter()
    gone = set(empty)
    kept = sorted(n for n in nodes if n not in gone)
    if len(kept) > REGION_NODES:
        kept = rng.sample(kept, REGION_NODES)
    view = _View(inst, trial)
    left = [r for r in waiting if r.id not in trial and view.quota_left(r) >= _least_size(inst, r) - 1e-9]
    first = sorted((r for r in left if r.tenant != tenant),
                   key=lambda r: (-r.priority * r.count * inst.request_unit_size(r), r.id))[: OFFER // 2]
    base = gone | set(kept)
    region = view.close(base, len(base) + REGION_MAX_NODES - REGION_NODES, rng)
    sub, hint, uncounted = _sub_instance(inst, trial, region, cap, left, None, rng, first=first)
    if not sub.requests:
        return None
    clock = step_clock(len(region), deadline, det)
    if clock is None:
        return None
    t1, sub_left, sub_det = clock
    sinfo: dict[str, object] = {}
    rec = _kind_stats(by_kind, "pack_fill")
    plan = _solve_monolithic(sub, hint, seed=seed + 1000003 + stats.get("pack", 0), workers=workers, start=t1,
                             left=sub_left, info=sinfo, lp=False, uncounted=uncounted, det=sub_det)
    t2 = time.perf_counter()
    rec["steps"] += 1
    rec["nodes"] += len(region)
    rec["build_s"] += t1 - tb
    rec["solve_s"] += t2 - t1
    rec["proved"] += int(sinfo.get("cpsat_status") == "OPTIMAL")
    out = None
    got = _merge(trial, sub, plan)
    if got is not None:
        v = objective_value(inst, got)
        if v > value + 1e-9 and (cap is None or moves(inst, got) <= cap) and _valid(inst, got, memo):
            rec["improved"] += 1
            rec["gain"] += v - value
            out = got, v
    rec["check_s"] += time.perf_counter() - t2
    return out


def _level(inst: Instance) -> str:
    """The coarsest topology level with at least 8 domains (racks on haein), else ``node``."""
    best = ("node", math.inf)
    for lv in inst.topology.levels:
        count = len({inst.domain(n, lv) for n in inst.nodes})
        if 8 <= count < best[1]:
            best = (lv, count)
    return best[0]


def _domains(inst: Instance, level: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for n in inst.nodes:
        out[inst.domain(n, level)].append(n.id)
    return dict(out)


def _least_size(inst: Instance, r: Request) -> float:
    """The fewest GPU-equivalents ``r`` can be placed with (its quota must have that much left)."""
    if r.kind == "gpu":
        return float(r.need_count)
    if r.kind == "share":
        return r.need_count * (r.gpu_milli or 0) / 1000
    if r.kind == "host":
        return 0.0
    allowed = inst.allowed_models(r)
    cat = inst.gpu_catalog
    names = {n.gpu_model for n in inst.nodes if n.gpu_model and (allowed is None or n.gpu_model in allowed)}
    sizes = [p.gpu_equivalents for name in sorted(names) for p in inst.profile_choices(r, cat[name])]
    return r.need_count * min(sizes) if sizes else 0.0


def _guide_of(bb: BudgetBound, inst: Instance, cap: int | None) -> Guide | None:
    """The guide of ``cap``'s steps: the no-limit LP's where the cap cannot bind; none where it binds
    (session 5's rule; a binding cap's own stays LP's guide was measured and removed in session 27)."""
    if not LP_GUIDE or not _cap_free(inst, cap):
        return None
    return bb.guide


def _span_nodes(inst: Instance, r: Request) -> int:
    """The fewest nodes ``r``'s units can lie on: its spread's domains (each at least a node), or its
    GPU-equivalents over the biggest node's GPUs."""
    most = max((n.num_gpus for n in inst.nodes), default=1) or 1
    need = math.ceil(max(1.0, _least_size(inst, r) / r.need_count * r.count) / most) if r.kind != "host" else 1
    if r.spread is not None:
        need = max(need, math.ceil(r.count / r.spread.max_per_domain))
    return need


def _cap_free(inst: Instance, cap: int | None) -> bool:
    """True when ``cap`` cannot bind: no cap, or at least as many moves as there are movable running
    requests. The guide follows the repack LP, which moves without limit; with a cap that binds it
    aims at placements the budget cannot reach (budget 8 fell on 4 of 5 fragmented report seeds
    against the unguided session before, bench/RESULTS_reopt.md, session 5), so there it is not used."""
    return cap is None or cap >= len(movable_ids(inst))


def _aim(rng: random.Random, waiting: Sequence[Request], guide: Guide | None = None) -> Request:
    """A waiting request, drawn with weight priority × its units (bigger, dearer work first), times
    the guide's weight (mostly the share of it the repack LP places) when there is one."""
    weights = [(r.priority * r.count * (1.0 if r.kind != "share" else (r.gpu_milli or 0) / 1000) + 1e-3)
               * (1.0 if guide is None else guide.weight(r.id)) for r in waiting]
    return rng.choices(list(waiting), weights=weights, k=1)[0]


class _View:
    """Where the incumbent leaves room: free and movable GPU-equivalents per GPU, quotas used."""

    def __init__(self, inst: Instance, cur: Mapping[str, Sequence[Unit]], cache=None) -> None:  # type: ignore[no-untyped-def]
        """``cache``: a :class:`packer.cpsat.reopt_base.BaseCache` whose remembered unit sizes are used
        (reopt_base.SIZES: the same sums)."""
        self.inst = inst
        self.used: dict[tuple[str, int], float] = defaultdict(float)
        self.mov: dict[tuple[str, int], float] = defaultdict(float)
        self.quota: dict[str, float] = defaultdict(float)
        owners: dict[str, set[str]] = defaultdict(set)
        #: Node → ids of work there that a step could free; id → its nodes (now and, if unmoved, as it runs).
        self.on_node: dict[str, set[str]] = defaultdict(set)
        self.spans: dict[str, set[str]] = {}
        for rid, units in cur.items():
            r = inst.request(rid)
            if r.placement is not None and not r.movable:
                continue
            span = {u.node for u in units} | {u.node for u in r.placement or ()}
            self.spans[rid] = span
            for nid in span:
                self.on_node[nid].add(rid)
        iso = {t.id for t in inst.tenants if t.isolation == "node"}
        for rid, units in cur.items():
            r = inst.request(rid)
            sizes = None if cache is None else cache.unit_sizes(rid, units)
            for i, u in enumerate(units):
                size = inst.unit_size(r, u) if sizes is None else sizes[i]
                self.quota[r.tenant] += size
                if r.tenant in iso:
                    owners[r.tenant].add(u.node)
                if u.gpu is None:
                    continue
                self.used[(u.node, u.gpu)] += size
                if r.movable:
                    self.mov[(u.node, u.gpu)] += size
        self.isolated_nodes = {t: sorted(ns) for t, ns in owners.items()}

    def close(self, nodes: set[str], limit: int, rng: random.Random) -> set[str]:
        """``nodes`` plus, while fewer than ``limit``, the nodes of work that lies partly in them (work
        across the border is pinned, so a region closed over it frees more)."""
        out = set(nodes)
        todo = sorted(out)
        rng.shuffle(todo)
        while todo and len(out) < limit:
            nid = todo.pop(0)
            for rid in sorted(self.on_node.get(nid, ())):
                extra = self.spans[rid] - out
                if extra and len(out) + len(extra) <= limit:
                    out |= extra
                    todo += sorted(extra)
        return out

    def quota_left(self, r: Request) -> float:
        t = self.inst.tenant_map.get(r.tenant)
        if t is None or t.max_gpus is None:
            return math.inf
        return t.max_gpus - self.quota[r.tenant]

    def room(self, n, mode: str | None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
        """(free, movable) GPU-equivalents on node ``n`` in ``mode`` (None: any mode)."""
        free = mov = 0.0
        for g in range(n.num_gpus):
            gm = n.gpu_mode(g)
            if mode is not None and gm not in (mode, "any"):
                continue
            free += max(0.0, 1.0 - self.used[(n.id, g)])
            mov += self.mov[(n.id, g)]
        return free, mov

    def aimed_region(self, aim: Request, rng: random.Random, racks: Mapping[str, list[str]],
                     guide: Guide | None = None) -> set[str]:
        """Nodes where ``aim`` could go once movable work leaves, and nodes with room for that work.

        Half the nodes are drawn by the free plus movable room of ``aim``'s mode (a whole domain of
        its required locality first, when it has one), the rest by free room of that mode (where
        displaced work of the same kind can land). With a ``guide`` that places ``aim``, the first
        half is drawn by the units the repack LP puts on each node instead (its domain, for required
        locality, by the LP's units there), then by room as before.
        """
        inst = self.inst
        mode = MODE_OF_KIND.get(aim.kind)
        allowed = inst.allowed_models(aim)
        cands = [n for n in inst.nodes if n.num_gpus and (allowed is None or n.gpu_model in allowed)]
        rooms = {n.id: self.room(n, mode) for n in cands}
        lp = {} if guide is None else guide.where(aim.id, rooms)
        out: set[str] = set()
        if aim.locality is not None and aim.locality.required and aim.locality.level != "node":
            doms: dict[str, list[str]] = defaultdict(list)
            for n in cands:
                doms[inst.domain(n, aim.locality.level)].append(n.id)
            names = sorted(doms)
            if lp:
                w = [sum(lp.get(nid, 0.0) for nid in doms[d]) + 1e-6 for d in names]
            else:
                w = [sum(sum(rooms[nid]) for nid in doms[d]) + 1e-3 for d in names]
            d = rng.choices(names, weights=w, k=1)[0]
            ordered = sorted(doms[d], key=lambda nid: -lp.get(nid, 0.0)) if lp else doms[d]
            out |= set(ordered[:REGION_NODES // 2])
        targets = [nid for nid in sorted(lp) if nid not in out]
        while len(out) < REGION_NODES // 2 and targets:
            pick = rng.choices(targets, weights=[lp[nid] for nid in targets], k=1)[0]
            out.add(pick)
            targets.remove(pick)
        pool = [n.id for n in cands if n.id not in out and sum(rooms[n.id]) > 0]
        while len(out) < REGION_NODES // 2 and pool:
            w = [rooms[nid][0] + rooms[nid][1] + 1e-3 for nid in pool]
            pick = rng.choices(pool, weights=w, k=1)[0]
            out.add(pick)
            pool.remove(pick)
        self.exchange(out, guide, rng, REGION_NODES - REGION_NODES // 4)
        pool = [nid for nid in pool if nid not in out and rooms[nid][0] > 0]
        while len(out) < REGION_NODES and pool:
            w = [rooms[nid][0] + 1e-3 for nid in pool]
            pick = rng.choices(pool, weights=w, k=1)[0]
            out.add(pick)
            pool.remove(pick)
        return out

    def wide_region(self, aim: Request, rng: random.Random, span: int, guide: Guide | None = None) -> set[str]:
        """A region sized to ``aim`` (``span``: the fewest nodes its units lie on): up to ``span`` nodes
        where the LP puts it (by its units there) or, without one, by free plus movable room of its
        mode; with a spread, one node per domain of its level until there are enough domains; with
        required locality, all in one domain of that level; then the LP's exchange destinations for
        running work it moves off them, and nodes with free room, to 1.5 × span (at most WIDE_MAX_NODES)."""
        inst = self.inst
        mode = MODE_OF_KIND.get(aim.kind)
        allowed = inst.allowed_models(aim)
        cands = [n for n in inst.nodes if n.num_gpus and (allowed is None or n.gpu_model in allowed)]
        if aim.locality is not None and aim.locality.required and aim.locality.level != "node":
            doms: dict[str, list] = defaultdict(list)
            for n in cands:
                doms[inst.domain(n, aim.locality.level)].append(n)
            lp0 = {} if guide is None else guide.where(aim.id)
            names = sorted(doms)
            # By the LP's units there, else (and as a tie-break) by free plus movable room of its mode.
            tie = 1e-3 if lp0 else 1.0
            w = [sum(lp0.get(n.id, 0.0) for n in doms[d]) + tie * sum(sum(self.room(n, mode)) for n in doms[d])
                 + 1e-9 for d in names]
            cands = doms[rng.choices(names, weights=w, k=1)[0]]
        rooms = {n.id: self.room(n, mode) for n in cands}
        lp = {} if guide is None else guide.where(aim.id, rooms)
        limit = min(WIDE_MAX_NODES, max(span, math.ceil(1.5 * span)))
        out: set[str] = set()
        targets = sorted(lp)
        while len(out) < min(span, limit) and targets:
            pick = rng.choices(targets, weights=[lp[nid] for nid in targets], k=1)[0]
            out.add(pick)
            targets.remove(pick)
        by_id = {n.id: n for n in cands}
        if aim.spread is not None:
            level = aim.spread.level
            need = math.ceil(aim.count / aim.spread.max_per_domain)
            have = {inst.domain(by_id[nid], level) for nid in out}
            pool = [n for n in cands if n.id not in out and inst.domain(n, level) not in have
                    and sum(rooms[n.id]) > 0]
            while len(have) < need and pool and len(out) < limit:
                pick = rng.choices(pool, weights=[sum(rooms[n.id]) + 1e-3 for n in pool], k=1)[0]
                out.add(pick.id)
                d = inst.domain(pick, level)
                have.add(d)
                pool = [n for n in pool if inst.domain(n, level) != d]
        pool = [n.id for n in cands if n.id not in out and sum(rooms[n.id]) > 0]
        while len(out) < min(span, limit) and pool:
            pick = rng.choices(pool, weights=[sum(rooms[nid]) + 1e-3 for nid in pool], k=1)[0]
            out.add(pick)
            pool.remove(pick)
        self.exchange(out, guide, rng, limit)
        every = [n.id for n in inst.nodes if n.num_gpus and n.id not in out]
        free = {nid: self.room(inst.node(nid), None)[0] for nid in every}
        pool = [nid for nid in every if free[nid] > 0]
        while len(out) < limit and pool:
            pick = rng.choices(pool, weights=[free[nid] for nid in pool], k=1)[0]
            out.add(pick)
            pool.remove(pick)
        return out

    def exchange(self, out: set[str], guide: Guide | None, rng: random.Random, limit: int) -> None:
        """Adds to ``out``, up to ``limit`` nodes, where the LP sends the running work it moves off
        ``out``'s nodes (the LP's exchange), drawn by the units it sends there; nothing without a
        guide from the LP with migration costs, or when EXCHANGE is off."""
        if guide is None or not guide.moved or not EXCHANGE:
            return
        dest: dict[str, float] = defaultdict(float)
        for nid in sorted(out):
            for rid in sorted(self.on_node.get(nid, ())):
                for d, u in guide.dest.get(rid, {}).items():
                    if d not in out:
                        dest[d] += guide.moved.get(rid, 0.0) * u
        targets = sorted(dest)
        while len(out) < limit and targets:
            pick = rng.choices(targets, weights=[dest[nid] + 1e-9 for nid in targets], k=1)[0]
            out.add(pick)
            targets.remove(pick)

    def roomy(self, rng: random.Random, k: int, exclude: set[str]) -> set[str]:
        """``k`` nodes drawn by free room of any mode."""
        pool = [n.id for n in self.inst.nodes if n.num_gpus and n.id not in exclude]
        rooms = {nid: self.room(self.inst.node(nid), None)[0] for nid in pool}
        pool = [nid for nid in pool if rooms[nid] > 0]
        out: set[str] = set()
        while len(out) < k and pool:
            pick = rng.choices(pool, weights=[rooms[nid] for nid in pool], k=1)[0]
            out.add(pick)
            pool.remove(pick)
        return out


def _sub_instance(inst: Instance, cur: Mapping[str, Sequence[Unit]], nodes: set[str], cap: int | None,
                  waiting: Sequence[Request], aim: Request | None,
                  rng: random.Random, first: Sequence[Request] = (),
                  guide: Guide | None = None) -> tuple[Instance, Plan, set[str]]:
    """The sub-instance of ``nodes`` around incumbent ``cur``, its hint, and its uncounted movers.

    Movable running requests wholly in ``nodes`` are free: not yet moved, as they run (a move costs
    as usual and counts against the cap); moved before, as they run at home when their original units
    are in ``nodes`` too (HOME: going back saves the move's cost and count), else where they are now
    (moving again costs nothing more and does not count again). Waiting requests placed wholly inside are free too;
    everything else in ``nodes`` is pinned where it is. Quotas shrink by what lies outside, the cap by
    the moves outside. ``first``: waiting requests offered before the others (at most OFFER in all).
    ``guide`` (with OFFER_LP): the waiting requests it puts on ``nodes`` are offered next (:func:`_lp_offer`).
    """
    reqs: list[Request] = []
    used_out: dict[str, float] = defaultdict(float)
    moved_out = 0
    uncounted: set[str] = set()
    hint: dict[str, list[Unit]] = {}
    fixed_modes: dict[tuple[str, int], str] = {}
    for r, inside, outside in split_at_border(inst, inst.requests, cur, nodes, used_out):
        units = cur[r.id]
        moved = r.placement is not None and not units_equal(r.placement, units)
        if not inside:
            moved_out += int(moved)
            continue
        hint[r.id] = inside
        orig_in = r.placement is not None and all(u.node in nodes for u in r.placement)
        if not outside and r.movable and not moved and orig_in:
            reqs.append(r)  # free: stays or moves within the region
        elif HOME and not outside and r.movable and moved and orig_in:
            reqs.append(r)  # moved before, home in the region: as it runs at home (staying = moving back)
        elif not outside and r.movable and moved:
            uncounted.add(r.id)  # moved before: may move again, its cost is paid already
            reqs.append(r.model_copy(update={"placement": tuple(inside), "migration_cost": 0.0}))
            fix_modes(inst, r, inside, fixed_modes)
        elif not outside and r.placement is None:
            reqs.append(r)  # waiting work placed here: free
        else:
            moved_out += int(moved)
            upd: dict[str, object] = {"placement": tuple(inside), "movable": False, "migration_cost": None}
            if outside:
                upd.update({"count": len(inside), "min_count": None, "locality": None, "spread": None})
            reqs.append(r.model_copy(update=upd))
            fix_modes(inst, r, inside, fixed_modes)
    firsts = [r for r in first if r.id not in cur][:OFFER]
    if OFFER_LP and guide is not None:
        seen = {r.id for r in firsts} | ({aim.id} if aim is not None else set())
        firsts += _lp_offer(guide, waiting, nodes, seen)[: max(0, min(OFFER_LP_MAX, OFFER - 1 - len(firsts)))]
    ids = {r.id for r in firsts}
    if reopt_offer.OFFER_FIT or reopt_offer.MEASURE is not None:  # session 26: the offer that fits the region
        region = reopt_offer.Region.of(inst, nodes, fixed_modes, reqs)
    if reopt_offer.OFFER_FIT:
        offer = firsts + reopt_offer.offer(inst, region, [r for r in waiting if r.id not in ids], aim, rng,
                                           OFFER - len(firsts), len(nodes), OFFER)
    else:
        offer = firsts + _offer([r for r in waiting if r.id not in ids], aim, rng)[: OFFER - len(firsts)]
        if reopt_offer.MEASURE is not None:
            reopt_offer.measure_offer(inst, region, offer, aim, [r for r in waiting if r.id not in ids])
    reqs.extend(offer)
    keep = {r.tenant for r in reqs}
    tenants = [Tenant(id=t.id, isolation=t.isolation,
                      max_gpus=None if t.max_gpus is None else max(0.0, t.max_gpus - used_out[t.id]))
               for t in inst.tenants if t.id in keep]
    weights = ObjectiveWeights(locality_weight=inst.objective.locality_weight,
                               migration_weight=inst.objective.migration_weight,
                               max_migrations=None if cap is None else max(0, cap - moved_out))
    sub = Instance(name=f"{inst.name}/moves", catalog=inst.catalog, topology=inst.topology,
                   nodes=nodes_with_modes(inst, nodes, fixed_modes),
                   tenants=tuple(tenants), requests=tuple(reqs), objective=weights)
    plan = Plan(instance=sub.name, status="feasible", objective=0.0, solver=SolverInfo(name="incumbent"),
                assignments=tuple(Assignment(request=rid, units=tuple(us)) for rid, us in hint.items()))
    return sub, plan, uncounted


def _fill_offer(inst: Instance, view: _View, tenant: str, nodes: set[str], waiting: Sequence[Request]) -> list[Request]:
    """Waiting requests of tenants other than ``tenant`` (node-isolated) that fit the room stranded on
    its nodes in ``nodes`` (free GPU-equivalents there, which no other tenant may use while its work
    is there), dearest per GPU-equivalent first, then bigger first; at most OFFER // 2."""
    mine = set(view.isolated_nodes.get(tenant, ()))
    stranded = sum(view.room(inst.node(nid), None)[0] for nid in sorted(nodes & mine))
    if stranded <= 0:
        return []
    out = []
    for r in waiting:
        if r.tenant == tenant:
            continue
        size = _least_size(inst, r) / max(1, r.need_count) * r.count
        if 0 < size <= stranded + 1e-9:
            out.append((-r.priority, -size, r.id, r))
    out.sort(key=lambda x: x[:3])
    return [x[3] for x in out[: OFFER // 2]]


def _gang_room(inst: Instance, cur: Mapping[str, Sequence[Unit]], offer: Sequence[Request], rng: random.Random,
               guide: Guide | None) -> set[str]:
    """For the first whole-GPU gang in a fill offer, the nodes a gang step would clear for it
    (:func:`packer.cpsat.reopt_gang.clear_nodes`, running work that spans nodes kept): with them in the
    region, the step can move their small running jobs onto the room it frees on the isolated
    tenant's nodes and place the gang where they were. Empty when the offer holds no such gang."""
    for r in offer:
        if r.kind == "gpu" and r.count > 1:
            return set(reopt_gang.clear_nodes(inst, r, cur, rng, guide, keep_wide=True))
    return set()


def _lp_offer(guide: Guide, waiting: Sequence[Request], nodes: set[str], seen: set[str]) -> list[Request]:
    """Waiting requests (not in ``seen``) that ``guide`` puts on ``nodes``, by priority × the LP's units
    on them, highest first (ties by id): the work the LP fits into this region's room."""
    got = []
    for r in waiting:
        if r.id in seen:
            continue
        units = sum(u for nid, u in guide.nodes.get(r.id, {}).items() if nid in nodes)
        if units > 1e-6:
            got.append((-r.priority * units, r.id, r))
    got.sort(key=lambda x: x[:2])
    return [x[2] for x in got]


def _offer(waiting: Sequence[Request], aim: Request | None, rng: random.Random) -> list[Request]:
    """Waiting requests offered to a step: the aimed one, then a random slice of the rest by value."""
    out = [aim] if aim is not None else []
    rest = [r for r in waiting if aim is None or r.id != aim.id]
    rest.sort(key=lambda r: (-r.priority, r.id))
    if rest:
        k = rng.randrange(len(rest))
        out += (rest[k:] + rest[:k])[: OFFER - len(out)]
    return out


def _merge(cur: Mapping[str, Sequence[Unit]], sub: Instance, plan: Plan) -> dict[str, list[Unit]] | None:
    """``cur`` with the sub-plan's answer written back, or None when it changed nothing."""
    got = {a.request: list(a.units) for a in plan.assignments}
    out = {rid: list(us) for rid, us in cur.items()}
    changed = False
    for r in sub.requests:
        if r.placement is not None and not r.movable:
            continue  # pinned: unchanged
        new = got.get(r.id)
        old = out.get(r.id)
        if new is None:
            if old is not None:
                if r.placement is not None:
                    return None  # running work is never dropped (cannot happen: a safety net)
                del out[r.id]
                changed = True
        elif old is None or not units_equal(old, new):
            out[r.id] = new
            changed = True
    return out if changed else None


# ------------------------------------------------------------------------------- helpers


def _final_s(inst: Instance) -> float:
    """Seconds to convert a placement into the final plan (reasons of every unplaced request): the
    CP-SAT solve's reserve, 1 ms a GPU (measured 0.9-1.05 ms at 16,384 and 131,072 GPUs, load 6.5-6.9:
    bench/bench_reopt_conversion.py)."""
    from packer.cpsat.timeplan import reserve_s

    return max(_reserve(inst), reserve_s(inst))


def _steps_end(inst: Instance) -> float:
    """Seconds before the time limit at which move steps stop: the re-issue's reserve plus the final
    conversion's own time (:func:`_final_s`). With the reserve alone the conversion had what a
    step's overrun left of 0.7 s at 1,024 GPUs, and at load 6 it missed its deadline in 3 of 20
    budget runs of the A/B (their steps improved 6-20 times), each time throwing that gain away (bench/RESULTS_reopt.md, "Session 5")."""
    return _reserve(inst) + _final_s(inst)


def _reserve(inst: Instance) -> float:
    """Seconds kept back from the steps for the final plan (reasons, checks): 0.5 + 0.2 ms per GPU."""
    return 0.5 + 2e-4 * inst.num_gpus


def _valid(inst: Instance, placed: Mapping[str, Sequence[Unit]], memo=None) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``placed`` passes the independent checker (units, modes, quotas, isolation, host resources).
    ``memo``: the move steps' :class:`packer.cpsat.reopt_valid.Memo`; with reopt_valid.DIFF the plan is
    checked by its difference from the last plan found valid (the same verdict)."""
    from packer.cpsat import reopt_valid

    if memo is not None and reopt_valid.DIFF:
        return memo.valid(placed)
    return reopt_valid.whole(inst, placed)


def _cap(instance_cap: int | None, budget: int | None) -> int | None:
    if instance_cap is None:
        return budget
    return instance_cap if budget is None else min(instance_cap, budget)


def _info(plan: Plan) -> dict[str, object]:
    return {"objective": plan.objective, "bound": plan.bound, "status": plan.status}


def _plan(inst: Instance, placed: Mapping[str, Sequence[Unit]], *, bound: float | None, seed: int, wall_s: float,
          info: dict[str, object], modes: Mapping[tuple[str, int], str] | None = None,
          why: Mapping[str, str] | None = None, deadline: float | None = None,
          late: float | None = None) -> Plan:
    """The SPEC plan of ``placed`` for ``inst`` (status optimal when the bound is met).

    ``modes``, ``why``: the modes and reasons already known for this placement (those of requests
    without one are computed). ``deadline`` (perf_counter): when the reasons are not done by then,
    each unplaced request without a known reason gets the time-limit reason (``late``: the time
    limit it names, in seconds) and ``info["final"]`` says so; the placement is never given up."""
    from packer.cpsat.reasons import reasons_until
    from packer.cpsat.result import NAME
    from packer.cpsat.result import modes_of as _modes_of

    modes = _modes_of(inst, placed) if modes is None else modes
    why = dict(why or {})
    if any(r.id not in placed and r.id not in why for r in inst.requests):
        fresh, cut = reasons_until(inst, placed, modes, deadline, solver="re-optimizer",
                                   seconds=round(late if late is not None else wall_s, 3))
        if cut:
            info["final"] = f"reasons not done by the deadline: {cut} unplaced requests carry the time-limit reason"
        why = {**fresh, **why}
    obj = objective_value(inst, placed)
    status = "optimal" if bound is not None and obj >= bound - 1e-6 else "feasible"
    return build_plan(inst, solver=NAME, placed=placed, unplaced=why, gpu_modes=modes, seed=seed, wall_s=wall_s,
                      bound=bound, status=status, solver_info=info)
