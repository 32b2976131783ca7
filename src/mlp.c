/* The MLP: architecture, initialisation, and forward / backward / forward-mode passes over
 * a workspace of cached activations. Every dense product, the tanh and the finiteness checks
 * are kernels in mlp_kernels.c (thin shapes by hand, the rest by CBLAS; row-major). */
#include "natgrad/mlp.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "natgrad/pool.h"
#include "mlp_kernels.h"

/* LAPACK's Householder QR from OpenBLAS (Fortran ABI, column-major, integers are blasint). */
extern void dgeqrf_(const blasint *m, const blasint *n, double *a, const blasint *lda,
                    double *tau, double *work, const blasint *lwork, blasint *info);
extern void dorgqr_(const blasint *m, const blasint *n, const blasint *k, double *a,
                    const blasint *lda, const double *tau, double *work, const blasint *lwork,
                    blasint *info);

struct ng_mlp {
  size_t n_layers;
  size_t *sizes;   /* n_layers + 1 widths */
  ng_act_t *acts;  /* n_layers activations */
  size_t *offsets; /* n_layers offsets of W_l in theta */
  size_t n_params;
  size_t max_width; /* max over sizes[1..n_layers]: widest layer output */
  size_t max_size;    /* max over sizes[0..n_layers]: widest of anything */
};

/* One slab of doubles with named views. The input X is copied at forward time so vjp can
 * form dW_0 = G^T X even if the caller has since overwritten its X buffer; the copy costs
 * B*n_in, small next to the products. Only a_l is kept, not z_l: each activation's
 * derivative is a function of its output (identity 1, tanh 1 - a^2, relu [a > 0]). */
struct ng_mlp_ws {
  const ng_mlp_t *mlp; /* the architecture this ws was built for */
  size_t n_layers, n_params, n_in, n_out; /* fingerprint, checked along with the pointer */
  size_t max_batch;
  size_t batch; /* rows of the last successful forward, 0 if none */
  double *x;    /* max_batch x n_in: copy of the forward's input */
  double **a;   /* a[l]: max_batch x sizes[l+1] */
  double *buf[2]; /* max_batch x max_width each: ping-pong deltas / tangents */
  double *sq[2];  /* max_batch x max_size each: squared G and squared A_prev for vjp_sq */
  double *ones;   /* max_batch ones: column sums as G^T 1 */
  double *part;   /* (part_slices - 1) x n_params: a reduction's partial sums */
  size_t part_slices;
  ng_split_t split; /* a reduction's slice count and their owners (core.h) */
  double *part_own; /* part when the split's slices outgrow the slab's share (else NULL) */
  int partial;      /* the last forward ran only this process's rows (then gathered y) */
  ng_pool_t *pool; /* borrowed; NULL: one thread */
  double *slab;
};

/* ---- activations --------------------------------------------------------------------- */

int ng_act_parse(const char *name, ng_act_t *act) {
  if (!name || !act) return NG_EINVAL;
  if (strcmp(name, "tanh") == 0) {
    *act = NG_ACT_TANH;
  } else if (strcmp(name, "relu") == 0) {
    *act = NG_ACT_RELU;
  } else if (strcmp(name, "identity") == 0 || strcmp(name, "linear") == 0) {
    *act = NG_ACT_IDENTITY;
  } else {
    return NG_EINVAL;
  }
  return NG_OK;
}

const char *ng_act_name(ng_act_t act) {
  switch (act) {
  case NG_ACT_IDENTITY:
    return "identity";
  case NG_ACT_TANH:
    return "tanh";
  case NG_ACT_RELU:
    return "relu";
  }
  return "unknown";
}

static int ng__act_valid(ng_act_t act) {
  return act == NG_ACT_IDENTITY || act == NG_ACT_TANH || act == NG_ACT_RELU;
}

/* a = act(z), n values; a may equal z. */
static void ng__act_apply(ng_act_t act, size_t n, const double *z, double *a) {
  switch (act) {
  case NG_ACT_IDENTITY:
    if (a != z) memmove(a, z, n * sizeof *a);
    break;
  case NG_ACT_TANH:
    ng__tanh_array(n, z, a);
    break;
  case NG_ACT_RELU:
    for (size_t i = 0; i < n; i++) a[i] = z[i] > 0.0 ? z[i] : 0.0;
    break;
  }
}

int ng_act_apply(ng_act_t act, size_t n, const double *z, double *a) {
  if (!ng__act_valid(act) || (n > 0 && (!z || !a))) return NG_EINVAL;
  ng__act_apply(act, n, z, a);
  return NG_OK;
}

/* g .*= act'(z), n values, with act' read off the stored output a = act(z). */
static void ng__act_mul_deriv(ng_act_t act, size_t n, const double *a, double *g) {
  switch (act) {
  case NG_ACT_IDENTITY:
    break;
  case NG_ACT_TANH:
    for (size_t i = 0; i < n; i++) g[i] *= 1.0 - a[i] * a[i];
    break;
  case NG_ACT_RELU:
    for (size_t i = 0; i < n; i++)
      if (!(a[i] > 0.0)) g[i] = 0.0;
    break;
  }
}

/* g (B*k x n) .*= act'(z) with k rows of g per row of a (B x n): row b*k + r takes the
 * derivative at a's row b. */
static void ng__act_mul_deriv_rows(ng_act_t act, size_t batch, size_t k, size_t n,
                                   const double *a, double *g) {
  if (act == NG_ACT_IDENTITY) return;
  for (size_t b = 0; b < batch; b++)
    for (size_t r = 0; r < k; r++) ng__act_mul_deriv(act, n, a + b * n, g + (b * k + r) * n);
}

/* ---- architecture -------------------------------------------------------------------- */

/* *r = a * b, 0 on overflow. */
static int ng__mul_ok(size_t a, size_t b, size_t *r) {
  if (a != 0 && b > SIZE_MAX / a) return 0;
  *r = a * b;
  return 1;
}

static int ng__add_ok(size_t a, size_t b, size_t *r) {
  if (b > SIZE_MAX - a) return 0;
  *r = a + b;
  return 1;
}

