"""Session 27 (branch replay27): the replay kernel before and after it went to one rho, on small random cases.

The placements (node, device mask) and the logged fragmentation of every replay policy on the random cases of
``tests/test_replay_engine.py`` (seeds 0-39), with the policy's own rho (``packer_settings``) and with fixed rhos
0, 0.5, 3, 9, 40 and NaN, through both the one-shot replay and the live cluster (pods placed one at a time, with
every third placed pod released after the next arrival). Run once with the tree before the change on PYTHONPATH
(its engine takes ``params=(rho,)``) and once with the tree after it (``rho=``); the two JSON files must be equal::

    PYTHONPATH=BEFORE python bench/bench_replay27_one_rho_identity.py --out before.json
    PYTHONPATH=AFTER python bench/bench_replay27_one_rho_identity.py --out after.json
    python bench/bench_replay27_one_rho_identity.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RHOS = ("own", 0.0, 0.5, 3.0, 9.0, 40.0, "nan")


def _knob(fn: Any, rho: float) -> dict[str, Any]:
    """The rho keyword as ``fn`` (engine.replay or LiveCluster) takes it in the tree on the path."""
    if "rho" in inspect.signature(fn).parameters:
        return {"rho": rho}
    return {"params": (rho,)}


def _case(seed: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    import replay_reference as ref
    from test_replay_engine import _random_case

    from packer.replay.engine import LiveCluster, replay
    from packer.replay.policy import packer_settings
    from packer.replay.protocol import typical_pods
    from packer.replay.runner import POLICY_NAMES

    cluster, pods, rank, rand = _random_case(seed)
    tp = typical_pods(pods)
    kw = ref.engine_kwargs(cluster, pods, rank, rand, tp)
    own = packer_settings(tp)[1]
    own = float(own if isinstance(own, float) else own[0])
    out: dict[str, Any] = {}
    for r in RHOS:
        rho = own if r == "own" else (math.nan if r == "nan" else float(r))
        for pol in POLICY_NAMES:
            run = replay(pol, **kw, **_knob(replay, rho))
            out[f"replay/{pol}/{r}"] = [run.node.tolist(), run.devmask.tolist(), run.frag.tolist()]
        live = LiveCluster("packer", node_cpu=cluster.cpu, node_mem=cluster.mem, node_gpus=cluster.gpus,
                           node_model=cluster.model, node_rank=rank, tp_cpu=tp.cpu, tp_milli=tp.gpu_milli,
                           tp_num=tp.num_gpu, tp_spec=tp.spec, tp_prob=tp.prob, pk_weights=tp.prob,
                           **_knob(LiveCluster, rho))
        got, held = [], []
        for i in range(len(pods)):
            args = (int(pods.cpu[i]), int(pods.mem[i]), int(pods.num_gpu[i]), int(pods.gpu_milli[i]))
            n, mask = live.place(*args, int(pods.spec[i]), rand=(float(rand[i, 0]), float(rand[i, 1])))
            got.append([n, mask])
            if held:
                live.release(*held.pop())
            if n >= 0 and len(got) % 3 == 0:
                held.append((n, mask, *args))
        out[f"live/packer/{r}"] = [got, live.frag.tolist()]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    a = ap.parse_args()
    if a.compare:
        x, y = (json.loads(Path(p).read_text()) for p in a.compare)
        keys = sorted(set(x) | set(y))
        bad = [k for k in keys if x.get(k) != y.get(k)]
        print(f"{len(keys) - len(bad)} / {len(keys)} keys identical" + (f"; differ: {bad[:10]}" if bad else ""))
        return 1 if bad else 0
    import packer

    print(f"packer from {Path(packer.__file__).parent}", file=sys.stderr)
    res: dict[str, Any] = {}
    for s in range(a.seeds):
        res.update({f"{s}/{k}": v for k, v in _case(s).items()})
    Path(a.out).write_text(json.dumps(res, sort_keys=True))
    print(f"{len(res)} keys -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
