"""Every tuning constant of the CP-SAT orchestration, in one place, each with what it trades.

Read at call time (``tuning.NAME``), so tests and benchmarks may monkeypatch them here. The
constants of the steps themselves stay with their steps: LNS step choice in :mod:`packer.cpsat.lns`,
parallel rounds in :mod:`packer.cpsat.decompose`, the re-optimizer's in :mod:`packer.cpsat.reopt`.
Figures quoted are from the 2-core reference machine (bench/RESULTS_cpsat.md, bench/RESULTS_ray.md).
"""

from __future__ import annotations

# ----------------------------------------------------------------- which search, which hint

#: Models with at least this many placement variables get LNS on the model after a first run.
#: Trades: lower runs LNS on models CP-SAT would close itself; higher leaves big models to one run.
LNS_MIN_VARIABLES = 2000
#: Above this many (request, node) pairs the instance is solved by decomposition (LNS by domain).
#: Trades: lower gives up whole-model proofs sooner; higher builds models too big for the limit.
DECOMPOSE_ABOVE = 400_000
#: Above this many (request, node) pairs the hint comes from the online placer first, not the greedy one.
#: Trades: greedy's better plans against its super-linear time on huge instances.
ONLINE_HINT_ABOVE = 1_000_000
#: Below this many GPUs only the greedy placer gives the hint.
#: Trades: a second hint against the online placer's first-use compile (about a second).
ONLINE_HINT_MIN_GPUS = 256
#: With one worker (reproducible runs) the online placer adds a second hint only under at least this limit.
#: Trades: a better hint against the compile time short reproducible runs cannot spare.
ONLINE_HINT_MIN_S = 10.0

# ----------------------------------------------------------------- the time plan: shares of the limit

