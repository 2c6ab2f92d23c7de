"""A bound by blocks for running clusters too big for one LP (Lagrangian decomposition).

At 16,384 GPUs the re-optimizer has no LP of the whole cluster: its bound was the capacity bound
(:func:`packer.cpsat.bound.capacity_bound`), which pools each kind's room over the cluster and so
cannot see that the free room of a fragmented cluster is scattered in pieces too small for the
waiting work (its LP prices MIG and share room at 0 on the suite's fragmented clusters). Here the
cluster is cut into blocks of whole topology domains (:func:`packer.cpsat.reopt_blocks.blocks`) and
each block gets an LP of its own: the repack LP with migration costs (:mod:`packer.cpsat.reopt_stays`)
of a block instance (:func:`block_instances`), without the repack model's rows that force freed
running work placed in the block.

What couples the blocks is relaxed or kept block by block:

- waiting work: every block that could serve a waiting request sees it. A request that could span
  blocks (more than one unit and no required locality at a level whose domains each lie in one
  block) loses its soft locality and spread and is pooled with its equals into one elastic request
  (``min_count`` 1, their units in all). The row "the units of class k over all blocks ≤ U_k" (a
  class: one model group of waiting work, the same in every block) is relaxed with ``λ_k ≥ 0`` per
  unit: each block pays λ_k a unit placed, the bound adds λ_k × U_k once;
- movable running work: in its block it stays, moves inside the block, or is *exported* (an export
  column of the block, in units, and the row ``units here + exported ∈ [need, count]`` of its group,
  with the original request's ``need``: running work is never dropped); every other block may
  *import* it (one elastic request per class of equal shape, tenant and value less migration cost,
  with the class's units outside the block). The row "imports = exports" of each class (in units;
  true of every plan) is relaxed with ``η_j`` of any sign: an export earns η_j a unit, an import pays
  it. A class no other block can serve is not exported at all;
- tenant quotas: each block keeps its tenant's quota less the pinned work outside it; the migration
  cap: each block keeps it (every plan meets both block by block);
- work pinned across a border is cut at it (each block holds its own units, without locality).

Home movable work gets its priority raised by 1/1000 (and every changed priority is rounded up to
1/1000) so that it never shares a model group with waiting work; that and every other change only
widens a block's set of solutions or raises its values. So every plan of the cluster, cut at the
borders, gives each block a solution of its LP worth at least its part of the plan's objective less
the multipliers' terms: for ANY λ ≥ 0 and η, Σ blocks' LP optima + Σ_k λ_k U_k is an upper bound
(:func:`lagrangian`). Each block's LP optimum is itself bounded from HiGHS's row duals
(:func:`packer.cpsat.bound.lagrangian_min`), so the sum is a bound whatever HiGHS's status; a block
with no duals counts its capacity bound plus the most its exports and imports can earn.

The multipliers (:func:`block_bound`): each block's LP is solved once with its own copy of the
coupling rows, each class held to an equal share of its units and imports held to exports
(:meth:`BlockLP.share_duals`); λ_k and η_j are the medians of those rows' duals over the blocks (η_j:
of the top of each block's range of optimal duals, ETA_RANGES: the share LPs are degenerate and the
vertex HiGHS returns depends on the LP's form).
With one block this is the stays LP of the whole state (fragmented-0, 1,024 GPUs: 1241.22 against
the stays LP's 1240.95); cut in 4 blocks 1255.63, against the capacity bound's 1312.86
(bench/RESULTS_reopt.md, "Session 15").

Merged blocks (MERGE) lose part of the bound in their relaxation, not only in their multipliers:
with ONE block (no multipliers at all) fragmented-0/-1/-100 at 1,024 GPUs give 1255.18 / 1344.59 /
1249.52 merged against 1241.22 / 1314.36 / 1237.14 on the block's own nodes (-101: 1336.01 against
1337.64; session 18). What the merge loses is where each GPU is: rack-local whole-GPU gangs and
node-local / node-isolated work compete for the GPUs of particular racks and nodes, and a super node
pools them. (Session 18's ROOMS_ABOVE, the room rule of localities coarser than the merge level, own-node
share prices, OWN_SHARE, session 16's own-node upgrade of merged blocks and session 19's THEN_OWN were measured,
left off, and removed in session 27; they run at git tag flags-s26.)
"""

from __future__ import annotations

import math
import os
import pickle
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from packer.model import MILLI_PER_GPU, Instance, ObjectiveWeights, Request, Tenant

#: Share of a timed bound's time for the blocks' share solves (the multipliers); the round gets the rest.
SHARE_TIME = 0.55
#: Each block's LP is that of its typed relaxation (:func:`packer.cpsat.relax.typed_relaxation`) at the
#: finest level nodes can be merged at ("auto"), or at a named level; None: the block's own nodes.
#: Merging the block's domains of one make-up (GPU modes, model, owners of fixed node-isolated work)
#: into one super node is again a relaxation of the block, so the sum stays a bound. At 16,384 GPUs
#: (fragmented-0, blocks of 128 nodes) it makes 8 super nodes of a block's 128 nodes, an LP 4-5 times
#: smaller and 5-6 times cheaper to build and solve (bench/RESULTS_reopt.md "Session 16").
MERGE: str | None = "auto"
#: The first round's η of an import class: the median over the blocks of the top of each block's range of
#: optimal share duals (:meth:`BlockLP._eta_ranges`, :func:`eta_top`) instead of the median of the vertex
#: duals HiGHS happened to return. The share LPs are degenerate: which vertex the simplex returns depends
#: on the LP's form (folded import rows gave other vertices and a worse bound, session 19), the range
#: does not (with the folded family's own row dual freed). Any η gives a bound, so it stays valid.
#: Measured (bench/RESULTS_reopt.md "Session 20"): merged block LPs (the re-optimizer's), fragmented at
#: 1,024 GPUs in 4 blocks, best of 5 rounds lower on all 10 states (seeds 0-4, 100-104: −0.7 to −2.5%);
#: at 16,384 GPUs round 1 21,140.05 against 21,543.00 on fragmented-0 and 21,203.37 against 21,700.34 on
#: fragmented-100 (−3.4% under the capacity bound against −1.1%), at the same CPU; haein unchanged.
ETA_RANGES = True
#: A block solve that gives no duals in its time (a round cut short: under load at 16,384 GPUs) counts
#: the smaller of its capacity bound (plus what its trade can earn) and the Lagrangian at the last row
#: duals this block's LP gave (its share solve's, or an earlier round's): any duals give a bound. False:
#: the capacity bound alone (sessions 15-20), which on fragmented-0 at load 10 counted 23,121 for one
#: block of ~1,550, so that the run's bound by blocks (46,520) lost to the capacity bound (session 21).
#: On: never higher (the min of two bounds; the rounds' prices read the primal only, so they are
#: unchanged). In a 300 s run on fragmented-100 (load 6.5-7.8) four blocks had no duals in round 1 and
#: counted 1,380.71 / 1,301.56 / 1,239.10 / 1,259.89 (their LPs: 1,326.12 / 1,291.90 / 1,238.88 /
#: 1,258.85): bound 21,268.88 instead of the capacity bound 22,170 (gap 7.48% instead of 11.24%).
DUAL_FALLBACK = True


