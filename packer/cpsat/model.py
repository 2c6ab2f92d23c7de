"""Ties data, variables, constraints and objective into one CP-SAT model; hints, solves, converts back."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import cached_property

from ortools.sat.python import cp_model

from packer.cpsat.constraints import Constraints
from packer.cpsat.data import Data, build_data, domain_of, pool_of
from packer.cpsat.deadline import NEVER, Deadline
from packer.cpsat.guard import solve_guarded
from packer.cpsat.objective import set_objective
from packer.cpsat.solution import extract
from packer.cpsat.variables import Variables, create_variables
from packer.model import Instance, Plan, Unit
from packer.plans import units_equal
from packer.progress import SILENT, Progress

#: With two workers CP-SAT's default portfolio runs one full search (``default_lp``) beside its LNS
#: workers; these two full searches instead proved small 0-11 in 0.07-1.37 s each, where the default
#: took 8.4-11.8 s on small-0 and did not prove small-10 in 10 s, and four of haein-on-16-nodes 0-4 in
#: 20 s instead of three (bench/RESULTS_cpsat.md, eighth session). Measured on two cores, so used with
#: two workers only.
TWO_WORKER_SUBSOLVERS = ("reduced_costs", "quick_restart")


class CpsatModel:
    """One instance's CP-SAT model. Build once, optionally hint, solve once."""

    def __init__(self, inst: Instance, *, aggregate: bool | None = None,
                 barred: Mapping[str, AbstractSet[str]] | None = None, relaxed: bool = False,
                 uncounted: AbstractSet[str] = frozenset(), data: Data | None = None,
                 deadline: Deadline = NEVER) -> None:
        """``relaxed``: the relaxed build of :func:`~packer.cpsat.data.build_data` (bounds only, no
        :meth:`placement`); ``uncounted``: movable running requests whose moves max_migrations ignores;
        ``data``: that build, already made (the other options are then not used for it); ``deadline``:
        checked between the build's steps, :class:`~packer.cpsat.deadline.BuildAbandoned` once past."""
        self.inst = inst
        self.data: Data = data if data is not None else build_data(
            inst, aggregate=aggregate, barred=barred, relaxed=relaxed, uncounted=uncounted)
        deadline.check("data")
        self.model = cp_model.CpModel()
        self.vars: Variables = create_variables(self.data, self.model, deadline)
        rules = Constraints(self.data, self.model, self.vars)
        rules.add_all(deadline)
        #: Rows valid for every plan that only the LP bound reads (:attr:`Constraints.lp_cuts`).
        self.lp_cuts = rules.lp_cuts
        #: Columns the bound's LP may branch on (:attr:`Constraints.lp_branch`).
        self.lp_branch = rules.lp_branch
        self.constant = set_objective(self.data, self.model, self.vars)
        self.class_of: dict[tuple[str, int | None], int] = {}
        for c in self.data.classes:
            for g in c.gpus:
                self.class_of[(inst.nodes[c.node].id, g)] = c.index
            if c.host:
                self.class_of[(inst.nodes[c.node].id, None)] = c.index
        self.solver: cp_model.CpSolver | None = None
        #: Values of all variables of the best solution found by LNS (:mod:`packer.cpsat.lns`; overrides ``solver``).
        self.values: list[int] | None = None
        self.lns_stats: dict[str, int] = {}
        #: The proto's integer domains as :attr:`linear_form` read them ("domains", "bounds"; empty until then).
        self.proto_read: dict[str, list[list[int]]] = {}

    # ----------------------------------------------------------------------------------- hints

    def hint(self, plan: Plan) -> int:
        """Replaces all hints with the values of ``plan``; returns how many variables were hinted."""
        m, v, d, inst = self.model, self.vars, self.data, self.inst
        m.clear_hints()
        placed: dict[str, Sequence[Unit]] = {a.request: a.units for a in plan.assignments}
        x: Counter[tuple[int, int, str | None]] = Counter()
        active: Counter[int] = Counter()
        within: Counter[tuple[int, str]] = Counter()
        uses: set[tuple[int, str]] = set()
        owns: set[tuple[int, str]] = set()
        gpu_units: dict[tuple[str, int], list[tuple[int, Unit]]] = defaultdict(list)
        for ri, r in enumerate(inst.requests):
            units = placed.get(r.id)
            if units is None:
                continue
            gi = d.group_of[ri]
            for u in units:
                if u.gpu is not None:
                    gpu_units[(u.node, u.gpu)].append((ri, u))
                owns.add((inst.node_index[u.node], r.tenant))
            if r.placement is not None:
                stays = units_equal(r.placement, units)
                if gi in v.stay:
                    m.add_hint(v.stay[gi], int(stays))
                if stays:
                    continue
            active[gi] += 1
            for u in units:
                ci = self.class_of[(u.node, u.gpu)]
                x[(gi, ci, u.profile)] += 1
                if r.locality is not None:
                    dom = domain_of(d, d.classes[ci], r.locality.level)
                    if r.locality.required:
                        within[(gi, dom)] += 0
                    else:
                        uses.add((gi, dom))
            if r.locality is not None and r.locality.required and units:
                ci = self.class_of[(units[0].node, units[0].gpu)]
                within[(gi, domain_of(d, d.classes[ci], r.locality.level))] += 1
        n = 0
        for key, var in v.x.items():
            m.add_hint(var, x.get(key, 0))
            n += 1
        for gi, act in v.active.items():
            if gi not in v.stay:
                m.add_hint(act, active.get(gi, 0))  # type: ignore[arg-type]
                n += 1
        for key, var in v.within.items():
            m.add_hint(var, within.get(key, 0))
        for key, var in v.uses.items():
            m.add_hint(var, int(key in uses))
        for key, var in v.owns.items():
            m.add_hint(var, int(key in owns))
        self._hint_gpus(plan, gpu_units)
        return len(m.proto.solution_hint.vars)

    def _hint_gpus(self, plan: Plan, gpu_units: Mapping[tuple[str, int], list[tuple[int, Unit]]]) -> int:
        """Hints each class's mode, pool and MIG configuration counts from the plan's GPUs."""
        m, v, d, inst = self.model, self.vars, self.data, self.inst
        chosen = {(gm.node, gm.gpu): gm.mode for gm in plan.gpu_modes}
        mode_n: Counter[tuple[int, str, str]] = Counter()
        cfg_n: Counter[tuple[int, str, int]] = Counter()
        pat_n: Counter[tuple[int, str, int]] = Counter()
        kind_mode = {"mig": "mig", "gpu": "full", "share": "shared"}
        for c in d.classes:
            node = inst.nodes[c.node]
            for g in c.gpus:
                units = gpu_units.get((node.id, g), [])
                pool = ""
                for ri, _ in units:
                    pool = pool_of(inst, inst.requests[ri]) or pool
                if pool not in d.pools[c.index]:
                    pool = ""
                if c.mode != "any":
                    mode = c.mode
                elif units:
                    mode = kind_mode[inst.requests[units[0][0]].kind]
                else:
                    mode = chosen.get((node.id, g), c.modes()[-1])
                if mode not in c.modes():
                    mode = c.modes()[0]
                mode_n[(c.index, pool, mode)] += 1
                if mode == "mig" and c.index in v.configs:
                    inst_set = [(u.profile, u.start) for _, u in units if u.profile is not None]
                    k = self._config_containing(c.index, inst_set)
                    if k is not None:
                        cfg_n[(c.index, pool, k)] += 1
                if mode == "shared" and c.index in v.patterns:
                    fixed = {(ri, u.key()) for ri, u in c.running}  # in the class's room already
                    need = Counter(u.gpu_milli or inst.requests[ri].gpu_milli for ri, u in units
                                   if (ri, u.key()) not in fixed)
                    for k, pat in enumerate(v.patterns[c.index]):
                        if all(pat.get(s, 0) >= cnt for s, cnt in need.items()):
                            pat_n[(c.index, pool, k)] += 1
                            break
        n = 0
        for key, var in v.mode.items():
            m.add_hint(var, mode_n.get(key, 0))
            n += 1
        for key, var in v.config.items():
            m.add_hint(var, cfg_n.get(key, 0))
            n += 1
        for key, var in v.pattern.items():
            m.add_hint(var, pat_n.get(key, 0))
            n += 1
        return n

    def _config_containing(self, ci: int, instances: list[tuple[str | None, int | None]]) -> int | None:
        v = self.vars
        if ci in v.layouts:
            want = set(instances)
            for k, lay in enumerate(v.layouts[ci]):
                if want <= set(lay):
                    return k
            return None
        need = Counter(name for name, _ in instances)
        for k, cfg in enumerate(v.configs[ci]):
            if all(cfg.get(name, 0) >= cnt for name, cnt in need.items()):
                return k
        return None

    # ----------------------------------------------------------------------------------- solve

    def solve(self, *, time_limit: float | None, seed: int, workers: int | None,
              progress: Progress = SILENT, params: Mapping[str, object] | None = None) -> int:
        """Runs CP-SAT; returns its status code."""
        self.values = None
        solver = cp_model.CpSolver()
        p = solver.parameters
        if time_limit is not None:
            p.max_time_in_seconds = max(0.01, time_limit)
        p.random_seed = seed
        p.num_workers = workers if workers is not None else 0
        if workers == 1:
            p.interleave_search = False
        if (workers if workers is not None else os.cpu_count()) == 2:
            p.num_full_subsolvers = 2
            p.subsolvers.extend(TWO_WORKER_SUBSOLVERS)
        for k, val in (params or {}).items():
            if isinstance(val, (list, tuple)):  # a repeated field (e.g. subsolvers) is filled, not assigned
                field = getattr(p, k)
                field.clear()
                field.extend(val)
            else:
                setattr(p, k, val)
        cb = _Reporter(self, progress) if progress.enabled else None
        self.solver = solver
        return solve_guarded(solver, self.model, cb)

    @cached_property
    def linear_form(self):  # type: ignore[no-untyped-def]
        """:func:`packer.cpsat.bound.linear_form` of the model, built once (the LP bound and LNS merges share it)."""
        from packer.cpsat.bound import linear_form

        return linear_form(self.model, self.proto_read)

    @cached_property
    def bound_form(self):  # type: ignore[no-untyped-def]
        """:attr:`linear_form` with :attr:`lp_cuts` below its rows: the LP the reported bound solves (the
        LNS reads :attr:`linear_form`, whose rows are the CP-SAT model's)."""
        form = self.linear_form
        if form is None or not self.lp_cuts:
            return form
        import numpy as np
        from scipy.sparse import csr_matrix, vstack

        c, a, bl, bh, lo, hi, obj = form
        cols = [i for idx, _, _ in self.lp_cuts for i in idx]
        vals = [float(k) for _, co, _ in self.lp_cuts for k in co]
        rows = np.repeat(np.arange(len(self.lp_cuts), dtype=np.int64), [len(idx) for idx, _, _ in self.lp_cuts])
        cut = csr_matrix((np.array(vals), (rows, np.array(cols, dtype=np.int64))), shape=(len(self.lp_cuts), a.shape[1]))
        ub = np.array([float(u) for _, _, u in self.lp_cuts])
        return (c, vstack([a, cut], format="csr"), np.concatenate([bl, np.full(len(ub), -np.inf)]),
                np.concatenate([bh, ub]), lo, hi, obj)

    def value(self, var: object) -> int:
        """The value of ``var`` in the best solution (LNS's when it ran, else the last solve's)."""
        if self.values is not None:
            return int(self.values[var.index])  # type: ignore[attr-defined]
        assert self.solver is not None
        return int(self.solver.value(var))  # type: ignore[arg-type]

    def bound(self) -> float:
        """The proven upper bound of the last solve, in objective units."""
        assert self.solver is not None
        return self.solver.best_objective_bound / self.data.scale + self.constant

    def _raw_objective(self, values: Sequence[int]) -> float:
        """The model's (scaled, maximized) objective at ``values`` (one per variable)."""
        obj = self.model.proto.objective
        raw = float(sum(c * values[i] for i, c in zip(obj.vars, obj.coeffs, strict=True)) + obj.offset)
        return raw * obj.scaling_factor if obj.scaling_factor else raw  # a maximization is stored negated

    def objective(self) -> float:
        """The objective of the best solution, in objective units."""
        assert self.solver is not None
        if self.values is not None:
            return self._raw_objective(self.values) / self.data.scale + self.constant
        return self.solver.objective_value / self.data.scale + self.constant

    def placement(self) -> tuple[dict[str, list[Unit]], dict[tuple[str, int], str], set[str]]:
        """The solved placement: request id → units, modes of ``any`` GPUs, ids lost to share packing."""
        return extract(self.data, self.vars, self.value)


class _Reporter(cp_model.CpSolverSolutionCallback):
    def __init__(self, model: CpsatModel, progress: Progress) -> None:
        super().__init__()
        self.model = model
        self.progress = progress
        self.start = time.perf_counter()

    def on_solution_callback(self) -> None:
        """Reports each new solution's objective and bound to the progress printer."""
        s = self.model.data.scale
        self.progress.update(best=self.objective_value / s + self.model.constant,
                             bound=self.best_objective_bound / s + self.model.constant, note="cpsat")
