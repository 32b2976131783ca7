/* The seed post's Gaussian example (see natgrad/gauss1d.h). Teaching code: the two descent
 * loops, ng_gauss1d_gd and ng_gauss1d_ngd, are meant to be read side by side. */
#include "natgrad/gauss1d.h"

#include <math.h>

#include "natgrad/dist.h"
#include "natgrad/linalg.h"
#include "natgrad/optim.h"

/* theta = (mu, log sigma) is dist.h's parameter row of a one-dimensional Gaussian. */
static const ng_dist_t gauss1 = {.kind = NG_DIST_GAUSSIAN, .dim = 1};

/* A rise of the loss larger than this (relative) is instability, not rounding. */
#define LOSS_RISE_TOL 1e-10

/* ---- (a) distances ------------------------------------------------------------------------ */

int ng_gauss1d_compare(const double theta1[2], const double theta2[2], ng_gauss1d_gap_t *gap) {
  if (!theta1 || !theta2 || !gap) return NG_EINVAL;
  double d[2] = {theta2[0] - theta1[0], theta2[1] - theta1[1]};
  double f[4], work[2], dfd;
  int st = ng_dist_kl(&gauss1, theta1, theta2, &gap->kl_12);
  if (st == NG_OK) st = ng_dist_kl(&gauss1, theta2, theta1, &gap->kl_21);
  if (st == NG_OK) st = ng_dist_fisher_dense(&gauss1, theta1, f, work);
  if (st == NG_OK) st = ng_metric_distance(2, f, d, &dfd);
  if (st != NG_OK) return st;
  gap->euclid = ng_vec_norm2(2, d);
  gap->fisher_half = 0.5 * dfd;
  return isfinite(gap->euclid) && isfinite(gap->fisher_half) ? NG_OK : NG_ENONFINITE;
}

/* ---- (b) the problem ---------------------------------------------------------------------- */