int ng_mlp_create(ng_mlp_t **out, size_t n_layers, const size_t *sizes, const ng_act_t *acts) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (n_layers == 0 || !sizes || !acts) return NG_EINVAL;
  /* BLAS and LAPACK take int dimensions. */
  for (size_t i = 0; i <= n_layers; i++)
    if (sizes[i] == 0 || sizes[i] > (size_t)INT_MAX) return NG_EINVAL;
  for (size_t l = 0; l < n_layers; l++)
    if (!ng__act_valid(acts[l])) return NG_EINVAL;
  if (n_layers > SIZE_MAX / sizeof(size_t) - 2) return NG_EINVAL;

  size_t n_params = 0;
  for (size_t l = 0; l < n_layers; l++) {
    size_t w;
    if (!ng__mul_ok(sizes[l + 1], sizes[l], &w) || !ng__add_ok(n_params, w, &n_params) ||
        !ng__add_ok(n_params, sizes[l + 1], &n_params))
      return NG_EINVAL;
  }

  ng_mlp_t *m = ng_calloc(1, sizeof *m);
  if (!m) return NG_ENOMEM;
  m->sizes = ng_malloc((n_layers + 1) * sizeof *m->sizes);
  m->acts = ng_malloc(n_layers * sizeof *m->acts);
  m->offsets = ng_malloc(n_layers * sizeof *m->offsets);
  if (!m->sizes || !m->acts || !m->offsets) {
    ng_mlp_destroy(m);
    return NG_ENOMEM;
  }
  m->n_layers = n_layers;
  memcpy(m->sizes, sizes, (n_layers + 1) * sizeof *sizes);
  memcpy(m->acts, acts, n_layers * sizeof *acts);
  size_t off = 0;
  m->max_size = sizes[0];
  for (size_t l = 0; l < n_layers; l++) {
    m->offsets[l] = off;
    off += sizes[l + 1] * sizes[l] + sizes[l + 1];
    if (sizes[l + 1] > m->max_width) m->max_width = sizes[l + 1];
    if (sizes[l + 1] > m->max_size) m->max_size = sizes[l + 1];
  }
  m->n_params = n_params;
  *out = m;
  return NG_OK;
}

void ng_mlp_destroy(ng_mlp_t *mlp) {
  if (!mlp) return;
  ng_free(mlp->sizes);
  ng_free(mlp->acts);
  ng_free(mlp->offsets);
  ng_free(mlp);
}

size_t ng_mlp_n_params(const ng_mlp_t *mlp) { return mlp ? mlp->n_params : 0; }
size_t ng_mlp_n_layers(const ng_mlp_t *mlp) { return mlp ? mlp->n_layers : 0; }
size_t ng_mlp_n_in(const ng_mlp_t *mlp) { return mlp ? mlp->sizes[0] : 0; }
size_t ng_mlp_n_out(const ng_mlp_t *mlp) { return mlp ? mlp->sizes[mlp->n_layers] : 0; }

size_t ng_mlp_size(const ng_mlp_t *mlp, size_t i) {
  return (mlp && i <= mlp->n_layers) ? mlp->sizes[i] : 0;
}

ng_act_t ng_mlp_act(const ng_mlp_t *mlp, size_t layer) {
  return (mlp && layer < mlp->n_layers) ? mlp->acts[layer] : NG_ACT_IDENTITY;
}

size_t ng_mlp_layer_offset(const ng_mlp_t *mlp, size_t layer) {
  return (mlp && layer < mlp->n_layers) ? mlp->offsets[layer] : 0;
}

/* ---- initialisation ------------------------------------------------------------------ */

static int ng__init_args_ok(const ng_mlp_t *mlp, const double *theta, const double *gains,
                            const ng_rng_t *rng) {
  if (!mlp || !theta || !gains || !rng) return 0;
  return ng_all_finite(mlp->n_layers, gains);
}

static void ng__zero_biases(const ng_mlp_t *mlp, double *theta) {
  for (size_t l = 0; l < mlp->n_layers; l++) {
    size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
    memset(theta + mlp->offsets[l] + r * c, 0, r * sizeof *theta);
  }
}

/* Orthogonal W (r x c) = gain * Q, as torch.nn.init.orthogonal_: QR of an m x n Gaussian
 * (m = max(r, c), n = min(r, c)), Q's columns signed by diag(R) so Q is Haar-distributed,
 * then laid out as W = Q (r >= c, orthonormal columns) or W = Q^T (r < c, orthonormal rows). */
int ng_mlp_init_orthogonal(const ng_mlp_t *mlp, double *theta, const double *gains,
                           ng_rng_t *rng) {
  if (!ng__init_args_ok(mlp, theta, gains, rng)) return NG_EINVAL;

  /* Workspace sizes: the largest m*n, largest n, and LAPACK's preferred lwork. */
  size_t max_mn = 0, max_n = 0;
  for (size_t l = 0; l < mlp->n_layers; l++) {
    size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
    if (r * c > max_mn) max_mn = r * c;
    size_t n = r < c ? r : c;
    if (n > max_n) max_n = n;
  }
  blasint lwork = 1;
  for (size_t l = 0; l < mlp->n_layers; l++) {
    size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
    blasint m = (blasint)(r > c ? r : c), n = (blasint)(r < c ? r : c), q = -1, info = 0;
    double wq = 0.0, dummy = 0.0;
    dgeqrf_(&m, &n, &dummy, &m, &dummy, &wq, &q, &info);
    if (info == 0 && wq > (double)lwork) lwork = (blasint)wq;
    dorgqr_(&m, &n, &n, &dummy, &m, &dummy, &wq, &q, &info);
    if (info == 0 && wq > (double)lwork) lwork = (blasint)wq;
  }

  double *a = ng_malloc(max_mn * sizeof *a);
  double *tau = ng_malloc(max_n * sizeof *tau);
  double *sgn = ng_malloc(max_n * sizeof *sgn);
  double *work = ng_malloc((size_t)lwork * sizeof *work);
  int status = NG_OK;
  if (!a || !tau || !sgn || !work) {
    status = NG_ENOMEM;
    goto done;
  }

  for (size_t l = 0; l < mlp->n_layers && status == NG_OK; l++) {
    size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
    size_t mm = r > c ? r : c, nn = r < c ? r : c;
    blasint m = (blasint)mm, n = (blasint)nn, info = 0;
    /* a: m x n column-major Gaussian. */
    for (size_t i = 0; i < mm * nn; i++) a[i] = ng_rng_normal(rng);
    dgeqrf_(&m, &n, a, &m, tau, work, &lwork, &info);
    if (info != 0) {
      status = NG_EINVAL;
      break;
    }
    for (size_t j = 0; j < nn; j++) sgn[j] = a[j + j * mm] < 0.0 ? -1.0 : 1.0;
    dorgqr_(&m, &n, &n, a, &m, tau, work, &lwork, &info);
    if (info != 0) {
      status = NG_EINVAL;
      break;
    }
    double g = gains[l];
    double *w = theta + mlp->offsets[l];
    if (r >= c) {
      /* W[i][j] = Q(i, j): r = m rows, c = n columns. */
      for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) w[i * c + j] = g * sgn[j] * a[i + j * mm];
    } else {
      /* W[i][j] = Q(j, i): r = n rows, c = m columns. */
      for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) w[i * c + j] = g * sgn[i] * a[j + i * mm];
    }
  }
  if (status == NG_OK) ng__zero_biases(mlp, theta);

