"""Writes the shipped MIG-variant instance instances/openb-mig-small.json (packer.replay.mig_variant family).

    python bench/bench_replay_instances.py
"""

from __future__ import annotations

from pathlib import Path

from packer.formats import save_instance
from packer.replay.mig_variant import openb_mig_instance
from packer.replay.openb import read_nodes, read_pods

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


def main() -> None:
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    pods = read_pods(TRACES / "openb_pod_list_default.csv", cluster)
    # two nodes of each GPU model, in file order: 14 nodes, every MIG model of the family
    picked: list[int] = []
    for k in range(len(cluster.models)):
        picked += [int(i) for i in (cluster.model == k).nonzero()[0][:2]]
    inst = openb_mig_instance(cluster, pods, name="openb-mig-small", node_indices=sorted(picked), limit_pods=60)
    save_instance(inst, ROOT / "instances" / "openb-mig-small.json")
    print(f"{len(inst.nodes)} nodes, {inst.num_gpus} GPUs, {len(inst.requests)} requests")


if __name__ == "__main__":
    main()
