#!/bin/bash
# Session 17: interleaved timed A/B of the pack step (packer.cpsat.reopt_pack.PACK) at 60 s, the issue
# recipe (budget all, --workers 2), arms' order turning per state. Usage: bench/bench_reopt_pack_timed.sh TAG
# (JSON: bench/reopt_pack_timed_FAMILY_TAG.json; one run per state and arm).
# Optional second argument: the states, e.g. "issue 5" (default: the five below; packfill17 ran haein-5 only).
tag=${1:-s17}
states=${2:-"issue 5|issue 100|issue 101|fragmented 103|fragmented 104"}
cd "$(dirname "$0")/.." && { [ ! -f .venv/bin/activate ] || . .venv/bin/activate; } && export PYTHONPATH=$PWD
i=0
IFS='|' read -ra list <<< "$states"
for fs in "${list[@]}"; do
  set -- $fs; fam=$1; s=$2
  if [ $((i % 2)) -eq 0 ]; then arms="on off"; else arms="off on"; fi
  for arm in $arms; do
    echo "== $fam $s $arm $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    nice -n 5 python bench/bench_reopt.py $fam --seeds $s --budgets all --time-limit 60 --workers 2 --pack $arm \
      --json bench/reopt_pack_timed_${fam}_${tag}.json
  done
  i=$((i+1))
done
echo "== done $(date -u +%H:%M:%S)"
