/* natgrad demo: the seed blog post's own examples, computed with libnatgrad.
 *
 *   natgrad demo gaussian   (a) two pairs of Gaussians whose means move from -1 to 1: the
 *                           same Euclidean step, very different KL; the Fisher metric sees
 *                           it. The post's distance loop next to the correct d^T M d.
 *                           (b) fitting a Gaussian's (mu, log sigma) to data by plain
 *                           gradient descent and by natural-gradient descent; iterations to
 *                           the optimum, and both paths over the loss contours as an SVG.
 *
 * The numbers come from the library (natgrad/gauss1d.h, whose two descent loops are the
 * teaching code); this file parses flags, prints them and draws them. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "natgrad/core.h"
#include "natgrad/dist.h"
#include "natgrad/gauss1d.h"
#include "natgrad/linalg.h"
#include "natgrad/svg.h"

#define CMD "demo"

/* One-dimensional Gaussian: parameter row theta = (mu, log sigma), as dist.h lays it out. */
static const ng_dist_t gauss1 = {.kind = NG_DIST_GAUSSIAN, .dim = 1};

/* ---- usage ------------------------------------------------------------------------------ */

static void demo_usage(FILE *out) {
  fprintf(out,
          "usage: natgrad demo NAME [options]   (natgrad demo NAME --help for each)\n"
          "\n"
          "The seed blog post's own examples, computed with libnatgrad.\n"
          "\n"
          "demos:\n"
          "  gaussian   how far apart are two Gaussians? Euclidean distance in parameter\n"
          "             space vs KL divergence vs the Fisher metric; then a Gaussian fitted\n"
          "             to data by gradient descent and by natural gradient, drawn as SVG\n");
}

/* Defaults of `natgrad demo gaussian`. */
#define DEF_SEED 1
#define DEF_SAMPLES 1000
#define DEF_MU 2.0
#define DEF_SIGMA 0.2
#define DEF_START_MU (-2.0)
#define DEF_START_SIGMA 3.0
#define DEF_TOL 1e-6
#define DEF_MAX_ITER 100000
#define DEF_OUT "natgrad-demo-gaussian.svg"

#define NG_STEP 1.0 /* natural gradient's step: 1, untuned */
#define N_LEVELS 24 /* contour levels of the SVG */
#define PAIR_SMALL_SIGMA 0.3
#define PAIR_LARGE_SIGMA 3.0

