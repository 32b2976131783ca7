/* gauss1d: the seed post's Gaussian example. KL and the Fisher estimate against their
 * definitions (Simpson quadrature, a third-order remainder), the NLL's gradient against
 * central differences and its closed form against the per-sample sum, theta* against the
 * minimiser's conditions, and the descents against what they promise: paths that record
 * every iterate, tolerance met at the reported count and not before, the tuned step being
 * the grid's best, instability and the cap reported as results, bad arguments refused. */
#include "natgrad/gauss1d.h"

#include <math.h>
#include <stdio.h>

#include "natgrad/dist.h"
#include "ng_test.h"

#define SUM_RTOL 1e-12    /* closed form vs a sum or formula written here */
#define QUAD_RTOL 1e-9    /* Simpson on +-14 sigma with 4000 intervals */
#define QUAD_N 4000       /* Simpson intervals (even) */
#define QUAD_HALFWIDTH 14 /* Simpson range: mu1 +- this many sigma1 */
#define FD_STEP 1e-5      /* central-difference step on theta */
#define FD_RTOL 1e-7      /* FD vs analytic gradient, relative to max(1, |g|) */
#define TAYLOR_C 2.0      /* |KL - d'Fd/2| <= TAYLOR_C |d|^3 for the small moves below */
#define MIN_REL 1e-12     /* theta* is a minimiser: L(theta* +- h) >= L(theta*) - this */

static const double LOG_2PI = 1.8378770664093454835606594728112;
static const ng_dist_t gauss1 = {.kind = NG_DIST_GAUSSIAN, .dim = 1};

/* n draws of N(mu, sigma^2) from stream (seed, 0), as `natgrad demo gaussian` draws them. */
static void draw(size_t n, double mu, double sigma, uint64_t seed, double *x) {
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  const double p[2] = {mu, log(sigma)};
  for (size_t i = 0; i < n; i++) NG_CHECK_OK(ng_dist_sample(&gauss1, p, &rng, &x[i]));
}

/* KL(N(t1) || N(t2)) = integral of p1 log(p1 / p2), by Simpson's rule. */
static double kl_quadrature(const double t1[2], const double t2[2]) {
  double s1 = exp(t1[1]), s2 = exp(t2[1]);
  double lo = t1[0] - QUAD_HALFWIDTH * s1, h = 2.0 * QUAD_HALFWIDTH * s1 / QUAD_N, sum = 0.0;
  for (int i = 0; i <= QUAD_N; i++) {
    double a = lo + i * h, z1 = (a - t1[0]) / s1, z2 = (a - t2[0]) / s2;
    double lp1 = -0.5 * z1 * z1 - t1[1] - 0.5 * LOG_2PI;
    double lp2 = -0.5 * z2 * z2 - t2[1] - 0.5 * LOG_2PI;
    double w = (i == 0 || i == QUAD_N) ? 1.0 : (i % 2 ? 4.0 : 2.0);
    sum += w * exp(lp1) * (lp1 - lp2);
  }
  return sum * h / 3.0;
}

/* ---- (a) distances ------------------------------------------------------------------------ */

