#!/usr/bin/env bash
# The main job: installs missing packages, builds natgrad, trains a CartPole-v1 policy with
# TRPO (100k environment steps, rl-baselines3-zoo's tuned settings) and shows the result.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
echo "natgrad: building (Release)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)" --target natgrad_cli >/dev/null
# One thread per core (train's default); the result is the same for any thread count.
build/release/natgrad train --env CartPole-v1 --seed 0 --out runs/quickstart --force
