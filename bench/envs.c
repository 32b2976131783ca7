/* Environment steps per second, and whole training runs with the tuned defaults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "progress.h"
#include "natgrad/rl.h"

/* One env's state for the threaded steps, alone on its cache lines: RNGs and buffers of two
 * envs side by side made both cores fight over one line at every step (CartPole ran 0.6x
 * slower on two threads than on one). */
typedef struct {
  _Alignas(64) ng_rng_t rng;
  ng_env_t *env;
  double *obs, *act; /* each in its own 64-byte-aligned block */
} env_slot_t;

typedef struct {
  env_slot_t *slot[NG_POOL_MAX_THREADS];
  const ng_env_info_t *info;
  long steps;
} env_job_t;

/* Steps env i `steps` times with uniformly random actions (Box: uniform on its bounds, or
 * normal where a bound is infinite; the other kinds uniform on their integers), resetting at
 * episode ends. */
static int env_task(void *ctx, size_t i) {
  env_job_t *j = ctx;
  env_slot_t *e = j->slot[i];
  const ng_space_t *as = &j->info->action_space;
  for (long t = 0; t < j->steps; t++) {
    if (as->kind == NG_SPACE_DISCRETE) {
      e->act[0] = (double)ng_rng_below(&e->rng, as->dim);
    } else if (as->kind != NG_SPACE_BOX) { /* MultiDiscrete, MultiBinary: each component */
      for (size_t d = 0; d < as->dim; d++)
        e->act[d] = (double)ng_rng_below(&e->rng, as->nvec ? as->nvec[d] : 2);
    } else {
      for (size_t d = 0; d < as->dim; d++) {
        double lo = as->low[d], hi = as->high[d];
        e->act[d] = isfinite(lo) && isfinite(hi) ? ng_rng_uniform_range(&e->rng, lo, hi)
                                                 : ng_rng_normal(&e->rng);
      }
    }
    double r;
    int term = 0, trunc = 0;
    int st = ng_env_step(e->env, e->act, e->obs, &r, &term, &trunc);
    if (!st && (term || trunc)) st = ng_env_reset(e->env, e->obs);
    if (st) return st;
  }
  return NG_OK;
}

typedef struct {
  env_job_t *job;
  ng_pool_t *pool;
  size_t n_envs;
} env_run_t;

static int op_envs(void *ctx, double *self_s) {
  env_run_t *r = ctx;
  return ng_pool_run(r->pool, r->n_envs, env_task, r->job);
}

ng_bench_env_result_t ng_bench_env(const ng_bench_opts_t *o, const ng_env_info_t *info,
                                   ng_pool_t *pool) {
  ng_bench_env_result_t res = {info->id, NAN, NAN, NG_OK};
  env_job_t *j = calloc(1, sizeof *j);
  if (!j) {
    res.status = NG_ENOMEM;
    return res;
  }
  j->info = info;
  size_t n_envs = o->threads > 1 ? (size_t)o->threads : 1;
  size_t od = ng_space_size(&info->observation_space), ad = ng_space_size(&info->action_space);
  size_t ob = (od * sizeof(double) + 63) / 64 * 64;
  size_t ab = ((ad ? ad : 1) * sizeof(double) + 63) / 64 * 64;
  for (size_t i = 0; i < n_envs && !res.status; i++) {
    env_slot_t *e = j->slot[i] = aligned_alloc(64, sizeof *e);
    if (!e) {
      res.status = NG_ENOMEM;
      break;
    }
    memset(e, 0, sizeof *e);
    e->obs = aligned_alloc(64, ob);
    e->act = aligned_alloc(64, ab);
    if (!e->obs || !e->act) {
      res.status = NG_ENOMEM;
      break;
    }
    res.status = ng_env_create(&e->env, info->id, NULL);
    if (res.status) break;
    ng_env_seed(e->env, 0, i);
    ng_rng_seed(&e->rng, 0, 1000 + i);
    res.status = ng_env_reset(e->env, e->obs);
  }
  if (!res.status) {
    /* steps per repetition: a tenth of the time budget's worth */
    j->steps = 200;
    double t0 = ng_progress_now();
    res.status = env_task(j, 0);
    double per = (ng_progress_now() - t0) / 200.0;
    j->steps = per > 0 ? (long)(0.1 * o->target_s / per) : 100000;
    if (j->steps < 100) j->steps = 100;
    if (j->steps > 1000000) j->steps = 1000000;
  }
  if (!res.status) {
    env_run_t run = {j, NULL, 1};
    ng_bench_timing_t t = ng_bench_time_op(op_envs, &run, o->target_s, 5);
    res.status = t.status;
    res.rate1 = (double)j->steps / t.median_s;
    if (!res.status && n_envs > 1) {
      env_run_t run_n = {j, pool, n_envs};
      t = ng_bench_time_op(op_envs, &run_n, o->target_s, 5);
      res.status = t.status;
      res.rate_n = (double)j->steps * (double)n_envs / t.median_s;
    }
  }
  for (size_t i = 0; i < n_envs; i++) {
    if (!j->slot[i]) continue;
    ng_env_destroy(j->slot[i]->env);
    free(j->slot[i]->obs);
    free(j->slot[i]->act);
    free(j->slot[i]);
  }
  free(j);
  return res;
}

void ng_bench_train_run(const char *env, int threads, ng_bench_run_result_t *r) {
  memset(r, 0, sizeof *r);
  r->env = env;
  r->threads = threads;
  r->mean_return = NAN;
  ng_rl_config_t cfg;
  ng_error_t err;
  ng_error_clear(&err);
  ng_rl_t *t = NULL;
  double t0 = ng_progress_now();
  r->status = ng_rl_config_default(&cfg, env, &err);
  if (!r->status) r->status = ng_rl_create(&t, &cfg, &err);
  if (!r->status) r->status = ng_rl_set_threads(t, threads);
  while (!r->status && !ng_rl_done(t)) {
    ng_rl_stats_t st;
    r->status = ng_rl_iterate(t, &st, &err);
    if (r->status) break;
    r->iterations++;
    r->rollout_s += st.rollout_seconds;
    r->update_s += st.update_seconds;
    r->policy_update_s += st.policy_update_seconds;
    if (!isnan(st.mean_return)) r->mean_return = st.mean_return;
  }
  r->wall_s = ng_progress_now() - t0;
  r->steps = t ? ng_rl_env_steps(t) : 0;
  snprintf(r->message, sizeof r->message, "%s", err.message);
  ng_rl_destroy(t);
}
