/* IDX files (MNIST's format), plain or gzip, read into doubles; MNIST-style directories. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "natgrad/data.h"

/* A value count beyond this is refused before allocating (2^32 doubles = 32 GiB). */
#define NG_IDX_MAX_COUNT ((size_t)1 << 32)
/* Bytes converted per read. */
#define NG_IDX_CHUNK 65536

static size_t ng__idx_type_size(int type) {
  switch (type) {
  case 0x08:
  case 0x09:
    return 1;
  case 0x0B:
    return 2;
  case 0x0C:
  case 0x0D:
    return 4;
  case 0x0E:
    return 8;
  default:
    return 0;
  }
}

static uint64_t ng__be(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

/* One big-endian value of the given type at p, as a double. */
static double ng__idx_value(int type, const unsigned char *p) {
  switch (type) {
  case 0x08:
    return (double)p[0];
  case 0x09:
    return (double)(int8_t)p[0];
  case 0x0B:
    return (double)(int16_t)(uint16_t)ng__be(p, 2);
  case 0x0C:
    return (double)(int32_t)(uint32_t)ng__be(p, 4);
  case 0x0D: {
    uint32_t u = (uint32_t)ng__be(p, 4);
    float f;
    memcpy(&f, &u, sizeof f);
    return (double)f;
  }
  default: {
    uint64_t u = ng__be(p, 8);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
  }
  }
}

/* Reads exactly n bytes or reports how many came; -1 on a zlib error. */
static long ng__gz_read_full(gzFile f, unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    int r = gzread(f, buf + got, (unsigned)(n - got));
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (long)got;
}

static void ng__dims_text(const ng_idx_t *idx, char *buf, size_t size) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < idx->ndims && off < size; i++)
    off += (size_t)snprintf(buf + off, size - off, "%s%zu", i ? "x" : "", idx->dims[i]);
}

int ng_idx_read(const char *path, ng_idx_t *idx, ng_error_t *err) {
  if (!idx) return ng_error_set(err, NG_EINVAL, "ng_idx_read: NULL output");
  memset(idx, 0, sizeof *idx);
  if (!path) return ng_error_set(err, NG_EINVAL, "ng_idx_read: NULL path");
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f)
    return ng_error_set(err, NG_ENOTFOUND, "%s: cannot open: %s", path,
                        errno ? strerror(errno) : "out of memory");
  int st = NG_OK;
  unsigned char head[4 + 4 * NG_IDX_MAX_DIMS];
  unsigned char *chunk = NULL;
  double *data = NULL;
  long got = ng__gz_read_full(f, head, 4);
  if (got < 0) {
    st = ng_error_set(err, NG_EFORMAT, "%s: corrupt compressed data", path);
    goto done;
  }
  if (got < 4) {
    st = ng_error_set(err, NG_EFORMAT, "%s: truncated: %ld bytes, shorter than an IDX header",
                      path, got);
    goto done;
  }
  if (head[0] != 0 || head[1] != 0) {
    st = ng_error_set(err, NG_EFORMAT,
                      "%s: not an IDX file (magic starts 0x%02x 0x%02x, expected 0x00 0x00)",
                      path, head[0], head[1]);
    goto done;
  }
  int type = head[2];
  size_t esize = ng__idx_type_size(type);
  if (esize == 0) {
    st = ng_error_set(err, NG_EFORMAT, "%s: unknown IDX value type 0x%02x", path, type);
    goto done;
  }
  size_t ndims = head[3];
  if (ndims < 1 || ndims > NG_IDX_MAX_DIMS) {
    st = ng_error_set(err, NG_EFORMAT, "%s: IDX header has %zu dimensions (1..%d supported)",
                      path, ndims, NG_IDX_MAX_DIMS);
    goto done;
  }
  got = ng__gz_read_full(f, head + 4, 4 * ndims);
  if (got < 0 || (size_t)got < 4 * ndims) {
    st = ng_error_set(err, NG_EFORMAT, "%s: truncated inside the IDX header (%zu sizes)",
                      path, ndims);
    goto done;
  }
  size_t count = 1;
  for (size_t i = 0; i < ndims; i++) {
    uint64_t d = ng__be(head + 4 + 4 * i, 4);
    if (d == 0) {
      st = ng_error_set(err, NG_EFORMAT, "%s: IDX dimension %zu is zero", path, i);
      goto done;
    }
    if (d > NG_IDX_MAX_COUNT / count) {
      st = ng_error_set(err, NG_EFORMAT, "%s: IDX sizes describe more than %zu values", path,
                        NG_IDX_MAX_COUNT);
      goto done;
    }
    idx->dims[i] = (size_t)d;
    count *= (size_t)d;
  }
  idx->type = type;
  idx->ndims = ndims;
  idx->count = count;

  data = ng_malloc(count * sizeof *data);
  chunk = ng_malloc(NG_IDX_CHUNK);
  if (!data || !chunk) {
    st = ng_error_set(err, NG_ENOMEM, "%s: out of memory for %zu values", path, count);
    goto done;
  }
  size_t per_chunk = NG_IDX_CHUNK / esize, done_values = 0;
  while (done_values < count) {
    size_t want = count - done_values < per_chunk ? count - done_values : per_chunk;
    got = ng__gz_read_full(f, chunk, want * esize);
    if (got < 0 || (size_t)got < want * esize) {
      char dims[160];
      ng__dims_text(idx, dims, sizeof dims);
      size_t have = done_values * esize + (got > 0 ? (size_t)got : 0);
      st = ng_error_set(err, NG_EFORMAT,
                        "%s: truncated: the header promises %s values (%zu bytes of data) "
                        "but the file ends after %zu",
                        path, dims, count * esize, have);
      goto done;
    }
    for (size_t i = 0; i < want; i++) data[done_values + i] = ng__idx_value(type, chunk + i * esize);
    done_values += want;
  }
  unsigned char extra;
  got = ng__gz_read_full(f, &extra, 1);
  if (got != 0) {
    st = ng_error_set(err, NG_EFORMAT,
                      got < 0 ? "%s: corrupt compressed data after the last value"
                              : "%s: unexpected bytes after the last value (the sizes in the "
                                "header do not match the file)",
                      path);
    goto done;
  }
  for (size_t i = 0; i < count; i++)
    if (!isfinite(data[i])) {
      st = ng_error_set(err, NG_EFORMAT, "%s: value %zu is not finite", path, i);
      goto done;
    }
  idx->data = data;
  data = NULL;

