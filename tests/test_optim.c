/* Optim tests: the natural gradient by CG and by Cholesky agree; the trust-region step
 * honours the KL bound, improves the loss, backtracks exactly as documented and restores
 * theta bit for bit when every trial fails; the scale beta and NPG's fixed KL step; and
 * natural-gradient descent finds a maximum-likelihood Gaussian faster than gradient
 * descent. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/optim.h"
#include "ng_test.h"
#include "ng_test_arch.h"

/* CG run to convergence against the exact Cholesky solve. */
#define SOLVE_RTOL 1e-8
/* Closed forms evaluated two ways (beta, KL of the quadratic model). */
#define FORMULA_RTOL 1e-12
#define BATCH 32

static const arch_t ARCHS[] = {
    {"3-(8)-2 gauss si tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"3-(8)-2 gauss net tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 2, NG_LOGSTD_NETWORK},
    {"3-(8)-3 cat tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_CATEGORICAL, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"4-(6)-3 cat relu", 4, 1, {6}, NG_ACT_RELU, NG_DIST_CATEGORICAL, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"2-()-2 gauss si linear", 2, 0, {0}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

static double dot(size_t n, const double *x, const double *y) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

static void random_vec(size_t n, double *x, double scale, ng_rng_t *rng) {
  for (size_t i = 0; i < n; i++) x[i] = scale * ng_rng_normal(rng);
}

/* A policy-gradient problem: a model at theta0, states, actions sampled from it, advantages,
 * and the surrogate loss -(1/B) sum_b A_b exp(log p_theta(a_b) - log p_theta0(a_b)). */
typedef struct {
  const arch_t *arch;
  ng_model_t *m;
  ng_model_ws_t *ws;
  ng_fisher_t *f;
  size_t n, np, batch;
  double *theta0, *x, *a, *adv, *logp0, *p0, *ratio_w, *lp;
  int trial_calls;
} problem_t;

static int problem_init(problem_t *pb, const arch_t *arch, size_t batch, uint64_t seed) {
  memset(pb, 0, sizeof *pb);
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  ng_dist_t dist = {arch->kind, arch->dim};
  NG_CHECK_OK(ng_model_create(&pb->m, arch->n_in, arch->n_hidden, arch->hidden, arch->act, dist,
                              arch->logstd));
  if (!pb->m) return 0;
  pb->arch = arch;
  pb->n = ng_model_n_params(pb->m);
  pb->np = ng_model_n_dist_params(pb->m);
  pb->batch = batch;
  size_t na = ng_dist_action_size(&dist);
  pb->theta0 = malloc(pb->n * sizeof(double));
  pb->x = malloc(batch * arch->n_in * sizeof(double));
  pb->a = malloc(batch * na * sizeof(double));
  pb->adv = malloc(batch * sizeof(double));
  pb->logp0 = malloc(batch * sizeof(double));
  pb->lp = malloc(batch * sizeof(double));
  pb->ratio_w = malloc(batch * sizeof(double));
  pb->p0 = malloc(batch * pb->np * sizeof(double));
  NG_CHECK_OK(ng_model_init(pb->m, pb->theta0, sqrt(2.0), 1.0, -0.3, &rng));
  random_vec(batch * arch->n_in, pb->x, 1.0, &rng);
  random_vec(batch, pb->adv, 1.0, &rng);
  NG_CHECK_OK(ng_model_ws_create(&pb->ws, pb->m, batch));
  NG_CHECK_OK(ng_fisher_create(&pb->f, pb->m, batch));
  NG_CHECK_OK(ng_model_forward(pb->m, pb->theta0, pb->ws, batch, pb->x, pb->p0));
  for (size_t b = 0; b < batch; b++)
    NG_CHECK_OK(ng_dist_sample(&dist, pb->p0 + b * pb->np, &rng, pb->a + b * na));
  NG_CHECK_OK(ng_model_logp(pb->m, pb->ws, batch, pb->a, pb->logp0));
  NG_CHECK_OK(ng_fisher_set_point(pb->f, pb->theta0, batch, pb->x));
  return 1;
}

static void problem_free(problem_t *pb) {
  ng_fisher_destroy(pb->f);
  ng_model_ws_destroy(pb->ws);
  ng_model_destroy(pb->m);
  free(pb->theta0);
  free(pb->x);
  free(pb->a);
  free(pb->adv);
  free(pb->logp0);
  free(pb->lp);
  free(pb->ratio_w);
  free(pb->p0);
}

/* Surrogate loss and mean KL(p_theta0 || p_theta) at theta; grad (if non-NULL) = d loss. */
static int surrogate(problem_t *pb, const double *theta, double *loss, double *kl, double *grad) {
  size_t B = pb->batch;
  int st = ng_model_forward(pb->m, theta, pb->ws, B, pb->x, NULL);
  if (st != NG_OK) return st;
  st = ng_model_logp(pb->m, pb->ws, B, pb->a, pb->lp);
  if (st != NG_OK) return st;
  double l = 0.0;
  for (size_t b = 0; b < B; b++) {
    double r = exp(pb->lp[b] - pb->logp0[b]);
    l -= pb->adv[b] * r;
    pb->ratio_w[b] = -pb->adv[b] * r / (double)B; /* d loss / d log p_b */
  }
  *loss = l / (double)B;
  double kls;
  st = ng_model_kl_sum(pb->m, theta, pb->ws, B, pb->p0, &kls, NULL);
  if (st != NG_OK) return st;
  *kl = kls / (double)B;
  if (grad) {
    memset(grad, 0, pb->n * sizeof *grad);
    st = ng_model_logp_vjp(pb->m, theta, pb->ws, B, pb->a, pb->ratio_w, grad);
  }
  return st;
}

static int surrogate_trial(void *ctx, const double *theta, double *loss, double *kl) {
  problem_t *pb = ctx;
  pb->trial_calls++;
  return surrogate(pb, theta, loss, kl, NULL);
}

/* ---- CG and Cholesky give the same natural gradient ---------------------------------------- */

static void test_cg_matches_cholesky(void) {
  for (size_t t = 0; t < N_ARCHS; t++) {
    problem_t pb;
    if (!problem_init(&pb, &ARCHS[t], BATCH, 100 + t)) continue;
    size_t n = pb.n;
    double *g = malloc(n * sizeof *g), *s_cg = malloc(n * sizeof *s_cg);
    double *s_ch = malloc(n * sizeof *s_ch), *work = malloc(n * n * sizeof *work);
    double *r = malloc(n * sizeof *r), loss, kl;
    NG_CHECK_OK(surrogate(&pb, pb.theta0, &loss, &kl, g));
    const double damping = 1e-3;
    ng_cg_t *cg = NULL;
    NG_CHECK_OK(ng_cg_create(&cg, n));
    ng_cg_opts_t opts = {(int)(10 * n), 1e-26 * dot(n, g, g), NULL, NULL};
    ng_cg_report_t rep;
    unsigned long p_before = ng_fisher_products(pb.f);
    NG_CHECK_OK(ng_natgrad_cg(pb.f, cg, damping, g, s_cg, &opts, &rep));
    NG_CHECK(rep.converged == 1);
    /* one Fisher product per CG iteration, nothing else */
    NG_CHECK(ng_fisher_products(pb.f) - p_before == (unsigned long)rep.iterations);
    NG_CHECK_OK(ng_natgrad_cholesky(pb.f, damping, g, s_ch, work));
    double err = ng_test_rel_err(n, s_cg, s_ch, 1e-300);
    NG_CHECK(err <= SOLVE_RTOL);
    if (!(err <= SOLVE_RTOL))
      fprintf(stderr, "  %s: CG vs Cholesky rel err %.3g (%d iterations)\n", pb.arch->name, err,
              rep.iterations);
    /* and it solves (F + damping I) s = g */
    NG_CHECK_OK(ng_fisher_apply(pb.f, s_ch, damping, r));
    NG_CHECK(ng_test_rel_err(n, r, g, 1e-300) <= SOLVE_RTOL);
    /* truncated CG (TRPO's 10 iterations) still returns NG_OK */
    ng_cg_opts_t short_opts = {2, 0.0, NULL, NULL};
    NG_CHECK_OK(ng_natgrad_cg(pb.f, cg, damping, g, s_cg, &short_opts, &rep));
    NG_CHECK(rep.iterations == 2 && rep.converged == 0);
    NG_CHECK_OK(ng_natgrad_cg(pb.f, cg, damping, g, s_cg, &short_opts, NULL));
    ng_cg_destroy(cg);
    free(g);
    free(s_cg);
    free(s_ch);
    free(work);
    free(r);
    problem_free(&pb);
  }
}

/* ---- SB3's per-component KL units ------------------------------------------------------------
 * SB3-contrib's TRPO averages a Gaussian policy's KL over its d action components, so its
 * Fisher is F/d and its bound target_kl is per component. natgrad's defaults translate its
 * settings to max_kl = d target_kl and damping = d lambda (src/rl/config.c). Here the step
 * is computed both ways with the model's own Fisher, truncated CG included: SB3's as CG on
 * (F/d + lambda I) with the bound target_kl, natgrad's through ng_natgrad_cg and
 * ng_trust_region_scale. The iterates must differ by exactly the factor d, the steps not at
 * all, and the KL of the step's quadratic model must be d times SB3's. */
typedef struct {
  ng_fisher_t *f;
  double inv_d, lambda;
} sb3_fisher_t;

static int sb3_fisher_apply(void *ctx, const double *v, double *out) {
  sb3_fisher_t *c = ctx;
  int st = ng_fisher_apply(c->f, v, 0.0, out);
  size_t n = ng_fisher_n(c->f);
  for (size_t i = 0; st == NG_OK && i < n; i++) out[i] = c->inv_d * out[i] + c->lambda * v[i];
  return st;
}

static void test_sb3_kl_units(void) {
  const double target_kl = 0.01, lambda = 0.1;
  for (size_t t = 0; t < N_ARCHS; t++) {
    if (ARCHS[t].kind != NG_DIST_GAUSSIAN) continue;
    problem_t pb;
    if (!problem_init(&pb, &ARCHS[t], BATCH, 300 + t)) continue;
    const size_t n = pb.n;
    const double d = (double)ARCHS[t].dim;
    double *g = malloc(n * sizeof *g), *s_ng = malloc(n * sizeof *s_ng);
    double *s_sb3 = malloc(n * sizeof *s_sb3), *fs = malloc(n * sizeof *fs), loss, kl;
    NG_CHECK_OK(surrogate(&pb, pb.theta0, &loss, &kl, g));
    ng_cg_t *cg = NULL;
    NG_CHECK_OK(ng_cg_create(&cg, n));
    sb3_fisher_t ctx = {pb.f, 1.0 / d, lambda};
    ng_linop_t sb3_op = {sb3_fisher_apply, &ctx, n};
    for (int iters = 1; iters <= 8; iters++) {
      ng_cg_opts_t opts = {iters, 0.0, NULL, NULL};
      NG_CHECK_OK(ng_natgrad_cg(pb.f, cg, d * lambda, g, s_ng, &opts, NULL));
      NG_CHECK_OK(ng_cg_solve(cg, &sb3_op, g, s_sb3, &opts, NULL));
      for (size_t i = 0; i < n; i++) fs[i] = s_sb3[i] / d;
      NG_CHECK(ng_test_rel_err(n, s_ng, fs, 1e-300) <= FORMULA_RTOL);
      /* the steps: beta s, with s^T A s of each side's own damped operator */
      NG_CHECK_OK(ng_fisher_apply(pb.f, s_ng, d * lambda, fs));
      double sas_ng = dot(n, s_ng, fs), beta_ng, beta_sb3;
      NG_CHECK_OK(sb3_fisher_apply(&ctx, s_sb3, fs));
      double sas_sb3 = dot(n, s_sb3, fs);
      NG_CHECK_OK(ng_trust_region_scale(sas_ng, d * target_kl, &beta_ng));
      NG_CHECK_OK(ng_trust_region_scale(sas_sb3, target_kl, &beta_sb3));
      for (size_t i = 0; i < n; i++) {
        s_ng[i] *= beta_ng;
        s_sb3[i] *= beta_sb3;
      }
      NG_CHECK(ng_test_rel_err(n, s_ng, s_sb3, 1e-300) <= FORMULA_RTOL);
      /* the quadratic model's KL of that step: natgrad's per state = d x SB3's per component */
      NG_CHECK_OK(ng_fisher_apply(pb.f, s_ng, 0.0, fs));
      double kl_state = 0.5 * dot(n, s_ng, fs);
      NG_CHECK_OK(ng_fisher_apply(pb.f, s_sb3, 0.0, fs));
      double kl_component = 0.5 * dot(n, s_sb3, fs) / d;
      NG_CHECK_CLOSE(kl_state, d * kl_component, FORMULA_RTOL, 0.0);
      NG_CHECK(kl_state < d * target_kl); /* damping only shortens the step */
    }
    ng_cg_destroy(cg);
    free(g);
    free(s_ng);
    free(s_sb3);
    free(fs);
    problem_free(&pb);
  }
}

/* An over-parameterised model on one row: F is singular, so Cholesky needs damping. */
static void test_cholesky_singular(void) {
  problem_t pb;
  if (!problem_init(&pb, &ARCHS[0], 1, 150)) return;
  size_t n = pb.n;
  double *g = malloc(n * sizeof *g), *s = malloc(n * sizeof *s);
  double *work = malloc(n * n * sizeof *work), loss, kl;
  NG_CHECK_OK(surrogate(&pb, pb.theta0, &loss, &kl, g));
  NG_CHECK_STATUS(ng_natgrad_cholesky(pb.f, 0.0, g, s, work), NG_ENOTPD);
  NG_CHECK_OK(ng_natgrad_cholesky(pb.f, 1e-2, g, s, work));
  NG_CHECK_STATUS(ng_natgrad_cholesky(pb.f, -1.0, g, s, work), NG_EINVAL);
  NG_CHECK_STATUS(ng_natgrad_cholesky(NULL, 1.0, g, s, work), NG_EINVAL);
  NG_CHECK_STATUS(ng_natgrad_cholesky(pb.f, 1.0, g, s, NULL), NG_EINVAL);
  g[0] = NAN;
  NG_CHECK_STATUS(ng_natgrad_cholesky(pb.f, 1.0, g, s, work), NG_ENONFINITE);
  ng_cg_t *cg = NULL;
  NG_CHECK_OK(ng_cg_create(&cg, n));
  ng_cg_opts_t opts = {10, 1e-10, NULL, NULL};
  NG_CHECK_STATUS(ng_natgrad_cg(pb.f, cg, 1e-2, g, s, &opts, NULL), NG_ENONFINITE);
  g[0] = 0.0;
  NG_CHECK_STATUS(ng_natgrad_cg(pb.f, cg, 1e-2, g, s, NULL, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_natgrad_cg(pb.f, NULL, 1e-2, g, s, &opts, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_natgrad_cg(pb.f, cg, -1.0, g, s, &opts, NULL), NG_EINVAL);
  ng_cg_destroy(cg);
  free(g);
  free(s);
  free(work);
  problem_free(&pb);
}

/* ---- beta and NPG ----------------------------------------------------------------------------- */

static void test_trust_region_scale(void) {
  double beta = -1.0;
  NG_CHECK_OK(ng_trust_region_scale(0.5, 0.01, &beta));
  NG_CHECK_CLOSE(beta, 0.2, FORMULA_RTOL, 0.0);
  NG_CHECK_OK(ng_trust_region_scale(3.7, 0.02, &beta));
  NG_CHECK_CLOSE(beta * beta * 3.7 / 2.0, 0.02, FORMULA_RTOL, 0.0);
  NG_CHECK_STATUS(ng_trust_region_scale(0.0, 0.01, &beta), NG_ECURVATURE);
  NG_CHECK_STATUS(ng_trust_region_scale(-1.0, 0.01, &beta), NG_ECURVATURE);
  NG_CHECK_STATUS(ng_trust_region_scale(NAN, 0.01, &beta), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_trust_region_scale(INFINITY, 0.01, &beta), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_trust_region_scale(1e-320, 0.01, &beta), NG_ENONFINITE); /* overflow */
  NG_CHECK_STATUS(ng_trust_region_scale(1.0, 0.0, &beta), NG_EINVAL);
  NG_CHECK_STATUS(ng_trust_region_scale(1.0, NAN, &beta), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_trust_region_scale(1.0, 0.01, NULL), NG_EINVAL);
}

static void test_npg_step(void) {
  for (size_t t = 0; t < N_ARCHS; t++) {
    problem_t pb;
    if (!problem_init(&pb, &ARCHS[t], BATCH, 200 + t)) continue;
    size_t n = pb.n;
    double *g = malloc(n * sizeof *g), *s = malloc(n * sizeof *s), *theta = malloc(n * sizeof *theta);
    double *delta = malloc(n * sizeof *delta), loss, kl;
    NG_CHECK_OK(surrogate(&pb, pb.theta0, &loss, &kl, g));
    ng_cg_t *cg = NULL;
    NG_CHECK_OK(ng_cg_create(&cg, n));
    ng_cg_opts_t opts = {10, 1e-10, NULL, NULL};
    NG_CHECK_OK(ng_natgrad_cg(pb.f, cg, 1e-3, g, s, &opts, NULL));
    double sfs;
    NG_CHECK_OK(ng_fisher_distance(pb.f, s, &sfs));
    const double max_kl = 1e-3;
    memcpy(theta, pb.theta0, n * sizeof *theta);
    NG_CHECK_OK(ng_npg_step(n, theta, s, sfs, max_kl));
    /* the quadratic KL model of the step taken is exactly max_kl */
    for (size_t i = 0; i < n; i++) delta[i] = theta[i] - pb.theta0[i];
    double dfd;
    NG_CHECK_OK(ng_fisher_distance(pb.f, delta, &dfd));
    NG_CHECK_CLOSE(dfd / 2.0, max_kl, 1e-9, 0.0);
    /* the step is along -s */
    double beta = sqrt(2.0 * max_kl / sfs);
    for (size_t i = 0; i < n; i++) delta[i] = pb.theta0[i] - beta * s[i];
    NG_CHECK(ng_test_rel_err(n, theta, delta, 1e-300) <= FORMULA_RTOL);
    /* and the true KL is close to the bound (the quadratic model's error is O(step^3):
     * ~10% at max_kl = 1e-3 here, ~1% at 1e-5) */
    const double small_kl = 1e-5;
    memcpy(delta, pb.theta0, n * sizeof *delta);
    NG_CHECK_OK(ng_npg_step(n, delta, s, sfs, small_kl));
    NG_CHECK_OK(surrogate(&pb, delta, &loss, &kl, NULL));
    NG_CHECK_CLOSE(kl, small_kl, 0.05, 0.0);
    NG_CHECK_STATUS(ng_npg_step(n, theta, s, 0.0, max_kl), NG_ECURVATURE);
    NG_CHECK_STATUS(ng_npg_step(n, theta, s, sfs, -1.0), NG_EINVAL);
    NG_CHECK_STATUS(ng_npg_step(0, theta, s, sfs, max_kl), NG_EINVAL);
    NG_CHECK_STATUS(ng_npg_step(n, NULL, s, sfs, max_kl), NG_EINVAL);
    ng_cg_destroy(cg);
    free(g);
    free(s);
    free(theta);
    free(delta);
    problem_free(&pb);
  }
}

/* ---- the trust-region step on a real surrogate ------------------------------------------------- */

static void test_trust_region_surrogate(void) {
  for (size_t t = 0; t < N_ARCHS; t++) {
    problem_t pb;
    if (!problem_init(&pb, &ARCHS[t], BATCH, 300 + t)) continue;
    size_t n = pb.n;
    double *g = malloc(n * sizeof *g), *s = malloc(n * sizeof *s);
    double *theta = malloc(n * sizeof *theta), *work = malloc(n * sizeof *work);
    double *want = malloc(n * sizeof *want), loss0, kl0;
    NG_CHECK_OK(surrogate(&pb, pb.theta0, &loss0, &kl0, g));
    NG_CHECK_CLOSE(kl0, 0.0, 0.0, 1e-15);
    ng_cg_t *cg = NULL;
    NG_CHECK_OK(ng_cg_create(&cg, n));
    ng_cg_opts_t opts = {10, 1e-10, NULL, NULL};
    const double damping = 0.1;
    NG_CHECK_OK(ng_natgrad_cg(pb.f, cg, damping, g, s, &opts, NULL));
    double sfs;
    NG_CHECK_OK(ng_fisher_distance(pb.f, s, &sfs));
    ng_linesearch_opts_t ls = {0.01, 0.8, 10, 0.1};
    ng_trust_report_t rep;
    memcpy(theta, pb.theta0, n * sizeof *theta);
    pb.trial_calls = 0;
    NG_CHECK_OK(ng_trust_region_step(n, theta, g, s, sfs, loss0, surrogate_trial, &pb, &ls, work,
                                     &rep));
    NG_CHECK(rep.accepted == 1);
    NG_CHECK(rep.trials == pb.trial_calls && rep.trials >= 1);
    NG_CHECK_CLOSE(rep.beta, sqrt(2.0 * ls.max_kl / sfs), FORMULA_RTOL, 0.0);
    NG_CHECK_CLOSE(rep.expected_improvement, rep.beta * dot(n, g, s), FORMULA_RTOL, 0.0);
    NG_CHECK(rep.expected_improvement > 0.0);
    NG_CHECK_CLOSE(rep.step_fraction, pow(ls.backtrack_ratio, rep.trials - 1), FORMULA_RTOL, 0.0);
    NG_CHECK(rep.loss_before == loss0);
    /* the accepted theta, evaluated independently: KL within the bound, loss improved by at
     * least accept_ratio of the expected improvement */
    double loss1, kl1;
    NG_CHECK_OK(surrogate(&pb, theta, &loss1, &kl1, NULL));
    NG_CHECK(kl1 <= ls.max_kl);
    NG_CHECK(loss1 < loss0);
    NG_CHECK(loss0 - loss1 >= ls.accept_ratio * rep.step_fraction * rep.expected_improvement);
    NG_CHECK(loss1 == rep.loss_after && kl1 == rep.kl);
    double step = rep.step_fraction * rep.beta;
    for (size_t i = 0; i < n; i++) want[i] = pb.theta0[i] - step * s[i];
    NG_CHECK(ng_test_rel_err(n, theta, want, 1e-300) <= FORMULA_RTOL);
    ng_cg_destroy(cg);
    free(g);
    free(s);
    free(theta);
    free(work);
    free(want);
    problem_free(&pb);
  }
}

/* ---- backtracking on a synthetic problem with known answers -------------------------------------
 * theta in R^3 starts at 0; s = g = e_0; sfs = 2 max_kl so beta = 1 and trial k sits at
 * t = r^k along -e_0. loss(t) = -t + a t^2 (gradient e_0 at 0 as g says); expected
 * improvement of trial k is t, the actual one t - a t^2. kl = K t^2. */
typedef struct {
  double a, K;
  int calls;
  int fail_mode; /* 0: as above; 1: loss worse; 2: error status; 3: NaN loss; 4: NaN kl;
                    5: loss -Inf (an "improvement" that is not finite) */
} synth_t;

static int synth_trial(void *ctx, const double *theta, double *loss, double *kl) {
  synth_t *c = ctx;
  c->calls++;
  double t = -theta[0];
  *loss = -t + c->a * t * t;
  *kl = c->K * t * t;
  switch (c->fail_mode) {
  case 1:
    *loss = 1.0 + t;
    break;
  case 2:
    return NG_ENONFINITE;
  case 3:
    *loss = NAN;
    break;
  case 4:
    *kl = NAN;
    break;
  case 5:
    *loss = -INFINITY;
    break;
  default:
    break;
  }
  return NG_OK;
}

static void test_backtracking_synthetic(void) {
  const double max_kl = 0.01, r = 0.8;
  double g[3] = {1.0, 0.0, 0.0}, s[3] = {1.0, 0.0, 0.0}, theta[3], work[3];
  ng_trust_report_t rep;
  ng_linesearch_opts_t ls = {max_kl, r, 10, 0.0};

  /* KL bound only: K = max_kl / r^5, so trial k passes iff r^(2k-5) <= 1, k >= 3 */
  synth_t c = {0.0, max_kl / pow(r, 5), 0, 0};
  memset(theta, 0, sizeof theta);
  NG_CHECK_OK(ng_trust_region_step(3, theta, g, s, 2.0 * max_kl, 0.0, synth_trial, &c, &ls, work,
                                   &rep));
  NG_CHECK(rep.trials == 4 && c.calls == 4 && rep.accepted == 1);
  NG_CHECK_CLOSE(rep.beta, 1.0, FORMULA_RTOL, 0.0);
  NG_CHECK_CLOSE(rep.step_fraction, pow(r, 3), FORMULA_RTOL, 0.0);
  NG_CHECK_CLOSE(theta[0], -pow(r, 3), FORMULA_RTOL, 0.0);
  NG_CHECK(theta[1] == 0.0 && theta[2] == 0.0);
  NG_CHECK(rep.kl <= max_kl);

  /* any improvement: -t + 2 t^2 < 0 iff t < 1/2, first at r^4 = 0.4096 */
  synth_t c2 = {2.0, 0.0, 0, 0};
  memset(theta, 0, sizeof theta);
  NG_CHECK_OK(ng_trust_region_step(3, theta, g, s, 2.0 * max_kl, 0.0, synth_trial, &c2, &ls,
                                   work, &rep));
  NG_CHECK(rep.trials == 5);
  NG_CHECK_CLOSE(rep.step_fraction, pow(r, 4), FORMULA_RTOL, 0.0);
  NG_CHECK_CLOSE(rep.loss_after, -pow(r, 4) + 2.0 * pow(r, 8), FORMULA_RTOL, 0.0);
  NG_CHECK_CLOSE(rep.expected_improvement, 1.0, FORMULA_RTOL, 0.0);

  /* accept_ratio 0.5: actual/expected = 1 - 2t >= 0.5 iff t <= 1/4, first at r^7 = 0.2097 */
  ls.accept_ratio = 0.5;
  synth_t c3 = {2.0, 0.0, 0, 0};
  memset(theta, 0, sizeof theta);
  NG_CHECK_OK(ng_trust_region_step(3, theta, g, s, 2.0 * max_kl, 0.0, synth_trial, &c3, &ls,
                                   work, &rep));
  NG_CHECK(rep.trials == 8);
  NG_CHECK_CLOSE(rep.step_fraction, pow(r, 7), FORMULA_RTOL, 0.0);

  /* ... but with only 6 backtracks allowed it fails after 7 trials */
  ls.max_backtracks = 6;
  synth_t c4 = {2.0, 0.0, 0, 0};
  theta[0] = 0.0;
  theta[1] = -0.25;
  theta[2] = 1.0 / 3.0;
  double before[3];
  memcpy(before, theta, sizeof theta);
  NG_CHECK_STATUS(ng_trust_region_step(3, theta, g, s, 2.0 * max_kl, 0.0, synth_trial,
                                       &c4, &ls, work, &rep),
                  NG_ELINESEARCH);
  NG_CHECK(rep.trials == 7 && c4.calls == 7 && rep.accepted == 0);
  NG_CHECK(memcmp(theta, before, sizeof theta) == 0);
}

/* Every trial fails, in each way a trial can: theta is restored bit for bit. */
static void test_linesearch_failure_restores(void) {
  problem_t pb;
  if (!problem_init(&pb, &ARCHS[0], BATCH, 400)) return;
  size_t n = pb.n;
  double *g = malloc(n * sizeof *g), *s = malloc(n * sizeof *s);
  double *theta = malloc(n * sizeof *theta), *work = malloc(n * sizeof *work);
  double *before = malloc(n * sizeof *before), loss0, kl0;
  ng_rng_t rng;
  ng_rng_seed(&rng, 401, 0);
  NG_CHECK_OK(surrogate(&pb, pb.theta0, &loss0, &kl0, g));
  random_vec(n, s, 1.0, &rng);
  s[0] = 1.0 / 3.0; /* digits that a subtract-then-add round trip would not reproduce */
  ng_linesearch_opts_t ls = {0.01, 0.5, 5, 0.0};
  for (int mode = 1; mode <= 5; mode++) {
    synth_t c = {0.0, 0.0, 0, mode};
    for (size_t i = 0; i < n; i++) theta[i] = pb.theta0[i] + 1e-3 * (double)i / 7.0;
    memcpy(before, theta, n * sizeof *theta);
    ng_trust_report_t rep;
    NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &c, &ls, work,
                                         &rep),
                    NG_ELINESEARCH);
    NG_CHECK(memcmp(theta, before, n * sizeof *theta) == 0);
    NG_CHECK(rep.trials == ls.max_backtracks + 1 && c.calls == rep.trials);
    NG_CHECK(rep.accepted == 0 && rep.step_fraction == 0.0 && rep.loss_after == 0.5);
  }
  /* a KL always above the bound fails too, even though the loss improves */
  synth_t hot = {0.0, 1e6, 0, 0};
  memcpy(theta, before, n * sizeof *theta);
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &hot, &ls, work,
                                       NULL),
                  NG_ELINESEARCH);
  NG_CHECK(memcmp(theta, before, n * sizeof *theta) == 0);

  /* bad arguments change nothing */
  synth_t ok = {0.0, 0.0, 0, 0};
  ng_linesearch_opts_t bad = ls;
  NG_CHECK_STATUS(ng_trust_region_step(0, theta, g, s, 0.3, 0.5, synth_trial, &ok, &ls, work,
                                       NULL),
                  NG_EINVAL);
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, NULL, &ok, &ls, work, NULL),
                  NG_EINVAL);
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &ok, &ls, NULL,
                                       NULL),
                  NG_EINVAL);
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &ok, NULL, work,
                                       NULL),
                  NG_EINVAL);
  bad.backtrack_ratio = 1.0;
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &ok, &bad, work,
                                       NULL),
                  NG_EINVAL);
  bad = ls;
  bad.max_kl = 0.0;
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &ok, &bad, work,
                                       NULL),
                  NG_EINVAL);
  bad = ls;
  bad.max_backtracks = -1;
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &ok, &bad, work,
                                       NULL),
                  NG_EINVAL);
  bad = ls;
  bad.accept_ratio = -0.1;
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &ok, &bad, work,
                                       NULL),
                  NG_EINVAL);
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.0, 0.5, synth_trial, &ok, &ls, work,
                                       NULL),
                  NG_ECURVATURE);
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, NAN, synth_trial, &ok, &ls, work,
                                       NULL),
                  NG_ENONFINITE);
  s[1] = INFINITY;
  NG_CHECK_STATUS(ng_trust_region_step(n, theta, g, s, 0.3, 0.5, synth_trial, &ok, &ls, work,
                                       NULL),
                  NG_ENONFINITE);
  NG_CHECK(ok.calls == 0);
  NG_CHECK(memcmp(theta, before, n * sizeof *theta) == 0);
  free(g);
  free(s);
  free(theta);
  free(work);
  free(before);
  problem_free(&pb);
}

