/* dist: every gradient against central differences, every closed form against an
 * independent definition (Simpson quadrature in 1-D, Monte Carlo in d dims, explicit sums
 * over every outcome for categorical, MultiDiscrete and MultiBinary), the Fisher against
 * the KL Hessian and E[g g^T], sampling frequencies, modes, and bad inputs. */
#include "natgrad/dist.h"

#include <math.h>
#include <stdio.h>

#include "ng_test.h"

#define FD_STEP 1e-5      /* central-difference step on parameters */
#define FD_RTOL 1e-7      /* FD vs analytic, max-norm, relative to max(1, |want|) */
#define QUAD_RTOL 1e-9    /* Simpson on +-14 sigma with 4000 intervals */
#define SUM_RTOL 1e-12    /* closed form vs explicit sums written here */
#define ZERO_ATOL 1e-14   /* quantities that vanish exactly in theory */
#define MC_Z 5.0          /* Monte-Carlo bound, in standard errors */
#define MC_N 40000        /* Monte-Carlo samples */
#define QUAD_N 4000       /* Simpson intervals (even) */
#define QUAD_HALFWIDTH 14 /* Simpson range: mu +- this many sigma */
#define MAXP 16           /* largest n_params in these tests */

static const double LOG_2PI = 1.8378770664093454835606594728112;

static const size_t GAUSS_DIMS[] = {1, 3, 6};
static const size_t CAT_DIMS[] = {2, 3, 10};

/* Every kind at three sizes, for the tests that hold for all of them. A MultiDiscrete with
 * a one-category component is among them; the largest discrete ones have 60 and 64
 * outcomes, few enough to sum over. */
static const ng_dist_t DISTS[] = {
    {.kind = NG_DIST_GAUSSIAN, .dim = 1},
    {.kind = NG_DIST_GAUSSIAN, .dim = 3},
    {.kind = NG_DIST_GAUSSIAN, .dim = 6},
    {.kind = NG_DIST_CATEGORICAL, .dim = 2},
    {.kind = NG_DIST_CATEGORICAL, .dim = 3},
    {.kind = NG_DIST_CATEGORICAL, .dim = 10},
    {.kind = NG_DIST_MULTI_DISCRETE, .dim = 2, .nvec = {3, 2}},
    {.kind = NG_DIST_MULTI_DISCRETE, .dim = 3, .nvec = {4, 1, 3}},
    {.kind = NG_DIST_MULTI_DISCRETE, .dim = 4, .nvec = {3, 2, 5, 2}},
    {.kind = NG_DIST_MULTI_BINARY, .dim = 1},
    {.kind = NG_DIST_MULTI_BINARY, .dim = 3},
    {.kind = NG_DIST_MULTI_BINARY, .dim = 6},
};
#define N_DISTS (sizeof DISTS / sizeof DISTS[0])
#define MAXO 64 /* most outcomes of a discrete entry of DISTS */

/* ---- helpers ------------------------------------------------------------------------ */

/* max-norm relative error check with a floor, printing the worst entry on failure */
static void check_vec(const char *what, const ng_dist_t *dist, size_t n, const double *got,
                      const double *want, double rtol, double floor_) {
  double err = ng_test_rel_err(n, got, want, floor_);
  ng_test_checks++;
  if (!(err <= rtol)) {
    size_t worst = 0;
    for (size_t i = 0; i < n; i++)
      if (!(fabs(got[i] - want[i]) <= fabs(got[worst] - want[worst]))) worst = i;
    ng_test_failures++;
    fprintf(stderr, "%s (kind %d, dim %zu): rel err %.3g > %.3g; [%zu] got %.17g want %.17g\n",
            what, (int)dist->kind, dist->dim, err, rtol, worst, got[worst], want[worst]);
  }
}

/* |got - want| <= MC_Z * se (+ a tiny absolute slack for se = 0) */
static void check_mc(const char *what, const ng_dist_t *dist, double got, double want,
                     double se) {
  ng_test_checks++;
  if (!(fabs(got - want) <= MC_Z * se + 1e-12)) {
    ng_test_failures++;
    fprintf(stderr,
            "%s (kind %d, dim %zu): MC %.10g vs closed form %.10g, |diff| %.3g > %g se (se %.3g)\n",
            what, (int)dist->kind, dist->dim, got, want, fabs(got - want), MC_Z, se);
  }
}

/* Random parameters. Gaussian: mu in [-2, 2], log_std in [-2, 1], or alternating around
 * -5 and 3 when extreme. Logits (every other kind): in [-3, 3], or each near -50, 0 or +50. */
static void gen_params(const ng_dist_t *dist, ng_rng_t *rng, int extreme, double *p) {
  size_t d = dist->dim;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    for (size_t i = 0; i < d; i++) {
      p[i] = ng_rng_uniform_range(rng, -2.0, 2.0);
      p[d + i] = extreme ? (i % 2 ? 3.0 : -5.0) + ng_rng_uniform_range(rng, -0.5, 0.5)
                         : ng_rng_uniform_range(rng, -2.0, 1.0);
    }
  } else {
    for (size_t i = 0; i < ng_dist_n_params(dist); i++)
      p[i] = extreme ? 50.0 * ((double)ng_rng_below(rng, 3) - 1.0) +
                           ng_rng_uniform_range(rng, -1.0, 1.0)
                     : ng_rng_uniform_range(rng, -3.0, 3.0);
  }
}

/* ---- discrete kinds, written out independently of dist.c ------------------------------ */

/* Independent components of a discrete kind: a categorical is one, a MultiDiscrete has m,
 * a MultiBinary d (of two outcomes each). */
static size_t n_comps(const ng_dist_t *dist) {
  return dist->kind == NG_DIST_CATEGORICAL ? 1 : dist->dim;
}
static size_t comp_size(const ng_dist_t *dist, size_t c) {
  return dist->kind == NG_DIST_CATEGORICAL      ? dist->dim
         : dist->kind == NG_DIST_MULTI_DISCRETE ? dist->nvec[c]
                                                : 2;
}

/* Outcomes of the joint action, and outcome i as an action (component 0 varies fastest). */
static size_t n_outcomes(const ng_dist_t *dist) {
  size_t n = 1;
  for (size_t c = 0; c < n_comps(dist); c++) n *= comp_size(dist, c);
  return n;
}
static void outcome(const ng_dist_t *dist, size_t i, double *a) {
  for (size_t c = 0; c < n_comps(dist); c++) {
    a[c] = (double)(i % comp_size(dist, c));
    i /= comp_size(dist, c);
  }
}
/* The index of action a among the outcomes (-1 when a is not one). */
static long outcome_index(const ng_dist_t *dist, const double *a) {
  size_t i = 0, scale = 1;
  for (size_t c = 0; c < n_comps(dist); c++) {
    size_t k = comp_size(dist, c);
    if (!(a[c] >= 0.0 && a[c] < (double)k && a[c] == floor(a[c]))) return -1;
    i += (size_t)a[c] * scale;
    scale *= k;
  }
  return (long)i;
}

/* A uniformly random outcome: a category per component, or 0/1 per Bernoulli. */
static void random_outcome(const ng_dist_t *dist, ng_rng_t *rng, double *a) {
  for (size_t c = 0; c < n_comps(dist); c++) a[c] = (double)ng_rng_below(rng, comp_size(dist, c));
}


/* Independent log-densities, written from the definitions. */
static double gauss_logpdf(size_t d, const double *p, const double *a) {
  double r = 0.0;
  for (size_t i = 0; i < d; i++) {
    double s = exp(p[d + i]), z = (a[i] - p[i]) / s;
    r += -0.5 * z * z - log(s) - 0.5 * LOG_2PI;
  }
  return r;
}

