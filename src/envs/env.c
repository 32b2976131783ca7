/* The environment registry and the generic wrapper around every environment: argument and
 * action checks, episode bookkeeping and the time limit (Gymnasium's TimeLimit: truncated
 * once the step counter reaches max_episode_steps, whether or not the step terminated).
 *
 * Every environment is a definition (natgrad/env.h's ng_env_def_t) and every call goes
 * through its callbacks: the built-in ones are static definitions, the others copies made
 * at registration. Registered copies are never freed (their ids, bounds and callbacks may
 * be in use anywhere), so every pointer handed out stays valid; a mutex orders
 * registration against lookups.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "envs/env_impl.h"
#include "envs/mujoco/mj_env.h"
#include "natgrad/dist.h"

static const ng_env_def_t *const ng__env_builtin[] = {
    &ng_env_cartpole.def,      &ng_env_pendulum.def, &ng_env_acrobot.def,
    &ng_env_mountain_car.def,  &ng_env_mountain_car_continuous.def,
    &ng_mj_inverted_pendulum.def, &ng_mj_inverted_double_pendulum.def, &ng_mj_swimmer.def,
    &ng_mj_hopper.def, &ng_mj_walker2d.def, &ng_mj_half_cheetah.def, &ng_mj_ant.def,
    &ng_mj_reacher.def, &ng_mj_pusher.def, &ng_mj_humanoid.def, &ng_mj_humanoid_standup.def,
};
#define NG__ENV_BUILTIN (sizeof ng__env_builtin / sizeof ng__env_builtin[0])

/* Registered after the built-in ones, with the plugin that did it (NULL: from C). */
static pthread_mutex_t ng__env_lock = PTHREAD_MUTEX_INITIALIZER;
static const ng_env_def_t *ng__env_user[NG_ENV_MAX_REGISTERED];
static const char *ng__env_user_plugin[NG_ENV_MAX_REGISTERED];
static size_t ng__env_n_user;

/* Where an env is in its episode. */
enum {
  NG__ENV_NO_STATE = 0, /* created, neither reset nor set_state yet */
  NG__ENV_RUNNING = 1,
  NG__ENV_ENDED = 2 /* the last step terminated or truncated: reset (or set_state) first */
};

struct ng_env {
  const ng_env_def_t *def;
  void *self; /* what def->create made */
  ng_rng_t rng;
  int elapsed; /* steps taken since the last reset / set_state */
  int phase;
};

size_t ng_space_size(const ng_space_t *space) {
  if (!space) return 0;
  return space->kind == NG_SPACE_DISCRETE ? 1 : space->dim;
}

/* ng_space_contains, static so that ng_env_step's check (err NULL) inlines: CartPole's step
 * is 40 ns, a call and a switch per component would be a measurable part of it. */
static inline int ng__space_contains(const ng_space_t *space, const double *x,
                                     ng_error_t *err) {
  if (space->kind == NG_SPACE_BOX && ng_all_finite(space->dim, x)) return NG_OK;
  if (space->kind == NG_SPACE_DISCRETE && x[0] >= 0.0 && x[0] < (double)space->dim &&
      x[0] == floor(x[0]))
    return NG_OK;
  /* the other kinds, and the message for a bad element */
  const size_t n = ng_space_size(space);
  for (size_t i = 0; i < n; i++) {
    const double v = x[i];
    if (!isfinite(v))
      return ng_error_set(err, NG_ENONFINITE, "component %zu is %g", i, v);
    switch (space->kind) {
      case NG_SPACE_BOX:
        break;
      case NG_SPACE_DISCRETE:
      case NG_SPACE_MULTI_DISCRETE: {
        const double hi = space->kind == NG_SPACE_DISCRETE ? (double)space->dim
                                                            : (double)space->nvec[i];
        if (v != floor(v) || v < 0.0 || v >= hi)
          return ng_error_set(err, NG_EINVAL, "component %zu: %g is not one of 0..%.0f", i, v,
                              hi - 1.0);
        break;
      }
      case NG_SPACE_MULTI_BINARY:
        if (v != 0.0 && v != 1.0)
          return ng_error_set(err, NG_EINVAL, "component %zu: %g is not 0 or 1", i, v);
        break;
      default:
        return ng_error_set(err, NG_EINVAL, "space: unknown kind %d", (int)space->kind);
    }
  }
  return NG_OK;
}

