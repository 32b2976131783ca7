/* The public environment definition: registering a user's environment from C, every
 * validation rule of ng_env_def_check / ng_env_register, dispatch through the generic
 * wrapper (action checks, time limit, statuses), and environments without get/set state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/dist.h"
#include "natgrad/env.h"
#include "ng_test.h"

/* ---- a user's environment: a point on a line pushed towards 0 ---------------------------
 * x' = clip(x + 0.1 a, -2, 2), reward -x'^2; terminated when |x'| = 2. Counts its calls so
 * the tests can see the dispatch. */

typedef struct {
  double x;
  int steps;
} drift_t;

static int drift_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  (void)def;
  drift_t *d = calloc(1, sizeof *d);
  if (!d) return ng_error_set(err, NG_ENOMEM, "drift: out of memory");
  *self = d;
  return NG_OK;
}
static void drift_destroy(void *self) { free(self); }
static int drift_reset(void *self, ng_rng_t *rng, double *obs) {
  drift_t *d = self;
  d->x = ng_rng_uniform_range(rng, -1.0, 1.0);
  obs[0] = d->x;
  return NG_OK;
}
static int drift_step(void *self, ng_rng_t *rng, const double *a, double *obs, double *reward,
                      int *terminated) {
  drift_t *d = self;
  (void)rng;
  double x = d->x + 0.1 * a[0];
  x = x < -2 ? -2 : x > 2 ? 2 : x;
  d->x = x;
  d->steps++;
  obs[0] = x;
  *reward = -x * x;
  *terminated = fabs(x) == 2.0;
  return NG_OK;
}
static int drift_get(const void *self, double *state) {
  state[0] = ((const drift_t *)self)->x;
  return NG_OK;
}
static int drift_set(void *self, const double *state, double *obs) {
  ((drift_t *)self)->x = state[0];
  if (obs) obs[0] = state[0];
  return NG_OK;
}

static const double obs_lo[1] = {-2}, obs_hi[1] = {2}, act_lo[1] = {-1}, act_hi[1] = {1};

static ng_env_def_t drift_def(const char *id) {
  ng_env_def_t d = {
      .info = {.id = id,
               .summary = "a point pushed towards 0",
               .observation_space = {.kind = NG_SPACE_BOX, .dim = 1, .low = obs_lo, .high = obs_hi},
               .action_space = {.kind = NG_SPACE_BOX, .dim = 1, .low = act_lo, .high = act_hi},
               .max_episode_steps = 5,
               .state_size = 1,
               .state_doc = "x"},
      .create = drift_create,
      .destroy = drift_destroy,
      .reset = drift_reset,
      .step = drift_step,
      .get_state = drift_get,
      .set_state = drift_set,
  };
  return d;
}

/* ---- registration ---- */

static void test_register_and_dispatch(void) {
  size_t before = ng_env_count();
  double lo[1] = {-2}, hi[1] = {2};
  char id[32] = "Drift-v0", summary[32] = "a point pushed towards 0";
  ng_env_def_t d = drift_def(id);
  d.info.observation_space.low = lo;
  d.info.observation_space.high = hi;
  d.info.summary = summary;
  ng_error_t err;
  NG_CHECK_OK(ng_env_register(&d, &err));
  NG_CHECK(ng_env_count() == before + 1);
  /* the description was copied: the caller's buffers may change or go */
  lo[0] = 7;
  strcpy(id, "Other-v1");
  strcpy(summary, "changed");
  const ng_env_info_t *info = ng_env_find("Drift-v0");
  NG_CHECK(info != NULL && ng_env_info_at(before) == info);
  NG_CHECK(ng_env_find("Other-v1") == NULL);
  if (!info) return;
  NG_CHECK(info->observation_space.low[0] == -2 && info->observation_space.high[0] == 2);
  NG_CHECK(!strcmp(info->summary, "a point pushed towards 0"));
  NG_CHECK(ng_env_plugin_path("Drift-v0") == NULL && ng_env_plugin_path("CartPole-v1") == NULL);

  /* the wrapper's rules apply to it as to a built-in one */
  ng_env_t *env;
  NG_CHECK_OK(ng_env_create(&env, "Drift-v0", &err));
  double obs[1], r, a[1] = {1}, state[1];
  int term, trunc;
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_EINVAL); /* no reset yet */
  NG_CHECK_STATUS(ng_env_get_state(env, state), NG_EINVAL);
  ng_env_seed(env, 3, 0);
  NG_CHECK_OK(ng_env_reset(env, obs));
  ng_rng_t rng;
  ng_rng_seed(&rng, 3, 0);
  NG_CHECK(obs[0] == ng_rng_uniform_range(&rng, -1.0, 1.0)); /* the env's own stream */
  double bad[1] = {NAN};
  NG_CHECK_STATUS(ng_env_step(env, bad, obs, &r, &term, &trunc), NG_ENONFINITE);
  double x0[1] = {0.0};
  NG_CHECK_OK(ng_env_set_state(env, x0, obs));
  for (int i = 1; i <= 5; i++) {
    NG_CHECK_OK(ng_env_step(env, a, obs, &r, &term, &trunc));
    NG_CHECK_CLOSE(obs[0], 0.1 * i, 1e-12, 1e-12);
    NG_CHECK(!term && trunc == (i == 5)); /* the time limit is the wrapper's */
  }
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_EINVAL); /* ended */
  NG_CHECK_OK(ng_env_get_state(env, state));
  NG_CHECK_CLOSE(state[0], 0.5, 1e-12, 1e-12);
  ng_env_destroy(env);

  /* a second registration of the id is a clash */
  d = drift_def("Drift-v0");
  NG_CHECK_STATUS(ng_env_register(&d, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "taken") != NULL);
  NG_CHECK(ng_env_count() == before + 1);
}

