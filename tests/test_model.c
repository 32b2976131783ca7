/* Model tests: the Jacobian products against central differences of P(theta) for every head
 * layout and several architectures, the batch helpers' gradients against central
 * differences of the sums they return, the layout accessors and the MLP-output cotangent
 * that fisher.c and kfac.c build on, initialisation properties and bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/model.h"
#include "ng_test.h"
#include "ng_test_arch.h"

/* Central differences with step FD_H have truncation error ~h^2 and rounding ~eps/h: both
 * ~1e-10 relative here, so 1e-6 leaves a wide margin yet catches any wrong term. */
#define FD_H 1e-5
#define FD_RTOL 1e-6
/* Identities that hold up to rounding only (adjoint, vjp_sq vs per-row vjp). */
#define EXACT_RTOL 1e-12
/* At most this many theta coordinates are checked one by one (all of them when fewer). */
#define FD_MAX_COORDS 200
#define BATCH 6

static const arch_t ARCHS[] = {
    {"3-(8)-2 gauss si tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"3-(8)-2 gauss net tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 2, NG_LOGSTD_NETWORK},
    {"3-(8)-2 cat tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_CATEGORICAL, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"3-(8)-2 gauss si relu", 3, 1, {8}, NG_ACT_RELU, NG_DIST_GAUSSIAN, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"4-(64,64)-2 cat relu", 4, 2, {64, 64}, NG_ACT_RELU, NG_DIST_CATEGORICAL, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"4-(64,64)-5 cat tanh", 4, 2, {64, 64}, NG_ACT_TANH, NG_DIST_CATEGORICAL, 5,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"11-(64,64)-3 gauss si tanh", 11, 2, {64, 64}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"11-(64,64)-3 gauss net tanh", 11, 2, {64, 64}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 3,
     NG_LOGSTD_NETWORK},
    {"5-()-3 gauss si linear", 5, 0, {0}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"5-()-3 gauss net linear", 5, 0, {0}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 3, NG_LOGSTD_NETWORK},
    {"5-()-3 cat linear", 5, 0, {0}, NG_ACT_TANH, NG_DIST_CATEGORICAL, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"2-(5,4,3)-2 gauss si relu", 2, 3, {5, 4, 3}, NG_ACT_RELU, NG_DIST_GAUSSIAN, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"3-(8)-(3,1,2) multidiscrete tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_MULTI_DISCRETE, 3,
     NG_LOGSTD_STATE_INDEPENDENT, {3, 1, 2}},
    {"4-(64,64)-(4,5) multidiscrete relu", 4, 2, {64, 64}, NG_ACT_RELU,
     NG_DIST_MULTI_DISCRETE, 2, NG_LOGSTD_STATE_INDEPENDENT, {4, 5}},
    {"3-(8)-3 multibinary tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_MULTI_BINARY, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"5-()-4 multibinary linear", 5, 0, {0}, NG_ACT_TANH, NG_DIST_MULTI_BINARY, 4,
     NG_LOGSTD_STATE_INDEPENDENT},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

/* Random parameters large enough that every nonlinearity matters: weights
 * ~ N(0, 1.5 / fan_in) (tanh neither linear nor saturated), biases and log stds O(0.3). */
static void random_theta(const ng_model_t *m, double *theta, ng_rng_t *rng) {
  const ng_mlp_t *mlp = ng_model_mlp(m);
  size_t L = ng_mlp_n_layers(mlp);
  for (size_t l = 0; l < L; l++) {
    size_t off = ng_mlp_layer_offset(mlp, l);
    size_t r = ng_mlp_size(mlp, l + 1), c = ng_mlp_size(mlp, l);
    double sd = sqrt(1.5 / (double)c);
    for (size_t i = 0; i < r * c; i++) theta[off + i] = sd * ng_rng_normal(rng);
    for (size_t i = 0; i < r; i++) theta[off + r * c + i] = 0.3 * ng_rng_normal(rng);
  }
  for (size_t i = ng_mlp_n_params(mlp); i < ng_model_n_params(m); i++)
    theta[i] = -0.3 + 0.3 * ng_rng_normal(rng);
}

static double dot(size_t n, const double *x, const double *y) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

static void random_vec(size_t n, double *x, double scale, ng_rng_t *rng) {
  for (size_t i = 0; i < n; i++) x[i] = scale * ng_rng_normal(rng);
}

/* One random valid action per row of P. */
static void sample_actions(const ng_model_t *m, const double *p, size_t batch, double *a,
                           ng_rng_t *rng) {
  ng_dist_t dist = ng_model_dist(m);
  size_t np = ng_dist_n_params(&dist), na = ng_dist_action_size(&dist);
  for (size_t b = 0; b < batch; b++)
    NG_CHECK_OK(ng_dist_sample(&dist, p + b * np, rng, a + b * na));
}

/* ---- Jacobian products against central differences of P(theta) ------------------------- */

/* s(theta) = sum_b dP_b . P_b(theta), the scalar whose gradient vjp(dP) is. */
static double weighted_p(const ng_model_t *m, ng_model_ws_t *ws, const double *theta,
                         const double *x, const double *dp) {
  size_t np = ng_model_n_dist_params(m);
  NG_CHECK_OK(ng_model_forward(m, theta, ws, BATCH, x, NULL));
  const double *p = ng_model_ws_params(ws);
  double s = 0.0;
  for (size_t i = 0; i < BATCH * np; i++) s += dp[i] * p[i];
  return s;
}

/* Coordinates to check: all if few, else FD_MAX_COORDS random ones plus the last 8 (the
 * output layer's bias and the head live there). */
static size_t pick_coords(size_t n, size_t *idx, ng_rng_t *rng) {
  if (n <= FD_MAX_COORDS) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    return n;
  }
  size_t k = 0;
  for (; k < FD_MAX_COORDS - 8; k++) idx[k] = (size_t)ng_rng_below(rng, n);
  for (size_t i = n - 8; i < n; i++) idx[k++] = i;
  return k;
}

