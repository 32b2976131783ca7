#!/usr/bin/env python3
"""The issue's speed section (issue 13), one run, one table.

Environment half: natgrad.make_vec("CartPole-v1", 16) with random actions against
Gymnasium's SyncVectorEnv of its Python CartPole-v1 (16 copies) and against the C library's
own stepping (`natgrad bench`'s environment steps/s: one env, one thread, random actions
drawn in C); Hopper-v5 through make_vec against the C library. Steps are environment steps
(a vector step of 16 envs counts 16). Every figure is the median of --repeats runs,
measured interleaved (A B C, A B C, ...) so that a shared machine's load hits all alike.
Random actions are drawn before timing (a cycle of 256 batches), so the loops time
stepping only.

    PYTHONPATH=build/release/python OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/python_bench.py

Training half: natgrad.TRPO on Gymnasium's Python CartPole-v1 (100k steps, rl-zoo's
settings, one thread) against SB3-contrib's TRPO with the same settings (Debian's torch on
OpenBLAS, one thread), and natgrad.TRPO on the built-in id against `natgrad train`: seconds
of training (learn(), SB3's learn(), the CLI's training loop), the final policy's mean
return over 10 episodes beside them.

Sections are functions in SECTIONS taking (args) and returning rows (name, value, unit,
note).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _setup_paths(args):
    built = os.path.join(args.build, "python")
    if os.path.isdir(built):
        sys.path.insert(0, built)
    for d in (args.peers, os.path.join(REPO, "..", "shared", "peers", "python"),
              os.path.join(REPO, "..", "..", "shared", "peers", "python")):
        if d and os.path.isdir(os.path.join(d, "gymnasium")):
            sys.path.insert(0, os.path.normpath(d))
            return


def _actions(space, n=256, seed=0):
    import numpy as np
    space.seed(seed)
    acts = [space.sample() for _ in range(n)]
    if acts[0].dtype.kind in "iu":
        acts = [a.astype(np.int64) for a in acts]
    return acts


def _time_steps(step, acts, vector_steps, num_envs):
    """Env steps per second of vector_steps calls of step over the action cycle."""
    n = len(acts)
    t = time.perf_counter()
    for i in range(vector_steps):
        step(acts[i % n])
    return vector_steps * num_envs / (time.perf_counter() - t)


def _c_library_steps(args):
    """{id: steps/s} from `natgrad bench`'s environment table (one env, one thread)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        cmd = [args.natgrad, "bench", "--quick", "--no-runs", "--sizes", "1000",
               "--target-s", str(args.c_target_s), "--json", out]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        with open(out) as f:
            return {e["id"]: e["steps_per_s"] for e in json.load(f)["envs"]}


def env_section(args):
    import natgrad
    reps = args.repeats
    n = 16
    cart = natgrad.make_vec("CartPole-v1", n, seed=0)
    cart.reset()
    cart_acts = _actions(cart.action_space)
    hop = natgrad.make_vec("Hopper-v5", n, seed=0)
    hop.reset()
    hop_acts = _actions(hop.action_space)
    hop2 = natgrad.make_vec("Hopper-v5", n, seed=0, threads=2)
    hop2.reset()
    gym_env = None
    try:
        import gymnasium
        gym_env = gymnasium.vector.SyncVectorEnv(
            [lambda: gymnasium.make("CartPole-v1")] * n)
        gym_env.reset(seed=0)
    except ImportError:
        print("Gymnasium not found: no SyncVectorEnv column (--peers DIR)", file=sys.stderr)
    q = args.quick
    res = {k: [] for k in ("cart", "gym", "hop", "hop2", "c_cart", "c_hop")}
    for r in range(reps):
        res["cart"].append(_time_steps(cart.step, cart_acts, 2000 if q else 100000, n))
        if gym_env is not None:
            res["gym"].append(_time_steps(gym_env.step, cart_acts, 100 if q else 3000, n))
        res["hop"].append(_time_steps(hop.step, hop_acts, 20 if q else 1000, n))
        res["hop2"].append(_time_steps(hop2.step, hop_acts, 20 if q else 1000, n))
        c = _c_library_steps(args)
        res["c_cart"].append(c["CartPole-v1"])
        res["c_hop"].append(c.get("Hopper-v5", float("nan")))
        print(f"  repeat {r + 1}/{reps} done", file=sys.stderr)
    med = {k: statistics.median(v) if v else float("nan") for k, v in res.items()}
    rows = [
        ("make_vec CartPole-v1 x16", med["cart"], "steps/s", ""),
        ("SyncVectorEnv CartPole-v1 x16 (Gymnasium)", med["gym"], "steps/s", ""),
        ("C library CartPole-v1 (natgrad bench)", med["c_cart"], "steps/s", ""),
        ("  make_vec / SyncVectorEnv", med["cart"] / med["gym"], "x", "target >= 30"),
        ("  C library / make_vec", med["c_cart"] / med["cart"], "x", "target <= 1.5"),
        ("make_vec Hopper-v5 x16", med["hop"], "steps/s", ""),
        ("make_vec Hopper-v5 x16, threads=2", med["hop2"], "steps/s", ""),
        ("C library Hopper-v5 (natgrad bench)", med["c_hop"], "steps/s", ""),
        ("  C library / make_vec (1 thread)", med["c_hop"] / med["hop"], "x", "target <= 1.2"),
    ]
    for e in (cart, hop, hop2):
        e.close()
    return rows


# ---- the training half: natgrad.TRPO from Python against SB3-contrib's TRPO and the CLI ----