static void gaussian_usage(FILE *out) {
  fprintf(out,
          "usage: natgrad demo gaussian [options]\n"
          "\n"
          "(a) Two pairs of Gaussians, each moving its mean from -1 to 1: sigma = %g and\n"
          "    sigma = %g. For each pair, in theta = (mu, log sigma): the Euclidean distance\n"
          "    |d|, the exact KL(p1||p2) and KL(p2||p1), and the Fisher-metric estimate\n"
          "    d'F d / 2 with F = diag(1/sigma^2, 2), the Gaussian's Fisher at p1. A third row\n"
          "    changes log sigma instead, where the estimate is only second-order. Then the\n"
          "    post's distance loop (sum_ij d_i d_i M_ij) against the correct d'M d on a\n"
          "    non-diagonal metric (a softmax's Fisher).\n"
          "\n"
          "(b) Data: --samples draws from N(--mu, --sigma^2) with --seed. Loss: the mean\n"
          "    negative log-likelihood L(theta), theta = (mu, log sigma); its minimiser is\n"
          "    the sample mean and the log of the 1/n sample standard deviation. From the\n"
          "    same start (--start-mu, --start-sigma):\n"
          "      gradient descent   theta <- theta - eta g, with the fixed eta that reaches\n"
          "                         the tolerance in the fewest iterations among\n"
          "                         eta = 2^(-k/4), k = 0..%d, searched from eta = 1 down\n"
          "                         until the count stops improving (GD at its best; a\n"
          "                         step whose loss ever rises counts as unstable);\n"
          "      natural gradient   theta <- theta - F^-1 g, F = diag(1/sigma^2, 2) the\n"
          "                         Fisher at the current theta, step 1 (untuned).\n"
          "    g is the mean of the per-sample gradients of -log p (libnatgrad's\n"
          "    ng_dist_logp_grad). Counts iterations until max(|mu - mu*|, |log sigma -\n"
          "    log sigma*|) <= --tol, up to --max-iter, and draws the loss contours with\n"
          "    both paths, and the distance to the optimum per iteration, into --out.\n"
          "\n"
          "options (--name VALUE or --name=VALUE):\n"
          "  --seed N          random seed of the data (default %d)\n"
          "  --samples N       number of data points, 2..10000000 (default %d)\n"
          "  --mu X            mean of the data's Gaussian (default %g)\n"
          "  --sigma X         standard deviation of the data's Gaussian, > 0 (default %g)\n"
          "  --start-mu X      starting mu of both optimisers (default %g)\n"
          "  --start-sigma X   starting sigma, > 0 (default %g)\n"
          "  --tol X           convergence tolerance, 1e-12..1 (default %g)\n"
          "  --max-iter N      iteration cap of each run (default %d)\n"
          "  --out FILE        SVG file to write (default %s)\n"
          "  -h, --help        this text\n"
          "\n"
          "Output is deterministic for a given seed. Exit status: 0 ok, 1 failure (numerics,\n"
          "I/O), 2 bad usage.\n",
          PAIR_SMALL_SIGMA, PAIR_LARGE_SIGMA, NG_GAUSS1D_GD_GRID - 1, DEF_SEED, DEF_SAMPLES, DEF_MU,
          DEF_SIGMA, DEF_START_MU, DEF_START_SIGMA, DEF_TOL, DEF_MAX_ITER, DEF_OUT);
}

/* ---- (a) distances between Gaussians ------------------------------------------------------ */

typedef struct {
  const char *name;
  double p1[2], p2[2]; /* (mu, log sigma) */
} pair_t;

static int print_pair(const pair_t *pr) {
  ng_gauss1d_gap_t gap;
  int st = ng_gauss1d_compare(pr->p1, pr->p2, &gap);
  if (st != NG_OK) return st;
  char desc[64];
  snprintf(desc, sizeof desc, "N(%g, %.3g^2) -> N(%g, %.3g^2)", pr->p1[0], exp(pr->p1[1]),
           pr->p2[0], exp(pr->p2[1]));
  printf("  %-7s %-30s %7.4f %11.4f %11.4f %11.4f\n", pr->name, desc, gap.euclid, gap.kl_12,
         gap.kl_21, gap.fisher_half);
  return NG_OK;
}

/* The post's loop, verbatim: sum_i sum_j delta[i] * delta[i] * metric[i][j]. Kept here, not
 * in the library: it is the quoted formula the demo shows to be wrong (linalg.h's
 * ng_metric_distance is the right one). */
static double post_distance_loop(size_t n, const double *metric, const double *delta) {
  double total = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) total += delta[i] * delta[i] * metric[i * n + j];
  return total;
}

