/* natgrad fisher: the Fisher information matrix of a model at theta, averaged over a batch,
 *
 *     F = (1/N) sum_b J_b^T M(P_b) J_b,
 *
 * with J_b = dP_b/dtheta the Jacobian of row b's distribution parameters and M the
 * distribution's own Fisher (dist.h). This is exactly the Hessian of the mean
 * KL(p_theta_old || p_theta) w.r.t. theta at theta = theta_old (first argument held fixed):
 * the term with the network's second derivatives is multiplied by grad_q KL(p || q) at
 * q = p, which is zero. A product therefore costs one JVP and one VJP over activations
 * stored once per theta; nothing is differentiated twice.
 *
 * Use: ng_fisher_set_point() once per theta (one forward pass), then any number of
 * products, a dense F, its diagonal or d^T F d at that point.
 */
#ifndef NATGRAD_FISHER_H
#define NATGRAD_FISHER_H

#include "natgrad/core.h"
#include "natgrad/linalg.h"
#include "natgrad/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ng_fisher ng_fisher_t;

/* A Fisher for model m (borrowed; must outlive f) over batches of up to max_batch rows. */
int ng_fisher_create(ng_fisher_t **out, const ng_model_t *m, size_t max_batch);
void ng_fisher_destroy(ng_fisher_t *f);

/* Optional: the reducer that adds partial sums across processes (core.h). The mean is then
 * over the total number of rows of all participants. Copied; default is single-process. */
int ng_fisher_set_reducer(ng_fisher_t *f, const ng_reducer_t *r);

/* Fixes the point: copies theta, runs one forward over X (batch x n_in, batch <= max_batch)
 * and keeps activations and distribution parameters for the products that follow. X is
 * borrowed until the next set_point. */
int ng_fisher_set_point(ng_fisher_t *f, const double *theta, size_t batch, const double *x);

/* As set_point on a random subset of n_sub of the batch rows (without replacement, rows
 * copied into f), the sub-sampled products TRPO uses (e.g. 10% of the batch). The full
 * batch must also fit: 1 <= n_sub <= batch <= max_batch. */
int ng_fisher_set_point_subsample(ng_fisher_t *f, const double *theta, size_t batch,
                                  const double *x, size_t n_sub, ng_rng_t *rng);

size_t ng_fisher_n(const ng_fisher_t *f);           /* number of parameters */
size_t ng_fisher_batch(const ng_fisher_t *f);       /* rows at the current point (local) */
/* Products F v computed since create (apply, linop calls, distance: 1 each; dense: n;
 * diag uses no products). */
unsigned long ng_fisher_products(const ng_fisher_t *f);

/* out = (F + damping I) v. v and out are n doubles and must not alias. */
int ng_fisher_apply(ng_fisher_t *f, const double *v, double damping, double *out);

/* The damped product as an operator for CG (ctx is f; the damping is stored in f and used
 * by this operator until the next call). */
int ng_fisher_linop(ng_fisher_t *f, double damping, ng_linop_t *op);

/* d^T F d: the Fisher metric distance of a parameter change d (~ 2 KL for small d). */
int ng_fisher_distance(ng_fisher_t *f, const double *d, double *dist);

/* Dense F (n x n, row-major, undamped), built column by column from products: for small
 * models (n up to a few thousand). */
int ng_fisher_dense(ng_fisher_t *f, double *out);

/* Exact diagonal of F (n doubles, undamped), from per-row squared gradients through a
 * square-root factor of M: one backward pass per distribution parameter. */
int ng_fisher_diag(ng_fisher_t *f, double *out);

#ifdef __cplusplus
}
#endif
#endif
