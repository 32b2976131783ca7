/* The environment registry and the generic wrapper around every environment: argument and
 * action checks, episode bookkeeping and the time limit (Gymnasium's TimeLimit: truncated
 * once the step counter reaches max_episode_steps, whether or not the step terminated).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "envs/env_impl.h"
#include "envs/mujoco/mj_env.h"

static const ng_env_class_t *const ng__env_classes[] = {
    &ng_env_cartpole,      &ng_env_pendulum, &ng_env_acrobot, &ng_env_mountain_car,
    &ng_env_mountain_car_continuous,
    &ng_mj_inverted_pendulum.cls, &ng_mj_inverted_double_pendulum.cls, &ng_mj_swimmer.cls,
    &ng_mj_hopper.cls, &ng_mj_walker2d.cls, &ng_mj_half_cheetah.cls, &ng_mj_ant.cls,
};
#define NG__ENV_COUNT (sizeof ng__env_classes / sizeof ng__env_classes[0])

/* Where an env is in its episode. */
enum {
  NG__ENV_NO_STATE = 0, /* created, neither reset nor set_state yet */
  NG__ENV_RUNNING = 1,
  NG__ENV_ENDED = 2 /* the last step terminated or truncated: reset (or set_state) first */
};

struct ng_env {
  const ng_env_class_t *cls;
  ng_rng_t rng;
  ng_env_state_t state;
  void *impl; /* the object of a class with object ops (cls->object), else NULL */
  int elapsed; /* steps taken since the last reset / set_state */
  int phase;
};

size_t ng_space_size(const ng_space_t *space) {
  if (!space) return 0;
  return space->kind == NG_SPACE_BOX ? space->dim : 1;
}

size_t ng_env_count(void) { return NG__ENV_COUNT; }

const ng_env_info_t *ng_env_info_at(size_t i) {
  return i < NG__ENV_COUNT ? &ng__env_classes[i]->info : NULL;
}

static const ng_env_class_t *ng__env_class_find(const char *id) {
  if (!id) return NULL;
  for (size_t i = 0; i < NG__ENV_COUNT; i++)
    if (!strcmp(ng__env_classes[i]->info.id, id)) return ng__env_classes[i];
  return NULL;
}

const ng_env_info_t *ng_env_find(const char *id) {
  const ng_env_class_t *cls = ng__env_class_find(id);
  return cls ? &cls->info : NULL;
}

int ng_env_create(ng_env_t **out, const char *id, ng_error_t *err) {
  if (!out) return ng_error_set(err, NG_EINVAL, "ng_env_create: out is NULL");
  *out = NULL;
  if (!id) return ng_error_set(err, NG_EINVAL, "ng_env_create: id is NULL");
  const ng_env_class_t *cls = ng__env_class_find(id);
  if (!cls) {
    char known[448]; /* every id fits; ng_error_t holds 512 */
    size_t len = 0;
    known[0] = '\0';
    for (size_t i = 0; i < NG__ENV_COUNT && len < sizeof known; i++) {
      int n = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                       ng__env_classes[i]->info.id);
      if (n < 0) break;
      len += (size_t)n;
    }
    return ng_error_set(err, NG_ENOTFOUND, "unknown environment '%s' (known: %s)", id, known);
  }
  ng_env_t *env = ng_calloc(1, sizeof *env);
  if (!env) return ng_error_set(err, NG_ENOMEM, "ng_env_create: out of memory");
  env->cls = cls;
  if (cls->object) {
    int status = cls->object->create(&env->impl, cls, err);
    if (status != NG_OK) {
      ng_free(env);
      return status;
    }
  }
  ng_rng_seed(&env->rng, 0, 0);
  env->phase = NG__ENV_NO_STATE;
  *out = env;
  ng_error_clear(err);
  return NG_OK;
}

void ng_env_destroy(ng_env_t *env) {
  if (env && env->impl) env->cls->object->destroy(env->impl);
  ng_free(env);
}

const ng_env_info_t *ng_env_info(const ng_env_t *env) { return env ? &env->cls->info : NULL; }

void ng_env_seed(ng_env_t *env, uint64_t seed, uint64_t stream) {
  if (env) ng_rng_seed(&env->rng, seed, stream);
}