static int part_a(void) {
  const pair_t pairs[3] = {
      {"narrow", {-1.0, log(PAIR_SMALL_SIGMA)}, {1.0, log(PAIR_SMALL_SIGMA)}},
      {"wide", {-1.0, log(PAIR_LARGE_SIGMA)}, {1.0, log(PAIR_LARGE_SIGMA)}},
      {"scale", {0.0, 0.0}, {0.0, 1.0}},
  };
  printf("(a) How far apart are two Gaussians?  theta = (mu, log sigma)\n\n");
  printf("  %-7s %-30s %7s %11s %11s %11s\n", "pair", "p1 -> p2", "|d|", "KL(p1||p2)",
         "KL(p2||p1)", "d'F(p1)d/2");
  for (int i = 0; i < 3; i++) {
    int st = print_pair(&pairs[i]);
    if (st != NG_OK) return st;
  }
  double ratio = (PAIR_LARGE_SIGMA * PAIR_LARGE_SIGMA) / (PAIR_SMALL_SIGMA * PAIR_SMALL_SIGMA);
  printf("\n  narrow vs wide: the same Euclidean step |d| = 2 changes the narrow Gaussian %.0fx\n"
         "  more (KL = 2/sigma^2). Parameter distance does not measure how much the\n"
         "  distribution changed; the Fisher metric d'Fd/2 does (exactly here: KL is\n"
         "  quadratic in mu). 'scale' moves log sigma by 1: there d'Fd/2 is the local,\n"
         "  second-order estimate, and KL is not symmetric.\n\n",
         ratio);

  /* The post's loop sum_ij d_i d_i M_ij vs d'Md, on the Fisher of a softmax: non-diagonal,
   * and its rows sum to zero (shifting every logit changes nothing), so the loop is 0. */
  const ng_dist_t cat3 = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  const double logits[3] = {1.0, 0.0, -1.0};
  const double d[3] = {0.2, 0.0, -0.2};
  double m[9], work[3], dmd, kl, moved[3];
  int st = ng_dist_fisher_dense(&cat3, logits, m, work);
  if (st == NG_OK) st = ng_metric_distance(3, m, d, &dmd);
  for (int i = 0; i < 3; i++) moved[i] = logits[i] + d[i];
  if (st == NG_OK) st = ng_dist_kl(&cat3, logits, moved, &kl);
  if (st != NG_OK) return st;
  double loop = post_distance_loop(3, m, d);
  if (fabs(loop) < 1e-12) loop = 0.0; /* a sum of terms that cancel: print 0, not -0 */
  printf("  The post's distance loop sums d_i d_i M_ij; the metric distance is d'Md =\n"
         "  sum_ij d_i M_ij d_j. They agree only for a diagonal M. Softmax over logits\n"
         "  (1, 0, -1), M its Fisher, d = (0.2, 0, -0.2):\n"
         "    post's loop  %.6f   (rows of a softmax Fisher sum to 0: the loop is always 0)\n"
         "    d'Md         %.6f   (d'Md/2 = %.6f, exact KL = %.6f)\n\n",
         loop, dmd, 0.5 * dmd, kl);
  return NG_OK;
}

/* ---- (b) fitting a Gaussian ------------------------------------------------------------- */

/* The loss for the contour grid: the closed form, O(1) per point. */
static double contour_nll(void *ctx, double mu, double log_sigma) {
  return ng_gauss1d_nll_closed(ctx, mu, log_sigma);
}

/* "228", "not reached in 100000", "diverged"; unit ("" or " it.") follows the numbers. */
static void format_count(char *buf, size_t size, long it, long cap, const char *unit) {
  if (it >= 0) snprintf(buf, size, "%ld%s", it, unit);
  else if (it == NG_GAUSS1D_NOT_REACHED) snprintf(buf, size, "not reached in %ld%s", cap, unit);
  else snprintf(buf, size, "diverged");
}

/* Grows the box to the points of p within `window` (max-norm) of centre: a path that
 * wanders off (a huge first step) is clipped rather than shrinking everything else. */
static void range_of(const ng_gauss1d_path_t *p, const double centre[2], double window,
                     double *xlo, double *xhi, double *ylo, double *yhi) {
  for (size_t i = 0; i < p->len; i++) {
    if (fabs(p->mu[i] - centre[0]) > window || fabs(p->log_sigma[i] - centre[1]) > window)
      continue;
    *xlo = fmin(*xlo, p->mu[i]);
    *xhi = fmax(*xhi, p->mu[i]);
    *ylo = fmin(*ylo, p->log_sigma[i]);
    *yhi = fmax(*yhi, p->log_sigma[i]);
  }
}

