"""The kernel warm-up: its built-in instance calls every kernel that ``kernels.warm()`` asks for, so that
the first untimed online (or greedy) solve on a machine leaves ``hints.online_ready()`` True whatever the
instance (a training instance never called ``place_one``, a haein one not always ``pick_node``)."""

from __future__ import annotations

import pytest

import packer.online.kernels as K
import packer.online.placer as placer_mod
from packer.online import warmup


class _Counting:
    """The kernels module, with a count of the calls of the kernels ``warm()`` asks for."""

    def __init__(self) -> None:
        self.called: set[str] = set()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        real = getattr(K, name)
        if name not in K.WARM_KERNELS:
            return real

        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.called.add(name)
            return real(*args, **kwargs)

        return counted


def test_the_warm_up_calls_every_kernel_warm_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that placing the warm-up instance calls each of WARM_KERNELS (fails if a request is dropped
    from it: the gang with required node locality is the one caller of pick_node)."""
    proxy = _Counting()
    monkeypatch.setattr(placer_mod, "K", proxy)
    warmup.place_warm_up()
    assert proxy.called == set(K.WARM_KERNELS)


def test_compile_kernels_runs_once_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that compile_kernels places the warm-up only while a kernel is cold, and once a process."""
    calls: list[int] = []
    monkeypatch.setattr(warmup, "place_warm_up", lambda: calls.append(1))
    monkeypatch.setattr(warmup, "_DONE", False)
    monkeypatch.setattr(K, "warm", lambda: False)
    assert warmup.compile_kernels() is True
    assert warmup.compile_kernels() is False
    monkeypatch.setattr(warmup, "_DONE", False)
    monkeypatch.setattr(K, "warm", lambda: True)
    assert warmup.compile_kernels() is False
    assert calls == [1]