/* Each broken definition is refused with NG_EINVAL and a message containing `want`. */
static void expect_refused(const ng_env_def_t *d, const char *want) {
  ng_error_t err;
  size_t before = ng_env_count();
  int s = ng_env_register(d, &err);
  NG_CHECK_STATUS(s, NG_EINVAL);
  if (!strstr(err.message, want)) {
    fprintf(stderr, "  message '%s' lacks '%s'\n", err.message, want);
    NG_CHECK(0);
  }
  NG_CHECK(ng_env_count() == before);
}

static void test_register_refused(void) {
  ng_env_def_t d;
  NG_CHECK_STATUS(ng_env_register(NULL, NULL), NG_EINVAL);
  static const char *const bad_ids[][2] = {
      {"", "empty"},          {"Drift", "version"},      {"Drift-v", "version"},
      {"Driftv0", "version"}, {"1Drift-v0", "letter"},   {"Dr ift-v0", "character"},
      {"-v0", "letter"},      {"Dr\"ift-v0", "character"}, {"CartPole-v1", "taken"},
      {"Hopper-v5", "taken"},
      {"Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-v0", "longer"},
  };
  for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
    d = drift_def(bad_ids[i][0]);
    expect_refused(&d, bad_ids[i][1]);
  }
  d = drift_def(NULL);
  expect_refused(&d, "without an id");

  double nan_b[1] = {NAN}, big[1] = {5}, pinf[1] = {INFINITY}, minf[1] = {-INFINITY};
  static const uint32_t one_count[1] = {2}, zero_count[3] = {2, 0, 3};
  uint32_t counts[NG_DIST_MAX_COMPONENTS + 1];
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) counts[i] = 2;
  d = drift_def("Bad-v0");
  d.info.observation_space.dim = 0;
  expect_refused(&d, "observation space: dimension 0");
  d = drift_def("Bad-v0");
  d.info.action_space.dim = 0;
  expect_refused(&d, "action space: dimension 0");
  d = drift_def("Bad-v0");
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_DISCRETE, .dim = 0};
  expect_refused(&d, "action space: dimension 0");
  d = drift_def("Bad-v0");
  d.info.observation_space.dim = NG_ENV_MAX_DIM + 1;
  expect_refused(&d, "NG_ENV_MAX_DIM");
  d = drift_def("Bad-v0");
  d.info.observation_space.low = big;
  expect_refused(&d, "low > high in component 0");
  d = drift_def("Bad-v0");
  d.info.action_space.high = nan_b;
  expect_refused(&d, "action space: a NaN bound");
  d = drift_def("Bad-v0");
  d.info.observation_space.low = pinf;
  d.info.observation_space.high = pinf;
  expect_refused(&d, "low = +inf");
  d = drift_def("Bad-v0");
  d.info.observation_space.low = minf;
  d.info.observation_space.high = minf;
  expect_refused(&d, "high = -inf");
  d = drift_def("Bad-v0");
  d.info.action_space.low = NULL;
  expect_refused(&d, "without its low and high");
  d = drift_def("Bad-v0");
  d.info.observation_space = (ng_space_t){.kind = NG_SPACE_MULTI_BINARY, .dim = 4};
  expect_refused(&d, "observation space: a MultiDiscrete or MultiBinary observation");
  d = drift_def("Bad-v0");
  d.info.observation_space = (ng_space_t){.kind = NG_SPACE_MULTI_DISCRETE, .dim = 1,
                                          .nvec = one_count};
  expect_refused(&d, "observation space: a MultiDiscrete or MultiBinary observation");
  d = drift_def("Bad-v0");
  d.info.observation_space = (ng_space_t){.kind = NG_SPACE_DISCRETE, .dim = 0};
  expect_refused(&d, "observation space: dimension 0");
  d = drift_def("Bad-v0");
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_BINARY, .dim = 0};
  expect_refused(&d, "action space: dimension 0");
  d = drift_def("Bad-v0");
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_BINARY,
                                     .dim = NG_ENV_MAX_DIM + 1};
  expect_refused(&d, "action space: a dimension above NG_ENV_MAX_DIM");
  d = drift_def("Bad-v0");
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_DISCRETE, .dim = 2};
  expect_refused(&d, "action space: a MultiDiscrete without its nvec");
  d = drift_def("Bad-v0");
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_DISCRETE, .dim = 0,
                                     .nvec = counts};
  expect_refused(&d, "action space: dimension 0");
  d = drift_def("Bad-v0");
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_DISCRETE, .dim = 3,
                                     .nvec = zero_count};
  expect_refused(&d, "action space: a count of 0 in component 1 of a MultiDiscrete");
  d = drift_def("Bad-v0");
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_DISCRETE,
                                     .dim = NG_DIST_MAX_COMPONENTS + 1, .nvec = counts};
  expect_refused(&d, "a MultiDiscrete of 65 components (at most NG_DIST_MAX_COMPONENTS, 64)");
  d = drift_def("Bad-v0");
  d.info.action_space.kind = (ng_space_kind_t)7;
  expect_refused(&d, "unknown kind");
  d = drift_def("Bad-v0");
  d.info.max_episode_steps = 0;
  expect_refused(&d, "max_episode_steps");
  d = drift_def("Bad-v0");
  d.create = NULL;
  expect_refused(&d, "missing callback create");
  d = drift_def("Bad-v0");
  d.destroy = NULL;
  expect_refused(&d, "missing callback destroy");
  d = drift_def("Bad-v0");
  d.reset = NULL;
  expect_refused(&d, "missing callback reset");
  d = drift_def("Bad-v0");
  d.step = NULL;
  expect_refused(&d, "missing callback step");
  d = drift_def("Bad-v0");
  d.set_state = NULL;
  expect_refused(&d, "get_state without set_state");
  d = drift_def("Bad-v0");
  d.get_state = NULL;
  d.set_state = NULL;
  expect_refused(&d, "state_size is 1 without");
  d = drift_def("Bad-v0");
  d.info.state_size = 0;
  expect_refused(&d, "state_size is 0 with");
  d = drift_def("Bad-v0");
  d.info.state_min_size = 1; /* a short form as long as the state */
  expect_refused(&d, "state_min_size 1 is not below state_size 1");
  NG_CHECK(ng_env_find("Bad-v0") == NULL);

  /* ids Gymnasium allows and these rules keep */
  static const char *const good[] = {"ns/My_Env.2:x-v10", "a-v0"};
  for (size_t i = 0; i < 2; i++) {
    d = drift_def(good[i]);
    NG_CHECK_OK(ng_env_def_check(&d, NULL));
  }
  /* infinite and equal bounds are fine */
  d = drift_def("Inf-v0");
  d.info.observation_space.low = minf;
  d.info.observation_space.high = pinf;
  d.info.action_space.low = big;
  d.info.action_space.high = big;
  NG_CHECK_OK(ng_env_def_check(&d, NULL));
  /* the limits themselves, and a count of 1 (a component that is always 0, as Gymnasium
   * allows) */
  d = drift_def("Edge-v0");
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_DISCRETE,
                                     .dim = NG_DIST_MAX_COMPONENTS, .nvec = counts};
  counts[5] = 1;
  NG_CHECK_OK(ng_env_def_check(&d, NULL));
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_BINARY, .dim = NG_ENV_MAX_DIM};
  NG_CHECK_OK(ng_env_def_check(&d, NULL));
}