/* Both paths over the loss contours (left), distance to the optimum per iteration (right). */
static int write_svg(const char *file, const ng_gauss1d_fit_t *fit,
                     const ng_gauss1d_path_t *gd, double gd_eta, long gd_it,
                     const ng_gauss1d_path_t *ng, long ng_it, long cap) {
  /* the contour box: both paths, padded, as far as they stay within 3x the start's
   * distance from the optimum */
  double xlo = fit->opt[0], xhi = xlo, ylo = fit->opt[1], yhi = ylo;
  double window = 3.0 * fmax(ng_gauss1d_fit_error(fit, fit->start), 0.5);
  range_of(gd, fit->opt, window, &xlo, &xhi, &ylo, &yhi);
  range_of(ng, fit->opt, window, &xlo, &xhi, &ylo, &yhi);
  double px = 0.08 * (xhi - xlo) + 0.1, py = 0.08 * (yhi - ylo) + 0.1;
  xlo -= px, xhi += px, ylo -= py, yhi += py;

  /* levels L* + 0.01 * 2^(k/2): dense near the minimum, where the paths end */
  double lstar = ng_gauss1d_nll_closed(fit, fit->opt[0], fit->opt[1]), levels[N_LEVELS];
  for (int k = 0; k < N_LEVELS; k++) levels[k] = lstar + 0.01 * pow(2.0, 0.5 * k);

  char gd_label[96], ng_label[96], tol_label[48];
  char cgd[32], cng[32];
  format_count(cgd, sizeof cgd, gd_it, cap, " it.");
  format_count(cng, sizeof cng, ng_it, cap, " it.");
  snprintf(gd_label, sizeof gd_label, "gradient descent, η = %.3g: %s", gd_eta, cgd);
  snprintf(ng_label, sizeof ng_label, "natural gradient, η = %g: %s", NG_STEP, cng);
  snprintf(tol_label, sizeof tol_label, "tolerance %g", fit->tol);
  const char *c_gd = "#d55e00", *c_ng = "#0072b2";

  ng_svg_series_t paths[4] = {
      {.label = gd_label, .n = gd->len, .x = gd->mu, .y = gd->log_sigma, .color = c_gd,
       .line_width = 1.8, .markers = 12},
      {.label = ng_label, .n = ng->len, .x = ng->mu, .y = ng->log_sigma, .color = c_ng,
       .line_width = 1.8, .markers = 12, .marker = NG_SVG_MARKER_CIRCLE},
      {.label = "start", .n = 1, .x = fit->start, .y = fit->start + 1, .color = "#222",
       .line_width = -1, .markers = 1, .marker = NG_SVG_MARKER_CROSS, .marker_size = 5},
      {.label = "optimum θ*", .n = 1, .x = fit->opt, .y = fit->opt + 1, .color = "#111",
       .line_width = -1, .markers = 1, .marker = NG_SVG_MARKER_STAR, .marker_size = 6},
  };
  ng_svg_contour_t contour = {.f = contour_nll, .ctx = (void *)fit, .x0 = xlo, .x1 = xhi,
                              .y0 = ylo, .y1 = yhi, .nx = 160, .ny = 130, .n_levels = N_LEVELS,
                              .levels = levels, .label = "loss contours, L* + 0.01·2^(k/2)"};

  double last = (double)(gd->len > ng->len ? gd->len : ng->len) - 1;
  double tol_x[2] = {0.0, last > 1 ? last : 1}, tol_y[2] = {fit->tol, fit->tol};
  ng_svg_series_t curves[3] = {
      {.label = "gradient descent", .n = gd->len, .x = gd->iter, .y = gd->err, .color = c_gd},
      {.label = "natural gradient", .n = ng->len, .x = ng->iter, .y = ng->err, .color = c_ng,
       .markers = 12},
      {.label = tol_label, .n = 2, .x = tol_x, .y = tol_y, .color = "#888", .line_width = 1,
       .dashed = 1},
  };

  FILE *f = fopen(file, "w");
  if (!f) return NG_EIO;
  ng_svg_t svg;
  char title[128];
  snprintf(title, sizeof title,
           "Fitting N(μ, σ²) to %zu samples: gradient descent vs natural gradient", fit->n);
  ng_svg_begin(&svg, f, 1180, 560, title);
  ng_svg_panel_t left = {.x = 0, .y = 36, .w = 620, .h = 524,
                         .title = "paths over the loss contours",
                         .xlabel = "μ", .ylabel = "log σ", .legend = NG_SVG_LEGEND_AUTO};
  ng_svg_panel_t right = {.x = 620, .y = 36, .w = 560, .h = 524,
                          .title = "distance to the optimum", .xlabel = "iteration",
                          .ylabel = "max(|μ − μ*|, |log σ − log σ*|)", .log_y = 1,
                          .legend = NG_SVG_LEGEND_AUTO};
  ng_svg_contour(&svg, &left, &contour, 4, paths);
  ng_svg_lines(&svg, &right, 3, curves);
  int st = ng_svg_end(&svg);
  if (fclose(f) != 0 && st == NG_OK) st = NG_EIO;
  return st;
}

