/* Env blocks (rl.h's `blocks`): a run of B blocks must be the same, bit for bit, however its
 * blocks are spread over threads and over processes (here K "processes" are threads of
 * this one, each with its own trainer keeping only its blocks, the split's gather an
 * allgather through shared memory between two barriers). Rank 0's checkpoint after
 * ng_rl_gather_envs must be the one-process file byte for byte; a resumed run continues
 * as the uninterrupted one; a block whose environment fails stops every block with that
 * environment's error (no hang) and leaves the last good state. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ng_test.h"
#include "rl/rl_impl.h"

#define MAX_RANKS 4

static ng_rl_config_t config(const char *env, int n_envs, int blocks, const char *algo) {
  ng_rl_config_t c;
  if (ng_rl_config_default(&c, env, NULL)) exit(1);
  c.n_envs = n_envs;
  c.n_steps = 64;
  c.total_steps = 3L * n_envs * 64;
  c.vf_minibatch = 8 * n_envs;
  c.vf_epochs = 3;
  c.normalize_obs = c.normalize_reward = 1; /* the normalisers' sums cross blocks too */
  c.blocks = blocks;
  if (algo && ng_rl_config_set(&c, "algo", algo, NULL)) exit(1);
  return c;
}

static ng_rl_t *make(const ng_rl_config_t *c) {
  ng_rl_t *t = NULL;
  ng_error_t err;
  if (ng_rl_create(&t, c, &err)) {
    fprintf(stderr, "create: %s\n", err.message);
    exit(1);
  }
  return t;
}

/* The file a trainer saves, in memory (malloc'ed). */
static unsigned char *saved(ng_rl_t *t, const char *path, size_t *n) {
  NG_CHECK_OK(ng_rl_save(t, path, NULL));
  unsigned char *b = NULL;
  long len = ng_test_read_file(path, &b);
  *n = len > 0 ? (size_t)len : 0;
  remove(path);
  return b;
}

static int same_bytes(const unsigned char *a, size_t na, const unsigned char *b, size_t nb) {
  return a && b && na == nb && memcmp(a, b, na) == 0;
}

/* ---- K ranks as threads ------------------------------------------------------------------ */

typedef struct {
  int k;
  size_t blocks;
  pthread_barrier_t barrier;
  unsigned char *shared; /* a gather's parts or rows, at their offsets */
} world_t;

typedef struct {
  world_t *w;
  int rank;
  ng_rl_config_t cfg;
  const char *path; /* rank 0 saves here */
  int status;
  unsigned char *file;
  size_t file_n;
} rank_t;

/* the split's gather: part s at offset sum of lens before it */
static int gather_parts(void *ctx, double *const *parts, const size_t *lens, size_t n) {
  rank_t *r = ctx;
  world_t *w = r->w;
  ng_split_t sp = {0, r->rank, w->k, gather_parts, r, NULL}; /* active: its blocks */
  size_t first, count, at = 0;
  ng_split_own(&sp, n, &first, &count);
  double *shared = (double *)(void *)w->shared;
  for (size_t s = 0; s < n; at += lens[s++])
    if (s >= first && s < first + count) memcpy(shared + at, parts[s], lens[s] * sizeof(double));
  pthread_barrier_wait(&w->barrier);
  at = 0;
  for (size_t s = 0; s < n; at += lens[s++])
    if (s < first || s >= first + count) memcpy(parts[s], shared + at, lens[s] * sizeof(double));
  pthread_barrier_wait(&w->barrier);
  return NG_OK;
}

/* the split's sum (core.h): the total in block order from each rank's own blocks, as MPI's
 * reduce-scatter does it */
static int sum_parts(void *ctx, const double *const *own, size_t n, size_t n_blocks,
                     double *out) {
  rank_t *r = ctx;
  world_t *w = r->w;
  ng_split_t sp = {0, r->rank, w->k, gather_parts, r, NULL};
  size_t first, count;
  ng_split_own(&sp, n_blocks, &first, &count);
  double *shared = (double *)(void *)w->shared;
  for (size_t i = 0; i < count; i++)
    memcpy(shared + (first + i) * n, own[i], n * sizeof(double));
  pthread_barrier_wait(&w->barrier);
  memcpy(out, shared, n * sizeof(double));
  for (size_t b = 1; b < n_blocks; b++)
    for (size_t j = 0; j < n; j++) out[j] += shared[b * n + j];
  pthread_barrier_wait(&w->barrier);
  return NG_OK;
}

