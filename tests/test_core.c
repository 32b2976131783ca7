/* core: the random stream against the published xoshiro256** and splitmix64 reference
 * outputs, per-(seed, stream) determinism, distribution moments within sampling error,
 * unbiased bounded integers, the status table, error messages, the allocator hook and the
 * reducer hook. */
#include <stdint.h>
#include <stdlib.h>

#include "natgrad/core.h"
#include "ng_test.h"

/* Moment checks: |estimate - truth| <= Z_MAX standard errors. With fixed seeds these are
 * deterministic; 5 sigma keeps them far from flaky while catching real distortions. */
#define Z_MAX 5.0
#define N_SAMPLES 200000

/* ---- reference generators, written from the published algorithms ---- */

static uint64_t ref_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t ref_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t ref_xoshiro(uint64_t s[4]) {
  uint64_t r = ref_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = ref_rotl(s[3], 45);
  return r;
}

static void test_rng_reference_values(void) {
  /* splitmix64 from state 0: the reference's first outputs (validates ref_splitmix64) */
  uint64_t x = 0;
  NG_CHECK(ref_splitmix64(&x) == 0xe220a8397b1dcdafULL);
  NG_CHECK(ref_splitmix64(&x) == 0x6e789e6aa1b965f4ULL);
  NG_CHECK(ref_splitmix64(&x) == 0x06c45d188009454fULL);
  /* xoshiro256** from the state {1, 2, 3, 4}: the reference's first outputs */
  ng_rng_t rng = {{1, 2, 3, 4}, 0.0, 0};
  const uint64_t want[4] = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL};
  for (int i = 0; i < 4; i++) NG_CHECK(ng_rng_u64(&rng) == want[i]);
  /* and a long run agrees with the reference generator */
  uint64_t s[4] = {0x0123456789abcdefULL, 42, 7, 0xfedcba9876543210ULL};
  ng_rng_t r2 = {{s[0], s[1], s[2], s[3]}, 0.0, 0};
  int same = 1;
  for (int i = 0; i < 10000; i++) same &= ng_rng_u64(&r2) == ref_xoshiro(s);
  NG_CHECK(same);
}

/* The seeding recipe is part of every recorded run (a run is replayed from its seed), so it
 * is pinned: state = four splitmix64 outputs from seed ^ splitmix64(stream). */
static void test_rng_seeding(void) {
  const uint64_t seeds[3] = {0, 1, 0xdeadbeefULL};
  for (int a = 0; a < 3; a++)
    for (uint64_t stream = 0; stream < 4; stream++) {
      ng_rng_t rng;
      ng_rng_seed(&rng, seeds[a], stream);
      uint64_t st = stream;
      uint64_t x = seeds[a] ^ ref_splitmix64(&st);
      int same = 1;
      for (int i = 0; i < 4; i++) same &= rng.s[i] == ref_splitmix64(&x);
      NG_CHECK(same);
      NG_CHECK(rng.has_spare == 0);
    }
}

static void test_rng_determinism(void) {
  enum { K = 1000 };
  static uint64_t a[K], b[K], c[K], d[K];
  ng_rng_t r;
  ng_rng_seed(&r, 12345, 3);
  for (int i = 0; i < K; i++) a[i] = ng_rng_u64(&r);
  ng_rng_seed(&r, 12345, 3);
  for (int i = 0; i < K; i++) b[i] = ng_rng_u64(&r);
  NG_CHECK(memcmp(a, b, sizeof a) == 0);
  ng_rng_seed(&r, 12345, 4); /* another stream of the same seed */
  for (int i = 0; i < K; i++) c[i] = ng_rng_u64(&r);
  ng_rng_seed(&r, 12346, 3); /* the same stream of another seed */
  for (int i = 0; i < K; i++) d[i] = ng_rng_u64(&r);
  int eq_c = 0, eq_d = 0;
  for (int i = 0; i < K; i++) {
    eq_c += a[i] == c[i];
    eq_d += a[i] == d[i];
  }
  NG_CHECK(eq_c == 0 && eq_d == 0);
  /* seed 0 stream 0 is not a degenerate (all-zero) state */
  ng_rng_seed(&r, 0, 0);
  NG_CHECK(r.s[0] | r.s[1] | r.s[2] | r.s[3]);
  /* copying the struct forks the stream, including a cached normal deviate */
  ng_rng_seed(&r, 9, 9);
  (void)ng_rng_normal(&r);
  NG_CHECK(r.has_spare == 1);
  ng_rng_t fork = r;
  int same = 1;
  for (int i = 0; i < 100; i++) same &= ng_rng_normal(&r) == ng_rng_normal(&fork);
  NG_CHECK(same);
}

/* Streams of one seed are uncorrelated: the sample correlation of their uniforms is
 * within Z_MAX / sqrt(N) of zero. */
