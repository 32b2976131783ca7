/* K-FAC: Kronecker-factored curvature per dense layer (Martens & Grosse, 2015), for
 * `natgrad fit --opt kfac` and ACKTR alike (natgrad/kfac.h).
 *
 * A forward on the workspace owned here (ng_kfac_forward, or the supervised loss's own on
 * ng_kfac_model_ws) keeps every layer's input in the MLP workspace (read back with
 * ng_mlp_ws_activation) for the A factors, and ng_mlp_deltas turns one MLP-output
 * cotangent per row (ng_model_mlp_cotangent of a P cotangent, or a unit vector for the
 * Gauss-Newton K-FAC of an MLP) into the per-layer pre-activation cotangents g for the G
 * factors. The head's parameters (model.h: the Gaussian's log stds, if any) are no layer:
 * their block of F is exactly 2 I.
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "natgrad/linalg.h"
#include "kfac_impl.h"
#include "natgrad/kfac.h"

/* LAPACK from OpenBLAS (column-major; our matrices are symmetric so the layout is moot). */
extern void dpotrf_(const char *uplo, const blasint *n, double *a, const blasint *lda,
                    blasint *info, size_t uplo_len);
extern void dpotri_(const char *uplo, const blasint *n, double *a, const blasint *lda,
                    blasint *info, size_t uplo_len);

/* A layer whose cotangents ng_mlp_deltas does not store (the last hidden one, mlp.h). */
#define NG__UNSTORED SIZE_MAX

struct ng_kfac {
  const ng_model_t *m; /* NULL: the Gauss-Newton K-FAC of mlp alone (M = I) */
  const ng_mlp_t *mlp;
  ng_reducer_t red;
  ng_dist_t dist;
  size_t L, max_batch, n_out, np, na, n_mlp, n_params;
  size_t *r, *c;     /* per layer: outputs, inputs */
  size_t *dcol;      /* per layer: first column of its block in a deltas row, or UNSTORED */
  ng_model_ws_t *mws; /* the last forward: P and the MLP's activations (NULL without m) */
  ng_mlp_ws_t *ws;   /* mws's MLP workspace (borrowed), or its own without m */
  double *dp;        /* max_batch x np: cotangents of P */
  double *dy;        /* max_batch x n_out: the MLP-output part of dp */
  double *deltas;    /* max_batch x ng_mlp_deltas_width: one cotangent per row */
  double *dhid;      /* max_batch x sizes[L-1]: the unstored layer's cotangents (L >= 2) */
  double *ones;      /* max_batch ones */
  double *u;         /* np x np: factor of M */
  double *ys;        /* na: one sampled label */
  double **Ab, **Gb; /* batch factors: (c+1)^2, r^2 */
  double **A, **G;   /* running factors */
  double **Ai, **Gi; /* damped inverses */
  double *gam, *tmp; /* max r x (c+1): precondition scratch */
  double *colsum;    /* max c: column sums of a layer input */
  size_t batch;      /* rows of the last forward (0: none) */
  uint64_t n_updates;
  double inv_damping; /* damping of the last successful invert */
  int inverted;
  double *slab;
  /* with a split (ng_kfac_set_split): every slice's A and G partial sums, slice after
   * slice, each every layer's A ((c+1)^2) then G (r^2) */
  ng_split_t split;
  int split_on;
  double *part;
  size_t part_slices, fac_total;
};

static size_t ng__a_dim(const ng_kfac_t *k, size_t l) { return k->c[l] + 1; }

