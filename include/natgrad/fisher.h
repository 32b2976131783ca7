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
 *
 * Two product paths, equal up to rounding:
 *   - factored (the default when it fits): with a square-root factor of the distribution's
 *     Fisher, M(P_b) = sum_r u_{b,r} u_{b,r}^T, F = (1/N) sum_{b,r} s_{b,r} s_{b,r}^T where
 *     s_{b,r} = J_b^T u_{b,r} is a per-row gradient. set_point runs, after the forward, a
 *     backward pass for every r (no parameter gradients) and caches the pre-activation
 *     cotangents of every layer but the last hidden one (ng_mlp_deltas); a product F v is
 *     then two matrix products per layer (the dots s^T v, then the weighted sum of the s)
 *     plus two thin ones through the output layer, about half of a JVP + VJP's four per
 *     layer. r is the number of distribution parameters the network moves: k - 1 for k
 *     categories (M has rank k - 1), d means for a Gaussian with state-independent log stds
 *     (their head block of F is exactly 2 I, with no cross terms), 2d for a Gaussian whose
 *     log stds are network outputs. The cache holds r x rows x (stored widths + outputs + 1)
 *     doubles (ng_fisher_cache_bytes), where the stored widths are all layer widths but the
 *     last hidden one: for 11 -> 64 -> 64 -> 3 and 25 000 rows, 3 x 25 000 x (64 + 3 + 3 + 1)
 *     x 8 bytes = 43 MB, next to the 80 MB of the forward's own workspace.
 *   - JVP/VJP: dP = J v, dP <- M dP, J^T dP over the stored activations, no cache; used when
 *     the point has more rows than the cache was sized for, or when the cache is disabled.
 * The path changes neither the results (beyond rounding) nor the sequence of reducer calls,
 * so processes on different paths still reduce together. Both form a categorical M without
 * the cancellation in 1 - pi_max, so nearly deterministic policies keep an accurate F.
 */
#ifndef NATGRAD_FISHER_H
#define NATGRAD_FISHER_H

#include "natgrad/core.h"
#include "natgrad/linalg.h"
#include "natgrad/model.h"
#include "natgrad/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ng_fisher ng_fisher_t;

/* The default cap on the factored path's cache: 256 MiB. */
#define NG_FISHER_CACHE_BYTES_DEFAULT ((size_t)256 << 20)

/* A Fisher for model m (borrowed; must outlive f) over batches of up to max_batch rows,
 * with a factored-path cache of at most NG_FISHER_CACHE_BYTES_DEFAULT. */
int ng_fisher_create(ng_fisher_t **out, const ng_model_t *m, size_t max_batch);

/* The same with the cache capped at cache_bytes: it holds min(max_batch, the rows that fit)
 * rows, and a point with more rows uses the JVP/VJP path. 0 disables the factored path. */
int ng_fisher_create_ex(ng_fisher_t **out, const ng_model_t *m, size_t max_batch,
                        size_t cache_bytes);

/* Bytes the factored path's cache needs for `rows` rows of model m (0 for a NULL model, a
 * model without a factored form, e.g. one category, or on overflow). */
size_t ng_fisher_cache_bytes(const ng_model_t *m, size_t rows);
/* Rows the cache of f holds (0: factored path disabled). */
size_t ng_fisher_cache_rows(const ng_fisher_t *f);
/* 1 if the products at the current point use the factored path, else 0. */
int ng_fisher_factored(const ng_fisher_t *f);
void ng_fisher_destroy(ng_fisher_t *f);

/* Optional: threads for set_point and the products (pool.h; borrowed, must outlive its use
 * here; NULL: the caller's thread only). A product cuts the rows into fixed chunks and sums
 * them into a fixed number of partial sums added in a fixed order, so results are
 * bit-identical for any pool, and for none. NG_EINVAL for a NULL f. */
int ng_fisher_set_pool(ng_fisher_t *f, ng_pool_t *pool);

/* Optional: the reducer that adds partial sums across processes (core.h). The mean is then
 * over the total number of rows of all participants. Copied; default is single-process. */
int ng_fisher_set_reducer(ng_fisher_t *f, const ng_reducer_t *r);

/* Optional: the slices of a product and their split over processes that all hold the
 * whole point (core.h's ng_split_t; copied). Each computes its block of the slices (and,
 * for points of over 256 rows, the forward and deltas of those rows only), the split's
 * gather exchanges them, and every one adds them in order: the same product as one process
 * with the same slice count. ng_fisher_diag and ng_fisher_distance, which read every row,
 * then return NG_EUNSUPPORTED. Set-up time: may allocate (NG_ENOMEM); NG_EINVAL for a NULL
 * f or a slice count over NG_SLICES_MAX. NULL: one process, NG_SLICES_DEFAULT. */
int ng_fisher_set_split(ng_fisher_t *f, const ng_split_t *sp);

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

/* d^T F d: the Fisher metric distance of a parameter change d (~ 2 KL for small d), as
 * (1/N) sum_b (J_b d)^T M_b (J_b d): half a product (the dots, or the JVP), never negative,
 * one scalar reduction. */
int ng_fisher_distance(ng_fisher_t *f, const double *d, double *dist);

/* Dense F (n x n, row-major, undamped), built column by column from products: for small
 * models (n up to a few thousand). */
int ng_fisher_dense(ng_fisher_t *f, double *out);

/* Exact diagonal of F (n doubles, undamped), from per-row squared gradients through a
 * square-root factor of M: from the cache on the factored path (two products per layer),
 * else one backward pass per distribution parameter. */
int ng_fisher_diag(ng_fisher_t *f, double *out);

#ifdef __cplusplus
}
#endif
#endif
