/* The TRPO kernels on the peer's shapes, and the trainer's own policy update.
 *
 * The kernels (gradient, Fisher set-up, one F.v, 10 CG iterations) are the library's model,
 * Fisher and CG calls on a random batch, as the PyTorch reference times its own. The update
 * is not reassembled here: a trainer (natgrad/rl.h) on the policy's environment, with the
 * kernels' settings, runs whole iterations, and each sample is the policy update's own time
 * as ng_rl_iterate reports it (policy_update_seconds). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "natgrad/rl.h"

const char *const ng_bench_op_names[NG_BENCH_N_OPS] = {"grad", "setup", "fvp", "cg10",
                                                       "update"};

const ng_bench_policy_t ng_bench_policies[2] = {
    {"cartpole", "cat", "CartPole-v1", 4, 2, 0},
    {"hopper", "gauss", "Hopper-v5", 11, 3, 1},
};

const ng_bench_policy_t *ng_bench_policy_find(const char *name) {
  for (size_t i = 0; i < 2; i++)
    if (!strcmp(name, ng_bench_policies[i].name)) return &ng_bench_policies[i];
  return NULL;
}

/* ---- FLOPs -------------------------------------------------------------------------------- */

ng_bench_flops_t ng_bench_flops(size_t L, const size_t *s, size_t batch, size_t k,
                                int factored) {
  const double N = (double)batch;
  ng_bench_flops_t f = {0.0, 0.0, 0.0, 0.0};
  for (size_t l = 0; l < L; l++) f.fwd += 2.0 * N * (double)s[l] * (double)s[l + 1];
  const double first = 2.0 * N * (double)s[0] * (double)s[1];
  f.grad = 3.0 * f.fwd - first;
  f.setup = f.fwd;
  if (factored && L >= 3) {
    f.setup += 2.0 * N * (double)k *
               ((double)s[L] * (double)s[L - 1] + (double)s[L - 1] * (double)s[L - 2]);
    for (size_t l = 1; l + 3 <= L; l++)
      f.setup += 2.0 * N * (double)k * (double)s[l + 1] * (double)s[l];
  }
  f.fvp = factored ? 2.0 * f.fwd + (L >= 2 ? 4.0 * N * (double)s[L - 1] * (double)s[L] : 0.0)
                   : 4.0 * f.fwd - 2.0 * first;
  return f;
}

double ng_bench_update_flops(const ng_bench_flops_t *f, double cg_iters, double trials) {
  return f->grad + f->setup + (cg_iters + 1.0) * f->fvp + trials * f->fwd;
}

/* ---- the problem -------------------------------------------------------------------------- */

void ng_bench_problem_free(ng_bench_problem_t *p) {
  ng_cg_destroy(p->cg);
  ng_fisher_destroy(p->fisher);
  ng_model_ws_destroy(p->ws);
  ng_model_destroy(p->model);
  double *arrays[] = {p->theta, p->x, p->act, p->p_old, p->logp_old, p->adv,
                      p->w,     p->logp, p->g, p->v, p->out, p->s};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
  memset(p, 0, sizeof *p);
}

