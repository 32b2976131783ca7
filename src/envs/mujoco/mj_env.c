/* The MuJoCo engine behind the locomotion environments: shared models, one mjData per
 * environment, Gymnasium's MujocoEnv (reset, set_state, do_simulation) in C.
 *
 * Stepping. Gymnasium calls mujoco.mj_step(model, data, nstep=frame_skip) and then
 * mj_rnePostConstraint. mj_step is mj_checkPos, mj_checkVel, mj_forward, mj_checkAcc and the
 * integrator; the checks reset the whole simulation (and print a warning) when a value is
 * NaN/Inf or beyond mjMAXVAL. A library must neither print nor hide a divergence, so each
 * frame here runs the same sequence with the checks done by us: mj_forward, then mj_Euler
 * or mj_RungeKutta(4), exactly the functions mj_step calls (tests/test_mujoco.c checks that
 * the states agree bit for bit with mj_step), and a bad value makes the step fail with
 * NG_ENONFINITE (a NaN/Inf) or NG_ERANGE (a finite value beyond mjMAXVAL: the simulation
 * diverged) and restores the state from before the step.
 *
 * State (mj_env.h): qpos, qvel, the solver's warm start and act, everything the next
 * mj_step reads from mjData besides ctrl (set by every step) and the time (read by nothing
 * in these models), and the values a reward differences when they come from the
 * kinematics of the last substep (Ant, Humanoid), so that a state read in mid-episode and set into another environment
 * continues bit for bit (checkpoints), while qpos and qvel alone still mean what Gymnasium's
 * set_state means (`natgrad replay --state`, tests/test_mujoco.c's reference).
 *
 * Memory. mjModel and mjData come from MuJoCo's allocator; our own objects from ng_malloc.
 * Models are compiled from the MJCF text embedded in the library (models/NAME.xml, turned into
 * C arrays by cmake/mujoco.cmake) through MuJoCo's virtual file system, once per task while
 * any environment of that task exists (reference count under a mutex), and are only read
 * afterwards. Nothing is allocated after create.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "envs/mujoco/mj_env.h"

#define NG_MJ_R8(x) x, x, x, x, x, x, x, x
#define NG_MJ_R64(x) NG_MJ_R8(NG_MJ_R8(x))
/* 348 = 5 x 64 + 3 x 8 + 4 */
#define NG_MJ_R348(x) NG_MJ_R64(x), NG_MJ_R64(x), NG_MJ_R64(x), NG_MJ_R64(x), NG_MJ_R64(x), \
                      NG_MJ_R8(x), NG_MJ_R8(x), NG_MJ_R8(x), x, x, x, x
const double ng_mj_inf[NG_MJ_MAX_OBS] = {NG_MJ_R348(INFINITY)};
const double ng_mj_minus_inf[NG_MJ_MAX_OBS] = {NG_MJ_R348(-INFINITY)};
const double ng_mj_ones[NG_MJ_MAX_ACT] = {NG_MJ_R8(1.0), NG_MJ_R8(1.0), 1.0};
const double ng_mj_minus_ones[NG_MJ_MAX_ACT] = {NG_MJ_R8(-1.0), NG_MJ_R8(-1.0), -1.0};

/* NumPy's pairwise summation of float64 (numpy/_core/src/umath/loops_utils.h.src): under 8
 * terms a plain loop; up to 128, eight running sums over blocks of 8, combined as a tree,
 * then the rest one by one; above, split in two halves of a multiple of 8. The terms are
 * x[i] or, with `square`, x[i] * x[i] (np.square's product). */
#define NG_MJ_TERM(i) (square ? x[i] * x[i] : x[i])
static double ng_mj_pairwise(const double *x, size_t n, int square) {
  if (n < 8) {
    double res = -0.0;
    for (size_t i = 0; i < n; i++) res += NG_MJ_TERM(i);
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; j++) r[j] = NG_MJ_TERM(j);
    size_t i;
    for (i = 8; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; j++) r[j] += NG_MJ_TERM(i + j);
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += NG_MJ_TERM(i);
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return ng_mj_pairwise(x, n2, square) + ng_mj_pairwise(x + n2, n - n2, square);
}
#undef NG_MJ_TERM

