"""Spaces: the extension describes an environment's spaces as plain dicts (kind, shape, and
low/high, n or nvec); with Gymnasium importable they become gymnasium.spaces objects with
Gymnasium's dtypes: Discrete and MultiDiscrete int64, MultiBinary int8, a Box action
float32, and a Box observation as Gymnasium's version of the environment declares it:
float32 for classic control (natgrad's values are float32 roundings, env.h), float64 for
MuJoCo v5; a plugin's observations are float64, the library's doubles as they are."""
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


# The environments whose Box observations Gymnasium declares float32 (classic control).
FLOAT32_OBSERVATIONS = frozenset({"CartPole-v1", "Pendulum-v1", "Acrobot-v1",
                                  "MountainCar-v0", "MountainCarContinuous-v0"})


def observation_dtype(env_id, desc):
    """The dtype of env_id's observations (desc: its observation space's description)."""
    if desc["kind"] != "Box":
        return np.dtype(DTYPES[desc["kind"]])
    return np.dtype(np.float32 if env_id in FLOAT32_OBSERVATIONS else np.float64)


def to_space(desc, dtype=None):
    """A gymnasium.spaces object for a description (or the description itself, with its
    dtype added, without Gymnasium). dtype: a Box's (default float32)."""
    kind = desc["kind"]
    dtype = np.dtype(dtype if dtype is not None and kind == "Box" else DTYPES[kind])
    if not HAVE_GYMNASIUM:
        out = dict(desc)
        out["dtype"] = dtype
        return out
    if kind == "Box":
        low = desc["low"].astype(dtype)
        high = desc["high"].astype(dtype)
        return _gs.Box(low=low, high=high, shape=tuple(desc["shape"]), dtype=dtype)
    if kind == "Discrete":
        return _gs.Discrete(int(desc["n"]))
    if kind == "MultiDiscrete":
        return _gs.MultiDiscrete(np.asarray(desc["nvec"], dtype=np.int64))
    if kind == "MultiBinary":
        return _gs.MultiBinary(int(desc["shape"][0]))
    raise ValueError(f"unknown space kind {kind!r}")