/* Either kind: m non-NULL for a model's Fisher, else mlp's Gauss-Newton K-FAC. */
static int ng__kfac_create(ng_kfac_t **out, const ng_model_t *m, const ng_mlp_t *mlp,
                           size_t max_batch) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if ((!m && !mlp) || max_batch == 0 || max_batch > 1u << 30) return NG_EINVAL;
  ng_kfac_t *k = ng_calloc(1, sizeof *k);
  if (!k) return NG_ENOMEM;
  k->m = m;
  k->mlp = m ? ng_model_mlp(m) : mlp;
  k->L = ng_mlp_n_layers(k->mlp);
  k->max_batch = max_batch;
  k->n_out = ng_mlp_n_out(k->mlp);
  if (m) {
    k->dist = ng_model_dist(m);
    k->np = ng_model_n_dist_params(m);
    k->na = ng_dist_action_size(&k->dist);
    k->n_mlp = ng_model_n_mlp_params(m);
    k->n_params = ng_model_n_params(m);
  } else { /* M = I on the outputs: np = n_out, no head, no labels */
    k->np = k->n_out;
    k->n_mlp = k->n_params = ng_mlp_n_params(mlp);
  }
  size_t L = k->L;
  k->r = ng_malloc(L * sizeof *k->r);
  k->c = ng_malloc(L * sizeof *k->c);
  k->dcol = ng_malloc(L * sizeof *k->dcol);
  k->Ab = ng_calloc(L, sizeof *k->Ab);
  k->Gb = ng_calloc(L, sizeof *k->Gb);
  k->A = ng_calloc(L, sizeof *k->A);
  k->G = ng_calloc(L, sizeof *k->G);
  k->Ai = ng_calloc(L, sizeof *k->Ai);
  k->Gi = ng_calloc(L, sizeof *k->Gi);
  if (!k->r || !k->c || !k->dcol || !k->Ab || !k->Gb || !k->A || !k->G || !k->Ai || !k->Gi) {
    ng_kfac_destroy(k);
    return NG_ENOMEM;
  }
  int st = m ? ng_model_ws_create(&k->mws, m, max_batch)
             : ng_mlp_ws_create(&k->ws, k->mlp, max_batch);
  if (st != NG_OK) {
    ng_kfac_destroy(k);
    return st;
  }
  if (m) k->ws = ng_model_ws_mlp(k->mws);
  /* deltas layout (mlp.h): one block per stored layer, every layer but L-2; with one
   * cotangent per row, block l is B x r[l] starting at B * dcol[l] */
  size_t max_r = 0, max_c = 0, max_rc = 0, total = 0, col = 0;
  for (size_t l = 0; l < L; l++) {
    k->r[l] = ng_mlp_size(k->mlp, l + 1);
    k->c[l] = ng_mlp_size(k->mlp, l);
    if (L >= 2 && l == L - 2) {
      k->dcol[l] = NG__UNSTORED;
    } else {
      k->dcol[l] = col;
      col += k->r[l];
    }
    if (k->r[l] > max_r) max_r = k->r[l];
    if (k->c[l] > max_c) max_c = k->c[l];
    if (k->r[l] * (k->c[l] + 1) > max_rc) max_rc = k->r[l] * (k->c[l] + 1);
    size_t ad = k->c[l] + 1;
    total += 3 * ad * ad + 3 * k->r[l] * k->r[l];
  }
  const size_t width = ng_mlp_deltas_width(k->mlp), hid = L >= 2 ? k->r[L - 2] : 0;
  if (width != col) { /* the layout mlp.h documents */
    ng_kfac_destroy(k);
    return NG_EINVAL;
  }
  total += max_batch * (k->np + k->n_out + width + hid + 1) + k->np * k->np + k->na +
           2 * max_rc + max_c;
  k->slab = ng_calloc(total, sizeof(double));
  if (!k->slab) {
    ng_kfac_destroy(k);
    return NG_ENOMEM;
  }
  double *q = k->slab;
#define NG__TAKE(ptr, count) \
  do {                       \
    (ptr) = q;               \
    q += (count);            \
  } while (0)
  NG__TAKE(k->dp, max_batch * k->np);
  NG__TAKE(k->dy, max_batch * k->n_out);
  NG__TAKE(k->deltas, max_batch * width);
  NG__TAKE(k->dhid, max_batch * hid);
  NG__TAKE(k->ones, max_batch);
  NG__TAKE(k->u, k->np * k->np);
  NG__TAKE(k->ys, k->na);
  NG__TAKE(k->gam, max_rc);
  NG__TAKE(k->tmp, max_rc);
  NG__TAKE(k->colsum, max_c);
  for (size_t l = 0; l < L; l++) {
    size_t ad = k->c[l] + 1, r = k->r[l];
    NG__TAKE(k->Ab[l], ad * ad);
    NG__TAKE(k->A[l], ad * ad);
    NG__TAKE(k->Ai[l], ad * ad);
    NG__TAKE(k->Gb[l], r * r);
    NG__TAKE(k->G[l], r * r);
    NG__TAKE(k->Gi[l], r * r);
  }
