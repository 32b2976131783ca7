/* MountainCarContinuous-v0, as Gymnasium's classic_control/continuous_mountain_car.py
 * (goal_velocity = 0).
 *
 * State: position, velocity. Action: one force a, clipped to [-1, 1]:
 *   velocity += clip(a) * 0.0015 - 0.0025 * cos(3 * position);  bounded to [-0.07, 0.07]
 *   position += velocity;                                         bounded to [-1.2, 0.6]
 *   if position == -1.2 and velocity < 0: velocity = 0
 *   terminated = position >= 0.45 and velocity >= 0
 *   reward = (100 if terminated else 0) - 0.1 * a^2        (the unclipped a)
 * and the new state is stored as np.float32: the observation is the state itself.
 *
 * Dtypes. Gymnasium's reset state is float64, every later state float32, so position and
 * velocity are np.float32 scalars from the second step on, and NumPy 2 (NEP 50) keeps
 * np.float32 op Python-float in float32: 3 * position is a float32 product, and when the
 * action was clipped (the force is then the Python float +-1.0, not a NumPy scalar) the
 * velocity and position updates and their comparisons are float32 too. With an unclipped
 * action the force is the action array's np.float64 and those updates are float64. This
 * file follows NumPy 2 with a float64 action array; NumPy 1 would do all of it in float64
 * but the float32 state.
 */
#include <math.h>

#include "envs/env_impl.h"

#define MCC_MIN_ACTION (-1.0)
#define MCC_MAX_ACTION 1.0
#define MCC_MIN_POSITION (-1.2)
#define MCC_MAX_POSITION 0.6
#define MCC_MAX_SPEED 0.07
#define MCC_GOAL_POSITION 0.45
#define MCC_POWER 0.0015

static const double mcc_obs_low[2] = {(double)(float)MCC_MIN_POSITION,
                                      (double)(float)-MCC_MAX_SPEED};
static const double mcc_obs_high[2] = {(double)(float)MCC_MAX_POSITION,
                                       (double)(float)MCC_MAX_SPEED};
static const double mcc_act_low[1] = {MCC_MIN_ACTION};
static const double mcc_act_high[1] = {MCC_MAX_ACTION};

/* The NumPy type a Python variable holds, as far as the arithmetic cares. */
typedef enum { T_F64, T_F32, T_PY } mcc_type_t;

/* x op c where x has type t and c is a Python float: NumPy 2 compares np.float32 with a
 * Python float in float32. */
static int mcc_gt(double x, mcc_type_t t, double c) {
  return t == T_F32 ? ng_env_to_f32(x) > ng_env_to_f32(c) : x > c;
}
static int mcc_lt(double x, mcc_type_t t, double c) {
  return t == T_F32 ? ng_env_to_f32(x) < ng_env_to_f32(c) : x < c;
}
static int mcc_ge(double x, mcc_type_t t, double c) {
  return t == T_F32 ? ng_env_to_f32(x) >= ng_env_to_f32(c) : x >= c;
}
static int mcc_eq(double x, mcc_type_t t, double c) {
  return t == T_F32 ? ng_env_to_f32(x) == ng_env_to_f32(c) : x == c;
}

/* float32 arithmetic, each result held in a volatile float (see ng_env_to_f32). */
static double mcc_f32_add(double x, double y) {
  volatile float r = ng_env_to_f32(x) + ng_env_to_f32(y);
  return (double)r;
}
static double mcc_f32_mul(double x, double y) {
  volatile float r = ng_env_to_f32(x) * ng_env_to_f32(y);
  return (double)r;
}

/* x + y with NumPy 2 promotion: float32 only when neither side is a float64 NumPy value and
 * at least one is float32 (a Python float adapts to the other side). */
