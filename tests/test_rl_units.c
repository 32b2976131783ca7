/* rl building blocks against hand computations and direct definitions: GAE with a
 * truncation and a termination, two Adam steps, the running normaliser (batch moments,
 * merge order, the reducer), and the config parser / formatter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ng_test.h"
#include "rl/rl_impl.h"

#define TOL_EXACT 1e-12 /* hand arithmetic on a few doubles */
#define TOL_MOMENTS 1e-11

/* Two envs, five steps, time-major rows t*2 + e. env 0: termination at t=1, truncation at
 * t=3 (final value 10), runs on at the end (last value 7); env 1: never done, r = 1, V = 0. */
static void test_gae_hand(void) {
  const double gamma = 0.9, lambda = 0.8;
  double r[10], v[10], fv[10], adv[10], ret[10];
  unsigned char term[10] = {0}, trunc[10] = {0};
  const double r0[5] = {1, 2, 3, 4, 5}, v0[5] = {0.5, 1.0, 1.5, 2.0, 2.5};
  for (int t = 0; t < 5; t++) {
    r[2 * t] = r0[t];
    v[2 * t] = v0[t];
    r[2 * t + 1] = 1.0;
    v[2 * t + 1] = 0.0;
    fv[2 * t] = fv[2 * t + 1] = 1e6; /* must only be read at the truncation */
  }
  term[2 * 1] = 1;
  trunc[2 * 3] = 1;
  fv[2 * 3] = 10.0;
  const double last[2] = {7.0, 0.0};
  NG_CHECK_OK(ng__gae(5, 2, gamma, lambda, r, v, term, trunc, fv, last, adv, ret));
  /* env 0 by hand (gamma * lambda = 0.72):
   *   t=4: 5 + 0.9*7 - 2.5 = 8.8                  (bootstrap on the last value)
   *   t=3: 4 + 0.9*10 - 2 = 11                    (truncation: final value, recursion cut)
   *   t=2: 3 + 0.9*2 - 1.5 + 0.72*11 = 11.22
   *   t=1: 2 - 1 = 1                              (termination: no bootstrap, cut)
   *   t=0: 1 + 0.9*1 - 0.5 + 0.72*1 = 2.12 */
  const double want0[5] = {2.12, 1.0, 11.22, 11.0, 8.8};
  /* env 1: delta = 1 everywhere, A_t = 1 + 0.72 A_{t+1} */
  const double want1[5] = {2.88038656, 2.611648, 2.2384, 1.72, 1.0};
  for (int t = 0; t < 5; t++) {
    NG_CHECK_CLOSE(adv[2 * t], want0[t], TOL_EXACT, TOL_EXACT);
    NG_CHECK_CLOSE(ret[2 * t], want0[t] + v0[t], TOL_EXACT, TOL_EXACT);
    NG_CHECK_CLOSE(adv[2 * t + 1], want1[t], TOL_EXACT, TOL_EXACT);
  }
  /* a row both terminated and truncated is a termination: no bootstrap */
  trunc[2 * 1] = 1;
  fv[2 * 1] = 1e6;
  NG_CHECK_OK(ng__gae(5, 2, gamma, lambda, r, v, term, trunc, fv, last, adv, ret));
  NG_CHECK_CLOSE(adv[2], 1.0, TOL_EXACT, TOL_EXACT);
  /* lambda = 1, gamma = 1, no ends: advantages are returns-to-go minus values */
  double r2[3] = {1, 2, 3}, v2[3] = {0.25, 0.5, 0.75}, a2[3], g2[3], lv = 4.0;
  unsigned char z[3] = {0, 0, 0};
  NG_CHECK_OK(ng__gae(3, 1, 1.0, 1.0, r2, v2, z, z, NULL, &lv, a2, g2));
  NG_CHECK_CLOSE(g2[0], 1 + 2 + 3 + 4.0, TOL_EXACT, TOL_EXACT);
  NG_CHECK_CLOSE(a2[2], 3 + 4.0 - 0.75, TOL_EXACT, TOL_EXACT);
  /* bad input */
  NG_CHECK_STATUS(ng__gae(0, 1, 0.9, 0.9, r2, v2, z, z, NULL, &lv, a2, g2), NG_EINVAL);
  r2[1] = NAN;
  NG_CHECK_STATUS(ng__gae(3, 1, 0.9, 0.9, r2, v2, z, z, NULL, &lv, a2, g2), NG_ENONFINITE);
}

