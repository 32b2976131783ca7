/* ckpt_io, the byte layer under both checkpoint formats: every put/get pair round-trips
 * bit for bit (NaN payloads, -0, extreme integers) in the little-endian bytes written out
 * here by hand; the writer grows across many reallocations and a failed one leaves a
 * sticky NG_ENOMEM; a reader over every truncation of a record (each in a heap block of
 * exactly that size, so ASan sees any byte read past it) fails cleanly; CRC-32 in pieces
 * of any size equals zlib's one-call crc32 on a few MB and a bit-by-bit CRC written here;
 * the atomic write replaces a file and, when creating, writing or renaming the temporary
 * fails, returns a status, removes the temporary and leaves the old file as it was; the
 * version rule tells a damaged version field (every bit flip) from a genuinely newer
 * format, for the fit checkpoint too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ckpt_io.h"
#include "natgrad/supervised.h"
#include "ng_test.h"

#define CRC_BYTES (3u * 1024 * 1024 + 7) /* "a few MB", odd so no piece size divides it */
#define GROW_VALUES 20000                 /* 160 kB: six doublings of the 4 kB start */

/* ---- round trip ---- */

/* the record every round-trip and truncation test writes and reads */
static const uint64_t U[4] = {0, 1, 0x0102030405060708u, UINT64_MAX};
static const int64_t I[4] = {0, -1, INT64_MIN, INT64_MAX};
static double F[6];
static const char TEXT[] = "env = CartPole-v1\n";

static void init_doubles(void) {
  uint64_t nan_bits = 0x7ff800000000beefu; /* a NaN with a payload: bits, not values, travel */
  F[0] = -0.0;
  F[1] = 3.141592653589793;
  F[2] = 4.9406564584124654e-324; /* the smallest subnormal */
  F[3] = -INFINITY;
  memcpy(&F[4], &nan_bits, 8);
  F[5] = 1.0;
}

static void write_record(ng__ckio_w_t *w) {
  for (int i = 0; i < 4; i++) ng__ckio_put_u64(w, U[i]);
  for (int i = 0; i < 4; i++) ng__ckio_put_i64(w, I[i]);
  ng__ckio_put_f64(w, F[0]);
  ng__ckio_put_f64s(w, F + 1, 5);
  ng__ckio_put_bytes(w, TEXT, sizeof TEXT);
  unsigned char *z = ng__ckio_put_zeros(w, 3); /* room filled in afterwards */
  if (z) memcpy(z, "zzz", 3);
  else ng_test_failures++;
}
#define RECORD_BYTES (8 * 4 + 8 * 4 + 8 * 6 + sizeof TEXT + 3)

/* Reads the record back; returns how many of its fields came back equal. */
static int read_record(ng__ckio_r_t *r) {
  int same = 0;
  for (int i = 0; i < 4; i++) same += ng__ckio_get_u64(r) == U[i];
  for (int i = 0; i < 4; i++) same += ng__ckio_get_i64(r) == I[i];
  double f[6];
  f[0] = ng__ckio_get_f64(r);
  ng__ckio_get_f64s(r, f + 1, 5);
  for (int i = 0; i < 6; i++) same += memcmp(&f[i], &F[i], 8) == 0;
  char text[sizeof TEXT];
  ng__ckio_get_bytes(r, text, sizeof text);
  same += memcmp(text, TEXT, sizeof text) == 0;
  char z[3];
  ng__ckio_get_bytes(r, z, 3);
  same += memcmp(z, "zzz", 3) == 0;
  return same;
}
#define RECORD_FIELDS (4 + 4 + 6 + 1 + 1)

