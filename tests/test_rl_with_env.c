/* Training on an environment that is not in the registry (ng_rl_create_with_env,
 * ng_rl_load_with_env, ng_env_create_from_def): the run's config keeps the id, a checkpoint
 * moves between two implementations of one environment (with and without get/set state),
 * and a checkpoint whose spaces or state do not fit the environment given is refused.
 *
 * The second implementation of CartPole-v1 here is a definition of the caller's with the
 * same id that steps the built-in one underneath (handing it the outer random stream), as a
 * Python CartPole-v1 would step Gymnasium's: training on it must be bit for bit the
 * registered CartPole-v1's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "natgrad/env.h"
#include "natgrad/rl.h"
#include "ng_test.h"

/* ---- CartPole-v1 again, as a definition of the caller's --------------------------------- */

typedef struct {
  ng_env_t *inner; /* the built-in CartPole-v1 */
} wrap_t;

static int wrap_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  (void)def;
  wrap_t *w = calloc(1, sizeof *w);
  if (!w) return ng_error_set(err, NG_ENOMEM, "wrap: out of memory");
  int s = ng_env_create(&w->inner, "CartPole-v1", err);
  if (s) {
    free(w);
    return s;
  }
  *self = w;
  return NG_OK;
}
static void wrap_destroy(void *self) {
  wrap_t *w = self;
  ng_env_destroy(w->inner);
  free(w);
}
/* The inner env draws from the outer stream, so both implementations see one stream. */
static int wrap_reset(void *self, ng_rng_t *rng, double *obs) {
  wrap_t *w = self;
  *ng_env_rng(w->inner) = *rng;
  int s = ng_env_reset(w->inner, obs);
  *rng = *ng_env_rng(w->inner);
  return s;
}
static int wrap_step(void *self, ng_rng_t *rng, const double *a, double *obs, double *reward,
                     int *terminated) {
  wrap_t *w = self;
  int trunc;
  *ng_env_rng(w->inner) = *rng;
  int s = ng_env_step(w->inner, a, obs, reward, terminated, &trunc);
  *rng = *ng_env_rng(w->inner);
  return s;
}
static int wrap_get(const void *self, double *state) {
  return ng_env_get_state(((const wrap_t *)self)->inner, state);
}
static int wrap_set(void *self, const double *state, double *obs) {
  double o[4];
  return ng_env_set_state(((wrap_t *)self)->inner, state, obs ? obs : o);
}

/* The built-in description with the wrapper's callbacks; with_state: get/set too. */
static ng_env_def_t wrap_def(int with_state) {
  const ng_env_info_t *info = ng_env_find("CartPole-v1");
  ng_env_def_t d = {.info = *info, .create = wrap_create, .destroy = wrap_destroy,
                    .reset = wrap_reset, .step = wrap_step};
  d.info.summary = "CartPole-v1 through a definition of the caller's";
  if (with_state) {
    d.get_state = wrap_get;
    d.set_state = wrap_set;
  } else {
    d.info.state_size = 0;
    d.info.state_doc = NULL;
  }
  return d;
}

static ng_rl_config_t small_config(void) {
  ng_rl_config_t c;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_config_default(&c, "CartPole-v1", &err));
  c.n_envs = 2;
  c.n_steps = 64;
  c.vf_minibatch = 32;
  c.vf_epochs = 2;
  c.cg_iters = 5;
  c.seed = 5;
  c.total_steps = 100000;
  return c;
}

static void iterate(ng_rl_t *t, int n) {
  ng_rl_stats_t s;
  ng_error_t err;
  for (int i = 0; i < n; i++) NG_CHECK_OK(ng_rl_iterate(t, &s, &err));
}

/* Same policy and value parameters, bit for bit. */
static int same_params(const ng_rl_t *a, const ng_rl_t *b) {
  size_t na, nb, va, vb;
  const double *pa = ng_rl_policy_params(a, &na), *pb = ng_rl_policy_params(b, &nb);
  const double *qa = ng_rl_value_params(a, &va), *qb = ng_rl_value_params(b, &vb);
  return na == nb && va == vb && !memcmp(pa, pb, na * sizeof *pa) &&
         !memcmp(qa, qb, va * sizeof *qa);
}

