/* Fisher tests. The key one: F v equals the Hessian of the mean KL(p_theta_old || p_theta)
 * at theta_old, computed independently by differentiating the exact KL gradient. Then
 * F = E[score score^T] by Monte Carlo, F = (1/N) sum J^T M J from finite-difference
 * Jacobians and a hand-written M, the dense/diag/distance forms, sub-sampling, a reducer
 * that simulates two processes, allocation-free products and bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/fisher.h"
#include "natgrad/mlp.h"
#include "ng_test.h"
#include "ng_test_arch.h"

/* The KL Hessian by Richardson-extrapolated central differences of the exact gradient
 * along a unit direction: truncation ~h^4, rounding ~eps/h; 1e-6 relative is far above
 * both. ReLU nets use a much smaller step: the KL gradient jumps where a unit's
 * pre-activation crosses 0, so the step must stay clear of every kink (a shift of ~1e-6
 * crosses none for these seeds; a crossing would show as an error far above tolerance). */
#define HESS_H_TANH 1e-3
#define HESS_H_RELU 1e-6
#define HESS_RTOL 1e-6
/* Jacobians by central differences for the J^T M J reference. */
#define JAC_H 1e-6
#define JAC_RTOL 1e-7
/* Identities that hold up to rounding (symmetry, linearity, diag vs dense). */
#define EXACT_RTOL 1e-12
/* The factored and JVP/VJP paths: the same sums in another order. */
#define PATH_RTOL 1e-12
/* Monte Carlo: per-entry z-scores against a conservative standard error. */
#define MC_SAMPLES_PER_ROW 20000
#define MC_MAX_Z 6.0
#define MC_MAX_MEAN_Z2 2.0
#define BATCH 16

static const arch_t ARCHS[] = {
    {"3-(8)-2 gauss si tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"3-(8)-2 gauss net tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 2, NG_LOGSTD_NETWORK},
    {"3-(8)-3 cat tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_CATEGORICAL, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"3-(6)-2 gauss si relu", 3, 1, {6}, NG_ACT_RELU, NG_DIST_GAUSSIAN, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"3-(6)-4 cat relu", 3, 1, {6}, NG_ACT_RELU, NG_DIST_CATEGORICAL, 4,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"5-()-3 gauss si linear", 5, 0, {0}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"5-()-3 cat linear", 5, 0, {0}, NG_ACT_TANH, NG_DIST_CATEGORICAL, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"2-(5,4)-2 gauss net relu", 2, 2, {5, 4}, NG_ACT_RELU, NG_DIST_GAUSSIAN, 2,
     NG_LOGSTD_NETWORK},
    {"3-(8)-(3,2) multidiscrete tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_MULTI_DISCRETE, 2,
     NG_LOGSTD_STATE_INDEPENDENT, {3, 2}},
    {"3-(6)-(2,1,3) multidiscrete relu", 3, 1, {6}, NG_ACT_RELU, NG_DIST_MULTI_DISCRETE, 3,
     NG_LOGSTD_STATE_INDEPENDENT, {2, 1, 3}},
    {"5-()-(4,3) multidiscrete linear", 5, 0, {0}, NG_ACT_TANH, NG_DIST_MULTI_DISCRETE, 2,
     NG_LOGSTD_STATE_INDEPENDENT, {4, 3}},
    {"3-(8)-3 multibinary tanh", 3, 1, {8}, NG_ACT_TANH, NG_DIST_MULTI_BINARY, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"2-(5,4)-2 multibinary relu", 2, 2, {5, 4}, NG_ACT_RELU, NG_DIST_MULTI_BINARY, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"5-()-4 multibinary linear", 5, 0, {0}, NG_ACT_TANH, NG_DIST_MULTI_BINARY, 4,
     NG_LOGSTD_STATE_INDEPENDENT},
    /* large ones: products and the KL Hessian only (no dense F) */
    {"4-(64,64)-2 cat relu", 4, 2, {64, 64}, NG_ACT_RELU, NG_DIST_CATEGORICAL, 2,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"4-(64,64)-(3,2,4) multidiscrete relu", 4, 2, {64, 64}, NG_ACT_RELU,
     NG_DIST_MULTI_DISCRETE, 3, NG_LOGSTD_STATE_INDEPENDENT, {3, 2, 4}},
    {"8-(64,64)-6 multibinary tanh", 8, 2, {64, 64}, NG_ACT_TANH, NG_DIST_MULTI_BINARY, 6,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"11-(64,64)-3 gauss si tanh", 11, 2, {64, 64}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 3,
     NG_LOGSTD_STATE_INDEPENDENT},
    {"11-(64,64)-3 gauss net tanh", 11, 2, {64, 64}, NG_ACT_TANH, NG_DIST_GAUSSIAN, 3,
     NG_LOGSTD_NETWORK},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])
#define N_SMALL 14 /* ARCHS[0..N_SMALL) are small enough for a dense F */
/* Indices into ARCHS of the tests that pick one architecture. */
#define A_CAT4 4      /* 3-(6)-4 cat relu */
#define A_MD 8        /* 3-(8)-(3,2) multidiscrete tanh */
#define A_MD_RELU 9   /* 3-(6)-(2,1,3) multidiscrete relu */
#define A_MB 11       /* 3-(8)-3 multibinary tanh */
#define A_CAT_LARGE 14 /* 4-(64,64)-2 cat relu */

/* Every test runs twice (main): on the factored path (the default cache) and on the
 * JVP/VJP path (cache disabled). Every Fisher a test makes comes from make_fisher. */
static size_t g_cache_bytes = NG_FISHER_CACHE_BYTES_DEFAULT;
static int g_factored = 1; /* the path g_cache_bytes selects for these small batches */

static int make_fisher(ng_fisher_t **f, const ng_model_t *m, size_t max_batch) {
  return ng_fisher_create_ex(f, m, max_batch, g_cache_bytes);
}

/* Weights ~ N(0, 1.5 / fan_in), biases and log stds O(0.3): every nonlinearity matters. */
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

static void random_vec(size_t n, double *x, double scale, ng_rng_t *rng) {
  for (size_t i = 0; i < n; i++) x[i] = scale * ng_rng_normal(rng);
}

/* A random direction of Euclidean norm 1, so a step h moves theta by h whatever n is. */
static void random_unit(size_t n, double *x, ng_rng_t *rng) {
  double ss = 0.0;
  for (size_t i = 0; i < n; i++) {
    x[i] = ng_rng_normal(rng);
    ss += x[i] * x[i];
  }
  for (size_t i = 0; i < n; i++) x[i] /= sqrt(ss);
}

static double dot(size_t n, const double *x, const double *y) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

/* A model, its parameters, a batch of inputs and a Fisher at that point. */
typedef struct {
  const arch_t *arch;
  ng_model_t *m;
  ng_fisher_t *f;
  size_t n, np, n_in, batch;
  double *theta, *x;
} setup_t;

static int setup(setup_t *s, const arch_t *arch, size_t batch, uint64_t seed) {
  memset(s, 0, sizeof *s);
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  s->arch = arch;
  s->m = make_model(arch);
  if (!s->m) return 0;
  s->n = ng_model_n_params(s->m);
  s->np = ng_model_n_dist_params(s->m);
  s->n_in = arch->n_in;
  s->batch = batch;
  s->theta = malloc(s->n * sizeof *s->theta);
  s->x = malloc(batch * s->n_in * sizeof *s->x);
  random_theta(s->m, s->theta, &rng);
  random_vec(batch * s->n_in, s->x, 1.0, &rng);
  NG_CHECK_OK(make_fisher(&s->f, s->m, batch));
  NG_CHECK_OK(ng_fisher_set_point(s->f, s->theta, batch, s->x));
  NG_CHECK(ng_fisher_factored(s->f) == g_factored); /* the path this run means to test */
  return s->f != NULL;
}

static void teardown(setup_t *s) {
  ng_fisher_destroy(s->f);
  ng_model_destroy(s->m);
  free(s->theta);
  free(s->x);
}

/* ---- the key test: F v = Hessian of the mean KL at theta_old ------------------------------ */

