/* Running mean and variance as Stable-Baselines3's RunningMeanStd keeps them (prior count
 * 1e-4, mean 0, var 1; batches merged in the parallel form of Chan et al.), and the
 * VecNormalize transform x -> clip((x - mean) / sqrt(var + 1e-8)). */
#include <math.h>
#include <string.h>

#include "rl/rl_impl.h"

int ng__rms_init(ng__rms_t *r, size_t dim) {
  memset(r, 0, sizeof *r);
  if (dim == 0) return NG_EINVAL;
  r->mean = ng_calloc(dim, sizeof *r->mean);
  r->var = ng_calloc(dim, sizeof *r->var);
  if (!r->mean || !r->var) {
    ng__rms_free(r);
    return NG_ENOMEM;
  }
  r->dim = dim;
  ng__rms_reset(r);
  return NG_OK;
}

void ng__rms_free(ng__rms_t *r) {
  ng_free(r->mean);
  ng_free(r->var);
  memset(r, 0, sizeof *r);
}

void ng__rms_reset(ng__rms_t *r) {
  r->count = NG_RL_RMS_INIT_COUNT;
  for (size_t i = 0; i < r->dim; i++) {
    r->mean[i] = 0.0;
    r->var[i] = 1.0;
  }
}

void ng__rms_merge(ng__rms_t *r, double batch_count, const double *batch_mean,
                   const double *batch_var) {
  if (!(batch_count > 0)) return;
  double n = r->count, tot = n + batch_count;
  for (size_t i = 0; i < r->dim; i++) {
    double d = batch_mean[i] - r->mean[i];
    double m2 = r->var[i] * n + batch_var[i] * batch_count + d * d * n * batch_count / tot;
    r->mean[i] = r->mean[i] + d * batch_count / tot;
    r->var[i] = m2 / tot;
  }
  r->count = tot;
}

/* Shapes: x rows x dim; work 1 + 2 dim = [count | sum (x - m) | sum (x - m)^2]. The shift by
 * the current mean m keeps the one-pass moments accurate (m is close to the batch mean). */
void ng__rms_moments(const ng__rms_t *r, size_t rows, const double *x, double *work) {
  size_t d = r->dim;
  double *s1 = work + 1, *s2 = work + 1 + d;
  work[0] = (double)rows;
  for (size_t j = 0; j < d; j++) s1[j] = s2[j] = 0.0;
  for (size_t b = 0; b < rows; b++)
    for (size_t j = 0; j < d; j++) {
      double c = x[b * d + j] - r->mean[j];
      s1[j] += c;
      s2[j] += c * c;
    }
}

int ng__rms_apply(ng__rms_t *r, double *work) {
  size_t d = r->dim;
  double *s1 = work + 1, *s2 = work + 1 + d;
  if (!ng_all_finite(1 + 2 * d, work)) return NG_ENONFINITE;
  double n = work[0];
  if (!(n > 0)) return NG_OK;
  /* batch mean m + s1/n, batch variance s2/n - (s1/n)^2; reuse s1, s2 for them */
  for (size_t j = 0; j < d; j++) {
    double mu = s1[j] / n;
    double var = s2[j] / n - mu * mu;
    s1[j] = r->mean[j] + mu;
    s2[j] = var > 0.0 ? var : 0.0;
  }
  ng__rms_merge(r, n, s1, s2);
  return NG_OK;
}

int ng__rms_update(ng__rms_t *r, size_t rows, const double *x, const ng_reducer_t *red,
                   double *work) {
  ng__rms_moments(r, rows, x, work);
  int s = ng_reduce_sum(red, work, 1 + 2 * r->dim);
  return s ? s : ng__rms_apply(r, work);
}

void ng__rms_normalize(const ng__rms_t *r, size_t rows, const double *x, double clip,
                       double *out) {
  size_t d = r->dim;
  for (size_t b = 0; b < rows; b++)
    for (size_t j = 0; j < d; j++) {
      double z = (x[b * d + j] - r->mean[j]) / sqrt(r->var[j] + NG_RL_NORM_EPS);
      out[b * d + j] = z < -clip ? -clip : (z > clip ? clip : z);
    }
}
