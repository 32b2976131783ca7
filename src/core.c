/* Status text, the replaceable allocator, the random stream, the reducer and split hooks. */
#include "natgrad/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ng_strerror(int status) {
  switch (status) {
#define NG__STATUS_TEXT(name, code, text) \
  case code:                              \
    return text;
    NG_STATUS_MAP(NG__STATUS_TEXT)
#undef NG__STATUS_TEXT
  default:
    return "unknown status";
  }
}

const char *ng_status_name(int status) {
  switch (status) {
#define NG__STATUS_NAME(name, code, text) \
  case code:                              \
    return #name;
    NG_STATUS_MAP(NG__STATUS_NAME)
#undef NG__STATUS_NAME
  default:
    return "NG_E?";
  }
}

int ng_error_set(ng_error_t *err, int status, const char *fmt, ...) {
  if (err) {
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return status;
}

void ng_error_clear(ng_error_t *err) {
  if (err) {
    err->status = NG_OK;
    err->message[0] = '\0';
  }
}

/* ---- allocator ---- */

static ng_malloc_fn ng__malloc = malloc;
static ng_calloc_fn ng__calloc = calloc;
static ng_realloc_fn ng__realloc = realloc;
static ng_free_fn ng__free = free;

int ng_set_allocator(ng_malloc_fn m, ng_calloc_fn c, ng_realloc_fn r, ng_free_fn f) {
  if (!m && !c && !r && !f) {
    ng__malloc = malloc;
    ng__calloc = calloc;
    ng__realloc = realloc;
    ng__free = free;
    return NG_OK;
  }
  if (!m || !c || !r || !f) return NG_EINVAL;
  ng__malloc = m;
  ng__calloc = c;
  ng__realloc = r;
  ng__free = f;
  return NG_OK;
}

void *ng_malloc(size_t size) { return ng__malloc(size ? size : 1); }
void *ng_calloc(size_t count, size_t size) {
  if (count == 0 || size == 0) count = size = 1;
  return ng__calloc(count, size);
}
void *ng_realloc(void *ptr, size_t size) { return ng__realloc(ptr, size ? size : 1); }
void ng_free(void *ptr) {
  if (ptr) ng__free(ptr);
}

/* ---- random numbers: splitmix64 seeding, xoshiro256** stream ---- */

static uint64_t ng__splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void ng_rng_seed(ng_rng_t *rng, uint64_t seed, uint64_t stream) {
  /* Mix the stream into the seed through one splitmix round of its own, so (seed, stream)
   * pairs that differ in either give unrelated states. */
  uint64_t st = stream;
  uint64_t x = seed ^ ng__splitmix64(&st);
  for (int i = 0; i < 4; i++) rng->s[i] = ng__splitmix64(&x);
  rng->spare_normal = 0.0;
  rng->has_spare = 0;
}

static inline uint64_t ng__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ng_rng_u64(ng_rng_t *rng) {
  uint64_t *s = rng->s;
  uint64_t result = ng__rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = ng__rotl(s[3], 45);
  return result;
}

double ng_rng_uniform(ng_rng_t *rng) { return (double)(ng_rng_u64(rng) >> 11) * 0x1.0p-53; }

double ng_rng_uniform_range(ng_rng_t *rng, double lo, double hi) {
  return lo + (hi - lo) * ng_rng_uniform(rng);
}

double ng_rng_normal(ng_rng_t *rng) {
  if (rng->has_spare) {
    rng->has_spare = 0;
    return rng->spare_normal;
  }
  double u1, u2;
  do {
    u1 = ng_rng_uniform(rng);
  } while (u1 <= 0.0);
  u2 = ng_rng_uniform(rng);
  double r = sqrt(-2.0 * log(u1));
  double a = 6.283185307179586 * u2;
  rng->spare_normal = r * sin(a);
  rng->has_spare = 1;
  return r * cos(a);
}

uint64_t ng_rng_below(ng_rng_t *rng, uint64_t n) {
  if (n <= 1) return 0;
  /* Rejection on the top of the range removes modulo bias. */
  uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  uint64_t x;
  do {
    x = ng_rng_u64(rng);
  } while (x >= limit);
  return x % n;
}

/* ---- reducer ---- */

int ng_reduce_sum(const ng_reducer_t *r, double *buf, size_t n) {
  if (!r || !r->sum) return NG_OK;
  if (!buf && n) return NG_EINVAL;
  return r->sum(r->ctx, buf, n);
}

/* ---- split ---- */

size_t ng_split_slices(const ng_split_t *sp, size_t n_chunks) {
  size_t s = sp && sp->slices ? sp->slices : NG_SLICES_DEFAULT;
  return n_chunks < s ? n_chunks : s;
}

void ng_split_own(const ng_split_t *sp, size_t n_slices, size_t *first, size_t *count) {
  if (!ng_split_active(sp) || sp->rank < 0 || sp->rank >= sp->size) {
    *first = 0;
    *count = n_slices;
    return;
  }
  const size_t k = (size_t)sp->size, r = (size_t)sp->rank, q = n_slices / k, extra = n_slices % k;
  *count = q + (r < extra);
  *first = r * q + (r < extra ? r : extra);
}

int ng_split_active(const ng_split_t *sp) { return sp && sp->size > 1 && sp->gather; }

int ng_split_gather(const ng_split_t *sp, double *const *parts, const size_t *lens,
                    size_t n_slices) {
  if (!ng_split_active(sp) || n_slices == 0) return NG_OK;
  if (!parts || !lens || n_slices > NG_SLICES_MAX) return NG_EINVAL;
  return sp->gather(sp->ctx, parts, lens, n_slices);
}

int ng_split_gather_sums(const ng_split_t *sp, double *const *parts, size_t n, size_t n_slices) {
  size_t lens[NG_SLICES_MAX];
  if (n_slices > NG_SLICES_MAX) return NG_EINVAL;
  for (size_t s = 0; s < n_slices; s++) lens[s] = n;
  return ng_split_gather(sp, parts, lens, n_slices);
}

int ng_all_finite(size_t n, const double *x) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}
