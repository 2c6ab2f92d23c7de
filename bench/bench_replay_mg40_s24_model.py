"""Session 24 (issue 17 part 4, step 2): which GPU model's rho carries multigpu40's static loss under a non-typical
rule. Runs FGD's static protocol (packer, 130%) under a rule, and under the same rule with the balance, weight and
CPU-only blocks of the named models set back to the typical rho a (the fractional block untouched).

    NUMBA_NUM_THREADS=1 nice -n 5 python bench/bench_replay_mg40_s24_model.py [--workload multigpu40] [--seeds 0-4]
        [--rule per_model/-/-/competing] [--models P100,T4,P100+T4] [--out bench/replay_mg40_s24_model]

Prints per arm the per-seed allocation minus "typical" and the mean. A diagnostic: the override is a bench-only
patch of packer.replay.policy.rho_params, not a rule.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_replay_rho21 import _apply  # noqa: E402
from bench_replay_workloads import TRACES, load  # noqa: E402

import packer.replay.policy as pol  # noqa: E402
from packer.replay.openb import read_nodes, read_pods  # noqa: E402
from packer.replay.protocol import parse_seeds, typical_pods  # noqa: E402
from packer.replay.runner import run_policy  # noqa: E402


def _patched(orig, models: list[int], a: float):  # type: ignore[no-untyped-def]
    """rho_params with the entries of ``models`` in the first three blocks (balance, weight, CPU-only) set to a."""
    def rho_params(*args, **kw):  # type: ignore[no-untyped-def]
        p = list(orig(*args, **kw))
        j = 0
        for _ in range(3):
            if j + 1 >= len(p) or p[j] <= 0.0:
                break
            k = int(p[j + 1])
            for m in models:
                if m < k:
                    p[j + 2 + m] = a
            j += 2 + k
        return tuple(p)
    return rho_params


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="multigpu40")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--rule", default="per_model/-/-/competing")
    ap.add_argument("--models", default="P100,T4,P100+T4")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "replay_mg40_s24_model"))
    a = ap.parse_args()
    seeds = parse_seeds(a.seeds)
    cluster = read_nodes(TRACES / "csv" / "openb_node_list_gpu_node.csv")
    base = read_pods(TRACES / "csv" / "openb_pod_list_default.csv", cluster)
    pods, _ = load(cluster, a.workload, base)
    tp = typical_pods(pods)
    keep = (pol.RHO_RULE, pol.RHO_SPLIT, pol.RHO_WEIGHT_RULE, pol.RHO_CPU_ONLY_RULE, pol.RHO_FRAC_RULE)
    orig = pol.rho_params
    out = {}
    try:
        _apply("typical")
        a_rho = pol.rho_params(tp, cluster)[0]
        arms = [("typical", "typical", []), (a.rule, a.rule, [])]
        for spec in a.models.split(","):
            arms.append((f"{a.rule} {spec}=a", a.rule, [cluster.models.index(m) for m in spec.split("+")]))
        for name, rule, models in arms:
            _apply(rule)
            pol.rho_params = _patched(orig, models, a_rho) if models else orig
            res = run_policy(cluster, pods, "packer", seeds)
            out[name] = {"params": list(pol.rho_params(tp, cluster)),
                         "per_seed_130": [s["allocation_pct"][130] for s in res["per_seed"]]}
            pol.rho_params = orig
            d = [x - y for x, y in zip(out[name]["per_seed_130"], out["typical"]["per_seed_130"], strict=True)]
            print(f"{a.workload} {name}: mean {statistics.fmean(out[name]['per_seed_130']):.3f}; − typical per seed "
                  f"{' '.join(f'{x:+.2f}' for x in d)} mean {statistics.fmean(d):+.3f}", flush=True)
    finally:
        pol.rho_params = orig
        pol.RHO_RULE, pol.RHO_SPLIT, pol.RHO_WEIGHT_RULE, pol.RHO_CPU_ONLY_RULE, pol.RHO_FRAC_RULE = keep
    Path(a.out + ".json").write_text(json.dumps({"workload": a.workload, "seeds": seeds, "arms": out}, indent=1))


if __name__ == "__main__":
    main()