done:
  ng_free(a);
  ng_free(tau);
  ng_free(sgn);
  ng_free(work);
  return status;
}

int ng_mlp_init_normal(const ng_mlp_t *mlp, double *theta, const double *gains, ng_rng_t *rng) {
  if (!ng__init_args_ok(mlp, theta, gains, rng)) return NG_EINVAL;
  for (size_t l = 0; l < mlp->n_layers; l++) {
    size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
    double sd = gains[l] / sqrt((double)c);
    double *w = theta + mlp->offsets[l];
    for (size_t i = 0; i < r * c; i++) w[i] = sd * ng_rng_normal(rng);
  }
  ng__zero_biases(mlp, theta);
  return NG_OK;
}

/* ---- workspace ----------------------------------------------------------------------- */

/* Doubles in the slab for max_batch rows; 0 on overflow. */
static size_t ng__ws_doubles(const ng_mlp_t *mlp, size_t max_batch) {
  size_t per_row = mlp->sizes[0];                              /* x copy */
  for (size_t l = 0; l < mlp->n_layers; l++) per_row += mlp->sizes[l + 1]; /* a_l */
  size_t extra;
  if (!ng__mul_ok(mlp->max_width, 2, &extra) || !ng__add_ok(per_row, extra, &per_row))
    return 0;
  if (!ng__mul_ok(mlp->max_size, 2, &extra) || !ng__add_ok(per_row, extra, &per_row)) return 0;
  if (!ng__add_ok(per_row, 1, &per_row)) return 0; /* ones */
  size_t total, part;
  if (!ng__mul_ok(per_row, max_batch, &total)) return 0;
  /* the partial sums of slices 1.. */
  if (!ng__mul_ok(ng__max_slices(NULL, max_batch) - 1, mlp->n_params, &part) ||
      !ng__add_ok(total, part, &total) || total > SIZE_MAX / sizeof(double))
    return 0;
  return total;
}

size_t ng_mlp_ws_bytes(const ng_mlp_t *mlp, size_t max_batch) {
  if (!mlp || max_batch == 0) return 0;
  size_t nd = ng__ws_doubles(mlp, max_batch);
  if (nd == 0) return 0;
  return sizeof(ng_mlp_ws_t) + mlp->n_layers * sizeof(double *) + nd * sizeof(double);
}

int ng_mlp_ws_create(ng_mlp_ws_t **out, const ng_mlp_t *mlp, size_t max_batch) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (!mlp || max_batch == 0 || max_batch > (size_t)INT_MAX) return NG_EINVAL;
  size_t nd = ng__ws_doubles(mlp, max_batch);
  if (nd == 0) return NG_EINVAL;

  ng_mlp_ws_t *ws = ng_calloc(1, sizeof *ws);
  if (!ws) return NG_ENOMEM;
  ws->a = ng_calloc(mlp->n_layers, sizeof *ws->a);
  ws->slab = ng_calloc(nd, sizeof *ws->slab);
  if (!ws->a || !ws->slab) {
    ng_mlp_ws_destroy(ws);
    return NG_ENOMEM;
  }
  ws->mlp = mlp;
  ws->n_layers = mlp->n_layers;
  ws->n_params = mlp->n_params;
  ws->n_in = mlp->sizes[0];
  ws->n_out = mlp->sizes[mlp->n_layers];
  ws->max_batch = max_batch;
  ws->batch = 0;

  double *p = ws->slab;
  ws->x = p;
  p += max_batch * mlp->sizes[0];
  for (size_t l = 0; l < mlp->n_layers; l++) {
    ws->a[l] = p;
    p += max_batch * mlp->sizes[l + 1];
  }
  for (int k = 0; k < 2; k++) {
    ws->buf[k] = p;
    p += max_batch * mlp->max_width;
  }
  for (int k = 0; k < 2; k++) {
    ws->sq[k] = p;
    p += max_batch * mlp->max_size;
  }
  ws->ones = p;
  for (size_t i = 0; i < max_batch; i++) ws->ones[i] = 1.0;
  p += max_batch;
  ws->part = p;
  ws->part_slices = ng__max_slices(NULL, max_batch);
  *out = ws;
  return NG_OK;
}

void ng_mlp_ws_destroy(ng_mlp_ws_t *ws) {
  if (!ws) return;
  ng_free(ws->a);
  ng_free(ws->slab);
  ng_free(ws->part_own);
  ng_free(ws);
}

int ng_mlp_ws_set_pool(ng_mlp_ws_t *ws, ng_pool_t *pool) {
  if (!ws) return NG_EINVAL;
  ws->pool = pool;
  return NG_OK;
}

int ng_mlp_ws_set_split(ng_mlp_ws_t *ws, const ng_split_t *sp) {
  if (!ws || (sp && sp->slices > NG_SLICES_MAX)) return NG_EINVAL;
  size_t need = ng__max_slices(sp, ws->max_batch);
  if (need > ws->part_slices) {
    double *part = ng_realloc(ws->part_own, (need - 1) * ws->n_params * sizeof(double));
    if (!part) return NG_ENOMEM;
    ws->part = ws->part_own = part;
    ws->part_slices = need;
  }
  ng_split_t one = {NG_SLICES_DEFAULT, 0, 1, NULL, NULL, NULL};
  ws->split = sp ? *sp : one;
  return NG_OK;
}

size_t ng_mlp_ws_max_batch(const ng_mlp_ws_t *ws) { return ws ? ws->max_batch : 0; }

const double *ng_mlp_ws_output(const ng_mlp_ws_t *ws) {
  if (!ws || ws->batch == 0) return NULL;
  return ws->a[ws->n_layers - 1];
}

/* The ws belongs to this mlp (same pointer and shape). */
static int ng__ws_matches(const ng_mlp_t *mlp, const ng_mlp_ws_t *ws) {
  return ws->mlp == mlp && ws->n_layers == mlp->n_layers && ws->n_params == mlp->n_params &&
         ws->n_in == mlp->sizes[0] && ws->n_out == mlp->sizes[mlp->n_layers];
}