/* ---- MultiDiscrete / MultiBinary actions, Discrete observations ---- */

static void test_space_contains(void) {
  static const uint32_t nvec[3] = {3, 1, 2};
  const ng_space_t md = {.kind = NG_SPACE_MULTI_DISCRETE, .dim = 3, .nvec = nvec};
  const ng_space_t mb = {.kind = NG_SPACE_MULTI_BINARY, .dim = 2};
  const ng_space_t di = {.kind = NG_SPACE_DISCRETE, .dim = 4};
  const double lo[2] = {-1, -1}, hi[2] = {1, 1};
  const ng_space_t box = {.kind = NG_SPACE_BOX, .dim = 2, .low = lo, .high = hi};
  NG_CHECK(ng_space_size(&md) == 3 && ng_space_size(&mb) == 2 && ng_space_size(&di) == 1 &&
           ng_space_size(&box) == 2);
  ng_error_t e;
  struct {
    const ng_space_t *sp;
    double x[3];
    int want;
    const char *msg;
  } cases[] = {
      {&md, {2, 0, 1}, NG_OK, ""},
      {&md, {0, 0, 0}, NG_OK, ""},
      {&md, {3, 0, 1}, NG_EINVAL, "component 0: 3 is not one of 0..2"},
      {&md, {2, 1, 1}, NG_EINVAL, "component 1: 1 is not one of 0..0"},
      {&md, {2, 0, 0.5}, NG_EINVAL, "component 2: 0.5 is not one of 0..1"},
      {&md, {-1, 0, 0}, NG_EINVAL, "component 0: -1 is not one of 0..2"},
      {&md, {0, NAN, 0}, NG_ENONFINITE, "component 1 is nan"},
      {&mb, {1, 0}, NG_OK, ""},
      {&mb, {1, 2}, NG_EINVAL, "component 1: 2 is not 0 or 1"},
      {&mb, {-0.0, 1e-300}, NG_EINVAL, "component 1: 1e-300 is not 0 or 1"},
      {&mb, {INFINITY, 0}, NG_ENONFINITE, "component 0 is inf"},
      {&di, {3}, NG_OK, ""},
      {&di, {4}, NG_EINVAL, "component 0: 4 is not one of 0..3"},
      {&box, {5, -7}, NG_OK, ""}, /* bounds are the env's to clip to */
      {&box, {0, NAN}, NG_ENONFINITE, "component 1 is nan"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    NG_CHECK_STATUS(ng_space_contains(cases[i].sp, cases[i].x, &e), cases[i].want);
    if (strcmp(e.message, cases[i].msg)) {
      ng_test_failures++;
      fprintf(stderr, "%s:%d: case %zu: message '%s', expected '%s'\n", __FILE__, __LINE__, i,
              e.message, cases[i].msg);
    }
  }
  NG_CHECK_STATUS(ng_space_contains(NULL, cases[0].x, NULL), NG_EINVAL);
}

/* A MultiDiscrete action space and a Discrete observation through the registry: the counts
 * are copied (the caller's array may change afterwards), and ng_env_step refuses an action
 * outside the space before the environment sees it. */
static int md_calls;
static int md_step(void *self, ng_rng_t *rng, const double *a, double *obs, double *reward,
                   int *terminated) {
  (void)self, (void)rng;
  md_calls++;
  obs[0] = a[0];
  *reward = a[1];
  *terminated = 0;
  return NG_OK;
}
static int md_reset(void *self, ng_rng_t *rng, double *obs) {
  (void)self, (void)rng;
  obs[0] = 0;
  return NG_OK;
}

static void test_multi_spaces_registered(void) {
  uint32_t nvec[2] = {4, 2};
  ng_env_def_t d = drift_def("MultiAct-v0");
  d.get_state = NULL;
  d.set_state = NULL;
  d.info.state_size = 0;
  d.reset = md_reset;
  d.step = md_step;
  d.info.observation_space = (ng_space_t){.kind = NG_SPACE_DISCRETE, .dim = 4};
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_DISCRETE, .dim = 2, .nvec = nvec};
  NG_CHECK_OK(ng_env_register(&d, NULL));
  nvec[0] = 99;
  const ng_env_info_t *in = ng_env_find("MultiAct-v0");
  NG_CHECK(in && in->action_space.nvec != nvec && in->action_space.nvec[0] == 4 &&
           in->action_space.nvec[1] == 2 && in->action_space.low == NULL &&
           in->observation_space.low == NULL && in->observation_space.nvec == NULL);
  ng_env_t *env;
  NG_CHECK_OK(ng_env_create(&env, "MultiAct-v0", NULL));
  double obs[1], r, a[2] = {3, 1};
  int term, trunc;
  NG_CHECK_OK(ng_env_reset(env, obs));
  NG_CHECK_OK(ng_env_step(env, a, obs, &r, &term, &trunc));
  NG_CHECK(md_calls == 1 && obs[0] == 3 && r == 1);
  a[0] = 4;
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_EINVAL);
  a[0] = 0;
  a[1] = 2;
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_EINVAL);
  a[1] = NAN;
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_ENONFINITE);
  NG_CHECK(md_calls == 1);
  ng_env_destroy(env);

  d = drift_def("MultiBin-v0");
  d.get_state = NULL;
  d.set_state = NULL;
  d.info.state_size = 0;
  d.reset = md_reset;
  d.step = md_step;
  d.info.observation_space = (ng_space_t){.kind = NG_SPACE_DISCRETE, .dim = 2};
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_MULTI_BINARY, .dim = 2};
  NG_CHECK_OK(ng_env_register(&d, NULL));
  NG_CHECK_OK(ng_env_create(&env, "MultiBin-v0", NULL));
  NG_CHECK_OK(ng_env_reset(env, obs));
  a[0] = 1, a[1] = 0;
  NG_CHECK_OK(ng_env_step(env, a, obs, &r, &term, &trunc));
  a[1] = 0.5;
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_EINVAL);
  NG_CHECK(md_calls == 2);
  ng_env_destroy(env);
}

