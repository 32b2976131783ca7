"""CTest python_memcheck_train runs this under valgrind memcheck (python/python.cmake): the
trainer's paths in python/src/train.c with Python's own allocator off: a built-in id and a
Python environment trained, predicted, evaluated, saved and loaded; every fault a Python
environment can have; bad configs. Tiny runs: valgrind is slow."""
import os
import sys
import tempfile

sys.modules["gymnasium"] = None  # the extension alone: faster under valgrind
import numpy as np  # noqa: E402
import natgrad  # noqa: E402

BOX1 = {"kind": "Box", "low": np.array([-2.0]), "high": np.array([2.0]), "shape": (1,)}
BOX2 = {"kind": "Box", "low": np.array([-1.0, -1.0]), "high": np.array([1.0, 1.0]),
        "shape": (2,)}
SMALL = dict(n_envs=2, n_steps=16, vf_minibatch=16, vf_epochs=1, cg_iters=3, threads=2)


class Spec:  # the time limit, as Gymnasium's EnvSpec gives it (evaluation needs one)
    id = "Env-v0"
    max_episode_steps = 30
    kwargs = {}


class Env:
    observation_space = BOX1
    action_space = BOX2
    spec = Spec()
    fault = None

    def __init__(self):
        self.x, self.calls = 0.0, 0

    def reset(self, seed=None, options=None):
        self.x = 0.1
        return np.array([self.x]), {}

    def step(self, a):
        self.calls += 1
        self.x = float(np.clip(self.x + 0.1 * a[0] - 0.05 * a[1], -2, 2))
        obs, r = np.array([self.x]), -self.x ** 2
        if self.calls == 20:
            f = type(self).fault
            if f == "raise":
                raise RuntimeError("broken")
            if f == "shape":
                obs = np.zeros(2)
            if f == "dtype":
                obs = "x"
            if f == "nan":
                r = float("nan")
            if f == "tuple":
                return obs, r
        return obs, r, abs(self.x) == 2, False, {}


with tempfile.TemporaryDirectory() as tmp:
    for env in ("CartPole-v1", Env):
        run = os.path.join(tmp, "c" if isinstance(env, str) else "py")
        m = natgrad.TRPO(env, run_dir=run, **SMALL)
        m.learn(64)
        m.predict(np.zeros(4 if isinstance(env, str) else 1))
        m.predict(np.zeros((3, 4 if isinstance(env, str) else 1)), deterministic=False)
        m.evaluate(1)
        m.save()
        m.save(os.path.join(tmp, "copy" + run[-2:]))
        back = natgrad.load(run, env=None if isinstance(env, str) else Env)
        back.learn(32)
    for fault in ("raise", "shape", "dtype", "nan", "tuple"):
        F = type("Env" + fault, (Env,), {"fault": fault})
        try:
            natgrad.NPG(F, **SMALL).learn(64)
        except natgrad.Error:
            pass
    for bad in ({"max_kl": -1}, {"nope": 1}, {"policy_hidden": "x"}):
        try:
            natgrad.TRPO("CartPole-v1", **bad)
        except ValueError:
            pass
    try:
        natgrad.load(os.path.join(tmp, "py"), env=lambda: Env())  # its own run: fine
        natgrad.load(os.path.join(tmp, "c"), env=Env)  # another env's run: refused
    except natgrad.Error:
        pass
print("memcheck_train: done")
