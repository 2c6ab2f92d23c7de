"""Tie steps: value steps whose room counts work of the *same* value, where an exchange could move it.

A value step (:mod:`packer.cpsat.lns_value`) frees room for a waiting group where free capacity and
placed work of strictly lower value cover one request. Two kinds of gap that no such step reaches:

- **a chain through a tenant's quota** (tenants-106 at 1,024 GPUs): tenant X sits at its quota with
  priority-1 whole-GPU work placed and priority-1 MIG work waiting beside idle MIG GPUs; tenant Y is
  below its quota with priority-1 whole-GPU work waiting and every whole GPU taken. X trading its
  whole GPUs for its MIG work is worth nothing to X, but Y's work then takes the whole GPUs: +1 a GPU.
  A value step anchored on Y's group finds no room (nothing of lower value holds whole GPUs); one
  anchored on X's MIG group is never drawn (X holds nothing of lower value to give up for the quota);
  the capacity LP prices every kind 0 there (in aggregate the cluster has room), so NET_QUOTA does not
  see it either.
- **equal-value work in the only place a gang fits** (haein-104): a priority-2 rack gang of 32 fits
  only in one rack, where nine units of a priority-2 pod gang (which could move within its pod) and a
  priority-1 gang over four racks sit; its room, counting lower-value work only, is short.

A *tie* step draws its waiting group as a value step does, and reads "room" as free capacity plus
placed work of value per GPU-equivalent **at most** the group's (its tenant's quota likewise: work of
at most the group's net value may be given up). Then, within TIE_MAX_DOMAINS of the step's level:

1. the domains where one request fits that way (as a value step chooses them);
2. for a short quota, the domains holding the tenant's work of at most that value;
3. the other domains of single requests (gangs, spreads) that hold room there, lowest value first,
   so they can leave or move whole;
4. the domain with the most free room on the classes that the displaced work's tenants' waiting work
   (of at least the displaced value) and the displaced work itself may use: where the displaced side
   of the exchange lands.

CP-SAT decides whether the exchange pays; the step only frees where it could. Nothing here builds or
solves a model.
"""

from __future__ import annotations

import random

import numpy as np

from packer.cpsat.lns_value import VALUE_TOP, ValueIndex, _Waiting, give_up, room_cover

#: A tie step frees at most this many domains of the step's level.
TIE_MAX_DOMAINS = 4
#: A tie step covers the need of a request without locality with at most this many domains.
TIE_FIT_DOMAINS = 2


def pick_tie(ix: ValueIndex, rng: random.Random, pool: list[str], base: list[int],
             reserved: set[int] | frozenset[int] = frozenset()) -> tuple[set[str], list[int]] | None:
    """(the step-level domains a tie step frees, the growth variables it owns: the drawn group's first,
    then the waiting work of the displaced work's tenants that could land), or None when the drawn group
    has no domain within ``pool`` where it fits (see the module docstring)."""
    b = np.asarray(base, dtype=np.int64)
    cand = [w for w in ix.waiting if b[w.var] < w.top and w.var not in reserved]
    if not cand:
        return None
    held = b[ix.x_index] * ix.x_ge
    lack = quota_lack_at_most(ix, held, cand)
    cand = [w for w in cand if lack[w.group] >= 0.0]
    if not cand:
        return None
    cand.sort(key=lambda w: -w.density)
    cut = cand[min(len(cand), VALUE_TOP) - 1].density
    w = rng.choice([w for w in cand if w.density >= cut])
    upto = (ix.x_group != w.group) & (ix.x_density <= w.density)
    got = room_cover(ix, rng, w, held, pool, upto, TIE_FIT_DOMAINS, TIE_MAX_DOMAINS)
    if got is None:
        return None
    chosen, free, in_pool = got
    out = set(chosen)
    if lack[w.group] > 0.0:
        _add_own(ix, held, w, lack[w.group], in_pool, out)
    usable = np.zeros(len(ix.class_size), dtype=bool)
    usable[w.classes] = True
    steps_x = ix.class_step[ix.x_class]
    displaced = (held > 0) & upto & usable[ix.x_class] & np.isin(steps_x, sorted(out))
    _add_spans(ix, b, displaced, in_pool, out)
    others = _add_landing(ix, b, free, w, displaced, in_pool, out)
    return {ix.names[i] for i in out}, [w.var] + others


