#!/bin/bash
# interleaved timed A/B of TENANT_ALL, arms' order turning per state
# (run at commit afeb0cb, where TENANT_ALL was True by default: the "on" arm had no flag then)
cd /work/wt/reopt16 && . /work/main/.venv/bin/activate && export PYTHONPATH=$PWD
i=0
for fs in "issue 5" "issue 100" "issue 101" "fragmented 103" "fragmented 104"; do
  set -- $fs; fam=$1; s=$2
  if [ $((i % 2)) -eq 0 ]; then arms="on off"; else arms="off on"; fi
  for arm in $arms; do
    flag="--tenant-all"; [ $arm = off ] && flag="--no-tenant-all"
    echo "== $fam $s $arm $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    nice -n 5 python bench/bench_reopt.py $fam --seeds $s --budgets all --time-limit 60 --workers 2 $flag --json bench/reopt_tenantall_timed_${fam}_s16.json
  done
  i=$((i+1))
done
echo "== done $(date -u +%H:%M:%S)"
