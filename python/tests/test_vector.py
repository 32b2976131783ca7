"""natgrad.make_vec and natgrad.make against Gymnasium 1.0.0's own definitions: its
environment checker, its SyncVectorEnv (the reference for autoreset, seeding and infos),
batch_space, and the dtypes of its spaces."""
import numpy as np
import pytest

import natgrad
from conftest import needs_gymnasium, plugin_path

CLASSIC = ["CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0",
           "MountainCarContinuous-v0"]
MUJOCO = ["InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Swimmer-v5", "Hopper-v5",
          "Walker2d-v5", "HalfCheetah-v5", "Ant-v5"]


def make_or_skip(env_id, **kw):
    try:
        return natgrad.make(env_id, **kw)
    except natgrad.UnsupportedError as e:  # a build without libmujoco-dev
        pytest.skip(str(e))


def make_vec_or_skip(env_id, n, **kw):
    try:
        return natgrad.make_vec(env_id, n, **kw)
    except natgrad.UnsupportedError as e:
        pytest.skip(str(e))


def random_actions(space, n_steps, seed):
    """n_steps batches (or single actions) drawn from a gymnasium space, reproducibly."""
    space.seed(seed)
    return [space.sample() for _ in range(n_steps)]


@needs_gymnasium
@pytest.mark.parametrize("env_id", CLASSIC + MUJOCO)
def test_check_env_passes(env_id, gymnasium):
    from gymnasium.utils.env_checker import check_env
    env = make_or_skip(env_id)
    assert isinstance(env, gymnasium.Env)
    check_env(env, skip_render_check=True)
    env.close()


@needs_gymnasium
@pytest.mark.parametrize("env_id", CLASSIC)
def test_check_env_warns_as_for_gymnasiums_own(env_id, gymnasium):
    """The checker's warnings (infinite bounds, an unnormalised action range) are those it
    gives Gymnasium's own environment: nothing of natgrad's making."""
    import warnings
    from gymnasium.utils.env_checker import check_env
    seen = []
    for env in (natgrad.make(env_id), gymnasium.make(env_id).unwrapped):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env, skip_render_check=True)
        seen.append(sorted({str(w.message) for w in caught}))
    assert seen[0] == seen[1]


@needs_gymnasium
@pytest.mark.parametrize("env_id", CLASSIC)
def test_spaces_equal_gymnasiums(env_id, gymnasium):
    ours, theirs = natgrad.make(env_id), gymnasium.make(env_id)
    assert ours.observation_space == theirs.observation_space
    assert ours.action_space == theirs.action_space
    assert ours.observation_space.dtype == theirs.observation_space.dtype
    assert ours.action_space.dtype == theirs.action_space.dtype


@needs_gymnasium
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "Hopper-v5"])
def test_vector_spaces_are_batched(env_id, gymnasium):
    from gymnasium.vector.utils import batch_space
    envs = make_vec_or_skip(env_id, 3)
    assert isinstance(envs, gymnasium.vector.VectorEnv)
    assert envs.num_envs == 3
    assert envs.single_observation_space == natgrad.make(env_id).observation_space
    assert envs.observation_space == batch_space(envs.single_observation_space, 3)
    assert envs.action_space == batch_space(envs.single_action_space, 3)
    obs, infos = envs.reset(seed=0)
    assert infos == {}
    # Gymnasium's dtypes: float32 observations for classic control, float64 for MuJoCo v5.
    want = np.float64 if env_id == "Hopper-v5" else np.float32
    assert envs.single_observation_space.dtype == envs.observation_space.dtype == want
    assert envs.single_action_space.dtype == (np.int64 if env_id == "CartPole-v1"
                                              else np.float32)
    assert obs.dtype == want and obs.shape == (3,) + envs.single_observation_space.shape
    assert obs in envs.observation_space
    obs, rew, term, trunc, infos = envs.step(envs.action_space.sample())
    assert rew.dtype == np.float64 and rew.shape == (3,)
    assert term.dtype == np.bool_ and trunc.dtype == np.bool_
    assert obs in envs.observation_space
    envs.close()
    assert envs.closed


