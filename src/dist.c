/* Output distributions in closed form: diagonal Gaussian in (mu, log_std), categorical over
 * logits. One parameter row at a time; no allocation (the categorical softmax is recomputed
 * on the fly from a log-sum-exp, or staged in the caller's output buffer). */
#include "natgrad/dist.h"

#include <math.h>

#define NG__LOG_2PI 1.83787706640934548356065947281123527 /* log(2 pi) */
#define NG__SQRT2 1.41421356237309504880168872420969808

/* ---- validation -------------------------------------------------------------------- */

size_t ng_dist_n_params(const ng_dist_t *dist) {
  if (!dist || dist->dim == 0) return 0;
  switch (dist->kind) {
  case NG_DIST_GAUSSIAN:
    return dist->dim > SIZE_MAX / 2 ? 0 : 2 * dist->dim;
  case NG_DIST_CATEGORICAL:
    return dist->dim;
  }
  return 0; /* a kind outside the enum */
}

size_t ng_dist_action_size(const ng_dist_t *dist) {
  if (ng_dist_n_params(dist) == 0) return 0;
  return dist->kind == NG_DIST_GAUSSIAN ? dist->dim : 1;
}

/* NG_EINVAL for a bad descriptor, else NG_OK with *n = n_params. */
static int ng__dist_check(const ng_dist_t *dist, size_t *n) {
  *n = ng_dist_n_params(dist);
  return *n ? NG_OK : NG_EINVAL;
}

/* A categorical action must be an integer in [0, k); a is already known finite. */
static int ng__cat_action(size_t k, double a, size_t *idx) {
  if (!(a >= 0.0 && a < (double)k && a == floor(a))) return NG_EINVAL;
  *idx = (size_t)a;
  return NG_OK;
}

/* ---- categorical helpers ------------------------------------------------------------- */

/* The first index of the largest logit: l (k). */
static size_t ng__argmax(size_t k, const double *l) {
  size_t best = 0;
  for (size_t i = 1; i < k; i++)
    if (l[i] > l[best]) best = i;
  return best;
}

/* log sum_i exp(l_i), stable: l (k). The max term contributes exp(0) = 1, so the sum lies
 * in [1, k] and neither overflows nor underflows. */
static double ng__logsumexp(size_t k, const double *l) {
  double m = l[0];
  for (size_t i = 1; i < k; i++)
    if (l[i] > m) m = l[i];
  double s = 0.0;
  for (size_t i = 0; i < k; i++) s += exp(l[i] - m);
  return m + log(s);
}

/* -sum_i pi_i log pi_i with log pi_i = l_i - lse; terms with pi_i = 0 (underflow) add 0
 * rather than 0 * -inf. l (k). */
static double ng__cat_entropy(size_t k, const double *l, double lse) {
  double h = 0.0;
  for (size_t i = 0; i < k; i++) {
    double lp = l[i] - lse, pi = exp(lp);
    if (pi > 0.0) h -= pi * lp;
  }
  return h;
}

/* ---- sampling and mode --------------------------------------------------------------- */

int ng_dist_sample(const ng_dist_t *dist, const double *p, ng_rng_t *rng, double *a) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !rng || !a) return NG_EINVAL;
  if (!ng_all_finite(n, p)) return NG_ENONFINITE;
  size_t d = dist->dim;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* a (d) = mu + sigma * N(0, 1) */
    for (size_t i = 0; i < d; i++) a[i] = p[i] + exp(p[d + i]) * ng_rng_normal(rng);
    return ng_all_finite(d, a) ? NG_OK : NG_ENONFINITE;
  }
  /* Inverse CDF: first category whose cumulative probability exceeds u. Rounding can leave
   * the total just below 1, so u past it falls back to the last category with pi > 0. */
  double lse = ng__logsumexp(d, p), u = ng_rng_uniform(rng), c = 0.0;
  size_t last = 0;
  for (size_t i = 0; i < d; i++) {
    double pi = exp(p[i] - lse);
    if (pi > 0.0) last = i;
    c += pi;
    if (u < c) {
      a[0] = (double)i;
      return NG_OK;
    }
  }
  a[0] = (double)last;
  return NG_OK;
}