static char g_dir[] = "/tmp/ng_rl_with_env_XXXXXX";
static char g_path[3][128];

/* Both implementations, with or without state, train the same run as the registry's. */
static void test_same_run(void) {
  ng_rl_config_t c = small_config();
  ng_error_t err;
  ng_rl_t *ref = NULL, *ws = NULL, *nos = NULL;
  ng_env_def_t d1 = wrap_def(1), d0 = wrap_def(0);
  NG_CHECK_OK(ng_rl_create(&ref, &c, &err));
  NG_CHECK_OK(ng_rl_create_with_env(&ws, &c, &d1, &err));
  NG_CHECK_OK(ng_rl_create_with_env(&nos, &c, &d0, &err));
  if (!ref || !ws || !nos) goto out;
  NG_CHECK(same_params(ref, ws) && same_params(ref, nos));
  iterate(ref, 3);
  iterate(ws, 3);
  iterate(nos, 3);
  NG_CHECK(same_params(ref, ws));
  NG_CHECK(same_params(ref, nos));
  NG_CHECK(ng_rl_env_steps(nos) == ng_rl_env_steps(ref));
  /* the config keeps the id, and nothing was registered */
  NG_CHECK(!strcmp(ng_rl_config(nos)->env_id, "CartPole-v1"));
  NG_CHECK_OK(ng_rl_save(ref, g_path[0], &err));
  NG_CHECK_OK(ng_rl_save(ws, g_path[1], &err));
  NG_CHECK_OK(ng_rl_save(nos, g_path[2], &err));
  /* one more iteration of the uninterrupted runs, for the resumes below */
  iterate(ref, 1);
  iterate(ws, 1);
  ng_rl_t *t = NULL;
  /* a stateful environment resumes the built-in run bit for bit */
  NG_CHECK_OK(ng_rl_load_with_env(&t, g_path[0], &d1, &err));
  if (t) {
    iterate(t, 1);
    NG_CHECK(same_params(t, ref));
    ng_rl_destroy(t);
  }
  /* and the built-in env resumes the wrapper's run bit for bit */
  NG_CHECK_OK(ng_rl_load(&t, g_path[1], &err));
  if (t) {
    iterate(t, 1);
    NG_CHECK(same_params(t, ws));
    ng_rl_destroy(t);
  }
out:
  ng_rl_destroy(ref);
  ng_rl_destroy(ws);
  ng_rl_destroy(nos);
}

/* With no state on one side, fresh episodes from the saved streams: deterministic, and
 * the same for the built-in env and the wrapper (one stream, one dynamics). */
static void test_stateless_resume(void) {
  ng_error_t err;
  ng_env_def_t d0 = wrap_def(0);
  ng_rl_t *a = NULL, *b = NULL, *c = NULL;
  /* the built-in's checkpoint (state size 4) on the stateless wrapper, twice */
  NG_CHECK_OK(ng_rl_load_with_env(&a, g_path[0], &d0, &err));
  NG_CHECK_OK(ng_rl_load_with_env(&b, g_path[0], &d0, &err));
  /* the stateless wrapper's checkpoint (state size 0) on the built-in env */
  NG_CHECK_OK(ng_rl_load(&c, g_path[2], &err));
  if (a && b && c) {
    NG_CHECK(same_params(a, c));
    iterate(a, 2);
    iterate(b, 2);
    iterate(c, 2);
    NG_CHECK(same_params(a, b));
    NG_CHECK(same_params(a, c));
    /* the checkpoint resumed fresh episodes: not the uninterrupted run */
    ng_rl_t *ref = NULL;
    NG_CHECK_OK(ng_rl_load(&ref, g_path[0], &err));
    if (ref) {
      iterate(ref, 2);
      NG_CHECK(!same_params(a, ref));
      ng_rl_destroy(ref);
    }
  }
  ng_rl_destroy(a);
  ng_rl_destroy(b);
  ng_rl_destroy(c);
}

