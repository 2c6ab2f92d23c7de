"""The move-sequence file (``format: "packer.moves/v1"``): data model, reading and writing.

A move sequence takes a cluster from the running state of an instance (its running placements) to
a plan, in ordered **waves** of **steps**; the steps of one wave may run in parallel. Five kinds
of step (``op``):

- ``set_mode``: put an idle GPU (mode ``any`` in the instance) in ``mode`` (mig, full, shared);
- ``create``: create the MIG instance ``profile`` at memory position ``start`` on a GPU;
- ``destroy``: destroy the idle MIG instance ``profile`` at ``start``;
- ``start``: start one ``unit`` (SPEC §4 unit) of ``request``;
- ``stop``: stop one running ``unit`` of ``request``; ``temporary`` when the request is down until
  its destination starts (a break-before-make move), false when its destination already runs
  (make-before-break) or the unit simply leaves.

``docs/FORMATS.md`` describes the file for people; this module is only the data model, shared by
the planner (:mod:`packer.moves.planner`) and the independent replay checker
(:mod:`packer.check_moves`), which share no other code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from packer.catalog import pydantic_error
from packer.errors import InputError
from packer.formats import dumps, read_json, write_text_atomic
from packer.model import ConcreteMode, Unit

MOVES_FORMAT = "packer.moves/v1"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SetMode(_Frozen):
    """Put an idle GPU in a mode (only GPUs in mode ``any`` in the instance)."""

    op: Literal["set_mode"] = "set_mode"
    node: str
    gpu: int = Field(ge=0)
    mode: ConcreteMode


class Create(_Frozen):
    """Create a MIG instance of ``profile`` at ``start`` on a GPU in mode mig.

    ``driver_start`` says whether the driver is predicted to choose this start by itself when asked
    for the profile alone (``nvidia-smi mig -cgi ID``; the inferred rule of
    :mod:`packer.export.driver`); when false the instance needs an explicit placement
    (NVML ``nvmlDeviceCreateGpuInstanceWithPlacement``). Informational: the checker ignores it.
    """

    op: Literal["create"] = "create"
    node: str
    gpu: int = Field(ge=0)
    profile: str
    start: int = Field(ge=0)
    driver_start: bool | None = None


class Destroy(_Frozen):
    """Destroy an idle MIG instance."""

    op: Literal["destroy"] = "destroy"
    node: str
    gpu: int = Field(ge=0)
    profile: str
    start: int = Field(ge=0)


class Start(_Frozen):
    """Start one unit of a request."""

    op: Literal["start"] = "start"
    request: str
    unit: Unit


class Stop(_Frozen):
    """Stop one running unit of a request (``temporary``: the request is down until it starts again)."""

    op: Literal["stop"] = "stop"
    request: str
    unit: Unit
    temporary: bool = False


Step = Annotated[SetMode | Create | Destroy | Start | Stop, Field(discriminator="op")]


class Wave(_Frozen):
    """Steps that may run in parallel: none depends on another of the same wave."""

    steps: tuple[Step, ...]


class Moves(_Frozen):
    """A move sequence from an instance's running state to a plan."""

    format: Literal["packer.moves/v1"] = MOVES_FORMAT
    instance: str
    plan_objective: float | None = None
    waves: tuple[Wave, ...] = ()
    stats: dict[str, float | int | None] = Field(default_factory=dict)

    def steps(self) -> Iterator[tuple[int, int, SetMode | Create | Destroy | Start | Stop]]:
        """Every step as (wave index, step index within the wave, step), in order."""
        for w, wave in enumerate(self.waves):
            for k, step in enumerate(wave.steps):
                yield w, k, step

    def to_json_dict(self) -> dict[str, Any]:
        """The sequence as its JSON object."""
        return self.model_dump(mode="json", exclude_none=True)


def moves_from_dict(data: Any, *, file: str = "<moves>") -> Moves:
    """Validates a parsed move-sequence object (structure only; :mod:`packer.check_moves` replays it)."""
    if not isinstance(data, dict):
        raise InputError("a moves file holds one JSON object", file=file)
    if data.get("format") != MOVES_FORMAT:
        raise InputError(f"expected {MOVES_FORMAT!r}, found {data.get('format')!r}", file=file, field="format")
    try:
        return Moves.model_validate(data)
    except ValidationError as e:
        raise pydantic_error(e, file=file) from None


def load_moves(path: str | Path) -> Moves:
    """Reads a move-sequence file."""
    return moves_from_dict(read_json(path), file=str(path))


def save_moves(moves: Moves, path: str | Path) -> None:
    """Writes a move-sequence file atomically."""
    write_text_atomic(path, dumps(moves.to_json_dict()))


def moves_schema() -> dict[str, Any]:
    """JSON Schema of the move-sequence file."""
    return Moves.model_json_schema()


__all__ = [
    "MOVES_FORMAT",
    "Create",
    "Destroy",
    "Moves",
    "SetMode",
    "Start",
    "Step",
    "Stop",
    "Wave",
    "load_moves",
    "moves_from_dict",
    "moves_schema",
    "save_moves",
]
