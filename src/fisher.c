/* The model's Fisher F = (1/N) sum_b J_b^T M(P_b) J_b as products over stored activations.
 *
 * set_point runs the one forward pass (ng_model_forward, on a model workspace owned here)
 * and precomputes, per row, what M(P_b) needs: the diagonal of a diagonal M (Gaussian,
 * MultiBinary), or the probabilities of each softmax block (categorical: one block;
 * MultiDiscrete: one per component, M block-diagonal). Then, on one of two paths
 * (fisher.h):
 *   JVP/VJP:   dP = J v (ng_model_jvp) -> dP_b <- M(P_b) dP_b per row -> J^T dP
 *              (ng_model_vjp): any head the model has;
 *   factored:  set_point also caches the deltas of the per-row gradients s_{b,r} = J_b^T
 *              u_{b,r} (u a square-root factor of M restricted to the MLP's outputs); a
 *              product is c = S v (one matrix product per layer), then S^T c (another),
 *              chunk by chunk so a chunk's deltas are still in cache for the second pass.
 * Both end in one reduction and the division by the total row count N.
 *
 * The factored path runs mlp.h's kernels on the forward's MLP workspace (ng_model_ws_mlp),
 * and takes the rest from model.h's rule P_b = [y_b | theta_head]: the MLP's outputs are
 * P's first n_out columns, and the head's parameters (ng_model_n_mlp_params on) are P's
 * last ones. A head is a Gaussian's log stds, whose block of F is exactly 2 I with no cross
 * terms (M is diagonal and the head does not move the means).
 *
 * Everything is allocated in create; products, dense, diag and distance allocate nothing.
 */
#include "natgrad/fisher.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "natgrad/mlp.h"
#include "natgrad/pool.h"

/* Rows per chunk of the factored product: the chunk's deltas (r x width doubles a row) and
 * activations stay in L2 between the dot and the accumulate. A product sums its chunks into
 * min(S, chunks) partial sums (S: the split's slices, NG_SLICES_DEFAULT without one), slice
 * s taking chunks [s C / S, (s+1) C / S) in order, added in slice order at the end: fixed by
 * the batch and S alone, so a product is the same for any number of threads (each slice is
 * one thread's task) and of processes (each computes its block of slices; core.h). */
#define NG__FISHER_CHUNK 256

/* Chunks of `rows` rows. */
static size_t ng__fchunks(size_t rows) { return (rows + NG__FISHER_CHUNK - 1) / NG__FISHER_CHUNK; }

/* Loops over the softmax blocks of f's rows: block c holds K logits from column off (the
 * sizes are looked up once, at create: this runs per row in every product). */
#define NG__FOR_BLOCKS(f, c, off, K)                                                     \
  for (size_t c = 0, off = 0, K = (f)->bsize[0]; c < (f)->nb;                           \
       off += K, c++, K = c < (f)->nb ? (f)->bsize[c] : 0)

struct ng_fisher {
  const ng_model_t *m;
  const ng_mlp_t *mlp;
  ng_model_ws_t *mws; /* the forward at the point */
  ng_mlp_ws_t *ws;   /* its MLP workspace (borrowed from mws) */
  ng_dist_t dist;
  int diag_m;        /* M(P_b) is diagonal (Gaussian, MultiBinary): mc holds its diagonal */
  size_t nb;         /* softmax blocks of a row (categorical 1, MultiDiscrete m; else 0) */
  size_t bsize[NG_DIST_MAX_COMPONENTS]; /* their sizes */
  size_t n;          /* parameters */
  size_t n_mlp;      /* MLP parameters: theta[0, n_mlp) */
  size_t n_head;     /* head parameters (the Gaussian's log stds): theta[n_mlp, n) */
  size_t np;         /* distribution parameters per row */
  size_t n_out;      /* MLP outputs per row */
  size_t n_in;
  size_t max_batch;
  size_t k;          /* factor rows per sample on the factored path (0: no factored form) */
  size_t width;      /* ng_mlp_deltas_width */
  size_t cache_rows; /* rows the factored cache holds (0: disabled) */
  int factored;      /* the current point uses the cache */
  ng_reducer_t reducer;
  ng_split_t split;  /* slices of a product and their owners */
  size_t part_slices; /* slices f->part has room for */
  int partial;        /* the point's forward ran only this process's rows (split) */
  double *theta;     /* n: the point */
  double *xsub;      /* max_batch x n_in: sub-sampled rows */
  size_t *idx;       /* max_batch: index array for the partial Fisher-Yates shuffle */
  const double *p;   /* max_batch x np: P at the point (mws's, borrowed) */
  double *dp;        /* max_batch x np: tangents / cotangents of P */
  double *mc;        /* max_batch x np: diag(M) per row (diag_m), or each block's pi */
  double *u;         /* np x np: factor of M (generic path) */
  double *tmp;       /* np: M dP_b (generic path) */
  double *vec;       /* n: unit vectors for dense */
  double *deltas;    /* cache_rows*k x width: the cached deltas */
  double *uy;        /* cache_rows*k x n_out: factor rows as MLP-output cotangents */
  double *c;         /* cache_rows x k: the dots s_{b,r}^T v */
  double *part;      /* (slices - 1) x n: partial sums of a factored product */
  ng_pool_t *pool;   /* borrowed; NULL: one thread */
  size_t batch;      /* local rows at the point (0: no point yet) */
  double n_total;    /* rows over all participants (reduced once at set_point) */
  double linop_damping;
  unsigned long products;
};

