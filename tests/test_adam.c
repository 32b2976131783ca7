/* adam: the shared Adam step (src/adam.c) against a plain reference written here in the
 * documented order of operations, bit for bit, at sizes around every vector width and for
 * both entry points; against closed forms independent of that order (bias correction at
 * step 1, and at step 1000 with the corrections as repeated products instead of pow);
 * zero gradients; and both users (the critic's ng__adam_step, the supervised Adam through
 * ng_sup_opt_step) against the same reference, bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "natgrad/supervised.h"
#include "ng_test.h"
#include "rl/rl_impl.h"

#define TOL_ROUND 1e-14 /* a handful of roundings on a few doubles */
#define TOL_LONG 1e-11  /* 1000 steps of moment updates, each a few roundings */
#define MAX_N 1000

static const ng__adam_hp_t HP = {0.01, 0.9, 0.999, 1e-8};

/* Adam step t, element by element, as the definition reads. */
static void reference(size_t n, const ng__adam_hp_t *hp, uint64_t t, double *theta, double *m,
                      double *v, const double *g) {
  double bc1 = 1.0 - pow(hp->beta1, (double)t), bc2 = 1.0 - pow(hp->beta2, (double)t);
  for (size_t i = 0; i < n; i++) {
    m[i] = hp->beta1 * m[i] + (1.0 - hp->beta1) * g[i];
    v[i] = hp->beta2 * v[i] + (1.0 - hp->beta2) * g[i] * g[i];
    double mhat = m[i] / bc1, vhat = v[i] / bc2;
    theta[i] -= hp->lr * mhat / (sqrt(vhat) + hp->eps);
  }
}

/* gradients over many magnitudes, exact zeros and both signs */
static void gradient(ng_rng_t *rng, size_t n, double *g) {
  for (size_t i = 0; i < n; i++) {
    double u = ng_rng_normal(rng) * pow(10.0, ng_rng_uniform_range(rng, -6.0, 3.0));
    g[i] = i % 7 == 3 ? 0.0 : u;
  }
}

