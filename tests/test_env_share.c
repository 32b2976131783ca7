/* rl.h's env share without MPI: K "ranks" are threads of this process, each with its own
 * trainer stepping its block of the environments, and the gather is an allgather through
 * shared memory between two barriers. Every rank must end with the parameters of one
 * trainer stepping all envs, and rank 0's checkpoint, after ng_rl_gather_envs, must be the
 * same file byte for byte (every env's state and random stream in it). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/rl.h"
#include "ng_test.h"

#define MAX_RANKS 4

typedef struct {
  int k;
  size_t n_envs;
  pthread_barrier_t barrier;
  unsigned char *shared; /* n_envs records */
  int fail_at;           /* test: the gather call that fails on every rank (0: none) */
} world_t;

typedef struct {
  world_t *w;
  int rank;
  int calls;
  const char *env;
  const char *ckpt; /* rank 0 saves here */
  int status;
  size_t n_pol;
  double *theta;
} rank_t;

static void block(size_t n, int rank, int k, size_t *first, size_t *count) {
  const size_t q = n / (size_t)k, extra = n % (size_t)k, r = (size_t)rank;
  *count = q + (r < extra);
  *first = r * q + (r < extra ? r : extra);
}

static int gather(void *ctx, void *rows, size_t row_bytes) {
  rank_t *r = ctx;
  world_t *w = r->w;
  size_t first, count;
  block(w->n_envs, r->rank, w->k, &first, &count);
  r->calls++;
  memcpy(w->shared + first * row_bytes, (unsigned char *)rows + first * row_bytes,
         count * row_bytes);
  pthread_barrier_wait(&w->barrier);
  memcpy(rows, w->shared, w->n_envs * row_bytes);
  pthread_barrier_wait(&w->barrier);
  /* a failed collective, reported on every rank as MPI_ERRORS_RETURN does */
  return w->fail_at && r->calls == w->fail_at ? NG_EIO : NG_OK;
}

static int make_trainer(ng_rl_t **t, const char *env, size_t n_envs) {
  ng_rl_config_t cfg;
  int s = ng_rl_config_default(&cfg, env, NULL);
  if (s) return s;
  cfg.n_envs = n_envs;
  cfg.n_steps = 64;
  cfg.total_steps = (long)(3 * n_envs * 64);
  cfg.vf_minibatch = 64;
  return ng_rl_create(t, &cfg, NULL);
}

static void *rank_main(void *arg) {
  rank_t *r = arg;
  ng_error_t err;
  ng_error_clear(&err);
  ng_rl_t *t = NULL;
  r->status = make_trainer(&t, r->env, r->w->n_envs);
  if (r->status) return NULL;
  ng_rl_env_share_t share = {0, 0, gather, r};
  block(r->w->n_envs, r->rank, r->w->k, &share.first, &share.count);
  r->status = ng_rl_set_env_share(t, &share, &err);
  /* one rank on two threads: the split and the threads together change nothing */
  if (!r->status && r->rank == 1) r->status = ng_rl_set_threads(t, 2);
  while (!r->status && !ng_rl_done(t)) r->status = ng_rl_iterate(t, NULL, &err);
  if (!r->status) r->status = ng_rl_gather_envs(t, &err);
  if (!r->status && r->rank == 0) r->status = ng_rl_save(t, r->ckpt, &err);
  const double *p = ng_rl_policy_params(t, &r->n_pol);
  r->theta = malloc(r->n_pol * sizeof *r->theta);
  if (r->theta) memcpy(r->theta, p, r->n_pol * sizeof *p);
  ng_rl_destroy(t);
  return NULL;
}

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = len > 0 ? malloc((size_t)len) : NULL;
  *n = b && fread(b, 1, (size_t)len, f) == (size_t)len ? (size_t)len : 0;
  fclose(f);
  return b;
}

/* K ranks over n_envs envs of env against one trainer; fail_at > 0 makes the gather fail
 * at that call, and then every rank must stop with its error instead. */