/* grad = gradient of (1/B) sum_b KL(P_old_b || P_b(theta)) w.r.t. theta, P_old fixed. */
static void kl_grad(const setup_t *s, ng_model_ws_t *ws, const double *theta,
                    const double *p_old, double *grad) {
  double kl;
  memset(grad, 0, s->n * sizeof *grad);
  NG_CHECK_OK(ng_model_forward(s->m, theta, ws, s->batch, s->x, NULL));
  NG_CHECK_OK(ng_model_kl_sum(s->m, theta, ws, s->batch, p_old, &kl, grad));
  for (size_t i = 0; i < s->n; i++) grad[i] /= (double)s->batch;
}

/* out = (grad(theta + h v) - grad(theta - h v)) / 2h */
static void kl_grad_diff(const setup_t *s, ng_model_ws_t *ws, const double *p_old,
                         const double *v, double h, double *out, double *tp, double *gp) {
  size_t n = s->n;
  for (size_t i = 0; i < n; i++) tp[i] = s->theta[i] + h * v[i];
  kl_grad(s, ws, tp, p_old, gp);
  for (size_t i = 0; i < n; i++) tp[i] = s->theta[i] - h * v[i];
  kl_grad(s, ws, tp, p_old, out);
  for (size_t i = 0; i < n; i++) out[i] = (gp[i] - out[i]) / (2.0 * h);
}

static void test_fv_is_kl_hessian(void) {
  for (size_t t = 0; t < N_ARCHS; t++) {
    setup_t s;
    if (!setup(&s, &ARCHS[t], BATCH, 1000 + t)) continue;
    size_t n = s.n;
    ng_rng_t rng;
    ng_rng_seed(&rng, 2000 + t, 0);
    ng_model_ws_t *ws = NULL;
    NG_CHECK_OK(ng_model_ws_create(&ws, s.m, BATCH));
    double *p_old = malloc(BATCH * s.np * sizeof *p_old);
    double *v = malloc(n * sizeof *v), *fv = malloc(n * sizeof *fv);
    double *h1 = malloc(n * sizeof *h1), *h2 = malloc(n * sizeof *h2);
    double *tp = malloc(n * sizeof *tp), *gp = malloc(n * sizeof *gp);
    NG_CHECK_OK(ng_model_forward(s.m, s.theta, ws, BATCH, s.x, p_old));
    double h = s.arch->act == NG_ACT_RELU && s.arch->n_hidden > 0 ? HESS_H_RELU : HESS_H_TANH;
    for (int rep = 0; rep < 2; rep++) {
      random_unit(n, v, &rng);
      NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, fv));
      kl_grad_diff(&s, ws, p_old, v, h, h1, tp, gp);
      kl_grad_diff(&s, ws, p_old, v, h / 2, h2, tp, gp);
      for (size_t i = 0; i < n; i++) h2[i] = (4.0 * h2[i] - h1[i]) / 3.0; /* Richardson */
      double err = ng_test_rel_err(n, fv, h2, 1e-300);
      NG_CHECK(err <= HESS_RTOL);
      if (!(err <= HESS_RTOL)) fprintf(stderr, "  %s: F v vs KL Hessian: rel err %.3g\n",
                                       s.arch->name, err);
      /* and the KL gradient itself vanishes at theta_old: no first-order term */
      kl_grad(&s, ws, s.theta, p_old, gp);
      double gmax = 0.0;
      for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(gp[i]));
      NG_CHECK_CLOSE(gmax, 0.0, 0.0, 1e-14);
    }
    free(p_old);
    free(v);
    free(fv);
    free(h1);
    free(h2);
    free(tp);
    free(gp);
    ng_model_ws_destroy(ws);
    teardown(&s);
  }
}

/* ---- F = (1/N) sum_b J_b^T M_b J_b with finite-difference J and M written out here ------- */

/* Softmax blocks of a categorical (one) or MultiDiscrete row, written out here: block c
 * has comp_size(dist, c) logits. */
static size_t n_comps(const ng_dist_t *dist) {
  return dist->kind == NG_DIST_CATEGORICAL ? 1 : dist->dim;
}
static size_t comp_size(const ng_dist_t *dist, size_t c) {
  return dist->kind == NG_DIST_CATEGORICAL ? dist->dim : dist->nvec[c];
}

/* M(p) for one row, n_dp x n_dp, from the formulas (not from dist.c). */
static void ref_m(const ng_dist_t *dist, const double *p, double *mm) {
  size_t np = ng_dist_n_params(dist);
  memset(mm, 0, np * np * sizeof *mm);
  if (dist->kind == NG_DIST_GAUSSIAN) {
    size_t d = dist->dim;
    for (size_t j = 0; j < d; j++) {
      mm[j * np + j] = exp(-2.0 * p[d + j]);
      mm[(d + j) * np + d + j] = 2.0;
    }
    return;
  }
  if (dist->kind == NG_DIST_MULTI_BINARY) { /* p (1 - p) = 1 / (2 + e^l + e^-l) */
    for (size_t j = 0; j < np; j++) mm[j * np + j] = 1.0 / (2.0 + exp(p[j]) + exp(-p[j]));
    return;
  }
  for (size_t c = 0, off = 0; c < n_comps(dist); off += comp_size(dist, c), c++) {
    size_t k = comp_size(dist, c);
    const double *l = p + off;
    double mx = l[0], z = 0.0, pi[16];
    for (size_t j = 1; j < k; j++) mx = fmax(mx, l[j]);
    for (size_t j = 0; j < k; j++) z += (pi[j] = exp(l[j] - mx));
    for (size_t j = 0; j < k; j++) pi[j] /= z;
    for (size_t i = 0; i < k; i++)
      for (size_t j = 0; j < k; j++)
        mm[(off + i) * np + off + j] = (i == j ? pi[i] : 0.0) - pi[i] * pi[j];
  }
}

static void test_dense_is_jtmj(void) {
  for (size_t t = 0; t < N_SMALL; t++) {
    setup_t s;
    if (!setup(&s, &ARCHS[t], BATCH, 3000 + t)) continue;
    size_t n = s.n, np = s.np, B = s.batch;
    ng_dist_t dist = ng_model_dist(s.m);
    ng_model_ws_t *ws = NULL;
    NG_CHECK_OK(ng_model_ws_create(&ws, s.m, B));
    double *jac = malloc(B * np * n * sizeof *jac); /* jac[(b*np + k)*n + i] = dP_bk/dtheta_i */
    double *p0 = malloc(B * np * sizeof *p0), *pp = malloc(B * np * sizeof *pp);
    double *pm = malloc(B * np * sizeof *pm), *tp = malloc(n * sizeof *tp);
    double *fd = malloc(n * n * sizeof *fd), *fref = calloc(n * n, sizeof *fref);
    double mm[64], mj[8];
    NG_CHECK_OK(ng_model_forward(s.m, s.theta, ws, B, s.x, p0));
    for (size_t i = 0; i < n; i++) {
      memcpy(tp, s.theta, n * sizeof *tp);
      tp[i] += JAC_H;
      NG_CHECK_OK(ng_model_forward(s.m, tp, ws, B, s.x, pp));
      tp[i] = s.theta[i] - JAC_H;
      NG_CHECK_OK(ng_model_forward(s.m, tp, ws, B, s.x, pm));
      for (size_t r = 0; r < B * np; r++) jac[r * n + i] = (pp[r] - pm[r]) / (2.0 * JAC_H);
    }
    for (size_t b = 0; b < B; b++) {
      ref_m(&dist, p0 + b * np, mm);
      const double *jb = jac + b * np * n;
      for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < np; k++) {
          mj[k] = 0.0;
          for (size_t l = 0; l < np; l++) mj[k] += mm[k * np + l] * jb[l * n + i];
        }
        for (size_t j = 0; j < n; j++) {
          double sum = 0.0;
          for (size_t k = 0; k < np; k++) sum += jb[k * n + j] * mj[k];
          fref[j * n + i] += sum / (double)B;
        }
      }
    }
    NG_CHECK_OK(ng_fisher_dense(s.f, fd));
    double err = ng_test_rel_err(n * n, fd, fref, 1e-300);
    NG_CHECK(err <= JAC_RTOL);
    if (!(err <= JAC_RTOL))
      fprintf(stderr, "  %s: dense F vs J^T M J: rel err %.3g\n", s.arch->name, err);
    free(jac);
    free(p0);
    free(pp);
    free(pm);
    free(tp);
    free(fd);
    free(fref);
    ng_model_ws_destroy(ws);
    teardown(&s);
  }
}