#undef NG__TAKE
  for (size_t i = 0; i < max_batch; i++) k->ones[i] = 1.0;
  *out = k;
  return NG_OK;
}

int ng_kfac_create(ng_kfac_t **out, const ng_model_t *m, size_t max_batch) {
  return ng__kfac_create(out, m, NULL, max_batch); /* NULL m: NG_EINVAL there */
}

int ng_kfac_create_mlp(ng_kfac_t **out, const ng_mlp_t *mlp, size_t max_batch) {
  return ng__kfac_create(out, NULL, mlp, max_batch);
}

void ng_kfac_destroy(ng_kfac_t *k) {
  if (!k) return;
  if (k->mws) ng_model_ws_destroy(k->mws);
  else ng_mlp_ws_destroy(k->ws);
  ng_free(k->r);
  ng_free(k->c);
  ng_free(k->dcol);
  ng_free(k->Ab);
  ng_free(k->Gb);
  ng_free(k->A);
  ng_free(k->G);
  ng_free(k->Ai);
  ng_free(k->Gi);
  ng_free(k->slab);
  ng_free(k->part);
  ng_free(k);
}

size_t ng_kfac_n_layers(const ng_kfac_t *k) { return k ? k->L : 0; }
const double *ng_kfac_batch_A(const ng_kfac_t *k, size_t l) {
  return k && l < k->L ? k->Ab[l] : NULL;
}
const double *ng_kfac_batch_G(const ng_kfac_t *k, size_t l) {
  return k && l < k->L ? k->Gb[l] : NULL;
}
const double *ng_kfac_A(const ng_kfac_t *k, size_t l) { return k && l < k->L ? k->A[l] : NULL; }
const double *ng_kfac_G(const ng_kfac_t *k, size_t l) { return k && l < k->L ? k->G[l] : NULL; }
int ng_kfac_inverted(const ng_kfac_t *k) { return k && k->inverted; }
uint64_t ng_kfac_n_updates(const ng_kfac_t *k) { return k ? k->n_updates : 0; }
ng_model_ws_t *ng_kfac_model_ws(ng_kfac_t *k) { return k ? k->mws : NULL; }
ng_mlp_ws_t *ng_kfac_mlp_ws(ng_kfac_t *k) { return k ? k->ws : NULL; }

int ng_kfac_set_pool(ng_kfac_t *k, ng_pool_t *pool) {
  if (!k) return NG_EINVAL;
  return k->mws ? ng_model_ws_set_pool(k->mws, pool) : ng_mlp_ws_set_pool(k->ws, pool);
}

int ng_kfac_set_reducer(ng_kfac_t *k, const ng_reducer_t *r) {
  if (!k) return NG_EINVAL;
  ng_reducer_t id = {NULL, NULL};
  k->red = r ? *r : id;
  return NG_OK;
}

int ng_kfac_set_split(ng_kfac_t *k, const ng_split_t *sp) {
  if (!k) return NG_EINVAL;
  ng_split_t one = {0, 0, 1, NULL, NULL, NULL};
  int st = ng_mlp_ws_set_split(k->ws, sp ? sp : &one);
  if (st != NG_OK) return st;
  k->split = sp ? *sp : one;
  k->split_on = sp != NULL;
  k->fac_total = 0;
  for (size_t l = 0; l < k->L; l++)
    k->fac_total += ng__a_dim(k, l) * ng__a_dim(k, l) + k->r[l] * k->r[l];
  return NG_OK;
}

/* The slices this process sums statistics for: [*first, *first + *count) of the returned
 * count (one whole-batch "slice" without a split). */
