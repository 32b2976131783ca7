/* Fuzz target: the checkpoint loader (ng_rl_load_mem, and ng_rl_load through a file).
 *
 * Input: one mode byte, then the file. Mode bit 0 repairs the header's body size and CRC-32
 * for the bytes that follow, so that mutations reach the body's parser instead of stopping
 * at the checksum (libFuzzer cannot forge a CRC); bit 1 loads through a temporary file
 * instead of from memory. Invariants beyond "no crash, no leak":
 *   - a status and a trainer agree (NG_OK iff a trainer came back), a failure has a message
 *     and is one of the documented statuses;
 *   - what load accepts, save writes and load accepts again (the same checks both ways);
 *   - a small accepted trainer runs one iteration without crashing. */
#include "fuzz.h"
#include "natgrad/rl.h"
#include "rl/rl_impl.h"

static char g_path[64], g_path2[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ng_fuzz_alloc_install();
  snprintf(g_path, sizeof g_path, "/tmp/ng_fuzz_ckpt_%d.ngc", (int)getpid());
  snprintf(g_path2, sizeof g_path2, "/tmp/ng_fuzz_ckpt_%d_2.ngc", (int)getpid());
  return 0;
}

static void check_failure(int s, const ng_rl_t *t, const ng_error_t *err) {
  NG_FUZZ_ASSERT(t == NULL);
  NG_FUZZ_ASSERT(err->status == s && err->message[0] != '\0');
  NG_FUZZ_ASSERT(s == NG_EFORMAT || s == NG_EUNSUPPORTED || s == NG_ENOMEM || s == NG_EIO);
}

/* Cheap enough to run an iteration of, under any accepted config. */
static int small(const ng_rl_t *t) {
  const ng_rl_config_t *c = ng_rl_config(t);
  return t->batch <= 64 && (long)c->vf_epochs * (long)t->batch <= 2048 && c->cg_iters <= 20 &&
         c->ls_max_backtracks <= 20 && t->n_pol <= 20000 && t->n_vf <= 20000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const unsigned mode = data[0];
  size--;
  unsigned char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data + 1, size);
  if ((mode & 1) && size >= 32) {
    uint64_t body = size - 32;
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf + 32, (uInt)body);
    memcpy(buf + 16, &body, 8);
    memcpy(buf + 24, &crc, 4);
  }
  ng_rl_t *t = NULL;
  ng_error_t err;
  ng_error_clear(&err);
  int s;
  if (mode & 2) {
    if (ng_fuzz_write_file(g_path, buf, size, 0) != 0) {
      free(buf);
      return 0;
    }
    s = ng_rl_load(&t, g_path, &err);
    remove(g_path);
  } else {
    s = ng_rl_load_mem(&t, buf, size, &err);
  }
  free(buf);
  if (s != NG_OK) {
    check_failure(s, t, &err);
  } else {
    NG_FUZZ_ASSERT(t != NULL);
    /* accepted by load, so written by save, and accepted again */
    s = ng_rl_save(t, g_path2, &err);
    NG_FUZZ_ASSERT(s == NG_OK || s == NG_ENOMEM || s == NG_EIO);
    if (s == NG_OK) {
      ng_rl_t *u = NULL;
      s = ng_rl_load(&u, g_path2, &err);
      NG_FUZZ_ASSERT(s == NG_OK || s == NG_ENOMEM);
      ng_rl_destroy(u);
    }
    remove(g_path2);
    if (small(t)) {
      ng_rl_stats_t st;
      ng_rl_iterate(t, &st, &err);
    }
    ng_rl_destroy(t);
  }
  ng_fuzz_alloc_check("fuzz_checkpoint");
  return 0;
}