/* log pi_i = -log sum_j exp(l_j - l_i): a different formula from the library's. */
static void cat_logpi(size_t k, const double *l, double *logpi) {
  for (size_t i = 0; i < k; i++) {
    double s = 0.0;
    for (size_t j = 0; j < k; j++) s += exp(l[j] - l[i]);
    logpi[i] = -log(s);
  }
}

/* log P(a_i = 1) and log P(a_i = 0) of a Bernoulli with logit l as l a - log(1 + e^l):
 * another formula than the library's softplus (fine for the |l| <= 51 used here). */
static double bern_logp(double l, double a) { return l * a - log(1.0 + exp(l)); }

/* log p(a) of a discrete kind: a sum over its independent components. */
static double disc_logp(const ng_dist_t *dist, const double *p, const double *a) {
  double r = 0.0, lpi[MAXP];
  if (dist->kind == NG_DIST_MULTI_BINARY) {
    for (size_t i = 0; i < dist->dim; i++) r += bern_logp(p[i], a[i]);
    return r;
  }
  for (size_t c = 0, off = 0; c < n_comps(dist); off += comp_size(dist, c), c++) {
    cat_logpi(comp_size(dist, c), p + off, lpi);
    r += lpi[(size_t)a[c]];
  }
  return r;
}

enum { F_LOGP, F_ENTROPY, F_KL };

static const char *F_NAMES[] = {"logp", "entropy", "kl(p||q) wrt q"};

/* f(x) with `other` the action (logp), unused (entropy) or the fixed p (KL wrt q = x) */
static double eval_f(int which, const ng_dist_t *dist, const double *x, const double *other) {
  double r = NAN;
  int s = which == F_LOGP      ? ng_dist_logp(dist, x, other, &r)
          : which == F_ENTROPY ? ng_dist_entropy(dist, x, &r)
                               : ng_dist_kl(dist, other, x, &r);
  return s == NG_OK ? r : NAN;
}

static int eval_g(int which, const ng_dist_t *dist, const double *x, const double *other,
                  double *g) {
  return which == F_LOGP      ? ng_dist_logp_grad(dist, x, other, g)
         : which == F_ENTROPY ? ng_dist_entropy_grad(dist, x, g)
                              : ng_dist_kl_grad_q(dist, other, x, g);
}

static void check_grad_fd(int which, const ng_dist_t *dist, const double *x,
                          const double *other) {
  size_t n = ng_dist_n_params(dist);
  double g[MAXP], fd[MAXP], xs[MAXP];
  for (size_t i = 0; i < n; i++) g[i] = NAN; /* gradients overwrite */
  NG_CHECK_OK(eval_g(which, dist, x, other, g));
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) xs[j] = x[j];
    xs[i] = x[i] + FD_STEP;
    double fp = eval_f(which, dist, xs, other);
    xs[i] = x[i] - FD_STEP;
    double fm = eval_f(which, dist, xs, other);
    fd[i] = (fp - fm) / (2.0 * FD_STEP);
  }
  check_vec(F_NAMES[which], dist, n, g, fd, FD_RTOL, 1.0);
}

/* ---- gradients -------------------------------------------------------------------- */

static void test_gradients_fd(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 11, 0);
  for (size_t t = 0; t < N_DISTS; t++) {
    const ng_dist_t dist = DISTS[t];
    size_t d = dist.dim;
    for (int trial = 0; trial < 6; trial++) {
      int extreme = trial >= 3;
      double p[MAXP], q[MAXP], a[MAXP];
      gen_params(&dist, &rng, extreme, p);
      gen_params(&dist, &rng, extreme, q);
      /* an action from p, and one off its support's bulk */
      NG_CHECK_OK(ng_dist_sample(&dist, p, &rng, a));
      check_grad_fd(F_LOGP, &dist, p, a);
      if (dist.kind == NG_DIST_GAUSSIAN)
        for (size_t i = 0; i < d; i++) a[i] = p[i] + 3.0;
      else
        random_outcome(&dist, &rng, a);
      check_grad_fd(F_LOGP, &dist, p, a);
      check_grad_fd(F_ENTROPY, &dist, p, NULL);
      check_grad_fd(F_KL, &dist, q, p); /* d/dq KL(p || q) at q */
      check_grad_fd(F_KL, &dist, p, q); /* and with the roles of the draws swapped */
    }
  }
}

/* ---- closed forms vs definitions ------------------------------------------------------ */

/* Simpson's rule on [lo, hi] with QUAD_N intervals of f(a; ctx). */
typedef struct {
  int which; /* 0: exp(library logp), 1: -p log p, 2: p (log p - log q) */
  const ng_dist_t *dist;
  const double *p, *q;
} quad_ctx_t;

static double quad_integrand(double a, const quad_ctx_t *c) {
  if (c->which == 0) {
    double lp = NAN;
    if (ng_dist_logp(c->dist, c->p, &a, &lp) != NG_OK) return NAN;
    return exp(lp);
  }
  double lp = gauss_logpdf(1, c->p, &a);
  if (c->which == 1) return -exp(lp) * lp;
  return exp(lp) * (lp - gauss_logpdf(1, c->q, &a));
}

static double simpson(const quad_ctx_t *c, double lo, double hi) {
  double h = (hi - lo) / QUAD_N, s = quad_integrand(lo, c) + quad_integrand(hi, c);
  for (int i = 1; i < QUAD_N; i++) s += (i % 2 ? 4.0 : 2.0) * quad_integrand(lo + i * h, c);
  return s * h / 3.0;
}

static void test_gaussian_quadrature_1d(void) {
  static const double LOG_STDS[] = {-6.0, -2.0, -0.3, 0.0, 1.0, 3.0};
  const size_t nls = sizeof LOG_STDS / sizeof LOG_STDS[0];
  ng_dist_t dist = {.kind = NG_DIST_GAUSSIAN, .dim = 1};
  ng_rng_t rng;
  ng_rng_seed(&rng, 12, 0);
  for (size_t i = 0; i < nls; i++) {
    double p[2] = {ng_rng_uniform_range(&rng, -2.0, 2.0), LOG_STDS[i]};
    double sp = exp(p[1]), lo = p[0] - QUAD_HALFWIDTH * sp, hi = p[0] + QUAD_HALFWIDTH * sp;
    quad_ctx_t c = {0, &dist, p, NULL};
    NG_CHECK_CLOSE(simpson(&c, lo, hi), 1.0, QUAD_RTOL, 0.0); /* logp normalised */
    double h;
    NG_CHECK_OK(ng_dist_entropy(&dist, p, &h));
    c.which = 1;
    NG_CHECK_CLOSE(h, simpson(&c, lo, hi), QUAD_RTOL, QUAD_RTOL);
    for (size_t j = 0; j < nls; j++) {
      double q[2] = {p[0] + ng_rng_uniform_range(&rng, -1.0, 1.0), LOG_STDS[j]}, kl;
      NG_CHECK_OK(ng_dist_kl(&dist, p, q, &kl));
      c.which = 2;
      c.q = q;
      NG_CHECK_CLOSE(kl, simpson(&c, lo, hi), QUAD_RTOL, QUAD_RTOL);
    }
  }
}

