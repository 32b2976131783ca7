/* natgrad dist: output distributions in closed form, one row of distribution parameters at
 * a time (a model produces a batch of such rows; see model.h).
 *
 * Parameter rows ("p", "q"), n_params doubles each:
 *   NG_DIST_GAUSSIAN, dim d:     [mu_0 .. mu_{d-1}, log_std_0 .. log_std_{d-1}]   (2d)
 *       a diagonal Gaussian N(mu, diag(exp(2 log_std))); actions are d doubles.
 *   NG_DIST_CATEGORICAL, dim k:  [logit_0 .. logit_{k-1}]                          (k)
 *       pi = softmax(logits); an action is one double holding the category 0..k-1.
 *   NG_DIST_MULTI_DISCRETE, dim m, counts nvec[0..m):
 *                                [logits of component 0 | ... | of component m-1]  (sum nvec)
 *       Gymnasium's MultiDiscrete: m independent categoricals, component i over nvec[i]
 *       categories with pi_i = softmax of its own nvec[i] logits; an action is m doubles,
 *       a_i the category 0..nvec[i]-1 of component i (Gymnasium's `start` offsets are the
 *       caller's to add). A categorical is the one-component case.
 *   NG_DIST_MULTI_BINARY, dim d: [logit_0 .. logit_{d-1}]                          (d)
 *       Gymnasium's MultiBinary: d independent Bernoullis, P(a_i = 1) = sigmoid(logit_i);
 *       an action is d doubles, each exactly 0 or 1.
 *
 * Directions and sums, for every function here:
 *   - kl(p, q) is KL(p || q) = E_{a~p}[log p(a) - log q(a)], with p the OLD (fixed) and q the
 *     NEW distribution, as TRPO's constraint KL(pi_old || pi_theta) uses it.
 *   - log-prob, entropy and KL of a Gaussian, MultiDiscrete or MultiBinary are SUMMED over
 *     its independent dimensions or components, never averaged. Averaging over a batch is
 *     the model's.
 *   - gradients are w.r.t. the parameter row in the layout above, and OVERWRITE their output.
 *
 * The Fisher of a distribution in its own parameters, M(p) = E_{a~p}[grad log p grad log p^T]
 * = Hessian of KL(p || q) w.r.t. q at q = p:
 *   Gaussian in (mu, log_std):  diag(1/sigma^2 ... , 2 ...)
 *   categorical in logits:      diag(pi) - pi pi^T
 *   MultiDiscrete in logits:    block-diagonal, block i = diag(pi_i) - pi_i pi_i^T
 *   MultiBinary in logits:      diag(p_i (1 - p_i)), p_i = sigmoid(logit_i)
 *
 * Every function returns NG_OK, NG_EINVAL (NULL pointer, a bad descriptor: see ng_dist_t,
 * or a bad action: a categorical or MultiDiscrete entry that is not an integer in its
 * range, a MultiBinary entry that is not exactly 0 or 1), or NG_ENONFINITE when an input or
 * the result is NaN/Inf (the output is then unspecified).
 */
#ifndef NATGRAD_DIST_H
#define NATGRAD_DIST_H

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NG_DIST_GAUSSIAN = 0,
  NG_DIST_CATEGORICAL = 1,
  NG_DIST_MULTI_DISCRETE = 2,
  NG_DIST_MULTI_BINARY = 3
} ng_dist_kind_t;

/* Components a MultiDiscrete descriptor can hold. Its counts live inside the descriptor, so
 * ng_dist_t stays a plain value that callers copy (model.h keeps a copy) with nothing to
 * free or to dangle. 64 (256 bytes of counts) is room for a controller's joint action of
 * tens of parts; a space with more (one action per grid cell, say) is refused with
 * NG_EINVAL, and needs this limit raised and the library rebuilt. */
#define NG_DIST_MAX_COMPONENTS 64

/* A distribution: its kind, dim, and for a MultiDiscrete its counts. Valid when dim >= 1
 * and, for a MultiDiscrete, dim <= NG_DIST_MAX_COMPONENTS and nvec[0..dim) >= 1 (a count of
 * 1 is a component that is always 0, as Gymnasium allows; it adds nothing to log-prob,
 * entropy, KL or Fisher). nvec is read only for a MultiDiscrete and only in [0, dim), so
 * `(ng_dist_t){.kind = NG_DIST_CATEGORICAL, .dim = k}` describes the other kinds (name the
 * fields: a positional initialiser leaves nvec out, which -Wextra reports);
 * ng_dist_multi_discrete fills a MultiDiscrete one. */
