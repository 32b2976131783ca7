/* mlp: forward against a naive triple-loop network, vjp / jvp against central finite
 * differences, the adjoint identity, accumulate / overwrite contracts, vjp_sq against
 * per-row brute force, orthogonal and normal initialisation, bad-input statuses and clean
 * failure under allocation faults. */
#include "natgrad/mlp.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "ng_test.h"

#define FWD_RTOL 1e-13    /* BLAS vs naive loops: only summation order differs */
#define FD_H 1e-5         /* central-difference step */
#define FD_RTOL 1e-6      /* FD vs analytic, relative to the vector's max norm */
#define ADJ_RTOL 1e-12    /* <dY, J v> vs <J^T dY, v>, relative to sum of |terms| */
#define ACC_RTOL 1e-14    /* accumulation: rounding of one addition */
#define SQ_RTOL 1e-12     /* vjp_sq vs per-row brute force */
#define ORTHO_ATOL 1e-12  /* W W^T - g^2 I, relative to g^2 */
#define RELU_MARGIN 1e-3  /* every relu pre-activation at least this far from the kink */
#define FD_MAX_CHECKS 600 /* parameters checked by FD per case (strided for big nets) */
#define MAX_BATCH 17
/* natgrad's tanh (ng_act_apply) against the exact value (long double tanhl, where wider than
 * double) and against libm's tanh, in units in the last place of the reference. */
#define TANH_ULP_EXACT 2.0  /* measured max ~1.3 */
#define TANH_ULP_LIBM 4.0   /* ours plus libm's own error (glibc ~2.1) */
#define TANH_SAMPLES 2000000
#define ROWGRAD_RTOL 1e-12 /* cached-delta products vs per-row brute force */
#define ROWGRAD_K 3        /* cotangents per row in the rowgrad tests */

typedef struct {
  const char *name;
  size_t n_layers;
  size_t sizes[6];
  ng_act_t acts[5];
} arch_t;

static const arch_t ARCHS[] = {
    {"3-5-2 tanh", 2, {3, 5, 2}, {NG_ACT_TANH, NG_ACT_IDENTITY}},
    {"4-64-64-2 tanh", 3, {4, 64, 64, 2}, {NG_ACT_TANH, NG_ACT_TANH, NG_ACT_IDENTITY}},
    {"2-7-3-1 relu", 3, {2, 7, 3, 1}, {NG_ACT_RELU, NG_ACT_RELU, NG_ACT_IDENTITY}},
    {"6-4 identity", 1, {6, 4}, {NG_ACT_IDENTITY}},
    {"5-8-6-4-3 mixed", 4, {5, 8, 6, 4, 3},
     {NG_ACT_TANH, NG_ACT_RELU, NG_ACT_IDENTITY, NG_ACT_TANH}},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

static const size_t BATCHES[] = {1, MAX_BATCH};

/* ---- an independent reference network: plain loops, own offsets ---- */

static size_t ref_n_params(const arch_t *a) {
  size_t n = 0;
  for (size_t l = 0; l < a->n_layers; l++) n += a->sizes[l + 1] * (a->sizes[l] + 1);
  return n;
}

static double ref_act(ng_act_t act, double z) {
  switch (act) {
  case NG_ACT_TANH:
    return tanh(z);
  case NG_ACT_RELU:
    return z > 0.0 ? z : 0.0;
  default:
    return z;
  }
}

/* y (B x n_out) = f(x; theta). Returns the smallest |z| over relu units (INFINITY if none). */
static double ref_forward(const arch_t *a, const double *theta, size_t batch, const double *x,
                          double *y) {
  double cur[128], next[128];
  double margin = INFINITY;
  for (size_t b = 0; b < batch; b++) {
    size_t width = a->sizes[0], off = 0;
    for (size_t j = 0; j < width; j++) cur[j] = x[b * width + j];
    for (size_t l = 0; l < a->n_layers; l++) {
      size_t r = a->sizes[l + 1], c = a->sizes[l];
      const double *w = theta + off, *bias = theta + off + r * c;
      for (size_t i = 0; i < r; i++) {
        double z = bias[i];
        for (size_t j = 0; j < c; j++) z += w[i * c + j] * cur[j];
        if (a->acts[l] == NG_ACT_RELU && fabs(z) < margin) margin = fabs(z);
        next[i] = ref_act(a->acts[l], z);
      }
      for (size_t i = 0; i < r; i++) cur[i] = next[i];
      off += r * c + r;
      width = r;
    }
    for (size_t i = 0; i < width; i++) y[b * width + i] = cur[i];
  }
  return margin;
}

/* sum(dy .* f(x; theta)) with the reference network. */
static double ref_objective(const arch_t *a, const double *theta, size_t batch,
                            const double *x, const double *dy, double *ybuf) {
  ref_forward(a, theta, batch, x, ybuf);
  size_t n = batch * a->sizes[a->n_layers];
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += dy[i] * ybuf[i];
  return s;
}

static void fill_normal(ng_rng_t *rng, size_t n, double *v, double sd) {
  for (size_t i = 0; i < n; i++) v[i] = sd * ng_rng_normal(rng);
}

/* A test case: architecture, theta with nonzero biases, inputs away from relu kinks. */
typedef struct {
  const arch_t *arch;
  ng_mlp_t *mlp;
  ng_mlp_ws_t *ws;
  size_t n, batch, n_in, n_out;
  double *theta, *x, *dy, *v;
} case_t;

static int case_setup(case_t *c, const arch_t *a, size_t batch, uint64_t seed) {
  memset(c, 0, sizeof *c);
  c->arch = a;
  c->batch = batch;
  if (ng_mlp_create(&c->mlp, a->n_layers, a->sizes, a->acts) != NG_OK) return 0;
  if (ng_mlp_ws_create(&c->ws, c->mlp, MAX_BATCH) != NG_OK) return 0;
  c->n = ng_mlp_n_params(c->mlp);
  c->n_in = a->sizes[0];
  c->n_out = a->sizes[a->n_layers];
  c->theta = malloc(c->n * sizeof(double));
  c->v = malloc(c->n * sizeof(double));
  c->x = malloc(batch * c->n_in * sizeof(double));
  c->dy = malloc(batch * c->n_out * sizeof(double));
  if (!c->theta || !c->v || !c->x || !c->dy) return 0;

  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  double gains[5] = {1.5, 1.5, 1.5, 1.5, 1.5};
  if (ng_mlp_init_normal(c->mlp, c->theta, gains, &rng) != NG_OK) return 0;
  for (size_t l = 0; l < a->n_layers; l++) {
    size_t r = a->sizes[l + 1], off = ng_mlp_layer_offset(c->mlp, l) + r * a->sizes[l];
    fill_normal(&rng, r, c->theta + off, 0.3);
  }
  fill_normal(&rng, c->n, c->v, 1.0);
  fill_normal(&rng, batch * c->n_out, c->dy, 1.0);
  /* Redraw x until every relu pre-activation clears the kink by RELU_MARGIN, so the FD
   * perturbations (at most ~1e-4 in z) never cross it. */
  double *ytmp = malloc(batch * c->n_out * sizeof(double));
  if (!ytmp) return 0;
  int ok = 0;
  for (int tries = 0; tries < 1000 && !ok; tries++) {
    fill_normal(&rng, batch * c->n_in, c->x, 1.0);
    ok = ref_forward(a, c->theta, batch, c->x, ytmp) > RELU_MARGIN;
  }
  free(ytmp);
  return ok;
}

static void case_teardown(case_t *c) {
  ng_mlp_ws_destroy(c->ws);
  ng_mlp_destroy(c->mlp);
  free(c->theta);
  free(c->v);
  free(c->x);
  free(c->dy);
}

/* ---- tests ---- */

static void test_act_names(void) {
  ng_act_t a = NG_ACT_RELU;
  NG_CHECK_OK(ng_act_parse("tanh", &a));
  NG_CHECK(a == NG_ACT_TANH);
  NG_CHECK_OK(ng_act_parse("relu", &a));
  NG_CHECK(a == NG_ACT_RELU);
  NG_CHECK_OK(ng_act_parse("identity", &a));
  NG_CHECK(a == NG_ACT_IDENTITY);
  a = NG_ACT_TANH;
  NG_CHECK_OK(ng_act_parse("linear", &a));
  NG_CHECK(a == NG_ACT_IDENTITY);
  NG_CHECK_STATUS(ng_act_parse("Tanh", &a), NG_EINVAL);
  NG_CHECK_STATUS(ng_act_parse("", &a), NG_EINVAL);
  NG_CHECK_STATUS(ng_act_parse("sigmoid", &a), NG_EINVAL);
  NG_CHECK_STATUS(ng_act_parse(NULL, &a), NG_EINVAL);
  NG_CHECK_STATUS(ng_act_parse("tanh", NULL), NG_EINVAL);
  const ng_act_t all[] = {NG_ACT_IDENTITY, NG_ACT_TANH, NG_ACT_RELU};
  for (size_t i = 0; i < 3; i++) {
    NG_CHECK_OK(ng_act_parse(ng_act_name(all[i]), &a));
    NG_CHECK(a == all[i]);
  }
}

static void test_accessors(void) {
  for (size_t k = 0; k < N_ARCHS; k++) {
    const arch_t *a = &ARCHS[k];
    ng_mlp_t *m = NULL;
    NG_CHECK_OK(ng_mlp_create(&m, a->n_layers, a->sizes, a->acts));
    if (!m) continue;
    NG_CHECK(ng_mlp_n_params(m) == ref_n_params(a));
    NG_CHECK(ng_mlp_n_layers(m) == a->n_layers);
    NG_CHECK(ng_mlp_n_in(m) == a->sizes[0]);
    NG_CHECK(ng_mlp_n_out(m) == a->sizes[a->n_layers]);
    size_t off = 0;
    for (size_t l = 0; l < a->n_layers; l++) {
      NG_CHECK(ng_mlp_size(m, l) == a->sizes[l]);
      NG_CHECK(ng_mlp_act(m, l) == a->acts[l]);
      NG_CHECK(ng_mlp_layer_offset(m, l) == off);
      off += a->sizes[l + 1] * (a->sizes[l] + 1);
    }
    NG_CHECK(ng_mlp_size(m, a->n_layers) == a->sizes[a->n_layers]);
    size_t b1 = ng_mlp_ws_bytes(m, 1), b17 = ng_mlp_ws_bytes(m, 17);
    NG_CHECK(b1 > 0 && b17 > b1);
    ng_mlp_ws_t *ws = NULL;
    NG_CHECK_OK(ng_mlp_ws_create(&ws, m, 17));
    NG_CHECK(ng_mlp_ws_max_batch(ws) == 17);
    NG_CHECK(ng_mlp_ws_output(ws) == NULL); /* no forward yet */
    ng_mlp_ws_destroy(ws);
    ng_mlp_destroy(m);
  }
}

/* forward == reference; y == ws output; y may be NULL. */
static void test_forward(void) {
  for (size_t k = 0; k < N_ARCHS; k++)
    for (size_t bi = 0; bi < 2; bi++) {
      case_t c;
      int ok = case_setup(&c, &ARCHS[k], BATCHES[bi], 100 + k);
      NG_CHECK(ok);
      if (ok) {
        size_t ny = c.batch * c.n_out;
        double *y = malloc(ny * sizeof(double)), *yref = malloc(ny * sizeof(double));
        ref_forward(c.arch, c.theta, c.batch, c.x, yref);
        NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, c.batch, c.x, y));
        NG_CHECK_VEC_CLOSE(ny, y, yref, FWD_RTOL);
        NG_CHECK(memcmp(ng_mlp_ws_output(c.ws), y, ny * sizeof(double)) == 0);
        NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, c.batch, c.x, NULL));
        NG_CHECK(memcmp(ng_mlp_ws_output(c.ws), y, ny * sizeof(double)) == 0);
        free(y);
        free(yref);
      }
      case_teardown(&c);
    }
}

