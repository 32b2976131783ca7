/* ACKTR and the K-FAC under it (natgrad/kfac.h):
 *   - the Gauss-Newton K-FAC of an MLP (value functions): A = E[a a^T] from a forward written
 *     out here, G = E[sum_r g_r g_r^T] with g_r = d f_r / d z_l by central differences of
 *     the output in the layer's bias (z_l = W a + b), for zero to two hidden layers;
 *   - against the exact Fisher of fisher.h where K-FAC is exact: a linear MLP's
 *     Gauss-Newton matrix (= the Fisher of a unit-variance Gaussian on its outputs) is
 *     E[a a^T] (x) I, and a linear-softmax layer whose probabilities do not depend on x
 *     (W = 0) has F = E[a a^T] (x) M; where it is not (W != 0), the structure that still
 *     holds: G = E[diag(pi) - pi pi^T] (softmax by hand) and the bias-bias block exact,
 *     while the whole block differs;
 *   - the reducer: two shards of a batch, reduced, give the whole batch's factors;
 *   - the trainer: the step rule eta = min(acktr_lr, sqrt(2 max_kl / g.s)) with either
 *     side binding, checkpoints and resume bit for bit with the K-FAC states, the same run
 *     on one and two threads, a failed iteration putting the K-FAC states back (learning
 *     CartPole-v1: test_rl_trpo, beside TRPO's). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "natgrad/fisher.h"
#include "natgrad/kfac.h"
#include "ng_test.h"
#include "ng_test_kfac.h"
#include "rl/rl_impl.h"

#define B 6
#define FD_H 1e-5
#define TOL_FD 1e-7     /* central differences of smooth O(1) functions */
#define TOL_EXACT 1e-12 /* the same sums in another order */
#define TOL_SOLVE 1e-6  /* K-FAC's damped inverse at damping 1e-14 against a dense solve */

static void random_fill(ng_rng_t *rng, size_t n, double *x, double sd) {
  for (size_t i = 0; i < n; i++) x[i] = sd * ng_rng_normal(rng);
}

/* ---- Gauss-Newton K-FAC of an MLP: factors by brute force -------------------------------- */

/* The input of layer l for row x: x itself, or tanh of the layers below, written out. */
static void layer_input(const ng_mlp_t *mlp, const double *theta, const double *x, size_t l,
                        double *out) {
  double a[16], z[16];
  size_t c = ng_mlp_size(mlp, 0);
  memcpy(a, x, c * sizeof(double));
  for (size_t q = 0; q < l; q++) {
    size_t cq = ng_mlp_size(mlp, q), rq = ng_mlp_size(mlp, q + 1);
    const double *w = theta + ng_mlp_layer_offset(mlp, q), *b = w + rq * cq;
    for (size_t i = 0; i < rq; i++) {
      z[i] = b[i];
      for (size_t j = 0; j < cq; j++) z[i] += w[i * cq + j] * a[j];
    }
    for (size_t i = 0; i < rq; i++) a[i] = tanh(z[i]);
  }
  memcpy(out, a, ng_mlp_size(mlp, l) * sizeof(double));
}

