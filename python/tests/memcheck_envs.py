"""CTest python_memcheck runs this under valgrind memcheck (python/python.cmake): every
path of the extension's environments (make_vec at one and two threads, Discrete and Box
actions in each accepted layout, refused actions and seeds, states, a plugin, make) with
Python's own allocator off, so that a bad read or write in python/src is reported.
Usage: memcheck_envs.py PLUGIN_DIR"""
import os
import sys

sys.modules["gymnasium"] = None  # the extension alone: faster under valgrind
import numpy as np  # noqa: E402
import natgrad  # noqa: E402

natgrad.load_plugin(os.path.join(sys.argv[1], "libng_plugin_reach.so"))
CASES = [("CartPole-v1", 3, 2), ("Pendulum-v1", 2, 1), ("Hopper-v5", 2, 2), ("Reach-v0", 2, 1)]
for id, n, th in CASES:
    try:
        e = natgrad.make_vec(id, n, seed=1, threads=th)
    except natgrad.UnsupportedError:  # a build without MuJoCo
        continue
    e.reset()
    sp = natgrad.env_info(id)["action_space"]
    for t in range(30):
        if sp["kind"] == "Discrete":
            a = np.arange(n) % 2
        else:
            a = np.zeros((n, sp["shape"][0]))
        e.step(a)
        e.step(a.astype(np.float32))
        e.step(a.tolist())
    for bad in (np.full_like(a, np.nan, dtype=float), "x", np.zeros(n + 1)):
        try:
            e.step(bad)
        except (natgrad.Error, TypeError):
            pass
    try:
        e.reset(seed=-1)
    except natgrad.Error:
        pass
    if natgrad.env_info(id)["state_size"]:
        e.set_state(0, e.get_state(1))
    e.close()
s = natgrad.make("CartPole-v1"); s.reset(seed=0); s.step(1); s.close()
try:
    natgrad.make("Nope-v0")
except natgrad.NotFoundError:
    pass
# Spaces read back, and refused.
for env_id in natgrad.env_ids():
    for which in ("observation_space", "action_space"):
        natgrad._natgrad.space_describe(natgrad._natgrad.env_info(env_id)[which])
for bad in ({"kind": "MultiDiscrete", "nvec": [2, 0]}, {"kind": "Box", "shape": (2,),
            "low": [0.0], "high": [1.0, 1.0]}, {"kind": "Discrete"}, 42):
    try:
        natgrad._natgrad.space_describe(bad)
    except natgrad.Error:
        pass
print("ok")