static void expect_load_refused(const char *path, const ng_env_def_t *def, int status,
                                const char *what) {
  ng_rl_t *t = (ng_rl_t *)g_dir;
  ng_error_t err;
  NG_CHECK_STATUS(ng_rl_load_with_env(&t, path, def, &err), status);
  NG_CHECK(t == NULL);
  if (!strstr(err.message, what)) {
    ng_test_failures++;
    fprintf(stderr, "expected '%s' in: %s\n", what, err.message);
  }
}

static int five_get(const void *self, double *state) {
  (void)self;
  for (int i = 0; i < 5; i++) state[i] = 0.0;
  return NG_OK;
}
static int five_set(void *self, const double *state, double *obs) {
  (void)self;
  (void)state;
  if (obs) memset(obs, 0, 4 * sizeof *obs);
  return NG_OK;
}

/* A checkpoint whose environment the definition given does not fit. */
static void test_mismatch_refused(void) {
  static const double lo3[3] = {-1, -1, -1}, hi3[3] = {1, 1, 1};
  static const double lo2[2] = {-1, -1}, hi2[2] = {1, 1};
  ng_env_def_t d = wrap_def(0);
  d.info.observation_space.dim = 3;
  d.info.observation_space.low = lo3;
  d.info.observation_space.high = hi3;
  expect_load_refused(g_path[0], &d, NG_EFORMAT, "obs_dim is 4 in the file but 3 for the "
                      "environment given");
  d = wrap_def(0);
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_DISCRETE, .dim = 3};
  expect_load_refused(g_path[0], &d, NG_EFORMAT, "distribution size is 2 in the file but 3");
  d = wrap_def(0);
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_BOX, .dim = 2, .low = lo2, .high = hi2};
  expect_load_refused(g_path[0], &d, NG_EFORMAT, "action size is 1 in the file but 2");
  d = wrap_def(1);
  d.info.state_size = 5;
  d.get_state = five_get;
  d.set_state = five_set;
  expect_load_refused(g_path[0], &d, NG_EFORMAT, "env state size is 4 in the file but 5");
  d = wrap_def(0);
  d.info.id = "CartPole-v0";
  expect_load_refused(g_path[0], &d, NG_EINVAL, "is a run on CartPole-v1, not on CartPole-v0");
  d = wrap_def(0);
  d.step = NULL; /* checked as ng_env_def_check does */
  expect_load_refused(g_path[0], &d, NG_EINVAL, "step");
}

/* ---- an environment that exists only here: Drift-v0 ------------------------------------- */

static int drift_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  (void)def;
  double *x = calloc(1, sizeof *x);
  if (!x) return ng_error_set(err, NG_ENOMEM, "drift: out of memory");
  *self = x;
  return NG_OK;
}
static void drift_destroy(void *self) { free(self); }
static int drift_reset(void *self, ng_rng_t *rng, double *obs) {
  double *x = self;
  *x = ng_rng_uniform_range(rng, -1.0, 1.0);
  obs[0] = *x;
  return NG_OK;
}
static int drift_step(void *self, ng_rng_t *rng, const double *a, double *obs, double *reward,
                      int *terminated) {
  double *x = self;
  (void)rng;
  *x = fmin(2.0, fmax(-2.0, *x + (a[0] - 0.5) * 0.2));
  obs[0] = *x;
  *reward = -*x * *x;
  *terminated = fabs(*x) == 2.0;
  return NG_OK;
}