int ng_env_reset(ng_env_t *env, double *obs) {
  if (!env || !obs) return NG_EINVAL;
  if (env->cls->object) {
    int status = env->cls->object->reset(env->impl, &env->rng, obs);
    if (status != NG_OK) return status;
    env->elapsed = 0;
    env->phase = NG__ENV_RUNNING;
    return NG_OK;
  }
  env->cls->reset(&env->state, &env->rng);
  env->elapsed = 0;
  env->phase = NG__ENV_RUNNING;
  env->cls->observe(&env->state, obs);
  return NG_OK;
}

/* NG_OK, NG_ENONFINITE (NaN/Inf) or NG_EINVAL (a Discrete action that is not an integer in
 * range) for an action of the env's action space. */
static int ng__env_check_action(const ng_space_t *space, const double *action) {
  if (space->kind == NG_SPACE_DISCRETE) {
    double a = action[0];
    if (!isfinite(a)) return NG_ENONFINITE;
    if (a != floor(a) || a < 0.0 || a >= (double)space->dim) return NG_EINVAL;
    return NG_OK;
  }
  return ng_all_finite(space->dim, action) ? NG_OK : NG_ENONFINITE;
}

int ng_env_step(ng_env_t *env, const double *action, double *obs, double *reward,
                int *terminated, int *truncated) {
  if (!env || !action || !obs || !reward || !terminated || !truncated) return NG_EINVAL;
  if (env->phase != NG__ENV_RUNNING) return NG_EINVAL;
  const ng_env_info_t *info = &env->cls->info;
  int status = ng__env_check_action(&info->action_space, action);
  if (status != NG_OK) return status;

  ng_env_state_t next = env->state;
  double r = 0.0;
  int term = 0;
  if (env->cls->object) {
    /* The object checks its own state and restores it on NG_ENONFINITE. */
    status = env->cls->object->step(env->impl, action, obs, &r, &term);
    if (status != NG_OK) return status;
  } else {
    env->cls->step(&env->state, action, &next, &r, &term);
    /* Commit nothing from a step that left the finite numbers: the caller can still read
     * the last good state and observation. */
    if (!ng_all_finite(info->state_size, next.s) || !isfinite(r)) return NG_ENONFINITE;
    env->state = next;
  }

  env->elapsed++;
  int trunc = env->elapsed >= info->max_episode_steps;
  env->phase = (term || trunc) ? NG__ENV_ENDED : NG__ENV_RUNNING;
  if (!env->cls->object) env->cls->observe(&env->state, obs);
  *reward = r;
  *terminated = term;
  *truncated = trunc;
  return NG_OK;
}

int ng_env_set_state(ng_env_t *env, const double *state, double *obs) {
  if (!env || !state) return NG_EINVAL;
  if (env->cls->object) {
    int status = env->cls->object->set_state(env->impl, state, obs);
    if (status != NG_OK) return status;
    env->elapsed = 0;
    env->phase = NG__ENV_RUNNING;
    return NG_OK;
  }
  size_t n = env->cls->info.state_size;
  if (!ng_all_finite(n, state)) return NG_ENONFINITE;
  ng_env_state_t st;
  memset(&st, 0, sizeof st);
  memcpy(st.s, state, n * sizeof *state);
  st.f32 = 0;
  if (env->cls->has_f32_states) {
    st.f32 = 1;
    for (size_t i = 0; i < n; i++)
      if (ng_env_f32(state[i]) != state[i]) st.f32 = 0;
  }
  env->state = st;
  env->elapsed = 0;
  env->phase = NG__ENV_RUNNING;
  /* obs may be NULL when only the state matters (restoring a checkpoint). */
  if (obs) env->cls->observe(&env->state, obs);
  return NG_OK;
}

int ng_env_get_state(const ng_env_t *env, double *state) {
  if (!env || !state) return NG_EINVAL;
  if (env->phase == NG__ENV_NO_STATE) return NG_EINVAL;
  if (env->cls->object) return env->cls->object->get_state(env->impl, state);
  memcpy(state, env->state.s, env->cls->info.state_size * sizeof *state);
  return NG_OK;
}

ng_rng_t *ng_env_rng(ng_env_t *env) { return env ? &env->rng : NULL; }

int ng_env_elapsed_steps(const ng_env_t *env) { return env ? env->elapsed : 0; }
