"""Tests of the rebalancer behind the deferral replay's hook: legal migrations, the budget, no-op at 0."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packer.replay.deferral import ClusterView, DeferralStream, Move, replay_deferral
from packer.replay.openb import NEVER, Cluster, Pods
from packer.replay.rebalance import Rebalancer, replay_dynamic


def _cluster(gpus: list[int], cpu: list[int], models: list[int] | None = None) -> Cluster:
    n = len(gpus)
    model = np.array(models if models is not None else [0] * n, np.int64)
    return Cluster(names=tuple(f"n{i}" for i in range(n)), cpu=np.array(cpu, np.int64),
                   mem=np.full(n, 64 * 1024, np.int64), gpus=np.array(gpus, np.int64), model=model,
                   models=("A", "B"))


def _pods(rows: list[tuple[int, int, int, int, int, int, int]]) -> Pods:
    """rows: (cpu, mem, num_gpu, gpu_milli, spec, created, deleted)."""
    a = np.array(rows, np.int64).reshape(-1, 7)
    m = len(a)
    return Pods(names=tuple(f"p{i}" for i in range(m)), cpu=a[:, 0], mem=a[:, 1], num_gpu=a[:, 2],
                gpu_milli=a[:, 3], spec=a[:, 4], created=a[:, 5], deleted=a[:, 6])


def _stream(cluster: Cluster, pods: Pods) -> DeferralStream:
    dur = np.where(pods.deleted == NEVER, np.inf, pods.deleted - pods.created).astype(np.float64)
    arr = pods.created.astype(np.float64)
    return DeferralStream(seed=0, pods=pods, arrival=arr, duration=dur, compression=1.0,
                          node_rank=np.arange(cluster.num_nodes), rand=np.zeros((len(pods), 2)),
                          horizon=float(arr.max()))


def _recount(cluster: Cluster, pods: Pods, running: dict[int, tuple[int, int]]) -> tuple[list, list, list]:
    """Free CPU, free memory and idle milli per device, recounted in pure Python from the placements."""
    cpu = [int(c) for c in cluster.cpu]
    mem = [int(m) for m in cluster.mem]
    idle = [[1000] * int(g) for g in cluster.gpus]
    for i, (n, mask) in running.items():
        cpu[n] -= int(pods.cpu[i])
        mem[n] -= int(pods.mem[i])
        devs = [d for d in range(8) if mask >> d & 1]
        assert len(devs) == (int(pods.num_gpu[i]) if pods.gpu_milli[i] > 0 else 0), f"pod {i}: mask {mask}"
        for d in devs:
            assert d < len(idle[n]), f"pod {i} on a device node {n} does not have"
            idle[n][d] -= int(pods.gpu_milli[i])
    return cpu, mem, idle


def _fits(pods: Pods, i: int, cluster: Cluster, n: int, cpu: list, mem: list, idle: list) -> bool:
    spec, model = int(pods.spec[i]), int(cluster.model[n])
    if pods.cpu[i] > cpu[n] or pods.mem[i] > mem[n]:
        return False
    if pods.gpu_milli[i] == 0:
        return True
    if spec and not (model >= 0 and spec >> model & 1):
        return False
    return sum(1 for x in idle[n] if x >= pods.gpu_milli[i]) >= pods.num_gpu[i]


class _Checked:
    """Wraps a Rebalancer: at every call recounts the state in pure Python and checks it, and replays the
    moves it returns make-before-break on that recount (the destination must hold the pod first)."""

    def __init__(self, cluster: Cluster, inner: Rebalancer, once: bool = True) -> None:
        self.cluster, self.inner, self.once = cluster, inner, once  # once: no node is both a source and a target
        self.pending: list[Move] = []
        self.per_call: list[int] = []

    def __call__(self, view: ClusterView) -> list[Move] | None:
        c, p = self.cluster, view.pods
        cpu, mem, idle = _recount(c, p, view.running)
        assert all(x >= 0 for x in cpu) and all(x >= 0 for x in mem)
        assert all(x >= 0 for row in idle for x in row)
        assert cpu == view.free_cpu.tolist() and mem == view.free_mem.tolist()
        assert all(idle[n] == view.idle[n, :len(idle[n])].tolist() for n in range(c.num_nodes))
        for mv in self.pending:  # the moves of the last call landed where asked
            if mv.pod in view.running:
                assert view.running[mv.pod][0] == mv.node
        moves = list(self.inner(view) or ())
        self.per_call.append(len(moves))
        touched = [view.running[mv.pod][0] for mv in moves] + [mv.node for mv in moves]
        if self.once:
            assert len({mv.node for mv in moves}) == len(moves) and not {mv.node for mv in moves} & set(touched[:len(moves)])
        for mv in moves:  # make before break on the recount
            i = mv.pod
            src, mask = view.running[i]
            assert mv.node != src
            assert _fits(p, i, c, mv.node, cpu, mem, idle), f"move {mv} does not fit its destination"
            cpu[mv.node] -= int(p.cpu[i])
            mem[mv.node] -= int(p.mem[i])
            take = [d for d in range(len(idle[mv.node])) if idle[mv.node][d] >= p.gpu_milli[i]]
            for d in (take[:int(p.num_gpu[i])] if p.gpu_milli[i] > 0 else []):
                idle[mv.node][d] -= int(p.gpu_milli[i])
            cpu[src] += int(p.cpu[i])
            mem[src] += int(p.mem[i])
            for d in range(8):
                if mask >> d & 1:
                    idle[src][d] += int(p.gpu_milli[i])
        self.pending = moves
        return moves


def test_a_migration_lets_a_waiting_pod_start() -> None:
    """Tests the hand case: moving a half-GPU pod next to another frees a whole GPU for a waiting pod."""
    cluster = _cluster([1, 1], [64000, 128000])
    # firstfit: p0 (500) on n0; p1 (too much CPU for n0) on n1; p2 needs a whole GPU and waits
    pods = _pods([(1000, 1, 1, 500, 0, 0, 100), (64000, 1, 1, 500, 0, 1, 100), (1000, 1, 1, 1000, 0, 2, 100),
                  (1000, 1, 0, 0, 0, 4, 5), (1000, 1, 0, 0, 0, 10, 11)])
    st_ = _stream(cluster, pods)
    plain = replay_deferral(cluster, pods, "firstfit", 0, stream=st_)
    assert plain["waiting_at_end"] == 1
    hook = _Checked(cluster, Rebalancer(cluster, budget=1, per_call=4))
    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=4)
    assert r["moves_applied"] == 1 and r["pods_migrated"] == 1 and r["moves_refused"] == 0
    assert r["waiting_at_end"] == 0 and r["final_allocation_pct"] == 100.0
    assert hook.inner.log[0][1:] == (0, 1)  # p0 went to n1
    assert r["time_avg_allocation_pct"] > plain["time_avg_allocation_pct"]


def test_no_move_pays_less_than_a_gpu() -> None:
    """Tests that a migration that would start less than min_gain_per_move GPU milli is not made."""
    cluster = _cluster([1, 1], [64000, 128000])
    pods = _pods([(1000, 1, 1, 500, 0, 0, 100), (64000, 1, 1, 500, 0, 1, 100), (1000, 1, 1, 1000, 0, 2, 100),
                  (1000, 1, 0, 0, 0, 4, 5)])
    st_ = _stream(cluster, pods)
    hook = Rebalancer(cluster, budget=5, per_call=4, min_gain_per_move=1001)
    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=4)
    assert r["moves_applied"] == 0 and r["waiting_at_end"] == 1


def _random_case(rng: np.random.Generator, n_nodes: int, n_pods: int) -> tuple[Cluster, Pods]:
    cluster = _cluster(rng.choice([1, 2, 4, 8], size=n_nodes).tolist(),
                       rng.choice([8000, 16000, 32000], size=n_nodes).tolist(),
                       rng.choice([0, 1], size=n_nodes).tolist())
    kind = rng.choice(4, size=n_pods)  # cpu-only, fractional, one whole GPU, several whole GPUs
    num = np.select([kind == 0, kind == 3], [0, rng.choice([2, 4], size=n_pods)], 1)
    milli = np.select([kind == 0, kind == 1], [0, rng.choice([200, 300, 500, 700], size=n_pods)], 1000)
    spec = rng.choice([0, 0, 1, 2], size=n_pods)
    created = np.sort(rng.integers(0, 200, size=n_pods))
    deleted = np.where(rng.random(n_pods) < 0.3, NEVER, created + rng.integers(5, 150, size=n_pods))
    rows = list(zip(rng.choice([500, 2000, 6000], size=n_pods).tolist(), rng.choice([1, 4096], size=n_pods).tolist(),
                    num.tolist(), milli.tolist(), spec.tolist(), created.tolist(), deleted.tolist(), strict=True))
    return cluster, _pods(rows)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_nodes=st.integers(2, 6), n_pods=st.integers(5, 60),
       budget=st.integers(0, 12), per_call=st.integers(1, 5), every=st.integers(1, 4),
       policy=st.sampled_from(["fgd", "packer", "bestfit", "firstfit"]))
def test_every_migration_is_legal_and_within_budget(seed: int, n_nodes: int, n_pods: int, budget: int, per_call: int,
                                                   every: int, policy: str) -> None:
    """Tests on random clusters and streams: every state the replay passes through (recounted in pure
    Python) respects CPU, memory and device capacity, every move fits its destination before its source
    releases it, lands where asked, and the moves honour the per-call and whole-run budgets."""
    cluster, pods = _random_case(np.random.default_rng(seed), n_nodes, n_pods)
    st_ = _stream(cluster, pods)
    hook = _Checked(cluster, Rebalancer(cluster, budget=budget, per_call=per_call, min_gain_per_move=1))
    r = replay_deferral(cluster, pods, policy, 0, stream=st_, rebalance=hook, rebalance_every=every,
                        max_moves=per_call)
    assert r["moves_refused"] == 0
    assert r["moves_applied"] == hook.inner.issued <= budget
    assert max(hook.per_call, default=0) <= per_call
    assert r["pods_migrated"] <= r["moves_applied"]
    cpu, mem, idle = _recount(cluster, pods, {})  # the empty cluster recounts to its capacity
    assert cpu == cluster.cpu.tolist() and all(len(row) == g for row, g in zip(idle, cluster.gpus, strict=True))


@pytest.mark.parametrize("policy", ["fgd", "packer"])
def test_zero_moves_is_the_plain_deferral_run(policy: str) -> None:
    """Tests that with max_moves=0 (or no calls) the run equals the plain deferral run exactly."""
    for seed in range(4):
        cluster, pods = _random_case(np.random.default_rng(seed), 4, 50)
        st_ = _stream(cluster, pods)
        plain = replay_deferral(cluster, pods, policy, 0, stream=st_)
        for every, moves in ((3, 0), (0, 5)):
            r = replay_dynamic(cluster, pods, policy, 0, stream=st_, rebalance_every=every, max_moves=moves)
            assert r["moves_applied"] == 0 and r["rebalance_calls"] == 0
            assert {k: r[k] for k in plain} == plain
        # a hook that is called but never moves leaves the run unchanged too
        r = replay_deferral(cluster, pods, policy, 0, stream=st_,
                            rebalance=Rebalancer(cluster, budget=0, per_call=5), rebalance_every=1, max_moves=5)
        assert r == plain


def test_the_budget_is_a_share_of_the_pods() -> None:
    """Tests replay_dynamic's run budget: budget_pct % of the pods, rounded down, never exceeded."""
    cluster, pods = _random_case(np.random.default_rng(7), 3, 60)
    st_ = _stream(cluster, pods)
    r = replay_dynamic(cluster, pods, "fgd", 0, stream=st_, rebalance_every=1, max_moves=3, budget_pct=5.0,
                       min_gain_per_move=1)
    assert r["migration_budget"] == 3 and r["moves_applied"] <= 3
    assert r["pods_migrated_pct"] == pytest.approx(100.0 * r["pods_migrated"] / 60)


