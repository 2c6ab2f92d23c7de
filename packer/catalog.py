"""GPU models and their MIG profiles.

The built-in catalog is ``packer/data/mig_catalog.json`` (the machine-readable table of
``shared/mig/catalog.json``). A profile name means something only together with its model:
``1g.10gb`` is one memory position on an H100-80GB but two on an A100-40GB, so every lookup here
goes through a :class:`GpuModel`.

Users extend or override the catalog from a JSON file (a list of entries, or an object with a
``models`` list, in the same schema), from the ``catalog`` list of an instance, or from the text of
``nvidia-smi mig -lgip`` plus ``-lgipp`` (see :mod:`packer.nvsmi`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from packer.errors import InputError

_PROFILE_NAME = re.compile(r"^(?:(\d+)c\.)?(\d+)g\.(\d+(?:\.\d+)?)gb(\+me\.all|\+me|\+gfx|-me)?$")
_GIB_PER_GB = 1e9 / 2**30


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProfileSpec(_Frozen):
    """One MIG GPU-instance profile of one GPU model, as in ``catalog.json``."""

    name: str
    id: int | None = None
    compute: int = Field(ge=1)
    memory_positions_used: int = Field(ge=1)
    starts: tuple[int, ...] = Field(min_length=1)
    max_count: int = Field(ge=1)
    media_extensions: bool = False
    attribute: str | None = None
    memory_gib: float | None = None
    sm: int | None = None
    ug_memory_fraction: str | None = None
    inferred: bool = False
    inferred_fields: tuple[str, ...] = ()
    memory_gib_observed: tuple[float, ...] | None = None
    notes: str | list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> ProfileSpec:
        if any(s < 0 for s in self.starts):
            raise ValueError("starts must be >= 0")
        if len(set(self.starts)) != len(self.starts):
            raise ValueError("starts must not repeat")
        return self


class GpuModelSpec(_Frozen):
    """One GPU model entry: MIG geometry when it has MIG profiles, just a name otherwise."""

    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    pci_device_ids: tuple[str, ...] = ()
    pci_device_ids_partial: bool = False
    compute_slices: int | None = Field(default=None, ge=1)
    memory_positions: int | None = Field(default=None, ge=1, le=62)
    memory_positions_inferred: bool = False
    memory_gb: float | None = Field(default=None, gt=0)
    max_gpu_instances: int | None = Field(default=None, ge=1)
    placements_confirmed: bool = False
    placements_source: str | None = None
    notes: str | list[str] | None = None
    profiles: tuple[ProfileSpec, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> GpuModelSpec:
        if not self.profiles:
            return self
        if self.compute_slices is None or self.memory_positions is None:
            raise ValueError("a model with MIG profiles needs compute_slices and memory_positions")
        seen: set[str] = set()
        for i, p in enumerate(self.profiles):
            if p.name in seen:
                raise ValueError(f"profiles[{i}].name {p.name!r} appears twice")
            seen.add(p.name)
            if p.compute > self.compute_slices:
                raise ValueError(f"profiles[{i}].compute {p.compute} exceeds compute_slices")
            for s in p.starts:
                if s + p.memory_positions_used > self.memory_positions:
                    raise ValueError(
                        f"profiles[{i}] start {s} + size {p.memory_positions_used} exceeds "
                        f"memory_positions {self.memory_positions}"
                    )
        return self


class Profile:
    """A MIG profile bound to its model, with the derived numbers solvers and checkers need."""

    __slots__ = ("spec", "model", "index")

    def __init__(self, spec: ProfileSpec, model: GpuModel, index: int) -> None:
        self.spec = spec
        self.model = model
        self.index = index

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def compute(self) -> int:
        return self.spec.compute

    @property
    def size(self) -> int:
        """Memory positions one instance occupies."""
        return self.spec.memory_positions_used

    @property
    def starts(self) -> tuple[int, ...]:
        return self.spec.starts

    @property
    def max_count(self) -> int:
        return self.spec.max_count

    @property
    def is_base(self) -> bool:
        """True for profiles without an attribute (no +me, +gfx, -me): the ones chosen by slices."""
        return self.spec.attribute is None and "+" not in self.name and "-" not in self.name

    @property
    def gpu_equivalents(self) -> float:
        """Size of one instance in GPU-equivalents: compute slices / the model's compute slices."""
        assert self.model.compute_slices is not None
        return self.spec.compute / self.model.compute_slices

    @property
    def memory_gib(self) -> float:
        """Memory of one instance in GiB: the observed value, else estimated from its share."""
        if self.spec.memory_gib is not None:
            return self.spec.memory_gib
        m = _PROFILE_NAME.match(self.name)
        if m:
            return float(m.group(3)) * _GIB_PER_GB
        mp = self.model.memory_positions or 1
        return (self.model.spec.memory_gb or 0.0) * self.size / mp * _GIB_PER_GB

    def __repr__(self) -> str:
        return f"Profile({self.model.name}:{self.name})"


