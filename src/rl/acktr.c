/* ACKTR (Wu, Mansimov, Liao, Grosse & Ba 2017): actor-critic with a Kronecker-factored
 * trust region. The policy steps along the K-FAC natural gradient of TRPO's surrogate
 * (natgrad/kfac.h, the model's Fisher with the exact expectation over actions), with the
 * paper's step size (section 3.1)
 *     eta = min(eta_max, sqrt(2 delta / (s^T F~ s))),   s = F~^-1 g,  s^T F~ s = g^T s,
 * so that the quadratic KL estimate of the step is at most delta = max_kl; eta_max is
 * acktr_lr. There is no line search. The value function is fitted on minibatches by its own
 * K-FAC on the Gauss-Newton matrix of (1/2) mean (V - target)^2 (kfac.h's MLP kind, M = I),
 * with the same rule: eta = min(vf_kfac_lr, sqrt(2 vf_max_kl / g^T s)) bounds the mean
 * squared change of the values, (1/2) mean (dV)^2 ~ (1/2) eta^2 s^T F~ s, by vf_max_kl.
 *
 * Defaults (config.c's key table): acktr_lr 0.25 is OpenAI baselines' acktr lr (Atari) and
 * the paper's eta_max; kfac_damping 0.01 is baselines' KfacOptimizer epsilon; the factors'
 * decay 0.95 (baselines: 0.99 per minibatch of an A2C run, far more updates than one per
 * TRPO-sized batch here); inverses every update (they cost a few 65 x 65 Cholesky
 * factorisations). Baselines also adds momentum 0.9 and, for continuous control, adapts the
 * step to a KL target; natgrad follows the paper (no momentum, the trust-region cap).
 *
 * Every batch sum goes through the trainer's reducer (the gradient in the shared surrogate
 * code, the factors inside kfac.c); every factor is one BLAS product over the whole batch,
 * so a run is bit-identical for any thread count. */
#include <math.h>
#include <string.h>

#include "kfac_impl.h"
#include "rl/rl_impl.h"

/* The K-FAC step of both: factors of the forward just run, running averages, inverses when
 * due (or never made), s = F~^-1 g, then s *= eta (trust-region scale capped by lr). why is
 * set (and s unusable) when no step can be trusted. */
static int ng__kfac_step(ng_kfac_t *k, const double *theta, size_t n, const double *g,
                         double *s, double decay, int inverse_every, double damping, double lr,
                         double max_kl, double *gs_out, const char **why) {
  *why = NULL;
  int st = ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 0, NULL, NULL);
  if (st == NG_OK) st = ng_kfac_update_running(k, decay);
  if (st == NG_ENONFINITE) {
    *why = "non-finite K-FAC factors";
    return st;
  }
  if (st != NG_OK) return st;
  if (!ng_kfac_inverted(k) || (ng_kfac_n_updates(k) - 1) % (uint64_t)inverse_every == 0) {
    st = ng_kfac_invert(k, damping);
    if (st == NG_ENOTPD || st == NG_ENONFINITE) {
      *why = "K-FAC factor not positive definite";
      return st;
    }
    if (st != NG_OK) return st;
  }
  st = ng_kfac_precondition(k, g, s);
  double gs = st == NG_OK ? ng_vec_dot(n, g, s) : NAN;
  *gs_out = gs;
  if (st == NG_ENONFINITE || !isfinite(gs)) {
    *why = "non-finite K-FAC direction";
    return NG_ENONFINITE;
  }
  if (st != NG_OK) return st;
  double beta; /* NG_ECURVATURE unless g^T F~^-1 g > 0 */
  if ((st = ng_trust_region_scale(gs, max_kl, &beta)) != NG_OK) {
    *why = st == NG_ECURVATURE ? "g^T F~^-1 g <= 0" : "no trust-region scale";
    return st;
  }
  ng_vec_scale(n, beta < lr ? beta : lr, s);
  return NG_OK;
}

int ng__rl_acktr_policy_update(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err) {
  const size_t np = t->n_pol, n = t->batch;
  const ng_rl_config_t *c = &t->cfg;
  double loss0 = 0.0;
  int s = ng__rl_policy_gradient(t, stats, &loss0, err);
  if (s) return s;
  ng__kfac_set_batch(t->pol_kfac, n); /* the gradient's forward ran on its workspace */
  const char *why = NULL;
  double gs = NAN;
  s = ng__kfac_step(t->pol_kfac, t->theta, np, t->grad, t->step_dir, c->kfac_stat_decay,
                    c->kfac_inverse_every, c->kfac_damping, c->acktr_lr, c->max_kl, &gs, &why);
  stats->cg_residual = gs; /* the log's curvature column: g^T F~^-1 g */
  if (why) {
    stats->update_status = s;
    stats->skip_reason = why;
    return NG_OK;
  }
  if (s) return ng_error_set(err, s, "update: K-FAC step failed (%s)", ng_strerror(s));
  memcpy(t->theta_backup, t->theta, np * sizeof(double));
  ng_vec_axpy(np, -1.0, t->step_dir, t->theta);
  double surr = NAN, kl = NAN, h;
  s = ng__rl_surrogate(t, t->theta, &surr, &kl, &h);
  if (s || !ng_all_finite(np, t->theta)) {
    memcpy(t->theta, t->theta_backup, np * sizeof(double));
    return ng_error_set(err, s ? s : NG_ENONFINITE, "update: the K-FAC step gave non-finite "
                        "values");
  }
  stats->step_accepted = 1;
  stats->kl = kl;
  stats->surrogate_gain = loss0 + (surr + c->entropy_coef * h);
  return NG_OK;
}

int ng__rl_acktr_value_step(ng_rl_t *t) {
  const ng_rl_config_t *c = &t->cfg;
  const char *why;
  double gs;
  int s = ng__kfac_step(t->vf_kfac, t->vtheta, t->n_vf, t->vgrad, t->vstep, c->kfac_stat_decay,
                        c->kfac_inverse_every, c->vf_kfac_damping, c->vf_kfac_lr, c->vf_max_kl,
                        &gs, &why);
  /* a minibatch with no usable curvature (e.g. a zero gradient) moves nothing */
  if (why && s == NG_ECURVATURE) return NG_OK;
  if (s) return s;
  ng_vec_axpy(t->n_vf, -1.0, t->vstep, t->vtheta);
  return ng_all_finite(t->n_vf, t->vtheta) ? NG_OK : NG_ENONFINITE;
}