static void test_adam_hand(void) {
  ng__adam_t a;
  NG_CHECK_OK(ng__adam_init(&a, 2, 0.1));
  double th[2] = {1.0, -2.0};
  const double g1[2] = {0.5, -1.0}, g2[2] = {0.1, 0.2};
  ng__adam_step(&a, th, g1);
  /* step 1: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2: theta -= 0.1 g / (|g| + 1e-5) */
  NG_CHECK_CLOSE(th[0], 1.0 - 0.1 * 0.5 / (0.5 + 1e-5), TOL_EXACT, TOL_EXACT);
  NG_CHECK_CLOSE(th[1], -2.0 + 0.1 * 1.0 / (1.0 + 1e-5), TOL_EXACT, TOL_EXACT);
  double th1[2] = {th[0], th[1]};
  ng__adam_step(&a, th, g2);
  /* step 2: m = 0.9 m + 0.1 g2 = (0.055, -0.07); v = 0.999 v + 0.001 g2^2
   *        = (0.00025975, 0.001039); bias corrections 0.19 and 0.001999 */
  NG_CHECK_CLOSE(a.m[0], 0.055, TOL_EXACT, TOL_EXACT);
  NG_CHECK_CLOSE(a.m[1], -0.07, TOL_EXACT, TOL_EXACT);
  NG_CHECK_CLOSE(a.v[0], 0.00025975, TOL_EXACT, TOL_EXACT);
  NG_CHECK_CLOSE(a.v[1], 0.001039, TOL_EXACT, TOL_EXACT);
  double want0 = th1[0] - 0.1 * (0.055 / 0.19) / (sqrt(0.00025975 / 0.001999) + 1e-5);
  double want1 = th1[1] - 0.1 * (-0.07 / 0.19) / (sqrt(0.001039 / 0.001999) + 1e-5);
  NG_CHECK_CLOSE(th[0], want0, TOL_EXACT, TOL_EXACT);
  NG_CHECK_CLOSE(th[1], want1, TOL_EXACT, TOL_EXACT);
  NG_CHECK(a.t == 2);
  ng__adam_free(&a);
}

/* mean and population variance of rows x dim, two passes */
static void direct_moments(size_t rows, size_t dim, const double *x, double *mean, double *var) {
  for (size_t j = 0; j < dim; j++) {
    double s = 0.0, q = 0.0;
    for (size_t b = 0; b < rows; b++) s += x[b * dim + j];
    mean[j] = s / (double)rows;
    for (size_t b = 0; b < rows; b++) q += (x[b * dim + j] - mean[j]) * (x[b * dim + j] - mean[j]);
    var[j] = q / (double)rows;
  }
}

static int reducer_times2(void *ctx, double *buf, size_t n) {
  (void)ctx;
  for (size_t i = 0; i < n; i++) buf[i] *= 2.0;
  return NG_OK;
}

