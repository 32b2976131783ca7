"""Spaces: the extension describes an environment's spaces as plain dicts (kind, shape, and
low/high, n or nvec); with Gymnasium importable they become gymnasium.spaces objects with
Gymnasium's dtypes: a Box float32 (its bounds rounded to float32, as Gymnasium's
environments declare them), Discrete and MultiDiscrete int64, MultiBinary int8."""
import numpy as np

try:
    import gymnasium as _gym
    from gymnasium import spaces as _gs

    HAVE_GYMNASIUM = True
except ImportError:  # natgrad works without it: spaces stay descriptions
    _gym = None
    _gs = None
    HAVE_GYMNASIUM = False

# The dtype of one element of each kind, as Gymnasium's spaces hold it.
DTYPES = {
    "Box": np.float32,
    "Discrete": np.int64,
    "MultiDiscrete": np.int64,
    "MultiBinary": np.int8,
}


def to_space(desc, observation=True):
    """A gymnasium.spaces object for a description (or the description itself, with its
    dtype added, without Gymnasium)."""
    kind = desc["kind"]
    if not HAVE_GYMNASIUM:
        out = dict(desc)
        out["dtype"] = np.dtype(DTYPES[kind])
        return out
    if kind == "Box":
        low = desc["low"].astype(np.float32)
        high = desc["high"].astype(np.float32)
        return _gs.Box(low=low, high=high, shape=tuple(desc["shape"]), dtype=np.float32)
    if kind == "Discrete":
        return _gs.Discrete(int(desc["n"]))
    if kind == "MultiDiscrete":
        return _gs.MultiDiscrete(np.asarray(desc["nvec"], dtype=np.int64))
    if kind == "MultiBinary":
        return _gs.MultiBinary(int(desc["shape"][0]))
    raise ValueError(f"unknown space kind {kind!r}")