/* ---- passes -------------------------------------------------------------------------- */

/* Z (B x r) = broadcast b (r): every row of Z set to b, ready for a beta = 1 product. */
static void ng__rows_set(size_t batch, size_t r, const double *b, double *z) {
  for (size_t i = 0; i < batch; i++) memcpy(z + i * r, b, r * sizeof *z);
}

/* One pass's arguments, shared by its chunk tasks. */
typedef struct {
  const ng_mlp_t *mlp;
  const double *theta;
  ng_mlp_ws_t *ws;
  size_t batch, n_chunks, n_slices;
  size_t first;      /* this process's first slice (backward) or chunk (forward, jvp) */
  const double *in;  /* x (forward), dy (backward), v (jvp) */
  double *out;       /* y or NULL (forward), dtheta (backward), dy (jvp) */
  double *dx;        /* backward: B x n_in or NULL */
  int sq;            /* backward: squared gradients */
} ng__pass_t;

/* The chunks [*c0, *c1) of a batch whose rows this process computes: those of its block of
 * slices under an active split (core.h), else all. */
static void ng__own_chunks(const ng_mlp_ws_t *ws, size_t batch, size_t *c0, size_t *c1) {
  const size_t C = ng__n_chunks(batch), S = ng__n_slices(&ws->split, batch);
  size_t first, count;
  ng_split_own(&ws->split, S, &first, &count);
  *c0 = first * C / S;
  *c1 = (first + count) * C / S;
}

size_t ng_mlp_slice_rows(const ng_split_t *sp, size_t batch, size_t s, size_t *row0,
                         size_t *rows) {
  const size_t C = ng__n_chunks(batch), S = ng__n_slices(sp, batch), cs = ng__chunk(batch);
  size_t r1 = (s + 1) * C / S * cs;
  *row0 = s * C / S * cs;
  *rows = (r1 < batch ? r1 : batch) - *row0;
  return S;
}

/* Every process's output rows to every process after a split forward: slice s's rows
 * (chunks [s C / S, (s+1) C / S)) are one part of the gather. */
static int ng__gather_rows(ng_mlp_ws_t *ws, size_t batch, double *y, size_t width) {
  const size_t C = ng__n_chunks(batch), S = ng__n_slices(&ws->split, batch), cs = ng__chunk(batch);
  double *parts[NG_SLICES_MAX];
  size_t lens[NG_SLICES_MAX];
  for (size_t s = 0; s < S; s++) {
    size_t r0 = s * C / S * cs, r1 = (s + 1) * C / S * cs;
    if (r1 > batch) r1 = batch;
    parts[s] = y + r0 * width;
    lens[s] = (r1 - r0) * width;
  }
  return ng_split_gather(&ws->split, parts, lens, S);
}

/* Rows [row0, row0 + rows) of chunk c. */
static size_t ng__chunk_rows(const ng__pass_t *p, size_t c, size_t *row0) {
  const size_t cs = ng__chunk(p->batch);
  *row0 = c * cs;
  return p->batch - *row0 < cs ? p->batch - *row0 : cs;
}

/* Forward of one chunk: per layer, z (rows x r) = a_prev (rows x c) W^T (c x r) + 1 b^T,
 * then a = act(z) in place. */
static int ng__forward_task(void *ctx, size_t task) {
  const ng__pass_t *p = ctx;
  const size_t chunk = p->first + task;
  const ng_mlp_t *mlp = p->mlp;
  ng_mlp_ws_t *ws = p->ws;
  size_t row0, rows = ng__chunk_rows(p, chunk, &row0);
  const size_t n_in = mlp->sizes[0], L = mlp->n_layers;
  memcpy(ws->x + row0 * n_in, p->in + row0 * n_in, rows * n_in * sizeof(double));
  for (size_t l = 0; l < L; l++) {
    const size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
    const double *w = p->theta + mlp->offsets[l], *b = w + r * c;
    const double *a_prev = (l ? ws->a[l - 1] : ws->x) + row0 * c;
    double *z = ws->a[l] + row0 * r;
    if (rows <= NG__SMALL_ROWS) {
      ng__small_layer(rows, r, c, a_prev, w, b, z);
    } else {
      ng__rows_set(rows, r, b, z);
      ng__gemm(0, 1, rows, r, c, a_prev, c, w, c, 1.0, z, r);
    }
    ng__act_apply(mlp->acts[l], rows * r, z, z);
  }
  if (p->out) {
    const size_t n_out = mlp->sizes[L];
    memcpy(p->out + row0 * n_out, ws->a[L - 1] + row0 * n_out, rows * n_out * sizeof(double));
  }
  return NG_OK;
}

int ng_mlp_forward(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
                   const double *x, double *y) {
  if (!mlp || !ws || !theta || !x || !ng__ws_matches(mlp, ws)) return NG_EINVAL;
  ws->batch = 0; /* whatever happens below, the previous activations are gone */
  if (batch == 0 || batch > ws->max_batch) return NG_EINVAL;
  if (!ng__finite(mlp->n_params, theta) || !ng__finite(batch * mlp->sizes[0], x))
    return NG_ENONFINITE;
  ng__pass_t p = {mlp, theta, ws, batch, ng__n_chunks(batch), 0, 0, x, y, NULL, 0};
  size_t c1;
  ng__own_chunks(ws, batch, &p.first, &c1);
  ng_pool_run(ws->pool, c1 - p.first, ng__forward_task, &p);
  ws->partial = ng_split_active(&ws->split);
  if (ws->partial) {
    /* split: the output's rows come from their owners; the hidden activations of the rows
     * of other processes stay unknown here, and no pass on this ws reads them */
    const size_t n_out = mlp->sizes[mlp->n_layers];
    double *out = ws->a[mlp->n_layers - 1];
    int st = ng__gather_rows(ws, batch, out, n_out);
    if (st != NG_OK) return st;
    if (y) memcpy(y, out, batch * n_out * sizeof *y);
  }
  ws->batch = batch;
  return NG_OK;
}

/* Common checks for the passes that reuse the last forward. */
static int ng__pass_args_ok(const ng_mlp_t *mlp, const double *theta, const ng_mlp_ws_t *ws,
                            size_t batch) {
  return mlp && theta && ws && ng__ws_matches(mlp, ws) && batch != 0 && ws->batch == batch;
}

