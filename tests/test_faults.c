/* Numerical faults never propagate. Each fault is injected where it would arise, through
 * the trainer's two seams: the environment-step hook (rl_impl.h: a misbehaving environment
 * returning a NaN observation, an Inf reward or a failed step) and the batch reducer (every
 * sum of the update passes through it: Fisher products for a CG breakdown or s^T F s <= 0,
 * the surrogate's sums for a non-finite loss in every line-search trial, the value
 * function's gradient). For each, the test checks that it is detected where it happens,
 * that the report names what and where (environment, episode step, run step, iteration, or
 * the stage of the update), and that the policy stays at its last good value bit for bit
 * (and, for a failed iteration, the value function, optimiser and normalisers too). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ng_test.h"
#include "rl/rl_impl.h"

static ng_rl_t *make(const char *env, int n_steps, int normalize) {
  ng_rl_config_t c;
  ng_error_t err;
  if (ng_rl_config_default(&c, env, &err)) exit(1);
  c.n_envs = 2;
  c.n_steps = n_steps;
  c.vf_minibatch = n_steps / 2;
  c.vf_epochs = 2;
  c.normalize_obs = c.normalize_reward = normalize;
  ng_rl_t *t = NULL;
  if (ng_rl_create(&t, &c, &err)) {
    fprintf(stderr, "create: %s\n", err.message);
    exit(1);
  }
  return t;
}

/* Everything a failed iteration must leave as it was. */
typedef struct {
  double *theta, *vtheta, *m, *v, *obs_mean, *obs_var, ret[3];
  long adam_t, iteration;
} saved_t;

static void save_state(const ng_rl_t *t, saved_t *s) {
  s->theta = malloc(t->n_pol * sizeof(double));
  s->vtheta = malloc(t->n_vf * sizeof(double));
  s->m = malloc(t->n_vf * sizeof(double));
  s->v = malloc(t->n_vf * sizeof(double));
  s->obs_mean = malloc(t->obs_dim * sizeof(double));
  s->obs_var = malloc(t->obs_dim * sizeof(double));
  memcpy(s->theta, t->theta, t->n_pol * sizeof(double));
  memcpy(s->vtheta, t->vtheta, t->n_vf * sizeof(double));
  memcpy(s->m, t->adam.m, t->n_vf * sizeof(double));
  memcpy(s->v, t->adam.v, t->n_vf * sizeof(double));
  memcpy(s->obs_mean, t->obs_rms.mean, t->obs_dim * sizeof(double));
  memcpy(s->obs_var, t->obs_rms.var, t->obs_dim * sizeof(double));
  s->ret[0] = t->ret_rms.mean[0];
  s->ret[1] = t->ret_rms.var[0];
  s->ret[2] = t->ret_rms.count;
  s->adam_t = t->adam.t;
  s->iteration = t->iteration;
}

/* 1 if t holds exactly the saved state (policy only, or everything). */
static int same_state(const ng_rl_t *t, const saved_t *s, int policy_only) {
  int same = memcmp(s->theta, t->theta, t->n_pol * sizeof(double)) == 0 &&
             memcmp(s->obs_mean, t->obs_rms.mean, t->obs_dim * sizeof(double)) == 0 &&
             memcmp(s->obs_var, t->obs_rms.var, t->obs_dim * sizeof(double)) == 0;
  if (policy_only) return same;
  return same && memcmp(s->vtheta, t->vtheta, t->n_vf * sizeof(double)) == 0 &&
         memcmp(s->m, t->adam.m, t->n_vf * sizeof(double)) == 0 &&
         memcmp(s->v, t->adam.v, t->n_vf * sizeof(double)) == 0 && s->adam_t == t->adam.t &&
         s->ret[0] == t->ret_rms.mean[0] && s->ret[1] == t->ret_rms.var[0] &&
         s->ret[2] == t->ret_rms.count && s->iteration == t->iteration;
}

static void free_state(saved_t *s) {
  free(s->theta);
  free(s->vtheta);
  free(s->m);
  free(s->v);
  free(s->obs_mean);
  free(s->obs_var);
}

/* ---- a misbehaving environment ------------------------------------------------------ */

typedef enum { FAULT_NAN_OBS, FAULT_INF_REWARD, FAULT_STEP_FAILS } fault_kind_t;

typedef struct {
  fault_kind_t kind;
  long at_run_step; /* the run step at which the env misbehaves */
  size_t env;       /* filled in: which env it was */
  long ep_step;     /* filled in: its episode step */
  const ng_rl_t *t;
  int fired;
} fault_t;

static int fault_hook(void *ctx, size_t env, long run_step, int status, double *obs,
                      double *reward) {
  fault_t *f = ctx;
  if (run_step != f->at_run_step || status != NG_OK) return status;
  f->fired++;
  f->env = env;
  f->ep_step = f->t->ep_length[env] + 1;
  switch (f->kind) {
  case FAULT_NAN_OBS:
    obs[f->t->obs_dim - 1] = NAN;
    return NG_OK;
  case FAULT_INF_REWARD:
    *reward = INFINITY;
    return NG_OK;
  case FAULT_STEP_FAILS:
    return NG_ENONFINITE; /* what env.c returns when the dynamics leave the finite numbers */
  }
  return status;
}

