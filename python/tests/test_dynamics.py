"""natgrad's classic environments and Gymnasium 1.0.0's Python ones give the same
trajectories from the same states under the same actions: observations, rewards,
termination and truncation at every step (the states come from Gymnasium's own resets and
from arbitrary points set on both sides). Bit for bit, except where libm's and NumPy's
sin/cos may round apart (EXACT below says which); Box actions go to both as float64, as
natgrad computes them (env.h: a float32 action array makes NumPy do part of Pendulum's cost
in float32)."""
import numpy as np
import pytest

import natgrad
from conftest import needs_gymnasium

pytestmark = needs_gymnasium

IDS = ["CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCar-v0",
       "MountainCarContinuous-v0"]


# Ids compared bit for bit. The others as Gymnasium's own checker compares data
# (env_checker.data_equivalence: rtol = atol = 1e-5): natgrad follows NumPy 2's float32
# promotion (tests/test_envs.c) where Debian's NumPy 1.24 promotes a float32 state with a
# Python float to float64 (MountainCarContinuous drifts by ~1e-6 from its first steps),
# and Pendulum's reward and Acrobot's long chaotic runs differ by an ulp or so: those are
# compared over their first HORIZON steps, before chaos grows an ulp past the tolerance.
EXACT = {"CartPole-v1", "MountainCar-v0"}
HORIZON = 200


def run_both(ours, theirs, actions):
    """Steps both with the same actions until an episode ends; returns the steps taken."""
    exact = ours.env_id in EXACT
    for t, a in enumerate(actions if exact else actions[:HORIZON]):
        if isinstance(a, np.ndarray):
            a = a.astype(np.float64)
        o1, r1, te1, tr1, _ = ours.step(a)
        o2, r2, te2, tr2, _ = theirs.step(a)
        assert o1.dtype == o2.dtype
        if exact:
            np.testing.assert_array_equal(o1, o2, err_msg=f"observation at step {t}")
            assert r1 == r2, f"reward at step {t}: {r1!r} vs {r2!r}"
        else:
            np.testing.assert_allclose(o1, o2, rtol=1e-5, atol=1e-5,
                                       err_msg=f"observation at step {t}")
            assert r1 == pytest.approx(r2, rel=1e-5, abs=1e-5), f"reward at step {t}"
        assert (te1, tr1) == (te2, tr2), f"flags at step {t}"
        if te1 or tr1:
            return t + 1
    return len(actions)


@pytest.mark.parametrize("env_id", IDS)
def test_same_trajectories_from_gymnasiums_resets(env_id, gymnasium):
    ours = natgrad.make(env_id)
    theirs = gymnasium.make(env_id)
    rng = np.random.default_rng(0)
    steps = 0
    for episode in range(4):
        o2, _ = theirs.reset(seed=100 + episode)
        o1 = ours.set_state(np.asarray(theirs.unwrapped.state, dtype=np.float64))
        np.testing.assert_array_equal(o1, o2)
        theirs.action_space.seed(int(rng.integers(1 << 30)))
        actions = [theirs.action_space.sample() for _ in range(ours.max_episode_steps)]
        steps += run_both(ours, theirs, actions)
    assert steps >= 40


@pytest.mark.parametrize("env_id,state", [
    ("CartPole-v1", [0.3, -1.2, 0.15, 1.7]),
    ("CartPole-v1", [-2.3, 0.4, -0.2, 0.05]),      # near both terminal bounds
    ("Acrobot-v1", [2.5, -1.0, 3.0, -7.5]),
    ("Pendulum-v1", [3.0, -7.5]),
    ("MountainCar-v0", [0.45, 0.06]),              # near the goal
    ("MountainCar-v0", [-1.19, -0.05]),            # at the left wall
    ("MountainCarContinuous-v0", [0.4, 0.05]),
])
def test_same_trajectories_from_set_states(env_id, state, gymnasium):
    ours = natgrad.make(env_id)
    theirs = gymnasium.make(env_id)
    theirs.reset(seed=0)
    theirs.unwrapped.state = np.array(state, dtype=np.float64)
    ours.set_state(state)
    theirs.action_space.seed(3)
    actions = [theirs.action_space.sample() for _ in range(ours.max_episode_steps)]
    run_both(ours, theirs, actions)


def test_vector_env_rows_follow_gymnasium(gymnasium):
    """make_vec's environments are the same dynamics: each row against its own Gymnasium
    CartPole-v1 set to the same state."""
    n = 3
    envs = natgrad.make_vec("CartPole-v1", n, seed=0)
    envs.reset()
    refs = [gymnasium.make("CartPole-v1") for _ in range(n)]
    for i, ref in enumerate(refs):
        ref.reset(seed=i)
        envs.set_state(i, ref.unwrapped.state)
    rng = np.random.default_rng(1)
    for t in range(200):
        a = rng.integers(0, 2, size=n)
        obs, rew, term, trunc, _ = envs.step(a)
        for i, ref in enumerate(refs):
            if t > 0 and ended[i]:
                continue  # this row is autoresetting; the reference stops here
            o, r, te, tr, _ = ref.step(int(a[i]))
            np.testing.assert_array_equal(obs[i], o)
            assert (rew[i], term[i], trunc[i]) == (r, te, tr)
        ended = term | trunc if t == 0 else ended | term | trunc
        if ended.all():
            break