@dataclass
class BlockBound:
    """The bound, how it went down over the iterations, and what it took."""

    value: float
    #: The bound of each iteration (the smallest is ``value``).
    values: list[float] = field(default_factory=list)
    blocks: int = 0
    #: Block solves whose LP gave no duals (their capacity bound counted instead).
    fallbacks: int = 0
    seconds: float = 0.0
    #: Seconds to the first iteration's bound (building every block's LP and its cold solve).
    first_s: float = 0.0
    #: Each block's LP value in the best round (the block's part of the bound, less Σ λ U).
    per_block: list[float] = field(default_factory=list)
    #: Σ λ U of the best round (the bound is Σ per_block + this).
    lam_u: float = 0.0


def _up(x: float) -> float:
    """``x`` rounded up to 1/1000 (priorities stay on the grid the model scales exactly)."""
    return math.ceil(x * 1000.0 - 1e-9) / 1000.0


def _unit_sizes(inst: Instance, r: Request) -> list[float]:
    """The sizes (GPU-equivalents) one unit of ``r`` can take on the cluster's models."""
    if r.kind == "host":
        return [0.0]
    if r.kind == "gpu":
        return [1.0]
    if r.kind == "share":
        return [(r.gpu_milli or 0) / MILLI_PER_GPU]
    allowed = inst.allowed_models(r)
    out = [p.gpu_equivalents for m in inst.cluster_models if allowed is None or m.name in allowed
           for p in inst.profile_choices(r, m)]
    return out or [0.0]


def _s_max(inst: Instance, r: Request) -> float:
    """The most GPU-equivalents ``r`` can hold: ``count`` of its biggest unit, or what it runs on."""
    most = r.count * max(_unit_sizes(inst, r))
    if r.placement is not None:
        most = max(most, sum(inst.unit_size(r, u) for u in r.placement))
    return most


def _contained_levels(inst: Instance, parts: Sequence[Sequence[str]]) -> set[str]:
    """Levels whose every domain lies in one block (a required locality there cannot span blocks)."""
    topo = inst.cluster_topology
    where = {n: i for i, ns in enumerate(parts) for n in ns}
    out = {"gpu", "node"}
    for lv in topo.levels[1:]:
        if all(len({where.get(n) for n in ns}) == 1 for ns in topo.domains(lv).values()):
            out.add(lv)
    return out


def _spans(r: Request, contained: set[str]) -> bool:
    """Whether a plan may put ``r``'s units in more than one block."""
    if r.count == 1:
        return False
    return not (r.locality is not None and r.locality.required and r.locality.level in contained)


#: Tags of a block instance's requests: ("w", class) waiting work of a coupled class, ("i", class) an
#: import, ("f", import class or None, the original's fewest units) movable work at home.
Tag = tuple


