#!/bin/sh
# CTest python_install: the README's install command into a fresh venv, then the pytest
# files against the package it installed (run from /, so nothing of the source tree is
# imported). Usage: install_test.sh REPO VENV PLUGIN_DIR
set -eu
repo=$1 venv=$2 plugins=$3
rm -rf "$venv"
"$repo/scripts/install_python.sh" "$venv"
cd /
OPENBLAS_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 NG_TEST_PLUGIN_DIR=$plugins \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "$repo/python/tests"
