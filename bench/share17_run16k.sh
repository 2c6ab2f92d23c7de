#!/bin/bash
cd /work/wt/share17 && . /work/main/.venv/bin/activate && export PYTHONPATH=$PWD
echo "start main arm $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
nice -n 5 python bench/bench_share17.py --set EXCHANGE=False -- bench --families sharing --nodes 2048 --seeds 100 --solvers cpsat,greedy --time-limit 300 --workers 2 --json bench/suite_cpsat16384_s17_sharing.json --md bench/suite_cpsat16384_s17_sharing.md --quiet
echo "end main arm $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
nice -n 5 python bench/bench_share17.py --set EXCHANGE=True -- bench --families sharing --nodes 2048 --seeds 100 --solvers cpsat,greedy --time-limit 300 --workers 2 --json bench/suite_cpsat16384_s17_sharing_exchange.json --md bench/suite_cpsat16384_s17_sharing_exchange.md --quiet
echo "end exchange arm $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