int ng_dist_mode(const ng_dist_t *dist, const double *p, double *a) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !a) return NG_EINVAL;
  if (!ng_all_finite(n, p)) return NG_ENONFINITE;
  size_t d = dist->dim;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    for (size_t i = 0; i < d; i++) a[i] = p[i];
    return NG_OK;
  }
  /* softmax is monotone in the logits: the first largest logit is the first largest pi */
  a[0] = (double)ng__argmax(d, p);
  return NG_OK;
}

/* ---- log-probability ------------------------------------------------------------------- */

int ng_dist_logp(const ng_dist_t *dist, const double *p, const double *a, double *logp) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !a || !logp) return NG_EINVAL;
  size_t d = dist->dim;
  if (!ng_all_finite(n, p) || !ng_all_finite(ng_dist_action_size(dist), a))
    return NG_ENONFINITE;
  double r = 0.0;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* sum_i -z_i^2 / 2 - log_std_i - log(2 pi) / 2, z = (a - mu) / sigma; p (2d), a (d) */
    for (size_t i = 0; i < d; i++) {
      double z = (a[i] - p[i]) * exp(-p[d + i]);
      r += -0.5 * z * z - p[d + i] - 0.5 * NG__LOG_2PI;
    }
  } else {
    size_t idx;
    if (ng__cat_action(d, a[0], &idx)) return NG_EINVAL;
    r = p[idx] - ng__logsumexp(d, p); /* log_softmax(l)[a]; l (k) */
  }
  *logp = r;
  return isfinite(r) ? NG_OK : NG_ENONFINITE;
}

int ng_dist_logp_grad(const ng_dist_t *dist, const double *p, const double *a, double *dp) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !a || !dp) return NG_EINVAL;
  size_t d = dist->dim;
  if (!ng_all_finite(n, p) || !ng_all_finite(ng_dist_action_size(dist), a))
    return NG_ENONFINITE;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* d/dmu = z / sigma, d/dlog_std = z^2 - 1; p, dp (2d), a (d) */
    for (size_t i = 0; i < d; i++) {
      double inv_s = exp(-p[d + i]), z = (a[i] - p[i]) * inv_s;
      dp[i] = z * inv_s;
      dp[d + i] = z * z - 1.0;
    }
  } else {
    /* d log pi_a / dl = e_a - pi; p, dp (k) */
    size_t idx;
    if (ng__cat_action(d, a[0], &idx)) return NG_EINVAL;
    /* 1 - pi_a is summed from the other pi_j, not subtracted: it stays accurate (not 0)
     * when pi_a rounds to 1 */
    double lse = ng__logsumexp(d, p), rest = 0.0;
    for (size_t i = 0; i < d; i++) {
      dp[i] = -exp(p[i] - lse);
      if (i != idx) rest -= dp[i];
    }
    dp[idx] = rest;
  }
  return ng_all_finite(n, dp) ? NG_OK : NG_ENONFINITE;
}

/* ---- entropy --------------------------------------------------------------------------- */

int ng_dist_entropy(const ng_dist_t *dist, const double *p, double *h) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !h) return NG_EINVAL;
  if (!ng_all_finite(n, p)) return NG_ENONFINITE;
  size_t d = dist->dim;
  double r = 0.0;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* sum_i log_std_i + (1 + log(2 pi)) / 2; p (2d) */
    for (size_t i = 0; i < d; i++) r += p[d + i] + 0.5 * (1.0 + NG__LOG_2PI);
  } else {
    r = ng__cat_entropy(d, p, ng__logsumexp(d, p));
  }
  *h = r;
  return isfinite(r) ? NG_OK : NG_ENONFINITE;
}