static void test_gaussian_monte_carlo(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 13, 0);
  for (int di = 0; di < 3; di++) {
    ng_dist_t dist = {.kind = NG_DIST_GAUSSIAN, .dim = GAUSS_DIMS[di]};
    size_t d = dist.dim;
    double p[MAXP], q[MAXP], a[MAXP];
    for (size_t i = 0; i < d; i++) {
      p[i] = ng_rng_uniform_range(&rng, -1.0, 1.0);
      p[d + i] = ng_rng_uniform_range(&rng, -1.5, 1.5);
      q[i] = p[i] + ng_rng_uniform_range(&rng, -0.5, 0.5);
      q[d + i] = p[d + i] + ng_rng_uniform_range(&rng, -0.4, 0.4);
    }
    double sh = 0, sh2 = 0, sk = 0, sk2 = 0;
    for (int s = 0; s < MC_N; s++) {
      NG_CHECK(ng_dist_sample(&dist, p, &rng, a) == NG_OK);
      double lp = gauss_logpdf(d, p, a), lr = lp - gauss_logpdf(d, q, a);
      if (s < 100) { /* the library's logp is the summed density too */
        double lib = NAN;
        NG_CHECK_OK(ng_dist_logp(&dist, p, a, &lib));
        NG_CHECK_CLOSE(lib, lp, SUM_RTOL, SUM_RTOL);
      }
      sh += -lp;
      sh2 += lp * lp;
      sk += lr;
      sk2 += lr * lr;
    }
    double mh = sh / MC_N, mk = sk / MC_N;
    double seh = sqrt((sh2 / MC_N - mh * mh) / MC_N), sek = sqrt((sk2 / MC_N - mk * mk) / MC_N);
    double h, kl;
    NG_CHECK_OK(ng_dist_entropy(&dist, p, &h));
    NG_CHECK_OK(ng_dist_kl(&dist, p, q, &kl));
    check_mc("gaussian entropy", &dist, mh, h, seh);
    check_mc("gaussian kl", &dist, mk, kl, sek);
  }
}

/* Categorical, MultiDiscrete and MultiBinary: log p of every joint outcome against the
 * formula, and entropy and KL against their definitions summed over every joint outcome
 * (not component by component, as the library does). */
static void test_discrete_sums(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 14, 0);
  for (size_t t = 0; t < N_DISTS; t++) {
    const ng_dist_t dist = DISTS[t];
    if (dist.kind == NG_DIST_GAUSSIAN) continue;
    size_t no = n_outcomes(&dist);
    double h_max = 0.0; /* the uniform distribution's entropy */
    for (size_t c = 0; c < n_comps(&dist); c++) h_max += log((double)comp_size(&dist, c));
    for (int trial = 0; trial < 8; trial++) {
      double p[MAXP], q[MAXP], a[MAXP];
      gen_params(&dist, &rng, trial >= 4, p);
      gen_params(&dist, &rng, trial >= 4, q);
      double h_ref = 0.0, kl_ref = 0.0, total = 0.0;
      for (size_t i = 0; i < no; i++) {
        outcome(&dist, i, a);
        double lpp = disc_logp(&dist, p, a), lpq = disc_logp(&dist, q, a), lp;
        h_ref -= exp(lpp) * lpp;
        kl_ref += exp(lpp) * (lpp - lpq);
        NG_CHECK_OK(ng_dist_logp(&dist, p, a, &lp));
        NG_CHECK_CLOSE(lp, lpp, SUM_RTOL, SUM_RTOL);
        total += exp(lp);
      }
      double h, kl;
      NG_CHECK_OK(ng_dist_entropy(&dist, p, &h));
      NG_CHECK_OK(ng_dist_kl(&dist, p, q, &kl));
      NG_CHECK_CLOSE(total, 1.0, SUM_RTOL, 0.0);
      NG_CHECK_CLOSE(h, h_ref, SUM_RTOL, SUM_RTOL);
      NG_CHECK_CLOSE(kl, kl_ref, SUM_RTOL, SUM_RTOL);
      NG_CHECK(h >= 0.0 && h <= h_max + SUM_RTOL);
    }
  }
}

/* ---- Fisher ------------------------------------------------------------------------ */

/* The documented square-root rows of M(p), written out here: Uref (n x n). */
static void ref_factor(const ng_dist_t *dist, const double *p, double *Uref) {
  size_t n = ng_dist_n_params(dist), d = dist->dim;
  for (size_t i = 0; i < n * n; i++) Uref[i] = 0.0;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    for (size_t i = 0; i < d; i++) {
      Uref[i * n + i] = 1.0 / exp(p[d + i]);
      Uref[(d + i) * n + d + i] = sqrt(2.0);
    }
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    for (size_t i = 0; i < d; i++) /* sqrt(p (1 - p)) */
      Uref[i * n + i] = sqrt(exp(bern_logp(p[i], 1.0) + bern_logp(p[i], 0.0)));
  } else {
    /* per component, rows sqrt(pi_r) (e_r - pi) within its block */
    for (size_t c = 0, off = 0; c < n_comps(dist); off += comp_size(dist, c), c++) {
      size_t k = comp_size(dist, c);
      double lpi[MAXP];
      cat_logpi(k, p + off, lpi);
      for (size_t r = 0; r < k; r++) {
        double others = 0.0; /* 1 - pi_r without cancellation */
        for (size_t cc = 0; cc < k; cc++)
          if (cc != r) others += exp(lpi[cc]);
        for (size_t cc = 0; cc < k; cc++)
          Uref[(off + r) * n + off + cc] =
              sqrt(exp(lpi[r])) * (r == cc ? others : -exp(lpi[cc]));
      }
    }
  }
}