done:
  gzclose(f);
  ng_free(chunk);
  ng_free(data);
  if (st != NG_OK) memset(idx, 0, sizeof *idx);
  return st;
}

void ng_idx_free(ng_idx_t *idx) {
  if (!idx) return;
  ng_free(idx->data);
  memset(idx, 0, sizeof *idx);
}

int ng_idx_write_u8(const char *path, size_t ndims, const size_t *dims, const double *data,
                    ng_error_t *err) {
  if (!path || !dims || ndims < 1 || ndims > NG_IDX_MAX_DIMS)
    return ng_error_set(err, NG_EINVAL, "ng_idx_write_u8: bad arguments");
  size_t count = 1;
  for (size_t i = 0; i < ndims; i++) {
    if (dims[i] == 0 || dims[i] > UINT32_MAX || dims[i] > NG_IDX_MAX_COUNT / count)
      return ng_error_set(err, NG_EINVAL, "ng_idx_write_u8: bad size %zu", dims[i]);
    count *= dims[i];
  }
  if (!data) return ng_error_set(err, NG_EINVAL, "ng_idx_write_u8: NULL data");
  for (size_t i = 0; i < count; i++)
    if (!(data[i] >= 0.0 && data[i] <= 255.0 && data[i] == floor(data[i])))
      return ng_error_set(err, NG_ERANGE, "ng_idx_write_u8: value %zu (%g) is not a byte", i,
                          data[i]);
  FILE *f = fopen(path, "wb");
  if (!f) return ng_error_set(err, NG_EIO, "%s: cannot create: %s", path, strerror(errno));
  unsigned char head[4] = {0, 0, 0x08, (unsigned char)ndims};
  int ok = fwrite(head, 1, 4, f) == 4;
  for (size_t i = 0; i < ndims && ok; i++) {
    unsigned char b[4] = {(unsigned char)(dims[i] >> 24), (unsigned char)(dims[i] >> 16),
                          (unsigned char)(dims[i] >> 8), (unsigned char)dims[i]};
    ok = fwrite(b, 1, 4, f) == 4;
  }
  for (size_t i = 0; i < count && ok; i++) ok = fputc((int)data[i], f) != EOF;
  if (fclose(f) != 0) ok = 0;
  if (!ok) return ng_error_set(err, NG_EIO, "%s: write failed", path);
  return NG_OK;
}