int ng_bench_problem_init(ng_bench_problem_t *p, const ng_bench_policy_t *pol, size_t hidden,
                          size_t batch, int what, uint64_t seed) {
  memset(p, 0, sizeof *p);
  p->pol = pol;
  p->hidden[0] = p->hidden[1] = hidden;
  p->batch = batch;
  p->n_in = pol->n_in;
  ng_dist_t dist = pol->gauss ? (ng_dist_t){.kind = NG_DIST_GAUSSIAN, .dim = pol->out_dim}
                              : (ng_dist_t){.kind = NG_DIST_CATEGORICAL, .dim = pol->out_dim};
  int st = ng_model_create(&p->model, pol->n_in, 2, p->hidden, NG_ACT_TANH, dist,
                           NG_LOGSTD_STATE_INDEPENDENT);
  if (st) return st;
  p->n = ng_model_n_params(p->model);
  p->np = ng_model_n_dist_params(p->model);
  p->a_size = ng_dist_action_size(&dist);
  p->k = pol->gauss ? pol->out_dim : pol->out_dim - 1;
  p->sizes[0] = pol->n_in;
  p->sizes[1] = p->sizes[2] = hidden;
  p->sizes[3] = pol->out_dim;
  int fisher_only = what == NG_BENCH_PROBLEM_FISHER;
  if ((st = ng_model_ws_create(&p->ws, p->model, fisher_only ? 1 : batch))) goto fail;
  if (what != NG_BENCH_PROBLEM_GRAD && (st = ng_fisher_create(&p->fisher, p->model, batch)))
    goto fail;
  if ((st = ng_cg_create(&p->cg, p->n))) goto fail;
  size_t n = p->n;
  p->theta = malloc(n * sizeof(double));
  p->g = malloc(n * sizeof(double));
  p->v = malloc(n * sizeof(double));
  p->out = malloc(n * sizeof(double));
  p->s = malloc(n * sizeof(double));
  p->x = malloc(batch * p->n_in * sizeof(double));
  p->act = malloc(batch * p->a_size * sizeof(double));
  p->p_old = malloc(batch * p->np * sizeof(double));
  p->logp_old = malloc(batch * sizeof(double));
  p->logp = malloc(batch * sizeof(double));
  p->adv = malloc(batch * sizeof(double));
  p->w = malloc(batch * sizeof(double));
  st = NG_ENOMEM;
  if (!p->theta || !p->g || !p->v || !p->out || !p->s || !p->x || !p->act || !p->p_old ||
      !p->logp_old || !p->logp || !p->adv || !p->w)
    goto fail;
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  if ((st = ng_model_init(p->model, p->theta, sqrt(2.0), 0.01, 0.0, &rng))) goto fail;
  for (size_t i = 0; i < batch * p->n_in; i++) p->x[i] = ng_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) p->v[i] = ng_rng_normal(&rng);
  for (size_t i = 0; i < batch; i++) p->adv[i] = ng_rng_normal(&rng);
  if (fisher_only) return NG_OK;
  if ((st = ng_model_forward(p->model, p->theta, p->ws, batch, p->x, p->p_old))) goto fail;
  for (size_t b = 0; b < batch; b++)
    if ((st = ng_dist_sample(&dist, p->p_old + b * p->np, &rng, p->act + b * p->a_size)))
      goto fail;
  if ((st = ng_model_logp(p->model, p->ws, batch, p->act, p->logp_old))) goto fail;
  return NG_OK;
fail:
  ng_bench_problem_free(p);
  return st;
}

static void problem_set_pool(ng_bench_problem_t *p, ng_pool_t *pool) {
  ng_model_ws_set_pool(p->ws, pool);
  if (p->fisher) ng_fisher_set_pool(p->fisher, pool);
}

/* grad: forward + surrogate mean(A exp(logp - logp_old)) and its gradient, as the peer's. */
int ng_bench_op_grad(void *ctx, double *self_s) {
  ng_bench_problem_t *p = ctx;
  int st = ng_model_forward(p->model, p->theta, p->ws, p->batch, p->x, NULL);
  if (!st) st = ng_model_logp(p->model, p->ws, p->batch, p->act, p->logp);
  if (st) return st;
  for (size_t b = 0; b < p->batch; b++)
    p->w[b] = p->adv[b] * exp(p->logp[b] - p->logp_old[b]) / (double)p->batch;
  memset(p->g, 0, p->n * sizeof(double));
  return ng_model_logp_vjp(p->model, p->theta, p->ws, p->batch, p->act, p->w, p->g);
}

/* setup: the Fisher at theta (its forward, and the factored path's cache). */
int ng_bench_op_setup(void *ctx, double *self_s) {
  ng_bench_problem_t *p = ctx;
  return ng_fisher_set_point(p->fisher, p->theta, p->batch, p->x);
}