static void check_gn_factors(size_t n_hidden, const size_t *hidden) {
  size_t sizes[4] = {3, 0, 0, 0};
  ng_act_t acts[3];
  for (size_t i = 0; i < n_hidden; i++) {
    sizes[i + 1] = hidden[i];
    acts[i] = NG_ACT_TANH;
  }
  sizes[n_hidden + 1] = 2;
  acts[n_hidden] = NG_ACT_IDENTITY;
  const size_t L = n_hidden + 1, n_out = 2;
  ng_mlp_t *mlp;
  NG_CHECK_OK(ng_mlp_create(&mlp, L, sizes, acts));
  size_t n = ng_mlp_n_params(mlp);
  ng_rng_t rng;
  ng_rng_seed(&rng, 21, n_hidden);
  double *theta = malloc(n * sizeof *theta), *tp = malloc(n * sizeof *tp), x[B * 3];
  random_fill(&rng, n, theta, 0.6);
  random_fill(&rng, B * 3, x, 1.0);
  ng_kfac_t *k;
  NG_CHECK_OK(ng_kfac_create_mlp(&k, mlp, B));
  NG_CHECK(ng_kfac_model_ws(k) == NULL && ng_kfac_n_layers(k) == L);
  NG_CHECK_OK(ng_kfac_forward(k, theta, B, x));
  /* the MLP kind holds M = I: the true Fisher's exact expectation only */
  NG_CHECK_STATUS(ng_kfac_batch_stats(k, theta, NG_FISHER_EMPIRICAL, 0, x, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 1, NULL, &rng), NG_EINVAL);
  NG_CHECK_OK(ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 0, NULL, NULL));
  ng_mlp_ws_t *ws;
  NG_CHECK_OK(ng_mlp_ws_create(&ws, mlp, 1));
  for (size_t l = 0; l < L; l++) {
    size_t c = sizes[l], r = sizes[l + 1], ad = c + 1;
    double A[17 * 17] = {0}, G[16 * 16] = {0};
    for (size_t b = 0; b < B; b++) {
      double a[17];
      layer_input(mlp, theta, x + b * 3, l, a);
      a[c] = 1.0;
      for (size_t i = 0; i < ad; i++)
        for (size_t j = 0; j < ad; j++) A[i * ad + j] += a[i] * a[j] / B;
      double g[16][2], yp[2], ym[2]; /* g[i][out] = d f_out / d z_l[i] */
      size_t bias = ng_mlp_layer_offset(mlp, l) + r * c;
      for (size_t i = 0; i < r; i++) {
        memcpy(tp, theta, n * sizeof(double));
        tp[bias + i] += FD_H;
        NG_CHECK_OK(ng_mlp_forward(mlp, tp, ws, 1, x + b * 3, yp));
        tp[bias + i] -= 2 * FD_H;
        NG_CHECK_OK(ng_mlp_forward(mlp, tp, ws, 1, x + b * 3, ym));
        for (size_t o = 0; o < n_out; o++) g[i][o] = (yp[o] - ym[o]) / (2 * FD_H);
      }
      for (size_t o = 0; o < n_out; o++)
        for (size_t i = 0; i < r; i++)
          for (size_t j = 0; j < r; j++) G[i * r + j] += g[i][o] * g[j][o] / B;
    }
    NG_CHECK_VEC_CLOSE(ad * ad, ng_kfac_batch_A(k, l), A, TOL_EXACT);
    NG_CHECK_VEC_CLOSE(r * r, ng_kfac_batch_G(k, l), G, TOL_FD);
  }
  ng_mlp_ws_destroy(ws);
  ng_kfac_destroy(k);
  ng_mlp_destroy(mlp);
  free(theta);
  free(tp);
}

static void test_gn_factors_brute_force(void) {
  static const size_t h1[1] = {4}, h2[2] = {4, 5};
  check_gn_factors(0, NULL);
  check_gn_factors(1, h1); /* the last hidden layer: the one mlp.h's cache leaves out */
  check_gn_factors(2, h2);
}

/* ---- against the exact Fisher ------------------------------------------------------------ */

/* A linear map's Gauss-Newton matrix is E[a a^T] (x) I, which K-FAC holds exactly (G = I):
 * checked against fisher.h's dense Fisher of the Gaussian model with log std 0 on the same
 * MLP (M = I on the means), and its preconditioned gradient against a dense solve. */
