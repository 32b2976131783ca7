"""natgrad.make_vec and natgrad.make: the library's environments with Gymnasium's APIs.

Seeding, as Gymnasium's SyncVectorEnv over natgrad.make environments: reset(seed=s) seeds
environment i with s + i (a list seeds each environment with its own entry, None leaving it),
and natgrad.make(id).reset(seed=s) seeds the environment's stream (s, 0) in the library's
terms (core.h: ng_rng_seed(seed, stream)). reset() without a seed continues each stream, as
a Gymnasium environment continues its np_random. make_vec(..., seed=s) seeds at creation as
reset(seed=s) would; without a seed, from the operating system's entropy. (The C trainer's
environment i of a run with seed s uses stream (s, i) instead: a Python vector environment
is Gymnasium's mapping, not the trainer's.)
"""
import numbers
import os

import numpy as np

from . import _natgrad
from ._spaces import HAVE_GYMNASIUM, observation_dtype, to_space

if HAVE_GYMNASIUM:
    import gymnasium as _gym
    from gymnasium.envs.registration import EnvSpec as _EnvSpec
    from gymnasium.utils import seeding as _seeding
    from gymnasium.vector.utils import batch_space as _batch_space

    _VectorBase = _gym.vector.VectorEnv
    _EnvBase = _gym.Env
else:

    class _VectorBase:
        """Stands for gymnasium.vector.VectorEnv when Gymnasium is not importable."""

        metadata = {"render_modes": []}
        render_mode = None
        closed = False

        def close(self, **kwargs):
            if not self.closed:
                self.close_extras(**kwargs)
            self.closed = True

        def __enter__(self):
            return self

        def __exit__(self, *args):
            self.close()
            return False

    class _EnvBase:
        """Stands for gymnasium.Env when Gymnasium is not importable."""

        metadata = {"render_modes": []}
        render_mode = None
        spec = None

        @property
        def unwrapped(self):
            return self

        def __enter__(self):
            return self

        def __exit__(self, *args):
            self.close()
            return False


def _batch(space, n):
    if HAVE_GYMNASIUM:
        return _batch_space(space, n)
    out = dict(space)
    out["shape"] = (n,) + tuple(space["shape"])
    return out


def _random_seed():
    # Below 2**63, so that seed + i stays a valid 64-bit seed for any num_envs.
    return int.from_bytes(os.urandom(8), "little") >> 1


def _check_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    return int(value)


def _check_seed(seed, name="seed"):
    seed = _check_int(seed, name)
    if not 0 <= seed < 2**64:
        raise _natgrad.OutOfRangeError(f"{name} must be in [0, 2**64), got {seed}")
    return seed


def _check_options(env_id, options):
    if options:  # None and {} are what Gymnasium's checker passes
        raise _natgrad.InvalidArgumentError(
            f"{env_id}: natgrad environments take no reset options, got {sorted(options)}")


def _check_id(env_id):
    if not isinstance(env_id, str):
        raise TypeError(f"environment id must be a str, got {env_id!r}")
    return env_id


class VectorEnv(_VectorBase):
    """num_envs copies of a natgrad environment (built in or from a plugin) stepped in C,
    with Gymnasium 1.0's VectorEnv API and SyncVectorEnv's behaviour: next-step autoreset
    (the step after a termination or truncation resets that environment, ignores its action
    and reports reward 0, not terminated, not truncated; the terminal step's observation is
    the episode's last one), infos always {} (natgrad's environments report none; Gymnasium's
    MuJoCo ones report reward terms and positions), Box observations as Gymnasium declares
    them (float32 for classic control, float64 for MuJoCo and plugins: natgrad/_spaces.py),
    int64 for a Discrete, float64 rewards, bool flags.

    The arrays returned by reset and step are the same objects every time, filled in place
    (no allocation per step, as EnvPool): copy what you keep across steps, or pass
    copy=True to get copies as SyncVectorEnv (copy=True, its default) returns.
    """

    def __init__(self, env_id, num_envs, seed=None, threads=None, copy=False):
        _check_id(env_id)
        num_envs = _check_int(num_envs, "num_envs")
        threads = 1 if threads is None else _check_int(threads, "threads")
        if seed is not None:
            seed = _check_seed(seed)
        info = _natgrad.env_info(env_id)
        obs_dtype = observation_dtype(env_id, info["observation_space"])
        self._c = _natgrad.VecEnv(env_id, num_envs, threads=threads, autoreset=True,
                                  obs_float64=obs_dtype == np.float64)
        self.env_id = env_id
        self.num_envs = num_envs
        self.threads = threads
        self.copy = bool(copy)
        self.max_episode_steps = info["max_episode_steps"]
        self.single_observation_space = to_space(info["observation_space"], obs_dtype)
        self.single_action_space = to_space(info["action_space"])
        self.observation_space = _batch(self.single_observation_space, num_envs)
        self.action_space = _batch(self.single_action_space, num_envs)
        self.metadata = {"render_modes": []}
        self.render_mode = None
        self.spec = None
        self._c.seed(self._seeds(_random_seed() if seed is None else seed))
        if not self.copy:
            # The C method itself: no Python frame between the caller and the environments.
            self.step = self._c.step

    def _seeds(self, seed):
        if isinstance(seed, (list, tuple)):
            if len(seed) != self.num_envs:
                raise _natgrad.InvalidArgumentError(
                    f"{len(seed)} seeds for {self.num_envs} environments")
            return [None if s is None else _check_seed(s, f"seed[{i}]")
                    for i, s in enumerate(seed)]
        seed = _check_seed(seed)
        if seed + self.num_envs - 1 >= 2**64:
            raise _natgrad.OutOfRangeError(f"seed + num_envs - 1 must be below 2**64, got {seed}")
        return [seed + i for i in range(self.num_envs)]

    def reset(self, *, seed=None, options=None):
        """Starts an episode in every environment: (observations, {}). seed: None (continue
        each environment's stream), an int s (environment i seeded with s + i) or a list of
        num_envs ints or Nones."""
        _check_options(self.env_id, options)
        if seed is not None:
            self._c.seed(self._seeds(seed))
            if HAVE_GYMNASIUM and not isinstance(seed, (list, tuple)):
                self._np_random, self._np_random_seed = _seeding.np_random(int(seed))
        obs = self._c.reset()
        return (obs.copy() if self.copy else obs), {}

    def step(self, actions):
        """(observations, rewards, terminations, truncations, infos) for a batch of actions
        (shape (num_envs,) for Discrete actions, (num_envs, dim) otherwise)."""
        obs, rewards, terms, truncs, infos = self._c.step(actions)
        if self.copy:
            return obs.copy(), rewards.copy(), terms.copy(), truncs.copy(), infos
        return obs, rewards, terms, truncs, infos

    def get_state(self, index):
        """The internal state of environment `index` (float64, env_info(id)['state_doc'])."""
        return self._c.get_state(index)

    def set_state(self, index, state):
        """Puts environment `index` in `state` and starts its episode there (step counter 0,
        no autoreset pending); returns its observation. `state` may also be the shorter form
        of env_info(id)['state_min_size'] values (MuJoCo: qpos then qvel, as Gymnasium's
        set_state)."""
        return self._c.set_state(index, state)[index].copy()

    def elapsed_steps(self, index):
        return self._c.elapsed_steps(index)

    def render(self):
        return None

    def close_extras(self, **kwargs):
        if hasattr(self, "_c"):
            self._c.close()

    def __repr__(self):
        return f"natgrad.VectorEnv({self.env_id}, num_envs={self.num_envs})"


