#!/usr/bin/python3
"""natgrad against SB3-contrib's TRPO, end to end, side by side in one command.

For every environment, seed and thread count it runs, one after the other (interleaved, so
that both see the same load): SB3-contrib 2.4.0's TRPO (PyTorch, Debian's python3-torch on
OpenBLAS, run at its best as ../shared/peers/README.md says) and `natgrad train`, with the
same settings: SB3's arguments are made from the config.ini natgrad writes for the run, so
both train the same networks with the same hyperparameters (the KL bound and the CG damping
converted to SB3's units: docs/mujoco.md, "KL units"). It prints, per pair, the wall
time of the whole process, the time in training alone, the mean return of the trained
policy over deterministic evaluation episodes, the peak memory (maximum resident set of the
process, from wait4) and the machine's load average before and after; then the medians and
the speed-ups.

    /usr/bin/python3 bench/sb3_side_by_side.py                      # CartPole-v1, Pendulum-v1
    /usr/bin/python3 bench/sb3_side_by_side.py --envs CartPole-v1 --seeds 0,1,2 --threads 1,2
    /usr/bin/python3 bench/sb3_side_by_side.py --precisions f64,f32   # natgrad's value function
    /usr/bin/python3 bench/sb3_side_by_side.py --envs Ant-v5 --steps 1000000 --set init_log_std=0

--set KEY=VALUE (repeatable) changes natgrad's config, and with it SB3's, from the
environment's defaults: to run both with a published config, say.

With --precisions, natgrad trains once per value-function precision (vf_precision; the SB3
run sits between them), each compared with the same SB3 run; SB3's critic is float32 always.

SB3 steps Gymnasium's own environment when Gymnasium can make it; a MuJoCo id, whose Python
bindings Debian does not package, it steps as natgrad's C environment through natgrad's
Python package (`natgrad.make(id)`, a gymnasium.Env; the build's python/ folder next to the
natgrad binary), so the comparison covers a MuJoCo task too, with the same physics on both
sides (the table's "SB3's env" column says which):

    /usr/bin/python3 bench/sb3_side_by_side.py --envs Hopper-v5 --steps 50000 --threads 1

The peer's source is ../shared/peers/python (or --peers / NG_PEERS_PYTHON); without it, or
without torch, the script says so and exits 0 having run nothing. The one setting natgrad
cannot share is Pendulum-v1's gSDE (rl-baselines3-zoo tunes it with use_sde; natgrad has no
gSDE): both sides run the plain Gaussian policy natgrad's defaults describe.
"""
import argparse
import contextlib
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_BLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


def read_config(path):
    """config.ini as a dict of strings (natgrad's key = value format, # comments)."""
    cfg = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                cfg[k.strip()] = v.strip()
    return cfg


def run_measured(argv, env, out_path):
    """Runs argv to completion; returns (wall seconds, peak RSS MiB, exit status)."""
    with open(out_path, "w") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024.0, p.returncode


# ---- the peer's process ----------------------------------------------------------------------

def sb3_child(spec):
    """Runs in its own process: trains SB3-contrib's TRPO with natgrad's config, evaluates it,
    prints one JSON line."""
    t_start = time.perf_counter()
    import torch
    torch.set_num_threads(spec["threads"])
    from sb3_contrib import TRPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize

    c = spec["config"]
    seed = int(c["seed"])
    norm_obs, norm_rew = c["normalize_obs"] == "1", c["normalize_reward"] == "1"
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    widths = lambda key: [int(w) for w in c[key].split(",")]
    import gymnasium
    import numpy as np
    from gymnasium.spaces import Box
    try:
        gymnasium.make(c["env"]).close()
        make_env, env_source = c["env"], "gymnasium"
    except Exception:  # e.g. DependencyNotInstalled: no MuJoCo bindings
        sys.path.insert(0, spec["natgrad_python"])
        import natgrad
        make_env, env_source = (lambda: natgrad.make(c["env"])), "natgrad.make"
    venv = make_vec_env(make_env, n_envs=int(c["n_envs"]), seed=seed)
    if norm_obs or norm_rew:
        venv = VecNormalize(venv, norm_obs=norm_obs, norm_reward=norm_rew,
                            clip_obs=float(c["obs_clip"]), clip_reward=float(c["reward_clip"]),
                            gamma=float(c["gamma"]))
    # SB3's DiagGaussian KL is the mean over rows and the d action components, natgrad's
    # max_kl bounds the per-state sum (docs/mujoco.md, "KL units"): the same step is
    # target_kl = max_kl / d with the damping divided by d too. A categorical is one
    # distribution on both sides (d = 1).
    d = int(np.prod(venv.action_space.shape)) if isinstance(venv.action_space, Box) else 1
    model = TRPO(
        "MlpPolicy", venv, seed=seed, device="cpu", verbose=0,
        learning_rate=float(c["vf_lr"]), n_steps=int(c["n_steps"]),
        batch_size=int(c["vf_minibatch"]), gamma=float(c["gamma"]),
        gae_lambda=float(c["gae_lambda"]), cg_max_steps=int(c["cg_iters"]),
        cg_damping=float(c["cg_damping"]) / d,
        line_search_shrinking_factor=float(c["ls_shrink"]),
        # natgrad counts the trials after the full step, SB3 all of them
        line_search_max_iter=int(c["ls_max_backtracks"]) + 1,
        n_critic_updates=int(c["vf_epochs"]), target_kl=float(c["max_kl"]) / d,
        sub_sampling_factor=max(1, round(1.0 / float(c["fisher_subsample"]))),
        normalize_advantage=c["normalize_advantages"] == "1",
        policy_kwargs=dict(net_arch=dict(pi=widths("policy_hidden"), vf=widths("value_hidden")),
                           activation_fn=act[c["policy_act"]],
                           log_std_init=float(c["init_log_std"])))
    if spec.get("log_dir"):  # SB3's training curve, as its logger writes it
        from stable_baselines3.common.logger import configure
        model.set_logger(configure(spec["log_dir"], ["csv"]))
    t_learn = time.perf_counter()
    model.learn(total_timesteps=int(c["steps"]))
    learn_s = time.perf_counter() - t_learn
    eval_env = make_vec_env(make_env, n_envs=1, seed=seed + 1000)
    if norm_obs or norm_rew:
        eval_env = VecNormalize(eval_env, training=False, norm_obs=norm_obs, norm_reward=False,
                                clip_obs=float(c["obs_clip"]))
        eval_env.obs_rms = venv.obs_rms
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=spec["episodes"],
                                deterministic=True)
    print(json.dumps({"learn_s": learn_s, "setup_s": t_learn - t_start,
                      "mean_return": float(mean), "std_return": float(std),
                      "env_source": env_source}))