int ng_dist_entropy_grad(const ng_dist_t *dist, const double *p, double *dp) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !dp) return NG_EINVAL;
  if (!ng_all_finite(n, p)) return NG_ENONFINITE;
  size_t d = dist->dim;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* dH/dmu = 0, dH/dlog_std = 1; dp (2d) */
    for (size_t i = 0; i < d; i++) {
      dp[i] = 0.0;
      dp[d + i] = 1.0;
    }
  } else {
    /* dH/dl_j = -sum_i pi_i (delta_ij - pi_j)(log pi_i + 1) = -pi_j (log pi_j + H); with
     * pi_j = 0 the term is 0 (not 0 * -inf). p, dp (k) */
    double lse = ng__logsumexp(d, p), H = ng__cat_entropy(d, p, lse);
    for (size_t j = 0; j < d; j++) {
      double lp = p[j] - lse, pi = exp(lp);
      dp[j] = pi > 0.0 ? -pi * (lp + H) : 0.0;
    }
  }
  return ng_all_finite(n, dp) ? NG_OK : NG_ENONFINITE;
}

/* ---- KL(p || q) ----------------------------------------------------------------------- */

int ng_dist_kl(const ng_dist_t *dist, const double *p, const double *q, double *kl) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !q || !kl) return NG_EINVAL;
  if (!ng_all_finite(n, p) || !ng_all_finite(n, q)) return NG_ENONFINITE;
  size_t d = dist->dim;
  double r = 0.0;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* Per dim: log_std_q - log_std_p + (sigma_p^2 + (mu_p - mu_q)^2) / (2 sigma_q^2) - 1/2,
     * rewritten with t = 2 (log_std_p - log_std_q) as (expm1(t) - t) / 2 + dmu^2 / (2 s_q^2)
     * so that each term is >= 0 and accurate when p and q are close. p, q (2d) */
    for (size_t i = 0; i < d; i++) {
      double t = 2.0 * (p[d + i] - q[d + i]), dmu = (p[i] - q[i]) * exp(-q[d + i]);
      r += 0.5 * (expm1(t) - t) + 0.5 * dmu * dmu;
    }
  } else {
    /* sum_i pi_p,i (log pi_p,i - log pi_q,i); terms with pi_p,i = 0 add 0. p, q (k) */
    double lse_p = ng__logsumexp(d, p), lse_q = ng__logsumexp(d, q);
    for (size_t i = 0; i < d; i++) {
      double lp = p[i] - lse_p, pi = exp(lp);
      if (pi > 0.0) r += pi * (lp - (q[i] - lse_q));
    }
    if (r < 0.0) r = 0.0; /* KL >= 0: a negative value is rounding when p ~ q */
  }
  *kl = r;
  return isfinite(r) ? NG_OK : NG_ENONFINITE;
}

int ng_dist_kl_grad_q(const ng_dist_t *dist, const double *p, const double *q, double *dq) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !q || !dq) return NG_EINVAL;
  if (!ng_all_finite(n, p) || !ng_all_finite(n, q)) return NG_ENONFINITE;
  size_t d = dist->dim;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* d/dmu_q = (mu_q - mu_p) / s_q^2; d/dlog_std_q = 1 - (s_p^2 + dmu^2) / s_q^2
     * = -expm1(t) - dmu^2 / s_q^2 with t = 2 (log_std_p - log_std_q). p, q, dq (2d) */
    for (size_t i = 0; i < d; i++) {
      double inv_vq = exp(-2.0 * q[d + i]), dmu = q[i] - p[i];
      dq[i] = dmu * inv_vq;
      dq[d + i] = -expm1(2.0 * (p[d + i] - q[d + i])) - dmu * dmu * inv_vq;
    }
  } else {
    /* d/dl_q = pi_q - pi_p. p, q, dq (k) */
    double lse_p = ng__logsumexp(d, p), lse_q = ng__logsumexp(d, q);
    for (size_t i = 0; i < d; i++) dq[i] = exp(q[i] - lse_q) - exp(p[i] - lse_p);
  }
  return ng_all_finite(n, dq) ? NG_OK : NG_ENONFINITE;
}

/* ---- Fisher M(p) ---------------------------------------------------------------------- */

