/* The policy update: TRPO as published (Schulman et al. 2015) and as Stable-Baselines3-contrib
 * runs it, or natural policy gradient (Kakade 2001) with a fixed KL step.
 *
 *   L(theta) = mean_b exp(logp_theta(a_b) - logp_old_b) A_b + entropy_coef mean_b H_b
 *   s        = (F + damping I)^{-1} g,   g = -grad L at theta_old   (CG on Fisher products)
 *   theta    = theta_old - f beta s,     beta = sqrt(2 max_kl / s^T (F + damping I) s)
 * TRPO backtracks f = 1, shrink, shrink^2, ... until L improves with mean KL <= max_kl, else
 * keeps theta_old; NPG takes f = 1. Sums over the batch pass through the trainer's reducer. */
#include <math.h>
#include <string.h>

#include "rl/rl_impl.h"

/* Standardised advantages (unbiased std, as torch's .std() in SB3), two reduced passes. */
static int ng__normalize_advantages(ng_rl_t *t) {
  size_t n = t->batch;
  if (!t->cfg.normalize_advantages) {
    memcpy(t->b_adv_n, t->b_adv, n * sizeof(double));
    return NG_OK;
  }
  double s1[2] = {(double)n, 0.0};
  for (size_t i = 0; i < n; i++) s1[1] += t->b_adv[i];
  int s = ng_reduce_sum(&t->reducer, s1, 2);
  if (s) return s;
  double mean = s1[1] / s1[0];
  double ss = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = t->b_adv[i] - mean;
    ss += d * d;
  }
  s = ng_reduce_sum(&t->reducer, &ss, 1);
  if (s) return s;
  double sd = s1[0] > 1 ? sqrt(ss / (s1[0] - 1.0)) : 0.0;
  for (size_t i = 0; i < n; i++) t->b_adv_n[i] = (t->b_adv[i] - mean) / (sd + NG_RL_ADV_EPS);
  return ng_all_finite(n, t->b_adv_n) ? NG_OK : NG_ENONFINITE;
}

int ng__rl_surrogate(ng_rl_t *t, const double *theta, double *surr, double *kl,
                     double *entropy) {
  size_t n = t->batch;
  int s = ng_model_forward(t->policy, theta, t->pol_ws_batch, n, t->b_obs, NULL);
  if (s) return s;
  s = ng_model_logp(t->policy, t->pol_ws_batch, n, t->b_act, t->b_w);
  if (s) return s;
  double sums[4] = {0.0, 0.0, 0.0, (double)n}; /* surrogate, KL, entropy, rows */
  for (size_t i = 0; i < n; i++) sums[0] += exp(t->b_w[i] - t->b_logp[i]) * t->b_adv_n[i];
  s = ng_model_kl_sum(t->policy, theta, t->pol_ws_batch, n, t->b_pold, &sums[1], NULL);
  if (s) return s;
  s = ng_model_entropy_sum(t->policy, theta, t->pol_ws_batch, n, &sums[2], NULL);
  if (s) return s;
  s = ng_reduce_sum(&t->reducer, sums, 4);
  if (s) return s;
  if (!ng_all_finite(4, sums) || !(sums[3] > 0)) return NG_ENONFINITE;
  *surr = sums[0] / sums[3];
  *kl = sums[1] / sums[3];
  *entropy = sums[2] / sums[3];
  return NG_OK;
}

/* ng_trial_fn for the line search: loss = -L(theta), kl = mean KL(old || theta). */
static int ng__trial(void *ctx, const double *theta, double *loss, double *kl) {
  ng_rl_t *t = ctx;
  double surr, h;
  int s = ng__rl_surrogate(t, theta, &surr, kl, &h);
  if (s) return s;
  *loss = -(surr + t->cfg.entropy_coef * h);
  return NG_OK;
}