@needs_gymnasium
@pytest.mark.parametrize("env_id,n,threads,steps", [
    ("CartPole-v1", 4, None, 700),          # terminations, and a truncation at 500 steps
    ("CartPole-v1", 5, 2, 300),             # threads: the same results
    ("Pendulum-v1", 3, None, 450),          # truncations only (200 steps)
    ("MountainCar-v0", 2, 2, 450),
    ("Acrobot-v1", 3, None, 1100),     # truncations at 500
    ("Hopper-v5", 3, 2, 300),               # MuJoCo: terminations
])
def test_step_by_step_as_sync_vector_env(env_id, n, threads, steps, gymnasium):
    """The vector env against gymnasium.vector.SyncVectorEnv over natgrad.make envs: the
    same observations, rewards, flags and infos at every step, autoresets included."""
    ours = make_vec_or_skip(env_id, n, threads=threads)
    ref = gymnasium.vector.SyncVectorEnv([lambda: natgrad.make(env_id)] * n)
    actions = random_actions(ref.action_space, steps, seed=5)
    o1, i1 = ours.reset(seed=42)
    o2, i2 = ref.reset(seed=42)
    np.testing.assert_array_equal(o1, o2)
    assert i1 == i2 == {}
    ends = autoresets = 0
    for t, a in enumerate(actions):
        was_ended = np.logical_or(term1, trunc1) if t > 0 else None
        o1, r1, term1, trunc1, i1 = ours.step(a)
        o2, r2, term2, trunc2, i2 = ref.step(a)
        np.testing.assert_array_equal(o1, o2, err_msg=f"step {t}")
        np.testing.assert_array_equal(r1, r2, err_msg=f"step {t}")
        np.testing.assert_array_equal(term1, term2, err_msg=f"step {t}")
        np.testing.assert_array_equal(trunc1, trunc2, err_msg=f"step {t}")
        assert i1 == i2 == {}
        if t > 0:
            # An autoreset step: reward 0, neither flag.
            assert np.all(r1[was_ended] == 0) and not np.any(term1[was_ended] | trunc1[was_ended])
            autoresets += int(np.sum(was_ended))
        ends += int(np.sum(term1 | trunc1))
    assert ends > 0 and autoresets > 0, "the run must cover episode ends and autoresets"


@needs_gymnasium
def test_truncation_at_time_limit(gymnasium):
    envs = natgrad.make_vec("Pendulum-v1", 2, seed=1)
    envs.reset()
    a = np.zeros((2, 1), dtype=np.float32)
    for t in range(199):
        _, _, term, trunc, _ = envs.step(a)
        assert not trunc.any() and not term.any()
    _, _, term, trunc, _ = envs.step(a)
    assert trunc.all() and not term.any()
    obs, rew, term, trunc, _ = envs.step(a)  # the autoreset step
    assert not trunc.any() and np.all(rew == 0)
    assert envs.elapsed_steps(0) == 0


def test_autoreset_is_the_next_episode_of_that_env():
    """After a terminal step, the next step's observation of that env is its next reset
    (the same stream continued), and the terminal step's observation is the final one."""
    envs = natgrad.make_vec("CartPole-v1", 2, seed=10)
    single = natgrad.make("CartPole-v1")
    obs0, _ = envs.reset()
    s_obs, _ = single.reset(seed=11)  # env 1 is seeded 10 + 1
    np.testing.assert_array_equal(obs0[1], s_obs)
    push = np.array([1, 1])
    while True:
        obs, _, term, trunc, _ = envs.step(push)
        s_obs, _, s_term, _, _ = single.step(1)
        np.testing.assert_array_equal(obs[1], s_obs)  # the final observation included
        if term[1]:
            assert s_term
            break
    obs, rew, term, trunc, _ = envs.step(push)
    nxt, _ = single.reset()
    np.testing.assert_array_equal(obs[1], nxt)
    assert rew[1] == 0 and not term[1] and not trunc[1]


def test_seeding():
    a = natgrad.make_vec("Acrobot-v1", 3, seed=7)
    b = natgrad.make_vec("Acrobot-v1", 3)
    oa = a.reset()[0].copy()  # the arrays are reused: keep copies
    ob = b.reset(seed=7)[0].copy()
    np.testing.assert_array_equal(oa, ob)                  # seed at creation = reset(seed)
    for i in range(3):                                     # env i is make(...).reset(seed=7+i)
        np.testing.assert_array_equal(oa[i], natgrad.make("Acrobot-v1").reset(seed=7 + i)[0])
    oa2 = a.reset()[0].copy()                              # None continues every stream
    assert not np.array_equal(oa2, oa)
    np.testing.assert_array_equal(b.reset()[0], oa2)
    oc = a.reset(seed=[None, 8, 9])[0].copy()              # a list: one seed each, None
    np.testing.assert_array_equal(oc, b.reset(seed=[None, 8, 9])[0])  # continues that one
    assert not np.array_equal(oc[0], oa2[0])
    np.testing.assert_array_equal(oc[1], natgrad.make("Acrobot-v1").reset(seed=8)[0])
    assert not np.array_equal(natgrad.make_vec("Acrobot-v1", 3, seed=8).reset()[0], oa)
    # Unseeded environments differ from each other.
    assert not np.array_equal(natgrad.make_vec("Acrobot-v1", 3).reset()[0],
                              natgrad.make_vec("Acrobot-v1", 3).reset()[0])