int ng_space_contains(const ng_space_t *space, const double *x, ng_error_t *err) {
  if (!space || !x) return ng_error_set(err, NG_EINVAL, "space: NULL argument");
  int s = ng__space_contains(space, x, err);
  if (!s) ng_error_clear(err);
  return s;
}

/* ---- the registry ---------------------------------------------------------------------- */

/* Entry i (built-in first), or NULL; *plugin (if non-NULL) its plugin. Under the lock. */
static const ng_env_def_t *ng__env_at_locked(size_t i, const char **plugin) {
  if (plugin) *plugin = NULL;
  if (i < NG__ENV_BUILTIN) return ng__env_builtin[i];
  i -= NG__ENV_BUILTIN;
  if (i >= ng__env_n_user) return NULL;
  if (plugin) *plugin = ng__env_user_plugin[i];
  return ng__env_user[i];
}

static const ng_env_def_t *ng__env_find_locked(const char *id, const char **plugin) {
  const ng_env_def_t *d;
  for (size_t i = 0; (d = ng__env_at_locked(i, plugin)) != NULL; i++)
    if (!strcmp(d->info.id, id)) return d;
  return NULL;
}

static const ng_env_def_t *ng__env_def_find(const char *id, const char **plugin) {
  if (!id) return NULL;
  pthread_mutex_lock(&ng__env_lock);
  const ng_env_def_t *d = ng__env_find_locked(id, plugin);
  pthread_mutex_unlock(&ng__env_lock);
  return d;
}

size_t ng_env_count(void) {
  pthread_mutex_lock(&ng__env_lock);
  size_t n = NG__ENV_BUILTIN + ng__env_n_user;
  pthread_mutex_unlock(&ng__env_lock);
  return n;
}

const ng_env_info_t *ng_env_info_at(size_t i) {
  pthread_mutex_lock(&ng__env_lock);
  const ng_env_def_t *d = ng__env_at_locked(i, NULL);
  pthread_mutex_unlock(&ng__env_lock);
  return d ? &d->info : NULL;
}

const ng_env_info_t *ng_env_find(const char *id) {
  const ng_env_def_t *d = ng__env_def_find(id, NULL);
  return d ? &d->info : NULL;
}

const char *ng_env_plugin_path(const char *id) {
  const char *plugin = NULL;
  return ng__env_def_find(id, &plugin) ? plugin : NULL;
}

/* Gymnasium's ids are NAME-vN; NAME here: a letter, then letters, digits and _ . : / -. */
static const char *ng__env_id_problem(const char *id) {
  size_t n = strlen(id);
  if (n == 0) return "an empty id";
  if (n > NG_ENV_ID_MAX) return "an id longer than NG_ENV_ID_MAX characters";
  if (!((id[0] >= 'A' && id[0] <= 'Z') || (id[0] >= 'a' && id[0] <= 'z')))
    return "an id that does not start with a letter";
  size_t v = n;
  while (v > 0 && id[v - 1] >= '0' && id[v - 1] <= '9') v--;
  if (v == n || v < 3 || id[v - 1] != 'v' || id[v - 2] != '-')
    return "an id without a version suffix -vN (e.g. MyEnv-v0)";
  for (size_t i = 0; i < v - 2; i++) {
    char c = id[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == ':' || c == '/' || c == '-'))
      return "an id with a character other than letters, digits and _ . : / -";
  }
  return NULL;
}

/* What is wrong with a space, or NULL; obs: the observation space (Box or Discrete). */
static const char *ng__env_space_problem(const ng_space_t *sp, int obs, char *buf,
                                         size_t size) {
  if (sp->kind != NG_SPACE_BOX && sp->kind != NG_SPACE_DISCRETE &&
      sp->kind != NG_SPACE_MULTI_DISCRETE && sp->kind != NG_SPACE_MULTI_BINARY)
    return "an unknown kind";
  if (obs && sp->kind != NG_SPACE_BOX && sp->kind != NG_SPACE_DISCRETE)
    return "a MultiDiscrete or MultiBinary observation space (Box and Discrete observations "
           "are supported)";
  if (sp->dim == 0) return "dimension 0";
  if (sp->dim > NG_ENV_MAX_DIM) return "a dimension above NG_ENV_MAX_DIM";
  if (sp->kind == NG_SPACE_MULTI_DISCRETE) {
    /* the policy's MultiDiscrete keeps its counts inline (dist.h), hence the limit */
    if (!sp->nvec) return "a MultiDiscrete without its nvec counts";
    if (sp->dim > NG_DIST_MAX_COMPONENTS) {
      snprintf(buf, size, "a MultiDiscrete of %zu components (at most NG_DIST_MAX_COMPONENTS, "
               "%d)", sp->dim, NG_DIST_MAX_COMPONENTS);
      return buf;
    }
    for (size_t i = 0; i < sp->dim; i++)
      if (sp->nvec[i] == 0) {
        snprintf(buf, size, "a count of 0 in component %zu of a MultiDiscrete", i);
        return buf;
      }
  }
  if (sp->kind != NG_SPACE_BOX) return NULL;
  if (!sp->low || !sp->high) return "a Box without its low and high bounds";
  for (size_t i = 0; i < sp->dim; i++) {
    double lo = sp->low[i], hi = sp->high[i];
    const char *what = isnan(lo) || isnan(hi) ? "a NaN bound"
                       : lo > hi              ? "low > high"
                       : lo == INFINITY       ? "low = +inf"
                       : hi == -INFINITY      ? "high = -inf"
                                              : NULL;
    if (what) {
      snprintf(buf, size, "%s in component %zu (low %g, high %g)", what, i, lo, hi);
      return buf;
    }
  }
  return NULL;
}