static void test_fisher(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 15, 0);
  for (size_t t = 0; t < N_DISTS; t++) {
    const ng_dist_t dist = DISTS[t];
    size_t n = ng_dist_n_params(&dist);
    for (int trial = 0; trial < 4; trial++) {
      int extreme = trial >= 2;
      double p[MAXP], v[MAXP], Mv[MAXP], M[MAXP * MAXP], H[MAXP * MAXP], U[MAXP * MAXP];
      double S[MAXP * MAXP], x[MAXP], gp[MAXP], gm[MAXP], hv[MAXP];
      gen_params(&dist, &rng, extreme, p);
      for (size_t i = 0; i < n; i++) v[i] = ng_rng_uniform_range(&rng, -1.0, 1.0);
      for (size_t i = 0; i < n; i++) Mv[i] = NAN;
      NG_CHECK_OK(ng_dist_fisher_apply(&dist, p, v, Mv));
      /* the dense M (checked against the KL Hessian below) times v is the product */
      for (size_t i = 0; i < n * n; i++) M[i] = NAN;
      NG_CHECK_OK(ng_dist_fisher_dense(&dist, p, M, x));
      for (size_t i = 0; i < n; i++) {
        hv[i] = 0.0;
        for (size_t j = 0; j < n; j++) hv[i] += M[i * n + j] * v[j];
      }
      check_vec("fisher dense M v vs apply", &dist, n, hv, Mv, SUM_RTOL, 1e-300);

      /* M = Hessian of KL(p || q) wrt q at q = p: central differences of the gradient */
      for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < n; i++) x[i] = p[i];
        x[j] = p[j] + FD_STEP;
        NG_CHECK_OK(ng_dist_kl_grad_q(&dist, p, x, gp));
        x[j] = p[j] - FD_STEP;
        NG_CHECK_OK(ng_dist_kl_grad_q(&dist, p, x, gm));
        for (size_t i = 0; i < n; i++) H[i * n + j] = (gp[i] - gm[i]) / (2.0 * FD_STEP);
      }
      check_vec("fisher vs KL hessian (FD)", &dist, n * n, M, H, FD_RTOL, 1.0);
      for (size_t i = 0; i < n; i++) {
        x[i] = p[i] + FD_STEP * v[i];
        hv[i] = p[i] - FD_STEP * v[i];
      }
      NG_CHECK_OK(ng_dist_kl_grad_q(&dist, p, x, gp));
      NG_CHECK_OK(ng_dist_kl_grad_q(&dist, p, hv, gm));
      for (size_t i = 0; i < n; i++) hv[i] = (gp[i] - gm[i]) / (2.0 * FD_STEP);
      check_vec("fisher apply vs KL hessian-vector (FD)", &dist, n, Mv, hv, FD_RTOL, 1.0);

      /* sum_r u_r u_r^T = M, and u has the documented rows */
      for (size_t i = 0; i < n * n; i++) U[i] = NAN;
      NG_CHECK_OK(ng_dist_fisher_factor(&dist, p, U));
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
          double s = 0.0;
          for (size_t r = 0; r < n; r++) s += U[r * n + i] * U[r * n + j];
          S[i * n + j] = s;
        }
      check_vec("fisher factor U^T U vs M", &dist, n * n, S, M, SUM_RTOL, 1e-300);
      double Uref[MAXP * MAXP];
      ref_factor(&dist, p, Uref);
      check_vec("fisher factor rows", &dist, n * n, U, Uref, SUM_RTOL, 1e-300);

      /* M v = E_{a~p}[g (g . v)], g = grad log p(a): exactly, over every outcome, for the
       * discrete kinds ... */
      if (dist.kind != NG_DIST_GAUSSIAN) {
        double ex[MAXP] = {0}, g[MAXP], a[MAXP];
        for (size_t o = 0; o < n_outcomes(&dist); o++) {
          outcome(&dist, o, a);
          double gv = 0.0, w = exp(disc_logp(&dist, p, a));
          NG_CHECK_OK(ng_dist_logp_grad(&dist, p, a, g));
          for (size_t i = 0; i < n; i++) gv += g[i] * v[i];
          for (size_t i = 0; i < n; i++) ex[i] += w * g[i] * gv;
        }
        check_vec("fisher vs exact E[g g^T] v", &dist, n, Mv, ex, SUM_RTOL, 1e-300);
      }
      /* ... and by Monte Carlo for every kind */
      double s1[MAXP] = {0}, s2[MAXP] = {0}, a[MAXP], g[MAXP];
      for (int s = 0; s < MC_N; s++) {
        NG_CHECK(ng_dist_sample(&dist, p, &rng, a) == NG_OK);
        NG_CHECK(ng_dist_logp_grad(&dist, p, a, g) == NG_OK);
        double gv = 0.0;
        for (size_t i = 0; i < n; i++) gv += g[i] * v[i];
        for (size_t i = 0; i < n; i++) {
          s1[i] += g[i] * gv;
          s2[i] += g[i] * gv * g[i] * gv;
        }
      }
      for (size_t i = 0; i < n; i++) {
        double m = s1[i] / MC_N, var = s2[i] / MC_N - m * m;
        check_mc("fisher vs MC E[g g^T] v", &dist, m, Mv[i],
                 sqrt((var > 0.0 ? var : 0.0) / MC_N));
      }
    }
  }
}

/* ---- invariants --------------------------------------------------------------------- */

static void test_invariants(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 16, 0);
  for (size_t t = 0; t < N_DISTS; t++) {
    const ng_dist_t dist = DISTS[t];
    size_t n = ng_dist_n_params(&dist);
    for (int trial = 0; trial < 50; trial++) {
      double p[MAXP], q[MAXP], g[MAXP], kl = NAN;
      gen_params(&dist, &rng, trial % 2, p);
      gen_params(&dist, &rng, trial % 3 == 0, q);
      NG_CHECK_OK(ng_dist_kl(&dist, p, p, &kl));
      NG_CHECK_CLOSE(kl, 0.0, 0.0, ZERO_ATOL);
      for (size_t i = 0; i < n; i++) g[i] = NAN;
      NG_CHECK_OK(ng_dist_kl_grad_q(&dist, p, p, g));
      for (size_t i = 0; i < n; i++) NG_CHECK_CLOSE(g[i], 0.0, 0.0, ZERO_ATOL);
      NG_CHECK_OK(ng_dist_kl(&dist, p, q, &kl));
      NG_CHECK(kl >= 0.0);
      /* a tiny step from p: KL stays >= 0 and ~ v^T M v / 2 */
      double v[MAXP], Mv[MAXP], vMv = 0.0;
      for (size_t i = 0; i < n; i++) {
        v[i] = ng_rng_uniform_range(&rng, -1.0, 1.0);
        q[i] = p[i] + 1e-4 * v[i];
      }
      NG_CHECK_OK(ng_dist_fisher_apply(&dist, p, v, Mv));
      for (size_t i = 0; i < n; i++) vMv += v[i] * Mv[i];
      NG_CHECK_OK(ng_dist_kl(&dist, p, q, &kl));
      NG_CHECK(kl >= 0.0);
      NG_CHECK_CLOSE(kl, 0.5e-8 * vMv, 1e-3, 1e-20);
    }
  }
  /* Gaussian KL and entropy are sums over dimensions: d = 3 equals three d = 1 terms */
  ng_dist_t g3 = {.kind = NG_DIST_GAUSSIAN, .dim = 3}, g1 = {.kind = NG_DIST_GAUSSIAN, .dim = 1};
  double p[6] = {0.1, -0.7, 1.2, -0.3, 0.4, 0.9}, q[6] = {0.5, 0.2, -1.0, 0.3, -0.2, 1.1};
  double kl3, h3, sum_kl = 0.0, sum_h = 0.0;
  NG_CHECK_OK(ng_dist_kl(&g3, p, q, &kl3));
  NG_CHECK_OK(ng_dist_entropy(&g3, p, &h3));
  for (int i = 0; i < 3; i++) {
    double p1[2] = {p[i], p[3 + i]}, q1[2] = {q[i], q[3 + i]}, kl, h;
    NG_CHECK_OK(ng_dist_kl(&g1, p1, q1, &kl));
    NG_CHECK_OK(ng_dist_entropy(&g1, p1, &h));
    sum_kl += kl;
    sum_h += h;
  }
  NG_CHECK_CLOSE(kl3, sum_kl, SUM_RTOL, 0.0);
  NG_CHECK_CLOSE(h3, sum_h, SUM_RTOL, 0.0);

  /* probabilities that underflow to 0 keep entropy, its gradient and KL finite */
  ng_dist_t c3 = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  double l[3] = {800.0, -800.0, 0.0}, lq[3] = {1.0, 2.0, 3.0}, h, kl, dh[3], a = 0.0, lp;
  NG_CHECK_OK(ng_dist_entropy(&c3, l, &h));
  NG_CHECK_CLOSE(h, 0.0, 0.0, ZERO_ATOL);
  NG_CHECK_OK(ng_dist_entropy_grad(&c3, l, dh));
  for (int i = 0; i < 3; i++) NG_CHECK_CLOSE(dh[i], 0.0, 0.0, ZERO_ATOL);
  NG_CHECK_OK(ng_dist_kl(&c3, l, lq, &kl));
  NG_CHECK_CLOSE(kl, 2.0 + log(exp(-2.0) + exp(-1.0) + 1.0), SUM_RTOL, 0.0);
  NG_CHECK_OK(ng_dist_logp(&c3, l, &a, &lp));
  NG_CHECK_CLOSE(lp, 0.0, 0.0, ZERO_ATOL);

  /* one category: certain, zero entropy and Fisher */
  ng_dist_t c1 = {.kind = NG_DIST_CATEGORICAL, .dim = 1};
  double l1 = 3.7, one = 1.0, out = NAN, u = NAN;
  NG_CHECK_OK(ng_dist_logp(&c1, &l1, &a, &lp));
  NG_CHECK_CLOSE(lp, 0.0, 0.0, ZERO_ATOL);
  NG_CHECK_OK(ng_dist_entropy(&c1, &l1, &h));
  NG_CHECK_CLOSE(h, 0.0, 0.0, ZERO_ATOL);
  NG_CHECK_OK(ng_dist_fisher_apply(&c1, &l1, &one, &out));
  NG_CHECK_CLOSE(out, 0.0, 0.0, ZERO_ATOL);
  NG_CHECK_OK(ng_dist_fisher_factor(&c1, &l1, &u));
  NG_CHECK_CLOSE(u, 0.0, 0.0, ZERO_ATOL);

  /* Bernoullis whose probabilities round to 1 and 0 (logits +-800, next to a fair one):
   * entropy log 2 from the fair one alone, finite gradients, exact log-probs, KL from the
   * closed form, no curvature where the outcome is certain, and samples that obey */
  const ng_dist_t b3 = {.kind = NG_DIST_MULTI_BINARY, .dim = 3};
  double lb[3] = {800.0, -800.0, 0.0}, lbq[3] = {1.0, 2.0, 3.0}, db[3], ab[3], vb[3] = {1, 1, 1};
  NG_CHECK_OK(ng_dist_entropy(&b3, lb, &h));
  NG_CHECK_CLOSE(h, log(2.0), SUM_RTOL, 0.0);
  NG_CHECK_OK(ng_dist_entropy_grad(&b3, lb, db));
  for (int i = 0; i < 3; i++) NG_CHECK_CLOSE(db[i], 0.0, 0.0, ZERO_ATOL);
  double a110[3] = {1.0, 0.0, 1.0}, a000[3] = {0.0, 0.0, 0.0};
  NG_CHECK_OK(ng_dist_logp(&b3, lb, a110, &lp));
  NG_CHECK_CLOSE(lp, -log(2.0), SUM_RTOL, 0.0);
  NG_CHECK_OK(ng_dist_logp(&b3, lb, a000, &lp));
  NG_CHECK_CLOSE(lp, -800.0 - log(2.0), SUM_RTOL, 0.0);
  NG_CHECK_OK(ng_dist_logp_grad(&b3, lb, a000, db));
  NG_CHECK(db[0] == -1.0 && db[1] == 0.0 && db[2] == -0.5);
  NG_CHECK_OK(ng_dist_kl(&b3, lb, lbq, &kl));
  NG_CHECK_CLOSE(kl, log1p(exp(-1.0)) + log1p(exp(2.0)) +
                         0.5 * (log1p(exp(-3.0)) + log1p(exp(3.0))) - log(2.0),
                 SUM_RTOL, 0.0);
  NG_CHECK_OK(ng_dist_fisher_apply(&b3, lb, vb, db));
  NG_CHECK(db[0] == 0.0 && db[1] == 0.0 && db[2] == 0.25);
  /* near-certain Bernoulli gradients keep their relative accuracy: d/dl log p(1) = 1 - p
   * and KL's q - p (probabilities) with both near 1 */
  const ng_dist_t b1 = {.kind = NG_DIST_MULTI_BINARY, .dim = 1};
  double l40 = 40.0, l41 = 41.0, one1 = 1.0, gb;
  NG_CHECK_OK(ng_dist_logp_grad(&b1, &l40, &one1, &gb));
  NG_CHECK_CLOSE(gb, exp(-40.0) / (1.0 + exp(-40.0)), SUM_RTOL, 0.0);
  NG_CHECK_OK(ng_dist_kl_grad_q(&b1, &l40, &l41, &gb));
  NG_CHECK_CLOSE(gb, exp(-40.0) / (1.0 + exp(-40.0)) - exp(-41.0) / (1.0 + exp(-41.0)),
                 SUM_RTOL, 0.0);
  for (int s = 0; s < 100; s++) {
    NG_CHECK_OK(ng_dist_sample(&b3, lb, &rng, ab));
    NG_CHECK(ab[0] == 1.0 && ab[1] == 0.0 && (ab[2] == 0.0 || ab[2] == 1.0));
  }
}