static size_t ng__own_slices(const ng_kfac_t *k, size_t batch, size_t *first, size_t *count) {
  *first = 0;
  *count = 1;
  if (!k->split_on) return 1;
  size_t row0, rows, S = ng_mlp_slice_rows(&k->split, batch, 0, &row0, &rows);
  ng_split_own(&k->split, S, first, count);
  return S;
}

/* Slice s's rows (the whole batch without a split). */
static void ng__slice_rows(const ng_kfac_t *k, size_t batch, size_t s, size_t *row0,
                           size_t *rows) {
  *row0 = 0;
  *rows = batch;
  if (k->split_on) ng_mlp_slice_rows(&k->split, batch, s, row0, rows);
}

/* Where slice s's layer-l factor goes: the batch factor itself without a split, else its
 * partial sum. */
static double *ng__fac(ng_kfac_t *k, size_t s, size_t l, int g) {
  if (!k->split_on) return g ? k->Gb[l] : k->Ab[l];
  double *p = k->part + s * k->fac_total;
  for (size_t i = 0; i < l; i++) p += ng__a_dim(k, i) * ng__a_dim(k, i) + k->r[i] * k->r[i];
  return g ? p + ng__a_dim(k, l) * ng__a_dim(k, l) : p;
}

void ng__kfac_set_batch(ng_kfac_t *k, size_t batch) { k->batch = batch; }
const ng_model_t *ng__kfac_model(const ng_kfac_t *k) { return k->m; }

int ng_kfac_forward(ng_kfac_t *k, const double *theta, size_t batch, const double *x) {
  if (!k || !theta || !x || batch == 0 || batch > k->max_batch) return NG_EINVAL;
  int st = k->mws ? ng_model_forward(k->m, theta, k->mws, batch, x, NULL)
                  : ng_mlp_forward(k->mlp, theta, k->ws, batch, x, NULL);
  k->batch = st == NG_OK ? batch : 0;
  return st;
}

/* ---- passes ----------------------------------------------------------------------------------- */

/* Copies the upper triangle of the n x n row-major m onto its lower one. */
static void ng__mirror_upper(size_t n, double *m) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++) m[i * n + j] = m[j * n + i];
}

/* Gb[l] += scale * D_l^T D_l (upper triangle, r x r) for every layer, D_l (B x r) the
 * pre-activation cotangents of the output cotangents in dy (one per row). ng_mlp_deltas
 * gives every layer's but the last hidden one's, which is D_{L-2} = (D_{L-1} W_{L-1}) .*
 * act'(z_{L-2}): one product with n_out inner columns. */
static int ng__g_accumulate(ng_kfac_t *k, const double *theta, size_t batch, double scale) {
  int st = ng_mlp_deltas(k->mlp, theta, k->ws, batch, 1, k->dy, k->deltas);
  if (st != NG_OK) return st;
  const size_t L = k->L;
  size_t first, count;
  ng__own_slices(k, batch, &first, &count);
  for (size_t s = first; s < first + count; s++) {
    size_t b0, nb; /* the slice's rows: a split ws holds only this process's */
    ng__slice_rows(k, batch, s, &b0, &nb);
    for (size_t l = 0; l < L; l++) {
      const size_t r = k->r[l];
      const double *d;
      if (k->dcol[l] != NG__UNSTORED) {
        d = k->deltas + batch * k->dcol[l] + b0 * r;
      } else {
        /* dhid (B x r) = D_{L-1} (B x n_out) W_{L-1} (n_out x r), then .* act' */
        const double *w_out = theta + ng_mlp_layer_offset(k->mlp, L - 1);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)r, (int)k->n_out,
                    1.0, k->deltas + batch * k->dcol[L - 1] + b0 * k->n_out, (int)k->n_out,
                    w_out, (int)r, 0.0, k->dhid, (int)r);
        st = ng_act_mul_deriv(ng_mlp_act(k->mlp, l), nb * r,
                              ng_mlp_ws_activation(k->ws, l + 1) + b0 * r, k->dhid);
        if (st != NG_OK) return st;
        d = k->dhid;
      }
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)r, (int)nb, scale, d, (int)r,
                  1.0, ng__fac(k, s, l, 1), (int)r);
    }
  }
  return NG_OK;
}

