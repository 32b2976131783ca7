/* linalg: vector helpers and the dense operator against plain loops, the metric distance
 * against a brute-force double sum (and against the seed post's buggy sum), Cholesky against
 * known solutions, CG against Cholesky, closed forms and classic problems, and every
 * breakdown status. */
#include <stdint.h>
#include <stdlib.h>

#include "natgrad/linalg.h"
#include "ng_test.h"

#define TOL_EXACT 1e-12    /* sums of a few hundred O(1) products */
#define TOL_SOLVE 1e-9     /* direct solves of systems with condition number <= ~1e3 */
#define TOL_CG_CHOL 1e-10  /* CG after n iterations vs Cholesky, well-conditioned */
#define TOL_MONOTONE 1e-12 /* slack for the A-norm error being non-increasing */

/* ---- helpers (independent of the library's own arithmetic) ---- */

static void fill_normal(ng_rng_t *rng, size_t n, double *x) {
  for (size_t i = 0; i < n; i++) x[i] = ng_rng_normal(rng);
}

/* out = M v, row-major, by a plain loop. */
static void ref_matvec(size_t n, const double *m, const double *v, double *out) {
  for (size_t i = 0; i < n; i++) {
    double s = 0.0;
    for (size_t j = 0; j < n; j++) s += m[i * n + j] * v[j];
    out[i] = s;
  }
}

/* A = B B^T / n + eps I with B standard normal: SPD, eigenvalues in about [eps, 4 + eps]. */
static double *random_spd(ng_rng_t *rng, size_t n, double eps) {
  double *b = malloc(n * n * sizeof *b);
  double *a = malloc(n * n * sizeof *a);
  fill_normal(rng, n * n, b);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0.0;
      for (size_t k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
      a[i * n + j] = s / (double)n + (i == j ? eps : 0.0);
    }
  free(b);
  return a;
}

static double max_abs_residual(size_t n, const double *a, double damping, const double *x,
                               const double *b) {
  double worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    double s = damping * x[i];
    for (size_t j = 0; j < n; j++) s += a[i * n + j] * x[j];
    double e = fabs(s - b[i]);
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

/* ---- vectors ---- */

static void test_vectors(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 1, 0);
  enum { N = 37 };
  double x[N], y[N], y0[N];
  fill_normal(&rng, N, x);
  fill_normal(&rng, N, y);
  double dot = 0.0, nn = 0.0;
  for (int i = 0; i < N; i++) {
    dot += x[i] * y[i];
    nn += x[i] * x[i];
  }
  NG_CHECK_CLOSE(ng_vec_dot(N, x, y), dot, TOL_EXACT, 0.0);
  NG_CHECK_CLOSE(ng_vec_norm2(N, x), sqrt(nn), TOL_EXACT, 0.0);
  memcpy(y0, y, sizeof y);
  ng_vec_axpy(N, -2.5, x, y);
  for (int i = 0; i < N; i++) NG_CHECK_CLOSE(y[i], y0[i] - 2.5 * x[i], TOL_EXACT, 1e-15);
  ng_vec_scale(N, 3.0, y);
  for (int i = 0; i < N; i++) NG_CHECK_CLOSE(y[i], 3.0 * (y0[i] - 2.5 * x[i]), TOL_EXACT, 1e-14);
  ng_vec_copy(N, x, y);
  NG_CHECK(memcmp(x, y, sizeof x) == 0);
  ng_vec_zero(N, y);
  for (int i = 0; i < N; i++) NG_CHECK(y[i] == 0.0);
  /* empty vectors: no access, neutral results */
  NG_CHECK(ng_vec_dot(0, NULL, NULL) == 0.0);
  NG_CHECK(ng_vec_norm2(0, NULL) == 0.0);
  /* the norm does not overflow where the naive sum of squares would */
  double big[2] = {3e200, 4e200};
  NG_CHECK_CLOSE(ng_vec_norm2(2, big), 5e200, TOL_EXACT, 0.0);
}

static void test_dense_op(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 2, 0);
  enum { N = 23 };
  double m[N * N], v[N], out[N], want[N];
  fill_normal(&rng, N * N, m);
  fill_normal(&rng, N, v);
  ng_linop_t op;
  ng_dense_op_ctx_t ctx;
  NG_CHECK_OK(ng_linop_dense(&op, &ctx, N, m));
  NG_CHECK(op.n == N);
  NG_CHECK_OK(op.apply(op.ctx, v, out));
  ref_matvec(N, m, v, want);
  NG_CHECK_VEC_CLOSE(N, out, want, TOL_EXACT);
  NG_CHECK_STATUS(ng_linop_dense(NULL, &ctx, N, m), NG_EINVAL);
  NG_CHECK_STATUS(ng_linop_dense(&op, NULL, N, m), NG_EINVAL);
  NG_CHECK_STATUS(ng_linop_dense(&op, &ctx, 0, m), NG_EINVAL);
  NG_CHECK_STATUS(ng_linop_dense(&op, &ctx, N, NULL), NG_EINVAL);
}

/* ---- metric distance ---- */

/* sum_i sum_j d_i M_ij d_j */
static double ref_metric(size_t n, const double *m, const double *d) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) s += d[i] * m[i * n + j] * d[j];
  return s;
}