/* Backprop of rows [row0, row0 + rows) into acc (n_params, accumulated). dy (B x n_out) is
 * taken through every layer from the top; per layer, with G (rows x r) the gradient w.r.t.
 * z_l and A (rows x c) = a_{l-1}:
 *     sq == 0:  dW (r x c) += G^T A,            db (r) += G^T 1
 *     sq == 1:  dW (r x c) += (G.G)^T (A.A),    db (r) += (G.G)^T 1
 * and then G_prev (rows x c) = (G W) .* act'(z_{l-1}); at l = 0, G W goes to dx if wanted.
 * Scratch: the chunk's own rows of buf and sq. */
static void ng__backward_rows(const ng__pass_t *p, size_t row0, size_t rows, double *acc) {
  const ng_mlp_t *mlp = p->mlp;
  ng_mlp_ws_t *ws = p->ws;
  const size_t L = mlp->n_layers, n_out = mlp->sizes[L];
  const int B = (int)rows;
  double *g = ws->buf[0] + row0 * mlp->max_width, *g_prev = ws->buf[1] + row0 * mlp->max_width;
  memcpy(g, p->in + row0 * n_out, rows * n_out * sizeof *g);
  ng__act_mul_deriv(mlp->acts[L - 1], rows * n_out, ws->a[L - 1] + row0 * n_out, g);

  for (size_t l = L; l-- > 0;) {
    const size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
    const double *w = p->theta + mlp->offsets[l];
    double *dw = acc + mlp->offsets[l], *db = dw + r * c;
    const double *a_prev = (l ? ws->a[l - 1] : ws->x) + row0 * c;
    const double *gm = g, *am = a_prev;
    if (p->sq) {
      double *g2 = ws->sq[0] + row0 * mlp->max_size, *a2 = ws->sq[1] + row0 * mlp->max_size;
      for (size_t i = 0; i < rows * r; i++) g2[i] = g[i] * g[i];
      for (size_t i = 0; i < rows * c; i++) a2[i] = a_prev[i] * a_prev[i];
      gm = g2;
      am = a2;
    }
    ng__gemm(1, 0, r, c, B, gm, r, am, c, 1.0, dw, c);
    ng__bias_grad(B, r, gm, db);

    if (l == 0 && !p->dx) break;
    double *dst = l ? g_prev : p->dx + row0 * c;
    ng__gemm(0, 0, B, c, r, g, r, w, c, 0.0, dst, c);
    if (l) {
      ng__act_mul_deriv(mlp->acts[l - 1], rows * c, ws->a[l - 1] + row0 * c, g_prev);
      double *t = g;
      g = g_prev;
      g_prev = t;
    }
  }
}

/* Slice s of a backward: its chunks in order, into the output (s = 0) or its own partial
 * sum. */
static int ng__backward_task(void *ctx, size_t task) {
  const ng__pass_t *p = ctx;
  const size_t s = p->first + task;
  const size_t n = p->mlp->n_params;
  double *acc = s == 0 ? p->out : p->ws->part + (s - 1) * n;
  if (s) memset(acc, 0, n * sizeof *acc);
  for (size_t c = s * p->n_chunks / p->n_slices; c < (s + 1) * p->n_chunks / p->n_slices; c++) {
    size_t row0, rows = ng__chunk_rows(p, c, &row0);
    ng__backward_rows(p, row0, rows, acc);
  }
  return NG_OK;
}

static int ng__backward(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws,
                        size_t batch, const double *dy, double *dtheta, double *dx, int sq) {
  ng__pass_t p = {mlp, theta, ws, batch, ng__n_chunks(batch), ng__n_slices(&ws->split, batch),
                  0, dy, dtheta, dx, sq};
  /* dx needs every row: then this process computes every slice itself, which a split
   * forward's rows do not allow */
  if (dx && ws->partial) return NG_EUNSUPPORTED;
  const ng_split_t *sp = dx ? NULL : &ws->split;
  size_t count;
  ng_split_own(sp, p.n_slices, &p.first, &count);
  ng_pool_run(ws->pool, count, ng__backward_task, &p);
  const size_t n = mlp->n_params;
  double *parts[NG_SLICES_MAX];
  parts[0] = dtheta;
  for (size_t s = 1; s < p.n_slices; s++) parts[s] = ws->part + (s - 1) * n;
  int st = ng_split_gather_sums(sp, parts, n, p.n_slices);
  if (st != NG_OK) return st;
  for (size_t s = 1; s < p.n_slices; s++) {
    const double *part = ws->part + (s - 1) * n;
    for (size_t i = 0; i < n; i++) dtheta[i] += part[i];
  }
  return NG_OK;
}

int ng_mlp_vjp(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
               const double *dy, double *dtheta, double *dx) {
  if (!ng__pass_args_ok(mlp, theta, ws, batch) || !dy || !dtheta) return NG_EINVAL;
  if (!ng__finite(batch * mlp->sizes[mlp->n_layers], dy)) return NG_ENONFINITE;
  return ng__backward(mlp, theta, ws, batch, dy, dtheta, dx, 0);
}

int ng_mlp_vjp_sq(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
                  const double *dy, double *out) {
  if (!ng__pass_args_ok(mlp, theta, ws, batch) || !dy || !out) return NG_EINVAL;
  if (!ng__finite(batch * mlp->sizes[mlp->n_layers], dy)) return NG_ENONFINITE;
  return ng__backward(mlp, theta, ws, batch, dy, out, NULL, 1);
}

/* Forward mode of one chunk. With t_{l-1} (rows x c) the tangent of a_{l-1} (t_{-1} = 0, x
 * is fixed) and (dW, db) = v's block for layer l:
 *     dz_l (rows x r) = t_{l-1} W^T + a_{l-1} dW^T + 1 db^T,     t_l = act'(z_l) .* dz_l
 * and dy = t_{L-1}, written straight into the caller's buffer. */