static void test_rng_streams_uncorrelated(void) {
  ng_rng_t r0, r1;
  ng_rng_seed(&r0, 77, 0);
  ng_rng_seed(&r1, 77, 1);
  double sxy = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0;
  for (int i = 0; i < N_SAMPLES; i++) {
    double x = ng_rng_uniform(&r0), y = ng_rng_uniform(&r1);
    sx += x;
    sy += y;
    sxy += x * y;
    sxx += x * x;
    syy += y * y;
  }
  double n = N_SAMPLES;
  double cov = sxy / n - (sx / n) * (sy / n);
  double corr = cov / sqrt((sxx / n - (sx / n) * (sx / n)) * (syy / n - (sy / n) * (sy / n)));
  NG_CHECK(fabs(corr) <= Z_MAX / sqrt(n));
}

static void test_rng_uniform(void) {
  ng_rng_t r, copy;
  ng_rng_seed(&r, 2024, 0);
  /* the definition: the top 53 bits of one u64, scaled by 2^-53 */
  copy = r;
  int def_ok = 1;
  for (int i = 0; i < 1000; i++)
    def_ok &= ng_rng_uniform(&r) == (double)(ng_rng_u64(&copy) >> 11) * 0x1.0p-53;
  NG_CHECK(def_ok);
  double s = 0.0, s2 = 0.0, lo = 1.0, hi = 0.0;
  for (int i = 0; i < N_SAMPLES; i++) {
    double u = ng_rng_uniform(&r);
    s += u;
    s2 += (u - 0.5) * (u - 0.5);
    if (u < lo) lo = u;
    if (u > hi) hi = u;
  }
  double n = N_SAMPLES;
  NG_CHECK(lo >= 0.0 && hi < 1.0);
  /* mean 1/2 with sd sqrt(1/12 / n); E(U - 1/2)^2 = 1/12 with sd sqrt((1/80 - 1/144) / n) */
  NG_CHECK_CLOSE(s / n, 0.5, 0.0, Z_MAX * sqrt(1.0 / 12.0 / n));
  NG_CHECK_CLOSE(s2 / n, 1.0 / 12.0, 0.0, Z_MAX * sqrt((1.0 / 80.0 - 1.0 / 144.0) / n));
  /* [lo, hi) */
  double sr = 0.0, rlo = 1e9, rhi = -1e9;
  for (int i = 0; i < N_SAMPLES; i++) {
    double u = ng_rng_uniform_range(&r, -3.0, 5.0);
    sr += u;
    if (u < rlo) rlo = u;
    if (u > rhi) rhi = u;
  }
  NG_CHECK(rlo >= -3.0 && rhi < 5.0 && rlo < -2.99 && rhi > 4.99);
  NG_CHECK_CLOSE(sr / n, 1.0, 0.0, Z_MAX * 8.0 * sqrt(1.0 / 12.0 / n));
}

static void test_rng_normal(void) {
  ng_rng_t r;
  ng_rng_seed(&r, 99, 5);
  double m1 = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0, below1 = 0.0;
  for (int i = 0; i < N_SAMPLES; i++) {
    double z = ng_rng_normal(&r);
    m1 += z;
    m2 += z * z;
    m3 += z * z * z;
    m4 += z * z * z * z;
    below1 += z < 1.0;
  }
  double n = N_SAMPLES;
  /* E z^k and their sampling sds: Var z = 1, Var z^2 = 2, Var z^3 = 15, Var z^4 = 96 */
  NG_CHECK_CLOSE(m1 / n, 0.0, 0.0, Z_MAX * sqrt(1.0 / n));
  NG_CHECK_CLOSE(m2 / n, 1.0, 0.0, Z_MAX * sqrt(2.0 / n));
  NG_CHECK_CLOSE(m3 / n, 0.0, 0.0, Z_MAX * sqrt(15.0 / n));
  NG_CHECK_CLOSE(m4 / n, 3.0, 0.0, Z_MAX * sqrt(96.0 / n));
  /* the CDF at 1: Phi(1) */
  const double phi1 = 0.8413447460685429;
  NG_CHECK_CLOSE(below1 / n, phi1, 0.0, Z_MAX * sqrt(phi1 * (1.0 - phi1) / n));
  /* the two deviates of each Box-Muller pair are independent: E z1 z2 = 0, sd 1/sqrt(n) */
  double cross = 0.0;
  for (int i = 0; i < N_SAMPLES; i++) {
    double z1 = ng_rng_normal(&r), z2 = ng_rng_normal(&r);
    cross += z1 * z2;
  }
  NG_CHECK_CLOSE(cross / n, 0.0, 0.0, Z_MAX * sqrt(1.0 / n));
}