/* ---- sizes --------------------------------------------------------------------------------- */

/* Factor rows per sample that reach the MLP (0: none, no factored path). */
static size_t ng__factor_rows(const ng_model_t *m) {
  ng_dist_t dist = ng_model_dist(m);
  size_t n_out = ng_mlp_n_out(ng_model_mlp(m));
  /* K - 1 per softmax block of K: a categorical's k - 1, a MultiDiscrete's sum (nvec - 1) */
  size_t nb = ng_dist_n_blocks(&dist);
  if (nb) return ng_model_n_dist_params(m) - nb;
  /* d means, or 2d means and log stds; d logits */
  if (dist.kind == NG_DIST_GAUSSIAN || dist.kind == NG_DIST_MULTI_BINARY) return n_out;
  return 0;
}

/* Doubles per row of the cache: deltas, factor rows and dots; 0 on overflow or no form. */
static size_t ng__cache_doubles_per_row(const ng_model_t *m) {
  size_t k = ng__factor_rows(m);
  const ng_mlp_t *mlp = ng_model_mlp(m);
  size_t per = ng_mlp_deltas_width(mlp) + ng_mlp_n_out(mlp) + 1;
  if (k == 0 || per > SIZE_MAX / k) return 0;
  return k * per;
}

size_t ng_fisher_cache_bytes(const ng_model_t *m, size_t rows) {
  if (!m) return 0;
  size_t per = ng__cache_doubles_per_row(m);
  if (per == 0 || rows > SIZE_MAX / sizeof(double) / per) return 0;
  return rows * per * sizeof(double);
}

/* ---- create / destroy ----------------------------------------------------------------------- */