/* np.add.reduce starts from the identity 0.0 and adds the pairwise sum of all terms. */
double ng_mj_sum_squares(size_t n, const double *x) { return 0.0 + ng_mj_pairwise(x, n, 1); }
double ng_mj_sum(size_t n, const double *x) { return 0.0 + ng_mj_pairwise(x, n, 0); }

#ifndef NG_HAVE_MUJOCO

/* ---- a build without MuJoCo: the environments exist but cannot be created ------------- */

int ng_mj_available(void) { return 0; }

const char *ng_mj_model_xml(const char *model_name, size_t *len) {
  (void)model_name;
  if (len) *len = 0;
  return NULL;
}

int ng_mj_env_create(ng_mj_env_t **out, const ng_mj_task_t *task, ng_error_t *err) {
  if (out) *out = NULL;
  return ng_error_set(err, NG_EUNSUPPORTED,
                      "%s needs MuJoCo, and this natgrad was built without it: install it "
                      "(apt-get install libmujoco-dev) and rebuild",
                      task ? task->def.info.id : "this environment");
}

void ng_mj_env_destroy(ng_mj_env_t *env) { (void)env; }
int ng_mj_env_reset(ng_mj_env_t *env, ng_rng_t *rng, double *obs) {
  (void)env, (void)rng, (void)obs;
  return NG_EUNSUPPORTED;
}
int ng_mj_env_step(ng_mj_env_t *env, const double *action, double *obs, double *reward,
                   int *terminated) {
  (void)env, (void)action, (void)obs, (void)reward, (void)terminated;
  return NG_EUNSUPPORTED;
}
int ng_mj_env_set_state(ng_mj_env_t *env, const double *state, double *obs) {
  (void)env, (void)state, (void)obs;
  return NG_EUNSUPPORTED;
}
int ng_mj_env_get_state(const ng_mj_env_t *env, double *state) {
  (void)env, (void)state;
  return NG_EUNSUPPORTED;
}
void ng_mj_env_view(const ng_mj_env_t *env, ng_mj_view_t *view) {
  (void)env;
  if (view) memset(view, 0, sizeof *view);
}

#else /* NG_HAVE_MUJOCO */

#include <pthread.h>

#include <mujoco/mujoco.h>

/* ---- embedded models (generated by cmake/mujoco.cmake) ---------------------------------- */

#define NG_MJ_MODELS(X)                                                                      \
  X(inverted_pendulum) X(inverted_double_pendulum) X(swimmer) X(hopper) X(walker2d)         \
  X(half_cheetah) X(ant) X(reacher) X(pusher) X(humanoid) X(humanoid_standup)

#define NG_MJ_DECLARE_XML(name)                                                              \
  extern const unsigned char ng_mj_xml_##name[];                                             \
  extern const size_t ng_mj_xml_##name##_len;
NG_MJ_MODELS(NG_MJ_DECLARE_XML)
#undef NG_MJ_DECLARE_XML

typedef struct {
  const char *name;
  const unsigned char *xml;
  const size_t *len;
  /* The compiled model and how many environments hold it (under ng_mj_cache_lock). */
  mjModel *model;
  int refs;
} ng_mj_model_slot_t;

#define NG_MJ_SLOT(name) {#name, ng_mj_xml_##name, &ng_mj_xml_##name##_len, NULL, 0},
static ng_mj_model_slot_t ng_mj_models[] = {NG_MJ_MODELS(NG_MJ_SLOT)};
#undef NG_MJ_SLOT
#define NG_MJ_NMODELS (sizeof ng_mj_models / sizeof ng_mj_models[0])