int ng_env_def_check(const ng_env_def_t *def, ng_error_t *err) {
  if (!def) return ng_error_set(err, NG_EINVAL, "env: NULL definition");
  const ng_env_info_t *in = &def->info;
  if (!in->id) return ng_error_set(err, NG_EINVAL, "env: a definition without an id");
  const char *bad = ng__env_id_problem(in->id);
  if (bad) {
    /* the message is one line of text whatever bytes the refused id holds */
    char shown[81];
    size_t i = 0;
    for (; in->id[i] && i < sizeof shown - 1; i++)
      shown[i] = (unsigned char)in->id[i] < 0x20 || (unsigned char)in->id[i] >= 0x7f
                     ? '?' : in->id[i];
    shown[i] = '\0';
    return ng_error_set(err, NG_EINVAL, "env '%s': %s", shown, bad);
  }
  if (!def->create || !def->destroy || !def->reset || !def->step)
    return ng_error_set(err, NG_EINVAL, "env %s: missing callback %s", in->id,
                        !def->create ? "create" : !def->destroy ? "destroy"
                        : !def->reset ? "reset" : "step");
  if (!def->get_state != !def->set_state)
    return ng_error_set(err, NG_EINVAL, "env %s: %s without %s: give both or neither", in->id,
                        def->get_state ? "get_state" : "set_state",
                        def->get_state ? "set_state" : "get_state");
  if (!def->get_state != (in->state_size == 0))
    return ng_error_set(err, NG_EINVAL, "env %s: state_size is %zu %s get/set_state", in->id,
                        in->state_size, def->get_state ? "with" : "without");
  if (in->state_size > NG_ENV_MAX_DIM)
    return ng_error_set(err, NG_EINVAL, "env %s: state_size %zu is above NG_ENV_MAX_DIM",
                        in->id, in->state_size);
  if (in->state_min_size >= in->state_size && in->state_min_size)
    return ng_error_set(err, NG_EINVAL, "env %s: state_min_size %zu is not below state_size "
                        "%zu", in->id, in->state_min_size, in->state_size);
  if (in->max_episode_steps < 1)
    return ng_error_set(err, NG_EINVAL, "env %s: time limit %d: max_episode_steps must be >= 1",
                        in->id, in->max_episode_steps);
  char buf[160];
  if ((bad = ng__env_space_problem(&in->observation_space, 1, buf, sizeof buf)))
    return ng_error_set(err, NG_EINVAL, "env %s: observation space: %s", in->id, bad);
  if ((bad = ng__env_space_problem(&in->action_space, 0, buf, sizeof buf)))
    return ng_error_set(err, NG_EINVAL, "env %s: action space: %s", in->id, bad);
  ng_error_clear(err);
  return NG_OK;
}

/* A registrable copy: the definition and, in the same block, everything its description
 * points at. */
typedef struct {
  ng_env_def_t def;
  char id[NG_ENV_ID_MAX + 1];
} ng__env_copy_t;

