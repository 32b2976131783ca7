/* Env blocks (cfg.blocks = B > 1): the run's envs cut into B equal blocks, each with a
 * trainer of its own over its envs' rows (ng__rl_create_block), all taking the same
 * iteration in lockstep. Every batch sum a block's trainer makes goes through its reducer,
 * which waits until every block has reached that sum, adds the B partial sums in block
 * order (other processes' blocks through the split: its sum, MPI's reduce-scatter in block
 * order, or its gather and the additions here) and hands the total to every block. A sum therefore does not depend on which thread or process ran
 * which block, and a process holds the rows of its own blocks only: nothing of the batch is
 * repeated across processes but the update's vectors (docs/distributed.md).
 *
 * The blocks of one process run on their own threads, at most blk_threads of them at once:
 * a thread gives up its turn while it waits for a sum. The run's trainer (t) keeps the
 * state the blocks share (parameters, optimiser, normalisers, counters), every env and
 * its episode state (borrowed by the blocks) and every block's random stream, and takes
 * them from the blocks after each iteration; so saving, loading, predicting and evaluating
 * are the one-batch trainer's code. */
#include <pthread.h>
#include <string.h>

#include "rl/rl_impl.h"

typedef struct ng__blocks ng__blocks_t;

/* One local block's seat at the reduction, and its iteration's outcome. */
typedef struct {
  ng__blocks_t *g;
  size_t i; /* index among this process's blocks */
  ng_rl_stats_t stats;
  ng_error_t err;
  int status;
} ng__seat_t;

struct ng__blocks {
  ng_rl_t *t;
  pthread_mutex_t mu;
  pthread_cond_t done;  /* a sum is complete (gen moved on) */
  pthread_cond_t turn;  /* a thread gave up its turn */
  size_t active;        /* local blocks still in this iteration */
  size_t arrived;       /* of them, waiting at the current sum */
  unsigned long gen;
  int turns;            /* threads that may compute now */
  int failed;           /* a block has failed this iteration: every sum returns an error */
  int status;           /* the last sum's */
  double **bufs;        /* blk_count: each local block's buffer at the current sum */
  size_t *lens;         /* blk_count: and its length */
  double **parts;       /* B: every block's partial sum for the gather */
  size_t *part_lens;    /* B */
  double *others, *acc; /* the other processes' blocks' partials ((B - own) x n), the total */
  size_t cap;           /* doubles per block the two have room for */
  ng_split_t split;     /* the processes' sum or gather; size 1: this process alone */
  ng__seat_t *seats;    /* blk_count */
  pthread_t *threads;   /* blk_count */
};

/* The total of every block's partial sum, in block order, into every local block's buffer.
 * Under the lock, by the last block to arrive. */
static int ng__blocks_combine(ng__blocks_t *g) {
  const ng_rl_t *t = g->t;
  const size_t B = (size_t)t->cfg.blocks, own = t->blk_count, n = g->lens[0];
  for (size_t i = 1; i < own; i++)
    if (g->lens[i] != n) return NG_EINVAL; /* blocks out of step: a bug, not bad input */
  if (n > g->cap) {
    double *o = ng_realloc(g->others, ((B - own) * n + 1) * sizeof *o);
    if (o) g->others = o;
    double *a = o ? ng_realloc(g->acc, n * sizeof *a) : NULL;
    if (a) g->acc = a;
    if (!o || !a) return NG_ENOMEM;
    g->cap = n;
  }
  const ng_split_t *sp = &g->split;
  int s;
  if (ng_split_active(sp) && sp->sum) { /* the processes add it (fewer bytes) */
    if ((s = sp->sum(sp->ctx, (const double *const *)g->bufs, n, B, g->acc))) return s;
  } else {
    for (size_t b = 0, k = 0; b < B; b++) {
      const int mine = b >= t->blk_first && b < t->blk_first + own;
      g->parts[b] = mine ? g->bufs[b - t->blk_first] : g->others + (k++) * n;
      g->part_lens[b] = n;
    }
    if (ng_split_active(sp) && (s = sp->gather(sp->ctx, g->parts, g->part_lens, B))) return s;
    memcpy(g->acc, g->parts[0], n * sizeof *g->acc);
    for (size_t b = 1; b < B; b++) {
      const double *p = g->parts[b];
      for (size_t j = 0; j < n; j++) g->acc[j] += p[j];
    }
  }
  for (size_t i = 0; i < own; i++) memcpy(g->bufs[i], g->acc, n * sizeof *g->acc);
  return NG_OK;
}