static pthread_mutex_t ng_mj_cache_lock = PTHREAD_MUTEX_INITIALIZER;

int ng_mj_available(void) { return 1; }

static ng_mj_model_slot_t *ng_mj_slot(const char *model_name) {
  if (!model_name) return NULL;
  for (size_t i = 0; i < NG_MJ_NMODELS; i++)
    if (!strcmp(ng_mj_models[i].name, model_name)) return &ng_mj_models[i];
  return NULL;
}

const char *ng_mj_model_xml(const char *model_name, size_t *len) {
  ng_mj_model_slot_t *slot = ng_mj_slot(model_name);
  if (len) *len = slot ? *slot->len : 0;
  return slot ? (const char *)slot->xml : NULL;
}

/* Compiles the MJCF text through a virtual file system (no file is read). mjVFS is a large
 * fixed-size struct in MuJoCo 2.2 (two thousand file names), hence the heap. */
static int ng_mj_compile(const ng_mj_model_slot_t *slot, mjModel **out, ng_error_t *err) {
  *out = NULL;
  mjVFS *vfs = ng_malloc(sizeof *vfs);
  if (!vfs) return ng_error_set(err, NG_ENOMEM, "MuJoCo model %s: out of memory", slot->name);
  mj_defaultVFS(vfs);
  char fname[64];
  snprintf(fname, sizeof fname, "natgrad-embedded-%s.xml", slot->name);
  int status = NG_OK;
  if (mj_makeEmptyFileVFS(vfs, fname, (int)*slot->len) != 0) {
    status = ng_error_set(err, NG_ENOMEM, "MuJoCo model %s: virtual file system full",
                          slot->name);
  } else {
    int i = mj_findFileVFS(vfs, fname);
    memcpy(vfs->filedata[i], slot->xml, *slot->len);
    char msg[512] = "";
    *out = mj_loadXML(fname, vfs, msg, (int)sizeof msg);
    if (!*out)
      status = ng_error_set(err, NG_EFORMAT, "MuJoCo model %s does not compile: %s", slot->name,
                            msg);
  }
  mj_deleteVFS(vfs);
  ng_free(vfs);
  return status;
}

/* The shared model of a task, compiled on first use; every call is paired with
 * ng_mj_model_release. */
static int ng_mj_model_acquire(const ng_mj_task_t *task, mjModel **out, ng_error_t *err) {
  ng_mj_model_slot_t *slot = ng_mj_slot(task->model_name);
  if (!slot)
    return ng_error_set(err, NG_ENOTFOUND, "%s: no embedded model '%s'", task->def.info.id,
                        task->model_name);
  int status = NG_OK;
  pthread_mutex_lock(&ng_mj_cache_lock);
  if (!slot->model) {
    mjModel *m = NULL;
    status = ng_mj_compile(slot, &m, err);
    if (status == NG_OK &&
        (m->nq != task->nq || m->nv != task->nv || m->nu != task->nu ||
         m->nbody != task->nbody || m->nsite != task->nsite ||
         (m->opt.integrator != mjINT_EULER && m->opt.integrator != mjINT_RK4))) {
      status = ng_error_set(err, NG_EFORMAT,
                            "%s: model %s has nq=%d nv=%d nu=%d nbody=%d nsite=%d integrator %d, "
                            "expected %d %d %d %d %d and Euler or RK4",
                            task->def.info.id, slot->name, m->nq, m->nv, m->nu, m->nbody,
                            m->nsite, m->opt.integrator, task->nq, task->nv, task->nu,
                            task->nbody, task->nsite);
      mj_deleteModel(m);
      m = NULL;
    }
    /* the state layout of mj_env.h, which the task's description spells out */
    if (status == NG_OK &&
        (task->def.info.state_size !=
             (size_t)(m->nq + 2 * m->nv + 1 + m->na + task->track_in_state) ||
         task->def.info.state_min_size != (size_t)(m->nq + m->nv))) {
      status = ng_error_set(err, NG_EFORMAT,
                            "%s: model %s has nq=%d nv=%d na=%d: state_size %zu and "
                            "state_min_size %zu do not fit",
                            task->def.info.id, slot->name, m->nq, m->nv, m->na,
                            task->def.info.state_size, task->def.info.state_min_size);
      mj_deleteModel(m);
      m = NULL;
    }
    slot->model = m;
  }
  if (status == NG_OK) {
    slot->refs++;
    *out = slot->model;
  }
  pthread_mutex_unlock(&ng_mj_cache_lock);
  return status;
}