def quota_lack_at_most(ix: ValueIndex, held: np.ndarray, cand: list[_Waiting]) -> dict[int, float]:
    """Per candidate group: the GPU-equivalents its tenant must give up for one more request (0 when its
    quota has room), or -1 when the tenant's placed work of net value *at most* the group's, other than
    the group's own, does not cover that."""
    nt = len(ix.quota)
    used = np.bincount(ix.x_tenant, weights=held, minlength=nt)
    left = ix.quota - used
    out: dict[int, float] = {}
    for w in cand:
        short = w.need - left[w.tenant]
        if short <= 1e-9:
            out[w.group] = 0.0
            continue
        mine = (ix.x_tenant == w.tenant) & (ix.x_net <= w.net) & (ix.x_group != w.group)
        out[w.group] = float(short) if held[mine].sum() >= short - 1e-9 else -1.0
    return out


def _add_own(ix: ValueIndex, held: np.ndarray, w: _Waiting, short: float, in_pool: np.ndarray,
             out: set[int]) -> None:
    """Adds the domains holding ``w``'s tenant's work of net value at most ``w``'s (a request spanning
    several domains whole or not at all), lowest value first, until giving it up covers ``short``."""
    mine = (ix.x_tenant == w.tenant) & (ix.x_net <= w.net) & (ix.x_group != w.group) & (held > 0)
    ok = mine & (ix.class_step[ix.x_class] >= 0)
    give_up(ix, held, ok, short, in_pool, out, TIE_MAX_DOMAINS)


def _add_spans(ix: ValueIndex, b: np.ndarray, displaced: np.ndarray, in_pool: np.ndarray, out: set[int]) -> None:
    """Adds the other domains of the single requests among ``displaced`` (so they can leave or move
    whole), lowest value first, while the step stays within TIE_MAX_DOMAINS."""
    placed = b[ix.x_index] > 0
    steps_x = ix.class_step[ix.x_class]
    groups = sorted(set(ix.x_group[displaced & ix.x_single].tolist()),
                    key=lambda g: (float(ix.x_density[ix.x_group == g][0]), g))
    for g in groups:
        spans = {i for i in steps_x[placed & (ix.x_group == g)].tolist() if i >= 0} - out
        if not spans or len(out) + len(spans) > TIE_MAX_DOMAINS or not all(in_pool[i] for i in spans):
            continue
        out |= spans


def _add_landing(ix: ValueIndex, b: np.ndarray, free: np.ndarray, w: _Waiting, displaced: np.ndarray,
                 in_pool: np.ndarray, out: set[int]) -> list[int]:
    """Adds the domain in the pool, outside the step, with the most free room on the classes that the
    displaced work may use and that its tenants' waiting work of at least the displaced value may use.
    Returns the "placed" variables of that waiting work (in parallel steps the step owns them too: the
    displaced side of the exchange is placed by them)."""
    if not displaced.any():
        return []
    n = len(ix.class_size)
    lands = np.zeros(n, dtype=bool)
    groups = set(ix.x_group[displaced].tolist())
    lands[ix.x_class[np.isin(ix.x_group, sorted(groups))]] = True
    tenants = set(ix.x_tenant[displaced].tolist())
    least = float(ix.x_density[displaced].min())
    grow = []
    for o in ix.waiting:
        if o.group != w.group and o.tenant in tenants and o.density >= least and b[o.var] < o.top:
            lands[o.classes] = True
            grow.append(o.var)
    if len(out) >= TIE_MAX_DOMAINS:
        return grow
    steps = ix.class_step
    ok = lands & (steps >= 0)
    per = np.bincount(steps[ok], weights=free[ok], minlength=len(ix.names))
    for i in np.argsort(-per, kind="stable").tolist():
        if per[i] <= 0:
            break
        if in_pool[i] and i not in out:
            out.add(i)
            break
    return grow