/* ---- F = E[score score^T] by Monte Carlo ---------------------------------------------------- */

static void check_monte_carlo(const arch_t *arch, uint64_t seed) {
  enum { MC_ROWS = 4 };
  setup_t s;
  if (!setup(&s, arch, MC_ROWS, seed)) return;
  size_t n = s.n, np = s.np;
  ng_dist_t dist = ng_model_dist(s.m);
  size_t na = ng_dist_action_size(&dist);
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 1);
  ng_model_ws_t *ws1 = NULL;
  NG_CHECK_OK(ng_model_ws_create(&ws1, s.m, 1));
  double *sum = calloc(n * n, sizeof *sum), *sum2 = calloc(n * n, sizeof *sum2);
  double *score = malloc(n * sizeof *score), *fd = malloc(n * n * sizeof *fd);
  double p[16], a[8];
  /* score of one sample: grad_theta log p(a | x_b), by a batch-1 logp_vjp */
  for (size_t b = 0; b < MC_ROWS; b++) {
    NG_CHECK_OK(ng_model_forward(s.m, s.theta, ws1, 1, s.x + b * s.n_in, p));
    for (int k = 0; k < MC_SAMPLES_PER_ROW; k++) {
      NG_CHECK_OK(ng_dist_sample(&dist, p, &rng, a));
      memset(score, 0, n * sizeof *score);
      NG_CHECK_OK(ng_model_logp_vjp(s.m, s.theta, ws1, 1, a, NULL, score));
      for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++) {
          double q = score[i] * score[j];
          sum[i * n + j] += q;
          sum2[i * n + j] += q * q;
        }
    }
  }
  (void)np;
  (void)na;
  NG_CHECK_OK(ng_fisher_dense(s.f, fd));
  /* Each entry: the mean over S samples; its standard error from the pooled variance
   * around the grand mean (larger than the true, per-row variance: conservative). */
  double S = (double)(MC_ROWS * MC_SAMPLES_PER_ROW), max_z = 0.0, mean_z2 = 0.0;
  double mean_z2_wrong = 0.0;
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = i; j < n; j++) {
      double mean = sum[i * n + j] / S;
      double var = fmax(sum2[i * n + j] / S - mean * mean, 0.0);
      double se = sqrt(var / S) + 1e-12;
      double z = (mean - fd[i * n + j]) / se, zw = (mean - 1.1 * fd[i * n + j]) / se;
      max_z = fmax(max_z, fabs(z));
      mean_z2 += z * z;
      mean_z2_wrong += zw * zw;
      count++;
    }
  mean_z2 /= (double)count;
  mean_z2_wrong /= (double)count;
  NG_CHECK(max_z <= MC_MAX_Z);
  NG_CHECK(mean_z2 <= MC_MAX_MEAN_Z2);
  /* the test has power: a Fisher 10% too large is rejected */
  NG_CHECK(mean_z2_wrong > MC_MAX_MEAN_Z2);
  if (!(max_z <= MC_MAX_Z && mean_z2 <= MC_MAX_MEAN_Z2 && mean_z2_wrong > MC_MAX_MEAN_Z2))
    fprintf(stderr, "  %s: MC max |z| %.3g, mean z^2 %.3g, mean z^2 for 1.1 F %.3g\n",
            arch->name, max_z, mean_z2, mean_z2_wrong);
  free(sum);
  free(sum2);
  free(score);
  free(fd);
  ng_model_ws_destroy(ws1);
  teardown(&s);
}

static void test_monte_carlo(void) {
  check_monte_carlo(&ARCHS[0], 41); /* Gaussian, state-independent log std */
  check_monte_carlo(&ARCHS[1], 42); /* Gaussian, network log std */
  check_monte_carlo(&ARCHS[2], 43); /* categorical */
  check_monte_carlo(&ARCHS[A_MD], 44);
  check_monte_carlo(&ARCHS[A_MB], 45);
}

/* ---- dense, diagonal, linearity, damping ------------------------------------------------- */

/* The head's block of F (theta[ng_model_n_mlp_params, n), model.h): exactly 2 I, with no
 * cross terms to the MLP's parameters, as model.h promises and fisher.c's factored path and
 * K-FAC take for granted. On the JVP/VJP path it comes out of the model's own passes. */
static void test_head_block(void) {
  for (size_t t = 0; t < N_SMALL; t++) {
    setup_t s;
    if (!setup(&s, &ARCHS[t], BATCH, 4000 + t)) continue;
    size_t n = s.n, n_mlp = ng_model_n_mlp_params(s.m);
    int si = s.arch->kind == NG_DIST_GAUSSIAN && s.arch->logstd == NG_LOGSTD_STATE_INDEPENDENT;
    NG_CHECK(n - n_mlp == (si ? s.arch->dim : 0));
    double *F = malloc(n * n * sizeof *F);
    NG_CHECK_OK(ng_fisher_dense(s.f, F));
    int exact = 1;
    for (size_t i = n_mlp; i < n; i++)
      for (size_t j = 0; j < n; j++) exact &= F[i * n + j] == (i == j ? 2.0 : 0.0);
    NG_CHECK(exact);
    if (!exact) fprintf(stderr, "  %s: head block of F is not 2 I\n", s.arch->name);
    free(F);
    teardown(&s);
  }
}

static void test_dense_properties(void) {
  for (size_t t = 0; t < N_SMALL; t++) {
    setup_t s;
    if (!setup(&s, &ARCHS[t], BATCH, 4000 + t)) continue;
    size_t n = s.n;
    ng_rng_t rng;
    ng_rng_seed(&rng, 4100 + t, 0);
    double *fd = malloc(n * n * sizeof *fd), *chol = malloc(n * n * sizeof *chol);
    double *e = calloc(n, sizeof *e), *col = malloc(n * sizeof *col);
    double *diag = malloc(n * sizeof *diag), *dd = malloc(n * sizeof *dd);
    double *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w), *u = malloc(n * sizeof *u);
    double *fv = malloc(n * sizeof *fv), *fw = malloc(n * sizeof *fw), *fu = malloc(n * sizeof *fu);
    NG_CHECK_OK(ng_fisher_dense(s.f, fd));

    int symmetric = 1;
    double max_diag = 0.0;
    for (size_t i = 0; i < n; i++) {
      max_diag = fmax(max_diag, fd[i * n + i]);
      for (size_t j = 0; j < n; j++) symmetric &= fd[i * n + j] == fd[j * n + i];
    }
    NG_CHECK(symmetric);
    /* column i is F e_i */
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
      e[i] = 1.0;
      NG_CHECK_OK(ng_fisher_apply(s.f, e, 0.0, col));
      e[i] = 0.0;
      for (size_t j = 0; j < n; j++)
        worst = fmax(worst, fabs(col[j] - fd[j * n + i]) / max_diag);
    }
    NG_CHECK(worst <= EXACT_RTOL);
    /* positive semidefinite: Cholesky of F + tiny I, and v^T F v >= 0 */
    memcpy(chol, fd, n * n * sizeof *chol);
    NG_CHECK_OK(ng_cholesky_factor(n, chol, 1e-10 * max_diag));
    for (int k = 0; k < 50; k++) {
      random_vec(n, v, 1.0, &rng);
      double q;
      NG_CHECK_OK(ng_metric_distance(n, fd, v, &q));
      NG_CHECK(q >= -1e-13 * max_diag * dot(n, v, v));
    }
    /* the exact diagonal */
    NG_CHECK_OK(ng_fisher_diag(s.f, diag));
    for (size_t i = 0; i < n; i++) dd[i] = fd[i * n + i];
    NG_CHECK_VEC_CLOSE(n, diag, dd, EXACT_RTOL);
    int nonneg = 1;
    for (size_t i = 0; i < n; i++) nonneg &= diag[i] >= 0.0;
    NG_CHECK(nonneg);
    /* linear in v */
    random_vec(n, v, 1.0, &rng);
    random_vec(n, w, 1.0, &rng);
    const double alpha = 0.7, beta = -1.9;
    for (size_t i = 0; i < n; i++) u[i] = alpha * v[i] + beta * w[i];
    NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, fv));
    NG_CHECK_OK(ng_fisher_apply(s.f, w, 0.0, fw));
    NG_CHECK_OK(ng_fisher_apply(s.f, u, 0.0, fu));
    for (size_t i = 0; i < n; i++) col[i] = alpha * fv[i] + beta * fw[i];
    NG_CHECK(ng_test_rel_err(n, fu, col, 1e-300) <= EXACT_RTOL);
    /* the dense F times v */
    for (size_t i = 0; i < n; i++) col[i] = dot(n, fd + i * n, v);
    NG_CHECK(ng_test_rel_err(n, fv, col, 1e-300) <= EXACT_RTOL);
    /* damping adds lambda v */
    const double lambda = 0.37;
    NG_CHECK_OK(ng_fisher_apply(s.f, v, lambda, fw));
    for (size_t i = 0; i < n; i++) col[i] = fv[i] + lambda * v[i];
    NG_CHECK(ng_test_rel_err(n, fw, col, 1e-300) <= 1e-15);
    /* and the operator form is the damped product */
    ng_linop_t op;
    NG_CHECK_OK(ng_fisher_linop(s.f, lambda, &op));
    NG_CHECK(op.n == n);
    NG_CHECK_OK(op.apply(op.ctx, v, fu));
    NG_CHECK(memcmp(fu, fw, n * sizeof *fu) == 0);
    /* repeated products at one point are bit for bit identical */
    NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, fu));
    NG_CHECK(memcmp(fu, fv, n * sizeof *fu) == 0);

    free(fd);
    free(chol);
    free(e);
    free(col);
    free(diag);
    free(dd);
    free(v);
    free(w);
    free(u);
    free(fv);
    free(fw);
    free(fu);
    teardown(&s);
  }
}