def block_instances(inst: Instance, parts: Sequence[Sequence[str]],
                    cap: int | None = None) -> tuple[list[Instance], list[dict[str, Tag]]]:
    """The relaxation of each block (see the module docstring) and its requests' tags.

    ``cap``: the migration cap (the instance's own where smaller)."""
    from packer.cpsat.decompose import _servable, _serves
    from packer.plans import migration_cost

    mm = inst.objective.max_migrations
    cap = mm if cap is None else (cap if mm is None else min(cap, mm))
    where = {n: i for i, ns in enumerate(parts) for n in ns}
    contained = _contained_levels(inst, parts)
    serves = [_serves(inst, set(ns)) for ns in parts]
    waiting_prio = {r.priority for r in inst.requests if not (r.placement is not None and r.movable)}
    pinned_total: dict[str, float] = defaultdict(float)
    pinned_in: list[dict[str, float]] = [defaultdict(float) for _ in parts]
    reqs: list[list[Request]] = [[] for _ in parts]
    tags: list[dict[str, Tag]] = [{} for _ in parts]
    offered: list[Request] = []  # waiting work, every block that can serve it sees it
    pooled: dict[tuple, list[Request]] = defaultdict(list)  # spanning waiting work by class
    imports: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    imp_req: dict[tuple, Request] = {}
    for r in inst.requests:
        if r.placement is not None and not r.movable:
            by: dict[int, list] = defaultdict(list)
            for u in r.placement:
                by[where[u.node]].append(u)
                size = inst.unit_size(r, u)
                pinned_total[r.tenant] += size
                pinned_in[where[u.node]][r.tenant] += size
            if len(by) == 1:
                reqs[next(iter(by))].append(r)
            else:
                for b, us in by.items():
                    reqs[b].append(r.model_copy(update={
                        "count": len(us), "min_count": None, "placement": tuple(us), "locality": None,
                        "spread": None}))
            continue
        if r.kind == "host" and r.placement is None:
            continue  # worth nothing: a plan without it is as good
        homes = {where[u.node] for u in r.placement or ()}
        if r.placement is not None and len(homes) == 1:
            home = next(iter(homes))
            pr = _up(r.priority + 0.001)
            while pr in waiting_prio:  # never in one model group with waiting work
                pr = _up(pr + 0.001)
            upd: dict[str, object] = {"priority": pr}
            if _spans(r, contained):
                upd.update(min_count=1, locality=None)
            key = None
            if r.kind != "host":
                # Its value elsewhere (at least 0: a priority is never negative, and more is still a bound).
                pi = max(0.0, _up(r.priority - migration_cost(inst, r) / max(_s_max(inst, r), 1e-9)))
                key = (r.tenant, r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_milli, r.gpu_models,
                       r.cpu_milli, r.memory_mib, pi)
                imports[key][home] += r.count
                imp_req.setdefault(key, r)
            reqs[home].append(r.model_copy(update=upd))
            tags[home][r.id] = ("f", key, r.need_count)
            continue
        # Waiting work, and movable work running across blocks (waiting work here: staying costs it
        # nothing, so no migration cost is taken off).
        w = r.model_copy(update={"placement": None, "movable": False, "migration_cost": None})
        if _spans(r, contained):
            pooled[(w.tenant, w.kind, w.profile, w.slices, w.min_memory_gib, w.gpu_milli, w.gpu_models,
                    w.cpu_milli, w.memory_mib, w.priority)].append(w)
        else:
            offered.append(w)
    for k, members in enumerate(pooled.values()):
        offered.append(members[0].model_copy(update={
            "id": f"pooled-{k}", "count": sum(m.count for m in members), "min_count": 1, "locality": None,
            "spread": None}))
    for b in range(len(parts)):
        rs = reqs[b]
        for w in offered:
            if _servable(inst, w, serves[b]):
                rs.append(w)
                tags[b][w.id] = ("w", None)  # the class is the model group's (block_lp)
        for k, (key, by_home) in enumerate(imports.items()):
            n_out = sum(c for h, c in by_home.items() if h != b)
            if n_out <= 0:
                continue
            w = imp_req[key].model_copy(update={
                "id": f"import-{k}", "placement": None, "movable": False, "migration_cost": None, "count": n_out,
                "min_count": 1, "locality": None, "spread": None, "priority": key[-1]})
            if _servable(inst, w, serves[b]):
                rs.append(w)
                tags[b][w.id] = ("i", key)
    subs: list[Instance] = []
    for b, ns in enumerate(parts):
        keep = {r.tenant for r in reqs[b]}
        tenants = []
        for t in inst.tenants:
            if t.id not in keep:
                continue
            qt = None if t.max_gpus is None else max(0.0, t.max_gpus - (pinned_total[t.id] - pinned_in[b][t.id]))
            tenants.append(Tenant(id=t.id, max_gpus=qt, isolation=t.isolation))
        weights = ObjectiveWeights(locality_weight=inst.objective.locality_weight,
                                   migration_weight=inst.objective.migration_weight, max_migrations=cap)
        nodes = set(ns)
        subs.append(Instance(name=f"{inst.name}/block{b}", catalog=inst.catalog, topology=inst.topology,
                             nodes=tuple(n for n in inst.nodes if n.id in nodes), tenants=tuple(tenants),
                             requests=tuple(reqs[b]), objective=weights))
    return subs, tags