static int ng__jvp_task(void *ctx, size_t task) {
  const ng__pass_t *p = ctx;
  const size_t chunk = p->first + task;
  const ng_mlp_t *mlp = p->mlp;
  ng_mlp_ws_t *ws = p->ws;
  size_t row0, rows = ng__chunk_rows(p, chunk, &row0);
  const size_t L = mlp->n_layers;
  const int B = (int)rows;
  const double *t_prev = NULL;
  for (size_t l = 0; l < L; l++) {
    const size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
    const double *w = p->theta + mlp->offsets[l];
    const double *dw = p->in + mlp->offsets[l], *db = dw + r * c;
    const double *a_prev = (l ? ws->a[l - 1] : ws->x) + row0 * c;
    double *t = (l == L - 1) ? p->out + row0 * r : ws->buf[l % 2] + row0 * mlp->max_width;
    ng__rows_set(rows, r, db, t);
    ng__gemm(0, 1, B, r, c, a_prev, c, dw, c, 1.0, t, r);
    if (t_prev)
      ng__gemm(0, 1, B, r, c, t_prev, c, w, c, 1.0, t, r);
    ng__act_mul_deriv(mlp->acts[l], rows * r, ws->a[l] + row0 * r, t);
    t_prev = t;
  }
  return NG_OK;
}

int ng_mlp_jvp(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
               const double *v, double *dy) {
  if (!ng__pass_args_ok(mlp, theta, ws, batch) || !v || !dy) return NG_EINVAL;
  if (!ng__finite(mlp->n_params, v)) return NG_ENONFINITE;
  ng__pass_t p = {mlp, theta, ws, batch, ng__n_chunks(batch), 0, 0, v, dy, NULL, 0};
  size_t c1 = p.n_chunks;
  if (ws->partial) {
    /* after a split forward: this process's rows; the others' tangents are 0 */
    ng__own_chunks(ws, batch, &p.first, &c1);
    const size_t n_out = mlp->sizes[mlp->n_layers], cs = ng__chunk(batch);
    size_t r0 = p.first * cs < batch ? p.first * cs : batch;
    size_t r1 = c1 * cs < batch ? c1 * cs : batch;
    memset(dy, 0, r0 * n_out * sizeof *dy);
    memset(dy + r1 * n_out, 0, (batch - r1) * n_out * sizeof *dy);
  }
  ng_pool_run(ws->pool, c1 - p.first, ng__jvp_task, &p);
  return NG_OK;
}

/* ---- per-row gradients through cached cotangents ------------------------------------------ */

/* x . y over n values with four partial sums: a single running sum is a chain of
 * dependent additions (the compiler may not reorder them), four chains keep the adder
 * busy. The order is fixed, so results do not depend on alignment or chunking. */
static inline double ng__dot(size_t n, const double *x, const double *y) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += x[j] * y[j];
    s1 += x[j + 1] * y[j + 1];
    s2 += x[j + 2] * y[j + 2];
    s3 += x[j + 3] * y[j + 3];
  }
  for (; j < n; j++) s0 += x[j] * y[j];
  return (s0 + s1) + (s2 + s3);
}

/* The layer whose deltas are not stored: the last hidden one, L-2 (none for L = 1). */
static int ng__delta_stored(const ng_mlp_t *mlp, size_t l) {
  return mlp->n_layers < 2 || l != mlp->n_layers - 2;
}

size_t ng_mlp_deltas_width(const ng_mlp_t *mlp) {
  if (!mlp) return 0;
  size_t w = 0;
  for (size_t l = 0; l < mlp->n_layers; l++)
    if (ng__delta_stored(mlp, l)) w += mlp->sizes[l + 1];
  return w;
}

/* Start of stored layer l's block in a deltas array of `rows` = B*k rows. */
static size_t ng__delta_block(const ng_mlp_t *mlp, size_t rows, size_t l) {
  size_t off = 0;
  for (size_t j = 0; j < l; j++)
    if (ng__delta_stored(mlp, j)) off += mlp->sizes[j + 1];
  return rows * off;
}

/* B*k rows of width doubles fit in memory and in BLAS's int row count. */
static int ng__deltas_rows_ok(const ng_mlp_t *mlp, size_t batch, size_t k) {
  size_t rows, total;
  return k != 0 && ng__mul_ok(batch, k, &rows) && rows <= (size_t)INT_MAX &&
         ng__mul_ok(rows, ng_mlp_deltas_width(mlp), &total) &&
         total <= SIZE_MAX / sizeof(double);
}

/* The input of layer l for rows from row0: a_{l-1}, or the forward's copy of X. */
static const double *ng__layer_input(const ng_mlp_t *mlp, const ng_mlp_ws_t *ws, size_t l,
                                     size_t row0) {
  return (l ? ws->a[l - 1] : ws->x) + row0 * mlp->sizes[l];
}

typedef struct {
  const ng_mlp_t *mlp;
  const double *theta;
  ng_mlp_ws_t *ws;
  size_t batch, k;
  const double *dy;
  double *deltas;
  size_t first; /* this process's first chunk */
} ng__deltas_job_t;

/* The deltas of one chunk of batch rows [b0, b0 + nb): its rows b*k + q of every block. */
static int ng__deltas_task(void *ctx, size_t task) {
  const ng__deltas_job_t *j = ctx;
  const size_t chunk = j->first + task;
  const ng_mlp_t *mlp = j->mlp;
  ng_mlp_ws_t *ws = j->ws;
  const double *theta = j->theta;
  const size_t L = mlp->n_layers, n_out = mlp->sizes[L], k = j->k, rows = j->batch * k;
  const size_t cs = ng__chunk(j->batch), b0 = chunk * cs;
  const size_t nb = j->batch - b0 < cs ? j->batch - b0 : cs;
  /* top block (nb*k x n_out) = dY .* act'(z_{L-1}) */
  double *top = j->deltas + ng__delta_block(mlp, rows, L - 1) + b0 * k * n_out;
  memcpy(top, j->dy + b0 * k * n_out, nb * k * n_out * sizeof *top);
  ng__act_mul_deriv_rows(mlp->acts[L - 1], nb, k, n_out, ws->a[L - 1] + b0 * n_out, top);
  if (L < 3) return NG_OK; /* nothing stored below the unstored last hidden layer */
  /* Block L-3 through the unstored layer L-2, one cotangent q at a time (the block rows
   * b*k + q, every k-th row):  D (nb x h) = top_q (nb x n_out) W_{L-1} .* act'(z_{L-2}) in
   * scratch, block_{L-3,q} (nb x c) = D W_{L-2} (h x c). */
  const size_t h = mlp->sizes[L - 1], c = mlp->sizes[L - 2];
  const double *w_out = theta + mlp->offsets[L - 1], *w_hid = theta + mlp->offsets[L - 2];
  double *below = j->deltas + ng__delta_block(mlp, rows, L - 3) + b0 * k * c;
  double *d = ws->buf[0] + b0 * mlp->max_width;
  for (size_t q = 0; q < k; q++) {
    ng__gemm(0, 0, nb, h, n_out, top + q * n_out, (k * n_out), w_out, h, 0.0, d, h);
    ng__act_mul_deriv(mlp->acts[L - 2], nb * h, ws->a[L - 2] + b0 * h, d);
    ng__gemm(0, 0, nb, c, h, d, h, w_hid, c, 0.0, below + q * c, (k * c));
  }
  ng__act_mul_deriv_rows(mlp->acts[L - 3], nb, k, c, ws->a[L - 3] + b0 * c, below);
  for (size_t l = L - 3; l > 0; l--) {
    /* block l-1 (nb*k x cc) = block l (nb*k x r) W_l (r x cc), then .* act'(z_{l-1}) */
    const size_t r = mlp->sizes[l + 1], cc = mlp->sizes[l];
    double *cur = j->deltas + ng__delta_block(mlp, rows, l) + b0 * k * r;
    double *prev = j->deltas + ng__delta_block(mlp, rows, l - 1) + b0 * k * cc;
    ng__gemm(0, 0, (nb * k), cc, r, cur, r, theta + mlp->offsets[l], cc, 0.0, prev, cc);
    ng__act_mul_deriv_rows(mlp->acts[l - 1], nb, k, cc, ws->a[l - 1] + b0 * cc, prev);
  }
  return NG_OK;
}