# ---- the driver ------------------------------------------------------------------------------

def load():
    return os.getloadavg()[0]


def run_natgrad(ng, env_id, seed, steps, threads, episodes, work, precision, sets):
    run = os.path.join(work, f"ng-{env_id}-s{seed}-t{threads}-{precision}")
    argv = [ng, "train", "--env", env_id, "--seed", str(seed), "--steps", str(steps),
            "--threads", str(threads), "--out", run, "--force", "--eval-episodes", "0",
            "--set", f"vf_precision={precision}"]
    for kv in sets:
        argv += ["--set", kv]
    l0 = load()
    wall, rss, rc = run_measured(argv, dict(os.environ), run + ".log")
    l1 = load()
    if rc:
        sys.exit(f"natgrad train failed ({rc}): see {run}.log")
    # the training wall time, as the last row of progress.csv records it (train.log's
    # "time:" line is for people: "5.8s", "2m41s")
    with open(os.path.join(run, "progress.csv")) as f:
        rows = list(csv.DictReader(f))
    train_s = float(rows[-1]["wall_s"])
    ev = subprocess.run([ng, "eval", run, "--episodes", str(episodes)], capture_output=True,
                        text=True, check=True).stdout
    ret = float(ev.split("mean return ")[1].split()[0])
    return run, {"wall_s": wall, "train_s": train_s, "peak_mib": rss, "mean_return": ret,
                 "load": (l0, l1)}