/* vjp's dtheta and dx against central differences of sum(dY .* f(X; theta)). */
static void test_vjp_fd(void) {
  for (size_t k = 0; k < N_ARCHS; k++)
    for (size_t bi = 0; bi < 2; bi++) {
      case_t c;
      int ok = case_setup(&c, &ARCHS[k], BATCHES[bi], 200 + k);
      NG_CHECK(ok);
      if (!ok) {
        case_teardown(&c);
        continue;
      }
      size_t nx = c.batch * c.n_in;
      double *g = calloc(c.n, sizeof(double)), *dx = malloc(nx * sizeof(double));
      double *ybuf = malloc(c.batch * c.n_out * sizeof(double));
      size_t stride = c.n / FD_MAX_CHECKS + 1, m = 0;
      double *got = malloc((c.n + nx) * sizeof(double)), *fd = malloc((c.n + nx) * sizeof(double));
      NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, c.batch, c.x, NULL));
      NG_CHECK_OK(ng_mlp_vjp(c.mlp, c.theta, c.ws, c.batch, c.dy, g, dx));
      for (size_t i = 0; i < c.n; i += stride) {
        double t0 = c.theta[i];
        c.theta[i] = t0 + FD_H;
        double sp = ref_objective(c.arch, c.theta, c.batch, c.x, c.dy, ybuf);
        c.theta[i] = t0 - FD_H;
        double sm = ref_objective(c.arch, c.theta, c.batch, c.x, c.dy, ybuf);
        c.theta[i] = t0;
        got[m] = g[i];
        fd[m++] = (sp - sm) / (2 * FD_H);
      }
      NG_CHECK_VEC_CLOSE(m, got, fd, FD_RTOL);
      m = 0;
      for (size_t i = 0; i < nx; i++) {
        double x0 = c.x[i];
        c.x[i] = x0 + FD_H;
        double sp = ref_objective(c.arch, c.theta, c.batch, c.x, c.dy, ybuf);
        c.x[i] = x0 - FD_H;
        double sm = ref_objective(c.arch, c.theta, c.batch, c.x, c.dy, ybuf);
        c.x[i] = x0;
        got[m] = dx[i];
        fd[m++] = (sp - sm) / (2 * FD_H);
      }
      NG_CHECK_VEC_CLOSE(m, got, fd, FD_RTOL);
      free(g);
      free(dx);
      free(ybuf);
      free(got);
      free(fd);
      case_teardown(&c);
    }
}

/* jvp against (f(theta + h v) - f(theta - h v)) / 2h. */
static void test_jvp_fd(void) {
  for (size_t k = 0; k < N_ARCHS; k++)
    for (size_t bi = 0; bi < 2; bi++) {
      case_t c;
      int ok = case_setup(&c, &ARCHS[k], BATCHES[bi], 300 + k);
      NG_CHECK(ok);
      if (!ok) {
        case_teardown(&c);
        continue;
      }
      size_t ny = c.batch * c.n_out;
      double *jv = malloc(ny * sizeof(double)), *fd = malloc(ny * sizeof(double));
      double *yp = malloc(ny * sizeof(double)), *ym = malloc(ny * sizeof(double));
      double *th = malloc(c.n * sizeof(double));
      NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, c.batch, c.x, NULL));
      NG_CHECK_OK(ng_mlp_jvp(c.mlp, c.theta, c.ws, c.batch, c.v, jv));
      for (size_t i = 0; i < c.n; i++) th[i] = c.theta[i] + FD_H * c.v[i];
      double mp = ref_forward(c.arch, th, c.batch, c.x, yp);
      for (size_t i = 0; i < c.n; i++) th[i] = c.theta[i] - FD_H * c.v[i];
      double mm = ref_forward(c.arch, th, c.batch, c.x, ym);
      NG_CHECK(mp > 0.0 && mm > 0.0); /* no relu unit crossed its kink */
      for (size_t i = 0; i < ny; i++) fd[i] = (yp[i] - ym[i]) / (2 * FD_H);
      NG_CHECK_VEC_CLOSE(ny, jv, fd, FD_RTOL);
      free(jv);
      free(fd);
      free(yp);
      free(ym);
      free(th);
      case_teardown(&c);
    }
}