int ng_bench_op_fvp(void *ctx, double *self_s) {
  ng_bench_problem_t *p = ctx;
  return ng_fisher_apply(p->fisher, p->v, NG_BENCH_DAMPING, p->out);
}

int ng_bench_op_cg10(void *ctx, double *self_s) {
  ng_bench_problem_t *p = ctx;
  ng_cg_opts_t opts = {.max_iter = NG_BENCH_CG_ITERS, .residual_tol = 0.0};
  return ng_natgrad_cg(p->fisher, p->cg, NG_BENCH_DAMPING, p->g, p->s, &opts, NULL);
}

/* ---- the trainer's update ----------------------------------------------------------------- */

typedef struct {
  ng_rl_t *t;
  int calls, samples, skipped;
  double cg_sum, trials_sum;
  char message[512];
} update_t;

/* One training iteration; the sample is its policy update's time. The first call is
 * ng_bench_time_op's warm-up, so counts start at the second. */
static int op_update(void *ctx, double *self_s) {
  update_t *u = ctx;
  ng_rl_stats_t st;
  ng_error_t err;
  ng_error_clear(&err);
  int s = ng_rl_iterate(u->t, &st, &err);
  if (s) {
    snprintf(u->message, sizeof u->message, "%s", err.message);
    return s;
  }
  *self_s = st.policy_update_seconds;
  if (u->calls++ == 0) return NG_OK;
  u->samples++;
  u->cg_sum += st.cg_iterations;
  u->trials_sum += st.ls_trials;
  if (st.update_status != NG_OK) u->skipped++;
  return NG_OK;
}

/* A trainer for pol's environment whose batch is `batch` rows (one env, batch steps) and
 * whose policy update is the kernels' problem: 64-64 tanh, 10 CG iterations with no early
 * stop, the same damping, every row in the Fisher, TRPO's line search under max_kl. The
 * value function is not fitted (vf_epochs 0): that is not the policy update. */
static int update_trainer(const ng_bench_policy_t *pol, size_t batch, ng_rl_t **out,
                          ng_error_t *err) {
  char n_steps[32], cg[32], damping[32], kl[32];
  snprintf(n_steps, sizeof n_steps, "%zu", batch);
  snprintf(cg, sizeof cg, "%d", NG_BENCH_CG_ITERS);
  snprintf(damping, sizeof damping, "%.17g", NG_BENCH_DAMPING);
  snprintf(kl, sizeof kl, "%.17g", NG_BENCH_MAX_KL);
  const char *keys[][2] = {
      {"algo", "trpo"},        {"n_envs", "1"},          {"n_steps", n_steps},
      {"steps", "1000000000000000"}, {"policy_hidden", "64,64"}, {"policy_act", "tanh"},
      {"cg_iters", cg},        {"cg_residual_tol", "0"}, {"cg_damping", damping},
      {"max_kl", kl},          {"fisher_subsample", "1"}, {"entropy_coef", "0"},
      {"vf_epochs", "0"},      {"vf_minibatch", "1"}};
  ng_rl_config_t cfg;
  int s = ng_rl_config_default(&cfg, pol->env_id, err);
  for (size_t i = 0; !s && i < sizeof keys / sizeof keys[0]; i++)
    s = ng_rl_config_set(&cfg, keys[i][0], keys[i][1], err);
  if (!s) s = ng_rl_create(out, &cfg, err);
  return s;
}

/* The update at one thread, then (o->threads > 1) on the trainer's own threads, then with
 * that many OpenBLAS threads; into r->op[NG_BENCH_UPDATE] and r->update_*. */
