"""natgrad.TRPO, natgrad.NPG and natgrad.load: the library's trainer (natgrad/rl.h) from
Python, in the CLI's run-folder and checkpoint format.

The environment is
  - a registered id ("CartPole-v1", a plugin's): everything runs in C, as `natgrad train`;
  - a Gymnasium Env (natgrad makes the run's n_envs copies: gymnasium.make(spec.id,
    **spec.kwargs) when it has a spec, else copy.deepcopy), or a callable returning one;
  - a gymnasium.vector.SyncVectorEnv (its .envs are the run's environments).
A Python environment steps in Python, one after the other on the caller's thread; the
policy's forward pass over the whole vector, the update and the value fit run in C with the
GIL released. The run's config keeps the environment's id, so a run on Gymnasium's
CartPole-v1 is evaluated and resumed by the CLI on natgrad's own CartPole-v1.
"""
import copy as _copy
import os
import re
import sys
import time
import warnings

import numpy as np

from . import _natgrad
from ._spaces import HAVE_GYMNASIUM

# As the CLI: `natgrad train`'s defaults (cli/cmd_args.h, cli/run_dir.h).
CHECKPOINT_EVERY = 10
EVAL_SEED = 1000
EVAL_EPISODES = 10
_MAX_DEFAULT_THREADS = 8
_NO_TIME_LIMIT = 2**31 - 1

_VECTOR_MESSAGE = (
    "{name}: Gymnasium 1.0's vector environments reset an ended environment on the next "
    "step and cannot be stepped one environment at a time; pass a "
    "gymnasium.vector.SyncVectorEnv, a single Env (natgrad makes n_envs copies of it), a "
    "callable returning an Env, or a natgrad environment id")


def _default_threads():
    return max(1, min(os.cpu_count() or 1, _MAX_DEFAULT_THREADS))


