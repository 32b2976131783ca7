/* The model's Fisher F = (1/N) sum_b J_b^T M(P_b) J_b as products over stored activations.
 *
 * set_point runs the one forward pass and precomputes, per row, what M(P_b) needs (the
 * Gaussian's diagonal, the categorical's probabilities). A product is then
 *     dP = J v (one JVP) -> dP_b <- M(P_b) dP_b per row -> J^T dP (one VJP) -> reduce -> / N.
 * Everything is allocated in create; products, dense, diag and distance allocate nothing.
 */
#include "natgrad/fisher.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

struct ng_fisher {
  const ng_model_t *m;
  ng_model_ws_t *ws;
  ng_dist_t dist;
  size_t n;          /* parameters */
  size_t np;         /* distribution parameters per row */
  size_t n_in;
  size_t max_batch;
  ng_reducer_t reducer;
  double *theta;     /* n: the point */
  double *xsub;      /* max_batch x n_in: sub-sampled rows */
  size_t *idx;       /* max_batch: index array for the partial Fisher-Yates shuffle */
  double *dp;        /* max_batch x np: tangents / cotangents of P */
  double *mc;        /* max_batch x np: Gaussian diag(M) per row, or the categorical's pi */
  double *u;         /* np x np: factor of M (generic path) */
  double *tmp;       /* np: M dP_b (generic path) */
  double *vec;       /* n: unit vectors for dense, F d for distance */
  size_t batch;      /* local rows at the point (0: no point yet) */
  double n_total;    /* rows over all participants (reduced once at set_point) */
  double linop_damping;
  unsigned long products;
};

int ng_fisher_create(ng_fisher_t **out, const ng_model_t *m, size_t max_batch) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (!m || max_batch == 0) return NG_EINVAL;
  size_t n = ng_model_n_params(m), np = ng_model_n_dist_params(m), n_in = ng_model_n_in(m);
  if (n == 0 || np == 0 || n_in == 0) return NG_EINVAL;
  if (max_batch > SIZE_MAX / sizeof(double) / np || max_batch > SIZE_MAX / sizeof(double) / n_in ||
      np > SIZE_MAX / sizeof(double) / np)
    return NG_EINVAL;
  ng_fisher_t *f = ng_calloc(1, sizeof *f);
  if (!f) return NG_ENOMEM;
  f->m = m;
  f->dist = ng_model_dist(m);
  f->n = n;
  f->np = np;
  f->n_in = n_in;
  f->max_batch = max_batch;
  int st = ng_model_ws_create(&f->ws, m, max_batch);
  if (st != NG_OK) {
    ng_free(f);
    return st;
  }
  f->theta = ng_malloc(n * sizeof(double));
  f->xsub = ng_malloc(max_batch * n_in * sizeof(double));
  f->idx = ng_malloc(max_batch * sizeof(size_t));
  f->dp = ng_malloc(max_batch * np * sizeof(double));
  f->mc = ng_malloc(max_batch * np * sizeof(double));
  f->u = ng_malloc(np * np * sizeof(double));
  f->tmp = ng_malloc(np * sizeof(double));
  f->vec = ng_malloc(n * sizeof(double));
  if (!f->theta || !f->xsub || !f->idx || !f->dp || !f->mc || !f->u || !f->tmp || !f->vec) {
    ng_fisher_destroy(f);
    return NG_ENOMEM;
  }
  *out = f;
  return NG_OK;
}

void ng_fisher_destroy(ng_fisher_t *f) {
  if (!f) return;
  ng_model_ws_destroy(f->ws);
  ng_free(f->theta);
  ng_free(f->xsub);
  ng_free(f->idx);
  ng_free(f->dp);
  ng_free(f->mc);
  ng_free(f->u);
  ng_free(f->tmp);
  ng_free(f->vec);
  ng_free(f);
}

int ng_fisher_set_reducer(ng_fisher_t *f, const ng_reducer_t *r) {
  if (!f) return NG_EINVAL;
  if (r) {
    f->reducer = *r;
  } else {
    f->reducer.sum = NULL;
    f->reducer.ctx = NULL;
  }
  return NG_OK;
}

size_t ng_fisher_n(const ng_fisher_t *f) { return f ? f->n : 0; }
size_t ng_fisher_batch(const ng_fisher_t *f) { return f ? f->batch : 0; }
unsigned long ng_fisher_products(const ng_fisher_t *f) { return f ? f->products : 0; }

/* P: B x np -> mc: B x np, per row what M(P_b) needs. Gaussian: diag(M) =
 * [exp(-2 log_std) (d), 2 (d)]; categorical: pi = softmax(logits). */
