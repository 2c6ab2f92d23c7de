"""Slow, obviously correct reference of the FGD replay protocol and its policies (pure Python).

It restates the rules of traces README §5.4-5.9 directly: every candidate node's fragmentation is
recomputed from scratch, every score is computed straight from its formula, and ties go to the lower
seeded node rank. The fast engine (packer.replay.engine) must place every pod exactly as this does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MAX_CPU = 128000.0
MAX_GPU = 8000.0


@dataclass
class NodeState:
    cpu: int
    mem: int
    model: int
    idle: list[int]
    tags: set[str] = field(default_factory=set)


def node_frag(st: NodeState, typical: list[tuple[int, int, int, int, float]]) -> float:
    """Σ_m p_m F_n(m), README §5.7, for typical pods (cpu, milli, num, spec, p)."""
    if not st.idle:
        return 0.0  # no GPU, nothing to fragment
    g = sum(st.idle)
    total = 0.0
    for cpu, milli, num, spec, p in typical:
        if milli == 0:
            f = g  # a CPU-only pod cannot use idle GPU
        elif spec != 0 and not (spec >> st.model) & 1:
            f = g  # no access to this model
        elif sum(1 for x in st.idle if x >= milli) < num:
            f = g  # lacks GPU
        elif st.cpu < cpu:
            f = g  # lacks CPU
        else:
            f = sum(x for x in st.idle if x < milli)
        total += p * f
    return total


def feasible(st: NodeState, pod: dict) -> bool:
    if st.cpu < pod["cpu"] or st.mem < pod["mem"]:
        return False
    if pod["milli"] == 0:
        return True
    if not st.idle:
        return False
    if pod["spec"] and not (pod["spec"] >> st.model) & 1:
        return False
    return sum(1 for x in st.idle if x >= pod["milli"]) >= pod["num"]


def is_frac(pod: dict) -> bool:
    return pod["num"] == 1 and 0 < pod["milli"] < 1000


def after_state(st: NodeState, pod: dict, device: int | None) -> NodeState:
    """The node after placing ``pod`` (fractional: on ``device``; whole: lowest free devices)."""
    idle = list(st.idle)
    if pod["milli"] > 0:
        if is_frac(pod):
            idle[device] -= pod["milli"]  # type: ignore[index]
        else:
            for d in [d for d, x in enumerate(idle) if x == 1000][: pod["num"]]:
                idle[d] -= pod["milli"]
    return NodeState(st.cpu - pod["cpu"], st.mem - pod["mem"], st.model, idle, set(st.tags))


def fgd_score(st: NodeState, pod: dict, typical) -> tuple[int, int | None]:  # type: ignore[no-untyped-def]
    """FGD's integer score ⌊100 σ(Δ/1000)⌋ and its device (fractional: best, lowest on ties)."""
    before = node_frag(st, typical)

    def sc(after: NodeState) -> int:
        delta = before - node_frag(after, typical)
        return int(math.floor(100.0 / (1.0 + math.exp(-delta / 1000.0))))

    if not is_frac(pod):
        return sc(after_state(st, pod, None)), None
    best, best_d = None, None
    for d, x in enumerate(st.idle):
        if x >= pod["milli"]:
            s = sc(after_state(st, pod, d))
            if best is None or s > best:
                best, best_d = s, d
    assert best is not None
    return best, best_d


def best_device(st: NodeState, milli: int) -> int:
    fit = [d for d, x in enumerate(st.idle) if x >= milli]
    return min(fit, key=lambda d: (st.idle[d], d))


def tag(pod: dict) -> str:
    return "share" if is_frac(pod) else f"{pod['num']}-gpu"