/* With a split: every slice's partial factors to every process, added in slice order into
 * Ab and Gb (upper triangles; A's corner 1 set here, as the whole batch's). */
static int ng__gather_factors(ng_kfac_t *k, size_t n_slices) {
  double *parts[NG_SLICES_MAX];
  for (size_t s = 0; s < n_slices; s++) parts[s] = k->part + s * k->fac_total;
  int st = ng_split_gather_sums(&k->split, parts, k->fac_total, n_slices);
  if (st != NG_OK) return st;
  for (size_t l = 0; l < k->L; l++) {
    const size_t ad = ng__a_dim(k, l), na = ad * ad, ng = k->r[l] * k->r[l];
    memcpy(k->Ab[l], ng__fac(k, 0, l, 0), na * sizeof(double));
    memcpy(k->Gb[l], ng__fac(k, 0, l, 1), ng * sizeof(double));
    for (size_t s = 1; s < n_slices; s++) {
      ng_vec_axpy(na, 1.0, ng__fac(k, s, l, 0), k->Ab[l]);
      ng_vec_axpy(ng, 1.0, ng__fac(k, s, l, 1), k->Gb[l]);
    }
    k->Ab[l][na - 1] = 1.0;
    ng__mirror_upper(ad, k->Ab[l]);
  }
  return NG_OK;
}

