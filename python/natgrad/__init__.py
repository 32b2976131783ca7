"""natgrad from Python: the C library's environments as Gymnasium vector environments, and
its natural-gradient trainers.

Imports without Gymnasium; with Gymnasium importable, spaces are gymnasium.spaces and the
environments subclass gymnasium.Env / gymnasium.vector.VectorEnv.
"""
import os as _os
import sys as _sys

# Environment plugins (load_plugin) call the library's ng_rng_* and ng_error_set, which the
# extension provides: its symbols must be global for the plugin's dlopen to find them.
_flags = _sys.getdlopenflags()
_sys.setdlopenflags(_flags | _os.RTLD_GLOBAL)
try:
    from . import _natgrad
finally:
    _sys.setdlopenflags(_flags)

from ._natgrad import (  # noqa: E402  (the exceptions: every library status maps to one)
    Error,
    InvalidArgumentError,
    OutOfRangeError,
    NotFoundError,
    NonFiniteError,
    FileError,
    FormatError,
    CheckpointError,
    UnsupportedError,
    InterruptedError,
    BusyError,
    ExistsError,
    NumericalError,
    EnvironmentError,
)
from ._spaces import HAVE_GYMNASIUM, observation_dtype, to_space  # noqa: E402

__version__ = "0.1.0"


def env_ids():
    """The registered environment ids: the built-in ones, then plugins' in load order."""
    return _natgrad.env_ids()


def env_info(env_id):
    """A dict describing a registered environment (spaces as gymnasium.spaces when
    Gymnasium is importable, else as plain descriptions)."""
    info = _natgrad.env_info(env_id)
    obs = info["observation_space"]
    info["observation_space"] = to_space(obs, observation_dtype(env_id, obs))
    info["action_space"] = to_space(info["action_space"])
    return info


def load_plugin(path):
    """Loads an environment plugin (a shared library built against natgrad/env.h, as the
    CLI's --plugin) and registers its environments; returns a dict (path, hash, name,
    n_envs). Loading the same file again does nothing more."""
    return _natgrad.load_plugin(path)


from ._vector import Env, VectorEnv, make, make_vec  # noqa: E402
from ._train import ACKTR, NPG, TRPO, config_keys, load  # noqa: E402
