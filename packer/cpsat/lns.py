"""Large-neighbourhood search on one CP-SAT model: free a few topology domains, fix the rest, re-solve.

Each step frees every variable of the GPU classes of a few random domains (units, modes, MIG
configurations, share patterns, node ownership), fixes every other class at the incumbent, and lets
CP-SAT re-optimize that copy of the model from the incumbent as a complete hint. Requests stay free,
so unplaced ones may enter the freed domains and placed ones may move within them.

With one worker the steps run one after the other with fixed deterministic budgets (reproducible).
With more, several steps run at once in threads (CP-SAT releases the GIL while it solves; an LNS
step gains nothing from a second worker, so each gets one) on disjoint domains. Two such steps could
both place the same waiting request, so each may add requests of only its own share of the groups
that can still grow. A step that ends after another one moved the incumbent merges as a difference
(its domains' variables and its changes to the request-level ones) when the merged values satisfy
every constraint of the model; otherwise its answer replaces the incumbent only if it is better.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

from packer.cpsat import lns_owner, lns_reach, lns_region, lns_tie
from packer.cpsat.guard import solve_guarded
from packer.cpsat.lns_portfolio import Portfolio
from packer.cpsat.lns_value import ValueIndex, pick_value, value_index
from packer.progress import SILENT, Progress

if TYPE_CHECKING:
    from packer.cpsat.model import CpsatModel

#: Most LNS steps running at once (each a thread with one CP-SAT worker).
MAX_THREADS = 4
#: CP-SAT's linearization level in a step. At 2 (all constraints in its LP, with cuts) a two-rack
#: step on haein mostly ends proven optimal in well under its 2 s; at the default 1 most ran out of
#: time, and 14 steps took 2.0-2.5 times as long for less gain (bench/RESULTS_cpsat.md, seventh session).
STEP_LINEARIZATION = 2
#: Share of the steps anchored on a placed request that spans several domains (a gang over two
#: racks, replicas over three): they free its domains plus one more, so that it can move at all.
#: A random choice of two racks frees both racks of a 64-GPU gang almost never, and then leaves
#: it nowhere else to go.
ANCHORED_SHARE = 0.25
#: Anchors span at most this many domains (a request spread wider stays put).
ANCHOR_MAX_DOMAINS = 3
#: Share of the steps that free exactly the nodes a node-isolated tenant owns (at most
#: TENANT_MAX_NODES of them, wherever they are). A request spread one unit per rack over eight racks
#: can never enter a step of two racks; on haein-3 the tenant `secure` owns 11 nodes in 8 racks
#: and a step over just those placed three of its waiting spread requests (+7.0 in 2 s).
TENANT_SHARE = 0.1
TENANT_MAX_NODES = 16
#: In parallel steps, the waiting work a step may add is split between the threads (a random share of
#: the groups each, so that two steps do not place the same request twice). Session 15 measured letting a
#: tenant step, or the one thread that steps while the gate holds the others, add every group: the same
#: objective after the same steps for 21-38 % more CPU (bench/RESULTS_cpsat.md); both switches were
#: removed in session 27 (git tag flags-s26).
#: For A/Bs only: sequential steps may add a random 1/SEQUENTIAL_SPLIT of the waiting groups (plus those
#: a value or tenant step prefers), as a parallel step of that many threads does; 1 (shipped): every
#: group, as sequential steps always have. With 2 it is the one thread that steps while the gate holds
#: the other, deterministically.
SEQUENTIAL_SPLIT = 1
#: A step stops once what it could still gain is at most this many objective units. Without it a
#: quarter of haein's two-rack steps spent their whole 2 s proving that no swap of a 1g slice between
#: priorities 1.0 and 1.2 (0.03) was left: half the steps' time for nothing that counts.
STEP_GAP = 0.1
#: A random step frees the plan's count of domains (``domains_per_step``). Two rules that adapted the count
#: to how quickly steps were proven (one step: sessions 4-12; a window of steps: session 13) did not win
#: on every family and were removed in session 27 (git tag flags-s26; bench/RESULTS_cpsat.md, sessions 4, 13).
#: Base shares (of the steps that are not tenant steps) of the steps chosen by value, see
#: :mod:`packer.cpsat.lns_value`: *value* steps free where a waiting high-value request fits once
#: lower-value work leaves, plus where that work can go; *exchange* steps free the same plus every
#: domain of the lower-value gangs in the way. The rest are random or anchored steps.
VALUE_SHARE = 0.2
EXCHANGE_SHARE = 0.1
#: Share of the steps (of those that are not tenant steps) that free every node able to take
#: whole-GPU work and holding no other kind, wherever it is (at most WHOLE_MAX_NODES of them), when a
#: whole-GPU request of at least WHOLE_MIN_COUNT GPUs waits: to place it, small whole-GPU requests
#: must leave a rack or pod for free GPUs anywhere else, which no step of a few domains can reach
#: (adversarial-1: the LP places 4.06 gangs of 64, a 60 s plan 3, with 68 whole GPUs idle over 4
#: pods: bench/RESULTS_cpsat.md, session 11). 0 turns them off.
#: The first whole step of a run is taken at once (the first step drawn when one is due); later
#: ones by share, and never again on the same values of those nodes (a proven step found nothing).
WHOLE_SHARE = 0.1
WHOLE_MAX_NODES = 128
WHOLE_MIN_COUNT = 16
#: Seconds a whole step may run (its model holds most of the cluster: on adversarial-1 the +32 step
#: took 12-23 s of wall time at load 6, deterministic time 5, against LNS_STEP_S for a random step),
#: and never more than half the time left (or a random step's time, if that is more).
WHOLE_STEP_S = 10.0
#: Whether a whole step also counts, beside the idle whole GPUs, those held by whole-GPU work of lower
#: priority than a waiting big request (a step may put the request in their place, the lower work
#: waiting instead). Off, a step needs the smallest waiting request to fit in idle GPUs alone: on
#: hetero-0 (1,024 GPUs) that refused all 16 whole draws of a 60 s run, while one step over its 60
#: whole-only nodes from that run's plan gains +11.3, proven in 3-4 s (a B200-only gang of 16 at
#: priority 1.5 in the place of priority-1 work; bench/RESULTS_cpsat.md, session 18).
WHOLE_DISPLACE = True
#: A whole step that found nothing ends whole steps for the run. Session 24's retry with twice the time
#: after an unproven one (WHOLE_RETRY) tied in reproducible runs and was removed in session 27 (flags-s26).
#: Share of the steps (of those that are not tenant steps) that free the whole-GPU nodes of the GPU models a
#: waiting model-restricted whole-GPU request may use, wherever they are (*model* steps), where the instance
#: has such requests of at least MODEL_MIN_COUNT GPUs. On a mixed fleet a request restricted to one model
#: can only take room on that model's racks, and the work in its way is often restricted to a few models
#: itself: on hetero-0 (1,024 GPUs) a 300 s run placed a B200-only gang of 16 that a 60 s run left waiting
#: by moving small whole-GPU requests allowed on H100/H200/B200 from a B200 rack onto H100 and H200 racks,
#: and the gangs there one rack on, a chain over twelve racks of four models that no step of two random
#: racks holds (bench/RESULTS_cpsat.md, session 18). A model step starts from a waiting group drawn by
#: value, frees the whole-only nodes of its models, then of the models the model-restricted whole-GPU work
#: placed there may use (one round), plus up to MODEL_LANDING_NODES whole-only nodes of other models with the most
#: idle GPUs (where unrestricted work in the way can go). A group whose model step was proven to gain
#: nothing is not drawn again in the run. 0 turns them off: **off** (session 18). Once WHOLE_DISPLACE
#: admits whole steps on hetero, model steps' own steps rarely gain: 1 of 25 in 60 deterministic steps on
#: hetero 0-4 (+4.0), 1 of 34 in five timed 60 s runs on hetero 100-104 (+2.0). The arm with them ended
#: above the arm without (+4.2 deterministic, +5.2 timed, 4 / 1 and 3 / 2 pairs), but by the changed
#: draws after a model draw, inside the noise of identical code (tenants 100/101 timed pairs: -3.4 / +7.4).
MODEL_SHARE = 0.0
MODEL_MIN_COUNT = 8
MODEL_LANDING_NODES = 8
#: Seconds a model step may run (and never more than half the time left, or a random step's time if that
#: is more).
MODEL_STEP_S = 6.0
#: In reproducible runs (deterministic step budgets), a whole step's and a model step's budget in random
#: steps' budgets: as their wall limits above stand to LNS_STEP_S (2 s). Before session 18 a whole step
#: had a random step's budget there, too little to solve its model (60 nodes on hetero-0: 3-4 s).
WHOLE_DET_FACTOR = 5.0
MODEL_DET_FACTOR = 3.0
#: Ownership-exchange steps (:mod:`packer.cpsat.lns_owner`): anchored on a waiting group that may use at most
#: OWNER_MAX_NODES nodes where a node-isolated tenant is in the way, they free all of that group's nodes and
#: the other nodes of the work placed there, so that a node-isolated tenant can give up several nodes for
#: other tenants' work pinned to them (or take them) in one step. OWNER_SHARE of the steps that are not
#: tenant steps, adapted like the other kinds; drawn only while such an anchor waits (never without node
#: isolation, so those instances draw exactly as before). On (session 24): 60 deterministic steps from a
#: 40-step start, hetero 0-4 +10.1 (3 wins / 2 losses), hetero 100-109 +39.5 (6 / 1 / 3 ties, +31.9 of it the
#: owner steps' own gains), isolated 100-104 ties, haein-100 / tenants-100, 101 no anchor (identical), tenants-102 +0.12, haein-101
#: -0.24 (its 2 owner steps gained 0; the changed draws after them); from hetero-102's 600 s plan one owner
#: step finds session 23's exact +2.97 (bench/RESULTS_cpsat.md, session 24).
OWNER_EXCHANGE = True
OWNER_SHARE = 0.1
OWNER_MAX_NODES = 24
#: Reach steps (:mod:`packer.cpsat.lns_reach`): anchored on a waiting group that may use at most
#: REACH_ANCHOR_NODES nodes, they free its nodes and the nodes of the groups holding units there (smallest
#: first), at most REACH_MAX_NODES in all, so that the work in the anchor's way can move where it may go.
#: REACH_SHARE of the steps that are not tenant steps, adapted like the other kinds; drawn only while such an
#: anchor waits and is new to its values (without restricted waiting work the draws are exactly as before).
#: **Off**. Session 26, with KIND_STREAMS in both arms (16 det steps of 0.5 after 8, 1,024 GPUs): reach - ks
#: 1 win / 1 loss / 16 identical plans over 18 instances of 8 families (tuning -2.54: hetero-1's displaced base
#: steps; report +1.31: hetero-103, its one improving step of 14, +1.60).
REACH_STEPS = False
REACH_SHARE = 0.1
REACH_ANCHOR_NODES = 24
REACH_MAX_NODES = 32
#: Whether reach anchors are drawn by the objective's value of one placed request (count x its units' best
#: objective term) instead of priority x count (which weighs a request of 8 one-slice MIG units as much as
#: one of 8 whole-GPU MIG instances).
REACH_BY_VALUE = True
#: Tie steps (:mod:`packer.cpsat.lns_tie`): value steps whose room counts placed work of value per
#: GPU-equivalent *at most* the waiting group's (a value step counts only lower), the quota's likewise,
#: plus the other domains of the gangs displaced and where the displaced side can land. They reach the
#: exchanges through a tenant's quota that no value step draws (tenants-106: a quota-full tenant trades its
#: priority-1 whole GPUs for its waiting priority-1 MIG work so that a tenant below its quota takes them) and
#: a gang whose only rack holds equal-value work that could move (haein-104). TIE_SHARE of the steps that are
#: not tenant steps, adapted like the other kinds; off, the draws are exactly as before. **Off** (session 25):
#: from tenants-106's loaded 300 s plan 20 tie steps reach 1483.98 (0.55 %), 20 value steps 1481.66; in the
#: deterministic A/B (10 + 30 steps of 0.8) on tenants 0-4 + 106, haein 0-1, training 0-1, hetero 0-2,
#: adversarial 0-2 on - off is +2.98 / +0.89 / -0.01 / -0.03 / +0.63, the tie steps' own gains +0.4 outside
#: adversarial (+32 there, which the other steps also reach), and four small losses by the changed draws (haein-1
#: -0.64); report seeds not run (bench/RESULTS_cpsat.md, session 25). Session 26, with KIND_STREAMS in both
#: arms (16 det steps of 0.5 after 8): tie - ks 4 / 7 / 16 identical over 27 instances (tuning -0.76, report
#: -0.82; its own steps +8.34 in 6 of 33; haein 0 / 3 / 2 by the base steps they displaced): **off**.
TIE_STEPS = False
TIE_SHARE = 0.1
#: Random streams per step kind (session 26). Off: one stream (``random.Random(seed)``) draws the kinds and
#: every kind's neighbourhood, so turning a kind on changes every later draw, and a deterministic A/B of a
#: kind measures that drift as much as the kind (session 25: ±5-15 on 1,024 GPUs whatever the kind found).
#: On: the kind draw has a stream of its own and so has each kind's neighbourhood (seeded from the run's
#: seed, the thread and KIND_NUMBERS), and the kinds in OVERLAY_KINDS are not in the base draw at all: each
#: has its own stream that decides, once before every base step, whether one of its steps comes first
#: (its share of the steps as before, adapted against the base kinds' rate), and its outcomes are kept
#: apart from the base kinds' adaptive shares. A step of an overlay kind that does not improve leaves every
#: base step as it was (the base steps' CP-SAT seeds count base steps only); one whose kind finds no
#: neighbourhood takes no step (no fallback to a random step). With a fixed step count an overlay step
#: takes a base step's place at the end of the run (equal step count). **Off** (session 26): on vs off only
#: re-seeds, and over 18 instances of 8 families at 1,024 GPUs (16 det steps) it is level in the mean (+0.79,
#: median -0.17, 8 wins / 9 losses / 1 tie) with single instances moved by up to +15.4 / -5.3 (the drift every
#: one-stream kind A/B sat in); turn it on in both arms of a kind A/B (bench/bench_kinds26_paired.py).
KIND_STREAMS = False
#: The step kinds drawn by their own streams on top of the base draw when KIND_STREAMS is on (the kinds
#: under trial), in the order their insertions run before a base step.
OVERLAY_KINDS: tuple[str, ...] = ("reach", "tie")
#: A stable number per stream (never Python's ``hash()``, which changes between runs for strings):
#: changing one changes only that stream's draws.
KIND_NUMBERS = {"draw": 1, "tenant": 2, "value": 3, "exchange": 4, "whole": 5, "model": 6, "owner": 7,
                "reach": 8, "tie": 9, "domains": 10, "split": 11}
#: Whether the stats keep every step's kind and gain in order (``stats["log"]``: [kind, gain] a step).
STEP_LOG = False
#: Whether the shares of the step kinds follow what each kind gains per second of its steps
#: (:class:`packer.cpsat.lns_portfolio.Portfolio`); off, they stay at their base shares.
ADAPT_KINDS = True
#: Whether every step records where its time went (``model.lns_stats["profile"]``: one entry a step with
#: build s (copying and fixing the model), presolve s (CP-SAT's presolve, timed from its log), solve s
#: (the rest of CP-SAT's wall time) and whether it improved) and the totals ``build_s``, ``presolve_s``
#: and ``solve_s``. Off by default: it turns CP-SAT's log on in every step (a callback, nothing printed).
PROFILE_STEPS = False
#: Whether a step's model is built over its free variables only (:mod:`packer.cpsat.lns_region`: the
#: pinned part folded into constants) instead of a clone of the full model with pinned variables.
REGION_STEPS = True
#: CP-SAT's ``max_presolve_iterations`` in a step (None: CP-SAT's default). A region step's model holds
#: only what the step frees, so most of what presolve removed from a clone step is never built.
STEP_PRESOLVE_ITERATIONS: int | None = None
#: Further CP-SAT parameters set in every step (name -> value, e.g. ``{"cp_model_probing_level": 1}``),
#: after the ones above. Empty: CP-SAT's defaults. A knob for A/Bs of the step's presolve and search
#: (bench/bench_cpsat_cpu_ab.py); a name CP-SAT does not know raises at the first step.
STEP_PARAMS: dict[str, object] = {}
#: CP-SAT parameters for the steps whose model has at least LITE_MIN_ROWS constraints (whole steps
#: excepted): no probing and no symmetry detection in their presolve. At equal CPU (12 sequential
#: steps of deterministic time 0.8 from one greedy start, bench/bench_cpsat_cpu_ab.py, seeds 0-1) they
#: won 5 of 6 on tenants, sharing and inference, whose two-rack step models hold 2,900-7,000 rows
#: (4,500-13,500 variables) and spend a third to two thirds of a step in presolve, and reached a higher
#: objective after the same 12 steps on all 6 with less CPU on 5; on hetero and adversarial (600-2,200
#: rows, steps proven in a fraction of their time) they were mixed (hetero-1 -8.1, adversarial-1 -4.7
#: after 12 steps), so small step models keep CP-SAT's defaults (bench/RESULTS_cpsat.md, session 13).
LITE_PARAMS: dict[str, object] = {"cp_model_probing_level": 0, "symmetry_level": 0}
LITE_MIN_ROWS = 2500


class _Streams:
    """KIND_STREAMS: one random stream per use (the kind draw, each kind's neighbourhood, each overlay kind's
    insertions), seeded from the run's seed, the thread and KIND_NUMBERS (a string seed: Python hashes it
    with SHA-512, the same in every process)."""

    def __init__(self, seed: int, tid: int = 0) -> None:
        self.seed, self.tid = seed, tid
        self._of: dict[str, random.Random] = {}
        self._insert: dict[str, random.Random] = {}
        #: Steps taken per overlay kind (their CP-SAT seeds), and base steps.
        self.counts: dict[str, int] = {}

    def _stream(self, use: str, kind: str) -> random.Random:
        return random.Random(f"packer.lns/{use}/{self.seed}/{self.tid}/{KIND_NUMBERS[kind]}")

    def of(self, kind: str) -> random.Random:
        """The stream of ``kind``'s neighbourhood draws ("draw": the base kind draw; "split": the waiting
        groups a parallel step may add)."""
        if kind not in self._of:
            self._of[kind] = self._stream("of", kind)
        return self._of[kind]

    def insert(self, kind: str) -> random.Random:
        """The stream that decides when an overlay ``kind`` steps."""
        if kind not in self._insert:
            self._insert[kind] = self._stream("insert", kind)
        return self._insert[kind]

    def step_seed(self, kind: str, overlay: bool) -> int:
        """A step's CP-SAT seed: base steps count base steps only, an overlay kind its own steps."""
        key = kind if overlay else ""
        k = self.counts.get(key, 0)
        self.counts[key] = k + 1
        return self.seed + k if not overlay else self.seed + 100_003 * KIND_NUMBERS[kind] + k