int ng_fisher_create_ex(ng_fisher_t **out, const ng_model_t *m, size_t max_batch,
                        size_t cache_bytes) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (!m || max_batch == 0) return NG_EINVAL;
  size_t n = ng_model_n_params(m), np = ng_model_n_dist_params(m), n_in = ng_model_n_in(m);
  const ng_mlp_t *mlp = ng_model_mlp(m);
  if (n == 0 || np == 0 || n_in == 0 || !mlp) return NG_EINVAL;
  size_t n_out = ng_mlp_n_out(mlp);
  if (max_batch > SIZE_MAX / sizeof(double) / np || max_batch > SIZE_MAX / sizeof(double) / n_in ||
      np > SIZE_MAX / sizeof(double) / np)
    return NG_EINVAL;
  ng_fisher_t *f = ng_calloc(1, sizeof *f);
  if (!f) return NG_ENOMEM;
  f->m = m;
  f->mlp = mlp;
  f->dist = ng_model_dist(m);
  f->diag_m = f->dist.kind == NG_DIST_GAUSSIAN || f->dist.kind == NG_DIST_MULTI_BINARY;
  f->nb = ng_dist_n_blocks(&f->dist);
  for (size_t c = 0; c < f->nb; c++) f->bsize[c] = ng_dist_block_size(&f->dist, c);
  f->n = n;
  f->n_mlp = ng_model_n_mlp_params(m);
  f->n_head = ng_model_n_head_params(m);
  f->np = np;
  f->n_out = n_out;
  f->n_in = n_in;
  f->max_batch = max_batch;
  f->k = ng__factor_rows(m);
  f->width = ng_mlp_deltas_width(mlp);
  size_t per_row = ng__cache_doubles_per_row(m);
  if (per_row > 0 && cache_bytes / sizeof(double) >= per_row) {
    f->cache_rows = cache_bytes / sizeof(double) / per_row;
    if (f->cache_rows > max_batch) f->cache_rows = max_batch;
  }
  int st = ng_model_ws_create(&f->mws, m, max_batch);
  if (st != NG_OK) {
    ng_free(f);
    return st;
  }
  f->ws = ng_model_ws_mlp(f->mws);
  f->p = ng_model_ws_params(f->mws);
  f->theta = ng_malloc(n * sizeof(double));
  f->xsub = ng_malloc(max_batch * n_in * sizeof(double));
  f->idx = ng_malloc(max_batch * sizeof(size_t));
  f->dp = ng_malloc(max_batch * np * sizeof(double));
  f->mc = ng_malloc(max_batch * np * sizeof(double));
  f->u = ng_malloc(np * np * sizeof(double));
  f->tmp = ng_malloc(np * sizeof(double));
  f->vec = ng_malloc(n * sizeof(double));
  if (f->cache_rows > 0) {
    size_t rk = f->cache_rows * f->k;
    f->deltas = ng_malloc(rk * f->width * sizeof(double));
    f->uy = ng_malloc(rk * n_out * sizeof(double));
    f->c = ng_malloc(rk * sizeof(double));
    f->part_slices = ng_split_slices(NULL, ng__fchunks(f->cache_rows));
    if (f->part_slices > 1) f->part = ng_malloc((f->part_slices - 1) * n * sizeof(double));
  }
  if (!f->theta || !f->xsub || !f->idx || !f->dp || !f->mc ||
      !f->u || !f->tmp || !f->vec ||
      (f->cache_rows > 0 && (!f->deltas || !f->uy || !f->c)) ||
      (f->cache_rows > NG__FISHER_CHUNK && !f->part)) {
    ng_fisher_destroy(f);
    return NG_ENOMEM;
  }
  *out = f;
  return NG_OK;
}

int ng_fisher_create(ng_fisher_t **out, const ng_model_t *m, size_t max_batch) {
  return ng_fisher_create_ex(out, m, max_batch, NG_FISHER_CACHE_BYTES_DEFAULT);
}