static void check_env_fault(const char *env, fault_kind_t kind, const char *what) {
  const int n_steps = 64; /* 2 envs: 128 run steps per iteration */
  ng_rl_t *t = make(env, n_steps, 1);
  ng_rl_stats_t st;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  saved_t before;
  save_state(t, &before);
  fault_t f = {kind, 128 + 77, 0, 0, t, 0}; /* inside the second iteration */
  t->step_hook = fault_hook;
  t->step_hook_ctx = &f;
  NG_CHECK_STATUS(ng_rl_iterate(t, &st, &err), NG_ENONFINITE);
  NG_CHECK(f.fired == 1);
  /* the report: what, which environment, which step of its episode and of the run, which
   * iteration */
  char want[256];
  fprintf(stderr, "  %s\n", err.message);
  NG_CHECK(strstr(err.message, what) != NULL);
  NG_CHECK(strstr(err.message, env) != NULL);
  snprintf(want, sizeof want, "env %zu, step %ld of its episode (step %ld of the run)", f.env,
           f.ep_step, f.at_run_step);
  NG_CHECK(strstr(err.message, want) != NULL);
  NG_CHECK(strncmp(err.message, "iteration 2: ", 13) == 0);
  /* the last good state, bit for bit, and nothing non-finite anywhere it could spread */
  NG_CHECK(same_state(t, &before, 0));
  NG_CHECK(ng_all_finite(t->n_envs * t->obs_dim, t->obs_raw));
  NG_CHECK(ng_all_finite(t->n_envs * t->obs_dim, t->obs_norm));
  /* with a sane environment again, training goes on */
  t->step_hook = NULL;
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  NG_CHECK(ng_rl_iteration(t) == 2 && ng_all_finite(t->n_pol, t->theta));
  free_state(&before);
  ng_rl_destroy(t);
}

static void test_nan_observation(void) {
  check_env_fault("CartPole-v1", FAULT_NAN_OBS, "non-finite observation");
  check_env_fault("Pendulum-v1", FAULT_NAN_OBS, "non-finite observation");
}
static void test_inf_reward(void) {
  check_env_fault("Acrobot-v1", FAULT_INF_REWARD, "non-finite reward");
}
static void test_env_step_fails(void) {
  check_env_fault("MountainCarContinuous-v0", FAULT_STEP_FAILS, ng_strerror(NG_ENONFINITE));
}

/* ---- faults in the update, through the reducer -------------------------------------- */

typedef enum { POISON_NEGATE, POISON_NAN } poison_op_t;

typedef struct {
  size_t n;        /* poison sums of this many values ... */
  int from, to;    /* ... the from-th to the to-th of them in an iteration (1-based) */
  poison_op_t op;
  int seen, hits;
} poison_t;

static int poison_sum(void *ctx, double *buf, size_t n) {
  poison_t *p = ctx;
  if (n != p->n) return NG_OK;
  p->seen++;
  if (p->seen < p->from || p->seen > p->to) return NG_OK;
  p->hits++;
  if (p->op == POISON_NAN) buf[n / 2] = NAN;
  else
    for (size_t i = 0; i < n; i++) buf[i] = -buf[i];
  return NG_OK;
}

/* One iteration under the poison: the step is skipped (iterate succeeds), theta is
 * unchanged, and update_status / skip_reason say why. */
static void check_skipped(ng_rl_t *t, poison_t *p, int want_status, const char *want_reason) {
  ng_rl_stats_t st;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err)); /* a first, normal iteration */
  saved_t before;
  save_state(t, &before);
  ng_reducer_t red = {poison_sum, p};
  NG_CHECK_OK(ng_rl_set_reducer(t, &red));
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  NG_CHECK(p->hits >= 1);
  NG_CHECK_STATUS(st.update_status, want_status);
  NG_CHECK(st.step_accepted == 0);
  NG_CHECK(st.skip_reason && strstr(st.skip_reason, want_reason) != NULL);
  if (st.skip_reason) fprintf(stderr, "  skipped: %s\n", st.skip_reason);
  NG_CHECK(memcmp(before.theta, t->theta, t->n_pol * sizeof(double)) == 0);
  NG_CHECK(ng_all_finite(t->n_vf, t->vtheta));
  NG_CHECK_OK(ng_rl_set_reducer(t, NULL));
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  NG_CHECK(st.skip_reason == NULL || st.update_status != NG_OK);
  free_state(&before);
}

static ng_rl_t *make_update_case(int cg_iters) {
  ng_rl_t *t = make("CartPole-v1", 64, 0);
  t->cfg.cg_damping = 0.0;          /* so that a negated product is negative curvature */
  t->cfg.cg_iters = cg_iters;
  t->cfg.cg_residual_tol = 0.0;     /* exactly cg_iters products, then one for s^T F s */
  return t;
}