int ng_kfac_batch_stats(ng_kfac_t *k, const double *theta, ng_fisher_kind_t kind, int samples,
                        const double *y, ng_rng_t *rng) {
  if (!k || !theta || k->batch == 0) return NG_EINVAL;
  if (kind != NG_FISHER_TRUE && kind != NG_FISHER_EMPIRICAL) return NG_EINVAL;
  if (kind == NG_FISHER_EMPIRICAL && !y) return NG_EINVAL;
  if (kind == NG_FISHER_TRUE && (samples < 0 || (samples > 0 && !rng))) return NG_EINVAL;
  if (!k->m && (kind != NG_FISHER_TRUE || samples != 0)) return NG_EINVAL; /* M = I only */
  const size_t batch = k->batch, np = k->np;
  const double inv_b = 1.0 / (double)batch;
  const double *p = k->mws ? ng_model_ws_params(k->mws) : NULL;
  /* split: this process's slices' partial sums, gathered and added below */
  size_t first, count, n_slices = ng__own_slices(k, batch, &first, &count);
  if (k->split_on && k->part_slices < n_slices) {
    ng_free(k->part);
    k->part = ng_calloc(n_slices * k->fac_total, sizeof(double));
    k->part_slices = k->part ? n_slices : 0;
    if (!k->part) return NG_ENOMEM;
  }
  if (k->split_on) memset(k->part, 0, n_slices * k->fac_total * sizeof(double));
  /* A = (1/B) [a 1]^T [a 1] = (1/B) [[a^T a, a^T 1], [1^T a, B]], a = layer l's input */
  for (size_t s = first; s < first + count; s++) {
    size_t b0, nb;
    ng__slice_rows(k, batch, s, &b0, &nb);
    for (size_t l = 0; l < k->L; l++) {
      size_t c = k->c[l], ad = c + 1;
      const double *in = ng_mlp_ws_activation(k->ws, l);
      if (!in) return NG_EINVAL;
      in += b0 * c;
      double *A = ng__fac(k, s, l, 0);
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)c, (int)nb, inv_b, in, (int)c,
                  0.0, A, (int)ad);
      cblas_dgemv(CblasRowMajor, CblasTrans, (int)nb, (int)c, inv_b, in, (int)c, k->ones, 1,
                  0.0, k->colsum, 1);
      for (size_t j = 0; j < c; j++) A[j * ad + c] = k->colsum[j];
      if (k->split_on) continue; /* the corner and the mirror after the gather */
      A[c * ad + c] = 1.0;
      ng__mirror_upper(ad, A);
      memset(k->Gb[l], 0, k->r[l] * k->r[l] * sizeof(double));
    }
  }
  int st = NG_OK;
  if (kind == NG_FISHER_EMPIRICAL) {
    for (size_t b = 0; b < batch && st == NG_OK; b++)
      st = ng_dist_logp_grad(&k->dist, p + b * np, y + b * k->na, k->dp + b * np);
    if (st == NG_OK) st = ng_model_mlp_cotangent(k->m, batch, k->dp, k->dy);
    if (st == NG_OK) st = ng__g_accumulate(k, theta, batch, inv_b);
  } else if (!k->m) {
    /* M = I: each output unit's cotangent e_rr in turn, the same on every row */
    for (size_t rr = 0; rr < k->n_out && st == NG_OK; rr++) {
      memset(k->dy, 0, batch * k->n_out * sizeof(double));
      for (size_t b = 0; b < batch; b++) k->dy[b * k->n_out + rr] = 1.0;
      st = ng__g_accumulate(k, theta, batch, inv_b);
    }
  } else if (samples == 0) {
    /* E over y~ of g g^T = J^T M J = sum_r (J^T u_r)(J^T u_r)^T for M = sum_r u_r u_r^T;
     * the factor's rows past the MLP's n_out outputs touch only the head (the Gaussian's
     * factor is diagonal; heads of logits have no head parameters), give g = 0 and are
     * skipped. */
    for (size_t rr = 0; rr < k->n_out && st == NG_OK; rr++) {
      for (size_t b = 0; b < batch && st == NG_OK; b++) {
        st = ng_dist_fisher_factor(&k->dist, p + b * np, k->u);
        if (st == NG_OK) st = ng_model_mlp_cotangent(k->m, 1, k->u + rr * np, k->dy + b * k->n_out);
      }
      if (st == NG_OK) st = ng__g_accumulate(k, theta, batch, inv_b);
    }
  } else {
    double scale = inv_b / (double)samples;
    for (int s = 0; s < samples && st == NG_OK; s++) {
      for (size_t b = 0; b < batch && st == NG_OK; b++) {
        const double *pb = p + b * np;
        st = ng_dist_sample(&k->dist, pb, rng, k->ys);
        if (st == NG_OK) st = ng_dist_logp_grad(&k->dist, pb, k->ys, k->dp + b * np);
      }
      if (st == NG_OK) st = ng_model_mlp_cotangent(k->m, batch, k->dp, k->dy);
      if (st == NG_OK) st = ng__g_accumulate(k, theta, batch, scale);
    }
  }
  if (st == NG_OK && k->split_on) st = ng__gather_factors(k, n_slices);
  if (st != NG_OK) return st;
  for (size_t l = 0; l < k->L; l++) ng__mirror_upper(k->r[l], k->Gb[l]);
  if (k->red.sum) {
    /* shards of one batch: each weighs its factors by its share of the rows, then one sum
     * per factor */
    double rows = (double)batch;
    if ((st = ng_reduce_sum(&k->red, &rows, 1)) != NG_OK) return st;
    const double share = (double)batch / rows;
    for (size_t l = 0; l < k->L && st == NG_OK; l++) {
      size_t na = ng__a_dim(k, l) * ng__a_dim(k, l), ng = k->r[l] * k->r[l];
      ng_vec_scale(na, share, k->Ab[l]);
      ng_vec_scale(ng, share, k->Gb[l]);
      st = ng_reduce_sum(&k->red, k->Ab[l], na);
      if (st == NG_OK) st = ng_reduce_sum(&k->red, k->Gb[l], ng);
    }
    if (st != NG_OK) return st;
  }
  for (size_t l = 0; l < k->L; l++) {
    if (!ng_all_finite(k->r[l] * k->r[l], k->Gb[l]) ||
        !ng_all_finite(ng__a_dim(k, l) * ng__a_dim(k, l), k->Ab[l]))
      return NG_ENONFINITE;
  }
  return NG_OK;
}

