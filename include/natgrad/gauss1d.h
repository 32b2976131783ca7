/* natgrad gauss1d: the seed blog post's worked example as library calls, so that every front
 * end (`natgrad demo gaussian`, the Python package) computes the same numbers.
 *
 * One Gaussian N(mu, sigma^2) on the real line, in theta = (mu, log sigma): the parameter row
 * of dist.h's NG_DIST_GAUSSIAN with dim 1. Its Fisher in theta is F(theta) = diag(1/sigma^2, 2).
 *
 * (a) How far apart two Gaussians are: the Euclidean |theta2 - theta1|, KL both ways, and the
 *     Fisher-metric estimate d^T F(theta1) d / 2 (equal to the KL when only mu moves).
 * (b) Fitting theta to data x_1..x_n by minimising the mean negative log-likelihood
 *         L(theta) = -(1/n) sum_i log N(x_i; mu, sigma^2)
 *                  = log sigma + ((xbar - mu)^2 + s^2) / (2 sigma^2) + log(2 pi) / 2,
 *     xbar the sample mean and s^2 the 1/n sample variance; the minimiser is
 *     theta* = (xbar, log s). From the same start, gradient descent theta <- theta - eta g
 *     and natural-gradient descent theta <- theta - eta F(theta)^-1 g; each counts the
 *     iterations until max(|mu - mu*|, |log sigma - log sigma*|) <= tol.
 *
 * Every function returning int returns NG_OK or a negative status; nothing prints. */
#ifndef NATGRAD_GAUSS1D_H
#define NATGRAD_GAUSS1D_H

#include <stddef.h>

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- (a) distances ------------------------------------------------------------------------ */

typedef struct {
  double euclid;      /* |d|, d = theta2 - theta1 */
  double kl_12;       /* KL(p1 || p2) */
  double kl_21;       /* KL(p2 || p1) */
  double fisher_half; /* d^T F(theta1) d / 2: the local, second-order estimate of both KLs */
} ng_gauss1d_gap_t;

/* The four measures of how far N(theta2) is from N(theta1). NG_EINVAL for NULL,
 * NG_ENONFINITE when an input or a result is not finite. */
int ng_gauss1d_compare(const double theta1[2], const double theta2[2], ng_gauss1d_gap_t *gap);

/* ---- (b) fitting -------------------------------------------------------------------------- */

/* A fitting problem. Filled by ng_gauss1d_fit_init; x is borrowed and must outlive it. */
typedef struct {
  const double *x; /* n samples */
  size_t n;
  double mean;     /* xbar */
  double var;      /* s^2, the 1/n sample variance */
  double opt[2];   /* theta* = (xbar, log s) */
  double start[2]; /* theta0 of every run */
  double tol;      /* a run has converged when ng_gauss1d_fit_error <= tol */
} ng_gauss1d_fit_t;

/* Sets up the fit of n >= 2 samples x from start (theta0). NG_EINVAL for NULL, n < 2 or a
 * tol that is not > 0; NG_ENONFINITE when start, a sample or theta* is not finite (s = 0
 * makes log s = -inf; fit->mean and fit->var are filled all the same). */
int ng_gauss1d_fit_init(ng_gauss1d_fit_t *fit, size_t n, const double *x, const double start[2],
                        double tol);

/* loss = L(theta) and g = dL/dtheta, summed sample by sample from ng_dist_logp and
 * ng_dist_logp_grad (the definition, not the closed form). NG_ENONFINITE when sigma
 * under- or overflows. */
int ng_gauss1d_nll(const ng_gauss1d_fit_t *fit, const double theta[2], double *loss,
                   double g[2]);

/* L(mu, log sigma) from the closed form through fit->mean and fit->var: O(1), for drawing
 * contours over thousands of grid points. Not finite where sigma under- or overflows. */
double ng_gauss1d_nll_closed(const ng_gauss1d_fit_t *fit, double mu, double log_sigma);

/* max(|mu - mu*|, |log sigma - log sigma*|): the distance a run must bring below tol. */
double ng_gauss1d_fit_error(const ng_gauss1d_fit_t *fit, const double theta[2]);

/* A run's iterates: theta_k and its error, k = 0 .. len-1. Start from a zeroed struct; the
 * runs below overwrite it and grow it through ng_realloc; ng_gauss1d_path_free releases it
 * (and leaves it zeroed, ready for reuse). */
typedef struct {
  double *mu, *log_sigma; /* theta_k */
  double *err;            /* ng_gauss1d_fit_error(theta_k) */
  double *iter;           /* k, as doubles: the x values of a plot */
  size_t len, cap;
} ng_gauss1d_path_t;

void ng_gauss1d_path_free(ng_gauss1d_path_t *path);

/* What *iters holds after a run that did not converge. */
#define NG_GAUSS1D_NOT_REACHED (-1L) /* cap iterations, tolerance not reached */
#define NG_GAUSS1D_UNSTABLE (-2L)    /* the run blew up (see each run) */

/* Gradient descent theta <- theta - eta g from fit->start, at most cap iterations. *iters:
 * the iterations taken to reach fit->tol, or NG_GAUSS1D_NOT_REACHED, or NG_GAUSS1D_UNSTABLE
 * as soon as the loss rises (by more than rounding, relative 1e-10) or stops being finite:
 * a stable step decreases the loss at every iteration. Records the iterates in path if
 * path != NULL. Returns NG_ENOMEM if the path cannot grow, NG_EINVAL for bad arguments;
 * instability is a result, not an error. */
int ng_gauss1d_gd(const ng_gauss1d_fit_t *fit, double eta, long cap, ng_gauss1d_path_t *path,
                  long *iters);

/* Natural-gradient descent theta <- theta - eta F(theta)^-1 g, F the closed-form Fisher at
 * the current theta (ng_dist_fisher_dense) solved by Cholesky. As ng_gauss1d_gd, but
 * NG_GAUSS1D_UNSTABLE means a step so large that sigma over- or underflowed (F singular or
 * not finite); the loss is not watched (a natural step may raise it and still converge). */
int ng_gauss1d_ngd(const ng_gauss1d_fit_t *fit, double eta, long cap, ng_gauss1d_path_t *path,
                   long *iters);

/* Gradient descent at its best: eta = 2^(-k/4), k = 0 .. NG_GAUSS1D_GD_GRID-1, searched
 * from eta = 1 down until a step does no better than the best so far (each run capped at
 * the best count, so slow small steps cost little); the fewest iterations win. If no step
 * reaches the tolerance within cap, the largest stable one is kept. *eta receives the kept
 * step, *iters its count, path (if not NULL) its iterates; if every step was unstable,
 * *eta = 0, *iters = NG_GAUSS1D_NOT_REACHED and the path is empty. Allocates a scratch
 * path for the losing runs. */
#define NG_GAUSS1D_GD_GRID 41
int ng_gauss1d_gd_tuned(const ng_gauss1d_fit_t *fit, long cap, ng_gauss1d_path_t *path,
                        double *eta, long *iters);

#ifdef __cplusplus
}
#endif
#endif