/* <dY, J v> = <J^T dY, v>; vjp accumulates, jvp and dx overwrite; X is the forward's copy. */
static void test_adjoint_and_contracts(void) {
  for (size_t k = 0; k < N_ARCHS; k++)
    for (size_t bi = 0; bi < 2; bi++) {
      case_t c;
      int ok = case_setup(&c, &ARCHS[k], BATCHES[bi], 400 + k);
      NG_CHECK(ok);
      if (!ok) {
        case_teardown(&c);
        continue;
      }
      size_t ny = c.batch * c.n_out, nx = c.batch * c.n_in;
      double *jv = malloc(ny * sizeof(double)), *jv2 = malloc(ny * sizeof(double));
      double *g = calloc(c.n, sizeof(double)), *g2 = malloc(c.n * sizeof(double));
      double *u = malloc(c.n * sizeof(double)), *want = malloc(c.n * sizeof(double));
      double *dx = malloc(nx * sizeof(double)), *dx2 = malloc(nx * sizeof(double));
      NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, c.batch, c.x, NULL));
      NG_CHECK_OK(ng_mlp_jvp(c.mlp, c.theta, c.ws, c.batch, c.v, jv));
      NG_CHECK_OK(ng_mlp_vjp(c.mlp, c.theta, c.ws, c.batch, c.dy, g, dx));
      double lhs = 0.0, rhs = 0.0, scale = 0.0;
      for (size_t i = 0; i < ny; i++) {
        lhs += c.dy[i] * jv[i];
        scale += fabs(c.dy[i] * jv[i]);
      }
      for (size_t i = 0; i < c.n; i++) {
        rhs += g[i] * c.v[i];
        scale += fabs(g[i] * c.v[i]);
      }
      NG_CHECK_CLOSE(lhs, rhs, 0.0, ADJ_RTOL * scale);

      /* jvp overwrites: a NaN-filled output buffer gives the same result. */
      for (size_t i = 0; i < ny; i++) jv2[i] = NAN;
      NG_CHECK_OK(ng_mlp_jvp(c.mlp, c.theta, c.ws, c.batch, c.v, jv2));
      NG_CHECK_VEC_CLOSE(ny, jv2, jv, 0.0);

      /* vjp twice doubles; onto u gives u + g; dx overwrites (NaN-filled buffer). */
      memcpy(g2, g, c.n * sizeof(double));
      for (size_t i = 0; i < nx; i++) dx2[i] = NAN;
      NG_CHECK_OK(ng_mlp_vjp(c.mlp, c.theta, c.ws, c.batch, c.dy, g2, dx2));
      for (size_t i = 0; i < c.n; i++) want[i] = 2.0 * g[i];
      NG_CHECK_VEC_CLOSE(c.n, g2, want, ACC_RTOL);
      NG_CHECK_VEC_CLOSE(nx, dx2, dx, 0.0);
      ng_rng_t rng;
      ng_rng_seed(&rng, 77, k);
      fill_normal(&rng, c.n, u, 1.0);
      for (size_t i = 0; i < c.n; i++) want[i] = u[i] + g[i];
      NG_CHECK_OK(ng_mlp_vjp(c.mlp, c.theta, c.ws, c.batch, c.dy, u, NULL));
      NG_CHECK_VEC_CLOSE(c.n, u, want, ACC_RTOL);

      /* The ws keeps its own copy of X: clobbering the caller's X changes nothing. */
      for (size_t i = 0; i < nx; i++) c.x[i] = 1e3;
      memset(g2, 0, c.n * sizeof(double));
      NG_CHECK_OK(ng_mlp_vjp(c.mlp, c.theta, c.ws, c.batch, c.dy, g2, dx2));
      NG_CHECK_VEC_CLOSE(c.n, g2, g, 0.0);
      NG_CHECK_OK(ng_mlp_jvp(c.mlp, c.theta, c.ws, c.batch, c.v, jv2));
      NG_CHECK_VEC_CLOSE(ny, jv2, jv, 0.0);

      free(jv);
      free(jv2);
      free(g);
      free(g2);
      free(u);
      free(want);
      free(dx);
      free(dx2);
      case_teardown(&c);
    }
}

/* vjp_sq against per-row gradients computed one row at a time, squared and summed. */
static void test_vjp_sq(void) {
  for (size_t k = 0; k < N_ARCHS; k++)
    for (size_t bi = 0; bi < 2; bi++) {
      case_t c;
      int ok = case_setup(&c, &ARCHS[k], BATCHES[bi], 500 + k);
      NG_CHECK(ok);
      if (!ok) {
        case_teardown(&c);
        continue;
      }
      ng_mlp_ws_t *ws1 = NULL;
      NG_CHECK_OK(ng_mlp_ws_create(&ws1, c.mlp, 1));
      double *gb = malloc(c.n * sizeof(double)), *want = calloc(c.n, sizeof(double));
      double *got = malloc(c.n * sizeof(double)), *u = malloc(c.n * sizeof(double));
      for (size_t b = 0; b < c.batch; b++) {
        memset(gb, 0, c.n * sizeof(double));
        NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, ws1, 1, c.x + b * c.n_in, NULL));
        NG_CHECK_OK(ng_mlp_vjp(c.mlp, c.theta, ws1, 1, c.dy + b * c.n_out, gb, NULL));
        for (size_t i = 0; i < c.n; i++) want[i] += gb[i] * gb[i];
      }
      /* Accumulates onto a nonzero start. */
      ng_rng_t rng;
      ng_rng_seed(&rng, 5, k);
      fill_normal(&rng, c.n, u, 1.0);
      for (size_t i = 0; i < c.n; i++) got[i] = u[i];
      NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, c.batch, c.x, NULL));
      NG_CHECK_OK(ng_mlp_vjp_sq(c.mlp, c.theta, c.ws, c.batch, c.dy, got));
      for (size_t i = 0; i < c.n; i++) got[i] -= u[i];
      NG_CHECK_VEC_CLOSE(c.n, got, want, SQ_RTOL);
      int nonneg = 1;
      for (size_t i = 0; i < c.n; i++) nonneg &= got[i] >= -SQ_RTOL;
      NG_CHECK(nonneg);
      free(gb);
      free(want);
      free(got);
      free(u);
      ng_mlp_ws_destroy(ws1);
      case_teardown(&c);
    }
}

/* ---- allocation faults: the k-th allocation fails; every call must fail cleanly ---- */

static long fault_countdown = -1; /* allocations left before one fails; -1: never */

static int fault_hit(void) {
  if (fault_countdown < 0) return 0;
  return fault_countdown-- == 0;
}
static void *fault_malloc(size_t s) { return fault_hit() ? NULL : malloc(s); }
static void *fault_calloc(size_t n, size_t s) { return fault_hit() ? NULL : calloc(n, s); }
static void *fault_realloc(void *p, size_t s) { return fault_hit() ? NULL : realloc(p, s); }