/* Relative error of g, the gradient of sum_b dP_b . P_b at theta, against central
 * differences on pick_coords of theta[0, n_check). */
static double vjp_fd_err(const ng_model_t *m, ng_model_ws_t *ws, const double *theta,
                         const double *x, const double *dp, const double *g, size_t n_check,
                         ng_rng_t *rng) {
  size_t n = ng_model_n_params(m);
  size_t *idx = malloc((n_check < FD_MAX_COORDS ? n_check : FD_MAX_COORDS) * sizeof *idx);
  double *tp = malloc(n * sizeof *tp);
  size_t k = pick_coords(n_check, idx, rng);
  double *got = malloc(k * sizeof *got), *fd = malloc(k * sizeof *fd);
  for (size_t t = 0; t < k; t++) {
    size_t i = idx[t];
    memcpy(tp, theta, n * sizeof *tp);
    tp[i] = theta[i] + FD_H;
    double sp = weighted_p(m, ws, tp, x, dp);
    tp[i] = theta[i] - FD_H;
    double sm = weighted_p(m, ws, tp, x, dp);
    fd[t] = (sp - sm) / (2.0 * FD_H);
    got[t] = g[i];
  }
  double err = ng_test_rel_err(k, got, fd, 1e-3);
  free(idx);
  free(tp);
  free(got);
  free(fd);
  return err;
}

static void check_jacobian_products(const arch_t *a, uint64_t seed) {
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  ng_model_t *m = make_model(a);
  if (!m) return;
  size_t n = ng_model_n_params(m), np = ng_model_n_dist_params(m), n_in = a->n_in;
  ng_model_ws_t *ws = NULL;
  NG_CHECK_OK(ng_model_ws_create(&ws, m, BATCH));
  double *theta = malloc(n * sizeof *theta), *tp = malloc(n * sizeof *tp);
  double *g = calloc(n, sizeof *g), *g_fd = malloc(n * sizeof *g_fd), *v = malloc(n * sizeof *v);
  double *x = malloc(BATCH * n_in * sizeof *x), *dp = malloc(BATCH * np * sizeof *dp);
  double *jv = malloc(BATCH * np * sizeof *jv), *jv_fd = malloc(BATCH * np * sizeof *jv_fd);
  double *pp = malloc(BATCH * np * sizeof *pp), *pm = malloc(BATCH * np * sizeof *pm);
  random_theta(m, theta, &rng);
  random_vec(BATCH * n_in, x, 1.0, &rng);
  random_vec(BATCH * np, dp, 1.0, &rng);
  random_vec(n, v, 1.0, &rng);

  /* vjp, coordinate by coordinate */
  NG_CHECK_OK(ng_model_forward(m, theta, ws, BATCH, x, NULL));
  NG_CHECK_OK(ng_model_vjp(m, theta, ws, BATCH, dp, g));
  double err = vjp_fd_err(m, ws, theta, x, dp, g, n, &rng);
  NG_CHECK(err <= FD_RTOL);
  if (!(err <= FD_RTOL)) fprintf(stderr, "  %s: vjp rel err %.3g\n", a->name, err);

  /* vjp accumulates */
  NG_CHECK_OK(ng_model_forward(m, theta, ws, BATCH, x, NULL));
  memcpy(tp, g, n * sizeof *tp);
  NG_CHECK_OK(ng_model_vjp(m, theta, ws, BATCH, dp, tp));
  for (size_t i = 0; i < n; i++) g_fd[i] = 2.0 * g[i];
  NG_CHECK_VEC_CLOSE(n, tp, g_fd, EXACT_RTOL);

  /* jvp along a random direction */
  NG_CHECK_OK(ng_model_jvp(m, theta, ws, BATCH, v, jv));
  for (size_t i = 0; i < n; i++) tp[i] = theta[i] + FD_H * v[i];
  NG_CHECK_OK(ng_model_forward(m, tp, ws, BATCH, x, pp));
  for (size_t i = 0; i < n; i++) tp[i] = theta[i] - FD_H * v[i];
  NG_CHECK_OK(ng_model_forward(m, tp, ws, BATCH, x, pm));
  for (size_t i = 0; i < BATCH * np; i++) jv_fd[i] = (pp[i] - pm[i]) / (2.0 * FD_H);
  err = ng_test_rel_err(BATCH * np, jv, jv_fd, 1e-3);
  NG_CHECK(err <= FD_RTOL);
  if (!(err <= FD_RTOL)) fprintf(stderr, "  %s: jvp rel err %.3g\n", a->name, err);

  /* adjoint: <dP, J v> = <J^T dP, v> */
  double lhs = dot(BATCH * np, dp, jv);
  double rhs = dot(n, g, v);
  NG_CHECK_CLOSE(lhs, rhs, EXACT_RTOL * 10, EXACT_RTOL * 10);

  /* vjp_sq against per-row gradients from batch-1 passes */
  ng_model_ws_t *ws1 = NULL;
  NG_CHECK_OK(ng_model_ws_create(&ws1, m, 1));
  double *sq = calloc(n, sizeof *sq), *sq_ref = calloc(n, sizeof *sq_ref);
  NG_CHECK_OK(ng_model_forward(m, theta, ws, BATCH, x, NULL));
  NG_CHECK_OK(ng_model_vjp_sq(m, theta, ws, BATCH, dp, sq));
  for (size_t b = 0; b < BATCH; b++) {
    NG_CHECK_OK(ng_model_forward(m, theta, ws1, 1, x + b * n_in, NULL));
    memset(tp, 0, n * sizeof *tp);
    NG_CHECK_OK(ng_model_vjp(m, theta, ws1, 1, dp + b * np, tp));
    for (size_t i = 0; i < n; i++) sq_ref[i] += tp[i] * tp[i];
  }
  NG_CHECK_VEC_CLOSE(n, sq, sq_ref, EXACT_RTOL);

  ng_model_ws_destroy(ws1);
  free(sq);
  free(sq_ref);
  free(theta);
  free(tp);
  free(g);
  free(g_fd);
  free(v);
  free(x);
  free(dp);
  free(jv);
  free(jv_fd);
  free(pp);
  free(pm);
  ng_model_ws_destroy(ws);
  ng_model_destroy(m);
}