/* The diagonal on a big model, against products with unit vectors on a sample of coords. */
static void test_diag_large(void) {
  setup_t s;
  if (!setup(&s, &ARCHS[N_ARCHS - 1], BATCH, 4500)) return;
  size_t n = s.n;
  double *diag = malloc(n * sizeof *diag), *e = calloc(n, sizeof *e), *col = malloc(n * sizeof *col);
  NG_CHECK_OK(ng_fisher_diag(s.f, diag));
  ng_rng_t rng;
  ng_rng_seed(&rng, 4501, 0);
  for (int k = 0; k < 20; k++) {
    size_t i = k < 10 ? n - 1 - (size_t)k : (size_t)ng_rng_below(&rng, n);
    e[i] = 1.0;
    NG_CHECK_OK(ng_fisher_apply(s.f, e, 0.0, col));
    e[i] = 0.0;
    NG_CHECK_CLOSE(diag[i], col[i], EXACT_RTOL, 1e-300);
  }
  free(diag);
  free(e);
  free(col);
  teardown(&s);
}

/* ---- the metric distance ~ 2 KL ------------------------------------------------------------ */

static void test_distance(void) {
  for (size_t t = 0; t < N_ARCHS; t++) {
    setup_t s;
    if (!setup(&s, &ARCHS[t], BATCH, 5000 + t)) continue;
    size_t n = s.n;
    ng_rng_t rng;
    ng_rng_seed(&rng, 5100 + t, 0);
    ng_model_ws_t *ws = NULL;
    NG_CHECK_OK(ng_model_ws_create(&ws, s.m, BATCH));
    double *d = malloc(n * sizeof *d), *fdv = malloc(n * sizeof *fdv), *tp = malloc(n * sizeof *tp);
    double *p_old = malloc(BATCH * s.np * sizeof *p_old);
    random_unit(n, d, &rng);
    double dfd;
    NG_CHECK_OK(ng_fisher_distance(s.f, d, &dfd));
    NG_CHECK_OK(ng_fisher_apply(s.f, d, 0.0, fdv));
    NG_CHECK_CLOSE(dfd, dot(n, d, fdv), EXACT_RTOL, 0.0);
    NG_CHECK(dfd > 0.0);
    NG_CHECK_OK(ng_model_forward(s.m, s.theta, ws, BATCH, s.x, p_old));
    /* Two steps only: below ~1e-4 the KL itself (~1e-9 here) nears the absolute rounding
     * floor of the categorical closed form (sum pi_p (log pi_p - log pi_q), ~1e-16 per
     * term), and the ratio then measures rounding, not the metric. */
    const double eps[2] = {1e-3, 1e-4};
    double dev[2];
    for (int k = 0; k < 2; k++) {
      for (size_t i = 0; i < n; i++) tp[i] = s.theta[i] + eps[k] * d[i];
      double kl;
      NG_CHECK_OK(ng_model_forward(s.m, tp, ws, BATCH, s.x, NULL));
      NG_CHECK_OK(ng_model_kl_sum(s.m, tp, ws, BATCH, p_old, &kl, NULL));
      double ratio = 2.0 * (kl / BATCH) / (eps[k] * eps[k] * dfd);
      dev[k] = fabs(ratio - 1.0);
    }
    /* 2 KL = eps^2 d^T F d + O(eps^3): the deviation shrinks about tenfold per step */
    NG_CHECK(dev[0] <= 1e-2);
    NG_CHECK(dev[1] <= 1e-3);
    NG_CHECK(dev[1] < 0.5 * dev[0]);
    if (!(dev[0] <= 1e-2 && dev[1] <= 1e-3 && dev[1] < 0.5 * dev[0]))
      fprintf(stderr, "  %s: |2KL/dFd - 1| = %.3g %.3g\n", s.arch->name, dev[0], dev[1]);
    free(d);
    free(fdv);
    free(tp);
    free(p_old);
    ng_model_ws_destroy(ws);
    teardown(&s);
  }
}

/* ---- sub-sampling ---------------------------------------------------------------------------- */

static void test_subsample(void) {
  enum { SB = 6, SUB = 3 };
  const arch_t *arch = &ARCHS[2];
  setup_t s;
  if (!setup(&s, arch, SB, 6000)) return;
  size_t n = s.n, n_in = s.n_in;
  ng_rng_t rng, rng2;
  ng_rng_seed(&rng, 6001, 0);
  double *v = malloc(n * sizeof *v), *full = malloc(n * sizeof *full);
  double *sub = malloc(n * sizeof *sub), *sub2 = malloc(n * sizeof *sub2);
  double *ref = malloc(n * sizeof *ref), xs[SUB * 8];
  random_vec(n, v, 1.0, &rng);
  NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, full));

  /* n_sub = batch: every row once, so the full product (up to summation order) */
  NG_CHECK_OK(ng_fisher_set_point_subsample(s.f, s.theta, SB, s.x, SB, &rng));
  NG_CHECK(ng_fisher_batch(s.f) == SB);
  NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, sub));
  NG_CHECK(ng_test_rel_err(n, sub, full, 1e-300) <= EXACT_RTOL);

  /* a fixed rng gives the same rows: bit for bit the same product */
  ng_rng_seed(&rng, 77, 0);
  rng2 = rng;
  NG_CHECK_OK(ng_fisher_set_point_subsample(s.f, s.theta, SB, s.x, SUB, &rng));
  NG_CHECK(ng_fisher_batch(s.f) == SUB);
  NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, sub));
  NG_CHECK_OK(ng_fisher_set_point_subsample(s.f, s.theta, SB, s.x, SUB, &rng2));
  NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, sub2));
  NG_CHECK(memcmp(sub, sub2, n * sizeof *sub) == 0);

  /* its rows are a subset: exactly one of the C(6,3) row sets gives the same product */
  ng_fisher_t *g = NULL;
  NG_CHECK_OK(make_fisher(&g, s.m, SB));
  int matches = 0;
  double closest_other = INFINITY;
  for (size_t i = 0; i < SB; i++)
    for (size_t j = i + 1; j < SB; j++)
      for (size_t k = j + 1; k < SB; k++) {
        memcpy(xs, s.x + i * n_in, n_in * sizeof *xs);
        memcpy(xs + n_in, s.x + j * n_in, n_in * sizeof *xs);
        memcpy(xs + 2 * n_in, s.x + k * n_in, n_in * sizeof *xs);
        NG_CHECK_OK(ng_fisher_set_point(g, s.theta, SUB, xs));
        NG_CHECK_OK(ng_fisher_apply(g, v, 0.0, ref));
        double err = ng_test_rel_err(n, sub, ref, 1e-300);
        if (err <= EXACT_RTOL)
          matches++;
        else
          closest_other = fmin(closest_other, err);
      }
  NG_CHECK(matches == 1);
  NG_CHECK(closest_other > 1e-6);

  /* n_sub = 1 picks each row with probability 1/batch */
  enum { DRAWS = 3000 };
  double single[SB][64];
  NG_CHECK(n <= 64);
  for (size_t b = 0; b < SB; b++) {
    NG_CHECK_OK(ng_fisher_set_point(g, s.theta, 1, s.x + b * n_in));
    NG_CHECK_OK(ng_fisher_apply(g, v, 0.0, single[b]));
  }
  int counts[SB] = {0}, unmatched = 0;
  for (int k = 0; k < DRAWS; k++) {
    NG_CHECK_OK(ng_fisher_set_point_subsample(s.f, s.theta, SB, s.x, 1, &rng));
    NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, sub));
    int which = -1;
    for (size_t b = 0; b < SB; b++)
      if (memcmp(sub, single[b], n * sizeof *sub) == 0) which = (int)b;
    if (which < 0)
      unmatched++;
    else
      counts[which]++;
  }
  NG_CHECK(unmatched == 0);
  const double expect = (double)DRAWS / SB, sd = sqrt(DRAWS * (1.0 / SB) * (1.0 - 1.0 / SB));
  for (size_t b = 0; b < SB; b++) NG_CHECK(fabs(counts[b] - expect) <= 5.0 * sd);

  ng_fisher_destroy(g);
  free(v);
  free(full);
  free(sub);
  free(sub2);
  free(ref);
  teardown(&s);
}