static void test_gn_exact_linear(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 5, 0);
  ng_model_t *m;
  NG_CHECK_OK(ng_model_create(&m, 3, 0, NULL, NG_ACT_TANH,
                              (ng_dist_t){.kind = NG_DIST_GAUSSIAN, .dim = 2},
                              NG_LOGSTD_STATE_INDEPENDENT));
  const ng_mlp_t *mlp = ng_model_mlp(m);
  size_t n = ng_model_n_params(m), nm = ng_model_n_mlp_params(m); /* 8 + 2 log stds */
  double *theta = calloc(n, sizeof *theta), x[B * 3];
  random_fill(&rng, nm, theta, 0.7); /* log stds 0: sigma = 1 */
  random_fill(&rng, B * 3, x, 1.0);
  ng_fisher_t *f;
  NG_CHECK_OK(ng_fisher_create(&f, m, B));
  NG_CHECK_OK(ng_fisher_set_point(f, theta, B, x));
  double *Fd = malloc(n * n * sizeof *Fd), *Fk = calloc(nm * nm, sizeof *Fk);
  double *Fm = malloc(nm * nm * sizeof *Fm);
  NG_CHECK_OK(ng_fisher_dense(f, Fd));
  for (size_t i = 0; i < nm; i++) memcpy(Fm + i * nm, Fd + i * n, nm * sizeof(double));
  ng_kfac_t *k;
  NG_CHECK_OK(ng_kfac_create_mlp(&k, mlp, B));
  NG_CHECK_OK(ng_kfac_forward(k, theta, B, x));
  NG_CHECK_OK(ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 0, NULL, NULL));
  const double eye[4] = {1, 0, 0, 1};
  NG_CHECK_VEC_CLOSE(4, ng_kfac_batch_G(k, 0), eye, TOL_EXACT);
  ng_test_kron_block(mlp, nm, 0, ng_kfac_batch_A(k, 0), ng_kfac_batch_G(k, 0), Fk);
  NG_CHECK_VEC_CLOSE(nm * nm, Fk, Fm, TOL_EXACT);
  double g[8], s[8], s2[8];
  random_fill(&rng, nm, g, 1.0);
  NG_CHECK_STATUS(ng_kfac_precondition(k, g, s), NG_EINVAL); /* not inverted yet */
  NG_CHECK_OK(ng_kfac_update_running(k, 0.9));
  NG_CHECK_OK(ng_kfac_invert(k, 1e-14));
  NG_CHECK_OK(ng_kfac_precondition(k, g, s));
  NG_CHECK_OK(ng_cholesky_factor(nm, Fm, 0.0));
  NG_CHECK_OK(ng_cholesky_solve(nm, Fm, g, s2));
  NG_CHECK_VEC_CLOSE(nm, s, s2, TOL_SOLVE);
  ng_kfac_destroy(k);
  ng_fisher_destroy(f);
  ng_model_destroy(m);
  free(theta);
  free(Fd);
  free(Fk);
  free(Fm);
}

/* One dense layer, softmax head, 3 classes: F = E[abar abar^T (x) M(x)] with
 * M = diag(pi) - pi pi^T, K-FAC = E[abar abar^T] (x) E[M]. */
static void test_linear_softmax(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 8, 0);
  ng_model_t *m;
  NG_CHECK_OK(ng_model_create(&m, 3, 0, NULL, NG_ACT_TANH,
                              (ng_dist_t){.kind = NG_DIST_CATEGORICAL, .dim = 3},
                              NG_LOGSTD_STATE_INDEPENDENT));
  const ng_mlp_t *mlp = ng_model_mlp(m);
  const size_t n = ng_model_n_params(m); /* 3 x 3 + 3 */
  double theta[12], x[B * 3], Fd[144], Fk[144];
  random_fill(&rng, B * 3, x, 1.0);
  ng_fisher_t *f;
  ng_kfac_t *k;
  NG_CHECK_OK(ng_fisher_create(&f, m, B));
  NG_CHECK_OK(ng_kfac_create(&k, m, B));
  for (int general = 0; general < 2; general++) {
    /* W = 0: pi = softmax(b) on every row, so E[a a^T (x) M] = E[a a^T] (x) M exactly */
    memset(theta, 0, sizeof theta);
    if (general) random_fill(&rng, 9, theta, 0.9);
    theta[9] = 0.4, theta[10] = -0.7, theta[11] = 0.1;
    NG_CHECK_OK(ng_fisher_set_point(f, theta, B, x));
    NG_CHECK_OK(ng_fisher_dense(f, Fd));
    NG_CHECK_OK(ng_kfac_forward(k, theta, B, x));
    NG_CHECK_OK(ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 0, NULL, NULL));
    memset(Fk, 0, sizeof Fk);
    ng_test_kron_block(mlp, n, 0, ng_kfac_batch_A(k, 0), ng_kfac_batch_G(k, 0), Fk);
    /* G = E[diag(pi) - pi pi^T], pi by hand */
    double G[9] = {0};
    for (size_t b = 0; b < B; b++) {
      double z[3], pi[3], mx = -INFINITY, sum = 0.0;
      for (size_t i = 0; i < 3; i++) {
        z[i] = theta[9 + i];
        for (size_t j = 0; j < 3; j++) z[i] += theta[i * 3 + j] * x[b * 3 + j];
        if (z[i] > mx) mx = z[i];
      }
      for (size_t i = 0; i < 3; i++) sum += (pi[i] = exp(z[i] - mx));
      for (size_t i = 0; i < 3; i++) pi[i] /= sum;
      for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) G[i * 3 + j] += ((i == j) * pi[i] - pi[i] * pi[j]) / B;
    }
    NG_CHECK_VEC_CLOSE(9, ng_kfac_batch_G(k, 0), G, TOL_EXACT);
    if (!general) {
      NG_CHECK_VEC_CLOSE(n * n, Fk, Fd, TOL_EXACT);
    } else {
      /* the bias-bias block (abar's last entry is 1) is E[M] = G in both */
      double bk[9], bd[9];
      for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
          bk[i * 3 + j] = Fk[(9 + i) * n + 9 + j];
          bd[i * 3 + j] = Fd[(9 + i) * n + 9 + j];
        }
      NG_CHECK_VEC_CLOSE(9, bk, bd, TOL_EXACT);
      NG_CHECK(ng_test_rel_err(n * n, Fk, Fd, 1e-300) > 1e-3);
    }
  }
  ng_kfac_destroy(k);
  ng_fisher_destroy(f);
  ng_model_destroy(m);
}

