/* Private interface between the generic environment wrapper (env.c) and the environments.
 *
 * env.c owns everything the environments share: argument and action validation, the random
 * stream, the episode bookkeeping (reset before step, no step after the end) and the time
 * limit, applied once like Gymnasium's TimeLimit wrapper. An environment supplies only its
 * description and three pure functions over a small state value.
 */
#ifndef NG_ENV_IMPL_H
#define NG_ENV_IMPL_H

#include <math.h>

#include "natgrad/env.h"

/* Largest state_size of any environment. */
#define NG_ENV_MAX_STATE 4

/* pi as Python's math.pi / np.pi: the double nearest to pi. */
#define NG_ENV_PI 3.141592653589793

typedef struct {
  double s[NG_ENV_MAX_STATE]; /* internal state, layout in the info's state_doc */
  /* 1 when Gymnasium holds this state as np.float32 (Acrobot right after reset,
   * MountainCarContinuous after a step): some of its arithmetic is then done in float32. */
  int f32;
} ng_env_state_t;

/* An environment whose state is an object of its own (a MuJoCo simulation: one mjData per
 * environment) supplies these operations instead of reset/step/observe; env.c keeps the
 * argument and action checks, the episode bookkeeping and the time limit for it. */
struct ng_env_class;
typedef struct ng_env_object_ops {
  /* Creates the object for class cls (NG_EUNSUPPORTED, with a message, if this build
   * cannot). */
  int (*create)(void **impl, const struct ng_env_class *cls, ng_error_t *err);
  void (*destroy)(void *impl);
  int (*reset)(void *impl, ng_rng_t *rng, double *obs);
  /* The action was validated (finite). A failure (NG_ENONFINITE, or NG_ERANGE for a
   * diverged simulation) leaves the state as before the step. */
  int (*step)(void *impl, const double *action, double *obs, double *reward, int *terminated);
  int (*set_state)(void *impl, const double *state, double *obs);
  int (*get_state)(const void *impl, double *state);
} ng_env_object_ops_t;

typedef struct ng_env_class {
  ng_env_info_t info;
  /* Nonzero for an env whose Gymnasium state can be float32 (see f32 above): ng_env_set_state
   * then takes a state whose components are all float32 values as a float32 state, so that
   * saving a state and setting it again resumes bit for bit. */
  int has_f32_states;
  /* Draws the initial state from rng, as Gymnasium's reset() draws it from np_random. */
  void (*reset)(ng_env_state_t *st, ng_rng_t *rng);
  /* One step from *st. The action was validated by the caller: a Discrete action is an
   * integer in [0, n) held in a double, a Box action is finite (not yet clipped). Writes the
   * next state, the reward and terminated; env.c rejects a non-finite result. */
  void (*step)(const ng_env_state_t *st, const double *action, ng_env_state_t *next,
               double *reward, int *terminated);
  /* The observation Gymnasium returns for this state, float32-rounded values as doubles. */
  void (*observe)(const ng_env_state_t *st, double *obs);
  /* Non-NULL for an environment with its own object (then reset/step/observe are unused). */
  const ng_env_object_ops_t *object;
} ng_env_class_t;

extern const ng_env_class_t ng_env_cartpole;
extern const ng_env_class_t ng_env_pendulum;
extern const ng_env_class_t ng_env_acrobot;
extern const ng_env_class_t ng_env_mountain_car;
extern const ng_env_class_t ng_env_mountain_car_continuous;

/* Python's x ** 2 on a float or an np.float64 scalar: libm's pow(x, 2.0), which glibc
 * rounds differently from x * x in about one case in a thousand. (NumPy arrays and
 * np.square use x * x.) The volatile exponent keeps compilers from folding it into x * x. */
static inline double ng_env_pow2(double x) {
  volatile double two = 2.0;
  return pow(x, two);
}

/* float32 rounding of a double, as np.float32(x) (round to nearest even; overflow to inf).
 * Through a volatile float because GCC 12's SLP vectorizer (on at -O2) drops the
 * (double)(float)x round trip when two such stores sit side by side: wrong code that would
 * leave float64 values where Gymnasium has float32 ones. */
static inline float ng_env_to_f32(double x) {
  volatile float f = (float)x;
  return f;
}
static inline double ng_env_f32(double x) { return (double)ng_env_to_f32(x); }

#endif
