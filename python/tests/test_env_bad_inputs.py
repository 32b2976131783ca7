"""Bad input to make_vec / make and their methods: a clear exception naming the problem,
and nothing advanced (a refused batch of actions moves no environment)."""
import numpy as np
import pytest

import natgrad
from conftest import plugin_path


@pytest.mark.parametrize("maker", [lambda i: natgrad.make_vec(i, 2), natgrad.make])
def test_bad_ids(maker):
    with pytest.raises(natgrad.NotFoundError, match="unknown.*CartPole-v1") as e:
        maker("CartPol-v1")
    assert isinstance(e.value, ValueError)
    with pytest.raises(TypeError, match="id must be a str"):
        maker(7)


@pytest.mark.parametrize("n,exc,msg", [
    (0, natgrad.OutOfRangeError, r"num_envs must be an integer in \[1, "),
    (-3, natgrad.OutOfRangeError, "got -3"),
    (1 << 21, natgrad.OutOfRangeError, "num_envs"),
    (2.0, TypeError, "num_envs must be an integer"),
    ("4", TypeError, "num_envs must be an integer"),
    (True, TypeError, "num_envs must be an integer"),
    (None, TypeError, "num_envs must be an integer"),
])
def test_bad_num_envs(n, exc, msg):
    with pytest.raises(exc, match=msg):
        natgrad.make_vec("CartPole-v1", n)


@pytest.mark.parametrize("threads,exc", [(0, natgrad.OutOfRangeError),
                                         (65, natgrad.OutOfRangeError), ("2", TypeError),
                                         (1.5, TypeError)])
def test_bad_threads(threads, exc):
    with pytest.raises(exc, match="threads"):
        natgrad.make_vec("CartPole-v1", 2, threads=threads)


@pytest.mark.parametrize("seed,exc,msg", [
    (-1, natgrad.OutOfRangeError, r"seed must be in \[0, 2\*\*64\)"),
    (2**64, natgrad.OutOfRangeError, "seed must be in"),
    (2**64 - 1, natgrad.OutOfRangeError, "seed \\+ num_envs - 1"),  # env 1 would overflow
    (1.5, TypeError, "seed must be an integer"),
    ("3", TypeError, "seed must be an integer"),
    ([1, 2, 3], natgrad.InvalidArgumentError, "3 seeds for 2 environments"),
    ([1, -2], natgrad.OutOfRangeError, r"seed\[1\]"),
])
def test_bad_seeds(seed, exc, msg):
    envs = natgrad.make_vec("CartPole-v1", 2, seed=0)
    before = envs.reset()[0].copy()
    with pytest.raises(exc, match=msg):
        envs.reset(seed=seed)
    np.testing.assert_array_equal(envs.reset(seed=0)[0], before)  # nothing was reseeded
    if not isinstance(seed, list):
        with pytest.raises(exc):
            natgrad.make_vec("CartPole-v1", 2, seed=seed)
        if seed != 2**64 - 1:  # one env: that seed is fine
            with pytest.raises(exc):
                natgrad.make("CartPole-v1").reset(seed=seed)


def test_seed_numpy_integer_is_accepted():
    a = natgrad.make_vec("CartPole-v1", 2, seed=np.int64(5)).reset()[0].copy()
    np.testing.assert_array_equal(a, natgrad.make_vec("CartPole-v1", 2, seed=5).reset()[0])


def test_step_before_reset_and_after_close():
    envs = natgrad.make_vec("CartPole-v1", 2)
    with pytest.raises(natgrad.InvalidArgumentError, match=r"reset\(\) before step\(\)"):
        envs.step(np.zeros(2, dtype=np.int64))
    envs.reset()
    envs.close()
    with pytest.raises(natgrad.InvalidArgumentError, match="closed"):
        envs.step(np.zeros(2, dtype=np.int64))
    envs.close()  # closing twice is fine


def _cartpole_at_step():
    envs = natgrad.make_vec("CartPole-v1", 3, seed=1)
    envs.reset()
    envs.step(np.array([0, 1, 0]))
    return envs


def _snapshot(envs):
    return [envs.get_state(i) for i in range(envs.num_envs)], [
        envs.elapsed_steps(i) for i in range(envs.num_envs)]


def assert_refused_unmoved(envs, actions, exc, msg):
    """step(actions) raises exc matching msg, and no environment moved."""
    before = _snapshot(envs)
    with pytest.raises(exc, match=msg):
        envs.step(actions)
    after = _snapshot(envs)
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1] == after[1]