static void test_jacobian_products(void) {
  for (size_t i = 0; i < N_ARCHS; i++) check_jacobian_products(&ARCHS[i], 100 + i);
}

/* ---- batch helpers: their sums and gradients ----------------------------------------------- */

enum { SUM_LOGP, SUM_KL, SUM_ENTROPY };

typedef struct {
  const ng_model_t *m;
  ng_model_ws_t *ws;
  const double *x, *a, *w, *p_old;
} sums_ctx_t;

/* The helper's sum at theta by a fresh forward; grad (if non-NULL) += its gradient. */
static double helper_sum(const sums_ctx_t *c, int which, const double *theta, double *grad) {
  double s = NAN;
  NG_CHECK_OK(ng_model_forward(c->m, theta, c->ws, BATCH, c->x, NULL));
  if (which == SUM_LOGP) {
    double lp[BATCH];
    NG_CHECK_OK(ng_model_logp(c->m, c->ws, BATCH, c->a, lp));
    s = 0.0;
    for (size_t b = 0; b < BATCH; b++) s += c->w[b] * lp[b];
    if (grad) NG_CHECK_OK(ng_model_logp_vjp(c->m, theta, c->ws, BATCH, c->a, c->w, grad));
  } else if (which == SUM_KL) {
    NG_CHECK_OK(ng_model_kl_sum(c->m, theta, c->ws, BATCH, c->p_old, &s, grad));
  } else {
    NG_CHECK_OK(ng_model_entropy_sum(c->m, theta, c->ws, BATCH, &s, grad));
  }
  return s;
}

/* log softmax(l)[i], l (k). */
static double ref_log_softmax(size_t k, const double *l, size_t i) {
  double mx = l[0], z = 0.0;
  for (size_t j = 1; j < k; j++) mx = l[j] > mx ? l[j] : mx;
  for (size_t j = 0; j < k; j++) z += exp(l[j] - mx);
  return l[i] - mx - log(z);
}

/* log p(a) written out here, independently of dist.c. */
static double ref_logp(const ng_dist_t *dist, const double *p, const double *a) {
  double s = 0.0;
  switch (dist->kind) {
  case NG_DIST_GAUSSIAN:
    for (size_t j = 0; j < dist->dim; j++) {
      double z = (a[j] - p[j]) / exp(p[dist->dim + j]);
      s += -0.5 * z * z - p[dist->dim + j] - 0.5 * log(2.0 * 3.14159265358979323846);
    }
    return s;
  case NG_DIST_CATEGORICAL:
    return ref_log_softmax(dist->dim, p, (size_t)a[0]);
  case NG_DIST_MULTI_DISCRETE:
    for (size_t c = 0, off = 0; c < dist->dim; off += dist->nvec[c], c++)
      s += ref_log_softmax(dist->nvec[c], p + off, (size_t)a[c]);
    return s;
  case NG_DIST_MULTI_BINARY: /* l a - log(1 + e^l) */
    for (size_t j = 0; j < dist->dim; j++) s += p[j] * a[j] - log(1.0 + exp(p[j]));
    return s;
  }
  return NAN;
}

