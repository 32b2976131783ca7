/* CartPole-v1, as Gymnasium's classic_control/cartpole.py (Barto, Sutton & Anderson 1983).
 *
 * State (float64): x, x_dot, theta, theta_dot. Euler integration with tau = 0.02:
 *   temp     = (force + ml * theta_dot^2 * sin) / M
 *   thetaacc = (g * sin - cos * temp) / (l * (4/3 - m * cos^2 / M))
 *   xacc     = temp - ml * thetaacc * cos / M
 *   x += tau * x_dot; x_dot += tau * xacc; theta += tau * theta_dot; theta_dot += tau * thetaacc
 * with force = +10 for action 1, -10 for action 0, m = 0.1, M = 1.1, l = 0.5, ml = m * l.
 * Terminates when x leaves [-2.4, 2.4] or theta leaves [-12 deg, 12 deg] (strictly outside);
 * reward 1 on every step, the terminating one included. Observation: the state as float32.
 * Every expression keeps Gymnasium's operation order so that the doubles round alike.
 */
#include <math.h>

#include "envs/env_impl.h"

#define CP_GRAVITY 9.8
#define CP_MASSCART 1.0
#define CP_MASSPOLE 0.1
#define CP_TOTAL_MASS (CP_MASSPOLE + CP_MASSCART)
#define CP_LENGTH 0.5 /* half the pole's length */
#define CP_POLEMASS_LENGTH (CP_MASSPOLE * CP_LENGTH)
#define CP_FORCE_MAG 10.0
#define CP_TAU 0.02
/* 12 * 2 * math.pi / 360, evaluated left to right as in Python. */
#define CP_THETA_THRESHOLD (24 * NG_ENV_PI / 360)
#define CP_X_THRESHOLD 2.4

/* Gymnasium: high = np.array([x_thr * 2, np.inf, theta_thr * 2, np.inf], dtype=np.float32). */
static const double cp_obs_high[4] = {(double)(float)(CP_X_THRESHOLD * 2), INFINITY,
                                      (double)(float)(CP_THETA_THRESHOLD * 2), INFINITY};
static const double cp_obs_low[4] = {-(double)(float)(CP_X_THRESHOLD * 2), -INFINITY,
                                     -(double)(float)(CP_THETA_THRESHOLD * 2), -INFINITY};

static void cp_reset(ng_env_state_t *st, ng_rng_t *rng) {
  /* np_random.uniform(low=-0.05, high=0.05, size=(4,)) */
  for (int i = 0; i < 4; i++) st->s[i] = ng_rng_uniform_range(rng, -0.05, 0.05);
  st->f32 = 0;
}

static void cp_step(const ng_env_state_t *st, const double *action, ng_env_state_t *next,
                    double *reward, int *terminated) {
  double x = st->s[0], x_dot = st->s[1], theta = st->s[2], theta_dot = st->s[3];
  double force = action[0] == 1.0 ? CP_FORCE_MAG : -CP_FORCE_MAG;
  double costheta = cos(theta);
  double sintheta = sin(theta);

  double temp = (force + CP_POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / CP_TOTAL_MASS;
  double thetaacc = (CP_GRAVITY * sintheta - costheta * temp) /
                    (CP_LENGTH * (4.0 / 3.0 - CP_MASSPOLE * (costheta * costheta) / CP_TOTAL_MASS));
  double xacc = temp - CP_POLEMASS_LENGTH * thetaacc * costheta / CP_TOTAL_MASS;

  x = x + CP_TAU * x_dot;
  x_dot = x_dot + CP_TAU * xacc;
  theta = theta + CP_TAU * theta_dot;
  theta_dot = theta_dot + CP_TAU * thetaacc;

  next->s[0] = x;
  next->s[1] = x_dot;
  next->s[2] = theta;
  next->s[3] = theta_dot;
  next->f32 = 0;
  *terminated = x < -CP_X_THRESHOLD || x > CP_X_THRESHOLD || theta < -CP_THETA_THRESHOLD ||
                theta > CP_THETA_THRESHOLD;
  /* 1 for every step up to and including the terminating one; env.c refuses steps after. */
  *reward = 1.0;
}

static void cp_observe(const ng_env_state_t *st, double *obs) {
  for (int i = 0; i < 4; i++) obs[i] = ng_env_f32(st->s[i]);
}

const ng_env_class_t ng_env_cartpole = {
    .def =
        {
            .info =
                {
                    .id = "CartPole-v1",
                    .summary =
                        "balance a pole on a cart by pushing it left or right; +1 per step",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 4,
                                          .low = cp_obs_low, .high = cp_obs_high},
                    .action_space = {.kind = NG_SPACE_DISCRETE, .dim = 2},
                    .max_episode_steps = 500,
                    .state_size = 4,
                    .state_doc = "x,x_dot,theta,theta_dot",
                },
            NG_ENV_CLASSIC(ng_env_cartpole),
        },
    .has_f32_states = 0,
    .reset = cp_reset,
    .step = cp_step,
    .observe = cp_observe,
};