static void test_sampling_moments(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 17, 0);
  for (int di = 0; di < 3; di++) {
    ng_dist_t dist = {.kind = NG_DIST_GAUSSIAN, .dim = GAUSS_DIMS[di]};
    size_t d = dist.dim;
    double p[MAXP], a[MAXP], s1[MAXP] = {0}, s2[MAXP] = {0};
    gen_params(&dist, &rng, 1, p);
    for (int s = 0; s < MC_N; s++) {
      NG_CHECK(ng_dist_sample(&dist, p, &rng, a) == NG_OK);
      for (size_t i = 0; i < d; i++) {
        s1[i] += a[i];
        s2[i] += a[i] * a[i];
      }
    }
    for (size_t i = 0; i < d; i++) {
      double sd = exp(p[d + i]), m = s1[i] / MC_N;
      /* variance about the true mean: its standard error is sd^2 sqrt(2 / N) */
      double var = s2[i] / MC_N - 2.0 * m * p[i] + p[i] * p[i];
      check_mc("gaussian sample mean", &dist, m, p[i], sd / sqrt((double)MC_N));
      check_mc("gaussian sample variance", &dist, var, sd * sd,
               sd * sd * sqrt(2.0 / MC_N));
    }
  }
  for (int di = 0; di < 3; di++) {
    ng_dist_t dist = {.kind = NG_DIST_CATEGORICAL, .dim = CAT_DIMS[di]};
    size_t k = dist.dim;
    for (int trial = 0; trial < 2; trial++) {
      double p[MAXP], lpi[MAXP], count[MAXP] = {0}, a;
      gen_params(&dist, &rng, trial, p);
      cat_logpi(k, p, lpi);
      int valid = 1;
      for (int s = 0; s < MC_N; s++) {
        NG_CHECK(ng_dist_sample(&dist, p, &rng, &a) == NG_OK);
        if (!(a >= 0.0 && a < (double)k && a == floor(a))) {
          valid = 0;
          continue;
        }
        count[(size_t)a] += 1.0;
      }
      NG_CHECK(valid);
      for (size_t i = 0; i < k; i++) {
        double pi = exp(lpi[i]);
        check_mc("categorical frequency", &dist, count[i] / MC_N, pi,
                 sqrt(pi * (1.0 - pi) / MC_N));
      }
    }
  }
  /* MultiDiscrete and MultiBinary: the frequency of every joint outcome (so independence
   * too) within MC_Z standard errors, and all of them at once by Pearson's X^2 over the
   * cells expected >= 5 times (the rest pooled, when that pool is >= 5 too) against the
   * chi-square quantile MC_Z standard deviations out (Wilson-Hilferty). Seeds are fixed:
   * neither can flake. */
  for (size_t t = 0; t < N_DISTS; t++) {
    const ng_dist_t dist = DISTS[t];
    if (dist.kind != NG_DIST_MULTI_DISCRETE && dist.kind != NG_DIST_MULTI_BINARY) continue;
    size_t no = n_outcomes(&dist);
    for (int trial = 0; trial < 2; trial++) {
      double p[MAXP], a[MAXP], count[MAXO] = {0}, x2 = 0.0, e_pool = 0.0, o_pool = 0.0;
      size_t cells = 0;
      gen_params(&dist, &rng, trial, p);
      int valid = 1;
      for (int s = 0; s < MC_N; s++) {
        NG_CHECK(ng_dist_sample(&dist, p, &rng, a) == NG_OK);
        long o = outcome_index(&dist, a);
        if (o < 0) {
          valid = 0;
          continue;
        }
        count[o] += 1.0;
      }
      NG_CHECK(valid);
      for (size_t o = 0; o < no; o++) {
        outcome(&dist, o, a);
        double pi = exp(disc_logp(&dist, p, a)), se = sqrt(pi * (1.0 - pi) / MC_N);
        check_mc("joint frequency", &dist, count[o] / MC_N, pi, se);
        double e = pi * MC_N;
        if (e >= 5.0) {
          x2 += (count[o] - e) * (count[o] - e) / e;
          cells++;
        } else {
          e_pool += e;
          o_pool += count[o];
        }
      }
      if (e_pool >= 5.0) {
        x2 += (o_pool - e_pool) * (o_pool - e_pool) / e_pool;
        cells++;
      }
      if (cells >= 2) {
        double dof = (double)(cells - 1), c = 2.0 / (9.0 * dof);
        double bound = dof * pow(1.0 - c + MC_Z * sqrt(c), 3.0);
        NG_CHECK(x2 <= bound);
        if (!(x2 <= bound))
          fprintf(stderr, "  kind %d dim %zu: joint X^2 %.4g > %.4g (%zu cells)\n",
                  (int)dist.kind, dist.dim, x2, bound, cells);
      }
    }
  }
}