/* The state as bytes: save, load into a fresh K-FAC, the same preconditioned gradient; a
 * state of the wrong size is refused. */
static void test_state_roundtrip(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 3, 0);
  size_t sizes[3] = {3, 4, 1};
  ng_act_t acts[2] = {NG_ACT_TANH, NG_ACT_IDENTITY};
  ng_mlp_t *mlp;
  NG_CHECK_OK(ng_mlp_create(&mlp, 2, sizes, acts));
  size_t n = ng_mlp_n_params(mlp);
  double theta[21], x[B * 3], g[21], s1[21], s2[21];
  random_fill(&rng, n, theta, 0.5);
  random_fill(&rng, B * 3, x, 1.0);
  random_fill(&rng, n, g, 1.0);
  ng_kfac_t *a, *b;
  NG_CHECK_OK(ng_kfac_create_mlp(&a, mlp, B));
  NG_CHECK_OK(ng_kfac_create_mlp(&b, mlp, B));
  NG_CHECK_OK(ng_kfac_forward(a, theta, B, x));
  NG_CHECK_OK(ng_kfac_batch_stats(a, theta, NG_FISHER_TRUE, 0, NULL, NULL));
  NG_CHECK_OK(ng_kfac_update_running(a, 0.9));
  NG_CHECK_OK(ng_kfac_invert(a, 0.01));
  size_t size = ng_kfac_state_size(a);
  unsigned char *buf = malloc(size);
  NG_CHECK_STATUS(ng_kfac_state_save(a, buf, size - 1), NG_ERANGE);
  NG_CHECK_OK(ng_kfac_state_save(a, buf, size));
  NG_CHECK_STATUS(ng_kfac_state_load(b, buf, size - 8), NG_EFORMAT);
  NG_CHECK_OK(ng_kfac_state_load(b, buf, size));
  NG_CHECK(ng_kfac_inverted(b) && ng_kfac_n_updates(b) == 1);
  NG_CHECK_OK(ng_kfac_precondition(a, g, s1));
  NG_CHECK_OK(ng_kfac_precondition(b, g, s2));
  NG_CHECK(memcmp(s1, s2, n * sizeof(double)) == 0);
  free(buf);
  ng_kfac_destroy(a);
  ng_kfac_destroy(b);
  ng_mlp_destroy(mlp);
}

/* ---- the reducer: two shards of one batch give the whole batch's factors ----------------- */

/* Plays the other process of a two-process allreduce: the first call (the row count) adds
 * the other shard's rows; later calls record this shard's buffer (record) or add the other
 * shard's recorded one (replay). */
typedef struct {
  int replay;
  size_t calls, other_rows;
  double *rec[8];
  size_t rec_n[8];
} shard_t;