/* ---- per-row gradients through cached deltas ---- */

/* Row b's gradient for cotangent row dyr (n_out), by a batch-1 forward and vjp. */
static void brute_row_grad(const case_t *c, ng_mlp_ws_t *ws1, size_t b, const double *dyr,
                           double *g) {
  memset(g, 0, c->n * sizeof(double));
  NG_CHECK_OK(ng_mlp_forward(c->mlp, c->theta, ws1, 1, c->x + b * c->n_in, NULL));
  NG_CHECK_OK(ng_mlp_vjp(c->mlp, c->theta, ws1, 1, dyr, g, NULL));
}

/* deltas, rowgrad_dot, rowgrad_acc and rowgrad_sq_acc against per-row gradients from
 * batch-1 vjps: dots, weighted sums and weighted squares, over the whole batch and in
 * chunks; accumulate / overwrite contracts. */
static void test_rowgrad_brute(void) {
  const size_t ks[2] = {1, ROWGRAD_K};
  for (size_t a = 0; a < N_ARCHS; a++)
    for (size_t bi = 0; bi < 2; bi++)
      for (size_t ki = 0; ki < 2; ki++) {
        case_t c;
        int ok = case_setup(&c, &ARCHS[a], BATCHES[bi], 600 + a);
        NG_CHECK(ok);
        if (!ok) {
          case_teardown(&c);
          continue;
        }
        const size_t B = c.batch, k = ks[ki], n = c.n, width = ng_mlp_deltas_width(c.mlp);
        size_t want_width = 0; /* every layer but the last hidden one */
        for (size_t l = 0; l < c.arch->n_layers; l++)
          if (l + 2 != c.arch->n_layers) want_width += c.arch->sizes[l + 1];
        NG_CHECK(width == want_width);
        ng_rng_t rng;
        ng_rng_seed(&rng, 610 + a, bi * 2 + ki);
        ng_mlp_ws_t *ws1 = NULL;
        NG_CHECK_OK(ng_mlp_ws_create(&ws1, c.mlp, 1));
        double *dy = malloc(B * k * c.n_out * sizeof(double));
        double *deltas = malloc(B * k * width * sizeof(double));
        double *g = malloc(B * k * n * sizeof(double)); /* g[(b*k + r)*n + i] */
        double *w = malloc(B * k * sizeof(double)), *cdot = malloc(B * k * sizeof(double));
        double *want = malloc(n * sizeof(double)), *want_sq = malloc(n * sizeof(double));
        double *got = malloc(n * sizeof(double)), *u = malloc(n * sizeof(double));
        fill_normal(&rng, B * k * c.n_out, dy, 1.0);
        fill_normal(&rng, B * k, w, 1.0);
        fill_normal(&rng, n, u, 1.0);
        for (size_t i = 0; i < B * k; i++) brute_row_grad(&c, ws1, i / k, dy + i * c.n_out, g + i * n);

        NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, B, c.x, NULL));
        NG_CHECK_OK(ng_mlp_deltas(c.mlp, c.theta, c.ws, B, k, dy, deltas));

        /* dots: whole batch, then in two chunks (the split row varies with the case) */
        double worst = 0.0;
        NG_CHECK_OK(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, B, k, deltas, c.v, cdot));
        for (int pass = 0; pass < 2; pass++) {
          if (pass == 1) {
            size_t split = B / 3;
            for (size_t i = 0; i < B * k; i++) cdot[i] = NAN;
            if (split > 0) NG_CHECK_OK(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, split, k, deltas, c.v, cdot));
            NG_CHECK_OK(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, split, B - split, k, deltas, c.v, cdot));
          }
          for (size_t i = 0; i < B * k; i++) {
            double ref = 0.0, scale = 0.0;
            for (size_t j = 0; j < n; j++) {
              ref += g[i * n + j] * c.v[j];
              scale += fabs(g[i * n + j] * c.v[j]);
            }
            double e = fabs(cdot[i] - ref) / (scale + 1e-300);
            if (!(e <= worst)) worst = e;
          }
        }
        NG_CHECK(worst <= ROWGRAD_RTOL);
        if (!(worst <= ROWGRAD_RTOL))
          fprintf(stderr, "  %s B=%zu k=%zu: dot rel err %.3g\n", c.arch->name, B, k, worst);
        /* a chunk's dot leaves the other rows' entries alone */
        if (B > 1) {
          for (size_t i = 0; i < B * k; i++) cdot[i] = -7.0;
          NG_CHECK_OK(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 1, B - 1, k, deltas, c.v, cdot));
          int kept = 1;
          for (size_t r = 0; r < k; r++) kept &= cdot[r] == -7.0;
          NG_CHECK(kept);
        }

        /* weighted sums and weighted squares, onto a nonzero start */
        for (size_t j = 0; j < n; j++) {
          want[j] = 0.0;
          want_sq[j] = 0.0;
          for (size_t i = 0; i < B * k; i++) {
            want[j] += w[i] * g[i * n + j];
            want_sq[j] += w[i] * g[i * n + j] * g[i * n + j];
          }
        }
        memcpy(got, u, n * sizeof(double));
        NG_CHECK_OK(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, 0, B, k, deltas, w, got));
        for (size_t j = 0; j < n; j++) got[j] -= u[j];
        NG_CHECK_VEC_CLOSE(n, got, want, ROWGRAD_RTOL);
        memset(got, 0, n * sizeof(double));
        for (size_t b = 0; b < B; b++) /* one row at a time adds up to the same */
          NG_CHECK_OK(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, b, 1, k, deltas, w, got));
        NG_CHECK_VEC_CLOSE(n, got, want, ROWGRAD_RTOL);
        memcpy(got, u, n * sizeof(double));
        NG_CHECK_OK(ng_mlp_rowgrad_sq_acc(c.mlp, c.theta, c.ws, 0, B, k, deltas, w, got));
        for (size_t j = 0; j < n; j++) got[j] -= u[j];
        NG_CHECK_VEC_CLOSE(n, got, want_sq, ROWGRAD_RTOL);
        /* unweighted squares: the sum of squared per-row gradients, as vjp_sq gives it for
         * k = 1 */
        memset(got, 0, n * sizeof(double));
        NG_CHECK_OK(ng_mlp_rowgrad_sq_acc(c.mlp, c.theta, c.ws, 0, B, k, deltas, NULL, got));
        for (size_t j = 0; j < n; j++) {
          want_sq[j] = 0.0;
          for (size_t i = 0; i < B * k; i++) want_sq[j] += g[i * n + j] * g[i * n + j];
        }
        NG_CHECK_VEC_CLOSE(n, got, want_sq, ROWGRAD_RTOL);
        if (k == 1) {
          memset(want, 0, n * sizeof(double));
          NG_CHECK_OK(ng_mlp_vjp_sq(c.mlp, c.theta, c.ws, B, dy, want));
          NG_CHECK_VEC_CLOSE(n, got, want, ROWGRAD_RTOL);
        }

        /* deltas overwrite: a NaN-filled buffer gives the same bits */
        double *d2 = malloc(B * k * width * sizeof(double));
        for (size_t i = 0; i < B * k * width; i++) d2[i] = NAN;
        NG_CHECK_OK(ng_mlp_deltas(c.mlp, c.theta, c.ws, B, k, dy, d2));
        NG_CHECK(memcmp(d2, deltas, B * k * width * sizeof(double)) == 0);
        free(d2);

        free(dy);
        free(deltas);
        free(g);
        free(w);
        free(cdot);
        free(want);
        free(want_sq);
        free(got);
        free(u);
        ng_mlp_ws_destroy(ws1);
        case_teardown(&c);
      }
}

/* The stored deltas are the gradients of <dY_b, f(x_b)> w.r.t. each layer's bias, as
 * central differences of the reference network show (row by row, every stored layer). */
