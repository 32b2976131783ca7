/* The model: an MLP (owned) plus a distribution head, over theta = [mlp | head].
 *
 * Per input row b the model produces P_b = [y_b | theta_head] (dist.h layout):
 *   categorical (k):              MLP out k,  no head
 *   MultiDiscrete (nvec):         MLP out sum nvec, no head
 *   MultiBinary (d):              MLP out d,  no head
 *   Gaussian, NG_LOGSTD_NETWORK:  MLP out 2d, no head
 *   Gaussian, state independent:  MLP out d,  head d (the log stds)
 * Without a head the MLP output IS the P array; with one, the head's columns are broadcast
 * in (forward, jvp: ng__rows) or summed out (vjp, vjp_sq: ng__head_vjp). Those two helpers
 * and ng_model_mlp_cotangent are the only code that knows where the head sits.
 */
#include "natgrad/model.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "natgrad/mlp.h"

struct ng_model {
  ng_mlp_t *mlp;
  ng_dist_t dist;
  ng_logstd_mode_t logstd;
  size_t n_in;
  size_t n_out;      /* MLP outputs */
  size_t n_dp;       /* distribution parameters per row (columns of P) */
  size_t n_act;      /* doubles per action */
  size_t n_mlp;      /* MLP parameters: theta[0, n_mlp) */
  size_t n_head;     /* head parameters: theta[n_mlp, n_params), P's last n_head columns */
  size_t n_params;   /* n_mlp + n_head */
  size_t n_layers;
};

struct ng_model_ws {
  const ng_model_t *m;
  ng_mlp_ws_t *mlp_ws;
  size_t max_batch;
  size_t batch;      /* rows of the last successful forward (0: none yet) */
  double *p;         /* max_batch x n_dp: P of the last forward */
  double *dp;        /* max_batch x n_dp: cotangent rows built by the batch helpers */
  double *dy;        /* max_batch x n_out: MLP-output (co)tangents (with a head, else NULL) */
};

/* ---- create / query -------------------------------------------------------------------- */

int ng_model_create(ng_model_t **out, size_t n_in, size_t n_hidden, const size_t *hidden,
                    ng_act_t hidden_act, ng_dist_t dist, ng_logstd_mode_t logstd) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (n_in == 0 || (n_hidden > 0 && !hidden)) return NG_EINVAL;
  if (hidden_act != NG_ACT_IDENTITY && hidden_act != NG_ACT_TANH && hidden_act != NG_ACT_RELU)
    return NG_EINVAL;
  size_t n_dp = ng_dist_n_params(&dist);
  if (n_dp == 0) return NG_EINVAL;
  int si = 0;
  if (dist.kind == NG_DIST_GAUSSIAN) {
    if (logstd != NG_LOGSTD_STATE_INDEPENDENT && logstd != NG_LOGSTD_NETWORK) return NG_EINVAL;
    si = logstd == NG_LOGSTD_STATE_INDEPENDENT;
  } else {
    logstd = NG_LOGSTD_STATE_INDEPENDENT; /* ignored for a head of logits */
  }
  for (size_t i = 0; i < n_hidden; i++)
    if (hidden[i] == 0) return NG_EINVAL;
  if (n_hidden >= SIZE_MAX / 2 - 2) return NG_EINVAL;

  size_t n_layers = n_hidden + 1;
  size_t *sizes = ng_malloc((n_layers + 1) * sizeof *sizes);
  ng_act_t *acts = ng_malloc(n_layers * sizeof *acts);
  ng_model_t *m = ng_calloc(1, sizeof *m);
  int st = NG_ENOMEM;
  if (!sizes || !acts || !m) goto fail;
  size_t n_out = si ? dist.dim : n_dp;
  sizes[0] = n_in;
  for (size_t i = 0; i < n_hidden; i++) {
    sizes[i + 1] = hidden[i];
    acts[i] = hidden_act;
  }
  sizes[n_layers] = n_out;
  acts[n_hidden] = NG_ACT_IDENTITY;
  st = ng_mlp_create(&m->mlp, n_layers, sizes, acts);
  if (st != NG_OK) goto fail;
  /* the kept copy reads the same whatever the caller left in counts the kind does not use
   * (a descriptor filled field by field may leave them indeterminate) */
  m->dist = dist;
  size_t used = dist.kind == NG_DIST_MULTI_DISCRETE ? dist.dim : 0;
  memset(m->dist.nvec + used, 0, (NG_DIST_MAX_COMPONENTS - used) * sizeof m->dist.nvec[0]);
  m->logstd = logstd;
  m->n_in = n_in;
  m->n_out = n_out;
  m->n_dp = n_dp;
  m->n_act = ng_dist_action_size(&dist);
  m->n_mlp = ng_mlp_n_params(m->mlp);
  m->n_head = si ? dist.dim : 0;
  m->n_params = m->n_mlp + m->n_head;
  m->n_layers = n_layers;
  ng_free(sizes);
  ng_free(acts);
  *out = m;
  return NG_OK;
