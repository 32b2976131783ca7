/* Fuzz target: the IDX reader (ng_idx_read) and the image/label pair loader
 * (ng_data_load_idx), through files as `natgrad fit` reads them.
 *
 * Input: one mode byte, then the file. Mode bit 0 gzip-compresses the file before it is
 * written (the reader takes both); bit 1 reads a pair instead: the next byte picks where the
 * rest is cut into the images file and the labels file, and bits 2-5 are min_classes.
 * Invariants beyond "no crash, no leak":
 *   - a failure is a documented status with a message and leaves nothing behind;
 *   - ng_idx_read agrees with a reference decoding written here from data.h's description
 *     of the format: it accepts exactly the files that decoding accepts (unless memory ran
 *     out), with the same sizes and the same values bit for bit;
 *   - a loaded pair is consistent: labels are class numbers below n_classes, which is at
 *     least min_classes, and the inputs are finite. */
#include <math.h>

#include "fuzz.h"
#include "natgrad/data.h"

static char g_path[64], g_labels[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ng_fuzz_alloc_install();
  ng_fuzz_temp_path(g_path, sizeof g_path, "idx");
  ng_fuzz_temp_path(g_labels, sizeof g_labels, "idx_labels");
  return 0;
}

static uint64_t be(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* The reference: 1 if p[0, n) is a valid IDX file by data.h, with its values in *out
 * (malloc'ed; the caller frees) and its sizes in ndims, dims, count. */
static int ref_decode(const uint8_t *p, size_t n, size_t *ndims, size_t *dims, size_t *count,
                      double **out) {
  *out = NULL;
  if (n < 4 || p[0] != 0 || p[1] != 0 || p[3] < 1 || p[3] > NG_IDX_MAX_DIMS) return 0;
  const int type = p[2];
  const size_t es = type == 0x08 || type == 0x09 ? 1
                    : type == 0x0B               ? 2
                    : type == 0x0C || type == 0x0D ? 4
                    : type == 0x0E               ? 8
                                                 : 0;
  if (es == 0) return 0;
  *ndims = p[3];
  if (n < 4 + 4 * *ndims) return 0;
  uint64_t c = 1;
  for (size_t i = 0; i < *ndims; i++) {
    dims[i] = (size_t)be(p + 4 + 4 * i, 4);
    c *= dims[i]; /* at most 8 factors below 2^32: checked against 2^32 after each */
    if (dims[i] == 0 || c > ((uint64_t)1 << 32)) return 0;
  }
  *count = (size_t)c;
  const uint8_t *v = p + 4 + 4 * *ndims;
  if (n - 4 - 4 * *ndims != c * es) return 0;
  double *x = malloc(c ? c * sizeof *x : 1);
  if (!x) return 0;
  for (size_t i = 0; i < c; i++) {
    uint64_t u = be(v + i * es, es);
    float f;
    uint32_t u32 = (uint32_t)u;
    switch (type) {
    case 0x08: x[i] = (double)u; break;
    case 0x09: x[i] = u < 128 ? (double)u : (double)u - 256.0; break;
    case 0x0B: x[i] = u < 32768 ? (double)u : (double)u - 65536.0; break;
    case 0x0C: x[i] = u < 0x80000000u ? (double)u : (double)u - 4294967296.0; break;
    case 0x0D: memcpy(&f, &u32, 4); x[i] = f; break;
    default: memcpy(&x[i], &u, 8);
    }
    if (!isfinite(x[i])) {
      free(x);
      return 0;
    }
  }
  *out = x;
  return 1;
}

static void check_failure(int s, const ng_error_t *err) {
  NG_FUZZ_ASSERT(err->status == s && err->message[0] != '\0');
  NG_FUZZ_ASSERT(s == NG_EFORMAT || s == NG_ENOMEM);
}

static void one_file(const uint8_t *p, size_t n, int gz) {
  if (ng_fuzz_write_file(g_path, p, n, gz) != 0) return;
  ng_idx_t idx;
  ng_error_t err;
  ng_error_clear(&err);
  int s = ng_idx_read(g_path, &idx, &err);
  remove(g_path);
  if (s != NG_OK) {
    check_failure(s, &err);
    NG_FUZZ_ASSERT(idx.data == NULL && idx.count == 0 && idx.ndims == 0);
  }
  /* A plain file that starts like gzip is decompressed by zlib: no reference for it. */
  if (s != NG_ENOMEM && (gz || n < 2 || p[0] != 0x1f || p[1] != 0x8b)) {
    size_t ndims = 0, dims[NG_IDX_MAX_DIMS], count = 0;
    double *want;
    int ok = ref_decode(p, n, &ndims, dims, &count, &want);
    NG_FUZZ_ASSERT(ok == (s == NG_OK));
    if (ok) {
      NG_FUZZ_ASSERT(idx.type == p[2] && idx.ndims == ndims && idx.count == count);
      NG_FUZZ_ASSERT(memcmp(idx.dims, dims, ndims * sizeof *dims) == 0);
      NG_FUZZ_ASSERT(memcmp(idx.data, want, count * sizeof *want) == 0);
    }
    free(want);
  }
  ng_idx_free(&idx);
}

static void pair(const uint8_t *p, size_t n, int gz, size_t min_classes) {
  if (n < 1) return;
  size_t cut = (size_t)p[0] * (n - 1) / 255;
  p++;
  n--;
  if (ng_fuzz_write_file(g_path, p, cut, gz) != 0 ||
      ng_fuzz_write_file(g_labels, p + cut, n - cut, gz) != 0)
    return;
  ng_dataset_t ds;
  ng_error_t err;
  ng_error_clear(&err);
  int s = ng_data_load_idx(g_path, g_labels, 255.0, min_classes, &ds, &err);
  remove(g_path);
  remove(g_labels);
  if (s != NG_OK) {
    check_failure(s, &err);
    NG_FUZZ_ASSERT(ds.x == NULL && ds.y == NULL && ds.n == 0);
    return;
  }
  NG_FUZZ_ASSERT(ds.n >= 1 && ds.n_features >= 1 && ds.n_targets == 1);
  NG_FUZZ_ASSERT(ds.n_classes >= min_classes && ds.n_classes >= 1);
  for (size_t i = 0; i < ds.n; i++)
    NG_FUZZ_ASSERT(ds.y[i] >= 0.0 && ds.y[i] == floor(ds.y[i]) &&
                   ds.y[i] < (double)ds.n_classes);
  for (size_t i = 0; i < ds.n * ds.n_features; i++) NG_FUZZ_ASSERT(isfinite(ds.x[i]));
  ng_dataset_free(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const unsigned mode = data[0];
  if (mode & 2) pair(data + 1, size - 1, mode & 1, (mode >> 2) & 15);
  else one_file(data + 1, size - 1, mode & 1);
  ng_fuzz_alloc_check("fuzz_idx");
  return 0;
}
