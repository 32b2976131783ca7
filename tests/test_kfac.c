/* K-FAC: the factors A = E[a a^T] and G = E[g g^T] against their definitions computed by
 * brute force (an independent per-row forward pass, g by central differences through it),
 * for one to four layers so every way mlp's cotangent cache holds a layer is covered; the
 * loss and gradient bit for bit those of ng_sup_loss_grad (the same mlp passes); the mlp
 * read access K-FAC builds on (activations, derivative rule); sampled G converging to the
 * exact expectation; exactness where theory says so (one dense layer, Gaussian head:
 * A (x) G equals the dense Fisher block of fisher.h); the damped Kronecker inverse against a
 * dense solve; running averages; K-FAC's step as Newton's on linear least squares; bad
 * inputs. */
#include <stdlib.h>
#include <string.h>

#include "natgrad/fisher.h"
#include "natgrad/linalg.h"
#include "natgrad/supervised.h"
#include "ng_test.h"
#include "ng_test_kfac.h"

#define FD_H 1e-5
#define TOL_FD 1e-7      /* central differences of smooth O(1) functions, relative to max */
#define TOL_EXACT 1e-12  /* the same sums in another order */
#define TOL_SOLVE 1e-9   /* dense solves of systems with condition <= ~1e4 */
#define TOL_MC 0.05      /* sampled G with 20000 draws per row vs exact, relative to max */
#define TOL_TINY_DAMPING 1e-4 /* factored damping 1e-14 perturbs A (x) G by ~gamma = 1e-7 times
                                 the factors, relative to their smallest eigenvalue ~1e-2 */
#define BATCH 5

/* ---- an independent reference network ----------------------------------------------------------
 */

typedef struct {
  size_t L;
  size_t sizes[5];
  ng_act_t acts[4];
  size_t off[4];
} ref_net_t;

static void ref_from_model(const ng_model_t *m, ref_net_t *r) {
  const ng_mlp_t *mlp = ng_model_mlp(m);
  r->L = ng_mlp_n_layers(mlp);
  size_t off = 0;
  for (size_t l = 0; l <= r->L; l++) r->sizes[l] = ng_mlp_size(mlp, l);
  for (size_t l = 0; l < r->L; l++) {
    r->acts[l] = ng_mlp_act(mlp, l);
    r->off[l] = off; /* the documented layout: W_l (r x c) then b_l (r) */
    off += r->sizes[l + 1] * r->sizes[l] + r->sizes[l + 1];
  }
}

static double ref_act(ng_act_t a, double z) {
  return a == NG_ACT_TANH ? tanh(z) : a == NG_ACT_RELU ? (z > 0 ? z : 0) : z;
}

/* Runs one row from layer `from` (whose pre-activation z is given, width sizes[from+1]) to
 * the output; act_out[l] receives a_l for l >= from. */
static void ref_from_z(const ref_net_t *r, const double *theta, size_t from, const double *z,
                       double act_out[][64], double *y) {
  double cur[64], nxt[64];
  size_t w = r->sizes[from + 1];
  for (size_t i = 0; i < w; i++) cur[i] = ref_act(r->acts[from], z[i]);
  memcpy(act_out[from], cur, w * sizeof(double));
  for (size_t l = from + 1; l < r->L; l++) {
    size_t ro = r->sizes[l + 1], c = r->sizes[l];
    const double *W = theta + r->off[l], *b = W + ro * c;
    for (size_t i = 0; i < ro; i++) {
      double s = b[i];
      for (size_t j = 0; j < c; j++) s += W[i * c + j] * cur[j];
      nxt[i] = ref_act(r->acts[l], s);
    }
    memcpy(cur, nxt, ro * sizeof(double));
    memcpy(act_out[l], cur, ro * sizeof(double));
  }
  memcpy(y, cur, r->sizes[r->L] * sizeof(double));
}

/* z_l of one row given the input of layer l. */
static void ref_z(const ref_net_t *r, const double *theta, size_t l, const double *in,
                  double *z) {
  size_t ro = r->sizes[l + 1], c = r->sizes[l];
  const double *W = theta + r->off[l], *b = W + ro * c;
  for (size_t i = 0; i < ro; i++) {
    double s = b[i];
    for (size_t j = 0; j < c; j++) s += W[i * c + j] * in[j];
    z[i] = s;
  }
}

/* Full forward of one row: acts[l] = a_l, and its output y. */
static void ref_forward(const ref_net_t *r, const double *theta, const double *x,
                        double acts[][64], double *y) {
  double z[64];
  ref_z(r, theta, 0, x, z);
  ref_from_z(r, theta, 0, z, acts, y);
}

/* P of a row from the MLP output y (the model's documented head layouts). */
static void ref_params(const ng_model_t *m, const double *theta, const double *y, double *p) {
  ng_dist_t d = ng_model_dist(m);
  size_t n_out = ng_mlp_n_out(ng_model_mlp(m));
  memcpy(p, y, n_out * sizeof(double));
  if (d.kind == NG_DIST_GAUSSIAN && ng_model_logstd_mode(m) == NG_LOGSTD_STATE_INDEPENDENT)
    memcpy(p + n_out, theta + ng_mlp_n_params(ng_model_mlp(m)), d.dim * sizeof(double));
}