int ng_mlp_deltas(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
                  size_t k, const double *dy, double *deltas) {
  if (!ng__pass_args_ok(mlp, theta, ws, batch) || !dy || !deltas) return NG_EINVAL;
  if (!ng__deltas_rows_ok(mlp, batch, k)) return NG_EINVAL;
  if (!ng__finite(batch * k * mlp->sizes[mlp->n_layers], dy)) return NG_ENONFINITE;
  ng__deltas_job_t j = {mlp, theta, ws, batch, k, dy, deltas, 0};
  size_t c1 = ng__n_chunks(batch);
  if (ws->partial) ng__own_chunks(ws, batch, &j.first, &c1); /* this process's rows only */
  return ng_pool_run(ws->pool, c1 - j.first, ng__deltas_task, &j);
}

/* Common checks of the rowgrad functions: a forward on ws covers the chunk, and its B*k
 * deltas rows are addressable. */
static int ng__rowgrad_args_ok(const ng_mlp_t *mlp, const double *theta, const ng_mlp_ws_t *ws,
                               size_t row0, size_t n_rows, size_t k, const double *deltas,
                               double *out) {
  return mlp && theta && ws && ng__ws_matches(mlp, ws) && deltas && out && ws->batch != 0 &&
         n_rows != 0 && row0 < ws->batch && n_rows <= ws->batch - row0 &&
         ng__deltas_rows_ok(mlp, ws->batch, k);
}

/* p (n x r) = A_{l-1} V_l^T + 1 bv_l^T for the chunk's rows: v's direct effect on z_l. */
static void ng__layer_tangent(const ng_mlp_t *mlp, const ng_mlp_ws_t *ws, size_t l,
                              size_t row0, size_t n_rows, const double *v, double *p) {
  const size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
  const double *vw = v + mlp->offsets[l];
  ng__rows_set(n_rows, r, vw + r * c, p);
  ng__gemm(0, 1, n_rows, r, c, ng__layer_input(mlp, ws, l, row0), c, vw, c, 1.0, p, r);
}

/* c_{b,q} += <D_{b,q}, P_b> for the chunk: D's rows b*k + q (r wide), P (n x r). */
static void ng__rowdots(size_t n_rows, size_t k, size_t r, const double *d, const double *p,
                        double *c) {
  for (size_t b = 0; b < n_rows; b++)
    for (size_t q = 0; q < k; q++) c[b * k + q] += ng__dot(r, d + (b * k + q) * r, p + b * r);
}

/* Stored layers: P_l, dotted with block l. The top adds the unstored layer L-2, whose
 * delta is (delta_{L-1} W_{L-1}) .* act': <delta_{L-2}, P_{L-2}> = <delta_{L-1},
 * (act' .* P_{L-2}) W_{L-1}^T>, so Z = P_{L-1} + (act' .* P_{L-2}) W_{L-1}^T (n x n_out)
 * is dotted with the top block, a product with only n_out columns. */
int ng_mlp_rowgrad_dot(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t row0,
                       size_t n_rows, size_t k, const double *deltas, const double *v,
                       double *c) {
  if (!ng__rowgrad_args_ok(mlp, theta, ws, row0, n_rows, k, deltas, c) || !v) return NG_EINVAL;
  if (!ng__finite(mlp->n_params, v)) return NG_ENONFINITE;
  const size_t L = mlp->n_layers, rows = ws->batch * k, n_out = mlp->sizes[L];
  double *cc = c + row0 * k;
  /* scratch: the chunk's own rows of buf, so chunks can run on different threads */
  double *p0 = ws->buf[0] + row0 * mlp->max_width, *z = ws->buf[1] + row0 * mlp->max_width;
  memset(cc, 0, n_rows * k * sizeof *cc);
  for (size_t l = 0; l + 2 < L; l++) {
    const size_t r = mlp->sizes[l + 1];
    ng__layer_tangent(mlp, ws, l, row0, n_rows, v, p0);
    ng__rowdots(n_rows, k, r, deltas + ng__delta_block(mlp, rows, l) + row0 * k * r, p0, cc);
  }
  ng__layer_tangent(mlp, ws, L - 1, row0, n_rows, v, z);
  if (L >= 2) {
    const size_t h = mlp->sizes[L - 1];
    double *t = p0;
    ng__layer_tangent(mlp, ws, L - 2, row0, n_rows, v, t);
    ng__act_mul_deriv(mlp->acts[L - 2], n_rows * h, ws->a[L - 2] + row0 * h, t);
    ng__gemm(0, 1, n_rows, n_out, h, t, h, theta + mlp->offsets[L - 1], h, 1.0, z, n_out);
  }
  ng__rowdots(n_rows, k, n_out, deltas + ng__delta_block(mlp, rows, L - 1) + row0 * k * n_out,
              z, cc);
  return NG_OK;
}

/* H (n x r) = sum_q w_{:,q} .* f(D_q), f the identity or the square, for the chunk rows of a
 * block D (row b*k + q, r wide) and weights w (NULL: 1). */
