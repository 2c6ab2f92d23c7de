"""Per-step LNS profile at 1,024 GPUs: python bench/bench_cpsat_stepprofile.py FAMILY[,FAMILY] SECONDS (seed 0, --workers 2)."""
import sys, json, statistics as st
from packer.cpsat import lns as L
import packer.cpsat.solver as cpsat
from packer.generate import generate
from packer.check import check
L.PROFILE_STEPS = True
for fam in sys.argv[1].split(","):
    inst = generate(fam, seed=0, nodes=128)
    plan = cpsat.solve(inst, time_limit=float(sys.argv[2]), workers=2)
    ok = check(inst, plan).ok
    lns = (plan.solver.model_extra or {}).get("lns") or {}
    prof = lns.get("profile", [])
    if not prof:
        print(fam, "no lns profile", ok, plan.objective); continue
    tot = [e["build_s"] + e["presolve_s"] + e["solve_s"] for e in prof]
    share = [(e["build_s"] + e["presolve_s"]) / t for e, t in zip(prof, tot) if t > 0]
    print(json.dumps({"family": fam, "ok": ok, "objective": round(plan.objective, 2), "steps": len(prof),
        "improved": sum(e["improved"] for e in prof), "build_s": round(lns["build_s"], 2),
        "presolve_s": round(lns["presolve_s"], 2), "solve_s": round(lns["solve_s"], 2),
        "build+presolve share median": round(st.median(share), 2),
        "min": round(min(share), 2), "max": round(max(share), 2)}))