/* ---- descent: maximum-likelihood Gaussian regression ---------------------------------------------
 * y_i = c0 + c1 x_i + sigma eps_i, fitted by a 1-input linear model with a state-independent
 * log std: theta = [w, b, log_std]. The optimum is least squares for (w, b) and
 * log_std = log sqrt(mean squared residual). */
#define MLE_N 200
#define MLE_TOL 1e-8
#define MLE_MAX_ITERS 20000

typedef struct {
  ng_model_t *m;
  ng_model_ws_t *ws;
  ng_fisher_t *f;
  double x[MLE_N], y[MLE_N], w[MLE_N];
} mle_t;

/* grad = d/dtheta of -(1/N) sum log p(y_i | x_i). */
static int mle_grad(mle_t *p, const double *theta, double *grad) {
  int st = ng_model_forward(p->m, theta, p->ws, MLE_N, p->x, NULL);
  if (st != NG_OK) return st;
  memset(grad, 0, 3 * sizeof *grad);
  return ng_model_logp_vjp(p->m, theta, p->ws, MLE_N, p->y, p->w, grad);
}

static double max_abs_diff(size_t n, const double *a, const double *b) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

/* Iterations until |theta - opt|_inf < MLE_TOL, or MLE_MAX_ITERS + 1 (diverged or slow). */
static int run_descent(mle_t *p, const double *opt, int natural, double lr) {
  double theta[3] = {0.0, 0.0, 0.0}, g[3], s[3], work[9];
  for (int it = 0; it < MLE_MAX_ITERS; it++) {
    if (max_abs_diff(3, theta, opt) < MLE_TOL) return it;
    if (mle_grad(p, theta, g) != NG_OK) return MLE_MAX_ITERS + 1;
    if (natural) {
      if (ng_fisher_set_point(p->f, theta, MLE_N, p->x) != NG_OK) return MLE_MAX_ITERS + 1;
      if (ng_natgrad_cholesky(p->f, 0.0, g, s, work) != NG_OK) return MLE_MAX_ITERS + 1;
    } else {
      memcpy(s, g, sizeof g);
    }
    if (ng_natgrad_descent_step(3, theta, lr, s) != NG_OK) return MLE_MAX_ITERS + 1;
    if (!ng_all_finite(3, theta) || fabs(theta[2]) > 50.0) return MLE_MAX_ITERS + 1;
  }
  return MLE_MAX_ITERS + 1;
}