static void test_deltas_fd(void) {
  for (size_t a = 0; a < N_ARCHS; a++) {
    case_t c;
    int ok = case_setup(&c, &ARCHS[a], MAX_BATCH, 700 + a);
    NG_CHECK(ok);
    if (!ok) {
      case_teardown(&c);
      continue;
    }
    const size_t B = c.batch, k = 2, width = ng_mlp_deltas_width(c.mlp);
    ng_rng_t rng;
    ng_rng_seed(&rng, 710 + a, 0);
    double *dy = malloc(B * k * c.n_out * sizeof(double));
    double *deltas = malloc(B * k * width * sizeof(double));
    double *got = malloc(B * k * width * sizeof(double)), *fd = malloc(B * k * width * sizeof(double));
    double ybuf[16];
    fill_normal(&rng, B * k * c.n_out, dy, 1.0);
    NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, B, c.x, NULL));
    NG_CHECK_OK(ng_mlp_deltas(c.mlp, c.theta, c.ws, B, k, dy, deltas));
    size_t m = 0, stride = (B * k * width) / FD_MAX_CHECKS + 1, idx = 0;
    for (size_t i = 0; i < B * k; i++) {
      size_t off = 0;
      for (size_t l = 0; l < c.arch->n_layers; l++) {
        size_t r = c.arch->sizes[l + 1];
        if (l + 2 == c.arch->n_layers) continue; /* the last hidden layer is not stored */
        size_t boff = ng_mlp_layer_offset(c.mlp, l) + r * c.arch->sizes[l];
        for (size_t j = 0; j < r; j++, idx++) {
          if (idx % stride) continue;
          double t0 = c.theta[boff + j];
          c.theta[boff + j] = t0 + FD_H;
          double sp = ref_objective(c.arch, c.theta, 1, c.x + (i / k) * c.n_in,
                                    dy + i * c.n_out, ybuf);
          c.theta[boff + j] = t0 - FD_H;
          double sm = ref_objective(c.arch, c.theta, 1, c.x + (i / k) * c.n_in,
                                    dy + i * c.n_out, ybuf);
          c.theta[boff + j] = t0;
          got[m] = deltas[B * k * off + i * r + j];
          fd[m++] = (sp - sm) / (2 * FD_H);
        }
        off += r;
      }
    }
    NG_CHECK_VEC_CLOSE(m, got, fd, FD_RTOL);
    free(dy);
    free(deltas);
    free(got);
    free(fd);
    case_teardown(&c);
  }
}

/* Bad arguments, NaN inputs, and no allocation in any of the four passes. */
static void test_rowgrad_bad_inputs(void) {
  const arch_t *a = &ARCHS[0];
  case_t c;
  int ok = case_setup(&c, a, 4, 800);
  NG_CHECK(ok);
  if (!ok) {
    case_teardown(&c);
    return;
  }
  ng_mlp_t *m2 = NULL;
  NG_CHECK_OK(ng_mlp_create(&m2, a->n_layers, a->sizes, a->acts));
  const size_t k = 2, width = ng_mlp_deltas_width(c.mlp), n = c.n;
  double dy[4 * 2 * 2], deltas[4 * 2 * 7], w[8], cdot[8], out[64];
  NG_CHECK(width == 2 && c.n_out == 2 && n <= 64); /* 3-5-2: the hidden layer is not stored */
  ng_rng_t rng;
  ng_rng_seed(&rng, 801, 0);
  fill_normal(&rng, 16, dy, 1.0);
  fill_normal(&rng, 8, w, 1.0);
  memset(out, 0, sizeof out);
  NG_CHECK(ng_mlp_deltas_width(NULL) == 0);
  /* before any forward */
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, c.ws, 4, k, dy, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 4, k, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_OK(ng_mlp_forward(c.mlp, c.theta, c.ws, 4, c.x, NULL));
  /* deltas */
  NG_CHECK_STATUS(ng_mlp_deltas(NULL, c.theta, c.ws, 4, k, dy, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(m2, c.theta, c.ws, 4, k, dy, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, NULL, c.ws, 4, k, dy, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, NULL, 4, k, dy, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, c.ws, 3, k, dy, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, c.ws, 4, 0, dy, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, c.ws, 4, SIZE_MAX / 2, dy, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, c.ws, 4, k, NULL, deltas), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, c.ws, 4, k, dy, NULL), NG_EINVAL);
  dy[15] = NAN;
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, c.ws, 4, k, dy, deltas), NG_ENONFINITE);
  dy[15] = 0.5;
  /* rowgrad: chunk bounds, k, NULLs, NaN */
  NG_CHECK_OK(ng_set_allocator(fault_malloc, fault_calloc, fault_realloc, free));
  fault_countdown = 0; /* every allocation from here fails: the passes must not need one */
  NG_CHECK_OK(ng_mlp_deltas(c.mlp, c.theta, c.ws, 4, k, dy, deltas));
  NG_CHECK_OK(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 4, k, deltas, c.v, cdot));
  NG_CHECK_OK(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, 1, 3, k, deltas, w, out));
  NG_CHECK_OK(ng_mlp_rowgrad_sq_acc(c.mlp, c.theta, c.ws, 3, 1, k, deltas, NULL, out));
  NG_CHECK(fault_countdown == 0);
  fault_countdown = -1;
  NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(NULL, c.theta, c.ws, 0, 4, k, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(m2, c.theta, c.ws, 0, 4, k, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, NULL, 0, 4, k, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 0, k, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 5, k, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 4, 1, k, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 2, SIZE_MAX, k, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 4, 0, deltas, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 4, k, NULL, c.v, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 4, k, deltas, NULL, cdot), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 4, k, deltas, c.v, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, 0, 4, k, deltas, NULL, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, 0, 4, k, deltas, w, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, 3, 2, k, deltas, w, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_sq_acc(c.mlp, c.theta, c.ws, 0, 4, k, NULL, NULL, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_rowgrad_sq_acc(c.mlp, c.theta, c.ws, 0, 4, k, deltas, NULL, NULL), NG_EINVAL);
  c.v[n - 1] = INFINITY;
  NG_CHECK_STATUS(ng_mlp_rowgrad_dot(c.mlp, c.theta, c.ws, 0, 4, k, deltas, c.v, cdot), NG_ENONFINITE);
  w[7] = NAN; /* row 3's second weight: only chunks containing row 3 see it */
  NG_CHECK_STATUS(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, 0, 4, k, deltas, w, out), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_mlp_rowgrad_sq_acc(c.mlp, c.theta, c.ws, 2, 2, k, deltas, w, out), NG_ENONFINITE);
  NG_CHECK_OK(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, 0, 3, k, deltas, w, out));
  /* a failed forward invalidates the rows */
  c.x[0] = NAN;
  NG_CHECK_STATUS(ng_mlp_forward(c.mlp, c.theta, c.ws, 4, c.x, NULL), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_mlp_rowgrad_acc(c.mlp, c.theta, c.ws, 0, 3, k, deltas, w, out), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_deltas(c.mlp, c.theta, c.ws, 4, k, dy, deltas), NG_EINVAL);
  ng_mlp_destroy(m2);
  case_teardown(&c);
}