static void check_batch_helpers(const arch_t *arch, uint64_t seed) {
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  ng_model_t *m = make_model(arch);
  if (!m) return;
  ng_dist_t dist = ng_model_dist(m);
  size_t n = ng_model_n_params(m), np = ng_model_n_dist_params(m), n_in = arch->n_in;
  size_t na = ng_dist_action_size(&dist);
  ng_model_ws_t *ws = NULL;
  NG_CHECK_OK(ng_model_ws_create(&ws, m, BATCH));
  double *theta = malloc(n * sizeof *theta), *theta_old = malloc(n * sizeof *theta_old);
  double *tp = malloc(n * sizeof *tp), *g = malloc(n * sizeof *g), *v = malloc(n * sizeof *v);
  double *x = malloc(BATCH * n_in * sizeof *x), *a = malloc(BATCH * na * sizeof *a);
  double *p_old = malloc(BATCH * np * sizeof *p_old), w[BATCH];
  size_t *idx = malloc((n < FD_MAX_COORDS ? n : FD_MAX_COORDS) * sizeof *idx);
  double *gsel = malloc(FD_MAX_COORDS * sizeof *gsel), *gfd = malloc(FD_MAX_COORDS * sizeof *gfd);
  random_theta(m, theta_old, &rng);
  for (size_t i = 0; i < n; i++) theta[i] = theta_old[i] + 0.2 * ng_rng_normal(&rng);
  random_vec(BATCH * n_in, x, 1.0, &rng);
  random_vec(BATCH, w, 1.0, &rng);
  random_vec(n, v, 1.0, &rng);
  NG_CHECK_OK(ng_model_forward(m, theta_old, ws, BATCH, x, p_old));
  sample_actions(m, p_old, BATCH, a, &rng);
  sums_ctx_t c = {m, ws, x, a, w, p_old};

  /* logp rows against the formula */
  {
    double lp[BATCH];
    NG_CHECK_OK(ng_model_forward(m, theta, ws, BATCH, x, NULL));
    NG_CHECK_OK(ng_model_logp(m, ws, BATCH, a, lp));
    const double *p = ng_model_ws_params(ws);
    for (size_t b = 0; b < BATCH; b++)
      NG_CHECK_CLOSE(lp[b], ref_logp(&dist, p + b * np, a + b * na), 1e-12, 1e-12);
  }
  /* KL of a model with itself is zero, with a zero gradient */
  {
    double kl = 1.0;
    memset(g, 0, n * sizeof *g);
    NG_CHECK_OK(ng_model_forward(m, theta_old, ws, BATCH, x, NULL));
    NG_CHECK_OK(ng_model_kl_sum(m, theta_old, ws, BATCH, p_old, &kl, g));
    NG_CHECK_CLOSE(kl, 0.0, 0.0, 1e-14);
    double gmax = 0.0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
    NG_CHECK_CLOSE(gmax, 0.0, 0.0, 1e-13);
  }

  static const char *names[] = {"logp", "kl", "entropy"};
  for (int which = SUM_LOGP; which <= SUM_ENTROPY; which++) {
    memset(g, 0, n * sizeof *g);
    helper_sum(&c, which, theta, g);
    size_t k = pick_coords(n, idx, &rng);
    for (size_t t = 0; t < k; t++) {
      size_t i = idx[t];
      memcpy(tp, theta, n * sizeof *tp);
      tp[i] = theta[i] + FD_H;
      double sp = helper_sum(&c, which, tp, NULL);
      tp[i] = theta[i] - FD_H;
      double sm = helper_sum(&c, which, tp, NULL);
      gfd[t] = (sp - sm) / (2.0 * FD_H);
      gsel[t] = g[i];
    }
    double err = ng_test_rel_err(k, gsel, gfd, 1e-3);
    NG_CHECK(err <= FD_RTOL);
    if (!(err <= FD_RTOL))
      fprintf(stderr, "  %s %s: coordinate rel err %.3g\n", arch->name, names[which], err);
    /* directional derivative along a random v covers every coordinate at once */
    for (size_t i = 0; i < n; i++) tp[i] = theta[i] + FD_H * v[i];
    double sp = helper_sum(&c, which, tp, NULL);
    for (size_t i = 0; i < n; i++) tp[i] = theta[i] - FD_H * v[i];
    double sm = helper_sum(&c, which, tp, NULL);
    double dd = (sp - sm) / (2.0 * FD_H), gv = dot(n, g, v);
    NG_CHECK_CLOSE(gv, dd, FD_RTOL, FD_RTOL);
  }

  free(theta);
  free(theta_old);
  free(tp);
  free(g);
  free(v);
  free(x);
  free(a);
  free(p_old);
  free(idx);
  free(gsel);
  free(gfd);
  ng_model_ws_destroy(ws);
  ng_model_destroy(m);
}

static void test_batch_helpers(void) {
  for (size_t i = 0; i < N_ARCHS; i++) check_batch_helpers(&ARCHS[i], 200 + i);
}