static void print_trace(const ng_gauss1d_path_t *gd, const ng_gauss1d_path_t *ng,
                        size_t rows) {
  printf("  first iterates:\n  %4s %24s %23s\n", "", "gradient descent", "natural gradient");
  printf("  %4s %15s %8s %14s %8s\n", "it", "mu", "sigma", "mu", "sigma");
  for (size_t i = 0; i < rows; i++) {
    printf("  %4zu", i);
    if (i < gd->len) printf(" %15.6f %8.5f", gd->mu[i], exp(gd->log_sigma[i]));
    else printf(" %15s %8s", "", "");
    if (i < ng->len) printf(" %14.6f %8.5f", ng->mu[i], exp(ng->log_sigma[i]));
    printf("\n");
  }
}

typedef struct {
  uint64_t seed;
  size_t samples;
  double mu, sigma, start_mu, start_sigma, tol;
  long max_iter;
  const char *out;
} gauss_opts_t;

static int part_b(const gauss_opts_t *o) {
  double *x = malloc(o->samples * sizeof *x);
  if (!x) {
    ng_cli_error(CMD, "out of memory for %zu samples", o->samples);
    return NG_EXIT_FAILURE;
  }
  /* the data: n draws from N(mu, sigma^2) */
  ng_rng_t rng;
  ng_rng_seed(&rng, o->seed, 0);
  const double truth[2] = {o->mu, log(o->sigma)};
  int st = NG_OK;
  for (size_t i = 0; i < o->samples && st == NG_OK; i++)
    st = ng_dist_sample(&gauss1, truth, &rng, &x[i]);
  ng_gauss1d_fit_t fit;
  const double start[2] = {o->start_mu, log(o->start_sigma)};
  int sampled = st == NG_OK;
  if (sampled) st = ng_gauss1d_fit_init(&fit, o->samples, x, start, o->tol);
  if (st != NG_OK) {
    ng_cli_error(CMD, "cannot fit these samples: %s",
                 sampled && !(fit.var > 0) ? "zero sample variance" : ng_strerror(st));
    free(x);
    return NG_EXIT_FAILURE;
  }

  printf("(b) Fitting N(mu, sigma^2) to data: gradient descent vs natural gradient\n\n");
  printf("  data      %zu samples of N(%g, %g^2), seed %llu\n", o->samples, o->mu, o->sigma,
         (unsigned long long)o->seed);
  printf("  loss      L(theta) = mean negative log-likelihood, theta = (mu, log sigma)\n");
  printf("  optimum   mu* = %.6f (sample mean), sigma* = %.6f (1/n sample std)\n", fit.opt[0],
         exp(fit.opt[1]));
  printf("  start     mu = %g, sigma = %g\n", o->start_mu, o->start_sigma);

  ng_gauss1d_path_t gd = {0}, ng = {0};
  double gd_eta = 0.0;
  long gd_it = NG_GAUSS1D_NOT_REACHED, ng_it = NG_GAUSS1D_NOT_REACHED;
  st = ng_gauss1d_gd_tuned(&fit, o->max_iter, &gd, &gd_eta, &gd_it);
  if (st == NG_OK) st = ng_gauss1d_ngd(&fit, NG_STEP, o->max_iter, &ng, &ng_it);
  if (st != NG_OK) {
    ng_cli_error(CMD, "optimisation failed: %s", ng_strerror(st));
    ng_gauss1d_path_free(&gd);
    ng_gauss1d_path_free(&ng);
    free(x);
    return NG_EXIT_FAILURE;
  }
  if (gd_eta > 0 && gd_it >= 0)
    printf("  GD        theta -= eta g, eta = %.4g: the fastest stable step of eta = 2^(-k/4),\n"
           "            searched from 1 down until the count stopped improving\n",
           gd_eta);
  else if (gd_eta > 0)
    printf("  GD        theta -= eta g, eta = %.4g: the largest stable eta = 2^(-k/4); none\n"
           "            reached the tolerance within the cap\n",
           gd_eta);
  else
    printf("  GD        every step eta = 2^(-k/4), k = 0..%d, was unstable\n",
           NG_GAUSS1D_GD_GRID - 1);
  printf("  NG        theta -= eta F^-1 g, eta = %g, F = diag(1/sigma^2, 2) at the current\n"
         "            theta (the Gaussian's Fisher in (mu, log sigma))\n\n",
         NG_STEP);
  print_trace(&gd, &ng, 6);

  char cgd[48], cng[48];
  format_count(cgd, sizeof cgd, gd_it, o->max_iter, "");
  format_count(cng, sizeof cng, ng_it, o->max_iter, "");
  printf("\n  iterations to max(|mu - mu*|, |log sigma - log sigma*|) <= %g:\n", o->tol);
  printf("    gradient descent  %s\n", cgd);
  printf("    natural gradient  %s\n", cng);
  if (gd_it > 0 && ng_it > 0)
    printf("    speed-up          %.1fx fewer iterations with the natural gradient\n",
           (double)gd_it / (double)ng_it);
  else if (gd_it < 0 && ng_it >= 0)
    printf("    speed-up          > %.1fx (gradient descent did not get there)\n",
           (double)o->max_iter / (double)(ng_it > 0 ? ng_it : 1));
  else if (ng_it == NG_GAUSS1D_UNSTABLE)
    printf("    (a full natural step trusts a local quadratic model of the loss; from this\n"
           "    start it overshoots. TRPO bounds each step by a KL radius for this reason.)\n");

  /* near theta* the Hessian of the loss is the Fisher diag(1/sigma*^2, 2) */
  double h_mu = exp(-2.0 * fit.opt[1]), h_max = fmax(h_mu, 2.0);
  printf("\n  Why: near theta* the loss's Hessian is the Fisher diag(1/sigma*^2, 2) =\n"
         "  diag(%.3g, 2). A fixed step must stay below 2/%.3g = %.3g to be stable along\n"
         "  %s, and then crawls along %s; F^-1 g divides each direction\n"
         "  by its own curvature (and puts mu on the sample mean in one step).\n\n",
         h_mu, h_max, 2.0 / h_max, h_mu > 2.0 ? "mu" : "log sigma",
         h_mu > 2.0 ? "log sigma" : "mu");

  errno = 0;
  st = write_svg(o->out, &fit, &gd, gd_eta, gd_it, &ng, ng_it, o->max_iter);
  ng_gauss1d_path_free(&gd);
  ng_gauss1d_path_free(&ng);
  free(x);
  if (st != NG_OK) {
    ng_cli_error(CMD, "cannot write %s: %s", o->out, errno ? strerror(errno) : ng_strerror(st));
    return NG_EXIT_FAILURE;
  }
  printf("  wrote %s\n", o->out);
  return NG_EXIT_OK;
}

