/* supervised: the NLL loss and its gradient against central differences, metrics against a
 * brute-force count; the config's key = value round trip and range checks; every optimiser
 * on problems with a known optimum (linear least squares by the normal equations; L2-
 * regularised softmax regression by Newton's method on the exact Hessian); the masked
 * (fixed-variance) head staying put; Levenberg-Marquardt damping against the quadratic
 * model; every optimiser's first step reporting the same loss and gradient norm bit for bit
 * (K-FAC computes them on its own workspace, with the model's passes); a fit resumed from
 * its checkpoint continuing bit for bit for every optimiser; and corrupt or truncated
 * checkpoints rejected. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natgrad/fisher.h"
#include "natgrad/linalg.h"
#include "natgrad/optim.h"
#include "natgrad/supervised.h"
#include "ng_test.h"

#define FD_H 1e-6
#define TOL_FD 1e-6     /* central differences of the mean NLL, relative to max |g| */
#define TOL_EXACT 1e-12
#define TOL_RHO 1e-2    /* |rho - 1| on an exactly quadratic loss with damping 1e-3 */

static ng_model_t *model(size_t n_in, size_t nh, const size_t *h, ng_act_t act, ng_dist_t d) {
  ng_model_t *m = NULL;
  if (ng_model_create(&m, n_in, nh, h, act, d, NG_LOGSTD_STATE_INDEPENDENT) != NG_OK) exit(2);
  return m;
}

static void fill(ng_rng_t *rng, size_t n, double *x, double sd) {
  for (size_t i = 0; i < n; i++) x[i] = sd * ng_rng_normal(rng);
}

/* ---- loss, gradient, metrics -------------------------------------------------------------------
 */

static void test_loss_grad_and_metrics(void) {
  enum { B = 7 };
  size_t h[1] = {5};
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 4},
            gau = {.kind = NG_DIST_GAUSSIAN, .dim = 2};
  ng_model_t *ms[2] = {model(3, 1, h, NG_ACT_TANH, cat), model(3, 1, h, NG_ACT_TANH, gau)};
  ng_rng_t rng;
  ng_rng_seed(&rng, 1, 0);
  for (int t = 0; t < 2; t++) {
    ng_model_t *m = ms[t];
    size_t n = ng_model_n_params(m), na = t == 0 ? 1 : 2;
    double *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g), *fd = malloc(n * sizeof *fd);
    double x[B * 3], y[B * 2];
    fill(&rng, n, th, 0.5);
    fill(&rng, B * 3, x, 1.0);
    for (int b = 0; b < B; b++)
      if (t == 0) y[b] = (double)(b % 4);
      else fill(&rng, 2, y + 2 * b, 1.0);
    ng_model_ws_t *ws;
    NG_CHECK_OK(ng_model_ws_create(&ws, m, 3)); /* smaller than B: evaluate chunks */
    ng_model_ws_t *wb;
    NG_CHECK_OK(ng_model_ws_create(&wb, m, B));
    double loss;
    NG_CHECK_OK(ng_sup_loss_grad(m, wb, th, B, x, y, &loss, g));
    for (size_t i = 0; i < n; i++) {
      double ti = th[i], lp, lm;
      th[i] = ti + FD_H;
      ng_sup_loss_grad(m, wb, th, B, x, y, &lp, NULL);
      th[i] = ti - FD_H;
      ng_sup_loss_grad(m, wb, th, B, x, y, &lm, NULL);
      th[i] = ti;
      fd[i] = (lp - lm) / (2 * FD_H);
    }
    NG_CHECK_VEC_CLOSE(n, g, fd, TOL_FD);
    /* metrics by brute force: mean -log p, argmax hits or squared errors */
    ng_dataset_t ds = {B, 3, na, t == 0 ? 4u : 0u, x, y};
    ng_sup_metrics_t met;
    NG_CHECK_OK(ng_sup_evaluate(m, ws, th, &ds, &met));
    double p[B * 4];
    NG_CHECK_OK(ng_model_forward(m, th, wb, B, x, p));
    size_t np = ng_model_n_dist_params(m);
    double nll = 0, hits = 0, sq = 0;
    for (int b = 0; b < B; b++) {
      const double *pb = p + (size_t)b * np;
      ng_dist_t d = ng_model_dist(m);
      double lp;
      ng_dist_logp(&d, pb, y + (size_t)b * na, &lp);
      nll -= lp;
      if (t == 0) {
        int best = 0;
        for (int k = 1; k < 4; k++)
          if (pb[k] > pb[best]) best = k;
        hits += best == (int)y[b];
      } else {
        for (int j = 0; j < 2; j++) sq += (pb[j] - y[2 * b + j]) * (pb[j] - y[2 * b + j]);
      }
    }
    NG_CHECK_CLOSE(met.loss, nll / B, TOL_EXACT, 0);
    NG_CHECK_CLOSE(met.loss, loss, TOL_EXACT, 0);
    if (t == 0) {
      NG_CHECK_CLOSE(met.accuracy, hits / B, 0, TOL_EXACT);
      NG_CHECK(isnan(met.rmse));
    } else {
      NG_CHECK_CLOSE(met.rmse, sqrt(sq / (2 * B)), TOL_EXACT, 0);
      NG_CHECK(isnan(met.accuracy));
    }
    NG_CHECK(met.n == B);
    ng_dataset_t wrong = {B, 2, na, 0, x, y};
    NG_CHECK_STATUS(ng_sup_evaluate(m, ws, th, &wrong, &met), NG_EINVAL);
    ng_model_ws_destroy(ws);
    ng_model_ws_destroy(wb);
    free(th);
    free(g);
    free(fd);
    ng_model_destroy(m);
  }
}

