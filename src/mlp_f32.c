/* The float32 value-function passes (mlp_f32.h): mlp.c's forward and backward, cut into the
 * same chunks and slices (mlp_kernels.h), on float activations with SGEMM and the float tanh.
 * Only the two passes the critic's Adam fit and GAE need: Fisher products, forward mode and
 * K-FAC stay in double on mlp.c. */
#include "mlp_f32.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "mlp_kernels.h"

struct ng__mlpf {
  const ng_mlp_t *mlp;
  size_t n_layers, n_params, max_width, max_batch;
  size_t batch;     /* rows of the last forward, 0 if none */
  ng_split_t split; /* only its slice count: every process computes every slice */
  float *theta;     /* n_params: the loaded parameters */
  float *grad;      /* n_params: a backward's sum before widening */
  float *part;      /* (max slices - 1) x n_params: the other slices' partial sums */
  float *x;         /* max_batch x n_in: the forward's input, rounded */
  float **a;        /* a[l]: max_batch x sizes[l+1] */
  float *buf[2];    /* max_batch x max_width each: backward's cotangents */
  ng_pool_t *pool;  /* borrowed; NULL: one thread */
  float *slab;
};

int ng__mlpf_create(ng__mlpf_t **out, const ng_mlp_t *mlp, size_t max_batch, size_t slices) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (!mlp || max_batch == 0 || max_batch > (size_t)INT_MAX || slices > NG_SLICES_MAX)
    return NG_EINVAL;
  const ng_split_t split = {slices, 0, 1, NULL, NULL, NULL};
  const size_t L = ng_mlp_n_layers(mlp), np = ng_mlp_n_params(mlp);
  size_t width = 0, per_row = ng_mlp_n_in(mlp);
  for (size_t l = 0; l < L; l++) {
    size_t r = ng_mlp_size(mlp, l + 1);
    per_row += r;
    if (r > width) width = r;
  }
  per_row += 2 * width;
  /* the workspace's double twin holds the same shapes in twice the bytes: no overflow */
  if (ng_mlp_ws_bytes(mlp, max_batch) == 0) return NG_EINVAL;
  size_t nf = per_row * max_batch + (ng__max_slices(&split, max_batch) + 1) * np;
  ng__mlpf_t *f = ng_calloc(1, sizeof *f);
  if (!f) return NG_ENOMEM;
  f->a = ng_calloc(L, sizeof *f->a);
  f->slab = ng_calloc(nf, sizeof *f->slab);
  if (!f->a || !f->slab) {
    ng__mlpf_destroy(f);
    return NG_ENOMEM;
  }
  f->mlp = mlp;
  f->n_layers = L;
  f->n_params = np;
  f->max_width = width;
  f->max_batch = max_batch;
  f->split = split;
  float *p = f->slab;
  f->theta = p, p += np;
  f->grad = p, p += np;
  f->x = p, p += max_batch * ng_mlp_n_in(mlp);
  for (size_t l = 0; l < L; l++) f->a[l] = p, p += max_batch * ng_mlp_size(mlp, l + 1);
  for (int k = 0; k < 2; k++) f->buf[k] = p, p += max_batch * width;
  f->part = p;
  *out = f;
  return NG_OK;
}

void ng__mlpf_destroy(ng__mlpf_t *f) {
  if (!f) return;
  ng_free(f->a);
  ng_free(f->slab);
  ng_free(f);
}

void ng__mlpf_set_pool(ng__mlpf_t *f, ng_pool_t *pool) {
  if (f) f->pool = pool;
}

int ng__mlpf_load(ng__mlpf_t *f, const double *theta) {
  if (!f || !theta) return NG_EINVAL;
  if (!ng__finite(f->n_params, theta)) return NG_ENONFINITE;
  float s = 0.0f;
  for (size_t i = 0; i < f->n_params; i++) {
    f->theta[i] = (float)theta[i];
    s += f->theta[i] * 0.0f; /* NaN once a value overflowed float */
  }
  return s == 0.0f ? NG_OK : NG_ENONFINITE;
}

