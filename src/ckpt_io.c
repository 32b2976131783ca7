/* Checkpoint byte streams, CRC-32 and the durable atomic write (see ckpt_io.h). */
#include "ckpt_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* path.tmp and the folder's name on the stack (no allocation to fail): a longer path could
 * not be opened anyway (Linux's PATH_MAX). */
#define NG__CKIO_PATH_MAX 4096

void ng__ckio_w_free(ng__ckio_w_t *w) {
  ng_free(w->buf);
  memset(w, 0, sizeof *w);
}

unsigned char *ng__ckio_put_zeros(ng__ckio_w_t *w, size_t n) {
  if (w->status) return NULL;
  if (w->measure) {
    if (n > SIZE_MAX - w->len) w->status = NG_ENOMEM;
    else w->len += n;
    return NULL;
  }
  if (!w->buf || n > w->cap - w->len) { /* the first put allocates: success is never NULL */
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->len < n && cap <= SIZE_MAX / 2) cap *= 2;
    unsigned char *nb = cap - w->len < n ? NULL : ng_realloc(w->buf, cap);
    if (!nb) {
      w->status = NG_ENOMEM;
      return NULL;
    }
    w->buf = nb;
    w->cap = cap;
  }
  memset(w->buf + w->len, 0, n);
  w->len += n;
  return w->buf + w->len - n;
}

void ng__ckio_put_bytes(ng__ckio_w_t *w, const void *p, size_t n) {
  unsigned char *d = ng__ckio_put_zeros(w, n);
  if (d && n) memcpy(d, p, n);
}

void ng__ckio_put_u64(ng__ckio_w_t *w, uint64_t x) {
  unsigned char *d = ng__ckio_put_zeros(w, 8);
  if (d) ng__ckio_st(d, x, 8);
}

/* two's complement: the conversion keeps the bits */
void ng__ckio_put_i64(ng__ckio_w_t *w, int64_t x) { ng__ckio_put_u64(w, (uint64_t)x); }
void ng__ckio_put_f64(ng__ckio_w_t *w, double x) { ng__ckio_put_f64s(w, &x, 1); }

/* x[n] -> 8n bytes: each double's IEEE-754 bits as a little-endian u64 */
void ng__ckio_put_f64s(ng__ckio_w_t *w, const double *x, size_t n) {
  if (n > SIZE_MAX / 8) w->status = NG_ENOMEM;
  unsigned char *d = ng__ckio_put_zeros(w, 8 * n);
  for (size_t i = 0; d && i < n; i++) {
    uint64_t u;
    memcpy(&u, x + i, 8);
    ng__ckio_st(d + 8 * i, u, 8);
  }
}

void ng__ckio_get_bytes(ng__ckio_r_t *r, void *out, size_t n) {
  if (r->bad || n > r->len - r->pos) {
    r->bad = 1;
    if (n) memset(out, 0, n);
    return;
  }
  if (n) memcpy(out, r->p + r->pos, n);
  r->pos += n;
}

uint64_t ng__ckio_get_u64(ng__ckio_r_t *r) {
  unsigned char b[8];
  ng__ckio_get_bytes(r, b, 8);
  return ng__ckio_ld(b, 8);
}

/* two's complement back, without an implementation-defined conversion */
int64_t ng__ckio_get_i64(ng__ckio_r_t *r) {
  uint64_t u = ng__ckio_get_u64(r);
  return u <= INT64_MAX ? (int64_t)u : -(int64_t)~u - 1;
}

double ng__ckio_get_f64(ng__ckio_r_t *r) {
  double x;
  ng__ckio_get_f64s(r, &x, 1);
  return x;
}

/* 8n bytes -> x[n], all checked against the end before any is read */
void ng__ckio_get_f64s(ng__ckio_r_t *r, double *x, size_t n) {
  if (r->bad || n > (r->len - r->pos) / 8) {
    r->bad = 1;
    if (n) memset(x, 0, n * sizeof *x);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t u = ng__ckio_ld(r->p + r->pos + 8 * i, 8);
    memcpy(x + i, &u, 8);
  }
  r->pos += 8 * n;
}

void ng__ckio_st(unsigned char *p, uint64_t x, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(x >> (8 * i));
}