static void test_round_trip(void) {
  ng__ckio_w_t w = {0};
  write_record(&w);
  NG_CHECK(w.status == NG_OK && w.len == RECORD_BYTES);
  /* the byte order, spelled out: least significant byte first */
  static const unsigned char u2[8] = {8, 7, 6, 5, 4, 3, 2, 1};
  static const unsigned char one[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f}; /* 1.0 */
  NG_CHECK(memcmp(w.buf + 16, u2, 8) == 0);
  NG_CHECK(memcmp(w.buf + 32 + 8, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) == 0); /* -1 */
  NG_CHECK(memcmp(w.buf + 32 + 16, "\0\0\0\0\0\0\0\x80", 8) == 0);              /* INT64_MIN */
  NG_CHECK(memcmp(w.buf + 64, "\0\0\0\0\0\0\0\x80", 8) == 0);                   /* -0.0 */
  NG_CHECK(memcmp(w.buf + 64 + 40, one, 8) == 0);
  ng__ckio_r_t r = {w.buf, w.len, 0, 0};
  NG_CHECK(read_record(&r) == RECORD_FIELDS);
  NG_CHECK(!r.bad && r.pos == r.len);
  /* one more read at the end fails */
  NG_CHECK(ng__ckio_get_u64(&r) == 0 && r.bad && r.pos == r.len);
  ng__ckio_w_free(&w);
  NG_CHECK(w.buf == NULL && w.len == 0 && w.cap == 0);

  /* the fixed-width words used for headers */
  unsigned char b[9] = {0};
  ng__ckio_st(b, 0xaa01020304u, 4); /* the low four bytes only */
  NG_CHECK(b[0] == 4 && b[1] == 3 && b[2] == 2 && b[3] == 1 && b[4] == 0);
  NG_CHECK(ng__ckio_ld(b, 4) == 0x01020304u && ng__ckio_ld(b, 2) == 0x0304u);
  ng__ckio_st(b, 0x8877665544332211u, 8);
  NG_CHECK(b[0] == 0x11 && b[7] == 0x88 && b[8] == 0 && ng__ckio_ld(b, 8) == 0x8877665544332211u);
}

/* Many puts: the buffer moves on every doubling and keeps every byte. */
static void test_growth(void) {
  ng__ckio_w_t w = {0};
  for (uint64_t i = 0; i < GROW_VALUES; i++) ng__ckio_put_u64(&w, i * 0x9e3779b97f4a7c15u);
  NG_CHECK(w.status == NG_OK && w.len == 8u * GROW_VALUES && w.cap >= w.len);
  ng__ckio_r_t r = {w.buf, w.len, 0, 0};
  int wrong = 0;
  for (uint64_t i = 0; i < GROW_VALUES; i++)
    wrong += ng__ckio_get_u64(&r) != i * 0x9e3779b97f4a7c15u;
  NG_CHECK(wrong == 0 && !r.bad && r.pos == r.len);
  /* a put of nothing on an empty writer still leaves a valid buffer */
  ng__ckio_w_t e = {0};
  NG_CHECK(ng__ckio_put_zeros(&e, 0) != NULL && e.len == 0 && e.status == NG_OK);
  ng__ckio_w_free(&e);
  ng__ckio_w_free(&w);
}

/* A measuring writer counts exactly the bytes a real one would write, and allocates nothing. */
static void test_measure(void) {
  ng__ckio_w_t m = {.measure = 1};
  for (int i = 0; i < 4; i++) ng__ckio_put_u64(&m, U[i]);
  ng__ckio_put_i64(&m, I[0]);
  ng__ckio_put_f64s(&m, F, 6);
  ng__ckio_put_bytes(&m, TEXT, sizeof TEXT);
  NG_CHECK(ng__ckio_put_zeros(&m, 3) == NULL);
  NG_CHECK(m.status == NG_OK && m.buf == NULL && m.cap == 0);
  NG_CHECK(m.len == 8 * 4 + 8 + 8 * 6 + sizeof TEXT + 3);
}

/* ---- allocation failure ---- */

static long g_reallocs_left;
static void *fail_realloc(void *p, size_t n) {
  if (g_reallocs_left-- <= 0) return NULL;
  return realloc(p, n);
}

