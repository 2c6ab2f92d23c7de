"""Reading and writing instance and plan files (SPEC §3-4).

Every reader raises :class:`~packer.errors.InputError` naming the file and the field path; every
writer writes to a temporary file beside the target and renames it, so a failed run never leaves a
half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from packer.catalog import pydantic_error
from packer.errors import InputError
from packer.model import INSTANCE_FORMAT, PLAN_FORMAT, Instance, Plan, validate_instance


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def parse_json(text: str, *, file: str) -> Any:
    """Parses JSON text, rejecting duplicate keys, with errors that name the file and position."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}", file=file) from None
    except _DuplicateKey as e:
        raise InputError(f"duplicate key {e.key!r} in a JSON object", file=file) from None


def read_json(path: str | Path) -> Any:
    """Reads a JSON file (see :func:`parse_json`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read: {e}", file=str(path)) from None
    return parse_json(text, file=str(path))


def instance_from_dict(data: Any, *, file: str = "<instance>") -> Instance:
    """Validates a parsed instance object, structure and cross-references both."""
    if not isinstance(data, dict):
        raise InputError("an instance file holds one JSON object", file=file)
    fmt = data.get("format")
    if fmt != INSTANCE_FORMAT:
        raise InputError(f"expected {INSTANCE_FORMAT!r}, found {fmt!r}", file=file, field="format")
    try:
        inst = Instance.model_validate(data)
    except ValidationError as e:
        raise pydantic_error(e, file=file) from None
    validate_instance(inst, file=file)
    return inst


def load_instance(path: str | Path, catalogs: Sequence[str | Path] = ()) -> Instance:
    """Reads and validates an instance file; ``catalogs`` (files of catalog entries, as given to the
    command line's ``--catalog``) come before the instance's own ``catalog`` entries."""
    from packer.catalog import parse_entries

    data = read_json(path)
    if catalogs and isinstance(data, dict):
        extra: list[Any] = []
        for c in catalogs:
            extra += [e.model_dump(mode="json") for e in parse_entries(read_json(c), file=str(c))]
        data = {**data, "catalog": extra + list(data.get("catalog") or [])}
    return instance_from_dict(data, file=str(path))


def plan_from_dict(data: Any, *, file: str = "<plan>") -> Plan:
    """Validates a parsed plan object (structure only; :func:`packer.check.check` judges it)."""
    if not isinstance(data, dict):
        raise InputError("a plan file holds one JSON object", file=file)
    fmt = data.get("format")
    if fmt != PLAN_FORMAT:
        raise InputError(f"expected {PLAN_FORMAT!r}, found {fmt!r}", file=file, field="format")
    try:
        return Plan.model_validate(data)
    except ValidationError as e:
        raise pydantic_error(e, file=file) from None


def load_plan(path: str | Path) -> Plan:
    """Reads a plan file."""
    return plan_from_dict(read_json(path), file=str(path))


def instance_to_dict(inst: Instance) -> dict[str, Any]:
    """The instance as SPEC's JSON object."""
    return inst.model_dump(mode="json", by_alias=True)


def dumps(obj: Any) -> str:
    """Compact-but-readable JSON: one request or assignment per line is left to the reader's tools."""
    return json.dumps(obj, indent=1, sort_keys=False) + "\n"


def write_text_atomic(path: str | Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp makes the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


#: The plan's lists written one entry per line (:func:`dumps_plan`).
PLAN_ROWS = ("assignments", "unplaced", "migrations", "gpu_modes")


def dumps_plan(obj: dict[str, Any], rows: Sequence[str] = PLAN_ROWS) -> str:
    """A plan object as JSON: as :func:`dumps` writes it, except that each entry of the lists named
    ``rows`` (an assignment with its units, an unplaced request and its reason, ...) is one line.

    The same JSON value as :func:`dumps`; written by the C encoder, not the pure-Python one that an
    indented dump needs (a 16,384-GPU plan: ~400,000 lines of units, 0.3 s → a few ms).
    """
    parts = []
    for k, v in obj.items():
        key = json.dumps(k)
        if k in rows and isinstance(v, list) and v:
            body = ",\n  ".join(json.dumps(e, separators=(", ", ": ")) for e in v)
            parts.append(f"{key}: [\n  {body}\n ]")
        else:
            parts.append(f"{key}: " + json.dumps(v, indent=1).replace("\n", "\n "))
    return "{\n " + ",\n ".join(parts) + "\n}\n"


def save_plan(plan: Plan, path: str | Path) -> None:
    """Writes a plan file atomically (:func:`dumps_plan`)."""
    write_text_atomic(path, dumps_plan(plan.to_json_dict()))


def save_instance(inst: Instance, path: str | Path) -> None:
    """Writes an instance file atomically."""
    write_text_atomic(path, dumps(instance_to_dict(inst)))


__all__ = [
    "dumps",
    "dumps_plan",
    "instance_from_dict",
    "instance_to_dict",
    "load_instance",
    "load_plan",
    "parse_json",
    "plan_from_dict",
    "read_json",
    "save_instance",
    "save_plan",
    "write_text_atomic",
]