/* ---- config ------------------------------------------------------------------------------------
 */

static void test_config(void) {
  ng_error_t err;
  for (int k = 0; k < NG_OPT_KINDS; k++) {
    ng_sup_opt_config_t c, d;
    NG_CHECK_OK(ng_sup_opt_config_default(&c, (ng_opt_kind_t)k));
    NG_CHECK_OK(ng_sup_opt_config_check(&c, &err));
    ng_opt_kind_t back;
    NG_CHECK_OK(ng_opt_parse(ng_opt_name((ng_opt_kind_t)k), &back));
    NG_CHECK(back == (ng_opt_kind_t)k);
    /* change a few fields, format, read back into a different default, format again */
    c.lr = 0.1 / 3.0;
    c.seed = 12345678901234ULL;
    c.fisher_batch = 17;
    char a[4096], b[4096];
    int len = ng_sup_opt_config_format(&c, a, sizeof a);
    NG_CHECK(len > 0 && (size_t)len < sizeof a);
    ng_sup_opt_config_default(&d, (ng_opt_kind_t)((k + 1) % NG_OPT_KINDS));
    char *save = NULL, *line = strtok_r(a, "\n", &save);
    char copy[4096];
    ng_sup_opt_config_format(&c, copy, sizeof copy);
    for (; line; line = strtok_r(NULL, "\n", &save)) {
      char key[64], val[128];
      NG_CHECK(sscanf(line, "%63s = %127s", key, val) == 2);
      NG_CHECK_OK(ng_sup_opt_config_set(&d, key, val, &err));
    }
    ng_sup_opt_config_format(&d, b, sizeof b);
    NG_CHECK(strcmp(copy, b) == 0);
    NG_CHECK(d.lr == c.lr && d.seed == c.seed && d.kind == c.kind);
  }
  ng_sup_opt_config_t c;
  ng_sup_opt_config_default(&c, NG_OPT_KFAC);
  NG_CHECK_STATUS(ng_sup_opt_config_set(&c, "learning_rate", "1", &err), NG_ENOTFOUND);
  NG_CHECK(strstr(err.message, "learning_rate") != NULL);
  NG_CHECK_STATUS(ng_sup_opt_config_set(&c, "lr", "fast", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_sup_opt_config_set(&c, "lr", "nan", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_sup_opt_config_set(&c, "cg_iters", "3.5", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_sup_opt_config_set(&c, "seed", "-1", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_sup_opt_config_set(&c, "kind", "lbfgs", &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_sup_opt_config_set(&c, "fisher", "sampled", &err), NG_EINVAL);
  NG_CHECK_OK(ng_sup_opt_config_set(&c, "fisher", "empirical", &err));
  NG_CHECK(c.fisher == NG_FISHER_EMPIRICAL);
  NG_CHECK_OK(ng_sup_opt_config_check(&c, &err));
  c.kind = NG_OPT_CG_NG;
  NG_CHECK_STATUS(ng_sup_opt_config_check(&c, &err), NG_EINVAL); /* empirical is diag/kfac only */
  NG_CHECK(strstr(err.message, "empirical") != NULL);
  ng_sup_opt_config_default(&c, NG_OPT_SGD);
  c.momentum = 1.0;
  NG_CHECK_STATUS(ng_sup_opt_config_check(&c, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "momentum") != NULL);
  ng_sup_opt_config_default(&c, NG_OPT_SGD);
  c.lr = 0.0;
  NG_CHECK_STATUS(ng_sup_opt_config_check(&c, &err), NG_EINVAL);
  ng_sup_opt_config_default(&c, NG_OPT_SGD);
  c.damping = 1e5; /* above damping_max */
  NG_CHECK_STATUS(ng_sup_opt_config_check(&c, &err), NG_EINVAL);
  ng_sup_opt_config_default(&c, NG_OPT_SGD);
  c.inverse_every = 0;
  NG_CHECK_STATUS(ng_sup_opt_config_check(&c, &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_opt_parse("SGD", (ng_opt_kind_t[1]){0}), NG_EINVAL);
  NG_CHECK(strcmp(ng_opt_name((ng_opt_kind_t)99), "unknown") == 0);
}

/* ---- known optima ------------------------------------------------------------------------------
 */

/* Per-kind settings for the full-batch convex problems below. */
static void convex_config(ng_sup_opt_config_t *c, ng_opt_kind_t k) {
  ng_sup_opt_config_default(c, k);
  switch (k) {
  case NG_OPT_SGD:
    c->lr = 0.1;
    break;
  case NG_OPT_ADAM:
    c->lr = 0.02;
    break;
  case NG_OPT_DIAG_NG:
    c->lr = 0.1;
    c->momentum = 0.5;
    c->damping = 1e-2;
    break;
  case NG_OPT_CG_NG:
    c->damping = 1e-3;
    c->damping_min = 1e-8;
    break;
  case NG_OPT_KFAC:
    c->lr = 0.5;
    c->momentum = 0.0;
    c->kl_clip = 0.0;
    break;
  }
}

typedef struct {
  ng_model_t *m;
  size_t n, rows;
  double *x, *y, *theta0, *opt;
  double l0, lopt;
  const unsigned char *mask;
  double wd;
} problem_t;

static double full_loss(const problem_t *p, const double *theta) {
  ng_model_ws_t *ws;
  ng_model_ws_create(&ws, p->m, p->rows);
  double l = NAN;
  ng_sup_loss_grad(p->m, ws, theta, p->rows, p->x, p->y, &l, NULL);
  ng_model_ws_destroy(ws);
  return l + 0.5 * p->wd * ng_vec_dot(p->n, theta, theta);
}

/* Every kind, full batch, `steps` steps: the gap to the optimum must shrink below
 * max_gap (relative to the starting gap), and frozen parameters must not move. */
static void run_kinds_on(const problem_t *p, int steps, const double *max_gap) {
  for (int k = 0; k < NG_OPT_KINDS; k++) {
    ng_sup_opt_config_t c;
    convex_config(&c, (ng_opt_kind_t)k);
    c.weight_decay = p->wd;
    ng_sup_opt_t *o;
    ng_error_t err;
    NG_CHECK_OK(ng_sup_opt_create(&o, p->m, &c, p->rows, &err));
    if (p->mask) NG_CHECK_OK(ng_sup_opt_set_trainable(o, p->mask));
    double *th = malloc(p->n * sizeof *th);
    memcpy(th, p->theta0, p->n * sizeof *th);
    int ok = 1;
    for (int s = 0; s < steps && ok; s++)
      ok = ng_sup_opt_step(o, th, p->rows, p->x, p->y, NULL) == NG_OK;
    NG_CHECK(ok);
    double gap = (full_loss(p, th) - p->lopt) / (p->l0 - p->lopt);
    if (!(gap <= max_gap[k] && gap >= -1e-9)) {
      ng_test_failures++;
      fprintf(stderr, "%s: relative gap to the optimum %.3g after %d steps (allowed %.3g)\n",
              ng_opt_name((ng_opt_kind_t)k), gap, steps, max_gap[k]);
    }
    ng_test_checks++;
    if (p->mask)
      for (size_t i = 0; i < p->n; i++)
        if (!p->mask[i]) NG_CHECK(th[i] == p->theta0[i]);
    NG_CHECK(ng_sup_opt_steps(o) == (uint64_t)steps);
    free(th);
    ng_sup_opt_destroy(o);
  }
}

static void test_least_squares_optimum(void) {
  enum { N = 64, D = 4 };
  ng_rng_t rng;
  ng_rng_seed(&rng, 2, 0);
  ng_dist_t gau = {.kind = NG_DIST_GAUSSIAN, .dim = 1};
  problem_t p = {0};
  p.m = model(D, 0, NULL, NG_ACT_IDENTITY, gau);
  p.n = ng_model_n_params(p.m); /* w (4), b, log std */
  p.rows = N;
  double x[N * D], y[N], th0[6] = {0}, opt[6] = {0};
  fill(&rng, N * D, x, 1.0);
  for (int i = 0; i < N; i++) {
    x[i * D + 1] = 0.5 * x[i * D + 1] + 0.5 * x[i * D]; /* correlated features */
    y[i] =
        1.0 * x[i * D] - 2.0 * x[i * D + 1] + 0.5 * x[i * D + 3] + 1.0 + 0.2 * ng_rng_normal(&rng);
  }
  double M[25] = {0}, r[5] = {0};
  for (int i = 0; i < N; i++) {
    double a[5] = {x[i * D], x[i * D + 1], x[i * D + 2], x[i * D + 3], 1.0};
    for (int u = 0; u < 5; u++) {
      r[u] += a[u] * y[i];
      for (int v = 0; v < 5; v++) M[u * 5 + v] += a[u] * a[v];
    }
  }
  NG_CHECK_OK(ng_cholesky_factor(5, M, 0.0));
  NG_CHECK_OK(ng_cholesky_solve(5, M, r, opt));
  static const unsigned char mask[6] = {1, 1, 1, 1, 1, 0}; /* fixed variance: log std 0 */
  p.x = x;
  p.y = y;
  p.theta0 = th0;
  p.opt = opt;
  p.mask = mask;
  p.l0 = full_loss(&p, th0);
  p.lopt = full_loss(&p, opt);
  NG_CHECK(p.l0 - p.lopt > 0.5);
  static const double gaps[NG_OPT_KINDS] = {1e-6, 1e-3, 1e-6, 1e-9, 1e-9};
  run_kinds_on(&p, 200, gaps);
  ng_model_destroy(p.m);
}

static void test_softmax_optimum(void) {
  enum { N = 60, D = 3, K = 3 };
  ng_rng_t rng;
  ng_rng_seed(&rng, 4, 0);
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = K};
  problem_t p = {0};
  p.m = model(D, 0, NULL, NG_ACT_IDENTITY, cat);
  p.n = ng_model_n_params(p.m); /* 3 x 3 + 3 = 12 */
  p.rows = N;
  p.wd = 1e-2;
  double x[N * D], y[N], th0[12] = {0}, opt[12] = {0};
  fill(&rng, N * D, x, 1.0);
  for (int i = 0; i < N; i++) {
    double s0 = x[i * D] + 0.3 * ng_rng_normal(&rng), s1 = x[i * D + 1] - x[i * D + 2];
    y[i] = s0 > 0.5 ? 0 : (s1 > 0 ? 1 : 2);
  }
  p.x = x;
  p.y = y;
  p.theta0 = th0;
  /* Newton: for a linear softmax the Fisher is the Hessian of the NLL exactly, so
   * (F + wd I) s = g is Newton's step */
  ng_fisher_t *f;
  ng_model_ws_t *ws;
  NG_CHECK_OK(ng_fisher_create(&f, p.m, N));
  NG_CHECK_OK(ng_model_ws_create(&ws, p.m, N));
  double g[12], s[12], work[144], loss;
  for (int it = 0; it < 50; it++) {
    NG_CHECK_OK(ng_sup_loss_grad(p.m, ws, opt, N, x, y, &loss, g));
    ng_vec_axpy(12, p.wd, opt, g);
    NG_CHECK_OK(ng_fisher_set_point(f, opt, N, x));
    NG_CHECK_OK(ng_natgrad_cholesky(f, p.wd, g, s, work));
    ng_vec_axpy(12, -1.0, s, opt);
  }
  NG_CHECK_OK(ng_sup_loss_grad(p.m, ws, opt, N, x, y, &loss, g));
  ng_vec_axpy(12, p.wd, opt, g);
  NG_CHECK(ng_vec_norm2(12, g) < 1e-12);
  p.opt = opt;
  p.l0 = full_loss(&p, th0);
  p.lopt = full_loss(&p, opt);
  static const double gaps[NG_OPT_KINDS] = {1e-8, 1e-2, 1e-6, 1e-9, 1e-9};
  run_kinds_on(&p, 300, gaps);
  ng_fisher_destroy(f);
  ng_model_ws_destroy(ws);
  ng_model_destroy(p.m);
}

/* ---- Levenberg-Marquardt
 * --------------------------------------------------------------------------- */

static void test_levenberg_marquardt(void) {
  enum { N = 32, D = 3 };
  ng_rng_t rng;
  ng_rng_seed(&rng, 6, 0);
  ng_dist_t gau = {.kind = NG_DIST_GAUSSIAN, .dim = 1},
            cat = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  ng_model_t *m = model(D, 0, NULL, NG_ACT_IDENTITY, gau);
  double x[N * D], y[N], th[5] = {0};
  fill(&rng, N * D, x, 1.0);
  fill(&rng, N, y, 2.0);
  unsigned char mask[5] = {1, 1, 1, 1, 0};
  /* an exactly quadratic loss whose Hessian is F: rho = 1 up to the damping term; lambda
   * shrinks by lm_factor^damping_every */
  for (int k = NG_OPT_DIAG_NG; k <= NG_OPT_KFAC; k++) {
    ng_sup_opt_config_t c;
    ng_sup_opt_config_default(&c, (ng_opt_kind_t)k);
    c.adapt_damping = 1;
    c.damping_every = 1;
    c.damping = 1e-3;
    c.damping_min = 1e-8;
    c.kl_clip = 0.0;
    c.momentum = 0.0;
    c.lr = 0.5;
    ng_sup_opt_t *o;
    ng_error_t err;
    NG_CHECK_OK(ng_sup_opt_create(&o, m, &c, N, &err));
    NG_CHECK_OK(ng_sup_opt_set_trainable(o, mask));
    memset(th, 0, sizeof th);
    ng_sup_step_info_t info;
    NG_CHECK_OK(ng_sup_opt_step(o, th, N, x, y, &info));
    NG_CHECK_CLOSE(info.rho, 1.0, 0, TOL_RHO);
    NG_CHECK_CLOSE(ng_sup_opt_damping(o), 1e-3 * c.lm_factor, TOL_EXACT, 0);
    NG_CHECK(info.damping == 1e-3);
    ng_sup_opt_destroy(o);
  }
  ng_model_destroy(m);
  /* a far too long step on a softmax: the loss rises, rho < 1/4, lambda grows */
  ng_model_t *mc = model(D, 0, NULL, NG_ACT_IDENTITY, cat);
  double thc[12] = {0}, yc[N];
  for (int i = 0; i < N; i++) yc[i] = x[i * D] > 0 ? 0 : (x[i * D + 1] > 0 ? 1 : 2);
  ng_sup_opt_config_t c;
  ng_sup_opt_config_default(&c, NG_OPT_CG_NG);
  c.lr = 40.0;
  c.kl_clip = 0.0;
  c.damping = 1e-3;
  c.damping_min = 1e-8;
  ng_sup_opt_t *o;
  ng_error_t err;
  NG_CHECK_OK(ng_sup_opt_create(&o, mc, &c, N, &err));
  ng_sup_step_info_t info;
  NG_CHECK_OK(ng_sup_opt_step(o, thc, N, x, yc, &info));
  NG_CHECK(info.rho < 0.25);
  NG_CHECK_CLOSE(ng_sup_opt_damping(o), 1e-3 / c.lm_factor, TOL_EXACT, 0);
  NG_CHECK(info.cg_iterations >= 1);
  /* bad inputs leave theta alone */
  double keep[12];
  memcpy(keep, thc, sizeof keep);
  double xb[N * D];
  memcpy(xb, x, sizeof xb);
  xb[5] = NAN;
  NG_CHECK_STATUS(ng_sup_opt_step(o, thc, N, xb, yc, &info), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_sup_opt_step(o, thc, N + 1, x, yc, &info), NG_EINVAL);
  yc[3] = 7; /* not a class */
  NG_CHECK_STATUS(ng_sup_opt_step(o, thc, N, x, yc, &info), NG_EINVAL);
  NG_CHECK(memcmp(keep, thc, sizeof keep) == 0);
  ng_sup_opt_destroy(o);
  ng_model_destroy(mc);
}

/* ---- every kind sees the same loss
 * --------------------------------------------------------------- */

/* The step's loss and gradient norm do not depend on the kind: K-FAC's come from
 * ng_kfac_loss_grad, the others' from ng_sup_loss_grad, equal bit for bit (weight decay and
 * a frozen head included). Two hidden tanh layers, both head layouts. */
static void test_same_loss_every_kind(void) {
  enum { B = 9, D = 3 };
  size_t h[2] = {6, 4};
  ng_dist_t dists[2] = {{.kind = NG_DIST_CATEGORICAL, .dim = 3},
                        {.kind = NG_DIST_GAUSSIAN, .dim = 2}};
  ng_rng_t rng;
  ng_rng_seed(&rng, 12, 0);
  for (int t = 0; t < 2; t++) {
    ng_model_t *m = model(D, 2, h, NG_ACT_TANH, dists[t]);
    size_t n = ng_model_n_params(m);
    double *th0 = malloc(n * sizeof *th0), *th = malloc(n * sizeof *th), x[B * D], y[B * 2];
    unsigned char *mask = malloc(n);
    memset(mask, 1, n);
    mask[n - 1] = 0;
    fill(&rng, n, th0, 0.5);
    fill(&rng, B * D, x, 1.0);
    for (int b = 0; b < B; b++)
      if (t == 0) y[b] = b % 3;
      else fill(&rng, 2, y + 2 * b, 1.0);
    double loss0 = 0, gnorm0 = 0;
    for (int k = 0; k < NG_OPT_KINDS; k++) {
      ng_sup_opt_config_t c;
      ng_sup_opt_config_default(&c, (ng_opt_kind_t)k);
      c.weight_decay = 1e-3;
      ng_sup_opt_t *o;
      ng_error_t err;
      NG_CHECK_OK(ng_sup_opt_create(&o, m, &c, B, &err));
      NG_CHECK_OK(ng_sup_opt_set_trainable(o, mask));
      memcpy(th, th0, n * sizeof *th);
      ng_sup_step_info_t info;
      NG_CHECK_OK(ng_sup_opt_step(o, th, B, x, y, &info));
      if (k == 0) {
        loss0 = info.loss;
        gnorm0 = info.grad_norm;
      } else {
        int same = memcmp(&info.loss, &loss0, sizeof loss0) == 0 &&
                   memcmp(&info.grad_norm, &gnorm0, sizeof gnorm0) == 0;
        if (!same)
          fprintf(stderr, "%s: loss %.17g grad norm %.17g, sgd's %.17g %.17g\n",
                  ng_opt_name((ng_opt_kind_t)k), info.loss, info.grad_norm, loss0, gnorm0);
        NG_CHECK(same);
      }
      NG_CHECK(th[n - 1] == th0[n - 1]);
      ng_sup_opt_destroy(o);
    }
    free(th0);
    free(th);
    free(mask);
    ng_model_destroy(m);
  }
}

/* ---- resume bit for bit
 * ---------------------------------------------------------------------------- */

typedef struct {
  uint64_t stop_after; /* interrupt once pos->steps reaches this (0: never) */
} stop_ctx_t;

static int stop_cb(void *ctx, const ng_sup_step_info_t *info, const ng_fit_pos_t *pos) {
  (void)info;
  stop_ctx_t *s = ctx;
  return s->stop_after && pos->steps >= s->stop_after;
}

static char ckpath[512];

static void test_resume_bit_for_bit(void) {
  enum { N = 45, D = 4, EPOCHS = 3, BATCH = 8 };
  ng_rng_t rng;
  ng_rng_seed(&rng, 8, 0);
  size_t h[1] = {6};
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  ng_model_t *m = model(D, 1, h, NG_ACT_TANH, cat);
  size_t n = ng_model_n_params(m);
  ng_dataset_t ds;
  ng_dataset_alloc(&ds, N, D, 1, 3);
  fill(&rng, N * D, ds.x, 1.0);
  for (int i = 0; i < N; i++) ds.y[i] = ds.x[i * D] > 0.3 ? 0 : (ds.x[i * D + 2] > 0 ? 1 : 2);
  double *th0 = malloc(n * sizeof *th0);
  ng_model_init(m, th0, 1.0, 1.0, 0.0, &rng);
  for (int k = 0; k < NG_OPT_KINDS; k++) {
    ng_sup_opt_config_t c;
    ng_sup_opt_config_default(&c, (ng_opt_kind_t)k);
    c.seed = 77;
    c.inverse_every = 3; /* refreshes fall both before and after the break */
    c.stats_every = 2;
    c.damping_every = 2;
    c.adapt_damping = k >= NG_OPT_DIAG_NG;
    ng_error_t err;
    /* straight through */
    ng_fit_t *fa;
    NG_CHECK_OK(ng_fit_create(&fa, m, &c, N, BATCH, 5, &err));
    double *ta = malloc(n * sizeof *ta), *tb = malloc(n * sizeof *tb);
    memcpy(ta, th0, n * sizeof *ta);
    double mean_a[EPOCHS], mean_b[EPOCHS];
    for (int e = 0; e < EPOCHS; e++) NG_CHECK_OK(ng_fit_epoch(fa, ta, &ds, NULL, NULL, &mean_a[e]));
    /* interrupted mid-epoch 2 (step 9 of 18: 6 batches per epoch), saved, restored */
    ng_fit_t *fb;
    NG_CHECK_OK(ng_fit_create(&fb, m, &c, N, BATCH, 5, &err));
    memcpy(tb, th0, n * sizeof *tb);
    stop_ctx_t stop = {9};
    NG_CHECK_OK(ng_fit_epoch(fb, tb, &ds, stop_cb, &stop, &mean_b[0]));
    NG_CHECK_STATUS(ng_fit_epoch(fb, tb, &ds, stop_cb, &stop, &mean_b[1]), NG_EINTERRUPTED);
    NG_CHECK(ng_fit_pos(fb)->epoch == 1 && ng_fit_pos(fb)->batch_index == 3);
    ng_fit_set_seconds(fb, 12.5);
    NG_CHECK_OK(ng_fit_save(fb, ckpath, "run = test\n", tb, &err));
    ng_fit_destroy(fb);
    memset(tb, 0, n * sizeof *tb);
    ng_fit_checkpoint_t ck;
    NG_CHECK_OK(ng_fit_checkpoint_read(ckpath, &ck, &err));
    NG_CHECK(strcmp(ck.meta, "run = test\n") == 0 && ck.pos.seconds == 12.5 && ck.pos.steps == 9);
    NG_CHECK_OK(ng_fit_create(&fb, m, &c, N, BATCH, 5, &err));
    NG_CHECK_OK(ng_fit_restore(fb, &ck, tb, &err));
    ng_fit_checkpoint_free(&ck);
    for (int e = 1; e < EPOCHS; e++) NG_CHECK_OK(ng_fit_epoch(fb, tb, &ds, NULL, NULL, &mean_b[e]));
    int same = memcmp(ta, tb, n * sizeof *ta) == 0;
    if (!same) fprintf(stderr, "%s: resumed run differs\n", ng_opt_name((ng_opt_kind_t)k));
    NG_CHECK(same);
    NG_CHECK(memcmp(mean_a, mean_b, sizeof mean_a) == 0);
    /* and the optimiser states agree byte for byte */
    size_t sa = ng_sup_opt_state_size(ng_fit_opt(fa)), sb = ng_sup_opt_state_size(ng_fit_opt(fb));
    NG_CHECK(sa == sb);
    unsigned char *ba = malloc(sa), *bb = malloc(sb);
    NG_CHECK_OK(ng_sup_opt_state_save(ng_fit_opt(fa), ba, sa));
    NG_CHECK_OK(ng_sup_opt_state_save(ng_fit_opt(fb), bb, sb));
    NG_CHECK(memcmp(ba, bb, sa) == 0);
    /* the loss went down over the three epochs */
    NG_CHECK(mean_a[EPOCHS - 1] < mean_a[0]);
    /* a state of another kind is refused */
    ng_sup_opt_config_t other;
    ng_sup_opt_config_default(&other, (ng_opt_kind_t)((k + 1) % NG_OPT_KINDS));
    ng_sup_opt_t *oo;
    NG_CHECK_OK(ng_sup_opt_create(&oo, m, &other, BATCH, &err));
    NG_CHECK_STATUS(ng_sup_opt_state_load(oo, ba, sa), NG_EFORMAT);
    NG_CHECK_STATUS(ng_sup_opt_state_load(ng_fit_opt(fb), ba, sa - 8), NG_EFORMAT);
    ng_sup_opt_destroy(oo);
    free(ba);
    free(bb);
    free(ta);
    free(tb);
    ng_fit_destroy(fa);
    ng_fit_destroy(fb);
  }
  free(th0);
  ng_dataset_free(&ds);
  ng_model_destroy(m);
}

static void corrupt_and_expect(const unsigned char *orig, size_t len, long pos, int truncate_to,
                               const char *needle) {
  unsigned char *b = malloc(len + 1);
  memcpy(b, orig, len);
  size_t out_len = len;
  if (pos >= 0) b[pos] ^= 0x40;
  if (truncate_to >= 0) out_len = (size_t)truncate_to;
  if (truncate_to == -2) b[out_len++] = 0; /* one trailing byte */
  FILE *f = fopen(ckpath, "wb");
  fwrite(b, 1, out_len, f);
  fclose(f);
  ng_fit_checkpoint_t ck;
  ng_error_t err;
  NG_CHECK_STATUS(ng_fit_checkpoint_read(ckpath, &ck, &err), NG_EFORMAT);
  if (!strstr(err.message, needle)) {
    ng_test_failures++;
    fprintf(stderr, "message '%s' lacks '%s'\n", err.message, needle);
  }
  NG_CHECK(ck.theta == NULL && ck.meta == NULL);
  free(b);
}

static void test_checkpoint_corruption(void) {
  size_t h[1] = {3};
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 2};
  ng_model_t *m = model(2, 1, h, NG_ACT_TANH, cat);
  ng_sup_opt_config_t c;
  ng_sup_opt_config_default(&c, NG_OPT_KFAC);
  ng_fit_t *f;
  ng_error_t err;
  NG_CHECK_OK(ng_fit_create(&f, m, &c, 10, 5, 1, &err));
  double th[17] = {0};
  NG_CHECK_OK(ng_fit_save(f, ckpath, "meta", th, &err));
  FILE *fp = fopen(ckpath, "rb");
  unsigned char buf[65536];
  size_t len = fread(buf, 1, sizeof buf, fp);
  fclose(fp);
  NG_CHECK(len > 100 && len < sizeof buf);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", ckpath);
  NG_CHECK(access(tmp, F_OK) != 0); /* renamed into place */
  corrupt_and_expect(buf, len, 0, -1, "magic");
  corrupt_and_expect(buf, len, 8, -1, "version");
  corrupt_and_expect(buf, len, 100, -1, "checksum");
  corrupt_and_expect(buf, len, -1, (int)len - 1, "truncated");
  corrupt_and_expect(buf, len, -1, 20, "truncated");
  corrupt_and_expect(buf, len, -1, -2, "after");
  ng_fit_checkpoint_t ck;
  NG_CHECK_STATUS(ng_fit_checkpoint_read("/nonexistent/ck", &ck, &err), NG_ENOTFOUND);
  /* a folder is not a checkpoint, nor a FIFO (opening it would block until a writer came) */
  NG_CHECK_STATUS(ng_fit_checkpoint_read(".", &ck, &err), NG_EIO);
  NG_CHECK(strstr(err.message, "is a folder") != NULL);
  char fifo[64];
  snprintf(fifo, sizeof fifo, "test_supervised_%d.fifo", (int)getpid());
  if (mkfifo(fifo, 0600) == 0) {
    NG_CHECK_STATUS(ng_fit_checkpoint_read(fifo, &ck, &err), NG_EIO);
    NG_CHECK(strstr(err.message, "not a regular file") != NULL);
    remove(fifo);
  }
  /* a checkpoint of another architecture is refused by restore */
  fp = fopen(ckpath, "wb");
  fwrite(buf, 1, len, fp);
  fclose(fp);
  NG_CHECK_OK(ng_fit_checkpoint_read(ckpath, &ck, &err));
  size_t h2[1] = {4};
  ng_model_t *m2 = model(2, 1, h2, NG_ACT_TANH, cat);
  ng_fit_t *f2;
  NG_CHECK_OK(ng_fit_create(&f2, m2, &c, 10, 5, 1, &err));
  double th2[22];
  NG_CHECK_STATUS(ng_fit_restore(f2, &ck, th2, &err), NG_EFORMAT);
  NG_CHECK(strstr(err.message, "parameters") != NULL);
  ng_fit_checkpoint_free(&ck);
  ng_fit_destroy(f2);
  ng_model_destroy(m2);
  NG_CHECK_STATUS(ng_fit_save(f, "/nonexistent/dir/ck", "", th, &err), NG_EIO);
  ng_fit_destroy(f);
  ng_model_destroy(m);
}

int main(void) {
  char dir[] = "/tmp/ng_test_sup_XXXXXX";
  if (!mkdtemp(dir)) return 2;
  snprintf(ckpath, sizeof ckpath, "%s/ck", dir);
  NG_TEST_RUN(test_loss_grad_and_metrics);
  NG_TEST_RUN(test_config);
  NG_TEST_RUN(test_least_squares_optimum);
  NG_TEST_RUN(test_softmax_optimum);
  NG_TEST_RUN(test_levenberg_marquardt);
  NG_TEST_RUN(test_same_loss_every_kind);
  NG_TEST_RUN(test_resume_bit_for_bit);
  NG_TEST_RUN(test_checkpoint_corruption);
  remove(ckpath);
  rmdir(dir);
  NG_TEST_END();
}