static void test_out_of_memory(void) {
  /* every number of successful growths before the failing one */
  for (long k = 0; k < 4; k++) {
    NG_CHECK_OK(ng_set_allocator(malloc, calloc, fail_realloc, free));
    g_reallocs_left = k;
    ng__ckio_w_t w = {0};
    for (int i = 0; i < GROW_VALUES; i++) ng__ckio_put_u64(&w, 7);
    size_t len = w.len;
    NG_CHECK(w.status == NG_ENOMEM && len < 8u * GROW_VALUES);
    /* sticky: later puts do nothing, even ones that would fit */
    g_reallocs_left = 1000;
    ng__ckio_put_u64(&w, 1);
    ng__ckio_put_bytes(&w, "x", 1);
    NG_CHECK(ng__ckio_put_zeros(&w, 1) == NULL);
    NG_CHECK(w.status == NG_ENOMEM && w.len == len);
    ng__ckio_w_free(&w);
    NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
  }
  /* sizes that cannot exist fail without an allocation */
  ng__ckio_w_t w = {0};
  double x = 1.0;
  ng__ckio_put_f64s(&w, &x, SIZE_MAX / 8 + 1);
  NG_CHECK(w.status == NG_ENOMEM && w.buf == NULL);
  ng__ckio_w_t v = {0};
  ng__ckio_put_u64(&v, 1);
  NG_CHECK(ng__ckio_put_zeros(&v, SIZE_MAX - 4) == NULL && v.status == NG_ENOMEM && v.len == 8);
  ng__ckio_w_free(&v);
}

/* ---- truncated input ---- */

static void test_truncated(void) {
  ng__ckio_w_t w = {0};
  write_record(&w);
  int unclean = 0;
  for (size_t len = 0; len < w.len; len++) {
    /* exactly len bytes on the heap: ASan reports a read of the next one */
    unsigned char *cut = malloc(len ? len : 1);
    memcpy(cut, w.buf, len);
    ng__ckio_r_t r = {cut, len, 0, 0};
    int same = read_record(&r);
    if (!r.bad || r.pos > len || same >= RECORD_FIELDS) unclean++;
    free(cut);
  }
  NG_CHECK(unclean == 0);
  /* a failed read yields zeros and moves nothing; the flag stays set for reads that fit */
  ng__ckio_r_t r = {w.buf, 12, 0, 0};
  NG_CHECK(ng__ckio_get_u64(&r) == 0 && !r.bad && r.pos == 8);
  double d[2] = {5, 5};
  ng__ckio_get_f64s(&r, d, 1);
  NG_CHECK(r.bad && r.pos == 8 && d[0] == 0 && d[1] == 5);
  char c = 'x';
  ng__ckio_get_bytes(&r, &c, 1);
  NG_CHECK(c == 0 && r.pos == 8);
  /* reads of nothing succeed anywhere; an empty reader fails the first real read */
  ng__ckio_r_t at_end = {w.buf, w.len, w.len, 0};
  ng__ckio_get_f64s(&at_end, d, 0);
  ng__ckio_get_bytes(&at_end, d, 0);
  NG_CHECK(!at_end.bad);
  ng__ckio_r_t empty = {NULL, 0, 0, 0};
  NG_CHECK(ng__ckio_get_i64(&empty) == 0 && empty.bad);
  ng__ckio_w_free(&w);
}

/* ---- CRC-32 ---- */

/* The definition: reflected CRC-32, polynomial 0xEDB88320, one bit at a time. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

static void test_crc(void) {
  NG_CHECK(ng__ckio_crc32("123456789", 9) == 0xcbf43926u); /* the standard check value */
  NG_CHECK(ng__ckio_crc32(NULL, 0) == 0);
  unsigned char *buf = malloc(CRC_BYTES);
  ng_rng_t rng;
  ng_rng_seed(&rng, 11, 0);
  for (size_t i = 0; i < CRC_BYTES; i++) buf[i] = (unsigned char)ng_rng_u64(&rng);
  uint32_t whole = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)CRC_BYTES);
  NG_CHECK(whole == crc_bitwise(buf, CRC_BYTES));
  NG_CHECK(ng__ckio_crc32(buf, CRC_BYTES) == whole);
  const size_t pieces[] = {1, 3, 4096, 65537, (size_t)1 << 20, CRC_BYTES - 1, CRC_BYTES,
                           CRC_BYTES + 1, 0 /* the default */};
  for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
    uint32_t got = ng__ckio_crc32_pieces(buf, CRC_BYTES, pieces[i]);
    if (got != whole) {
      ng_test_failures++;
      fprintf(stderr, "piece %zu: crc %08x, zlib on the whole %08x\n", pieces[i], got, whole);
    }
  }
  /* and a flipped bit is seen */
  buf[CRC_BYTES / 2] ^= 4;
  NG_CHECK(ng__ckio_crc32_pieces(buf, CRC_BYTES, 4096) != whole);
  free(buf);
}

