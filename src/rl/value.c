/* The value-function baseline: an MLP with one output fitted to the GAE returns by Adam on
 * the mean squared error over shuffled minibatches, as Stable-Baselines3-contrib's TRPO
 * fits its critic (n_critic_updates passes, batch_size rows per step); for ACKTR by K-FAC
 * Gauss-Newton steps on the same minibatches (src/rl/acktr.c). */
#include <math.h>
#include <string.h>

#include "rl/rl_impl.h"

int ng__adam_init(ng__adam_t *a, size_t n, double lr) {
  memset(a, 0, sizeof *a);
  if (n == 0) return NG_EINVAL;
  a->m = ng_calloc(n, sizeof *a->m);
  a->v = ng_calloc(n, sizeof *a->v);
  if (!a->m || !a->v) {
    ng__adam_free(a);
    return NG_ENOMEM;
  }
  a->n = n;
  a->hp = (ng__adam_hp_t){lr, NG_RL_ADAM_BETA1, NG_RL_ADAM_BETA2, NG_RL_ADAM_EPS};
  return NG_OK;
}

void ng__adam_free(ng__adam_t *a) {
  ng_free(a->m);
  ng_free(a->v);
  memset(a, 0, sizeof *a);
}

/* Shapes: theta, g: n. The arithmetic is src/adam.c's, shared with the supervised Adam. */
void ng__adam_step(ng__adam_t *a, double *theta, const double *g) {
  a->t++;
  ng__adam_update(a->n, &a->hp, (uint64_t)a->t, theta, a->m, a->v, g);
}

/* 1 - Var(returns - values) / Var(returns) over the batch (NaN if Var(returns) is 0), with
 * the sums reduced: [count, sum y, sum (y - v)] then the centred squares. */
static int ng__explained_variance(ng_rl_t *t, double *ev) {
  size_t n = t->batch;
  double s[3] = {(double)n, 0.0, 0.0};
  for (size_t i = 0; i < n; i++) {
    s[1] += t->b_ret[i];
    s[2] += t->b_ret[i] - t->b_val[i];
  }
  int st = ng_reduce_sum(&t->reducer, s, 3);
  if (st) return st;
  double my = s[1] / s[0], md = s[2] / s[0];
  double q[2] = {0.0, 0.0};
  for (size_t i = 0; i < n; i++) {
    double a = t->b_ret[i] - my, b = (t->b_ret[i] - t->b_val[i]) - md;
    q[0] += a * a;
    q[1] += b * b;
  }
  st = ng_reduce_sum(&t->reducer, q, 2);
  if (st) return st;
  *ev = q[0] > 0.0 ? 1.0 - q[1] / q[0] : NAN;
  return NG_OK;
}

int ng__rl_values(ng_rl_t *t, size_t rows, const double *x, double *y) {
  if (!t->vf_f32) return ng_mlp_forward(t->vf, t->vtheta, t->vf_ws, rows, x, y);
  int s = ng__mlpf_load(t->vf_f32, t->vtheta);
  return s ? s : ng__mlpf_forward(t->vf_f32, rows, x, y);
}