fail:
  ng_free(sizes);
  ng_free(acts);
  ng_free(m);
  return st;
}

void ng_model_destroy(ng_model_t *m) {
  if (!m) return;
  ng_mlp_destroy(m->mlp);
  ng_free(m);
}

size_t ng_model_n_params(const ng_model_t *m) { return m ? m->n_params : 0; }
size_t ng_model_n_in(const ng_model_t *m) { return m ? m->n_in : 0; }
ng_dist_t ng_model_dist(const ng_model_t *m) {
  ng_dist_t none = {.kind = NG_DIST_GAUSSIAN, .dim = 0};
  return m ? m->dist : none;
}
ng_logstd_mode_t ng_model_logstd_mode(const ng_model_t *m) {
  return m ? m->logstd : NG_LOGSTD_STATE_INDEPENDENT;
}
size_t ng_model_n_dist_params(const ng_model_t *m) { return m ? m->n_dp : 0; }
const ng_mlp_t *ng_model_mlp(const ng_model_t *m) { return m ? m->mlp : NULL; }
size_t ng_model_n_mlp_params(const ng_model_t *m) { return m ? m->n_mlp : 0; }
size_t ng_model_n_head_params(const ng_model_t *m) { return m ? m->n_head : 0; }

/* ---- initialisation ----------------------------------------------------------------------- */

int ng_model_init(const ng_model_t *m, double *theta, double hidden_gain, double out_gain,
                  double init_log_std, ng_rng_t *rng) {
  if (!m || !theta || !rng) return NG_EINVAL;
  if (!isfinite(hidden_gain) || !isfinite(out_gain) || !isfinite(init_log_std))
    return NG_ENONFINITE;
  double *gains = ng_malloc(m->n_layers * sizeof *gains);
  if (!gains) return NG_ENOMEM;
  for (size_t l = 0; l + 1 < m->n_layers; l++) gains[l] = hidden_gain;
  gains[m->n_layers - 1] = out_gain;
  int st = ng_mlp_init_orthogonal(m->mlp, theta, gains, rng);
  ng_free(gains);
  if (st != NG_OK) return st;
  if (m->dist.kind != NG_DIST_GAUSSIAN) return NG_OK;
  size_t d = m->dist.dim;
  if (m->n_head) {
    for (size_t j = 0; j < d; j++) theta[m->n_mlp + j] = init_log_std;
  } else {
    /* The output layer's bias follows its weights; its entries d..2d-1 feed the log stds. */
    size_t last = m->n_layers - 1;
    size_t b_off = ng_mlp_layer_offset(m->mlp, last) +
                   ng_mlp_size(m->mlp, last + 1) * ng_mlp_size(m->mlp, last);
    for (size_t j = 0; j < d; j++) theta[b_off + d + j] = init_log_std;
  }
  return NG_OK;
}

/* ---- workspace ---------------------------------------------------------------------------- */