static int shard_sum(void *ctx, double *buf, size_t n) {
  shard_t *sh = ctx;
  size_t c = sh->calls++;
  if (c == 0) {
    buf[0] += (double)sh->other_rows;
    return NG_OK;
  }
  if (c > 8) return NG_EINVAL;
  if (!sh->replay) {
    sh->rec[c - 1] = malloc(n * sizeof(double));
    memcpy(sh->rec[c - 1], buf, n * sizeof(double));
    sh->rec_n[c - 1] = n;
    return NG_OK;
  }
  if (sh->rec_n[c - 1] != n) return NG_EINVAL;
  for (size_t i = 0; i < n; i++) buf[i] += sh->rec[c - 1][i];
  return NG_OK;
}

static void test_reducer_shards(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 17, 0);
  ng_model_t *m;
  const size_t hidden[1] = {4};
  NG_CHECK_OK(ng_model_create(&m, 3, 1, hidden, NG_ACT_TANH,
                              (ng_dist_t){.kind = NG_DIST_CATEGORICAL, .dim = 3},
                              NG_LOGSTD_STATE_INDEPENDENT));
  size_t n = ng_model_n_params(m);
  double *theta = malloc(n * sizeof *theta), x[B * 3];
  random_fill(&rng, n, theta, 0.7);
  random_fill(&rng, B * 3, x, 1.0);
  ng_kfac_t *whole, *a, *b;
  NG_CHECK_OK(ng_kfac_create(&whole, m, B));
  NG_CHECK_OK(ng_kfac_create(&a, m, B));
  NG_CHECK_OK(ng_kfac_create(&b, m, B));
  NG_CHECK_OK(ng_kfac_forward(whole, theta, B, x));
  NG_CHECK_OK(ng_kfac_batch_stats(whole, theta, NG_FISHER_TRUE, 0, NULL, NULL));
  /* shard b: rows 2..5, recorded; shard a: rows 0..1, adding b's */
  shard_t sb = {.replay = 0, .other_rows = 2}, sa = {.replay = 1, .other_rows = B - 2};
  ng_reducer_t rb = {shard_sum, &sb}, ra = {shard_sum, &sa};
  NG_CHECK_OK(ng_kfac_set_reducer(b, &rb));
  NG_CHECK_OK(ng_kfac_set_reducer(a, &ra));
  NG_CHECK_OK(ng_kfac_forward(b, theta, B - 2, x + 2 * 3));
  NG_CHECK_OK(ng_kfac_batch_stats(b, theta, NG_FISHER_TRUE, 0, NULL, NULL));
  for (size_t i = 0; i < 8; i++) sa.rec[i] = sb.rec[i], sa.rec_n[i] = sb.rec_n[i];
  NG_CHECK_OK(ng_kfac_forward(a, theta, 2, x));
  NG_CHECK_OK(ng_kfac_batch_stats(a, theta, NG_FISHER_TRUE, 0, NULL, NULL));
  NG_CHECK(sa.calls == 1 + 2 * ng_kfac_n_layers(a) && sb.calls == sa.calls);
  for (size_t l = 0; l < ng_kfac_n_layers(a); l++) {
    size_t ad = ng_mlp_size(ng_model_mlp(m), l) + 1, r = ng_mlp_size(ng_model_mlp(m), l + 1);
    NG_CHECK_VEC_CLOSE(ad * ad, ng_kfac_batch_A(a, l), ng_kfac_batch_A(whole, l), TOL_EXACT);
    NG_CHECK_VEC_CLOSE(r * r, ng_kfac_batch_G(a, l), ng_kfac_batch_G(whole, l), TOL_EXACT);
  }
  for (size_t i = 0; i < 8; i++) free(sb.rec[i]);
  ng_kfac_destroy(whole);
  ng_kfac_destroy(a);
  ng_kfac_destroy(b);
  ng_model_destroy(m);
  free(theta);
}

/* ---- the trainer ------------------------------------------------------------------------- */

static ng_rl_t *make_acktr(const char *env, int n_steps, int threads) {
  ng_rl_config_t c;
  ng_error_t err;
  ng_rl_t *t = NULL;
  if (ng_rl_config_default(&c, env, &err)) return NULL;
  c.algo = NG_ALGO_ACKTR;
  c.n_envs = 2;
  c.n_steps = n_steps;
  c.vf_minibatch = n_steps / 2;
  c.vf_epochs = 3;
  if (ng_rl_create(&t, &c, &err) != NG_OK) {
    fprintf(stderr, "create: %s\n", err.message);
    return NULL;
  }
  if (threads > 1) NG_CHECK_OK(ng_rl_set_threads(t, threads));
  return t;
}