class BlockLP:
    """One block's LP, kept between iterations (HiGHS warm-starts from the last basis).

    ``units[k]``: columns counting units of coupled waiting class k (k: the ids of the model group's
    requests), ``U[k]`` its units in all and ``rho[k]`` a unit's most value; ``imports[j]``: columns of
    import class j; ``exports[j]``: (column, units per request) of its export columns."""

    def __init__(self, sub: Instance, tags: Mapping[str, Tag], no_export: frozenset = frozenset(),
                 merge: str | None = None, fold: bool | None = None) -> None:
        from scipy.sparse import csr_matrix, hstack, vstack

        from packer.cpsat.bound import highs_simplex
        from packer.cpsat.model import CpsatModel
        from packer.cpsat.reopt import repack_instance
        from packer.cpsat.reopt_stays import stays_form

        self.merged = merge is not None
        barred = None
        if merge is not None:
            from packer.cpsat.relax import typed_relaxation

            rel = typed_relaxation(sub, merge)
            sub, barred = rel.instance, rel.barred
        self.sub = sub
        from packer.cpsat import block_fold

        folds: list[block_fold.Fold] = []
        if block_fold.FOLD if fold is None else fold:
            sub, folds, barred = block_fold.fold_instance(
                sub, tags, barred, block_fold.FOLD_TAGS_MERGED if merge is not None else block_fold.FOLD_TAGS)
        #: Families folded into one request each (:mod:`packer.cpsat.block_fold`).
        self.folds = folds
        #: Per folded family that is not home work: its placement columns and its origins' columns z_o.
        self.fam_cols: list[tuple[list[int], list[int]]] = []
        rp, ids = repack_instance(sub)
        model = CpsatModel(rp, barred=barred)
        if ids:
            # no room rows in the block LPs (session 23 measured them there and left them off; session 26
            # removed the flag, block_bound.ROOM_CUTS): reopt_stays.ROOM_CUTS is for the whole-state LP
            got = stays_form(sub, model, sub.objective.max_migrations, cuts=False)
            if got is None:
                raise ValueError("block model is not linear")
            form, _col, const = got
        else:
            form, const, _col = model.linear_form, 0.0, {}
            if form is None:
                raise ValueError("block model is not linear")
        c, a, bl, bh, lo, hi, obj = form
        data = model.data
        self.scale = float(data.scale)
        self.sf = float(obj.scaling_factor or 1.0)
        self.offset = float(obj.offset)
        self.const = float(const)
        self.mconst = float(model.constant)
        self.units: dict[object, list[int]] = defaultdict(list)
        self.U: dict[object, float] = {}
        self.rho: dict[object, float] = {}
        self.imports: dict[object, list[int]] = defaultdict(list)
        self.exports: dict[object, list[int]] = defaultdict(list)
        self.rho_imp: dict[object, float] = {}
        self.imp_units: dict[object, float] = {}
        cls: dict[int, tuple[str, object]] = {}
        kept = {f.rid for f in folds if f.keep}  # a model group of several classes: _unfold's
        for gr in data.groups:
            r = gr.req
            if r.placement is not None or r.id in kept:
                continue
            tag = tags.get(r.id)
            if tag is None:
                continue
            if tag[0] == "w":
                k = tuple(rp.requests[ri].id for ri in gr.requests)
                cls[gr.index] = ("w", k)
                self.U[k] = float(sum(rp.requests[ri].count for ri in gr.requests))
                self.rho[k] = r.priority * max(_unit_sizes(sub, r))
            elif tag[0] == "i":
                cls[gr.index] = ("i", tag[1])
                self.imp_units[tag[1]] = float(r.count)
                self.rho_imp[tag[1]] = r.priority * max(_unit_sizes(sub, r))
        for (gi, _ci, _o), var in model.vars.x.items():
            got_c = cls.get(gi)
            if got_c is None:
                continue
            (self.units if got_c[0] == "w" else self.imports)[got_c[1]].append(var.index)
        #: Folded home work: model group → [(its origin's column, [(import class, fewest units)] a member)].
        home_cols: dict[int, list[tuple[int, list[tuple[object, int]]]]] = {}
        if folds:
            c, a, bl, bh, lo, hi = self._unfold(folds, model, rp, sub, c, a, bl, bh, lo, hi, _col, home_cols)
        # Export columns (units of home movable work placed in other blocks) and the rows that keep
        # every unit of it placed, here or exported: Σ x[g] + Σ_j E[g, j] ∈ [need × freed, count × freed].
        n0 = a.shape[1]
        xs_of: dict[int, list[int]] = defaultdict(list)
        for (gi, _ci, _o), var in model.vars.x.items():
            xs_of[gi].append(var.index)
        e_cost: list[float] = []
        e_hi: list[float] = []
        r_idx: list[int] = []
        c_idx: list[int] = []
        vals: list[float] = []
        r_lo: list[float] = []
        r_hi: list[float] = []
        for gr in data.groups:
            freed = [rp.requests[ri] for ri in gr.requests if rp.requests[ri].id in ids]
            if not freed:
                continue
            assert len(freed) == gr.size, "home movable work shares a model group with waiting work"
            if gr.index in home_cols:
                # A folded family: a row per original group, on its own column of units.
                parts_ = [([zc], homes, float(sum(nd for _j, nd in homes)), float(len(homes)))
                          for zc, homes in home_cols[gr.index]]
            else:
                homes = [(tags.get(fr.id, ("f", None))[1], fr.count) for fr in freed]
                # The original request's fewest units (its copy here may be elastic: some units may go).
                parts_ = [(xs_of.get(gr.index, []), homes,
                           float(sum(tags.get(fr.id, ("f", None, fr.need_count))[2] for fr in freed)),
                           float(sum(fr.count for fr in freed)))]
            for cols_, homes, need_, count_ in parts_:
                by_j: dict[object, int] = defaultdict(int)
                for j, units in homes if gr.index not in home_cols else [(j, 1) for j, _nd in homes]:
                    by_j[j] += units
                row = len(r_lo)
                for xi in cols_:
                    r_idx.append(row)
                    c_idx.append(xi)
                    vals.append(1.0)
                for j, units in by_j.items():
                    col = n0 + len(e_cost)
                    e_cost.append(0.0)
                    e_hi.append(0.0 if j in no_export else float(units))
                    r_idx.append(row)
                    c_idx.append(col)
                    vals.append(1.0)
                    if j is not None:
                        self.exports[j].append(col)
                r_lo.append(need_)
                r_hi.append(count_)
        n = n0 + len(e_cost)
        if e_cost:
            a = vstack([hstack([a, csr_matrix((a.shape[0], len(e_cost)))]),
                        csr_matrix((vals, (r_idx, c_idx)), shape=(len(r_lo), n))]).tocsr()
            bl = np.concatenate([bl, r_lo])
            bh = np.concatenate([bh, r_hi])
            c = np.concatenate([c, e_cost])
            lo = np.concatenate([lo, np.zeros(len(e_cost))])
            hi = np.concatenate([hi, e_hi])
        # Coupling rows of this block's own, free (infinite sides) but for share_duals: the units of
        # each waiting class, and imports less exports of each import class.
        self.ks = list(self.units)
        self.js = sorted({*self.imports, *self.exports}, key=repr)
        r_idx, c_idx, vals = [], [], []
        for i, k in enumerate(self.ks):
            for xi in self.units[k]:
                r_idx.append(i)
                c_idx.append(xi)
                vals.append(1.0)
        for i, j in enumerate(self.js):
            for xi in self.imports.get(j, ()):
                r_idx.append(len(self.ks) + i)
                c_idx.append(xi)
                vals.append(1.0)
            for xi in self.exports.get(j, ()):
                r_idx.append(len(self.ks) + i)
                c_idx.append(xi)
                vals.append(-1.0)
        n_share = len(self.ks) + len(self.js)
        self.share0 = a.shape[0]
        if n_share:
            a = vstack([a, csr_matrix((vals, (r_idx, c_idx)), shape=(n_share, n))]).tocsr()
            bl = np.concatenate([bl, np.full(n_share, -np.inf)])
            bh = np.concatenate([bh, np.full(n_share, np.inf)])
        self.c0, self.a, self.bl, self.bh, self.lo, self.hi = c, a, bl, bh, lo, hi
        self.h = highs_simplex(c, a, bl, bh, lo, hi)
        #: HiGHS's row duals of this block's last solve that gave them (its share solve, a round): the
        #: Lagrangian at them bounds a later solve that gives none (DUAL_FALLBACK).
        self.y_last: np.ndarray | None = None

    def _unfold(self, folds, model, rp: Instance, sub: Instance, c, a, bl, bh, lo, hi, stay_col,  # type: ignore[no-untyped-def]
                home_cols):
        """Appends a column per original model group of each folded family (its units, worth its
        priority above the family's lowest) and the row "their units = the folded request's units";
        the groups' waiting and import classes get those columns (:mod:`packer.cpsat.block_fold`). A
        family of home work (its members one model group): also "an original group's units ≥ its members'
        stay columns" (``stay_col``: request id → column), and ``home_cols`` gets, per model group,
        each original group's column and its members' (import class, fewest units) for the export rows."""
        from scipy.sparse import csr_matrix, hstack, vstack

        from packer.cpsat import block_fold
        from packer.cpsat.data import scaled

        data = model.data
        gi_of = {gr.req.id: gr.index for gr in data.groups}
        ri_of = {r.id: i for i, r in enumerate(rp.requests)}
        xs_of: dict[int, list[int]] = defaultdict(list)
        for (gi, _ci, _o), var in model.vars.x.items():
            xs_of[gi].append(var.index)
        n0 = a.shape[1]
        z_c: list[float] = []
        z_hi: list[float] = []
        r_idx: list[int] = []
        c_idx: list[int] = []
        vals: list[float] = []
        rows = 0
        stay_rows: list[int] = []
        rooms: dict[str, float | None] = {}
        for f in folds:
            g_f = data.group_of[ri_of[f.rid]] if f.keep else gi_of.get(f.rid, -1)
            xs = xs_of.get(g_f, [])
            for o in f.origins:
                r = o.rep
                if f.home:
                    continue
                if o.tag[0] == "w":
                    self.U[o.ids] = float(o.units)
                    self.rho[o.ids] = o.priority * max(_unit_sizes(sub, r))
                else:
                    self.imp_units[o.tag[1]] = float(o.units)
                    self.rho_imp[o.tag[1]] = o.priority * max(_unit_sizes(sub, r))
            if not xs and not f.home:
                continue  # no room for the family here: no units for any of its groups
            for x in xs:
                r_idx.append(rows)
                c_idx.append(x)
                vals.append(-1.0)
            tenant = f.origins[0].rep.tenant
            if tenant not in rooms:
                rooms[tenant] = block_fold.quota_room(rp, tenant, data.scale)
            for o in f.origins:
                col = n0 + len(z_c)
                bonus = scaled(o.priority * f.size, data.scale) - scaled(f.p_min * f.size, data.scale)
                z_c.append(bonus / self.sf)  # maximized value = sf × (c·x + offset)
                z_hi.append(block_fold.z_upper(o, f.size, rooms[tenant]))
                r_idx.append(rows)
                c_idx.append(col)
                vals.append(1.0)
                if f.home:
                    home_cols.setdefault(g_f, []).append((col, o.homes))
                else:
                    (self.units[o.ids] if o.tag[0] == "w" else self.imports[o.tag[1]]).append(col)
            rows += 1
            if not f.home:
                self.fam_cols.append((list(xs), list(range(n0 + len(z_c) - len(f.origins), n0 + len(z_c)))))
            if f.home:
                for i, o in enumerate(f.origins):
                    # Σ stays of its members − its units ≤ 0 (a member that stays has its unit placed).
                    cols_ = [stay_col[rid] for rid in o.ids if rid in stay_col]
                    if not cols_:
                        continue
                    for sc in cols_:
                        r_idx.append(rows)
                        c_idx.append(sc)
                        vals.append(1.0)
                    r_idx.append(rows)
                    c_idx.append(n0 + len(z_c) - len(f.origins) + i)
                    vals.append(-1.0)
                    stay_rows.append(rows)
                    rows += 1
        if not z_c:
            return c, a, bl, bh, lo, hi
        n = n0 + len(z_c)
        a = vstack([hstack([a, csr_matrix((a.shape[0], len(z_c)))]),
                    csr_matrix((vals, (r_idx, c_idx)), shape=(rows, n))]).tocsr()
        r_lo = np.zeros(rows)
        r_lo[stay_rows] = -np.inf
        return (np.concatenate([c, z_c]), a, np.concatenate([bl, r_lo]), np.concatenate([bh, np.zeros(rows)]),
                np.concatenate([lo, np.zeros(len(z_c))]), np.concatenate([hi, z_hi]))

    def share_duals(self, caps: Mapping[object, float],
                    time_limit: float | None = None) -> tuple[dict[object, float], dict[object, float]]:
        """Prices from this block alone: its LP with each waiting class k held to ``caps[k]`` units and
        its imports of each class held to its exports; returns the duals of those rows as (λ per
        unit, η per unit) in objective units (empty where HiGHS gives no duals)."""
        n_share = len(self.ks) + len(self.js)
        idx = np.arange(self.share0, self.share0 + n_share, dtype=np.int32)
        inf = 1e30
        lo = np.array([-inf] * len(self.ks) + [0.0] * len(self.js))
        hi = np.array([caps.get(k, inf) for k in self.ks] + [0.0] * len(self.js))
        c = self.c0
        self.h.changeColsCost(len(c), np.arange(len(c), dtype=np.int32), c)
        for i in range(n_share):
            self.h.changeRowBounds(int(idx[i]), float(lo[i]), float(hi[i]))
        self.h.setOptionValue("time_limit", float(max(0.1, time_limit)) if time_limit is not None else float("inf"))
        self.h.run()
        sol = self.h.getSolution()
        lam: dict[object, float] = {}
        eta: dict[object, float] = {}
        #: Per import class, the range of η over which the share solution stays optimal, the block's other
        #: row duals held (:meth:`_eta_ranges`); empty without duals.
        self.eta_ranges: dict[object, tuple[float, float]] = {}
        if sol.dual_valid:
            self.y_last = np.asarray(sol.row_dual, dtype=float).copy()
            y = np.asarray(sol.row_dual, dtype=float)[self.share0:self.share0 + n_share] * self.sf / self.scale
            lam = {k: max(0.0, float(y[i])) for i, k in enumerate(self.ks)}
            eta = {j: float(y[len(self.ks) + i]) for i, j in enumerate(self.js)}
            self.eta_ranges = self._eta_ranges(sol, eta)
        for i in range(n_share):
            self.h.changeRowBounds(int(idx[i]), -inf, inf)
        return lam, eta

    def _eta_ranges(self, sol, eta: Mapping[object, float]) -> dict[object, tuple[float, float]]:  # type: ignore[no-untyped-def]
        """For each import class j, the interval of η_j (objective units) at which the LP's solution
        ``sol`` stays optimal with every other row dual held: moving the row's dual by δ moves the
        reduced cost of its import columns by −δ and of its export columns by +δ (HiGHS minimizes:
        a column at its lower bound needs a reduced cost ≥ 0, at its upper bound ≤ 0, between them
        = 0; a fixed column anything). The share solve's vertex dual is one point of it; which one
        the simplex returns depends on the form of the LP (folded or not), not on the block's economics."""
        x = np.asarray(sol.col_value, dtype=float)
        d = np.asarray(sol.col_dual, dtype=float)
        tol = 1e-7 * np.maximum(1.0, np.maximum(np.abs(self.lo), np.where(np.isfinite(self.hi), np.abs(self.hi), 0.0)))
        at_lo = x <= self.lo + tol
        at_hi = x >= self.hi - tol
        conv = self.sf / self.scale
        # A folded family's row (Σ z_o = its placement columns) has a dual of its own: where the family is
        # placed nowhere here, lowering it by the least reduced cost m of its placement columns keeps the
        # solution optimal and raises every z_o's reduced cost by m (the plain LP's import column of o at
        # class c has the reduced cost of z_o plus that of c's placement column), so an import column z_o
        # at its lower bound allows δ up to its reduced cost + m.
        # Only where every z_o is at its lower bound (the family placed nowhere): a z_o above it would need
        # its reduced cost kept (basic) or ≤ 0 (at its upper bound).
        slack = np.zeros(len(x))
        for xs_, zs in self.fam_cols:
            xs_ = np.asarray(xs_, dtype=np.int64)
            if not at_lo[np.asarray(zs, dtype=np.int64)].all():
                continue
            free = ~at_lo[xs_] & ~at_hi[xs_]
            lows = d[xs_][at_lo[xs_] & ~at_hi[xs_]]
            m = 0.0 if free.any() or not lows.size else max(0.0, float(lows.min()))
            slack[zs] = m
        out: dict[object, tuple[float, float]] = {}
        for j in self.js:
            lo_d, hi_d = -math.inf, math.inf
            for cols, sgn in ((self.imports.get(j, ()), 1.0), (self.exports.get(j, ()), -1.0)):
                if not len(cols):
                    continue
                cols = np.asarray(cols, dtype=np.int64)
                lo_c, hi_c, dc = at_lo[cols], at_hi[cols], d[cols] * sgn
                # δ in HiGHS's units: an import column at its lower bound needs δ ≤ d, at its upper δ ≥ d;
                # an export column at its lower bound δ ≥ −d, at its upper δ ≤ −d; between, δ = sgn d.
                up = (dc + slack[cols])[lo_c & ~hi_c] if sgn > 0 else dc[hi_c & ~lo_c]
                down = dc[hi_c & ~lo_c] if sgn > 0 else dc[lo_c & ~hi_c]
                mid = dc[~lo_c & ~hi_c]
                if up.size:
                    hi_d = min(hi_d, float(up.min()))
                if down.size:
                    lo_d = max(lo_d, float(down.max()))
                if mid.size:
                    lo_d, hi_d = max(lo_d, float(mid.max())), min(hi_d, float(mid.min()))
            e = eta[j]
            a, b = e + lo_d * conv, e + hi_d * conv
            # Nothing bounds it (no column of the class here): the vertex stands.
            out[j] = (min(a, b), max(a, b)) if math.isfinite(a) or math.isfinite(b) else (e, e)
        return out

    def solve(self, lam: Mapping[object, float], eta: Mapping[object, float],
              time_limit: float | None = None) -> tuple[float, dict[object, float], dict[object, float],
                                                        dict[object, float], bool]:
        """The block's bound at multipliers ``lam`` (per unit of waiting class) and ``eta`` (per unit of
        import class), in objective units, with the units its LP solution places per waiting class,
        imports and exports per import class, and whether the LP gave duals (else: the block's
        capacity bound plus every export at its multiplier, also a bound, or with DUAL_FALLBACK the
        Lagrangian at the block's last duals where that is smaller)."""
        from packer.cpsat.bound import capacity_bound

        c = self._costs(lam, eta)
        self.h.changeColsCost(len(c), np.arange(len(c), dtype=np.int32), c)
        self.h.setOptionValue("time_limit", float(max(0.1, time_limit)) if time_limit is not None else float("inf"))
        self.h.run()
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value, dtype=float) if sol.value_valid else np.zeros(len(c))
        self.last_f = (self.sf * (float(self.c0 @ x) + self.offset) + self.const) / self.scale + self.mconst
        placed = {k: float(x[cols].sum()) for k, cols in self.units.items()}
        imp = {j: float(x[cols].sum()) for j, cols in self.imports.items()}
        exp = {j: float(x[cols].sum()) for j, cols in self.exports.items()}
        if not sol.dual_valid:
            cb = capacity_bound(self.sub)
            extra = sum(max(0.0, eta.get(j, 0.0)) * float(self.hi[cols].sum()) for j, cols in self.exports.items())
            extra += sum(max(0.0, -eta.get(j, 0.0)) * u for j, u in self.imp_units.items())
            fb = math.inf if cb is None else cb + extra
            if DUAL_FALLBACK and self.y_last is not None:
                fb = min(fb, self.dual_value(lam, eta, self.y_last))
            return fb, placed, imp, exp, False
        self.y_last = np.asarray(sol.row_dual, dtype=float).copy()
        return self.dual_value(lam, eta, self.y_last), placed, imp, exp, True

    def _costs(self, lam: Mapping[object, float], eta: Mapping[object, float]) -> np.ndarray:
        """The LP's column costs at multipliers ``lam``, ``eta`` (HiGHS's model units)."""
        c = self.c0.copy()
        k_s = self.scale / self.sf
        for k, cols in self.units.items():
            c[cols] -= lam.get(k, 0.0) * k_s
        for j, cols in self.imports.items():
            c[cols] -= eta.get(j, 0.0) * k_s
        for j, cols in self.exports.items():
            c[cols] += eta.get(j, 0.0) * k_s
        return c

    def dual_value(self, lam: Mapping[object, float], eta: Mapping[object, float], y: np.ndarray) -> float:
        """The block's bound at multipliers ``lam``, ``eta`` from row duals ``y`` (any: the Lagrangian
        over the columns' box, :func:`packer.cpsat.bound.lagrangian_min`; rows whose bound is infinite
        on the dual's side, as the share rows outside a share solve, count nothing), in objective units;
        at the LP's own optimal duals it is the LP's value."""
        from packer.cpsat.bound import lagrangian_min

        low = lagrangian_min(self._costs(lam, eta), self.a, self.bl, self.bh, self.lo, self.hi, y)
        value = (self.sf * (low + self.offset) + self.const) / self.scale + self.mconst
        return value + 1e-9 * abs(value) + 1.0 / self.scale


