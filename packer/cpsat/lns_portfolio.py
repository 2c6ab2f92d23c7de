"""Which kind of LNS step runs next: a portfolio whose shares follow what each kind has gained.

Each kind starts at a base share. After a few steps, a kind's share is its base share times its gain
per unit of step cost (objective units per second of the step, or per deterministic unit in
reproducible runs), with ADAPT_PRIOR steps' worth of the average rate added to every kind so that a
kind is neither dropped after one unlucky step nor favoured after one lucky one; no kind falls below
ADAPT_FLOOR of its base share, so a kind that stopped paying is still tried now and then (what pays
changes as the plan improves: value steps first, random ones to polish).

The draw uses the caller's random generator and the outcomes in the order they are recorded, so
sequential steps with deterministic budgets stay reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: Steps' worth of the average gain rate every kind starts with.
ADAPT_PRIOR = 4.0
#: No kind's share falls below this part of its base share.
ADAPT_FLOOR = 0.25
#: None: a kind's share is its base share times its rate over the mean rate (above), so the base shares
#: weigh as much after hundreds of steps as after the first few. A number N: the shares move from the
#: base shares (normalised) toward the kinds' rates (normalised, each with its ADAPT_PRIOR) with
#: weight n / (n + N) after n steps: the base shares are a prior that the steps' evidence outweighs.
#: On inference-0 at 300 s value steps gained 0.30 objective units per second against random ones'
#: 0.08, yet took 101 of 266 steps against their 120 (session 15).
#: Off: at 20, 40 deterministic steps on 11 instances of seven families won 4 and lost 7 (+7.3 in all, +15.6
#: of it one instance's); too few steps for the shares to move far, so not decided either way.
#: Trades: steps where the gain has been against trying every kind as the plan changes (ADAPT_FLOOR stays).
ADAPT_MATCH_STEPS: float | None = None


@dataclass
class Portfolio:
    """Base shares per kind and what each kind has gained so far."""

    base: dict[str, float]
    adapt: bool = True
    steps: dict[str, int] = field(default_factory=dict)
    improved: dict[str, int] = field(default_factory=dict)
    gain: dict[str, float] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)

    def shares(self, kinds: list[str]) -> list[float]:
        """The current shares of ``kinds`` (not normalised)."""
        base = [self.base.get(k, 0.0) for k in kinds]
        n = sum(self.steps.values())
        if not self.adapt or n == 0:
            return base
        total_gain = sum(self.gain.values())
        total_cost = sum(self.cost.values())
        if total_gain <= 0 or total_cost <= 0:
            return base
        mean_gain, mean_cost = total_gain / n, total_cost / n
        rate = total_gain / total_cost
        rates = [(self.gain.get(k, 0.0) + ADAPT_PRIOR * mean_gain) / (self.cost.get(k, 0.0) + ADAPT_PRIOR * mean_cost)
                 for k in kinds]
        if ADAPT_MATCH_STEPS is None:
            return [b * max(ADAPT_FLOOR, r / rate) for b, r in zip(base, rates, strict=True)]
        weight = n / (n + ADAPT_MATCH_STEPS)
        base_sum, rate_sum = sum(base), sum(r for b, r in zip(base, rates, strict=True) if b > 0)
        if base_sum <= 0 or rate_sum <= 0:
            return base
        return [0.0 if b <= 0 else max(ADAPT_FLOOR * b / base_sum, (1 - weight) * b / base_sum + weight * r / rate_sum)
                for b, r in zip(base, rates, strict=True)]

    def draw(self, rng: random.Random, kinds: list[str]) -> str:
        """A kind among ``kinds`` (all with a positive base share) in proportion to its share."""
        shares = self.shares(kinds)
        u = rng.random() * sum(shares)
        for k, s in zip(kinds, shares, strict=True):
            u -= s
            if u < 0:
                return k
        return kinds[-1]

    def factor(self, kind: str, base: Portfolio) -> float:
        """What ``kind``'s share is multiplied by when its steps are recorded here and the other kinds' in
        ``base`` (lns.KIND_STREAMS' overlay kinds): its gain rate (with ADAPT_PRIOR steps of ``base``'s mean)
        over ``base``'s rate, at least ADAPT_FLOOR; 1 until ``base`` has gained, or when not adapting."""
        n = sum(base.steps.values())
        total_gain, total_cost = sum(base.gain.values()), sum(base.cost.values())
        if not self.adapt or n == 0 or total_gain <= 0 or total_cost <= 0:
            return 1.0
        mean_gain, mean_cost = total_gain / n, total_cost / n
        rate = (self.gain.get(kind, 0.0) + ADAPT_PRIOR * mean_gain) / (self.cost.get(kind, 0.0) + ADAPT_PRIOR * mean_cost)
        return max(ADAPT_FLOOR, rate / (total_gain / total_cost))

    def record(self, kind: str, gain: float, cost: float) -> None:
        """A step of ``kind`` gained ``gain`` (objective units, 0 when it did not improve) for ``cost``."""
        self.steps[kind] = self.steps.get(kind, 0) + 1
        if gain > 0:
            self.improved[kind] = self.improved.get(kind, 0) + 1
        self.gain[kind] = self.gain.get(kind, 0.0) + max(0.0, gain)
        self.cost[kind] = self.cost.get(kind, 0.0) + max(1e-3, cost)

    def summary(self) -> dict[str, list[float]]:
        """Kind → [steps, improved, gain, cost], for the plan's solver info."""
        return {k: [self.steps[k], self.improved.get(k, 0), round(self.gain.get(k, 0.0), 3),
                    round(self.cost.get(k, 0.0), 3)] for k in sorted(self.steps)}
