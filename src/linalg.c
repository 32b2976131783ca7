/* Vector helpers, dense operators, the metric distance, Cholesky and conjugate gradient.
 * Products go through CBLAS, the factorisation through LAPACK's dpotrf/dpotrs (OpenBLAS). */
#include "natgrad/linalg.h"

#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* LAPACK's Fortran entry points (OpenBLAS ships them; no lapack.h needed). Integers are
 * OpenBLAS's blasint. The trailing size_t is gfortran's hidden length of the CHARACTER
 * argument: passing it explicitly is harmless for C implementations and keeps Fortran
 * ones from reading garbage off the stack. */
extern void dpotrf_(const char *uplo, const blasint *n, double *a, const blasint *lda,
                    blasint *info, size_t uplo_len);
extern void dpotrs_(const char *uplo, const blasint *n, const blasint *nrhs, const double *a,
                    const blasint *lda, double *b, const blasint *ldb, blasint *info,
                    size_t uplo_len);

/* BLAS takes int lengths; vectors longer than that are processed in chunks. */
#define NG__BLAS_CHUNK ((size_t)INT_MAX)
/* Rows per DGEMV block in ng_metric_distance (a stack buffer, so no allocation). */
#define NG__METRIC_BLOCK 64

/* ---- vectors ---- */

double ng_vec_dot(size_t n, const double *x, const double *y) {
  double s = 0.0;
  for (size_t i = 0; i < n; i += NG__BLAS_CHUNK) {
    size_t k = n - i < NG__BLAS_CHUNK ? n - i : NG__BLAS_CHUNK;
    s += cblas_ddot((blasint)k, x + i, 1, y + i, 1);
  }
  return s;
}

double ng_vec_norm2(size_t n, const double *x) {
  double s = 0.0;
  for (size_t i = 0; i < n; i += NG__BLAS_CHUNK) {
    size_t k = n - i < NG__BLAS_CHUNK ? n - i : NG__BLAS_CHUNK;
    s = hypot(s, cblas_dnrm2((blasint)k, x + i, 1)); /* hypot: no overflow across chunks */
  }
  return s;
}

void ng_vec_axpy(size_t n, double a, const double *x, double *y) {
  for (size_t i = 0; i < n; i += NG__BLAS_CHUNK) {
    size_t k = n - i < NG__BLAS_CHUNK ? n - i : NG__BLAS_CHUNK;
    cblas_daxpy((blasint)k, a, x + i, 1, y + i, 1);
  }
}

void ng_vec_scale(size_t n, double a, double *x) {
  for (size_t i = 0; i < n; i += NG__BLAS_CHUNK) {
    size_t k = n - i < NG__BLAS_CHUNK ? n - i : NG__BLAS_CHUNK;
    cblas_dscal((blasint)k, a, x + i, 1);
  }
}

void ng_vec_copy(size_t n, const double *x, double *y) {
  for (size_t i = 0; i < n; i += NG__BLAS_CHUNK) {
    size_t k = n - i < NG__BLAS_CHUNK ? n - i : NG__BLAS_CHUNK;
    cblas_dcopy((blasint)k, x + i, 1, y + i, 1);
  }
}

void ng_vec_zero(size_t n, double *x) {
  for (size_t i = 0; i < n; i++) x[i] = 0.0;
}

/* ---- dense operator ---- */

/* out[n] = M[n,n] v[n], M row-major. */
static int ng__dense_apply(void *ctx, const double *v, double *out) {
  const ng_dense_op_ctx_t *c = ctx;
  blasint n = (blasint)c->n;
  cblas_dgemv(CblasRowMajor, CblasNoTrans, n, n, 1.0, c->m, n, v, 1, 0.0, out, 1);
  return NG_OK;
}

int ng_linop_dense(ng_linop_t *op, ng_dense_op_ctx_t *ctx, size_t n, const double *m) {
  if (!op || !ctx || !m || n == 0 || n > NG__BLAS_CHUNK) return NG_EINVAL;
  ctx->m = m;
  ctx->n = n;
  op->apply = ng__dense_apply;
  op->ctx = ctx;
  op->n = n;
  return NG_OK;
}

/* ---- metric distance ---- */

/* dist = d[n]^T M[n,n] d[n]: DGEMV over blocks of rows into a stack buffer, then the dot of
 * each block of M d with the matching slice of d. */