/* the seed post's loop: sum_i sum_j d_i d_i M_ij */
static double buggy_metric(size_t n, const double *m, const double *d) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) s += d[i] * d[i] * m[i * n + j];
  return s;
}

static void test_metric_random(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 3, 0);
  /* 1 and sizes around the 64-row blocking of the implementation */
  const size_t sizes[] = {1, 2, 5, 63, 64, 65, 150};
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    size_t n = sizes[t];
    double *m = malloc(n * n * sizeof *m), *d = malloc(n * sizeof *d);
    fill_normal(&rng, n * n, m); /* not even symmetric: the definition still holds */
    fill_normal(&rng, n, d);
    double got = NAN, want = ref_metric(n, m, d);
    NG_CHECK_OK(ng_metric_distance(n, m, d, &got));
    NG_CHECK_CLOSE(got, want, TOL_EXACT, TOL_EXACT * (double)n);
    /* the operator form gives the same */
    ng_linop_t op;
    ng_dense_op_ctx_t ctx;
    double *work = malloc(n * sizeof *work);
    double got_op = NAN;
    NG_CHECK_OK(ng_linop_dense(&op, &ctx, n, m));
    NG_CHECK_OK(ng_metric_distance_op(&op, d, work, &got_op));
    NG_CHECK_CLOSE(got_op, want, TOL_EXACT, TOL_EXACT * (double)n);
    free(m);
    free(d);
    free(work);
  }
}

static void test_metric_identity(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 4, 0);
  enum { N = 70 };
  static double m[N * N];
  double d[N];
  for (int i = 0; i < N; i++) m[i * N + i] = 1.0;
  fill_normal(&rng, N, d);
  double nn = 0.0, got = NAN;
  for (int i = 0; i < N; i++) nn += d[i] * d[i];
  NG_CHECK_OK(ng_metric_distance(N, m, d, &got));
  NG_CHECK_CLOSE(got, nn, TOL_EXACT, 0.0);
}

/* The seed post summed d_i d_i M_ij. For a non-diagonal M that is a different number, and
 * ours must be the correct one; for a diagonal M the two coincide. */
static void test_metric_seed_bug(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 5, 0);
  enum { N = 6 };
  double m[N * N], d[N], got = NAN;
  /* a symmetric non-diagonal metric (a Fisher is symmetric): A = B B^T / n + I */
  double *a = random_spd(&rng, N, 1.0);
  memcpy(m, a, sizeof m);
  free(a);
  fill_normal(&rng, N, d);
  double right = ref_metric(N, m, d), wrong = buggy_metric(N, m, d);
  NG_CHECK(fabs(right - wrong) > 1e-3 * fabs(right)); /* the example does tell them apart */
  NG_CHECK_OK(ng_metric_distance(N, m, d, &got));
  NG_CHECK_CLOSE(got, right, TOL_EXACT, 0.0);
  NG_CHECK(fabs(got - wrong) > 1e-3 * fabs(right));
  /* a 2x2 by hand: M = [[2, 1], [1, 2]], d = (1, -1): d^T M d = 2, buggy sum = 6 */
  double m2[4] = {2, 1, 1, 2}, d2[2] = {1, -1};
  NG_CHECK_OK(ng_metric_distance(2, m2, d2, &got));
  NG_CHECK_CLOSE(got, 2.0, TOL_EXACT, 0.0);
  NG_CHECK_CLOSE(buggy_metric(2, m2, d2), 6.0, TOL_EXACT, 0.0);
  /* diagonal M: all three agree */
  double md[N * N] = {0};
  for (int i = 0; i < N; i++) md[i * N + i] = 0.5 + fabs(ng_rng_normal(&rng));
  NG_CHECK_OK(ng_metric_distance(N, md, d, &got));
  NG_CHECK_CLOSE(got, ref_metric(N, md, d), TOL_EXACT, 0.0);
  NG_CHECK_CLOSE(got, buggy_metric(N, md, d), TOL_EXACT, 0.0);
}

static int op_fail_io(void *ctx, const double *v, double *out) { return NG_EIO; }

static int op_nan(void *ctx, const double *v, double *out) {
  size_t n = *(const size_t *)ctx;
  for (size_t i = 0; i < n; i++) out[i] = v[i];
  out[n - 1] = NAN;
  return NG_OK;
}

static void test_metric_bad_inputs(void) {
  double m[4] = {1, 0, 0, 1}, d[2] = {1, 2}, work[2], got = 7.0;
  NG_CHECK_STATUS(ng_metric_distance(0, m, d, &got), NG_EINVAL);
  NG_CHECK_STATUS(ng_metric_distance(2, NULL, d, &got), NG_EINVAL);
  NG_CHECK_STATUS(ng_metric_distance(2, m, NULL, &got), NG_EINVAL);
  NG_CHECK_STATUS(ng_metric_distance(2, m, d, NULL), NG_EINVAL);
  double dn[2] = {1, NAN};
  NG_CHECK_STATUS(ng_metric_distance(2, m, dn, &got), NG_ENONFINITE);
  double mi[4] = {1, INFINITY, 0, 1};
  NG_CHECK_STATUS(ng_metric_distance(2, mi, d, &got), NG_ENONFINITE);
  NG_CHECK(got == 7.0); /* untouched on failure */

  size_t n = 2;
  ng_linop_t bad = {op_fail_io, NULL, 2};
  NG_CHECK_STATUS(ng_metric_distance_op(&bad, d, work, &got), NG_EIO);
  ng_linop_t nanop = {op_nan, &n, 2};
  NG_CHECK_STATUS(ng_metric_distance_op(&nanop, d, work, &got), NG_ENONFINITE);
  ng_linop_t none = {NULL, NULL, 2};
  NG_CHECK_STATUS(ng_metric_distance_op(&none, d, work, &got), NG_EINVAL);
  NG_CHECK_STATUS(ng_metric_distance_op(NULL, d, work, &got), NG_EINVAL);
  NG_CHECK_STATUS(ng_metric_distance_op(&bad, d, d, &got), NG_EINVAL); /* work aliases d */
  NG_CHECK_STATUS(ng_metric_distance_op(&bad, d, NULL, &got), NG_EINVAL);
}