def packing_score(st: NodeState, pod: dict) -> int:
    n_free = sum(1 for x in st.idle if x == 1000)
    if n_free == len(st.idle):
        return max(33 - n_free, n_free)
    order = sorted(range(len(st.idle)), key=lambda d: (st.idle[d], d))
    taken = [d for d in order if st.idle[d] >= pod["milli"]][: pod["num"]]
    taken_free = sum(1 for d in taken if st.idle[d] == 1000)
    if taken_free:
        return max(50 - taken_free, 33)
    return max(100 - sum(100 * st.idle[d] // 1000 for d in taken) // 10, 50)


def packer_key(st: NodeState, pod: dict, typical, rho: float) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """packer's lexicographic score (see kernels._packer_score): FGD's score, then its own tie-breaks.
    ``rho`` balances the node's CPU against its idle GPU milli and converts the imbalance into GPU milli for
    whole-GPU pods."""
    fg = float(fgd_score(st, pod, typical)[0])
    surplus = (st.cpu - pod["cpu"]) - rho * (sum(st.idle) - pod["num"] * pod["milli"])
    if pod["milli"] == 0:  # avoid leaving a CPU deficit
        return (fg, min(surplus, 0.0), 0.0)
    if is_frac(pod):  # tightest hole, then the CPU left as close as possible to what the idle GPUs will need
        hole = st.idle[best_device(st, pod["milli"])] - pod["milli"]
        return (fg, -float(hole), -abs(surplus))
    # whole / multi-GPU: FGD's unrounded Δ (fragmentation before − after) less the GPU milli the CPU
    # imbalance left strands (|surplus| / rho), both in GPU milli
    after = after_state(st, pod, None)
    delta = node_frag(st, typical) - node_frag(after, typical)
    return (fg, delta - abs(surplus) / rho if rho > 0 else delta, 0.0)


def score_nodes(policy: str, cands: list[int], nodes: list[NodeState], pod: dict, typical,  # type: ignore[no-untyped-def]
                rho: float):
    """Score of every candidate (a tuple; higher wins) and FGD's device per candidate."""
    scores, devs = [], []
    for n in cands:
        st = nodes[n]
        dev = None
        gi = sum(st.idle)
        if policy == "dotproduct":
            dot = (st.cpu / MAX_CPU) * (pod["cpu"] / MAX_CPU) + (gi / MAX_GPU) * (pod["num"] * pod["milli"] / MAX_GPU)
            s = (float(math.floor(100.0 * (1.0 - dot / 2.0))),)
        elif policy == "gpuclustering":
            if pod["milli"] == 0:
                s = (0.0,)
            else:
                base = 25 * (8000 - gi) // 8000
                t = tag(pod)
                if not st.tags:
                    s = (float(base + 25),)
                elif st.tags == {t}:
                    s = (float(base + 75),)
                elif t in st.tags:
                    s = (float(base + 50),)
                else:
                    s = (float(base),)
        elif policy == "gpupacking":
            s = (float(packing_score(st, pod)) if pod["milli"] > 0 else 0.0,)
        elif policy == "bestfit":
            x = 0.5 * (st.cpu - pod["cpu"]) / MAX_CPU + 0.5 * (gi - pod["num"] * pod["milli"]) / MAX_GPU
            s = (float(math.floor(100.0 * (1.0 - x))),)
        elif policy == "fgd":
            fg, dev = fgd_score(st, pod, typical)
            s = (float(fg),)
        elif policy == "packer":
            s = packer_key(st, pod, typical, rho)
        elif policy == "firstfit":
            s = (0.0,)
        else:
            raise ValueError(policy)
        scores.append(s)
        devs.append(dev)
    if policy == "bestfit":
        raw = [int(s[0]) for s in scores]
        lo, hi = min(raw), max(raw)
        scores = [(float((r - lo) * 100 // (hi - lo)) if hi > lo else 0.0,) for r in raw]
    return scores, devs


def replay(policy: str, nodes_in: list[dict], pods: list[dict], rank: list[int], rand: list[tuple[float, float]],
           typical: list[tuple[int, int, int, int, float]], rho: float = 0.0) -> list[tuple[int, int]]:
    """Places ``pods`` one at a time; returns (node, device bitmask) per pod, (-1, 0) when failed.

    nodes_in: dicts cpu, mem, gpus, model; pods: dicts cpu, mem, num, milli, spec. ``rho``: packer's CPU-balance
    weight, cluster wide.
    """
    nodes = [NodeState(n["cpu"], n["mem"], n["model"], [1000] * n["gpus"]) for n in nodes_in]
    out = []
    for i, pod in enumerate(pods):
        cands = [n for n in range(len(nodes)) if feasible(nodes[n], pod)]
        if not cands:
            out.append((-1, 0))
            continue
        fgd_dev = None
        if len(cands) == 1:
            chosen = cands[0]
            if policy == "fgd":
                _, fgd_dev = fgd_score(nodes[chosen], pod, typical)
        elif policy == "random":
            chosen = cands[int(math.floor(rand[i][0] * len(cands)))]
        else:
            scores, devs = score_nodes(policy, cands, nodes, pod, typical, rho)
            j = max(range(len(cands)), key=lambda j: (scores[j], -rank[cands[j]]))
            chosen, fgd_dev = cands[j], devs[j]
        st = nodes[chosen]
        mask = 0
        if pod["milli"] > 0:
            if is_frac(pod):
                if policy == "random":
                    fit = [d for d, x in enumerate(st.idle) if x >= pod["milli"]]
                    d = fit[int(math.floor(rand[i][1] * len(fit)))]
                elif policy == "fgd":
                    d = fgd_dev
                else:
                    d = best_device(st, pod["milli"])
                new = after_state(st, pod, d)
                mask = 1 << d  # type: ignore[operator]
            else:
                new = after_state(st, pod, None)
                for d in range(len(st.idle)):
                    if st.idle[d] == 1000 and new.idle[d] != 1000:
                        mask |= 1 << d
            new.tags.add(tag(pod))
        else:
            new = after_state(st, pod, None)
        nodes[chosen] = new
        out.append((chosen, mask))
    return out


def reference_inputs(cluster, pods, tp):  # type: ignore[no-untyped-def]
    """The engine's arrays (a Cluster, a pod list, its TypicalPods) as :func:`replay` takes them:
    (nodes, pods, typical pods)."""
    nodes = [dict(cpu=int(cluster.cpu[i]), mem=int(cluster.mem[i]), gpus=int(cluster.gpus[i]),
                  model=int(cluster.model[i])) for i in range(cluster.num_nodes)]
    plist = [dict(cpu=int(pods.cpu[i]), mem=int(pods.mem[i]), num=int(pods.num_gpu[i]),
                  milli=int(pods.gpu_milli[i]), spec=int(pods.spec[i])) for i in range(len(pods))]
    typical = list(zip(tp.cpu.tolist(), tp.gpu_milli.tolist(), tp.num_gpu.tolist(), tp.spec.tolist(),
                       tp.prob.tolist(), strict=True))
    return nodes, plist, typical


def engine_kwargs(cluster, pods, rank, rand, tp) -> dict:  # type: ignore[no-untyped-def]
    """The keyword arguments of :func:`packer.replay.engine.replay` for the same case (the typical pods'
    probabilities as the packer policy's weights)."""
    return dict(node_cpu=cluster.cpu, node_mem=cluster.mem, node_gpus=cluster.gpus, node_model=cluster.model,
                node_rank=rank, pod_cpu=pods.cpu, pod_mem=pods.mem, pod_num=pods.num_gpu, pod_milli=pods.gpu_milli,
                pod_spec=pods.spec, rand=rand, tp_cpu=tp.cpu, tp_milli=tp.gpu_milli, tp_num=tp.num_gpu,
                tp_spec=tp.spec, tp_prob=tp.prob, pk_weights=tp.prob)