static void test_natural_descent_mle(void) {
  mle_t p;
  ng_dist_t dist = {.kind = NG_DIST_GAUSSIAN, .dim = 1};
  NG_CHECK_OK(ng_model_create(&p.m, 1, 0, NULL, NG_ACT_IDENTITY, dist,
                              NG_LOGSTD_STATE_INDEPENDENT));
  NG_CHECK(ng_model_n_params(p.m) == 3);
  NG_CHECK_OK(ng_model_ws_create(&p.ws, p.m, MLE_N));
  NG_CHECK_OK(ng_fisher_create(&p.f, p.m, MLE_N));
  ng_rng_t rng;
  ng_rng_seed(&rng, 500, 0);
  const double c0 = 0.5, c1 = 0.8, sigma = 0.3;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < MLE_N; i++) {
    p.x[i] = 1.0 + ng_rng_normal(&rng); /* off-centre inputs: a badly conditioned loss */
    p.y[i] = c0 + c1 * p.x[i] + sigma * ng_rng_normal(&rng);
    p.w[i] = -1.0 / MLE_N;
    sx += p.x[i];
    sy += p.y[i];
    sxx += p.x[i] * p.x[i];
    sxy += p.x[i] * p.y[i];
  }
  /* least squares by the normal equations, then the ML log std */
  double det = MLE_N * sxx - sx * sx;
  double w_opt = (MLE_N * sxy - sx * sy) / det, b_opt = (sy - w_opt * sx) / MLE_N, rss = 0.0;
  for (int i = 0; i < MLE_N; i++) {
    double e = p.y[i] - w_opt * p.x[i] - b_opt;
    rss += e * e;
  }
  double opt[3] = {w_opt, b_opt, 0.5 * log(rss / MLE_N)};
  /* the gradient vanishes at the optimum (checks the closed form and the sign of w) */
  double g[3];
  NG_CHECK_OK(mle_grad(&p, opt, g));
  NG_CHECK(fabs(g[0]) < 1e-12 && fabs(g[1]) < 1e-12 && fabs(g[2]) < 1e-12);

  int ng_iters = run_descent(&p, opt, 1, 1.0);
  NG_CHECK(ng_iters <= 30);
  static const double lrs[] = {0.003, 0.01, 0.03, 0.1, 0.3, 1.0};
  int best_gd = MLE_MAX_ITERS + 1;
  double best_lr = 0.0;
  for (size_t k = 0; k < sizeof lrs / sizeof lrs[0]; k++) {
    int it = run_descent(&p, opt, 0, lrs[k]);
    if (it < best_gd) {
      best_gd = it;
      best_lr = lrs[k];
    }
  }
  NG_CHECK(ng_iters < best_gd);
  fprintf(stderr, "  MLE: natural gradient %d iterations, gradient descent %d (lr %g)\n",
          ng_iters, best_gd, best_lr);

  NG_CHECK_OK(ng_natgrad_descent_step(3, opt, 0.0, g));
  NG_CHECK_STATUS(ng_natgrad_descent_step(3, opt, NAN, g), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_natgrad_descent_step(0, opt, 1.0, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_natgrad_descent_step(3, NULL, 1.0, g), NG_EINVAL);
  double th[2] = {1.0, 2.0}, sv[2] = {0.5, -1.0};
  NG_CHECK_OK(ng_natgrad_descent_step(2, th, 0.1, sv));
  NG_CHECK(th[0] == 1.0 - 0.1 * 0.5 && th[1] == 2.0 + 0.1);
  ng_fisher_destroy(p.f);
  ng_model_ws_destroy(p.ws);
  ng_model_destroy(p.m);
}

int main(void) {
  NG_TEST_RUN(test_cg_matches_cholesky);
  NG_TEST_RUN(test_cholesky_singular);
  NG_TEST_RUN(test_sb3_kl_units);
  NG_TEST_RUN(test_trust_region_scale);
  NG_TEST_RUN(test_npg_step);
  NG_TEST_RUN(test_trust_region_surrogate);
  NG_TEST_RUN(test_backtracking_synthetic);
  NG_TEST_RUN(test_linesearch_failure_restores);
  NG_TEST_RUN(test_natural_descent_mle);
  NG_TEST_END();
}