def _round(lps: Sequence[BlockLP], U: Mapping[object, float], lam: Mapping[object, float],  # type: ignore[no-untyped-def]
           eta: Mapping[object, float], rem):
    """One round: every block's LP at (``lam``, ``eta``). Returns the bound (Σ blocks + Σ λ U), the
    blocks' values, the units placed per waiting class, imports less exports per import class, and how
    many blocks fell back to their capacity bound."""
    total = sum(lam.get(k, 0.0) * U[k] for k in U)
    per_block: list[float] = []
    placed: dict[object, float] = defaultdict(float)
    flow: dict[object, float] = defaultdict(float)  # imports − exports
    fallbacks = 0
    for i, bl_ in enumerate(lps):
        left = rem()
        v, pl, im, ex, ok = bl_.solve(lam, eta, None if left is None else left / (len(lps) - i))
        total += v
        per_block.append(v)
        fallbacks += 0 if ok else 1
        for k, x in pl.items():
            placed[k] += x
        for j, x in im.items():
            flow[j] += x
        for j, x in ex.items():
            flow[j] -= x
    return total, per_block, placed, flow, fallbacks


def eta_top(r: tuple[float, float]) -> float:
    """A block's η of an import class from its range of optimal share duals ``r``
    (:meth:`BlockLP._eta_ranges`): the top where it is finite, else the bottom (import-only blocks:
    the price at which importing stops being worth it). Where the plain and the folded own-node LPs'
    vertices differed, the plain LP's was this one (scratch diagnosis, fragmented-0 at 1,024 GPUs), and
    the range is the same whether the block's import rows are folded or not."""
    lo, hi = r
    return hi if math.isfinite(hi) else lo