/* Gives up this thread's turn (to a block waiting for one) and takes it back. */
static void ng__turn_give(ng__blocks_t *g) {
  g->turns++;
  pthread_cond_signal(&g->turn);
}
static void ng__turn_take(ng__blocks_t *g) {
  while (g->turns == 0) pthread_cond_wait(&g->turn, &g->mu);
  g->turns--;
}

/* Completes the current sum without combining, for blocks that left it (failed). */
static void ng__release(ng__blocks_t *g) {
  g->arrived = 0;
  g->gen++;
  pthread_cond_broadcast(&g->done);
}

/* The block trainers' reducer (core.h's ng_reducer_t). */
static int ng__blocks_sum(void *ctx, double *buf, size_t n) {
  ng__seat_t *seat = ctx;
  ng__blocks_t *g = seat->g;
  pthread_mutex_lock(&g->mu);
  if (g->failed) {
    pthread_mutex_unlock(&g->mu);
    return NG_EINTERRUPTED;
  }
  g->bufs[seat->i] = buf;
  g->lens[seat->i] = n;
  if (++g->arrived < g->active) {
    const unsigned long gen = g->gen;
    ng__turn_give(g);
    while (g->gen == gen) pthread_cond_wait(&g->done, &g->mu);
    ng__turn_take(g);
  } else {
    g->status = ng__blocks_combine(g);
    ng__release(g);
  }
  const int s = g->failed ? NG_EINTERRUPTED : g->status;
  pthread_mutex_unlock(&g->mu);
  return s;
}

static void *ng__block_main(void *arg) {
  ng__seat_t *seat = arg;
  ng__blocks_t *g = seat->g;
  pthread_mutex_lock(&g->mu);
  ng__turn_take(g);
  pthread_mutex_unlock(&g->mu);
  seat->status = ng_rl_iterate(g->t->blk[seat->i], &seat->stats, &seat->err);
  pthread_mutex_lock(&g->mu);
  g->active--;
  ng__turn_give(g);
  if (seat->status) g->failed = 1;
  /* the others may be waiting for a sum this block will not reach */
  if (g->arrived > 0 && g->arrived >= g->active) ng__release(g);
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

void ng__rl_blocks_sync(ng_rl_t *t) {
  for (size_t i = 0; t->blk && i < t->blk_count; i++) {
    ng_rl_t *k = t->blk[i];
    ng__rl_copy_shared(k, t);
    k->env_steps = t->env_steps / t->cfg.blocks;
    k->rng = t->blk_rng[t->blk_first + i];
  }
}

/* The blocks' trainers (not the range of blocks this process runs). */
static void ng__free_blocks(ng_rl_t *t) {
  for (size_t i = 0; t->blk && i < t->blk_count; i++) ng_rl_destroy(t->blk[i]);
  ng_free(t->blk);
  t->blk = NULL;
}

/* The trainers of this process's blocks [blk_first, blk_first + blk_count), in t's state.
 * Made at the first iteration, so that a process holds only its own blocks' batches (one
 * that will run 1 of 64 blocks never builds the other 63) and a trainer loaded only to be
 * evaluated or exported builds none. */
static int ng__make_blocks(ng_rl_t *t, ng_error_t *err) {
  t->blk = ng_calloc(t->blk_count, sizeof *t->blk);
  if (!t->blk) return ng_error_set(err, NG_ENOMEM, "rl: out of memory");
  ng__blocks_t *g = t->grp;
  for (size_t i = 0; i < t->blk_count; i++) {
    int s = ng__rl_create_block(t, t->blk_first + i, &t->blk[i], err);
    g->seats[i] = (ng__seat_t){.g = g, .i = i};
    const ng_reducer_t red = {ng__blocks_sum, &g->seats[i]};
    if (!s && (s = ng_rl_set_reducer(t->blk[i], &red)))
      ng_error_set(err, s, "rl: block %zu: %s", t->blk_first + i, ng_strerror(s));
    if (s) {
      ng__free_blocks(t);
      return s;
    }
  }
  ng__rl_blocks_sync(t);
  return NG_OK;
}

int ng__rl_blocks_create(ng_rl_t *t, ng_error_t *err) {
  const size_t B = (size_t)t->cfg.blocks;
  ng__blocks_t *g = ng_calloc(1, sizeof *g);
  if (!g) return ng_error_set(err, NG_ENOMEM, "rl: out of memory");
  t->grp = g;
  g->t = t;
  g->split = (ng_split_t){0, 0, 1, NULL, NULL, NULL};
  if (pthread_mutex_init(&g->mu, NULL)) {
    ng_free(g);
    t->grp = NULL;
    return ng_error_set(err, NG_ENOMEM, "rl: cannot create a mutex");
  }
  pthread_cond_init(&g->done, NULL);
  pthread_cond_init(&g->turn, NULL);
  g->bufs = ng_calloc(B, sizeof *g->bufs);
  g->lens = ng_calloc(B, sizeof *g->lens);
  g->parts = ng_calloc(B, sizeof *g->parts);
  g->part_lens = ng_calloc(B, sizeof *g->part_lens);
  g->seats = ng_calloc(B, sizeof *g->seats);
  g->threads = ng_calloc(B, sizeof *g->threads);
  t->blk_rng = ng_calloc(B, sizeof *t->blk_rng);
  if (!g->bufs || !g->lens || !g->parts || !g->part_lens || !g->seats || !g->threads ||
      !t->blk_rng)
    return ng_error_set(err, NG_ENOMEM, "rl: out of memory");
  for (size_t b = 0; b < B; b++) ng_rng_seed(&t->blk_rng[b], t->cfg.seed, NG_RL_STREAM_BLOCK + b);
  t->blk_threads = 1;
  t->blk_first = 0; /* every block here, until ng_rl_set_split says otherwise */
  t->blk_count = B;
  return NG_OK;
}

void ng__rl_blocks_destroy(ng_rl_t *t) {
  ng__blocks_t *g = t->grp;
  if (!g) return;
  ng__free_blocks(t);
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->done);
  pthread_cond_destroy(&g->turn);
  void *arrays[] = {g->bufs, g->lens, g->parts, g->part_lens, g->others, g->acc, g->seats,
                    g->threads};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) ng_free(arrays[i]);
  ng_free(g);
  t->grp = NULL;
}