/* The scalar w . P(z_l) of one row as a function of z_l. */
static double ref_dot_p(const ng_model_t *m, const ref_net_t *r, const double *theta, size_t l,
                        const double *z, const double *w) {
  double acts[4][64], y[64], p[64];
  ref_from_z(r, theta, l, z, acts, y);
  ref_params(m, theta, y, p);
  double s = 0;
  for (size_t i = 0; i < ng_model_n_dist_params(m); i++) s += w[i] * p[i];
  return s;
}

/* g = d(w . P)/d z_l for one row by central differences. */
static void ref_grad_z(const ng_model_t *m, const ref_net_t *r, const double *theta,
                       const double *x, size_t l, const double *w, double *g) {
  double acts[4][64], y[64], z[64];
  ref_forward(r, theta, x, acts, y);
  const double *in = l ? acts[l - 1] : x;
  ref_z(r, theta, l, in, z);
  for (size_t i = 0; i < r->sizes[l + 1]; i++) {
    double zi = z[i];
    z[i] = zi + FD_H;
    double fp = ref_dot_p(m, r, theta, l, z, w);
    z[i] = zi - FD_H;
    double fm = ref_dot_p(m, r, theta, l, z, w);
    z[i] = zi;
    g[i] = (fp - fm) / (2 * FD_H);
  }
}

/* ---- fixtures
 * ------------------------------------------------------------------------------------ */

static ng_model_t *model(size_t n_in, size_t nh, const size_t *h, ng_act_t act, ng_dist_t d,
                         ng_logstd_mode_t mode) {
  ng_model_t *m = NULL;
  if (ng_model_create(&m, n_in, nh, h, act, d, mode) != NG_OK) {
    fprintf(stderr, "model_create failed\n");
    exit(2);
  }
  return m;
}

static void random_fill(ng_rng_t *rng, size_t n, double *x, double sd) {
  for (size_t i = 0; i < n; i++) x[i] = sd * ng_rng_normal(rng);
}

/* ---- factors against their definitions
 * ----------------------------------------------------------- */

static void check_factors(ng_model_t *m, ng_fisher_kind_t kind) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 11, 0);
  size_t n = ng_model_n_params(m), n_in = ng_model_n_in(m), np = ng_model_n_dist_params(m);
  ng_dist_t dist = ng_model_dist(m);
  double *theta = malloc(n * sizeof *theta), x[BATCH * 8], y[BATCH * 4];
  random_fill(&rng, n, theta, 0.7);
  random_fill(&rng, BATCH * n_in, x, 1.0);
  /* labels: sampled from the model's own rows, via the reference forward */
  ref_net_t r;
  ref_from_model(m, &r);
  size_t na = ng_dist_action_size(&dist);
  for (size_t b = 0; b < BATCH; b++) {
    double acts[4][64], yo[64], p[64];
    ref_forward(&r, theta, x + b * n_in, acts, yo);
    ref_params(m, theta, yo, p);
    ng_dist_sample(&dist, p, &rng, y + b * na);
  }
  ng_kfac_t *k;
  NG_CHECK_OK(ng_kfac_create(&k, m, BATCH));
  double loss;
  NG_CHECK_OK(ng_kfac_loss_grad(k, theta, BATCH, x, y, &loss, NULL));
  NG_CHECK_OK(ng_kfac_batch_stats(k, theta, kind, 0, y, NULL));

  for (size_t l = 0; l < r.L; l++) {
    size_t c = r.sizes[l], ro = r.sizes[l + 1], ad = c + 1;
    double *A = calloc(ad * ad, sizeof *A), *G = calloc(ro * ro, sizeof *G);
    for (size_t b = 0; b < BATCH; b++) {
      double acts[4][64], yo[64], p[64], abar[65];
      ref_forward(&r, theta, x + b * n_in, acts, yo);
      ref_params(m, theta, yo, p);
      const double *in = l ? acts[l - 1] : x + b * n_in;
      memcpy(abar, in, c * sizeof(double));
      abar[c] = 1.0;
      for (size_t i = 0; i < ad; i++)
        for (size_t j = 0; j < ad; j++) A[i * ad + j] += abar[i] * abar[j] / BATCH;
      /* weights w whose w . P has the z-gradient g we want */
      double w[64], g[64];
      if (kind == NG_FISHER_EMPIRICAL) {
        /* g = d(-log p(y_b))/dz = J^T (-grad_P log p): linear in P-cotangent at this point */
        ng_dist_logp_grad(&dist, p, y + b * na, w);
        ref_grad_z(m, &r, theta, x + b * n_in, l, w, g);
        for (size_t i = 0; i < ro; i++)
          for (size_t j = 0; j < ro; j++) G[i * ro + j] += g[i] * g[j] / BATCH;
      } else {
        /* E over y~ of g g^T = sum over the rows u of a square-root factor of M(P) */
        double u[64 * 64];
        ng_dist_fisher_factor(&dist, p, u);
        for (size_t q = 0; q < np; q++) {
          ref_grad_z(m, &r, theta, x + b * n_in, l, u + q * np, g);
          for (size_t i = 0; i < ro; i++)
            for (size_t j = 0; j < ro; j++) G[i * ro + j] += g[i] * g[j] / BATCH;
        }
      }
    }
    NG_CHECK_VEC_CLOSE(ad * ad, ng_kfac_batch_A(k, l), A, TOL_EXACT);
    NG_CHECK_VEC_CLOSE(ro * ro, ng_kfac_batch_G(k, l), G, TOL_FD);
    free(A);
    free(G);
  }
  ng_kfac_destroy(k);
  free(theta);
}