#: Share of the time limit the hint placers may take.
#: Trades: a valid plan on huge instances (the hint is the answer there) against search time.
HINT_SHARE = 0.5
#: On instances whose hint comes from the online placer first (ONLINE_HINT_ABOVE), the hint may take
#: more than HINT_SHARE when its estimate (:func:`packer.cpsat.timeplan.hint_s`) asks for it, up to
#: this share of the time: there the hint is the plan everything else improves, and a hint cut short
#: leaves every request it did not reach unplaced (131,072 GPUs at 60 s of a 600 s limit: a third of
#: the requests, gap 40.5 %). Trades: a complete hint against time for the search after it.
HINT_MAX_SHARE = 0.85
#: Seconds per new (not running) request for the online placer's hint: placing it, the snapshot plan
#: and the checker on that plan. Measured with bench/bench_hint_path.py (bench/RESULTS_ray.md, issue
#: 20, session 4): 1.6-2.2 ms per request on haein at 1,024-16,384 nodes, load 6-12 on the 2-core
#: machine, nearly flat in the nodes once the capacity scan skips full blocks; the top of that range
#: plus a margin, since a hint cut short costs every request it did not reach.
#: Trades: higher takes time from the search when the machine is quiet; lower cuts the hint under load.
HINT_S_PER_REQUEST = 2.5e-3
#: … plus this much once: the placer's state arrays and its compiled kernels loaded from the cache.
HINT_SETUP_S = 3.0
#: Seconds per (new request, node) pair for the greedy placer, second on online-first instances and
#: usually the better plan there (16,384 GPUs, haein seed 0: 21,760.8 against the online 20,303.6).
#: Measured with bench/bench_greedy_scale.py: 4.0e-6 at 1,024 nodes (15.1 s), 2.6e-6 at 2,048 nodes
#: (39.3 s), load 5.4-5.7 (it grows a little slower than the pairs). At 131,072 GPUs this says
#: about 48 minutes (a power law through the two points says 11; either is beyond the hint's
#: budget): greedy is then not started (its
#: partial plan in 60 s placed 2,821 requests, objective 37,316 against the online 160,444).
#: Trades: higher leaves greedy out of hints it would have improved; lower budgets for greedy runs
#: that are cut short.
GREEDY_S_PER_PAIR = 3e-6
#: Share of the hint's time the greedy placer may take, the rest is for checking its plan.
#: Trades: greedy's reach against the certainty that a plan stopped at its limit is checked in time.
HINT_PLACER_SHARE = 0.8
#: Share of the time left that the model's LP bound may take. On haein the LP needs 3.5-4.6 s and
#: CP-SAT rarely improves on the hint in a 10 s run anyway, so the bound gets most of a short limit
#: (at 0.4, haein-0/2 at 10 s ended with the capacity bound instead of the LP).
#: Trades: a tighter proven bound against search time (when the LP runs before the search).
LP_SHARE = 0.8
#: … and when it runs beside the search (big models, several cores), which it then does not hold up.
LP_CONCURRENT_SHARE = 0.95
#: Whether the LP beside the search runs in a child process ended at its limit (HiGHS's own limit does
#: not stop its cleanup on sharing), so that the LNS gets the core back; off: measured with share 0.5 it
#: won on sharing-0 and lost 16-20 on haein-0 in two pairs (bench/RESULTS_cpsat.md, issue 16 part 3).
LP_IN_CHILD = False
#: OS niceness added to the LP beside the search (its thread, or its child process), 0: off. When on, the
#: LNS runs its full number of step threads from the start instead of one at a time until the LP ends:
#: the search's threads then take the cores first, and the LP runs on what they leave (session 11).
LP_NICE = 0
#: Whether the LNS runs its steps one at a time until the LP beside the search ends (the LP holds a
#: core meanwhile). Off (or LP_NICE on): every step thread runs from the start, beside the LP.
LP_GATE = True
#: Level of the merged-node relaxation (packer/cpsat/relax.py) whose LP the LP thread solves first, before
#: the model's own LP, on a big model of work that is not running yet; None: off. Its optimum bounds the
#: instance's (every plan maps onto it), and the reported bound is the smaller of the two. At "cluster"
#: (one super node per GPU model) it is 0.4-1.3 s of wall at load 6 on 1,024 GPUs and within 0.1 % of the
#: model's LP on sharing, inference and tenants (seeds 0-1; tighter on inference-1: 1155.98 against
#: 1158.99), whose LP needs 5-15 s of CPU and often ended after the minute (session 14).
#: Trades: ~1 s of the LP thread against the capacity bound when the model's LP does not end in time.
LP_RELAXED_LEVEL: str | None = "cluster"
#: Share of the LP's time limit the relaxation first may take (its build and LP); past it, it is dropped.
LP_RELAXED_SHARE = 0.25
#: Once the relaxation's bound is in, the model's LP gets at most this many times the wall seconds the
#: relaxation took (its build and LP, on the same cores just before it: a unit of the machine's speed at
#: that moment), and is then stopped by HiGHS's time limit (no bound from it), which opens the LNS gate
#: (LP_GATE); None: it gets the rest of the LP's limit. The model's LP costs 2-3 relaxations on hetero
#: (where it is 0.9 % tighter) and 30-100 on sharing, inference and tenants (where the relaxation is
#: within 0.1 % of it and it rarely ends in a 60 s solve at load 5; session 14, bench/RESULTS_cpsat.md).
#: Off: at 25, an equal-CPU A/B at load 6-10 won 7 and lost 4 on inference/tenants/sharing/hetero seeds 0-2,
#: inside the arms' noise (pairs whose arms ran the same path differed by up to 8; session 15).
#: Trades: a bound the model's LP may tighten against the LNS's second step thread for the rest of the minute.
LP_MODEL_CUT_FACTOR: float | None = None
#: … and at least this many seconds.
LP_MODEL_CUT_MIN_S = 2.0
#: Whether the LNS gate (LP_GATE) opens once the relaxation's bound is in, instead of when the model's LP
#: ends: every step thread then runs beside the model's LP, which bounds the plan only if it ends in time.
LP_GATE_RELAXED = False
#: Share of the time left for a decomposed solve's relaxation (data, model and LP; the rest is the LNS's).
#: Trades: the relaxation's bound (against the looser capacity bound) against LNS time.
RELAX_SHARE = 0.4
#: Seconds kept back from the time limit for converting the answer and writing the plan.
RESERVE_S = 0.05
#: … plus this much per GPU (the conversion walks every GPU and every unplaced request).
#: Trades: search time against overrunning the limit at the end on big clusters.
RESERVE_PER_GPU_S = 1e-3
#: With one worker CP-SAT stops by deterministic time, this many units per second of the time limit.
#: On the 2-core reference machine one unit takes 1.0–1.35 s of wall time (haein, small), so with the
#: model, the hint and the LP bound CP-SAT ends well inside the limit; the wall clock stays a safety stop.
#: Trades: search in reproducible runs against their finishing inside the limit on a slower machine.
DET_PER_SECOND = 0.4