typedef struct {
  ng_dist_kind_t kind;
  size_t dim; /* Gaussian: action dimensions d; categorical: categories k; MultiDiscrete:
               * components m; MultiBinary: Bernoullis d */
  uint32_t nvec[NG_DIST_MAX_COMPONENTS]; /* MultiDiscrete: categories of each component */
} ng_dist_t;

/* *out = the MultiDiscrete over m components with counts[0..m) categories, unused counts
 * zeroed. NG_EINVAL (and *out untouched) for NULL, m = 0, m > NG_DIST_MAX_COMPONENTS, or a
 * count of 0 or above UINT32_MAX. */
int ng_dist_multi_discrete(ng_dist_t *out, size_t m, const size_t *counts);

/* Parameters per row: 2d, k, sum nvec or d (0 for an invalid descriptor). */
size_t ng_dist_n_params(const ng_dist_t *dist);
/* Doubles per action: d, 1, m or d (0 for an invalid descriptor). */
size_t ng_dist_action_size(const ng_dist_t *dist);

/* The softmax blocks of a row, for code that handles M block by block (fisher.c): a
 * categorical is one block of k logits, a MultiDiscrete m blocks of nvec[i] consecutive
 * logits; other kinds (and an invalid descriptor) have none. ng_dist_block_size is the
 * size of block i, 0 past the last; it does not re-validate the descriptor. */
size_t ng_dist_n_blocks(const ng_dist_t *dist);
size_t ng_dist_block_size(const ng_dist_t *dist, size_t i);

/* Draws a ~ p using rng. */
int ng_dist_sample(const ng_dist_t *dist, const double *p, ng_rng_t *rng, double *a);
/* The most likely action: the mean; the first category of largest probability (per
 * component for a MultiDiscrete); for a MultiBinary a_i = 1 where p_i > 1/2, i.e. logit_i >
 * 0, and 0 at exactly p_i = 1/2 (logit 0), as SB3's torch.round(probs) rounds half to even.
 * (SB3 decides on the rounded float32 probability, so a logit within ~1e-7 of 0 gives it
 * p = 1/2 and 0; here the sign of the logit decides.) */
int ng_dist_mode(const ng_dist_t *dist, const double *p, double *a);

/* log p(a), and its gradient w.r.t. p. */
int ng_dist_logp(const ng_dist_t *dist, const double *p, const double *a, double *logp);
int ng_dist_logp_grad(const ng_dist_t *dist, const double *p, const double *a, double *dp);

/* Entropy H(p) (nats), and its gradient w.r.t. p. */
int ng_dist_entropy(const ng_dist_t *dist, const double *p, double *h);
int ng_dist_entropy_grad(const ng_dist_t *dist, const double *p, double *dp);

/* KL(p || q), and its gradient w.r.t. q (p held fixed). */
int ng_dist_kl(const ng_dist_t *dist, const double *p, const double *q, double *kl);
int ng_dist_kl_grad_q(const ng_dist_t *dist, const double *p, const double *q, double *dq);

/* out = M(p) v (v, out: n_params doubles; out may not alias v). */
int ng_dist_fisher_apply(const ng_dist_t *dist, const double *p, const double *v, double *out);

/* M(p) as a dense n_params x n_params row-major matrix: column j is M(p) e_j as
 * ng_dist_fisher_apply computes it (symmetric up to rounding). work holds n_params doubles.
 * For small rows, where a dense solve or d^T M d is wanted (the seed post's examples). */
int ng_dist_fisher_dense(const ng_dist_t *dist, const double *p, double *m, double *work);

/* A square-root factor of M(p): fills u (n_params x n_params, row-major) with rows u_r such
 * that M(p) = sum_r u_r u_r^T. Gaussian: diagonal rows 1/sigma and sqrt(2); categorical:
 * u_r = sqrt(pi_r) (e_r - pi); MultiDiscrete: the categorical's rows block by block (zero
 * outside their block); MultiBinary: diagonal rows sqrt(p_i (1 - p_i)). Used for the exact
 * diagonal Fisher and K-FAC. */
int ng_dist_fisher_factor(const ng_dist_t *dist, const double *p, double *u);

#ifdef __cplusplus
}
#endif
#endif