/* mlp.h's cotangent cache skips the last hidden layer (L-2), which K-FAC recomputes: one
 * hidden layer (only it skipped), two (one stored below it), three (stored layers below it
 * reached through the cache's own backward), and no hidden layer (nothing skipped) in the
 * exactness test below. ReLU too: the brute force's differences straddle no kink with these
 * seeds and FD_H (a kink would show as a failure, not pass silently). */
static void test_factors_brute_force(void) {
  static const size_t h2[2] = {4, 3}, h3[3] = {4, 5, 3};
  const ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 3},
                  gau = {.kind = NG_DIST_GAUSSIAN, .dim = 2};
  const ng_dist_t md = {.kind = NG_DIST_MULTI_DISCRETE, .dim = 2, .nvec = {2, 3}},
                  mb = {.kind = NG_DIST_MULTI_BINARY, .dim = 3};
  const struct {
    size_t n_in, n_hidden;
    const size_t *hidden;
    ng_act_t act;
    ng_dist_t dist;
    ng_logstd_mode_t logstd;
    int empirical_too; /* also check the empirical Fisher's factors */
  } cases[] = {
      {3, 2, h2, NG_ACT_TANH, cat, NG_LOGSTD_STATE_INDEPENDENT, 1},
      {3, 1, h2, NG_ACT_TANH, gau, NG_LOGSTD_NETWORK, 0},
      {2, 2, h2, NG_ACT_TANH, gau, NG_LOGSTD_STATE_INDEPENDENT, 1},
      {3, 3, h3, NG_ACT_TANH, cat, NG_LOGSTD_STATE_INDEPENDENT, 1},
      {3, 3, h3, NG_ACT_RELU, gau, NG_LOGSTD_STATE_INDEPENDENT, 0},
      {3, 1, h2, NG_ACT_RELU, cat, NG_LOGSTD_STATE_INDEPENDENT, 0},
      {3, 2, h2, NG_ACT_TANH, md, NG_LOGSTD_STATE_INDEPENDENT, 1},
      {3, 3, h3, NG_ACT_TANH, mb, NG_LOGSTD_STATE_INDEPENDENT, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ng_model_t *m = model(cases[i].n_in, cases[i].n_hidden, cases[i].hidden, cases[i].act,
                          cases[i].dist, cases[i].logstd);
    check_factors(m, NG_FISHER_TRUE);
    if (cases[i].empirical_too) check_factors(m, NG_FISHER_EMPIRICAL);
    ng_model_destroy(m);
  }
}

/* K-FAC's loss and gradient (ng_sup_loss_grad on K-FAC's own model workspace): equal BIT
 * FOR BIT to the model's, for every head layout, zero to three hidden layers, tanh and ReLU, and
 * on a batch smaller than the workspace's. */