int ng_metric_distance(size_t n, const double *m, const double *d, double *dist) {
  if (!m || !d || !dist || n == 0 || n > NG__BLAS_CHUNK) return NG_EINVAL;
  double md[NG__METRIC_BLOCK];
  double s = 0.0;
  for (size_t i = 0; i < n; i += NG__METRIC_BLOCK) {
    size_t rows = n - i < NG__METRIC_BLOCK ? n - i : NG__METRIC_BLOCK;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)rows, (blasint)n, 1.0, m + i * n,
                (blasint)n, d, 1, 0.0, md, 1);
    s += cblas_ddot((blasint)rows, d + i, 1, md, 1);
  }
  if (!isfinite(s)) return NG_ENONFINITE;
  *dist = s;
  return NG_OK;
}

int ng_metric_distance_op(const ng_linop_t *m, const double *d, double *work, double *dist) {
  if (!m || !m->apply || m->n == 0 || !d || !work || !dist || work == d) return NG_EINVAL;
  int st = m->apply(m->ctx, d, work);
  if (st != NG_OK) return st;
  double s = ng_vec_dot(m->n, d, work);
  if (!isfinite(s)) return NG_ENONFINITE;
  *dist = s;
  return NG_OK;
}

/* ---- Cholesky ---- */

/* A row-major lower triangle is, read column-major, the upper triangle of A^T = A; so
 * LAPACK's 'U' factor U^T U of that view is L L^T with L = U^T stored where we want it. */
int ng_cholesky_factor(size_t n, double *a, double damping) {
  if (!a || n == 0 || n > NG__BLAS_CHUNK) return NG_EINVAL;
  if (!isfinite(damping)) return NG_ENONFINITE;
  if (damping < 0.0) return NG_EINVAL;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j <= i; j++)
      if (!isfinite(a[i * n + j])) return NG_ENONFINITE;
    if (!isfinite(a[i * n + i] + damping)) return NG_ENONFINITE;
  }
  if (damping > 0.0)
    for (size_t i = 0; i < n; i++) a[i * n + i] += damping;
  blasint bn = (blasint)n, info = 0;
  dpotrf_("U", &bn, a, &bn, &info, 1);
  if (info > 0) return NG_ENOTPD;
  if (info < 0) return NG_EINVAL;
  return NG_OK;
}

int ng_cholesky_solve(size_t n, const double *l, const double *b, double *x) {
  if (!l || !b || !x || n == 0 || n > NG__BLAS_CHUNK) return NG_EINVAL;
  /* A factor has a positive finite diagonal; anything else (e.g. a matrix whose
   * factorisation failed) would make dpotrs divide by zero. */
  for (size_t i = 0; i < n; i++)
    if (!(l[i * n + i] > 0.0) || !isfinite(l[i * n + i])) return NG_EINVAL;
  if (!ng_all_finite(n, b)) return NG_ENONFINITE;
  if (x != b) memmove(x, b, n * sizeof *x);
  blasint bn = (blasint)n, one = 1, info = 0;
  dpotrs_("U", &bn, &one, l, &bn, x, &bn, &info, 1);
  return info == 0 ? NG_OK : NG_EINVAL;
}

/* ---- conjugate gradient ---- */

struct ng_cg {
  size_t n;
  ng_linop_t op;    /* copied at init */
  double *x;        /* iterate */
  double *r;        /* residual b - A x, updated by recurrence */
  double *p;        /* search direction */
  double *ap;       /* A p; also receives the next residual before the swap */
  double *slab;     /* the one allocation behind x, r, p, ap */
  double rr;        /* r^T r */
  int iter;
  int ready;        /* 1 after a successful init */
};

int ng_cg_create(ng_cg_t **out, size_t n) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (n == 0 || n > NG__BLAS_CHUNK) return NG_EINVAL;
  ng_cg_t *cg = ng_calloc(1, sizeof *cg);
  if (!cg) return NG_ENOMEM;
  double *slab = ng_calloc(4 * n, sizeof *slab);
  if (!slab) {
    ng_free(cg);
    return NG_ENOMEM;
  }
  cg->n = n;
  cg->slab = slab;
  cg->x = slab;
  cg->r = slab + n;
  cg->p = slab + 2 * n;
  cg->ap = slab + 3 * n;
  *out = cg;
  return NG_OK;
}

void ng_cg_destroy(ng_cg_t *cg) {
  if (!cg) return;
  ng_free(cg->slab);
  ng_free(cg);
}

int ng_cg_init(ng_cg_t *cg, const ng_linop_t *op, const double *b) {
  if (!cg) return NG_EINVAL;
  cg->ready = 0;
  cg->iter = 0;
  cg->rr = 0.0;
  ng_vec_zero(cg->n, cg->x);
  if (!op || !op->apply || op->n != cg->n || !b) return NG_EINVAL;
  if (!ng_all_finite(cg->n, b)) return NG_ENONFINITE;
  double rr = ng_vec_dot(cg->n, b, b);
  if (!isfinite(rr)) return NG_ENONFINITE;
  cg->op = *op;
  ng_vec_copy(cg->n, b, cg->r);
  ng_vec_copy(cg->n, b, cg->p);
  cg->rr = rr;
  cg->ready = 1;
  return NG_OK;
}

