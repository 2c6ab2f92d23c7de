"""packer's own replay policy ``packer-openb`` (``packer replay --policy packer``): its weights and knobs
(the kernel is PACKER_OPENB in replay.engine.kernels).

The one knob is rho, the CPU-balance weight: the kernel counts a node's CPU surplus as free CPU − rho ×
idle GPU milli, so rho is the CPU that one idle GPU milli should keep beside it. How rho is derived is
:data:`RHO_RULE`:

- ``"typical"``: the typical GPU pod's CPU per GPU milli (:func:`cpu_per_gpu_milli`), CPU-only pods left
  out. What every session up to 20 used.
- ``"competing"``: the CPU that a GPU milli of the workload's demand brings with it, CPU-only pods
  counted, but never more than the cluster can give (:func:`competing_cpu_per_gpu_milli`).
- ``"per_model"``: the same, with the cap taken per GPU model: a GPU milli can count only on the CPU of its
  own node, less the CPU-only demand that lands there (:func:`per_model_cpu_per_gpu_milli`). The kernels
  get one rho per model (:func:`rho_params`).
- ``"pinned"``: per model, the rule "per_model"'s rho for the share of the model's GPUs that pods pinned to
  that model alone will fill, the rule "competing"'s for the rest (:func:`pinned_cpu_per_gpu_milli`).

rho has two roles in the kernel's node score (``kernels._packer_score``), session 23:

1. the balance: surplus = free CPU − rho_b × idle GPU milli after the pod, the CPU a node keeps beyond what
   its idle GPUs should keep beside them. Every pod kind reads it: a CPU-only pod avoids a deficit, a
   fractional pod breaks its last ties by |surplus|, a whole-GPU pod pays for |surplus|;
2. the weight: a whole-GPU (or multi-GPU) pod's node score is FGD's unrounded Δ less |surplus| / rho_w, the
   CPU imbalance converted into the GPU milli it strands, so that the two terms share one unit. No other
   pod kind reads rho_w (their CPU term is a lexicographic tie-break, where a scale changes nothing).

With :data:`RHO_SPLIT` off, rho_b = rho_w = the rule's rho. With it on, rho_b follows :data:`RHO_RULE` and
rho_w follows :data:`RHO_WEIGHT_RULE`; :func:`rho_params` hands the kernel both. Off: session 23 measured the
weight to move the dynamic replay by <= 0.03 and the static one within seed noise; the balance carries rho's
effect (bench/RESULTS_replay.md, session 23). Two diagnostic knobs split the balance by pod kind (both off):
:data:`RHO_CPU_ONLY_RULE` (the balance CPU-only pods read) and :data:`RHO_FRAC_RULE` (the one fractional pods'
tie-break reads); whole-GPU pods then read :data:`RHO_RULE`'s.
"""

from __future__ import annotations

import numpy as np

from packer.replay.openb import Cluster
from packer.replay.protocol import TypicalPods

#: How packer's CPU-balance rho is derived (module docstring): one of RHO_RULES.
RHO_RULE = "typical"
RHO_RULES = ("typical", "competing", "per_model", "pinned")
#: Session 23: the balance rho (RHO_RULE) and the penalty weight (RHO_WEIGHT_RULE) derived apart (docstring).
RHO_SPLIT = False
#: The rule the penalty weight rho_w follows when RHO_SPLIT is on (one of RHO_RULES).
RHO_WEIGHT_RULE = "typical"
#: Session 23, a diagnostic split by pod kind: the balance CPU-only pods read follows this rule (None: off,
#: they read RHO_RULE's like every other pod).
RHO_CPU_ONLY_RULE: str | None = None
#: Session 23, the same for fractional pods (one GPU, < 1000 milli): the balance their last tie-break reads.
RHO_FRAC_RULE: str | None = None


def cpu_per_gpu_milli(tp: TypicalPods) -> float:
    """rho: milli-CPU the typical GPU pod asks per GPU milli (CPU-only shapes left out)."""
    gpu = tp.gpu_milli * tp.num_gpu
    m = gpu > 0
    return float((tp.prob[m] * tp.cpu[m]).sum() / (tp.prob[m] * gpu[m]).sum())


def cpu_only_per_gpu_milli(tp: TypicalPods) -> float:
    """The milli-CPU the typical CPU-only pods ask per GPU milli of the typical GPU pods' demand: the CPU that
    CPU-only pods take, on average, for each GPU milli that GPU pods fill."""
    gpu = (tp.gpu_milli * tp.num_gpu).astype(np.float64)
    return float((tp.prob[gpu == 0] * tp.cpu[gpu == 0]).sum() / (tp.prob * gpu).sum())