static void test_loss_grad_matches_model(void) {
  size_t h2[2] = {5, 4}, h3[3] = {6, 5, 4};
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 3},
            gau = {.kind = NG_DIST_GAUSSIAN, .dim = 2};
  enum { NM = 6 };
  ng_model_t *ms[NM] = {model(3, 2, h2, NG_ACT_RELU, cat, NG_LOGSTD_STATE_INDEPENDENT),
                        model(3, 2, h2, NG_ACT_TANH, gau, NG_LOGSTD_STATE_INDEPENDENT),
                        model(3, 1, h2, NG_ACT_TANH, gau, NG_LOGSTD_NETWORK),
                        model(3, 0, NULL, NG_ACT_IDENTITY, cat, NG_LOGSTD_STATE_INDEPENDENT),
                        model(3, 3, h3, NG_ACT_TANH, cat, NG_LOGSTD_STATE_INDEPENDENT),
                        model(3, 3, h3, NG_ACT_RELU, gau, NG_LOGSTD_STATE_INDEPENDENT)};
  ng_rng_t rng;
  ng_rng_seed(&rng, 3, 0);
  for (int t = 0; t < NM; t++) {
    ng_model_t *m = ms[t];
    size_t n = ng_model_n_params(m);
    ng_dist_t d = ng_model_dist(m);
    double *theta = malloc(n * sizeof *theta), *g1 = malloc(n * sizeof *g1),
           *g2 = malloc(n * sizeof *g2), x[BATCH * 3], y[BATCH * 2];
    random_fill(&rng, n, theta, 0.6);
    random_fill(&rng, BATCH * 3, x, 1.0);
    for (size_t b = 0; b < BATCH; b++)
      if (d.kind == NG_DIST_CATEGORICAL) y[b] = (double)(b % 3);
      else random_fill(&rng, 2, y + 2 * b, 1.0);
    ng_kfac_t *k;
    ng_model_ws_t *ws;
    NG_CHECK_OK(ng_kfac_create(&k, m, BATCH));
    NG_CHECK_OK(ng_model_ws_create(&ws, m, BATCH));
    for (size_t rows = BATCH; rows >= BATCH - 2; rows -= 2) {
      double l1 = 0, l2 = 1, l3 = 2;
      memset(g1, 0xff, n * sizeof *g1); /* NaN: the gradient OVERWRITES */
      NG_CHECK_OK(ng_kfac_loss_grad(k, theta, rows, x, y, &l1, g1));
      NG_CHECK_OK(ng_sup_loss_grad(m, ws, theta, rows, x, y, &l2, g2));
      NG_CHECK(memcmp(&l1, &l2, sizeof l1) == 0);
      NG_CHECK(memcmp(g1, g2, n * sizeof *g1) == 0);
      /* the loss alone is the same number */
      NG_CHECK_OK(ng_kfac_loss_grad(k, theta, rows, x, y, &l3, NULL));
      NG_CHECK(memcmp(&l3, &l2, sizeof l3) == 0);
    }
    /* and it is the gradient: a central difference of the loss along a random direction */
    double *v = malloc(n * sizeof *v), *tp = malloc(n * sizeof *tp), lp, lm;
    random_fill(&rng, n, v, 1.0);
    for (size_t i = 0; i < n; i++) tp[i] = theta[i] + FD_H * v[i];
    NG_CHECK_OK(ng_kfac_loss_grad(k, tp, BATCH, x, y, &lp, NULL));
    for (size_t i = 0; i < n; i++) tp[i] = theta[i] - FD_H * v[i];
    NG_CHECK_OK(ng_kfac_loss_grad(k, tp, BATCH, x, y, &lm, NULL));
    double l0;
    NG_CHECK_OK(ng_kfac_loss_grad(k, theta, BATCH, x, y, &l0, g1));
    NG_CHECK_CLOSE(ng_vec_dot(n, g1, v), (lp - lm) / (2 * FD_H), TOL_FD,
                   TOL_FD * ng_vec_norm2(n, g1) * ng_vec_norm2(n, v));
    free(v);
    free(tp);
    ng_kfac_destroy(k);
    ng_model_ws_destroy(ws);
    free(theta);
    free(g1);
    free(g2);
    ng_model_destroy(m);
  }
}

/* The mlp read access K-FAC builds on: activation i has width sizes[i], 0 the input copy and
 * L the output; none before a forward or after a failed one; the derivative rule read off
 * the outputs matches central differences of the activation. */
