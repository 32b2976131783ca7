/* Pendulum-v1, as Gymnasium's classic_control/pendulum.py (g = 10, m = l = 1, dt = 0.05).
 *
 * State (float64): th, thdot; th is not wrapped (only the cost wraps it). One step:
 *   u       = clip(action, -2, 2)
 *   cost    = angle_normalize(th)^2 + 0.1 * thdot^2 + 0.001 * u^2      (reward = -cost)
 *   thdot'  = clip(thdot + (3g/(2l) * sin(th) + 3/(m l^2) * u) * dt, -8, 8)
 *   th'     = th + thdot' * dt
 * angle_normalize(x) = ((x + pi) mod 2pi) - pi with Python's floored modulo. Never
 * terminates. Observation: float32 [cos th, sin th, thdot].
 * The action is taken as a float64 number, as Gymnasium computes with a float64 action
 * array (a float32 action array would make NumPy do part of the cost in float32).
 */
#include <math.h>

#include "envs/env_impl.h"

#define PD_MAX_SPEED 8.0
#define PD_MAX_TORQUE 2.0
#define PD_DT 0.05
#define PD_G 10.0
#define PD_M 1.0
#define PD_L 1.0

static const double pd_obs_high[3] = {1.0, 1.0, PD_MAX_SPEED};
static const double pd_obs_low[3] = {-1.0, -1.0, -PD_MAX_SPEED};
static const double pd_act_high[1] = {PD_MAX_TORQUE};
static const double pd_act_low[1] = {-PD_MAX_TORQUE};

/* np.clip for finite values. */
static double pd_clip(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Python's / NumPy's float modulo: the remainder takes the divisor's sign. */
static double pd_pymod(double a, double b) {
  double mod = fmod(a, b);
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) mod += b;
  } else {
    mod = copysign(0.0, b);
  }
  return mod;
}

static double pd_angle_normalize(double x) {
  return pd_pymod(x + NG_ENV_PI, 2 * NG_ENV_PI) - NG_ENV_PI;
}

static void pd_reset(ng_env_state_t *st, ng_rng_t *rng) {
  /* np_random.uniform(low=[-pi, -1], high=[pi, 1]) */
  st->s[0] = ng_rng_uniform_range(rng, -NG_ENV_PI, NG_ENV_PI);
  st->s[1] = ng_rng_uniform_range(rng, -1.0, 1.0);
  st->f32 = 0;
}

static void pd_step(const ng_env_state_t *st, const double *action, ng_env_state_t *next,
                    double *reward, int *terminated) {
  double th = st->s[0], thdot = st->s[1];
  double u = pd_clip(action[0], -PD_MAX_TORQUE, PD_MAX_TORQUE);
  double costs = ng_env_pow2(pd_angle_normalize(th)) + 0.1 * ng_env_pow2(thdot) +
                 0.001 * ng_env_pow2(u);

  double newthdot =
      thdot + (3 * PD_G / (2 * PD_L) * sin(th) + 3.0 / (PD_M * (PD_L * PD_L)) * u) * PD_DT;
  newthdot = pd_clip(newthdot, -PD_MAX_SPEED, PD_MAX_SPEED);
  double newth = th + newthdot * PD_DT;

  next->s[0] = newth;
  next->s[1] = newthdot;
  next->f32 = 0;
  *reward = -costs;
  *terminated = 0;
}

static void pd_observe(const ng_env_state_t *st, double *obs) {
  obs[0] = ng_env_f32(cos(st->s[0]));
  obs[1] = ng_env_f32(sin(st->s[0]));
  obs[2] = ng_env_f32(st->s[1]);
}

const ng_env_class_t ng_env_pendulum = {
    .def =
        {
            .info =
                {
                    .id = "Pendulum-v1",
                    .summary = "swing a pendulum up and hold it with a bounded torque; reward -cost",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 3,
                                          .low = pd_obs_low, .high = pd_obs_high},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 1,
                                     .low = pd_act_low, .high = pd_act_high},
                    .max_episode_steps = 200,
                    .state_size = 2,
                    .state_doc = "th,thdot",
                },
            NG_ENV_CLASSIC(ng_env_pendulum),
        },
    .has_f32_states = 0,
    .reset = pd_reset,
    .step = pd_step,
    .observe = pd_observe,
};