/* Orthogonal init: W W^T = g^2 I (r <= c) or W^T W = g^2 I (r > c); zero biases; seeded. */
static void test_init_orthogonal(void) {
  const size_t sizes[] = {5, 8, 8, 3, 1, 1};
  const ng_act_t acts[] = {NG_ACT_TANH, NG_ACT_TANH, NG_ACT_TANH, NG_ACT_TANH, NG_ACT_IDENTITY};
  const double gains[] = {sqrt(2.0), 1.0, 0.5, 0.01, 2.0};
  const size_t L = 5;
  ng_mlp_t *m = NULL;
  NG_CHECK_OK(ng_mlp_create(&m, L, sizes, acts));
  if (!m) return;
  size_t n = ng_mlp_n_params(m);
  double *t1 = malloc(n * sizeof(double)), *t2 = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) t1[i] = NAN; /* every entry must be written */
  ng_rng_t rng;
  ng_rng_seed(&rng, 42, 0);
  NG_CHECK_OK(ng_mlp_init_orthogonal(m, t1, gains, &rng));
  NG_CHECK(ng_all_finite(n, t1));
  for (size_t l = 0; l < L; l++) {
    size_t r = sizes[l + 1], c = sizes[l], k = r <= c ? r : c;
    const double *w = t1 + ng_mlp_layer_offset(m, l);
    double g2 = gains[l] * gains[l], worst = 0.0;
    for (size_t p = 0; p < k; p++)
      for (size_t q = 0; q < k; q++) {
        double s = 0.0;
        if (r <= c)
          for (size_t j = 0; j < c; j++) s += w[p * c + j] * w[q * c + j]; /* rows p, q */
        else
          for (size_t i = 0; i < r; i++) s += w[i * c + p] * w[i * c + q]; /* columns */
        double e = fabs(s - (p == q ? g2 : 0.0));
        if (e > worst) worst = e;
      }
    NG_CHECK_CLOSE(worst, 0.0, 0.0, ORTHO_ATOL * g2);
    int zero = 1;
    for (size_t i = 0; i < r; i++) zero &= w[r * c + i] == 0.0;
    NG_CHECK(zero);
  }
  ng_rng_seed(&rng, 42, 0);
  NG_CHECK_OK(ng_mlp_init_orthogonal(m, t2, gains, &rng));
  NG_CHECK(memcmp(t1, t2, n * sizeof(double)) == 0);
  ng_rng_seed(&rng, 43, 0);
  NG_CHECK_OK(ng_mlp_init_orthogonal(m, t2, gains, &rng));
  NG_CHECK(memcmp(t1, t2, n * sizeof(double)) != 0);
  free(t1);
  free(t2);
  ng_mlp_destroy(m);

  /* Haar-uniform, thanks to the sign(diag R) correction: over many 3x3 draws, W_00 and the
   * 1x1 layer's sign average to zero (Householder QR alone makes Q_00 = -|a_00|/|a_0|,
   * always negative). E[W_00] = 0 with sd 1/sqrt(3) per draw. */
  const size_t s3[] = {3, 3, 1};
  const ng_act_t a3[] = {NG_ACT_TANH, NG_ACT_IDENTITY};
  const double g3[] = {1.0, 1.0};
  const int draws = 2000;
  NG_CHECK_OK(ng_mlp_create(&m, 2, s3, a3));
  if (!m) return;
  double th[3 * 3 + 3 + 3 + 1], sum00 = 0.0, sum1 = 0.0;
  ng_rng_seed(&rng, 9, 0);
  for (int d = 0; d < draws; d++) {
    NG_CHECK_OK(ng_mlp_init_orthogonal(m, th, g3, &rng));
    sum00 += th[0];
    sum1 += th[ng_mlp_layer_offset(m, 1)];
  }
  /* 5 sigma bounds: sd(W_00) = 1/sqrt(3); the 1x3 row's first entry also has sd 1/sqrt(3). */
  double bound = 5.0 / sqrt(3.0 * draws);
  NG_CHECK_CLOSE(sum00 / draws, 0.0, 0.0, bound);
  NG_CHECK_CLOSE(sum1 / draws, 0.0, 0.0, bound);
  ng_mlp_destroy(m);

  const size_t s1[] = {1, 1};
  const ng_act_t a1[] = {NG_ACT_IDENTITY};
  NG_CHECK_OK(ng_mlp_create(&m, 1, s1, a1));
  if (!m) return;
  int pos = 0;
  for (int d = 0; d < draws; d++) {
    NG_CHECK_OK(ng_mlp_init_orthogonal(m, th, g3, &rng));
    NG_CHECK(fabs(fabs(th[0]) - 1.0) <= 1e-15);
    pos += th[0] > 0.0;
  }
  NG_CHECK_CLOSE((double)pos / draws, 0.5, 0.0, 5.0 * 0.5 / sqrt((double)draws));
  ng_mlp_destroy(m);
}

/* Normal init: W_l ~ N(0, g^2 / fan_in), checked by sample mean and variance. */
static void test_init_normal(void) {
  const size_t sizes[] = {200, 300, 50};
  const ng_act_t acts[] = {NG_ACT_TANH, NG_ACT_IDENTITY};
  const double gains[] = {2.0, 0.5};
  ng_mlp_t *m = NULL;
  NG_CHECK_OK(ng_mlp_create(&m, 2, sizes, acts));
  if (!m) return;
  size_t n = ng_mlp_n_params(m);
  double *t = malloc(n * sizeof(double)), *t2 = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) t[i] = NAN;
  ng_rng_t rng;
  ng_rng_seed(&rng, 1, 0);
  NG_CHECK_OK(ng_mlp_init_normal(m, t, gains, &rng));
  for (size_t l = 0; l < 2; l++) {
    size_t r = sizes[l + 1], c = sizes[l], cnt = r * c;
    const double *w = t + ng_mlp_layer_offset(m, l);
    double var = gains[l] * gains[l] / (double)c, mean = 0.0, ss = 0.0;
    for (size_t i = 0; i < cnt; i++) mean += w[i];
    mean /= (double)cnt;
    for (size_t i = 0; i < cnt; i++) ss += (w[i] - mean) * (w[i] - mean);
    ss /= (double)(cnt - 1);
    /* 5 sigma: sd(mean) = sqrt(var / N), sd(sample var) = var sqrt(2 / (N - 1)). */
    NG_CHECK_CLOSE(mean, 0.0, 0.0, 5.0 * sqrt(var / (double)cnt));
    NG_CHECK_CLOSE(ss, var, 5.0 * sqrt(2.0 / (double)(cnt - 1)), 0.0);
    int zero = 1;
    for (size_t i = 0; i < r; i++) zero &= w[cnt + i] == 0.0;
    NG_CHECK(zero);
  }
  ng_rng_seed(&rng, 1, 0);
  NG_CHECK_OK(ng_mlp_init_normal(m, t2, gains, &rng));
  NG_CHECK(memcmp(t, t2, n * sizeof(double)) == 0);
  free(t);
  free(t2);
  ng_mlp_destroy(m);
}

