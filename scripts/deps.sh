#!/usr/bin/env bash
# Installs the Debian packages natgrad needs to build and test, if any are missing.
# Usage: scripts/deps.sh [extra-package ...]
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -euo pipefail

packages=(
  cmake make gcc clang      # build: CMake + a C11 compiler; clang for the warning check
  libopenblas-dev           # CBLAS/LAPACK for dense products and Cholesky
  zlib1g-dev                # crc32 for checkpoint checksums
  libmujoco-dev             # MuJoCo physics for the locomotion environments
  pkg-config                # the install test builds against natgrad.pc as a user would
  python3-dev python3-numpy python3-pytest   # the Python package natgrad and its tests
  python3-venv python3-setuptools python3-wheel python3-pip  # its install (README: Python)
  python3-cloudpickle python3-typing-extensions  # Gymnasium 1.0.0 (../shared/peers) imports them
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "natgrad: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "natgrad: not root; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "natgrad: installed ${missing[*]}"