/* the env share's gather (for ng_rl_gather_envs): one record per block */
static int gather_rows(void *ctx, void *rows, size_t row_bytes) {
  rank_t *r = ctx;
  world_t *w = r->w;
  ng_split_t sp = {0, r->rank, w->k, gather_parts, r, NULL}; /* active: its blocks */
  size_t first, count;
  ng_split_own(&sp, w->blocks, &first, &count);
  memcpy(w->shared + first * row_bytes, (unsigned char *)rows + first * row_bytes,
         count * row_bytes);
  pthread_barrier_wait(&w->barrier);
  memcpy(rows, w->shared, w->blocks * row_bytes);
  pthread_barrier_wait(&w->barrier);
  return NG_OK;
}

static void *rank_main(void *arg) {
  rank_t *r = arg;
  ng_error_t err;
  ng_rl_t *t = make(&r->cfg);
  /* 3 ranks add through the split's sum, the others gather every block's sum */
  ng_split_t sp = {0, r->rank, r->w->k, gather_parts, r, r->w->k == 3 ? sum_parts : NULL};
  r->status = ng_rl_set_split(t, &sp);
  ng_rl_env_share_t share = {0, 0, gather_rows, r};
  ng_split_own(&sp, r->w->blocks, &share.first, &share.count);
  if (!r->status) r->status = ng_rl_set_env_share(t, &share, &err);
  /* a rank whose blocks run on two threads changes nothing */
  if (!r->status && r->rank == 0) r->status = ng_rl_set_threads(t, 2);
  while (!r->status && !ng_rl_done(t)) r->status = ng_rl_iterate(t, NULL, &err);
  if (r->status) fprintf(stderr, "rank %d: %s\n", r->rank, err.message);
  if (!r->status) r->status = ng_rl_gather_envs(t, &err);
  if (!r->status && r->rank == 0) r->file = saved(t, r->path, &r->file_n);
  ng_rl_destroy(t);
  return NULL;
}

/* One process running all blocks (on 1 and 3 threads) and K = 2..4 ranks: one file. */
static void check_ranks(const char *env, int n_envs, int blocks, const char *algo) {
  const ng_rl_config_t cfg = config(env, n_envs, blocks, algo);
  unsigned char *want[2];
  size_t want_n[2];
  for (int i = 0; i < 2; i++) {
    ng_rl_t *t = make(&cfg);
    NG_CHECK_OK(ng_rl_set_threads(t, i ? 3 : 1));
    while (!ng_rl_done(t)) NG_CHECK_OK(ng_rl_iterate(t, NULL, NULL));
    want[i] = saved(t, "blocks_one.ngc", &want_n[i]);
    ng_rl_destroy(t);
  }
  NG_CHECK(same_bytes(want[0], want_n[0], want[1], want_n[1]));
  for (int k = 2; k <= MAX_RANKS && k <= blocks; k++) {
    world_t w = {.k = k, .blocks = (size_t)blocks};
    w.shared = malloc(1 << 20);
    pthread_barrier_init(&w.barrier, NULL, (unsigned)k);
    rank_t ranks[MAX_RANKS];
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < k; r++) {
      ranks[r] = (rank_t){.w = &w, .rank = r, .cfg = cfg, .path = "blocks_split.ngc"};
      pthread_create(&th[r], NULL, rank_main, &ranks[r]);
    }
    for (int r = 0; r < k; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < k; r++) NG_CHECK_OK(ranks[r].status);
    int same = same_bytes(want[0], want_n[0], ranks[0].file, ranks[0].file_n);
    if (!same) fprintf(stderr, "%s, %d blocks, %d ranks: checkpoint differs\n", env, blocks, k);
    NG_CHECK(same);
    free(ranks[0].file);
    pthread_barrier_destroy(&w.barrier);
    free(w.shared);
  }
  free(want[0]), free(want[1]);
}

static void test_any_ranks_any_threads(void) {
  check_ranks("CartPole-v1", 4, 4, NULL);
  check_ranks("Pendulum-v1", 6, 3, NULL);
  check_ranks("Pendulum-v1", 4, 2, "npg");
  check_ranks("Pendulum-v1", 4, 4, "acktr");
}

