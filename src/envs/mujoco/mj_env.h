/* Private interface of the MuJoCo locomotion environments (Gymnasium's v5 ids).
 *
 * Two layers. The engine (mj_env.c) owns everything that touches MuJoCo: one compiled
 * mjModel per task, shared read-only by every environment of that task (reference-counted),
 * one mjData per environment (allocated at create, never during a step), the frame-skip
 * loop, reset noise, state get/set and the non-finite checks. A task (one small file per
 * environment) owns only Gymnasium's arithmetic: which quantities the reward differences
 * over a step, the reward and termination rule, and the observation, all as plain C over
 * the arrays of an ng_mj_view_t. Tasks compile without MuJoCo, so that a build without it
 * still lists the environments and reports NG_EUNSUPPORTED when one is created.
 */
#ifndef NG_MJ_ENV_H
#define NG_MJ_ENV_H

#include <math.h>
#include <stddef.h>

#include "envs/env_impl.h"
#include "natgrad/env.h"

/* Largest sizes over the tasks (Humanoid): observation, state (nq + 2 nv + 1 + 2, below),
 * action. */
#define NG_MJ_MAX_OBS 348
#define NG_MJ_MAX_STATE 73
#define NG_MJ_MAX_ACT 17
/* Quantities a task reads before a step to difference them after it (x, y). */
#define NG_MJ_MAX_TRACK 2

/* The arrays of the simulation a task may read, after mj_forward or a step exactly as
 * Gymnasium reads them from MjData (so xpos and site_xpos come from the last forward pass
 * of the step, and cfrc_ext from mj_rnePostConstraint). Row-major, MuJoCo's layouts. */
typedef struct {
  int nq, nv, nu, nbody, nsite;
  const double *qpos;            /* nq */
  const double *qvel;            /* nv */
  const double *xpos;            /* nbody x 3: Cartesian body frame positions */
  const double *site_xpos;       /* nsite x 3 */
  const double *cfrc_ext;        /* nbody x 6: external (contact) force/torque per body */
  const double *qfrc_constraint; /* nv: constraint force in joint space */
  const double *xipos;           /* nbody x 3: bodies' centres of mass */
  const double *body_mass;       /* nbody (the model's) */
  const double *cinert;          /* nbody x 10: com-based inertia and mass */
  const double *cvel;            /* nbody x 6: com-based velocity (rotation, translation) */
  const double *qfrc_actuator;   /* nv: actuator force in joint space */
} ng_mj_view_t;

/* Reset noise: qpos = qpos0 + U(-scale, scale) per coordinate, then qvel = 0 + noise, where
 * qvel noise is U(-scale, scale) or scale * N(0, 1) per coordinate (Gymnasium's order of
 * draws: every qpos coordinate, then every qvel coordinate). */
typedef enum { NG_MJ_QVEL_UNIFORM = 0, NG_MJ_QVEL_NORMAL = 1 } ng_mj_qvel_noise_t;

typedef struct ng_mj_task {
  /* The definition env.c registers: its user pointer is this task, its callbacks the
   * engine's (NG_MJ_CALLBACKS). */
  ng_env_def_t def;
  const char *model_name;   /* "hopper": models/hopper.xml, embedded at build time */
  int nq, nv, nu, nbody, nsite; /* what the model must have (checked when it is loaded) */
  int frame_skip;           /* MuJoCo steps per env step; dt = timestep * frame_skip */
  double reset_noise_scale;
  ng_mj_qvel_noise_t qvel_noise;
  /* Reads the quantities the reward differences over the step (before it), or NULL. */
  void (*track)(const ng_mj_view_t *v, double *tracked);
  /* How many of them the state holds (0 or all): those track reads from xpos or xipos,
   * which after a step still hold the last substep's forward pass, not qpos's kinematics,
   * so that setting qpos cannot recompute them. */
  int track_in_state;
  /* Reacher and Pusher draw their own reset state (a goal, no noise on some coordinates):
   * qpos and qvel from qpos0 and rng. NULL: the noise described by the two fields above. */
  void (*reset)(const double *qpos0, ng_rng_t *rng, double *qpos, double *qvel);
  /* After the step: the reward and terminated flag. `before` is what track read before
   * the step, `action` the caller's (unclipped) action, dt the env step's duration. */
  void (*reward)(const ng_mj_view_t *v, const double *before, const double *action, double dt,
                 double *reward, int *terminated);
  /* The observation (info.observation_space.dim doubles, float64 as Gymnasium's). */
  void (*observe)(const ng_mj_view_t *v, double *obs);
} ng_mj_task_t;

/* The tasks, one per file. */
extern const ng_mj_task_t ng_mj_inverted_pendulum;
extern const ng_mj_task_t ng_mj_inverted_double_pendulum;
extern const ng_mj_task_t ng_mj_swimmer;
extern const ng_mj_task_t ng_mj_hopper;
extern const ng_mj_task_t ng_mj_walker2d;
extern const ng_mj_task_t ng_mj_half_cheetah;
extern const ng_mj_task_t ng_mj_ant;
extern const ng_mj_task_t ng_mj_reacher;
extern const ng_mj_task_t ng_mj_pusher;
extern const ng_mj_task_t ng_mj_humanoid;
extern const ng_mj_task_t ng_mj_humanoid_standup;

/* The engine's callbacks for a task's definition (mj_env.c); create reads the task from
 * the definition's user pointer. */