static void check_split(const char *env, size_t n_envs, int k, int fail_at) {
  char one[64], split[64];
  snprintf(one, sizeof one, "env_share_%s_1.ngc", env);
  snprintf(split, sizeof split, "env_share_%s_%d.ngc", env, k);
  ng_rl_t *t = NULL;
  NG_CHECK_OK(make_trainer(&t, env, n_envs));
  if (!t) return;
  while (!ng_rl_done(t)) NG_CHECK_OK(ng_rl_iterate(t, NULL, NULL));
  NG_CHECK_OK(ng_rl_gather_envs(t, NULL)); /* no share: nothing to do */
  NG_CHECK_OK(ng_rl_save(t, one, NULL));
  size_t n_pol;
  const double *want = ng_rl_policy_params(t, &n_pol);

  world_t w = {.k = k, .n_envs = n_envs, .fail_at = fail_at};
  w.shared = malloc(n_envs * 4096);
  pthread_barrier_init(&w.barrier, NULL, (unsigned)k);
  rank_t ranks[MAX_RANKS];
  pthread_t th[MAX_RANKS];
  for (int r = 0; r < k; r++) {
    ranks[r] = (rank_t){.w = &w, .rank = r, .env = env, .ckpt = split};
    pthread_create(&th[r], NULL, rank_main, &ranks[r]);
  }
  for (int r = 0; r < k; r++) pthread_join(th[r], NULL);
  for (int r = 0; r < k; r++) {
    if (fail_at) {
      NG_CHECK_STATUS(ranks[r].status, NG_EIO);
    } else {
      NG_CHECK_OK(ranks[r].status);
      int same = ranks[r].theta && ranks[r].n_pol == n_pol &&
                 memcmp(ranks[r].theta, want, n_pol * sizeof *want) == 0;
      if (!same) fprintf(stderr, "%s, %d ranks: rank %d's parameters differ\n", env, k, r);
      NG_CHECK(same);
    }
    free(ranks[r].theta);
  }
  if (!fail_at) {
    size_t na = 0, nb = 0;
    unsigned char *a = read_all(one, &na), *b = read_all(split, &nb);
    int same = a && b && na == nb && memcmp(a, b, na) == 0;
    if (!same) fprintf(stderr, "%s, %d ranks: checkpoint differs\n", env, k);
    NG_CHECK(same);
    free(a), free(b);
  }
  remove(one);
  remove(split);
  pthread_barrier_destroy(&w.barrier);
  free(w.shared);
  ng_rl_destroy(t);
}

static void test_same_run(void) {
  check_split("CartPole-v1", 5, 2, 0);
  check_split("CartPole-v1", 5, 3, 0);
  check_split("Pendulum-v1", 4, 4, 0);
  check_split("Acrobot-v1", 3, 2, 0);
}

static void test_gather_failure(void) { check_split("CartPole-v1", 4, 2, 10); }

static void test_bad_share(void) {
  ng_rl_t *t = NULL;
  NG_CHECK_OK(make_trainer(&t, "CartPole-v1", 3));
  if (!t) return;
  ng_error_t err;
  ng_rl_env_share_t s = {2, 2, gather, NULL};
  NG_CHECK_STATUS(ng_rl_set_env_share(t, &s, &err), NG_EINVAL); /* past the last env */
  NG_CHECK(strstr(err.message, "[2, 2 + 2)") != NULL);
  s = (ng_rl_env_share_t){0, 0, gather, NULL};
  NG_CHECK_STATUS(ng_rl_set_env_share(t, &s, NULL), NG_EINVAL); /* no envs */
  s = (ng_rl_env_share_t){0, 1, NULL, NULL};
  NG_CHECK_STATUS(ng_rl_set_env_share(t, &s, NULL), NG_EINVAL); /* no gather */
  NG_CHECK_OK(ng_rl_set_env_share(t, NULL, NULL));
  NG_CHECK_STATUS(ng_rl_set_env_share(NULL, NULL, NULL), NG_EINVAL);
  ng_rl_destroy(t);
}

int main(void) {
  NG_TEST_RUN(test_same_run);
  NG_TEST_RUN(test_gather_failure);
  NG_TEST_RUN(test_bad_share);
  NG_TEST_END();
}