static void test_mlp_read_access(void) {
  size_t sizes[4] = {3, 4, 5, 2};
  ng_act_t acts[3] = {NG_ACT_TANH, NG_ACT_RELU, NG_ACT_IDENTITY};
  ng_mlp_t *mlp;
  ng_mlp_ws_t *ws;
  NG_CHECK_OK(ng_mlp_create(&mlp, 3, sizes, acts));
  NG_CHECK_OK(ng_mlp_ws_create(&ws, mlp, BATCH));
  NG_CHECK(ng_mlp_ws_activation(ws, 0) == NULL && ng_mlp_ws_batch(ws) == 0);
  ng_rng_t rng;
  ng_rng_seed(&rng, 41, 0);
  size_t n = ng_mlp_n_params(mlp);
  double *theta = malloc(n * sizeof *theta), x[BATCH * 3], y[BATCH * 2];
  random_fill(&rng, n, theta, 0.8);
  random_fill(&rng, BATCH * 3, x, 1.0);
  NG_CHECK_OK(ng_mlp_forward(mlp, theta, ws, BATCH - 1, x, y));
  NG_CHECK(ng_mlp_ws_batch(ws) == BATCH - 1);
  NG_CHECK(memcmp(ng_mlp_ws_activation(ws, 0), x, (BATCH - 1) * 3 * sizeof(double)) == 0);
  NG_CHECK(ng_mlp_ws_activation(ws, 3) == ng_mlp_ws_output(ws));
  NG_CHECK(memcmp(ng_mlp_ws_activation(ws, 3), y, (BATCH - 1) * 2 * sizeof(double)) == 0);
  NG_CHECK(ng_mlp_ws_activation(ws, 4) == NULL && ng_mlp_ws_activation(NULL, 0) == NULL);
  /* each activation is its layer applied to the previous one (independent loop; libm's tanh
   * against mlp's own, within a few ulp) */
  for (size_t l = 0; l < 3; l++) {
    const double *in = ng_mlp_ws_activation(ws, l), *out = ng_mlp_ws_activation(ws, l + 1);
    size_t ro = sizes[l + 1], c = sizes[l];
    const double *W = theta + ng_mlp_layer_offset(mlp, l), *bias = W + ro * c;
    for (size_t b = 0; b < BATCH - 1; b++)
      for (size_t i = 0; i < ro; i++) {
        double z = bias[i];
        for (size_t j = 0; j < c; j++) z += W[i * c + j] * in[b * c + j];
        NG_CHECK_CLOSE(out[b * ro + i], ref_act(acts[l], z), TOL_EXACT, TOL_EXACT);
      }
  }
  /* derivative rule: g .* act'(z) read off a = act(z), against (act(z+h) - act(z-h)) / 2h */
  double z[6] = {-1.3, -0.2, 0.05, 0.4, 1.7, 3.0}, a[6], g[6], want[6];
  for (int t = 0; t < 3; t++) {
    ng_act_t act = (ng_act_t)t;
    NG_CHECK_OK(ng_act_apply(act, 6, z, a));
    for (int i = 0; i < 6; i++) {
      g[i] = 0.5 + i;
      want[i] = g[i] * (ref_act(act, z[i] + FD_H) - ref_act(act, z[i] - FD_H)) / (2 * FD_H);
    }
    NG_CHECK_OK(ng_act_mul_deriv(act, 6, a, g));
    NG_CHECK_VEC_CLOSE(6, g, want, TOL_FD);
  }
  NG_CHECK_STATUS(ng_act_mul_deriv((ng_act_t)7, 6, a, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_act_mul_deriv(NG_ACT_TANH, 6, NULL, g), NG_EINVAL);
  NG_CHECK_STATUS(ng_act_mul_deriv(NG_ACT_TANH, 6, a, NULL), NG_EINVAL);
  NG_CHECK_OK(ng_act_mul_deriv(NG_ACT_TANH, 0, NULL, NULL));
  /* a failed forward leaves nothing to read */
  x[0] = NAN;
  NG_CHECK_STATUS(ng_mlp_forward(mlp, theta, ws, BATCH, x, NULL), NG_ENONFINITE);
  NG_CHECK(ng_mlp_ws_activation(ws, 1) == NULL && ng_mlp_ws_batch(ws) == 0);
  free(theta);
  ng_mlp_ws_destroy(ws);
  ng_mlp_destroy(mlp);
}

/* G from sampled labels converges to the exact expectation. */
static void test_sampled_converges(void) {
  size_t h[1] = {4};
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  ng_model_t *m = model(3, 1, h, NG_ACT_TANH, cat, NG_LOGSTD_STATE_INDEPENDENT);
  ng_rng_t rng;
  ng_rng_seed(&rng, 5, 0);
  size_t n = ng_model_n_params(m);
  double *theta = malloc(n * sizeof *theta), x[BATCH * 3], y[BATCH] = {0, 1, 2, 0, 1};
  random_fill(&rng, n, theta, 0.8);
  random_fill(&rng, BATCH * 3, x, 1.0);
  ng_kfac_t *k;
  NG_CHECK_OK(ng_kfac_create(&k, m, BATCH));
  double loss;
  NG_CHECK_OK(ng_kfac_loss_grad(k, theta, BATCH, x, y, &loss, NULL));
  NG_CHECK_OK(ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 0, y, NULL));
  double G0[16], G1[16], Ge[16];
  memcpy(G0, ng_kfac_batch_G(k, 0), sizeof G0);
  NG_CHECK_OK(ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 20000, y, &rng));
  memcpy(G1, ng_kfac_batch_G(k, 0), sizeof G1);
  NG_CHECK_VEC_CLOSE(16, G1, G0, TOL_MC);
  /* the empirical factor is a different matrix: with these labels it is far off */
  NG_CHECK_OK(ng_kfac_batch_stats(k, theta, NG_FISHER_EMPIRICAL, 0, y, NULL));
  memcpy(Ge, ng_kfac_batch_G(k, 0), sizeof Ge);
  NG_CHECK(ng_test_rel_err(16, Ge, G0, 1e-300) > 10 * TOL_MC);
  ng_kfac_destroy(k);
  free(theta);
  ng_model_destroy(m);
}

/* ---- exactness: one dense layer, Gaussian head
 * --------------------------------------------------- */

/* The K-FAC block of layer l of m's MLP over theta's indices (tests/ng_test_kfac.h). */
static void kron_block(const ng_model_t *m, size_t l, const double *A, const double *G,
                       double *F) {
  ng_test_kron_block(ng_model_mlp(m), ng_model_n_params(m), l, A, G, F);
}