int ng_model_ws_create(ng_model_ws_t **out, const ng_model_t *m, size_t max_batch) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (!m || max_batch == 0) return NG_EINVAL;
  if (max_batch > SIZE_MAX / sizeof(double) / m->n_dp ||
      max_batch > SIZE_MAX / sizeof(double) / m->n_out)
    return NG_EINVAL;
  ng_model_ws_t *ws = ng_calloc(1, sizeof *ws);
  if (!ws) return NG_ENOMEM;
  ws->m = m;
  ws->max_batch = max_batch;
  int st = ng_mlp_ws_create(&ws->mlp_ws, m->mlp, max_batch);
  if (st != NG_OK) {
    ng_free(ws);
    return st;
  }
  ws->p = ng_malloc(max_batch * m->n_dp * sizeof(double));
  ws->dp = ng_malloc(max_batch * m->n_dp * sizeof(double));
  if (m->n_head) ws->dy = ng_malloc(max_batch * m->n_out * sizeof(double));
  if (!ws->p || !ws->dp || (m->n_head && !ws->dy)) {
    ng_model_ws_destroy(ws);
    return NG_ENOMEM;
  }
  *out = ws;
  return NG_OK;
}

void ng_model_ws_destroy(ng_model_ws_t *ws) {
  if (!ws) return;
  ng_mlp_ws_destroy(ws->mlp_ws);
  ng_free(ws->p);
  ng_free(ws->dp);
  ng_free(ws->dy);
  ng_free(ws);
}

size_t ng_model_ws_max_batch(const ng_model_ws_t *ws) { return ws ? ws->max_batch : 0; }

int ng_model_ws_set_pool(ng_model_ws_t *ws, ng_pool_t *pool) {
  return ws ? ng_mlp_ws_set_pool(ws->mlp_ws, pool) : NG_EINVAL;
}

const double *ng_model_ws_params(const ng_model_ws_t *ws) { return ws ? ws->p : NULL; }
ng_mlp_ws_t *ng_model_ws_mlp(ng_model_ws_t *ws) { return ws ? ws->mlp_ws : NULL; }

/* ---- the head ------------------------------------------------------------------------------ */

/* P (B x n_dp) = rows [y_b | vec_head] from y (B x n_out). The map (y, theta_head) -> P is
 * linear, so with vec = theta it is the forward's P and with a tangent v its JVP. */
static void ng__rows(const ng_model_t *m, size_t batch, const double *y, const double *vec,
                     double *p) {
  size_t np = m->n_dp, n_out = m->n_out;
  for (size_t b = 0; b < batch; b++) {
    memcpy(p + b * np, y + b * n_out, n_out * sizeof(double));
    memcpy(p + b * np + n_out, vec + m->n_mlp, m->n_head * sizeof(double));
  }
}

/* out_head += sum_b dP_b's head columns (sq: their squares). Every row's head columns are
 * the same parameters, so their gradient is the column sum; row b's own gradient of head
 * parameter j is its cotangent dP[b, n_out + j] itself. */
static void ng__head_vjp(const ng_model_t *m, size_t batch, const double *dp, double *out,
                         int sq) {
  size_t np = m->n_dp, n_out = m->n_out;
  double *oh = out + m->n_mlp;
  for (size_t b = 0; b < batch; b++)
    for (size_t j = 0; j < m->n_head; j++) {
      double g = dp[b * np + n_out + j];
      oh[j] += sq ? g * g : g;
    }
}

/* dY (B x n_out) = dP's first n_out columns. */
static void ng__split(const ng_model_t *m, size_t batch, const double *dp, double *dy) {
  size_t np = m->n_dp, n_out = m->n_out;
  for (size_t b = 0; b < batch; b++) memcpy(dy + b * n_out, dp + b * np, n_out * sizeof(double));
}

int ng_model_mlp_cotangent(const ng_model_t *m, size_t batch, const double *dp, double *dy) {
  if (!m || !dp || !dy || dp == dy) return NG_EINVAL;
  ng__split(m, batch, dp, dy);
  return NG_OK;
}