/* ---- Cholesky ---- */

static void test_cholesky_random(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 6, 0);
  const size_t sizes[] = {1, 2, 7, 50, 200};
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    size_t n = sizes[t];
    double *a = random_spd(&rng, n, 0.25);
    double *f = malloc(n * n * sizeof *f);
    double *xt = malloc(n * sizeof *xt), *b = malloc(n * sizeof *b), *x = malloc(n * sizeof *x);
    fill_normal(&rng, n, xt);
    ref_matvec(n, a, xt, b);
    /* the strict upper triangle is never read, nor written */
    memcpy(f, a, n * n * sizeof *f);
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++) f[i * n + j] = NAN;
    NG_CHECK_OK(ng_cholesky_factor(n, f, 0.0));
    int upper_kept = 1;
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++) upper_kept &= isnan(f[i * n + j]);
    NG_CHECK(upper_kept);
    /* L L^T reproduces A */
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j <= i; j++) {
        double s = 0.0;
        for (size_t k = 0; k <= j; k++) s += f[i * n + k] * f[j * n + k];
        if (fabs(s - a[i * n + j]) > worst) worst = fabs(s - a[i * n + j]);
      }
    NG_CHECK(worst <= TOL_EXACT * 10.0);
    NG_CHECK_OK(ng_cholesky_solve(n, f, b, x));
    NG_CHECK_VEC_CLOSE(n, x, xt, TOL_SOLVE);
    /* in place: x aliases b */
    NG_CHECK_OK(ng_cholesky_solve(n, f, b, b));
    NG_CHECK_VEC_CLOSE(n, b, xt, TOL_SOLVE);

    /* damping: (A + lambda I) x = b, checked by its residual */
    const double lambda = 0.7;
    fill_normal(&rng, n, b);
    memcpy(f, a, n * n * sizeof *f);
    NG_CHECK_OK(ng_cholesky_factor(n, f, lambda));
    NG_CHECK_OK(ng_cholesky_solve(n, f, b, x));
    NG_CHECK(max_abs_residual(n, a, lambda, x, b) <= TOL_SOLVE);
    NG_CHECK(max_abs_residual(n, a, 0.0, x, b) > 1e-3); /* the damping did change the system */
    free(a);
    free(f);
    free(xt);
    free(b);
    free(x);
  }
}

static void test_cholesky_not_pd(void) {
  /* eigenvalues 3 and -1 */
  double a[4] = {1, 2, 2, 1};
  NG_CHECK_STATUS(ng_cholesky_factor(2, a, 0.0), NG_ENOTPD);
  /* a damping larger than 1 makes it PD: [[3, 2], [2, 3]], solve against x = (1, -2) */
  double b2[4] = {1, 2, 2, 1}, rhs[2] = {3 - 4, 2 - 6}, x[2];
  NG_CHECK_OK(ng_cholesky_factor(2, b2, 2.0));
  NG_CHECK_OK(ng_cholesky_solve(2, b2, rhs, x));
  NG_CHECK_CLOSE(x[0], 1.0, TOL_EXACT, 0.0);
  NG_CHECK_CLOSE(x[1], -2.0, TOL_EXACT, 0.0);
  /* a singular PSD matrix: zero pivot */
  double z[9] = {1, 0, 0, 0, 0, 0, 0, 0, 1};
  NG_CHECK_STATUS(ng_cholesky_factor(3, z, 0.0), NG_ENOTPD);
  double neg[1] = {-1e-300};
  NG_CHECK_STATUS(ng_cholesky_factor(1, neg, 0.0), NG_ENOTPD);
  /* a failed factor is refused by the solver rather than divided by */
  double rhs1[1] = {1}, x1[1];
  NG_CHECK_STATUS(ng_cholesky_solve(1, neg, rhs1, x1), NG_EINVAL);
}