/* Everything dist.h computes for one p, q, action a and vector v. */
typedef struct {
  double lp, h, kl, glp[MAXP], gh[MAXP], gkl[MAXP], Mv[MAXP], U[MAXP * MAXP];
} all_t;

static void eval_all(const ng_dist_t *dist, const double *p, const double *q, const double *a,
                     const double *v, all_t *r) {
  NG_CHECK_OK(ng_dist_logp(dist, p, a, &r->lp));
  NG_CHECK_OK(ng_dist_entropy(dist, p, &r->h));
  NG_CHECK_OK(ng_dist_kl(dist, p, q, &r->kl));
  NG_CHECK_OK(ng_dist_logp_grad(dist, p, a, r->glp));
  NG_CHECK_OK(ng_dist_entropy_grad(dist, p, r->gh));
  NG_CHECK_OK(ng_dist_kl_grad_q(dist, p, q, r->gkl));
  NG_CHECK_OK(ng_dist_fisher_apply(dist, p, v, r->Mv));
  NG_CHECK_OK(ng_dist_fisher_factor(dist, p, r->U));
}

/* A MultiDiscrete is its categoricals side by side: log-prob, entropy and KL are their
 * sums; gradients, M v and the factor are theirs block by block (bit for bit: the same code
 * runs on each block), zero across blocks; a one-category component adds nothing. A
 * MultiBinary's Bernoulli with logit l is the categorical with logits (0, l). */
static void test_components(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 19, 0);
  const ng_dist_t md = {.kind = NG_DIST_MULTI_DISCRETE, .dim = 4, .nvec = {3, 1, 5, 2}};
  const ng_dist_t mb = {.kind = NG_DIST_MULTI_BINARY, .dim = 3},
                  cat2 = {.kind = NG_DIST_CATEGORICAL, .dim = 2};
  NG_CHECK(ng_dist_n_params(&md) == 11 && ng_dist_action_size(&md) == 4);
  static all_t whole, part; /* static: ~2 KB each */
  for (int trial = 0; trial < 40; trial++) {
    const ng_dist_t *dist = trial < 20 ? &md : &mb;
    size_t n = ng_dist_n_params(dist);
    double p[MAXP], q[MAXP], v[MAXP], a[MAXP], lp_sum = 0.0, h_sum = 0.0, kl_sum = 0.0;
    gen_params(dist, &rng, trial % 2, p);
    gen_params(dist, &rng, trial % 3 == 0, q);
    for (size_t i = 0; i < n; i++) v[i] = ng_rng_uniform_range(&rng, -1.0, 1.0);
    random_outcome(dist, &rng, a);
    eval_all(dist, p, q, a, v, &whole);
    if (dist == &md) {
      int same = 1, zero_across = 1;
      for (size_t c = 0, off = 0; c < md.dim; off += md.nvec[c], c++) {
        const ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = md.nvec[c]};
        size_t k = cat.dim;
        eval_all(&cat, p + off, q + off, &a[c], v + off, &part);
        lp_sum += part.lp;
        h_sum += part.h;
        kl_sum += part.kl;
        same &= memcmp(part.glp, whole.glp + off, k * sizeof(double)) == 0 &&
                memcmp(part.gh, whole.gh + off, k * sizeof(double)) == 0 &&
                memcmp(part.gkl, whole.gkl + off, k * sizeof(double)) == 0 &&
                memcmp(part.Mv, whole.Mv + off, k * sizeof(double)) == 0;
        for (size_t r = 0; r < k; r++) {
          same &= memcmp(part.U + r * k, whole.U + (off + r) * n + off, k * sizeof(double)) == 0;
          for (size_t col = 0; col < n; col++)
            if (col < off || col >= off + k) zero_across &= whole.U[(off + r) * n + col] == 0.0;
        }
      }
      NG_CHECK(same && zero_across);
      /* the one-category component (logit 3) is certain: zero gradients, no curvature */
      NG_CHECK(whole.glp[3] == 0.0 && whole.gh[3] == 0.0 && whole.gkl[3] == 0.0 &&
               whole.Mv[3] == 0.0);
    } else {
      for (size_t i = 0; i < n; i++) {
        /* the logit is the categorical's second: its gradient entries and M's [1][1], to
         * SUM_RTOL absolute (where both probabilities are near 1 the categorical's pi_q -
         * pi_p rounds to 0; the Bernoulli's (1 - p) - (1 - q) keeps the difference) */
        double pc[2] = {0.0, p[i]}, qc[2] = {0.0, q[i]}, e1[2] = {0.0, 1.0};
        eval_all(&cat2, pc, qc, &a[i], e1, &part);
        lp_sum += part.lp;
        h_sum += part.h;
        kl_sum += part.kl;
        NG_CHECK_CLOSE(whole.glp[i], part.glp[1], SUM_RTOL, SUM_RTOL);
        NG_CHECK_CLOSE(whole.gh[i], part.gh[1], SUM_RTOL, SUM_RTOL);
        NG_CHECK_CLOSE(whole.gkl[i], part.gkl[1], SUM_RTOL, SUM_RTOL);
        NG_CHECK_CLOSE(whole.Mv[i], part.Mv[1] * v[i], SUM_RTOL, SUM_RTOL);
      }
    }
    NG_CHECK_CLOSE(whole.lp, lp_sum, SUM_RTOL, SUM_RTOL);
    NG_CHECK_CLOSE(whole.h, h_sum, SUM_RTOL, SUM_RTOL);
    NG_CHECK_CLOSE(whole.kl, kl_sum, SUM_RTOL, SUM_RTOL);
  }
}

static void test_mode(void) {
  /* MultiDiscrete: per component, the first of the tied largest */
  const ng_dist_t md = {.kind = NG_DIST_MULTI_DISCRETE, .dim = 3, .nvec = {3, 2, 4}};
  double lmd[9] = {1.0, 3.0, 3.0, -1.0, -1.0, 0.0, 5.0, -2.0, 5.0}, amd[3] = {NAN, NAN, NAN};
  NG_CHECK_OK(ng_dist_mode(&md, lmd, amd));
  NG_CHECK(amd[0] == 1.0 && amd[1] == 0.0 && amd[2] == 1.0);
  /* MultiBinary: 1 where p > 1/2; at p = 1/2 exactly (logit +-0) 0, as SB3's
   * torch.round(probs) rounds half to even; the tiniest positive logit is already 1 */
  const ng_dist_t mb = {.kind = NG_DIST_MULTI_BINARY, .dim = 6};
  double lmb[6] = {2.0, -0.5, 0.0, -0.0, 1e-300, -1e-300}, amb[6];
  NG_CHECK_OK(ng_dist_mode(&mb, lmb, amb));
  static const double WANT_MB[6] = {1.0, 0.0, 0.0, 0.0, 1.0, 0.0};
  NG_CHECK(memcmp(amb, WANT_MB, sizeof amb) == 0);

  ng_dist_t g2 = {.kind = NG_DIST_GAUSSIAN, .dim = 2}, c4 = {.kind = NG_DIST_CATEGORICAL, .dim = 4};
  double p[4] = {0.3, -1.5, 2.0, -3.0}, a[2] = {NAN, NAN};
  NG_CHECK_OK(ng_dist_mode(&g2, p, a));
  NG_CHECK(a[0] == 0.3 && a[1] == -1.5);
  double l[4] = {1.0, 3.0, 3.0, -2.0}, m = NAN;
  NG_CHECK_OK(ng_dist_mode(&c4, l, &m));
  NG_CHECK(m == 1.0); /* first of the tied largest */
  double l2[4] = {-1.0, -5.0, -3.0, 4.0};
  NG_CHECK_OK(ng_dist_mode(&c4, l2, &m));
  NG_CHECK(m == 3.0);
}

