/* natgrad model: an MLP whose outputs parameterise a distribution (see dist.h); a policy in
 * RL, a probabilistic predictor in supervised learning.
 *
 * Parameters. theta = [MLP parameters | head parameters], and per input row the model
 * produces one distribution-parameter row P_b (dist.h layout) by one rule,
 *     P_b = [y_b | theta_head],   y_b the MLP's outputs for row b:
 *   - categorical over k classes: the MLP outputs k logits; no head parameters.
 *   - MultiDiscrete (sum nvec logits) or MultiBinary (d logits): the MLP outputs them all;
 *     no head parameters.
 *   - Gaussian over d dims, NG_LOGSTD_STATE_INDEPENDENT (TRPO's choice): the MLP outputs d
 *     means; the head holds d log standard deviations shared by every input.
 *   - Gaussian, NG_LOGSTD_NETWORK: the MLP outputs 2d numbers, means then log stds.
 * This file and model.c own that layout; other code reaches the MLP's part and the head's
 * part of theta and of P only through the functions below.
 *
 * Passes mirror mlp.h: forward keeps what vjp/jvp need in a workspace; vjp accumulates into
 * dtheta; jvp overwrites. Batch helpers return SUMS over the rows they see (not means), so
 * several processes holding shards of a batch can add them before dividing by the total.
 */
#ifndef NATGRAD_MODEL_H
#define NATGRAD_MODEL_H

#include "natgrad/core.h"
#include "natgrad/dist.h"
#include "natgrad/mlp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NG_LOGSTD_STATE_INDEPENDENT = 0,
  NG_LOGSTD_NETWORK = 1
} ng_logstd_mode_t;

typedef struct ng_model ng_model_t;

/* n_in inputs; n_hidden hidden layers of widths hidden[0..n_hidden) (n_hidden may be 0: a
 * linear model) with activation hidden_act; identity output layer sized for dist (a copy is
 * kept; NG_EINVAL for an invalid one, dist.h). logstd is ignored for any dist but a
 * Gaussian (ng_model_logstd_mode then reports NG_LOGSTD_STATE_INDEPENDENT). */
int ng_model_create(ng_model_t **out, size_t n_in, size_t n_hidden, const size_t *hidden,
                    ng_act_t hidden_act, ng_dist_t dist, ng_logstd_mode_t logstd);
void ng_model_destroy(ng_model_t *m);

size_t ng_model_n_params(const ng_model_t *m);
size_t ng_model_n_in(const ng_model_t *m);
ng_dist_t ng_model_dist(const ng_model_t *m);
ng_logstd_mode_t ng_model_logstd_mode(const ng_model_t *m);
size_t ng_model_n_dist_params(const ng_model_t *m);  /* columns of P: ng_dist_n_params */
const ng_mlp_t *ng_model_mlp(const ng_model_t *m);    /* borrowed */
/* theta[0, n_mlp) are the MLP's parameters (mlp.h's layout), theta[n_mlp, n_params) the
 * head's: a caller that treats the head apart (freezes it, preconditions it by its own
 * Fisher block) finds it here. 0 for a NULL model. A head, when there is one, is the
 * Gaussian's log stds, P's last columns, whose block of the Fisher is exactly 2 I with no
 * cross terms: fisher.c's factored path and kfac.c rely on that. */
size_t ng_model_n_mlp_params(const ng_model_t *m);
size_t ng_model_n_head_params(const ng_model_t *m);

/* Orthogonal initialisation as TRPO/PPO implementations do it: hidden layers with gain
 * hidden_gain (sqrt(2) is usual), output layer with out_gain (0.01 for a policy), biases 0,
 * head log stds (or the log-std output biases under NG_LOGSTD_NETWORK) set to init_log_std. */
int ng_model_init(const ng_model_t *m, double *theta, double hidden_gain, double out_gain,
                  double init_log_std, ng_rng_t *rng);

typedef struct ng_model_ws ng_model_ws_t;
int ng_model_ws_create(ng_model_ws_t **out, const ng_model_t *m, size_t max_batch);
void ng_model_ws_destroy(ng_model_ws_t *ws);
size_t ng_model_ws_max_batch(const ng_model_ws_t *ws);
/* Threads for the passes on ws (as ng_mlp_ws_set_pool: borrowed, results bit-identical for
 * any pool). NG_EINVAL for a NULL ws. */
int ng_model_ws_set_pool(ng_model_ws_t *ws, ng_pool_t *pool);

/* P = dist params for B rows of X (B x n_in). Keeps activations and P in ws. p_out may be
 * NULL; the rows are then read with ng_model_ws_params. */
int ng_model_forward(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                     const double *x, double *p_out);
const double *ng_model_ws_params(const ng_model_ws_t *ws); /* B x n_dist_params, borrowed */

/* ---- the MLP inside, for curvature code that runs mlp.h's kernels (fisher.c, kfac.c) ---- */

/* The MLP workspace of ws (borrowed, lives as long as ws): after ng_model_forward it holds
 * that forward's activations, so mlp.h's passes that read them (deltas, per-row gradients,
 * activations) need no second forward. A forward run on it directly leaves ws's P stale. */
ng_mlp_ws_t *ng_model_ws_mlp(ng_model_ws_t *ws);
/* dY (B x n_out, OVERWRITES) = the MLP-output columns of P cotangents dP (B x
 * n_dist_params): the part of J_b^T dP_b that back-propagates through the MLP (the rest
 * goes straight to the head). dy must not alias dp. */
int ng_model_mlp_cotangent(const ng_model_t *m, size_t batch, const double *dp, double *dy);

/* dtheta += sum_b J_b^T dP_b, J_b = dP_b / dtheta (ACCUMULATES). */
int ng_model_vjp(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                 const double *dp, double *dtheta);
/* dP_b = J_b v (OVERWRITES dp, B x n_dist_params). */
int ng_model_jvp(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                 const double *v, double *dp);
/* out_i += sum_b ((J_b^T dP_b)_i)^2 (ACCUMULATES). */
int ng_model_vjp_sq(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                    const double *dp, double *out);

/* ---- batch helpers on the last forward (SUMS over the B rows) ----------------------------- */
/* vjp, jvp, vjp_sq and these helpers work on the first B rows of the last successful
 * forward on ws (NG_EINVAL if there was none or B exceeds its rows). */

/* logp[b] = log p_b(a_b) for actions A (B x action_size). */
int ng_model_logp(const ng_model_t *m, ng_model_ws_t *ws, size_t batch, const double *a,
                  double *logp);
/* dtheta += sum_b w_b grad_theta log p_b(a_b)   (the policy-gradient building block).
 * w may be NULL: all weights 1. */
int ng_model_logp_vjp(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                      const double *a, const double *w, double *dtheta);
/* *kl_sum = sum_b KL(P_old_b || P_b) with P_old a stored B x n_dist_params array (the old
 * policy's rows); if dtheta is non-NULL, dtheta += its gradient w.r.t. theta. */
int ng_model_kl_sum(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                    const double *p_old, double *kl_sum, double *dtheta);
/* *h_sum = sum_b H(P_b); if dtheta is non-NULL, dtheta += its gradient. */
int ng_model_entropy_sum(const ng_model_t *m, const double *theta, ng_model_ws_t *ws,
                         size_t batch, double *h_sum, double *dtheta);

#ifdef __cplusplus
}
#endif
#endif
