#!/bin/bash
# Session 18: interleaved timed A/B at 60 s, the issue recipe (budget all, --workers 2), arms' order turning
# per state. Usage: bench/bench_reopt_fillwide_timed.sh TAG [STATES] [FLAGS]
# FLAGS: the bench_reopt.py options each arm sets to on/off (default "fill-wide"; e.g. "fill-wide open-room"
# sets both on in arm on and both off in arm off). JSON: bench/reopt_fillwide_timed_FAMILY_TAG.json; one run per
# state and arm; STATES as "issue 5|fragmented 103" (default: the five report states of issue #17).
tag=${1:-s18}
states=${2:-"issue 5|issue 100|issue 101|fragmented 103|fragmented 104"}
flags=${3:-"fill-wide"}
cd "$(dirname "$0")/.." && { [ ! -f .venv/bin/activate ] || . .venv/bin/activate; } && export PYTHONPATH=$PWD
i=0
IFS='|' read -ra list <<< "$states"
for fs in "${list[@]}"; do
  set -- $fs; fam=$1; s=$2
  if [ $((i % 2)) -eq 0 ]; then arms="on off"; else arms="off on"; fi
  for arm in $arms; do
    opts=""; for f in $flags; do opts="$opts --$f $arm"; done
    echo "== $fam $s $arm ($opts) $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    nice -n 5 python bench/bench_reopt.py $fam --seeds $s --budgets all --time-limit 60 --workers 2 $opts \
      --json bench/reopt_fillwide_timed_${fam}_${tag}.json
  done
  i=$((i+1))
done
echo "== done $(date -u +%H:%M:%S)"