static void test_normalizer(void) {
  enum { D = 3, NA = 37, NB = 11 };
  double x[(NA + NB) * D];
  ng_rng_t rng;
  ng_rng_seed(&rng, 7, 0);
  for (int i = 0; i < (NA + NB) * D; i++)
    x[i] = 5.0 + 3.0 * ng_rng_normal(&rng) + (i % D) * 100.0; /* offset means per column */
  double work[1 + 2 * D];
  ng__rms_t ab, ba, all;
  NG_CHECK_OK(ng__rms_init(&ab, D));
  NG_CHECK_OK(ng__rms_init(&ba, D));
  NG_CHECK_OK(ng__rms_init(&all, D));
  NG_CHECK_OK(ng__rms_update(&all, NA + NB, x, NULL, work));
  /* against the definition: the prior (count 1e-4, mean 0, var 1) pooled with the batch */
  double bm[D], bv[D];
  direct_moments(NA + NB, D, x, bm, bv);
  double n0 = 1e-4, n = NA + NB, tot = n0 + n;
  for (int j = 0; j < D; j++) {
    double mean = n * bm[j] / tot;
    double var = (n0 * 1.0 + n * bv[j] + bm[j] * bm[j] * n0 * n / tot) / tot;
    NG_CHECK_CLOSE(all.mean[j], mean, TOL_MOMENTS, 0);
    NG_CHECK_CLOSE(all.var[j], var, TOL_MOMENTS, 0);
  }
  NG_CHECK_CLOSE(all.count, tot, TOL_EXACT, 0);
  /* merge order: A then B, B then A, and all at once agree */
  NG_CHECK_OK(ng__rms_update(&ab, NA, x, NULL, work));
  NG_CHECK_OK(ng__rms_update(&ab, NB, x + NA * D, NULL, work));
  NG_CHECK_OK(ng__rms_update(&ba, NB, x + NA * D, NULL, work));
  NG_CHECK_OK(ng__rms_update(&ba, NA, x, NULL, work));
  NG_CHECK_VEC_CLOSE(D, ab.mean, all.mean, TOL_MOMENTS);
  NG_CHECK_VEC_CLOSE(D, ba.mean, all.mean, TOL_MOMENTS);
  NG_CHECK_VEC_CLOSE(D, ab.var, all.var, TOL_MOMENTS);
  NG_CHECK_VEC_CLOSE(D, ba.var, all.var, TOL_MOMENTS);
  /* the reducer is the batch statistics' reduction point: two identical shards of A equal
   * one update with A twice */
  ng__rms_t two, dup;
  NG_CHECK_OK(ng__rms_init(&two, D));
  NG_CHECK_OK(ng__rms_init(&dup, D));
  ng_reducer_t red = {reducer_times2, NULL};
  NG_CHECK_OK(ng__rms_update(&two, NA, x, &red, work));
  double xx[2 * NA * D];
  memcpy(xx, x, sizeof(double) * NA * D);
  memcpy(xx + NA * D, x, sizeof(double) * NA * D);
  NG_CHECK_OK(ng__rms_update(&dup, 2 * NA, xx, NULL, work));
  NG_CHECK_VEC_CLOSE(D, two.mean, dup.mean, TOL_MOMENTS);
  NG_CHECK_VEC_CLOSE(D, two.var, dup.var, TOL_MOMENTS);
  /* normalise and clip */
  double in[D] = {all.mean[0], all.mean[1] + 1e6, all.mean[2] - 2.0 * sqrt(all.var[2] + 1e-8)};
  double out[D];
  ng__rms_normalize(&all, 1, in, 10.0, out);
  NG_CHECK_CLOSE(out[0], 0.0, 0, TOL_EXACT);
  NG_CHECK_CLOSE(out[1], 10.0, 0, TOL_EXACT);
  NG_CHECK_CLOSE(out[2], -2.0, TOL_EXACT, TOL_EXACT);
  /* a NaN observation is refused, the statistics untouched */
  double before = all.mean[0];
  double bad[D] = {NAN, 0, 0};
  NG_CHECK_STATUS(ng__rms_update(&all, 1, bad, NULL, work), NG_ENONFINITE);
  NG_CHECK(all.mean[0] == before);
  ng__rms_free(&ab);
  ng__rms_free(&ba);
  ng__rms_free(&all);
  ng__rms_free(&two);
  ng__rms_free(&dup);
}

