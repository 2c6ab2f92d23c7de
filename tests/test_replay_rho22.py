"""The replay kernel's knobs read per GPU model (session 22). The rules that made them (packer.replay.policy's
"per_model", "pinned") were removed in session 26; the kernel still reads such knobs."""

from __future__ import annotations

import replay_reference as ref


def test_kernel_uses_each_nodes_model_rho() -> None:
    """Tests that the fast engine places every pod as the slow reference does with a rho per model, that the
    per-model knobs with one value everywhere are the single rho, and that the case tells them apart."""
    from test_replay_engine import _random_case

    from packer.replay.engine import replay
    from packer.replay.protocol import typical_pods

    differs = 0
    for seed in range(10):
        cluster, pods, rank, rand = _random_case(seed)
        tp = typical_pods(pods)
        kw = ref.engine_kwargs(cluster, pods, rank, rand, tp)
        # rhos far apart per model so that the CPU term decides differently per node
        params = (9.0, 3.0, 4.0, 9.0, 30.0)
        run = replay("packer", params=params, **kw)
        nodes, plist, typical = ref.reference_inputs(cluster, pods, tp)
        want = ref.replay("packer", nodes, plist, rank.tolist(), [tuple(r) for r in rand.tolist()], typical,
                          rho=params)
        got = list(zip(run.node.tolist(), run.devmask.tolist(), strict=True))
        assert got == want, f"case {seed}"
        one = replay("packer", params=(9.0,), **kw)
        same = replay("packer", params=(5.0, 3.0, 9.0, 9.0, 9.0), **kw)
        assert same.node.tolist() == one.node.tolist() and same.devmask.tolist() == one.devmask.tolist()
        differs += got != list(zip(one.node.tolist(), one.devmask.tolist(), strict=True))
    assert differs > 0
