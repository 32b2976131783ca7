"""export_c: a model's policy as a C header whose actions equal predict()'s bit for bit
(f64), compiled here with the build's C compiler; its refusals."""
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest

import natgrad

CC = os.environ.get("NG_CC") or shutil.which("cc")

DRIVER = r"""
#include <stdio.h>
#include "policy.h"
/* reads observations as hex doubles, one per line; writes each action's bits as hex */
int main(void) {
  double obs[POLICY_OBS_DIM], act[POLICY_ACT_DIM];
  for (;;) {
    for (int i = 0; i < POLICY_OBS_DIM; i++)
      if (scanf("%la", &obs[i]) != 1) return 0;
    if (policy_act(obs, act) != 0) return 1;
    for (int i = 0; i < POLICY_ACT_DIM; i++) printf("%a\n", act[i]);
  }
}
"""


def _trained(env_id, steps):
    model = natgrad.TRPO(env_id, seed=3, threads=1)
    model.learn(steps)
    return model


def _observations(model, env_id, n):
    """n observations from a rollout of the library's environment under the model's
    stochastic policy (the observations a deployed policy meets)."""
    env = natgrad.make(env_id)
    obs, _ = env.reset(seed=11)
    out = []
    while len(out) < n:
        out.append(np.asarray(obs, dtype=np.float64))
        action, _ = model.predict(obs, deterministic=False)
        obs, _, term, trunc, _ = env.step(action)
        if term or trunc:
            obs, _ = env.reset()
    return np.array(out)


@pytest.mark.skipif(CC is None, reason="no C compiler (NG_CC or cc)")
@pytest.mark.parametrize("env_id,steps", [("CartPole-v1", 2048), ("Pendulum-v1", 4096)])
def test_export_c_equals_predict_bit_for_bit(tmp_path, env_id, steps):
    model = _trained(env_id, steps)
    header = tmp_path / "policy.h"
    sizes = model.export_c(header)
    assert sizes["n_params"] > 0 and sizes["flops"] > 0 and sizes["bytes"] > 0
    (tmp_path / "main.c").write_text(DRIVER)
    exe = tmp_path / "policy"
    subprocess.run([CC, "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror",
                    "-o", str(exe), str(tmp_path / "main.c")], check=True, cwd=tmp_path)
    obs = _observations(model, env_id, 500)
    text = "\n".join(float(x).hex() for x in obs.ravel()) + "\n"
    run = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True)
    got = np.array([float.fromhex(line) for line in run.stdout.split()]).reshape(len(obs), -1)
    # the library's own doubles (ng_rl_predict): predict() hands a Box action over in the
    # space's dtype, float32 for Pendulum-v1
    want = np.asarray(model._t.predict(obs, True, 0), dtype=np.float64).reshape(len(obs), -1)
    # bit for bit: compare the doubles' bytes, not their values
    assert [struct.pack("<d", v) for v in got.ravel()] == \
        [struct.pack("<d", v) for v in want.ravel()]


def test_export_c_refusals(tmp_path):
    model = _trained("CartPole-v1", 1024)
    header = tmp_path / "p.h"
    model.export_c(header, precision="f32", prefix="cartpole")
    text = header.read_text()
    assert "cartpole_act" in text and "float" in text
    with pytest.raises(natgrad.ExistsError):
        model.export_c(header)
    assert header.read_text() == text  # kept
    model.export_c(header, force=True)
    assert header.read_text() != text
    with pytest.raises(ValueError, match="precision"):
        model.export_c(tmp_path / "q.h", precision="f16")
    with pytest.raises(ValueError):
        model.export_c(tmp_path / "r.h", prefix="not an identifier")
    with pytest.raises(natgrad.Error):
        model.export_c(tmp_path / "no" / "such" / "dir" / "s.h")