@dataclass
class _Space:
    """What the steps share: the domains, the variables each frees, the incumbent and its lock."""

    model: CpsatModel
    names: list[str]
    members: dict[str, list[int]]
    per_node: dict[int, list[int]]
    #: (variable index, largest value) of each request group's "placed" count.
    growth: list[tuple[int, int]]
    best: list[int]
    best_obj: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Placement variables (indices), the domain of each (index into names) and its request group
    #: (-1 for a group of several identical requests: those anchor no step).
    x_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    x_domain: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    x_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Node-isolated tenant → (node index, its "owns" variable index) for every node it may own,
    #: and the variable indices of the tenant's groups' "placed" counts.
    owned: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    tenant_growth: dict[str, list[int]] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    reserved: set[int] = field(default_factory=set)
    #: Tenant → what its last tenant step saw (its nodes' values): the same again is not retried.
    tried: dict[str, tuple] = field(default_factory=dict)  # type: ignore[type-arg]
    #: What the last whole step saw (the same again is not retried); whether one was tried yet.
    whole_seen: tuple | None = None  # type: ignore[type-arg]
    whole_tried: bool = False
    #: Set when a whole step found nothing: no more whole steps in this run.
    whole_off: bool = False
    stats: dict[str, int] = field(default_factory=lambda: {"steps": 0, "improved": 0})
    #: What value steps read (None: no value steps), and the step kinds' shares and outcomes.
    value: ValueIndex | None = None
    portfolio: Portfolio = field(default_factory=lambda: Portfolio(base={}, adapt=ADAPT_KINDS))
    #: KIND_STREAMS: the outcomes of the OVERLAY_KINDS' steps, apart from the base kinds'.
    overlay: Portfolio = field(default_factory=lambda: Portfolio(base={}, adapt=ADAPT_KINDS))
    #: Nodes that can hold whole-GPU units, and per node the variables of other kinds' units (a node
    #: whose other units are all 0 in the incumbent holds whole-GPU work only, or nothing).
    whole_nodes: list[int] = field(default_factory=list)
    other_x: dict[int, np.ndarray] = field(default_factory=dict)
    #: Per node that can take whole-GPU units: its GPUs free of running work that can be whole, and the
    #: variables of its whole-GPU units (the incumbent's idle whole GPUs are the difference).
    whole_cap: dict[int, int] = field(default_factory=dict)
    whole_x: dict[int, np.ndarray] = field(default_factory=dict)
    #: "placed" variables (index, largest value, GPUs per request) of the whole-GPU groups of at least
    #: WHOLE_MIN_COUNT GPUs.
    big_whole: list[tuple[int, int, int]] = field(default_factory=list)
    #: WHOLE_DISPLACE: the priority of each big whole-GPU group (by its "placed" variable), and per whole-GPU
    #: node the priority of each of its whole units' groups (aligned with ``whole_x``).
    big_whole_priority: dict[int, float] = field(default_factory=dict)
    whole_x_priority: dict[int, np.ndarray] = field(default_factory=dict)
    #: Model steps (MODEL_SHARE): each node's GPU model; per whole-GPU node, the models each of its whole
    #: units' groups may use (aligned with ``whole_x``); the model-restricted whole-GPU groups of at least
    #: MODEL_MIN_COUNT GPUs as ("placed" variable, largest value, value of one request, models it may use);
    #: and what the last model step of each group saw (the same again is not retried).
    node_model: dict[int, str] = field(default_factory=dict)
    whole_x_models: dict[int, list[frozenset[str]]] = field(default_factory=dict)
    model_groups: list[tuple[int, int, float, frozenset[str]]] = field(default_factory=list)
    whole_models: frozenset[str] = frozenset()
    models_seen: dict[int, tuple] = field(default_factory=dict)  # type: ignore[type-arg]
    #: Groups whose model step was proven to gain nothing: not drawn again in this run.
    models_done: set[int] = field(default_factory=set)
    #: Ownership-exchange steps' index (None: no such steps).
    owner: lns_owner.OwnerIndex | None = None
    #: Reach steps' index (None: no such steps).
    reach: lns_owner.OwnerIndex | None = None

    @property
    def gap(self) -> float:
        """STEP_GAP in the model's scaled objective units."""
        return STEP_GAP * self.model.data.scale

    @cached_property
    def region(self) -> lns_region.RegionIndex | None:
        """The full model's rows for region steps (built on first use), or None if it cannot have them."""
        proto = self.model.model.proto
        if not lns_region.supported(proto):
            return None
        # The LP bound's matrix, when a parallel solve built it before the LP started: its terms are
        # the rows' (read from it, not again from the proto).
        form = self.model.__dict__.get("linear_form")
        return lns_region.RegionIndex(proto, None if form is None else form[1],
                                      None if form is None else self.model.proto_read)

    @cached_property
    def checker(self) -> _Checker | None:
        """The model's feasibility check for merged values (built on first use), or None if not linear."""
        form = self.model.linear_form
        holes = any(len(var.domain) > 2 for var in self.model.model.proto.variables)
        return None if form is None or holes else _Checker(*form[1:6])

    def choose(self, rng: random.Random, pool: list[str], k: int,
               base: list[int]) -> tuple[set[str], set[int] | None, list[int]]:
        """(the domains a step holds, the nodes it frees: None for all of theirs, the growth variables it
        should own): see :meth:`choose_kind`."""
        return self.choose_kind(rng, pool, k, base)[:3]  # type: ignore[return-value]

    def choose_kind(self, rng: random.Random, pool: list[str], k: int, base: list[int],
                    streams: _Streams | None = None) -> tuple[set[str], set[int] | None, list[int], str]:
        """:meth:`choose` and the kind of step it is: a tenant step (TENANT_SHARE of the time, when one
        is due), a value or exchange step, or :meth:`pick` ("domains"), drawn by the portfolio's shares.
        ``streams`` (KIND_STREAMS): the draw and each kind's neighbourhood use their own streams, and the
        OVERLAY_KINDS are left out of the draw (see :meth:`choose_overlay`)."""
        shares, found = self._shares(base, overlay=streams is not None)
        self.portfolio.base = shares
        kinds = [kind for kind, share in shares.items() if share > 0]
        if "whole" in kinds and not self.whole_tried:
            kind = "whole"  # the first one at once: what it can gain, it gains early
        else:
            kind = self.portfolio.draw(rng if streams is None else streams.of("draw"), kinds) if kinds else "domains"
        got = self._pick(kind, rng if streams is None else streams.of(kind), pool, base, found)
        if got is not None:
            return (*got, kind)
        return self.pick(rng if streams is None else streams.of("domains"), pool, k, base), None, [], "domains"

    def _shares(self, base: list[int], overlay: bool = False) -> tuple[dict[str, float], dict[str, list[int] | None]]:
        """The base shares of the kinds that can be drawn now, and the owner and reach candidates found on
        the way. ``overlay``: the OVERLAY_KINDS get no share (they are drawn on top of these)."""
        rest = 1.0 - TENANT_SHARE
        value = VALUE_SHARE if self.value is not None else 0.0
        exchange = EXCHANGE_SHARE if self.value is not None else 0.0
        whole = WHOLE_SHARE if self.big_whole and not self.whole_off else 0.0
        models = MODEL_SHARE if self.model_groups else 0.0
        skip = set(OVERLAY_KINDS) if overlay else set()
        owner_found = None
        if self.owner is not None and OWNER_SHARE > 0 and "owner" not in skip:
            owner_found = lns_owner.candidates(self.owner, np.asarray(base, dtype=np.int64))
        owner = OWNER_SHARE if owner_found else 0.0
        reach_found = None
        if self.reach is not None and REACH_SHARE > 0 and "reach" not in skip:
            reach_found = lns_reach.candidates(self.reach, np.asarray(base, dtype=np.int64), self.per_node,
                                               REACH_MAX_NODES)
        reach = REACH_SHARE if reach_found else 0.0
        tie = TIE_SHARE if TIE_STEPS and self.value is not None and "tie" not in skip else 0.0
        shares = {"tenant": TENANT_SHARE if self.owned else 0.0, "value": rest * value,
                  "exchange": rest * exchange, "whole": rest * whole, "model": rest * models,
                  "owner": rest * owner, "reach": rest * reach, "tie": rest * tie,
                  "domains": rest * max(0.0, 1.0 - value - exchange - whole - models - owner - reach - tie)}
        shares = {kind: share for kind, share in shares.items()
                  if kind not in ("whole", "model", "owner", "reach", "tie") or share > 0}
        return shares, {"owner": owner_found, "reach": reach_found}

    def _pick(self, kind: str, rng: random.Random, pool: list[str], base: list[int],
              found: dict[str, list[int] | None]) -> tuple[set[str], set[int] | None, list[int]] | None:
        """A step of ``kind`` (not "domains"): (its domains, the nodes it frees or None, the growth
        variables it owns), or None when the kind finds none now (counted in the stats)."""
        if kind == "tenant":
            got = self.pick_tenant(rng, pool, base)
            if got is not None:
                self.stats["tenant_steps"] = self.stats.get("tenant_steps", 0) + 1
                return got
        elif kind == "whole":
            got_whole = self.pick_whole(rng, pool, base)
            if got_whole is not None:
                self.stats["whole_steps"] = self.stats.get("whole_steps", 0) + 1
                return got_whole
            self.stats["whole_none"] = self.stats.get("whole_none", 0) + 1
        elif kind == "model":
            got_model = self.pick_models(rng, pool, base)
            if got_model is not None:
                self.stats["model_steps"] = self.stats.get("model_steps", 0) + 1
                return got_model
            self.stats["model_none"] = self.stats.get("model_none", 0) + 1
        elif kind == "owner":
            assert self.owner is not None
            got_owner = lns_owner.pick_owner(self.owner, rng, base, set(pool), self.node_domain, self.per_node,
                                             found.get("owner"))
            if got_owner is not None:
                self.stats["owner_steps"] = self.stats.get("owner_steps", 0) + 1
                return got_owner
            self.stats["owner_none"] = self.stats.get("owner_none", 0) + 1
        elif kind == "reach":
            assert self.reach is not None
            got_reach = lns_reach.pick_reach(self.reach, rng, base, set(pool), self.node_domain, self.per_node,
                                             REACH_MAX_NODES, found.get("reach"))
            if got_reach is not None:
                self.stats["reach_steps"] = self.stats.get("reach_steps", 0) + 1
                return got_reach
            self.stats["reach_none"] = self.stats.get("reach_none", 0) + 1
        elif kind == "tie":
            assert self.value is not None
            got_tie = lns_tie.pick_tie(self.value, rng, pool, base, reserved=self.reserved)
            if got_tie is not None:
                self.stats["tie_steps"] = self.stats.get("tie_steps", 0) + 1
                return got_tie[0], None, got_tie[1]
            self.stats["tie_none"] = self.stats.get("tie_none", 0) + 1
        elif kind in ("value", "exchange"):
            assert self.value is not None
            got_value = pick_value(self.value, rng, pool, base, exchange=kind == "exchange", reserved=self.reserved)
            if got_value is not None:
                return got_value[0], None, got_value[1]
            self.stats["value_none"] = self.stats.get("value_none", 0) + 1
        return None

    def overlay_due(self, streams: _Streams) -> list[str]:
        """KIND_STREAMS: the OVERLAY_KINDS whose own streams put one of their steps before the next base
        step. Every enabled kind draws once per base step whether or not it can step now, so each kind's
        draws do not depend on the others'. A kind's chance is its share of the steps (as in the base
        draw, over the base steps: s / (1 - s)), its share times its gain rate over the base kinds' rate
        (ADAPT_KINDS, as :class:`Portfolio` adapts a share)."""
        due = []
        rest = 1.0 - TENANT_SHARE
        for kind in OVERLAY_KINDS:
            if kind == "reach":
                share = REACH_SHARE if self.reach is not None else 0.0
            elif kind == "tie":
                share = TIE_SHARE if TIE_STEPS and self.value is not None else 0.0
            else:
                share = 0.0
            if share <= 0:
                continue
            s = min(0.5, rest * share * self.overlay.factor(kind, self.portfolio))
            if streams.insert(kind).random() < s / (1.0 - s):
                due.append(kind)
        return due

    def choose_overlay(self, streams: _Streams, kind: str, pool: list[str],
                       base: list[int]) -> tuple[set[str], set[int] | None, list[int], str] | None:
        """A step of the overlay ``kind`` drawn by its own stream, or None (no step: no fallback)."""
        found: dict[str, list[int] | None] = {}
        if kind == "reach":
            assert self.reach is not None
            found["reach"] = lns_reach.candidates(self.reach, np.asarray(base, dtype=np.int64), self.per_node,
                                                  REACH_MAX_NODES)
            if not found["reach"]:
                return None
        got = self._pick(kind, streams.of(kind), pool, base, found)
        return None if got is None else (*got, kind)

    def pick_tenant(self, rng: random.Random, pool: list[str],
                    base: list[int]) -> tuple[set[str], set[int], list[int]] | None:
        """The nodes a random node-isolated tenant owns in ``base`` (at most TENANT_MAX_NODES of them), their
        domains (all in ``pool``) and the tenant's growth variables; None if there is no such tenant, or
        if that tenant's last step saw the same."""
        tenants = sorted(t for t, pairs in self.owned.items() if any(base[o] for _, o in pairs))
        if not tenants:
            return None
        t = rng.choice(tenants)
        nodes = sorted(ni for ni, o in self.owned[t] if base[o])
        if len(nodes) > TENANT_MAX_NODES:
            nodes = sorted(rng.sample(nodes, TENANT_MAX_NODES))
        names = {self.node_domain[ni] for ni in nodes}
        if not names <= set(pool):
            return None
        seen = (tuple(nodes), tuple(base[i] for ni in nodes for i in self.per_node[ni]),
                tuple(base[i] for i in self.tenant_growth.get(t, ())))
        if self.tried.get(t) == seen:
            return None
        self.tried[t] = seen
        return names, set(nodes), self.tenant_growth.get(t, [])

    def pick_whole(self, rng: random.Random, pool: list[str],
                   base: list[int]) -> tuple[set[str], set[int], list[int]] | None:
        """The nodes of ``pool``'s domains that can take whole-GPU units and hold no other kind in
        ``base`` (at most WHOLE_MAX_NODES, drawn at random beyond that), their domains, and the
        "placed" variables of the big whole-GPU groups that can still grow; None when no such group
        waits, when the smallest waiting request needs more GPUs than those nodes have idle (no
        consolidation can place it), or when fewer than two domains' nodes qualify."""
        self.whole_tried = True
        vals = np.asarray(base, dtype=np.int64)
        waiting = [(i, n) for i, top, n in self.big_whole if base[i] < top]
        if not waiting:
            return None
        free_names = set(pool)
        nodes = [ni for ni in self.whole_nodes if self.node_domain[ni] in free_names
                 and not (len(self.other_x[ni]) and vals[self.other_x[ni]].any())]
        idle = sum(self.whole_cap[ni] - int(vals[self.whole_x[ni]].sum()) for ni in nodes)
        if WHOLE_DISPLACE and self.whole_x_priority:
            # Room for a waiting request: the idle GPUs plus those of whole-GPU work of lower priority.
            def room(priority: float) -> int:
                return idle + sum(int(vals[self.whole_x[ni]][self.whole_x_priority[ni] < priority].sum())
                                  for ni in nodes)
            if all(n > room(self.big_whole_priority.get(i, 0.0)) for i, n in waiting):
                return None
        elif min(n for _, n in waiting) > idle:
            return None
        if len(nodes) > WHOLE_MAX_NODES:
            nodes = sorted(rng.sample(nodes, WHOLE_MAX_NODES))
        names = {self.node_domain[ni] for ni in nodes}
        if len(names) < 2:
            return None
        grow = [i for i, _ in waiting]
        seen = (tuple(nodes), tuple(vals[[i for ni in nodes for i in self.per_node[ni]]].tolist()),
                tuple(vals[grow].tolist()))
        if self.whole_seen == seen:
            return None
        self.whole_seen = seen
        return names, set(nodes), grow

    def pick_models(self, rng: random.Random, pool: list[str],
                    base: list[int]) -> tuple[set[str], set[int], list[int]] | None:
        """A model step (MODEL_SHARE): a waiting model-restricted whole-GPU group drawn by the value of one
        of its requests; the whole-only nodes (as :meth:`pick_whole` reads them) of ``pool``'s domains whose
        model it may use, then of every model that the whole-GPU work placed on those nodes may use (one
        round; work that may use every model adds none), plus at most MODEL_LANDING_NODES whole-only nodes of
        other models, most idle GPUs first; at
        most WHOLE_MAX_NODES in all (drawn at random beyond that). Returns their domains, the nodes and the
        "placed" variables of the waiting whole-GPU groups whose models meet the step's; None when no group
        waits, no node qualifies, or the drawn group's last model step saw the same. The drawn group is the
        first of the variables; a group whose model step was proven to gain nothing (``models_done``) is not
        drawn again."""
        vals = np.asarray(base, dtype=np.int64)
        waiting = [g for g in self.model_groups if base[g[0]] < g[1]]
        drawn = [g for g in waiting if g[0] not in self.models_done]
        if not drawn:
            return None
        u = rng.random() * sum(g[2] for g in drawn)
        w = drawn[-1]
        for g in drawn:
            u -= g[2]
            if u < 0:
                w = g
                break
        free_names = set(pool)
        whole_only = [ni for ni in self.whole_nodes if self.node_domain[ni] in free_names
                      and not (len(self.other_x[ni]) and vals[self.other_x[ni]].any())]
        models = set(w[3])
        first = [ni for ni in whole_only if self.node_model.get(ni) in models]
        for ni in first:
            for var, allowed in zip(self.whole_x[ni].tolist(), self.whole_x_models[ni], strict=True):
                if vals[var] > 0 and allowed < self.whole_models:  # unrestricted work: the landing nodes
                    models |= allowed
        nodes = [ni for ni in whole_only if self.node_model.get(ni) in models]
        if not nodes:
            return None
        if MODEL_LANDING_NODES > 0:
            idle = [(self.whole_cap[ni] - int(vals[self.whole_x[ni]].sum()), ni) for ni in whole_only
                    if self.node_model.get(ni) not in models]
            idle = sorted((t for t in idle if t[0] > 0), key=lambda t: (-t[0], t[1]))
            nodes += [ni for _, ni in idle[:MODEL_LANDING_NODES]]
        if len(nodes) > WHOLE_MAX_NODES:
            nodes = rng.sample(nodes, WHOLE_MAX_NODES)
        nodes = sorted(nodes)
        grow = [w[0]] + [g[0] for g in waiting if g[3] & models and g[0] != w[0]]  # the drawn group first
        seen = (tuple(nodes), tuple(vals[[i for ni in nodes for i in self.per_node[ni]]].tolist()),
                tuple(vals[grow].tolist()))
        if self.models_seen.get(w[0]) == seen:
            return None
        self.models_seen[w[0]] = seen
        return {self.node_domain[ni] for ni in nodes}, set(nodes), grow

    @cached_property
    def node_domain(self) -> dict[int, str]:
        return {ni: name for name, nodes in self.members.items() for ni in nodes}

    def pick(self, rng: random.Random, pool: list[str], k: int, base: list[int]) -> set[str]:
        """The domains a step frees: ``k`` of ``pool`` at random, or (ANCHORED_SHARE of the time) the
        domains of a random placed request spanning 2..ANCHOR_MAX_DOMAINS of them, all in ``pool``, plus one."""
        k = min(k, len(pool))
        if len(self.x_index) and rng.random() < ANCHORED_SHARE:
            used = np.asarray(base, dtype=np.int64)[self.x_index] > 0
            spans: dict[int, set[int]] = defaultdict(set)
            for g, dm in zip(self.x_group[used].tolist(), self.x_domain[used].tolist(), strict=True):
                if g >= 0:
                    spans[g].add(dm)
            free_names = set(pool)
            anchors = sorted(g for g, dms in spans.items() if 2 <= len(dms) <= ANCHOR_MAX_DOMAINS
                             and all(self.names[dm] in free_names for dm in dms))
            if anchors:
                chosen = {self.names[dm] for dm in spans[rng.choice(anchors)]}
                rest = [name for name in pool if name not in chosen]
                if rest:
                    chosen.add(rng.choice(rest))
                return chosen
        return set(rng.sample(pool, k))

    def _pinned(self, free: set[str], nodes: set[int] | None) -> list[int]:
        """The variables a step pins: those of every class outside ``free`` (or of every node outside
        ``nodes``, when given)."""
        out: list[int] = []
        for name in self.names:
            if name in free and nodes is None:
                continue
            for ni in self.members[name]:
                if nodes is None or ni not in nodes:
                    out.extend(self.per_node[ni])
        return out

    @cached_property
    def node_vars(self) -> tuple[np.ndarray, dict[int, np.ndarray]] | None:
        """(which variables belong to a node, each node's variables as an array), or None when a
        variable is listed under two nodes (then only :meth:`_pinned` says what a step pins)."""
        n = len(self.model.model.proto.variables)
        arrays = {ni: np.asarray(ids, dtype=np.int64) for ni, ids in self.per_node.items()}
        counts = np.zeros(n, dtype=np.int64)
        for ids in arrays.values():
            counts[ids] += 1
        if (counts > 1).any():
            return None
        return counts > 0, arrays

    def _fixed(self, free: set[str], nodes: set[int] | None) -> np.ndarray | None:
        """:meth:`_pinned` as a mask over the model's variables, built from the step's free nodes (a few)
        instead of listing the pinned ones (nearly all); None where :attr:`node_vars` is None."""
        got = self.node_vars
        if got is None:
            return None
        on_node, arrays = got
        keep = [ni for name in free for ni in self.members[name]] if nodes is None else \
            [ni for ni in nodes if ni in arrays]
        fixed = on_node.copy()
        if keep:
            fixed[np.concatenate([arrays[ni] for ni in keep])] = False
        return fixed

    def sub_model(self, base: list[int], free: set[str], growth_cap: list[tuple[int, int]],
                  nodes: set[int] | None = None) -> cp_model.CpModel | lns_region.RegionModel:
        """A copy of the model with every class outside ``free`` (or outside ``nodes``, when given)
        fixed at ``base``, hinted with ``base`` (with REGION_STEPS, the model over the rest only)."""
        region = self.region if REGION_STEPS else None
        if region is not None:
            fixed = self._fixed(free, nodes) if lns_region.FAST_FOLD else None
            if fixed is None:
                fixed = np.zeros(region.n, dtype=bool)
                fixed[self._pinned(free, nodes)] = True
            return lns_region.build(region, base, fixed, growth_cap)
        pinned = self._pinned(free, nodes)
        sub = self.model.model.clone()
        proto = sub.proto
        for i in pinned:
            dom = proto.variables[i].domain
            dom.clear()
            dom.extend([base[i], base[i]])
        for i, cap in growth_cap:
            dom = proto.variables[i].domain
            low = dom[0]
            dom.clear()
            dom.extend([low, cap])
        proto.clear_solution_hint()
        proto.solution_hint.vars.extend(range(len(base)))
        proto.solution_hint.values.extend(base)
        return sub


