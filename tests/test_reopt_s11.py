"""Tests of session 11's changes to the re-optimizer: the guide's share counts a group's waiting members
only (packer.cpsat.lpguide.WAITING_SHARE), and the gang step reports what its victim tiers bought
(packer.cpsat.reopt_gang.VICTIM_TIERS, ``tier_gain``)."""

from __future__ import annotations

import random

import pytest

from packer.cpsat import lpguide, reopt, reopt_gang
from packer.model import Instance, Node, Request, Tenant, Topology, Unit
from tests.test_reopt_victims import _victim_state

H100 = "H100-80GB"


def _mixed_group(gpus: int) -> Instance:
    """One node of ``gpus`` GPUs; two running movable 1-GPU jobs and one identical waiting one (one
    group in the repack model: the running two are forced in)."""
    nodes = (Node(id="n0", gpu_model=H100, num_gpus=gpus, mode="full", domains={"rack": "r0"}),)
    reqs = [Request(id=f"run{i}", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=i),),
                    movable=True, migration_cost=0.1) for i in range(2)]
    reqs.append(Request(id="wait", kind="gpu", count=1, tenant="t"))
    return Instance(name="mixed", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="t"),))


@pytest.mark.parametrize(("gpus", "fixed", "old"), [(2, 0.0, 2 / 3), (3, 1.0, 1.0)])
def test_guide_share_counts_the_waiting_members_only(gpus: int, fixed: float, old: float,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a waiting request grouped with two running ones reads the share the LP places of the
    waiting member: none when the node holds only the running two (the old rule read 2/3), all of
    it when there is room for the third."""
    inst = _mixed_group(gpus)
    got = {}
    for flag in (True, False):
        monkeypatch.setattr(lpguide, "WAITING_SHARE", flag)
        bb = reopt.BudgetBound(inst)
        assert bb.stays_lp(None) is not None
        assert [len(g.requests) for g in bb._repack.data.groups] == [3]
        assert bb.guide is not None
        got[flag] = bb.guide.share["wait"]
    assert got[True] == pytest.approx(fixed, abs=1e-6)
    assert got[False] == pytest.approx(old, abs=1e-6)


def test_gang_step_reports_what_the_tiers_bought(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the gang step's info says by how much its result beat the best all-victims try: on
    the victims state the cheap tier wins (+11 over the loss of the all-victims try); with tiers off
    the kept result is an all-victims one (gain 0)."""
    inst, cur = _victim_state()
    gang = inst.request("gang")
    monkeypatch.setattr(reopt_gang, "VICTIM_TIERS", 2)
    out, info = reopt_gang.gang_step(inst, cur, gang, random.Random(0), [gang], policy="first-fit")
    assert out is not None and info["victims"] == 1.0
    assert info["tier_gain"] is not None and info["tier_gain"] > 10.0
    monkeypatch.setattr(reopt_gang, "VICTIM_TIERS", 0)
    out, info = reopt_gang.gang_step(inst, cur, gang, random.Random(0), [gang], policy="first-fit")
    assert out is not None and info["victims"] is None
    assert info["tier_gain"] == pytest.approx(0.0)


def test_kept_tier_result_is_counted_in_the_step_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a gang step kept from a cheaper victim tier that beat the all-victims tries is counted
    (``tier_wins``, ``tier_gain``) in the move steps' statistics, and that a kept all-victims result,
    or a tier result no better than one, is not."""
    import time

    from packer.plans import objective_value
    from packer.progress import SILENT

    inst, cur = _victim_state()
    gang = inst.request("gang")
    monkeypatch.setattr(reopt_gang, "VICTIM_TIERS", 2)
    trial, info = reopt_gang.gang_step(inst, cur, gang, random.Random(0), [gang], policy="first-fit")
    assert trial is not None and info["tier_gain"] > 10.0
    for victims, tier_gain, wins in ((1.0, info["tier_gain"], 1), (None, 0.0, 0), (1.0, 0.0, 0)):
        got = dict(info, victims=victims, tier_gain=tier_gain)
        monkeypatch.setattr(reopt_gang, "gang_step", lambda *a, got=got, **k: (trial, got))
        stats: dict = {"steps": 0, "improved": 0, "rejected": 0}
        best = objective_value(inst, cur)
        _out, value = reopt._gang(inst, dict(cur), best, None, [gang], [gang], random.Random(0), None, stats, {},
                                  time.perf_counter(), SILENT)
        assert value > best and stats["improved"] == 1
        assert stats.get("tier_wins", 0) == wins
        assert stats.get("tier_gain", 0.0) == pytest.approx(tier_gain if wins else 0.0)


def _iso_pair() -> Instance:
    """Two 4-GPU nodes; node-isolated tenant "iso" runs two identical movable 1-GPU jobs, one on each
    (one group of two in the repack model); tenant "t" waits with six 1-GPU requests. The optimum
    moves one iso job beside the other and gives t the freed node: 2 + 4 − 0.1 = 5.9."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for i in range(2))
    reqs = [Request(id=f"iso{i}", kind="gpu", count=1, tenant="iso", placement=(Unit(node=f"n{i}", gpu=0),),
                    movable=True, migration_cost=0.1) for i in range(2)]
    reqs += [Request(id=f"w{k}", kind="gpu", count=1, tenant="t") for k in range(6)]
    return Instance(name="iso", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="iso", isolation="node"), Tenant(id="t")))


