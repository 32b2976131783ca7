/* Data sets in memory: allocation, seeded split, truncation, standardisation, minibatches. */
#include <math.h>
#include <string.h>

#include "natgrad/data.h"

int ng_dataset_alloc(ng_dataset_t *ds, size_t n, size_t n_features, size_t n_targets,
                     size_t n_classes) {
  if (!ds) return NG_EINVAL;
  memset(ds, 0, sizeof *ds);
  if (n_features == 0 || n_targets == 0) return NG_EINVAL;
  if (n > SIZE_MAX / sizeof(double) / n_features || n > SIZE_MAX / sizeof(double) / n_targets)
    return NG_ENOMEM;
  ds->x = ng_calloc(n ? n * n_features : 1, sizeof(double));
  ds->y = ng_calloc(n ? n * n_targets : 1, sizeof(double));
  if (!ds->x || !ds->y) {
    ng_dataset_free(ds);
    return NG_ENOMEM;
  }
  ds->n = n;
  ds->n_features = n_features;
  ds->n_targets = n_targets;
  ds->n_classes = n_classes;
  return NG_OK;
}

void ng_dataset_free(ng_dataset_t *ds) {
  if (!ds) return;
  ng_free(ds->x);
  ng_free(ds->y);
  memset(ds, 0, sizeof *ds);
}

/* idx[0..n) <- a uniformly random permutation of 0..n-1 (Fisher-Yates). */
static void ng__permute(size_t *idx, size_t n, ng_rng_t *rng) {
  for (size_t i = 0; i < n; i++) idx[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)ng_rng_below(rng, (uint64_t)i);
    size_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}

static void ng__copy_row(const ng_dataset_t *src, size_t i, ng_dataset_t *dst, size_t o) {
  memcpy(dst->x + o * src->n_features, src->x + i * src->n_features,
         src->n_features * sizeof(double));
  memcpy(dst->y + o * src->n_targets, src->y + i * src->n_targets,
         src->n_targets * sizeof(double));
}

int ng_data_split(const ng_dataset_t *src, double test_fraction, uint64_t seed,
                  ng_dataset_t *train, ng_dataset_t *test) {
  if (!src || !train || !test || !src->x || !src->y) return NG_EINVAL;
  if (!(test_fraction > 0.0 && test_fraction < 1.0)) return NG_EINVAL;
  size_t n_test = (size_t)floor(test_fraction * (double)src->n + 0.5);
  if (n_test == 0 || n_test >= src->n) return NG_EINVAL;
  size_t *idx = ng_malloc(src->n * sizeof *idx);
  if (!idx) return NG_ENOMEM;
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  ng__permute(idx, src->n, &rng);
  int st = ng_dataset_alloc(test, n_test, src->n_features, src->n_targets, src->n_classes);
  if (st == NG_OK)
    st = ng_dataset_alloc(train, src->n - n_test, src->n_features, src->n_targets,
                          src->n_classes);
  if (st != NG_OK) {
    ng_dataset_free(test);
    ng_free(idx);
    return st;
  }
  for (size_t i = 0; i < n_test; i++) ng__copy_row(src, idx[i], test, i);
  for (size_t i = n_test; i < src->n; i++) ng__copy_row(src, idx[i], train, i - n_test);
  ng_free(idx);
  return NG_OK;
}

int ng_data_truncate(ng_dataset_t *ds, size_t n) {
  if (!ds || n == 0) return NG_EINVAL;
  if (n < ds->n) ds->n = n;
  return NG_OK;
}

int ng_data_standardize(ng_dataset_t *train, ng_dataset_t *test, double *mean, double *std) {
  if (!train || !train->x || train->n == 0) return NG_EINVAL;
  size_t d = train->n_features, n = train->n;
  if (test && test->n_features != d) return NG_EINVAL;
  double *mu = ng_calloc(2 * d, sizeof(double));
  if (!mu) return NG_ENOMEM;
  double *sd = mu + d;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) mu[j] += train->x[i * d + j];
  for (size_t j = 0; j < d; j++) mu[j] /= (double)n;
  /* Two-pass variance: no cancellation for features with a large offset. */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) {
      double e = train->x[i * d + j] - mu[j];
      sd[j] += e * e;
    }
  for (size_t j = 0; j < d; j++) {
    sd[j] = sqrt(sd[j] / (double)n);
    if (!(sd[j] >= 1e-8)) sd[j] = 1.0; /* constant column: centre it, do not blow it up */
  }
  ng_dataset_t *sets[2] = {train, test};
  for (int s = 0; s < 2; s++) {
    if (!sets[s]) continue;
    for (size_t i = 0; i < sets[s]->n; i++)
      for (size_t j = 0; j < d; j++) {
        double *v = &sets[s]->x[i * d + j];
        *v = (*v - mu[j]) / sd[j];
      }
  }
  if (mean) memcpy(mean, mu, d * sizeof(double));
  if (std) memcpy(std, sd, d * sizeof(double));
  ng_free(mu);
  return NG_OK;
}

/* ---- minibatches ---------------------------------------------------------------------------- */

struct ng_batcher {
  size_t n, batch;
  uint64_t seed;
  uint64_t epoch;
  size_t pos;  /* row position in the permutation */
  size_t *perm;
};

int ng_batcher_create(ng_batcher_t **out, size_t n, size_t batch, uint64_t seed) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (n == 0 || batch == 0) return NG_EINVAL;
  ng_batcher_t *b = ng_calloc(1, sizeof *b);
  if (!b) return NG_ENOMEM;
  b->perm = ng_malloc(n * sizeof *b->perm);
  if (!b->perm) {
    ng_free(b);
    return NG_ENOMEM;
  }
  b->n = n;
  b->batch = batch;
  b->seed = seed;
  *out = b;
  return ng_batcher_seek(b, 0, 0);
}

void ng_batcher_destroy(ng_batcher_t *b) {
  if (!b) return;
  ng_free(b->perm);
  ng_free(b);
}

size_t ng_batcher_n_batches(const ng_batcher_t *b) {
  return b ? (b->n + b->batch - 1) / b->batch : 0;
}

int ng_batcher_seek(ng_batcher_t *b, uint64_t epoch, size_t k) {
  if (!b || k > ng_batcher_n_batches(b) || epoch == UINT64_MAX) return NG_EINVAL;
  ng_rng_t rng;
  ng_rng_seed(&rng, b->seed, epoch + 1);
  ng__permute(b->perm, b->n, &rng);
  b->epoch = epoch;
  b->pos = k * b->batch < b->n ? k * b->batch : b->n;
  return NG_OK;
}

int ng_batcher_next(ng_batcher_t *b, const ng_dataset_t *ds, double *x, double *y,
                    size_t *rows) {
  if (!b || !ds || !x || !y || !rows || ds->n != b->n || !ds->x || !ds->y) return NG_EINVAL;
  size_t r = b->n - b->pos < b->batch ? b->n - b->pos : b->batch;
  for (size_t i = 0; i < r; i++) {
    size_t src = b->perm[b->pos + i];
    memcpy(x + i * ds->n_features, ds->x + src * ds->n_features,
           ds->n_features * sizeof(double));
    memcpy(y + i * ds->n_targets, ds->y + src * ds->n_targets, ds->n_targets * sizeof(double));
  }
  b->pos += r;
  *rows = r;
  return NG_OK;
}

uint64_t ng_batcher_epoch(const ng_batcher_t *b) { return b ? b->epoch : 0; }
size_t ng_batcher_index(const ng_batcher_t *b) {
  return b ? (b->pos + b->batch - 1) / b->batch : 0;
}