/* ---- flags ------------------------------------------------------------------------------- */

static int parse_double(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  char *end;
  if (*s < '0' || *s > '9') return 0; /* strtoull would accept "-1" */
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) return 0;
  *out = (uint64_t)v;
  return 1;
}

enum { PARSE_OK, PARSE_HELP, PARSE_ERROR };

static int parse_gaussian(int argc, char **argv, gauss_opts_t *o) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return PARSE_HELP;
    if (strncmp(arg, "--", 2) != 0) {
      ng_cli_error(CMD, "gaussian: unexpected argument '%s' (see natgrad demo gaussian --help)",
                   arg);
      return PARSE_ERROR;
    }
    /* --name=value or --name value */
    char name[32];
    const char *eq = strchr(arg, '='), *val;
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, arg, len);
    name[len] = '\0';
    static const char *const known[] = {"--seed",      "--samples", "--mu",  "--sigma",
                                        "--start-mu", "--start-sigma", "--tol", "--max-iter",
                                        "--out"};
    int found = 0;
    for (size_t k = 0; k < sizeof known / sizeof *known; k++) found |= !strcmp(name, known[k]);
    if (!found) {
      ng_cli_error(CMD, "gaussian: unknown option '%s' (see natgrad demo gaussian --help)", arg);
      return PARSE_ERROR;
    }
    if (eq) {
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[++i];
    } else {
      ng_cli_error(CMD, "gaussian: option %s needs a value", name);
      return PARSE_ERROR;
    }
    uint64_t u = 0;
    int ok;
    if (!strcmp(name, "--seed")) {
      ok = parse_u64(val, 0, UINT64_MAX, &o->seed);
    } else if (!strcmp(name, "--samples")) {
      ok = parse_u64(val, 2, 10000000, &u);
      o->samples = (size_t)u;
    } else if (!strcmp(name, "--mu")) {
      ok = parse_double(val, -1e6, 1e6, &o->mu);
    } else if (!strcmp(name, "--sigma")) {
      ok = parse_double(val, 1e-6, 1e6, &o->sigma);
    } else if (!strcmp(name, "--start-mu")) {
      ok = parse_double(val, -1e6, 1e6, &o->start_mu);
    } else if (!strcmp(name, "--start-sigma")) {
      ok = parse_double(val, 1e-6, 1e6, &o->start_sigma);
    } else if (!strcmp(name, "--tol")) {
      ok = parse_double(val, 1e-12, 1.0, &o->tol);
    } else if (!strcmp(name, "--max-iter")) {
      ok = parse_u64(val, 1, 100000000, &u);
      o->max_iter = (long)u;
    } else {
      ok = *val != '\0';
      o->out = val;
    }
    if (!ok) {
      ng_cli_error(CMD, "gaussian: bad value '%s' for %s (see natgrad demo gaussian --help)",
                   val, name);
      return PARSE_ERROR;
    }
  }
  return PARSE_OK;
}