static void test_exact_one_layer_gaussian(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 9, 0);
  ng_dist_t gau = {.kind = NG_DIST_GAUSSIAN, .dim = 2};
  ng_logstd_mode_t modes[1] = {NG_LOGSTD_STATE_INDEPENDENT};
  ng_model_t *m = model(3, 0, NULL, NG_ACT_IDENTITY, gau, modes[0]);
  size_t n = ng_model_n_params(m); /* 2 x 3 + 2 + 2 log stds = 10 */
  double *theta = malloc(n * sizeof *theta), x[BATCH * 3], y[BATCH * 2];
  random_fill(&rng, n, theta, 0.5);
  theta[n - 2] = 0.3; /* sigma != 1 so M is not the identity */
  theta[n - 1] = -0.4;
  random_fill(&rng, BATCH * 3, x, 1.0);
  random_fill(&rng, BATCH * 2, y, 1.0);
  ng_kfac_t *k;
  ng_fisher_t *f;
  NG_CHECK_OK(ng_kfac_create(&k, m, BATCH));
  NG_CHECK_OK(ng_fisher_create(&f, m, BATCH));
  double loss, *Fd = malloc(n * n * sizeof *Fd), *Fk = calloc(n * n, sizeof *Fk);
  NG_CHECK_OK(ng_kfac_loss_grad(k, theta, BATCH, x, y, &loss, NULL));
  NG_CHECK_OK(ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 0, y, NULL));
  NG_CHECK_OK(ng_fisher_set_point(f, theta, BATCH, x));
  NG_CHECK_OK(ng_fisher_dense(f, Fd));
  kron_block(m, 0, ng_kfac_batch_A(k, 0), ng_kfac_batch_G(k, 0), Fk);
  /* the head's block: 2 I, and no cross terms (what ng_kfac_precondition assumes) */
  Fk[(n - 2) * n + n - 2] = 2.0;
  Fk[(n - 1) * n + n - 1] = 2.0;
  NG_CHECK_VEC_CLOSE(n * n, Fk, Fd, TOL_EXACT);
  /* and the preconditioned gradient is the exact damped natural gradient (F + damping-ish)^-1
   * as the dense solve of the damped Kronecker matrix, checked in test_precondition; here,
   * with tiny damping, it is F^{-1} g itself */
  double *g = malloc(n * sizeof *g), *s = malloc(n * sizeof *s), *s2 = malloc(n * sizeof *s2);
  random_fill(&rng, n, g, 1.0);
  NG_CHECK_OK(ng_kfac_update_running(k, 0.95));
  NG_CHECK_OK(ng_kfac_invert(k, 1e-14));
  NG_CHECK_OK(ng_kfac_precondition(k, g, s));
  NG_CHECK_OK(ng_cholesky_factor(n, Fd, 0.0));
  NG_CHECK_OK(ng_cholesky_solve(n, Fd, g, s2));
  NG_CHECK_VEC_CLOSE(n, s, s2, TOL_TINY_DAMPING);

  /* a categorical head makes M depend on x: then A (x) G is only an approximation */
  ng_dist_t cat = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  ng_model_t *mc = model(3, 0, NULL, NG_ACT_IDENTITY, cat, NG_LOGSTD_STATE_INDEPENDENT);
  size_t nc = ng_model_n_params(mc);
  ng_kfac_t *kc;
  ng_fisher_t *fc;
  NG_CHECK_OK(ng_kfac_create(&kc, mc, BATCH));
  NG_CHECK_OK(ng_fisher_create(&fc, mc, BATCH));
  double yc[BATCH] = {0, 1, 2, 1, 0}, *thc = malloc(nc * sizeof *thc);
  random_fill(&rng, nc, thc, 0.8);
  free(Fd);
  free(Fk);
  Fd = malloc(nc * nc * sizeof *Fd);
  Fk = calloc(nc * nc, sizeof *Fk);
  NG_CHECK_OK(ng_kfac_loss_grad(kc, thc, BATCH, x, yc, &loss, NULL));
  NG_CHECK_OK(ng_kfac_batch_stats(kc, thc, NG_FISHER_TRUE, 0, yc, NULL));
  NG_CHECK_OK(ng_fisher_set_point(fc, thc, BATCH, x));
  NG_CHECK_OK(ng_fisher_dense(fc, Fd));
  kron_block(mc, 0, ng_kfac_batch_A(kc, 0), ng_kfac_batch_G(kc, 0), Fk);
  NG_CHECK(ng_test_rel_err(nc * nc, Fk, Fd, 1e-300) > 1e-3);
  free(thc);
  ng_kfac_destroy(kc);
  ng_fisher_destroy(fc);
  ng_model_destroy(mc);

  ng_kfac_destroy(k);
  ng_fisher_destroy(f);
  ng_model_destroy(m);
  free(theta);
  free(Fd);
  free(Fk);
  free(g);
  free(s);
  free(s2);
}

/* ---- preconditioner, running averages
 * ------------------------------------------------------------ */

