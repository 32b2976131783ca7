"""natgrad.TRPO / NPG / ACKTR / load (issue 13, tests (c)): training from Python on a built-in id
and on Gymnasium's Python CartPole-v1, in the CLI's run-folder format, with `natgrad eval`
and `natgrad train --resume` on the same folders, both ways."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import natgrad
from conftest import needs_gymnasium

BIN = os.environ.get("NG_NATGRAD", "")
needs_cli = pytest.mark.skipif(not os.path.exists(BIN),
                               reason="the natgrad CLI not found: set NG_NATGRAD to its path")

SMALL = dict(n_steps=256, seed=3)  # CartPole-v1's tuned settings, shorter iterations


def cli(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return r.returncode, r.stdout + r.stderr


def cli_eval(run_dir, episodes=10):
    """`natgrad eval`'s mean return."""
    rc, out = cli("eval", run_dir, "--episodes", str(episodes))
    assert rc == 0, out
    return float(re.search(r"mean return (-?[0-9.]+)", out).group(1))


def log_rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return [line.split(",") for line in f.read().splitlines()[1:]]


def test_builtin_config_is_the_clis():
    m = natgrad.TRPO("CartPole-v1", threads=1)
    c = m.config
    # rl-baselines3-zoo's CartPole-v1 settings, as `natgrad train` takes them
    assert (c["env"], c["algo"], c["n_envs"], c["n_steps"], c["steps"]) == \
        ("CartPole-v1", "trpo", "2", "512", "100000")
    assert natgrad.NPG("Pendulum-v1", threads=1, seed=4).config["algo"] == "npg"
    acktr = natgrad.ACKTR("Pendulum-v1", threads=1, acktr_lr=0.1).config
    assert (acktr["algo"], float(acktr["acktr_lr"])) == ("acktr", 0.1)
    assert "max_kl" in natgrad.config_keys() and "kfac_damping" in natgrad.config_keys()
    with pytest.raises(natgrad.InvalidArgumentError, match="given by the class"):
        natgrad.TRPO("Pendulum-v1", algo="acktr")


def test_tuned_defaults_are_the_algos():
    # natgrad tune's Hopper-v5 config is TRPO's; NPG keeps the zoo's row, as the CLI does
    trpo = natgrad.TRPO("Hopper-v5", threads=1).config
    npg = natgrad.NPG("Hopper-v5", threads=1).config
    assert (float(trpo["gamma"]), trpo["vf_epochs"]) == (0.995, "5")
    assert (float(npg["gamma"]), npg["vf_epochs"], npg["algo"]) == (0.99, "20", "npg")
    acktr = natgrad.ACKTR("Hopper-v5", threads=1).config
    assert (float(acktr["gamma"]), acktr["vf_epochs"], acktr["algo"]) == (0.99, "20", "acktr")


@needs_cli
def test_builtin_run_folder_eval_and_resume_by_cli(tmp_path):
    run = str(tmp_path / "py")
    m = natgrad.TRPO("CartPole-v1", run_dir=run, threads=1, **SMALL)
    assert not os.path.exists(run)  # probed, nothing left before learn
    m.learn(2048)
    for name in ("config.ini", "progress.csv", "checkpoint.ngc", "curve.svg"):
        assert os.path.exists(os.path.join(run, name)), name
    assert [int(r[0]) for r in log_rows(run)] == list(range(1, 5))
    # natgrad eval runs the same policy on the same evaluation env (seed 1000)
    mean, _ = m.evaluate(10, seed=1000)
    assert cli_eval(run) == pytest.approx(mean, abs=0.005)
    # SB3's return_episode_rewards: (returns, lengths); CartPole pays 1 a step
    returns, lengths = m.evaluate(10, seed=1000, return_episode_rewards=True)
    assert np.mean(returns) == mean and all(type(n) is int for n in lengths)
    assert returns == [float(n) for n in lengths]
    # and natgrad eval's lengths line is theirs (CartPole ends itself before 500 steps)
    rc, out = cli("eval", run)
    lo, hi, term = map(int, re.search(r"lengths (\d+)-(\d+), (\d+) terminated", out).groups())
    assert (lo, hi, term) == (min(lengths), max(lengths), sum(n < 500 for n in lengths))
    # the CLI resumes it; Python resumes the CLI's continuation
    rc, out = cli("train", "--resume", run, "--steps", "4096", "-q")
    assert rc == 0, out
    assert [int(r[0]) for r in log_rows(run)] == list(range(1, 9))
    m2 = natgrad.load(run)
    assert m2.num_timesteps == 4096 and m2.iteration == 8
    m2.learn(1024)
    assert [int(r[0]) for r in log_rows(run)] == list(range(1, 11))
    # and an uninterrupted run of 5120 steps is the same run, bit for bit
    m3 = natgrad.TRPO("CartPole-v1", threads=2, **SMALL).learn(5120)
    assert np.array_equal(m3.policy_parameters(), m2.policy_parameters())


