/* Natural-gradient directions (CG on Fisher products, or dense Cholesky) and the steps that
 * use them: plain descent, NPG's fixed-KL step and TRPO's trust-region line search. */
#include "natgrad/optim.h"

#include <math.h>
#include <string.h>

int ng_natgrad_cg(ng_fisher_t *f, ng_cg_t *cg, double damping, const double *g, double *s,
                  const ng_cg_opts_t *opts, ng_cg_report_t *report) {
  if (!f || !cg || !g || !s || !opts) return NG_EINVAL;
  ng_linop_t op;
  int st = ng_fisher_linop(f, damping, &op);
  if (st != NG_OK) return st;
  return ng_cg_solve(cg, &op, g, s, opts, report);
}

int ng_natgrad_cholesky(ng_fisher_t *f, double damping, const double *g, double *s,
                        double *work) {
  if (!f || !g || !s || !work) return NG_EINVAL;
  if (!isfinite(damping)) return NG_ENONFINITE;
  if (damping < 0.0) return NG_EINVAL;
  size_t n = ng_fisher_n(f);
  if (!ng_all_finite(n, g)) return NG_ENONFINITE;
  int st = ng_fisher_dense(f, work);
  if (st != NG_OK) return st;
  st = ng_cholesky_factor(n, work, damping);
  if (st != NG_OK) return st;
  return ng_cholesky_solve(n, work, g, s);
}

int ng_natgrad_descent_step(size_t n, double *theta, double lr, const double *s) {
  if (n == 0 || !theta || !s) return NG_EINVAL;
  if (!isfinite(lr) || !ng_all_finite(n, s)) return NG_ENONFINITE;
  for (size_t i = 0; i < n; i++) theta[i] -= lr * s[i];
  return NG_OK;
}

int ng_trust_region_scale(double sfs, double max_kl, double *beta) {
  if (!beta) return NG_EINVAL;
  if (!isfinite(sfs) || !isfinite(max_kl)) return NG_ENONFINITE;
  if (!(max_kl > 0.0)) return NG_EINVAL;
  if (!(sfs > 0.0)) return NG_ECURVATURE;
  double b = sqrt(2.0 * max_kl / sfs);
  if (!isfinite(b)) return NG_ENONFINITE; /* sfs so small that the ratio overflows */
  *beta = b;
  return NG_OK;
}

static int ng__linesearch_opts_ok(const ng_linesearch_opts_t *o) {
  return isfinite(o->max_kl) && o->max_kl > 0.0 && isfinite(o->backtrack_ratio) &&
         o->backtrack_ratio > 0.0 && o->backtrack_ratio < 1.0 && o->max_backtracks >= 0 &&
         isfinite(o->accept_ratio) && o->accept_ratio >= 0.0;
}

int ng_trust_region_step(size_t n, double *theta, const double *g, const double *s, double sfs,
                         double loss_before, ng_trial_fn trial, void *trial_ctx,
                         const ng_linesearch_opts_t *opts, double *work,
                         ng_trust_report_t *report) {
  if (n == 0 || !theta || !g || !s || !trial || !opts || !work || work == theta)
    return NG_EINVAL;
  if (!ng__linesearch_opts_ok(opts)) return NG_EINVAL;
  if (!isfinite(loss_before) || !ng_all_finite(n, g) || !ng_all_finite(n, s) ||
      !ng_all_finite(n, theta))
    return NG_ENONFINITE;
  double beta;
  int st = ng_trust_region_scale(sfs, opts->max_kl, &beta);
  if (st != NG_OK) return st;
  double expected = beta * ng_vec_dot(n, g, s);

  ng_trust_report_t rep;
  memset(&rep, 0, sizeof rep);
  rep.beta = beta;
  rep.loss_before = loss_before;
  rep.loss_after = loss_before;
  rep.expected_improvement = expected;
  rep.kl = NAN;

  memcpy(work, theta, n * sizeof(double)); /* theta0, to restore bit for bit */
  double frac = 1.0;
  for (int k = 0; k <= opts->max_backtracks; k++, frac *= opts->backtrack_ratio) {
    double step = frac * beta;
    for (size_t i = 0; i < n; i++) theta[i] = work[i] - step * s[i];
    double loss = NAN, kl = NAN;
    int tst = trial(trial_ctx, theta, &loss, &kl);
    rep.trials++;
    rep.kl = kl;
    if (tst != NG_OK || !isfinite(loss) || !isfinite(kl)) continue;
    double improvement = loss_before - loss;
    if (improvement > 0.0 && improvement >= opts->accept_ratio * frac * expected &&
        kl <= opts->max_kl) {
      rep.accepted = 1;
      rep.step_fraction = frac;
      rep.loss_after = loss;
      if (report) *report = rep;
      return NG_OK;
    }
  }
  memcpy(theta, work, n * sizeof(double));
  if (report) *report = rep;
  return NG_ELINESEARCH;
}

int ng_npg_step(size_t n, double *theta, const double *s, double sfs, double max_kl) {
  if (n == 0 || !theta || !s) return NG_EINVAL;
  if (!ng_all_finite(n, s)) return NG_ENONFINITE;
  double beta;
  int st = ng_trust_region_scale(sfs, max_kl, &beta);
  if (st != NG_OK) return st;
  for (size_t i = 0; i < n; i++) theta[i] -= beta * s[i];
  return NG_OK;
}
