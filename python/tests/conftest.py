"""pytest setup shared by natgrad's Python tests.

Gymnasium 1.0.0 is not a Debian package: its pure-Python source is in ../shared/peers/python
relative to the repository (or to the folder holding a worktree of it, or where
NG_PEERS_PYTHON says). It is put on sys.path here, before
natgrad is imported, so that natgrad integrates with it; tests that need it use the
`gymnasium` fixture (or `needs_gymnasium`), which skips them with a message when it is absent.
Everything else must pass without it.
"""
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _peers_dir():
    env = os.environ.get("NG_PEERS_PYTHON")
    if env:
        return env
    # ../shared beside the repository, or beside the folder of its worktrees.
    for up in (1, 2):
        d = os.path.join(REPO, *[".."] * up, "shared", "peers", "python")
        if os.path.isdir(os.path.join(d, "gymnasium")):
            return os.path.normpath(d)
    return os.path.normpath(os.path.join(REPO, "..", "shared", "peers", "python"))


PEERS = _peers_dir()
if os.environ.get("NG_NO_GYMNASIUM") != "1" and os.path.isdir(os.path.join(PEERS, "gymnasium")):
    sys.path.insert(0, PEERS)

try:
    import gymnasium as _gymnasium
except ImportError:
    _gymnasium = None

GYM_MISSING = (f"Gymnasium 1.0.0 not found in {PEERS} (set NG_PEERS_PYTHON to its folder)"
               if _gymnasium is None else "")
needs_gymnasium = pytest.mark.skipif(_gymnasium is None, reason=GYM_MISSING)


@pytest.fixture
def gymnasium():
    if _gymnasium is None:
        pytest.skip(GYM_MISSING)
    return _gymnasium


def plugin_path(name):
    """Path of a test plugin built by CMake (tests/plugins), or skip."""
    d = os.environ.get("NG_TEST_PLUGIN_DIR")
    p = os.path.join(d, f"libng_plugin_{name}.so") if d else ""
    if not p or not os.path.exists(p):
        pytest.skip(f"test plugin {name} not built (NG_TEST_PLUGIN_DIR={d})")
    return p
