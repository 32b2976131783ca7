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

Sections are functions in SECTIONS taking (args) and returning rows (name, value, unit,
note); the training half adds its own.
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


SECTIONS = [("environments (one core unless said)", env_section)]


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
    args = p.parse_args()
    args.natgrad = args.natgrad or os.path.join(args.build, "natgrad")
    if args.quick:
        args.repeats, args.c_target_s = 1, 0.05
    _setup_paths(args)
    print(f"python_bench: medians of {args.repeats} repeats; load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    for title, fn in SECTIONS:
        print(f"\n{title}")
        for name, value, unit, note in fn(args):
            num = f"{value:12.3g}" if unit == "x" else f"{value:12.0f}"
            print(f"  {name:<44} {num} {unit:<8} {note}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
