/* Checks an exported policy (natgrad export) against the library it came from:
 *
 *   export_check CHECKPOINT SHIM64.so SHIM32.so [PLUGIN.so | -]
 *
 * SHIMnn.so is tests/export/shim.c compiled over the f64 / f32 header. Checked, each a
 * failure if it does not hold:
 *   - the header's tanh equals the library's (ng_act_apply) bit for bit on 200,000 values;
 *   - f64: on 10,000 observations of real episodes (10 deterministic ones as natgrad eval
 *     runs them, then episodes sampled from the policy) the header's action equals
 *     ng_rl_predict's bit for bit, and the 10 episodes driven by the header alone return
 *     exactly ng_rl_evaluate's returns;
 *   - f32: the mean return of 20 episodes driven by the float header is within 1 % of
 *     ng_rl_evaluate's; the largest action difference from f64 is reported.
 * Prints "mean return M ± S" of the header's 10 episodes as natgrad eval prints it. */
#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/env.h"
#include "natgrad/mlp.h"
#include "natgrad/rl.h"

#define N_OBS 10000
#define N_EVAL 10
#define N_EVAL32 20
#define EVAL_SEED 1000 /* natgrad eval's default */
#define MAX_DIM 64

typedef int (*act64_fn)(const double *, double *);
typedef int (*act32_fn)(const float *, float *);

static int fail(const char *what) {
  fprintf(stderr, "export_check: %s\n", what);
  return 1;
}

static void *sym(void *lib, const char *name) {
  void *p = lib ? dlsym(lib, name) : NULL;
  if (!p) fprintf(stderr, "export_check: %s\n", dlerror());
  return p;
}

static int same_bits(size_t n, const double *a, const double *b) {
  return memcmp(a, b, n * sizeof *a) == 0;
}

/* The header's tanh against the library's on +-0, a sweep of [-25, 25] and random values
 * of every magnitude. */