static void test_config(void) {
  ng_rl_config_t c, d;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_config_default(&c, "CartPole-v1", &err));
  /* rl-baselines3-zoo's CartPole-v1 entry over SB3-contrib's defaults */
  NG_CHECK(c.n_envs == 2 && c.n_steps == 512 && c.vf_minibatch == 512 && c.vf_epochs == 20);
  NG_CHECK(c.cg_damping == 1e-3 && c.gae_lambda == 0.98 && c.gamma == 0.99);
  NG_CHECK(c.total_steps == 100000 && c.max_kl == 0.01 && c.cg_iters == 15);
  NG_CHECK(c.n_policy_hidden == 2 && c.policy_hidden[0] == 64 && c.policy_act == NG_ACT_TANH);
  NG_CHECK_OK(ng_rl_config_default(&c, "Acrobot-v1", &err));
  NG_CHECK(c.normalize_obs == 1 && c.normalize_reward == 1 && c.n_steps == 1024);
  NG_CHECK_STATUS(ng_rl_config_default(&c, "NoSuchEnv-v0", &err), NG_ENOTFOUND);

  /* round trip: set unusual values, format, parse into another struct, format again */
  NG_CHECK_OK(ng_rl_config_default(&c, "Pendulum-v1", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "algo", "npg", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "seed", "18446744073709551615", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "max_kl", "0.1234567890123456789", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "policy_hidden", " 32, 16 ,8", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "value_act", "relu", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "normalize_obs", "true", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "gamma", "0.3", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "steps", "12345", &err));
  NG_CHECK_OK(ng_rl_config_set(&c, "total_steps", "12346", &err)); /* alias */
  char buf1[4096], buf2[4096];
  size_t len = ng_rl_config_format(&c, buf1, sizeof buf1);
  NG_CHECK(len > 0 && len < sizeof buf1 && len == strlen(buf1));
  NG_CHECK(ng_rl_config_format(&c, NULL, 0) == len);
  NG_CHECK(strstr(buf1, "max_kl = 0.1234567890123456") != NULL);
  NG_CHECK(strstr(buf1, "policy_hidden = 32,16,8\n") != NULL);
  NG_CHECK_OK(ng_rl_config_default(&d, "CartPole-v1", &err));
  NG_CHECK_OK(ng__rl_config_parse(&d, buf1, strlen(buf1), &err));
  ng_rl_config_format(&d, buf2, sizeof buf2);
  NG_CHECK(strcmp(buf1, buf2) == 0);
  NG_CHECK(d.max_kl == c.max_kl && d.gamma == c.gamma && d.seed == UINT64_MAX);
  NG_CHECK(d.algo == NG_ALGO_NPG && d.total_steps == 12346 && d.n_policy_hidden == 3);
  NG_CHECK(strcmp(d.env_id, "Pendulum-v1") == 0 && d.value_act == NG_ACT_RELU);
  NG_CHECK_OK(ng_rl_config_validate(&d, &err));
  /* every key is listed and accepted back */
  size_t nkeys = 0;
  const char *doc;
  ng_rl_config_t ac = d; /* ACKTR's keys are written for ACKTR runs only */
  ac.algo = NG_ALGO_ACKTR;
  ac.slices = 8; /* and slices and blocks only when not their defaults */
  ac.blocks = 2;
  char buf3[4096];
  NG_CHECK(ng_rl_config_format(&ac, buf3, sizeof buf3) < sizeof buf3);
  NG_CHECK(strstr(buf1, "acktr_lr") == NULL && strstr(buf3, "\nacktr_lr = 0.25\n") != NULL);
  NG_CHECK(strstr(buf1, "slices") == NULL && strstr(buf3, "\nslices = 8\n") != NULL);
  NG_CHECK(strstr(buf1, "blocks") == NULL && strstr(buf3, "\nslices = 8\nblocks = 2\n") != NULL);
  for (const char *k; (k = ng_rl_config_key(nkeys, &doc)) != NULL; nkeys++)
    NG_CHECK((strstr(buf3, k) != NULL || !strncmp(k, "plugin", 6) ||
              !strcmp(k, "vf_precision")) && doc && doc[0]); /* f32 only: test_mlp_f32 */
  NG_CHECK(nkeys >= 30);
  /* the plugin keys: left out while empty (a built-in env's text is as before plugins),
   * written and read back once set, and only together */
  NG_CHECK(strstr(buf1, "plugin") == NULL);
  NG_CHECK_OK(ng_rl_config_set(&d, "plugin", "/opt/envs/libmy.so", &err));
  NG_CHECK_STATUS(ng_rl_config_validate(&d, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "plugin_hash") != NULL);
  NG_CHECK_STATUS(ng_rl_config_set(&d, "plugin_hash", "crc32:1234567", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&d, "plugin_hash", "crc32:1234567G", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&d, "plugin_hash", "sha1:12345678", &err), NG_EINVAL);
  NG_CHECK_OK(ng_rl_config_set(&d, "plugin_hash", "crc32:0123abcd", &err));
  NG_CHECK_OK(ng_rl_config_validate(&d, &err));
  ng_rl_config_format(&d, buf2, sizeof buf2);
  NG_CHECK(strstr(buf2, "plugin = /opt/envs/libmy.so\nplugin_hash = crc32:0123abcd\n") != NULL);
  NG_CHECK(strncmp(buf1, buf2, strlen(buf1)) == 0); /* the same text before them */
  ng_rl_config_t e;
  NG_CHECK_OK(ng_rl_config_default(&e, "CartPole-v1", &err));
  NG_CHECK_OK(ng__rl_config_parse(&e, buf2, strlen(buf2), &err));
  NG_CHECK(!strcmp(e.plugin, d.plugin) && !strcmp(e.plugin_hash, d.plugin_hash));
  NG_CHECK(ng_rl_config_tuned("CartPole-v1") && ng_rl_config_tuned("Ant-v5"));
  NG_CHECK(!ng_rl_config_tuned("MyEnv-v0") && !ng_rl_config_tuned(NULL));

  /* errors name the key and the accepted range */
  NG_CHECK_STATUS(ng_rl_config_set(&c, "no_such_key", "1", &err), NG_ENOTFOUND);
  NG_CHECK(strstr(err.message, "no_such_key") != NULL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "gamma", "1.5", &err), NG_ERANGE);
  NG_CHECK(strstr(err.message, "gamma") && strstr(err.message, "[0, 1]"));
  NG_CHECK_STATUS(ng_rl_config_set(&c, "max_kl", "0", &err), NG_ERANGE);
  NG_CHECK(strstr(err.message, "(0, 10]") != NULL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "gamma", "abc", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "gamma", "nan", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "n_envs", "2.5", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "n_envs", "0", &err), NG_ERANGE);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "seed", "-1", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "algo", "ppo", &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "trpo") && strstr(err.message, "npg") &&
           strstr(err.message, "acktr"));
  NG_CHECK_STATUS(ng_rl_config_set(&c, "normalize_obs", "yes", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "policy_act", "sigmoid", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "policy_hidden", "64,0", &err), NG_ERANGE);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "policy_hidden", "1,2,3,4,5", &err), NG_ERANGE);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "policy_hidden", "64;64", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "env", "Nope-v9", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "ls_shrink", "1", &err), NG_ERANGE);
  NG_CHECK_STATUS(ng_rl_config_set(NULL, "gamma", "1", &err), NG_EINVAL);
  NG_CHECK(c.gamma == 0.3); /* failed sets leave the value */
  /* whole-config checks */
  NG_CHECK_OK(ng_rl_config_default(&c, "CartPole-v1", &err));
  c.vf_minibatch = 2000;
  NG_CHECK_STATUS(ng_rl_config_validate(&c, &err), NG_ERANGE);
  NG_CHECK(strstr(err.message, "vf_minibatch") != NULL);
  NG_CHECK_OK(ng_rl_config_default(&c, "CartPole-v1", &err));
  c.gae_lambda = NAN;
  NG_CHECK_STATUS(ng_rl_config_validate(&c, &err), NG_ERANGE);
  NG_CHECK_OK(ng_rl_config_default(&c, "CartPole-v1", &err));
  c.n_envs = 1;
  c.n_steps = 1;
  c.vf_minibatch = 1;
  NG_CHECK_STATUS(ng_rl_config_validate(&c, &err), NG_ERANGE);
}