int ng__env_copy(const ng_env_def_t *def, ng_env_def_t **out, ng_error_t *err) {
  *out = NULL;
  int s = ng_env_def_check(def, err);
  if (s) return s;
  const ng_env_info_t *in = &def->info;
  const char *summary = in->summary ? in->summary : "";
  const char *doc = in->state_doc ? in->state_doc : "";
  /* only a Box's bounds and a MultiDiscrete's counts point anywhere */
  const ng_space_t *os = &in->observation_space, *as = &in->action_space;
  size_t od = os->kind == NG_SPACE_BOX ? os->dim : 0;
  size_t ad = as->kind == NG_SPACE_BOX ? as->dim : 0;
  size_t an = as->kind == NG_SPACE_MULTI_DISCRETE ? as->dim : 0;
  size_t ls = strlen(summary) + 1, ld = strlen(doc) + 1;
  size_t nb = 2 * (od + ad);
  /* doubles first after the struct (aligned), then the counts, then the two strings */
  ng__env_copy_t *c = ng_malloc(sizeof *c + nb * sizeof(double) + an * sizeof(uint32_t) + ls +
                                ld);
  if (!c) return ng_error_set(err, NG_ENOMEM, "env %s: out of memory", in->id);
  double *b = (double *)(c + 1);
  uint32_t *counts = (uint32_t *)(b + nb);
  char *str = (char *)(counts + an);
  c->def = *def;
  snprintf(c->id, sizeof c->id, "%s", in->id);
  c->def.info.id = c->id;
  memcpy(str, summary, ls);
  c->def.info.summary = str;
  memcpy(str + ls, doc, ld);
  c->def.info.state_doc = str + ls;
  ng_space_t *cos = &c->def.info.observation_space, *cas = &c->def.info.action_space;
  cos->low = cos->high = cas->low = cas->high = NULL;
  cos->nvec = cas->nvec = NULL;
  if (od) {
    memcpy(b, os->low, od * sizeof *b);
    memcpy(b + od, os->high, od * sizeof *b);
    cos->low = b;
    cos->high = b + od;
  }
  if (ad) {
    memcpy(b + 2 * od, as->low, ad * sizeof *b);
    memcpy(b + 2 * od + ad, as->high, ad * sizeof *b);
    cas->low = b + 2 * od;
    cas->high = b + 2 * od + ad;
  }
  if (an) {
    memcpy(counts, as->nvec, an * sizeof *counts);
    cas->nvec = counts;
  }
  *out = &c->def;
  ng_error_clear(err);
  return NG_OK;
}

void ng__env_copy_free(ng_env_def_t *copy) { ng_free(copy); }

int ng__env_commit(ng_env_def_t *const *copies, size_t n, const char *plugin,
                   ng_error_t *err) {
  pthread_mutex_lock(&ng__env_lock);
  int s = NG_OK;
  if (ng__env_n_user + n > NG_ENV_MAX_REGISTERED)
    s = ng_error_set(err, NG_ERANGE, "env: more than %d registered environments",
                     NG_ENV_MAX_REGISTERED);
  for (size_t i = 0; i < n && !s; i++) {
    const char *id = copies[i]->info.id, *other = NULL;
    int clash = ng__env_find_locked(id, &other) != NULL;
    for (size_t j = 0; j < i && !clash; j++) clash = !strcmp(copies[j]->info.id, id);
    if (clash)
      s = ng_error_set(err, NG_EINVAL, "env %s: the id is taken (by %s)", id,
                       other ? other : "a built-in or registered environment");
  }
  for (size_t i = 0; i < n && !s; i++) {
    ng__env_user_plugin[ng__env_n_user] = plugin;
    ng__env_user[ng__env_n_user++] = copies[i];
  }
  pthread_mutex_unlock(&ng__env_lock);
  if (!s) ng_error_clear(err);
  return s;
}

int ng_env_register(const ng_env_def_t *def, ng_error_t *err) {
  ng_env_def_t *copy;
  int s = ng__env_copy(def, &copy, err);
  if (s) return s;
  if ((s = ng__env_commit(&copy, 1, NULL, err))) ng__env_copy_free(copy);
  return s;
}

/* ---- one environment -------------------------------------------------------------------- */

/* An environment of def (registered or the caller's, checked). */
static int ng__env_create(ng_env_t **out, const ng_env_def_t *def, ng_error_t *err) {
  ng_env_t *env = ng_calloc(1, sizeof *env);
  if (!env) return ng_error_set(err, NG_ENOMEM, "ng_env_create: out of memory");
  env->def = def;
  ng_error_clear(err);
  int status = def->create(&env->self, def, err);
  if (status != NG_OK) {
    ng_free(env);
    if (err && err->status == NG_OK) /* a user's create that said nothing */
      ng_error_set(err, status < 0 ? status : NG_EINVAL, "%s: create failed (%s)",
                   def->info.id, ng_strerror(status < 0 ? status : NG_EINVAL));
    return status < 0 ? status : NG_EINVAL;
  }
  ng_rng_seed(&env->rng, 0, 0);
  env->phase = NG__ENV_NO_STATE;
  *out = env;
  return NG_OK;
}