static double mcc_add(double x, mcc_type_t tx, double y, mcc_type_t ty, mcc_type_t *t) {
  if ((tx == T_F32 && ty != T_F64) || (ty == T_F32 && tx != T_F64)) {
    *t = T_F32;
    return mcc_f32_add(x, y);
  }
  *t = (tx == T_PY && ty == T_PY) ? T_PY : T_F64;
  return x + y;
}

static void mcc_reset(ng_env_state_t *st, ng_rng_t *rng) {
  /* np.array([np_random.uniform(low=-0.6, high=-0.4), 0]): float64 */
  st->s[0] = ng_rng_uniform_range(rng, -0.6, -0.4);
  st->s[1] = 0.0;
  st->f32 = 0;
}

static void mcc_step(const ng_env_state_t *st, const double *action, ng_env_state_t *next,
                     double *reward, int *terminated) {
  mcc_type_t tstate = st->f32 ? T_F32 : T_F64;
  double position = st->s[0], velocity = st->s[1];
  mcc_type_t tpos = tstate, tvel = tstate;
  double a = action[0];

  /* force = min(max(action[0], -1.0), 1.0): the np.float64 action unless a bound won. */
  double force = a;
  mcc_type_t tforce = T_F64;
  if (MCC_MIN_ACTION > force) force = MCC_MIN_ACTION, tforce = T_PY;
  if (MCC_MAX_ACTION < force) force = MCC_MAX_ACTION, tforce = T_PY;

  /* velocity += force * self.power - 0.0025 * math.cos(3 * position) */
  double three_pos = tpos == T_F32 ? mcc_f32_mul(3, position) : 3 * position;
  double rhs = force * MCC_POWER - 0.0025 * cos(three_pos);
  velocity = mcc_add(velocity, tvel, rhs, tforce, &tvel);
  if (mcc_gt(velocity, tvel, MCC_MAX_SPEED)) velocity = MCC_MAX_SPEED, tvel = T_PY;
  if (mcc_lt(velocity, tvel, -MCC_MAX_SPEED)) velocity = -MCC_MAX_SPEED, tvel = T_PY;
  position = mcc_add(position, tpos, velocity, tvel, &tpos);
  if (mcc_gt(position, tpos, MCC_MAX_POSITION)) position = MCC_MAX_POSITION, tpos = T_PY;
  if (mcc_lt(position, tpos, MCC_MIN_POSITION)) position = MCC_MIN_POSITION, tpos = T_PY;
  if (mcc_eq(position, tpos, MCC_MIN_POSITION) && velocity < 0) velocity = 0.0, tvel = T_PY;

  *terminated = mcc_ge(position, tpos, MCC_GOAL_POSITION) && velocity >= 0;
  /* reward = 0; if terminated: reward = 100.0; reward -= math.pow(action[0], 2) * 0.1 */
  *reward = (*terminated ? 100.0 : 0.0) - ng_env_pow2(a) * 0.1;

  /* self.state = np.array([position, velocity], dtype=np.float32) */
  next->s[0] = ng_env_f32(position);
  next->s[1] = ng_env_f32(velocity);
  next->f32 = 1;
}

static void mcc_observe(const ng_env_state_t *st, double *obs) {
  obs[0] = ng_env_f32(st->s[0]);
  obs[1] = ng_env_f32(st->s[1]);
}

const ng_env_class_t ng_env_mountain_car_continuous = {
    .def =
        {
            .info =
                {
                    .id = "MountainCarContinuous-v0",
                    .summary = "drive an underpowered car up a hill with a continuous force; +100 at "
                               "the flag, -0.1*a^2 per step",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 2,
                                          .low = mcc_obs_low, .high = mcc_obs_high},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 1,
                                     .low = mcc_act_low, .high = mcc_act_high},
                    .max_episode_steps = 999,
                    .state_size = 2,
                    .state_doc = "position,velocity",
                },
            NG_ENV_CLASSIC(ng_env_mountain_car_continuous),
        },
    .has_f32_states = 1,
    .reset = mcc_reset,
    .step = mcc_step,
    .observe = mcc_observe,
};
