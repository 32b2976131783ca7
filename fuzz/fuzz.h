/* Shared by the fuzz targets (fuzz/fuzz_*.c): libFuzzer's entry points, and a bounded,
 * counting allocator installed as natgrad's (core.h's ng_set_allocator).
 *
 * The allocator refuses any single allocation above NG_FUZZ_MAX_ALLOC and any that would
 * take the live total above NG_FUZZ_MAX_TOTAL, so a forged size that passes every check
 * (a legal but huge network or batch) costs an NG_ENOMEM, not the machine; and it counts
 * live blocks, so that every input can be checked to leak nothing through the library,
 * in the plain replay build as well as under ASan. */
#ifndef NG_FUZZ_H
#define NG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "natgrad/core.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NG_FUZZ_MAX_ALLOC ((size_t)16 << 20)
#define NG_FUZZ_MAX_TOTAL ((size_t)64 << 20)

/* the block's size, kept in front of it; the union keeps the block maximally aligned */
typedef union {
  size_t size;
  max_align_t align;
} ng_fuzz_hdr_t;

static size_t ng_fuzz_live_bytes, ng_fuzz_live_blocks;

static inline void *ng_fuzz_malloc(size_t n) {
  if (n > NG_FUZZ_MAX_ALLOC || n > NG_FUZZ_MAX_TOTAL - ng_fuzz_live_bytes) return NULL;
  ng_fuzz_hdr_t *h = malloc(sizeof *h + n);
  if (!h) return NULL;
  h->size = n;
  ng_fuzz_live_bytes += n;
  ng_fuzz_live_blocks++;
  return h + 1;
}

static inline void ng_fuzz_free(void *p) {
  if (!p) return;
  ng_fuzz_hdr_t *h = (ng_fuzz_hdr_t *)p - 1;
  ng_fuzz_live_bytes -= h->size;
  ng_fuzz_live_blocks--;
  free(h);
}

static inline void *ng_fuzz_calloc(size_t count, size_t n) {
  if (n && count > NG_FUZZ_MAX_ALLOC / n) return NULL;
  void *p = ng_fuzz_malloc(count * n);
  if (p) memset(p, 0, count * n);
  return p;
}

static inline void *ng_fuzz_realloc(void *p, size_t n) {
  if (!p) return ng_fuzz_malloc(n);
  ng_fuzz_hdr_t *h = (ng_fuzz_hdr_t *)p - 1;
  size_t old = h->size;
  if (n > NG_FUZZ_MAX_ALLOC || n > NG_FUZZ_MAX_TOTAL - (ng_fuzz_live_bytes - old)) return NULL;
  ng_fuzz_hdr_t *nh = realloc(h, sizeof *nh + n);
  if (!nh) return NULL;
  nh->size = n;
  ng_fuzz_live_bytes = ng_fuzz_live_bytes - old + n;
  return nh + 1;
}

static inline void ng_fuzz_alloc_install(void) {
  ng_set_allocator(ng_fuzz_malloc, ng_fuzz_calloc, ng_fuzz_realloc, ng_fuzz_free);
}

/* Aborts (a finding) if the input left blocks allocated through the library. */
static inline void ng_fuzz_alloc_check(const char *target) {
  if (ng_fuzz_live_blocks != 0) {
    fprintf(stderr, "%s: %zu blocks (%zu bytes) leaked through ng_malloc\n", target,
            ng_fuzz_live_blocks, ng_fuzz_live_bytes);
    abort();
  }
}

/* path <- DIR/ng_fuzz_NAME_PID (one per process, so parallel fuzzers do not collide), in
 * memory (/dev/shm) where there is one: a file per input on a disk costs more than the
 * parse. */
static inline void ng_fuzz_temp_path(char *path, size_t size, const char *name) {
  const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(path, size, "%s/ng_fuzz_%s_%d", dir, name, (int)getpid());
}

/* Writes p[0, n) to path, gzip-compressed if gz (for the readers that take both, so that
 * mutations reach their parsers through zlib too). 0, or -1 if it could not. */
static inline int ng_fuzz_write_file(const char *path, const void *p, size_t n, int gz) {
  if (gz) {
    gzFile g = gzopen(path, "wb");
    if (!g) return -1;
    int ok = n == 0 || gzwrite(g, p, (unsigned)n) == (int)n;
    return (gzclose(g) == Z_OK && ok) ? 0 : -1;
  }
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fwrite(p, 1, n, f) == n;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* A finding that is not a crash: a broken invariant. */
#define NG_FUZZ_ASSERT(cond)                                                          \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);    \
      abort();                                                                        \
    }                                                                                 \
  } while (0)

#endif