def test_arrays_are_reused_unless_copy():
    envs = natgrad.make_vec("CartPole-v1", 4, seed=0)
    obs0, _ = envs.reset()
    obs1, r1, te1, tr1, _ = envs.step(np.zeros(4, dtype=np.int64))
    obs2, r2, te2, tr2, _ = envs.step(np.ones(4, dtype=np.int64))
    assert obs0 is obs1 is obs2 and r1 is r2 and te1 is te2 and tr1 is tr2
    envs = natgrad.make_vec("CartPole-v1", 4, seed=0, copy=True)
    obs0, _ = envs.reset()
    obs1, r1, _, _, _ = envs.step(np.zeros(4, dtype=np.int64))
    assert obs0 is not obs1 and not np.array_equal(obs0, obs1)


def test_action_dtypes_and_lists():
    """Any numeric array or list of the right shape is an action batch."""
    results = []
    for acts in ([1, 0, 1], np.array([1, 0, 1], dtype=np.int32), np.array([1., 0., 1.]),
                 np.array([1, 0, 1], dtype=np.uint8), np.array([1, 9, 0, 9, 1, 9])[::2]):
        envs = natgrad.make_vec("CartPole-v1", 3, seed=3)
        envs.reset()
        results.append(envs.step(acts)[0].copy())
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_set_and_get_state():
    envs = natgrad.make_vec("CartPole-v1", 2, seed=0)
    envs.reset()
    obs = envs.set_state(1, [0.1, 0.2, 0.03, -0.1])
    np.testing.assert_array_equal(obs, np.float32([0.1, 0.2, 0.03, -0.1]))
    np.testing.assert_array_equal(envs.get_state(1), [0.1, 0.2, 0.03, -0.1])
    env = natgrad.make("CartPole-v1")
    env.set_state([0.1, 0.2, 0.03, -0.1])
    env.step(1)
    envs.step(np.array([0, 1]))
    np.testing.assert_array_equal(env.get_state(), envs.get_state(1))


def test_mujoco_state_forms():
    """A MuJoCo state is qpos, qvel and the solver's warm start: get_state then set_state
    continues bit for bit; qpos and qvel alone (state_min_size) are Gymnasium's set_state,
    the same as with zeros after them."""
    env, twin = make_or_skip("Hopper-v5"), make_or_skip("Hopper-v5")
    info = natgrad.env_info("Hopper-v5")
    assert (info["state_size"], info["state_min_size"]) == (19, 12)
    env.reset(seed=3)
    actions = np.random.default_rng(0).uniform(-0.5, 0.5, (30, 3))
    for a in actions[:10]:
        env.step(a)
    twin.set_state(env.get_state())
    for a in actions[10:]:
        o1, r1, t1, _, _ = env.step(a)
        o2, r2, t2, _, _ = twin.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert (r1, t1) == (r2, t2)
        if t1:
            break
    short = env.get_state()[:12]
    o_short = twin.set_state(short)
    s_short = twin.get_state()
    o_padded = twin.set_state(np.r_[short, np.zeros(7)])
    np.testing.assert_array_equal(o_short, o_padded)
    np.testing.assert_array_equal(s_short, twin.get_state())
    with pytest.raises(natgrad.InvalidArgumentError, match="19 values .*, or its first 12"):
        twin.set_state(short[:11])


def test_plugin_environment():
    path = plugin_path("reach")
    info = natgrad.load_plugin(path)
    assert info["n_envs"] >= 1 and "Reach-v0" in natgrad.env_ids()
    assert natgrad.load_plugin(path)["path"] == info["path"]  # loading again: nothing more
    envs = natgrad.make_vec("Reach-v0", 3, seed=1)
    obs, _ = envs.reset()
    assert obs.shape == (3, 1)
    total = np.zeros(3)
    for _ in range(50):
        obs, rew, term, trunc, _ = envs.step(-np.clip(5 * obs, -1, 1))
        total += rew
    assert trunc.all() and not term.any()
    assert np.all(total > -20)  # the steering policy, against about -150 for a random one