def competing_cpu_per_gpu_milli(tp: TypicalPods, cluster: Cluster) -> float:
    """rho under the rule "competing": the CPU an idle GPU milli should keep beside it.

    A GPU milli that GPU pods fill brings a = cpu_per_gpu_milli CPU with it on its node, and the CPU-only pods
    that arrive with that demand take b = cpu_only_per_gpu_milli more somewhere. Keeping a + b beside each idle
    GPU milli leaves room for both where they compete for the same CPU. But the cluster holds only C / G CPU
    per GPU milli (C: all nodes' CPU, G: its GPU milli), and once the GPUs are full the CPU-only pods hold b of
    it, so a GPU milli can count on at most C / G − b. rho = min(a + b, C / G − b), never below a (the GPU
    pods' own need, which no balance can go under). Where CPU is plentiful and CPU-only pods are many, rho is
    a + b; where CPU-only pods would take what GPU pods need, it falls back to a.
    """
    a = cpu_per_gpu_milli(tp)
    b = cpu_only_per_gpu_milli(tp)
    supply = float(cluster.cpu.sum()) / max(cluster.capacity_milli, 1) - b
    return max(a, min(a + b, supply))


def per_model_cpu_per_gpu_milli(tp: TypicalPods, cluster: Cluster) -> np.ndarray:
    """rho per GPU model (index as ``cluster.models``) under the rule "per_model".

    The rule "competing" caps rho at C / G − b, the CPU per GPU milli that the whole cluster has left once
    the GPUs are full and the CPU-only pods hold theirs. But an idle GPU milli can keep only the CPU of its
    own node beside it: a model whose nodes hold less CPU per GPU milli than the cluster (openb's G2: 12.0
    against 17.2) reads as short of CPU under any rho above its own C_m / G_m, whatever the balance.

    So the cap is taken where the CPU is. With the GPUs full (GPU pods take a per GPU milli), node n has
    spare CPU s_n = max(0, C_n − a G_n). The CPU-only demand, B = b G, goes to spare CPU; taken in proportion
    to it, every node keeps the same share f = max(0, 1 − B / S) of its spare (S = Σ s_n, GPU-less nodes
    included). A GPU milli of model m can then count on cap_m = a + f s_m / G_m (s_m, G_m: the model's spare
    and GPU milli), and rho_m = max(a, min(a + b, cap_m)): the need a + b of the rule "competing", capped
    by what the model's own nodes keep, never below a. Where no node is short of CPU or without GPUs and no
    cap reaches a + b, the GPU-weighted mean of cap_m is the cluster-wide cap C / G − b: the same CPU, put
    where it is. (The CPU-only pods' share on GPU-less nodes stays there, so with such nodes the mean is
    lower.) The openb cluster has no GPU-less node and its nodes of one model are alike.
    """
    a = cpu_per_gpu_milli(tp)
    b = cpu_only_per_gpu_milli(tp)
    g_milli = 1000.0 * cluster.gpus.astype(np.float64)
    spare = np.maximum(0.0, cluster.cpu.astype(np.float64) - a * g_milli)
    big_s = float(spare.sum())
    f = max(0.0, 1.0 - b * float(g_milli.sum()) / big_s) if big_s > 0 else 0.0
    out = np.full(len(cluster.models), a, np.float64)
    for m in range(len(cluster.models)):
        on = cluster.model == m
        gm = float(g_milli[on].sum())
        if gm > 0:
            out[m] = max(a, min(a + b, a + f * float(spare[on].sum()) / gm))
    return out


def pinned_share(tp: TypicalPods, cluster: Cluster) -> np.ndarray:
    """Per GPU model, the share of its GPU milli that the typical pods pinned to that model alone fill once the
    cluster's GPUs are full: min(1, P_m G / G_m), P_m the pinned pods' share of the typical GPU demand."""
    gpu = (tp.gpu_milli * tp.num_gpu).astype(np.float64)
    demand = float((tp.prob * gpu).sum())
    g_all = float(cluster.capacity_milli)
    out = np.zeros(len(cluster.models), np.float64)
    for m in range(len(cluster.models)):
        g_m = 1000.0 * float(cluster.gpus[cluster.model == m].sum())
        if g_m > 0 and demand > 0:
            p_m = float((tp.prob * gpu)[tp.spec == (1 << m)].sum()) / demand
            out[m] = min(1.0, p_m * g_all / g_m)
    return out