static void ng_mj_model_release(const ng_mj_task_t *task) {
  ng_mj_model_slot_t *slot = ng_mj_slot(task->model_name);
  if (!slot) return;
  pthread_mutex_lock(&ng_mj_cache_lock);
  if (slot->refs > 0 && --slot->refs == 0) {
    mj_deleteModel(slot->model);
    slot->model = NULL;
  }
  pthread_mutex_unlock(&ng_mj_cache_lock);
}

/* ---- the environment -------------------------------------------------------------------- */

struct ng_mj_env {
  const ng_mj_task_t *task;
  const mjModel *m; /* shared, read-only */
  mjData *d;
  double dt; /* timestep * frame_skip, as MujocoEnv.dt */
  /* The state before the current step (mj_env.h's layout), to restore it if the step
   * diverges, and the time. */
  double *saved;
  double saved_time;
  /* The tracked values a state set them to (held), for the next step's reward instead of
   * the task's track: the kinematics they came from are not the ones mj_forward recomputes. */
  double held[NG_MJ_MAX_TRACK];
  int has_held;
};

/* MuJoCo counts a warning in mjData and prints the first of each kind (mj_warning). Marking
 * every kind as already seen keeps the library silent; nothing reads these counters. */
static void ng_mj_silence(mjData *d) {
  for (int i = 0; i < mjNWARNING; i++)
    if (d->warning[i].number == 0) d->warning[i].number = 1;
}

static void ng_mj_view_of(const mjModel *m, const mjData *d, ng_mj_view_t *v) {
  v->nq = m->nq;
  v->nv = m->nv;
  v->nu = m->nu;
  v->nbody = m->nbody;
  v->nsite = m->nsite;
  v->qpos = d->qpos;
  v->qvel = d->qvel;
  v->xpos = d->xpos;
  v->site_xpos = d->site_xpos;
  v->cfrc_ext = d->cfrc_ext;
  v->qfrc_constraint = d->qfrc_constraint;
  v->xipos = d->xipos;
  v->body_mass = m->body_mass;
  v->cinert = d->cinert;
  v->cvel = d->cvel;
  v->qfrc_actuator = d->qfrc_actuator;
}

void ng_mj_env_view(const ng_mj_env_t *env, ng_mj_view_t *view) {
  if (!view) return;
  if (!env) {
    memset(view, 0, sizeof *view);
    return;
  }
  ng_mj_view_of(env->m, env->d, view);
}

int ng_mj_env_create(ng_mj_env_t **out, const ng_mj_task_t *task, ng_error_t *err) {
  if (!out) return ng_error_set(err, NG_EINVAL, "ng_mj_env_create: out is NULL");
  *out = NULL;
  if (!task) return ng_error_set(err, NG_EINVAL, "ng_mj_env_create: task is NULL");
  mjModel *m = NULL;
  int status = ng_mj_model_acquire(task, &m, err);
  if (status != NG_OK) return status;
  ng_mj_env_t *env = ng_calloc(1, sizeof *env);
  if (env) env->saved = ng_calloc(task->def.info.state_size, sizeof *env->saved);
  if (env && env->saved) env->d = mj_makeData(m);
  if (!env || !env->saved || !env->d) {
    if (env) ng_free(env->saved);
    ng_free(env);
    ng_mj_model_release(task);
    return ng_error_set(err, NG_ENOMEM, "%s: out of memory", task->def.info.id);
  }
  env->task = task;
  env->m = m;
  env->dt = m->opt.timestep * task->frame_skip;
  ng_mj_silence(env->d);
  *out = env;
  ng_error_clear(err);
  return NG_OK;
}