/* ---- the run itself ----------------------------------------------------------------------- */

static void test_config(void) {
  ng_rl_config_t c = config("CartPole-v1", 4, 1, NULL);
  char buf[4096];
  ng_rl_config_format(&c, buf, sizeof buf);
  NG_CHECK(strstr(buf, "blocks") == NULL); /* one batch: the text of every earlier run */
  c.blocks = 2;
  ng_rl_config_format(&c, buf, sizeof buf);
  NG_CHECK(strstr(buf, "blocks = 2\n") != NULL);
  ng_error_t err;
  c.blocks = 3; /* divides neither n_envs = 4 nor vf_minibatch = 32 */
  NG_CHECK_STATUS(ng_rl_config_validate(&c, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "blocks = 3 must divide n_envs = 4") != NULL);
  c = config("CartPole-v1", 6, 3, NULL);
  c.vf_minibatch = 32;
  NG_CHECK_STATUS(ng_rl_config_validate(&c, &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_config_set(&c, "blocks", "0", NULL), NG_ERANGE);
}

/* Blocks learn: one block per env is a proper run (not a stub): CartPole-v1 improves. */
static void test_learns(void) {
  ng_rl_config_t c = config("CartPole-v1", 4, 4, NULL);
  c.n_steps = 256;
  c.vf_minibatch = 256;
  c.vf_epochs = 10;
  c.normalize_obs = c.normalize_reward = 0;
  ng_rl_t *t = make(&c);
  ng_rl_stats_t s;
  double first = NAN, last = NAN;
  for (int i = 0; i < 25; i++) {
    NG_CHECK_OK(ng_rl_iterate(t, &s, NULL));
    if (i == 0) first = s.mean_return;
    last = s.mean_return;
  }
  fprintf(stderr, "  CartPole-v1, 4 blocks: mean return %.1f -> %.1f\n", first, last);
  NG_CHECK(last > 3 * first && last > 100);
  ng_rl_destroy(t);
}

/* Saved after an iteration and loaded, a run of blocks continues as if never stopped (with
 * ACKTR, its K-FAC factors too). */
static void check_resume(const char *env, const char *algo) {
  ng_rl_config_t c = config(env, 4, 2, algo);
  ng_rl_t *a = make(&c), *b = make(&c);
  NG_CHECK_OK(ng_rl_iterate(a, NULL, NULL));
  NG_CHECK_OK(ng_rl_iterate(a, NULL, NULL));
  NG_CHECK_OK(ng_rl_iterate(b, NULL, NULL));
  NG_CHECK_OK(ng_rl_save(b, "blocks_resume.ngc", NULL));
  ng_rl_destroy(b);
  b = NULL;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_load(&b, "blocks_resume.ngc", &err));
  remove("blocks_resume.ngc");
  if (!b) return;
  NG_CHECK_OK(ng_rl_iterate(b, NULL, NULL));
  size_t na, nb;
  unsigned char *fa = saved(a, "blocks_a.ngc", &na), *fb = saved(b, "blocks_b.ngc", &nb);
  NG_CHECK(same_bytes(fa, na, fb, nb));
  free(fa), free(fb);
  ng_rl_destroy(a);
  ng_rl_destroy(b);
}

static void test_resume(void) {
  check_resume("Acrobot-v1", NULL);
  check_resume("Pendulum-v1", "acktr");
}

/* The blocks' streams are the checkpoint's: a file whose block stream is damaged (all zero)
 * is refused. */
static void test_damaged_block_stream(void) {
  ng_rl_config_t c = config("CartPole-v1", 2, 2, NULL);
  ng_rl_t *t = make(&c);
  NG_CHECK_OK(ng_rl_iterate(t, NULL, NULL));
  memset(&t->blk_rng[1], 0, sizeof t->blk_rng[1]);
  ng_error_t err;
  NG_CHECK_STATUS(ng_rl_save(t, "blocks_bad.ngc", &err), NG_ENONFINITE);
  NG_CHECK(strstr(err.message, "invalid block random state") != NULL);
  remove("blocks_bad.ngc");
  ng_rl_destroy(t);
}

typedef struct {
  long at_run_step;
  int fired;
} fault_t;