/* ---- atomic write ---- */

static char g_dir[64];

/* 1 if path holds exactly data[0, len). */
static int file_is(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char got[256];
  size_t n = fread(got, 1, sizeof got, f);
  fclose(f);
  return n == len && memcmp(got, data, len) == 0;
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static void test_write_file(void) {
  char path[128], tmp[140], other[128];
  snprintf(path, sizeof path, "%s/ck", g_dir);
  snprintf(tmp, sizeof tmp, "%s/ck.tmp", g_dir);
  ng_error_t err;
  /* create, then replace */
  NG_CHECK_OK(ng__ckio_write_file(path, "first", 5, &err));
  NG_CHECK(file_is(path, "first", 5) && !exists(tmp));
  NG_CHECK_OK(ng__ckio_write_file(path, "old contents", 12, &err));
  NG_CHECK(file_is(path, "old contents", 12) && !exists(tmp));
  NG_CHECK_OK(ng__ckio_write_file(tmp, "", 0, &err)); /* an empty file; then away with it */
  NG_CHECK(file_is(tmp, "", 0) && remove(tmp) == 0);

  /* the temporary cannot be created (a folder sits at its name) */
  NG_CHECK(mkdir(tmp, 0700) == 0);
  NG_CHECK_STATUS(ng__ckio_write_file(path, "new", 3, &err), NG_EIO);
  NG_CHECK(strstr(err.message, "ck.tmp") != NULL);
  NG_CHECK(file_is(path, "old contents", 12));
  NG_CHECK(rmdir(tmp) == 0);

  /* writing fails (the temporary's name leads to a full device): no temporary is left */
  if (access("/dev/full", W_OK) == 0) {
    NG_CHECK(symlink("/dev/full", tmp) == 0);
    NG_CHECK_STATUS(ng__ckio_write_file(path, "new", 3, &err), NG_EIO);
    fprintf(stderr, "  %s\n", err.message);
    NG_CHECK(file_is(path, "old contents", 12) && !exists(tmp));
  }

  /* the rename fails (path is a folder that is not empty): the temporary goes, the folder
   * and its contents stay */
  snprintf(other, sizeof other, "%s/folder", g_dir);
  char inner[160], other_tmp[160];
  snprintf(inner, sizeof inner, "%s/keep", other);
  snprintf(other_tmp, sizeof other_tmp, "%s.tmp", other);
  NG_CHECK(mkdir(other, 0700) == 0);
  NG_CHECK_OK(ng__ckio_write_file(inner, "kept", 4, &err));
  NG_CHECK_STATUS(ng__ckio_write_file(other, "new", 3, &err), NG_EIO);
  NG_CHECK(strstr(err.message, "renaming") != NULL);
  NG_CHECK(!exists(other_tmp) && file_is(inner, "kept", 4));
  remove(inner);
  rmdir(other);

  /* a folder that cannot be written (root writes anyway: only checked for other users) */
  if (geteuid() != 0) {
    NG_CHECK(chmod(g_dir, 0500) == 0);
    NG_CHECK_STATUS(ng__ckio_write_file(path, "new", 3, &err), NG_EIO);
    NG_CHECK(chmod(g_dir, 0700) == 0);
    NG_CHECK(file_is(path, "old contents", 12) && !exists(tmp));
  }

  /* paths too long: the whole (NG_ERANGE, nothing tried) or one name (the OS refuses) */
  static char longp[5000];
  memset(longp, 'a', sizeof longp - 1);
  memcpy(longp, g_dir, strlen(g_dir));
  longp[strlen(g_dir)] = '/';
  NG_CHECK_STATUS(ng__ckio_write_file(longp, "new", 3, &err), NG_ERANGE);
  NG_CHECK(strstr(err.message, "path too long") != NULL);
  longp[strlen(g_dir) + 1 + 300] = '\0'; /* a 300-byte name: over NAME_MAX */
  NG_CHECK_STATUS(ng__ckio_write_file(longp, "new", 3, &err), NG_EIO);
  NG_CHECK(file_is(path, "old contents", 12));

  /* a missing folder, NULL arguments */
  NG_CHECK_STATUS(ng__ckio_write_file("/nonexistent/dir/ck", "x", 1, &err), NG_EIO);
  NG_CHECK_STATUS(ng__ckio_write_file(NULL, "x", 1, &err), NG_EINVAL);
  NG_CHECK_STATUS(ng__ckio_write_file(path, NULL, 1, NULL), NG_EINVAL);
  NG_CHECK(file_is(path, "old contents", 12));

  /* a bare name lands in the current folder (whose fsync makes the rename durable) */
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) && chdir(g_dir) == 0) {
    NG_CHECK_OK(ng__ckio_write_file("bare", "b", 1, &err));
    NG_CHECK(file_is("bare", "b", 1) && !exists("bare.tmp"));
    remove("bare");
    NG_CHECK(chdir(cwd) == 0);
  }
  remove(path);
}