static void test_precondition_and_running(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 21, 0);
  size_t h[1] = {4};
  ng_dist_t gau = {.kind = NG_DIST_GAUSSIAN, .dim = 2};
  ng_model_t *m = model(3, 1, h, NG_ACT_TANH, gau, NG_LOGSTD_STATE_INDEPENDENT);
  size_t n = ng_model_n_params(m);
  const ng_mlp_t *mlp = ng_model_mlp(m);
  double *theta = malloc(n * sizeof *theta), x[3][BATCH * 3], y[BATCH * 2];
  random_fill(&rng, n, theta, 0.7);
  for (int t = 0; t < 3; t++) random_fill(&rng, BATCH * 3, x[t], 1.0);
  random_fill(&rng, BATCH * 2, y, 1.0);
  ng_kfac_t *k;
  NG_CHECK_OK(ng_kfac_create(&k, m, BATCH));
  double loss, A[3][5 * 5], G[3][4 * 4];
  for (int t = 0; t < 3; t++) {
    NG_CHECK_OK(ng_kfac_loss_grad(k, theta, BATCH, x[t], y, &loss, NULL));
    NG_CHECK_OK(ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 2, y, &rng));
    memcpy(A[t], ng_kfac_batch_A(k, 1), sizeof A[t]);
    memcpy(G[t], ng_kfac_batch_G(k, 1), sizeof(double) * 2 * 2);
    NG_CHECK_OK(ng_kfac_update_running(k, 0.6));
  }
  /* e_1 = 0 (copy), e_2 = min(0.6, 1/2) = 0.5, e_3 = min(0.6, 2/3) = 0.6 */
  double want[25];
  for (int i = 0; i < 25; i++) want[i] = 0.6 * (0.5 * A[0][i] + 0.5 * A[1][i]) + 0.4 * A[2][i];
  NG_CHECK_VEC_CLOSE(25, ng_kfac_A(k, 1), want, TOL_EXACT);
  for (int i = 0; i < 4; i++) want[i] = 0.6 * (0.5 * G[0][i] + 0.5 * G[1][i]) + 0.4 * G[2][i];
  NG_CHECK_VEC_CLOSE(4, ng_kfac_G(k, 1), want, TOL_EXACT);

  /* s = blockdiag((A + pi gamma I) (x) (G + gamma/pi I))^{-1} g, dense, per layer */
  const double damping = 0.05, gamma = sqrt(damping);
  double *g = malloc(n * sizeof *g), *s = malloc(n * sizeof *s);
  random_fill(&rng, n, g, 1.0);
  NG_CHECK_OK(ng_kfac_invert(k, damping));
  NG_CHECK_OK(ng_kfac_precondition(k, g, s));
  double *K = calloc(n * n, sizeof *K), *want_s = malloc(n * sizeof *want_s);
  for (size_t l = 0; l < 2; l++) {
    size_t c = ng_mlp_size(mlp, l), ro = ng_mlp_size(mlp, l + 1), ad = c + 1;
    double *Ad = malloc(ad * ad * sizeof *Ad), *Gd = malloc(ro * ro * sizeof *Gd);
    memcpy(Ad, ng_kfac_A(k, l), ad * ad * sizeof *Ad);
    memcpy(Gd, ng_kfac_G(k, l), ro * ro * sizeof *Gd);
    double ta = 0, tg = 0;
    for (size_t i = 0; i < ad; i++) ta += Ad[i * ad + i];
    for (size_t i = 0; i < ro; i++) tg += Gd[i * ro + i];
    double pi = sqrt((ta / ad) / (tg / ro));
    for (size_t i = 0; i < ad; i++) Ad[i * ad + i] += pi * gamma;
    for (size_t i = 0; i < ro; i++) Gd[i * ro + i] += gamma / pi;
    kron_block(m, l, Ad, Gd, K);
    free(Ad);
    free(Gd);
  }
  for (size_t i = ng_mlp_n_params(mlp); i < n; i++) K[i * n + i] = 2.0 + damping;
  NG_CHECK_OK(ng_cholesky_factor(n, K, 0.0));
  NG_CHECK_OK(ng_cholesky_solve(n, K, g, want_s));
  NG_CHECK_VEC_CLOSE(n, s, want_s, TOL_SOLVE);

  /* bad inputs */
  ng_kfac_t *k2;
  NG_CHECK_OK(ng_kfac_create(&k2, m, BATCH));
  NG_CHECK_STATUS(ng_kfac_batch_stats(k2, theta, NG_FISHER_TRUE, 0, y, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_kfac_invert(k2, 0.1), NG_EINVAL);
  NG_CHECK_STATUS(ng_kfac_precondition(k2, g, s), NG_EINVAL);
  NG_CHECK_STATUS(ng_kfac_loss_grad(k2, theta, BATCH + 1, x[0], y, &loss, NULL), NG_EINVAL);
  NG_CHECK_OK(ng_kfac_loss_grad(k2, theta, BATCH, x[0], y, &loss, NULL));
  NG_CHECK_STATUS(ng_kfac_batch_stats(k2, theta, NG_FISHER_TRUE, 1, y, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_kfac_batch_stats(k2, theta, NG_FISHER_EMPIRICAL, 0, NULL, NULL), NG_EINVAL);
  NG_CHECK_OK(ng_kfac_batch_stats(k2, theta, NG_FISHER_TRUE, 0, y, NULL));
  NG_CHECK_STATUS(ng_kfac_update_running(k2, 1.0), NG_EINVAL);
  NG_CHECK_OK(ng_kfac_update_running(k2, 0.9));
  NG_CHECK_STATUS(ng_kfac_invert(k2, 0.0), NG_EINVAL);
  NG_CHECK_STATUS(ng_kfac_invert(k2, NAN), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_kfac_invert(k2, -1.0), NG_EINVAL);
  theta[0] = NAN;
  NG_CHECK_STATUS(ng_kfac_loss_grad(k2, theta, BATCH, x[0], y, &loss, NULL), NG_ENONFINITE);
  /* a failed forward leaves no batch for the statistics */
  NG_CHECK_STATUS(ng_kfac_batch_stats(k2, theta, NG_FISHER_TRUE, 0, y, NULL), NG_EINVAL);
  theta[0] = 0.1;
  theta[n - 1] = INFINITY; /* a head parameter: the model, not the MLP, checks it */
  NG_CHECK_STATUS(ng_kfac_loss_grad(k2, theta, BATCH, x[0], y, &loss, NULL), NG_ENONFINITE);
  NG_CHECK_STATUS(ng_kfac_batch_stats(k2, theta, NG_FISHER_TRUE, 0, y, NULL), NG_EINVAL);
  NG_CHECK(ng_kfac_batch_A(k2, 2) == NULL && ng_kfac_n_layers(k2) == 2);
  ng_model_t *dummy = NULL;
  ng_kfac_t *k3 = (ng_kfac_t *)&k3;
  NG_CHECK_STATUS(ng_kfac_create(&k3, dummy, BATCH), NG_EINVAL);
  NG_CHECK(k3 == NULL);
  ng_kfac_destroy(k2);
  ng_kfac_destroy(k);
  ng_model_destroy(m);
  free(theta);
  free(g);
  free(s);
  free(K);
  free(want_s);
}

/* ---- K-FAC's step is Newton's on linear least squares
 * ----------------------------------------------- */

static void test_newton_on_least_squares(void) {
  enum { N = 40, D = 3 };
  ng_rng_t rng;
  ng_rng_seed(&rng, 31, 0);
  ng_dist_t gau = {.kind = NG_DIST_GAUSSIAN, .dim = 1};
  ng_model_t *m = model(D, 0, NULL, NG_ACT_IDENTITY, gau, NG_LOGSTD_STATE_INDEPENDENT);
  size_t n = ng_model_n_params(m); /* w (3), b (1), log std (1) */
  double x[N * D], y[N], theta[5] = {0, 0, 0, 0, 0};
  random_fill(&rng, N * D, x, 1.0);
  for (int i = 0; i < N; i++)
    y[i] =
        0.5 * x[i * D] - 1.0 * x[i * D + 1] + 2.0 * x[i * D + 2] + 0.3 + 0.1 * ng_rng_normal(&rng);
  /* least squares by the normal equations on [x 1] */
  double M[16] = {0}, r[4] = {0}, w[4];
  for (int i = 0; i < N; i++) {
    double a[4] = {x[i * D], x[i * D + 1], x[i * D + 2], 1.0};
    for (int p = 0; p < 4; p++) {
      r[p] += a[p] * y[i];
      for (int q = 0; q < 4; q++) M[p * 4 + q] += a[p] * a[q];
    }
  }
  NG_CHECK_OK(ng_cholesky_factor(4, M, 0.0));
  NG_CHECK_OK(ng_cholesky_solve(4, M, r, w));
  ng_sup_opt_config_t c;
  ng_sup_opt_config_default(&c, NG_OPT_KFAC);
  c.lr = 1.0;
  c.momentum = 0.0;
  c.kl_clip = 0.0;
  c.adapt_damping = 0;
  c.damping = 1e-20; /* gamma = sqrt(damping) = 1e-10 perturbs the factors */
  c.damping_min = 1e-24;
  c.fisher_samples = 0; /* exact expectation: F exactly */
  ng_sup_opt_t *o;
  ng_error_t err;
  NG_CHECK_OK(ng_sup_opt_create(&o, m, &c, N, &err));
  unsigned char mask[5] = {1, 1, 1, 1, 0}; /* fixed variance: sigma = 1 */
  NG_CHECK_OK(ng_sup_opt_set_trainable(o, mask));
  ng_sup_step_info_t info;
  NG_CHECK_OK(ng_sup_opt_step(o, theta, N, x, y, &info));
  NG_CHECK(info.refreshed == 1);
  NG_CHECK_VEC_CLOSE(4, theta, w, 1e-7);
  NG_CHECK(theta[4] == 0.0);
  (void)n;
  ng_sup_opt_destroy(o);
  ng_model_destroy(m);
}

int main(void) {
  NG_TEST_RUN(test_factors_brute_force);
  NG_TEST_RUN(test_loss_grad_matches_model);
  NG_TEST_RUN(test_mlp_read_access);
  NG_TEST_RUN(test_sampled_converges);
  NG_TEST_RUN(test_exact_one_layer_gaussian);
  NG_TEST_RUN(test_precondition_and_running);
  NG_TEST_RUN(test_newton_on_least_squares);
  NG_TEST_END();
}