static void ng__precompute_m(ng_fisher_t *f, const double *p, size_t batch) {
  size_t np = f->np;
  if (f->dist.kind == NG_DIST_GAUSSIAN) {
    size_t d = f->dist.dim;
    for (size_t b = 0; b < batch; b++) {
      const double *pb = p + b * np;
      double *mb = f->mc + b * np;
      for (size_t j = 0; j < d; j++) {
        mb[j] = exp(-2.0 * pb[d + j]);
        mb[d + j] = 2.0;
      }
    }
  } else if (f->dist.kind == NG_DIST_CATEGORICAL) {
    for (size_t b = 0; b < batch; b++) {
      const double *pb = p + b * np;
      double *mb = f->mc + b * np;
      double mx = pb[0];
      for (size_t j = 1; j < np; j++)
        if (pb[j] > mx) mx = pb[j];
      double z = 0.0;
      for (size_t j = 0; j < np; j++) {
        mb[j] = exp(pb[j] - mx);
        z += mb[j];
      }
      for (size_t j = 0; j < np; j++) mb[j] /= z;
    }
  }
}

/* The common tail of both set_point flavours: x (batch x n_in) is the final row set. */
static int ng__set_point(ng_fisher_t *f, const double *theta, size_t batch, const double *x) {
  f->batch = 0;
  int st = ng_model_forward(f->m, theta, f->ws, batch, x, NULL);
  if (st != NG_OK) return st;
  memcpy(f->theta, theta, f->n * sizeof(double));
  const double *p = ng_model_ws_params(f->ws);
  ng__precompute_m(f, p, batch);
  if (!ng_all_finite(batch * f->np, f->mc)) return NG_ENONFINITE;
  double count = (double)batch;
  st = ng_reduce_sum(&f->reducer, &count, 1);
  if (st != NG_OK) return st;
  if (!(count >= 1.0) || !isfinite(count)) return NG_ERANGE;
  f->n_total = count;
  f->batch = batch;
  return NG_OK;
}

int ng_fisher_set_point(ng_fisher_t *f, const double *theta, size_t batch, const double *x) {
  if (!f || !theta || !x) return NG_EINVAL;
  if (batch == 0 || batch > f->max_batch) {
    f->batch = 0;
    return NG_EINVAL;
  }
  return ng__set_point(f, theta, batch, x);
}

int ng_fisher_set_point_subsample(ng_fisher_t *f, const double *theta, size_t batch,
                                  const double *x, size_t n_sub, ng_rng_t *rng) {
  if (!f || !theta || !x || !rng) return NG_EINVAL;
  if (batch == 0 || batch > f->max_batch || n_sub == 0 || n_sub > batch) {
    f->batch = 0;
    return NG_EINVAL;
  }
  /* Partial Fisher-Yates: positions [0, n_sub) end up holding n_sub distinct rows, each
   * subset equally likely. */
  for (size_t i = 0; i < batch; i++) f->idx[i] = i;
  for (size_t i = 0; i < n_sub; i++) {
    size_t j = i + (size_t)ng_rng_below(rng, (uint64_t)(batch - i));
    size_t t = f->idx[i];
    f->idx[i] = f->idx[j];
    f->idx[j] = t;
    memcpy(f->xsub + i * f->n_in, x + f->idx[i] * f->n_in, f->n_in * sizeof(double));
  }
  return ng__set_point(f, theta, n_sub, f->xsub);
}

/* dp: B x np, in place dP_b <- M(P_b) dP_b. */
static int ng__apply_m(ng_fisher_t *f, double *dp, size_t batch) {
  size_t np = f->np;
  if (f->dist.kind == NG_DIST_GAUSSIAN) {
    for (size_t i = 0; i < batch * np; i++) dp[i] *= f->mc[i];
  } else if (f->dist.kind == NG_DIST_CATEGORICAL) {
    /* (diag(pi) - pi pi^T) w = pi .* (w - pi^T w) */
    for (size_t b = 0; b < batch; b++) {
      double *w = dp + b * np;
      const double *pi = f->mc + b * np;
      double s = 0.0;
      for (size_t j = 0; j < np; j++) s += pi[j] * w[j];
      for (size_t j = 0; j < np; j++) w[j] = pi[j] * (w[j] - s);
    }
  } else {
    const double *p = ng_model_ws_params(f->ws);
    for (size_t b = 0; b < batch; b++) {
      int st = ng_dist_fisher_apply(&f->dist, p + b * np, dp + b * np, f->tmp);
      if (st != NG_OK) return st;
      memcpy(dp + b * np, f->tmp, np * sizeof(double));
    }
  }
  return NG_OK;
}