/* g = -grad L at theta_old (n_pol), *loss0 = -L(theta_old), *h = mean entropy. */
static int ng__surrogate_grad(ng_rl_t *t, double *loss0, double *h, ng_error_t *err) {
  size_t n = t->batch, np = t->n_pol;
  int s = ng_model_forward(t->policy, t->theta, t->pol_ws_batch, n, t->b_obs, NULL);
  if (s) return ng_error_set(err, s, "update: policy forward failed (%s)", ng_strerror(s));
  s = ng_model_logp(t->policy, t->pol_ws_batch, n, t->b_act, t->b_w);
  if (s) return ng_error_set(err, s, "update: log-prob failed (%s)", ng_strerror(s));
  double sums[3] = {0.0, 0.0, (double)n}; /* surrogate, entropy, rows */
  for (size_t i = 0; i < n; i++) {
    double ratio = exp(t->b_w[i] - t->b_logp[i]);
    sums[0] += ratio * t->b_adv_n[i];
    t->b_w[i] = ratio * t->b_adv_n[i]; /* d(ratio A)/dtheta = ratio A grad logp */
  }
  memset(t->grad, 0, np * sizeof(double));
  s = ng_model_logp_vjp(t->policy, t->theta, t->pol_ws_batch, n, t->b_act, t->b_w, t->grad);
  if (s) return ng_error_set(err, s, "update: surrogate gradient failed (%s)", ng_strerror(s));
  if (t->cfg.entropy_coef > 0.0) {
    memset(t->ent_grad, 0, np * sizeof(double));
    s = ng_model_entropy_sum(t->policy, t->theta, t->pol_ws_batch, n, &sums[1], t->ent_grad);
    if (!s) ng_vec_axpy(np, t->cfg.entropy_coef, t->ent_grad, t->grad);
  } else {
    s = ng_model_entropy_sum(t->policy, t->theta, t->pol_ws_batch, n, &sums[1], NULL);
  }
  if (s) return ng_error_set(err, s, "update: entropy failed (%s)", ng_strerror(s));
  /* the gradient is its own reduction point (the largest one) */
  s = ng_reduce_sum(&t->reducer, t->grad, np);
  if (!s) s = ng_reduce_sum(&t->reducer, sums, 3);
  if (s) return ng_error_set(err, s, "update: reducer failed (%s)", ng_strerror(s));
  if (!ng_all_finite(np, t->grad) || !ng_all_finite(3, sums) || !(sums[2] > 0))
    return ng_error_set(err, NG_ENONFINITE, "update: non-finite surrogate or surrogate "
                        "gradient");
  ng_vec_scale(np, -1.0 / sums[2], t->grad); /* gradient of the loss -L */
  *h = sums[1] / sums[2];
  *loss0 = -(sums[0] / sums[2] + t->cfg.entropy_coef * *h);
  return NG_OK;
}

int ng__rl_policy_gradient(ng_rl_t *t, ng_rl_stats_t *stats, double *loss0, ng_error_t *err) {
  int s = ng__normalize_advantages(t);
  if (s) return ng_error_set(err, s, "update: advantage normalisation failed (%s)",
                             ng_strerror(s));
  return ng__surrogate_grad(t, loss0, &stats->entropy, err);
}