int ng_kfac_update_running(ng_kfac_t *k, double decay) {
  if (!k || !(decay >= 0.0 && decay < 1.0)) return NG_EINVAL;
  double t = (double)(k->n_updates + 1);
  double e = 1.0 - 1.0 / t;
  if (e > decay) e = decay;
  for (size_t l = 0; l < k->L; l++) {
    size_t na = ng__a_dim(k, l) * ng__a_dim(k, l), ng = k->r[l] * k->r[l];
    for (size_t i = 0; i < na; i++) k->A[l][i] = e * k->A[l][i] + (1.0 - e) * k->Ab[l][i];
    for (size_t i = 0; i < ng; i++) k->G[l][i] = e * k->G[l][i] + (1.0 - e) * k->Gb[l][i];
  }
  k->n_updates++;
  return NG_OK;
}

/* inv <- (m + shift I)^{-1} for symmetric n x n m, by Cholesky (dpotrf + dpotri). */
static int ng__damped_inverse(size_t n, const double *m, double shift, double *inv) {
  memcpy(inv, m, n * n * sizeof(double));
  for (size_t i = 0; i < n; i++) inv[i * n + i] += shift;
  blasint bn = (blasint)n, info = 0;
  dpotrf_("L", &bn, inv, &bn, &info, 1);
  if (info != 0) return NG_ENOTPD;
  dpotri_("L", &bn, inv, &bn, &info, 1);
  if (info != 0) return NG_ENOTPD;
  /* column-major lower = row-major upper: mirror it down */
  ng__mirror_upper(n, inv);
  return ng_all_finite(n * n, inv) ? NG_OK : NG_ENONFINITE;
}

int ng_kfac_invert(ng_kfac_t *k, double damping) {
  if (!k) return NG_EINVAL;
  if (!isfinite(damping)) return NG_ENONFINITE;
  if (!(damping > 0.0) || k->n_updates == 0) return NG_EINVAL;
  double gamma = sqrt(damping);
  for (size_t l = 0; l < k->L; l++) {
    size_t ad = ng__a_dim(k, l), r = k->r[l];
    double ta = 0.0, tg = 0.0;
    for (size_t i = 0; i < ad; i++) ta += k->A[l][i * ad + i];
    for (size_t i = 0; i < r; i++) tg += k->G[l][i * r + i];
    /* pi balances the two damping terms by the factors' mean eigenvalues (M&G 6.3) */
    double pi = (ta > 0.0 && tg > 0.0) ? sqrt((ta / (double)ad) / (tg / (double)r)) : 1.0;
    if (!isfinite(pi) || pi <= 0.0) pi = 1.0;
    int st = ng__damped_inverse(ad, k->A[l], pi * gamma, k->Ai[l]);
    if (st == NG_OK) st = ng__damped_inverse(r, k->G[l], gamma / pi, k->Gi[l]);
    if (st != NG_OK) {
      k->inverted = 0;
      return st;
    }
  }
  k->inv_damping = damping;
  k->inverted = 1;
  return NG_OK;
}

int ng_kfac_precondition(ng_kfac_t *k, const double *g, double *s) {
  if (!k || !g || !s || g == s || !k->inverted) return NG_EINVAL;
  for (size_t l = 0; l < k->L; l++) {
    const size_t r = k->r[l], c = k->c[l], ad = c + 1;
    const size_t off = ng_mlp_layer_offset(k->mlp, l);
    /* Gamma (r x (c+1)) = [dW | db]; S = Gi Gamma Ai */
    for (size_t i = 0; i < r; i++) {
      memcpy(k->gam + i * ad, g + off + i * c, c * sizeof(double));
      k->gam[i * ad + c] = g[off + r * c + i];
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, (int)ad, (int)r, 1.0,
                k->Gi[l], (int)r, k->gam, (int)ad, 0.0, k->tmp, (int)ad);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r, (int)ad, (int)ad, 1.0,
                k->tmp, (int)ad, k->Ai[l], (int)ad, 0.0, k->gam, (int)ad);
    for (size_t i = 0; i < r; i++) {
      memcpy(s + off + i * c, k->gam + i * ad, c * sizeof(double));
      s[off + r * c + i] = k->gam[i * ad + c];
    }
  }
  /* the head (model.h), a Gaussian's log stds: Fisher block 2 I, damped as the layers */
  for (size_t i = k->n_mlp; i < k->n_params; i++) s[i] = g[i] / (2.0 + k->inv_damping);
  return ng_all_finite(k->n_params, s) ? NG_OK : NG_ENONFINITE;
}

