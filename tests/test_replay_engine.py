"""Tests that the fast replay engine places every pod exactly as the slow reference does."""

from __future__ import annotations

import numpy as np
import pytest
import replay_reference as ref

from packer.replay.openb import Cluster, Pods
from packer.replay.policy import packer_settings
from packer.replay.protocol import typical_pods
from packer.replay.runner import POLICY_NAMES


def _random_case(seed: int) -> tuple[Cluster, Pods, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 9))
    gpus = rng.choice([0, 1, 2, 4, 8], size=n, p=[0.1, 0.2, 0.3, 0.2, 0.2])
    gpus[0] = max(gpus[0], 2)
    cluster = Cluster(
        names=tuple(f"n{i}" for i in range(n)), cpu=rng.choice([8000, 16000, 32000, 64000], size=n),
        mem=rng.choice([32768, 65536, 131072], size=n), gpus=gpus.astype(np.int64),
        model=np.where(gpus > 0, rng.integers(0, 3, size=n), -1).astype(np.int64), models=("A", "B", "C"),
    )
    m = int(rng.integers(20, 60))
    kind = rng.choice(4, size=m, p=[0.15, 0.45, 0.3, 0.1])  # cpu-only, share, whole, multi
    num = np.where(kind == 0, 0, np.where(kind == 3, rng.choice([2, 4], size=m), 1))
    milli = np.where(kind == 0, 0, np.where(kind == 1, rng.choice([110, 230, 320, 470, 650, 810], size=m), 1000))
    spec = np.where((kind > 0) & (rng.random(m) < 0.2), rng.integers(1, 8, size=m), 0)
    # a few repeated shapes so that the typical pods are not all singletons
    cpu = rng.choice([1000, 2000, 4000, 6000, 12000], size=m)
    pods = Pods(names=tuple(f"p{i}" for i in range(m)), cpu=cpu.astype(np.int64),
                mem=rng.choice([1024, 4096, 16384], size=m).astype(np.int64), num_gpu=num.astype(np.int64),
                gpu_milli=milli.astype(np.int64), spec=spec.astype(np.int64))
    rank = rng.permutation(n).astype(np.int64)
    rand = rng.random((m, 2))
    return cluster, pods, rank, rand


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_engine_matches_reference(policy: str) -> None:
    """Tests that every policy places each pod on the same node and devices as the reference."""
    from packer.replay.engine import replay

    for seed in range(12):
        cluster, pods, rank, rand = _random_case(seed)
        tp = typical_pods(pods)
        pk_w, rho = packer_settings(tp)
        run = replay(policy, node_cpu=cluster.cpu, node_mem=cluster.mem, node_gpus=cluster.gpus,
                     node_model=cluster.model, node_rank=rank, pod_cpu=pods.cpu, pod_mem=pods.mem,
                     pod_num=pods.num_gpu, pod_milli=pods.gpu_milli, pod_spec=pods.spec, rand=rand,
                     tp_cpu=tp.cpu, tp_milli=tp.gpu_milli, tp_num=tp.num_gpu, tp_spec=tp.spec,
                     tp_prob=tp.prob, pk_weights=pk_w, rho=rho)
        nodes, plist, typical = ref.reference_inputs(cluster, pods, tp)
        want = ref.replay(policy, nodes, plist, rank.tolist(), [tuple(r) for r in rand.tolist()], typical,
                          rho=rho)
        got = list(zip(run.node.tolist(), run.devmask.tolist(), strict=True))
        assert got == want, f"{policy} case {seed}: first difference at pod " \
            f"{next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)}"
        # the log agrees with the placements
        placed = run.node >= 0
        assert run.used[-1] == int((pods.gpu_demand * placed).sum())
        assert run.arrived[-1] == int(pods.gpu_demand.sum())
        frag = sum(ref.node_frag(st, typical) for st in _final_states(nodes, plist, want))
        assert run.frag[-1] == pytest.approx(frag, rel=1e-9, abs=1e-6)


def _final_states(nodes, plist, placements):  # type: ignore[no-untyped-def]
    states = [ref.NodeState(n["cpu"], n["mem"], n["model"], [1000] * n["gpus"]) for n in nodes]
    for pod, (n, mask) in zip(plist, placements, strict=True):
        if n < 0:
            continue
        st = states[n]
        st.cpu -= pod["cpu"]
        st.mem -= pod["mem"]
        for d in range(len(st.idle)):
            if mask >> d & 1:
                st.idle[d] -= pod["milli"]
    return states


@pytest.mark.parametrize(("cli", "registry"), [("packer", "packer-openb"), ("bestfit", "best-fit"),
                                               ("firstfit", "first-fit")])
def test_registry_names_are_the_replay_names(cli: str, registry: str) -> None:
    """Tests that the replay's command-line names and the policy registry's names run the same policy."""
    from packer.replay.engine import replay
    from packer.replay.engine.engine import policy_code

    assert policy_code(cli) == policy_code(registry)
    cluster, pods, rank, rand = _random_case(3)
    tp = typical_pods(pods)
    pk_w, rho = packer_settings(tp)
    runs = [replay(name, node_cpu=cluster.cpu, node_mem=cluster.mem, node_gpus=cluster.gpus, node_model=cluster.model,
                   node_rank=rank, pod_cpu=pods.cpu, pod_mem=pods.mem, pod_num=pods.num_gpu, pod_milli=pods.gpu_milli,
                   pod_spec=pods.spec, rand=rand, tp_cpu=tp.cpu, tp_milli=tp.gpu_milli, tp_num=tp.num_gpu,
                   tp_spec=tp.spec, tp_prob=tp.prob, pk_weights=pk_w, rho=rho) for name in (cli, registry)]
    assert runs[0].node.tolist() == runs[1].node.tolist() and runs[0].devmask.tolist() == runs[1].devmask.tolist()
    with pytest.raises(ValueError, match="unknown policy"):
        policy_code("packer-mig")  # the MIG replay's policy does not run on the fractional kernels