/* ---- format versions (the rule in ckpt_io.h) ---- */

/* A header of version v for a reader of version 1, vouched for (its CRC-32 at offset 28)
 * or not (zero there, as version 1 writes it). */
static void version_header(unsigned char *h, uint32_t v, int vouch) {
  memcpy(h, "NGTEST01", 8);
  ng__ckio_st(h + 8, v, 4);
  for (int i = 12; i < 28; i++) h[i] = (unsigned char)(7 * i);
  ng__ckio_st(h + 28, vouch ? ng__ckio_header_crc(h) : 0, 4);
}

static void expect_verdict(const unsigned char *h, size_t have, int status, const char *what) {
  ng_error_t err;
  NG_CHECK_STATUS(ng__ckio_check_version(h, have, 1, "load: ", "F", &err), status);
  if (status && !strstr(err.message, what)) {
    ng_test_failures++;
    fprintf(stderr, "expected '%s' in: %s\n", what, err.message);
  }
}

static void test_version_rule(void) {
  unsigned char h[32];
  version_header(h, 1, 0);
  expect_verdict(h, 32, NG_OK, NULL);
  expect_verdict(h, 12, NG_OK, NULL);
  /* the header CRC is zlib's over the first 28 bytes */
  NG_CHECK(ng__ckio_header_crc(h) == (uint32_t)crc32(crc32(0L, Z_NULL, 0), h, 28));
  /* one flipped bit of version 1 is damage, never "newer" */
  for (int bit = 0; bit < 32; bit++) {
    version_header(h, 1u ^ (1u << bit), 0);
    expect_verdict(h, 32, NG_EFORMAT, "load: F: corrupted header: format version");
  }
  /* genuinely newer: 2..1 + NG__CKIO_NEWER_MAX with the header's checksum */
  for (uint32_t v = 2; v <= 1 + NG__CKIO_NEWER_MAX; v++) {
    version_header(h, v, 1);
    expect_verdict(h, 32, NG_EUNSUPPORTED, "is newer than this build reads (1)");
    expect_verdict(h, 31, NG_EFORMAT, "truncated header (31 bytes");
    h[20] ^= 4; /* any other header byte damaged: the checksum no longer vouches */
    expect_verdict(h, 32, NG_EFORMAT, "without the header checksum");
  }
  version_header(h, 2 + NG__CKIO_NEWER_MAX, 1);
  expect_verdict(h, 32, NG_EFORMAT, "nor a plausible newer one (2 to 17)");
  version_header(h, 0, 1);
  expect_verdict(h, 32, NG_EFORMAT, "format version 0 is neither");
  version_header(h, UINT32_MAX, 1);
  expect_verdict(h, 32, NG_EFORMAT, "format version 4294967295 is neither");
}