/* logp_vjp with w = NULL is weights 1; each helper accumulates into dtheta. */
static void test_helpers_accumulate(void) {
  const arch_t *arch = &ARCHS[0];
  ng_rng_t rng;
  ng_rng_seed(&rng, 7, 0);
  ng_model_t *m = make_model(arch);
  size_t n = ng_model_n_params(m), np = ng_model_n_dist_params(m);
  ng_model_ws_t *ws = NULL;
  NG_CHECK_OK(ng_model_ws_create(&ws, m, BATCH));
  double theta[64], g1[64] = {0}, g2[64] = {0}, x[BATCH * 3], a[BATCH * 2], ones[BATCH];
  double p[BATCH * 4];
  NG_CHECK(n <= 64 && np == 4);
  random_theta(m, theta, &rng);
  random_vec(BATCH * 3, x, 1.0, &rng);
  for (size_t b = 0; b < BATCH; b++) ones[b] = 1.0;
  NG_CHECK_OK(ng_model_forward(m, theta, ws, BATCH, x, p));
  sample_actions(m, p, BATCH, a, &rng);
  NG_CHECK_OK(ng_model_logp_vjp(m, theta, ws, BATCH, a, NULL, g1));
  NG_CHECK_OK(ng_model_logp_vjp(m, theta, ws, BATCH, a, ones, g2));
  NG_CHECK_VEC_CLOSE(n, g1, g2, 0.0);
  NG_CHECK_OK(ng_model_logp_vjp(m, theta, ws, BATCH, a, ones, g2));
  for (size_t i = 0; i < n; i++) g1[i] *= 2.0;
  NG_CHECK_VEC_CLOSE(n, g2, g1, EXACT_RTOL);
  double h1, h2;
  memset(g1, 0, sizeof g1);
  NG_CHECK_OK(ng_model_entropy_sum(m, theta, ws, BATCH, &h1, g1));
  memcpy(g2, g1, sizeof g1);
  NG_CHECK_OK(ng_model_entropy_sum(m, theta, ws, BATCH, &h2, g2));
  NG_CHECK(h1 == h2);
  for (size_t i = 0; i < n; i++) g1[i] *= 2.0;
  NG_CHECK_VEC_CLOSE(n, g2, g1, EXACT_RTOL);
  /* batch helpers on fewer rows than the forward see the first rows only */
  double lp_all[BATCH], lp_two[2];
  NG_CHECK_OK(ng_model_logp(m, ws, BATCH, a, lp_all));
  NG_CHECK_OK(ng_model_logp(m, ws, 2, a, lp_two));
  NG_CHECK(lp_two[0] == lp_all[0] && lp_two[1] == lp_all[1]);
  ng_model_ws_destroy(ws);
  ng_model_destroy(m);
}

/* ---- layout of P ------------------------------------------------------------------------ */

static void test_param_layout(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 11, 0);
  for (size_t t = 0; t < N_ARCHS; t++) {
    const arch_t *arch = &ARCHS[t];
    ng_model_t *m = make_model(arch);
    if (!m) continue;
    const ng_mlp_t *mlp = ng_model_mlp(m);
    ng_dist_t dist = ng_model_dist(m);
    size_t n = ng_model_n_params(m), np = ng_model_n_dist_params(m), n_in = arch->n_in;
    size_t d = arch->dim, n_mlp = ng_mlp_n_params(mlp), n_out = ng_mlp_n_out(mlp);
    int si = arch->kind == NG_DIST_GAUSSIAN && arch->logstd == NG_LOGSTD_STATE_INDEPENDENT;
    NG_CHECK(dist.kind == arch->kind && dist.dim == d);
    size_t np_want = arch->kind == NG_DIST_GAUSSIAN ? 2 * d : d;
    int md = arch->kind == NG_DIST_MULTI_DISCRETE;
    if (md) {
      np_want = 0;
      for (size_t i = 0; i < d; i++) np_want += arch->nvec[i];
    }
    NG_CHECK(np == np_want);
    /* the model's copy of the descriptor: its counts, and zeros wherever it has none */
    int canonical = 1;
    for (size_t i = 0; i < NG_DIST_MAX_COMPONENTS; i++)
      canonical &= dist.nvec[i] == (md && i < d ? arch->nvec[i] : 0);
    NG_CHECK(canonical);
    NG_CHECK(n_out == (si ? d : np));
    NG_CHECK(n == n_mlp + (si ? d : 0));
    NG_CHECK(ng_model_n_mlp_params(m) == n_mlp);
    NG_CHECK(ng_model_n_head_params(m) == (si ? d : 0));
    NG_CHECK(ng_model_n_in(m) == n_in);
    if (arch->kind == NG_DIST_GAUSSIAN) NG_CHECK(ng_model_logstd_mode(m) == arch->logstd);
    ng_model_ws_t *ws = NULL;
    ng_mlp_ws_t *mws = NULL;
    NG_CHECK_OK(ng_model_ws_create(&ws, m, BATCH));
    NG_CHECK(ng_model_ws_max_batch(ws) == BATCH);
    NG_CHECK_OK(ng_mlp_ws_create(&mws, mlp, BATCH));
    double *theta = malloc(n * sizeof *theta), *x = malloc(BATCH * n_in * sizeof *x);
    double *p = malloc(BATCH * np * sizeof *p), *y = malloc(BATCH * n_out * sizeof *y);
    random_theta(m, theta, &rng);
    random_vec(BATCH * n_in, x, 1.0, &rng);
    NG_CHECK_OK(ng_model_forward(m, theta, ws, BATCH, x, p));
    NG_CHECK_OK(ng_mlp_forward(mlp, theta, mws, BATCH, x, y));
    NG_CHECK(memcmp(p, ng_model_ws_params(ws), BATCH * np * sizeof *p) == 0);
    int same = 1;
    for (size_t b = 0; b < BATCH; b++)
      for (size_t j = 0; j < np; j++) {
        double want = j < n_out ? y[b * n_out + j] : theta[n_mlp + j - d];
        same &= p[b * np + j] == want;
      }
    NG_CHECK(same);
    /* the model's own MLP workspace holds that forward's outputs */
    NG_CHECK(memcmp(ng_mlp_ws_output(ng_model_ws_mlp(ws)), y, BATCH * n_out * sizeof *y) == 0);
    free(theta);
    free(x);
    free(p);
    free(y);
    ng_mlp_ws_destroy(mws);
    ng_model_ws_destroy(ws);
    ng_model_destroy(m);
  }
}