class Env(_EnvBase):
    """One natgrad environment with Gymnasium's Env API (a gymnasium.Env when Gymnasium is
    importable): reset(seed=None, options=None) -> (obs, {}), step(action) -> (obs, reward,
    terminated, truncated, {}), the time limit built in (truncated at max_episode_steps, as
    gymnasium.make's TimeLimit). Stepping an ended episode raises (reset first). Returns
    fresh arrays (one environment: no reason to share them)."""

    metadata = {"render_modes": []}

    def __init__(self, env_id, render_mode=None):
        _check_id(env_id)
        if render_mode is not None:
            raise _natgrad.InvalidArgumentError(
                f"{env_id}: natgrad environments do not render (render_mode={render_mode!r})")
        info = _natgrad.env_info(env_id)
        obs_dtype = observation_dtype(env_id, info["observation_space"])
        self._c = _natgrad.VecEnv(env_id, 1, threads=1, autoreset=False,
                                  obs_float64=obs_dtype == np.float64)
        self.env_id = env_id
        self.render_mode = None
        self.max_episode_steps = info["max_episode_steps"]
        self.observation_space = to_space(info["observation_space"], obs_dtype)
        self.action_space = to_space(info["action_space"])
        self._discrete_obs = info["observation_space"]["kind"] == "Discrete"
        self._act_shape = tuple(info["action_space"]["shape"])
        if HAVE_GYMNASIUM:
            self.spec = _EnvSpec(id=env_id, entry_point="natgrad._vector:Env",
                                 kwargs={"env_id": env_id}, nondeterministic=False,
                                 max_episode_steps=None, order_enforce=False,
                                 disable_env_checker=True)
        self._c.seed([_random_seed()])

    def _obs(self, obs):
        return obs[0] if self._discrete_obs else obs[0].copy()

    def reset(self, *, seed=None, options=None):
        """(observation, {}): a new episode; seed s seeds the environment's stream (s, 0),
        None continues it."""
        _check_options(self.env_id, options)
        if seed is not None:
            seed = _check_seed(seed)
            self._c.seed([seed])
        if HAVE_GYMNASIUM:
            super().reset(seed=seed)
        return self._obs(self._c.reset()), {}

    def step(self, action):
        a = np.asarray(action)
        if a.shape != self._act_shape:
            raise _natgrad.InvalidArgumentError(
                f"{self.env_id}: action must have shape {self._act_shape}, got {a.shape}")
        obs, rewards, terms, truncs, infos = self._c.step(a.reshape((1,) + a.shape))
        return self._obs(obs), float(rewards[0]), bool(terms[0]), bool(truncs[0]), infos

    def get_state(self):
        """The internal state (float64; natgrad.env_info(id)['state_doc'] names it)."""
        return self._c.get_state(0)

    def set_state(self, state):
        """Puts the environment in `state` and starts an episode there (step counter 0);
        returns the observation. `state` may also be the shorter form of
        env_info(id)['state_min_size'] values (MuJoCo: qpos then qvel)."""
        return self._obs(self._c.set_state(0, state))

    @property
    def elapsed_steps(self):
        return self._c.elapsed_steps(0)

    def render(self):
        return None

    def close(self):
        if hasattr(self, "_c"):
            self._c.close()

    def __repr__(self):
        return f"natgrad.Env({self.env_id})"


def make_vec(env_id, num_envs, seed=None, threads=None, copy=False):
    """num_envs environments `env_id` (built in, or registered by load_plugin) as one
    VectorEnv, stepped in C (on `threads` threads, the GIL released)."""
    return VectorEnv(env_id, num_envs, seed=seed, threads=threads, copy=copy)


def make(env_id, render_mode=None):
    """One environment `env_id` with Gymnasium's Env API."""
    return Env(env_id, render_mode=render_mode)
