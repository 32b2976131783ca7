/* Output distributions in closed form: diagonal Gaussian in (mu, log_std), categorical and
 * MultiDiscrete over logits, MultiBinary over logits. One parameter row at a time; no
 * allocation (a softmax is recomputed on the fly from a log-sum-exp, or staged in the
 * caller's output buffer).
 *
 * A categorical is handled as a MultiDiscrete of one block: every categorical formula below
 * works on one softmax block (k logits at l), and the kinds differ only in where the blocks
 * are (ng__nblocks, ng__bsize). For one block the operations are exactly the categorical's,
 * so its results are bit for bit what they were before MultiDiscrete existed. */
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
  case NG_DIST_MULTI_BINARY:
    return dist->dim;
  case NG_DIST_MULTI_DISCRETE: {
    if (dist->dim > NG_DIST_MAX_COMPONENTS) return 0;
    size_t n = 0;
    for (size_t i = 0; i < dist->dim; i++) {
      if (dist->nvec[i] == 0 || n > SIZE_MAX - dist->nvec[i]) return 0;
      n += dist->nvec[i];
    }
    return n;
  }
  }
  return 0; /* a kind outside the enum */
}

size_t ng_dist_action_size(const ng_dist_t *dist) {
  if (ng_dist_n_params(dist) == 0) return 0;
  return dist->kind == NG_DIST_CATEGORICAL ? 1 : dist->dim;
}

int ng_dist_multi_discrete(ng_dist_t *out, size_t m, const size_t *counts) {
  if (!out || !counts || m == 0 || m > NG_DIST_MAX_COMPONENTS) return NG_EINVAL;
  ng_dist_t d = {.kind = NG_DIST_MULTI_DISCRETE, .dim = m};
  for (size_t i = 0; i < m; i++) {
    if (counts[i] == 0 || counts[i] > UINT32_MAX) return NG_EINVAL;
    d.nvec[i] = (uint32_t)counts[i];
  }
  *out = d;
  return NG_OK;
}

/* Softmax blocks of a valid descriptor: a categorical is one block of all k logits. */
static size_t ng__nblocks(const ng_dist_t *dist) {
  return dist->kind == NG_DIST_CATEGORICAL ? 1 : dist->dim;
}
static size_t ng__bsize(const ng_dist_t *dist, size_t i) {
  return dist->kind == NG_DIST_CATEGORICAL ? dist->dim : dist->nvec[i];
}

size_t ng_dist_n_blocks(const ng_dist_t *dist) {
  if (ng_dist_n_params(dist) == 0) return 0;
  int softmax = dist->kind == NG_DIST_CATEGORICAL || dist->kind == NG_DIST_MULTI_DISCRETE;
  return softmax ? ng__nblocks(dist) : 0;
}

size_t ng_dist_block_size(const ng_dist_t *dist, size_t i) {
  if (!dist) return 0;
  if (dist->kind == NG_DIST_CATEGORICAL) return i == 0 ? dist->dim : 0;
  if (dist->kind == NG_DIST_MULTI_DISCRETE)
    return i < dist->dim && i < NG_DIST_MAX_COMPONENTS ? dist->nvec[i] : 0;
  return 0;
}

/* Loops over the softmax blocks of a valid categorical or MultiDiscrete `dist`: block c
 * holds k logits starting at row offset off. */
#define NG__FOR_BLOCKS(dist, c, off, k)                                                  \
  for (size_t c = 0, off = 0, k = ng__bsize(dist, 0); c < ng__nblocks(dist);            \
       off += k, c++, k = c < ng__nblocks(dist) ? ng__bsize(dist, c) : 0)

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

/* A MultiBinary action entry must be exactly 0 or 1 (-0 counts as 0). */
static int ng__bern_action(double a) { return a == 0.0 || a == 1.0 ? NG_OK : NG_EINVAL; }

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

/* ---- Bernoulli helpers ----------------------------------------------------------------- */