void ng_mj_env_destroy(ng_mj_env_t *env) {
  if (!env) return;
  mj_deleteData(env->d);
  ng_free(env->saved);
  ng_mj_model_release(env->task);
  ng_free(env);
}

/* MuJoCo's mju_isBad over n values: 1 if one is NaN/Inf or beyond mjMAXVAL. One compare a
 * value: it runs around every substep; what kind of bad is asked only after a failure. */
static int ng_mj_any_bad(int n, const double *x) {
  for (int i = 0; i < n; i++)
    if (!(fabs(x[i]) <= mjMAXVAL)) return 1;
  return 0;
}

/* Of values ng_mj_any_bad found bad: NG_ENONFINITE if one is NaN/Inf, else NG_ERANGE (a
 * finite divergence). */
static int ng_mj_bad_kind(int n1, const double *x1, int n2, const double *x2) {
  return ng_all_finite((size_t)n1, x1) && ng_all_finite((size_t)n2, x2) ? NG_ERANGE
                                                                         : NG_ENONFINITE;
}

/* The tracked values the next step's reward starts from. */
static void ng_mj_before(const ng_mj_env_t *env, double *before) {
  ng_mj_view_t v;
  if (env->has_held) {
    memcpy(before, env->held, sizeof env->held);
  } else if (env->task->track) {
    ng_mj_view_of(env->m, env->d, &v);
    env->task->track(&v, before);
  }
}

/* The env's state, in mj_env.h's layout, with its warm start; before: ng_mj_before's. */
static void ng_mj_read(const ng_mj_env_t *env, const double *before, double *state) {
  const mjModel *m = env->m;
  const mjData *d = env->d;
  double *p = state;
  memcpy(p, d->qpos, (size_t)m->nq * sizeof *p), p += m->nq;
  memcpy(p, d->qvel, (size_t)m->nv * sizeof *p), p += m->nv;
  *p++ = 1.0;
  memcpy(p, d->qacc_warmstart, (size_t)m->nv * sizeof *p), p += m->nv;
  memcpy(p, d->act, (size_t)m->na * sizeof *p), p += m->na;
  memcpy(p, before, (size_t)env->task->track_in_state * sizeof *p);
}

/* Writes state into d and computes everything derived (mj_forward). mj_forward also writes
 * two of its inputs: its constraint solution over the warm start, and a free joint's
 * quaternion in qpos, normalised again (which can move its last bit). A state with the flag
 * 1 (as get_state read it) gets both back, and its tracked values are held for the next
 * reward, so that the next step is the one the environment it was read from would have
 * taken (whose own mj_forward normalises the quaternion once and starts the solver from
 * that warm start). With the flag 0 (Gymnasium's set_state) all stay as mj_forward leaves
 * them. */
static void ng_mj_write(ng_mj_env_t *env, const double *state) {
  const mjModel *m = env->m;
  mjData *d = env->d;
  const double *warm = state + m->nq + m->nv + 1;
  int exact = warm[-1] != 0.0;
  env->has_held = exact && env->task->track_in_state > 0;
  if (env->has_held)
    memcpy(env->held, warm + m->nv + m->na,
           (size_t)env->task->track_in_state * sizeof *state);
  memcpy(d->qpos, state, (size_t)m->nq * sizeof *state);
  memcpy(d->qvel, state + m->nq, (size_t)m->nv * sizeof *state);
  memcpy(d->act, warm + m->nv, (size_t)m->na * sizeof *state);
  if (exact) memcpy(d->qacc_warmstart, warm, (size_t)m->nv * sizeof *state);
  mj_forward(m, d);
  if (exact) {
    memcpy(d->qpos, state, (size_t)m->nq * sizeof *state);
    memcpy(d->qacc_warmstart, warm, (size_t)m->nv * sizeof *state);
  }
}

