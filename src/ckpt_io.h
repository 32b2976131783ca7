/* The byte layer under both binary checkpoint formats (TRPO/NPG `.ngc`, src/rl/checkpoint.c;
 * `natgrad fit`, src/supervised/fit.c): numbers little-endian whatever the host, a reader
 * that cannot run past its end, CRC-32, a crash-safe file write. Internal, not public API. */
#ifndef NG_CKPT_IO_H
#define NG_CKPT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "natgrad/core.h"

/* A growable buffer: start from {0}, free with ng__ckio_w_free. The first growth that fails
 * sets status to NG_ENOMEM for good and later puts do nothing, so a writer puts a whole
 * record and checks status once. put_zeros returns its n bytes (valid until the next put),
 * NULL once status is set: room for a header or a blob filled in afterwards. A writer
 * started as {.measure = 1} only counts: len grows, nothing is allocated or written, and
 * put_zeros returns NULL (the size of a record without building it). */
typedef struct {
  unsigned char *buf;
  size_t len, cap;
  int status, measure;
} ng__ckio_w_t;
void ng__ckio_w_free(ng__ckio_w_t *w);
unsigned char *ng__ckio_put_zeros(ng__ckio_w_t *w, size_t n);
void ng__ckio_put_bytes(ng__ckio_w_t *w, const void *p, size_t n);
void ng__ckio_put_u64(ng__ckio_w_t *w, uint64_t x);
void ng__ckio_put_i64(ng__ckio_w_t *w, int64_t x);
void ng__ckio_put_f64(ng__ckio_w_t *w, double x);
void ng__ckio_put_f64s(ng__ckio_w_t *w, const double *x, size_t n);

/* A reader over p[0, len), borrowed. A read that would pass the end sets bad for good: it
 * and every later read yield zeros and advance nothing, so a parser reads a record and
 * checks bad once, and no byte outside p[0, len) is ever touched. */
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

/* The low `bytes` (1..8) bytes of x at p, little-endian, and back: headers in place. */
void ng__ckio_st(unsigned char *p, uint64_t x, int bytes);
uint64_t ng__ckio_ld(const unsigned char *p, int bytes);

/* zlib's CRC-32 of p[0, n), fed in pieces of at most `piece` bytes as zlib takes uInt
 * lengths (0: NG__CKIO_CRC_PIECE, the most it takes; tests check the joins with less). */
#define NG__CKIO_CRC_PIECE ((size_t)1 << 30)
uint32_t ng__ckio_crc32_pieces(const void *p, size_t n, size_t piece);
uint32_t ng__ckio_crc32(const void *p, size_t n);

/* Format versions. Both checkpoint formats open with the same 32-byte frame: 8 bytes of
 * magic, the u32 format version at offset 8, 16 bytes that the version lays out, and a u32
 * at offset 28 that version 1 writes as zero and that every later version must write as
 * the CRC-32 of the header's first 28 bytes (NG__CKIO_HEADER_CRC_AT). The CRC of the body
 * does not cover the header, so this rule, fixed while version 1 is the only one, is what
 * tells a file of a genuinely newer format from a damaged one: a version other than the
 * reader's is taken as newer only when it is above the reader's by at most
 * NG__CKIO_NEWER_MAX and the header's own CRC-32 vouches for it; anything else is damage.
 * A bit flipped in a version-1 header's version field leaves the zero word, which is not
 * the header's CRC-32 (but for a 2^-32 coincidence), so it reads as damage and a caller's
 * fallback to an older intact checkpoint applies; a newer format stays a clear "newer than
 * this build" that no fallback hides. */
#define NG__CKIO_HEADER 32u
#define NG__CKIO_HEADER_CRC_AT 28u
#define NG__CKIO_NEWER_MAX 16u

/* The CRC-32 of a header's first NG__CKIO_HEADER_CRC_AT bytes: what a version after 1 stores
 * at NG__CKIO_HEADER_CRC_AT (read there with ng__ckio_ld(head + 28, 4)). */
uint32_t ng__ckio_header_crc(const unsigned char *head);

/* Judges the version field of a header of which `have` (>= 12) bytes are present, for a
 * reader of format version `current`: NG_OK when it is `current`; NG_EUNSUPPORTED ("format
 * version N is newer than this build reads") for a genuinely newer file by the rule above;
 * NG_EFORMAT for anything else (an implausible version, a newer one whose header checksum
 * does not match, a header cut short before its checksum). err's message starts with
 * `lead` then `name` ("load: " and the path, say). */
int ng__ckio_check_version(const unsigned char *head, size_t have, uint32_t current,
                           const char *lead, const char *name, ng_error_t *err);

/* Replaces path by data[0, len) so that a crash at any instant leaves the old file or the
 * new one, never a torn one: path.tmp is written, flushed, fsync'ed and renamed over path,
 * then the folder is fsync'ed so that the rename survives a power loss. On failure path.tmp
 * is gone and path as it was (unless only the folder's fsync failed). NG_EINVAL, NG_ERANGE
 * (path too long), NG_EIO; the message names the file. Allocates nothing. */
int ng__ckio_write_file(const char *path, const void *data, size_t len, ng_error_t *err);

#endif