/* After an iteration, step_dir holds the step d = eta s taken from theta_backup (theta =
 * theta_backup - d) and the inverses are those it used: s again from grad, then
 * eta = d.s / s.s and d = eta s. */
static void check_step_rule(double lr, int trust_binds) {
  ng_rl_t *t = make_acktr("CartPole-v1", 64, 1);
  if (!t) return;
  t->cfg.acktr_lr = lr;
  ng_rl_stats_t st;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  NG_CHECK(st.step_accepted == 1 && st.update_status == NG_OK && isfinite(st.kl));
  size_t n = t->n_pol;
  double *s = malloc(n * sizeof *s), *d = t->step_dir;
  for (size_t i = 0; i < n; i++) NG_CHECK(t->theta[i] == t->theta_backup[i] - d[i]);
  NG_CHECK_OK(ng_kfac_precondition(t->pol_kfac, t->grad, s));
  double gs = ng_vec_dot(n, t->grad, s), eta = ng_vec_dot(n, d, s) / ng_vec_dot(n, s, s);
  double want = sqrt(2.0 * t->cfg.max_kl / gs);
  NG_CHECK(trust_binds ? want < lr : lr < want);
  if (!trust_binds) want = lr;
  NG_CHECK(fabs(eta - want) <= 1e-9 * want);
  double dmax = 0.0;
  for (size_t i = 0; i < n; i++) dmax = fmax(dmax, fabs(d[i]));
  for (size_t i = 0; i < n; i++) NG_CHECK(fabs(d[i] - eta * s[i]) <= 1e-12 * dmax);
  /* the quadratic KL estimate of the step under K-FAC's metric: eta^2 g.s <= 2 max_kl */
  NG_CHECK(eta * eta * gs <= 2.0 * t->cfg.max_kl * (1 + 1e-9));
  free(s);
  ng_rl_destroy(t);
}

static void test_step_rule(void) {
  check_step_rule(1e6, 1);  /* the trust region binds */
  check_step_rule(1e-6, 0); /* the learning-rate cap binds */
}

/* Two checkpoints hold the same bytes. */
static int same_checkpoints(ng_rl_t *a, ng_rl_t *b, const char *tag) {
  char pa[96], pb[96];
  ng_error_t err;
  snprintf(pa, sizeof pa, "test_acktr_%s_a_%d.ngc", tag, (int)getpid());
  snprintf(pb, sizeof pb, "test_acktr_%s_b_%d.ngc", tag, (int)getpid());
  NG_CHECK_OK(ng_rl_save(a, pa, &err));
  NG_CHECK_OK(ng_rl_save(b, pb, &err));
  unsigned char *ba = NULL, *bb = NULL;
  long la = ng_test_read_file(pa, &ba), lb = ng_test_read_file(pb, &bb);
  int same = la > 32 && la == lb && memcmp(ba, bb, (size_t)la) == 0;
  free(ba);
  free(bb);
  remove(pa);
  remove(pb);
  return same;
}

/* save after 2 iterations, load, 3 more = 5 straight, bit for bit (K-FAC states included) */
static void check_resume(const char *env) {
  ng_rl_t *a = make_acktr(env, 64, 1), *b = make_acktr(env, 64, 1);
  if (!a || !b) return;
  ng_rl_stats_t st;
  ng_error_t err;
  char p[96];
  snprintf(p, sizeof p, "test_acktr_resume_%d.ngc", (int)getpid());
  for (int i = 0; i < 5; i++) NG_CHECK_OK(ng_rl_iterate(a, &st, &err));
  for (int i = 0; i < 2; i++) NG_CHECK_OK(ng_rl_iterate(b, &st, &err));
  NG_CHECK_OK(ng_rl_save(b, p, &err));
  ng_rl_destroy(b);
  b = NULL;
  NG_CHECK_OK(ng_rl_load(&b, p, &err));
  remove(p);
  if (!b) {
    ng_rl_destroy(a);
    return;
  }
  NG_CHECK(ng_rl_config(b)->algo == NG_ALGO_ACKTR && ng_kfac_n_updates(b->pol_kfac) == 2);
  for (int i = 0; i < 3; i++) NG_CHECK_OK(ng_rl_iterate(b, &st, &err));
  NG_CHECK(same_checkpoints(a, b, "resume"));
  ng_rl_destroy(a);
  ng_rl_destroy(b);
}

