"""A move sequence in the ecosystem's terms, wave by wave: mig-parted configs and a shell script.

For each wave ``k`` (from 1), :func:`write_wave_exports` writes into a folder:

- ``wave-KK.migparted.yaml``: the mig-parted config of every node whose MIG layout or GPU modes the
  wave changes, as it is *after* the wave (configs named ``packer-<node>-wKK``, so each wave's
  label differs from the last one's); written by :func:`packer.export.migparted.export_migparted`,
  with its per-GPU creation-order notes. Waves that change no MIG layout get none.
- ``wave-KK.sh``: the wave's commands. ``kubectl delete pod`` for each stop and ``kubectl label``
  for each changed node's config (mig-manager re-creates *every* MIG instance of a node it
  reconfigures and evicts its GPU pods, so the script uses the label only for nodes that run no
  work during the wave and otherwise the live per-instance commands, ``nvidia-smi mig -cgi`` /
  ``-dgi`` and ``nvidia-smi -mig``, through ``on NODE ...``: ``ssh`` unless ``PACKER_ON`` names
  another way in). Starts are the scheduler's business (packer does not know the pod specs): the
  script lists each as a comment with the node, GPU and Kubernetes resource it needs, and waits.

Pods are found by the labels ``packer.io/request=<request>`` and ``packer.io/unit=<unit id>``
(:func:`unit_label`), which whoever starts them is expected to set.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from packer.export.k8s import MIG_CONFIG, mig_resource
from packer.export.layout import ClusterLayout, GpuLayout, Piece
from packer.export.migparted import config_name_part, dump_migparted, export_migparted, label_safe
from packer.formats import write_text_atomic
from packer.model import Instance, Unit
from packer.moves.format import Create, Destroy, Moves, SetMode, Start, Stop


def unit_label(u: Unit) -> str:
    """A unit as a Kubernetes label value: ``n3-g2-3g.40gb-s4``, ``n3-g2``, ``n3-host``."""
    if u.gpu is None:
        text = f"{u.node}-host"
    elif u.profile is not None:
        text = f"{u.node}-g{u.gpu}-{config_name_part(u.profile)}-s{u.start}"
    else:
        text = f"{u.node}-g{u.gpu}"
    return label_safe(config_name_part(text))


def wave_layouts(inst: Instance, moves: Moves) -> list[ClusterLayout]:
    """The cluster's GPU layout (modes and MIG instances, idle ones included) after each wave."""
    modes = {(n.id, g): n.gpu_mode(g) for n, g in inst.gpus()}
    gis: dict[tuple[str, int], dict[int, str]] = defaultdict(dict)
    for r in inst.requests:
        if r.kind == "mig":
            for u in r.placement or ():
                gis[(u.node, u.gpu)][u.start] = u.profile  # type: ignore[index,assignment]
    out = []
    for wave in moves.waves:
        for s in wave.steps:
            if isinstance(s, SetMode):
                modes[(s.node, s.gpu)] = s.mode
            elif isinstance(s, Create):
                gis[(s.node, s.gpu)][s.start] = s.profile
            elif isinstance(s, Destroy):
                gis[(s.node, s.gpu)].pop(s.start, None)
        out.append(_layout(inst, modes, gis))
    return out


def _layout(inst: Instance, modes: dict[tuple[str, int], str], gis: dict[tuple[str, int], dict[int, str]]) -> ClusterLayout:
    gpus = []
    for node, g in inst.gpus():
        model = inst.model_of(node)
        pieces = []
        for start, name in sorted(gis.get((node.id, g), {}).items()):
            p = model.profile(name) if model is not None else None
            assert p is not None
            pieces.append(Piece("", "", "mig", p.name, start, p.size, p.compute))
        gpus.append(GpuLayout(node=node.id, gpu=g, model=model.name if model else node.gpu_model,
                              mode=modes[(node.id, g)], pieces=tuple(pieces),
                              memory_positions=model.memory_positions if model else None,
                              compute_slices=model.compute_slices if model else None))
    return ClusterLayout(instance=inst, gpus=tuple(gpus), source="plan")


def _changed_nodes(wave_steps) -> list[str]:  # type: ignore[no-untyped-def]
    seen: dict[str, None] = {}
    for s in wave_steps:
        if isinstance(s, SetMode | Create | Destroy):
            seen[s.node] = None
    return list(seen)


def wave_migparted(inst: Instance, moves: Moves) -> list[str | None]:
    """Per wave, the mig-parted YAML of the nodes whose MIG layout it changes (None when it changes none)."""
    out: list[str | None] = []
    for k, (wave, layout) in enumerate(zip(moves.waves, wave_layouts(inst, moves)), start=1):
        changed = _changed_nodes(wave.steps)
        if not changed:
            out.append(None)
            continue
        ex = export_migparted(inst, layout, per="node")
        configs = {_wave_config(node, k): ex.configs[ex.node_config[node]] for node in changed
                   if node in ex.node_config}
        if not configs:
            out.append(None)
            continue
        header = [f"mig-parted configs after wave {k} of the move sequence for instance {inst.name!r}",
                  *ex.header[1:]]
        out.append(dump_migparted(configs, header=header))
    return out


def _wave_config(node: str, k: int) -> str:
    return label_safe(f"packer-{config_name_part(node)}-w{k:02d}")


