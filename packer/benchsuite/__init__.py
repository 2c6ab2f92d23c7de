"""The benchmark suite runner behind ``packer bench`` (issue 16).

:func:`run_suite` runs entries (solvers with fixed options: greedy, online, first-fit, best-fit, fgd,
cpsat, and ``lp`` for a bound without a plan) over families × sizes × seeds of
:mod:`packer.generate`, checks every plan with :func:`packer.check.check`, keeps the results in a JSON
file (after every run, so a long run can be resumed: runs already there are skipped) and writes
markdown tables (:mod:`packer.benchsuite.tables`). The unit of work is :func:`run_one`, a plain
function of (family, nodes, seed, entry, options).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from packer.benchsuite.runner import ENTRIES, RESULT_FORMAT, key_of, run_one
from packer.benchsuite.tables import markdown
from packer.errors import InputError
from packer.formats import dumps, write_text_atomic
from packer.progress import SILENT, Progress


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """The results kept in a bench JSON file ([] when it does not exist)."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"not a readable bench result file: {e}", file=str(p)) from None
    if not isinstance(data, dict) or data.get("format") != RESULT_FORMAT or not isinstance(data.get("results"), list):
        raise InputError(f"expected an object with format {RESULT_FORMAT!r} and a results list", file=str(p),
                         field="format")
    return list(data["results"])


def save_results(path: str | Path, results: Sequence[dict[str, Any]]) -> None:
    """Writes the results atomically (a file cut short by a crash is never left behind)."""
    write_text_atomic(path, dumps({"format": RESULT_FORMAT, "results": list(results)}))


def plan_runs(families: Sequence[str], nodes: Sequence[int], seeds: Sequence[int], entries: Sequence[str],
              options: dict[str, object]) -> list[tuple[str, int, int, str]]:
    """Every (family, nodes, seed, entry) in run order: instance by instance, entries in the given order."""
    for e in entries:
        if e not in ENTRIES:
            raise InputError(f"unknown solver {e!r}; choose from {', '.join(ENTRIES)}", field="--solvers")
    return [(f, n, s, e) for n in nodes for f in families for s in seeds for e in entries]


def run_suite(families: Sequence[str], nodes: Sequence[int], seeds: Sequence[int], entries: Sequence[str],
              options: dict[str, object] | None = None, *, json_path: str | Path | None = None,
              force: bool = False, progress: Progress = SILENT,
              run: Callable[..., dict[str, Any]] = run_one, ray_address: str | None = None) -> list[dict[str, Any]]:
    """Runs every (family, nodes, seed, entry) not already in ``json_path`` (all with ``force``).

    Returns every result of the file and of this run (a rerun replaces the old result of its key).
    The file is rewritten after each run. ``ray_address`` (``"local"`` or a cluster's, see
    :mod:`packer.parallel`): the runs go to Ray as tasks, ``workers`` (default 1) cores each, and
    each result notes how many ran side by side (``ray_parallel``: timed figures share the machine).
    """
    options = dict(options or {})
    results = load_results(json_path) if json_path else []
    done = {r["key"]: i for i, r in enumerate(results)}
    todo = plan_runs(families, nodes, seeds, entries, options)
    if ray_address is not None:
        return _run_on_ray(todo, options, results, done, json_path=json_path, force=force, progress=progress,
                           run=run, ray_address=ray_address)
    for i, (f, n, s, e) in enumerate(todo):
        key = key_of(f, n, s, e, options)
        if key in done and not force:
            continue
        progress.update(done=i, total=len(todo), note=key, force=True)
        _keep(run(f, n, s, e, options), results, done, json_path)
        progress.update(done=i + 1, total=len(todo), note=_note(key, results[done[key]]), force=True)
    return results


def _keep(res: dict[str, Any], results: list[dict[str, Any]], done: dict[str, int],
          json_path: str | Path | None) -> None:
    """Stores ``res`` in ``results`` (replacing an older result of its key) and rewrites the file."""
    key = res["key"]
    if key in done:
        results[done[key]] = res
    else:
        done[key] = len(results)
        results.append(res)
    if json_path:
        save_results(json_path, results)


def _note(key: str, res: dict[str, Any]) -> str:
    """The progress line of one finished run."""
    return f"{key}: {'FAIL ' + str(res.get('error')) if not res['ok'] else res.get('objective') or res.get('bound')}"


def _run_task(run: Callable[..., dict[str, Any]], options: dict[str, object],
              job: tuple[str, int, int, str]) -> dict[str, Any]:
    """One run as a Ray task."""
    return run(*job, options)


def _run_on_ray(todo: list[tuple[str, int, int, str]], options: dict[str, object], results: list[dict[str, Any]],
                done: dict[str, int], *, json_path: str | Path | None, force: bool, progress: Progress,
                run: Callable[..., dict[str, Any]], ray_address: str) -> list[dict[str, Any]]:
    """:func:`run_suite`'s runs as Ray tasks; each result is kept (and the file rewritten) as it comes back."""
    from functools import partial

    from packer.parallel import TaskPool

    jobs = [j for j in todo if force or key_of(*j, options) not in done]
    workers = options.get("workers")
    finished = 0
    with TaskPool(ray_address, cpus_per_task=int(workers) if isinstance(workers, int) else 1) as pool:
        width = pool.parallel

        def keep(i: int, res: dict[str, Any]) -> None:
            nonlocal finished
            res = {**res, "ray_parallel": width}
            _keep(res, results, done, json_path)
            finished += 1
            progress.update(done=finished, total=len(jobs), note=_note(res["key"], res), force=True)

        pool.map(partial(_run_task, run, options), jobs, on_done=keep)
    return results


__all__ = ["ENTRIES", "load_results", "markdown", "plan_runs", "run_one", "run_suite", "save_results"]