static void time_update(const ng_bench_opts_t *o, const ng_bench_policy_t *pol, size_t batch,
                        ng_bench_kernel_result_t *r) {
  ng_bench_op_result_t *q = &r->op[NG_BENCH_UPDATE];
  update_t u;
  memset(&u, 0, sizeof u);
  ng_error_t err;
  ng_error_clear(&err);
  int s = update_trainer(pol, batch, &u.t, &err);
  if (s) {
    snprintf(r->update_error, sizeof r->update_error, "%s", err.message);
  } else {
    ng_rl_policy_params(u.t, &r->update_n_params);
    const int min_reps = 5;
    u.calls = 0;
    q->t1 = ng_bench_time_op(op_update, &u, o->target_s, min_reps);
    s = q->t1.status;
    if (!s && o->threads > 1) {
      if (!(s = ng_rl_set_threads(u.t, o->threads))) {
        u.calls = 0;
        q->tn = ng_bench_time_op(op_update, &u, o->target_s, min_reps);
        s = q->tn.status;
      }
      if (!s && !(s = ng_rl_set_threads(u.t, 1))) {
        openblas_set_num_threads(o->threads);
        u.calls = 0;
        q->tb = ng_bench_time_op(op_update, &u, o->target_s, min_reps);
        openblas_set_num_threads(1);
        s = q->tb.status;
      }
    }
    if (s) snprintf(r->update_error, sizeof r->update_error, "%s",
                    u.message[0] ? u.message : ng_strerror(s));
  }
  ng_rl_destroy(u.t);
  r->update_status = s;
  if (s) {
    memset(q, 0, sizeof *q);
    q->flops = NAN;
    return;
  }
  r->update_cg_iters = u.cg_sum / u.samples;
  r->update_trials = u.trials_sum / u.samples;
  r->update_skipped = u.skipped;
  q->flops = ng_bench_update_flops(&r->passes, r->update_cg_iters, r->update_trials);
}

/* ---- one (policy, batch) ------------------------------------------------------------------- */

static const ng_bench_op_fn KERNEL_OPS[NG_BENCH_UPDATE] = {ng_bench_op_grad, ng_bench_op_setup,
                                                           ng_bench_op_fvp, ng_bench_op_cg10};

int ng_bench_run_kernels(const ng_bench_opts_t *o, const ng_bench_policy_t *pol, size_t batch,
                         ng_pool_t *pool, ng_bench_kernel_result_t *r) {
  ng_bench_problem_t p;
  memset(r, 0, sizeof *r);
  int st = ng_bench_problem_init(&p, pol, 64, batch, NG_BENCH_PROBLEM_FULL, 0);
  if (st) return st;
  r->pol = pol;
  r->batch = batch;
  r->n_params = p.n;
  r->k = p.k;
  /* first pass: gradient and point, so cg10 has its right-hand side */
  if ((st = ng_bench_op_grad(&p, NULL)) || (st = ng_bench_op_setup(&p, NULL))) {
    ng_bench_problem_free(&p);
    return st;
  }
  r->factored = ng_fisher_factored(p.fisher);
  r->cache_bytes = r->factored ? ng_fisher_cache_bytes(p.model, batch) : 0;
  r->passes = ng_bench_flops(3, p.sizes, batch, p.k, r->factored);
  const double flops[NG_BENCH_UPDATE] = {r->passes.grad, r->passes.setup, r->passes.fvp,
                                         NG_BENCH_CG_ITERS * r->passes.fvp};
  for (int op = 0; op < NG_BENCH_UPDATE && !st; op++) {
    ng_bench_op_result_t *q = &r->op[op];
    int min_reps = op >= NG_BENCH_CG10 ? 5 : 11;
    q->flops = flops[op];
    problem_set_pool(&p, NULL);
    q->t1 = ng_bench_time_op(KERNEL_OPS[op], &p, o->target_s, min_reps);
    if (o->threads > 1) {
      problem_set_pool(&p, pool);
      q->tn = ng_bench_time_op(KERNEL_OPS[op], &p, o->target_s, min_reps);
      problem_set_pool(&p, NULL);
      openblas_set_num_threads(o->threads);
      q->tb = ng_bench_time_op(KERNEL_OPS[op], &p, o->target_s, min_reps);
      openblas_set_num_threads(1);
    }
    st = q->t1.status ? q->t1.status : q->tn.status ? q->tn.status : q->tb.status;
  }
  ng_bench_problem_free(&p);
  if (!st) time_update(o, pol, batch, r);
  return st;
}