static void test_compare(void) {
  /* the demo's pairs: the mean moves by 2; KL = 2/sigma^2 both ways, and the Fisher
   * estimate is exact because KL is quadratic in mu */
  const double sig[2] = {0.3, 3.0};
  for (int k = 0; k < 2; k++) {
    double t1[2] = {-1.0, log(sig[k])}, t2[2] = {1.0, log(sig[k])};
    ng_gauss1d_gap_t gap;
    NG_CHECK_OK(ng_gauss1d_compare(t1, t2, &gap));
    double want = 2.0 / (sig[k] * sig[k]);
    NG_CHECK_CLOSE(gap.euclid, 2.0, SUM_RTOL, 0.0);
    NG_CHECK_CLOSE(gap.kl_12, want, SUM_RTOL, 0.0);
    NG_CHECK_CLOSE(gap.kl_21, want, SUM_RTOL, 0.0);
    NG_CHECK_CLOSE(gap.fisher_half, want, SUM_RTOL, 0.0);
  }
  /* general pairs: both KLs against the integral, the estimate against d'Fd/2 written out */
  ng_rng_t rng;
  ng_rng_seed(&rng, 21, 0);
  for (int trial = 0; trial < 6; trial++) {
    double t1[2] = {ng_rng_uniform_range(&rng, -2, 2), ng_rng_uniform_range(&rng, -1, 1)};
    double t2[2] = {ng_rng_uniform_range(&rng, -2, 2), ng_rng_uniform_range(&rng, -1, 1)};
    ng_gauss1d_gap_t gap;
    NG_CHECK_OK(ng_gauss1d_compare(t1, t2, &gap));
    double d0 = t2[0] - t1[0], d1 = t2[1] - t1[1];
    NG_CHECK_CLOSE(gap.euclid, hypot(d0, d1), SUM_RTOL, 0.0);
    NG_CHECK_CLOSE(gap.kl_12, kl_quadrature(t1, t2), QUAD_RTOL, 1e-12);
    NG_CHECK_CLOSE(gap.kl_21, kl_quadrature(t2, t1), QUAD_RTOL, 1e-12);
    NG_CHECK_CLOSE(gap.fisher_half, 0.5 * (d0 * d0 * exp(-2.0 * t1[1]) + 2.0 * d1 * d1),
                   SUM_RTOL, 0.0);
    /* a small move: the estimate is KL to second order */
    double t3[2] = {t1[0] + 1e-3 * d0, t1[1] + 1e-3 * d1};
    NG_CHECK_OK(ng_gauss1d_compare(t1, t3, &gap));
    NG_CHECK_CLOSE(gap.kl_12, gap.fisher_half, 0.0, TAYLOR_C * pow(gap.euclid, 3));
    NG_CHECK_CLOSE(gap.kl_21, gap.fisher_half, 0.0, TAYLOR_C * pow(gap.euclid, 3));
  }
  double ok[2] = {0.0, 0.0}, bad[2] = {NAN, 0.0};
  ng_gauss1d_gap_t gap;
  NG_CHECK_STATUS(ng_gauss1d_compare(NULL, ok, &gap), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_compare(ok, NULL, &gap), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_compare(ok, ok, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_compare(ok, bad, &gap), NG_ENONFINITE);
}

/* ---- (b) the problem ---------------------------------------------------------------------- */

#define N_DATA 500
static double g_x[N_DATA];

static void test_fit_init(void) {
  draw(N_DATA, 2.0, 0.2, 1, g_x);
  const double start[2] = {-2.0, log(3.0)};
  ng_gauss1d_fit_t fit;
  NG_CHECK_OK(ng_gauss1d_fit_init(&fit, N_DATA, g_x, start, 1e-6));
  /* mean and 1/n variance as the definitions (one pass for E[x^2] - E[x]^2 here) */
  double s = 0.0, s2 = 0.0;
  for (int i = 0; i < N_DATA; i++) s += g_x[i], s2 += g_x[i] * g_x[i];
  NG_CHECK_CLOSE(fit.mean, s / N_DATA, SUM_RTOL, 0.0);
  NG_CHECK_CLOSE(fit.var, s2 / N_DATA - (s / N_DATA) * (s / N_DATA), 1e-9, 0.0);
  NG_CHECK(fit.opt[0] == fit.mean && fit.opt[1] == 0.5 * log(fit.var));
  NG_CHECK(fit.start[0] == start[0] && fit.start[1] == start[1] && fit.x == g_x);
  /* theta* minimises L: zero gradient, and no neighbour is lower */
  double loss, g[2], lh, gh[2];
  NG_CHECK_OK(ng_gauss1d_nll(&fit, fit.opt, &loss, g));
  NG_CHECK_CLOSE(g[0], 0.0, 0.0, 1e-9);
  NG_CHECK_CLOSE(g[1], 0.0, 0.0, 1e-9);
  for (int j = 0; j < 4; j++) {
    double t[2] = {fit.opt[0], fit.opt[1]};
    t[j / 2] += (j % 2 ? -1e-3 : 1e-3);
    NG_CHECK_OK(ng_gauss1d_nll(&fit, t, &lh, gh));
    NG_CHECK(lh >= loss - MIN_REL * fabs(loss));
  }
  NG_CHECK_CLOSE(ng_gauss1d_fit_error(&fit, start), fmax(fabs(start[0] - fit.opt[0]),
                                                          fabs(start[1] - fit.opt[1])),
                 0.0, 0.0);

  /* refusals: constant data has no log s; a NaN sample; n < 2; tol <= 0; NULLs */
  double same[3] = {1.5, 1.5, 1.5}, nan_x[3] = {1.0, NAN, 2.0};
  NG_CHECK_STATUS(ng_gauss1d_fit_init(&fit, 3, same, start, 1e-6), NG_ENONFINITE);
  NG_CHECK(fit.var == 0.0 && fit.mean == 1.5);
  NG_CHECK_STATUS(ng_gauss1d_fit_init(&fit, 3, nan_x, start, 1e-6), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_gauss1d_fit_init(&fit, 1, g_x, start, 1e-6), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_fit_init(&fit, N_DATA, g_x, start, 0.0), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_fit_init(&fit, N_DATA, g_x, start, NAN), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_fit_init(NULL, N_DATA, g_x, start, 1e-6), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_fit_init(&fit, N_DATA, NULL, start, 1e-6), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_fit_init(&fit, N_DATA, g_x, NULL, 1e-6), NG_EINVAL);
}

static void test_nll(void) {
  draw(N_DATA, -1.0, 2.0, 5, g_x);
  const double start[2] = {0.0, 0.0};
  ng_gauss1d_fit_t fit;
  NG_CHECK_OK(ng_gauss1d_fit_init(&fit, N_DATA, g_x, start, 1e-6));
  ng_rng_t rng;
  ng_rng_seed(&rng, 22, 0);
  for (int trial = 0; trial < 8; trial++) {
    double t[2] = {ng_rng_uniform_range(&rng, -4, 4), ng_rng_uniform_range(&rng, -2, 2)};
    double loss, g[2];
    NG_CHECK_OK(ng_gauss1d_nll(&fit, t, &loss, g));
    /* the per-sample definition, written out */
    double want = 0.0;
    for (int i = 0; i < N_DATA; i++) {
      double z = (g_x[i] - t[0]) * exp(-t[1]);
      want += 0.5 * z * z + t[1] + 0.5 * LOG_2PI;
    }
    NG_CHECK_CLOSE(loss, want / N_DATA, SUM_RTOL, 0.0);
    /* the closed form through (xbar, s^2) */
    NG_CHECK_CLOSE(ng_gauss1d_nll_closed(&fit, t[0], t[1]), loss, SUM_RTOL, 0.0);
    /* g against central differences */
    for (int j = 0; j < 2; j++) {
      double tp[2] = {t[0], t[1]}, tm[2] = {t[0], t[1]}, lp, lm, gd[2];
      tp[j] += FD_STEP;
      tm[j] -= FD_STEP;
      NG_CHECK_OK(ng_gauss1d_nll(&fit, tp, &lp, gd));
      NG_CHECK_OK(ng_gauss1d_nll(&fit, tm, &lm, gd));
      NG_CHECK_CLOSE(g[j], (lp - lm) / (2.0 * FD_STEP), FD_RTOL, FD_RTOL);
    }
  }
  double loss, g[2], t[2] = {0.0, -400.0}; /* sigma = e^-400: (x / sigma)^2 overflows */
  NG_CHECK_STATUS(ng_gauss1d_nll(&fit, t, &loss, g), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_gauss1d_nll(NULL, t, &loss, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_nll(&fit, t, NULL, g), NG_EINVAL);
}

/* ---- the descents ------------------------------------------------------------------------- */

/* The path holds iters + 1 iterates with their errors; the last meets tol, no earlier one. */
static void check_converged_path(const ng_gauss1d_fit_t *fit, const ng_gauss1d_path_t *p,
                                 long iters) {
  NG_CHECK(iters >= 0 && p->len == (size_t)iters + 1);
  if (p->len != (size_t)iters + 1 || iters < 0) return;
  NG_CHECK(p->mu[0] == fit->start[0] && p->log_sigma[0] == fit->start[1]);
  for (size_t k = 0; k < p->len; k++) {
    double t[2] = {p->mu[k], p->log_sigma[k]};
    NG_CHECK(p->err[k] == ng_gauss1d_fit_error(fit, t) && p->iter[k] == (double)k);
    NG_CHECK(k + 1 == p->len ? p->err[k] <= fit->tol : p->err[k] > fit->tol);
  }
}

static void test_descents(void) {
  draw(N_DATA, 2.0, 0.2, 1, g_x);
  const double start[2] = {-2.0, log(3.0)};
  ng_gauss1d_fit_t fit;
  NG_CHECK_OK(ng_gauss1d_fit_init(&fit, N_DATA, g_x, start, 1e-6));
  ng_gauss1d_path_t gd = {0}, ng = {0}, again = {0};
  long it_ng, it_gd, it;
  double eta;

  /* natural gradient, step 1: converges, and its first step puts mu on the sample mean */
  NG_CHECK_OK(ng_gauss1d_ngd(&fit, 1.0, 1000, &ng, &it_ng));
  check_converged_path(&fit, &ng, it_ng);
  if (ng.len > 1) NG_CHECK_CLOSE(ng.mu[1], fit.mean, SUM_RTOL, 0.0);

  /* tuned GD: a grid step; rerunning it gives the same count and path bit for bit; the
   * grid neighbours do no better; and the natural gradient needs fewer iterations */
  NG_CHECK_OK(ng_gauss1d_gd_tuned(&fit, 100000, &gd, &eta, &it_gd));
  check_converged_path(&fit, &gd, it_gd);
  double k = -4.0 * log2(eta);
  NG_CHECK(eta > 0 && fabs(k - nearbyint(k)) < 1e-9 && k < NG_GAUSS1D_GD_GRID);
  NG_CHECK_OK(ng_gauss1d_gd(&fit, eta, 100000, &again, &it));
  NG_CHECK(it == it_gd && again.len == gd.len);
  for (size_t i = 0; i < again.len && again.len == gd.len; i++)
    NG_CHECK(again.mu[i] == gd.mu[i] && again.log_sigma[i] == gd.log_sigma[i]);
  for (int side = -1; side <= 1; side += 2) {
    NG_CHECK_OK(ng_gauss1d_gd(&fit, eta * pow(2.0, side / 4.0), 100000, NULL, &it));
    NG_CHECK(it < 0 || it >= it_gd);
  }
  NG_CHECK(it_ng < it_gd);

  /* a stable GD step decreases the loss at every iterate */
  for (size_t i = 1; i < gd.len; i++) {
    double a[2] = {gd.mu[i - 1], gd.log_sigma[i - 1]}, b[2] = {gd.mu[i], gd.log_sigma[i]};
    double la, lb, g[2];
    NG_CHECK_OK(ng_gauss1d_nll(&fit, a, &la, g));
    NG_CHECK_OK(ng_gauss1d_nll(&fit, b, &lb, g));
    if (!(lb <= la)) {
      NG_CHECK(lb <= la);
      break;
    }
  }

  /* results, not errors: eta = 1 is beyond 2 / (1/s^2) and blows up; a cap is a cap */
  NG_CHECK_OK(ng_gauss1d_gd(&fit, 1.0, 100000, &again, &it));
  NG_CHECK(it == NG_GAUSS1D_UNSTABLE);
  NG_CHECK_OK(ng_gauss1d_gd(&fit, 1e-3, 7, &again, &it));
  NG_CHECK(it == NG_GAUSS1D_NOT_REACHED && again.len == 8);
  NG_CHECK_OK(ng_gauss1d_ngd(&fit, 1.0, 2, &again, &it));
  NG_CHECK(it == NG_GAUSS1D_NOT_REACHED && again.len == 3);
  /* none reaching tol within the cap: the largest stable step is kept */
  NG_CHECK_OK(ng_gauss1d_gd_tuned(&fit, 5, &again, &eta, &it));
  NG_CHECK(it == NG_GAUSS1D_NOT_REACHED && again.len == 6 && eta > 0 && eta < 1);
  NG_CHECK_OK(ng_gauss1d_gd(&fit, eta * pow(2.0, 0.25), 5, NULL, &it));
  NG_CHECK(it == NG_GAUSS1D_UNSTABLE);
  /* a start far too narrow: the full natural step overshoots until sigma overflows */
  const double narrow[2] = {-2.0, log(0.01)};
  ng_gauss1d_fit_t f2;
  NG_CHECK_OK(ng_gauss1d_fit_init(&f2, N_DATA, g_x, narrow, 1e-6));
  NG_CHECK_OK(ng_gauss1d_ngd(&f2, 1.0, 1000, NULL, &it));
  NG_CHECK(it == NG_GAUSS1D_UNSTABLE);

  /* every grid step unstable: a tight Gaussian (s ~ 1e-3, curvature 1e6 in mu), started
   * 3 s off its mean. Even eta = 2^-10 overshoots mu; from much farther, a first step to a
   * huge sigma would lower the loss and count as stable. */
  double tight[N_DATA];
  draw(N_DATA, 0.0, 1e-3, 3, tight);
  NG_CHECK_OK(ng_gauss1d_fit_init(&f2, N_DATA, tight, start, 1e-6));
  f2.start[0] = f2.opt[0] + 0.003;
  f2.start[1] = f2.opt[1];
  NG_CHECK_OK(ng_gauss1d_gd_tuned(&f2, 1000, &again, &eta, &it));
  NG_CHECK(eta == 0.0 && it == NG_GAUSS1D_NOT_REACHED && again.len == 0);

  /* a start already within tol takes no step, even with cap 0 */
  f2 = fit;
  f2.start[0] = fit.opt[0];
  f2.start[1] = fit.opt[1];
  NG_CHECK_OK(ng_gauss1d_gd(&f2, 0.1, 0, &again, &it));
  NG_CHECK(it == 0 && again.len == 1);

  NG_CHECK_STATUS(ng_gauss1d_gd(NULL, 0.1, 10, NULL, &it), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_gd(&fit, NAN, 10, NULL, &it), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_gd(&fit, 0.1, -1, NULL, &it), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_ngd(&fit, 1.0, 10, NULL, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_gauss1d_gd_tuned(&fit, 10, NULL, NULL, &it), NG_EINVAL);
  ng_gauss1d_path_free(&gd);
  ng_gauss1d_path_free(&ng);
  ng_gauss1d_path_free(&again);
  NG_CHECK(again.mu == NULL && again.len == 0 && again.cap == 0);
  ng_gauss1d_path_free(NULL);
}

int main(void) {
  NG_TEST_RUN(test_compare);
  NG_TEST_RUN(test_fit_init);
  NG_TEST_RUN(test_nll);
  NG_TEST_RUN(test_descents);
  NG_TEST_END();
}