def run_sb3(config, threads, episodes, peers, work, tag, natgrad_python, keep_curve):
    # SB3's logger writes a CSV row per iteration inside the timed training: only when asked
    log_dir = os.path.join(work, f"sb3-{tag}") if keep_curve else None
    spec = {"config": config, "threads": threads, "episodes": episodes,
            "natgrad_python": natgrad_python, "log_dir": log_dir}
    env = dict(os.environ)
    env.update({"PYTHONPATH": peers, "OMP_NUM_THREADS": str(threads),
                "OPENBLAS_NUM_THREADS": str(threads),
                "MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "17179869184"})
    if os.path.isdir(PEER_BLAS):
        env["LD_LIBRARY_PATH"] = PEER_BLAS
    out = os.path.join(work, f"sb3-{tag}.log")
    l0 = load()
    wall, rss, rc = run_measured(["/usr/bin/python3", os.path.abspath(__file__), "--child",
                                  json.dumps(spec)], env, out)
    l1 = load()
    with open(out) as f:
        lines = f.read().splitlines()
    if rc or not lines:
        sys.exit(f"SB3-contrib run failed ({rc}): see {out}")
    r = json.loads(lines[-1])
    return {"wall_s": wall, "train_s": r["learn_s"], "peak_mib": rss,
            "mean_return": r["mean_return"], "load": (l0, l1), "env_source": r["env_source"]}


def peer_available(peers):
    probe = subprocess.run(["/usr/bin/python3", "-c", "import torch, sb3_contrib"],
                           env=dict(os.environ, PYTHONPATH=peers), capture_output=True)
    return os.path.isdir(os.path.join(peers, "sb3_contrib")) and probe.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", default="CartPole-v1,Pendulum-v1")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--threads", default="1,2", help="thread counts, each for both sides")
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--precisions", default="f64",
                    help="natgrad's vf_precision values, each run against the same SB3 run")
    ap.add_argument("--episodes", type=int, default=20, help="deterministic evaluation episodes")
    ap.add_argument("--natgrad", default=os.path.join(ROOT, "build", "release", "natgrad"))
    ap.add_argument("--peers", default=os.environ.get(
        "NG_PEERS_PYTHON", os.path.join(ROOT, "..", "shared", "peers", "python")))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config key for natgrad's run, and through its config.ini SB3's")
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--work", help="keep natgrad's run folders, SB3's logs and training "
                    "curves (sb3-*/progress.csv) here "
                    "(default: a temporary directory, removed at the end)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return sb3_child(json.loads(a.child))
    peers = os.path.abspath(a.peers)
    if not peer_available(peers):
        print(f"SB3-contrib or torch not found (peers: {peers}; needs python3-torch, "
              "python3-pandas, python3-matplotlib, python3-cloudpickle): nothing measured")
        return 0
    if not os.access(a.natgrad, os.X_OK):
        sys.exit(f"{a.natgrad}: no natgrad binary (build it, or pass --natgrad)")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    rows = []
    if a.work:
        os.makedirs(a.work, exist_ok=True)
    with (contextlib.nullcontext(a.work) if a.work
          else tempfile.TemporaryDirectory(prefix="ng-sb3-")) as work:
        for env_id in a.envs.split(","):
            for seed in [int(s) for s in a.seeds.split(",")]:
                for threads in [int(t) for t in a.threads.split(",")]:
                    precs, ngs, sb = a.precisions.split(","), {}, None
                    # the SB3 run after the first natgrad run, the others after it
                    for i, prec in enumerate(precs):
                        run, ngs[prec] = run_natgrad(a.natgrad, env_id, seed, a.steps, threads,
                                                     a.episodes, work, prec, a.set)
                        if i == 0:
                            config = read_config(os.path.join(run, "config.ini"))
                            sb = run_sb3(config, threads, a.episodes, peers, work,
                                         f"{env_id}-s{seed}-t{threads}",
                                         os.path.join(os.path.dirname(
                                             os.path.abspath(a.natgrad)), "python"),
                                         keep_curve=bool(a.work))
                    for prec in precs:
                        ng = ngs[prec]
                        rows.append({"env": env_id, "seed": seed, "threads": threads,
                                     "precision": prec, "natgrad": ng, "sb3": sb})
                        print(f"{env_id} seed {seed} threads {threads} {prec}: natgrad "
                              f"{ng['wall_s']:.1f} s (return {ng['mean_return']:.1f}), "
                              f"SB3-contrib {sb['wall_s']:.1f} s (return {sb['mean_return']:.1f})",
                              flush=True)
    print(f"\nnatgrad {commit} against SB3-contrib 2.4.0 TRPO, {a.steps} steps, the same "
          f"settings, {a.episodes} deterministic evaluation episodes; load = 1-min load average "
          f"before/after each run on {os.cpu_count()} cores\n")
    print("| env | SB3's env | seed | threads | vf | SB3 wall s | natgrad wall s | speed-up | SB3 train s | "
          "natgrad train s | SB3 return | natgrad return | SB3 peak MiB | natgrad peak MiB | "
          "load SB3 | load natgrad |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        s, n = r["sb3"], r["natgrad"]
        print(f"| {r['env']} | {s['env_source']} | {r['seed']} | {r['threads']} | "
              f"{r['precision']} | "
              f"{s['wall_s']:.1f} | "
              f"{n['wall_s']:.2f} | {s['wall_s'] / n['wall_s']:.1f}x | {s['train_s']:.1f} | "
              f"{n['train_s']:.2f} | {s['mean_return']:.1f} | {n['mean_return']:.1f} | "
              f"{s['peak_mib']:.0f} | {n['peak_mib']:.0f} | {s['load'][0]:.1f}/{s['load'][1]:.1f} | "
              f"{n['load'][0]:.1f}/{n['load'][1]:.1f} |")
    print("\nmedians of the wall-time speed-up (SB3 wall / natgrad wall):")
    for env_id in a.envs.split(","):
        for threads in [int(t) for t in a.threads.split(",")]:
            for prec in a.precisions.split(","):
                x = [r["sb3"]["wall_s"] / r["natgrad"]["wall_s"] for r in rows
                     if r["env"] == env_id and r["threads"] == threads and r["precision"] == prec]
                print(f"  {env_id}, {threads} thread(s), vf {prec}: {statistics.median(x):.1f}x "
                      f"over {len(x)} seed(s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"commit": commit, "steps": a.steps, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