static void test_cholesky_bad_inputs(void) {
  double a[4] = {2, 0, NAN, 2};
  NG_CHECK_STATUS(ng_cholesky_factor(2, a, 0.0), NG_ENONFINITE);
  double ai[4] = {INFINITY, 0, 0, 2};
  NG_CHECK_STATUS(ng_cholesky_factor(2, ai, 0.0), NG_ENONFINITE);
  double ok[4] = {2, 0, 0, 2};
  NG_CHECK_STATUS(ng_cholesky_factor(2, ok, NAN), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_cholesky_factor(2, ok, -1.0), NG_EINVAL);
  NG_CHECK(ok[0] == 2.0 && ok[3] == 2.0); /* rejected before any change */
  NG_CHECK_STATUS(ng_cholesky_factor(2, NULL, 0.0), NG_EINVAL);
  NG_CHECK_STATUS(ng_cholesky_factor(0, ok, 0.0), NG_EINVAL);
  double l[4] = {1, 0, 0, 1}, b[2] = {1, 1}, x[2];
  NG_CHECK_STATUS(ng_cholesky_solve(0, l, b, x), NG_EINVAL);
  NG_CHECK_STATUS(ng_cholesky_solve(2, NULL, b, x), NG_EINVAL);
  NG_CHECK_STATUS(ng_cholesky_solve(2, l, NULL, x), NG_EINVAL);
  NG_CHECK_STATUS(ng_cholesky_solve(2, l, b, NULL), NG_EINVAL);
  double bn[2] = {1, NAN};
  NG_CHECK_STATUS(ng_cholesky_solve(2, l, bn, x), NG_ENONFINITE);
}

/* ---- conjugate gradient ---- */

/* Solves a x = b by Cholesky (a is copied). */
static void chol_solve_copy(size_t n, const double *a, const double *b, double *x) {
  double *f = malloc(n * n * sizeof *f);
  memcpy(f, a, n * n * sizeof *f);
  NG_CHECK_OK(ng_cholesky_factor(n, f, 0.0));
  NG_CHECK_OK(ng_cholesky_solve(n, f, b, x));
  free(f);
}

static void test_cg_vs_cholesky(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 7, 0);
  const size_t sizes[] = {1, 2, 5, 20, 60};
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    size_t n = sizes[t];
    double *a = random_spd(&rng, n, 1.0); /* condition number <= ~5 */
    double *b = malloc(n * sizeof *b), *x = malloc(n * sizeof *x), *xc = malloc(n * sizeof *xc);
    fill_normal(&rng, n, b);
    chol_solve_copy(n, a, b, xc);
    ng_cg_t *cg = NULL;
    NG_CHECK_OK(ng_cg_create(&cg, n));
    ng_linop_t op;
    ng_dense_op_ctx_t ctx;
    NG_CHECK_OK(ng_linop_dense(&op, &ctx, n, a));
    ng_cg_opts_t opts = {.max_iter = (int)n, .residual_tol = 0.0};
    ng_cg_report_t rep;
    NG_CHECK_OK(ng_cg_solve(cg, &op, b, x, &opts, &rep));
    NG_CHECK_VEC_CLOSE(n, x, xc, TOL_CG_CHOL);
    NG_CHECK(rep.iterations <= (int)n);
    NG_CHECK_CLOSE(rep.initial_norm2, ng_vec_dot(n, b, b), TOL_EXACT, 0.0);
    NG_CHECK(rep.residual_norm2 < 1e-20 * rep.initial_norm2);
    ng_cg_destroy(cg);
    free(a);
    free(b);
    free(x);
    free(xc);
  }
}

typedef struct {
  size_t n;
  const double *diag;
  int calls;
} diag_ctx_t;

static int diag_apply(void *ctx, const double *v, double *out) {
  diag_ctx_t *c = ctx;
  c->calls++;
  for (size_t i = 0; i < c->n; i++) out[i] = c->diag[i] * v[i];
  return NG_OK;
}

/* In exact arithmetic CG ends in as many iterations as A has distinct eigenvalues (with b
 * touching each eigenspace). */
static void test_cg_diagonal(void) {
  enum { N = 40 };
  const double levels[4] = {1.0, 2.0, 5.0, 10.0};
  double diag[N], b[N], x[N];
  ng_rng_t rng;
  ng_rng_seed(&rng, 8, 0);
  for (int i = 0; i < N; i++) {
    diag[i] = levels[i % 4];
    b[i] = 1.0 + ng_rng_uniform(&rng);
  }
  diag_ctx_t dc = {N, diag, 0};
  ng_linop_t op = {diag_apply, &dc, N};
  ng_cg_t *cg = NULL;
  NG_CHECK_OK(ng_cg_create(&cg, N));
  NG_CHECK_OK(ng_cg_init(cg, &op, b));
  double bb = ng_cg_residual_norm2(cg);
  for (int k = 1; k <= 3; k++) {
    NG_CHECK_OK(ng_cg_iterate(cg));
    NG_CHECK(ng_cg_residual_norm2(cg) > 1e-8 * bb); /* not done before the 4th */
  }
  NG_CHECK_OK(ng_cg_iterate(cg));
  NG_CHECK(ng_cg_iterations(cg) == 4);
  NG_CHECK(ng_cg_residual_norm2(cg) <= 1e-24 * bb);
  NG_CHECK_OK(ng_cg_test(cg, 1e-24 * bb));
  for (int i = 0; i < N; i++) NG_CHECK_CLOSE(ng_cg_x(cg)[i], b[i] / diag[i], 1e-12, 0.0);
  /* the driver stops there too */
  dc.calls = 0;
  ng_cg_opts_t opts = {.max_iter = N, .residual_tol = 1e-20 * bb};
  ng_cg_report_t rep;
  NG_CHECK_OK(ng_cg_solve(cg, &op, b, x, &opts, &rep));
  NG_CHECK(rep.iterations == 4);
  NG_CHECK(rep.converged == 1);
  NG_CHECK(dc.calls == 4); /* one operator call per iteration */
  ng_cg_destroy(cg);
}