int ng_gauss1d_fit_init(ng_gauss1d_fit_t *fit, size_t n, const double *x, const double start[2],
                        double tol) {
  if (!fit || !x || !start || n < 2 || !(tol > 0)) return NG_EINVAL;
  fit->x = x;
  fit->n = n;
  fit->start[0] = start[0];
  fit->start[1] = start[1];
  fit->tol = tol;
  /* theta* in closed form: the sample mean, and log of the 1/n standard deviation */
  double mean = 0.0, var = 0.0;
  for (size_t i = 0; i < n; i++) mean += x[i];
  mean /= (double)n;
  for (size_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  var /= (double)n;
  fit->mean = mean;
  fit->var = var;
  fit->opt[0] = mean;
  fit->opt[1] = 0.5 * log(var);
  return ng_all_finite(2, fit->start) && ng_all_finite(2, fit->opt) ? NG_OK : NG_ENONFINITE;
}

/* L(theta) = -(1/n) sum_i log p(x_i | theta) and g = -(1/n) sum_i d log p(x_i | theta)/dtheta,
 * sample by sample from dist.c. */
int ng_gauss1d_nll(const ng_gauss1d_fit_t *fit, const double theta[2], double *loss,
                   double g[2]) {
  if (!fit || !theta || !loss || !g) return NG_EINVAL;
  double sum = 0.0, g0 = 0.0, g1 = 0.0;
  for (size_t i = 0; i < fit->n; i++) {
    double lp, dlp[2];
    int st = ng_dist_logp(&gauss1, theta, &fit->x[i], &lp);
    if (st == NG_OK) st = ng_dist_logp_grad(&gauss1, theta, &fit->x[i], dlp);
    if (st != NG_OK) return st;
    sum += lp;
    g0 += dlp[0];
    g1 += dlp[1];
  }
  *loss = -sum / (double)fit->n;
  g[0] = -g0 / (double)fit->n;
  g[1] = -g1 / (double)fit->n;
  return NG_OK;
}

double ng_gauss1d_nll_closed(const ng_gauss1d_fit_t *fit, double mu, double log_sigma) {
  double dm = fit->mean - mu;
  return log_sigma + (dm * dm + fit->var) * exp(-2.0 * log_sigma) / 2.0 +
         0.91893853320467274178; /* log(2 pi) / 2 */
}

double ng_gauss1d_fit_error(const ng_gauss1d_fit_t *fit, const double theta[2]) {
  return fmax(fabs(theta[0] - fit->opt[0]), fabs(theta[1] - fit->opt[1]));
}

/* ---- paths -------------------------------------------------------------------------------- */

static int path_add(ng_gauss1d_path_t *p, const double theta[2], double err) {
  if (!p) return NG_OK;
  if (p->len == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 64;
    double **arrays[4] = {&p->mu, &p->log_sigma, &p->err, &p->iter};
    for (int k = 0; k < 4; k++) { /* each grown array is kept at once: path_free frees it */
      double *grown = ng_realloc(*arrays[k], cap * sizeof *grown);
      if (!grown) return NG_ENOMEM;
      *arrays[k] = grown;
    }
    p->cap = cap;
  }
  p->mu[p->len] = theta[0];
  p->log_sigma[p->len] = theta[1];
  p->err[p->len] = err;
  p->iter[p->len] = (double)p->len;
  p->len++;
  return NG_OK;
}

void ng_gauss1d_path_free(ng_gauss1d_path_t *path) {
  if (!path) return;
  ng_free(path->mu);
  ng_free(path->log_sigma);
  ng_free(path->err);
  ng_free(path->iter);
  *path = (ng_gauss1d_path_t){0};
}

static int run_args_ok(const ng_gauss1d_fit_t *fit, double eta, long cap, long *iters) {
  return fit && iters && isfinite(eta) && cap >= 0;
}

/* ---- the two descents --------------------------------------------------------------------- */

/* The top of iteration it in both descents: records theta, and ends the run (returns 1,
 * *iters set) when theta meets the tolerance or the cap is reached; *st is a failure to
 * record. */
static int run_ends(const ng_gauss1d_fit_t *fit, const double theta[2], long it, long cap,
                    ng_gauss1d_path_t *path, long *iters, int *st) {
  double err = ng_gauss1d_fit_error(fit, theta);
  if ((*st = path_add(path, theta, err)) != NG_OK) return 1;
  if (err <= fit->tol) return *iters = it, 1;
  if (it == cap) return *iters = NG_GAUSS1D_NOT_REACHED, 1;
  return 0;
}

int ng_gauss1d_gd(const ng_gauss1d_fit_t *fit, double eta, long cap, ng_gauss1d_path_t *path,
                  long *iters) {
  if (!run_args_ok(fit, eta, cap, iters)) return NG_EINVAL;
  if (path) path->len = 0;
  double theta[2] = {fit->start[0], fit->start[1]}, g[2], loss, prev = INFINITY;
  for (long it = 0;; it++) {
    int st;
    if (run_ends(fit, theta, it, cap, path, iters, &st)) return st;
    st = ng_gauss1d_nll(fit, theta, &loss, g);
    if (st == NG_ENONFINITE || (st == NG_OK && loss > prev + LOSS_RISE_TOL * (1.0 + fabs(prev))))
      return *iters = NG_GAUSS1D_UNSTABLE, NG_OK;
    if (st != NG_OK) return st;
    prev = loss;
    theta[0] -= eta * g[0]; /* the whole method: theta <- theta - eta g */
    theta[1] -= eta * g[1];
  }
}

/* s = F(theta)^-1 g with F the Gaussian's closed-form Fisher at theta, by Cholesky. F is
 * diagonal here, so s = (sigma^2 g_mu, g_logsigma / 2); the same calls solve any small
 * dense Fisher. */
static int natural_direction(const double theta[2], const double g[2], double s[2]) {
  double f[4], work[2];
  int st = ng_dist_fisher_dense(&gauss1, theta, f, work);
  if (st == NG_OK) st = ng_cholesky_factor(2, f, 0.0);
  if (st == NG_OK) st = ng_cholesky_solve(2, f, g, s);
  return st;
}

int ng_gauss1d_ngd(const ng_gauss1d_fit_t *fit, double eta, long cap, ng_gauss1d_path_t *path,
                   long *iters) {
  if (!run_args_ok(fit, eta, cap, iters)) return NG_EINVAL;
  if (path) path->len = 0;
  double theta[2] = {fit->start[0], fit->start[1]}, g[2], s[2], loss;
  for (long it = 0;; it++) {
    int st;
    if (run_ends(fit, theta, it, cap, path, iters, &st)) return st;
    st = ng_gauss1d_nll(fit, theta, &loss, g);
    if (st == NG_OK) st = natural_direction(theta, g, s);
    /* a step so large that sigma over- or underflows: F is then singular or not finite */
    if (st == NG_ENONFINITE || st == NG_ENOTPD) return *iters = NG_GAUSS1D_UNSTABLE, NG_OK;
    if (st != NG_OK) return st;
    /* theta <- theta - eta F^-1 g */
    if ((st = ng_natgrad_descent_step(2, theta, eta, s)) != NG_OK) return st;
  }
}

int ng_gauss1d_gd_tuned(const ng_gauss1d_fit_t *fit, long cap, ng_gauss1d_path_t *path,
                        double *eta, long *iters) {
  if (!run_args_ok(fit, 1.0, cap, iters) || !eta) return NG_EINVAL;
  if (path) path->len = 0;
  ng_gauss1d_path_t scratch = {0};
  long best = NG_GAUSS1D_NOT_REACHED;
  int st = NG_OK;
  *eta = 0.0;
  for (int k = 0; k < NG_GAUSS1D_GD_GRID; k++) {
    double step = pow(2.0, -k / 4.0);
    long it;
    st = ng_gauss1d_gd(fit, step, best >= 0 ? best : cap, path ? &scratch : NULL, &it);
    if (st != NG_OK) break;
    int keep = (it >= 0 && (best < 0 || it < best)) || (it == NG_GAUSS1D_NOT_REACHED && best < 0);
    if (keep) {
      if (path) { /* the winner's iterates go to the caller; its old buffers become scratch */
        ng_gauss1d_path_t t = *path;
        *path = scratch;
        scratch = t;
      }
      best = it;
      *eta = step;
    }
    if (it == NG_GAUSS1D_NOT_REACHED || (it >= 0 && !keep)) break; /* smaller: only slower */
  }
  ng_gauss1d_path_free(&scratch);
  *iters = best;
  return st;
}