int ng_dist_fisher_apply(const ng_dist_t *dist, const double *p, const double *v,
                         double *out) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !v || !out) return NG_EINVAL;
  if (!ng_all_finite(n, p) || !ng_all_finite(n, v)) return NG_ENONFINITE;
  size_t d = dist->dim;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* diag(1/sigma^2, 2) v; p, v, out (2d) */
    for (size_t i = 0; i < d; i++) {
      out[i] = v[i] * exp(-2.0 * p[d + i]);
      out[d + i] = 2.0 * v[d + i];
    }
  } else {
    /* (diag(pi) - pi pi^T) v = pi .* (v - pi^T v); out holds pi meanwhile. For the most
     * likely category t, v_t - pi^T v = (1 - pi_t) v_t - sum_{j!=t} pi_j v_j with 1 - pi_t
     * summed from the others, so a near-certain pi_t keeps its small curvature instead of
     * cancelling to 0. p, v, out (k) */
    size_t t = ng__argmax(d, p);
    double lse = ng__logsumexp(d, p), s_rest = 0.0, c_rest = 0.0;
    for (size_t i = 0; i < d; i++) {
      out[i] = exp(p[i] - lse);
      if (i != t) {
        s_rest += out[i] * v[i];
        c_rest += out[i];
      }
    }
    double s = out[t] * v[t] + s_rest;
    for (size_t i = 0; i < d; i++)
      if (i != t) out[i] *= v[i] - s;
    out[t] *= c_rest * v[t] - s_rest;
  }
  return ng_all_finite(n, out) ? NG_OK : NG_ENONFINITE;
}

int ng_dist_fisher_dense(const ng_dist_t *dist, const double *p, double *m, double *work) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !m || !work) return NG_EINVAL;
  for (size_t i = 0; i < n; i++) work[i] = 0.0;
  /* M e_j lands in row j (fisher_apply writes contiguously), then one transpose makes it
   * column j: the categorical products are not exactly symmetric, and column j is the
   * documented one. m (n x n), work = e_j (n) */
  for (size_t j = 0; j < n; j++) {
    work[j] = 1.0;
    int st = ng_dist_fisher_apply(dist, p, work, m + j * n);
    work[j] = 0.0;
    if (st != NG_OK) return st;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      double t = m[i * n + j];
      m[i * n + j] = m[j * n + i];
      m[j * n + i] = t;
    }
  return NG_OK;
}

int ng_dist_fisher_factor(const ng_dist_t *dist, const double *p, double *u) {
  size_t n;
  if (ng__dist_check(dist, &n) || !p || !u) return NG_EINVAL;
  if (!ng_all_finite(n, p)) return NG_ENONFINITE;
  size_t d = dist->dim;
  for (size_t i = 0; i < n * n; i++) u[i] = 0.0;
  if (dist->kind == NG_DIST_GAUSSIAN) {
    /* u (2d x 2d) diagonal: 1/sigma_i for the means, sqrt(2) for the log stds */
    for (size_t i = 0; i < d; i++) {
      u[i * n + i] = exp(-p[d + i]);
      u[(d + i) * n + d + i] = NG__SQRT2;
    }
  } else {
    /* u (k x k), row r = sqrt(pi_r) (e_r - pi). pi is staged in the last row, which is
     * filled last and in place (each of its entries needs only pi_c and pi_{k-1}). As in
     * fisher_apply, 1 - pi_t of the most likely category t is summed from the others. */
    size_t t = ng__argmax(d, p);
    double lse = ng__logsumexp(d, p), *pi = u + (d - 1) * n, c_rest = 0.0;
    for (size_t c = 0; c < d; c++) {
      pi[c] = exp(p[c] - lse);
      if (c != t) c_rest += pi[c];
    }
    double pi_t = pi[t];
    for (size_t r = 0; r < d; r++) {
      double sr = sqrt(pi[r]), *row = u + r * n;
      for (size_t c = 0; c < d; c++) row[c] = sr * ((c == r ? 1.0 : 0.0) - pi[c]);
      if (r == t) row[t] = sqrt(pi_t) * c_rest;
    }
  }
  return ng_all_finite(n * n, u) ? NG_OK : NG_ENONFINITE;
}