def pinned_cpu_per_gpu_milli(tp: TypicalPods, cluster: Cluster) -> np.ndarray:
    """rho per GPU model under the rule "pinned": pi_m × rho_m(per_model) + (1 − pi_m) × rho(competing).

    The pods pinned to model m alone can take CPU only on m's nodes, so the share pi_m of m's GPUs they fill
    (:func:`pinned_share`) is balanced against m's own CPU, as the rule "per_model" does; the other GPUs of m
    take pods that may go to any model, whose CPU the whole cluster supplies, as the rule "competing" counts
    it. Without pinned pods this is the rule "competing" on every model.
    """
    pi = pinned_share(tp, cluster)
    return pi * per_model_cpu_per_gpu_milli(tp, cluster) + (1.0 - pi) * competing_cpu_per_gpu_milli(tp, cluster)


def rho_of(tp: TypicalPods, cluster: Cluster | None = None, rule: str | None = None) -> float:
    """The cluster-wide rho under ``rule`` (default :data:`RHO_RULE`); "competing" and "per_model" need the
    cluster (without one: "typical"). Under "per_model" this is the rho of nodes without a GPU model (it
    is the rule "competing"'s); :func:`rho_params` holds the rho per model."""
    rule = RHO_RULE if rule is None else rule
    if rule not in RHO_RULES:
        raise ValueError(f"unknown rho rule {rule!r}; known: {', '.join(RHO_RULES)}")
    if rule in ("competing", "per_model", "pinned") and cluster is not None:
        return competing_cpu_per_gpu_milli(tp, cluster)
    return cpu_per_gpu_milli(tp)


def _rule_params(tp: TypicalPods, cluster: Cluster | None, rule: str) -> tuple[float, ...]:
    """One rho under ``rule`` as the kernel reads it: ``(rho, k, rho_0, ..., rho_k-1)``, k = 0 without a rho per
    GPU model."""
    rho = rho_of(tp, cluster, rule)
    if rule in ("per_model", "pinned") and cluster is not None:
        per = (per_model_cpu_per_gpu_milli if rule == "per_model" else pinned_cpu_per_gpu_milli)(tp, cluster)
        return (rho, float(len(per)), *(float(x) for x in per))
    return (rho, 0.0)


def rho_params(tp: TypicalPods, cluster: Cluster | None = None, rule: str | None = None,
               split: bool | None = None, weight_rule: str | None = None,
               cpu_only_rule: str | None = None, frac_rule: str | None = None) -> tuple[float, ...]:
    """The packer kernel's knobs under ``rule`` (default :data:`RHO_RULE`): ``(rho,)``, or under "per_model"
    and "pinned" with a cluster ``(rho, k, rho_0, ..., rho_k-1)``, one rho per GPU model (the kernel's
    ``_node_rho``). With ``split`` (default :data:`RHO_SPLIT`) the penalty weight under ``weight_rule``
    (default :data:`RHO_WEIGHT_RULE`) follows in the same form: ``(rho, k, rho_0 .. rho_k-1, w, kw, w_0 ..
    w_kw-1)`` (the kernel's ``_node_weight``; w > 0 always, a zero there reads "no weight: use rho"). With
    ``cpu_only_rule`` (default :data:`RHO_CPU_ONLY_RULE`) a third block, the balance CPU-only pods read,
    follows the weight's (which is then the balance rule's unless split; the kernel's
    ``_node_cpu_only_rho``). With ``frac_rule`` (default :data:`RHO_FRAC_RULE`) a fourth block, the balance
    fractional pods read, follows (the CPU-only block is then the balance rule's unless set)."""
    rule = RHO_RULE if rule is None else rule
    split = RHO_SPLIT if split is None else split
    cpu_only_rule = RHO_CPU_ONLY_RULE if cpu_only_rule is None else cpu_only_rule
    frac_rule = RHO_FRAC_RULE if frac_rule is None else frac_rule
    bal = _rule_params(tp, cluster, rule)
    for r in (weight_rule, cpu_only_rule, frac_rule):
        if r is not None and r not in RHO_RULES:
            raise ValueError(f"unknown rho rule {r!r}; known: {', '.join(RHO_RULES)}")
    if split or cpu_only_rule is not None or frac_rule is not None:
        weight_rule = (RHO_WEIGHT_RULE if weight_rule is None else weight_rule) if split else rule
        out = bal + _rule_params(tp, cluster, weight_rule)
        if cpu_only_rule is not None or frac_rule is not None:
            out += _rule_params(tp, cluster, cpu_only_rule or rule)
        if frac_rule is not None:
            out += _rule_params(tp, cluster, frac_rule)
        return out
    return bal if bal[1] > 0 else bal[:1]


def packer_settings(tp: TypicalPods, cluster: Cluster | None = None) -> tuple[np.ndarray, tuple[float, ...]]:
    """Typical-pod weights (FGD's M) and knobs (rho, :func:`rho_of`) for the packer policy; derived from the
    workload's own typical pods (and, by rules "competing" and "per_model", the cluster's CPU), nothing
    fitted to a trace."""
    return tp.prob.copy(), rho_params(tp, cluster)
