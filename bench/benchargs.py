"""Small argument helpers shared by the positional-argument bench scripts (run as ``python bench/X.py``,
so this folder is on ``sys.path``)."""

from __future__ import annotations


def pop_option(argv: list[str], name: str) -> str | None:
    """Remove ``name VALUE`` from ``argv`` (in place) and return VALUE, or None where it is absent."""
    if name not in argv:
        return None
    i = argv.index(name)
    if i + 1 >= len(argv):
        raise SystemExit(f"{name} needs a value")
    value = argv[i + 1]
    del argv[i:i + 2]
    return value


def emit(row: dict[str, object], out: str | None) -> None:
    """Print ``row`` as one JSON line and, with ``out``, append that line to the file."""
    import json

    line = json.dumps(row)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
