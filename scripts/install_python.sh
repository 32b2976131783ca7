#!/usr/bin/env bash
# Installs the natgrad Python package offline into a virtual environment that sees Debian's
# packages (NumPy; Gymnasium where installed), compiling the extension from this
# repository's sources (python/setup.py). Usage: scripts/install_python.sh [VENV]
# (default .venv). Then: VENV/bin/python -c 'import natgrad'.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
scripts/deps.sh
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --no-build-isolation --no-index ./python
# python/build is pip's scratch space for the in-tree build: not needed afterwards.
rm -rf python/build python/natgrad.egg-info
cd /  # import the installed package, not the source folder
"$venv/bin/python" -c 'import natgrad, sys
print(f"natgrad {natgrad.__version__} installed in {sys.prefix} "
      f"({len(natgrad.env_ids())} environments)")'
