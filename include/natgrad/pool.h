/* natgrad pool: worker threads for the passes that split a batch (forward, backward, Fisher
 * products, environment steps).
 *
 * Results never depend on the number of threads. Callers cut their work into tasks by the
 * problem's size alone (fixed row chunks, a fixed number of partial sums added in a fixed
 * order), and the pool only decides which thread runs which task. A pool of 1 thread runs
 * every task on the caller's thread, in order; so does a NULL pool.
 *
 * Use: create one pool, attach it (borrowed) to the objects that should use it
 * (ng_mlp_ws_set_pool, ng_model_ws_set_pool, ng_fisher_set_pool; ng_rl_set_threads makes
 * the trainer its own), destroy it after them. Workers sleep between jobs. A task that
 * itself calls ng_pool_run (on any pool) runs its tasks inline, so nesting is safe. One
 * caller at a time per pool: two threads must not run jobs on the same pool concurrently.
 *
 * BLAS: OpenBLAS's own threads and these do not know of each other. With n_threads > 1 keep
 * OpenBLAS at 1 thread (OPENBLAS_NUM_THREADS=1), or both fight over the same cores.
 */
#ifndef NATGRAD_POOL_H
#define NATGRAD_POOL_H

#include <stddef.h>

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most threads a pool may have. */
#define NG_POOL_MAX_THREADS 64

typedef struct ng_pool ng_pool_t;

/* A pool of n_threads threads in all, the caller's included (n_threads - 1 workers are
 * started here). 1 <= n_threads <= NG_POOL_MAX_THREADS, else NG_EINVAL; NG_ENOMEM if a
 * thread cannot be started. */
int ng_pool_create(ng_pool_t **out, int n_threads);
/* Stops and joins the workers. NULL is a no-op. */
void ng_pool_destroy(ng_pool_t *p);
/* Threads of p (1 for NULL). */
int ng_pool_threads(const ng_pool_t *p);

/* A task: returns NG_OK or a status. */
typedef int (*ng_task_fn)(void *ctx, size_t task);

/* Runs fn(ctx, i) for every i in [0, n_tasks), spread over p's threads (the caller takes
 * part), and returns when all have finished: NG_OK, or the status of the failing task with
 * the lowest index (every task still runs). NULL p, n_tasks <= 1, or a call from inside a
 * task: all tasks run on the calling thread in index order. NG_EINVAL for a NULL fn. */
int ng_pool_run(ng_pool_t *p, size_t n_tasks, ng_task_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