/* log(1 + e^x) without overflow, and accurate (log1p) where it is tiny. */
static double ng__softplus(double x) { return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* 1 / (1 + e^-x) without overflow. sigmoid(-x) is computed the same way, never as
 * 1 - sigmoid(x): a near-certain Bernoulli keeps its small probability. */
static double ng__sigmoid(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

/* p (1 - p) for p = sigmoid(x), as e / (1 + e)^2 with e = exp(-|x|) (symmetric in x, no
 * cancellation, underflows to 0 only where it is below the smallest double). */
static double ng__bern_var(double x) {
  double e = exp(-fabs(x));
  return e / ((1.0 + e) * (1.0 + e));
}

/* ---- sampling and mode --------------------------------------------------------------- */

/* Inverse CDF: the first category whose cumulative probability exceeds u. Rounding can
 * leave the total just below 1, so u past it falls back to the last category with pi > 0.
 * l (k). */
static size_t ng__cat_sample(size_t k, const double *l, ng_rng_t *rng) {
  double lse = ng__logsumexp(k, l), u = ng_rng_uniform(rng), c = 0.0;
  size_t last = 0;
  for (size_t i = 0; i < k; i++) {
    double pi = exp(l[i] - lse);
    if (pi > 0.0) last = i;
    c += pi;
    if (u < c) return i;
  }
  return last;
}

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
  if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* one uniform per Bernoulli: a_i = 1 with probability p_i (u in [0, 1), so p = 1 always
     * gives 1 and p = 0 never does) */
    for (size_t i = 0; i < d; i++) a[i] = ng_rng_uniform(rng) < ng__sigmoid(p[i]) ? 1.0 : 0.0;
    return NG_OK;
  }
  /* one uniform per softmax block, in block order */
  NG__FOR_BLOCKS(dist, b, off, k) a[b] = (double)ng__cat_sample(k, p + off, rng);
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
  if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* p > 1/2 exactly when the logit is > 0; a tie (logit 0) rounds half to even: 0 */
    for (size_t i = 0; i < d; i++) a[i] = p[i] > 0.0 ? 1.0 : 0.0;
    return NG_OK;
  }
  /* softmax is monotone in the logits: the first largest logit is the first largest pi */
  NG__FOR_BLOCKS(dist, b, off, k) a[b] = (double)ng__argmax(k, p + off);
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
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* log p = -softplus(-l) for a = 1, log(1 - p) = -softplus(l) for a = 0; p, a (d) */
    for (size_t i = 0; i < d; i++) {
      if (ng__bern_action(a[i])) return NG_EINVAL;
      r -= ng__softplus(a[i] == 1.0 ? -p[i] : p[i]);
    }
  } else {
    /* sum over blocks of log_softmax(l)[a_b]; l (k) per block. The first block's term is
     * taken as is (not added to 0.0), so a one-block categorical's -0 stays -0. */
    NG__FOR_BLOCKS(dist, b, off, k) {
      size_t idx;
      if (ng__cat_action(k, a[b], &idx)) return NG_EINVAL;
      double t = p[off + idx] - ng__logsumexp(k, p + off);
      r = b == 0 ? t : r + t;
    }
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
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* d log p(a) / dl = a - p: 1 - p = sigmoid(-l) for a = 1, -p for a = 0; p, dp, a (d) */
    for (size_t i = 0; i < d; i++) {
      if (ng__bern_action(a[i])) return NG_EINVAL;
      dp[i] = a[i] == 1.0 ? ng__sigmoid(-p[i]) : -ng__sigmoid(p[i]);
    }
  } else {
    /* per block d log pi_a / dl = e_a - pi; p, dp (k) per block. 1 - pi_a is summed from
     * the other pi_j, not subtracted: it stays accurate (not 0) when pi_a rounds to 1 */
    NG__FOR_BLOCKS(dist, b, off, k) {
      size_t idx;
      if (ng__cat_action(k, a[b], &idx)) return NG_EINVAL;
      const double *l = p + off;
      double *g = dp + off, lse = ng__logsumexp(k, l), rest = 0.0;
      for (size_t i = 0; i < k; i++) {
        g[i] = -exp(l[i] - lse);
        if (i != idx) rest -= g[i];
      }
      g[idx] = rest;
    }
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
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* -p log p - (1 - p) log(1 - p) = p softplus(-l) + (1 - p) softplus(l); p (d) */
    for (size_t i = 0; i < d; i++)
      r += ng__sigmoid(p[i]) * ng__softplus(-p[i]) + ng__sigmoid(-p[i]) * ng__softplus(p[i]);
  } else {
    NG__FOR_BLOCKS(dist, b, off, k) {
      double t = ng__cat_entropy(k, p + off, ng__logsumexp(k, p + off));
      r = b == 0 ? t : r + t;
    }
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
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* d/dl [p softplus(-l) + (1 - p) softplus(l)] = p (1 - p) (softplus(-l) - softplus(l))
     * = -l p (1 - p); p, dp (d) */
    for (size_t i = 0; i < d; i++) dp[i] = -p[i] * ng__bern_var(p[i]);
  } else {
    /* per block dH/dl_j = -sum_i pi_i (delta_ij - pi_j)(log pi_i + 1) = -pi_j (log pi_j +
     * H) with H the block's entropy; with pi_j = 0 the term is 0 (not 0 * -inf). p, dp (k)
     * per block */
    NG__FOR_BLOCKS(dist, b, off, k) {
      const double *l = p + off;
      double lse = ng__logsumexp(k, l), H = ng__cat_entropy(k, l, lse);
      for (size_t j = 0; j < k; j++) {
        double lp = l[j] - lse, pi = exp(lp);
        dp[off + j] = pi > 0.0 ? -pi * (lp + H) : 0.0;
      }
    }
  }
  return ng_all_finite(n, dp) ? NG_OK : NG_ENONFINITE;
}