/* ---- spaces: the action space -> distribution mapping, one-hot observations ---- */

static void test_action_dist_mapping(void) {
  static const uint32_t nvec[3] = {8, 3, 1};
  const double lo[2] = {-1, -2}, hi[2] = {1, 2};
  const ng_space_t box = {.kind = NG_SPACE_BOX, .dim = 2, .low = lo, .high = hi};
  const ng_space_t di = {.kind = NG_SPACE_DISCRETE, .dim = 5};
  const ng_space_t md = {.kind = NG_SPACE_MULTI_DISCRETE, .dim = 3, .nvec = nvec};
  const ng_space_t mb = {.kind = NG_SPACE_MULTI_BINARY, .dim = 4};
  ng_dist_t d;
  NG_CHECK_OK(ng__rl_action_dist(&box, &d));
  NG_CHECK(d.kind == NG_DIST_GAUSSIAN && d.dim == 2 && ng_dist_n_params(&d) == 4 &&
           ng_dist_action_size(&d) == 2);
  NG_CHECK_OK(ng__rl_action_dist(&di, &d));
  NG_CHECK(d.kind == NG_DIST_CATEGORICAL && d.dim == 5 && ng_dist_n_params(&d) == 5 &&
           ng_dist_action_size(&d) == 1);
  NG_CHECK_OK(ng__rl_action_dist(&md, &d));
  NG_CHECK(d.kind == NG_DIST_MULTI_DISCRETE && d.dim == 3 && d.nvec[0] == 8 && d.nvec[1] == 3 &&
           d.nvec[2] == 1 && ng_dist_n_params(&d) == 12 && ng_dist_action_size(&d) == 3);
  NG_CHECK_OK(ng__rl_action_dist(&mb, &d));
  NG_CHECK(d.kind == NG_DIST_MULTI_BINARY && d.dim == 4 && ng_dist_n_params(&d) == 4 &&
           ng_dist_action_size(&d) == 4);
  /* what the distributions cannot hold is refused, d left alone */
  uint32_t many[NG_DIST_MAX_COMPONENTS + 1];
  for (size_t i = 0; i < NG_DIST_MAX_COMPONENTS + 1; i++) many[i] = 2;
  const ng_space_t too_many = {.kind = NG_SPACE_MULTI_DISCRETE,
                               .dim = NG_DIST_MAX_COMPONENTS + 1, .nvec = many};
  const ng_space_t no_nvec = {.kind = NG_SPACE_MULTI_DISCRETE, .dim = 2};
  const ng_space_t unknown = {.kind = (ng_space_kind_t)9, .dim = 2};
  NG_CHECK_STATUS(ng__rl_action_dist(&too_many, &d), NG_EUNSUPPORTED);
  NG_CHECK_STATUS(ng__rl_action_dist(&no_nvec, &d), NG_EUNSUPPORTED);
  NG_CHECK_STATUS(ng__rl_action_dist(&unknown, &d), NG_EUNSUPPORTED);
  NG_CHECK(d.kind == NG_DIST_MULTI_BINARY && d.dim == 4);
  /* network inputs: a Box's dimensions, a Discrete's n (one-hot) */
  NG_CHECK(ng__rl_obs_inputs(&box) == 2 && ng__rl_obs_inputs(&di) == 5 &&
           ng__rl_obs_inputs(&md) == 0 && ng__rl_obs_inputs(&mb) == 0);
}

