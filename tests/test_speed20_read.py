"""The model's rows and domains read once from a binary copy of its proto (bound.proto_copy, session 20):
the same LP matrices as reading the proto through OR-Tools' bindings, and the LNS's row index takes the
same domains from that read."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from packer.cpsat import bound, lns_region
from packer.cpsat.model import CpsatModel
from tests.strategies import suite_instances

FAMILIES = ("sharing", "tenants", "training", "haein", "inference", "hetero", "fragmented", "adversarial")


def _same_form(a, b) -> None:  # type: ignore[no-untyped-def]
    assert (a is None) == (b is None)
    if a is None:
        return
    for x, y in zip(a[:1] + a[2:6], b[:1] + b[2:6], strict=True):
        assert np.array_equal(x, y)
    ma, mb = a[1], b[1]
    assert ma.shape == mb.shape
    assert np.array_equal(ma.indptr, mb.indptr) and np.array_equal(ma.indices, mb.indices)
    assert np.array_equal(ma.data, mb.data)


@settings(max_examples=15, deadline=None)
@given(inst=suite_instances(max_nodes=3, families=FAMILIES))
def test_copy_reads_what_the_bindings_read(inst) -> None:  # type: ignore[no-untyped-def]
    """Tests that the linear form read from the binary copy equals the one read through the bindings
    (objective, matrix term for term, row and variable bounds), that both hand over the same integer
    domains, and that the row index built from them equals the one that reads the proto itself."""
    model = CpsatModel(inst)
    assert bound.proto_copy(model.model) is not None
    fast: dict[str, list[list[int]]] = {}
    slow: dict[str, list[list[int]]] = {}
    got = bound.linear_form(model.model, fast)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bound, "proto_copy", lambda m: None)
        _same_form(got, bound.linear_form(model.model, slow))
    assert fast == slow
    proto = model.model.proto
    if got is None or not lns_region.supported(proto):
        return
    assert fast["domains"] == [list(v.domain) for v in proto.variables]
    assert fast["bounds"] == [list(ct.linear.domain) for ct in proto.constraints]
    own = lns_region.RegionIndex(proto, got[1])
    shared = lns_region.RegionIndex(proto, got[1], fast)
    assert own.bounds == shared.bounds and own.domains == shared.domains
    for name in ("vars", "coeffs", "starts", "row_lo", "row_hi", "var_lo", "var_hi", "holes"):
        assert np.array_equal(getattr(own, name), getattr(shared, name))


def test_stale_read_is_not_used() -> None:
    """Tests that the row index reads the proto itself when the handed-over lists do not match its size."""
    from packer.generate import generate

    model = CpsatModel(generate("inference", seed=0, nodes=2))
    read: dict[str, list[list[int]]] = {}
    form = bound.linear_form(model.model, read)
    assert form is not None
    stale = {"domains": read["domains"][:-1], "bounds": read["bounds"][:-1]}
    index = lns_region.RegionIndex(model.model.proto, form[1], stale)
    assert index.domains == read["domains"] and index.bounds == read["bounds"]