def test_random_cases_do_migrate() -> None:
    """Tests that the random cases above exercise migrations (the legality test is not vacuous)."""
    moved = 0
    for seed in range(30):
        cluster, pods = _random_case(np.random.default_rng(seed), 2 + seed % 5, 10 + seed % 50)
        hook = _Checked(cluster, Rebalancer(cluster, budget=8, per_call=3, min_gain_per_move=1))
        r = replay_deferral(cluster, pods, "fgd", 0, stream=_stream(cluster, pods), rebalance=hook,
                            rebalance_every=1, max_moves=3)
        moved += r["moves_applied"] > 0
    assert moved >= 5


def test_cli_rebalance_options(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Tests ``packer replay --protocol deferral --rebalance-every N --max-moves B --migration-budget PCT``:
    it runs and reports migrations; a negative option is an error naming it, exit 2, nothing written."""
    import json

    from packer.cli import main

    nodes = tmp_path / "nodes.csv"
    nodes.write_text("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,V100M16\nn1,96000,262144,1,V100M16\n")
    pods = tmp_path / "pods.csv"
    rows = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
            "scheduled_time"]
    for i in range(12):
        rows.append(f"p{i},{2000 + 1000 * (i % 3)},4096,1,{(300, 500, 1000)[i % 3]},,LS,Running,{10 * i},"
                    f"{10 * i + 400},{10 * i}")
    pods.write_text("\n".join(rows) + "\n")
    out = tmp_path / "r.json"
    base = ["replay", "--nodes", str(nodes), "--pods", str(pods), "--protocol", "deferral", "--seeds", "1",
            "--compress", "1", "--inflation", "1.0", "--quiet", "--policy", "fgd"]
    assert main([*base, "--rebalance-every", "1", "--max-moves", "2", "--migration-budget", "50",
                 "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    one = r["per_seed"][0]
    assert r["format"] == "packer.replay-dynamic/v1" and one["migration_budget"] == one["num_pods"] // 2
    assert r["moves_applied"] <= one["migration_budget"] and "pods migrated" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    assert main([*base, "--rebalance-every", "1", "--max-moves", "-1", "--json", str(bad)]) == 2
    assert "--max-moves" in capsys.readouterr().err and not bad.exists()