/* ---- statuses and optional callbacks ---- */

static int fail_mode; /* what failing_step returns */
static int failing_step(void *self, ng_rng_t *rng, const double *a, double *obs, double *reward,
                        int *terminated) {
  if (fail_mode) return fail_mode;
  return drift_step(self, rng, a, obs, reward, terminated);
}

static void test_user_statuses(void) {
  ng_env_def_t d = drift_def("Failing-v0");
  d.step = failing_step;
  d.get_state = NULL;
  d.set_state = NULL;
  d.info.state_size = 0;
  d.info.action_space = (ng_space_t){.kind = NG_SPACE_DISCRETE, .dim = 3};
  NG_CHECK_OK(ng_env_register(&d, NULL));
  ng_env_t *env;
  NG_CHECK_OK(ng_env_create(&env, "Failing-v0", NULL));
  double obs[1], r, a[1] = {2}, s[1] = {0};
  int term, trunc;
  NG_CHECK_OK(ng_env_reset(env, obs));
  NG_CHECK_OK(ng_env_step(env, a, obs, &r, &term, &trunc));
  a[0] = 3; /* out of Discrete(3): refused before the env sees it */
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_EINVAL);
  a[0] = 1.5;
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_EINVAL);
  a[0] = 0;
  fail_mode = NG_ERANGE;
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_ERANGE);
  fail_mode = 42; /* not a natgrad status */
  NG_CHECK_STATUS(ng_env_step(env, a, obs, &r, &term, &trunc), NG_EINVAL);
  fail_mode = 0;
  NG_CHECK(ng_env_elapsed_steps(env) == 1);
  NG_CHECK_STATUS(ng_env_get_state(env, s), NG_EUNSUPPORTED);
  NG_CHECK_STATUS(ng_env_set_state(env, s, obs), NG_EUNSUPPORTED);
  ng_env_destroy(env);
}