/* One step on x[n], r[n], p[n], ap[n]. Nothing in x or r changes until every quantity of
 * the step is known to be finite, so a breakdown leaves the previous iterate intact. */
int ng_cg_iterate(ng_cg_t *cg) {
  if (!cg || !cg->ready) return NG_EINVAL;
  size_t n = cg->n;
  /* r = 0 means x solves the system exactly (b = 0 lands here at once): nothing to do,
   * and p = 0 would otherwise read as zero curvature. */
  if (cg->rr == 0.0) return NG_OK;
  int st = cg->op.apply(cg->op.ctx, cg->p, cg->ap);
  if (st != NG_OK) return st;
  double pap = ng_vec_dot(n, cg->p, cg->ap);
  if (!isfinite(pap)) return NG_ENONFINITE; /* NaN or Inf anywhere in A p reaches the dot */
  if (pap <= 0.0) return NG_ECURVATURE;
  double alpha = cg->rr / pap;
  if (!isfinite(alpha)) return NG_ENONFINITE;
  /* |x_i + alpha p_i| is bounded by this, so the x update cannot overflow if it passes */
  size_t ix = (size_t)cblas_idamax((blasint)n, cg->x, 1);
  size_t ip = (size_t)cblas_idamax((blasint)n, cg->p, 1);
  double bound = fabs(cg->x[ix]) + fabs(alpha) * fabs(cg->p[ip]);
  if (!(bound <= 0.5 * DBL_MAX)) return NG_ENONFINITE;
  /* next residual r - alpha A p, built in the ap buffer so r survives a failure */
  ng_vec_scale(n, -alpha, cg->ap);
  ng_vec_axpy(n, 1.0, cg->r, cg->ap);
  double rr_new = ng_vec_dot(n, cg->ap, cg->ap);
  if (!isfinite(rr_new)) return NG_ENONFINITE;
  /* commit: x += alpha p, r <- new residual, p = r + beta p */
  ng_vec_axpy(n, alpha, cg->p, cg->x);
  double *t = cg->r;
  cg->r = cg->ap;
  cg->ap = t;
  double beta = rr_new / cg->rr;
  ng_vec_scale(n, beta, cg->p);
  ng_vec_axpy(n, 1.0, cg->r, cg->p);
  cg->rr = rr_new;
  cg->iter++;
  return NG_OK;
}

int ng_cg_test(const ng_cg_t *cg, double residual_tol) {
  if (!cg || !cg->ready || !(residual_tol >= 0.0)) return NG_EINVAL;
  return cg->rr <= residual_tol ? NG_OK : 1;
}

const double *ng_cg_x(const ng_cg_t *cg) { return cg ? cg->x : NULL; }
double ng_cg_residual_norm2(const ng_cg_t *cg) { return cg ? cg->rr : 0.0; }
int ng_cg_iterations(const ng_cg_t *cg) { return cg ? cg->iter : 0; }

int ng_cg_solve(ng_cg_t *cg, const ng_linop_t *op, const double *b, double *x,
                const ng_cg_opts_t *opts, ng_cg_report_t *report) {
  if (report) memset(report, 0, sizeof *report);
  if (!cg || !x) return NG_EINVAL;
  if (!opts || opts->max_iter < 1 || !(opts->residual_tol >= 0.0)) {
    ng_vec_zero(cg->n, x);
    return NG_EINVAL;
  }
  int st = ng_cg_init(cg, op, b);
  int converged = 0;
  double initial = cg->rr;
  if (st == NG_OK) {
    converged = ng_cg_test(cg, opts->residual_tol) == NG_OK;
    while (!converged && cg->iter < opts->max_iter) {
      st = ng_cg_iterate(cg);
      if (st != NG_OK) break;
      converged = ng_cg_test(cg, opts->residual_tol) == NG_OK;
      if (opts->on_iter && opts->on_iter(opts->on_iter_ctx, cg->iter, cg->rr) != 0) {
        st = NG_EINTERRUPTED;
        break;
      }
    }
  }
  /* cg->x is zero after a failed init and the last finite iterate otherwise */
  ng_vec_copy(cg->n, cg->x, x);
  if (report) {
    report->iterations = cg->iter;
    report->residual_norm2 = cg->rr;
    report->initial_norm2 = initial;
    report->converged = converged;
  }
  return st;
}
