/* natgrad K-FAC: Kronecker-factored curvature of a dense network (Martens & Grosse, 2015),
 * one implementation for every optimiser that wants it: `natgrad fit --opt kfac`
 * (supervised.h) and ACKTR's policy and value function (rl.h).
 *
 * Layer l (0-based) of an MLP maps width c = sizes[l] to r = sizes[l+1]; its parameters
 * (W_l, b_l) form the r x (c+1) matrix [W_l | b_l] whose per-row gradient is g a^T with
 * a = [a_{l-1}; 1] the layer's input with a 1 appended and g the cotangent of its
 * pre-activation z_l. The factors of a batch are
 *     A_l = (1/B) sum_b a_b a_b^T                 (c+1) x (c+1)
 *     G_l = (1/B) sum_b E[g_b g_b^T]              r x r
 * and the layer's block of the curvature is approximated by A_l (x) G_l: entry
 * ((i, j), (k, m)) (row i, column j of [W|b]) ~ G[i,k] A[j,m]. Blocks of different layers
 * are taken as zero.
 *
 * Two kinds of K-FAC, by what the output side's curvature M is:
 *   ng_kfac_create(model):   the model's Fisher, M = the Fisher of its distribution head
 *     (dist.h). g_b = d(-log p(y~_b | x_b)) / d z_l with y~ drawn from the model
 *     (NG_FISHER_TRUE, `samples` labels per row, or with samples = 0 the exact expectation
 *     sum_r u_r u_r^T pulled back through the network for a square-root factor u of M), or
 *     the data's label (NG_FISHER_EMPIRICAL: a different matrix, see supervised.h). For one
 *     dense layer with a Gaussian head (M constant) A (x) G is the exact Fisher block.
 *   ng_kfac_create_mlp(mlp): the Gauss-Newton matrix of the squared error
 *     (1/2) mean_b ||f(x_b) - y_b||^2, M = I: G pulls back every output unit in turn (the
 *     Fisher of a unit-variance Gaussian on the outputs). ACKTR's value function.
 *
 * Use: ng_kfac_forward (or, for the supervised loss, its own forward on ng_kfac_model_ws)
 * on a batch, ng_kfac_batch_stats, ng_kfac_update_running, every so often ng_kfac_invert,
 * then ng_kfac_precondition(g) for the step direction.
 *
 * Sums over the batch: every batch factor is one BLAS product over the whole batch
 * (deterministic for a given batch, whatever the pool), then one reduction per factor
 * through the reducer (core.h) weighted by each participant's share of the rows, so
 * several processes holding shards of one batch get the factors of the whole batch. With
 * the identity reducer the weight is exactly 1.
 *
 * Memory: everything is allocated in *_create; the passes allocate nothing. The model or
 * MLP is borrowed and must outlive the K-FAC object.
 */
#ifndef NATGRAD_KFAC_H
#define NATGRAD_KFAC_H

#include "natgrad/core.h"
#include "natgrad/mlp.h"
#include "natgrad/model.h"
#include "natgrad/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NG_FISHER_TRUE = 0,     /* labels drawn from the model (or its exact expectation) */
  NG_FISHER_EMPIRICAL = 1 /* the data's labels: the empirical Fisher, a different matrix */
} ng_fisher_kind_t;

typedef struct ng_kfac ng_kfac_t;

/* The model's Fisher (its head's M) over batches of up to max_batch rows. */
int ng_kfac_create(ng_kfac_t **out, const ng_model_t *m, size_t max_batch);
/* The Gauss-Newton matrix of the squared error of mlp's outputs (M = I). */
int ng_kfac_create_mlp(ng_kfac_t **out, const ng_mlp_t *mlp, size_t max_batch);
void ng_kfac_destroy(ng_kfac_t *k);

/* Threads for the forward and backward passes (borrowed; NULL: one thread); results are
 * bit-identical for any pool. */