@needs_cli
def test_cli_run_resumed_by_python_is_the_same_run(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for d, steps in ((a, "2048"), (b, "4096")):
        rc, out = cli("train", "--env", "CartPole-v1", "--seed", "3", "--set", "n_steps=256",
                      "--steps", steps, "--out", d, "-q", "--threads", "1")
        assert rc == 0, out
    m = natgrad.load(a, threads=1)
    assert m.num_timesteps == 2048
    m.learn(2048)
    assert np.array_equal(m.policy_parameters(), natgrad.load(b).policy_parameters())
    assert m.evaluate(5) == natgrad.load(b).evaluate(5)
    # a folder saved elsewhere is a run folder the CLI evaluates
    c = str(tmp_path / "c")
    m.save(c)
    assert cli_eval(c, 3) == pytest.approx(m.evaluate(3)[0], abs=0.005)
    with pytest.raises(natgrad.ExistsError):
        m.save(c)
    m.save(c, force=True)


@needs_cli
def test_acktr_from_python_is_the_clis_run(tmp_path):
    """ACKTR trained from Python, saved, loaded as natgrad.ACKTR and continued is the CLI's
    uninterrupted `--algo acktr` run, bit for bit: the checkpoint carries both K-FACs'
    running factors, so a resumed run steps as the straight one does."""
    py, straight = str(tmp_path / "py"), str(tmp_path / "cli")
    rc, out = cli("train", "--env", "Pendulum-v1", "--algo", "acktr", "--seed", "3", "--set",
                  "n_steps=256", "--steps", "3072", "--out", straight, "-q", "--threads", "1")
    assert rc == 0, out
    m = natgrad.ACKTR("Pendulum-v1", run_dir=py, threads=2, seed=3, n_steps=256)
    m.learn(1536)
    m2 = natgrad.load(py, threads=1)
    assert type(m2) is natgrad.ACKTR and m2.config["algo"] == "acktr"
    assert m2.num_timesteps == 1536
    m2.learn(1536)
    cli_run = natgrad.load(straight)
    assert type(cli_run) is natgrad.ACKTR
    assert np.array_equal(m2.policy_parameters(), cli_run.policy_parameters())
    assert [r[1:4] for r in log_rows(py)] == [r[1:4] for r in log_rows(straight)]
    # a TRPO run's folder loads as TRPO, an NPG one's as NPG
    for cls in (natgrad.TRPO, natgrad.NPG):
        d = str(tmp_path / cls.__name__)
        cls("CartPole-v1", run_dir=d, threads=1, **SMALL).learn(512)
        assert type(natgrad.load(d)) is cls


def test_predict_single_and_batched():
    m = natgrad.TRPO("Pendulum-v1", threads=1, n_steps=64, n_envs=2, vf_minibatch=64, seed=1)
    m.learn(128)
    obs = np.array([1.0, 0.0, 0.5])
    a, state = m.predict(obs)
    assert state is None and a.shape == (1,) and a.dtype == np.float32
    assert -2.0 <= a[0] <= 2.0
    batch, _ = m.predict(np.stack([obs, -obs, obs]))
    assert batch.shape == (3, 1) and batch[0, 0] == a[0] == batch[2, 0]
    # stochastic actions vary; deterministic ones do not
    draws = {float(m.predict(obs, deterministic=False)[0][0]) for _ in range(5)}
    assert len(draws) > 1
    c = natgrad.TRPO("CartPole-v1", threads=1)
    act, _ = c.predict(np.zeros(4))
    assert act in (0, 1) and np.asarray(act).shape == ()
    assert c.predict(np.zeros((5, 4)))[0].shape == (5,)


# ---- Python environments ----------------------------------------------------------------


@needs_gymnasium
def test_python_env_is_the_builtin_id(gymnasium, tmp_path):
    """A Gymnasium env trains under its own id, n_envs copies made from its spec."""
    env = gymnasium.make("CartPole-v1")
    m = natgrad.TRPO(env, threads=1, **SMALL)
    assert m.env_id == "CartPole-v1" and m.config["n_envs"] == "2"
    m.learn(512)
    assert m._py.envs[0] is env and len(m._py.envs) == 3  # 2 training + 1 evaluation
    assert m.num_timesteps == 512
    vec = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make("CartPole-v1")] * 3)
    v = natgrad.TRPO(vec, threads=1, n_steps=128, vf_minibatch=128)
    assert v.config["n_envs"] == "3" and v._py.envs[:3] == list(vec.envs)
    v.learn(384)
    # a callable making the env; natgrad's own env objects train in C
    natgrad.TRPO(lambda: gymnasium.make("CartPole-v1"), threads=1, **SMALL).learn(512)
    assert natgrad.TRPO(natgrad.make_vec("CartPole-v1", 2), threads=1)._py is None