def merge_level(inst: Instance, merge: str | None) -> str | None:
    """The level :class:`BlockLP` merges ``inst``'s blocks at for the setting ``merge`` (see MERGE):
    None where nothing can be merged (a topology of nodes only)."""
    if merge != "auto":
        return merge
    from packer.cpsat.relax import merge_levels

    levels = merge_levels(inst)
    return levels[0] if levels else None


def block_lps(inst: Instance, parts: Sequence[Sequence[str]], cap: int | None = None,
              merge: str | None = None) -> tuple[list[BlockLP], dict[object, float]]:
    """Every block's LP (:class:`BlockLP`, of the typed relaxation at ``merge`` where given) and the units
    U_k of each coupled waiting class. A block
    exports no class that no other block can import."""
    subs, tags = block_instances(inst, parts, cap)
    served: dict[object, set[int]] = defaultdict(set)
    for b, tg in enumerate(tags):
        for tag in tg.values():
            if tag[0] == "i":
                key = tag[1]
                served[key].add(b)
    lps = []
    for b, (s, tg) in enumerate(zip(subs, tags)):
        homes = {tag[1] for tag in tg.values() if tag[0] == "f" and tag[1] is not None}
        no_export = frozenset(j for j in homes if not (served[j] - {b}))
        try:
            lps.append(BlockLP(s, tg, no_export, merge=merge))
        except ValueError:
            if merge is None:
                raise
            # The merged model is not all linear (seen on a 16-node fragmented state): the block's own.
            lps.append(BlockLP(s, tg, no_export))
    U: dict[object, float] = {}
    for bl_ in lps:
        for k, u in bl_.U.items():
            U[k] = max(U.get(k, 0.0), u)
    return lps, U