static void ng__rowgrad_combine(size_t n_rows, size_t k, size_t r, const double *d,
                                const double *w, int square, double *h) {
  for (size_t b = 0; b < n_rows; b++) {
    double *hb = h + b * r;
    for (size_t q = 0; q < k; q++) {
      const double *dq = d + (b * k + q) * r;
      const double wq = w ? w[b * k + q] : 1.0;
      if (square) {
        if (q == 0)
          for (size_t j = 0; j < r; j++) hb[j] = wq * (dq[j] * dq[j]);
        else
          for (size_t j = 0; j < r; j++) hb[j] += wq * (dq[j] * dq[j]);
      } else {
        if (q == 0)
          for (size_t j = 0; j < r; j++) hb[j] = wq * dq[j];
        else
          for (size_t j = 0; j < r; j++) hb[j] += wq * dq[j];
      }
    }
  }
}

/* dW_l (r x c) += H^T A (A = a_{l-1}, squared if square, into a2), db_l (r) += H^T 1. */
static void ng__layer_accumulate(const ng_mlp_t *mlp, ng_mlp_ws_t *ws, size_t l, size_t row0,
                                 size_t n_rows, const double *h, int square, double *out) {
  const size_t r = mlp->sizes[l + 1], c = mlp->sizes[l];
  double *dw = out + mlp->offsets[l], *db = dw + r * c;
  const double *a = ng__layer_input(mlp, ws, l, row0);
  if (square) {
    double *a2 = ws->sq[1] + row0 * mlp->max_size;
    for (size_t i = 0; i < n_rows * c; i++) a2[i] = a[i] * a[i];
    a = a2;
  }
  ng__gemm(1, 0, r, c, n_rows, h, r, a, c, 1.0, dw, c);
  ng__bias_grad(n_rows, r, h, db);
}

/* The accumulate shared by rowgrad_acc and rowgrad_sq_acc. Stored layers: H_l from block l.
 * Top: H_{L-1} from the top block; the unstored layer L-2 then gets
 *     plain:   H_{L-2} = (H_{L-1} W_{L-1}) .* act'                   (linear in the deltas)
 *     square:  H_{L-2} = sum_q w_q ((top_q W_{L-1}) .* act')^2      (one product per q) */
static void ng__rowgrad_accumulate(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws,
                                   size_t row0, size_t n_rows, size_t k, const double *deltas,
                                   const double *w, int square, double *out) {
  const size_t L = mlp->n_layers, rows = ws->batch * k, n_out = mlp->sizes[L];
  const double *wc = w ? w + row0 * k : NULL;
  /* scratch: the chunk's own rows of buf (see rowgrad_dot) */
  double *b0 = ws->buf[0] + row0 * mlp->max_width, *b1 = ws->buf[1] + row0 * mlp->max_width;
  for (size_t l = 0; l + 2 < L; l++) {
    const size_t r = mlp->sizes[l + 1];
    ng__rowgrad_combine(n_rows, k, r, deltas + ng__delta_block(mlp, rows, l) + row0 * k * r,
                        wc, square, b0);
    ng__layer_accumulate(mlp, ws, l, row0, n_rows, b0, square, out);
  }
  const double *top = deltas + ng__delta_block(mlp, rows, L - 1) + row0 * k * n_out;
  double *htop = b1;
  ng__rowgrad_combine(n_rows, k, n_out, top, wc, square, htop);
  ng__layer_accumulate(mlp, ws, L - 1, row0, n_rows, htop, square, out);
  if (L < 2) return;
  const size_t h = mlp->sizes[L - 1];
  const double *w_out = theta + mlp->offsets[L - 1], *a_h = ws->a[L - 2] + row0 * h;
  double *hh = b0;
  if (!square) {
    ng__gemm(0, 0, n_rows, h, n_out, htop, n_out, w_out, h, 0.0, hh, h);
    ng__act_mul_deriv(mlp->acts[L - 2], n_rows * h, a_h, hh);
  } else {
    double *dq = b1;
    for (size_t q = 0; q < k; q++) {
      ng__gemm(0, 0, n_rows, h, n_out, top + q * n_out, (k * n_out), w_out, h, 0.0, dq, h);
      ng__act_mul_deriv(mlp->acts[L - 2], n_rows * h, a_h, dq);
      for (size_t b = 0; b < n_rows; b++) {
        const double wq = wc ? wc[b * k + q] : 1.0;
        double *hb = hh + b * h;
        const double *db = dq + b * h;
        if (q == 0)
          for (size_t j = 0; j < h; j++) hb[j] = wq * (db[j] * db[j]);
        else
          for (size_t j = 0; j < h; j++) hb[j] += wq * (db[j] * db[j]);
      }
    }
  }
  ng__layer_accumulate(mlp, ws, L - 2, row0, n_rows, hh, square, out);
}

int ng_mlp_rowgrad_acc(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t row0,
                       size_t n_rows, size_t k, const double *deltas, const double *w,
                       double *out) {
  if (!ng__rowgrad_args_ok(mlp, theta, ws, row0, n_rows, k, deltas, out) || !w)
    return NG_EINVAL;
  if (!ng__finite(n_rows * k, w + row0 * k)) return NG_ENONFINITE;
  ng__rowgrad_accumulate(mlp, theta, ws, row0, n_rows, k, deltas, w, 0, out);
  return NG_OK;
}

int ng_mlp_rowgrad_sq_acc(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws,
                          size_t row0, size_t n_rows, size_t k, const double *deltas,
                          const double *w, double *out) {
  if (!ng__rowgrad_args_ok(mlp, theta, ws, row0, n_rows, k, deltas, out)) return NG_EINVAL;
  if (w && !ng__finite(n_rows * k, w + row0 * k)) return NG_ENONFINITE;
  ng__rowgrad_accumulate(mlp, theta, ws, row0, n_rows, k, deltas, w, 1, out);
  return NG_OK;
}

/* ---- read access for callers building their own statistics (K-FAC) ----------------------- */

int ng_act_mul_deriv(ng_act_t act, size_t n, const double *a, double *g) {
  if (!ng__act_valid(act) || (n > 0 && (!a || !g))) return NG_EINVAL;
  ng__act_mul_deriv(act, n, a, g);
  return NG_OK;
}

const double *ng_mlp_ws_activation(const ng_mlp_ws_t *ws, size_t i) {
  if (!ws || ws->batch == 0 || i > ws->n_layers) return NULL;
  return i ? ws->a[i - 1] : ws->x;
}

size_t ng_mlp_ws_batch(const ng_mlp_ws_t *ws) { return ws ? ws->batch : 0; }
