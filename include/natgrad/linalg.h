/* natgrad linalg: vector helpers over (n, double *), linear operators, Cholesky, conjugate
 * gradient and the metric distance d^T M d.
 *
 * Dense products go through CBLAS (OpenBLAS); the Cholesky factorisation through LAPACK's
 * dpotrf/dpotrs as shipped inside OpenBLAS.
 */
#ifndef NATGRAD_LINALG_H
#define NATGRAD_LINALG_H

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- vectors --------------------------------------------------------------------------- */

double ng_vec_dot(size_t n, const double *x, const double *y);
double ng_vec_norm2(size_t n, const double *x);             /* Euclidean norm */
void ng_vec_axpy(size_t n, double a, const double *x, double *y); /* y += a x */
void ng_vec_scale(size_t n, double a, double *x);                 /* x *= a */
void ng_vec_copy(size_t n, const double *x, double *y);           /* y = x */
void ng_vec_zero(size_t n, double *x);

/* ---- linear operators ------------------------------------------------------------------ */

/* A linear map R^n -> R^n given by a callback: out = A v. `out` never aliases `v`.
 * `apply` returns NG_OK or an error that the caller (e.g. CG) passes on. */
typedef struct {
  int (*apply)(void *ctx, const double *v, double *out);
  void *ctx;
  size_t n;
} ng_linop_t;

/* An operator for a dense row-major n x n matrix M (borrowed, must outlive the operator):
 * fills *op to compute M v with one DGEMV. */
typedef struct {
  const double *m;
  size_t n;
} ng_dense_op_ctx_t;
int ng_linop_dense(ng_linop_t *op, ng_dense_op_ctx_t *ctx, size_t n, const double *m);

/* ---- metric distance ------------------------------------------------------------------- */

/* dist = d^T M d = sum_i sum_j d_i M_ij d_j for a dense row-major n x n metric M.
 * Identity M gives the squared Euclidean norm; the model's Fisher gives ~2 KL for small d.
 * (The seed post's loop sums d_i d_i M_ij, which equals this only for diagonal M.) */
int ng_metric_distance(size_t n, const double *m, const double *d, double *dist);

/* The same for a metric given as an operator; `work` holds n doubles (receives M d). */
int ng_metric_distance_op(const ng_linop_t *m, const double *d, double *work, double *dist);

/* ---- Cholesky ------------------------------------------------------------------------- */

/* Factors A + damping*I = L L^T in place (A row-major n x n, symmetric; only its lower
 * triangle is read; on success it holds L in the lower triangle). Returns NG_ENOTPD if the
 * damped matrix is not positive definite (A is then left partly overwritten),
 * NG_ENONFINITE if A holds NaN/Inf, NG_EINVAL on bad arguments. */
int ng_cholesky_factor(size_t n, double *a, double damping);

/* Solves L L^T x = b with a factor from ng_cholesky_factor. x may alias b. */
int ng_cholesky_solve(size_t n, const double *l, const double *b, double *x);

/* ---- conjugate gradient ----------------------------------------------------------------- */

/* CG for A x = b with A symmetric positive definite, given as an operator; x0 = 0.
 * GSL-style: the caller owns the loop (init, iterate, test) so every iteration can be
 * observed; ng_cg_solve wraps the loop. The solver never returns a non-finite x: on
 * breakdown it keeps the last finite iterate and reports the status. */
typedef struct ng_cg ng_cg_t;

/* Allocates a solver for systems of size n (4n doubles of state). */
int ng_cg_create(ng_cg_t **out, size_t n);
void ng_cg_destroy(ng_cg_t *cg);

/* Starts a solve of op x = b from x = 0. op->n must equal the solver's n; op and b are
 * borrowed until the next init (b is copied into the residual, op is called by iterate). */
int ng_cg_init(ng_cg_t *cg, const ng_linop_t *op, const double *b);

/* One CG iteration: one operator call. Returns NG_OK, NG_ECURVATURE if p^T A p <= 0 (A is
 * not positive definite along p; x is left at the previous iterate), NG_ENONFINITE if the
 * operator produced NaN/Inf, or the operator's own error. */
int ng_cg_iterate(ng_cg_t *cg);

/* NG_OK when ||r||^2 <= residual_tol (absolute, on the squared residual norm, as TRPO
 * implementations use, e.g. 1e-10), else 1 (keep iterating). */
int ng_cg_test(const ng_cg_t *cg, double residual_tol);

const double *ng_cg_x(const ng_cg_t *cg);        /* current iterate, n doubles (borrowed) */
double ng_cg_residual_norm2(const ng_cg_t *cg);  /* ||b - A x||^2 as tracked by CG */
int ng_cg_iterations(const ng_cg_t *cg);         /* iterations done since init */

typedef struct {
  int max_iter;          /* e.g. 10 for TRPO; must be >= 1 */
  double residual_tol;   /* on ||r||^2, e.g. 1e-10 */
  /* optional: called after each iteration with the squared residual norm; a non-zero
   * return stops the solve with NG_EINTERRUPTED */
  int (*on_iter)(void *ctx, int iter, double residual_norm2);
  void *on_iter_ctx;
} ng_cg_opts_t;

typedef struct {
  int iterations;
  double residual_norm2;       /* at exit */
  double initial_norm2;        /* ||b||^2 */
  int converged;               /* 1 if residual_tol was met */
} ng_cg_report_t;

/* Runs init + iterate/test up to opts->max_iter and copies the iterate into x (n doubles).
 * Returns NG_OK whether or not the tolerance was met within max_iter (truncated CG is the
 * normal use; see report->converged), or the first error from ng_cg_iterate; on error x is
 * the last finite iterate (zero if none). report may be NULL. */
int ng_cg_solve(ng_cg_t *cg, const ng_linop_t *op, const double *b, double *x,
                const ng_cg_opts_t *opts, ng_cg_report_t *report);

#ifdef __cplusplus
}
#endif
#endif