def lns(model: CpsatModel, *, level: str, domains_per_step: int, step_s: float, deadline: float, seed: int,
        workers: int | None, steps: int | None = None, det_step: float | None = None,
        progress: Progress = SILENT, one_until: threading.Event | None = None) -> bool:
    """Improves the last solve's solution of ``model`` until ``deadline`` (perf_counter) or ``steps``.

    Steps free ``domains_per_step`` domains at ``level`` for ``step_s`` seconds each (``det_step``
    deterministic units in reproducible runs, which run sequentially). Sets ``model.values`` and
    ``model.lns_stats``; True if it improved. ``one_until``: steps run one at a time until it is set
    (a core is busy with something else until then).
    """
    space = _space(model, level)
    if space is None or len(space.names) <= domains_per_step:
        return False
    start_obj = space.best_obj
    if REGION_STEPS:
        # Read the rows once, here (0.55 s CPU on hetero at 1,024 GPUs): left to the first step, it
        # counted as that step's build, and from Python 3.12 (cached_property without its lock) two
        # threads' first steps would each build it.
        space.region  # noqa: B018
        space.node_vars  # noqa: B018 - the same, for the steps' pinned masks (lns_region.FAST_FOLD)
    cores = workers if workers is not None else (os.cpu_count() or 1)
    threads = min(MAX_THREADS, cores, len(space.names) // max(1, domains_per_step))
    if det_step is not None or workers == 1 or threads < 2:
        _sequential(space, domains_per_step=domains_per_step, step_s=step_s, deadline=deadline, seed=seed,
                    workers=workers, steps=steps, det_step=det_step, progress=progress)
    else:
        _parallel(space, threads, domains_per_step=domains_per_step, step_s=step_s, deadline=deadline,
                  seed=seed, progress=progress, one_until=one_until)
    space.stats["kinds"] = {**space.portfolio.summary(), **space.overlay.summary()}  # type: ignore[assignment]
    model.lns_stats = space.stats
    if space.best_obj > start_obj:
        model.values = space.best
        return True
    return False


def _space(model: CpsatModel, level: str) -> _Space | None:
    """The incumbent (the better of the last solve's solution and the complete hint) and the domains."""
    assert model.solver is not None
    inst, d, v = model.inst, model.data, model.vars
    best = list(model.solver.response_proto.solution)
    best_obj = int(round(model.solver.objective_value)) if best else None
    hint = model.model.proto.solution_hint
    if len(hint.vars) == len(model.model.proto.variables):
        # A short first run can end below the (complete) hint: start from the better of the two.
        start = [0] * len(hint.vars)
        for i, val in zip(hint.vars, hint.values, strict=True):
            start[i] = val
        start_obj = int(round(model._raw_objective(start)))
        if best_obj is None or start_obj > best_obj:
            best, best_obj = start, start_obj
    if best_obj is None:
        return None
    per_node: dict[int, list[int]] = defaultdict(list)
    for (_, ci, _), var in v.x.items():
        per_node[d.classes[ci].node].append(var.index)
    for table in (v.mode, v.config, v.pattern):
        for key, var in table.items():
            per_node[d.classes[key[0]].node].append(var.index)
    for (ni, _), var in v.owns.items():
        per_node[ni].append(var.index)
    of = inst.cluster_topology.node_domains(level)  # the topology object's domain of every node
    members: dict[str, list[int]] = defaultdict(list)
    for ni in per_node:
        members[of[ni]].append(ni)
    proto = model.model.proto
    growth = []
    tenant_growth: dict[str, list[int]] = defaultdict(list)
    for gi, act in v.active.items():
        if isinstance(act, cp_model.IntVar):  # not "1 - stay" of movable running work
            dom = proto.variables[act.index].domain
            growth.append((act.index, int(dom[len(dom) - 1])))
            tenant_growth[d.groups[gi].req.tenant].append(act.index)
    owned: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (ni, t), var in sorted(v.owns.items()):
        owned[t].append((ni, var.index))
    names = sorted(members)
    at = {name: i for i, name in enumerate(names)}
    # Only a single request can anchor a step: a group of identical ones spans racks one request each.
    keys = [(var.index, at[of[d.classes[ci].node]],
             gi if d.groups[gi].size == 1 else -1) for (gi, ci, _), var in v.x.items()]
    whole_nodes: set[int] = set()
    other: dict[int, list[int]] = defaultdict(list)
    whole_x: dict[int, list[int]] = defaultdict(list)
    whole_g: dict[int, list[int]] = defaultdict(list)  # the group of each of whole_x's variables
    for (gi, ci, _), var in v.x.items():
        ni = d.classes[ci].node
        if d.groups[gi].req.kind == "gpu":
            whole_nodes.add(ni)
            whole_x[ni].append(var.index)
            whole_g[ni].append(gi)
        else:
            other[ni].append(var.index)
    whole_cap: dict[int, int] = defaultdict(int)
    for c in d.classes:
        if c.node in whole_nodes and c.mode in ("full", "any") and not c.running:
            whole_cap[c.node] += c.size
    big_whole = [(act.index, _top(proto.variables[act.index].domain), d.groups[gi].req.count)
                 for gi, act in v.active.items()
                 if isinstance(act, cp_model.IntVar) and d.groups[gi].req.kind == "gpu"
                 and d.groups[gi].req.count >= WHOLE_MIN_COUNT]
    # Model steps: the GPU models each whole-GPU group may use (the models of the nodes it has variables
    # on), and the groups restricted to fewer than the cluster's whole-GPU models.
    node_model = {ni: inst.nodes[ni].gpu_model or "" for ni in per_node}
    group_models: dict[int, set[str]] = defaultdict(set)
    for ni, gis in whole_g.items():
        for gi in gis:
            group_models[gi].add(node_model[ni])
    all_models = set().union(*group_models.values()) if group_models else set()
    frozen = {gi: frozenset(ms) for gi, ms in group_models.items()}
    whole_x_models = {ni: [frozen[gi] for gi in whole_g[ni]] for ni in whole_nodes}
    whole_x_priority = {ni: np.array([float(d.groups[gi].req.priority) for gi in whole_g[ni]]) for ni in whole_nodes}
    big_whole_priority = {v.active[gi].index: float(d.groups[gi].req.priority) for gi in v.active
                          if isinstance(v.active[gi], cp_model.IntVar) and d.groups[gi].req.kind == "gpu"
                          and d.groups[gi].req.count >= WHOLE_MIN_COUNT}
    model_groups = [(act.index, _top(proto.variables[act.index].domain),
                     float(d.groups[gi].req.priority) * d.groups[gi].req.count, frozen[gi])
                    for gi, act in sorted(v.active.items())
                    if isinstance(act, cp_model.IntVar) and gi in frozen
                    and d.groups[gi].req.count >= MODEL_MIN_COUNT and frozen[gi] < all_models]
    value = None
    if VALUE_SHARE > 0 or EXCHANGE_SHARE > 0:
        value = value_index(model, names, {ni: at[of[ni]] for ni in per_node})
    owner = lns_owner.owner_index(model, OWNER_MAX_NODES) if OWNER_EXCHANGE and OWNER_SHARE > 0 else None
    reach = lns_owner.owner_index(model, REACH_ANCHOR_NODES, isolated_only=False, by_value=REACH_BY_VALUE) \
        if REACH_STEPS and REACH_SHARE > 0 else None
    return _Space(owner=owner, reach=reach, model=model, names=names, members=dict(members), per_node=dict(per_node), growth=growth,
                  owned=dict(owned), tenant_growth=dict(tenant_growth), value=value,
                  best=best, best_obj=best_obj, x_index=np.array([i for i, _, _ in keys], dtype=np.int64),
                  x_domain=np.array([dm for _, dm, _ in keys], dtype=np.int64),
                  x_group=np.array([g for _, _, g in keys], dtype=np.int64),
                  whole_nodes=sorted(whole_nodes),
                  other_x={ni: np.array(other.get(ni, []), dtype=np.int64) for ni in whole_nodes},
                  whole_cap={ni: whole_cap.get(ni, 0) for ni in whole_nodes},
                  whole_x={ni: np.array(whole_x[ni], dtype=np.int64) for ni in whole_nodes},
                  big_whole=big_whole, node_model=node_model, whole_x_models=whole_x_models,
                  model_groups=model_groups, whole_models=frozenset(all_models),
                  big_whole_priority=big_whole_priority, whole_x_priority=whole_x_priority)


def _top(domain) -> int:  # type: ignore[no-untyped-def]
    """The largest value of a variable's domain (a proto's repeated field takes no negative index)."""
    return int(domain[len(domain) - 1])


def _sequential(space: _Space, *, domains_per_step: int, step_s: float, deadline: float, seed: int,
                workers: int | None, steps: int | None, det_step: float | None, progress: Progress) -> None:
    rng = random.Random(seed)
    split_rng = random.Random(seed + 1)  # its own stream: the steps' choices stay those of SEQUENTIAL_SPLIT 1
    streams = _Streams(seed) if KIND_STREAMS else None
    due: list[str] | None = None  # overlay kinds still to step before the next base step
    stats = space.stats
    while steps is None or stats["steps"] < steps:
        left = deadline - time.perf_counter()
        if left < 0.1 or (det_step is None and left < 0.3 * step_s):
            break
        over = False
        if streams is not None:
            if due is None:
                due = space.overlay_due(streams)
            if due:
                chosen = space.choose_overlay(streams, due.pop(0), space.names, space.best)
                if chosen is None:
                    continue  # no step: the base sequence goes on as without the kind
                free, nodes, prefer, kind = chosen
                over = True
            else:
                due = None
                free, nodes, prefer, kind = space.choose_kind(rng, space.names, domains_per_step, space.best, streams)
        else:
            free, nodes, prefer, kind = space.choose_kind(rng, space.names, domains_per_step, space.best)
        t0 = time.perf_counter()
        got: dict[str, float] = {}
        cap: list[tuple[int, int]] = []
        if SEQUENTIAL_SPLIT > 1:  # the parallel steps' split of the waiting groups, for A/Bs
            mine = {i for i, top in space.growth if space.best[i] < top and split_rng.random() * SEQUENTIAL_SPLIT < 1}
            mine |= set(prefer)
            cap = [(i, space.best[i]) for i, _ in space.growth if i not in mine]
        sub = space.sub_model(space.best, free, cap, nodes)
        got["build"] = time.perf_counter() - t0
        found = _step(sub, space.best_obj, gap=space.gap,
                      seconds=_step_seconds(kind, step_s, left) if det_step is None else left,
                      det=None if det_step is None else det_step * _det_factors().get(kind, 1.0),
                      seed=seed + stats["steps"] if streams is None else streams.step_seed(kind, over),
                      workers=workers, info=got, lite=kind not in ("whole", "model"))
        stats["steps"] += 1
        stats["proven"] = stats.get("proven", 0) + int(got.get("proven", 0.0))
        stats["lite"] = stats.get("lite", 0) + int(got.get("lite", 0.0))
        _profile(space, kind, got, found is not None)
        # Reproducible runs weigh the kinds by deterministic time, so that the draws repeat.
        cost = got["det"] if det_step is not None else time.perf_counter() - t0
        gain = 0.0 if found is None else (found[1] - space.best_obj) / space.model.data.scale
        (space.overlay if over else space.portfolio).record(kind, gain, cost)
        if STEP_LOG:
            stats.setdefault("log", []).append([kind, round(gain, 6)])  # type: ignore[attr-defined]
        if kind == "whole" and found is None:
            _whole_found_nothing(space, got)
        if kind == "model" and found is None and got.get("proven") and prefer:
            space.models_done.add(prefer[0])
        if found is not None:
            space.best, space.best_obj = found
            stats["improved"] += 1
            _report(space, progress)


def _det_factors() -> dict[str, float]:
    return {"whole": WHOLE_DET_FACTOR, "model": MODEL_DET_FACTOR}


def _whole_found_nothing(space: _Space, got: dict[str, float]) -> None:
    """After a whole step that found nothing: whole steps end for the run (proven or not: a retry with
    more time tied, session 24)."""
    space.whole_off = True


def _step_seconds(kind: str, step_s: float, left: float) -> float:
    """Wall seconds for a step of ``kind`` with ``left`` seconds to the deadline: a random step's
    ``step_s``; a whole or model step its own limit, at most half of what is left (never less than
    ``step_s``)."""
    if kind == "whole":
        return min(WHOLE_STEP_S, max(step_s, left / 2))
    if kind == "model":
        return min(MODEL_STEP_S, max(step_s, left / 2))
    return min(step_s, left)


def _profile(space: _Space, kind: str, got: dict[str, float], improved: bool) -> None:
    """Adds one step's times (see PROFILE_STEPS) to the space's stats; nothing when profiling is off."""
    if not PROFILE_STEPS or "presolve" not in got:
        return
    stats = space.stats
    entry = {"kind": kind, "build_s": round(got.get("build", 0.0), 4), "presolve_s": round(got["presolve"], 4),
             "solve_s": round(got["solve"], 4), "improved": improved, "proven": bool(got.get("proven"))}
    stats.setdefault("profile", []).append(entry)  # type: ignore[attr-defined]
    for key in ("build_s", "presolve_s", "solve_s"):
        stats[key] = stats.get(key, 0.0) + entry[key]  # type: ignore[assignment]


def _step(sub: cp_model.CpModel | lns_region.RegionModel, base_obj: int, *, seconds: float, det: float | None, seed: int,
          workers: int | None, gap: float = 0.0, info: dict[str, float] | None = None,
          lite: bool = True) -> tuple[list[int], int] | None:
    """Solves one step's model; (values, objective) when it beats ``base_obj``, else None.

    ``gap``: stop once the step's proven bound is at most this far (scaled units) above its best.
    ``info`` receives ``proven`` (1.0 when the step's model was solved to the gap, else 0.0) and
    ``wall`` (CP-SAT's seconds). ``lite``: LITE_PARAMS apply when the model has LITE_MIN_ROWS rows
    (``info["lite"]`` says whether they did).
    """
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = max(0.05, seconds)
    if det is not None:
        p.max_deterministic_time = det
    p.random_seed = seed
    p.linearization_level = STEP_LINEARIZATION
    p.absolute_gap_limit = gap
    if STEP_PRESOLVE_ITERATIONS is not None:
        p.max_presolve_iterations = STEP_PRESOLVE_ITERATIONS
    region = sub if isinstance(sub, lns_region.RegionModel) else None
    cp = sub.model if region is not None else sub
    light = lite and bool(LITE_PARAMS) and len(cp.proto.constraints) >= LITE_MIN_ROWS
    for name, value in {**(LITE_PARAMS if light else {}), **STEP_PARAMS}.items():
        setattr(p, name, value)
    p.num_workers = workers if workers is not None else 0
    if workers == 1:
        p.interleave_search = False
    marks: list[float] = []
    if PROFILE_STEPS:
        # CP-SAT calls back with every log line as it writes it: the presolve ends at its summary.
        p.log_search_progress = True
        p.log_to_stdout = False
        solver.log_callback = lambda line: (marks.append(time.perf_counter())
                                            if line.startswith("Presolve summary") else None)
    t0 = time.perf_counter()
    code = solve_guarded(solver, cp)
    if info is not None:
        info["lite"] = 1.0 if light else 0.0
        info["proven"] = 1.0 if code == cp_model.OPTIMAL else 0.0
        info["wall"] = solver.wall_time
        info["det"] = solver.deterministic_time
        if PROFILE_STEPS:
            total = time.perf_counter() - t0
            presolve = (marks[0] - t0) if marks else total
            info["presolve"] = presolve
            info["solve"] = max(0.0, total - presolve)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) and solver.objective_value > base_obj + 0.5:
        values = list(solver.response_proto.solution)
        return (region.expand(values) if region is not None else values), int(round(solver.objective_value))
    return None