int ng_env_create(ng_env_t **out, const char *id, ng_error_t *err) {
  if (!out) return ng_error_set(err, NG_EINVAL, "ng_env_create: out is NULL");
  *out = NULL;
  if (!id) return ng_error_set(err, NG_EINVAL, "ng_env_create: id is NULL");
  const ng_env_def_t *def = ng__env_def_find(id, NULL);
  if (!def) {
    char known[448]; /* the built-in ids fit; ng_error_t holds 512 */
    size_t len = 0;
    known[0] = '\0';
    const ng_env_info_t *info;
    for (size_t i = 0; (info = ng_env_info_at(i)) != NULL && len < sizeof known; i++) {
      int n = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", info->id);
      if (n < 0) break;
      len += (size_t)n;
    }
    return ng_error_set(err, NG_ENOTFOUND, "unknown environment '%s' (known: %s)", id, known);
  }
  return ng__env_create(out, def, err);
}

int ng_env_create_from_def(ng_env_t **out, const ng_env_def_t *def, ng_error_t *err) {
  if (!out) return ng_error_set(err, NG_EINVAL, "ng_env_create_from_def: out is NULL");
  *out = NULL;
  int s = ng_env_def_check(def, err);
  return s ? s : ng__env_create(out, def, err);
}

void ng_env_destroy(ng_env_t *env) {
  if (env) env->def->destroy(env->self);
  ng_free(env);
}

const ng_env_info_t *ng_env_info(const ng_env_t *env) { return env ? &env->def->info : NULL; }

void ng_env_seed(ng_env_t *env, uint64_t seed, uint64_t stream) {
  if (env) ng_rng_seed(&env->rng, seed, stream);
}

/* A callback's status as a library status: a user's positive code is not one. */
static int ng__env_status(int s) { return s > 0 ? NG_EINVAL : s; }

int ng_env_reset(ng_env_t *env, double *obs) {
  if (!env || !obs) return NG_EINVAL;
  int status = ng__env_status(env->def->reset(env->self, &env->rng, obs));
  if (status != NG_OK) return status;
  env->elapsed = 0;
  env->phase = NG__ENV_RUNNING;
  return NG_OK;
}

int ng_env_step(ng_env_t *env, const double *action, double *obs, double *reward,
                int *terminated, int *truncated) {
  if (!env || !action || !obs || !reward || !terminated || !truncated) return NG_EINVAL;
  if (env->phase != NG__ENV_RUNNING) return NG_EINVAL;
  const ng_env_info_t *info = &env->def->info;
  int status = ng__space_contains(&info->action_space, action, NULL);
  if (status != NG_OK) return status;
  double r = 0.0;
  int term = 0;
  status = ng__env_status(env->def->step(env->self, &env->rng, action, obs, &r, &term));
  if (status != NG_OK) return status;
  env->elapsed++;
  int trunc = env->elapsed >= info->max_episode_steps;
  env->phase = (term || trunc) ? NG__ENV_ENDED : NG__ENV_RUNNING;
  *reward = r;
  *terminated = term != 0;
  *truncated = trunc;
  return NG_OK;
}

int ng_env_set_state(ng_env_t *env, const double *state, double *obs) {
  if (!env || !state) return NG_EINVAL;
  if (!env->def->set_state) return NG_EUNSUPPORTED;
  if (!ng_all_finite(env->def->info.state_size, state)) return NG_ENONFINITE;
  /* obs may be NULL when only the state matters (restoring a checkpoint). */
  int status = ng__env_status(env->def->set_state(env->self, state, obs));
  if (status != NG_OK) return status;
  env->elapsed = 0;
  env->phase = NG__ENV_RUNNING;
  return NG_OK;
}

int ng_env_get_state(const ng_env_t *env, double *state) {
  if (!env || !state) return NG_EINVAL;
  if (!env->def->get_state) return NG_EUNSUPPORTED;
  if (env->phase == NG__ENV_NO_STATE) return NG_EINVAL;
  return ng__env_status(env->def->get_state(env->self, state));
}

ng_rng_t *ng_env_rng(ng_env_t *env) { return env ? &env->rng : NULL; }

int ng_env_elapsed_steps(const ng_env_t *env) { return env ? env->elapsed : 0; }