int ng__rl_value_fit(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err) {
  size_t n = t->batch, od = t->obs_dim, nv = t->n_vf;
  size_t mb = (size_t)t->cfg.vf_minibatch;
  int s = ng__explained_variance(t, &stats->explained_variance);
  if (s) return ng_error_set(err, s, "value fit: reducer failed (%s)", ng_strerror(s));

  for (int epoch = 0; epoch < t->cfg.vf_epochs; epoch++) {
    /* Fisher-Yates from the trainer's own stream */
    for (size_t i = 0; i < n; i++) t->perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
      size_t j = (size_t)ng_rng_below(&t->rng, (uint64_t)i + 1);
      size_t tmp = t->perm[i];
      t->perm[i] = t->perm[j];
      t->perm[j] = tmp;
    }
    for (size_t start = 0; start < n; start += mb) {
      size_t b = n - start < mb ? n - start : mb;
      for (size_t r = 0; r < b; r++) {
        size_t src = t->perm[start + r];
        memcpy(t->mb_obs + r * od, t->b_obs + src * od, od * sizeof(double));
        t->mb_target[r] = t->b_ret[src];
      }
      /* ACKTR's K-FAC keeps the forward it makes its factors from; f32 writes its values
       * to mb_dy, each read below before its cotangent overwrites it */
      ng_mlp_ws_t *ws = t->vf_kfac ? ng_kfac_mlp_ws(t->vf_kfac) : t->vf_ws;
      if (t->vf_f32) {
        s = ng__mlpf_load(t->vf_f32, t->vtheta);
        if (!s) s = ng__mlpf_forward(t->vf_f32, b, t->mb_obs, t->mb_dy);
      } else {
        s = t->vf_kfac ? ng_kfac_forward(t->vf_kfac, t->vtheta, b, t->mb_obs)
                       : ng_mlp_forward(t->vf, t->vtheta, ws, b, t->mb_obs, NULL);
      }
      if (s) return ng_error_set(err, s, "value fit: forward failed (%s)", ng_strerror(s));
      const double *y = t->vf_f32 ? t->mb_dy : ng_mlp_ws_output(ws);
      double loss = 0.0;
      for (size_t r = 0; r < b; r++) {
        double d = y[r] - t->mb_target[r];
        t->mb_dy[r] = 2.0 * d; /* d/dy of the summed squared error */
        loss += d * d;
      }
      memset(t->vgrad, 0, nv * sizeof(double));
      s = t->vf_f32 ? ng__mlpf_vjp(t->vf_f32, b, t->mb_dy, t->vgrad)
                    : ng_mlp_vjp(t->vf, t->vtheta, ws, b, t->mb_dy, t->vgrad, NULL);
      if (s) return ng_error_set(err, s, "value fit: backward failed (%s)", ng_strerror(s));
      t->vgrad[nv] = loss;
      t->vgrad[nv + 1] = (double)b;
      s = ng_reduce_sum(&t->reducer, t->vgrad, nv + 2);
      if (s) return ng_error_set(err, s, "value fit: reducer failed (%s)", ng_strerror(s));
      if (!ng_all_finite(nv + 2, t->vgrad) || !(t->vgrad[nv + 1] > 0))
        return ng_error_set(err, NG_ENONFINITE, "value fit: non-finite loss or gradient in "
                            "epoch %d, minibatch %zu", epoch + 1, start / mb + 1);
      if (!t->vf_kfac) {
        ng_vec_scale(nv, 1.0 / t->vgrad[nv + 1], t->vgrad);
        ng__adam_step(&t->adam, t->vtheta, t->vgrad);
        continue;
      }
      /* the gradient of (1/2) mean (V - target)^2, whose Gauss-Newton matrix K-FAC holds */
      ng_vec_scale(nv, 0.5 / t->vgrad[nv + 1], t->vgrad);
      if ((s = ng__rl_acktr_value_step(t)))
        return ng_error_set(err, s, "value fit: K-FAC step failed in epoch %d, minibatch %zu "
                            "(%s)", epoch + 1, start / mb + 1, ng_strerror(s));
    }
  }

  /* the loss after fitting, over the whole batch */
  s = ng__rl_values(t, n, t->b_obs, t->b_w);
  if (s) return ng_error_set(err, s, "value fit: forward failed (%s)", ng_strerror(s));
  const double *y = t->b_w;
  double q[2] = {0.0, (double)n};
  for (size_t i = 0; i < n; i++) {
    double d = y[i] - t->b_ret[i];
    q[0] += d * d;
  }
  s = ng_reduce_sum(&t->reducer, q, 2);
  if (s) return ng_error_set(err, s, "value fit: reducer failed (%s)", ng_strerror(s));
  stats->vf_loss = q[0] / q[1];
  if (!isfinite(stats->vf_loss))
    return ng_error_set(err, NG_ENONFINITE, "value fit: non-finite value loss");
  return NG_OK;
}