@needs_gymnasium
@needs_cli
def test_python_cartpole_reaches_500_and_cli_agrees(gymnasium, tmp_path):
    """(c): TRPO with rl-zoo's CartPole-v1 settings on Gymnasium's Python CartPole-v1,
    100k steps: 500 on Gymnasium's env, and on the C CartPole-v1 through `natgrad eval`."""
    run = str(tmp_path / "gym")
    m = natgrad.TRPO(gymnasium.make("CartPole-v1"), run_dir=run, seed=4, threads=2)
    m.learn(100_000)
    assert m.num_timesteps >= 100_000
    mean, std = m.evaluate(10)
    assert (mean, std) == (500.0, 0.0)
    assert cli_eval(run) == 500.0


@needs_gymnasium
@needs_cli
def test_python_env_run_resumed_by_cli_and_back(gymnasium, tmp_path):
    run = str(tmp_path / "gym")
    m = natgrad.TRPO(gymnasium.make("CartPole-v1"), run_dir=run, threads=1, **SMALL)
    m.learn(1024)
    del m
    # the C CartPole-v1 continues it (fresh episodes: the Python env had no state)
    rc, out = cli("train", "--resume", run, "--steps", "2048", "-q")
    assert rc == 0, out
    # and Gymnasium's continues the CLI's (whose states its env cannot take: fresh too)
    m = natgrad.load(run, env=gymnasium.make("CartPole-v1"))
    assert m.num_timesteps == 2048 and m._py is not None
    m.learn(1024)
    assert [int(r[0]) for r in log_rows(run)] == list(range(1, 7))
    # the same checkpoint loaded twice continues to the same run
    params = []
    for _ in range(2):
        m = natgrad.load(run, env=gymnasium.make("CartPole-v1"))
        m.run_dir = None  # trained on, not written back
        params.append(m.learn(512).policy_parameters())
    assert np.array_equal(params[0], params[1])


@needs_cli
def test_plugin_run_loads_its_plugin(tmp_path):
    """A CLI run on a plugin's environment: natgrad.load loads the plugin its config names
    (in a fresh interpreter, where it is not loaded yet) and evaluates as `natgrad eval`."""
    plugin = os.path.join(os.environ.get("NG_TEST_PLUGIN_DIR", ""), "libng_plugin_reach.so")
    if not os.path.exists(plugin):
        pytest.skip("test plugin reach not built (NG_TEST_PLUGIN_DIR)")
    run = str(tmp_path / "reach")
    rc, out = cli("train", "--plugin", plugin, "--env", "Reach-v0", "--steps", "4096",
                  "--out", run, "-q", "--threads", "1")
    assert rc == 0, out
    code = ("import natgrad, sys; m = natgrad.load(sys.argv[1]); "
            "print(m.env_id, m.evaluate(10)[0])")
    r = subprocess.run([sys.executable, "-c", code, run], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    env_id, mean = r.stdout.split()
    assert env_id == "Reach-v0"
    assert float(mean) == pytest.approx(cli_eval(run), abs=0.005)