/* ---- the MLP inside: what fisher.c and kfac.c build on -------------------------------------- */

/* J^T dP split at the head: mlp.h's VJP of ng_model_mlp_cotangent(dP), run on
 * ng_model_ws_mlp(ws), is the model's VJP on theta[0, n_mlp) bit for bit (and, by central
 * differences of sum_b dP_b . P_b(theta), the gradient there); the head's parameters
 * theta[n_mlp, n) get dP's head columns summed over the rows. */
static void check_mlp_cotangent(const arch_t *a, uint64_t seed) {
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  ng_model_t *m = make_model(a);
  if (!m) return;
  const ng_mlp_t *mlp = ng_model_mlp(m);
  size_t n = ng_model_n_params(m), np = ng_model_n_dist_params(m), n_in = a->n_in;
  size_t n_mlp = ng_model_n_mlp_params(m), n_head = ng_model_n_head_params(m);
  size_t n_out = ng_mlp_n_out(mlp);
  ng_model_ws_t *ws = NULL;
  NG_CHECK_OK(ng_model_ws_create(&ws, m, BATCH));
  double *theta = malloc(n * sizeof *theta);
  double *g = calloc(n, sizeof *g), *g_mlp = calloc(n_mlp, sizeof *g_mlp);
  double *x = malloc(BATCH * n_in * sizeof *x), *dp = malloc(BATCH * np * sizeof *dp);
  double *dy = malloc(BATCH * n_out * sizeof *dy);
  random_theta(m, theta, &rng);
  random_vec(BATCH * n_in, x, 1.0, &rng);
  random_vec(BATCH * np, dp, 1.0, &rng);

  NG_CHECK_OK(ng_model_forward(m, theta, ws, BATCH, x, NULL));
  NG_CHECK_OK(ng_model_vjp(m, theta, ws, BATCH, dp, g));
  NG_CHECK_OK(ng_model_mlp_cotangent(m, BATCH, dp, dy));
  NG_CHECK_OK(ng_mlp_vjp(mlp, theta, ng_model_ws_mlp(ws), BATCH, dy, g_mlp, NULL));
  NG_CHECK(memcmp(g_mlp, g, n_mlp * sizeof *g) == 0);
  for (size_t j = 0; j < n_head; j++) {
    double want = 0.0;
    for (size_t b = 0; b < BATCH; b++) want += dp[b * np + n_out + j];
    NG_CHECK(g[n_mlp + j] == want);
  }

  double err = vjp_fd_err(m, ws, theta, x, dp, g_mlp, n_mlp, &rng);
  NG_CHECK(err <= FD_RTOL);
  if (!(err <= FD_RTOL)) fprintf(stderr, "  %s: MLP-part vjp rel err %.3g\n", a->name, err);

  free(theta);
  free(g);
  free(g_mlp);
  free(x);
  free(dp);
  free(dy);
  ng_model_ws_destroy(ws);
  ng_model_destroy(m);
}

static void test_mlp_cotangent(void) {
  for (size_t i = 0; i < N_ARCHS; i++) check_mlp_cotangent(&ARCHS[i], 300 + i);
}

/* ---- initialisation ---------------------------------------------------------------------- */

/* W (r x c) has orthonormal rows (r <= c) or columns, times gain. */
static double orthogonality_error(const double *w, size_t r, size_t c, double gain) {
  double err = 0.0;
  int rows = r <= c;
  size_t k = rows ? r : c, len = rows ? c : r;
  for (size_t i = 0; i < k; i++)
    for (size_t j = 0; j < k; j++) {
      double s = 0.0;
      for (size_t t = 0; t < len; t++)
        s += rows ? w[i * c + t] * w[j * c + t] : w[t * c + i] * w[t * c + j];
      err = fmax(err, fabs(s - (i == j ? gain * gain : 0.0)));
    }
  return err;
}

