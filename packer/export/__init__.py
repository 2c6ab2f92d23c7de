"""Speaking the GPU ecosystem's formats: mig-parted configs, Kubernetes labels, nvidia-smi text.

- :func:`cluster_layout` — what a plan (or an instance's running work) puts on every GPU.
- :func:`export_migparted` / :func:`load_migparted_text` — write and read NVIDIA mig-parted configs,
  with per-GPU creation orders (:mod:`packer.export.driver`, an inferred driver placement rule).
- :func:`export_k8s_labels` / :func:`instance_from_k8s` — GPU Operator node labels out, node labels in.
- :func:`instance_from_nvidia_smi` — running MIG instances from ``nvidia-smi mig -lgi`` text.

Pictures live in :mod:`packer.show`; the CLI subcommands in :mod:`packer.export.commands`.
"""

from packer.export.driver import CreationOrder, creation_order, find_layout
from packer.export.k8s import export_k8s_labels, instance_from_k8s, kubectl_script, mig_resource
from packer.export.layout import ClusterLayout, GpuLayout, Piece, cluster_layout
from packer.export.migparted import (
    MigEntry,
    MigPartedExport,
    dump_migparted,
    export_migparted,
    load_migparted_text,
    parse_migparted,
)
from packer.export.smi import SmiNode, instance_from_nvidia_smi

__all__ = [
    "ClusterLayout",
    "CreationOrder",
    "GpuLayout",
    "MigEntry",
    "MigPartedExport",
    "Piece",
    "SmiNode",
    "cluster_layout",
    "creation_order",
    "dump_migparted",
    "export_k8s_labels",
    "export_migparted",
    "find_layout",
    "instance_from_k8s",
    "instance_from_nvidia_smi",
    "kubectl_script",
    "load_migparted_text",
    "mig_resource",
    "parse_migparted",
]