static void test_unregistered(void) {
  static const double lo[1] = {-2}, hi[1] = {2};
  ng_env_def_t d = {.info = {.id = "Drift-v0",
                             .observation_space = {.kind = NG_SPACE_BOX, .dim = 1, .low = lo,
                                                   .high = hi},
                             .action_space = {.kind = NG_SPACE_DISCRETE, .dim = 2},
                             .max_episode_steps = 50},
                    .create = drift_create, .destroy = drift_destroy, .reset = drift_reset,
                    .step = drift_step};
  ng_error_t err;
  ng_rl_config_t c;
  /* the registry does not know it, before or after */
  NG_CHECK_STATUS(ng_rl_config_default(&c, "Drift-v0", &err), NG_ENOTFOUND);
  NG_CHECK_OK(ng_rl_config_default_with_env(&c, &d, &err));
  NG_CHECK(!strcmp(c.env_id, "Drift-v0") && c.n_steps == 2048); /* SB3-contrib's defaults */
  NG_CHECK_STATUS(ng_rl_config_validate(&c, &err), NG_EINVAL);
  NG_CHECK_OK(ng_rl_config_validate_with_env(&c, &d, &err));
  c.n_steps = 100;
  c.vf_minibatch = 50;
  c.total_steps = 1000;
  ng_rl_t *t = NULL, *u = NULL;
  NG_CHECK_STATUS(ng_rl_create(&t, &c, &err), NG_EINVAL);
  ng_rl_config_t other = c;
  snprintf(other.env_id, sizeof other.env_id, "CartPole-v1");
  NG_CHECK_STATUS(ng_rl_create_with_env(&t, &other, &d, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "env = CartPole-v1, but the environment given is Drift-v0"));
  NG_CHECK_OK(ng_rl_create_with_env(&t, &c, &d, &err));
  NG_CHECK(ng_env_find("Drift-v0") == NULL);
  if (!t) return;
  ng_rl_set_threads(t, 2); /* a caller's env steps on the caller's thread: still one run */
  iterate(t, 2);
  char path[160];
  snprintf(path, sizeof path, "%s/drift.ngc", g_dir);
  NG_CHECK_OK(ng_rl_save(t, path, &err));
  /* without the definition the id is unknown; with it, the saved policy, and (no state:
   * fresh episodes) one continuation however often it is loaded */
  NG_CHECK_STATUS(ng_rl_load(&u, path, &err), NG_EFORMAT);
  NG_CHECK(strstr(err.message, "unknown environment id"));
  NG_CHECK_OK(ng_rl_load_with_env(&u, path, &d, &err));
  ng_rl_t *u2 = NULL;
  NG_CHECK_OK(ng_rl_load_with_env(&u2, path, &d, &err));
  if (u && u2) {
    NG_CHECK(same_params(t, u));
    double r1[3], r2[3];
    NG_CHECK_OK(ng_rl_evaluate(t, 3, 9, 1, r1, &err));
    NG_CHECK_OK(ng_rl_evaluate(u, 3, 9, 1, r2, &err));
    NG_CHECK(!memcmp(r1, r2, sizeof r1));
    iterate(u, 1);
    iterate(u2, 1);
    NG_CHECK(same_params(u, u2) && ng_rl_iteration(u) == 3);
  }
  ng_rl_destroy(u2);
  unlink(path);
  ng_rl_destroy(t);
  ng_rl_destroy(u);
  /* an environment created from its definition alone */
  ng_env_t *e = NULL;
  double obs[1], r;
  int term, trunc;
  NG_CHECK_OK(ng_env_create_from_def(&e, &d, &err));
  if (e) {
    ng_env_seed(e, 1, 0);
    NG_CHECK_OK(ng_env_reset(e, obs));
    double a = 1;
    NG_CHECK_OK(ng_env_step(e, &a, obs, &r, &term, &trunc));
    a = 2; /* outside Discrete(2): the wrapper checks it as for a registered env */
    NG_CHECK_STATUS(ng_env_step(e, &a, obs, &r, &term, &trunc), NG_EINVAL);
    ng_env_destroy(e);
  }
  d.info.max_episode_steps = 0;
  e = (ng_env_t *)g_dir;
  NG_CHECK_STATUS(ng_env_create_from_def(&e, &d, &err), NG_EINVAL);
  NG_CHECK(e == NULL && strstr(err.message, "Drift-v0"));
  NG_CHECK_STATUS(ng_env_create_from_def(&e, NULL, &err), NG_EINVAL);
}

int main(void) {
  if (!mkdtemp(g_dir)) return 1;
  for (int i = 0; i < 3; i++) snprintf(g_path[i], sizeof g_path[i], "%s/c%d.ngc", g_dir, i);
  NG_TEST_RUN(test_same_run);
  NG_TEST_RUN(test_stateless_resume);
  NG_TEST_RUN(test_mismatch_refused);
  NG_TEST_RUN(test_unregistered);
  for (int i = 0; i < 3; i++) unlink(g_path[i]);
  rmdir(g_dir);
  NG_TEST_END();
}