int ng__rl_blocks_set_split(ng_rl_t *t, const ng_split_t *sp) {
  const size_t B = (size_t)t->cfg.blocks;
  ng_split_t one = {0, 0, 1, NULL, NULL, NULL}, s = sp ? *sp : one;
  size_t first, count;
  ng_split_own(&s, B, &first, &count);
  if (count == 0) return NG_EINVAL;
  if (first != t->blk_first || count != t->blk_count) { /* others: made at the next iteration */
    ng__free_blocks(t);
    t->blk_first = first;
    t->blk_count = count;
  }
  t->grp->split = s;
  return NG_OK;
}

int ng__rl_blocks_iterate(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err) {
  ng__blocks_t *g = t->grp;
  const size_t own = t->blk_count;
  const int made = t->blk ? NG_OK : ng__make_blocks(t, err);
  if (made) return made;
  g->active = own;
  g->arrived = 0;
  g->failed = 0;
  g->status = NG_OK;
  g->turns = t->blk_threads;
  size_t started = 0;
  for (size_t i = 0; i < own; i++) {
    t->blk[i]->step_hook = t->step_hook;
    t->blk[i]->step_hook_ctx = t->step_hook_ctx;
  }
  if (own == 1) { /* the usual MPI case: one block per process, on this thread */
    ng__block_main(&g->seats[0]);
    started = 1;
  } else {
    for (; started < own; started++)
      if (pthread_create(&g->threads[started], NULL, ng__block_main, &g->seats[started])) break;
    if (started < own) { /* the ones that started would wait for the others for ever */
      pthread_mutex_lock(&g->mu);
      g->failed = 1;
      g->active -= own - started;
      if (g->arrived > 0 && g->arrived >= g->active) ng__release(g);
      pthread_mutex_unlock(&g->mu);
    }
    for (size_t i = 0; i < started; i++) pthread_join(g->threads[i], NULL);
  }
  if (started < own)
    return ng_error_set(err, NG_ENOMEM, "iteration %ld: cannot start a thread for every "
                        "block; nothing changed", t->iteration + 1);
  /* the first block that failed of itself, not because another did */
  const ng__seat_t *bad = NULL;
  for (size_t i = 0; i < own; i++) {
    const ng__seat_t *s = &g->seats[i];
    if (s->status && (!bad || (bad->status == NG_EINTERRUPTED && s->status != NG_EINTERRUPTED)))
      bad = s;
  }
  if (bad) {
    /* every block is back at the iteration's start (its own snapshot); so is t */
    if (err) *err = bad->err;
    return bad->status;
  }
  ng__rl_copy_shared(t, t->blk[0]);
  for (size_t i = 0; i < own; i++) t->blk_rng[t->blk_first + i] = t->blk[i]->rng;
  t->env_steps += (long)(t->n_steps * t->n_envs);
  *stats = g->seats[0].stats;
  stats->iteration = t->iteration;
  stats->env_steps = t->env_steps;
  ng_error_clear(err);
  return NG_OK;
}