@pytest.mark.parametrize("actions,exc,msg", [
    (np.array([0, 1]), natgrad.InvalidArgumentError, r"shape \(3,\), got \(2,\)"),
    (np.array([[0], [1], [0]]), natgrad.InvalidArgumentError, r"shape \(3,\), got \(3, 1\)"),
    (np.array([0, 2, 1]), natgrad.InvalidArgumentError, "action of env 1"),
    (np.array([0, 1, -1]), natgrad.InvalidArgumentError, "action of env 2"),
    (np.array([0.5, 1, 0]), natgrad.InvalidArgumentError, "action of env 0"),
    (np.array([0, np.nan, 0]), natgrad.NonFiniteError, "action of env 1"),
    (np.array([0, 1, np.inf]), natgrad.NonFiniteError, "action of env 2"),
    (np.array(["0", "1", "0"]), TypeError, "numeric array"),
    (np.array([0, 1, 0], dtype=object), TypeError, "numeric array"),
    (np.array([0, 1, 0], dtype=complex), TypeError, "numeric array"),
    (np.array([True, False, True]), TypeError, "numeric array"),
    ("left", TypeError, "numeric array"),
])
def test_bad_discrete_actions_move_nothing(actions, exc, msg):
    envs = _cartpole_at_step()
    assert_refused_unmoved(envs, actions, exc, msg)
    envs.step(np.array([1, 1, 1]))  # and it still steps


@pytest.mark.parametrize("actions,exc,msg", [
    (np.zeros((2, 2)), natgrad.InvalidArgumentError, r"shape \(2, 1\), got \(2, 2\)"),
    (np.zeros(2), natgrad.InvalidArgumentError, r"shape \(2, 1\), got \(2,\)"),
    (np.array([[0.0], [np.nan]]), natgrad.NonFiniteError, "action of env 1"),
    (np.array([[-np.inf], [0.0]], dtype=np.float32), natgrad.NonFiniteError, "action of env 0"),
])
def test_bad_box_actions(actions, exc, msg):
    envs = natgrad.make_vec("Pendulum-v1", 2, seed=0)
    envs.reset()
    assert_refused_unmoved(envs, actions, exc, msg)


def test_box_actions_outside_bounds_are_clipped_as_gymnasium_does():
    a, b = natgrad.make_vec("Pendulum-v1", 1, seed=0), natgrad.make_vec("Pendulum-v1", 1, seed=0)
    a.reset(), b.reset()
    np.testing.assert_array_equal(a.step(np.array([[50.0]]))[0], b.step(np.array([[2.0]]))[0])


def test_single_env_bad_calls():
    env = natgrad.make("CartPole-v1")
    with pytest.raises(natgrad.InvalidArgumentError, match="render"):
        natgrad.make("CartPole-v1", render_mode="human")
    with pytest.raises(natgrad.InvalidArgumentError, match="reset options"):
        env.reset(options={"low": -0.1})
    with pytest.raises(natgrad.InvalidArgumentError, match=r"reset\(\) before step\(\)"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(natgrad.InvalidArgumentError, match=r"action must have shape \(\)"):
        env.step([0])
    with pytest.raises(natgrad.InvalidArgumentError, match="action of env 0"):
        env.step(2)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(1)
        done = term or trunc
    with pytest.raises(natgrad.InvalidArgumentError, match="episode has ended"):
        env.step(1)
    env.reset()
    env.step(1)


def test_bad_states():
    env = natgrad.make("CartPole-v1")
    with pytest.raises(natgrad.InvalidArgumentError, match="no state before reset"):
        env.get_state()
    with pytest.raises(natgrad.InvalidArgumentError, match=r"4 values \(x,x_dot,theta"):
        env.set_state([0.0, 0.0])
    with pytest.raises(natgrad.NonFiniteError, match="NaN"):
        env.set_state([0.0, np.nan, 0.0, 0.0])
    envs = natgrad.make_vec("CartPole-v1", 2)
    with pytest.raises(natgrad.OutOfRangeError, match=r"env index 2 out of range \[0, 2\)"):
        envs.set_state(2, [0.0] * 4)
    with pytest.raises(natgrad.OutOfRangeError, match="env index -1"):
        envs.get_state(-1)


def test_plugin_without_state_and_bad_plugin_files(tmp_path):
    natgrad.load_plugin(plugin_path("reach"))
    env = natgrad.make("ReachNoState-v0")
    env.reset(seed=0)
    with pytest.raises(natgrad.UnsupportedError, match="ReachNoState-v0 does not expose"):
        env.get_state()
    not_a_library = tmp_path / "libfake.so"
    not_a_library.write_text("not a shared library\n")
    with pytest.raises(natgrad.FormatError, match="libfake.so"):
        natgrad.load_plugin(str(not_a_library))
    with pytest.raises(natgrad.InvalidArgumentError):
        natgrad.load_plugin(str(tmp_path))  # a directory
    with pytest.raises(natgrad.UnsupportedError, match="ABI|abi"):
        natgrad.load_plugin(plugin_path("abi"))