static void test_rng_below(void) {
  ng_rng_t r;
  ng_rng_seed(&r, 31, 0);
  for (int i = 0; i < 100; i++) {
    NG_CHECK(ng_rng_below(&r, 1) == 0);
    NG_CHECK(ng_rng_below(&r, 0) == 0);
  }
  /* n = 7: in range, every value hit, chi-square with 6 dof below 40 (p < 5e-7) */
  enum { K = 7, DRAWS = 70000 };
  int counts[K] = {0}, in_range = 1;
  for (int i = 0; i < DRAWS; i++) {
    uint64_t v = ng_rng_below(&r, K);
    if (v >= K) {
      in_range = 0;
      continue;
    }
    counts[v]++;
  }
  NG_CHECK(in_range);
  double chi2 = 0.0, e = (double)DRAWS / K;
  for (int k = 0; k < K; k++) chi2 += (counts[k] - e) * (counts[k] - e) / e;
  NG_CHECK(chi2 < 40.0);
  /* A large n exposes modulo bias: for n = ~2/3 * 2^64, a plain u64 % n lands below n/2
   * with probability 2/3; the unbiased draw does so with probability 1/2. */
  const uint64_t big = 0xAAAAAAAAAAAAAAABULL;
  double low = 0.0;
  int big_in_range = 1;
  for (int i = 0; i < 20000; i++) {
    uint64_t v = ng_rng_below(&r, big);
    big_in_range &= v < big;
    low += v < big / 2;
  }
  NG_CHECK(big_in_range);
  NG_CHECK_CLOSE(low / 20000.0, 0.5, 0.0, Z_MAX * sqrt(0.25 / 20000.0));
  /* the largest n: still in range */
  int max_ok = 1;
  for (int i = 0; i < 1000; i++) max_ok &= ng_rng_below(&r, UINT64_MAX) < UINT64_MAX;
  NG_CHECK(max_ok);
}

/* ---- status codes and error messages ---- */

static void test_status_table(void) {
  struct {
    int code;
    const char *name, *text;
  } table[] = {
#define ROW(name, code, text) {code, #name, text},
      NG_STATUS_MAP(ROW)
#undef ROW
  };
  size_t n = sizeof table / sizeof *table;
  NG_CHECK(n >= 14);
  NG_CHECK(NG_OK == 0);
  for (size_t i = 0; i < n; i++) {
    NG_CHECK(strcmp(ng_status_name(table[i].code), table[i].name) == 0);
    NG_CHECK(strcmp(ng_strerror(table[i].code), table[i].text) == 0);
    if (i > 0) NG_CHECK(table[i].code < 0); /* errors are negative */
    for (size_t j = 0; j < i; j++) NG_CHECK(table[i].code != table[j].code);
  }
  NG_CHECK(strcmp(ng_status_name(NG_ENOTPD), "NG_ENOTPD") == 0);
  NG_CHECK(strcmp(ng_strerror(NG_OK), "success") == 0);
  /* unknown codes still give text */
  const int unknown[3] = {1, -999, 12345};
  for (int i = 0; i < 3; i++) {
    NG_CHECK(ng_strerror(unknown[i]) != NULL && ng_strerror(unknown[i])[0] != '\0');
    NG_CHECK(ng_status_name(unknown[i]) != NULL && ng_status_name(unknown[i])[0] != '\0');
  }
}

static void test_error_set(void) {
  ng_error_t err;
  NG_CHECK_STATUS(ng_error_set(&err, NG_EIO, "cannot open %s at line %d", "run.cfg", 12),
                  NG_EIO);
  NG_CHECK(err.status == NG_EIO);
  NG_CHECK(strcmp(err.message, "cannot open run.cfg at line 12") == 0);
  NG_CHECK_STATUS(ng_error_set(NULL, NG_ERANGE, "ignored %d", 1), NG_ERANGE);
  /* messages longer than the buffer are truncated and terminated */
  char longs[1000];
  memset(longs, 'x', sizeof longs - 1);
  longs[sizeof longs - 1] = '\0';
  NG_CHECK_STATUS(ng_error_set(&err, NG_EFORMAT, "%s", longs), NG_EFORMAT);
  NG_CHECK(strlen(err.message) == sizeof err.message - 1);
  ng_error_clear(&err);
  NG_CHECK(err.status == NG_OK && err.message[0] == '\0');
  ng_error_clear(NULL);
}

/* ---- allocator ---- */

static int n_malloc, n_calloc, n_realloc, n_free;
static void *count_malloc(size_t s) {
  n_malloc++;
  return malloc(s);
}
static void *count_calloc(size_t c, size_t s) {
  n_calloc++;
  return calloc(c, s);
}
static void *count_realloc(void *p, size_t s) {
  n_realloc++;
  return realloc(p, s);
}
static void count_free(void *p) {
  n_free++;
  free(p);
}
static void *null_malloc(size_t s) { return NULL; }
static void *null_calloc(size_t c, size_t s) { return NULL; }
static void *null_realloc(void *p, size_t s) { return NULL; }