/* The built-in environments are registered definitions: the same lookups list them. */
static void test_builtins_listed(void) {
  size_t n = ng_env_count(), found = 0;
  for (size_t i = 0; i < n; i++) {
    const ng_env_info_t *info = ng_env_info_at(i);
    NG_CHECK(info && ng_env_find(info->id) == info);
    if (info && (!strcmp(info->id, "CartPole-v1") || !strcmp(info->id, "Ant-v5"))) found++;
    ng_env_def_t d = {.info = *info};
    /* every built-in description passes the rules a user's must (callbacks aside) */
    d.create = drift_create, d.destroy = drift_destroy, d.reset = drift_reset,
    d.step = drift_step, d.get_state = drift_get, d.set_state = drift_set;
    NG_CHECK_OK(ng_env_def_check(&d, NULL));
  }
  NG_CHECK(found == 2);
}

/* ---- plugins (tests/plugins/, built by tests/cli_plugins.cmake) ---- */

#ifndef NG_TEST_PLUGIN_DIR
#error "NG_TEST_PLUGIN_DIR: the folder of the test plugins (tests/cli_plugins.cmake sets it)"
#endif
static const char *plugin(const char *kind) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/libng_plugin_%s.so", NG_TEST_PLUGIN_DIR, kind);
  return path;
}

