/* The supervised loss -mean log p(y | x), its gradient, and metrics over a data set. */
#include <math.h>
#include <string.h>

#include "natgrad/linalg.h"
#include "natgrad/supervised.h"

int ng_sup_loss_grad(const ng_model_t *m, ng_model_ws_t *ws, const double *theta, size_t batch,
                     const double *x, const double *y, double *loss, double *grad) {
  if (!m || !ws || !theta || !x || !y || !loss || batch == 0) return NG_EINVAL;
  int st = ng_model_forward(m, theta, ws, batch, x, NULL);
  if (st != NG_OK) return st;
  ng_dist_t dist = ng_model_dist(m);
  size_t np = ng_model_n_dist_params(m), na = ng_dist_action_size(&dist);
  const double *p = ng_model_ws_params(ws);
  double sum = 0.0;
  for (size_t b = 0; b < batch; b++) {
    double lp;
    st = ng_dist_logp(&dist, p + b * np, y + b * na, &lp);
    if (st != NG_OK) return st;
    sum += lp;
  }
  if (!isfinite(sum)) return NG_ENONFINITE;
  *loss = -sum / (double)batch;
  if (!grad) return NG_OK;
  size_t n = ng_model_n_params(m);
  ng_vec_zero(n, grad);
  st = ng_model_logp_vjp(m, theta, ws, batch, y, NULL, grad);
  if (st != NG_OK) return st;
  ng_vec_scale(n, -1.0 / (double)batch, grad);
  return ng_all_finite(n, grad) ? NG_OK : NG_ENONFINITE;
}

int ng_sup_evaluate(const ng_model_t *m, ng_model_ws_t *ws, const double *theta,
                    const ng_dataset_t *ds, ng_sup_metrics_t *out) {
  if (!m || !ws || !theta || !ds || !out || !ds->x || !ds->y || ds->n == 0) return NG_EINVAL;
  ng_dist_t dist = ng_model_dist(m);
  size_t np = ng_model_n_dist_params(m), na = ng_dist_action_size(&dist);
  if (ds->n_features != ng_model_n_in(m) || ds->n_targets != na) return NG_EINVAL;
  size_t chunk = ng_model_ws_max_batch(ws);
  double nll = 0.0, sq = 0.0;
  size_t correct = 0;
  for (size_t i0 = 0; i0 < ds->n; i0 += chunk) {
    size_t b_n = ds->n - i0 < chunk ? ds->n - i0 : chunk;
    const double *x = ds->x + i0 * ds->n_features, *y = ds->y + i0 * na;
    int st = ng_model_forward(m, theta, ws, b_n, x, NULL);
    if (st != NG_OK) return st;
    const double *p = ng_model_ws_params(ws);
    for (size_t b = 0; b < b_n; b++) {
      const double *pb = p + b * np, *yb = y + b * na;
      double lp;
      st = ng_dist_logp(&dist, pb, yb, &lp);
      if (st != NG_OK) return st;
      nll -= lp;
      if (dist.kind == NG_DIST_CATEGORICAL) {
        double mode;
        st = ng_dist_mode(&dist, pb, &mode);
        if (st != NG_OK) return st;
        correct += mode == yb[0];
      } else if (dist.kind == NG_DIST_GAUSSIAN) { /* pb starts with the na means */
        for (size_t j = 0; j < na; j++) sq += (pb[j] - yb[j]) * (pb[j] - yb[j]);
      }
    }
  }
  out->n = ds->n;
  out->loss = nll / (double)ds->n;
  out->accuracy = dist.kind == NG_DIST_CATEGORICAL ? (double)correct / (double)ds->n : NAN;
  out->rmse = dist.kind == NG_DIST_GAUSSIAN ? sqrt(sq / (double)(ds->n * na)) : NAN;
  return isfinite(out->loss) ? NG_OK : NG_ENONFINITE;
}
