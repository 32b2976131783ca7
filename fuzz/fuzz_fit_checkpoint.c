/* Fuzz target: `natgrad fit`'s checkpoint loader (ng_fit_checkpoint_read, then
 * ng_fit_restore into a run and an epoch from the restored state), through a file.
 *
 * Input: one mode byte, then the file. Mode bit 0 repairs the header's body size and CRC-32
 * for the bytes that follow, so that mutations reach the body's parser instead of stopping
 * at the checksum (libFuzzer cannot forge a CRC); bits 1-3 pick the run restored into (every
 * optimiser kind, categorical and Gaussian heads: a 3-4-3 MLP on six rows, batches of 4).
 * Invariants beyond "no crash, no leak, no hang":
 *   - a failure is a documented status with a message and leaves nothing to free;
 *   - the run description (meta) comes back as stored: all of its stored length;
 *   - a restore fails only for a state that does not fit the run, and a restored run trains
 *     an epoch (any status: a forged state may be non-finite) and saves a checkpoint that
 *     reads and restores again. */
#include <math.h>

#include "ckpt_io.h"
#include "fuzz.h"
#include "natgrad/supervised.h"

#define HEADER NG__CKIO_HEADER /* magic, version, body CRC-32, body size, header CRC-32 */
#define N_ROWS 6
#define BATCH 4
#define N_IN 3

static const struct {
  ng_opt_kind_t kind;
  ng_dist_kind_t head;
} RUNS[8] = {
    {NG_OPT_SGD, NG_DIST_CATEGORICAL},     {NG_OPT_ADAM, NG_DIST_GAUSSIAN},
    {NG_OPT_DIAG_NG, NG_DIST_CATEGORICAL}, {NG_OPT_DIAG_NG, NG_DIST_GAUSSIAN},
    {NG_OPT_CG_NG, NG_DIST_CATEGORICAL},   {NG_OPT_CG_NG, NG_DIST_GAUSSIAN},
    {NG_OPT_KFAC, NG_DIST_CATEGORICAL},    {NG_OPT_KFAC, NG_DIST_GAUSSIAN},
};

static ng_model_t *g_models[2]; /* by head, created once (immutable) */
static ng_dataset_t g_data[2];
static char g_path[64], g_path2[64];

static uint64_t le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ng_fuzz_temp_path(g_path, sizeof g_path, "fitck");
  ng_fuzz_temp_path(g_path2, sizeof g_path2, "fitck_2");
  const size_t hidden[1] = {4};
  for (int h = 0; h < 2; h++) {
    const ng_dist_t dist = {.kind = h ? NG_DIST_GAUSSIAN : NG_DIST_CATEGORICAL, .dim = h ? 2 : 3};
    NG_FUZZ_ASSERT(ng_model_create(&g_models[h], N_IN, 1, hidden, NG_ACT_TANH, dist,
                                   NG_LOGSTD_STATE_INDEPENDENT) == NG_OK);
    NG_FUZZ_ASSERT(ng_dataset_alloc(&g_data[h], N_ROWS, N_IN, h ? 2 : 1, h ? 0 : 3) == NG_OK);
    for (size_t i = 0; i < N_ROWS * N_IN; i++) g_data[h].x[i] = sin(1.0 + (double)i);
    for (size_t i = 0; i < N_ROWS * g_data[h].n_targets; i++)
      g_data[h].y[i] = h ? cos((double)i) : (double)(i % 3);
  }
  /* the fixtures above are the harness's own; the library's allocations are counted */
  ng_fuzz_alloc_install();
  return 0;
}

static void check_failure(int s, const ng_error_t *err, const ng_fit_checkpoint_t *ck) {
  NG_FUZZ_ASSERT(err->status == s && err->message[0] != '\0');
  NG_FUZZ_ASSERT(s == NG_EFORMAT || s == NG_EUNSUPPORTED || s == NG_ENOMEM || s == NG_EIO);
  NG_FUZZ_ASSERT(!ck->meta && !ck->theta && !ck->state && ck->n_params == 0);
}

/* Restores ck into a new run of RUNS[r]; trains an epoch, saves, reads and restores again. */
static void restore_and_train(const ng_fit_checkpoint_t *ck, int r) {
  const int h = RUNS[r].head == NG_DIST_GAUSSIAN;
  ng_sup_opt_config_t cfg;
  ng_error_t err;
  NG_FUZZ_ASSERT(ng_sup_opt_config_default(&cfg, RUNS[r].kind) == NG_OK);
  cfg.inverse_every = 1; /* K-FAC inverts at its first step */
  ng_fit_t *f = NULL;
  if (ng_fit_create(&f, g_models[h], &cfg, N_ROWS, BATCH, 7, &err) != NG_OK) return; /* ENOMEM */
  const size_t n = ng_model_n_params(g_models[h]);
  double *theta = malloc(n * sizeof *theta);
  NG_FUZZ_ASSERT(theta != NULL);
  int s = ng_fit_restore(f, ck, theta, &err);
  NG_FUZZ_ASSERT(s == NG_OK || s == NG_EFORMAT);
  if (s == NG_OK) {
    double loss;
    ng_fit_epoch(f, theta, &g_data[h], NULL, NULL, &loss);
    if (ng_fit_save(f, g_path2, ck->meta, theta, &err) == NG_OK) {
      ng_fit_checkpoint_t back;
      s = ng_fit_checkpoint_read(g_path2, &back, &err);
      NG_FUZZ_ASSERT(s == NG_OK || s == NG_ENOMEM);
      if (s == NG_OK) {
        NG_FUZZ_ASSERT(strcmp(back.meta, ck->meta) == 0 && back.n_params == n);
        NG_FUZZ_ASSERT(ng_fit_restore(f, &back, theta, &err) == NG_OK);
      }
      ng_fit_checkpoint_free(&back);
    }
    remove(g_path2);
  }
  free(theta);
  ng_fit_destroy(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const unsigned mode = data[0];
  size--;
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data + 1, size);
  if ((mode & 1) && size >= HEADER) {
    const uint64_t body = size - HEADER;
    const uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf + HEADER, (uInt)body);
    for (int i = 0; i < 4; i++) buf[12 + i] = (uint8_t)(crc >> 8 * i);
    for (int i = 0; i < 8; i++) buf[16 + i] = (uint8_t)(body >> 8 * i);
  }
  const int written = ng_fuzz_write_file(g_path, buf, size, 0) == 0;
  if (written) {
    ng_fit_checkpoint_t ck;
    ng_error_t err;
    ng_error_clear(&err);
    int s = ng_fit_checkpoint_read(g_path, &ck, &err);
    remove(g_path);
    if (s != NG_OK) {
      check_failure(s, &err, &ck);
    } else {
      /* accepted, so the body starts with the meta's length and the meta */
      NG_FUZZ_ASSERT(size >= HEADER + 8 && ck.meta && ck.theta && ck.state && ck.n_params > 0);
      NG_FUZZ_ASSERT(strlen(ck.meta) == le(buf + HEADER, 8));
      restore_and_train(&ck, (int)(mode >> 1) & 7);
      ng_fit_checkpoint_free(&ck);
    }
  }
  free(buf);
  ng_fuzz_alloc_check("fuzz_fit_checkpoint");
  return 0;
}
