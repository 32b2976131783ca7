/* data: the IDX reader against hand-made big-endian files of every type (plain and gzip),
 * the MNIST-style loader, the CSV reader (headers, label columns, gzip, CRLF), and every
 * malformed or truncated file rejected with a message naming the file and the fault; the
 * seeded split, standardisation and minibatches against their definitions. Nothing here
 * depends on installed data packages: every file is written by the test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "natgrad/data.h"
#include "ng_test.h"

#define TOL_EXACT 0.0     /* values that must round-trip exactly */
#define TOL_MOMENT 1e-12  /* mean and std after standardisation */

static char tmpdir[256];

static const char *tpath(const char *name) {
  static char buf[8][512];
  static int k = 0;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

static void write_bytes(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fwrite(b, 1, n, f);
  fclose(f);
}

static void write_gz(const char *path, const unsigned char *b, size_t n) {
  gzFile f = gzopen(path, "wb");
  if (!f) exit(2);
  gzwrite(f, b, (unsigned)n);
  gzclose(f);
}

static void write_text(const char *path, const char *text) {
  write_bytes(path, (const unsigned char *)text, strlen(text));
}

/* An IDX header for type and dims into b; returns its length. */
static size_t idx_header(unsigned char *b, int type, size_t ndims, const uint32_t *dims) {
  b[0] = 0;
  b[1] = 0;
  b[2] = (unsigned char)type;
  b[3] = (unsigned char)ndims;
  for (size_t i = 0; i < ndims; i++) {
    b[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
    b[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
    b[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
    b[7 + 4 * i] = (unsigned char)dims[i];
  }
  return 4 + 4 * ndims;
}

/* Expects status and a message containing both needles. */
static void expect_error(int got, int want, const ng_error_t *err, const char *n1,
                         const char *n2) {
  NG_CHECK_STATUS(got, want);
  if (n1 && !strstr(err->message, n1)) {
    ng_test_failures++;
    fprintf(stderr, "message '%s' lacks '%s'\n", err->message, n1);
  }
  if (n2 && !strstr(err->message, n2)) {
    ng_test_failures++;
    fprintf(stderr, "message '%s' lacks '%s'\n", err->message, n2);
  }
  ng_test_checks += 2;
}

/* ---- IDX ------------------------------------------------------------------------------------ */

static void test_idx_types(void) {
  unsigned char b[256];
  ng_idx_t idx;
  ng_error_t err;
  /* u8, 2 x 3 */
  uint32_t d23[2] = {2, 3};
  size_t h = idx_header(b, 0x08, 2, d23);
  for (int i = 0; i < 6; i++) b[h + (size_t)i] = (unsigned char)(i * 50);
  write_bytes(tpath("u8.idx"), b, h + 6);
  NG_CHECK_OK(ng_idx_read(tpath("u8.idx"), &idx, &err));
  NG_CHECK(idx.ndims == 2 && idx.dims[0] == 2 && idx.dims[1] == 3 && idx.count == 6);
  for (int i = 0; i < 6; i++) NG_CHECK_CLOSE(idx.data[i], i * 50.0, 0, TOL_EXACT);
  ng_idx_free(&idx);
  /* i8: 0xff is -1 */
  uint32_t d2[1] = {2};
  h = idx_header(b, 0x09, 1, d2);
  b[h] = 0xff;
  b[h + 1] = 0x7f;
  write_bytes(tpath("i8.idx"), b, h + 2);
  NG_CHECK_OK(ng_idx_read(tpath("i8.idx"), &idx, &err));
  NG_CHECK_CLOSE(idx.data[0], -1.0, 0, TOL_EXACT);
  NG_CHECK_CLOSE(idx.data[1], 127.0, 0, TOL_EXACT);
  ng_idx_free(&idx);
  /* i16 big-endian: 0x0102 = 258, 0xfffe = -2 */
  h = idx_header(b, 0x0B, 1, d2);
  memcpy(b + h, "\x01\x02\xff\xfe", 4);
  write_bytes(tpath("i16.idx"), b, h + 4);
  NG_CHECK_OK(ng_idx_read(tpath("i16.idx"), &idx, &err));
  NG_CHECK_CLOSE(idx.data[0], 258.0, 0, TOL_EXACT);
  NG_CHECK_CLOSE(idx.data[1], -2.0, 0, TOL_EXACT);
  ng_idx_free(&idx);
  /* i32: 0x00010000 = 65536, 0xffffffff = -1 */
  h = idx_header(b, 0x0C, 1, d2);
  memcpy(b + h, "\x00\x01\x00\x00\xff\xff\xff\xff", 8);
  write_bytes(tpath("i32.idx"), b, h + 8);
  NG_CHECK_OK(ng_idx_read(tpath("i32.idx"), &idx, &err));
  NG_CHECK_CLOSE(idx.data[0], 65536.0, 0, TOL_EXACT);
  NG_CHECK_CLOSE(idx.data[1], -1.0, 0, TOL_EXACT);
  ng_idx_free(&idx);
  /* f32 1.5 = 0x3fc00000; f64 -0.25 = 0xbfd0000000000000 */
  uint32_t d1[1] = {1};
  h = idx_header(b, 0x0D, 1, d1);
  memcpy(b + h, "\x3f\xc0\x00\x00", 4);
  write_bytes(tpath("f32.idx"), b, h + 4);
  NG_CHECK_OK(ng_idx_read(tpath("f32.idx"), &idx, &err));
  NG_CHECK_CLOSE(idx.data[0], 1.5, 0, TOL_EXACT);
  ng_idx_free(&idx);
  h = idx_header(b, 0x0E, 1, d1);
  memcpy(b + h, "\xbf\xd0\x00\x00\x00\x00\x00\x00", 8);
  write_bytes(tpath("f64.idx"), b, h + 8);
  NG_CHECK_OK(ng_idx_read(tpath("f64.idx"), &idx, &err));
  NG_CHECK_CLOSE(idx.data[0], -0.25, 0, TOL_EXACT);
  ng_idx_free(&idx);
}

static void test_idx_gzip_and_writer(void) {
  /* 3 x 2 x 2 u8 through the writer, then the same bytes gzipped */
  double vals[12];
  for (int i = 0; i < 12; i++) vals[i] = (double)(i * 21);
  size_t dims[3] = {3, 2, 2};
  ng_error_t err;
  NG_CHECK_OK(ng_idx_write_u8(tpath("w.idx"), 3, dims, vals, &err));
  FILE *f = fopen(tpath("w.idx"), "rb");
  unsigned char b[64];
  size_t n = fread(b, 1, sizeof b, f);
  fclose(f);
  NG_CHECK(n == 4 + 12 + 12);
  write_gz(tpath("w.idx.gz"), b, n);
  ng_idx_t a, z;
  NG_CHECK_OK(ng_idx_read(tpath("w.idx"), &a, &err));
  NG_CHECK_OK(ng_idx_read(tpath("w.idx.gz"), &z, &err));
  NG_CHECK(a.count == 12 && z.count == 12 && z.ndims == 3 && z.dims[2] == 2);
  for (int i = 0; i < 12; i++) {
    NG_CHECK_CLOSE(a.data[i], vals[i], 0, TOL_EXACT);
    NG_CHECK_CLOSE(z.data[i], vals[i], 0, TOL_EXACT);
  }
  ng_idx_free(&a);
  ng_idx_free(&z);
  /* writer rejects non-bytes */
  vals[3] = 256.0;
  NG_CHECK_STATUS(ng_idx_write_u8(tpath("bad.idx"), 3, dims, vals, &err), NG_ERANGE);
  vals[3] = 1.5;
  NG_CHECK_STATUS(ng_idx_write_u8(tpath("bad.idx"), 3, dims, vals, &err), NG_ERANGE);
}

static void test_idx_malformed(void) {
  unsigned char b[256];
  ng_idx_t idx;
  ng_error_t err;
  uint32_t d[2] = {4, 5};
  size_t h = idx_header(b, 0x08, 2, d);
  memset(b + h, 7, 20);
  /* truncated data: 19 of 20 bytes */
  write_bytes(tpath("trunc.idx"), b, h + 19);
  expect_error(ng_idx_read(tpath("trunc.idx"), &idx, &err), NG_EFORMAT, &err, "trunc.idx",
               "truncated");
  NG_CHECK(idx.data == NULL);
  /* truncated gzip: the compressed stream cut short */
  write_gz(tpath("full.idx.gz"), b, h + 20);
  FILE *f = fopen(tpath("full.idx.gz"), "rb");
  unsigned char z[512];
  size_t zn = fread(z, 1, sizeof z, f);
  fclose(f);
  write_bytes(tpath("cut.idx.gz"), z, zn - 12);
  NG_CHECK_STATUS(ng_idx_read(tpath("cut.idx.gz"), &idx, &err), NG_EFORMAT);
  NG_CHECK(strstr(err.message, "cut.idx.gz") != NULL);
  /* header cut inside the sizes */
  write_bytes(tpath("head.idx"), b, 6);
  expect_error(ng_idx_read(tpath("head.idx"), &idx, &err), NG_EFORMAT, &err, "head.idx",
               "truncated");
  /* shorter than the magic */
  write_bytes(tpath("tiny.idx"), b, 2);
  expect_error(ng_idx_read(tpath("tiny.idx"), &idx, &err), NG_EFORMAT, &err, "tiny.idx",
               "truncated");
  /* trailing bytes */
  write_bytes(tpath("long.idx"), b, h + 21);
  expect_error(ng_idx_read(tpath("long.idx"), &idx, &err), NG_EFORMAT, &err, "long.idx",
               "after the last value");
  /* bad magic, bad type, bad ndims, zero dimension */
  unsigned char c[64];
  memcpy(c, b, h + 20);
  c[0] = 0x1f;
  write_bytes(tpath("magic.idx"), c, h + 20);
  expect_error(ng_idx_read(tpath("magic.idx"), &idx, &err), NG_EFORMAT, &err, "magic.idx",
               "magic");
  memcpy(c, b, h + 20);
  c[2] = 0x0A;
  write_bytes(tpath("type.idx"), c, h + 20);
  expect_error(ng_idx_read(tpath("type.idx"), &idx, &err), NG_EFORMAT, &err, "type.idx",
               "type 0x0a");
  memcpy(c, b, h + 20);
  c[3] = 0;
  write_bytes(tpath("nd.idx"), c, h + 20);
  expect_error(ng_idx_read(tpath("nd.idx"), &idx, &err), NG_EFORMAT, &err, "nd.idx",
               "dimensions");
  uint32_t dz[2] = {4, 0};
  h = idx_header(c, 0x08, 2, dz);
  write_bytes(tpath("zero.idx"), c, h);
  expect_error(ng_idx_read(tpath("zero.idx"), &idx, &err), NG_EFORMAT, &err, "zero.idx", "zero");
  /* absurd sizes must not allocate */
  uint32_t dbig[3] = {0xffffffffu, 0xffffffffu, 2};
  h = idx_header(c, 0x08, 3, dbig);
  write_bytes(tpath("big.idx"), c, h);
  NG_CHECK_STATUS(ng_idx_read(tpath("big.idx"), &idx, &err), NG_EFORMAT);
  /* missing file */
  expect_error(ng_idx_read(tpath("none.idx"), &idx, &err), NG_ENOTFOUND, &err, "none.idx",
               NULL);
  /* NaN in a float file */
  uint32_t d1[1] = {1};
  h = idx_header(c, 0x0E, 1, d1);
  memcpy(c + h, "\x7f\xf8\x00\x00\x00\x00\x00\x00", 8);
  write_bytes(tpath("nan.idx"), c, h + 8);
  expect_error(ng_idx_read(tpath("nan.idx"), &idx, &err), NG_EFORMAT, &err, "nan.idx",
               "finite");
  NG_CHECK_STATUS(ng_idx_read(NULL, &idx, &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_idx_read(tpath("u8.idx"), NULL, &err), NG_EINVAL);
}

/* Writes an MNIST-style pair: n images of r x c with pixel (i, j) of image k = (k + j) % 256
 * and label k % 10, into dir with the given prefix. */
static void write_mnist_pair(const char *img, const char *lab, size_t n, size_t r, size_t c,
                             int gz_labels) {
  double *px = malloc(n * r * c * sizeof *px), *lb = malloc(n * sizeof *lb);
  for (size_t k = 0; k < n; k++) {
    lb[k] = (double)(k % 10);
    for (size_t i = 0; i < r * c; i++) px[k * r * c + i] = (double)((k + i) % 256);
  }
  size_t di[3] = {n, r, c}, dl[1] = {n};
  ng_error_t err;
  ng_idx_write_u8(img, 3, di, px, &err);
  if (gz_labels) {
    ng_idx_write_u8(tpath("tmp_labels"), 1, dl, lb, &err);
    FILE *f = fopen(tpath("tmp_labels"), "rb");
    unsigned char *b = malloc(8 + n);
    size_t bn = fread(b, 1, 8 + n, f);
    fclose(f);
    write_gz(lab, b, bn);
    free(b);
  } else {
    ng_idx_write_u8(lab, 1, dl, lb, &err);
  }
  free(px);
  free(lb);
}

static void test_mnist_loader(void) {
  ng_error_t err;
  ng_dataset_t ds;
  write_mnist_pair(tpath("im.idx"), tpath("lb.idx"), 12, 3, 2, 0);
  NG_CHECK_OK(ng_data_load_idx(tpath("im.idx"), tpath("lb.idx"), 255.0, 10, &ds, &err));
  NG_CHECK(ds.n == 12 && ds.n_features == 6 && ds.n_targets == 1 && ds.n_classes == 10);
  NG_CHECK_CLOSE(ds.x[5 * 6 + 4], (double)((5 + 4) % 256) / 255.0, 0, 1e-15);
  NG_CHECK_CLOSE(ds.y[11], 1.0, 0, TOL_EXACT);
  ng_dataset_free(&ds);
  /* a count mismatch between images and labels */
  write_mnist_pair(tpath("im2.idx"), tpath("lb2.idx"), 11, 3, 2, 0);
  expect_error(ng_data_load_idx(tpath("im.idx"), tpath("lb2.idx"), 255.0, 10, &ds, &err),
               NG_EFORMAT, &err, "11 labels", "12 images");
  /* labels with two dimensions */
  expect_error(ng_data_load_idx(tpath("im.idx"), tpath("im.idx"), 255.0, 10, &ds, &err),
               NG_EFORMAT, &err, "one-dimensional", NULL);
  NG_CHECK(ds.x == NULL);
  /* a directory with train (plain) and t10k (gzip labels) */
  char dir[512];
  snprintf(dir, sizeof dir, "%s/mnist", tmpdir);
  if (mkdir(dir, 0700) != 0) exit(2);
  char a[600], b[600];
  snprintf(a, sizeof a, "%s/train-images-idx3-ubyte", dir);
  snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte", dir);
  write_mnist_pair(a, b, 20, 4, 4, 0);
  snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte", dir);
  snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte.gz", dir);
  ng_dataset_t tr, te;
  expect_error(ng_data_load_mnist_dir(dir, &tr, &te, &err), NG_ENOTFOUND, &err,
               "t10k-images-idx3-ubyte", NULL);
  write_mnist_pair(a, b, 7, 4, 4, 1);
  NG_CHECK_OK(ng_data_load_mnist_dir(dir, &tr, &te, &err));
  NG_CHECK(tr.n == 20 && te.n == 7 && tr.n_features == 16 && te.n_classes == 10);
  NG_CHECK_CLOSE(te.y[6], 6.0, 0, TOL_EXACT);
  ng_dataset_free(&tr);
  ng_dataset_free(&te);
  /* test images of another size */
  write_mnist_pair(a, b, 7, 3, 3, 1);
  expect_error(ng_data_load_mnist_dir(dir, &tr, &te, &err), NG_EFORMAT, &err, "9 values",
               "16");
}

/* ---- CSV ------------------------------------------------------------------------------------- */

static void test_csv_read(void) {
  ng_error_t err;
  ng_dataset_t ds;
  /* scikit-learn's iris layout: a header "n,d,names...", then features then the label */
  write_text(tpath("iris.csv"), "4,2,setosa,versicolor,virginica\n"
                                "5.1,3.5,0\n"
                                "4.9, 3.0 ,2\r\n"
                                "\n"
                                "6.2,-3.4e-1,1\n"
                                "7,1,2\n");
  NG_CHECK_OK(ng_data_load_csv(tpath("iris.csv"), -1, NG_TASK_CLASSIFY, &ds, &err));
  NG_CHECK(ds.n == 4 && ds.n_features == 2 && ds.n_targets == 1 && ds.n_classes == 3);
  NG_CHECK_CLOSE(ds.x[1 * 2 + 1], 3.0, 0, TOL_EXACT);
  NG_CHECK_CLOSE(ds.x[2 * 2 + 1], -0.34, 0, TOL_EXACT);
  NG_CHECK_CLOSE(ds.y[1], 2.0, 0, TOL_EXACT);
  ng_dataset_free(&ds);
  /* label in the first column, no header, no final newline, gzip */
  const char *t = "1,10,20\n0,11,21\n1,12,22";
  write_gz(tpath("first.csv.gz"), (const unsigned char *)t, strlen(t));
  NG_CHECK_OK(ng_data_load_csv(tpath("first.csv.gz"), 0, NG_TASK_CLASSIFY, &ds, &err));
  NG_CHECK(ds.n == 3 && ds.n_features == 2 && ds.n_classes == 2);
  NG_CHECK_CLOSE(ds.x[2 * 2 + 0], 12.0, 0, TOL_EXACT);
  NG_CHECK_CLOSE(ds.y[1], 0.0, 0, TOL_EXACT);
  ng_dataset_free(&ds);
  /* regression: any real target; a named header */
  write_text(tpath("reg.csv"), "x,y,target\n1,2,0.5\n3,4,-1.25\n");
  NG_CHECK_OK(ng_data_load_csv(tpath("reg.csv"), 2, NG_TASK_REGRESS, &ds, &err));
  NG_CHECK(ds.n == 2 && ds.n_classes == 0);
  NG_CHECK_CLOSE(ds.y[1], -1.25, 0, TOL_EXACT);
  ng_dataset_free(&ds);
}

static void test_csv_malformed(void) {
  ng_error_t err;
  ng_dataset_t ds;
  write_text(tpath("ragged.csv"), "1,2,0\n3,4,1\n5,0\n");
  expect_error(ng_data_load_csv(tpath("ragged.csv"), -1, NG_TASK_CLASSIFY, &ds, &err),
               NG_EFORMAT, &err, "ragged.csv:3", "expected 3 fields, found 2");
  NG_CHECK(ds.x == NULL);
  write_text(tpath("text.csv"), "1,2,0\n3,abc,1\n");
  expect_error(ng_data_load_csv(tpath("text.csv"), -1, NG_TASK_CLASSIFY, &ds, &err),
               NG_EFORMAT, &err, "text.csv:2", "field 2");
  write_text(tpath("empty_field.csv"), "1,2,0\n3,,1\n");
  expect_error(ng_data_load_csv(tpath("empty_field.csv"), -1, NG_TASK_CLASSIFY, &ds, &err),
               NG_EFORMAT, &err, "empty_field.csv:2", "not a number");
  write_text(tpath("frac.csv"), "1,2,0\n3,4,1.5\n");
  expect_error(ng_data_load_csv(tpath("frac.csv"), -1, NG_TASK_CLASSIFY, &ds, &err), NG_EFORMAT,
               &err, "frac.csv:2", "not an integer");
  write_text(tpath("neg.csv"), "1,2,-1\n");
  expect_error(ng_data_load_csv(tpath("neg.csv"), -1, NG_TASK_CLASSIFY, &ds, &err), NG_EFORMAT,
               &err, "neg.csv:1", "label");
  write_text(tpath("inf.csv"), "1,inf,0\n");
  expect_error(ng_data_load_csv(tpath("inf.csv"), -1, NG_TASK_REGRESS, &ds, &err), NG_EFORMAT,
               &err, "inf.csv:1", "finite");
  write_text(tpath("hdr.csv"), "a,b,c\n\n");
  expect_error(ng_data_load_csv(tpath("hdr.csv"), -1, NG_TASK_CLASSIFY, &ds, &err), NG_EFORMAT,
               &err, "hdr.csv", "no data rows");
  write_text(tpath("one.csv"), "1\n2\n");
  expect_error(ng_data_load_csv(tpath("one.csv"), -1, NG_TASK_REGRESS, &ds, &err), NG_EFORMAT,
               &err, "one.csv:1", "feature");
  write_text(tpath("col.csv"), "1,2,3\n");
  expect_error(ng_data_load_csv(tpath("col.csv"), 3, NG_TASK_REGRESS, &ds, &err), NG_ERANGE,
               &err, "col.csv", "label column 3");
  expect_error(ng_data_load_csv(tpath("col.csv"), -4, NG_TASK_REGRESS, &ds, &err), NG_ERANGE,
               &err, "col.csv", NULL);
  expect_error(ng_data_load_csv(tpath("missing.csv"), -1, NG_TASK_REGRESS, &ds, &err),
               NG_ENOTFOUND, &err, "missing.csv", NULL);
  /* a truncated gzip table */
  char big[4096];
  size_t len = 0;
  for (int i = 0; i < 200; i++) len += (size_t)snprintf(big + len, sizeof big - len, "%d,%d\n", i, i % 3);
  write_gz(tpath("t.csv.gz"), (const unsigned char *)big, len);
  FILE *f = fopen(tpath("t.csv.gz"), "rb");
  unsigned char z[4096];
  size_t zn = fread(z, 1, sizeof z, f);
  fclose(f);
  write_bytes(tpath("cut.csv.gz"), z, zn / 2);
  expect_error(ng_data_load_csv(tpath("cut.csv.gz"), -1, NG_TASK_CLASSIFY, &ds, &err),
               NG_EFORMAT, &err, "cut.csv.gz", NULL);
}

/* ---- split, standardise, batches ------------------------------------------------------------------ */

static void make_ids(ng_dataset_t *ds, size_t n) {
  ng_dataset_alloc(ds, n, 2, 1, 3);
  for (size_t i = 0; i < n; i++) {
    ds->x[2 * i] = (double)i;              /* the row id */
    ds->x[2 * i + 1] = 3.0 * (double)i + 1; /* a second feature */
    ds->y[i] = (double)(i % 3);
  }
}

static void test_split(void) {
  ng_dataset_t all, tr, te, tr2, te2;
  make_ids(&all, 103);
  NG_CHECK_OK(ng_data_split(&all, 0.2, 7, &tr, &te));
  NG_CHECK(te.n == 21 && tr.n == 82 && tr.n_classes == 3);
  /* a partition: every id exactly once, rows intact */
  int seen[103] = {0};
  int rows_ok = 1;
  for (size_t i = 0; i < tr.n; i++) {
    seen[(int)tr.x[2 * i]]++;
    rows_ok &= tr.x[2 * i + 1] == 3.0 * tr.x[2 * i] + 1 && tr.y[i] == (double)((int)tr.x[2 * i] % 3);
  }
  for (size_t i = 0; i < te.n; i++) {
    seen[(int)te.x[2 * i]]++;
    rows_ok &= te.x[2 * i + 1] == 3.0 * te.x[2 * i] + 1;
  }
  int once = 1;
  for (int i = 0; i < 103; i++) once &= seen[i] == 1;
  NG_CHECK(once);
  NG_CHECK(rows_ok);
  /* deterministic for a seed, different for another */
  NG_CHECK_OK(ng_data_split(&all, 0.2, 7, &tr2, &te2));
  NG_CHECK(memcmp(te.x, te2.x, te.n * 2 * sizeof(double)) == 0);
  ng_dataset_free(&tr2);
  ng_dataset_free(&te2);
  NG_CHECK_OK(ng_data_split(&all, 0.2, 8, &tr2, &te2));
  NG_CHECK(memcmp(te.x, te2.x, te.n * 2 * sizeof(double)) != 0);
  ng_dataset_free(&tr2);
  ng_dataset_free(&te2);
  NG_CHECK_STATUS(ng_data_split(&all, 0.0, 1, &tr2, &te2), NG_EINVAL);
  NG_CHECK_STATUS(ng_data_split(&all, 1.0, 1, &tr2, &te2), NG_EINVAL);
  NG_CHECK_STATUS(ng_data_split(&all, 0.001, 1, &tr2, &te2), NG_EINVAL); /* empty test part */
  /* standardise: train moments 0 and 1, test with train's statistics */
  double mean[2], sd[2];
  NG_CHECK_OK(ng_data_standardize(&tr, &te, mean, sd));
  for (int j = 0; j < 2; j++) {
    double m = 0, v = 0;
    for (size_t i = 0; i < tr.n; i++) m += tr.x[2 * i + (size_t)j];
    m /= (double)tr.n;
    for (size_t i = 0; i < tr.n; i++) v += (tr.x[2 * i + (size_t)j] - m) * (tr.x[2 * i + (size_t)j] - m);
    NG_CHECK_CLOSE(m, 0.0, 0, TOL_MOMENT);
    NG_CHECK_CLOSE(sqrt(v / (double)tr.n), 1.0, TOL_MOMENT, 0);
  }
  /* the test row with id k maps to (k - mean) / sd */
  double k0 = te.x[0] * sd[0] + mean[0];
  NG_CHECK_CLOSE(k0, floor(k0 + 0.5), 0, 1e-9);
  ng_dataset_free(&tr);
  ng_dataset_free(&te);
  /* a constant column is centred and left unscaled */
  ng_dataset_t c;
  ng_dataset_alloc(&c, 3, 1, 1, 0);
  for (int i = 0; i < 3; i++) c.x[i] = 5.0;
  NG_CHECK_OK(ng_data_standardize(&c, NULL, NULL, NULL));
  NG_CHECK_CLOSE(c.x[2], 0.0, 0, TOL_EXACT);
  ng_dataset_free(&c);
  NG_CHECK_OK(ng_data_truncate(&all, 10));
  NG_CHECK(all.n == 10);
  NG_CHECK_STATUS(ng_data_truncate(&all, 0), NG_EINVAL);
  ng_dataset_free(&all);
}

static void test_batcher(void) {
  ng_dataset_t ds;
  make_ids(&ds, 23);
  ng_batcher_t *b;
  NG_CHECK_OK(ng_batcher_create(&b, 23, 5, 42));
  NG_CHECK(ng_batcher_n_batches(b) == 5);
  double x[10], y[5], order[3][23];
  for (int e = 0; e < 3; e++) {
    NG_CHECK_OK(ng_batcher_seek(b, (uint64_t)e, 0));
    int seen[23] = {0};
    size_t rows, total = 0, nb = 0;
    for (;;) {
      NG_CHECK_OK(ng_batcher_next(b, &ds, x, y, &rows));
      if (rows == 0) break;
      NG_CHECK(rows == (nb < 4 ? 5u : 3u));
      for (size_t i = 0; i < rows; i++) {
        int id = (int)x[2 * i];
        seen[id]++;
        order[e][total + i] = x[2 * i];
        NG_CHECK(y[i] == (double)(id % 3));
      }
      total += rows;
      nb++;
      NG_CHECK(ng_batcher_index(b) == nb);
    }
    int once = 1;
    for (int i = 0; i < 23; i++) once &= seen[i] == 1;
    NG_CHECK(once && total == 23 && nb == 5);
  }
  NG_CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0);
  /* seeking to batch 2 of epoch 1 replays the rest of epoch 1 */
  NG_CHECK_OK(ng_batcher_seek(b, 1, 2));
  size_t rows;
  NG_CHECK_OK(ng_batcher_next(b, &ds, x, y, &rows));
  NG_CHECK(rows == 5 && x[0] == order[1][10] && x[8] == order[1][14]);
  /* the same seed in a new batcher gives the same epochs */
  ng_batcher_t *b2;
  NG_CHECK_OK(ng_batcher_create(&b2, 23, 5, 42));
  NG_CHECK_OK(ng_batcher_seek(b2, 2, 0));
  NG_CHECK_OK(ng_batcher_next(b2, &ds, x, y, &rows));
  NG_CHECK(x[0] == order[2][0] && x[2] == order[2][1]);
  NG_CHECK_STATUS(ng_batcher_seek(b2, 0, 6), NG_EINVAL);
  ng_dataset_t other;
  make_ids(&other, 22);
  NG_CHECK_STATUS(ng_batcher_next(b2, &other, x, y, &rows), NG_EINVAL);
  ng_dataset_free(&other);
  ng_batcher_destroy(b);
  ng_batcher_destroy(b2);
  ng_batcher_t *bad;
  NG_CHECK_STATUS(ng_batcher_create(&bad, 0, 5, 1), NG_EINVAL);
  NG_CHECK_STATUS(ng_batcher_create(&bad, 5, 0, 1), NG_EINVAL);
  ng_dataset_free(&ds);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ng_test_data_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 2;
  }
  NG_TEST_RUN(test_idx_types);
  NG_TEST_RUN(test_idx_gzip_and_writer);
  NG_TEST_RUN(test_idx_malformed);
  NG_TEST_RUN(test_mnist_loader);
  NG_TEST_RUN(test_csv_read);
  NG_TEST_RUN(test_csv_malformed);
  NG_TEST_RUN(test_split);
  NG_TEST_RUN(test_batcher);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  NG_TEST_END();
}