static int same(size_t n, const double *a, const double *b) {
  return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

/* Both entry points against the reference over 5 steps, for n = 0..40 (every vector tail
 * of 2, 4 and 8 lanes) and 1000. */
static void test_reference_bits(void) {
  static double th[MAX_N], m[MAX_N], v[MAX_N], rth[MAX_N], rm[MAX_N], rv[MAX_N], g[MAX_N];
  static double dth[MAX_N], dm[MAX_N], dv[MAX_N], m2[MAX_N], v2[MAX_N], d[MAX_N], gc[MAX_N];
  ng_rng_t rng;
  ng_rng_seed(&rng, 11, 0);
  int bad_update = 0, bad_delta = 0, bad_inputs = 0;
  for (size_t n = 0; n <= 41; n++) {
    size_t nn = n == 41 ? MAX_N : n;
    for (size_t i = 0; i < nn; i++) th[i] = rth[i] = dth[i] = ng_rng_normal(&rng);
    memset(m, 0, sizeof m);
    memset(v, 0, sizeof v);
    memset(rm, 0, sizeof rm);
    memset(rv, 0, sizeof rv);
    memset(dm, 0, sizeof dm);
    memset(dv, 0, sizeof dv);
    for (uint64_t t = 1; t <= 5; t++) {
      gradient(&rng, nn, g);
      memcpy(gc, g, sizeof g);
      reference(nn, &HP, t, rth, rm, rv, g);
      ng__adam_update(nn, &HP, t, th, m, v, g);
      bad_update += !same(nn, th, rth) || !same(nn, m, rm) || !same(nn, v, rv);
      memcpy(m2, dm, sizeof dm);
      memcpy(v2, dv, sizeof dv);
      ng__adam_delta(nn, &HP, t, dm, dv, g, m2, v2, d);
      for (size_t i = 0; i < nn; i++) dth[i] += d[i];
      bad_delta += !same(nn, dth, rth) || !same(nn, m2, rm) || !same(nn, v2, rv);
      bad_inputs += !same(nn, g, gc);
      memcpy(dm, m2, sizeof dm);
      memcpy(dv, v2, sizeof dv);
    }
  }
  NG_CHECK(bad_update == 0);
  NG_CHECK(bad_delta == 0);
  NG_CHECK(bad_inputs == 0);
  if (bad_update || bad_delta)
    fprintf(stderr, "  %d update, %d delta mismatches\n", bad_update, bad_delta);
  /* and the reference is not trivially satisfied: another eps moves the result */
  ng__adam_hp_t other = HP;
  other.eps = 1e-5;
  double a[3] = {1, 2, 3}, b[3] = {1, 2, 3}, ma[3] = {0}, va[3] = {0}, mb[3] = {0}, vb[3] = {0};
  const double gg[3] = {1e-6, -2e-6, 3e-6};
  ng__adam_update(3, &HP, 1, a, ma, va, gg);
  reference(3, &other, 1, b, mb, vb, gg);
  NG_CHECK(!same(3, a, b));
}

/* Step 1: m = (1 - b1) g and v = (1 - b2) g^2 are exactly undone by the corrections, so the
 * step is -lr g / (|g| + eps) whatever the betas. */
static void test_bias_correction_step1(void) {
  const double g[4] = {0.5, -3.0, 1e-7, 250.0};
  const ng__adam_hp_t hps[2] = {{0.1, 0.9, 0.999, 1e-8}, {0.003, 0.5, 0.9, 1e-5}};
  for (int h = 0; h < 2; h++) {
    double th[4] = {1, -1, 0.25, 4}, th0[4], m[4] = {0}, v[4] = {0};
    memcpy(th0, th, sizeof th);
    ng__adam_update(4, &hps[h], 1, th, m, v, g);
    for (int i = 0; i < 4; i++) {
      double want = -hps[h].lr * g[i] / (fabs(g[i]) + hps[h].eps);
      NG_CHECK_CLOSE(th[i] - th0[i], want, 1e-12, 1e-15);
      NG_CHECK_CLOSE(m[i], (1.0 - hps[h].beta1) * g[i], TOL_ROUND, 0.0);
      NG_CHECK_CLOSE(v[i], (1.0 - hps[h].beta2) * g[i] * g[i], TOL_ROUND, 0.0);
    }
  }
}

/* Step 1000 with a constant gradient from zero moments: m = g (1 - b1^t), v = g^2 (1 - b2^t),
 * so the corrected step is again -lr g / (|g| + eps); b2^1000 = 0.37 makes a wrong or
 * missing correction visible. Then one step at t = 1000 from given moments against the
 * definition with the corrections as repeated products. */
static void test_bias_correction_step1000(void) {
  const double g[3] = {0.2, -0.7, 4.0};
  double th[3] = {0, 0, 0}, m[3] = {0}, v[3] = {0};
  for (uint64_t t = 1; t < 1000; t++) ng__adam_update(3, &HP, t, th, m, v, g);
  double before[3];
  memcpy(before, th, sizeof th);
  ng__adam_update(3, &HP, 1000, th, m, v, g);
  double p1 = 1.0, p2 = 1.0;
  for (int t = 0; t < 1000; t++) {
    p1 *= HP.beta1;
    p2 *= HP.beta2;
  }
  NG_CHECK_CLOSE(p2, 0.36769542477096373, 1e-12, 0.0); /* 0.999^1000 */
  for (int i = 0; i < 3; i++) {
    NG_CHECK_CLOSE(th[i] - before[i], -HP.lr * g[i] / (fabs(g[i]) + HP.eps), TOL_LONG, 0.0);
    NG_CHECK_CLOSE(m[i], g[i] * (1.0 - p1), TOL_LONG, 0.0);
    NG_CHECK_CLOSE(v[i], g[i] * g[i] * (1.0 - p2), TOL_LONG, 0.0);
  }
  /* from arbitrary moments */
  double th2[2] = {1.0, -2.0}, m2[2] = {0.03, -0.4}, v2[2] = {0.002, 0.5};
  const double g2[2] = {-0.1, 0.6};
  double want[2];
  for (int i = 0; i < 2; i++) {
    double mm = 0.9 * m2[i] + 0.1 * g2[i], vv = 0.999 * v2[i] + 0.001 * g2[i] * g2[i];
    want[i] = th2[i] - 0.01 * (mm / (1.0 - p1)) / (sqrt(vv / (1.0 - p2)) + 1e-8);
  }
  ng__adam_update(2, &HP, 1000, th2, m2, v2, g2);
  NG_CHECK_CLOSE(th2[0], want[0], TOL_ROUND, 0.0);
  NG_CHECK_CLOSE(th2[1], want[1], TOL_ROUND, 0.0);
}

/* Zero gradients: from zero moments nothing moves; from non-zero ones the moments decay by
 * the betas and the step follows the decayed first moment. */
static void test_zero_gradient(void) {
  const double g[5] = {0};
  double th[5] = {1, -2, 3, 0, -0.5}, th0[5], m[5] = {0}, v[5] = {0};
  memcpy(th0, th, sizeof th);
  for (uint64_t t = 1; t <= 3; t++) ng__adam_update(5, &HP, t, th, m, v, g);
  NG_CHECK(same(5, th, th0));
  for (int i = 0; i < 5; i++) NG_CHECK(m[i] == 0.0 && v[i] == 0.0);
  double m1[2] = {0.5, -0.25}, v1[2] = {0.04, 0.01};
  double d[2], mn[2], vn[2];
  ng__adam_delta(2, &HP, 7, m1, v1, g, mn, vn, d);
  double bc1 = 1.0 - pow(0.9, 7.0), bc2 = 1.0 - pow(0.999, 7.0);
  for (int i = 0; i < 2; i++) {
    NG_CHECK_CLOSE(mn[i], 0.9 * m1[i], TOL_ROUND, 0.0);
    NG_CHECK_CLOSE(vn[i], 0.999 * v1[i], TOL_ROUND, 0.0);
    NG_CHECK_CLOSE(d[i], -0.01 * (0.9 * m1[i] / bc1) / (sqrt(0.999 * v1[i] / bc2) + 1e-8),
                   TOL_ROUND, 0.0);
  }
  /* n = 0 touches nothing */
  ng__adam_update(0, &HP, 1, NULL, NULL, NULL, NULL);
  ng__adam_delta(0, &HP, 1, NULL, NULL, NULL, NULL, NULL, NULL);
}

/* The critic's Adam (SB3's eps 1e-5) equals the reference bit for bit over 20 steps. */
static void test_critic_user(void) {
  enum { N = 37 };
  ng__adam_t a;
  NG_CHECK_OK(ng__adam_init(&a, N, 3e-4));
  ng__adam_hp_t hp = {3e-4, NG_RL_ADAM_BETA1, NG_RL_ADAM_BETA2, NG_RL_ADAM_EPS};
  double th[N], rth[N], rm[N] = {0}, rv[N] = {0}, g[N];
  ng_rng_t rng;
  ng_rng_seed(&rng, 5, 0);
  for (int i = 0; i < N; i++) th[i] = rth[i] = ng_rng_normal(&rng);
  int bad = 0;
  for (uint64_t t = 1; t <= 20; t++) {
    gradient(&rng, N, g);
    ng__adam_step(&a, th, g);
    reference(N, &hp, t, rth, rm, rv, g);
    bad += !same(N, th, rth) || !same(N, a.m, rm) || !same(N, a.v, rv);
  }
  NG_CHECK(bad == 0);
  NG_CHECK(a.t == 20);
  ng__adam_free(&a);
}

/* The supervised Adam: each step is the reference's on the batch gradient, bit for bit. */
static void test_supervised_user(void) {
  enum { B = 6, NIN = 3 };
  size_t h[1] = {9};
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  ng_model_t *m = NULL;
  NG_CHECK_OK(ng_model_create(&m, NIN, 1, h, NG_ACT_TANH, cat, NG_LOGSTD_STATE_INDEPENDENT));
  if (!m) return;
  size_t n = ng_model_n_params(m);
  ng_sup_opt_config_t c;
  NG_CHECK_OK(ng_sup_opt_config_default(&c, NG_OPT_ADAM));
  c.weight_decay = 0.0;
  ng_sup_opt_t *o = NULL;
  ng_model_ws_t *ws = NULL;
  NG_CHECK_OK(ng_sup_opt_create(&o, m, &c, B, NULL));
  NG_CHECK_OK(ng_model_ws_create(&ws, m, B));
  double *th = calloc(n, sizeof *th), *rth = calloc(n, sizeof *rth), *rm = calloc(n, sizeof *rm);
  double *rv = calloc(n, sizeof *rv), *g = calloc(n, sizeof *g);
  ng_rng_t rng;
  ng_rng_seed(&rng, 9, 0);
  double x[B * NIN], y[B];
  for (size_t i = 0; i < n; i++) th[i] = rth[i] = 0.5 * ng_rng_normal(&rng);
  ng__adam_hp_t hp = {c.lr, c.beta1, c.beta2, c.eps};
  int bad = 0;
  for (uint64_t t = 1; o && ws && th && rth && rm && rv && g && t <= 10; t++) {
    for (int i = 0; i < B * NIN; i++) x[i] = ng_rng_normal(&rng);
    for (int b = 0; b < B; b++) y[b] = (double)((b + (int)t) % 3);
    double loss;
    NG_CHECK_OK(ng_sup_loss_grad(m, ws, rth, B, x, y, &loss, g));
    reference(n, &hp, t, rth, rm, rv, g);
    NG_CHECK_OK(ng_sup_opt_step(o, th, B, x, y, NULL));
    bad += !same(n, th, rth);
  }
  NG_CHECK(bad == 0);
  free(th);
  free(rth);
  free(rm);
  free(rv);
  free(g);
  ng_model_ws_destroy(ws);
  ng_sup_opt_destroy(o);
  ng_model_destroy(m);
}

int main(void) {
  NG_TEST_RUN(test_reference_bits);
  NG_TEST_RUN(test_bias_correction_step1);
  NG_TEST_RUN(test_bias_correction_step1000);
  NG_TEST_RUN(test_zero_gradient);
  NG_TEST_RUN(test_critic_user);
  NG_TEST_RUN(test_supervised_user);
  NG_TEST_END();
}