/* ---- a reducer that simulates two processes --------------------------------------------------
 * Process B runs first with a recording identity reducer: it keeps each buffer it is asked
 * to reduce. Process A then runs the same sequence of calls with a reducer that adds B's
 * recorded buffers in order, which is what an allreduce over {A, B} would give A. */
typedef struct fake_allreduce {
  const struct fake_allreduce *peer; /* NULL: record (process B); else add peer's records */
  double log[4096];
  size_t len, pos;
  int calls;
} fake_allreduce_t;

static int fake_sum(void *ctx, double *buf, size_t n) {
  fake_allreduce_t *r = ctx;
  r->calls++;
  if (!r->peer) {
    if (r->len + n > sizeof r->log / sizeof r->log[0]) return NG_ERANGE;
    memcpy(r->log + r->len, buf, n * sizeof *buf);
    r->len += n;
    return NG_OK;
  }
  if (r->pos + n > r->peer->len) return NG_ERANGE;
  for (size_t i = 0; i < n; i++) buf[i] += r->peer->log[r->pos + i];
  r->pos += n;
  return NG_OK;
}

static void test_reducer_two_processes(void) {
  for (size_t t = 0; t < 3; t++) {
    setup_t s;
    if (!setup(&s, &ARCHS[t], BATCH, 7000 + t)) continue;
    size_t n = s.n, half = BATCH / 2 - 1; /* uneven shards: 7 and 9 rows */
    NG_CHECK(3 * n + 2 <= 4096);
    ng_rng_t rng;
    ng_rng_seed(&rng, 7100 + t, 0);
    double *v = malloc(n * sizeof *v), *whole = malloc(n * sizeof *whole);
    double *part = malloc(n * sizeof *part), *dwhole = malloc(n * sizeof *dwhole);
    double *dpart = malloc(n * sizeof *dpart);
    random_vec(n, v, 1.0, &rng);
    const double lambda = 0.01;
    NG_CHECK_OK(ng_fisher_apply(s.f, v, lambda, whole));
    NG_CHECK_OK(ng_fisher_diag(s.f, dwhole));
    double dist_whole;
    NG_CHECK_OK(ng_fisher_distance(s.f, v, &dist_whole));

    /* both processes on this run's path, then B on the other path: the sequence of
     * reductions does not depend on the path */
    for (int mixed = 0; mixed < 2; mixed++) {
      fake_allreduce_t *rb = calloc(1, sizeof *rb), *ra = calloc(1, sizeof *ra);
      ra->peer = rb;
      ng_reducer_t red_b = {fake_sum, rb}, red_a = {fake_sum, ra};
      ng_fisher_t *fa = NULL, *fb = NULL;
      NG_CHECK_OK(make_fisher(&fa, s.m, BATCH));
      size_t other = g_cache_bytes ? 0 : NG_FISHER_CACHE_BYTES_DEFAULT;
      NG_CHECK_OK(ng_fisher_create_ex(&fb, s.m, BATCH, mixed ? other : g_cache_bytes));
      NG_CHECK_OK(ng_fisher_set_reducer(fb, &red_b));
      NG_CHECK_OK(ng_fisher_set_reducer(fa, &red_a));
      double dist_b, dist_a;
      /* process B: rows [half, BATCH) */
      NG_CHECK_OK(ng_fisher_set_point(fb, s.theta, BATCH - half, s.x + half * s.n_in));
      NG_CHECK(ng_fisher_factored(fb) == (mixed ? !g_factored : g_factored));
      NG_CHECK(rb->calls == 1); /* the row count, once */
      NG_CHECK_OK(ng_fisher_apply(fb, v, lambda, part));
      NG_CHECK(rb->calls == 2); /* one reduction per product */
      NG_CHECK_OK(ng_fisher_diag(fb, dpart));
      NG_CHECK(rb->calls == 3);
      NG_CHECK_OK(ng_fisher_distance(fb, v, &dist_b));
      NG_CHECK(rb->calls == 4);
      /* process A: rows [0, half) */
      NG_CHECK_OK(ng_fisher_set_point(fa, s.theta, half, s.x));
      NG_CHECK(ng_fisher_batch(fa) == half);
      NG_CHECK_OK(ng_fisher_apply(fa, v, lambda, part));
      NG_CHECK_OK(ng_fisher_diag(fa, dpart));
      NG_CHECK_OK(ng_fisher_distance(fa, v, &dist_a));
      NG_CHECK(ra->calls == 4 && ra->pos == rb->len);
      NG_CHECK(ng_test_rel_err(n, part, whole, 1e-300) <= EXACT_RTOL);
      NG_CHECK(ng_test_rel_err(n, dpart, dwhole, 1e-300) <= EXACT_RTOL);
      NG_CHECK_CLOSE(dist_a, dist_whole, EXACT_RTOL, 0.0);
      /* a failing reducer's status comes back */
      NG_CHECK_STATUS(ng_fisher_apply(fa, v, lambda, part), NG_ERANGE);
      ng_fisher_destroy(fa);
      ng_fisher_destroy(fb);
      free(ra);
      free(rb);
    }
    free(v);
    free(whole);
    free(part);
    free(dwhole);
    free(dpart);
    teardown(&s);
  }
}

/* ---- no allocation after create; the product counter ------------------------------------------ */

static long alloc_count = 0;
static void *count_malloc(size_t n) {
  alloc_count++;
  return malloc(n);
}
static void *count_calloc(size_t c, size_t n) {
  alloc_count++;
  return calloc(c, n);
}
static void *count_realloc(void *p, size_t n) {
  alloc_count++;
  return realloc(p, n);
}