/* Ring3-v0: an index on a ring of 3 cells, moved by a MultiDiscrete (direction, hop) action;
 * reward 1 at cell 0. Only here to see what the trainer does with its spaces. */
static int ring3_bad_at; /* a step count at which the observation leaves the space (0: never) */
static int ring3_steps;
typedef struct {
  int cell;
} ring3_t;
static int ring3_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  (void)def;
  *self = calloc(1, sizeof(ring3_t));
  return *self ? NG_OK : ng_error_set(err, NG_ENOMEM, "ring3: out of memory");
}
static void ring3_destroy(void *self) { free(self); }
static int ring3_reset(void *self, ng_rng_t *rng, double *obs) {
  ring3_t *r = self;
  r->cell = (int)ng_rng_uniform_range(rng, 0.0, 3.0) % 3;
  obs[0] = r->cell;
  return NG_OK;
}
static int ring3_step(void *self, ng_rng_t *rng, const double *a, double *obs, double *reward,
                      int *terminated) {
  ring3_t *r = self;
  (void)rng;
  r->cell = (r->cell + (a[0] == 0 ? -1 : 1) * (int)a[1] + 3) % 3;
  obs[0] = ++ring3_steps == ring3_bad_at ? 3.0 : r->cell;
  *reward = r->cell == 0;
  *terminated = 0;
  return NG_OK;
}