def test_works_without_gymnasium():
    """The package imports and steps with Gymnasium hidden; spaces are descriptions."""
    import subprocess
    import sys
    code = """
import sys
sys.modules['gymnasium'] = None  # any import of it fails
import numpy as np, natgrad
assert not natgrad.HAVE_GYMNASIUM
envs = natgrad.make_vec('CartPole-v1', 2, seed=0)
assert envs.single_action_space['kind'] == 'Discrete'
assert envs.observation_space['shape'] == (2, 4)
obs, infos = envs.reset()
obs, r, te, tr, infos = envs.step(np.array([0, 1]))
env = natgrad.make('Pendulum-v1')
env.reset(seed=1)
env.step(np.zeros(1, dtype=np.float32))
env.close()
envs.close()
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@needs_gymnasium
def test_gymnasium_vector_wrappers_see_the_same(gymnasium):
    """Gymnasium's own vector wrappers (episode statistics in infos, running observation
    normalisation) over make_vec give what they give over SyncVectorEnv."""
    from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

    def run(envs):
        envs = NormalizeObservation(RecordEpisodeStatistics(envs))
        envs.reset(seed=0)
        envs.action_space.seed(1)
        out = []
        for _ in range(300):
            obs, rew, _, _, infos = envs.step(envs.action_space.sample())
            out.append((obs.copy(), rew.copy(), infos))
        return out

    ours = run(natgrad.make_vec("CartPole-v1", 4))
    ref = run(gymnasium.vector.SyncVectorEnv([lambda: natgrad.make("CartPole-v1")] * 4))
    episodes = 0
    for (o1, r1, i1), (o2, r2, i2) in zip(ours, ref):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        assert i1.keys() == i2.keys()
        if "episode" in i1:
            episodes += 1
            np.testing.assert_array_equal(i1["_episode"], i2["_episode"])
            for k in ("r", "l"):  # "t" is wall time
                np.testing.assert_array_equal(i1["episode"][k], i2["episode"][k])
    assert episodes > 0


def test_discrete_observations_and_multi_actions():
    """The example plugin's spaces that are not Box: Discrete observations (int64 indices),
    MultiDiscrete and MultiBinary actions (int64 / int8 or bool rows)."""
    natgrad.load_plugin(plugin_path("ring"))
    envs = natgrad.make_vec("Switches-v0", 3, seed=2)
    obs, _ = envs.reset()
    assert obs.dtype == np.int64 and obs.shape == (3,)
    for _ in range(10):  # the best policy: switch i on where bit i of the pattern is set
        bits = (obs[:, None] >> np.arange(4)) & 1
        obs, rew, term, trunc, _ = envs.step(bits.astype(np.int8))
        np.testing.assert_array_equal(rew, 1.0)
    assert trunc.all()
    envs.step(np.zeros((3, 4), dtype=bool))  # the autoreset step; bool rows are fine
    with pytest.raises(natgrad.InvalidArgumentError, match="action of env 1"):
        envs.step(np.array([[0, 1, 0, 1], [0, 2, 0, 0], [1, 1, 1, 1]]))
    ring = natgrad.make_vec("Ring-v0", 2, seed=0)
    obs, _ = ring.reset()
    assert obs.dtype == np.int64 and np.all((0 <= obs) & (obs < 8))
    ring.step(np.array([[1, 2], [0, 0]]))
    with pytest.raises(natgrad.InvalidArgumentError, match="action of env 0"):
        ring.step(np.array([[1, 3], [0, 0]]))


@needs_gymnasium
@pytest.mark.parametrize("env_id", ["Ring-v0", "Switches-v0"])
def test_plugin_spaces_with_gymnasium(env_id, gymnasium):
    from gymnasium.utils.env_checker import check_env
    natgrad.load_plugin(plugin_path("ring"))
    check_env(natgrad.make(env_id), skip_render_check=True)
    ours = natgrad.make_vec(env_id, 3)
    ref = gymnasium.vector.SyncVectorEnv([lambda: natgrad.make(env_id)] * 3)
    spaces = gymnasium.spaces
    assert isinstance(ours.single_observation_space, spaces.Discrete)
    kind = spaces.MultiDiscrete if env_id == "Ring-v0" else spaces.MultiBinary
    assert isinstance(ours.single_action_space, kind)
    assert ours.single_action_space.dtype == (np.int64 if env_id == "Ring-v0" else np.int8)
    o1, _ = ours.reset(seed=4)
    o2, _ = ref.reset(seed=4)
    np.testing.assert_array_equal(o1, o2)
    for a in random_actions(ref.action_space, 45, seed=6):
        for x, y in zip(ours.step(a), ref.step(a)):
            if isinstance(x, dict):
                assert x == y == {}
            else:
                np.testing.assert_array_equal(x, y)