static int nan_obs(void *ctx, size_t env, long run_step, int status, double *obs,
                   double *reward) {
  fault_t *f = ctx;
  (void)env, (void)reward;
  if (run_step != f->at_run_step || status != NG_OK) return status;
  f->fired++;
  obs[0] = NAN;
  return NG_OK;
}

/* A NaN from env 5 (block 2 of 3) in the second iteration: every block stops, with the
 * environment's error (not another block's "interrupted"), on one thread and on three,
 * and the run is left at its last good state. */
static void test_fault_stops_every_block(void) {
  for (int threads = 1; threads <= 3; threads += 2) {
    ng_rl_config_t c = config("CartPole-v1", 6, 3, NULL);
    c.vf_minibatch = 48;
    ng_rl_t *t = make(&c);
    NG_CHECK_OK(ng_rl_set_threads(t, threads));
    NG_CHECK_OK(ng_rl_iterate(t, NULL, NULL));
    size_t n;
    unsigned char *before = saved(t, "blocks_fault.ngc", &n);
    fault_t f = {6 * 64 + 6 * 10 + 5 + 1, 0}; /* step 11 of the second iteration, env 5 */
    t->step_hook = nan_obs;
    t->step_hook_ctx = &f;
    ng_error_t err;
    NG_CHECK_STATUS(ng_rl_iterate(t, NULL, &err), NG_ENONFINITE);
    fprintf(stderr, "  %s\n", err.message);
    NG_CHECK(f.fired == 1);
    NG_CHECK(strstr(err.message, "iteration 2: ") == err.message);
    NG_CHECK(strstr(err.message, "env 5, step") != NULL);
    NG_CHECK(strstr(err.message, "(step 450 of the run)") != NULL);
    NG_CHECK(ng_rl_iteration(t) == 1);
    size_t m;
    unsigned char *after = saved(t, "blocks_fault.ngc", &m);
    /* the parameters, optimiser and statistics are the last good ones: the file differs
     * only in the envs, which moved on */
    const size_t head = 512; /* config text, sizes, counters and the first parameters */
    NG_CHECK(before && after && n == m && memcmp(before + 32, after + 32, head) == 0);
    t->step_hook = NULL;
    NG_CHECK_OK(ng_rl_iterate(t, NULL, &err)); /* a sane environment again: on it goes */
    NG_CHECK(ng_rl_iteration(t) == 2);
    free(before), free(after);
    ng_rl_destroy(t);
  }
}

static void test_bad_calls(void) {
  ng_rl_config_t c = config("CartPole-v1", 4, 2, NULL);
  ng_rl_t *t = make(&c);
  ng_reducer_t red = {NULL, NULL};
  NG_CHECK_STATUS(ng_rl_set_reducer(t, &red), NG_EINVAL); /* the blocks' sums are theirs */
  ng_split_t three = {0, 2, 3, gather_parts, NULL, NULL}; /* rank 2 of 3 owns no block */
  NG_CHECK_STATUS(ng_rl_set_split(t, &three), NG_EINVAL);
  NG_CHECK(t->blk == NULL); /* blocks' trainers are made at the first iteration... */
  ng_split_t two = {0, 1, 2, gather_parts, NULL, NULL};
  NG_CHECK_OK(ng_rl_set_split(t, &two)); /* block 1 */
  NG_CHECK(t->blk == NULL && t->blk_first == 1 && t->blk_count == 1); /* ...only this one */
  ng_error_t err;
  ng_rl_env_share_t share = {0, 1, gather_rows, NULL}; /* block 0: not this process's */
  NG_CHECK_STATUS(ng_rl_set_env_share(t, &share, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "are not this process's") != NULL);
  NG_CHECK_OK(ng_rl_set_split(t, NULL)); /* back to every block here */
  NG_CHECK_OK(ng_rl_iterate(t, NULL, NULL));
  NG_CHECK(t->blk != NULL && t->blk_first == 0 && t->blk_count == 2);
  ng_rl_destroy(t);
}

int main(void) {
  NG_TEST_RUN(test_config);
  NG_TEST_RUN(test_any_ranks_any_threads);
  NG_TEST_RUN(test_learns);
  NG_TEST_RUN(test_resume);
  NG_TEST_RUN(test_damaged_block_stream);
  NG_TEST_RUN(test_fault_stops_every_block);
  NG_TEST_RUN(test_bad_calls);
  NG_TEST_END();
}
