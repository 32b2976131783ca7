/* natgrad dist: output distributions in closed form, one row of distribution parameters at
 * a time (a model produces a batch of such rows; see model.h).
 *
 * Parameter rows ("p", "q"), n_params doubles each:
 *   NG_DIST_GAUSSIAN, dim d:     [mu_0 .. mu_{d-1}, log_std_0 .. log_std_{d-1}]   (2d)
 *       a diagonal Gaussian N(mu, diag(exp(2 log_std))); actions are d doubles.
 *   NG_DIST_CATEGORICAL, dim k:  [logit_0 .. logit_{k-1}]                          (k)
 *       pi = softmax(logits); an action is one double holding the category 0..k-1.
 *
 * Directions and sums, for every function here:
 *   - kl(p, q) is KL(p || q) = E_{a~p}[log p(a) - log q(a)], with p the OLD (fixed) and q the
 *     NEW distribution, as TRPO's constraint KL(pi_old || pi_theta) uses it.
 *   - log-prob, entropy and KL of a Gaussian are SUMMED over the d action dimensions (the
 *     dimensions are independent), never averaged. Averaging over a batch is the model's.
 *   - gradients are w.r.t. the parameter row in the layout above, and OVERWRITE their output.
 *
 * The Fisher of a distribution in its own parameters, M(p) = E_{a~p}[grad log p grad log p^T]
 * = Hessian of KL(p || q) w.r.t. q at q = p:
 *   Gaussian in (mu, log_std):  diag(1/sigma^2 ... , 2 ...)
 *   categorical in logits:      diag(pi) - pi pi^T
 *
 * Every function returns NG_OK, NG_EINVAL (NULL pointer, dim 0, unknown kind, a categorical
 * action that is not an integer in [0, k)), or NG_ENONFINITE when an input or the result is
 * NaN/Inf (the output is then unspecified).
 */
#ifndef NATGRAD_DIST_H
#define NATGRAD_DIST_H

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NG_DIST_GAUSSIAN = 0, NG_DIST_CATEGORICAL = 1 } ng_dist_kind_t;

typedef struct {
  ng_dist_kind_t kind;
  size_t dim; /* action dimensions d (Gaussian) or number of categories k (categorical) */
} ng_dist_t;

/* Parameters per row: 2d or k (0 for an invalid descriptor). */
size_t ng_dist_n_params(const ng_dist_t *dist);
/* Doubles per action: d or 1 (0 for an invalid descriptor). */
size_t ng_dist_action_size(const ng_dist_t *dist);

/* Draws a ~ p using rng. */
int ng_dist_sample(const ng_dist_t *dist, const double *p, ng_rng_t *rng, double *a);
/* The most likely action: the mean, or the first category of largest probability. */
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
 * u_r = sqrt(pi_r) (e_r - pi). Used for the exact diagonal Fisher and K-FAC. */
int ng_dist_fisher_factor(const ng_dist_t *dist, const double *p, double *u);

#ifdef __cplusplus
}
#endif
#endif