static void test_init(void) {
  const double hidden_gain = sqrt(2.0), out_gain = 0.01, log_std0 = -0.5;
  for (size_t t = 0; t < N_ARCHS; t++) {
    const arch_t *arch = &ARCHS[t];
    ng_model_t *m = make_model(arch);
    if (!m) continue;
    const ng_mlp_t *mlp = ng_model_mlp(m);
    size_t n = ng_model_n_params(m), L = ng_mlp_n_layers(mlp), d = arch->dim;
    double *theta = malloc(n * sizeof *theta), *theta2 = malloc(n * sizeof *theta2);
    for (size_t i = 0; i < n; i++) theta[i] = NAN;
    ng_rng_t rng, rng2;
    ng_rng_seed(&rng, 5, t);
    rng2 = rng;
    NG_CHECK_OK(ng_model_init(m, theta, hidden_gain, out_gain, log_std0, &rng));
    NG_CHECK(ng_all_finite(n, theta));
    NG_CHECK_OK(ng_model_init(m, theta2, hidden_gain, out_gain, log_std0, &rng2));
    NG_CHECK(memcmp(theta, theta2, n * sizeof *theta) == 0); /* deterministic */
    int gaussian_net = arch->kind == NG_DIST_GAUSSIAN && arch->logstd == NG_LOGSTD_NETWORK;
    for (size_t l = 0; l < L; l++) {
      size_t off = ng_mlp_layer_offset(mlp, l);
      size_t r = ng_mlp_size(mlp, l + 1), c = ng_mlp_size(mlp, l);
      double gain = l + 1 == L ? out_gain : hidden_gain;
      NG_CHECK_CLOSE(orthogonality_error(theta + off, r, c, gain), 0.0, 0.0, 1e-12 * gain * gain);
      for (size_t i = 0; i < r; i++) {
        double want = (gaussian_net && l + 1 == L && i >= d) ? log_std0 : 0.0;
        NG_CHECK(theta[off + r * c + i] == want);
      }
    }
    for (size_t i = ng_mlp_n_params(mlp); i < n; i++) NG_CHECK(theta[i] == log_std0);
    free(theta);
    free(theta2);
    ng_model_destroy(m);
  }
}

/* ---- bad inputs ---------------------------------------------------------------------------- */