static void test_allocator(void) {
  NG_CHECK_OK(ng_set_allocator(count_malloc, count_calloc, count_realloc, count_free));
  double *p = ng_malloc(10 * sizeof *p);
  NG_CHECK(p != NULL && n_malloc == 1);
  for (int i = 0; i < 10; i++) p[i] = i;
  p = ng_realloc(p, 1000 * sizeof *p);
  NG_CHECK(p != NULL && n_realloc == 1);
  int kept = 1;
  for (int i = 0; i < 10; i++) kept &= p[i] == i;
  NG_CHECK(kept);
  ng_free(p);
  NG_CHECK(n_free == 1);
  double *z = ng_calloc(50, sizeof *z);
  NG_CHECK(z != NULL && n_calloc == 1);
  int zero = 1;
  for (int i = 0; i < 50; i++) zero &= z[i] == 0.0;
  NG_CHECK(zero);
  ng_free(z);
  /* zero sizes still give a pointer that can be freed */
  void *e0 = ng_malloc(0), *e1 = ng_calloc(0, 8);
  NG_CHECK(e0 != NULL && e1 != NULL);
  ng_free(e0);
  ng_free(e1);
  ng_free(NULL); /* no call for NULL */
  NG_CHECK(n_free == 4);

  /* a partial set is refused and leaves the current allocator in place */
  NG_CHECK_STATUS(ng_set_allocator(null_malloc, NULL, NULL, NULL), NG_EINVAL);
  NG_CHECK_STATUS(ng_set_allocator(NULL, null_calloc, null_realloc, free), NG_EINVAL);
  void *q = ng_malloc(8);
  NG_CHECK(q != NULL && n_malloc == 3);
  ng_free(q);

  /* a failing allocator: every request returns NULL */
  NG_CHECK_OK(ng_set_allocator(null_malloc, null_calloc, null_realloc, free));
  NG_CHECK(ng_malloc(16) == NULL);
  NG_CHECK(ng_calloc(4, 4) == NULL);
  NG_CHECK(ng_realloc(NULL, 16) == NULL);

  /* all NULL restores the C library's */
  NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
  int before = n_malloc;
  void *r = ng_malloc(8);
  NG_CHECK(r != NULL && n_malloc == before);
  ng_free(r);
  NG_CHECK(n_free == 5);
}

/* ---- reducer and helpers ---- */

static int times_two(void *ctx, double *buf, size_t n) {
  int *calls = ctx;
  (*calls)++;
  for (size_t i = 0; i < n; i++) buf[i] *= 2.0;
  return NG_OK;
}

static int broken_sum(void *ctx, double *buf, size_t n) { return NG_EIO; }

static void test_reducer(void) {
  double buf[3] = {1, 2, 3};
  NG_CHECK_OK(ng_reduce_sum(NULL, buf, 3));
  ng_reducer_t identity = {NULL, NULL};
  NG_CHECK_OK(ng_reduce_sum(&identity, buf, 3));
  NG_CHECK(buf[0] == 1 && buf[1] == 2 && buf[2] == 3);
  int calls = 0;
  ng_reducer_t two = {times_two, &calls};
  NG_CHECK_OK(ng_reduce_sum(&two, buf, 3));
  NG_CHECK(calls == 1 && buf[0] == 2 && buf[1] == 4 && buf[2] == 6);
  NG_CHECK_STATUS(ng_reduce_sum(&two, NULL, 3), NG_EINVAL);
  ng_reducer_t broken = {broken_sum, NULL};
  NG_CHECK_STATUS(ng_reduce_sum(&broken, buf, 3), NG_EIO);

  double ok[3] = {1, -1e308, 0}, bad1[3] = {1, NAN, 0}, bad2[3] = {INFINITY, 0, 0};
  NG_CHECK(ng_all_finite(3, ok) == 1);
  NG_CHECK(ng_all_finite(3, bad1) == 0);
  NG_CHECK(ng_all_finite(3, bad2) == 0);
  NG_CHECK(ng_all_finite(0, NULL) == 1);
}

int main(void) {
  NG_TEST_RUN(test_rng_reference_values);
  NG_TEST_RUN(test_rng_seeding);
  NG_TEST_RUN(test_rng_determinism);
  NG_TEST_RUN(test_rng_streams_uncorrelated);
  NG_TEST_RUN(test_rng_uniform);
  NG_TEST_RUN(test_rng_normal);
  NG_TEST_RUN(test_rng_below);
  NG_TEST_RUN(test_status_table);
  NG_TEST_RUN(test_error_set);
  NG_TEST_RUN(test_allocator);
  NG_TEST_RUN(test_reducer);
  NG_TEST_END();
}
