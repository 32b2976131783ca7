/* Internals shared by the supervised module's files: little-endian byte streams for the
 * optimiser state and checkpoints, and K-FAC's state. Not part of the public API. */
#ifndef NG_SUP_IMPL_H
#define NG_SUP_IMPL_H

#include <string.h>

#include "natgrad/supervised.h"

/* A writer over buf[0, size); with buf NULL it only counts (pos is then the size needed).
 * ok drops to 0 when a write would overflow. */
typedef struct {
  unsigned char *buf;
  size_t size, pos;
  int ok;
} ng__wbuf_t;

/* A reader over buf[0, size); ok drops to 0 on a read past the end. */
typedef struct {
  const unsigned char *buf;
  size_t size, pos;
  int ok;
} ng__rbuf_t;

static inline void ng__put_u64(ng__wbuf_t *w, uint64_t v) {
  if (w->buf) {
    if (!w->ok || w->size - w->pos < 8) {
      w->ok = 0;
      return;
    }
    for (int i = 0; i < 8; i++) w->buf[w->pos + (size_t)i] = (unsigned char)(v >> (8 * i));
  }
  w->pos += 8;
}

static inline void ng__put_f64(ng__wbuf_t *w, double d) {
  uint64_t v;
  memcpy(&v, &d, sizeof v);
  ng__put_u64(w, v);
}

static inline void ng__put_f64s(ng__wbuf_t *w, size_t n, const double *x) {
  for (size_t i = 0; i < n; i++) ng__put_f64(w, x[i]);
}

static inline void ng__put_bytes(ng__wbuf_t *w, size_t n, const void *p) {
  if (w->buf) {
    if (!w->ok || w->size - w->pos < n) {
      w->ok = 0;
      return;
    }
    memcpy(w->buf + w->pos, p, n);
  }
  w->pos += n;
}

static inline uint64_t ng__get_u64(ng__rbuf_t *r) {
  if (!r->ok || r->size - r->pos < 8) {
    r->ok = 0;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)r->buf[r->pos + (size_t)i] << (8 * i);
  r->pos += 8;
  return v;
}

static inline double ng__get_f64(ng__rbuf_t *r) {
  uint64_t v = ng__get_u64(r);
  double d;
  memcpy(&d, &v, sizeof d);
  return d;
}

static inline void ng__get_f64s(ng__rbuf_t *r, size_t n, double *x) {
  for (size_t i = 0; i < n; i++) x[i] = ng__get_f64(r);
}

static inline void ng__put_rng(ng__wbuf_t *w, const ng_rng_t *rng) {
  for (int i = 0; i < 4; i++) ng__put_u64(w, rng->s[i]);
  ng__put_f64(w, rng->spare_normal);
  ng__put_u64(w, (uint64_t)rng->has_spare);
}

static inline void ng__get_rng(ng__rbuf_t *r, ng_rng_t *rng) {
  for (int i = 0; i < 4; i++) rng->s[i] = ng__get_u64(r);
  rng->spare_normal = ng__get_f64(r);
  rng->has_spare = ng__get_u64(r) != 0;
}

/* K-FAC's state (update count, running factors, inverses and their damping). */
void ng__kfac_state_write(const ng_kfac_t *k, ng__wbuf_t *w);
int ng__kfac_state_read(ng_kfac_t *k, ng__rbuf_t *r);
/* 1 once ng_kfac_invert has succeeded. */
int ng__kfac_inverted(const ng_kfac_t *k);

#endif