static void test_discrete_observation_one_hot(void) {
  static const uint32_t nvec[2] = {2, 2};
  ng_env_def_t def = {
      .info = {.id = "Ring3-v0",
               .summary = "test: a ring of 3 cells",
               .observation_space = {.kind = NG_SPACE_DISCRETE, .dim = 3},
               .action_space = {.kind = NG_SPACE_MULTI_DISCRETE, .dim = 2, .nvec = nvec},
               .max_episode_steps = 10},
      .create = ring3_create,
      .destroy = ring3_destroy,
      .reset = ring3_reset,
      .step = ring3_step,
  };
  ng_error_t err;
  NG_CHECK_OK(ng_env_register(&def, &err));
  ng_rl_config_t c;
  NG_CHECK_OK(ng_rl_config_default(&c, "Ring3-v0", &err));
  c.n_envs = 2;
  c.n_steps = 16;
  c.vf_minibatch = 8;
  c.normalize_obs = 1;
  ng_rl_t *t = NULL;
  NG_CHECK_OK(ng_rl_create(&t, &c, &err));
  if (!t) return;
  /* networks and normaliser see 3 inputs; the env's index arrives one-hot */
  NG_CHECK(t->obs_dim == 3 && t->obs_rms.dim == 3 && t->act_size == 2 && t->n_dist == 4);
  NG_CHECK(ng_model_dist(t->policy).kind == NG_DIST_MULTI_DISCRETE);
  NG_CHECK(t->act_low == NULL && t->act_high == NULL);
  for (size_t e = 0; e < 2; e++) {
    const double *x = t->obs_raw + 3 * e;
    NG_CHECK(x[0] + x[1] + x[2] == 1.0 && (x[0] == 1.0 || x[1] == 1.0 || x[2] == 1.0));
  }
  ng_rl_stats_t st;
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  /* every buffered action a MultiDiscrete element, every observation row the normalised
   * image of a one-hot row: the normaliser's mean is the visit frequency of each cell */
  const ng_space_t *as = &ng_env_find("Ring3-v0")->action_space;
  for (size_t i = 0; i < t->batch; i++) NG_CHECK_OK(ng_space_contains(as, t->b_act + 2 * i, NULL));
  NG_CHECK_CLOSE(t->obs_rms.mean[0] + t->obs_rms.mean[1] + t->obs_rms.mean[2], 1.0, 1e-3, 0);
  double ret;
  NG_CHECK_OK(ng_rl_evaluate(t, 1, 5, 1, &ret, &err));
  NG_CHECK(ret >= 0 && ret <= 10);
  /* an index outside Discrete(3) stops the rollout, naming the environment */
  ring3_bad_at = ring3_steps + 5;
  NG_CHECK_STATUS(ng_rl_iterate(t, &st, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "Ring3-v0 env 0") &&
           strstr(err.message, "an observation outside its Discrete space"));
  ng_rl_destroy(t);
}