/* ---- KL(p || q) ----------------------------------------------------------------------- */

/* sum_i pi_p,i (log pi_p,i - log pi_q,i); terms with pi_p,i = 0 add 0. p, q (k) */
static double ng__cat_kl(size_t k, const double *p, const double *q) {
  double lse_p = ng__logsumexp(k, p), lse_q = ng__logsumexp(k, q), r = 0.0;
  for (size_t i = 0; i < k; i++) {
    double lp = p[i] - lse_p, pi = exp(lp);
    if (pi > 0.0) r += pi * (lp - (q[i] - lse_q));
  }
  return r < 0.0 ? 0.0 : r; /* KL >= 0: a negative value is rounding when p ~ q */
}

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
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* per Bernoulli p (log p - log q) + (1 - p) (log(1 - p) - log(1 - q)), the logs as
     * -softplus, the weights as sigmoids (so 1 - p never cancels); a term whose weight
     * underflows to 0 adds 0. Clamped at 0 per term as the categorical is. p, q (d) */
    for (size_t i = 0; i < d; i++) {
      double w1 = ng__sigmoid(p[i]), w0 = ng__sigmoid(-p[i]), t = 0.0;
      if (w1 > 0.0) t += w1 * (ng__softplus(-q[i]) - ng__softplus(-p[i]));
      if (w0 > 0.0) t += w0 * (ng__softplus(q[i]) - ng__softplus(p[i]));
      r += t > 0.0 ? t : 0.0;
    }
  } else {
    NG__FOR_BLOCKS(dist, b, off, k) {
      double t = ng__cat_kl(k, p + off, q + off);
      r = b == 0 ? t : r + t;
    }
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
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* d/dl_q = q - p (probabilities), taken as (1 - p) - (1 - q) when both lean to 1 so that
     * the difference of two numbers near 1 does not lose it. p, q, dq (d) */
    for (size_t i = 0; i < d; i++)
      dq[i] = p[i] + q[i] > 0.0 ? ng__sigmoid(-p[i]) - ng__sigmoid(-q[i])
                                : ng__sigmoid(q[i]) - ng__sigmoid(p[i]);
  } else {
    /* per block d/dl_q = pi_q - pi_p. p, q, dq (k) per block */
    NG__FOR_BLOCKS(dist, b, off, k) {
      double lse_p = ng__logsumexp(k, p + off), lse_q = ng__logsumexp(k, q + off);
      for (size_t i = off; i < off + k; i++) dq[i] = exp(q[i] - lse_q) - exp(p[i] - lse_p);
    }
  }
  return ng_all_finite(n, dq) ? NG_OK : NG_ENONFINITE;
}