int ng__rl_policy_update(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err) {
  const size_t np = t->n_pol, n = t->batch;
  double loss0 = 0.0;
  int s = ng__rl_policy_gradient(t, stats, &loss0, err);
  if (s) return s;

  /* Fisher at theta_old, on all rows or a random subset */
  if (t->cfg.fisher_subsample < 1.0) {
    size_t n_sub = (size_t)ceil(t->cfg.fisher_subsample * (double)n);
    if (n_sub < 1) n_sub = 1;
    if (n_sub > n) n_sub = n;
    s = ng_fisher_set_point_subsample(t->fisher, t->theta, n, t->b_obs, n_sub, &t->rng);
  } else {
    s = ng_fisher_set_point(t->fisher, t->theta, n, t->b_obs);
  }
  if (s) return ng_error_set(err, s, "update: Fisher set-up failed (%s)", ng_strerror(s));

  ng_cg_opts_t opts = {t->cfg.cg_iters, t->cfg.cg_residual_tol, NULL, NULL};
  ng_cg_report_t rep;
  memset(&rep, 0, sizeof rep);
  s = ng_natgrad_cg(t->fisher, t->cg, t->cfg.cg_damping, t->grad, t->step_dir, &opts, &rep);
  stats->cg_iterations = rep.iterations;
  stats->cg_residual = rep.residual_norm2;
  const char *why = NULL;
  if (s == NG_ECURVATURE) why = "CG breakdown (p^T F p <= 0)";
  else if (s == NG_ENONFINITE) why = "CG breakdown (non-finite Fisher product)";
  else if (s == NG_ENOTPD) why = "CG breakdown (Fisher not positive definite)";
  double sfs = NAN;
  if (!s && !ng_all_finite(np, t->step_dir)) {
    s = NG_ENONFINITE;
    why = "non-finite CG solution";
  }
  if (!s) {
    s = ng_fisher_apply(t->fisher, t->step_dir, t->cfg.cg_damping, t->work_n);
    if (s == NG_ENONFINITE) why = "non-finite s^T F s";
  }
  if (!s) {
    sfs = ng_vec_dot(np, t->step_dir, t->work_n);
    if (!isfinite(sfs)) {
      s = NG_ENONFINITE;
      why = "non-finite s^T F s";
    } else if (!(sfs > 0.0)) {
      s = NG_ECURVATURE;
      why = "s^T F s <= 0";
    }
  }
  if (why) {
    /* no trustworthy direction this time: keep theta, say why, go on */
    stats->update_status = s;
    stats->skip_reason = why;
    return NG_OK;
  }
  if (s) return ng_error_set(err, s, "update: natural-gradient solve failed (%s)",
                             ng_strerror(s));

  memcpy(t->theta_backup, t->theta, np * sizeof(double));
  if (t->cfg.algo == NG_ALGO_TRPO) {
    ng_linesearch_opts_t ls = {t->cfg.max_kl, t->cfg.ls_shrink, t->cfg.ls_max_backtracks,
                               t->cfg.ls_accept_ratio};
    ng_trust_report_t tr;
    memset(&tr, 0, sizeof tr);
    s = ng_trust_region_step(np, t->theta, t->grad, t->step_dir, sfs, loss0, ng__trial, t, &ls,
                             t->work_n, &tr);
    stats->ls_trials = tr.trials;
    if (s == NG_OK && tr.accepted) {
      stats->step_accepted = 1;
      stats->kl = tr.kl;
      stats->surrogate_gain = tr.loss_before - tr.loss_after;
    } else if (s == NG_ELINESEARCH || (s == NG_OK && !tr.accepted)) {
      memcpy(t->theta, t->theta_backup, np * sizeof(double));
      stats->update_status = NG_ELINESEARCH;
      stats->skip_reason = "line search rejected every trial";
    } else {
      memcpy(t->theta, t->theta_backup, np * sizeof(double));
      return ng_error_set(err, s, "update: line search failed (%s)", ng_strerror(s));
    }
  } else {
    s = ng_npg_step(np, t->theta, t->step_dir, sfs, t->cfg.max_kl);
    double surr = NAN, kl = NAN, h;
    if (!s) s = ng__rl_surrogate(t, t->theta, &surr, &kl, &h);
    if (s || !ng_all_finite(np, t->theta)) {
      memcpy(t->theta, t->theta_backup, np * sizeof(double));
      return ng_error_set(err, s ? s : NG_ENONFINITE, "update: natural-gradient step gave "
                          "non-finite values");
    }
    stats->step_accepted = 1;
    stats->kl = kl;
    stats->surrogate_gain = loss0 + (surr + t->cfg.entropy_coef * h); /* loss0 - loss */
  }
  if (!ng_all_finite(np, t->theta)) {
    memcpy(t->theta, t->theta_backup, np * sizeof(double));
    return ng_error_set(err, NG_ENONFINITE, "update: non-finite policy parameters");
  }
  return NG_OK;
}
