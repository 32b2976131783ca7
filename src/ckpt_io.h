/* The byte-level plumbing of natgrad's two binary checkpoint formats (TRPO/NPG `.ngc` in
 * src/rl/checkpoint.c, `natgrad fit` in src/supervised/fit.c): a growable writer, a
 * bounds-checked reader, CRC-32, and a durable atomic file write. Every multi-byte value
 * is little-endian whatever the host, so a file means the same bytes everywhere.
 * Internal: not part of the public API. */
#ifndef NG_CKPT_IO_H
#define NG_CKPT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "natgrad/core.h"

/* A growable byte buffer; start from {0} and free with ng__ckio_w_free. status turns from
 * NG_OK to NG_ENOMEM at the first growth that fails and stays there, every later put doing
 * nothing: a writer puts a whole record and checks status once. */
typedef struct {
  unsigned char *buf;
  size_t len, cap;
  int status;
} ng__ckio_w_t;

void ng__ckio_w_free(ng__ckio_w_t *w);
/* Appends n zero bytes and returns where they start (valid until the next put), or NULL
 * once status is set: room for a header or a blob that is filled in afterwards. */
unsigned char *ng__ckio_put_zeros(ng__ckio_w_t *w, size_t n);
void ng__ckio_put_bytes(ng__ckio_w_t *w, const void *p, size_t n);
void ng__ckio_put_u64(ng__ckio_w_t *w, uint64_t x);
void ng__ckio_put_i64(ng__ckio_w_t *w, int64_t x);
void ng__ckio_put_f64(ng__ckio_w_t *w, double x);
void ng__ckio_put_f64s(ng__ckio_w_t *w, const double *x, size_t n);

/* A reader over p[0, len) (borrowed). A read that would pass the end sets bad, which stays
 * set: that read and every later one yield zeros and advance nothing, so a parser reads a
 * record and checks bad once, and no byte outside p is ever touched. */
typedef struct {
  const unsigned char *p;
  size_t len, pos;
  int bad;
} ng__ckio_r_t;

void ng__ckio_get_bytes(ng__ckio_r_t *r, void *out, size_t n);
uint64_t ng__ckio_get_u64(ng__ckio_r_t *r);
int64_t ng__ckio_get_i64(ng__ckio_r_t *r);
double ng__ckio_get_f64(ng__ckio_r_t *r);
void ng__ckio_get_f64s(ng__ckio_r_t *r, double *x, size_t n);

/* Little-endian stores and loads at p, for headers filled in or parsed in place. */
void ng__ckio_st32(unsigned char *p, uint32_t x);
void ng__ckio_st64(unsigned char *p, uint64_t x);
uint32_t ng__ckio_ld32(const unsigned char *p);
uint64_t ng__ckio_ld64(const unsigned char *p);

/* zlib's CRC-32 of p[0, n). zlib takes uInt lengths, so the bytes go in pieces of at most
 * `piece` (> 0) bytes: NG__CKIO_CRC_PIECE in ng__ckio_crc32, a small one in tests. */
#define NG__CKIO_CRC_PIECE ((size_t)1 << 30)
uint32_t ng__ckio_crc32_pieces(const void *p, size_t n, size_t piece);
uint32_t ng__ckio_crc32(const void *p, size_t n);

/* Replaces path by data[0, len) so that a crash at any instant leaves the old file or the
 * new one, never a torn one: writes path.tmp, fflush, fsync, renames it over path, then
 * fsyncs the folder so the rename itself survives a power loss. On failure path.tmp is
 * removed and path left as it was (unless only the folder's fsync failed: path then holds
 * the new bytes, maybe not yet durable). NG_EINVAL, NG_ERANGE (path too long) or NG_EIO,
 * with a message naming the file in err. No allocation. */
int ng__ckio_write_file(const char *path, const void *data, size_t len, ng_error_t *err);

#endif