/* MujocoEnv.set_state after mj_resetData: the data are reset (time, warm start,
 * activations, ctrl), then the state is written in. */
static void ng_mj_load_state(ng_mj_env_t *env, const double *state) {
  mj_resetData(env->m, env->d);
  ng_mj_silence(env->d);
  ng_mj_write(env, state);
}

static void ng_mj_observe(const ng_mj_env_t *env, double *obs) {
  ng_mj_view_t v;
  ng_mj_view_of(env->m, env->d, &v);
  env->task->observe(&v, obs);
}

int ng_mj_env_reset(ng_mj_env_t *env, ng_rng_t *rng, double *obs) {
  if (!env || !rng || !obs) return NG_EINVAL;
  const mjModel *m = env->m;
  const ng_mj_task_t *task = env->task;
  /* qpos, qvel; no warm start, as Gymnasium's set_state */
  double st[NG_MJ_MAX_STATE] = {0}, *qpos = st, *qvel = st + m->nq;
  double s = task->reset_noise_scale;
  if (task->reset) {
    task->reset(m->qpos0, rng, qpos, qvel);
  } else {
    /* init_qpos + np_random.uniform(low=-s, high=s, size=nq), then the qvel noise. */
    for (int i = 0; i < m->nq; i++) qpos[i] = m->qpos0[i] + ng_rng_uniform_range(rng, -s, s);
    for (int i = 0; i < m->nv; i++)
      qvel[i] = task->qvel_noise == NG_MJ_QVEL_NORMAL ? 0.0 + s * ng_rng_normal(rng)
                                                      : 0.0 + ng_rng_uniform_range(rng, -s, s);
  }
  ng_mj_load_state(env, st);
  ng_mj_observe(env, obs);
  return NG_OK;
}

int ng_mj_env_set_state(ng_mj_env_t *env, const double *state, double *obs) {
  if (!env || !state) return NG_EINVAL;
  const mjModel *m = env->m;
  int n = (int)env->task->def.info.state_size, nqv = m->nq + m->nv;
  /* MuJoCo's range applies to qpos and qvel; the rest need only be finite (env.c checked):
   * a warm start is a guess, and the one of a state near that range may lie beyond it */
  if (ng_mj_any_bad(nqv, state)) return ng_mj_bad_kind(nqv, state, 0, NULL);
  double flag = state[nqv];
  if (flag != 0.0 && flag != 1.0) return NG_EINVAL;
  /* flag 0 is the short form: qpos and qvel only, every warm-start value 0 */
  for (int i = nqv + 1; i < n && flag == 0.0; i++)
    if (state[i] != 0.0) return NG_EINVAL;
  ng_mj_load_state(env, state);
  if (obs) ng_mj_observe(env, obs);
  return NG_OK;
}

int ng_mj_env_get_state(const ng_mj_env_t *env, double *state) {
  if (!env || !state) return NG_EINVAL;
  double before[NG_MJ_MAX_TRACK] = {0.0, 0.0};
  ng_mj_before(env, before);
  ng_mj_read(env, before, state);
  return NG_OK;
}

static void ng_mj_save(ng_mj_env_t *env, const double *before) {
  ng_mj_read(env, before, env->saved);
  env->saved_time = env->d->time;
}

/* Puts back the state saved before a failed step (the warm start too, so that the next
 * step starts as the failed one did) and recomputes what derives from it. */
static void ng_mj_restore(ng_mj_env_t *env) {
  env->d->time = env->saved_time;
  ng_mj_write(env, env->saved);
  mj_rnePostConstraint(env->m, env->d);
}