static int demo_gaussian(int argc, char **argv) {
  gauss_opts_t o = {DEF_SEED, DEF_SAMPLES, DEF_MU, DEF_SIGMA, DEF_START_MU, DEF_START_SIGMA,
                    DEF_TOL, DEF_MAX_ITER, DEF_OUT};
  switch (parse_gaussian(argc, argv, &o)) {
  case PARSE_HELP:
    gaussian_usage(stdout);
    return NG_EXIT_OK;
  case PARSE_ERROR:
    return NG_EXIT_USAGE;
  }
  int st = part_a();
  if (st != NG_OK) {
    ng_cli_error(CMD, "gaussian: %s", ng_strerror(st));
    return NG_EXIT_FAILURE;
  }
  return part_b(&o);
}

int ng_cmd_demo(int argc, char **argv) {
  if (argc < 2) {
    ng_cli_error(CMD, "which demo? (natgrad demo --help lists them)");
    demo_usage(stderr);
    return NG_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
    demo_usage(stdout);
    return NG_EXIT_OK;
  }
  if (!strcmp(name, "gaussian")) return demo_gaussian(argc - 1, argv + 1);
  ng_cli_error(CMD, "unknown demo '%s' (natgrad demo --help lists them)", name);
  return NG_EXIT_USAGE;
}
