/* The worker pool: persistent pthreads, one job at a time, tasks claimed from a counter.
 *
 * A job is published under the mutex with a new generation number; every thread (workers
 * and the caller) then claims task indices from `claim`, whose high 32 bits hold the
 * generation: a worker that wakes up late still holding an old job's generation fails its
 * claim and can never run a newer job's task with the old job's function. The caller
 * returns once `done` reaches n_tasks. Workers spin briefly after a job before sleeping,
 * because passes come in quick succession (forward, backward, the next minibatch) and a
 * futex wake-up costs more than the short tasks it would start. */
#include "natgrad/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Spins (each one pause) before a worker sleeps, or the caller waits on the condition. */
#define NG__POOL_SPIN 4000

struct ng_pool {
  int n_threads;
  pthread_t *workers; /* n_threads - 1 */
  int n_started;
  pthread_mutex_t mu;
  pthread_cond_t wake; /* a new job or stop */
  pthread_cond_t idle; /* the last task of a job finished */
  /* the current job (written under mu before gen is bumped) */
  ng_task_fn fn;
  void *ctx;
  size_t n_tasks;
  atomic_uint_fast64_t gen;   /* job generation (32 bits used) */
  atomic_uint_fast64_t claim; /* gen << 32 | next task index */
  atomic_size_t done;         /* tasks finished in the current job */
  size_t err_task;            /* lowest failing task index (n_tasks: none), under mu */
  int err_status;
  int stop;
};

/* Set while this thread runs a task: nested ng_pool_run calls run inline. */
static _Thread_local int ng__in_task = 0;

static inline void ng__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Runs the tasks of generation g that this thread can claim. */
static void ng__pool_work(ng_pool_t *p, uint64_t g, ng_task_fn fn, void *ctx, size_t n) {
  for (;;) {
    uint64_t c = atomic_load(&p->claim);
    if ((c >> 32) != g || (c & 0xffffffffu) >= n) return;
    if (!atomic_compare_exchange_weak(&p->claim, &c, c + 1)) continue;
    size_t i = (size_t)(c & 0xffffffffu);
    ng__in_task = 1;
    int st = fn(ctx, i);
    ng__in_task = 0;
    if (st != NG_OK) {
      pthread_mutex_lock(&p->mu);
      if (i < p->err_task) {
        p->err_task = i;
        p->err_status = st;
      }
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_fetch_add(&p->done, 1) + 1 == n) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->idle);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

static void *ng__pool_main(void *arg) {
  ng_pool_t *p = arg;
  uint64_t seen = 0;
  for (;;) {
    /* spin a little for the next job, then sleep */
    for (int s = 0; s < NG__POOL_SPIN && atomic_load(&p->gen) == seen; s++) ng__cpu_relax();
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->gen) == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
    if (p->stop) {
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    seen = atomic_load(&p->gen);
    ng_task_fn fn = p->fn;
    void *ctx = p->ctx;
    size_t n = p->n_tasks;
    pthread_mutex_unlock(&p->mu);
    ng__pool_work(p, seen, fn, ctx, n);
  }
}

int ng_pool_create(ng_pool_t **out, int n_threads) {
  if (!out) return NG_EINVAL;
  *out = NULL;
  if (n_threads < 1 || n_threads > NG_POOL_MAX_THREADS) return NG_EINVAL;
  ng_pool_t *p = ng_calloc(1, sizeof *p);
  if (!p) return NG_ENOMEM;
  p->n_threads = n_threads;
  atomic_init(&p->gen, 0);
  atomic_init(&p->claim, 0);
  atomic_init(&p->done, 0);
  if (pthread_mutex_init(&p->mu, NULL) != 0) {
    ng_free(p);
    return NG_ENOMEM;
  }
  if (pthread_cond_init(&p->wake, NULL) != 0) {
    pthread_mutex_destroy(&p->mu);
    ng_free(p);
    return NG_ENOMEM;
  }
  if (pthread_cond_init(&p->idle, NULL) != 0) {
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    ng_free(p);
    return NG_ENOMEM;
  }
  if (n_threads > 1) {
    p->workers = ng_calloc((size_t)n_threads - 1, sizeof *p->workers);
    if (!p->workers) {
      ng_pool_destroy(p);
      return NG_ENOMEM;
    }
    for (int i = 0; i < n_threads - 1; i++) {
      if (pthread_create(&p->workers[i], NULL, ng__pool_main, p) != 0) {
        ng_pool_destroy(p);
        return NG_ENOMEM;
      }
      p->n_started++;
    }
  }
  *out = p;
  return NG_OK;
}

void ng_pool_destroy(ng_pool_t *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->n_started; i++) pthread_join(p->workers[i], NULL);
  ng_free(p->workers);
  pthread_cond_destroy(&p->idle);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mu);
  ng_free(p);
}

int ng_pool_threads(const ng_pool_t *p) { return p ? p->n_threads : 1; }

/* Every task on this thread, in order; the lowest failing index's status. */
static int ng__pool_serial(size_t n_tasks, ng_task_fn fn, void *ctx) {
  int first = NG_OK;
  int outer = ng__in_task;
  ng__in_task = 1;
  for (size_t i = 0; i < n_tasks; i++) {
    int st = fn(ctx, i);
    if (st != NG_OK && first == NG_OK) first = st;
  }
  ng__in_task = outer;
  return first;
}

int ng_pool_run(ng_pool_t *p, size_t n_tasks, ng_task_fn fn, void *ctx) {
  if (!fn) return NG_EINVAL;
  if (n_tasks == 0) return NG_OK;
  if (!p || p->n_threads < 2 || n_tasks == 1 || ng__in_task || n_tasks > 0xffffffffu)
    return ng__pool_serial(n_tasks, fn, ctx);
  pthread_mutex_lock(&p->mu);
  uint64_t g = (atomic_load(&p->gen) + 1) & 0xffffffffu;
  if (g == 0) g = 1; /* 0 is the workers' initial "seen" */
  p->fn = fn;
  p->ctx = ctx;
  p->n_tasks = n_tasks;
  p->err_task = n_tasks;
  p->err_status = NG_OK;
  atomic_store(&p->done, 0);
  atomic_store(&p->claim, g << 32);
  atomic_store(&p->gen, g);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);

  ng__pool_work(p, g, fn, ctx, n_tasks);
  for (int s = 0; s < NG__POOL_SPIN && atomic_load(&p->done) < n_tasks; s++) ng__cpu_relax();
  pthread_mutex_lock(&p->mu);
  while (atomic_load(&p->done) < n_tasks) pthread_cond_wait(&p->idle, &p->mu);
  int st = p->err_status;
  pthread_mutex_unlock(&p->mu);
  return st;
}
