"""A slow, obviously correct stand-in for :mod:`packer.online.kernels`.

Same function names and arguments as the kernels, plain Python loops, and none of their shortcuts:
no per-node aggregates (free whole GPUs, largest share, MIG fit masks, best scores), no precomputed
MIG tables (fit tests enumerate legal starts and test the interval; the ``packer`` potential and the
FGD fragmentation are computed from their definitions), no pruning. The placer runs on it with
``OnlinePlacer(inst, policy, _kernels=ReferenceKernels())``; the tests demand the same answers.

Only the base columns of the state arrays are kept up to date here, and N_FREEFULL, which the placer
reads for packer's rack/pod tie-break (the other aggregates are the kernels' business and are checked
separately against a rebuild).
"""

from __future__ import annotations

import math

from packer.online.policies import (
    BEST_FIT,
    DOTPRODUCT,
    FGD,
    FIRST_FIT,
    GPUCLUSTERING,
    GPUPACKING,
    PACKER,
    RANDOM,
    base_targets,
    potential_weights,
)
from packer.online.state import (
    ANY,
    DOM_WEIGHT,
    FULL,
    G_BASE,
    G_FREE,
    G_ISON,
    G_ISOT,
    G_MODE,
    G_MODEL,
    G_NODE,
    G_OCC,
    G_UNITS,
    G_USEDC,
    K_GPU,
    K_MIG,
    K_SHARE,
    MIG,
    N_CPU,
    N_DOMKEY,
    N_FREEFULL,
    N_GPU0,
    N_ISON,
    N_ISOT,
    N_MEM,
    N_MODEL,
    N_NGPU,
    N_PODS,
    N_UNITS,
    NO_TENANT,
    PP_CPUNORM,
    PP_DOMNORM,
    PP_GPUNORM,
    PP_WANY,
    PP_WEMPTY,
    PP_WNODE,
    PP_WSTRAND,
    R_CPU,
    R_GPUMAX,
    R_KIND,
    R_MEM,
    R_MILLI,
    R_NEED,
    R_NOANY,
    R_PODCPU,
    R_PODGPU,
    R_POLICY,
    R_TAG,
    R_TENANT,
    R_TISO,
    SHARED,
    KernelState,
)

INF = float("inf")