static void ng__actf(ng_act_t act, size_t n, float *z) {
  if (act == NG_ACT_TANH) ng__tanhf_array(n, z, z);
  else if (act == NG_ACT_RELU)
    for (size_t i = 0; i < n; i++) z[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

/* g .*= act'(z), read off the output a as mlp.c does */
static void ng__actf_deriv(ng_act_t act, size_t n, const float *a, float *g) {
  if (act == NG_ACT_TANH)
    for (size_t i = 0; i < n; i++) g[i] *= 1.0f - a[i] * a[i];
  else if (act == NG_ACT_RELU)
    for (size_t i = 0; i < n; i++)
      if (!(a[i] > 0.0f)) g[i] = 0.0f;
}

typedef struct {
  ng__mlpf_t *f;
  size_t batch, n_chunks, n_slices;
  const double *in; /* x or dy */
  double *out;      /* y (or NULL) */
} ng__passf_t;

static size_t ng__rowsf(const ng__passf_t *p, size_t c, size_t *row0) {
  const size_t cs = ng__chunk(p->batch);
  *row0 = c * cs;
  return p->batch - *row0 < cs ? p->batch - *row0 : cs;
}

static int ng__forwardf_task(void *ctx, size_t chunk) {
  const ng__passf_t *p = ctx;
  ng__mlpf_t *f = p->f;
  const ng_mlp_t *mlp = f->mlp;
  size_t row0, rows = ng__rowsf(p, chunk, &row0);
  const size_t n_in = ng_mlp_n_in(mlp), L = f->n_layers;
  for (size_t i = 0; i < rows * n_in; i++) f->x[row0 * n_in + i] = (float)p->in[row0 * n_in + i];
  for (size_t l = 0; l < L; l++) {
    const size_t r = ng_mlp_size(mlp, l + 1), c = ng_mlp_size(mlp, l);
    const float *w = f->theta + ng_mlp_layer_offset(mlp, l), *b = w + r * c;
    const float *a_prev = (l ? f->a[l - 1] : f->x) + row0 * c;
    float *z = f->a[l] + row0 * r;
    for (size_t i = 0; i < rows; i++) memcpy(z + i * r, b, r * sizeof *z);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)r, (int)c, 1.0f,
                a_prev, (int)c, w, (int)c, 1.0f, z, (int)r);
    ng__actf(ng_mlp_act(mlp, l), rows * r, z);
  }
  if (p->out) {
    const size_t n_out = ng_mlp_n_out(mlp);
    const float *y = f->a[L - 1] + row0 * n_out;
    for (size_t i = 0; i < rows * n_out; i++) p->out[row0 * n_out + i] = y[i];
  }
  return NG_OK;
}

int ng__mlpf_forward(ng__mlpf_t *f, size_t batch, const double *x, double *y) {
  if (!f || !x) return NG_EINVAL;
  f->batch = 0;
  if (batch == 0 || batch > f->max_batch) return NG_EINVAL;
  if (!ng__finite(batch * ng_mlp_n_in(f->mlp), x)) return NG_ENONFINITE;
  ng__passf_t p = {f, batch, ng__n_chunks(batch), 0, x, y};
  ng_pool_run(f->pool, p.n_chunks, ng__forwardf_task, &p);
  f->batch = batch;
  return NG_OK;
}

/* mlp.c's ng__backward_rows in float, without dx: dW += G^T A, db += G^T 1 (rows in order),
 * G_prev = (G W) .* act'. */
static void ng__backwardf_rows(const ng__passf_t *p, size_t row0, size_t rows, float *acc) {
  ng__mlpf_t *f = p->f;
  const ng_mlp_t *mlp = f->mlp;
  const size_t L = f->n_layers, n_out = ng_mlp_n_out(mlp);
  float *g = f->buf[0] + row0 * f->max_width, *g_prev = f->buf[1] + row0 * f->max_width;
  for (size_t i = 0; i < rows * n_out; i++) g[i] = (float)p->in[row0 * n_out + i];
  ng__actf_deriv(ng_mlp_act(mlp, L - 1), rows * n_out, f->a[L - 1] + row0 * n_out, g);
  for (size_t l = L; l-- > 0;) {
    const size_t r = ng_mlp_size(mlp, l + 1), c = ng_mlp_size(mlp, l);
    const float *w = f->theta + ng_mlp_layer_offset(mlp, l);
    float *dw = acc + ng_mlp_layer_offset(mlp, l), *db = dw + r * c;
    const float *a_prev = (l ? f->a[l - 1] : f->x) + row0 * c;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)c, (int)rows, 1.0f, g,
                (int)r, a_prev, (int)c, 1.0f, dw, (int)c);
    for (size_t b = 0; b < rows; b++)
      for (size_t j = 0; j < r; j++) db[j] += g[b * r + j];
    if (l == 0) break;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)c, (int)r, 1.0f, g,
                (int)r, w, (int)c, 0.0f, g_prev, (int)c);
    ng__actf_deriv(ng_mlp_act(mlp, l - 1), rows * c, f->a[l - 1] + row0 * c, g_prev);
    float *t = g;
    g = g_prev;
    g_prev = t;
  }
}

static int ng__backwardf_task(void *ctx, size_t s) {
  const ng__passf_t *p = ctx;
  ng__mlpf_t *f = p->f;
  float *acc = s == 0 ? f->grad : f->part + (s - 1) * f->n_params;
  memset(acc, 0, f->n_params * sizeof *acc);
  for (size_t c = s * p->n_chunks / p->n_slices; c < (s + 1) * p->n_chunks / p->n_slices; c++) {
    size_t row0, rows = ng__rowsf(p, c, &row0);
    ng__backwardf_rows(p, row0, rows, acc);
  }
  return NG_OK;
}

int ng__mlpf_vjp(ng__mlpf_t *f, size_t batch, const double *dy, double *dtheta) {
  if (!f || !dy || !dtheta || batch == 0 || f->batch != batch) return NG_EINVAL;
  if (!ng__finite(batch * ng_mlp_n_out(f->mlp), dy)) return NG_ENONFINITE;
  ng__passf_t p = {f, batch, ng__n_chunks(batch), ng__n_slices(&f->split, batch), dy,
                   NULL};
  ng_pool_run(f->pool, p.n_slices, ng__backwardf_task, &p);
  const size_t n = f->n_params;
  for (size_t s = 1; s < p.n_slices; s++) {
    const float *part = f->part + (s - 1) * n;
    for (size_t i = 0; i < n; i++) f->grad[i] += part[i];
  }
  for (size_t i = 0; i < n; i++) dtheta[i] += (double)f->grad[i];
  return NG_OK;
}