# ----------------------------------------------------------------- cost estimates (what fits in the time)

#: Seconds per (request, node) pair to build a model, a generous estimate (haein-0 on the 2-core
#: reference machine: 72 k pairs, 2–4 s); a model that would not be built in the time left is not started.
#: Trades: higher gives up models that would have fitted; lower starts builds that eat the limit.
MODEL_S_PER_PAIR = 6e-5
#: Decomposed solves bound by the LP of a merged-node relaxation (relax.py) of at most this many
#: (request, super node) pairs: a cap on the candidates looked at, before anything is built.
RELAX_MAX_PAIRS = DECOMPOSE_ABOVE
#: Seconds per placement option (a (request group, GPU class, profile) triple, one variable of the
#: model) to build a relaxation's model. The options are counted on the relaxation's data, built
#: first for that (about 3 % of the model's cost), so the estimate follows the structure: a super
#: node of many GPUs with running work has many GPU classes, and the options grow with groups x
#: classes, not with (request, super node) pairs (the old per-pair estimate said 15 s for the
#: 131,072-GPU typed-nvlink relaxation whose model took 550 s). Measured 0.8-1.5e-4 s per option on
#: haein at 2,048-8,192 GPUs, merged and typed, load 4-6; the top of that range is used
#: (bench/bench_relax_build.py, bench/RESULTS_ray.md). Trades: higher picks coarser relaxations
#: (looser bounds) sooner; lower starts builds that are abandoned at their deadline (capacity bound).
RELAX_S_PER_OPTION = 1.5e-4
#: Seconds per (request, GPU class) pair to build a relaxation's data (its options are enumerated over
#: request groups x GPU classes), estimated before building it: every GPU holding running work may
#: be a class of its own, so the classes are counted as those GPUs plus three per super node. Measured
#: 0.25-1.6e-6 s per pair (typed-nvlink relaxations of haein 2,048 and fragmented 128-512 nodes, load
#: 4-5); the top of that range is used. Without this gate the 16,384-GPU fragmented cluster (15,821
#: running requests) spent 300 s building the first candidate's data under a 60 s limit.
RELAX_PREP_S_PER_PAIR = 1.6e-6
#: A relaxation's LP takes about this many times its model's build (xl-0 merged by pod: 14.5 s model,
#: 54 s LP). The LP has a time limit of its own, so this only decides which relaxation is tried.
RELAX_LP_PER_BUILD = 3.7

# ----------------------------------------------------------------- LNS on one big model

#: Big models with at least this many seconds left after the LP get LNS by domain on the model itself.
#: Trades: LNS's steady improvements against one long run's chance of a proof.
LNS_MIN_S = 4.0
#: Share of that time (at most LNS_FIRST_MAX_S) for the first, whole-model CP-SAT run.
#: Trades: the first run's bound and early improvement against LNS steps.
LNS_FIRST_SHARE = 0.2
LNS_FIRST_MAX_S = 5.0
#: … and at least this much (CP-SAT's presolve of a haein-sized model takes about a second).
LNS_FIRST_MIN_S = 2.0
#: Seconds (deterministic units with one worker) per LNS step, at most.
#: Trades: deeper steps against more of them.
LNS_STEP_S = 2.0
#: LNS runs on the coarsest level with at least this many domains …
LNS_DOMAIN_SHARE = 8
#: … and a step frees this share of them (at least one). On haein (32 racks, 2 threads) two racks a
#: step beat four and one (bench/RESULTS_cpsat.md, sixth session); one after the other it made no difference.
#: With the steps' faster search (lns.STEP_LINEARIZATION, seventh session) four racks a step and a size
#: that grows after proven steps and shrinks after timed-out ones were no better within the noise.
#: Trades: bigger neighbourhoods (more freedom per step) against steps that finish.
LNS_STEP_SHARE = 16
#: Wall seconds per LNS step beyond its deterministic budget (copying and presolving a haein model).
#: Trades: the number of reproducible steps against their finishing inside the limit.
LNS_STEP_OVERHEAD_S = 0.5