def wave_script(inst: Instance, moves: Moves, k: int) -> str:
    """The shell script of wave ``k`` (from 1); see the module docstring."""
    wave = moves.waves[k - 1]
    busy_nodes = _busy_nodes(inst, moves, k)
    lines = ["#!/bin/sh", f"# Wave {k} of {len(moves.waves)} of the packer move sequence for instance {inst.name!r}:",
             f"# {len(wave.steps)} steps that may run in parallel. Run the next wave only when this one is done.",
             "set -e", 'on() { node="$1"; shift; ${PACKER_ON:-ssh} "$node" "$@"; }',
             "# gi_at NODE GPU PROFILE START: the id of the GPU instance there (nvidia-smi mig -lgi)",
             """gi_at() { on "$1" nvidia-smi mig -i "$2" -lgi | awk -v p=" $3 " -v s=" $4:" """
             """'index($0, p) && index($0, s) { print $6; exit }'; }""", ""]
    for node in _changed_nodes(wave.steps):
        cfg = _wave_config(node, k)
        if node in busy_nodes:
            lines.append(f"# node {node}: work keeps running during this wave, so its MIG changes are made live")
            lines.append(f"# below; {MIG_CONFIG}={cfg} (wave-{k:02d}.migparted.yaml) describes the result.")
        else:
            lines.append(f"kubectl label nodes {node} {MIG_CONFIG}={cfg} --overwrite  # no work runs there now")
    for s in wave.steps:
        if isinstance(s, Stop):
            note = "  # temporary: the request is down until it starts again" if s.temporary else ""
            lines.append(f"kubectl delete pod -l packer.io/request={label_safe(config_name_part(s.request))},"
                         f"packer.io/unit={unit_label(s.unit)} --wait=true{note}")
        elif isinstance(s, SetMode | Create | Destroy) and s.node in busy_nodes:
            lines.append(_live_command(inst, s))
    starts = [s for s in wave.steps if isinstance(s, Start)]
    if starts:
        lines.append("# Starts (for the scheduler; label each pod packer.io/request and packer.io/unit):")
        for s in starts:
            lines.append(f"#   {s.request}: {_start_text(inst, s)}  unit={unit_label(s.unit)}")
        lines.append(f"echo 'wave {k}: start the {len(starts)} unit(s) listed in this script, then press enter'; read _")
    return "\n".join(lines) + "\n"


def _busy_nodes(inst: Instance, moves: Moves, k: int) -> set[str]:
    """Nodes where some unit runs at any point of wave ``k`` (there mig-manager would evict it)."""
    live: dict[str, int] = defaultdict(int)
    for r in inst.requests:
        if r.kind != "host":
            for u in r.placement or ():
                live[u.node] += 1
    busy: set[str] = set()
    for i, wave in enumerate(moves.waves, start=1):
        if i == k:
            busy |= {n for n, c in live.items() if c > 0}
        for s in wave.steps:
            if isinstance(s, Start) and s.unit.gpu is not None:
                live[s.unit.node] += 1
                if i == k:
                    busy.add(s.unit.node)
            elif isinstance(s, Stop) and s.unit.gpu is not None:
                live[s.unit.node] -= 1
        if i == k:
            break
    return busy


def _live_command(inst: Instance, s: SetMode | Create | Destroy) -> str:
    if isinstance(s, SetMode):
        flag = "1" if s.mode == "mig" else "0"
        return f"on {s.node} nvidia-smi -i {s.gpu} -mig {flag}  # mode {s.mode}"
    model = inst.model_of(inst.node(s.node))
    p = model.profile(s.profile) if model is not None else None
    pid = p.spec.id if p is not None else None
    if isinstance(s, Destroy):
        return (f'gi=$(gi_at {s.node} {s.gpu} {s.profile} {s.start}) && on {s.node} nvidia-smi mig -i {s.gpu} -dci -gi "$gi"'
                f' && on {s.node} nvidia-smi mig -i {s.gpu} -dgi -gi "$gi"  # destroy {s.profile}@{s.start}')
    if pid is None:
        return f"# on {s.node}: create {s.profile}@{s.start} on GPU {s.gpu} (profile id unknown to the catalog)"
    if s.driver_start:
        return f"on {s.node} nvidia-smi mig -i {s.gpu} -cgi {pid} -C  # {s.profile}, the driver is predicted to pick start {s.start}"
    return (f"# on {s.node}: create {s.profile} at start {s.start} on GPU {s.gpu} with an explicit placement "
            f"(NVML nvmlDeviceCreateGpuInstanceWithPlacement, profile id {pid}); the driver would pick another start")


def _start_text(inst: Instance, s: Start) -> str:
    req = inst.request(s.request)
    u = s.unit
    if req.kind == "host":
        return f"node {u.node}, host only ({req.cpu_milli} milli-CPU, {req.memory_mib} MiB)"
    if req.kind == "mig":
        return f"node {u.node} GPU {u.gpu}, {mig_resource(u.profile or '')}: 1 (the instance at start {u.start})"
    if req.kind == "share":
        return f"node {u.node} GPU {u.gpu}, {req.gpu_milli} milli of a shared GPU"
    return f"node {u.node} GPU {u.gpu}, nvidia.com/gpu: 1"


def write_wave_exports(inst: Instance, moves: Moves, folder: str | Path) -> list[Path]:
    """Writes each wave's mig-parted config and script into ``folder``; returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for k, yaml in enumerate(wave_migparted(inst, moves), start=1):
        if yaml is not None:
            path = folder / f"wave-{k:02d}.migparted.yaml"
            write_text_atomic(path, yaml)
            written.append(path)
        path = folder / f"wave-{k:02d}.sh"
        write_text_atomic(path, wave_script(inst, moves, k))
        path.chmod(0o755)
        written.append(path)
    return written


__all__ = ["unit_label", "wave_layouts", "wave_migparted", "wave_script", "write_wave_exports"]