int ng_mj_def_create(void **self, const ng_env_def_t *def, ng_error_t *err);
void ng_mj_def_destroy(void *self);
int ng_mj_def_reset(void *self, ng_rng_t *rng, double *obs);
int ng_mj_def_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                   double *reward, int *terminated);
int ng_mj_def_get_state(const void *self, double *state);
int ng_mj_def_set_state(void *self, const double *state, double *obs);
#define NG_MJ_CALLBACKS(task)                                                                \
  .user = &(task), .create = ng_mj_def_create, .destroy = ng_mj_def_destroy,                 \
  .reset = ng_mj_def_reset, .step = ng_mj_def_step, .get_state = ng_mj_def_get_state,        \
  .set_state = ng_mj_def_set_state

/* Space bounds shared by the tasks: observations are unbounded, most actions in [-1, 1]. */
extern const double ng_mj_inf[NG_MJ_MAX_OBS];
extern const double ng_mj_minus_inf[NG_MJ_MAX_OBS];
extern const double ng_mj_ones[NG_MJ_MAX_ACT];
extern const double ng_mj_minus_ones[NG_MJ_MAX_ACT];

/* ---- engine --------------------------------------------------------------------------- */

typedef struct ng_mj_env ng_mj_env_t;

/* 1 if this build has MuJoCo. */
int ng_mj_available(void);

/* The embedded MJCF text of a model ("hopper"), NUL-terminated, or NULL (unknown name, or
 * a build without MuJoCo). *len (if non-NULL) receives its length. */
const char *ng_mj_model_xml(const char *model_name, size_t *len);

/* Creates an environment of `task`: loads (or shares) the task's model, allocates its
 * mjData. NG_EUNSUPPORTED without MuJoCo (err says how to install it), NG_EFORMAT if the
 * model does not compile or does not have the task's sizes, NG_ENOMEM. */
int ng_mj_env_create(ng_mj_env_t **out, const ng_mj_task_t *task, ng_error_t *err);
void ng_mj_env_destroy(ng_mj_env_t *env);

/* Gymnasium's reset(): mj_resetData, qpos0 + noise and noise for qvel drawn from rng, then
 * mj_forward. Writes the observation. */
int ng_mj_env_reset(ng_mj_env_t *env, ng_rng_t *rng, double *obs);

/* Gymnasium's step(): ctrl = action, frame_skip MuJoCo steps, mj_rnePostConstraint, then the
 * task's reward, termination and observation. The action must be finite (the caller
 * checks); it is not clipped (MuJoCo clamps ctrl to ctrlrange internally; the control cost
 * uses the action as given, as Gymnasium's does). If the simulation leaves MuJoCo's valid
 * range, where MuJoCo's own mj_step would reset it: NG_ERANGE when it diverged (a finite
 * |x| > mjMAXVAL = 1e10 in qpos, qvel or qacc), NG_ENONFINITE when a value is NaN/Inf or the
 * reward or observation is not finite; the state before the step is then restored. */
int ng_mj_env_step(ng_mj_env_t *env, const double *action, double *obs, double *reward,
                   int *terminated);

/* The state (the task's info.state_size = nq + 2 nv + 1 + na + track_in_state doubles):
 * qpos, qvel, a flag, qacc_warmstart (nv), act (na; 0 in every task), the tracked
 * quantities the task's track reads from the kinematics (Ant's torso x, y; Humanoid's centre
 * of mass x, y). The warm start is the constraint solver's initial guess for the next step,
 * which mj_forward leaves behind (its acceleration): the next step's result depends on it in
 * the last bits, so a state holds it to continue bit for bit, and so for the tracked values
 * in the reward. The flag says whether the state holds those: 1 (get_state), or 0 with
 * every later value 0: the state is qpos and qvel alone, as Gymnasium's reset() followed by
 * set_state(qpos, qvel) sets them, where the solver starts from what mj_forward finds at
 * the state (info.state_min_size = nq + nv). The simulation time and ctrl are not state:
 * nothing in these models reads the time, and every step sets ctrl before it simulates.
 *
 * Setting: mj_resetData, copy, mj_forward; with the flag 1, the warm start and qpos put
 * back after it as given (mj_forward overwrote the one and renormalised a free joint's
 * quaternion in the other), and the tracked values kept for the next step's reward, so that
 * get_state then reads the state set. NG_ENONFINITE for a NaN/Inf, NG_ERANGE for a magnitude
 * above mjMAXVAL in qpos or qvel (any finite warm start is taken), NG_EINVAL for a flag other than 0 or 1, or a flag 0 followed by a non-zero
 * value. obs may be NULL. */
int ng_mj_env_set_state(ng_mj_env_t *env, const double *state, double *obs);
/* Reads the state, flag 1. */
int ng_mj_env_get_state(const ng_mj_env_t *env, double *state);

/* The view of env's current simulation arrays (for tests). */
void ng_mj_env_view(const ng_mj_env_t *env, ng_mj_view_t *view);

/* ---- numerics shared by the tasks ------------------------------------------------------- */

/* sum(x[i]^2) summed as NumPy's np.sum(np.square(x)) sums float64 (pairwise, 8 partial
 * sums over blocks), so that control and contact costs round as Gymnasium's. */
double ng_mj_sum_squares(size_t n, const double *x);
/* sum(x[i]) as np.sum(x) sums a contiguous float64 array (the same pairwise order). */
double ng_mj_sum(size_t n, const double *x);

/* |x| of a 3-vector as np.linalg.norm computes it: sqrt(x.dot(x)), the dot product summed
 * left to right (checked against Debian's NumPy 1.24 on 20 000 vectors). */
static inline double ng_mj_norm3(const double *x) {
  return sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
}

/* min(max(x, lo), hi), as np.clip. */
static inline double ng_mj_clip(double x, double lo, double hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

#endif
