"""The online placer: one request at a time, in microseconds, with an incrementally kept state.

Public API (everything else in this package is private)::

    from packer.online import OnlinePlacer, POLICIES, TargetWorkload

    placer = OnlinePlacer(inst, policy="packer", target=None, seed=0)
    res = placer.place(request)      # a packer.model.Request (running ones too: see below)
    res.ok, res.units, res.reason    # units: tuple[Unit, ...]; reason: str when not ok
    placer.release("request-id")     # frees its units; False when the id is not placed
    plan = placer.snapshot()         # a SPEC plan (packer.plans.build_plan) of what is placed
    placer.placed_ids()              # ids placed now, in placement order

- ``OnlinePlacer(inst)`` builds the state from the instance's cluster and places its *running*
  requests exactly where they run (``placement``); new requests in ``inst.requests`` are NOT placed
  (use :func:`packer.online.solver.solve` or call ``place`` yourself).
- ``place(req)`` places every unit of ``req`` or none (``min_count`` units at least: it places as
  many as fit up to ``count``); a request that carries ``placement`` is put exactly there
  (``place(req, exact=True)`` is implied). ``place(req, uniforms=(u1, u2))`` feeds the two uniform
  numbers in [0, 1) that the ``random`` policy uses (node pick, device pick); without them the placer
  draws its own from its seeded generator.
- ``release(rid)`` is O(units of the request).
- The state is NumPy arrays, one structure (:class:`packer.online.state.KernelState`); scoring runs
  in Numba kernels (:mod:`packer.online.kernels`, with the rules the trace replay shares in
  :mod:`packer.online.scoring`); numba is imported only by :mod:`packer.online._jit`.

Layout: ``placer.py`` (OnlinePlacer: place, exact placements, release), ``gangs.py`` (the GPU path:
units, node gangs, domain gangs), ``host.py`` (host requests), ``domains.py`` (what both paths share:
domains per level, the policy's domain order, the spread limit, the isolation guard, packer's
rack/pod key), ``shapes.py`` (requests as kernel vectors), ``diagnose.py`` (unplaced reasons, worded
by :mod:`packer.reasons`), ``snapshots.py`` (plans and reading), ``churn.py`` (the batch API),
``reserve.py`` (bid prices from a batch's forecast), ``rollout.py`` (a batch run's fortified rollout
over the known stream, on placer copies: ``OnlinePlacer.fork`` / ``commit``),
``state.py`` (arrays), ``policies.py`` (the policy registry, the target workload, MIG score tables),
``kernels.py`` / ``scoring.py`` / ``_jit.py`` (compiled code).

Policy registry
---------------
``POLICIES`` maps a name to a :class:`~packer.online.policies.PolicyInfo` (its integer code inside
the kernels and a one-line description): the online placer's policies. ``policies.REGISTRY`` holds
every policy of every engine in one code space (also the replay's own ``packer-openb`` and the MIG
replay's ``packer-mig``), and ``policies.resolve(name, engine)`` reads each engine's command-line
names (``packer replay --policy packer`` is ``packer-openb``, ``bestfit`` is ``best-fit``). Pass the name as ``OnlinePlacer(inst, policy=NAME)`` or
``packer solve --solver online --policy NAME``. Names:

- ``packer`` (default): packer's own. MIG: the start that loses the least *placement potential*
  (weighted count of future instances of the target workload that still fit, slot exact), preferring
  GPUs and nodes already in use; shares: tightest GPU, then fullest node; whole GPUs: node with the
  fewest free GPUs; gangs: the tightest domain that fits. Converting an 'any' GPU costs every tenant
  alike (node-isolated ones too). For whole GPUs, nodes of equal key go by the free whole GPUs of their rack, then
  pod (fewest first), so empty racks and pods stay empty for gangs that need one
  (``OnlinePlacer(inst, domain_key=False)`` turns that off; ``churn`` keeps it fixed during a call).
- ``first-fit``: the first node, GPU and start that fit (file order).
- ``best-fit``: traces README §5.8 BestFit (node left with the least free CPU and idle GPU; device
  choice "best").
- ``fgd``: traces README §5.9 FGD (node whose expected fragmentation over the target workload grows
  least, score ⌊100·σ(Δ/1000)⌋; fractional units to the device that minimises the increase). For
  MIG GPUs, a target MIG profile that has no legal free start counts the GPU's idle memory positions
  as fragment (slot exact).
- ``random``, ``dotproduct``, ``gpupacking``, ``gpuclustering``: the README §5.8 baselines (Random,
  DotProd, GpuPacking, GpuClustering), with the normalising constants taken from the instance
  (largest node CPU and largest node GPU milli: 128,000 and 8,000 on openb).

Trace-replay conventions (README §5): one pod = one request. A pod with ``num_gpu`` = k GPUs of
``gpu_milli`` each is ``Request(kind="share", gpu_milli=m, count=k, cpu_milli=cpu/k,
memory_mib=mem/k, locality=Locality(level="node", required=True))`` (or ``kind="gpu"`` for whole
GPUs on full-mode clusters). Node scores use the pod totals (k × per-unit). Units of one share
request always go to distinct GPUs. Ties go to the lower node index: put nodes in the instance in
the tie order you want (e.g. FGD's seeded permutation). A CPU-only pod is a ``host`` request
(packer's extension of SPEC: CPU and memory of one node per unit, no GPU, size 0).

Host requests: each unit goes to a node with enough free CPU and memory (node isolation and spread
as for every unit; a required locality picks a domain that fits as for GPU gangs). ``first-fit`` takes
the first such node, ``random`` a uniform one, every other policy the node with the least idle GPU
milli (nodes without GPUs and busy nodes first, so nodes with free GPUs keep their CPU), then the
least CPU and memory left. They count as work on their node, not as pods; ``churn`` refuses them.

Isolation guard (``packer`` policy only): a request of a node-isolated tenant that would take more
than one empty node and leave more than ``isolation_guard`` (default 1.0) × its size idle on the
nodes it takes is declined with a reason saying so (those GPUs would be lost to every other
tenant). ``OnlinePlacer(inst, isolation_guard=None)`` turns it off; other policies never decline.

Levels: ``gpu`` in locality/spread means one GPU (SPEC), ``node`` a node, other levels come from
``topology.levels``. Gangs with required locality go to the best domain for the policy (packer: the
tightest domain that fits without converting 'any' GPUs, then the tightest that fits), trying up to
8 domains; at level ``node`` the node is chosen by the policy's node score for the whole gang.

``place(req, explain=False)`` skips the failure diagnosis (a short reason instead) for callers that
need the fastest failure path.

Target workload (FGD's typical pods M, also the weights of ``packer``'s MIG potential)::

    TargetWorkload(shares=[(cpu_milli, gpu_milli, num_gpu, prob), ...],
                   mig=[(compute_slices, prob), ...])
    OnlinePlacer(inst, policy="fgd", target=tw)

Without a target, it is derived from the instance's requests (shapes by popularity until 95% of
requests are covered, README §5.7).

Batch API: :meth:`OnlinePlacer.churn` runs a whole array of place/release operations for
single-unit requests inside ONE kernel call (for replays and the churn benchmark); slots still
busy afterwards become requests ``"{shape.id}#{call}.{slot}"`` (``ChurnResult.ids``).

Adding a policy: give it a code in :mod:`packer.online.policies` (``_POLICY_LIST``, with the engines
that run it), its MIG start
table in ``build_mig_tables``, its device keys in ``kernels._dev_keys`` / ``kernels._scan_node``, its
node key in ``kernels._node_key`` and ``kernels._pick_node``, and the same rules in
``tests/online_reference.py``; the reference test then proves the kernels agree.
"""

from packer.online.placer import OnlinePlacer, PlaceResult
from packer.online.policies import POLICIES, PolicyInfo, TargetWorkload

__all__ = ["OnlinePlacer", "POLICIES", "PlaceResult", "PolicyInfo", "TargetWorkload"]