static void test_no_alloc_and_counter(void) {
  setup_t s;
  if (!setup(&s, &ARCHS[0], BATCH, 8000)) return;
  size_t n = s.n;
  double *v = calloc(n, sizeof *v), *out = malloc(n * sizeof *out);
  double *dense = malloc(n * n * sizeof *dense);
  v[0] = 1.0;
  ng_rng_t rng;
  ng_rng_seed(&rng, 8001, 0);
  unsigned long p0 = ng_fisher_products(s.f);
  NG_CHECK(p0 == 0);
  NG_CHECK_OK(ng_set_allocator(count_malloc, count_calloc, count_realloc, free));
  alloc_count = 0;
  double d;
  NG_CHECK_OK(ng_fisher_set_point(s.f, s.theta, BATCH, s.x));
  NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.1, out));
  NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, out));
  NG_CHECK_OK(ng_fisher_distance(s.f, v, &d));
  NG_CHECK_OK(ng_fisher_dense(s.f, dense));
  NG_CHECK_OK(ng_fisher_diag(s.f, out));
  NG_CHECK_OK(ng_fisher_set_point_subsample(s.f, s.theta, BATCH, s.x, 5, &rng));
  NG_CHECK_OK(ng_fisher_apply(s.f, v, 0.0, out));
  NG_CHECK(alloc_count == 0);
  NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
  NG_CHECK(ng_fisher_products(s.f) == 2 + 1 + n + 1);
  NG_CHECK(ng_fisher_n(s.f) == n);
  NG_CHECK(ng_fisher_batch(s.f) == 5);
  free(v);
  free(out);
  free(dense);
  teardown(&s);
}

/* ---- bad inputs -------------------------------------------------------------------------------- */