/* ---- statuses --------------------------------------------------------------------- */

/* MultiDiscrete descriptors: the constructor, counts past dim ignored, softmax blocks. */
static void test_descriptors(void) {
  const size_t counts[3] = {4, 1, 6};
  ng_dist_t d;
  memset(&d, 0xff, sizeof d);
  NG_CHECK_OK(ng_dist_multi_discrete(&d, 3, counts));
  NG_CHECK(d.kind == NG_DIST_MULTI_DISCRETE && d.dim == 3);
  NG_CHECK(d.nvec[0] == 4 && d.nvec[1] == 1 && d.nvec[2] == 6);
  int rest_zero = 1;
  for (size_t i = 3; i < NG_DIST_MAX_COMPONENTS; i++) rest_zero &= d.nvec[i] == 0;
  NG_CHECK(rest_zero);
  NG_CHECK(ng_dist_n_params(&d) == 11 && ng_dist_action_size(&d) == 3);
  NG_CHECK(ng_dist_n_blocks(&d) == 3);
  NG_CHECK(ng_dist_block_size(&d, 0) == 4 && ng_dist_block_size(&d, 1) == 1 &&
           ng_dist_block_size(&d, 2) == 6 && ng_dist_block_size(&d, 3) == 0);
  d.nvec[5] = 9; /* past dim: not read */
  NG_CHECK(ng_dist_n_params(&d) == 11);

  /* the constructor refuses, leaving *out alone */
  size_t big[NG_DIST_MAX_COMPONENTS + 1], zero_count[2] = {3, 0};
  for (size_t i = 0; i <= NG_DIST_MAX_COMPONENTS; i++) big[i] = 2;
  ng_dist_t keep = d;
  NG_CHECK_STATUS(ng_dist_multi_discrete(NULL, 3, counts), NG_EINVAL);
  NG_CHECK_STATUS(ng_dist_multi_discrete(&d, 3, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_dist_multi_discrete(&d, 0, counts), NG_EINVAL);
  NG_CHECK_STATUS(ng_dist_multi_discrete(&d, NG_DIST_MAX_COMPONENTS + 1, big), NG_EINVAL);
  NG_CHECK_STATUS(ng_dist_multi_discrete(&d, 2, zero_count), NG_EINVAL);
  if (SIZE_MAX > UINT32_MAX) {
    size_t huge[1] = {(size_t)UINT32_MAX + 1};
    NG_CHECK_STATUS(ng_dist_multi_discrete(&d, 1, huge), NG_EINVAL);
  }
  NG_CHECK(memcmp(&d, &keep, sizeof d) == 0);
  NG_CHECK_OK(ng_dist_multi_discrete(&d, NG_DIST_MAX_COMPONENTS, big));
  NG_CHECK(ng_dist_n_params(&d) == 2 * NG_DIST_MAX_COMPONENTS);

  /* blocks of the other kinds */
  const ng_dist_t c5 = {.kind = NG_DIST_CATEGORICAL, .dim = 5},
                  g2 = {.kind = NG_DIST_GAUSSIAN, .dim = 2};
  const ng_dist_t b4 = {.kind = NG_DIST_MULTI_BINARY, .dim = 4};
  NG_CHECK(ng_dist_n_blocks(&c5) == 1 && ng_dist_block_size(&c5, 0) == 5 &&
           ng_dist_block_size(&c5, 1) == 0);
  NG_CHECK(ng_dist_n_blocks(&g2) == 0 && ng_dist_block_size(&g2, 0) == 0);
  NG_CHECK(ng_dist_n_blocks(&b4) == 0 && ng_dist_block_size(&b4, 0) == 0);
  NG_CHECK(ng_dist_n_params(&b4) == 4 && ng_dist_action_size(&b4) == 4);
  NG_CHECK(ng_dist_n_blocks(NULL) == 0 && ng_dist_block_size(NULL, 0) == 0);
}

static void test_bad_inputs(void) {
  ng_dist_t g = {.kind = NG_DIST_GAUSSIAN, .dim = 2}, c = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  ng_dist_t md = {.kind = NG_DIST_MULTI_DISCRETE, .dim = 2, .nvec = {2, 2}},
            mb = {.kind = NG_DIST_MULTI_BINARY, .dim = 2};
  ng_dist_t zero = {.kind = NG_DIST_GAUSSIAN, .dim = 0},
            czero = {.kind = NG_DIST_CATEGORICAL, .dim = 0};
  ng_dist_t mdzero = {.kind = NG_DIST_MULTI_DISCRETE, .dim = 0, .nvec = {2}},
            mbzero = {.kind = NG_DIST_MULTI_BINARY, .dim = 0};
  ng_dist_t mdcount0 = {.kind = NG_DIST_MULTI_DISCRETE, .dim = 3, .nvec = {2, 0, 2}};
  ng_dist_t mdmany = {
      .kind = NG_DIST_MULTI_DISCRETE, .dim = NG_DIST_MAX_COMPONENTS + 1, .nvec = {2, 2}};
  ng_dist_t bad = {.kind = (ng_dist_kind_t)7, .dim = 2};
  ng_rng_t rng;
  ng_rng_seed(&rng, 18, 0);
  double p[4] = {0.1, 0.2, -0.3, 0.4}, q[4] = {0.0, 0.5, 0.1, -0.2}, v[4] = {1, 2, 3, 4};
  double out[16], work[4], r, a[2] = {0.0, 1.0};

  NG_CHECK(ng_dist_n_params(&g) == 4 && ng_dist_action_size(&g) == 2);
  NG_CHECK(ng_dist_n_params(&c) == 3 && ng_dist_action_size(&c) == 1);
  NG_CHECK(ng_dist_n_params(NULL) == 0 && ng_dist_action_size(NULL) == 0);
  NG_CHECK(ng_dist_n_params(&zero) == 0 && ng_dist_n_params(&czero) == 0);
  NG_CHECK(ng_dist_n_params(&bad) == 0 && ng_dist_action_size(&bad) == 0);
  NG_CHECK(ng_dist_n_params(&md) == 4 && ng_dist_action_size(&md) == 2);
  NG_CHECK(ng_dist_n_params(&mb) == 2 && ng_dist_action_size(&mb) == 2);

  const ng_dist_t *descs[] = {NULL, &zero, &czero, &mdzero, &mbzero, &mdcount0, &mdmany, &bad};
  for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
    NG_CHECK(ng_dist_n_params(descs[i]) == 0 && ng_dist_action_size(descs[i]) == 0);
    NG_CHECK(ng_dist_n_blocks(descs[i]) == 0);
    const ng_dist_t *dd = descs[i];
    NG_CHECK_STATUS(ng_dist_sample(dd, p, &rng, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_mode(dd, p, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp(dd, p, a, &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp_grad(dd, p, a, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_entropy(dd, p, &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_entropy_grad(dd, p, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_kl(dd, p, q, &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_kl_grad_q(dd, p, q, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_apply(dd, p, v, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_factor(dd, p, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_dense(dd, p, out, work), NG_EINVAL);
  }

  const ng_dist_t *goods[] = {&g, &c, &md, &mb}; /* a = {0, 1} is an action of each */
  for (int i = 0; i < 4; i++) {
    const ng_dist_t *dd = goods[i];
    NG_CHECK_STATUS(ng_dist_sample(dd, NULL, &rng, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_sample(dd, p, NULL, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_sample(dd, p, &rng, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_mode(dd, NULL, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_mode(dd, p, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp(dd, NULL, a, &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp(dd, p, NULL, &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp(dd, p, a, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp_grad(dd, NULL, a, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp_grad(dd, p, NULL, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp_grad(dd, p, a, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_entropy(dd, NULL, &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_entropy(dd, p, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_entropy_grad(dd, NULL, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_entropy_grad(dd, p, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_kl(dd, NULL, q, &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_kl(dd, p, NULL, &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_kl(dd, p, q, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_kl_grad_q(dd, NULL, q, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_kl_grad_q(dd, p, NULL, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_kl_grad_q(dd, p, q, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_apply(dd, NULL, v, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_apply(dd, p, NULL, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_apply(dd, p, v, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_factor(dd, NULL, out), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_factor(dd, p, NULL), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_dense(dd, NULL, out, work), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_dense(dd, p, NULL, work), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_fisher_dense(dd, p, out, NULL), NG_EINVAL);

    /* a non-finite input anywhere: NaN or Inf in each parameter slot, in q, in v */
    size_t n = ng_dist_n_params(dd);
    for (size_t j = 0; j < n; j++) {
      for (int w = 0; w < 2; w++) {
        double bp[4], bv[4];
        for (size_t t = 0; t < 4; t++) {
          bp[t] = p[t];
          bv[t] = v[t];
        }
        bp[j] = w ? INFINITY : NAN;
        bv[j] = w ? -INFINITY : NAN;
        NG_CHECK_STATUS(ng_dist_sample(dd, bp, &rng, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_mode(dd, bp, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_logp(dd, bp, a, &r), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_logp_grad(dd, bp, a, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_entropy(dd, bp, &r), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_entropy_grad(dd, bp, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_kl(dd, bp, q, &r), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_kl(dd, p, bp, &r), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_kl_grad_q(dd, bp, q, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_kl_grad_q(dd, p, bp, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_fisher_apply(dd, bp, v, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_fisher_apply(dd, p, bv, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_fisher_factor(dd, bp, out), NG_ENONFINITE);
        NG_CHECK_STATUS(ng_dist_fisher_dense(dd, bp, out, work), NG_ENONFINITE);
      }
    }
  }
  /* non-finite actions */
  double ga[2] = {0.0, NAN}, ca = INFINITY;
  NG_CHECK_STATUS(ng_dist_logp(&g, p, ga, &r), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_logp_grad(&g, p, ga, out), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_logp(&c, p, &ca, &r), NG_ENONFINITE);
  ca = NAN;
  NG_CHECK_STATUS(ng_dist_logp_grad(&c, p, &ca, out), NG_ENONFINITE);

  /* categorical actions that are not integers in [0, k) */
  static const double BAD_ACTIONS[] = {-1.0, 3.0, 1.5, -0.5, 2.999, 1e300};
  for (size_t i = 0; i < sizeof BAD_ACTIONS / sizeof BAD_ACTIONS[0]; i++) {
    NG_CHECK_STATUS(ng_dist_logp(&c, p, &BAD_ACTIONS[i], &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp_grad(&c, p, &BAD_ACTIONS[i], out), NG_EINVAL);
  }
  double ok_a = 2.0;
  NG_CHECK_OK(ng_dist_logp(&c, p, &ok_a, &r));

  /* MultiDiscrete actions with an entry that is not an integer in its component's range,
   * MultiBinary actions with an entry that is not exactly 0 or 1; -0 is 0 */
  static const double BAD_MD[][2] = {{0.0, 2.0}, {-1.0, 0.0}, {0.5, 0.0}, {1.0, 1e300},
                                     {1.0, -0.5}, {2.0, 1.0}};
  static const double BAD_MB[][2] = {{0.5, 0.0}, {0.0, 2.0}, {-1.0, 1.0}, {1.0, 1e-300},
                                     {0.999, 1.0}};
  for (size_t i = 0; i < sizeof BAD_MD / sizeof BAD_MD[0]; i++) {
    NG_CHECK_STATUS(ng_dist_logp(&md, p, BAD_MD[i], &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp_grad(&md, p, BAD_MD[i], out), NG_EINVAL);
  }
  for (size_t i = 0; i < sizeof BAD_MB / sizeof BAD_MB[0]; i++) {
    NG_CHECK_STATUS(ng_dist_logp(&mb, p, BAD_MB[i], &r), NG_EINVAL);
    NG_CHECK_STATUS(ng_dist_logp_grad(&mb, p, BAD_MB[i], out), NG_EINVAL);
  }
  double neg0[2] = {-0.0, 1.0}, md_ok[2] = {1.0, 1.0};
  NG_CHECK_OK(ng_dist_logp(&mb, p, neg0, &r));
  NG_CHECK_OK(ng_dist_logp(&md, p, md_ok, &r));
  double md_nan[2] = {0.0, NAN}, mb_inf[2] = {INFINITY, 0.0};
  NG_CHECK_STATUS(ng_dist_logp(&md, p, md_nan, &r), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_logp_grad(&md, p, md_nan, out), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_logp(&mb, p, mb_inf, &r), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_logp_grad(&mb, p, mb_inf, out), NG_ENONFINITE);

  /* finite inputs whose results overflow */
  double tiny[4] = {0.0, 0.0, -400.0, -400.0}, huge[4] = {0.0, 0.0, 400.0, 400.0};
  double far[2] = {1.0, 1.0};
  NG_CHECK_STATUS(ng_dist_logp(&g, tiny, far, &r), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_logp_grad(&g, tiny, far, out), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_kl(&g, huge, tiny, &r), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_kl_grad_q(&g, huge, tiny, out), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_dist_fisher_apply(&g, tiny, v, out), NG_ENONFINITE);
  double vast[4] = {0.0, 0.0, 800.0, 800.0}; /* sigma = exp(800) overflows */
  NG_CHECK_STATUS(ng_dist_sample(&g, vast, &rng, out), NG_ENONFINITE);
  double wide[3] = {1e308, -1e308, 0.0}, second = 1.0;
  NG_CHECK_STATUS(ng_dist_logp(&c, wide, &second, &r), NG_ENONFINITE);
  double wide_md[4] = {1e308, -1e308, 0.0, 0.0}, wide_mb[2] = {-1e308, -1e308};
  double first_low[2] = {1.0, 0.0}; /* log pi = -1e308 - 1e308 */
  NG_CHECK_STATUS(ng_dist_logp(&md, wide_md, first_low, &r), NG_ENONFINITE);
  double ones[2] = {1.0, 1.0};
  NG_CHECK_STATUS(ng_dist_logp(&mb, wide_mb, ones, &r), NG_ENONFINITE);
}

int main(void) {
  NG_TEST_RUN(test_gradients_fd);
  NG_TEST_RUN(test_gaussian_quadrature_1d);
  NG_TEST_RUN(test_gaussian_monte_carlo);
  NG_TEST_RUN(test_discrete_sums);
  NG_TEST_RUN(test_fisher);
  NG_TEST_RUN(test_invariants);
  NG_TEST_RUN(test_sampling_moments);
  NG_TEST_RUN(test_components);
  NG_TEST_RUN(test_mode);
  NG_TEST_RUN(test_descriptors);
  NG_TEST_RUN(test_bad_inputs);
  NG_TEST_END();
}