# SB3-contrib's TRPO with rl-baselines3-zoo's CartPole-v1 settings (trpo.yml), the ones
# natgrad's CartPole-v1 defaults are (src/rl/config.c); run by Debian's torch on OpenBLAS
# with glibc keeping its large blocks (../shared/peers/README.md), one thread.
_SB3_SCRIPT = """
import json, sys, time
import torch
torch.set_num_threads(1)
from sb3_contrib import TRPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
steps, seed = int(sys.argv[1]), int(sys.argv[2])
env = make_vec_env("CartPole-v1", n_envs=2, seed=seed)
model = TRPO("MlpPolicy", env, n_steps=512, batch_size=512, gamma=0.99, gae_lambda=0.98,
             cg_damping=1e-3, learning_rate=1e-3, n_critic_updates=20, seed=seed,
             device="cpu", verbose=0)
t = time.perf_counter()
model.learn(steps)
seconds = time.perf_counter() - t
mean, _ = evaluate_policy(model, model.get_env(), n_eval_episodes=10)
print(json.dumps({"seconds": seconds, "mean": float(mean)}))
"""


def _sb3_trpo(args, steps, seed):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if "peers" in p),
               LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MALLOC_MMAP_MAX_="0",
               MALLOC_TRIM_THRESHOLD_="17179869184")
    r = subprocess.run(["/usr/bin/python3", "-c", _SB3_SCRIPT, str(steps), str(seed)],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print(f"SB3-contrib's TRPO failed: {r.stderr.strip().splitlines()[-1:]}",
              file=sys.stderr)
        return float("nan"), float("nan")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return out["seconds"], out["mean"]


def _cli_train(args, steps, seed):
    """Seconds of `natgrad train`'s training loop (its summary's steps/s), one thread."""
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([args.natgrad, "train", "--env", "CartPole-v1", "--steps",
                            str(steps), "--seed", str(seed), "--threads", "1",
                            "--eval-episodes", "0", "--out", os.path.join(tmp, "run")],
                           capture_output=True, text=True, check=True,
                           env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("time:"))
    taken = int(line.split(" for ")[1].split()[0])
    rate = float(line.split("(")[1].split()[0])
    return taken / rate


def train_section(args):
    import natgrad
    steps = 5000 if args.quick else 100_000
    seed = 0
    res = {k: [] for k in ("py_gym", "sb3", "py_c", "cli")}
    ret = {}
    gymnasium = None
    try:
        import gymnasium
    except ImportError:
        print("Gymnasium not found: no Python-env rows (--peers DIR)", file=sys.stderr)
    for r in range(args.train_repeats):
        if gymnasium is not None:
            m = natgrad.TRPO(gymnasium.make("CartPole-v1"), seed=seed, threads=1)
            t = time.perf_counter()
            m.learn(steps)
            res["py_gym"].append(time.perf_counter() - t)
            ret["py_gym"] = m.evaluate(10)[0]
            sec, mean = _sb3_trpo(args, steps, seed)
            res["sb3"].append(sec)
            ret["sb3"] = mean
        m = natgrad.TRPO("CartPole-v1", seed=seed, threads=1)
        t = time.perf_counter()
        m.learn(steps)
        res["py_c"].append(time.perf_counter() - t)
        ret["py_c"] = m.evaluate(10)[0]
        res["cli"].append(_cli_train(args, steps, seed))
        print(f"  training repeat {r + 1}/{args.train_repeats} done", file=sys.stderr)
    med = {k: statistics.median(v) if v else float("nan") for k, v in res.items()}
    nan = float("nan")
    return [
        ("natgrad.TRPO, Gymnasium's CartPole-v1", med["py_gym"], "s",
         f"return {ret.get('py_gym', nan):.1f}"),
        ("SB3-contrib TRPO, same env and settings", med["sb3"], "s",
         f"return {ret.get('sb3', nan):.1f}"),
        ("  SB3-contrib / natgrad.TRPO", med["sb3"] / med["py_gym"], "x", "target >= 5"),
        ("natgrad.TRPO('CartPole-v1'), the C env", med["py_c"], "s",
         f"return {ret.get('py_c', nan):.1f}"),
        ("natgrad train --env CartPole-v1 (CLI)", med["cli"], "s", ""),
        ("  Python / CLI", med["py_c"] / med["cli"], "x", "target <= 1.2"),
    ]


SECTIONS = [("environments (one core unless said)", env_section),
            ("training CartPole-v1, 100k steps, one thread (seconds)", train_section)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(REPO, "build", "release"),
                   help="the CMake build folder (its python/ and natgrad)")
    p.add_argument("--natgrad", default=None, help="the natgrad binary (default BUILD/natgrad)")
    p.add_argument("--peers", default=os.environ.get("NG_PEERS_PYTHON"),
                   help="folder holding Gymnasium 1.0.0's source (../shared/peers/python)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--c-target-s", type=float, default=0.5,
                   help="natgrad bench's --target-s for its environment timings")
    p.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    p.add_argument("--train-repeats", type=int, default=1,
                   help="runs of each training row (100k steps each; SB3's takes ~30 s)")
    p.add_argument("--only", choices=[t for t, _ in SECTIONS], default=None,
                   help="run one section")
    args = p.parse_args()
    args.natgrad = args.natgrad or os.path.join(args.build, "natgrad")
    if args.quick:
        args.repeats, args.c_target_s = 1, 0.05
    _setup_paths(args)
    print(f"python_bench: medians of {args.repeats} repeats; load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    for title, fn in SECTIONS:
        if args.only and title != args.only:
            continue
        print(f"\n{title}")
        for name, value, unit, note in fn(args):
            num = f"{value:12.3g}" if unit in ("x", "s") else f"{value:12.0f}"
            print(f"  {name:<44} {num} {unit:<8} {note}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