/* ---- state ------------------------------------------------------------------------------------ */

void ng__kfac_state_put(const ng_kfac_t *k, ng__ckio_w_t *w) {
  ng__ckio_put_u64(w, k->L);
  ng__ckio_put_u64(w, k->n_updates);
  ng__ckio_put_u64(w, (uint64_t)k->inverted);
  ng__ckio_put_f64(w, k->inv_damping);
  for (size_t l = 0; l < k->L; l++) {
    size_t na = ng__a_dim(k, l) * ng__a_dim(k, l), ng = k->r[l] * k->r[l];
    ng__ckio_put_u64(w, ng__a_dim(k, l));
    ng__ckio_put_u64(w, k->r[l]);
    ng__ckio_put_f64s(w, k->A[l], na);
    ng__ckio_put_f64s(w, k->G[l], ng);
    ng__ckio_put_f64s(w, k->Ai[l], na);
    ng__ckio_put_f64s(w, k->Gi[l], ng);
  }
}

int ng__kfac_state_get(ng_kfac_t *k, ng__ckio_r_t *r) {
  if (ng__ckio_get_u64(r) != k->L) return NG_EFORMAT;
  k->n_updates = ng__ckio_get_u64(r);
  k->inverted = ng__ckio_get_u64(r) != 0;
  k->inv_damping = ng__ckio_get_f64(r);
  for (size_t l = 0; l < k->L && !r->bad; l++) {
    size_t na = ng__a_dim(k, l) * ng__a_dim(k, l), ng = k->r[l] * k->r[l];
    if (ng__ckio_get_u64(r) != ng__a_dim(k, l) || ng__ckio_get_u64(r) != k->r[l])
      return NG_EFORMAT;
    ng__ckio_get_f64s(r, k->A[l], na);
    ng__ckio_get_f64s(r, k->G[l], ng);
    ng__ckio_get_f64s(r, k->Ai[l], na);
    ng__ckio_get_f64s(r, k->Gi[l], ng);
    /* the running factors are convex combinations of finite batch factors; the inverses
     * are used (and so must be finite) only while inverted says they are current */
    if (!ng_all_finite(na, k->A[l]) || !ng_all_finite(ng, k->G[l]) ||
        (k->inverted && (!ng_all_finite(na, k->Ai[l]) || !ng_all_finite(ng, k->Gi[l]))))
      return NG_EFORMAT;
  }
  if (k->inverted && !(k->inv_damping > 0.0 && isfinite(k->inv_damping))) return NG_EFORMAT;
  return r->bad ? NG_EFORMAT : NG_OK;
}

size_t ng_kfac_state_size(const ng_kfac_t *k) {
  if (!k) return 0;
  ng__ckio_w_t w = {.measure = 1};
  ng__kfac_state_put(k, &w);
  return w.len;
}

int ng_kfac_state_save(const ng_kfac_t *k, void *buf, size_t size) {
  if (!k || !buf) return NG_EINVAL;
  if (size != ng_kfac_state_size(k)) return NG_ERANGE;
  /* a writer over the caller's buffer, exactly the state's size: it never grows (so never
   * allocates) and is not freed here */
  ng__ckio_w_t w = {.buf = buf, .cap = size};
  ng__kfac_state_put(k, &w);
  return w.status ? w.status : NG_OK;
}

int ng_kfac_state_load(ng_kfac_t *k, const void *buf, size_t size) {
  if (!k || !buf) return NG_EINVAL;
  if (size != ng_kfac_state_size(k)) return NG_EFORMAT;
  ng__ckio_r_t r = {buf, size, 0, 0};
  int st = ng__kfac_state_get(k, &r);
  return st != NG_OK ? st : r.pos == size ? NG_OK : NG_EFORMAT;
}