def _parallel(space: _Space, threads: int, *, domains_per_step: int, step_s: float, deadline: float, seed: int,
              progress: Progress, one_until: threading.Event | None = None) -> None:
    space.stats.update({"threads": threads, "merged": 0, "conflicts": 0})
    errors: list[BaseException] = []

    def run(tid: int) -> None:
        try:
            steps(tid)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    def steps(tid: int) -> None:
        rng = random.Random(seed * 7919 + tid)
        streams = _Streams(seed * 7919, tid) if KIND_STREAMS else None
        due: list[str] | None = None
        if tid and one_until is not None:
            one_until.wait(max(0.0, deadline - time.perf_counter()))
        k = 0
        while True:
            left = deadline - time.perf_counter()
            if left < 0.3 * step_s:
                return
            with space.lock:
                pool = [name for name in space.names if name not in space.busy]
                over = False
                chosen = None
                if streams is not None:
                    if due is None:
                        due = space.overlay_due(streams)
                    while due and chosen is None:
                        chosen = space.choose_overlay(streams, due.pop(0), pool, space.best)
                    over = chosen is not None
                    if not over:
                        due = None
                if chosen is None:
                    chosen = space.choose_kind(rng, pool, domains_per_step, space.best, streams)
                free, nodes, prefer, kind = chosen
                space.busy |= free
                base, base_obj = space.best, space.best_obj
                # This step may add requests of its share of the groups that can grow, no others (a
                # tenant step those of its tenant too).
                split = rng if streams is None else streams.of("split")
                mine = {i for i, top in space.growth
                        if base[i] < top and i not in space.reserved and split.random() * threads < 1}
                mine |= {i for i in prefer if i not in space.reserved}
                space.reserved |= mine
            cap = [(i, base[i]) for i, _ in space.growth if i not in mine]
            seconds = _step_seconds(kind, step_s, left)
            got: dict[str, float] = {}
            t0 = time.perf_counter()
            found = None
            try:
                sub = space.sub_model(base, free, cap, nodes)
                got["build"] = time.perf_counter() - t0
                found = _step(sub, base_obj, seconds=seconds, det=None,
                              seed=seed + 1000 * tid + k, workers=1, gap=space.gap, info=got,
                              lite=kind not in ("whole", "model"))
                k += 1
            finally:
                with space.lock:
                    space.busy -= free
                    space.reserved -= mine
                    space.stats["steps"] += 1
                    space.stats["proven"] = space.stats.get("proven", 0) + int(got.get("proven", 0.0))
                    space.stats["lite"] = space.stats.get("lite", 0) + int(got.get("lite", 0.0))
                    _profile(space, kind, got, found is not None)
                    gain = 0.0 if found is None else (found[1] - base_obj) / space.model.data.scale
                    (space.overlay if over else space.portfolio).record(kind, gain, time.perf_counter() - t0)
                    if STEP_LOG:
                        space.stats.setdefault("log", []).append([kind, round(gain, 6)])  # type: ignore[attr-defined]
            if kind == "whole" and found is None:
                with space.lock:
                    _whole_found_nothing(space, got)  # it had the cluster's whole-only nodes, found nothing
            if kind == "model" and found is None and got.get("proven") and prefer:
                space.models_done.add(prefer[0])  # its models' whole nodes hold nothing better for it
            if found is not None:
                with space.lock:
                    _accept(space, base, base_obj, *found, progress)

    pool = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def _accept(space: _Space, base: list[int], base_obj: int, found: list[int], found_obj: int,
            progress: Progress) -> None:
    """Takes a step's improving answer into the incumbent (the caller holds the lock)."""
    if space.best is base:
        space.best, space.best_obj = found, found_obj
    else:
        merged = None
        check = space.checker
        if check is not None:
            cand = np.asarray(space.best, dtype=np.int64) + (np.asarray(found, dtype=np.int64)
                                                              - np.asarray(base, dtype=np.int64))
            if check.feasible(cand):
                merged = cand.tolist()
        if merged is not None:
            space.best, space.best_obj = merged, int(round(space.model._raw_objective(merged)))
            space.stats["merged"] += 1
        elif found_obj > space.best_obj:
            space.best, space.best_obj = found, found_obj
            space.stats["conflicts"] += 1
        else:
            space.stats["conflicts"] += 1
            return
    space.stats["improved"] += 1
    _report(space, progress)


def _report(space: _Space, progress: Progress) -> None:
    m = space.model
    progress.update(best=space.best_obj / m.data.scale + m.constant, note=f"lns step {space.stats['steps']}",
                    force=True)


class _Checker:
    """Whether integer values satisfy every bound and linear constraint of the model."""

    def __init__(self, a, row_lo, row_hi, lo, hi) -> None:  # type: ignore[no-untyped-def]
        self.a, self.row_lo, self.row_hi, self.lo, self.hi = a, row_lo, row_hi, lo, hi

    def feasible(self, values: np.ndarray) -> bool:
        x = values.astype(float)
        if (x < self.lo).any() or (x > self.hi).any():
            return False
        ax = self.a @ x
        return bool((ax >= self.row_lo - 0.5).all() and (ax <= self.row_hi + 0.5).all())