void ng_fisher_destroy(ng_fisher_t *f) {
  if (!f) return;
  ng_model_ws_destroy(f->mws);
  ng_free(f->theta);
  ng_free(f->xsub);
  ng_free(f->idx);
  ng_free(f->dp);
  ng_free(f->mc);
  ng_free(f->u);
  ng_free(f->tmp);
  ng_free(f->vec);
  ng_free(f->deltas);
  ng_free(f->uy);
  ng_free(f->c);
  ng_free(f->part);
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

int ng_fisher_set_split(ng_fisher_t *f, const ng_split_t *sp) {
  if (!f || (sp && sp->slices > NG_SLICES_MAX)) return NG_EINVAL;
  ng_split_t one = {NG_SLICES_DEFAULT, 0, 1, NULL, NULL, NULL};
  size_t need = ng_split_slices(sp, ng__fchunks(f->cache_rows));
  if (f->cache_rows > 0 && need > f->part_slices) {
    double *part = ng_realloc(f->part, (need - 1) * f->n * sizeof(double));
    if (!part) return NG_ENOMEM;
    f->part = part;
    f->part_slices = need;
  }
  f->split = sp ? *sp : one;
  /* the forward at the point splits too (set_point decides per batch); this sizes its
   * workspace's partial sums once, here */
  return ng_mlp_ws_set_split(f->ws, &f->split);
}

int ng_fisher_set_pool(ng_fisher_t *f, ng_pool_t *pool) {
  if (!f) return NG_EINVAL;
  f->pool = pool;
  return ng_model_ws_set_pool(f->mws, pool);
}

size_t ng_fisher_n(const ng_fisher_t *f) { return f ? f->n : 0; }
size_t ng_fisher_batch(const ng_fisher_t *f) { return f ? f->batch : 0; }
unsigned long ng_fisher_products(const ng_fisher_t *f) { return f ? f->products : 0; }
size_t ng_fisher_cache_rows(const ng_fisher_t *f) { return f ? f->cache_rows : 0; }
int ng_fisher_factored(const ng_fisher_t *f) { return f && f->batch > 0 && f->factored; }

/* ---- the point ------------------------------------------------------------------------------- */

/* P: B x np -> mc: B x np, per row what M(P_b) needs. Gaussian: diag(M) =
 * [exp(-2 log_std) (d), 2 (d)]; MultiBinary: diag(M) = p (1 - p), written as dist.c does
 * (e / (1 + e)^2, e = exp(-|logit|): no cancellation); categorical and MultiDiscrete: pi =
 * softmax of each block's logits. */
static void ng__precompute_m(ng_fisher_t *f, const double *p, size_t batch) {
  size_t np = f->np;
  if (f->dist.kind == NG_DIST_MULTI_BINARY) {
    for (size_t i = 0; i < batch * np; i++) {
      double e = exp(-fabs(p[i]));
      f->mc[i] = e / ((1.0 + e) * (1.0 + e));
    }
  } else if (f->dist.kind == NG_DIST_GAUSSIAN) {
    size_t d = f->dist.dim;
    for (size_t b = 0; b < batch; b++) {
      const double *pb = p + b * np;
      double *mb = f->mc + b * np;
      for (size_t j = 0; j < d; j++) {
        mb[j] = exp(-2.0 * pb[d + j]);
        mb[d + j] = 2.0;
      }
    }
  } else if (f->nb) {
    for (size_t b = 0; b < batch; b++)
      NG__FOR_BLOCKS(f, c, off, K) {
        const double *pb = p + b * np + off;
        double *mb = f->mc + b * np + off;
        double mx = pb[0];
        for (size_t j = 1; j < K; j++)
          if (pb[j] > mx) mx = pb[j];
        double z = 0.0;
        for (size_t j = 0; j < K; j++) {
          mb[j] = exp(pb[j] - mx);
          z += mb[j];
        }
        for (size_t j = 0; j < K; j++) mb[j] /= z;
      }
  }
}

/* Row b's k factor rows of M(P_b), restricted to the MLP's outputs, into uy (k x n_out):
 *   diagonal M:   u_r = sqrt(M_rr) e_r over the n_out outputs (Gaussian: means, and log
 *                 stds if the network makes them; MultiBinary: logits);
 *   softmax:      per block of K categories (one for a categorical, MultiDiscrete's M is
 *                 block-diagonal), the stick-breaking (Cholesky) factor of diag(pi) - pi
 *                 pi^T, K - 1 rows: with tails S_j = pi_j + ... + pi_{K-1},
 *                     u_j = sqrt(pi_j / S_j) (sqrt(S_{j+1}) e_j - pi_{>j} / sqrt(S_{j+1})),
 *                 since sum_{j<i} pi_j / (S_j S_{j+1}) telescopes to 1/S_i - 1. Written so
 *                 nothing overflows when a tail underflows; a zero tail gives a zero row.
 *                 Block c's rows follow block c-1's and are zero outside its columns. */
static void ng__factor_row(ng_fisher_t *f, const double *mb, double *uy) {
  size_t k = f->k, n_out = f->n_out;
  memset(uy, 0, k * n_out * sizeof(double));
  if (f->diag_m) {
    for (size_t r = 0; r < k; r++) uy[r * n_out + r] = sqrt(mb[r]);
    return;
  }
  /* tails summed from each block's end (no cancellation), into tmp (np = n_out doubles) */
  double *tail = f->tmp;
  size_t row = 0; /* the block's first factor row */
  NG__FOR_BLOCKS(f, c, off, K) {
    double s = 0.0;
    for (size_t j = off + K; j-- > off;) tail[j] = (s += mb[j]);
    for (size_t j = off; j + 1 < off + K; j++, row++) {
      double s_j = tail[j], s_next = tail[j + 1];
      if (!(s_j > 0.0) || !(s_next > 0.0)) continue;
      double a = sqrt(mb[j] / s_j), rb = sqrt(s_next);
      double *u = uy + row * n_out;
      u[j] = a * rb;
      for (size_t i = j + 1; i < off + K; i++) u[i] = -a * (mb[i] / rb);
    }
  }
}

/* The common tail of both set_point flavours: x (batch x n_in) is the final row set. */
static int ng__set_point(ng_fisher_t *f, const double *theta, size_t batch, const double *x) {
  f->batch = 0;
  f->factored = 0;
  /* Split, each process computes the forward and the deltas of its own rows only, where
   * the MLP's chunks are the product's (over 256 rows); smaller points run whole. */
  ng_split_t whole = f->split;
  whole.size = 1;
  f->partial = ng_split_active(&f->split) && batch > NG__FISHER_CHUNK;
  int st = ng_mlp_ws_set_split(f->ws, f->partial ? &f->split : &whole);
  if (st != NG_OK) return st;
  /* checks theta (head included), x and P */
  st = ng_model_forward(f->m, theta, f->mws, batch, x, NULL);
  if (st != NG_OK) return st;
  memcpy(f->theta, theta, f->n * sizeof(double));
  ng__precompute_m(f, f->p, batch);
  if (!ng_all_finite(batch * f->np, f->mc)) return NG_ENONFINITE;
  int factored = batch <= f->cache_rows;
  if (factored) {
    size_t k = f->k, n_out = f->n_out;
    for (size_t b = 0; b < batch; b++) ng__factor_row(f, f->mc + b * f->np, f->uy + b * k * n_out);
    st = ng_mlp_deltas(f->mlp, f->theta, f->ws, batch, k, f->uy, f->deltas);
    if (st != NG_OK) return st;
  }
  double count = (double)batch;
  st = ng_reduce_sum(&f->reducer, &count, 1);
  if (st != NG_OK) return st;
  if (!(count >= 1.0) || !isfinite(count)) return NG_ERANGE;
  f->n_total = count;
  f->factored = factored;
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

/* ---- products ---------------------------------------------------------------------------------- */

/* pi^T w as wm + s with wm = w at the most likely category m and s = sum_{j != m} pi_j
 * (w_j - wm) (returned): then w_i - pi^T w = (w_i - wm) - s keeps its relative accuracy
 * when pi_m rounds to 1, where the plain w_i - pi^T w cancels to rounding noise (a nearly
 * deterministic policy's M = diag(pi) - pi pi^T is ~ 1 - pi_m, all of it in that noise). */
static double ng__centred_mean(size_t np, const double *pi, const double *w, double *wm) {
  size_t m = 0;
  for (size_t j = 1; j < np; j++)
    if (pi[j] > pi[m]) m = j;
  double s = 0.0;
  for (size_t j = 0; j < np; j++)
    if (j != m) s += pi[j] * (w[j] - w[m]);
  *wm = w[m];
  return s;
}

/* dp: B x np, in place dP_b <- M(P_b) dP_b. */
static int ng__apply_m(ng_fisher_t *f, double *dp, size_t batch) {
  size_t np = f->np;
  if (f->diag_m) {
    for (size_t i = 0; i < batch * np; i++) dp[i] *= f->mc[i];
  } else if (f->nb) {
    /* per block (diag(pi) - pi pi^T) w = pi .* (w - wbar), wbar = pi^T w */
    for (size_t b = 0; b < batch; b++)
      NG__FOR_BLOCKS(f, c, off, K) {
        double *w = dp + b * np + off;
        const double *pi = f->mc + b * np + off;
        double wm, s = ng__centred_mean(K, pi, w, &wm);
        for (size_t j = 0; j < K; j++) w[j] = pi[j] * ((w[j] - wm) - s);
      }
  } else {
    for (size_t b = 0; b < batch; b++) {
      int st = ng_dist_fisher_apply(&f->dist, f->p + b * np, dp + b * np, f->tmp);
      if (st != NG_OK) return st;
      memcpy(dp + b * np, f->tmp, np * sizeof(double));
    }
  }
  return NG_OK;
}

/* A factored product's (or distance's) arguments, shared by its tasks. */
typedef struct {
  ng_fisher_t *f;
  const double *v;
  double *out;
  size_t n_chunks, n_slices, first; /* first: this process's first slice (tasks from it) */
} ng__fjob_t;

/* Rows [row0, row0 + rows) of chunk c of the point. */
static size_t ng__fchunk(const ng_fisher_t *f, size_t c, size_t *row0) {
  *row0 = c * NG__FISHER_CHUNK;
  return f->batch - *row0 < NG__FISHER_CHUNK ? f->batch - *row0 : NG__FISHER_CHUNK;
}

/* Slice s of a product: its chunks in order, each dotted (c = S v) then accumulated
 * (S^T c) while its deltas are in cache, into out (s = 0) or the slice's partial sum. */
static int ng__factored_task(void *ctx, size_t task) {
  const ng__fjob_t *j = ctx;
  const size_t s = j->first + task;
  ng_fisher_t *f = j->f;
  double *acc = s == 0 ? j->out : f->part + (s - 1) * f->n;
  memset(acc, 0, f->n * sizeof(double));
  for (size_t c = s * j->n_chunks / j->n_slices; c < (s + 1) * j->n_chunks / j->n_slices; c++) {
    size_t row0, rows = ng__fchunk(f, c, &row0);
    int st = ng_mlp_rowgrad_dot(f->mlp, f->theta, f->ws, row0, rows, f->k, f->deltas, j->v, f->c);
    if (st == NG_OK)
      st = ng_mlp_rowgrad_acc(f->mlp, f->theta, f->ws, row0, rows, f->k, f->deltas, f->c, acc);
    if (st != NG_OK) return st;
  }
  return NG_OK;
}

/* Factored: out (n, overwritten) = sum_{b,r} s_{b,r} (s_{b,r}^T v) over the local rows, head
 * block 2 B v_head; chunk by chunk, in fixed slices. */
static int ng__apply_factored(ng_fisher_t *f, const double *v, double *out) {
  size_t batch = f->batch;
  ng__fjob_t job = {f, v, out, ng__fchunks(batch), 0, 0};
  job.n_slices = ng_split_slices(&f->split, job.n_chunks);
  size_t count;
  ng_split_own(&f->split, job.n_slices, &job.first, &count);
  int st = ng_pool_run(f->pool, count, ng__factored_task, &job);
  if (st != NG_OK) return st;
  double *parts[NG_SLICES_MAX];
  parts[0] = out;
  for (size_t s = 1; s < job.n_slices; s++) parts[s] = f->part + (s - 1) * f->n;
  if ((st = ng_split_gather_sums(&f->split, parts, f->n, job.n_slices)) != NG_OK) return st;
  for (size_t s = 1; s < job.n_slices; s++) {
    const double *part = f->part + (s - 1) * f->n;
    for (size_t i = 0; i < f->n; i++) out[i] += part[i];
  }
  if (f->n_head) {
    double scale = 2.0 * (double)batch;
    for (size_t j = 0; j < f->n_head; j++) out[f->n_mlp + j] = scale * v[f->n_mlp + j];
  }
  return NG_OK;
}

/* JVP/VJP: out (n, zeroed here) = sum_b J_b^T M_b J_b v over the local rows. */
static int ng__apply_jvp_vjp(ng_fisher_t *f, const double *v, double *out) {
  int st = ng_model_jvp(f->m, f->theta, f->mws, f->batch, v, f->dp);
  if (st != NG_OK) return st;
  st = ng__apply_m(f, f->dp, f->batch);
  if (st != NG_OK) return st;
  memset(out, 0, f->n * sizeof(double));
  return ng_model_vjp(f->m, f->theta, f->mws, f->batch, f->dp, out);
}

int ng_fisher_apply(ng_fisher_t *f, const double *v, double damping, double *out) {
  if (!f || !v || !out || v == out) return NG_EINVAL;
  if (f->batch == 0) return NG_EINVAL;
  if (!isfinite(damping)) return NG_ENONFINITE;
  if (damping < 0.0) return NG_EINVAL;
  if (!ng_all_finite(f->n, v)) return NG_ENONFINITE;
  size_t n = f->n;
  int st = f->factored ? ng__apply_factored(f, v, out) : ng__apply_jvp_vjp(f, v, out);
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

/* sum_b dP_b^T M_b dP_b over the local rows, dp: B x np. */
static int ng__quad_m(ng_fisher_t *f, const double *dp, double *sum) {
  size_t np = f->np, batch = f->batch;
  double s = 0.0;
  if (f->diag_m) {
    for (size_t i = 0; i < batch * np; i++) s += f->mc[i] * (dp[i] * dp[i]);
  } else if (f->nb) {
    /* per block w^T (diag(pi) - pi pi^T) w = sum_j pi_j (w_j - pi^T w)^2, a variance: no
     * cancellation, never negative */
    for (size_t b = 0; b < batch; b++) {
      double v = 0.0;
      NG__FOR_BLOCKS(f, c, off, K) {
        const double *w = dp + b * np + off, *pi = f->mc + b * np + off;
        double wm, cm = ng__centred_mean(K, pi, w, &wm);
        for (size_t j = 0; j < K; j++) {
          double e = (w[j] - wm) - cm;
          v += pi[j] * (e * e);
        }
      }
      s += v;
    }
  } else {
    for (size_t b = 0; b < batch; b++) {
      int st = ng_dist_fisher_apply(&f->dist, f->p + b * np, dp + b * np, f->tmp);
      if (st != NG_OK) return st;
      for (size_t j = 0; j < np; j++) s += dp[b * np + j] * f->tmp[j];
    }
  }
  *sum = s;
  return NG_OK;
}

/* The dots c = S d of chunk c (distance). */
static int ng__dot_task(void *ctx, size_t c) {
  const ng__fjob_t *j = ctx;
  ng_fisher_t *f = j->f;
  size_t row0, rows = ng__fchunk(f, c, &row0);
  return ng_mlp_rowgrad_dot(f->mlp, f->theta, f->ws, row0, rows, f->k, f->deltas, j->v, f->c);
}

int ng_fisher_distance(ng_fisher_t *f, const double *d, double *dist) {
  if (!f || !d || !dist) return NG_EINVAL;
  if (f->batch == 0) return NG_EINVAL;
  if (f->partial) return NG_EUNSUPPORTED; /* reads every row */
  if (!ng_all_finite(f->n, d)) return NG_ENONFINITE;
  size_t batch = f->batch;
  double s = 0.0;
  if (f->factored) {
    /* sum of squared dots s_{b,r}^T d, plus the head's 2 B |d_head|^2 */
    size_t k = f->k;
    ng__fjob_t job = {f, d, NULL, ng__fchunks(batch), 0, 0};
    int st = ng_pool_run(f->pool, job.n_chunks, ng__dot_task, &job);
    if (st != NG_OK) return st;
    for (size_t i = 0; i < batch * k; i++) s += f->c[i] * f->c[i];
    if (f->n_head) {
      double h = 0.0;
      for (size_t j = 0; j < f->n_head; j++) h += d[f->n_mlp + j] * d[f->n_mlp + j];
      s += 2.0 * (double)batch * h;
    }
  } else {
    int st = ng_model_jvp(f->m, f->theta, f->mws, batch, d, f->dp);
    if (st == NG_OK) st = ng__quad_m(f, f->dp, &s);
    if (st != NG_OK) return st;
  }
  int st = ng_reduce_sum(&f->reducer, &s, 1);
  if (st != NG_OK) return st;
  f->products++;
  *dist = s / f->n_total;
  if (!isfinite(*dist)) return NG_ENONFINITE;
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
  if (f->partial) return NG_EUNSUPPORTED; /* reads every row */
  size_t n = f->n, np = f->np, batch = f->batch;
  memset(out, 0, n * sizeof(double));
  if (f->factored) {
    int st = ng_mlp_rowgrad_sq_acc(f->mlp, f->theta, f->ws, 0, batch, f->k, f->deltas, NULL, out);
    if (st != NG_OK) return st;
    if (f->n_head)
      for (size_t j = 0; j < f->n_head; j++) out[f->n_mlp + j] = 2.0 * (double)batch;
  } else {
    /* factor rows: Gaussian and MultiBinary np (log stds included), categorical and
     * MultiDiscrete k, K - 1 per block (the stick-breaking factor, accurate for nearly
     * deterministic rows; rebuilt per row into f->u), other kinds np */
    size_t n_rows = f->nb ? f->k : np;
    for (size_t r = 0; r < n_rows; r++) {
      for (size_t b = 0; b < batch; b++) {
        double *u = f->dp + b * np;
        const double *mb = f->mc + b * np;
        if (f->diag_m) {
          /* u_r = sqrt(M_rr) e_r */
          memset(u, 0, np * sizeof(double));
          u[r] = sqrt(mb[r]);
        } else if (f->nb) {
          ng__factor_row(f, mb, f->u);
          memcpy(u, f->u + r * np, np * sizeof(double));
        } else {
          int st = ng_dist_fisher_factor(&f->dist, f->p + b * np, f->u);
          if (st != NG_OK) return st;
          memcpy(u, f->u + r * np, np * sizeof(double));
        }
      }
      int st = ng_model_vjp_sq(f->m, f->theta, f->mws, batch, f->dp, out);
      if (st != NG_OK) return st;
    }
  }
  int st = ng_reduce_sum(&f->reducer, out, n);
  if (st != NG_OK) return st;
  for (size_t i = 0; i < n; i++) out[i] /= f->n_total;
  if (!ng_all_finite(n, out)) return NG_ENONFINITE;
  return NG_OK;
}