def lagrangian(lps: Sequence[BlockLP], U: Mapping[object, float], lam: Mapping[object, float],
               eta: Mapping[object, float]) -> float:
    """The bound at multipliers ``lam`` (≥ 0, per unit of waiting class) and ``eta`` (any sign, per
    unit of import class): Σ blocks' bounds + Σ_k λ_k U_k."""
    assert all(x >= 0 for x in lam.values()), "λ must be nonnegative"
    return sum(bl_.solve(lam, eta)[0] for bl_ in lps) + sum(lam.get(k, 0.0) * u for k, u in U.items())


def block_bound(inst: Instance, parts: Sequence[Sequence[str]] | None = None, *, iterations: int = 5,
                time_limit: float | None = None, cap: int | None = None, step: float = 0.05,
                progress=None, merge: str | None = "default",
                report=None, eta_ranges: bool | None = None) -> BlockBound:  # type: ignore[no-untyped-def]
    """The bound by blocks of ``inst`` (``parts``: node ids per block; default
    :func:`packer.cpsat.reopt_blocks.blocks`) after at most ``iterations`` rounds within ``time_limit``
    (a round is not started when the last one would not fit; blocks whose LP has no duals in time
    count their capacity bound).

    The multipliers: each block's LP first runs alone with each waiting class held to an equal share
    of its units (U_k over the blocks that can serve it) and its imports held to its exports
    (:meth:`BlockLP.share_duals`); a class's λ is the median of those rows' duals over the blocks,
    an import class's η likewise. If the blocks were alike, these would be the decomposition's optimal
    multipliers (the median did best of mean, median, max and min on fragmented-0 at 1,024 GPUs in 4
    blocks). Rounds after the first move them by a subgradient step (``step`` × 0.6^round × a unit's
    value × the relative surplus of the class); the bound is the smallest round's. Where the share
    duals price a class at its whole value (room to spare in every block), the first round is no
    better than the capacity bound and the steps bring it down: fragmented-2 at 1,024 GPUs in 4
    blocks 1414.67 → 1373.99 in 5 rounds (stays LP 1347.31), fragmented-1 1355.17 → 1333.64. ``progress``: called with (round, bound,
    seconds) after each.

    ``report``: called with the BlockBound so far each time its value falls (a round), so that a caller
    cut short keeps it."""
    from packer.cpsat.reopt_blocks import blocks

    t0 = time.perf_counter()

    def rem() -> float | None:
        return None if time_limit is None else max(0.1, time_limit - (time.perf_counter() - t0))

    if parts is None:
        parts = blocks(inst)
    lps, U = block_lps(inst, parts, cap, merge_level(inst, MERGE if merge == "default" else merge))
    rho: dict[object, float] = {}
    n_k: dict[object, int] = defaultdict(int)
    for bl_ in lps:
        for k in bl_.U:
            n_k[k] += 1
        rho.update(bl_.rho)
    lam_of: dict[object, list[float]] = defaultdict(list)
    eta_of: dict[object, list[float]] = defaultdict(list)
    # The share solves get at most SHARE_TIME of what is left (each block its part); the round the rest.
    share_end = None if time_limit is None else time.perf_counter() + SHARE_TIME * (rem() or 0.0)
    by_range = ETA_RANGES if eta_ranges is None else eta_ranges
    for i, bl_ in enumerate(lps):
        part = None if share_end is None else (share_end - time.perf_counter()) / (len(lps) - i)
        if part is not None and part < 0.2:
            break  # the others' median stands in for this block's prices
        lb, eb = bl_.share_duals({k: U[k] / n_k[k] for k in bl_.U}, part)
        for k, x in lb.items():
            lam_of[k].append(x)
        for j, x in eb.items():
            eta_of[j].append(eta_top(bl_.eta_ranges.get(j, (x, x))) if by_range else x)
    lam = {k: min(rho[k], statistics.median(lam_of[k])) if lam_of[k] else 0.0 for k in U}
    eta = {j: statistics.median(xs) for j, xs in eta_of.items()}
    top = max([*rho.values(), 1.0])
    out = BlockBound(value=math.inf, blocks=len(parts))
    last = 0.0
    it = 0
    while it < iterations:
        ti = time.perf_counter()
        if time_limit is not None and it > 0 and (time.perf_counter() - t0) + last > time_limit:
            break
        total, per_block, placed, flow, fb = _round(lps, U, lam, eta, rem)
        out.fallbacks += fb
        out.values.append(total)
        if total < out.value:
            out.value = total
            out.per_block = [round(v, 4) for v in per_block]
            out.lam_u = total - sum(per_block)
        if it == 0:
            out.first_s = time.perf_counter() - t0
        last = time.perf_counter() - ti
        if progress is not None:
            progress(len(out.values) - 1, total, time.perf_counter() - t0)
        if report is not None and total <= out.value:
            out.seconds = time.perf_counter() - t0
            report(out)
        a = step * 0.6 ** it
        for k in U:
            g = (placed[k] - U[k]) / max(U[k], placed[k], 1e-9)
            lam[k] = min(rho[k], max(0.0, lam[k] + a * rho[k] * g))
        for j, x in flow.items():
            g = x / max(abs(x), 1.0)
            eta[j] = min(top, max(-top, eta.get(j, 0.0) + a * top * g))
        it += 1
    out.seconds = time.perf_counter() - t0
    return out