typedef struct {
  size_t n;
} lap_ctx_t;

/* out = T v with T = tridiag(-1, 2, -1), the 1-D Dirichlet Laplacian. */
static int laplacian_apply(void *ctx, const double *v, double *out) {
  size_t n = ((const lap_ctx_t *)ctx)->n;
  for (size_t i = 0; i < n; i++) {
    double s = 2.0 * v[i];
    if (i > 0) s -= v[i - 1];
    if (i + 1 < n) s -= v[i + 1];
    out[i] = s;
  }
  return NG_OK;
}

static void test_cg_laplacian(void) {
  enum { N = 50 };
  double b[N], x[N];
  for (int i = 0; i < N; i++) b[i] = 1.0;
  lap_ctx_t lc = {N};
  ng_linop_t op = {laplacian_apply, &lc, N};
  ng_cg_t *cg = NULL;
  NG_CHECK_OK(ng_cg_create(&cg, N));
  ng_cg_opts_t opts = {.max_iter = 2 * N, .residual_tol = 1e-24};
  ng_cg_report_t rep;
  NG_CHECK_OK(ng_cg_solve(cg, &op, b, x, &opts, &rep));
  NG_CHECK(rep.converged == 1);
  NG_CHECK(rep.iterations <= N);
  /* -x_{i-1} + 2 x_i - x_{i+1} = 1 with x_0 = x_{N+1} = 0 has x_i = i (N + 1 - i) / 2 */
  double want[N];
  for (int i = 0; i < N; i++) want[i] = (i + 1.0) * (N - i) / 2.0;
  NG_CHECK_VEC_CLOSE(N, x, want, TOL_SOLVE);
  ng_cg_destroy(cg);
}

typedef struct {
  ng_cg_t *cg;
  size_t n;
  const double *a, *xstar, *b;
  double last_err; /* A-norm^2 of the error at the previous iteration */
  double err_floor;
  int calls, monotone, iter_ok, rr_ok;
  int stop_at; /* return non-zero at this iteration (0: never) */
} watch_t;

static int watch(void *ctx, int iter, double rr) {
  watch_t *w = ctx;
  w->calls++;
  if (iter != w->calls) w->iter_ok = 0;
  const double *x = ng_cg_x(w->cg);
  size_t n = w->n;
  double *e = malloc(n * sizeof *e), *ae = malloc(n * sizeof *ae);
  for (size_t i = 0; i < n; i++) e[i] = x[i] - w->xstar[i];
  ref_matvec(n, w->a, e, ae);
  double err = 0.0;
  for (size_t i = 0; i < n; i++) err += e[i] * ae[i];
  /* absolute slack: x* is only known to about cond(A) * eps, which floors the error */
  if (!(err <= w->last_err * (1.0 + TOL_MONOTONE) + w->err_floor)) w->monotone = 0;
  w->last_err = err;
  /* the reported value is the tracked residual, which follows the true ||b - A x||^2 */
  ref_matvec(n, w->a, x, ae);
  double tr = 0.0;
  for (size_t i = 0; i < n; i++) tr += (w->b[i] - ae[i]) * (w->b[i] - ae[i]);
  if (rr != ng_cg_residual_norm2(w->cg) || !(fabs(tr - rr) <= 1e-6 * tr + 1e-20)) w->rr_ok = 0;
  free(e);
  free(ae);
  return w->stop_at && iter == w->stop_at;
}

/* CG minimises the A-norm of the error over growing Krylov spaces: it never increases. */
static void test_cg_error_monotone(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 9, 0);
  enum { N = 40 };
  double *a = random_spd(&rng, N, 0.01); /* condition ~400: many visible iterations */
  double xstar[N], b[N], x[N];
  fill_normal(&rng, N, xstar);
  ref_matvec(N, a, xstar, b);
  ng_linop_t op;
  ng_dense_op_ctx_t ctx;
  NG_CHECK_OK(ng_linop_dense(&op, &ctx, N, a));
  ng_cg_t *cg = NULL;
  NG_CHECK_OK(ng_cg_create(&cg, N));
  double e0 = 0.0;
  for (int i = 0; i < N; i++) e0 += xstar[i] * b[i]; /* x0 = 0: e^T A e = x*^T b */
  watch_t w = {cg, N, a, xstar, b, e0, 1e-20 * e0, 0, 1, 1, 1, 0};
  ng_cg_opts_t opts = {.max_iter = 3 * N, .residual_tol = 1e-24, .on_iter = watch,
                       .on_iter_ctx = &w};
  ng_cg_report_t rep;
  NG_CHECK_OK(ng_cg_solve(cg, &op, b, x, &opts, &rep));
  NG_CHECK(w.calls == rep.iterations);
  NG_CHECK(w.calls >= 10);
  NG_CHECK(w.monotone);
  NG_CHECK(w.iter_ok);
  NG_CHECK(w.rr_ok);
  NG_CHECK(w.last_err < 1e-12 * e0);

  /* a callback's non-zero return interrupts, keeping that iteration's x */
  watch_t w2 = {cg, N, a, xstar, b, e0, 1e-20 * e0, 0, 1, 1, 1, 3};
  opts.on_iter_ctx = &w2;
  NG_CHECK_STATUS(ng_cg_solve(cg, &op, b, x, &opts, &rep), NG_EINTERRUPTED);
  NG_CHECK(w2.calls == 3 && rep.iterations == 3 && rep.converged == 0);
  NG_CHECK(memcmp(x, ng_cg_x(cg), sizeof x) == 0);
  ng_cg_destroy(cg);
  free(a);
}

