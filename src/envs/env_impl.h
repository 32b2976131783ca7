/* Private interface between the generic environment wrapper (env.c) and the built-in
 * environments.
 *
 * env.c owns everything the environments share: argument and action validation, the random
 * stream, the episode bookkeeping (reset before step, no step after the end) and the time
 * limit, applied once like Gymnasium's TimeLimit wrapper; it dispatches every environment
 * through its ng_env_def_t (natgrad/env.h), the built-in ones included. A classic-control
 * environment supplies only its description and three pure functions over a small state
 * value (an ng_env_class_t); classic.c turns those into a definition's callbacks.
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

typedef struct ng_env_class {
  /* First member: the definition env.c registers (built with NG_ENV_CLASSIC below). */
  ng_env_def_t def;
  /* Nonzero for an env whose Gymnasium state can be float32 (see f32 above): set_state
   * then takes a state whose components are all float32 values as a float32 state, so that
   * saving a state and setting it again resumes bit for bit. */
  int has_f32_states;
  /* Draws the initial state from rng, as Gymnasium's reset() draws it from np_random. */
  void (*reset)(ng_env_state_t *st, ng_rng_t *rng);
  /* One step from *st. The action was validated by the caller: a Discrete action is an
   * integer in [0, n) held in a double, a Box action is finite (not yet clipped). Writes the
   * next state, the reward and terminated; classic.c rejects a non-finite result. */
  void (*step)(const ng_env_state_t *st, const double *action, ng_env_state_t *next,
               double *reward, int *terminated);
  /* The observation Gymnasium returns for this state, float32-rounded values as doubles. */
  void (*observe)(const ng_env_state_t *st, double *obs);
} ng_env_class_t;

/* The callbacks of every classic environment (classic.c): the object is the state value;
 * step commits nothing from a step that left the finite numbers (NG_ENONFINITE), so the
 * caller can still read the last good state. */
int ng__env_classic_create(void **self, const ng_env_def_t *def, ng_error_t *err);
void ng__env_classic_destroy(void *self);
int ng__env_classic_reset(void *self, ng_rng_t *rng, double *obs);
int ng__env_classic_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                         double *reward, int *terminated);
int ng__env_classic_get_state(const void *self, double *state);
int ng__env_classic_set_state(void *self, const double *state, double *obs);

/* The definition's user pointer and callbacks for class `cls` (inside its initialiser). */
#define NG_ENV_CLASSIC(cls)                                                                  \
  .user = &(cls), .create = ng__env_classic_create, .destroy = ng__env_classic_destroy,      \
  .reset = ng__env_classic_reset, .step = ng__env_classic_step,                              \
  .get_state = ng__env_classic_get_state, .set_state = ng__env_classic_set_state

/* Registration in two steps, for plugins that register several environments all or
 * nothing (plugin.c): a checked copy of def (ng_env_def_check) that owns its description,
 * then the commit of n copies with the plugin that made them (NULL: from C): NG_EINVAL if
 * an id is taken (or repeated among them), NG_ERANGE past NG_ENV_MAX_REGISTERED, and then
 * none is registered. On success the registry owns the copies; else they stay the
 * caller's to free. */
int ng__env_copy(const ng_env_def_t *def, ng_env_def_t **copy, ng_error_t *err);
void ng__env_copy_free(ng_env_def_t *copy);
int ng__env_commit(ng_env_def_t *const *copies, size_t n, const char *plugin,
                   ng_error_t *err);

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