class Child:
    """:func:`block_bound` in a fresh interpreter beside the caller (the move steps), ended at its
    deadline: the caller's threads and pool are not copied (as in :mod:`packer.cpsat.lpchild`). The
    child sends its bound each time it falls (a round), so a child ended at the
    deadline still leaves the last bound it sent; a bound that is late costs nothing but itself."""

    def __init__(self, inst: Instance, *, time_limit: float | None, nice: int = 0, **kwargs: object) -> None:
        import subprocess
        import threading

        self.result: BlockBound | None = None
        self.error: str | None = None
        self.t0 = time.perf_counter()
        #: perf_counter() when its first and its last answer came (None: none yet).
        self.first_at: float | None = None
        self.done_at: float | None = None
        payload = pickle.dumps((inst, {"time_limit": time_limit, **kwargs}, nice))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-c", "from packer.cpsat.block_bound import main; main()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

        def talk() -> None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                with self.proc.stdin:
                    self.proc.stdin.write(payload)
                while True:
                    head = self.proc.stdout.read(8)
                    if len(head) < 8:
                        break
                    body = self.proc.stdout.read(int.from_bytes(head, "little"))
                    if len(body) < int.from_bytes(head, "little"):
                        break
                    self.result = pickle.loads(body)  # noqa: S301 - our own child's answer
                    self.done_at = time.perf_counter()
                    self.first_at = self.first_at or self.done_at
            except Exception as exc:  # noqa: BLE001 - a failed bound is no bound, never a failed solve
                self.error = repr(exc)
            finally:
                self.proc.stdout.close()
                if self.proc.wait() != 0 and self.result is None and self.error is None:
                    self.error = f"exit {self.proc.returncode}"

        self.thread = threading.Thread(target=talk, daemon=True)
        self.thread.start()

    def get(self, timeout: float) -> BlockBound | None:
        """The child's last bound once it ends within ``timeout`` seconds; else the child is ended
        and its last bound so far is returned (``error`` "late"; None if it had sent none)."""
        self.thread.join(max(0.0, timeout))
        if self.thread.is_alive():
            self.error = self.error or "late"
            self.proc.kill()
            self.thread.join(5.0)
        return self.result


def main() -> None:
    """In a child process: reads (instance, block_bound's keyword arguments, niceness) pickled on
    stdin, writes each better BlockBound to stdout as it comes (8-byte little-endian length, pickle)."""
    inst, kwargs, nice = pickle.load(sys.stdin.buffer)
    if nice > 0:
        os.nice(nice)
    fold = kwargs.pop("fold", None)
    fold_tags = kwargs.pop("fold_tags", None)
    if fold is not None or fold_tags is not None:  # the parent's block_fold settings (a fresh interpreter)
        from packer.cpsat import block_fold

        if fold is not None:
            block_fold.FOLD = bool(fold)
        if fold_tags is not None:
            block_fold.FOLD_TAGS = tuple(fold_tags)

    def send(bb: BlockBound) -> None:
        body = pickle.dumps(bb)
        sys.stdout.buffer.write(len(body).to_bytes(8, "little") + body)
        sys.stdout.buffer.flush()

    out = block_bound(inst, report=send, **kwargs)
    send(out)


__all__ = ["MERGE", "SHARE_TIME", "BlockBound", "BlockLP", "Child", "block_bound", "block_instances", "block_lps",
           "lagrangian", "main", "merge_level"]