/* The MLP-output cotangents of dP: dP itself without a head, else its columns in ws->dy. */
static const double *ng__mlp_dy(const ng_model_t *m, ng_model_ws_t *ws, size_t batch,
                                const double *dp) {
  if (!m->n_head) return dp;
  ng__split(m, batch, dp, ws->dy);
  return ws->dy;
}

/* ---- passes ------------------------------------------------------------------------------- */

/* A pass after a forward: m/ws match, 1 <= batch <= rows of that forward. */
static int ng__check_after_forward(const ng_model_t *m, const ng_model_ws_t *ws, size_t batch) {
  if (!m || !ws || ws->m != m) return NG_EINVAL;
  if (batch == 0 || batch > ws->batch) return NG_EINVAL;
  return NG_OK;
}

/* x: B x n_in, theta: n_params -> P: B x n_dp (in ws, copied to p_out if given). */
int ng_model_forward(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                     const double *x, double *p_out) {
  if (!m || !theta || !ws || !x || ws->m != m) return NG_EINVAL;
  if (batch == 0 || batch > ws->max_batch) return NG_EINVAL;
  ws->batch = 0;
  /* Checked before P is formed, not only through P: a ReLU can turn a NaN input into 0.
   * ng_mlp_forward checks the MLP's parameters and x; the head is checked here (checking
   * all of theta twice was a tenth of the rollout's per-step forward). */
  if (!ng_all_finite(m->n_head, theta + m->n_mlp)) return NG_ENONFINITE;
  size_t np = m->n_dp;
  int st = ng_mlp_forward(m->mlp, theta, ws->mlp_ws, batch, x, m->n_head ? NULL : ws->p);
  if (st != NG_OK) return st;
  if (m->n_head) ng__rows(m, batch, ng_mlp_ws_output(ws->mlp_ws), theta, ws->p);
  if (!ng_all_finite(batch * np, ws->p)) return NG_ENONFINITE;
  ws->batch = batch;
  if (p_out) memcpy(p_out, ws->p, batch * np * sizeof(double));
  return NG_OK;
}

/* dP: B x n_dp -> dtheta (n_params) += sum_b J_b^T dP_b. */
int ng_model_vjp(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                 const double *dp, double *dtheta) {
  int st = ng__check_after_forward(m, ws, batch);
  if (st != NG_OK) return st;
  if (!theta || !dp || !dtheta) return NG_EINVAL;
  size_t np = m->n_dp;
  if (!ng_all_finite(batch * np, dp)) return NG_ENONFINITE;
  st = ng_mlp_vjp(m->mlp, theta, ws->mlp_ws, batch, ng__mlp_dy(m, ws, batch, dp), dtheta, NULL);
  if (st != NG_OK) return st;
  ng__head_vjp(m, batch, dp, dtheta, 0);
  return NG_OK;
}

/* v: n_params -> dP: B x n_dp, dP_b = J_b v. */
int ng_model_jvp(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                 const double *v, double *dp) {
  int st = ng__check_after_forward(m, ws, batch);
  if (st != NG_OK) return st;
  if (!theta || !v || !dp) return NG_EINVAL;
  if (!ng_all_finite(m->n_params, v)) return NG_ENONFINITE;
  st = ng_mlp_jvp(m->mlp, theta, ws->mlp_ws, batch, v, m->n_head ? ws->dy : dp);
  if (st != NG_OK) return st;
  if (m->n_head) ng__rows(m, batch, ws->dy, v, dp);
  return NG_OK;
}

/* dP: B x n_dp -> out (n_params) += sum_b (J_b^T dP_b)^2 elementwise. */
int ng_model_vjp_sq(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                    const double *dp, double *out) {
  int st = ng__check_after_forward(m, ws, batch);
  if (st != NG_OK) return st;
  if (!theta || !dp || !out) return NG_EINVAL;
  size_t np = m->n_dp;
  if (!ng_all_finite(batch * np, dp)) return NG_ENONFINITE;
  st = ng_mlp_vjp_sq(m->mlp, theta, ws->mlp_ws, batch, ng__mlp_dy(m, ws, batch, dp), out);
  if (st != NG_OK) return st;
  ng__head_vjp(m, batch, dp, out, 1);
  return NG_OK;
}