static void test_bad_inputs(void) {
  ng_model_t *m = NULL;
  size_t hidden[2] = {4, 0};
  ng_dist_t gauss = {.kind = NG_DIST_GAUSSIAN, .dim = 2},
            bad = {.kind = NG_DIST_GAUSSIAN, .dim = 0};
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  NG_CHECK_STATUS(ng_model_create(NULL, 3, 1, hidden, NG_ACT_TANH, gauss, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_create(&m, 0, 1, hidden, NG_ACT_TANH, gauss, 0), NG_EINVAL);
  NG_CHECK(m == NULL);
  NG_CHECK_STATUS(ng_model_create(&m, 3, 1, NULL, NG_ACT_TANH, gauss, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_create(&m, 3, 2, hidden, NG_ACT_TANH, gauss, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_create(&m, 3, 1, hidden, NG_ACT_TANH, bad, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_create(&m, 3, 1, hidden, (ng_act_t)9, gauss, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_create(&m, 3, 1, hidden, NG_ACT_TANH, gauss, (ng_logstd_mode_t)7),
                  NG_EINVAL);
  NG_CHECK(m == NULL);
  /* invalid MultiDiscrete and MultiBinary descriptors */
  ng_dist_t md_count0 = {.kind = NG_DIST_MULTI_DISCRETE, .dim = 2, .nvec = {3, 0}};
  ng_dist_t md_many = {
      .kind = NG_DIST_MULTI_DISCRETE, .dim = NG_DIST_MAX_COMPONENTS + 1, .nvec = {2, 2}};
  ng_dist_t mb_zero = {.kind = NG_DIST_MULTI_BINARY, .dim = 0};
  NG_CHECK_STATUS(ng_model_create(&m, 3, 1, hidden, NG_ACT_TANH, md_count0, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_create(&m, 3, 1, hidden, NG_ACT_TANH, md_many, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_create(&m, 3, 1, hidden, NG_ACT_TANH, mb_zero, 0), NG_EINVAL);
  NG_CHECK(m == NULL);
  /* a head of logits ignores the log-std mode; a descriptor filled field by field with
   * counts it does not use comes back with them zeroed */
  NG_CHECK_OK(ng_model_create(&m, 3, 1, hidden, NG_ACT_RELU, cat, (ng_logstd_mode_t)7));
  ng_model_destroy(m);
  m = NULL;
  ng_dist_t mb_junk;
  memset(&mb_junk, 0x5a, sizeof mb_junk);
  mb_junk.kind = NG_DIST_MULTI_BINARY;
  mb_junk.dim = 5;
  NG_CHECK_OK(ng_model_create(&m, 3, 1, hidden, NG_ACT_RELU, mb_junk, (ng_logstd_mode_t)7));
  ng_dist_t kept = ng_model_dist(m);
  int zeroed = kept.kind == NG_DIST_MULTI_BINARY && kept.dim == 5;
  for (size_t i = 0; i < NG_DIST_MAX_COMPONENTS; i++) zeroed &= kept.nvec[i] == 0;
  NG_CHECK(zeroed);
  NG_CHECK(ng_model_n_dist_params(m) == 5 && ng_model_n_head_params(m) == 0);
  ng_model_destroy(m);
  m = NULL;
  NG_CHECK_OK(ng_model_create(&m, 3, 1, hidden, NG_ACT_RELU, gauss, NG_LOGSTD_STATE_INDEPENDENT));
  ng_model_destroy(NULL);
  ng_model_ws_destroy(NULL);

  ng_model_t *other = NULL;
  NG_CHECK_OK(ng_model_create(&other, 3, 1, hidden, NG_ACT_RELU, gauss, 0));
  ng_model_ws_t *ws = NULL, *ws_other = NULL;
  NG_CHECK_STATUS(ng_model_ws_create(&ws, m, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_ws_create(&ws, NULL, 4), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_ws_create(NULL, m, 4), NG_EINVAL);
  NG_CHECK_OK(ng_model_ws_create(&ws, m, 4));
  NG_CHECK_OK(ng_model_ws_create(&ws_other, other, 4));
  size_t n = ng_model_n_params(m);
  double theta[64], x[5 * 3], dp[5 * 4], v[64], g[64] = {0}, p[5 * 4], a[5 * 2], h;
  ng_rng_t rng;
  ng_rng_seed(&rng, 3, 0);
  NG_CHECK(n <= 64);
  random_theta(m, theta, &rng);
  random_vec(15, x, 1.0, &rng);
  random_vec(20, dp, 1.0, &rng);
  random_vec(n, v, 1.0, &rng);
  random_vec(10, a, 1.0, &rng);

  /* passes before any forward */
  NG_CHECK_STATUS(ng_model_vjp(m, theta, ws, 2, dp, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_jvp(m, theta, ws, 2, v, dp), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_logp(m, ws, 2, a, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_forward(m, theta, ws, 0, x, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_forward(m, theta, ws, 5, x, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_forward(NULL, theta, ws, 2, x, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_forward(m, NULL, ws, 2, x, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_forward(m, theta, NULL, 2, x, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_forward(m, theta, ws, 2, NULL, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_forward(m, theta, ws_other, 2, x, p), NG_EINVAL);
  /* NaN in theta (MLP part and head) and in X; ReLU must not swallow a NaN input */
  double keep = theta[0];
  theta[0] = NAN;
  NG_CHECK_STATUS(ng_model_forward(m, theta, ws, 2, x, p), NG_ENONFINITE);
  theta[0] = keep;
  keep = theta[n - 1];
  theta[n - 1] = INFINITY;
  NG_CHECK_STATUS(ng_model_forward(m, theta, ws, 2, x, p), NG_ENONFINITE);
  theta[n - 1] = keep;
  x[4] = NAN;
  NG_CHECK_STATUS(ng_model_forward(m, theta, ws, 2, x, p), NG_ENONFINITE);
  x[4] = 0.5;
  /* a failed forward leaves no usable state */
  NG_CHECK_STATUS(ng_model_vjp(m, theta, ws, 2, dp, g), NG_EINVAL);

  NG_CHECK_OK(ng_model_forward(m, theta, ws, 2, x, NULL));
  NG_CHECK_STATUS(ng_model_vjp(m, theta, ws, 3, dp, g), NG_EINVAL); /* more rows than forward */
  NG_CHECK_STATUS(ng_model_vjp(m, theta, ws, 0, dp, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_vjp(other, theta, ws, 2, dp, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_vjp(m, theta, ws, 2, NULL, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_vjp(m, theta, ws, 2, dp, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_jvp(m, theta, ws, 2, NULL, dp), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_vjp_sq(m, theta, ws, 2, dp, NULL), NG_EINVAL);
  dp[1] = NAN;
  NG_CHECK_STATUS(ng_model_vjp(m, theta, ws, 2, dp, g), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_model_vjp_sq(m, theta, ws, 2, dp, g), NG_ENONFINITE);
  dp[1] = 0.0;
  v[n - 1] = NAN;
  NG_CHECK_STATUS(ng_model_jvp(m, theta, ws, 2, v, dp), NG_ENONFINITE);
  v[n - 1] = 0.0;
  NG_CHECK_STATUS(ng_model_logp(m, ws, 2, NULL, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_logp_vjp(m, theta, ws, 2, a, NULL, NULL), NG_EINVAL);
  double w[2] = {1.0, NAN};
  NG_CHECK_STATUS(ng_model_logp_vjp(m, theta, ws, 2, a, w, g), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_model_kl_sum(m, theta, ws, 2, NULL, &h, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_kl_sum(m, theta, ws, 2, p, NULL, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_entropy_sum(m, theta, ws, 2, NULL, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_init(m, NULL, 1.0, 1.0, 0.0, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_init(m, theta, 1.0, 1.0, 0.0, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_init(m, theta, 1.0, NAN, 0.0, &rng), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_model_init(m, theta, 1.0, 1.0, INFINITY, &rng), NG_ENONFINITE);
  NG_CHECK(ng_model_n_params(NULL) == 0 && ng_model_mlp(NULL) == NULL);
  NG_CHECK(ng_model_n_mlp_params(NULL) == 0 && ng_model_n_head_params(NULL) == 0);
  NG_CHECK(ng_model_ws_mlp(NULL) == NULL);
  NG_CHECK_STATUS(ng_model_mlp_cotangent(NULL, 2, dp, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_mlp_cotangent(m, 2, NULL, p), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_mlp_cotangent(m, 2, dp, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_model_mlp_cotangent(m, 2, dp, dp), NG_EINVAL); /* no aliasing */

  ng_model_ws_destroy(ws);
  ng_model_ws_destroy(ws_other);
  ng_model_destroy(m);
  ng_model_destroy(other);
}

int main(void) {
  NG_TEST_RUN(test_jacobian_products);
  NG_TEST_RUN(test_batch_helpers);
  NG_TEST_RUN(test_helpers_accumulate);
  NG_TEST_RUN(test_param_layout);
  NG_TEST_RUN(test_mlp_cotangent);
  NG_TEST_RUN(test_init);
  NG_TEST_RUN(test_bad_inputs);
  NG_TEST_END();
}