/* The hand-written GSL-style loop and the driver give the same x, bit for bit, including
 * when max_iter truncates the solve. */
static void test_cg_by_hand_and_truncated(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 10, 0);
  enum { N = 30, K = 3 };
  double *a = random_spd(&rng, N, 0.01);
  double b[N], x[N], xh[N];
  fill_normal(&rng, N, b);
  ng_linop_t op;
  ng_dense_op_ctx_t ctx;
  NG_CHECK_OK(ng_linop_dense(&op, &ctx, N, a));
  ng_cg_t *cg = NULL;
  NG_CHECK_OK(ng_cg_create(&cg, N));

  const double tol = 1e-20;
  NG_CHECK_OK(ng_cg_init(cg, &op, b));
  NG_CHECK(ng_cg_iterations(cg) == 0);
  NG_CHECK(ng_cg_test(cg, tol) == 1);
  for (int k = 0; k < K; k++) NG_CHECK_OK(ng_cg_iterate(cg));
  memcpy(xh, ng_cg_x(cg), sizeof xh);
  double rr_k = ng_cg_residual_norm2(cg);

  /* watched only for its count and residual checks (b stands in for the unused x*) */
  watch_t w = {cg, N, a, b, b, INFINITY, 0.0, 0, 1, 1, 1, 0};
  ng_cg_opts_t opts = {.max_iter = K, .residual_tol = tol, .on_iter = watch, .on_iter_ctx = &w};
  ng_cg_report_t rep;
  NG_CHECK_OK(ng_cg_solve(cg, &op, b, x, &opts, &rep)); /* truncation is not an error */
  NG_CHECK(rep.iterations == K);
  NG_CHECK(rep.converged == 0);
  NG_CHECK(w.calls == K);
  NG_CHECK(rep.residual_norm2 == rr_k);
  NG_CHECK(memcmp(x, xh, sizeof x) == 0);

  /* to convergence: loop by hand until the test passes */
  NG_CHECK_OK(ng_cg_init(cg, &op, b));
  int st = 1, guard = 0;
  while (st == 1 && guard++ < 10 * N) {
    NG_CHECK_OK(ng_cg_iterate(cg));
    st = ng_cg_test(cg, tol);
  }
  NG_CHECK_OK(st);
  int hand_iters = ng_cg_iterations(cg);
  memcpy(xh, ng_cg_x(cg), sizeof xh);
  opts.max_iter = 10 * N;
  opts.on_iter = NULL;
  NG_CHECK_OK(ng_cg_solve(cg, &op, b, x, &opts, NULL)); /* report may be NULL */
  NG_CHECK(ng_cg_iterations(cg) == hand_iters);
  NG_CHECK(memcmp(x, xh, sizeof x) == 0);
  ng_cg_destroy(cg);
  free(a);
}

/* diag(4, -1) with b = (1, 1): the first step has p^T A p = 3 > 0 and lands at
 * x = (2/3, 2/3); the second direction p = (10/9, 40/9) has p^T A p = -1200/81. */
static void test_cg_indefinite(void) {
  double diag[2] = {4.0, -1.0}, b[2] = {1.0, 1.0}, x[2] = {NAN, NAN};
  diag_ctx_t dc = {2, diag, 0};
  ng_linop_t op = {diag_apply, &dc, 2};
  ng_cg_t *cg = NULL;
  NG_CHECK_OK(ng_cg_create(&cg, 2));
  ng_cg_opts_t opts = {.max_iter = 10, .residual_tol = 1e-20};
  ng_cg_report_t rep;
  NG_CHECK_STATUS(ng_cg_solve(cg, &op, b, x, &opts, &rep), NG_ECURVATURE);
  NG_CHECK(rep.iterations == 1);
  NG_CHECK(rep.converged == 0);
  NG_CHECK_CLOSE(x[0], 2.0 / 3.0, TOL_EXACT, 0.0);
  NG_CHECK_CLOSE(x[1], 2.0 / 3.0, TOL_EXACT, 0.0);
  /* negative along b itself: x stays 0 */
  double diag2[2] = {1.0, -3.0};
  diag_ctx_t dc2 = {2, diag2, 0};
  ng_linop_t op2 = {diag_apply, &dc2, 2};
  NG_CHECK_STATUS(ng_cg_solve(cg, &op2, b, x, &opts, &rep), NG_ECURVATURE);
  NG_CHECK(rep.iterations == 0 && x[0] == 0.0 && x[1] == 0.0);
  /* zero curvature counts too */
  double diag3[2] = {1.0, -1.0};
  diag_ctx_t dc3 = {2, diag3, 0};
  ng_linop_t op3 = {diag_apply, &dc3, 2};
  NG_CHECK_OK(ng_cg_init(cg, &op3, b));
  NG_CHECK_STATUS(ng_cg_iterate(cg), NG_ECURVATURE);
  NG_CHECK(ng_all_finite(2, ng_cg_x(cg)));
  ng_cg_destroy(cg);
}