def _value_text(key, value):
    """A config value as the config file spells it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return str(value)
    raise _natgrad.InvalidArgumentError(
        f"config: {key} = {value!r}: expected a number, a string or a list of widths")


def _space_layout(space):
    """(kind, dtype, shape) of space (a gymnasium space, or natgrad's description dict):
    the dtype and shape in which an environment takes or gives one value of it."""
    if isinstance(space, dict):
        return space["kind"], space.get("dtype"), tuple(space.get("shape", ()))
    return (type(space).__name__, getattr(space, "dtype", None),
            tuple(getattr(space, "shape", None) or ()))


def _env_id(proto):
    """The id a Python environment's run records: its spec's, else its class name."""
    spec = getattr(proto, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return spec.id
    name = type(getattr(proto, "unwrapped", proto)).__name__
    name = re.sub(r"[^A-Za-z0-9_.:/-]", "_", name) or "PythonEnv"
    return (name if name[0].isalpha() else "Env" + name)[:60] + "-v0"


def _copier(proto):
    """A function making one more environment like proto."""
    spec = getattr(proto, "spec", None)
    if HAVE_GYMNASIUM and spec is not None and getattr(spec, "id", None):
        import gymnasium

        kwargs = dict(spec.kwargs or {})
        return lambda: gymnasium.make(spec.id, **kwargs)
    return lambda: _copy.deepcopy(proto)


class _PyEnvs:
    """The run's Python environments: the i-th the trainer creates is factory(i)."""

    def __init__(self, env):
        make = None
        if isinstance(env, type) or (callable(env) and not hasattr(env, "step")):
            make, envs = env, [env()]
        elif hasattr(env, "num_envs") and hasattr(env, "single_observation_space"):
            if type(env).__name__ != "SyncVectorEnv" or not hasattr(env, "envs"):
                raise _natgrad.UnsupportedError(_VECTOR_MESSAGE.format(name=type(env).__name__))
            envs = list(env.envs)
        elif hasattr(env, "step") and hasattr(env, "reset"):
            envs = [env]
        else:
            raise TypeError(f"env: expected an environment id, a Gymnasium Env or "
                            f"SyncVectorEnv, or a callable returning an Env; got {env!r}")
        proto = envs[0]
        self.envs = envs
        self.given = len(envs) if not make else 1
        self.make = make or _copier(proto)
        self.id = _env_id(proto)
        act_dtype = _space_layout(proto.action_space)[1]
        spec = getattr(proto, "spec", None)
        limit = getattr(spec, "max_episode_steps", None) if spec is not None else None
        self.spec = (self.id, proto.observation_space, proto.action_space,
                     int(limit) if limit else _NO_TIME_LIMIT,
                     self.factory, None if act_dtype is None else np.dtype(act_dtype))

    def factory(self, i):
        if i < len(self.envs):
            return self.envs[i]
        env = self.make()
        self.envs.append(env)
        return env


def _config(trainer):
    """A trainer's config as {key: value text}, config.ini's lines (algo always among them)."""
    return dict(line.partition(" = ")[::2] for line in trainer.config_text().splitlines())


def _resolve(env):
    """(env id, _PyEnvs or None) for TRPO's env argument."""
    if isinstance(env, str):
        return env, None
    env_id = getattr(env, "env_id", None)  # natgrad.make / make_vec: train in C
    if env_id is not None and type(env).__module__.startswith("natgrad"):
        return env_id, None
    py = _PyEnvs(env)
    return py.id, py


class _Algo:
    """What TRPO, NPG and ACKTR share; see natgrad.TRPO."""

    _algo = None

    def __init__(self, env, run_dir=None, threads=None, checkpoint_every=CHECKPOINT_EVERY,
                 force=False, **config):
        for key in ("algo", "env", "env_id"):
            if key in config:
                raise _natgrad.InvalidArgumentError(
                    f"config: {key} is given by the {'class' if key == 'algo' else 'env'} "
                    "argument, not as a config key")
        env_id, py = _resolve(env)
        if py is not None:
            given = py.given
            n = config.get("n_envs")
            if given > 1 and n is not None and int(n) != given:
                raise _natgrad.InvalidArgumentError(
                    f"config: n_envs = {n}, but the vector environment has {given}")
            if given > 1:
                config["n_envs"] = given
        items = [("algo", self._algo)]
        items += [(k, _value_text(k, v)) for k, v in config.items()]
        trainer = _natgrad.Trainer(env_id, items, py.spec if py else None)
        self._setup(trainer, py, run_dir, threads, checkpoint_every, force, False)
        if run_dir is not None:  # refused now rather than after training: probe the folder
            self._t.run_open(os.fspath(run_dir), "create", bool(force))
            self._t.run_close()

    def _setup(self, trainer, py, run_dir, threads, checkpoint_every, force, started):
        if int(checkpoint_every) < 1:
            raise _natgrad.OutOfRangeError(
                f"checkpoint_every = {checkpoint_every}: expected >= 1")
        self._t = trainer
        self._py = py
        self.run_dir = None if run_dir is None else os.fspath(run_dir)
        self.checkpoint_every = int(checkpoint_every)
        self._force = bool(force)
        self._started = started  # the run folder holds this run
        self._wall = 0.0
        self._predict_seed = 0
        self.threads = _default_threads() if threads is None else int(threads)
        self._t.set_threads(self.threads)
        self.observation_space, self.action_space = self._spaces()

    def _spaces(self):
        if self._py is not None:
            proto = self._py.envs[0]
            return proto.observation_space, proto.action_space
        from . import env_info

        info = env_info(self.config["env"])
        return info["observation_space"], info["action_space"]

    # ---- what the run is ----

    @property
    def config(self):
        """The effective config: every key with its value (as config.ini holds them)."""
        return _config(self._t)

    @property
    def env_id(self):
        return self.config["env"]

    @property
    def num_timesteps(self):
        """Environment steps taken (SB3's name)."""
        return self._t.env_steps

    @property
    def iteration(self):
        return self._t.iteration

    def policy_parameters(self):
        """A copy of the policy's parameters: one flat float64 vector (natgrad/model.h)."""
        return self._t.policy_params()

    def __repr__(self):
        return (f"natgrad.{type(self).__name__}({self.env_id!r}, steps {self.num_timesteps}, "
                f"run_dir={self.run_dir!r})")

    # ---- training ----

    def _open_run(self):
        if self.run_dir is None:
            return False
        if self._started:
            self._t.run_open(self.run_dir, "resume", False)
            self._t.run_start(self._t.iteration)
        else:
            self._t.run_open(self.run_dir, "create", self._force)
            self._t.run_start(-1)
            self._started = True
        return True

    def learn(self, total_timesteps, callback=None, progress_bar=False):
        """Trains for total_timesteps more environment steps (whole iterations: the last
        may go past). With a run folder: config.ini, a progress.csv row per iteration, a
        checkpoint every checkpoint_every iterations and at the end, curve.svg; Ctrl-C
        saves a checkpoint there and raises KeyboardInterrupt. callback(model, stats) is
        called after every iteration; returning False stops. Returns self."""
        total = int(total_timesteps)
        if total < 1:
            raise _natgrad.OutOfRangeError(f"total_timesteps = {total}: expected >= 1")
        t = self._t
        t.set_total_steps(t.env_steps + total)
        run = self._open_run()
        logged = saved = t.iteration
        t0 = time.monotonic()
        start = t.env_steps
        try:
            while not t.done:
                stats = t.iterate()
                if run:
                    t.run_log(self._wall + time.monotonic() - t0)
                logged = t.iteration
                if run and t.iteration % self.checkpoint_every == 0:
                    t.run_save()
                    saved = t.iteration
                if progress_bar:
                    self._show(stats, start, total, t0)
                if callback is not None and callback(self, stats) is False:
                    break
        except KeyboardInterrupt:
            if run:  # as the CLI: finish with a checkpoint of the last good state
                if t.iteration != logged:
                    t.run_log(self._wall + time.monotonic() - t0)
                t.run_save()
                t.run_curve()
                t.run_close()
                sys.stderr.write(f"\nnatgrad: interrupted at iteration {t.iteration}; "
                                 f"checkpoint saved in {self.run_dir}\n")
            raise
        except BaseException:
            if run:  # the last checkpoint holds the last good state
                t.run_close()
            raise
        finally:
            self._wall += time.monotonic() - t0
            if progress_bar:
                sys.stderr.write("\n")
        if run:
            try:
                if saved != t.iteration or not os.path.exists(
                        os.path.join(self.run_dir, "checkpoint.ngc")):
                    t.run_save()
                t.run_curve()
            finally:
                t.run_close()
        return self

    def _show(self, stats, start, total, t0):
        done = self._t.env_steps - start
        ret = stats["mean_return"]
        sys.stderr.write(f"\r{min(done, total)}/{total} steps  it {stats['iteration']}  "
                         f"return {ret:.4g}  kl {stats['kl']:.2g}  "
                         f"{done / max(time.monotonic() - t0, 1e-9):.0f} steps/s   ")
        sys.stderr.flush()

    # ---- using the policy ----

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        """The policy's action for an observation, or a batch of them (SB3's signature):
        returns (action, None). Observations are normalised with the run's statistics and
        actions clipped to a Box as evaluation does (the library's ng_rl_predict)."""
        del state, episode_start
        n_obs, n_act = self._t._sizes()
        obs = np.asarray(observation, dtype=np.float64)
        kind, _, obs_shape = _space_layout(self.observation_space)
        if kind == "Discrete":
            obs_shape = ()
        single = obs.ndim == len(obs_shape) and obs.size == n_obs
        if obs.size == 0 or obs.size % n_obs or (not single and obs.ndim < 1):
            raise _natgrad.InvalidArgumentError(
                f"predict: an observation of shape {obs.shape}: expected {n_obs} numbers "
                "per observation")
        batch = obs.reshape(-1, n_obs)
        self._predict_seed += 1
        act = self._t.predict(batch, bool(deterministic), self._predict_seed)
        kind, dtype, shape = _space_layout(self.action_space)
        if kind == "Discrete":
            act = act.reshape(-1).astype(np.int64)
            return (act[0] if single else act), None
        act = act.reshape((-1,) + (shape or (n_act,)))
        if dtype is not None:
            act = act.astype(dtype)
        return (act[0] if single else act), None

    def evaluate(self, n_episodes=EVAL_EPISODES, seed=EVAL_SEED, deterministic=True,
                 return_episode_rewards=False):
        """Runs n_episodes fresh episodes on the run's own evaluation environment, seeded
        from seed (the CLI's `natgrad eval` uses seed 1000): (mean, std) of the returns, or
        with return_episode_rewards (returns, lengths), two lists, as SB3's
        evaluate_policy."""
        returns, lengths = self._t.evaluate(int(n_episodes), int(seed), bool(deterministic))
        if return_episode_rewards:
            return returns, lengths
        return float(np.mean(returns)), float(np.std(returns))

    def export_c(self, path, precision="f64", prefix="policy", force=False):
        """Writes the deterministic policy (observation normalisation and clipping as
        trained, the network, the action as predict(deterministic=True) gives it) as one
        dependency-free C99/C++ header with `int PREFIX_act(const T *obs, T *act)`, as
        `natgrad export` does (docs/export.md): bit for bit in f64 when compiled with
        -ffp-contract=off. An existing file is refused (natgrad.ExistsError) unless force.
        Returns the header's sizes: n_params, flops, n_tanh and bytes per call."""
        return self._t.export_c(os.fspath(path), str(precision), str(prefix), self.run_dir,
                                bool(force))

    # ---- saving ----

    def save(self, run_dir=None, force=False):
        """Saves a checkpoint in run_dir (default: the model's run folder), the CLI's
        format: `natgrad eval DIR` and `natgrad train --resume DIR` take it. A folder that
        holds another run is refused (natgrad.ExistsError) unless force."""
        target = self.run_dir if run_dir is None else os.fspath(run_dir)
        if target is None:
            raise _natgrad.InvalidArgumentError("save: no run folder: pass run_dir")
        t = self._t
        same = (self.run_dir is not None and self._started and
                os.path.realpath(target) == os.path.realpath(self.run_dir))
        if same:
            t.run_open(target, "resume", False)
        else:
            t.run_open(target, "create", bool(force))
        try:
            if not same:
                t.run_start(-1)
            t.run_save()
        finally:
            t.run_close()
        if self.run_dir is None:
            self.run_dir, self._started = target, True


class TRPO(_Algo):
    """TRPO (natgrad's, with exact Fisher-vector products) on a natgrad environment id or
    a Gymnasium environment: natgrad.TRPO(env, run_dir=None, threads=None, **config).

    config: the CLI's keys (`natgrad train --keys`, natgrad.config_keys()), e.g.
    max_kl=0.02, n_envs=8, policy_hidden=(64, 64), steps=100000 (the budget of a run
    resumed by the CLI); defaults are the CLI's for the env (rl-baselines3-zoo's tuned
    values where it has them). A bad key or value raises a ValueError subclass with the
    library's message. run_dir: a run folder as `natgrad train --out` writes it (a folder
    holding a run is refused unless force=True). threads: cores for the updates (default
    one per core, at most 8); a run's results are the same for every count."""

    _algo = "trpo"


class NPG(_Algo):
    """Natural policy gradient (a fixed KL step, no line search); as natgrad.TRPO."""

    _algo = "npg"


class ACKTR(_Algo):
    """ACKTR (Wu et al. 2017): the policy's natural gradient by K-FAC, its step scaled to
    the quadratic-KL bound max_kl and capped by acktr_lr, and a K-FAC Gauss-Newton value
    function; as natgrad.TRPO, with ACKTR's keys (acktr_lr, kfac_damping, ...) too."""

    _algo = "acktr"


_ALGOS = {cls._algo: cls for cls in (TRPO, NPG, ACKTR)}


def load(run_dir, env=None, threads=None, checkpoint_every=CHECKPOINT_EVERY):
    """The model saved in a run folder (`natgrad train`'s or Python's), on env: None for
    the registered environment its config names, or a Python environment with that id (as
    for natgrad.TRPO). A damaged latest checkpoint falls back to the previous one with a
    warning; learn() continues the run in run_dir."""
    run_dir = os.fspath(run_dir)
    if env is None:
        _load_run_plugin(run_dir)
    py = None if env is None else _resolve(env)[1]
    trainer, warning = _natgrad.trainer_load(run_dir, "read", py.spec if py else None)
    if warning:
        warnings.warn(warning, stacklevel=2)
    cls = _ALGOS[_config(trainer)["algo"]]
    model = cls.__new__(cls)
    model._setup(trainer, py, run_dir, threads, checkpoint_every, False, True)
    return model


def _load_run_plugin(run_dir):
    """The plugin a run's config.ini names, loaded (as `natgrad eval` and `--resume` do),
    with a warning when the file changed since the run recorded its checksum."""
    try:
        with open(os.path.join(run_dir, "config.ini")) as f:
            kv = dict(line.split(" = ", 1) for line in f.read().splitlines()
                      if " = " in line and not line.startswith("#"))
    except OSError:
        return  # the checkpoint's own checks report what is missing
    path = kv.get("plugin", "").strip()
    if not path:
        return
    from . import load_plugin

    info = load_plugin(path)
    if info["hash"] != kv.get("plugin_hash", "").strip():
        warnings.warn(f"{path} changed since the run in {run_dir} recorded it "
                      f"({kv.get('plugin_hash', '').strip()}, now {info['hash']})", stacklevel=3)


def config_keys():
    """Every config key with its meaning, as `natgrad train --keys` lists them."""
    return dict(_natgrad.config_keys())
