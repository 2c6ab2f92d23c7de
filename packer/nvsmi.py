"""Parsers for the text that ``nvidia-smi`` prints about MIG.

Covers ``nvidia-smi mig -lgip``, ``-lgipp``, ``-lgi``, ``-lci`` and ``nvidia-smi -L``. The boxed tables change
width with the driver and with the longest profile name, so rows are split on whitespace, never on columns.
Anything that does not fit the expected shape raises :class:`~packer.errors.InputError` naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from packer.errors import InputError

__all__ = [
    "ComputeInstanceRow",
    "GpuInstanceRow",
    "LgipRow",
    "LgippRow",
    "SmiGpu",
    "SmiMigDevice",
    "catalog_entry",
    "parse_lci",
    "parse_lgi",
    "parse_lgip",
    "parse_lgipp",
    "parse_profile_name",
    "parse_smi_list",
]

PROFILE_NAME_RE = re.compile(r"^(?:(\d+)c\.)?(\d+)g\.(\d+)gb(\+me\.all|\+me|\+gfx|-me)?$")
_LGIPP_RE = re.compile(r"^GPU\s+(\d+)\s+Profile ID\s+(\d+)\s+Placements?\s*:\s*\{([\d,\s]*)\}\s*:\s*(\d+)$")
_BORDER_RE = re.compile(r"^\+-+\+$")
_HEADER_END_RE = re.compile(r"^\|=+\|$")
_SMI_GPU_RE = re.compile(r"^GPU\s+(\d+):\s+(.+?)\s+\(UUID:\s*(GPU-[0-9A-Fa-f-]+)\)$")
_SMI_MIG_RE = re.compile(r"^MIG\s+(\S+)\s+Device\s+(\d+):\s+\(UUID:\s*(MIG-\S+)\)$")
_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_MIG_UUID_RE = re.compile(rf"^MIG-{_UUID}$")
_MIG_OLD_UUID_RE = re.compile(rf"^MIG-GPU-{_UUID}/(\d+)/(\d+)$")

_MIG_OFF = "No MIG-enabled devices found."
_NO_GPU_INSTANCES = "No GPU instances found: Not Found"

_LGIP_TITLE = re.compile(r"^GPU instance profiles:$")
_LGI_TITLE = re.compile(r"^GPU instances?:$")
_LCI_TITLE = re.compile(r"^Compute instances?:$")


@dataclass(frozen=True)
class LgipRow:
    """One profile of ``nvidia-smi mig -lgip`` (its two text rows together)."""

    gpu: int
    name: str
    profile_id: int
    free: int
    total: int
    memory_gib: float
    p2p: bool
    sm: int
    dec: int
    enc: int
    ce: int
    jpeg: int
    ofa: int


@dataclass(frozen=True)
class LgippRow:
    """One line of ``nvidia-smi mig -lgipp``: where a profile may be placed, in memory positions."""

    gpu: int
    profile_id: int
    starts: tuple[int, ...]
    size: int


@dataclass(frozen=True)
class GpuInstanceRow:
    """One GPU instance listed by ``nvidia-smi mig -lgi``."""

    gpu: int
    name: str
    profile_id: int
    instance_id: int
    start: int
    size: int


@dataclass(frozen=True)
class ComputeInstanceRow:
    """One compute instance listed by ``nvidia-smi mig -lci``; start/size are None for tables without placements."""

    gpu: int
    gpu_instance_id: int
    name: str
    profile_id: int
    instance_id: int
    start: int | None = None
    size: int | None = None


@dataclass(frozen=True)
class SmiMigDevice:
    """One MIG device line of ``nvidia-smi -L``; old-form UUIDs also give the GI and CI IDs."""

    name: str
    index: int
    uuid: str
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None


@dataclass(frozen=True)
class SmiGpu:
    """One GPU of ``nvidia-smi -L`` with the MIG devices listed under it."""

    index: int
    name: str
    uuid: str
    mig_devices: tuple[SmiMigDevice, ...] = ()


# --------------------------------------------------------------------------- helpers


def _where(lineno: int) -> str:
    """Returns the field text for a 1-based line number."""
    return f"line {lineno}"


def _lines(text: str) -> list[tuple[int, str]]:
    """Returns (line number, stripped line) for every non-blank line; an empty text is an error."""
    if not isinstance(text, str):
        raise InputError(f"expected nvidia-smi output as text, got {type(text).__name__}")
    out = [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not out:
        raise InputError("empty nvidia-smi output")
    return out


def _int(token: str, column: str, lineno: int) -> int:
    """Parses a non-negative integer cell, naming the column when it is not one."""
    if not token.isdigit():
        raise InputError(f"{column} {token!r} is not a non-negative integer", field=_where(lineno))
    return int(token)


def _float(token: str, column: str, lineno: int) -> float:
    """Parses a decimal cell such as ``39.50``."""
    if not re.fullmatch(r"\d+(?:\.\d+)?", token):
        raise InputError(f"{column} {token!r} is not a number", field=_where(lineno))
    return float(token)


def _profile_name(tokens: list[str], at: int, lineno: int) -> str:
    """Checks ``MIG <name>`` at ``tokens[at]`` and returns the validated name."""
    if tokens[at] != "MIG":
        raise InputError(f"expected 'MIG <profile>' but found {tokens[at]!r}", field=_where(lineno))
    name = tokens[at + 1]
    if not PROFILE_NAME_RE.match(name):
        raise InputError(f"{name!r} is not a MIG profile name", field=_where(lineno))
    return name


def _placement(token: str, lineno: int) -> tuple[int, int]:
    """Parses a ``start:size`` cell."""
    m = re.fullmatch(r"(\d+):(\d+)", token)
    if not m:
        raise InputError(f"placement {token!r} is not <start>:<size>", field=_where(lineno))
    return int(m.group(1)), int(m.group(2))


def _cells(line: str) -> str | None:
    """Returns the inside of a ``| ... |`` table row, or None when the line is not one."""
    if len(line) >= 2 and line[0] == "|" and line[-1] == "|":
        return line[1:-1].strip()
    return None


@dataclass(frozen=True)
class _Table:
    """The header text and the data records (groups of rows between borders) of one or more boxed tables."""

    header: str
    records: list[list[tuple[int, list[str]]]]


def _parse_boxed(text: str, title: re.Pattern[str], command: str, messages: Iterable[str]) -> _Table | None:
    """Splits boxed nvidia-smi tables into records; returns None when the text is one of ``messages``."""
    lines = _lines(text)
    if len(lines) == 1 and lines[0][1] in messages:
        return None
    header_parts: list[str] = []
    records: list[list[tuple[int, list[str]]]] = []
    state = "start"  # start -> title -> header -> body
    current: list[tuple[int, list[str]]] = []
    last_lineno = lines[-1][0]
    for lineno, line in lines:
        inner = _cells(line)
        if state == "start":
            if not _BORDER_RE.match(line):
                raise InputError(f"expected the top border of a {command} table, found {line!r}", field=_where(lineno))
            state = "title"
        elif state == "title":
            if inner is None or not title.match(inner):
                raise InputError(f"not a {command} table: expected its title, found {line!r}", field=_where(lineno))
            state = "header"
        elif state == "header":
            if _HEADER_END_RE.match(line):
                state = "body"
            elif inner is not None:
                header_parts.append(inner)
            else:
                raise InputError(f"unexpected line in the {command} table header: {line!r}", field=_where(lineno))
        else:  # body
            if _BORDER_RE.match(line):
                if not current:
                    raise InputError(f"empty row in the {command} table", field=_where(lineno))
                records.append(current)
                current = []
            elif inner is not None:
                if not current and title.match(inner):
                    # A second table follows the first one (several GPUs printed one after another).
                    state = "header"
                    continue
                if not inner:
                    raise InputError(f"empty row in the {command} table", field=_where(lineno))
                current.append((lineno, inner.split()))
            else:
                raise InputError(f"unexpected line inside the {command} table: {line!r}", field=_where(lineno))
    if state != "body" or current:
        raise InputError(f"{command} table is truncated (no closing border)", field=_where(last_lineno))
    return _Table(header=" ".join(header_parts), records=records)


# --------------------------------------------------------------------------- parsers


def parse_profile_name(name: str) -> tuple[int | None, int, int, str | None]:
    """Splits a profile name into (compute-instance slices or None, G, memory GB, attribute or None)."""
    m = PROFILE_NAME_RE.match(name)
    if not m:
        raise InputError(f"{name!r} is not a MIG profile name")
    c, g, gb, attribute = m.groups()
    return (int(c) if c is not None else None), int(g), int(gb), attribute


def parse_lgip(text: str) -> list[LgipRow]:
    """Parses ``nvidia-smi mig -lgip`` output into one row per (GPU, profile)."""
    table = _parse_boxed(text, _LGIP_TITLE, "mig -lgip", (_MIG_OFF,))
    if table is None:
        return []
    rows: list[LgipRow] = []
    for record in table.records:
        first_lineno, first = record[0]
        if len(record) != 2:
            raise InputError(f"a -lgip profile takes 2 rows, found {len(record)}", field=_where(first_lineno))
        second_lineno, second = record[1]
        if len(first) != 10:
            raise InputError(
                "expected 10 cells (GPU, MIG, name, ID, Free/Total, GiB, P2P, SM, DEC, ENC), "
                f"found {len(first)}: {' '.join(first)!r}",
                field=_where(first_lineno),
            )
        if len(second) != 3:
            raise InputError(
                f"expected 3 cells (CE, JPEG, OFA), found {len(second)}: {' '.join(second)!r}",
                field=_where(second_lineno),
            )
        name = _profile_name(first, 1, first_lineno)
        counts = re.fullmatch(r"(\d+)/(\d+)", first[4])
        if not counts:
            raise InputError(f"Free/Total {first[4]!r} is not <free>/<total>", field=_where(first_lineno))
        if first[6] not in ("Yes", "No"):
            raise InputError(f"P2P {first[6]!r} is neither Yes nor No", field=_where(first_lineno))
        rows.append(
            LgipRow(
                gpu=_int(first[0], "GPU", first_lineno),
                name=name,
                profile_id=_int(first[3], "profile ID", first_lineno),
                free=int(counts.group(1)),
                total=int(counts.group(2)),
                memory_gib=_float(first[5], "memory GiB", first_lineno),
                p2p=first[6] == "Yes",
                sm=_int(first[7], "SM", first_lineno),
                dec=_int(first[8], "DEC", first_lineno),
                enc=_int(first[9], "ENC", first_lineno),
                ce=_int(second[0], "CE", second_lineno),
                jpeg=_int(second[1], "JPEG", second_lineno),
                ofa=_int(second[2], "OFA", second_lineno),
            )
        )
    return rows


def parse_lgipp(text: str) -> list[LgippRow]:
    """Parses ``nvidia-smi mig -lgipp`` output (``Placements:`` and ``Placement :`` lines)."""
    lines = _lines(text)
    if len(lines) == 1 and lines[0][1] == _MIG_OFF:
        return []
    rows: list[LgippRow] = []
    for lineno, line in lines:
        m = _LGIPP_RE.match(line)
        if not m:
            raise InputError(
                f"expected 'GPU <n> Profile ID <id> Placements: {{<starts>}}:<size>', found {line!r}",
                field=_where(lineno),
            )
        parts = [p.strip() for p in m.group(3).split(",")]
        if not all(p.isdigit() for p in parts):
            raise InputError(f"bad placement start list {{{m.group(3)}}}", field=_where(lineno))
        starts = tuple(int(p) for p in parts)
        if len(set(starts)) != len(starts):
            raise InputError(f"repeated placement start in {{{m.group(3)}}}", field=_where(lineno))
        size = int(m.group(4))
        if size == 0:
            raise InputError("placement size 0", field=_where(lineno))
        rows.append(LgippRow(gpu=int(m.group(1)), profile_id=int(m.group(2)), starts=starts, size=size))
    return rows


def parse_lgi(text: str) -> list[GpuInstanceRow]:
    """Parses ``nvidia-smi mig -lgi`` output; the no-instance and MIG-off messages give ``[]``."""
    table = _parse_boxed(text, _LGI_TITLE, "mig -lgi", (_MIG_OFF, _NO_GPU_INSTANCES))
    if table is None:
        return []
    rows: list[GpuInstanceRow] = []
    for record in table.records:
        for lineno, cells in record:
            if len(cells) != 6:
                raise InputError(
                    "expected 6 cells (GPU, MIG, name, profile ID, instance ID, start:size), "
                    f"found {len(cells)}: {' '.join(cells)!r}",
                    field=_where(lineno),
                )
            start, size = _placement(cells[5], lineno)
            rows.append(
                GpuInstanceRow(
                    gpu=_int(cells[0], "GPU", lineno),
                    name=_profile_name(cells, 1, lineno),
                    profile_id=_int(cells[3], "profile ID", lineno),
                    instance_id=_int(cells[4], "instance ID", lineno),
                    start=start,
                    size=size,
                )
            )
    return rows


def parse_lci(text: str) -> list[ComputeInstanceRow]:
    """Parses ``nvidia-smi mig -lci`` output, with or without the CI placement column."""
    table = _parse_boxed(text, _LCI_TITLE, "mig -lci", (_MIG_OFF,))
    if table is None:
        return []
    has_placement = "Start:Size" in table.header
    width = 7 if has_placement else 6
    rows: list[ComputeInstanceRow] = []
    for record in table.records:
        for lineno, cells in record:
            if len(cells) != width:
                what = "GPU, GI ID, MIG, name, profile ID, instance ID" + (", start:size" if has_placement else "")
                raise InputError(
                    f"expected {width} cells ({what}), found {len(cells)}: {' '.join(cells)!r}",
                    field=_where(lineno),
                )
            start: int | None = None
            size: int | None = None
            if has_placement:
                start, size = _placement(cells[6], lineno)
            rows.append(
                ComputeInstanceRow(
                    gpu=_int(cells[0], "GPU", lineno),
                    gpu_instance_id=_int(cells[1], "GPU instance ID", lineno),
                    name=_profile_name(cells, 2, lineno),
                    profile_id=_int(cells[4], "profile ID", lineno),
                    instance_id=_int(cells[5], "instance ID", lineno),
                    start=start,
                    size=size,
                )
            )
    return rows


def parse_smi_list(text: str) -> list[SmiGpu]:
    """Parses ``nvidia-smi -L`` output into GPUs with their MIG devices."""
    gpus: list[tuple[int, str, str, list[SmiMigDevice]]] = []
    for lineno, line in _lines(text):
        g = _SMI_GPU_RE.match(line)
        if g:
            gpus.append((int(g.group(1)), g.group(2), g.group(3), []))
            continue
        d = _SMI_MIG_RE.match(line)
        if not d:
            raise InputError(f"not an 'nvidia-smi -L' GPU or MIG device line: {line!r}", field=_where(lineno))
        if not gpus:
            raise InputError("MIG device listed before any GPU", field=_where(lineno))
        name = d.group(1)
        if not PROFILE_NAME_RE.match(name):
            raise InputError(f"{name!r} is not a MIG profile name", field=_where(lineno))
        uuid = d.group(3)
        gi: int | None = None
        ci: int | None = None
        old = _MIG_OLD_UUID_RE.match(uuid)
        if old:
            gi, ci = int(old.group(1)), int(old.group(2))
        elif not _MIG_UUID_RE.match(uuid):
            raise InputError(f"{uuid!r} is not a MIG device UUID", field=_where(lineno))
        gpus[-1][3].append(
            SmiMigDevice(name=name, index=int(d.group(2)), uuid=uuid, gpu_instance_id=gi, compute_instance_id=ci)
        )
    return [SmiGpu(index=i, name=n, uuid=u, mig_devices=tuple(devs)) for i, n, u, devs in gpus]


# --------------------------------------------------------------------------- catalog


def catalog_entry(
    lgip_text: str,
    lgipp_text: str,
    *,
    name: str,
    aliases: Iterable[str] = (),
    memory_gb: int | None = None,
    gpu: int = 0,
) -> dict:
    """Builds one catalog.json "models" entry from the -lgip and -lgipp output of one GPU."""
    lgip = [r for r in parse_lgip(lgip_text) if r.gpu == gpu]
    lgipp = [r for r in parse_lgipp(lgipp_text) if r.gpu == gpu]
    if not lgip:
        raise InputError(f"no -lgip profiles for GPU {gpu}", field="lgip")
    if not lgipp:
        raise InputError(f"no -lgipp placements for GPU {gpu}", field="lgipp")
    placements: dict[int, LgippRow] = {}
    for p in lgipp:
        if p.profile_id in placements:
            raise InputError(f"profile {p.profile_id} has two -lgipp lines", field=f"profile {p.profile_id}")
        placements[p.profile_id] = p
    seen: set[int] = set()
    for r in lgip:
        if r.profile_id in seen:
            raise InputError(f"profile {r.profile_id} appears twice in -lgip", field=f"profile {r.profile_id}")
        seen.add(r.profile_id)
        if r.profile_id not in placements:
            raise InputError(
                f"profile {r.profile_id} ({r.name}) is in -lgip but has no -lgipp placement line",
                field=f"profile {r.profile_id}",
            )
    for pid in placements:
        if pid not in seen:
            raise InputError(f"profile {pid} has a -lgipp placement line but is not in -lgip", field=f"profile {pid}")

    profiles: list[dict] = []
    for r in lgip:
        c, g, _gb, attribute = parse_profile_name(r.name)
        if c is not None:
            raise InputError(
                f"{r.name!r} is a compute-instance profile, not a GPU-instance one", field=f"profile {r.profile_id}"
            )
        p = placements[r.profile_id]
        profiles.append(
            {
                "name": r.name,
                "id": r.profile_id,
                "compute": g,
                "memory_positions_used": p.size,
                "starts": list(p.starts),
                "max_count": r.total,
                "media_extensions": attribute in ("+me", "+me.all"),
                "attribute": attribute,
                "memory_gib": r.memory_gib,
                "sm": r.sm,
                "ug_memory_fraction": None,
                "inferred": False,
            }
        )

    memory_positions = max(max(p.starts) + p.size for p in placements.values())
    if memory_gb is None:
        full = [pr for pr in profiles if pr["memory_positions_used"] == memory_positions]
        full.sort(key=lambda pr: pr["attribute"] is not None)
        if not full:
            raise InputError("no full-GPU profile to take memory_gb from; pass memory_gb", field="memory_gb")
        memory_gb = parse_profile_name(full[0]["name"])[2]

    return {
        "name": name,
        "aliases": list(aliases),
        "pci_device_ids": [],
        "pci_device_ids_partial": False,
        "compute_slices": max(pr["compute"] for pr in profiles),
        "memory_positions": memory_positions,
        "memory_positions_inferred": False,
        "memory_gb": memory_gb,
        "max_gpu_instances": max(r.total for r in lgip),
        "placements_confirmed": True,
        "placements_source": "nvidia-smi mig -lgip/-lgipp",
        "profiles": profiles,
    }
