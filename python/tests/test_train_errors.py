"""Every bad input to natgrad.TRPO / NPG / load (issue 13, tests (d)): a Python environment
that raises, returns the wrong shape, dtype or number of values, or NaN; bad config keys and
values; bad run folders and checkpoints; Ctrl-C during learn. None of these needs Gymnasium:
the environment here describes its spaces as natgrad's plain dicts."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import natgrad

BOX1 = {"kind": "Box", "low": np.array([-2.0]), "high": np.array([2.0]), "shape": (1,)}
DISCRETE2 = {"kind": "Discrete", "n": 2, "shape": ()}


class Drift:
    """A point pushed left or right; misbehaves as told at its fault_at-th step call (counted
    over its life, all episodes)."""

    observation_space = BOX1
    action_space = DISCRETE2
    spec = None

    def __init__(self, fault=None, fault_at=0):
        self.fault, self.fault_at, self.calls, self.x = fault, fault_at, 0, 0.0
        self.rng = np.random.default_rng(0)

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        if self.fault == "reset":
            raise RuntimeError("reset is broken")
        self.x = float(self.rng.uniform(-1, 1))
        return np.array([self.x], dtype=np.float32), {}

    def step(self, action):
        self.calls += 1
        self.x = min(2.0, max(-2.0, self.x + (0.1 if action == 1 else -0.1)))
        obs, reward = np.array([self.x], dtype=np.float32), -self.x * self.x
        if self.calls == self.fault_at:
            if self.fault == "raise":
                raise ValueError("the simulator broke")
            if self.fault == "interrupt":
                raise KeyboardInterrupt
            if self.fault == "shape":
                obs = np.zeros(3)
            if self.fault == "dtype":
                obs = "not an observation"
            if self.fault == "nan_obs":
                obs = np.array([np.nan])
            if self.fault == "nan_reward":
                reward = float("nan")
            if self.fault == "tuple":
                return obs, reward, False, {}
        return obs, reward, abs(self.x) == 2.0, False, {}


CFG = dict(n_envs=1, n_steps=128, vf_minibatch=64, threads=1)


def faulty(fault, at):
    """A model whose (only) training env misbehaves at its at-th step."""
    envs = iter([Drift(fault, at)])
    return natgrad.TRPO(lambda: next(envs, None) or Drift(), **CFG)


def test_a_python_env_without_gymnasium_trains():
    m = natgrad.TRPO(Drift, **CFG)
    assert m.env_id == "Drift-v0"
    m.learn(256)
    assert m.iteration == 2
    assert m.predict(np.array([0.5]))[0] in (0, 1)


@pytest.mark.parametrize("fault,exc,words", [
    ("raise", natgrad.EnvironmentError, ["Drift-v0 env 0", "step 300 of the run",
                                         "raised ValueError: the simulator broke"]),
    ("shape", natgrad.EnvironmentError, ["Drift-v0 env 0", "an observation of 3 numbers, "
                                         "expected 1"]),
    ("dtype", natgrad.EnvironmentError, ["Drift-v0 env 0", "not an array of numbers"]),
    ("tuple", natgrad.EnvironmentError, ["Drift-v0 env 0", "expected (obs, reward, "
                                         "terminated, truncated, info)"]),
    ("nan_obs", natgrad.NonFiniteError, ["Drift-v0 env 0", "step 300 of the run",
                                         "non-finite observation"]),
    ("nan_reward", natgrad.NonFiniteError, ["Drift-v0 env 0", "step 300 of the run",
                                            "non-finite reward"]),
])
def test_a_misbehaving_env_stops_with_the_model_before_that_iteration(fault, exc, words):
    m = faulty(fault, 300)  # in the third iteration (steps 257..384)
    seen = []
    with pytest.raises(exc) as info:
        m.learn(1000, callback=lambda model, stats: seen.append(model.policy_parameters()))
    for w in words:
        assert w in str(info.value), str(info.value)
    if fault == "raise":
        assert isinstance(info.value.__cause__, ValueError)
    assert m.iteration == 2 and len(seen) == 2
    assert np.array_equal(m.policy_parameters(), seen[-1])


def test_reset_failure_at_creation():
    with pytest.raises(natgrad.EnvironmentError, match="reset raised RuntimeError"):
        natgrad.TRPO(lambda: Drift("reset"), **CFG)


def test_unsupported_envs():
    class Vec:  # a vector env that is not a SyncVectorEnv
        num_envs = 2
        single_observation_space = BOX1
    with pytest.raises(natgrad.UnsupportedError, match="SyncVectorEnv"):
        natgrad.TRPO(Vec())
    with pytest.raises(TypeError, match="expected an environment id"):
        natgrad.TRPO(42)
    with pytest.raises(natgrad.NotFoundError, match="unknown environment id 'Nope-v0'"):
        natgrad.TRPO("Nope-v0")


@pytest.mark.parametrize("kwargs,exc,text", [
    ({"max_kl": -1}, natgrad.OutOfRangeError, "max_kl = -1 is out of range"),
    ({"no_such_key": 1}, natgrad.NotFoundError, "unknown key 'no_such_key'"),
    ({"policy_act": "sigmoid"}, ValueError, "policy_act"),
    ({"n_steps": "many"}, ValueError, "n_steps"),
    ({"vf_minibatch": 10**6}, natgrad.OutOfRangeError, "vf_minibatch"),
    ({"env_id": "Pendulum-v1"}, natgrad.InvalidArgumentError, "env argument"),
    ({"algo": "npg"}, natgrad.InvalidArgumentError, "class"),
    ({"policy_hidden": {"a": 1}}, natgrad.InvalidArgumentError, "policy_hidden"),
    ({"checkpoint_every": 0}, natgrad.OutOfRangeError, "checkpoint_every"),
])
def test_bad_config(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        natgrad.TRPO("CartPole-v1", **kwargs)


def test_bad_arguments():
    m = natgrad.TRPO("CartPole-v1", threads=1)
    with pytest.raises(natgrad.OutOfRangeError):
        m.learn(0)
    with pytest.raises(natgrad.InvalidArgumentError, match="expected 4 numbers"):
        m.predict(np.zeros(3))
    with pytest.raises(natgrad.NonFiniteError):
        m.predict(np.array([0, np.nan, 0, 0]))
    with pytest.raises(natgrad.InvalidArgumentError, match="no run folder"):
        m.save()
    with pytest.raises(ValueError):
        natgrad.TRPO("CartPole-v1", threads=0)


def test_bad_run_folders(tmp_path):
    run = str(tmp_path / "run")
    natgrad.TRPO("CartPole-v1", run_dir=run, threads=1, n_steps=256).learn(512)
    with pytest.raises(natgrad.ExistsError, match="holds"):
        natgrad.TRPO("CartPole-v1", run_dir=run)
    natgrad.TRPO("CartPole-v1", run_dir=run, force=True, threads=1)  # allowed, as --force
    (tmp_path / "file").write_text("x")
    with pytest.raises(natgrad.FileError):
        natgrad.TRPO("CartPole-v1", run_dir=str(tmp_path / "file" / "run"))
    with pytest.raises(natgrad.NotFoundError):
        natgrad.load(str(tmp_path / "missing"))
    # a damaged checkpoint with no fallback; a checkpoint of another environment's spaces
    other = str(tmp_path / "other")
    natgrad.TRPO("CartPole-v1", run_dir=other, threads=1, n_steps=256).learn(256)
    with pytest.raises(natgrad.CheckpointError, match="obs_dim is 4 in the file but 1"):
        natgrad.load(other, env=type("CartPole", (Drift,), {"spec": _Spec()}))
    with open(os.path.join(other, "checkpoint.ngc"), "r+b") as f:
        f.seek(100)
        f.write(b"\xff\xff\xff\xff")
    with pytest.raises(natgrad.CheckpointError, match="corrupted"):
        natgrad.load(other)


class _Spec:
    id = "CartPole-v1"
    max_episode_steps = 500
    kwargs = {}


def test_ctrl_c_in_an_env_saves_a_checkpoint(tmp_path):
    run = str(tmp_path / "run")
    envs = iter([Drift("interrupt", 300)])
    m = natgrad.TRPO(lambda: next(envs, None) or Drift(), run_dir=run, **CFG)
    with pytest.raises(KeyboardInterrupt):
        m.learn(1000)
    assert m.iteration == 2
    back = natgrad.load(run, env=Drift)
    assert back.iteration == 2
    assert np.array_equal(back.policy_parameters(), m.policy_parameters())


def test_sigint_during_learn_saves_a_checkpoint(tmp_path):
    """A real Ctrl-C (SIGINT) while C trains a built-in id."""
    run = str(tmp_path / "run")
    script = textwrap.dedent(f"""
        import sys, natgrad
        m = natgrad.TRPO("CartPole-v1", run_dir={run!r}, threads=1, n_steps=256)
        def started(model, stats):
            if stats["iteration"] == 1:
                print("started", flush=True)
        m.learn(10**8, callback=started)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "started"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode != 0 and "KeyboardInterrupt" in err
    assert "checkpoint saved in" in err
    m = natgrad.load(run)
    assert m.iteration >= 1
    rows = open(os.path.join(run, "progress.csv")).read().splitlines()[1:]
    assert int(rows[-1].split(",")[0]) == m.iteration