class ReferenceKernels:
    """The kernels' contract, implemented the slow way."""

    def bind(self, models, target) -> None:  # type: ignore[no-untyped-def]
        self.models = models
        self.target = target

    # ---------------------------------------------------------------- first principles

    def _profile(self, m: int, p: int):  # type: ignore[no-untyped-def]
        return self.models[m].profiles[p]

    def _free_span(self, occ: int, start: int, size: int) -> bool:
        return all(not (occ >> b) & 1 for b in range(start, start + size))

    def _legal_free_starts(self, m: int, p: int, occ: int) -> list[int]:
        prof = self._profile(m, p)
        return [s for s in sorted(prof.starts) if self._free_span(occ, s, prof.size)]

    def _count_fit(self, m: int, p: int, occ: int, limit: int) -> int:
        prof = self._profile(m, p)
        n = 0
        for s in sorted(prof.starts):
            if n >= limit:
                break
            if self._free_span(occ, s, prof.size):
                occ |= ((1 << prof.size) - 1) << s
                n += 1
        return n

    def _potential(self, m: int, occ: int) -> int:
        model = self.models[m]
        total = 0
        for pi, w in potential_weights(model, self.target):
            prof = model.profiles[pi]
            total += w * self._count_fit(m, pi, occ, prof.max_count)
        return total

    def _stranded(self, g32, g: int, m: int, p: int, s: int) -> int:  # type: ignore[no-untyped-def]
        """Compute slices left idle for good: no profile within them has a free legal start after."""
        model = self.models[m]
        prof = model.profiles[p]
        left = model.compute_slices - int(g32[g, G_USEDC]) - prof.compute
        after = int(g32[g, G_OCC]) | (((1 << prof.size) - 1) << s)
        if left <= 0 or any(q.compute <= left and self._legal_free_starts(m, q.index, after) for q in model.profiles):
            return 0
        return left

    def _mig_frag(self, m: int, occ: int) -> float:
        model = self.models[m]
        pos = model.memory_positions
        idle = 1000.0 * (pos - bin(occ).count("1")) / pos
        f = 0.0
        for pi, pr in base_targets(model, self.target):
            if not self._legal_free_starts(m, pi, occ):
                f += pr * idle
        return f

    def _idle(self, g32, gpc, g: int) -> int:  # type: ignore[no-untyped-def]
        mode = int(g32[g, G_MODE])
        if mode == MIG:
            m = int(g32[g, G_MODEL])
            model = self.models[m]
            used = sum(int(gpc[g, p.index]) * p.compute for p in model.profiles)
            return (1000 * (model.compute_slices - used)) // model.compute_slices
        if mode == FULL:
            return 1000 if int(g32[g, G_UNITS]) == 0 else 0
        return int(g32[g, G_FREE])

    def _node_idle(self, g32, gpc, n64, n: int) -> int:  # type: ignore[no-untyped-def]
        g0 = int(n64[n, N_GPU0])
        return sum(self._idle(g32, gpc, g0 + k) for k in range(int(n64[n, N_NGPU])))

    def _node_ok(self, n64, n, rq, nallow) -> bool:  # type: ignore[no-untyped-def]
        if nallow[n] == 0 or n64[n, N_CPU] < rq[R_CPU] or n64[n, N_MEM] < rq[R_MEM]:
            return False
        t = rq[R_TENANT]
        if n64[n, N_ISON] > 0 and n64[n, N_ISOT] != t:
            return False
        if rq[R_TISO] == 2 and n64[n, N_UNITS] > 0 and not (n64[n, N_ISOT] == t and n64[n, N_ISON] == n64[n, N_UNITS]):
            return False
        return True

    def _gpu_ok(self, g32, g, rq, greq) -> bool:  # type: ignore[no-untyped-def]
        if greq[g] >= rq[R_GPUMAX]:
            return False
        t = rq[R_TENANT]
        if g32[g, G_ISON] > 0 and g32[g, G_ISOT] != t:
            return False
        if rq[R_TISO] >= 1 and g32[g, G_UNITS] > 0 and not (g32[g, G_ISOT] == t and g32[g, G_ISON] == g32[g, G_UNITS]):
            return False
        return True

    def _options(self, g32, gpc, rq, rprof, modelok, g):  # type: ignore[no-untyped-def]
        """Every (choice, profile, start) one unit could take on GPU g, in (choice, start) order."""
        mode = int(g32[g, G_MODE])
        m = int(g32[g, G_MODEL])
        kind = rq[R_KIND]
        if mode == ANY and rq[R_NOANY]:
            return []
        if kind == K_MIG:
            if mode not in (MIG, ANY):
                return []
            out = []
            for c in range(rprof.shape[1]):
                p = int(rprof[m, c])
                if p < 0:
                    break
                if gpc[g, p] >= self._profile(m, p).max_count:
                    continue
                for s in self._legal_free_starts(m, p, int(g32[g, G_OCC])):
                    out.append((c, p, s))
            return out
        if not modelok[m]:
            return []
        if kind == K_GPU:
            return [(0, -1, -1)] if mode in (FULL, ANY) and g32[g, G_UNITS] == 0 else []
        return [(0, -1, -1)] if mode in (SHARED, ANY) and g32[g, G_FREE] >= rq[R_MILLI] else []

    def _share_frag(self, g32, n64, tws, n, dmilli, dcpu) -> float:  # type: ignore[no-untyped-def]
        g0, ng = int(n64[n, N_GPU0]), int(n64[n, N_NGPU])
        cpu = n64[n, N_CPU] - dcpu
        devs = [(int(g32[g0 + k, G_MODE]), int(g32[g0 + k, G_FREE]) - dmilli.get(k, 0)) for k in range(ng)]
        gsum = 0.0
        for mode, free in devs:
            if mode != MIG:
                gsum += free
        total = 0.0
        for mcpu, mmilli, mnum, pr, *_ in tws:
            if pr == 0.0:
                continue
            if mmilli <= 0.0:
                total += pr * gsum
                continue
            usable = [free for mode, free in devs if mode != MIG and free >= mmilli and (mmilli >= 1000.0 or mode != FULL)]
            unusable = 0.0
            for mode, free in devs:
                if mode != MIG and not (free >= mmilli and (mmilli >= 1000.0 or mode != FULL)):
                    unusable += free
            if len(usable) < mnum or cpu < mcpu:
                total += pr * gsum
            else:
                total += pr * unusable
        return total

    def _dev_keys(self, g32, n64, pp, tws, rq, g, p, s):  # type: ignore[no-untyped-def]
        pol, kind = rq[R_POLICY], rq[R_KIND]
        mode = int(g32[g, G_MODE])
        occ = int(g32[g, G_OCC])
        m = int(g32[g, G_MODEL])
        anyf = 1.0 if mode == ANY else 0.0
        if pol == FIRST_FIT:
            return 0.0, 0.0
        if kind == K_MIG:
            prof = self._profile(m, p)
            after = occ | (((1 << prof.size) - 1) << s)
        if pol == PACKER:
            wany = pp[PP_WANY] * anyf
            if kind == K_MIG:
                e = pp[PP_WEMPTY] if occ == 0 else 0.0
                e += pp[PP_WSTRAND] * self._stranded(g32, g, m, p, s)
                return float(self._potential(m, occ) - self._potential(m, after)) + e + wany, 0.0
            if kind == K_GPU:
                return wany, 0.0
            return float(int(g32[g, G_FREE]) - rq[R_MILLI]) + wany, 0.0
        if pol == FGD:
            if kind == K_MIG:
                return 0.0, self._mig_frag(m, after) - self._mig_frag(m, occ) + anyf
            if kind == K_GPU or rq[R_MILLI] >= 1000:
                return 0.0, anyf
            n = int(g32[g, G_NODE])
            g0 = int(n64[n, N_GPU0])
            before = self._share_frag(g32, n64, tws, n, {}, 0)
            aft = self._share_frag(g32, n64, tws, n, {g - g0: int(rq[R_MILLI])}, rq[R_CPU])
            return 0.0, aft - before + anyf
        if kind == K_MIG:
            pos = self.models[m].memory_positions
            return 0.0, float(pos - bin(after).count("1")) + anyf
        if kind == K_GPU or rq[R_MILLI] >= 1000:
            return 0.0, anyf
        return 0.0, float(int(g32[g, G_FREE])) + anyf

    def _node_key(self, g32, gpc, n64, ntag, pp, rq, n, bestg, bestd2) -> float:  # type: ignore[no-untyped-def]
        pol, kind = rq[R_POLICY], rq[R_KIND]
        if pol == FIRST_FIT:
            return 0.0
        cn, gn = pp[PP_CPUNORM], pp[PP_GPUNORM]
        podcpu, podgpu = float(rq[R_PODCPU]), float(rq[R_PODGPU])
        idle = float(self._node_idle(g32, gpc, n64, n))
        freecpu = min(float(n64[n, N_CPU]), cn)
        g0, ng = int(n64[n, N_GPU0]), int(n64[n, N_NGPU])
        if pol == PACKER:
            k = 0.0
            if n64[n, N_UNITS] == 0:
                k = pp[PP_WNODE]
            if kind == K_GPU:
                freefull = sum(1 for j in range(ng) if int(g32[g0 + j, G_MODE]) in (FULL, ANY) and g32[g0 + j, G_UNITS] == 0)
                k += 16.0 * freefull + DOM_WEIGHT * n64[n, N_DOMKEY] / pp[PP_DOMNORM]
            return k
        if pol == BEST_FIT:
            return -float(math.floor(100.0 * (1.0 - (0.5 * (freecpu - podcpu) / cn + 0.5 * (idle - podgpu) / gn))))
        if pol == DOTPRODUCT:
            dot = (freecpu / cn) * (podcpu / cn) + (idle / gn) * (podgpu / gn)
            return -float(math.floor(100.0 * (1.0 - dot / 2.0)))
        if pol == GPUCLUSTERING:
            base = math.floor(25.0 * (gn - idle) / gn)
            pods, same = int(n64[n, N_PODS]), int(ntag[n, rq[R_TAG]])
            bonus = 25 if pods == 0 else 75 if same == pods else 50 if same > 0 else 0
            return -float(base + bonus)
        if pol == GPUPACKING:
            nfree = sum(1 for j in range(ng) if self._idle(g32, gpc, g0 + j) >= 1000)
            if nfree == ng:
                return -float(max(33 - nfree, nfree))
            lfree = self._idle(g32, gpc, bestg)
            if lfree >= 1000:
                return -49.0
            return -float(max(100 - (math.floor(100.0 * lfree / 1000.0) // 10), 50))
        if pol == FGD:
            inc = bestd2 - (1.0 if g32[bestg, G_MODE] == ANY else 0.0)
            return -float(math.floor(100.0 / (1.0 + math.exp(inc / 1000.0))))
        return 0.0

    # --------------------------------------------------------------------- the contract

    def _refresh_all(self, g32, gpc, n64, *args) -> None:  # type: ignore[no-untyped-def]
        for n in range(n64.shape[0]):
            g0, ng = int(n64[n, N_GPU0]), int(n64[n, N_NGPU])
            n64[n, N_FREEFULL] = sum(1 for j in range(ng) if int(g32[g0 + j, G_MODE]) in (FULL, ANY)
                                     and g32[g0 + j, G_UNITS] == 0)

    def _pick_unit(self, g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof, modelok,
                   nallow, greq, nodes, u1, u2, out) -> bool:  # type: ignore[no-untyped-def]
        if rq[R_POLICY] == RANDOM:
            return self._pick_random(g32, gpc, n64, rq, rprof, modelok, nallow, greq, nodes, u1, u2, out)
        best = None  # (k1, d2, g, p, s)
        for n in nodes:
            n = int(n)
            if not self._node_ok(n64, n, rq, nallow):
                continue
            g0 = int(n64[n, N_GPU0])
            nb = None  # (d1, d2, g, p, s)
            for k in range(int(n64[n, N_NGPU])):
                g = g0 + k
                if not self._gpu_ok(g32, g, rq, greq):
                    continue
                for _c, p, s in self._options(g32, gpc, rq, rprof, modelok, g):
                    d1, d2 = self._dev_keys(g32, n64, pp, tws, rq, g, p, s)
                    if nb is None or (d1, d2) < (nb[0], nb[1]):
                        nb = (d1, d2, g, p, s)
            if nb is None:
                continue
            k1 = self._node_key(g32, gpc, n64, ntag, pp, rq, n, nb[2], nb[1]) + nb[0]
            if best is None or (k1, nb[1]) < (best[0], best[1]):
                best = (k1, nb[1], nb[2], nb[3], nb[4])
        if best is None:
            return False
        out[0], out[1], out[2] = best[2], best[3], best[4]
        return True

    def _fitting_devices(self, g32, gpc, n64, rq, rprof, modelok, greq, n):  # type: ignore[no-untyped-def]
        g0 = int(n64[n, N_GPU0])
        out = []
        for k in range(int(n64[n, N_NGPU])):
            g = g0 + k
            if self._gpu_ok(g32, g, rq, greq):
                opts = self._options(g32, gpc, rq, rprof, modelok, g)
                if opts:
                    # the first choice that fits, at its lowest free start
                    out.append((g, opts[0][1], opts[0][2]))
        return out

    def _pick_random(self, g32, gpc, n64, rq, rprof, modelok, nallow, greq, nodes, u1, u2, out) -> bool:  # type: ignore[no-untyped-def]
        feas = [int(n) for n in nodes if self._node_ok(n64, int(n), rq, nallow)
                and self._fitting_devices(g32, gpc, n64, rq, rprof, modelok, greq, int(n))]
        if not feas:
            return False
        n = feas[min(int(math.floor(u1 * len(feas))), len(feas) - 1)]
        devs = self._fitting_devices(g32, gpc, n64, rq, rprof, modelok, greq, n)
        fractional = rq[R_KIND] == K_MIG or (rq[R_KIND] == K_SHARE and rq[R_MILLI] < 1000)
        j = min(int(math.floor(u2 * len(devs))), len(devs) - 1) if fractional else 0
        out[0], out[1], out[2] = devs[j]
        return True

    def _cap(self, g32, gpc, n64, rq, rprof, modelok, nallow, greq, n, limit) -> int:  # type: ignore[no-untyped-def]
        if not self._node_ok(n64, n, rq, nallow) or n64[n, N_NGPU] == 0:
            return 0
        m = int(n64[n, N_MODEL])
        if rq[R_KIND] != K_MIG and not modelok[m]:
            return 0
        cap = limit
        if rq[R_CPU] > 0:
            cap = min(cap, int(n64[n, N_CPU]) // int(rq[R_CPU]))
        if rq[R_MEM] > 0:
            cap = min(cap, int(n64[n, N_MEM]) // int(rq[R_MEM]))
        if cap <= 0:
            return 0
        g0 = int(n64[n, N_GPU0])
        total = 0
        for k in range(int(n64[n, N_NGPU])):
            g = g0 + k
            if not self._gpu_ok(g32, g, rq, greq):
                continue
            mode = int(g32[g, G_MODE])
            if mode == ANY and rq[R_NOANY]:
                continue
            if rq[R_KIND] != K_MIG:
                if self._options(g32, gpc, rq, rprof, modelok, g):
                    total += 1
                continue
            if mode not in (MIG, ANY):
                continue
            room = int(rq[R_GPUMAX] - greq[g])
            best = 0
            for c in range(rprof.shape[1]):
                p = int(rprof[m, c])
                if p < 0:
                    break
                left = min(self._profile(m, p).max_count - int(gpc[g, p]), room)
                best = max(best, self._count_fit(m, p, int(g32[g, G_OCC]), left))
            total += best
        return min(total, cap)

    def _node_caps(self, g32, gpc, n64, mp, ms, gstart, rq, rprof, modelok, nallow, greq, nodes, limit, caps) -> None:  # type: ignore[no-untyped-def]
        for i, n in enumerate(nodes):
            caps[i] = self._cap(g32, gpc, n64, rq, rprof, modelok, nallow, greq, int(n), limit)

    def _pick_node(self, g32, gpc, n64, ntag, mp, ms, gstart, frag, tws, pp, rq, rprof, modelok, nallow, greq, nodes,
                   count, u1) -> int:  # type: ignore[no-untyped-def]
        pol, need, kind = rq[R_POLICY], rq[R_NEED], rq[R_KIND]
        cands = []
        for n in nodes:
            cap = self._cap(g32, gpc, n64, rq, rprof, modelok, nallow, greq, int(n), count)
            if cap >= need:
                cands.append((int(n), min(cap, count)))
        if not cands:
            return -1
        if pol == RANDOM:
            return cands[min(int(math.floor(u1 * len(cands))), len(cands) - 1)][0]
        if pol == FIRST_FIT:
            return cands[0][0]
        best, bn = INF, -1
        for n, take in cands:
            g0, ng = int(n64[n, N_GPU0]), int(n64[n, N_NGPU])
            fit = [g for g, _p, _s in self._fitting_devices(g32, gpc, n64, rq, rprof, modelok, greq, n)]
            if pol == PACKER:
                key = float(self._node_idle(g32, gpc, n64, n)) - float(rq[R_PODGPU]) * take / count
                if rq[R_KIND] == K_GPU:
                    key += DOM_WEIGHT * n64[n, N_DOMKEY] / pp[PP_DOMNORM]
            elif pol == GPUPACKING:
                nfl = sum(1 for j in range(ng) if self._idle(g32, gpc, g0 + j) >= 1000)
                if nfl == ng:
                    key = -float(max(33 - nfl, nfl))
                else:
                    vals = sorted(int(g32[g, G_FREE]) for g in fit)[:take]
                    fullt = sum(1 for v in vals if v >= 1000)
                    tot = sum(math.floor(100.0 * v / 1000.0) for v in vals)
                    key = -float(max(50 - fullt, 33)) if fullt else -float(max(100 - tot // 10, 50))
            elif pol == FGD:
                before = self._share_frag(g32, n64, tws, n, {}, 0)
                dm: dict[int, int] = {}
                nonmig = [g for g in fit if int(g32[g, G_MODE]) != MIG]
                if kind == K_GPU or rq[R_MILLI] >= 1000:
                    for g in nonmig[:take]:
                        dm[g - g0] = 1000 if kind == K_GPU else int(rq[R_MILLI])
                else:
                    for _t in range(take):
                        left = [g for g in nonmig if (g - g0) not in dm]
                        if left:
                            g = min(left, key=lambda x: (int(g32[x, G_FREE]), x))
                            dm[g - g0] = int(rq[R_MILLI])
                after = self._share_frag(g32, n64, tws, n, dm, rq[R_CPU] * take)
                key = -float(math.floor(100.0 / (1.0 + math.exp(-(before - after) / 1000.0))))
            else:
                key = self._node_key(g32, gpc, n64, ntag, pp, rq, n, g0, 0.0)
            if key < best:
                best, bn = key, n
        return bn

    def _apply(self, g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, g, p, s, milli, cpu, mem, tenant, tiso,
               sign, newmode) -> None:  # type: ignore[no-untyped-def]
        n = int(g32[g, G_NODE])
        m = int(g32[g, G_MODEL])
        if sign > 0 and g32[g, G_MODE] == ANY:
            g32[g, G_MODE] = newmode
        mode = int(g32[g, G_MODE])
        if mode == MIG:
            prof = self._profile(m, p)
            span = ((1 << prof.size) - 1) << s
            if sign > 0:
                assert not int(g32[g, G_OCC]) & span
                g32[g, G_OCC] = int(g32[g, G_OCC]) | span
            else:
                g32[g, G_OCC] = int(g32[g, G_OCC]) & ~span
            gpc[g, p] = int(gpc[g, p]) + sign
            g32[g, G_USEDC] += sign * prof.compute
            cs = self.models[m].compute_slices
            g32[g, G_FREE] = (1000 * (cs - int(g32[g, G_USEDC]))) // cs
        elif mode == FULL:
            g32[g, G_FREE] = 0 if sign > 0 else 1000
        else:
            g32[g, G_FREE] -= sign * milli
        g32[g, G_UNITS] += sign
        n64[n, N_CPU] -= sign * cpu
        n64[n, N_MEM] -= sign * mem
        n64[n, N_UNITS] += sign
        if tiso >= 1:
            g32[g, G_ISON] += sign
            if sign > 0:
                g32[g, G_ISOT] = tenant
            elif g32[g, G_ISON] == 0:
                g32[g, G_ISOT] = NO_TENANT
        if tiso == 2:
            n64[n, N_ISON] += sign
            if sign > 0:
                n64[n, N_ISOT] = tenant
            elif n64[n, N_ISON] == 0:
                n64[n, N_ISOT] = NO_TENANT
        if g32[g, G_UNITS] == 0 and g32[g, G_BASE] == ANY:
            g32[g, G_MODE] = ANY
            g32[g, G_FREE] = 1000
        # the one aggregate the placer itself reads (packer's rack/pod tie-break), from its definition
        g0, ng = int(n64[n, N_GPU0]), int(n64[n, N_NGPU])
        n64[n, N_FREEFULL] = sum(1 for j in range(ng) if int(g32[g0 + j, G_MODE]) in (FULL, ANY) and g32[g0 + j, G_UNITS] == 0)

    def _apply_many(self, g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, units, sign) -> None:  # type: ignore[no-untyped-def]
        for r in units:
            self._apply(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, int(r[0]), int(r[1]), int(r[2]),
                        int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]), sign, int(r[8]))

    # ------------------------------------------------------------------ host units (no GPU)

    def _pick_host(self, g32, gpc, n64, rq, nallow, nodes, u1) -> int:  # type: ignore[no-untyped-def]
        """Host unit: the feasible nodes in ``nodes`` order; first-fit takes the first, random the
        floor(u1 × count)-th, every other policy the smallest (idle GPU milli, CPU left, memory left)."""
        feasible = [int(n) for n in nodes if self._node_ok(n64, int(n), rq, nallow)]
        if not feasible:
            return -1
        pol = int(rq[R_POLICY])
        if pol == FIRST_FIT:
            return feasible[0]
        if pol == RANDOM:
            return feasible[min(int(math.floor(u1 * len(feasible))), len(feasible) - 1)]

        def key(n: int) -> tuple[int, int, int]:
            idle = self._node_idle(g32, gpc, n64, n)
            return (idle, int(n64[n, N_CPU]) - int(rq[R_CPU]), int(n64[n, N_MEM]) - int(rq[R_MEM]))

        return min(feasible, key=key)  # min keeps the first of equal keys

    def _apply_host(self, g32, n64, nbest, b64, bbest, pp, n, cpu, mem, tenant, tiso, sign) -> None:  # type: ignore[no-untyped-def]
        n = int(n)
        n64[n, N_CPU] -= sign * cpu
        n64[n, N_MEM] -= sign * mem
        n64[n, N_UNITS] += sign
        if tiso == 2:
            n64[n, N_ISON] += sign
            if sign > 0:
                n64[n, N_ISOT] = tenant
            elif n64[n, N_ISON] == 0:
                n64[n, N_ISOT] = NO_TENANT

    def _apply_host_many(self, g32, n64, nbest, b64, bbest, pp, units, sign) -> None:  # type: ignore[no-untyped-def]
        for r in units:
            self._apply_host(g32, n64, nbest, b64, bbest, pp, int(r[0]), int(r[4]), int(r[5]), int(r[6]), int(r[7]), sign)

    def _place_one(self, g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof, modelok,
                   nallow, greq, nodes, u1, u2, out) -> bool:  # type: ignore[no-untyped-def]
        if not self._pick_unit(g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof,
                               modelok, nallow, greq, nodes, u1, u2, out):
            return False
        g = int(out[0])
        newmode = MIG if rq[R_KIND] == K_MIG else (FULL if rq[R_KIND] == K_GPU else SHARED)
        self._apply(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, g, int(out[1]), int(out[2]),
                    int(rq[R_MILLI]), int(rq[R_CPU]), int(rq[R_MEM]), int(rq[R_TENANT]), int(rq[R_TISO]), 1, newmode)
        n = int(g32[g, G_NODE])
        n64[n, N_PODS] += 1
        ntag[n, rq[R_TAG]] += 1
        return True


    # ------------------------------------------- the kernels' entry points: the state as one tuple

    def refresh_all(self, st) -> None:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        self._refresh_all(a.g32, a.gpc, a.n64, a.nbest, a.b64, a.bbest, a.mp, a.minfo, a.gstart, a.gscore, a.pp)

    def place_one(self, st, rq, rprof, modelok, nodes, u1, u2, out) -> bool:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        return self._place_one(a.g32, a.gpc, a.n64, a.nbest, a.b64, a.bbest, a.ntag, a.mp, a.minfo, a.gstart, a.gscore,
                               a.frag, a.tws, a.pp, rq, rprof, modelok, a.nallow, a.greq, nodes, u1, u2, out)

    def pick_unit(self, st, rq, rprof, modelok, nodes, u1, u2, out) -> bool:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        return self._pick_unit(a.g32, a.gpc, a.n64, a.nbest, a.b64, a.bbest, a.ntag, a.mp, a.minfo, a.gstart, a.gscore,
                               a.frag, a.tws, a.pp, rq, rprof, modelok, a.nallow, a.greq, nodes, u1, u2, out)

    def apply_unit(self, st, g, p, s, milli, cpu, mem, tenant, tiso, sign, newmode) -> None:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        self._apply(a.g32, a.gpc, a.n64, a.nbest, a.b64, a.bbest, a.mp, a.minfo, a.gstart, a.gscore, a.pp, g, p, s, milli,
                    cpu, mem, tenant, tiso, sign, newmode)

    def apply_units(self, st, units, sign) -> None:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        self._apply_many(a.g32, a.gpc, a.n64, a.nbest, a.b64, a.bbest, a.mp, a.minfo, a.gstart, a.gscore, a.pp, units, sign)

    def pick_node(self, st, rq, rprof, modelok, nodes, count, u1) -> int:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        return self._pick_node(a.g32, a.gpc, a.n64, a.ntag, a.mp, a.ms, a.gstart, a.frag, a.tws, a.pp, rq, rprof, modelok,
                               a.nallow, a.greq, nodes, count, u1)

    def node_caps(self, st, rq, rprof, modelok, nodes, limit, caps) -> None:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        self._node_caps(a.g32, a.gpc, a.n64, a.mp, a.ms, a.gstart, rq, rprof, modelok, a.nallow, a.greq, nodes, limit, caps)

    def pick_host(self, st, rq, nodes, u1) -> int:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        return self._pick_host(a.g32, a.gpc, a.n64, rq, a.nallow, nodes, u1)

    def apply_host(self, st, n, cpu, mem, tenant, tiso, sign) -> None:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        self._apply_host(a.g32, a.n64, a.nbest, a.b64, a.bbest, a.pp, n, cpu, mem, tenant, tiso, sign)

    def apply_host_units(self, st, units, sign) -> None:  # type: ignore[no-untyped-def]
        a = KernelState(*st)
        self._apply_host_many(a.g32, a.n64, a.nbest, a.b64, a.bbest, a.pp, units, sign)


__all__ = ["ReferenceKernels"]