/* Loading fails with want and a message containing text, registering nothing. */
static void expect_load_fails(const char *path, int want, const char *text) {
  size_t before = ng_env_count();
  ng_error_t err;
  ng_plugin_info_t info;
  NG_CHECK_STATUS(ng_plugin_load(path, &info, &err), want);
  if (!strstr(err.message, text)) {
    fprintf(stderr, "  message '%s' lacks '%s'\n", err.message, text);
    NG_CHECK(0);
  }
  NG_CHECK(strchr(err.message, '\n') == NULL); /* one line */
  NG_CHECK(ng_env_count() == before);
}

static void test_plugins(void) {
  ng_error_t err;
  ng_plugin_info_t info, again;
  size_t before = ng_env_count();
  NG_CHECK_OK(ng_plugin_load(plugin("reach"), &info, &err));
  NG_CHECK(info.n_envs == 2 && ng_env_count() == before + 2);
  NG_CHECK(info.path[0] == '/' && strstr(info.path, "libng_plugin_reach.so"));
  char hash[24];
  NG_CHECK_OK(ng_plugin_hash_file(info.path, hash, sizeof hash, NULL));
  NG_CHECK(!strcmp(hash, info.hash) && !strncmp(hash, "crc32:", 6) && strlen(hash) == 14);
  const char *from = ng_env_plugin_path("Reach-v0");
  NG_CHECK(from && !strcmp(from, info.path));
  NG_CHECK(ng_env_find("ReachNoState-v0")->state_size == 0);
  /* loading it again changes nothing */
  NG_CHECK_OK(ng_plugin_load(plugin("reach"), &again, NULL));
  NG_CHECK(!strcmp(again.path, info.path) && ng_env_count() == before + 2);

  /* its environment behaves as its source says */
  ng_env_t *env;
  NG_CHECK_OK(ng_env_create(&env, "Reach-v0", NULL));
  double x[1] = {1.0}, obs[1], r, a[1] = {-5}; /* clipped to -1 by the env */
  int term, trunc;
  NG_CHECK_OK(ng_env_set_state(env, x, obs));
  NG_CHECK_OK(ng_env_step(env, a, obs, &r, &term, &trunc));
  NG_CHECK_CLOSE(obs[0], 0.8, 1e-15, 0);
  NG_CHECK_CLOSE(r, -0.64, 1e-15, 0);
  ng_env_destroy(env);

  expect_load_fails(plugin("nosym"), NG_EFORMAT, "no symbol 'natgrad_plugin'");
  expect_load_fails(plugin("abi"), NG_EUNSUPPORTED, "built for plugin ABI 4; this natgrad loads "
                    "ABI 3");
  /* a version-1 plugin (before ng_space_t gained nvec) is refused before any of it runs, and
   * so is a version-2 one (before ng_env_info_t gained state_min_size) */
  expect_load_fails(plugin("abi1"), NG_EUNSUPPORTED, "built for plugin ABI 1; this natgrad "
                    "loads ABI 3: rebuild it");
  expect_load_fails(plugin("abi2"), NG_EUNSUPPORTED, "built for plugin ABI 2; this natgrad "
                    "loads ABI 3: rebuild it");
  expect_load_fails(plugin("space"), NG_EINVAL, "env Faulty-v0: observation space: low > high");
  expect_load_fails(plugin("clash"), NG_EINVAL, "env CartPole-v1: the id is taken");
  expect_load_fails(plugin("does-not-exist"), NG_ENOTFOUND, "No such file");
  expect_load_fails(NG_TEST_PLUGIN_DIR, NG_EINVAL, "not a regular file");
  expect_load_fails(__FILE__, NG_EFORMAT, "not a loadable shared library");
  NG_CHECK(ng_env_find("Faulty-v0") == NULL);
}

int main(void) {
  NG_TEST_RUN(test_builtins_listed);
  NG_TEST_RUN(test_register_and_dispatch);
  NG_TEST_RUN(test_register_refused);
  NG_TEST_RUN(test_user_statuses);
  NG_TEST_RUN(test_space_contains);
  NG_TEST_RUN(test_multi_spaces_registered);
  NG_TEST_RUN(test_plugins);
  NG_TEST_END();
}
