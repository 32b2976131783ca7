/* A minimal test harness: checks print what was observed and what was expected, count
 * failures, and NG_TEST_MAIN's return makes CTest see them. Header-only; one per test. */
#ifndef NG_TEST_H
#define NG_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/core.h"

static int ng_test_failures = 0;
static int ng_test_checks = 0;

#define NG_CHECK(cond)                                                              \
  do {                                                                              \
    ng_test_checks++;                                                               \
    if (!(cond)) {                                                                  \
      ng_test_failures++;                                                           \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
    }                                                                               \
  } while (0)

/* |got - want| <= atol + rtol * |want|, and both finite. */
#define NG_CHECK_CLOSE(got, want, rtol, atol)                                       \
  do {                                                                              \
    double ng__g = (double)(got), ng__w = (double)(want);                           \
    ng_test_checks++;                                                               \
    if (!(isfinite(ng__g) && isfinite(ng__w) &&                                     \
          fabs(ng__g - ng__w) <= (atol) + (rtol) * fabs(ng__w))) {                  \
      ng_test_failures++;                                                           \
      fprintf(stderr, "%s:%d: %s = %.17g, expected %s = %.17g (diff %.3g)\n",       \
              __FILE__, __LINE__, #got, ng__g, #want, ng__w, fabs(ng__g - ng__w));  \
    }                                                                               \
  } while (0)

/* A call's status must equal the expected one. */
#define NG_CHECK_STATUS(call, want)                                                 \
  do {                                                                              \
    int ng__s = (call), ng__e = (want);                                             \
    ng_test_checks++;                                                               \
    if (ng__s != ng__e) {                                                           \
      ng_test_failures++;                                                           \
      fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s (%d)\n", __FILE__,   \
              __LINE__, #call, ng_status_name(ng__s), ng__s, ng_status_name(ng__e), \
              ng__e);                                                               \
    }                                                                               \
  } while (0)

#define NG_CHECK_OK(call) NG_CHECK_STATUS(call, NG_OK)

/* The whole file at path into *out (malloc'ed; the caller frees it): its length, or -1. */
static inline long ng_test_read_file(const char *path, unsigned char **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (*out = malloc(n > 0 ? (size_t)n : 1)) &&
      fread(*out, 1, (size_t)n, f) != (size_t)n)
    n = -1;
  if (!*out) n = -1;
  fclose(f);
  return n;
}

/* Relative error of two vectors in the max norm: max|a-b| / max(max|b|, floor). */
static inline double ng_test_rel_err(size_t n, const double *a, const double *b,
                                     double floor_) {
  double num = 0.0, den = floor_;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(a[i] - b[i]);
    if (!(d <= num)) num = d; /* NaN propagates as failure */
    if (fabs(b[i]) > den) den = fabs(b[i]);
  }
  return num / den;
}

#define NG_CHECK_VEC_CLOSE(n, got, want, rtol)                                      \
  do {                                                                              \
    double ng__r = ng_test_rel_err((n), (got), (want), 1e-300);                     \
    ng_test_checks++;                                                               \
    if (!(ng__r <= (rtol))) {                                                       \
      ng_test_failures++;                                                           \
      fprintf(stderr, "%s:%d: %s vs %s: relative error %.3g > %.3g\n", __FILE__,    \
              __LINE__, #got, #want, ng__r, (double)(rtol));                        \
    }                                                                               \
  } while (0)

#define NG_TEST_RUN(fn)                                                             \
  do {                                                                              \
    int ng__before = ng_test_failures;                                              \
    fn();                                                                           \
    fprintf(stderr, "%-40s %s\n", #fn, ng_test_failures == ng__before ? "ok" : "FAILED"); \
  } while (0)

#define NG_TEST_END()                                                               \
  do {                                                                              \
    fprintf(stderr, "%d checks, %d failed\n", ng_test_checks, ng_test_failures);    \
    return ng_test_failures == 0 ? 0 : 1;                                           \
  } while (0)

#endif