/* A SPD operator (the Laplacian) that turns bad at a chosen call. */
typedef struct {
  size_t n;
  int calls, bad_call, mode; /* mode 0: NaN in out, 1: Inf in out, 2: return NG_EIO */
} faulty_t;

static int faulty_apply(void *ctx, const double *v, double *out) {
  faulty_t *f = ctx;
  lap_ctx_t lc = {f->n};
  laplacian_apply(&lc, v, out);
  if (++f->calls < f->bad_call) return NG_OK;
  if (f->mode == 2) return NG_EIO;
  out[f->n / 2] = f->mode == 0 ? NAN : INFINITY;
  return NG_OK;
}

static void test_cg_faulty_operator(void) {
  enum { N = 20, GOOD = 4 };
  double b[N], x[N], want[N];
  for (int i = 0; i < N; i++) b[i] = sin(0.3 * i) + 0.5;
  ng_cg_t *cg = NULL;
  NG_CHECK_OK(ng_cg_create(&cg, N));
  /* the iterate after GOOD healthy iterations */
  lap_ctx_t lc = {N};
  ng_linop_t lap = {laplacian_apply, &lc, N};
  NG_CHECK_OK(ng_cg_init(cg, &lap, b));
  for (int k = 0; k < GOOD; k++) NG_CHECK_OK(ng_cg_iterate(cg));
  memcpy(want, ng_cg_x(cg), sizeof want);

  const int modes[3] = {0, 1, 2};
  const int expect[3] = {NG_ENONFINITE, NG_ENONFINITE, NG_EIO};
  for (int m = 0; m < 3; m++) {
    faulty_t f = {N, 0, GOOD + 1, modes[m]};
    ng_linop_t op = {faulty_apply, &f, N};
    ng_cg_opts_t opts = {.max_iter = 100, .residual_tol = 1e-24};
    ng_cg_report_t rep;
    for (int i = 0; i < N; i++) x[i] = NAN;
    NG_CHECK_STATUS(ng_cg_solve(cg, &op, b, x, &opts, &rep), expect[m]);
    NG_CHECK(rep.iterations == GOOD);
    NG_CHECK(ng_all_finite(N, x));
    NG_CHECK(memcmp(x, want, sizeof x) == 0);
    NG_CHECK(ng_all_finite(N, ng_cg_x(cg)));
    /* iterating again reports the same failure and still leaves x alone */
    NG_CHECK_STATUS(ng_cg_iterate(cg), expect[m]);
    NG_CHECK(memcmp(ng_cg_x(cg), want, sizeof want) == 0);
  }
  /* bad from the first call: x is zero */
  faulty_t f = {N, 0, 1, 0};
  ng_linop_t op = {faulty_apply, &f, N};
  ng_cg_opts_t opts = {.max_iter = 100, .residual_tol = 1e-24};
  NG_CHECK_STATUS(ng_cg_solve(cg, &op, b, x, &opts, NULL), NG_ENONFINITE);
  for (int i = 0; i < N; i++) NG_CHECK(x[i] == 0.0);
  ng_cg_destroy(cg);
}

static void test_cg_zero_rhs(void) {
  enum { N = 5 };
  double diag[N] = {1, 2, 3, 4, 5}, b[N] = {0}, x[N] = {7, 7, 7, 7, 7};
  diag_ctx_t dc = {N, diag, 0};
  ng_linop_t op = {diag_apply, &dc, N};
  ng_cg_t *cg = NULL;
  NG_CHECK_OK(ng_cg_create(&cg, N));
  ng_cg_opts_t opts = {.max_iter = 10, .residual_tol = 0.0};
  ng_cg_report_t rep;
  NG_CHECK_OK(ng_cg_solve(cg, &op, b, x, &opts, &rep));
  NG_CHECK(rep.converged == 1 && rep.iterations == 0);
  NG_CHECK(rep.initial_norm2 == 0.0 && rep.residual_norm2 == 0.0);
  NG_CHECK(dc.calls == 0);
  for (int i = 0; i < N; i++) NG_CHECK(x[i] == 0.0);
  /* by hand, iterating anyway neither divides by zero nor calls a curvature failure */
  NG_CHECK_OK(ng_cg_init(cg, &op, b));
  NG_CHECK_OK(ng_cg_test(cg, 0.0));
  NG_CHECK_OK(ng_cg_iterate(cg));
  NG_CHECK_OK(ng_cg_test(cg, 0.0));
  for (int i = 0; i < N; i++) NG_CHECK(ng_cg_x(cg)[i] == 0.0);
  ng_cg_destroy(cg);
}

static int fail_count_left = 0;
static void *failing_malloc(size_t s) { return fail_count_left-- > 0 ? malloc(s) : NULL; }
static void *failing_calloc(size_t c, size_t s) {
  return fail_count_left-- > 0 ? calloc(c, s) : NULL;
}
static void *failing_realloc(void *p, size_t s) {
  return fail_count_left-- > 0 ? realloc(p, s) : NULL;
}

static double not_a_solver; /* a sentinel that create must overwrite with NULL on failure */