static void test_bad_inputs(void) {
  const arch_t *a = &ARCHS[0];
  ng_mlp_t *m = NULL, *m2 = NULL;
  const size_t zero_sizes[] = {3, 0, 2};
  const ng_act_t bad_acts[] = {NG_ACT_TANH, (ng_act_t)7};
  NG_CHECK_STATUS(ng_mlp_create(NULL, a->n_layers, a->sizes, a->acts), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_create(&m, 0, a->sizes, a->acts), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_create(&m, a->n_layers, NULL, a->acts), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_create(&m, a->n_layers, a->sizes, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_create(&m, 2, zero_sizes, a->acts), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_create(&m, 2, a->sizes, bad_acts), NG_EINVAL);
  NG_CHECK(m == NULL);
  NG_CHECK_OK(ng_mlp_create(&m, a->n_layers, a->sizes, a->acts));
  NG_CHECK_OK(ng_mlp_create(&m2, a->n_layers, a->sizes, a->acts)); /* same shape, other mlp */
  if (!m || !m2) return;

  ng_mlp_ws_t *ws = NULL, *ws2 = NULL;
  NG_CHECK_STATUS(ng_mlp_ws_create(NULL, m, 4), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_ws_create(&ws, NULL, 4), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_ws_create(&ws, m, 0), NG_EINVAL);
  NG_CHECK(ng_mlp_ws_bytes(m, 0) == 0 && ng_mlp_ws_bytes(NULL, 4) == 0);
  NG_CHECK_OK(ng_mlp_ws_create(&ws, m, 4));
  NG_CHECK_OK(ng_mlp_ws_create(&ws2, m2, 4));

  size_t n = ng_mlp_n_params(m);
  double theta[64], x[4 * 3], y[4 * 2], dy[4 * 2], g[64], v[64];
  ng_rng_t rng;
  ng_rng_seed(&rng, 3, 0);
  fill_normal(&rng, n, theta, 0.5);
  fill_normal(&rng, n, v, 1.0);
  fill_normal(&rng, 12, x, 1.0);
  fill_normal(&rng, 8, dy, 1.0);
  memset(g, 0, sizeof g);

  /* init */
  double gains[2] = {1.0, 1.0}, nan_gains[2] = {1.0, NAN};
  NG_CHECK_STATUS(ng_mlp_init_orthogonal(NULL, theta, gains, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_init_orthogonal(m, NULL, gains, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_init_orthogonal(m, theta, NULL, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_init_orthogonal(m, theta, gains, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_init_orthogonal(m, theta, nan_gains, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_init_normal(m, theta, NULL, &rng), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_init_normal(m, theta, nan_gains, &rng), NG_EINVAL);

  /* passes before any forward */
  NG_CHECK_STATUS(ng_mlp_vjp(m, theta, ws, 4, dy, g, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_jvp(m, theta, ws, 4, v, y), NG_EINVAL);

  /* forward */
  NG_CHECK_STATUS(ng_mlp_forward(NULL, theta, ws, 4, x, y), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_forward(m, NULL, ws, 4, x, y), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_forward(m, theta, NULL, 4, x, y), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_forward(m, theta, ws, 4, NULL, y), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_forward(m, theta, ws, 0, x, y), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_forward(m, theta, ws, 5, x, y), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_forward(m, theta, ws2, 4, x, y), NG_EINVAL);
  double saved = theta[3];
  theta[3] = NAN;
  NG_CHECK_STATUS(ng_mlp_forward(m, theta, ws, 4, x, y), NG_ENONFINITE);
  theta[3] = saved;
  saved = x[11];
  x[11] = INFINITY;
  NG_CHECK_STATUS(ng_mlp_forward(m, theta, ws, 4, x, y), NG_ENONFINITE);
  NG_CHECK(ng_mlp_ws_output(ws) == NULL);
  NG_CHECK_STATUS(ng_mlp_vjp(m, theta, ws, 4, dy, g, NULL), NG_EINVAL); /* failed forward */
  x[11] = saved;

  /* passes after a good forward of 3 rows */
  NG_CHECK_OK(ng_mlp_forward(m, theta, ws, 3, x, y));
  NG_CHECK_STATUS(ng_mlp_vjp(m, theta, ws, 4, dy, g, NULL), NG_EINVAL); /* batch mismatch */
  NG_CHECK_STATUS(ng_mlp_vjp(m, theta, ws, 0, dy, g, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_vjp(m2, theta, ws, 3, dy, g, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_vjp(NULL, theta, ws, 3, dy, g, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_vjp(m, NULL, ws, 3, dy, g, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_vjp(m, theta, NULL, 3, dy, g, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_vjp(m, theta, ws, 3, NULL, g, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_vjp(m, theta, ws, 3, dy, NULL, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_vjp_sq(m, theta, ws, 3, dy, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_vjp_sq(m, theta, ws, 2, dy, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_jvp(m, theta, ws, 3, NULL, y), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_jvp(m, theta, ws, 3, v, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_mlp_jvp(m, theta, ws2, 3, v, y), NG_EINVAL);
  dy[5] = NAN;
  NG_CHECK_STATUS(ng_mlp_vjp(m, theta, ws, 3, dy, g, NULL), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_mlp_vjp_sq(m, theta, ws, 3, dy, g), NG_ENONFINITE);
  dy[5] = 0.0;
  v[n - 1] = NAN;
  NG_CHECK_STATUS(ng_mlp_jvp(m, theta, ws, 3, v, y), NG_ENONFINITE);
  v[n - 1] = 0.0;
  NG_CHECK_OK(ng_mlp_vjp(m, theta, ws, 3, dy, g, NULL));
  NG_CHECK_OK(ng_mlp_vjp_sq(m, theta, ws, 3, dy, g));
  NG_CHECK_OK(ng_mlp_jvp(m, theta, ws, 3, v, y));

  /* NULL-tolerant queries and destroys */
  NG_CHECK(ng_mlp_n_params(NULL) == 0 && ng_mlp_ws_max_batch(NULL) == 0);
  NG_CHECK(ng_mlp_ws_output(NULL) == NULL);
  ng_mlp_destroy(NULL);
  ng_mlp_ws_destroy(NULL);
  ng_mlp_ws_destroy(ws);
  ng_mlp_ws_destroy(ws2);
  ng_mlp_destroy(m);
  ng_mlp_destroy(m2);
}

static void test_alloc_faults(void) {
  const arch_t *a = &ARCHS[4];
  double theta[256], gains[4] = {1.0, 1.0, 1.0, 1.0};
  ng_rng_t rng;
  NG_CHECK_OK(ng_set_allocator(fault_malloc, fault_calloc, fault_realloc, free));
  int done = 0;
  for (long k = 0; k < 64 && !done; k++) {
    ng_mlp_t *m = NULL;
    ng_mlp_ws_t *ws = NULL;
    fault_countdown = k;
    int s = ng_mlp_create(&m, a->n_layers, a->sizes, a->acts);
    if (s == NG_OK) s = ng_mlp_ws_create(&ws, m, 8);
    if (s == NG_OK) {
      ng_rng_seed(&rng, 1, 0);
      s = ng_mlp_init_orthogonal(m, theta, gains, &rng);
    }
    NG_CHECK(s == NG_OK || s == NG_ENOMEM);
    NG_CHECK(s == NG_OK || fault_countdown < 0); /* only an injected fault may fail */
    done = s == NG_OK;
    fault_countdown = -1;
    ng_mlp_ws_destroy(ws);
    ng_mlp_destroy(m);
  }
  NG_CHECK(done);
  NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
}

/* |got - want| in units of the spacing of doubles at want (the smallest subnormal at 0);
 * 0 for equal values with equal signs, INFINITY for a zero of the wrong sign or a NaN
 * mismatch. */
static double ulp_diff(double got, long double want) {
  double w = (double)want;
  if (isnan(w) || isnan(got)) return isnan(w) && isnan(got) ? 0.0 : INFINITY;
  if (got == w) return signbit(got) == signbit(w) ? 0.0 : INFINITY;
  double aw = fabs(w);
  double u = isinf(aw) ? INFINITY : nextafter(aw, INFINITY) - aw;
  /* below a power of two the spacing halves: use the smaller one so no error hides */
  double d = aw - nextafter(aw, 0.0);
  if (d > 0.0 && d < u) u = d;
  return (double)(fabsl((long double)got - want) / (long double)u);
}

/* Fills x with one of the sample families: every bit pattern (all exponents, subnormals,
 * infinities, NaNs), uniform on [-25, 25] (where tanh is not yet +-1), log-uniform in
 * [2^-30, 32] with random signs. */
static void tanh_samples(ng_rng_t *rng, int family, size_t n, double *x) {
  for (size_t i = 0; i < n; i++) {
    uint64_t bits = ng_rng_u64(rng);
    switch (family) {
    case 0:
      memcpy(&x[i], &bits, sizeof bits);
      break;
    case 1:
      x[i] = ng_rng_uniform_range(rng, -25.0, 25.0);
      break;
    default:
      x[i] = ldexp(1.0 + ng_rng_uniform(rng), -30 + (int)ng_rng_below(rng, 35));
      if (bits >> 63) x[i] = -x[i];
      break;
    }
  }
}

/* The forward pass's tanh over the whole double range: within TANH_ULP_EXACT of tanhl,
 * TANH_ULP_LIBM of libm; special values exact; a lane's result independent of its place in
 * the array (vector body vs scalar tail) and of in-place use. */
static void test_tanh_accuracy(void) {
  /* the ulp measure itself: one step is 1 ulp, on both sides of a power of two */
  NG_CHECK_CLOSE(ulp_diff(nextafter(0.5, 1.0), 0.5L), 2.0, 0.0, 0.0);
  NG_CHECK_CLOSE(ulp_diff(nextafter(0.5, 0.0), 0.5L), 1.0, 0.0, 0.0);
  NG_CHECK(ulp_diff(-0.0, 0.0L) == INFINITY && ulp_diff(NAN, 1.0L) == INFINITY);

  const double special[] = {0.0, -0.0, INFINITY, -INFINITY, DBL_MIN, -DBL_MIN,
                            DBL_TRUE_MIN, -DBL_TRUE_MIN, DBL_MAX, -DBL_MAX, 1e-300, 0.625,
                            nextafter(0.625, 1.0), nextafter(0.625, 0.0), 20.0,
                            nextafter(20.0, 0.0), nextafter(20.0, 100.0), 19.06, 36.0, 1e10};
  const size_t n_special = sizeof special / sizeof special[0];
  double got[sizeof special / sizeof special[0]];
  NG_CHECK_OK(ng_act_apply(NG_ACT_TANH, n_special, special, got));
  for (size_t i = 0; i < n_special; i++) {
    double e = ulp_diff(got[i], tanhl((long double)special[i]));
    NG_CHECK(e <= TANH_ULP_EXACT);
    if (!(e <= TANH_ULP_EXACT)) fprintf(stderr, "  tanh(%a) = %a: %.3g ulp\n", special[i], got[i], e);
  }
  NG_CHECK(got[0] == 0.0 && !signbit(got[0]) && got[1] == 0.0 && signbit(got[1]));
  NG_CHECK(got[2] == 1.0 && got[3] == -1.0 && got[6] == DBL_TRUE_MIN);
  double nan_in[3] = {NAN, -NAN, 0.3}, nan_out[3];
  NG_CHECK_OK(ng_act_apply(NG_ACT_TANH, 3, nan_in, nan_out));
  NG_CHECK(isnan(nan_out[0]) && isnan(nan_out[1]) && !isnan(nan_out[2]));

  /* Rounding boundaries of the exp reduction: 2|x| = (j + 1/2) ln 2, and neighbours. */
  enum { CHUNK = 4097 }; /* odd: every call ends in the scalar tail */
  static double x[CHUNK], y[CHUNK], y1[CHUNK];
  size_t m = 0;
  for (int j = 0; j < 60 && m + 6 <= CHUNK; j++) {
    double b = 0.5 * (j + 0.5) * 0.69314718055994530942;
    x[m++] = b;
    x[m++] = nextafter(b, 0.0);
    x[m++] = nextafter(b, 100.0);
    x[m++] = -b;
    x[m++] = 0.5 * j * 0.69314718055994530942;
    x[m++] = -0.5 * j * 0.69314718055994530942;
  }
  const int exact_ref = LDBL_MANT_DIG > DBL_MANT_DIG;
  double worst_exact = 0.0, worst_libm = 0.0, at_exact = 0.0, at_libm = 0.0;
  int lanes_ok = 1;
  ng_rng_t rng;
  ng_rng_seed(&rng, 2024, 0);
  for (size_t done = 0; done < TANH_SAMPLES; done += CHUNK) {
    int family = (int)((done / CHUNK) % 3);
    if (done > 0) {
      m = CHUNK;
      tanh_samples(&rng, family, m, x);
    }
    NG_CHECK_OK(ng_act_apply(NG_ACT_TANH, m, x, y));
    for (size_t i = 0; i < m; i++) {
      double el = ulp_diff(y[i], (long double)tanh(x[i]));
      if (!(el <= worst_libm)) worst_libm = el, at_libm = x[i];
      if (exact_ref) {
        double ee = ulp_diff(y[i], tanhl((long double)x[i]));
        if (!(ee <= worst_exact)) worst_exact = ee, at_exact = x[i];
      }
    }
    /* in place, and shifted by one so every value changes lane */
    memcpy(y1, x, m * sizeof *x);
    NG_CHECK_OK(ng_act_apply(NG_ACT_TANH, m, y1, y1));
    lanes_ok &= memcmp(y1, y, m * sizeof *y) == 0;
    NG_CHECK_OK(ng_act_apply(NG_ACT_TANH, m - 1, x + 1, y1));
    lanes_ok &= memcmp(y1, y + 1, (m - 1) * sizeof *y) == 0;
  }
  NG_CHECK(lanes_ok);
  NG_CHECK(worst_libm <= TANH_ULP_LIBM);
  NG_CHECK(!exact_ref || worst_exact <= TANH_ULP_EXACT);
  fprintf(stderr, "  tanh: max %.3g ulp vs tanhl (at %a), %.3g ulp vs libm (at %a)\n",
          worst_exact, at_exact, worst_libm, at_libm);
}

/* identity and relu through ng_act_apply; bad arguments. */
static void test_act_apply(void) {
  const double z[5] = {-2.0, -0.0, 0.0, 1e-300, 3.5};
  double a[5];
  NG_CHECK_OK(ng_act_apply(NG_ACT_RELU, 5, z, a));
  NG_CHECK(a[0] == 0.0 && a[1] == 0.0 && a[2] == 0.0 && a[3] == 1e-300 && a[4] == 3.5);
  NG_CHECK_OK(ng_act_apply(NG_ACT_IDENTITY, 5, z, a));
  NG_CHECK(memcmp(a, z, sizeof a) == 0);
  NG_CHECK_OK(ng_act_apply(NG_ACT_IDENTITY, 5, a, a));
  NG_CHECK(memcmp(a, z, sizeof a) == 0);
  NG_CHECK_OK(ng_act_apply(NG_ACT_TANH, 0, NULL, NULL));
  NG_CHECK_STATUS(ng_act_apply(NG_ACT_TANH, 5, NULL, a), NG_EINVAL);
  NG_CHECK_STATUS(ng_act_apply(NG_ACT_TANH, 5, z, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_act_apply((ng_act_t)9, 5, z, a), NG_EINVAL);
}

int main(void) {
  NG_TEST_RUN(test_act_names);
  NG_TEST_RUN(test_act_apply);
  NG_TEST_RUN(test_tanh_accuracy);
  NG_TEST_RUN(test_accessors);
  NG_TEST_RUN(test_forward);
  NG_TEST_RUN(test_vjp_fd);
  NG_TEST_RUN(test_jvp_fd);
  NG_TEST_RUN(test_adjoint_and_contracts);
  NG_TEST_RUN(test_vjp_sq);
  NG_TEST_RUN(test_rowgrad_brute);
  NG_TEST_RUN(test_deltas_fd);
  NG_TEST_RUN(test_rowgrad_bad_inputs);
  NG_TEST_RUN(test_init_orthogonal);
  NG_TEST_RUN(test_init_normal);
  NG_TEST_RUN(test_bad_inputs);
  NG_TEST_RUN(test_alloc_faults);
  NG_TEST_END();
}