static void test_bad_inputs(void) {
  setup_t s;
  if (!setup(&s, &ARCHS[0], BATCH, 9000)) return;
  size_t n = s.n;
  ng_rng_t rng;
  ng_rng_seed(&rng, 9001, 0);
  double *v = malloc(n * sizeof *v), *out = malloc(n * sizeof *out);
  double *dense = malloc(n * n * sizeof *dense);
  random_vec(n, v, 1.0, &rng);
  ng_fisher_t *f = NULL;
  NG_CHECK_STATUS(ng_fisher_create(NULL, s.m, 4), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_create(&f, NULL, 4), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_create(&f, s.m, 0), NG_EINVAL);
  NG_CHECK(f == NULL);
  ng_fisher_destroy(NULL);
  NG_CHECK_OK(make_fisher(&f, s.m, 4));
  /* nothing works before a point is set */
  double d;
  NG_CHECK(ng_fisher_batch(f) == 0);
  NG_CHECK_STATUS(ng_fisher_apply(f, v, 0.0, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_dense(f, dense), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_diag(f, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_distance(f, v, &d), NG_EINVAL);
  /* set_point */
  NG_CHECK_STATUS(ng_fisher_set_point(NULL, s.theta, 4, s.x), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_point(f, NULL, 4, s.x), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_point(f, s.theta, 4, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_point(f, s.theta, 0, s.x), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_point(f, s.theta, 5, s.x), NG_EINVAL);
  double keep = s.theta[n - 1];
  s.theta[n - 1] = NAN;
  NG_CHECK_STATUS(ng_fisher_set_point(f, s.theta, 4, s.x), NG_ENONFINITE);
  s.theta[n - 1] = keep;
  keep = s.x[5];
  s.x[5] = INFINITY;
  NG_CHECK_STATUS(ng_fisher_set_point(f, s.theta, 4, s.x), NG_ENONFINITE);
  NG_CHECK(ng_fisher_batch(f) == 0);
  NG_CHECK_STATUS(ng_fisher_apply(f, v, 0.0, out), NG_EINVAL); /* the point was not set */
  s.x[5] = keep;
  /* subsample */
  NG_CHECK_STATUS(ng_fisher_set_point_subsample(f, s.theta, 4, s.x, 0, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_point_subsample(f, s.theta, 4, s.x, 5, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_point_subsample(f, s.theta, 5, s.x, 2, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_point_subsample(f, s.theta, 4, s.x, 2, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_point_subsample(f, s.theta, 0, s.x, 0, &rng), NG_EINVAL);
  /* products */
  NG_CHECK_OK(ng_fisher_set_point(f, s.theta, 4, s.x));
  NG_CHECK_STATUS(ng_fisher_apply(NULL, v, 0.0, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_apply(f, NULL, 0.0, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_apply(f, v, 0.0, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_apply(f, v, 0.0, v), NG_EINVAL); /* aliasing */
  NG_CHECK_STATUS(ng_fisher_apply(f, v, -1.0, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_apply(f, v, NAN, out), NG_ENONFINITE);
  v[3] = NAN;
  NG_CHECK_STATUS(ng_fisher_apply(f, v, 0.0, out), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_fisher_distance(f, v, &d), NG_ENONFINITE);
  v[3] = 0.5;
  ng_linop_t op;
  NG_CHECK_STATUS(ng_fisher_linop(NULL, 0.0, &op), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_linop(f, 0.0, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_linop(f, -0.1, &op), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_linop(f, INFINITY, &op), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_fisher_distance(f, NULL, &d), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_distance(f, v, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_dense(f, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_diag(f, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_fisher_set_reducer(NULL, NULL), NG_EINVAL);
  NG_CHECK_OK(ng_fisher_set_reducer(f, NULL));
  NG_CHECK_OK(ng_fisher_apply(f, v, 0.0, out));
  NG_CHECK(ng_fisher_n(NULL) == 0 && ng_fisher_batch(NULL) == 0 && ng_fisher_products(NULL) == 0);
  ng_fisher_destroy(f);
  free(v);
  free(out);
  free(dense);
  teardown(&s);
}

/* ---- the two paths against each other ------------------------------------------------------ */

/* Products, distances, diagonals and (small models) dense F on the factored path equal the
 * JVP/VJP path's up to rounding, on every architecture. */
static void test_paths_agree(void) {
  for (size_t t = 0; t < N_ARCHS; t++) {
    setup_t s;
    if (!setup(&s, &ARCHS[t], BATCH, 11000 + t)) continue;
    size_t n = s.n;
    ng_fisher_t *fa = NULL, *fj = NULL;
    NG_CHECK_OK(ng_fisher_create_ex(&fa, s.m, BATCH, NG_FISHER_CACHE_BYTES_DEFAULT));
    NG_CHECK_OK(ng_fisher_create_ex(&fj, s.m, BATCH, 0));
    NG_CHECK_OK(ng_fisher_set_point(fa, s.theta, BATCH, s.x));
    NG_CHECK_OK(ng_fisher_set_point(fj, s.theta, BATCH, s.x));
    NG_CHECK(ng_fisher_factored(fa) == 1 && ng_fisher_factored(fj) == 0);
    NG_CHECK(ng_fisher_cache_rows(fa) == BATCH && ng_fisher_cache_rows(fj) == 0);
    ng_rng_t rng;
    ng_rng_seed(&rng, 11100 + t, 0);
    double *v = malloc(n * sizeof *v), *oa = malloc(n * sizeof *oa), *oj = malloc(n * sizeof *oj);
    double worst = 0.0;
    for (int rep = 0; rep < 3; rep++) {
      random_vec(n, v, 1.0, &rng);
      NG_CHECK_OK(ng_fisher_apply(fa, v, 0.0, oa));
      NG_CHECK_OK(ng_fisher_apply(fj, v, 0.0, oj));
      worst = fmax(worst, ng_test_rel_err(n, oa, oj, 1e-300));
      double da, dj;
      NG_CHECK_OK(ng_fisher_distance(fa, v, &da));
      NG_CHECK_OK(ng_fisher_distance(fj, v, &dj));
      NG_CHECK_CLOSE(da, dj, PATH_RTOL, 0.0);
      NG_CHECK_CLOSE(da, dot(n, v, oa), PATH_RTOL, 0.0);
    }
    NG_CHECK(worst <= PATH_RTOL);
    if (!(worst <= PATH_RTOL))
      fprintf(stderr, "  %s: factored vs JVP/VJP product: rel err %.3g\n", s.arch->name, worst);
    NG_CHECK_OK(ng_fisher_diag(fa, oa));
    NG_CHECK_OK(ng_fisher_diag(fj, oj));
    NG_CHECK(ng_test_rel_err(n, oa, oj, 1e-300) <= PATH_RTOL);
    if (t < N_SMALL) {
      double *da = malloc(n * n * sizeof *da), *dj = malloc(n * n * sizeof *dj);
      NG_CHECK_OK(ng_fisher_dense(fa, da));
      NG_CHECK_OK(ng_fisher_dense(fj, dj));
      NG_CHECK(ng_test_rel_err(n * n, da, dj, 1e-300) <= PATH_RTOL);
      free(da);
      free(dj);
    }
    free(v);
    free(oa);
    free(oj);
    ng_fisher_destroy(fa);
    ng_fisher_destroy(fj);
    teardown(&s);
  }
}

/* Near-deterministic rows (logits hundreds apart: the top probability rounds to 1, others
 * underflow to 0 and the stick-breaking factor's tails vanish). A softmax block's M =
 * diag(pi) - pi pi^T is then all in 1 - pi_max, which the plain formulas lose to
 * cancellation, and a Bernoulli's p (1 - p) all in the smaller of the two: both paths must
 * match a reference that never forms 1 - p, and distances stay >= 0. */
static void check_peaked(const arch_t *arch, uint64_t seed) {
  setup_t s;
  if (!setup(&s, arch, BATCH, seed)) return;
  const ng_dist_t dist = ng_model_dist(s.m);
  size_t n = s.n;
  const ng_mlp_t *mlp = ng_model_mlp(s.m);
  size_t last = ng_mlp_n_layers(mlp) - 1;
  size_t out_off = ng_mlp_layer_offset(mlp, last);
  size_t cnt = ng_mlp_size(mlp, last + 1) * (ng_mlp_size(mlp, last) + 1);
  for (size_t i = 0; i < cnt; i++) s.theta[out_off + i] *= 3000.0;
  ng_fisher_t *fa = NULL, *fj = NULL;
  NG_CHECK_OK(ng_fisher_create_ex(&fa, s.m, BATCH, NG_FISHER_CACHE_BYTES_DEFAULT));
  NG_CHECK_OK(ng_fisher_create_ex(&fj, s.m, BATCH, 0));
  NG_CHECK_OK(ng_fisher_set_point(fa, s.theta, BATCH, s.x));
  NG_CHECK_OK(ng_fisher_set_point(fj, s.theta, BATCH, s.x));
  ng_rng_t rng;
  ng_rng_seed(&rng, 12001, 0);
  double *v = malloc(n * sizeof *v), *oa = malloc(n * sizeof *oa), *oj = malloc(n * sizeof *oj);
  double *ref = malloc(n * sizeof *ref), *jv = malloc(BATCH * s.np * sizeof *jv);
  double *mjv = malloc(BATCH * s.np * sizeof *mjv);
  ng_model_ws_t *ws = NULL;
  NG_CHECK_OK(ng_model_ws_create(&ws, s.m, BATCH));
  NG_CHECK_OK(ng_model_forward(s.m, s.theta, ws, BATCH, s.x, NULL));
  const double *p = ng_model_ws_params(ws);
  for (int rep = 0; rep < 3; rep++) {
    random_vec(n, v, 1.0, &rng);
    NG_CHECK_OK(ng_fisher_apply(fa, v, 0.0, oa));
    NG_CHECK_OK(ng_fisher_apply(fj, v, 0.0, oj));
    /* reference: J^T M J v with M applied per block in the pairwise form (M w)_i = pi_i
     * sum_{j != i} pi_j (w_i - w_j), and per Bernoulli as w_i / (2 + e^l + e^-l): neither
     * forms 1 - p */
    NG_CHECK_OK(ng_model_jvp(s.m, s.theta, ws, BATCH, v, jv));
    for (size_t b = 0; b < BATCH; b++) {
      if (dist.kind == NG_DIST_MULTI_BINARY) {
        for (size_t i = 0; i < s.np; i++) {
          double l = p[b * s.np + i];
          mjv[b * s.np + i] = jv[b * s.np + i] / (2.0 + exp(l) + exp(-l));
        }
        continue;
      }
      for (size_t c = 0, off = 0; c < n_comps(&dist); off += comp_size(&dist, c), c++) {
        size_t k = comp_size(&dist, c);
        const double *l = p + b * s.np + off, *w = jv + b * s.np + off;
        double pi[8], mx = l[0], z = 0.0;
        for (size_t j = 1; j < k; j++) mx = fmax(mx, l[j]);
        for (size_t j = 0; j < k; j++) z += (pi[j] = exp(l[j] - mx));
        for (size_t i = 0; i < k; i++) {
          double acc = 0.0;
          for (size_t j = 0; j < k; j++)
            if (j != i) acc += (pi[j] / z) * (w[i] - w[j]);
          mjv[b * s.np + off + i] = (pi[i] / z) * acc;
        }
      }
    }
    memset(ref, 0, n * sizeof *ref);
    NG_CHECK_OK(ng_model_vjp(s.m, s.theta, ws, BATCH, mjv, ref));
    for (size_t i = 0; i < n; i++) ref[i] /= BATCH;
    double ea = ng_test_rel_err(n, oa, ref, 1e-300), ej = ng_test_rel_err(n, oj, ref, 1e-300);
    NG_CHECK(ea <= PATH_RTOL && ej <= PATH_RTOL);
    if (!(ea <= PATH_RTOL && ej <= PATH_RTOL))
      fprintf(stderr, "  %s peaked: rel err factored %.3g, JVP/VJP %.3g\n", arch->name, ea, ej);
    double da, dj;
    NG_CHECK_OK(ng_fisher_distance(fa, v, &da));
    NG_CHECK_OK(ng_fisher_distance(fj, v, &dj));
    NG_CHECK(da >= 0.0 && dj >= 0.0);
    NG_CHECK_CLOSE(da, dot(n, v, ref), PATH_RTOL, 0.0);
    NG_CHECK_CLOSE(dj, dot(n, v, ref), PATH_RTOL, 0.0);
  }
  /* the diagonals agree too (the JVP/VJP path's through the same accurate factor) */
  NG_CHECK_OK(ng_fisher_diag(fa, oa));
  NG_CHECK_OK(ng_fisher_diag(fj, oj));
  NG_CHECK(ng_test_rel_err(n, oa, oj, 1e-300) <= PATH_RTOL);
  free(ref);
  free(jv);
  free(mjv);
  /* the point really is peaked: some probabilities are exactly 0 (exp(-800) underflows):
   * logits 800 apart within a block, or a Bernoulli logit beyond +-800 */
  double spread = 0.0;
  for (size_t b = 0; b < BATCH; b++) {
    if (dist.kind == NG_DIST_MULTI_BINARY) {
      for (size_t j = 0; j < s.np; j++) spread = fmax(spread, fabs(p[b * s.np + j]));
      continue;
    }
    for (size_t c = 0, off = 0; c < n_comps(&dist); off += comp_size(&dist, c), c++)
      for (size_t j = off; j < off + comp_size(&dist, c); j++)
        for (size_t i = off; i < off + comp_size(&dist, c); i++)
          spread = fmax(spread, p[b * s.np + j] - p[b * s.np + i]);
  }
  NG_CHECK(spread > 800.0);
  ng_model_ws_destroy(ws);
  free(v);
  free(oa);
  free(oj);
  ng_fisher_destroy(fa);
  ng_fisher_destroy(fj);
  teardown(&s);
}

static void test_peaked(void) {
  check_peaked(&ARCHS[A_CAT4], 12000);
  check_peaked(&ARCHS[A_MD_RELU], 12100);
  check_peaked(&ARCHS[A_MB], 12200);
}

/* A model whose every outcome is certain: M = 0, no factored form, F = 0. */
static void check_certain(const arch_t *one) {
  ng_fisher_t *f = NULL;
  ng_rng_t rng;
  ng_rng_seed(&rng, 13002, 0);
  ng_model_t *m1 = make_model(one);
  if (!m1) return;
  NG_CHECK(ng_fisher_cache_bytes(m1, 10) == 0);
  size_t n1 = ng_model_n_params(m1);
  double *t1 = calloc(n1, sizeof *t1), *v1 = malloc(n1 * sizeof *v1), *d1 = malloc(n1 * n1 * sizeof *d1);
  double x1[3 * 2] = {0.1, -0.2, 0.3, 1.0, 0.5, -0.7};
  random_vec(n1, v1, 1.0, &rng);
  NG_CHECK_OK(ng_fisher_create(&f, m1, 2));
  NG_CHECK(ng_fisher_cache_rows(f) == 0);
  NG_CHECK_OK(ng_fisher_set_point(f, t1, 2, x1));
  NG_CHECK_OK(ng_fisher_dense(f, d1));
  double mx = 0.0;
  for (size_t i = 0; i < n1 * n1; i++) mx = fmax(mx, fabs(d1[i]));
  NG_CHECK(mx == 0.0);
  ng_fisher_destroy(f);
  free(t1);
  free(v1);
  free(d1);
  ng_model_destroy(m1);
}

/* The cache's size: ng_fisher_cache_bytes by hand for each head; a cache for fewer rows
 * than the batch sends the full batch down the JVP/VJP path and a small enough subsample
 * down the factored one; a one-category model has no factored form. */
static void test_cache_sizing(void) {
  /* {arch, factor rows r, stored delta width}: r = k - 1 categories, d, 2d */
  const struct {
    size_t arch, r, width;
  } cases[] = {
      {0, 2, 2},        /* 3-(8)-2 gauss si: d = 2; the one hidden layer is not stored */
      {1, 4, 4},        /* 3-(8)-2 gauss net: 2d = 4 outputs */
      {2, 2, 3},        /* 3-(8)-3 cat: k - 1 = 2 */
      {7, 4, 5 + 4},    /* 2-(5,4)-2 gauss net: layer 0 (5) and the output (4) */
      {A_MD, 3, 5},     /* 3-(8)-(3,2) multidiscrete: (3 - 1) + (2 - 1) */
      {A_MD_RELU, 3, 6},  /* 3-(6)-(2,1,3) multidiscrete: 1 + 0 + 2 */
      {A_MB, 3, 3},     /* 3-(8)-3 multibinary: d = 3 */
      {A_CAT_LARGE, 1, 64 + 2},    /* 4-(64,64)-2 cat */
      {A_CAT_LARGE + 1, 6, 64 + 9}, /* 4-(64,64)-(3,2,4) multidiscrete: 2 + 1 + 3 */
      {A_CAT_LARGE + 2, 6, 64 + 6}, /* 8-(64,64)-6 multibinary */
      {A_CAT_LARGE + 3, 3, 64 + 3}, /* 11-(64,64)-3 gauss si */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    ng_model_t *m = make_model(&ARCHS[cases[c].arch]);
    if (!m) continue;
    size_t n_out = ng_mlp_n_out(ng_model_mlp(m));
    NG_CHECK(ng_mlp_deltas_width(ng_model_mlp(m)) == cases[c].width);
    size_t per_row = cases[c].r * (cases[c].width + n_out + 1) * sizeof(double);
    NG_CHECK(ng_fisher_cache_bytes(m, 1000) == 1000 * per_row);
    NG_CHECK(ng_fisher_cache_bytes(m, 0) == 0);
    NG_CHECK(ng_fisher_cache_bytes(m, SIZE_MAX / 2) == 0); /* overflow */
    ng_fisher_t *f = NULL;
    NG_CHECK_OK(ng_fisher_create_ex(&f, m, 100, 5 * per_row + per_row / 2));
    NG_CHECK(ng_fisher_cache_rows(f) == 5);
    ng_fisher_destroy(f);
    NG_CHECK_OK(ng_fisher_create_ex(&f, m, 3, SIZE_MAX));
    NG_CHECK(ng_fisher_cache_rows(f) == 3); /* never more than max_batch */
    ng_fisher_destroy(f);
    NG_CHECK_OK(ng_fisher_create_ex(&f, m, 3, per_row - 1));
    NG_CHECK(ng_fisher_cache_rows(f) == 0);
    ng_fisher_destroy(f);
    ng_model_destroy(m);
  }
  NG_CHECK(ng_fisher_cache_bytes(NULL, 10) == 0);

  /* 16 rows with a 5-row cache: JVP/VJP for the batch, factored for subsamples of <= 5 */
  setup_t s;
  if (!setup(&s, &ARCHS[2], BATCH, 13000)) return;
  size_t n = s.n;
  ng_fisher_t *f = NULL, *g = NULL;
  NG_CHECK_OK(ng_fisher_create_ex(&f, s.m, BATCH, ng_fisher_cache_bytes(s.m, 5)));
  NG_CHECK_OK(ng_fisher_create_ex(&g, s.m, BATCH, 0));
  NG_CHECK(ng_fisher_cache_rows(f) == 5);
  double *v = malloc(n * sizeof *v), *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
  ng_rng_t rng, rng2;
  ng_rng_seed(&rng, 13001, 0);
  random_vec(n, v, 1.0, &rng);
  NG_CHECK(ng_fisher_factored(f) == 0); /* no point yet */
  NG_CHECK_OK(ng_fisher_set_point(f, s.theta, BATCH, s.x));
  NG_CHECK(ng_fisher_factored(f) == 0);
  NG_CHECK_OK(ng_fisher_apply(f, v, 0.0, o1));
  NG_CHECK_OK(ng_fisher_set_point(g, s.theta, BATCH, s.x));
  NG_CHECK_OK(ng_fisher_apply(g, v, 0.0, o2));
  NG_CHECK(memcmp(o1, o2, n * sizeof *o1) == 0); /* the same path, bit for bit */
  for (size_t n_sub = 4; n_sub <= 6; n_sub++) {
    rng2 = rng;
    NG_CHECK_OK(ng_fisher_set_point_subsample(f, s.theta, BATCH, s.x, n_sub, &rng));
    NG_CHECK(ng_fisher_factored(f) == (n_sub <= 5));
    NG_CHECK_OK(ng_fisher_set_point_subsample(g, s.theta, BATCH, s.x, n_sub, &rng2));
    NG_CHECK(ng_fisher_factored(g) == 0);
    NG_CHECK_OK(ng_fisher_apply(f, v, 0.0, o1));
    NG_CHECK_OK(ng_fisher_apply(g, v, 0.0, o2));
    NG_CHECK(ng_test_rel_err(n, o1, o2, 1e-300) <= PATH_RTOL);
  }
  /* a failed set_point leaves no point, on either path */
  NG_CHECK_STATUS(ng_fisher_set_point(f, s.theta, 0, s.x), NG_EINVAL);
  NG_CHECK(ng_fisher_factored(f) == 0 && ng_fisher_batch(f) == 0);
  NG_CHECK(ng_fisher_factored(NULL) == 0 && ng_fisher_cache_rows(NULL) == 0);
  ng_fisher_destroy(f);
  ng_fisher_destroy(g);
  free(v);
  free(o1);
  free(o2);
  teardown(&s);

  /* one category (a categorical, or a MultiDiscrete whose components all have one): M = 0,
   * no factored form, F = 0 */
  const arch_t ones[] = {
      {"3-(4)-1 cat", 3, 1, {4}, NG_ACT_TANH, NG_DIST_CATEGORICAL, 1,
       NG_LOGSTD_STATE_INDEPENDENT},
      {"3-(4)-(1,1) multidiscrete", 3, 1, {4}, NG_ACT_TANH, NG_DIST_MULTI_DISCRETE, 2,
       NG_LOGSTD_STATE_INDEPENDENT, {1, 1}},
  };
  for (size_t o = 0; o < 2; o++) check_certain(&ones[o]);
}

int main(void) {
  for (int path = 0; path < 2; path++) {
    g_cache_bytes = path == 0 ? NG_FISHER_CACHE_BYTES_DEFAULT : 0;
    g_factored = path == 0;
    fprintf(stderr, "-- %s path\n", path == 0 ? "factored" : "JVP/VJP");
    NG_TEST_RUN(test_fv_is_kl_hessian);
    NG_TEST_RUN(test_dense_is_jtmj);
    NG_TEST_RUN(test_monte_carlo);
    NG_TEST_RUN(test_dense_properties);
    NG_TEST_RUN(test_head_block);
    NG_TEST_RUN(test_diag_large);
    NG_TEST_RUN(test_distance);
    NG_TEST_RUN(test_subsample);
    NG_TEST_RUN(test_reducer_two_processes);
    NG_TEST_RUN(test_no_alloc_and_counter);
    NG_TEST_RUN(test_bad_inputs);
  }
  NG_TEST_RUN(test_paths_agree);
  NG_TEST_RUN(test_peaked);
  NG_TEST_RUN(test_cache_sizing);
  NG_TEST_END();
}
