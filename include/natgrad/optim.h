/* natgrad optim: natural-gradient directions and steps.
 *
 * Sign convention: g is the gradient of a LOSS to be minimised; the natural direction is
 * s = (F + damping I)^{-1} g and steps move theta along -s. (TRPO maximises a surrogate L:
 * pass loss = -L and g = -grad L.)
 */
#ifndef NATGRAD_OPTIM_H
#define NATGRAD_OPTIM_H

#include "natgrad/core.h"
#include "natgrad/fisher.h"
#include "natgrad/linalg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- natural gradient s = (F + damping I)^{-1} g at the Fisher's current point ------------ */

/* Matrix-free: CG on Fisher-vector products (truncated at opts->max_iter). cg must be sized
 * for ng_fisher_n(f). report may be NULL. */
int ng_natgrad_cg(ng_fisher_t *f, ng_cg_t *cg, double damping, const double *g, double *s,
                  const ng_cg_opts_t *opts, ng_cg_report_t *report);

/* Exact: dense F, Cholesky of F + damping I. work holds n*n doubles. NG_ENOTPD when the
 * damped Fisher is singular (use damping > 0 for over-parameterised models). */
int ng_natgrad_cholesky(ng_fisher_t *f, double damping, const double *g, double *s,
                        double *work);

/* ---- steps ------------------------------------------------------------------------------ */

/* Plain natural-gradient descent: theta -= lr * s. */
int ng_natgrad_descent_step(size_t n, double *theta, double lr, const double *s);

/* The scale that makes the quadratic KL model of the step -beta s equal max_kl:
 *     beta = sqrt(2 max_kl / s^T F s).
 * NG_ECURVATURE if sFs <= 0, NG_ENONFINITE if it is not finite. */
int ng_trust_region_scale(double sfs, double max_kl, double *beta);

/* Evaluates the loss and the true mean KL(p_old || p_theta) at a trial theta. */
typedef int (*ng_trial_fn)(void *ctx, const double *theta, double *loss, double *kl);

typedef struct {
  double max_kl;           /* delta: KL bound, e.g. 0.01 */
  double backtrack_ratio;  /* step shrink per trial, e.g. 0.8 */
  int max_backtracks;      /* trials after the full step, e.g. 10 */
  double accept_ratio;     /* accept only if actual improvement >= accept_ratio * expected
                              (expected = first-order g^T step); 0 = any improvement */
} ng_linesearch_opts_t;

typedef struct {
  double beta;             /* full-step scale sqrt(2 delta / sFs) */
  double step_fraction;    /* fraction of the full step taken (0 if rejected) */
  int trials;              /* trials evaluated */
  int accepted;            /* 1 if theta moved */
  double loss_before, loss_after; /* loss_after is loss_before if rejected */
  double kl;               /* true KL of the accepted step (or of the last trial) */
  double expected_improvement; /* beta * g^T s, first order, for the full step */
} ng_trust_report_t;

/* Trust-region step with backtracking line search (TRPO): theta_try = theta0 - f beta s for
 * f = 1, r, r^2, ...; accepts the first trial whose loss improved (by at least
 * accept_ratio x expected) and whose true KL <= max_kl. If every trial fails, theta is
 * restored to theta0 bit for bit and NG_ELINESEARCH is returned. loss_before is the loss at
 * theta0 (the caller usually has it). work holds n doubles. A trial that returns an error or
 * non-finite values counts as failed. */
int ng_trust_region_step(size_t n, double *theta, const double *g, const double *s, double sfs,
                         double loss_before, ng_trial_fn trial, void *trial_ctx,
                         const ng_linesearch_opts_t *opts, double *work,
                         ng_trust_report_t *report);

/* Natural policy gradient's fixed step (no line search): theta -= beta s with beta from
 * ng_trust_region_scale. */
int ng_npg_step(size_t n, double *theta, const double *s, double sfs, double max_kl);

#ifdef __cplusplus
}
#endif
#endif