/* ---- Fisher M(p) ---------------------------------------------------------------------- */

/* out = (diag(pi) - pi pi^T) v = pi .* (v - pi^T v); out holds pi meanwhile. For the most
 * likely category t, v_t - pi^T v = (1 - pi_t) v_t - sum_{j!=t} pi_j v_j with 1 - pi_t
 * summed from the others, so a near-certain pi_t keeps its small curvature instead of
 * cancelling to 0. l, v, out (k) */
static void ng__cat_fisher_apply(size_t k, const double *l, const double *v, double *out) {
  size_t t = ng__argmax(k, l);
  double lse = ng__logsumexp(k, l), s_rest = 0.0, c_rest = 0.0;
  for (size_t i = 0; i < k; i++) {
    out[i] = exp(l[i] - lse);
    if (i != t) {
      s_rest += out[i] * v[i];
      c_rest += out[i];
    }
  }
  double s = out[t] * v[t] + s_rest;
  for (size_t i = 0; i < k; i++)
    if (i != t) out[i] *= v[i] - s;
  out[t] *= c_rest * v[t] - s_rest;
}

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
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* diag(p (1 - p)) v; p, v, out (d) */
    for (size_t i = 0; i < d; i++) out[i] = ng__bern_var(p[i]) * v[i];
  } else {
    NG__FOR_BLOCKS(dist, b, off, k) ng__cat_fisher_apply(k, p + off, v + off, out + off);
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

/* u (k x k with row stride ld), row r = sqrt(pi_r) (e_r - pi). pi is staged in the last
 * row, which is filled last and in place (each of its entries needs only pi_c and
 * pi_{k-1}). As in fisher_apply, 1 - pi_t of the most likely category t is summed from
 * the others. l (k) */
static void ng__cat_factor(size_t k, const double *l, size_t ld, double *u) {
  size_t t = ng__argmax(k, l);
  double lse = ng__logsumexp(k, l), *pi = u + (k - 1) * ld, c_rest = 0.0;
  for (size_t c = 0; c < k; c++) {
    pi[c] = exp(l[c] - lse);
    if (c != t) c_rest += pi[c];
  }
  double pi_t = pi[t];
  for (size_t r = 0; r < k; r++) {
    double sr = sqrt(pi[r]), *row = u + r * ld;
    for (size_t c = 0; c < k; c++) row[c] = sr * ((c == r ? 1.0 : 0.0) - pi[c]);
    if (r == t) row[t] = sqrt(pi_t) * c_rest;
  }
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
  } else if (dist->kind == NG_DIST_MULTI_BINARY) {
    /* u (d x d) diagonal: sqrt(p_i (1 - p_i)) */
    for (size_t i = 0; i < d; i++) u[i * n + i] = sqrt(ng__bern_var(p[i]));
  } else {
    /* block b's rows and columns are [off, off + k): its k x k factor at u + off (n + 1) */
    NG__FOR_BLOCKS(dist, b, off, k) ng__cat_factor(k, p + off, n, u + off * n + off);
  }
  return ng_all_finite(n * n, u) ? NG_OK : NG_ENONFINITE;
}