/* ---- batch helpers ------------------------------------------------------------------------- */

/* A: B x n_act -> logp: B. */
int ng_model_logp(const ng_model_t *m, ng_model_ws_t *ws, size_t batch, const double *a,
                  double *logp) {
  int st = ng__check_after_forward(m, ws, batch);
  if (st != NG_OK) return st;
  if (!a || !logp) return NG_EINVAL;
  size_t np = m->n_dp, na = m->n_act;
  for (size_t b = 0; b < batch; b++) {
    st = ng_dist_logp(&m->dist, ws->p + b * np, a + b * na, &logp[b]);
    if (st != NG_OK) return st;
  }
  return NG_OK;
}

/* A: B x n_act, w: B (NULL: ones) -> dtheta += sum_b w_b grad log p_b(a_b). */
int ng_model_logp_vjp(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                      const double *a, const double *w, double *dtheta) {
  int st = ng__check_after_forward(m, ws, batch);
  if (st != NG_OK) return st;
  if (!theta || !a || !dtheta) return NG_EINVAL;
  size_t np = m->n_dp, na = m->n_act;
  for (size_t b = 0; b < batch; b++) {
    double *row = ws->dp + b * np;
    st = ng_dist_logp_grad(&m->dist, ws->p + b * np, a + b * na, row);
    if (st != NG_OK) return st;
    if (w) {
      if (!isfinite(w[b])) return NG_ENONFINITE;
      for (size_t j = 0; j < np; j++) row[j] *= w[b];
    }
  }
  return ng_model_vjp(m, theta, ws, batch, ws->dp, dtheta);
}

/* P_old: B x n_dp -> sum_b KL(P_old_b || P_b), dtheta += its gradient. */
int ng_model_kl_sum(const ng_model_t *m, const double *theta, ng_model_ws_t *ws, size_t batch,
                    const double *p_old, double *kl_sum, double *dtheta) {
  int st = ng__check_after_forward(m, ws, batch);
  if (st != NG_OK) return st;
  if (!p_old || !kl_sum || (dtheta && !theta)) return NG_EINVAL;
  size_t np = m->n_dp;
  double sum = 0.0;
  for (size_t b = 0; b < batch; b++) {
    double kl;
    st = ng_dist_kl(&m->dist, p_old + b * np, ws->p + b * np, &kl);
    if (st != NG_OK) return st;
    sum += kl;
    if (dtheta) {
      st = ng_dist_kl_grad_q(&m->dist, p_old + b * np, ws->p + b * np, ws->dp + b * np);
      if (st != NG_OK) return st;
    }
  }
  *kl_sum = sum;
  if (!dtheta) return NG_OK;
  return ng_model_vjp(m, theta, ws, batch, ws->dp, dtheta);
}

/* -> sum_b H(P_b), dtheta += its gradient. */
int ng_model_entropy_sum(const ng_model_t *m, const double *theta, ng_model_ws_t *ws,
                         size_t batch, double *h_sum, double *dtheta) {
  int st = ng__check_after_forward(m, ws, batch);
  if (st != NG_OK) return st;
  if (!h_sum || (dtheta && !theta)) return NG_EINVAL;
  size_t np = m->n_dp;
  double sum = 0.0;
  for (size_t b = 0; b < batch; b++) {
    double h;
    st = ng_dist_entropy(&m->dist, ws->p + b * np, &h);
    if (st != NG_OK) return st;
    sum += h;
    if (dtheta) {
      st = ng_dist_entropy_grad(&m->dist, ws->p + b * np, ws->dp + b * np);
      if (st != NG_OK) return st;
    }
  }
  *h_sum = sum;
  if (!dtheta) return NG_OK;
  return ng_model_vjp(m, theta, ws, batch, ws->dp, dtheta);
}