int ng_fisher_apply(ng_fisher_t *f, const double *v, double damping, double *out) {
  if (!f || !v || !out || v == out) return NG_EINVAL;
  if (f->batch == 0) return NG_EINVAL;
  if (!isfinite(damping)) return NG_ENONFINITE;
  if (damping < 0.0) return NG_EINVAL;
  if (!ng_all_finite(f->n, v)) return NG_ENONFINITE;
  size_t n = f->n, batch = f->batch;
  int st = ng_model_jvp(f->m, f->theta, f->ws, batch, v, f->dp);
  if (st != NG_OK) return st;
  st = ng__apply_m(f, f->dp, batch);
  if (st != NG_OK) return st;
  memset(out, 0, n * sizeof(double));
  st = ng_model_vjp(f->m, f->theta, f->ws, batch, f->dp, out);
  if (st != NG_OK) return st;
  /* Sum over every participant's rows before dividing by their total; the damping is
   * added after the reduction so it is counted once, not once per process. */
  st = ng_reduce_sum(&f->reducer, out, n);
  if (st != NG_OK) return st;
  f->products++;
  for (size_t i = 0; i < n; i++) out[i] = out[i] / f->n_total + damping * v[i];
  if (!ng_all_finite(n, out)) return NG_ENONFINITE;
  return NG_OK;
}

static int ng__linop_apply(void *ctx, const double *v, double *out) {
  ng_fisher_t *f = ctx;
  return ng_fisher_apply(f, v, f->linop_damping, out);
}

int ng_fisher_linop(ng_fisher_t *f, double damping, ng_linop_t *op) {
  if (!f || !op) return NG_EINVAL;
  if (!isfinite(damping)) return NG_ENONFINITE;
  if (damping < 0.0) return NG_EINVAL;
  f->linop_damping = damping;
  op->apply = ng__linop_apply;
  op->ctx = f;
  op->n = f->n;
  return NG_OK;
}

int ng_fisher_distance(ng_fisher_t *f, const double *d, double *dist) {
  if (!f || !d || !dist) return NG_EINVAL;
  int st = ng_fisher_apply(f, d, 0.0, f->vec);
  if (st != NG_OK) return st;
  *dist = ng_vec_dot(f->n, d, f->vec);
  return NG_OK;
}

/* out: n x n row-major, F built from n products. */
int ng_fisher_dense(ng_fisher_t *f, double *out) {
  if (!f || !out) return NG_EINVAL;
  if (f->batch == 0) return NG_EINVAL;
  size_t n = f->n;
  if (n > SIZE_MAX / sizeof(double) / n) return NG_EINVAL;
  memset(f->vec, 0, n * sizeof(double));
  /* F e_i is column i of F and, F being symmetric, also row i: write it as the row. */
  for (size_t i = 0; i < n; i++) {
    f->vec[i] = 1.0;
    int st = ng_fisher_apply(f, f->vec, 0.0, out + i * n);
    f->vec[i] = 0.0;
    if (st != NG_OK) return st;
  }
  /* Each product sums the batch in its own order, so F e_i and F e_j disagree in the last
   * bits on entry (i, j). Cholesky, eigen-solvers and our tests want exact symmetry:
   * average the two. */
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      double a = 0.5 * (out[i * n + j] + out[j * n + i]);
      out[i * n + j] = a;
      out[j * n + i] = a;
    }
  return NG_OK;
}

/* out: n, diag F = (1/N) sum_b sum_r (J_b^T u_{b,r})^2 with M(P_b) = sum_r u_{b,r} u_{b,r}^T. */
int ng_fisher_diag(ng_fisher_t *f, double *out) {
  if (!f || !out) return NG_EINVAL;
  if (f->batch == 0) return NG_EINVAL;
  size_t n = f->n, np = f->np, batch = f->batch;
  const double *p = ng_model_ws_params(f->ws);
  memset(out, 0, n * sizeof(double));
  for (size_t r = 0; r < np; r++) {
    for (size_t b = 0; b < batch; b++) {
      double *u = f->dp + b * np;
      const double *mb = f->mc + b * np;
      if (f->dist.kind == NG_DIST_GAUSSIAN) {
        /* u_r = sqrt(M_rr) e_r */
        memset(u, 0, np * sizeof(double));
        u[r] = sqrt(mb[r]);
      } else if (f->dist.kind == NG_DIST_CATEGORICAL) {
        /* u_r = sqrt(pi_r) (e_r - pi) */
        double s = sqrt(mb[r]);
        for (size_t j = 0; j < np; j++) u[j] = -s * mb[j];
        u[r] += s;
      } else {
        int st = ng_dist_fisher_factor(&f->dist, p + b * np, f->u);
        if (st != NG_OK) return st;
        memcpy(u, f->u + r * np, np * sizeof(double));
      }
    }
    int st = ng_model_vjp_sq(f->m, f->theta, f->ws, batch, f->dp, out);
    if (st != NG_OK) return st;
  }
  int st = ng_reduce_sum(&f->reducer, out, n);
  if (st != NG_OK) return st;
  for (size_t i = 0; i < n; i++) out[i] /= f->n_total;
  if (!ng_all_finite(n, out)) return NG_ENONFINITE;
  return NG_OK;
}