static void test_cg_bad_inputs(void) {
  ng_cg_t *cg = (ng_cg_t *)(void *)&not_a_solver;
  NG_CHECK_STATUS(ng_cg_create(&cg, 0), NG_EINVAL);
  NG_CHECK(cg == NULL);
  NG_CHECK_STATUS(ng_cg_create(NULL, 3), NG_EINVAL);
  /* every allocation failing in turn fails cleanly (ASan reports any leak) */
  for (int k = 0; k < 2; k++) {
    fail_count_left = k;
    NG_CHECK_OK(ng_set_allocator(failing_malloc, failing_calloc, failing_realloc, free));
    cg = (ng_cg_t *)(void *)&not_a_solver;
    NG_CHECK_STATUS(ng_cg_create(&cg, 3), NG_ENOMEM);
    NG_CHECK(cg == NULL);
    NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
  }
  ng_cg_destroy(NULL);

  double diag[3] = {1, 2, 3}, b[3] = {1, 1, 1}, x[3];
  diag_ctx_t dc = {3, diag, 0};
  ng_linop_t op = {diag_apply, &dc, 3};
  NG_CHECK_OK(ng_cg_create(&cg, 3));
  NG_CHECK_STATUS(ng_cg_iterate(cg), NG_EINVAL); /* before init */
  NG_CHECK_STATUS(ng_cg_test(cg, 1e-10), NG_EINVAL);
  NG_CHECK_STATUS(ng_cg_init(NULL, &op, b), NG_EINVAL);
  NG_CHECK_STATUS(ng_cg_init(cg, NULL, b), NG_EINVAL);
  NG_CHECK_STATUS(ng_cg_init(cg, &op, NULL), NG_EINVAL);
  ng_linop_t wrong_n = {diag_apply, &dc, 2};
  NG_CHECK_STATUS(ng_cg_init(cg, &wrong_n, b), NG_EINVAL);
  ng_linop_t no_fn = {NULL, &dc, 3};
  NG_CHECK_STATUS(ng_cg_init(cg, &no_fn, b), NG_EINVAL);
  double bn[3] = {1, NAN, 1};
  NG_CHECK_STATUS(ng_cg_init(cg, &op, bn), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_cg_iterate(cg), NG_EINVAL); /* a failed init leaves nothing to run */
  NG_CHECK_OK(ng_cg_init(cg, &op, b));
  NG_CHECK_STATUS(ng_cg_test(cg, NAN), NG_EINVAL);
  NG_CHECK_STATUS(ng_cg_test(cg, -1.0), NG_EINVAL);
  NG_CHECK_STATUS(ng_cg_test(NULL, 1.0), NG_EINVAL);
  NG_CHECK_STATUS(ng_cg_iterate(NULL), NG_EINVAL);

  ng_cg_opts_t opts = {.max_iter = 0, .residual_tol = 1e-10};
  NG_CHECK_STATUS(ng_cg_solve(cg, &op, b, x, &opts, NULL), NG_EINVAL);
  opts.max_iter = 5;
  opts.residual_tol = NAN;
  NG_CHECK_STATUS(ng_cg_solve(cg, &op, b, x, &opts, NULL), NG_EINVAL);
  opts.residual_tol = 1e-10;
  NG_CHECK_STATUS(ng_cg_solve(cg, &op, b, x, NULL, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_cg_solve(cg, &op, b, NULL, &opts, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_cg_solve(NULL, &op, b, x, &opts, NULL), NG_EINVAL);
  for (int i = 0; i < 3; i++) x[i] = NAN;
  NG_CHECK_STATUS(ng_cg_solve(cg, &op, bn, x, &opts, NULL), NG_ENONFINITE);
  NG_CHECK(x[0] == 0.0 && x[1] == 0.0 && x[2] == 0.0);
  /* x may alias b */
  memcpy(x, b, sizeof x);
  NG_CHECK_OK(ng_cg_solve(cg, &op, x, x, &opts, NULL));
  for (int i = 0; i < 3; i++) NG_CHECK_CLOSE(x[i], 1.0 / diag[i], 1e-9, 0.0);
  NG_CHECK(ng_cg_x(NULL) == NULL && ng_cg_iterations(NULL) == 0);
  ng_cg_destroy(cg);
}

int main(void) {
  NG_TEST_RUN(test_vectors);
  NG_TEST_RUN(test_dense_op);
  NG_TEST_RUN(test_metric_random);
  NG_TEST_RUN(test_metric_identity);
  NG_TEST_RUN(test_metric_seed_bug);
  NG_TEST_RUN(test_metric_bad_inputs);
  NG_TEST_RUN(test_cholesky_random);
  NG_TEST_RUN(test_cholesky_not_pd);
  NG_TEST_RUN(test_cholesky_bad_inputs);
  NG_TEST_RUN(test_cg_vs_cholesky);
  NG_TEST_RUN(test_cg_diagonal);
  NG_TEST_RUN(test_cg_laplacian);
  NG_TEST_RUN(test_cg_error_monotone);
  NG_TEST_RUN(test_cg_by_hand_and_truncated);
  NG_TEST_RUN(test_cg_indefinite);
  NG_TEST_RUN(test_cg_faulty_operator);
  NG_TEST_RUN(test_cg_zero_rhs);
  NG_TEST_RUN(test_cg_bad_inputs);
  NG_TEST_END();
}