/* qpos and qvel as mju_isBad judges them: 0, NG_ENONFINITE (NaN/Inf in either) or
 * NG_ERANGE. */
static int ng_mj_state_bad(const mjModel *m, const mjData *d) {
  if (!ng_mj_any_bad(m->nq, d->qpos) && !ng_mj_any_bad(m->nv, d->qvel)) return 0;
  return ng_mj_bad_kind(m->nq, d->qpos, m->nv, d->qvel);
}

/* mj_step(m, d) nstep times, with its validity checks made ours (see the top of the file).
 * Returns 0, or at the first frame whose qpos, qvel or qacc is bad: NG_ENONFINITE
 * (NaN/Inf) or NG_ERANGE (beyond mjMAXVAL). */
static int ng_mj_simulate(const mjModel *m, mjData *d, int nstep) {
  int bad;
  for (int k = 0; k < nstep; k++) {
    if ((bad = ng_mj_state_bad(m, d))) return bad;
    mj_forward(m, d);
    if (ng_mj_any_bad(m->nv, d->qacc)) return ng_mj_bad_kind(m->nv, d->qacc, 0, NULL);
    if (m->opt.integrator == mjINT_RK4)
      mj_RungeKutta(m, d, 4);
    else
      mj_Euler(m, d);
  }
  return ng_mj_state_bad(m, d);
}

int ng_mj_env_step(ng_mj_env_t *env, const double *action, double *obs, double *reward,
                   int *terminated) {
  if (!env || !action || !obs || !reward || !terminated) return NG_EINVAL;
  const mjModel *m = env->m;
  mjData *d = env->d;
  const ng_mj_task_t *task = env->task;
  ng_mj_view_t v;
  ng_mj_view_of(m, d, &v);

  double before[NG_MJ_MAX_TRACK] = {0.0, 0.0};
  ng_mj_before(env, before);
  ng_mj_save(env, before); /* the state before the step, should it diverge */

  /* do_simulation: data.ctrl[:] = action; mj_step(nstep=frame_skip); mj_rnePostConstraint. */
  memcpy(d->ctrl, action, (size_t)m->nu * sizeof *action);
  int bad = ng_mj_simulate(m, d, task->frame_skip);
  if (!bad) mj_rnePostConstraint(m, d);

  double r = 0.0, o[NG_MJ_MAX_OBS];
  int term = 0;
  size_t nobs = task->def.info.observation_space.dim;
  if (!bad) {
    task->reward(&v, before, action, env->dt, &r, &term);
    task->observe(&v, o);
    if (!isfinite(r) || !ng_all_finite(nobs, o)) bad = NG_ENONFINITE;
  }
  if (bad) {
    ng_mj_restore(env);
    return bad;
  }
  env->has_held = 0; /* the step's own kinematics from here */
  memcpy(obs, o, nobs * sizeof *o);
  *reward = r;
  *terminated = term;
  return NG_OK;
}

#endif /* NG_HAVE_MUJOCO */

/* ---- the definitions' callbacks (env.c dispatches through them) ------------------------ */

int ng_mj_def_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  return ng_mj_env_create((ng_mj_env_t **)self, def->user, err);
}
void ng_mj_def_destroy(void *self) { ng_mj_env_destroy(self); }
int ng_mj_def_reset(void *self, ng_rng_t *rng, double *obs) {
  return ng_mj_env_reset(self, rng, obs);
}
/* MuJoCo's dynamics are deterministic: the stream is for the reset noise only. */
int ng_mj_def_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                   double *reward, int *terminated) {
  (void)rng;
  return ng_mj_env_step(self, action, obs, reward, terminated);
}
int ng_mj_def_set_state(void *self, const double *state, double *obs) {
  return ng_mj_env_set_state(self, state, obs);
}
int ng_mj_def_get_state(const void *self, double *state) {
  return ng_mj_env_get_state(self, state);
}
