"""Spaces both ways: natgrad's spaces as Gymnasium's (and as plain descriptions without it),
and a Gymnasium space as natgrad reads it (_natgrad.space_describe, what a Python
environment's spaces become), with clear refusals for what natgrad cannot hold."""
import numpy as np
import pytest

import natgrad
from natgrad import _natgrad
from conftest import needs_gymnasium


def test_description_round_trip():
    for env_id in natgrad.env_ids():
        for which in ("observation_space", "action_space"):
            desc = _natgrad.env_info(env_id)[which]
            back = _natgrad.space_describe(desc)
            assert back.keys() == desc.keys()
            for k in desc:
                np.testing.assert_array_equal(back[k], desc[k])


@needs_gymnasium
def test_gymnasium_spaces_read(gymnasium):
    from gymnasium import spaces
    box = spaces.Box(low=np.array([-1.0, -np.inf], dtype=np.float32), high=np.float32(2.0),
                     dtype=np.float32)
    d = _natgrad.space_describe(box)
    assert d["kind"] == "Box" and d["shape"] == (2,)
    np.testing.assert_array_equal(d["low"], [-1.0, -np.inf])
    np.testing.assert_array_equal(d["high"], [2.0, 2.0])
    assert _natgrad.space_describe(spaces.Discrete(5)) == {"kind": "Discrete", "n": 5,
                                                            "shape": ()}
    md = _natgrad.space_describe(spaces.MultiDiscrete([3, 4, 2]))
    np.testing.assert_array_equal(md["nvec"], [3, 4, 2])
    assert _natgrad.space_describe(spaces.MultiBinary(6)) == {"kind": "MultiBinary",
                                                              "shape": (6,)}


@needs_gymnasium
def test_every_env_space_round_trips_through_gymnasium(gymnasium):
    for env_id in natgrad.env_ids():
        info = natgrad.env_info(env_id)
        for which in ("observation_space", "action_space"):
            back = _natgrad.space_describe(info[which])
            assert natgrad.to_space(back, info[which].dtype) == info[which]


@needs_gymnasium
@pytest.mark.parametrize("make_space,exc,msg", [
    (lambda s: s.Box(-1, 1, shape=(2, 3)), natgrad.InvalidArgumentError, r"shape must be \(n,\)"),
    (lambda s: s.Box(-1, 1, shape=()), natgrad.InvalidArgumentError, r"shape must be \(n,\)"),
    (lambda s: s.Discrete(3, start=1), natgrad.UnsupportedError, "start=1"),
    (lambda s: s.MultiDiscrete([[2, 2], [2, 2]]), natgrad.InvalidArgumentError,
     "one-dimensional"),
    (lambda s: s.MultiDiscrete([2, 3], start=[0, 1]), natgrad.UnsupportedError, "start="),
    (lambda s: s.MultiBinary([2, 2]), natgrad.InvalidArgumentError, r"shape must be \(n,\)"),
    (lambda s: s.Dict({"a": s.Discrete(2)}), natgrad.UnsupportedError, "not a space natgrad"),
    (lambda s: s.Tuple([s.Discrete(2)]), natgrad.UnsupportedError, "not a space natgrad"),
])
def test_unsupported_gymnasium_spaces(make_space, exc, msg, gymnasium):
    with pytest.raises(exc, match=msg):
        _natgrad.space_describe(make_space(gymnasium.spaces))


@pytest.mark.parametrize("desc,exc,msg", [
    ({"kind": "Graph"}, natgrad.UnsupportedError, "kind 'Graph'"),
    ({"kind": "Discrete", "n": 0}, natgrad.InvalidArgumentError, "Discrete n must be in"),
    ({"kind": "Discrete"}, natgrad.InvalidArgumentError, "no 'n'"),
    ({"kind": "MultiDiscrete", "nvec": [2, 0]}, natgrad.InvalidArgumentError, r"nvec\[1\]"),
    ({"kind": "Box", "shape": (2,), "low": [0.0], "high": [1.0, 1.0]},
     natgrad.InvalidArgumentError, "low must be one-dimensional"),
    (42, natgrad.UnsupportedError, "not a space natgrad"),
])
def test_bad_descriptions(desc, exc, msg):
    with pytest.raises(exc, match=msg):
        _natgrad.space_describe(desc)