int ng_kfac_set_pool(ng_kfac_t *k, ng_pool_t *pool);
/* The reducer for the batch factors (copied; NULL: the identity). */
int ng_kfac_set_reducer(ng_kfac_t *k, const ng_reducer_t *r);
/* The batch passes' slices and their split over processes that all hold the batch (core.h's
 * ng_split_t; copied; NULL: none, as before). With one the forward runs split (mlp.h) and
 * ng_kfac_batch_stats sums A and G per slice of rows, this process's slices only, gathers
 * the slices' partial factors and adds them in slice order: the same bits for any number of
 * processes (not those of no split). NG_EINVAL for a NULL k; NG_ENOMEM. */
int ng_kfac_set_split(ng_kfac_t *k, const ng_split_t *sp);

/* One forward of the batch x (batch x n_in) at theta on the K-FAC's own workspace, kept for
 * ng_kfac_batch_stats. The outputs (the model's distribution parameters, or the MLP's
 * outputs) are then in ng_kfac_model_ws / ng_kfac_mlp_ws, where a caller may also
 * back-propagate its own loss on the same forward. */
int ng_kfac_forward(ng_kfac_t *k, const double *theta, size_t batch, const double *x);
/* Borrowed workspaces of the last forward: the model's (NULL for an MLP K-FAC) and the
 * MLP's. */
ng_model_ws_t *ng_kfac_model_ws(ng_kfac_t *k);
ng_mlp_ws_t *ng_kfac_mlp_ws(ng_kfac_t *k);

/* The factors of the batch of the last forward (y: its labels, used only for
 * NG_FISHER_EMPIRICAL; rng only for samples >= 1). An MLP K-FAC takes only NG_FISHER_TRUE
 * with samples = 0 (its M = I is exact). */
int ng_kfac_batch_stats(ng_kfac_t *k, const double *theta, ng_fisher_kind_t kind, int samples,
                        const double *y, ng_rng_t *rng);
/* Folds the batch factors into the running ones: R <- e R + (1 - e) batch with
 * e = min(decay, 1 - 1/t) at the t-th update (the first update copies the batch). */
int ng_kfac_update_running(ng_kfac_t *k, double decay);
/* Recomputes the damped inverses from the running factors: factored Tikhonov damping
 * (A + pi gamma I)^-1 and (G + gamma/pi I)^-1 with gamma = sqrt(damping) and pi the ratio
 * of the factors' mean eigenvalues (M&G 6.3). NG_ENOTPD if a damped factor is not positive
 * definite. */
int ng_kfac_invert(ng_kfac_t *k, double damping);
/* s = the K-FAC natural gradient of g (g != s): per layer G~^{-1} [dW | db] A~^{-1}, and for
 * a model's Gaussian head's log stds g / (2 + damping) (their exact Fisher is 2 I,
 * independent of the layers). Uses the inverses of the last ng_kfac_invert. */
int ng_kfac_precondition(ng_kfac_t *k, const double *g, double *s);
/* 1 once ng_kfac_invert has succeeded (and not failed since). */
int ng_kfac_inverted(const ng_kfac_t *k);
/* Running-factor updates so far. */
uint64_t ng_kfac_n_updates(const ng_kfac_t *k);

size_t ng_kfac_n_layers(const ng_kfac_t *k);
/* Borrowed views: batch (last ng_kfac_batch_stats) and running factors of layer l. */
const double *ng_kfac_batch_A(const ng_kfac_t *k, size_t l);
const double *ng_kfac_batch_G(const ng_kfac_t *k, size_t l);
const double *ng_kfac_A(const ng_kfac_t *k, size_t l);
const double *ng_kfac_G(const ng_kfac_t *k, size_t l);

/* The running state (update count, running factors, inverses and their damping) as bytes,
 * so that a run restored from it continues bit for bit: little-endian, with the layer
 * sizes in front, which ..._load checks against k (NG_EFORMAT if they differ). */
size_t ng_kfac_state_size(const ng_kfac_t *k);
int ng_kfac_state_save(const ng_kfac_t *k, void *buf, size_t size);
int ng_kfac_state_load(ng_kfac_t *k, const void *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