uint64_t ng__ckio_ld(const unsigned char *p, int bytes) {
  uint64_t x = 0;
  for (int i = 0; i < bytes; i++) x |= (uint64_t)p[i] << (8 * i);
  return x;
}

uint32_t ng__ckio_crc32_pieces(const void *p, size_t n, size_t piece) {
  const unsigned char *b = p;
  if (piece == 0 || piece > NG__CKIO_CRC_PIECE) piece = NG__CKIO_CRC_PIECE; /* fits a uInt */
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t off = 0, k; off < n; off += k) {
    k = n - off < piece ? n - off : piece;
    crc = crc32(crc, b + off, (uInt)k);
  }
  return (uint32_t)crc;
}

uint32_t ng__ckio_crc32(const void *p, size_t n) { return ng__ckio_crc32_pieces(p, n, 0); }

uint32_t ng__ckio_header_crc(const unsigned char *head) {
  return ng__ckio_crc32(head, NG__CKIO_HEADER_CRC_AT);
}

int ng__ckio_check_version(const unsigned char *head, size_t have, uint32_t current,
                           const char *lead, const char *name, ng_error_t *err) {
  if (!lead) lead = "";
  uint32_t v = (uint32_t)ng__ckio_ld(head + 8, 4);
  if (v == current) return NG_OK;
  if (v <= current || v - current > NG__CKIO_NEWER_MAX)
    return ng_error_set(err, NG_EFORMAT, "%s%s: corrupted header: format version %u is "
                        "neither this build's (%u) nor a plausible newer one (%u to %u)",
                        lead, name, v, current, current + 1, current + NG__CKIO_NEWER_MAX);
  if (have < NG__CKIO_HEADER)
    return ng_error_set(err, NG_EFORMAT, "%s%s: truncated header (%zu bytes, format version "
                        "%u)", lead, name, have, v);
  uint32_t want = ng__ckio_header_crc(head), got = (uint32_t)ng__ckio_ld(head + 28, 4);
  if (got != want)
    return ng_error_set(err, NG_EFORMAT, "%s%s: corrupted header: format version %u without "
                        "the header checksum a newer format carries (CRC-32 %08x, header says "
                        "%08x; this build reads version %u)", lead, name, v, want, got, current);
  return ng_error_set(err, NG_EUNSUPPORTED, "%s%s: format version %u is newer than this build "
                      "reads (%u)", lead, name, v, current);
}

/* fsync of the folder holding path (its name into dir): makes a rename into it durable.
 * File systems that cannot sync a folder (EINVAL) have nothing to make durable there. */
static int ng__ckio_sync_dir(const char *path, char *dir) {
  const char *slash = strrchr(path, '/');
  size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
  memcpy(dir, n ? path : ".", n ? n : 1);
  dir[n ? n : 1] = '\0';
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  int r = fsync(fd), e = errno;
  close(fd);
  errno = e;
  return r != 0 && e == EINVAL ? 0 : r;
}

int ng__ckio_write_file(const char *path, const void *data, size_t len, ng_error_t *err) {
  if (!path || (!data && len)) return ng_error_set(err, NG_EINVAL, "write: NULL argument");
  char tmp[NG__CKIO_PATH_MAX], dir[NG__CKIO_PATH_MAX];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (n < 0 || (size_t)n >= sizeof tmp)
    return ng_error_set(err, NG_ERANGE, "path too long: %s", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return ng_error_set(err, NG_EIO, "cannot create %s: %s", tmp, strerror(errno));
  int ok = (len == 0 || fwrite(data, 1, len, f) == len) && fflush(f) == 0 &&
           fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    remove(tmp);
    return ng_error_set(err, NG_EIO, "writing %s failed: %s", tmp, strerror(e));
  }
  if (rename(tmp, path) != 0) {
    e = errno;
    remove(tmp);
    return ng_error_set(err, NG_EIO, "renaming %s to %s failed: %s", tmp, path, strerror(e));
  }
  if (ng__ckio_sync_dir(path, dir) != 0)
    return ng_error_set(err, NG_EIO, "%s is written but syncing its folder %s failed: %s", path,
                        dir, strerror(errno));
  return NG_OK;
}