def test_own_links_make_a_stay_claim_the_whole_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with the ownership links a stay of the isolated tenant's job gives it the whole node:
    without them the LP keeps both jobs (stays 1), owns each node by half and gives t two GPUs of each
    (bound 6.0, no move paid); with them it must pay a move (bound 5.9, the optimum)."""
    from packer.cpsat import reopt_stays

    inst = _iso_pair()
    got = {}
    for flag in (False, True):
        monkeypatch.setattr(reopt_stays, "OWN_LINKS", flag)
        lp = reopt_stays.stays_lp(inst, reopt.repack_model(inst))
        assert lp is not None
        got[flag] = lp
    assert got[False].bound == pytest.approx(6.0, abs=1e-3)
    assert sum(got[False].stays.values()) == pytest.approx(2.0)
    assert got[True].bound == pytest.approx(5.9, abs=1e-3)
    assert sum(got[True].stays.values()) == pytest.approx(1.0, abs=1e-6)


def test_own_links_bar_the_isolated_tenant_from_a_node_another_tenants_job_keeps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the other row: t's 1-GPU job runs on n0; iso waits with six identical 1-GPU requests of
    priority 2 and n1 is free. Without the links the LP keeps t's job and gives iso 3/4 of n0 too
    (1 + 6 × 2 = 13); with them a kept job bars iso from n0, so the LP keeps the job by half (stay 1/2,
    iso owns half of n0: 13 − 0.05 = 12.95; the other half "moves" within n0, the stays LP's known
    slack). The optimum keeps the job and gives iso n1: 9."""
    from packer.cpsat import reopt_stays

    nodes = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for i in range(2))
    reqs = [Request(id="tjob", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=0),), movable=True,
                    migration_cost=0.1)]
    reqs += [Request(id=f"i{k}", kind="gpu", count=1, tenant="iso", priority=2.0) for k in range(6)]
    inst = Instance(name="iso2", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="iso", isolation="node"), Tenant(id="t")))
    got = {}
    for flag in (False, True):
        monkeypatch.setattr(reopt_stays, "OWN_LINKS", flag)
        lp = reopt_stays.stays_lp(inst, reopt.repack_model(inst))
        assert lp is not None
        got[flag] = lp.bound
    assert got[False] == pytest.approx(13.0, abs=1e-3)
    assert got[True] == pytest.approx(12.95, abs=1e-3)
    assert got[True] >= 9.0