static void test_resume(void) {
  check_resume("CartPole-v1");
  check_resume("Pendulum-v1");
}

static void test_threads(void) {
  ng_rl_t *a = make_acktr("Pendulum-v1", 128, 1), *b = make_acktr("Pendulum-v1", 128, 2);
  if (!a || !b) return;
  ng_rl_stats_t st;
  ng_error_t err;
  for (int i = 0; i < 3; i++) {
    NG_CHECK_OK(ng_rl_iterate(a, &st, &err));
    NG_CHECK_OK(ng_rl_iterate(b, &st, &err));
  }
  NG_CHECK(same_checkpoints(a, b, "threads"));
  ng_rl_destroy(a);
  ng_rl_destroy(b);
}

/* A reducer that makes the value fit's first gradient sum NaN (its buffer is n_vf + 2). */
typedef struct {
  size_t n;
  int hits;
} poison_t;

static int poison_sum(void *ctx, double *buf, size_t n) {
  poison_t *p = ctx;
  if (n == p->n && p->hits++ == 0) buf[0] = NAN;
  return NG_OK;
}

/* An iteration that fails after the policy's K-FAC step (in the value fit) puts back the
 * policy, the value function and both K-FACs' running state, and the run goes on. */
static void test_failed_iteration_restores(void) {
  ng_rl_t *t = make_acktr("CartPole-v1", 64, 1);
  if (!t) return;
  ng_rl_stats_t st;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  size_t np = t->n_pol, nv = t->n_vf, kp = ng_kfac_state_size(t->pol_kfac),
         kv = ng_kfac_state_size(t->vf_kfac);
  double *th = malloc(np * sizeof *th), *vth = malloc(nv * sizeof *vth);
  unsigned char *sp = malloc(kp), *sv = malloc(kv), *sp2 = malloc(kp), *sv2 = malloc(kv);
  memcpy(th, t->theta, np * sizeof *th);
  memcpy(vth, t->vtheta, nv * sizeof *vth);
  NG_CHECK_OK(ng_kfac_state_save(t->pol_kfac, sp, kp));
  NG_CHECK_OK(ng_kfac_state_save(t->vf_kfac, sv, kv));
  poison_t p = {nv + 2, 0};
  ng_reducer_t red = {poison_sum, &p};
  NG_CHECK_OK(ng_rl_set_reducer(t, &red));
  NG_CHECK_STATUS(ng_rl_iterate(t, &st, &err), NG_ENONFINITE);
  NG_CHECK(p.hits >= 1 && strstr(err.message, "value fit") != NULL);
  NG_CHECK_OK(ng_kfac_state_save(t->pol_kfac, sp2, kp));
  NG_CHECK_OK(ng_kfac_state_save(t->vf_kfac, sv2, kv));
  NG_CHECK(memcmp(th, t->theta, np * sizeof *th) == 0);
  NG_CHECK(memcmp(vth, t->vtheta, nv * sizeof *vth) == 0);
  NG_CHECK(memcmp(sp, sp2, kp) == 0 && memcmp(sv, sv2, kv) == 0);
  NG_CHECK(ng_kfac_n_updates(t->pol_kfac) == 1 && ng_rl_iteration(t) == 1);
  NG_CHECK_OK(ng_rl_set_reducer(t, NULL));
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  NG_CHECK(ng_rl_iteration(t) == 2 && ng_kfac_n_updates(t->pol_kfac) == 2);
  free(th);
  free(vth);
  free(sp);
  free(sv);
  free(sp2);
  free(sv2);
  ng_rl_destroy(t);
}

int main(void) {
  NG_TEST_RUN(test_gn_factors_brute_force);
  NG_TEST_RUN(test_gn_exact_linear);
  NG_TEST_RUN(test_linear_softmax);
  NG_TEST_RUN(test_state_roundtrip);
  NG_TEST_RUN(test_reducer_shards);
  NG_TEST_RUN(test_step_rule);
  NG_TEST_RUN(test_resume);
  NG_TEST_RUN(test_threads);
  NG_TEST_RUN(test_failed_iteration_restores);
  NG_TEST_END();
}