static void test_cg_breakdown(void) {
  /* the n_pol-sized sums of an iteration: the gradient, then one per Fisher product */
  ng_rl_t *t = make_update_case(5);
  poison_t neg = {t->n_pol, 2, 1000, POISON_NEGATE, 0, 0};
  check_skipped(t, &neg, NG_ECURVATURE, "CG breakdown (p^T F p <= 0)");
  ng_rl_destroy(t);
  t = make_update_case(5);
  poison_t nan = {t->n_pol, 3, 3, POISON_NAN, 0, 0};
  check_skipped(t, &nan, NG_ENONFINITE, "CG breakdown (non-finite Fisher product)");
  ng_rl_destroy(t);
}

static void test_sfs_not_positive(void) {
  /* 3 CG products are sums 2..4; the s^T F s product is sum 5 */
  ng_rl_t *t = make_update_case(3);
  poison_t neg = {t->n_pol, 5, 5, POISON_NEGATE, 0, 0};
  check_skipped(t, &neg, NG_ECURVATURE, "s^T F s <= 0");
  NG_CHECK(neg.seen == 5);
  ng_rl_destroy(t);
  t = make_update_case(3);
  poison_t nan = {t->n_pol, 5, 5, POISON_NAN, 0, 0};
  check_skipped(t, &nan, NG_ENONFINITE, "non-finite s^T F s");
  ng_rl_destroy(t);
}

static void test_line_search_nonfinite_loss(void) {
  /* the surrogate's sums [surrogate, KL, entropy, rows] (4 values) in every trial */
  ng_rl_t *t = make("CartPole-v1", 64, 0);
  poison_t nan = {4, 1, 1000, POISON_NAN, 0, 0};
  check_skipped(t, &nan, NG_ELINESEARCH, "line search rejected every trial");
  NG_CHECK(nan.hits == t->cfg.ls_max_backtracks + 1);
  ng_rl_destroy(t);
}

/* A non-finite value loss fails the iteration after the policy step was taken: the policy
 * step is undone too, with the value function and Adam's state. */
static void test_nonfinite_value_loss(void) {
  ng_rl_t *t = make("Pendulum-v1", 64, 1);
  ng_rl_stats_t st;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  saved_t before;
  save_state(t, &before);
  poison_t nan = {t->n_vf + 2, 3, 3, POISON_NAN, 0, 0}; /* the third minibatch */
  ng_reducer_t red = {poison_sum, &nan};
  NG_CHECK_OK(ng_rl_set_reducer(t, &red));
  NG_CHECK_STATUS(ng_rl_iterate(t, &st, &err), NG_ENONFINITE);
  fprintf(stderr, "  %s\n", err.message);
  NG_CHECK(nan.hits == 1);
  NG_CHECK(strstr(err.message, "iteration 2: value fit") != NULL);
  NG_CHECK(same_state(t, &before, 0));
  NG_CHECK_OK(ng_rl_set_reducer(t, NULL));
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  free_state(&before);
  ng_rl_destroy(t);
}

/* A trainer holding non-finite parameters is never checkpointed: the good file stays. */
static void test_save_refuses_bad_state(void) {
  ng_rl_t *t = make("CartPole-v1", 16, 0);
  ng_error_t err;
  char path[64];
  snprintf(path, sizeof path, "test_faults_%d.ngc", (int)getpid());
  NG_CHECK_OK(ng_rl_save(t, path, &err));
  FILE *f = fopen(path, "rb");
  long size = -1;
  if (f) {
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
  }
  double keep = t->theta[3];
  t->theta[3] = NAN;
  NG_CHECK_STATUS(ng_rl_save(t, path, &err), NG_ENONFINITE);
  NG_CHECK(strstr(err.message, "non-finite policy parameters") != NULL);
  t->theta[3] = keep;
  t->rng.s[0] = t->rng.s[1] = t->rng.s[2] = t->rng.s[3] = 0;
  NG_CHECK_STATUS(ng_rl_save(t, path, &err), NG_ENONFINITE);
  NG_CHECK(strstr(err.message, "random state") != NULL);
  ng_rl_t *u = NULL;
  NG_CHECK_OK(ng_rl_load(&u, path, &err));
  f = fopen(path, "rb");
  long size2 = -2;
  if (f) {
    fseek(f, 0, SEEK_END);
    size2 = ftell(f);
    fclose(f);
  }
  NG_CHECK(size > 0 && size == size2);
  /* no temporary file is left behind */
  char tmp[80];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  NG_CHECK(access(tmp, F_OK) != 0);
  remove(path);
  ng_rl_destroy(u);
  ng_rl_destroy(t);
}

int main(void) {
  NG_TEST_RUN(test_nan_observation);
  NG_TEST_RUN(test_inf_reward);
  NG_TEST_RUN(test_env_step_fails);
  NG_TEST_RUN(test_cg_breakdown);
  NG_TEST_RUN(test_sfs_not_positive);
  NG_TEST_RUN(test_line_search_nonfinite_loss);
  NG_TEST_RUN(test_nonfinite_value_loss);
  NG_TEST_RUN(test_save_refuses_bad_state);
  NG_TEST_END();
}