class GpuModel:
    """A GPU model of the catalog, with its profiles indexed by name."""

    def __init__(self, spec: GpuModelSpec) -> None:
        self.spec = spec
        self.profiles: tuple[Profile, ...] = tuple(
            Profile(p, self, i) for i, p in enumerate(spec.profiles)
        )
        self._by_name = {p.name: p for p in self.profiles}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def has_mig(self) -> bool:
        return bool(self.profiles)

    @property
    def compute_slices(self) -> int | None:
        return self.spec.compute_slices

    @property
    def memory_positions(self) -> int | None:
        return self.spec.memory_positions

    @property
    def inferred(self) -> bool:
        """True when any placement of this model is inferred rather than seen on hardware."""
        return not self.spec.placements_confirmed or any(p.spec.inferred for p in self.profiles)

    def profile(self, name: str) -> Profile | None:
        return self._by_name.get(name)

    def profiles_for_slices(self, slices: int, min_memory_gib: float | None = None) -> list[Profile]:
        """Base profiles with exactly ``slices`` compute slices and enough memory, smallest first."""
        out = [
            p
            for p in self.profiles
            if p.is_base
            and p.compute == slices
            and (min_memory_gib is None or p.memory_gib + 1e-9 >= min_memory_gib)
        ]
        return sorted(out, key=lambda p: (p.size, p.memory_gib, p.name))

    def __repr__(self) -> str:
        return f"GpuModel({self.name})"


_NORMS: dict[str, str] = {}


def _norm(name: str) -> str:
    """``name`` with blanks and underscores as one dash, lower case; remembered per name (a catalog lookup
    sits under every MIG unit's size: 146k regex calls in a 60 s re-optimization profile, session 22)."""
    got = _NORMS.get(name)
    if got is None:
        got = re.sub(r"[\s_]+", "-", name.strip()).lower()
        if len(_NORMS) < 65536:
            _NORMS[name] = got
    return got


class Catalog:
    """GPU models by name and alias. Immutable; :meth:`merged` returns a new catalog."""

    def __init__(self, specs: Iterable[GpuModelSpec]) -> None:
        self.models: dict[str, GpuModel] = {}
        for s in specs:
            self.models[s.name] = GpuModel(s)
        self._alias: dict[str, str] = {}
        # Aliases first, canonical names last, so a canonical name always wins.
        for m in self.models.values():
            for a in m.spec.aliases:
                self._alias[_norm(a)] = m.name
        for m in self.models.values():
            self._alias[_norm(m.name)] = m.name

    @classmethod
    def builtin(cls) -> Catalog:
        """The catalog that ships with packer."""
        return _builtin()

    def merged(self, specs: Iterable[GpuModelSpec]) -> Catalog:
        """A catalog where ``specs`` replace models of the same name (or alias) and add new ones."""
        specs = list(specs)
        if not specs:
            return self
        out = dict((m.name, m.spec) for m in self.models.values())
        for s in specs:
            target = self.canonical(s.name)
            if target is not None and target != s.name:
                out.pop(target, None)
            out[s.name] = s
        return Catalog(out.values())

    def canonical(self, name: str) -> str | None:
        """The canonical model name for a name or alias, or None when unknown."""
        return self._alias.get(_norm(name))

    def get(self, name: str) -> GpuModel | None:
        c = self.canonical(name)
        return self.models[c] if c is not None else None

    def __getitem__(self, name: str) -> GpuModel:
        m = self.get(name)
        if m is None:
            raise KeyError(name)
        return m

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) is not None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)


def parse_entries(data: Any, *, file: str | None = None, field: str = "") -> list[GpuModelSpec]:
    """Validates catalog entries (a list, or an object with ``models``) into specs."""
    if isinstance(data, Mapping) and "models" in data:
        data = data["models"]
        field = f"{field}.models" if field else "models"
    if not isinstance(data, list):
        raise InputError("expected a list of GPU model entries", file=file, field=field or None)
    out = []
    for i, entry in enumerate(data):
        where = f"{field}[{i}]" if field else f"[{i}]"
        try:
            out.append(GpuModelSpec.model_validate(entry))
        except ValidationError as e:
            raise pydantic_error(e, file=file, prefix=where) from None
    return out


def load_catalog_file(path: str | Path, base: Catalog | None = None) -> Catalog:
    """Reads a JSON catalog file and merges it over ``base`` (the built-in catalog by default)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}", file=str(path)) from None
    return (base or Catalog.builtin()).merged(parse_entries(data, file=str(path)))


def pydantic_error(e: ValidationError, *, file: str | None = None, prefix: str = "") -> InputError:
    """Turns the first pydantic error into an InputError naming the field path."""
    err = e.errors()[0]
    path = prefix
    for part in err["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part:
            path = f"{path}.{part}" if path else str(part)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    n = len(e.errors())
    if n > 1:
        msg += f" (and {n - 1} more error{'s' if n > 2 else ''})"
    return InputError(msg, file=file, field=path or None)


_BUILTIN: Catalog | None = None


def _builtin() -> Catalog:
    global _BUILTIN
    if _BUILTIN is None:
        text = resources.files("packer").joinpath("data/mig_catalog.json").read_text(encoding="utf-8")
        _BUILTIN = Catalog(parse_entries(json.loads(text), file="packer/data/mig_catalog.json"))
    return _BUILTIN


def parse_profile_name(name: str) -> tuple[int, float, str | None] | None:
    """(compute slices, nominal GB, attribute) from a name like ``3g.40gb`` or ``1g.10gb+me``."""
    m = _PROFILE_NAME.match(name)
    if not m:
        return None
    return int(m.group(2)), float(m.group(3)), m.group(4)


__all__ = [
    "Catalog",
    "GpuModel",
    "GpuModelSpec",
    "Profile",
    "ProfileSpec",
    "load_catalog_file",
    "parse_entries",
    "parse_profile_name",
    "pydantic_error",
]