int ng_data_load_idx(const char *images_path, const char *labels_path, double pixel_scale,
                     size_t min_classes, ng_dataset_t *ds, ng_error_t *err) {
  if (!ds) return ng_error_set(err, NG_EINVAL, "ng_data_load_idx: NULL output");
  memset(ds, 0, sizeof *ds);
  if (!images_path || !labels_path)
    return ng_error_set(err, NG_EINVAL, "ng_data_load_idx: NULL path");
  if (!(pixel_scale > 0.0) || !isfinite(pixel_scale))
    return ng_error_set(err, NG_EINVAL, "ng_data_load_idx: pixel_scale must be > 0");
  ng_idx_t im, lb;
  int st = ng_idx_read(images_path, &im, err);
  if (st != NG_OK) return st;
  st = ng_idx_read(labels_path, &lb, err);
  if (st != NG_OK) {
    ng_idx_free(&im);
    return st;
  }
  size_t n = im.dims[0], d = im.count / n;
  if (lb.ndims != 1) {
    st = ng_error_set(err, NG_EFORMAT, "%s: labels must be one-dimensional, found %zu dimensions",
                      labels_path, lb.ndims);
    goto done;
  }
  if (lb.count != n) {
    st = ng_error_set(err, NG_EFORMAT, "%s has %zu labels but %s has %zu images", labels_path,
                      lb.count, images_path, n);
    goto done;
  }
  size_t max_label = 0;
  for (size_t i = 0; i < n; i++) {
    double v = lb.data[i];
    if (!(v >= 0.0 && v <= 65535.0 && v == floor(v))) {
      st = ng_error_set(err, NG_EFORMAT, "%s: label %zu is %g, not a class number 0..65535",
                        labels_path, i, v);
      goto done;
    }
    if ((size_t)v > max_label) max_label = (size_t)v;
  }
  size_t k = max_label + 1 > min_classes ? max_label + 1 : min_classes;
  st = ng_dataset_alloc(ds, n, d, 1, k);
  if (st != NG_OK) {
    ng_error_set(err, st, "%s: out of memory for %zu x %zu inputs", images_path, n, d);
    goto done;
  }
  for (size_t i = 0; i < n * d; i++) ds->x[i] = im.data[i] / pixel_scale;
  memcpy(ds->y, lb.data, n * sizeof(double));
done:
  ng_idx_free(&im);
  ng_idx_free(&lb);
  return st;
}

/* buf <- dir/name or dir/name.gz, whichever exists (plain first). */
static int ng__find_idx(const char *dir, const char *name, char *buf, size_t size,
                        ng_error_t *err) {
  const char *sfx[2] = {"", ".gz"};
  for (int i = 0; i < 2; i++) {
    int w = snprintf(buf, size, "%s/%s%s", dir, name, sfx[i]);
    if (w < 0 || (size_t)w >= size)
      return ng_error_set(err, NG_ERANGE, "%s: path too long", dir);
    FILE *f = fopen(buf, "rb");
    if (f) {
      fclose(f);
      return NG_OK;
    }
  }
  return ng_error_set(err, NG_ENOTFOUND, "%s: no %s or %s.gz there", dir, name, name);
}

int ng_data_load_mnist_dir(const char *dir, ng_dataset_t *train, ng_dataset_t *test,
                           ng_error_t *err) {
  if (!dir || !train || !test)
    return ng_error_set(err, NG_EINVAL, "ng_data_load_mnist_dir: NULL argument");
  memset(train, 0, sizeof *train);
  memset(test, 0, sizeof *test);
  static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  char paths[4][1024];
  for (int i = 0; i < 4; i++) {
    int st = ng__find_idx(dir, names[i], paths[i], sizeof paths[i], err);
    if (st != NG_OK) return st;
  }
  int st = ng_data_load_idx(paths[0], paths[1], 255.0, 10, train, err);
  if (st != NG_OK) return st;
  st = ng_data_load_idx(paths[2], paths[3], 255.0, 10, test, err);
  if (st == NG_OK && test->n_features != train->n_features)
    st = ng_error_set(err, NG_EFORMAT, "%s: test images have %zu values each, train images %zu",
                      dir, test->n_features, train->n_features);
  if (st == NG_OK && test->n_classes != train->n_classes) {
    size_t k = test->n_classes > train->n_classes ? test->n_classes : train->n_classes;
    test->n_classes = train->n_classes = k;
  }
  if (st != NG_OK) {
    ng_dataset_free(train);
    ng_dataset_free(test);
  }
  return st;
}