/* The fit checkpoint applies the rule: a file written here by hand in its layout
 * (natgrad/supervised.h) reads back, a flipped version bit is damage, a vouched newer
 * version is NG_EUNSUPPORTED. */
static void test_fit_checkpoint_version(void) {
  ng__ckio_w_t w = {0};
  ng__ckio_put_zeros(&w, 32);
  ng__ckio_put_u64(&w, 4);
  ng__ckio_put_bytes(&w, "meta", 4);
  for (int i = 0; i < 3; i++) ng__ckio_put_u64(&w, 0); /* epoch, batch index, steps */
  ng__ckio_put_f64(&w, 0.0);                            /* seconds */
  ng__ckio_put_f64(&w, 0.0);                            /* epoch loss sum */
  ng__ckio_put_u64(&w, 0);                              /* epoch rows */
  ng__ckio_put_u64(&w, 2);
  ng__ckio_put_f64s(&w, F + 1, 2); /* theta */
  ng__ckio_put_u64(&w, 0);         /* no optimiser state */
  NG_CHECK(w.status == 0);
  if (w.status) return;
  memcpy(w.buf, "NGSUPCK1", 8);
  ng__ckio_st(w.buf + 8, 1, 4);
  ng__ckio_st(w.buf + 12, ng__ckio_crc32(w.buf + 32, w.len - 32), 4);
  ng__ckio_st(w.buf + 16, w.len - 32, 8);
  char path[300];
  snprintf(path, sizeof path, "%s/fit.ckpt", g_dir);
  ng_error_t err;
  ng_fit_checkpoint_t ck;
  NG_CHECK_OK(ng__ckio_write_file(path, w.buf, w.len, &err));
  NG_CHECK_OK(ng_fit_checkpoint_read(path, &ck, &err));
  NG_CHECK(ck.n_params == 2 && ck.theta && ck.theta[1] == F[2] && !strcmp(ck.meta, "meta"));
  ng_fit_checkpoint_free(&ck);
  for (int bit = 0; bit < 32; bit += 3) {
    ng__ckio_st(w.buf + 8, 1u ^ (1u << bit), 4);
    NG_CHECK_OK(ng__ckio_write_file(path, w.buf, w.len, &err));
    NG_CHECK_STATUS(ng_fit_checkpoint_read(path, &ck, &err), NG_EFORMAT);
    NG_CHECK(strstr(err.message, "corrupted header: format version") != NULL);
    NG_CHECK(ck.theta == NULL && ck.meta == NULL);
  }
  ng__ckio_st(w.buf + 8, 2, 4);
  ng__ckio_st(w.buf + 28, ng__ckio_header_crc(w.buf), 4);
  NG_CHECK_OK(ng__ckio_write_file(path, w.buf, w.len, &err));
  NG_CHECK_STATUS(ng_fit_checkpoint_read(path, &ck, &err), NG_EUNSUPPORTED);
  NG_CHECK(strstr(err.message, "format version 2 is newer than this build reads (1)") != NULL);
  ng__ckio_w_free(&w);
  remove(path);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/ng_test_ckpt_io_XXXXXX");
  if (!mkdtemp(g_dir)) {
    fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
    return 2;
  }
  init_doubles();
  NG_TEST_RUN(test_round_trip);
  NG_TEST_RUN(test_growth);
  NG_TEST_RUN(test_measure);
  NG_TEST_RUN(test_out_of_memory);
  NG_TEST_RUN(test_truncated);
  NG_TEST_RUN(test_crc);
  NG_TEST_RUN(test_write_file);
  NG_TEST_RUN(test_version_rule);
  NG_TEST_RUN(test_fit_checkpoint_version);
  rmdir(g_dir);
  NG_TEST_END();
}