/* ng_rl_predict against its definition computed here: the raw observation normalised with
 * the trainer's statistics and clipped, one forward pass, the Gaussian mean, then clipped to
 * the Box; and for a one-hot Discrete observation the encoding first. Bad rows are named. */
static void test_predict(void) {
  ng_error_t err;
  ng_rl_config_t c;
  NG_CHECK_OK(ng_rl_config_default(&c, "Pendulum-v1", &err));
  c.n_envs = 2;
  c.n_steps = 64;
  c.vf_minibatch = 32;
  c.normalize_obs = 1;
  c.obs_clip = 1.5; /* tight, so that clipping is exercised */
  c.clip_actions = 1;
  c.init_log_std = 2.0; /* wide, so that sampled actions leave [-2, 2] */
  ng_rl_t *t = NULL;
  NG_CHECK_OK(ng_rl_create(&t, &c, &err));
  if (!t) return;
  ng_rl_stats_t st;
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  const double obs[3 * 3] = {1.0, 0.0, 0.5, -0.3, 0.95, -7.5, 0.0, -1.0, 8.0};
  double got[3], want[3], x[3];
  NG_CHECK_OK(ng_rl_predict(t, 3, obs, 1, NULL, got, &err));
  ng_model_ws_t *ws = NULL;
  NG_CHECK_OK(ng_model_ws_create(&ws, t->policy, 1));
  for (size_t i = 0; i < 3; i++) {
    for (size_t j = 0; j < 3; j++) {
      double z = (obs[3 * i + j] - t->obs_rms.mean[j]) / sqrt(t->obs_rms.var[j] + 1e-8);
      x[j] = z > 1.5 ? 1.5 : z < -1.5 ? -1.5 : z;
    }
    NG_CHECK_OK(ng_model_forward(t->policy, t->theta, ws, 1, x, NULL));
    double mean = ng_model_ws_params(ws)[0];
    want[i] = mean > 2.0 ? 2.0 : mean < -2.0 ? -2.0 : mean;
    NG_CHECK(got[i] == want[i]);
  }
  /* sampled: from the rng handed in, clipped to the bounds */
  ng_rng_t rng;
  ng_rng_seed(&rng, 7, 0);
  int outside = 0;
  for (int k = 0; k < 50; k++) {
    NG_CHECK_OK(ng_rl_predict(t, 1, obs, 0, &rng, got, &err));
    NG_CHECK(got[0] >= -2.0 && got[0] <= 2.0);
    outside += got[0] == 2.0 || got[0] == -2.0;
  }
  NG_CHECK(outside > 0);
  NG_CHECK_STATUS(ng_rl_predict(t, 1, obs, 0, NULL, got, &err), NG_EINVAL);
  const double bad[6] = {1.0, 0.0, 0.5, 0.0, NAN, 0.0};
  NG_CHECK_STATUS(ng_rl_predict(t, 2, bad, 1, NULL, got, &err), NG_ENONFINITE);
  NG_CHECK(strstr(err.message, "observation 1") != NULL);
  ng_model_ws_destroy(ws);
  ng_rl_destroy(t);
}

int main(void) {
  NG_TEST_RUN(test_predict);
  NG_TEST_RUN(test_action_dist_mapping);
  NG_TEST_RUN(test_discrete_observation_one_hot);
  NG_TEST_RUN(test_gae_hand);
  NG_TEST_RUN(test_adam_hand);
  NG_TEST_RUN(test_normalizer);
  NG_TEST_RUN(test_config);
  NG_TEST_END();
}