static int check_tanh(double (*tanh64)(double)) {
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  size_t bad = 0;
  for (int i = 0; i < 200000; i++) {
    double x;
    if (i < 100000) {
      x = -25.0 + 50.0 * i / 100000.0;
    } else {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      memcpy(&x, &s, sizeof x);
      if (!isfinite(x) || fabs(x) > 1e300) x = (double)(int64_t)s * 1e-18;
    }
    if (i == 0) x = -0.0;
    if (i == 1) x = 0.0;
    double want, got = tanh64(x);
    ng_act_apply(NG_ACT_TANH, 1, &x, &want);
    if (memcmp(&want, &got, sizeof got) && bad++ < 5)
      fprintf(stderr, "tanh(%.17g): library %.17g, header %.17g\n", x, want, got);
  }
  printf("tanh: 200000 values, %zu differ\n", bad);
  return bad ? fail("the header's tanh is not the library's") : 0;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5)
    return fail("usage: export_check CHECKPOINT SHIM64.so SHIM32.so [PLUGIN.so | -]");
  ng_error_t err;
  ng_rl_t *t;
  ng_plugin_info_t pinfo;
  if (argc == 5 && strcmp(argv[4], "-") && ng_plugin_load(argv[4], &pinfo, &err))
    return fail(err.message);
  if (ng_rl_load(&t, argv[1], &err)) return fail(err.message);
  void *l64 = dlopen(argv[2], RTLD_NOW), *l32 = dlopen(argv[3], RTLD_NOW);
  if (!l64 || !l32) return fail(dlerror());
  act64_fn act64 = (act64_fn)sym(l64, "shim_act");
  act32_fn act32 = (act32_fn)sym(l32, "shim_act");
  double (*tanh64)(double) = (double (*)(double))sym(l64, "shim_tanh");
  if (!act64 || !act32 || !tanh64 || check_tanh(tanh64)) return 1;

  const ng_rl_config_t *cfg = ng_rl_config(t);
  ng_env_t *env;
  if (ng_env_create(&env, cfg->env_id, &err)) return fail(err.message);
  const ng_env_info_t *info = ng_env_info(env);
  const size_t od = ng_space_size(&info->observation_space);
  const size_t ad = ng_space_size(&info->action_space);
  const long cap = info->max_episode_steps > 0 ? info->max_episode_steps : 1000000;
  if (od > MAX_DIM || ad > MAX_DIM) return fail("space too large for this test");

  /* observations outside the space: refused by both, act left alone */
  {
    double bad[4][MAX_DIM] = {{0}}, a[MAX_DIM], keep[MAX_DIM];
    bad[0][0] = NAN;
    bad[1][od - 1] = -INFINITY;
    bad[2][0] = info->observation_space.kind == NG_SPACE_DISCRETE
                    ? (double)info->observation_space.dim : NAN;
    bad[3][0] = info->observation_space.kind == NG_SPACE_DISCRETE ? 0.5 : INFINITY;
    for (int i = 0; i < 4; i++) {
      for (size_t j = 0; j < ad; j++) a[j] = keep[j] = 42.0 + (double)j;
      if (ng_rl_predict(t, 1, bad[i], 1, NULL, a, &err) == NG_OK)
        return fail("ng_rl_predict took an observation outside the space");
      if (act64(bad[i], a) != -1 || memcmp(a, keep, ad * sizeof *a))
        return fail("the header took an observation outside the space, or wrote act");
    }
    printf("4 observations outside the space: refused by both\n");
  }

  double ret_lib[N_EVAL32], ret_hdr[N_EVAL], ret32[N_EVAL32];
  if (ng_rl_evaluate(t, N_EVAL32, EVAL_SEED, 1, ret_lib, &err)) return fail(err.message);

  /* f64: the eval episodes, then sampled ones, until N_OBS observations are compared */
  ng_rng_t rng;
  ng_rng_seed(&rng, 7, 0);
  ng_env_seed(env, EVAL_SEED, 0);
  long n = 0, mism = 0, steps_total = 0;
  double max_diff32 = 0.0;
  long flips32 = 0;
  for (int ep = 0; n < N_OBS || ep < N_EVAL; ep++) {
    const int eval_ep = ep < N_EVAL;
    double obs[MAX_DIM], a_lib[MAX_DIM], a_hdr[MAX_DIM], a_drive[MAX_DIM], ret = 0.0;
    float o32[MAX_DIM], a32[MAX_DIM];
    if (ng_env_reset(env, obs)) return fail("reset failed");
    for (long k = 0; k < cap; k++) {
      if (ng_rl_predict(t, 1, obs, 1, NULL, a_lib, &err)) return fail(err.message);
      if (act64(obs, a_hdr) != 0) return fail("the header refused a real observation");
      for (size_t j = 0; j < od; j++) o32[j] = (float)obs[j];
      if (act32(o32, a32) != 0) return fail("the f32 header refused a real observation");
      if (n < N_OBS) {
        n++;
        if (!same_bits(ad, a_lib, a_hdr) && mism++ < 5) {
          fprintf(stderr, "observation %ld:", n);
          for (size_t j = 0; j < ad; j++)
            fprintf(stderr, " library %.17g header %.17g", a_lib[j], a_hdr[j]);
          fputc('\n', stderr);
        }
        for (size_t j = 0; j < ad; j++) {
          double d = fabs((double)a32[j] - a_hdr[j]);
          if (d > max_diff32) max_diff32 = d;
          flips32 += info->action_space.kind != NG_SPACE_BOX && d != 0.0;
        }
      }
      /* eval episodes are driven by the header alone; the rest by samples of the policy */
      if (eval_ep) memcpy(a_drive, a_hdr, ad * sizeof *a_drive);
      else if (ng_rl_predict(t, 1, obs, 0, &rng, a_drive, &err)) return fail(err.message);
      double r;
      int term = 0, trunc = 0;
      if (ng_env_step(env, a_drive, obs, &r, &term, &trunc)) return fail("step failed");
      ret += r;
      steps_total++;
      if (term || trunc) break;
    }
    if (eval_ep) ret_hdr[ep] = ret;
  }
  printf("f64: %ld observations from %ld steps, %ld actions differ from ng_rl_predict\n", n,
         steps_total, mism);
  int bad_ret = 0;
  for (int ep = 0; ep < N_EVAL; ep++)
    if (memcmp(&ret_lib[ep], &ret_hdr[ep], sizeof(double))) {
      fprintf(stderr, "episode %d: ng_rl_evaluate %.17g, header %.17g\n", ep, ret_lib[ep],
              ret_hdr[ep]);
      bad_ret = 1;
    }
  double mean = 0.0, var = 0.0;
  for (int ep = 0; ep < N_EVAL; ep++) mean += ret_hdr[ep];
  mean /= N_EVAL;
  for (int ep = 0; ep < N_EVAL; ep++) var += (ret_hdr[ep] - mean) * (ret_hdr[ep] - mean);
  printf("header f64: mean return %.2f ± %.2f over %d episodes (seed %d)\n", mean,
         sqrt(var / N_EVAL), N_EVAL, EVAL_SEED);

  /* f32: N_EVAL32 episodes driven by the float header from the same seed */
  ng_env_seed(env, EVAL_SEED, 0);
  double m32 = 0.0, m64 = 0.0;
  for (int ep = 0; ep < N_EVAL32; ep++) {
    double obs[MAX_DIM], a[MAX_DIM], ret = 0.0;
    float o32[MAX_DIM], a32[MAX_DIM];
    if (ng_env_reset(env, obs)) return fail("reset failed");
    for (long k = 0; k < cap; k++) {
      for (size_t j = 0; j < od; j++) o32[j] = (float)obs[j];
      if (act32(o32, a32) != 0) return fail("the f32 header refused a real observation");
      for (size_t j = 0; j < ad; j++) a[j] = a32[j];
      double r;
      int term = 0, trunc = 0;
      if (ng_env_step(env, a, obs, &r, &term, &trunc)) return fail("step failed");
      ret += r;
      if (term || trunc) break;
    }
    ret32[ep] = ret;
    m32 += ret / N_EVAL32;
    m64 += ret_lib[ep] / N_EVAL32;
  }
  const double rel = fabs(m32 - m64) / fabs(m64);
  printf("f32: largest action difference from f64 %.3g (%ld discrete actions differ); mean "
         "return over %d episodes %.4f, f64 %.4f (%.3f %%)\n",
         max_diff32, flips32, N_EVAL32, m32, m64, 100.0 * rel);
  (void)ret32;
  ng_env_destroy(env);
  ng_rl_destroy(t);
  dlclose(l64);
  dlclose(l32);
  if (mism) return fail("f64 actions differ from ng_rl_predict");
  if (bad_ret) return fail("the header's episode returns differ from ng_rl_evaluate's");
  if (!(rel <= 0.01)) return fail("f32 mean return is not within 1 % of f64's");
  return 0;
}
