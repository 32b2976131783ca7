/* Acrobot-v1, as Gymnasium's classic_control/acrobot.py ("book" dynamics, no torque noise).
 *
 * State: theta1, theta2, dtheta1, dtheta2. Action a in {0, 1, 2} applies torque
 * [-1, 0, +1][a] at the joint. One step is one classical RK4 step of length dt = 0.2 over the
 * state augmented with the torque (whose derivative is 0), then theta1 and theta2 are wrapped
 * into [-pi, pi] by repeated +-2pi, dtheta1 is bounded to [-4pi, 4pi] and dtheta2 to
 * [-9pi, 9pi]. Terminates when -cos(theta1) - cos(theta2 + theta1) > 1; reward -1 per step,
 * 0 on the terminating one. Observation: float32 [cos t1, sin t1, cos t2, sin t2, dt1, dt2].
 * Gymnasium's reset casts the initial state to float32 (so the first observation's cos and
 * sin are float32 NumPy functions); the first step promotes it back to float64 exactly.
 */
#include <math.h>

#include "envs/env_impl.h"

#define AB_DT 0.2
#define AB_L1 1.0  /* LINK_LENGTH_1 */
#define AB_M1 1.0  /* LINK_MASS_1 */
#define AB_M2 1.0  /* LINK_MASS_2 */
#define AB_LC1 0.5 /* LINK_COM_POS_1 */
#define AB_LC2 0.5 /* LINK_COM_POS_2 */
#define AB_I1 1.0  /* LINK_MOI */
#define AB_I2 1.0
#define AB_G 9.8
#define AB_MAX_VEL_1 (4 * NG_ENV_PI)
#define AB_MAX_VEL_2 (9 * NG_ENV_PI)

static const double ab_obs_high[6] = {1.0, 1.0, 1.0, 1.0, (double)(float)AB_MAX_VEL_1,
                                      (double)(float)AB_MAX_VEL_2};
static const double ab_obs_low[6] = {-1.0, -1.0, -1.0, -1.0, -(double)(float)AB_MAX_VEL_1,
                                     -(double)(float)AB_MAX_VEL_2};

/* AVAIL_TORQUE = [-1.0, 0.0, +1] */
static const double ab_torque[3] = {-1.0, 0.0, 1.0};

/* Shape: y[4] state, a torque -> dy[4] (the torque's own derivative, 0, is implicit).
 * Gymnasium's _dsdt, term by term in its order. */
static void ab_dsdt(const double y[4], double a, double dy[4]) {
  double theta1 = y[0], theta2 = y[1], dtheta1 = y[2], dtheta2 = y[3];
  double d1 = AB_M1 * (AB_LC1 * AB_LC1) +
              AB_M2 * ((AB_L1 * AB_L1) + (AB_LC2 * AB_LC2) + 2 * AB_L1 * AB_LC2 * cos(theta2)) +
              AB_I1 + AB_I2;
  double d2 = AB_M2 * ((AB_LC2 * AB_LC2) + AB_L1 * AB_LC2 * cos(theta2)) + AB_I2;
  double phi2 = AB_M2 * AB_LC2 * AB_G * cos(theta1 + theta2 - NG_ENV_PI / 2.0);
  double phi1 = -AB_M2 * AB_L1 * AB_LC2 * ng_env_pow2(dtheta2) * sin(theta2) -
                2 * AB_M2 * AB_L1 * AB_LC2 * dtheta2 * dtheta1 * sin(theta2) +
                (AB_M1 * AB_LC1 + AB_M2 * AB_L1) * AB_G * cos(theta1 - NG_ENV_PI / 2) + phi2;
  double ddtheta2 =
      (a + d2 / d1 * phi1 - AB_M2 * AB_L1 * AB_LC2 * ng_env_pow2(dtheta1) * sin(theta2) - phi2) /
      (AB_M2 * (AB_LC2 * AB_LC2) + AB_I2 - ng_env_pow2(d2) / d1);
  double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
  dy[0] = dtheta1;
  dy[1] = dtheta2;
  dy[2] = ddtheta1;
  dy[3] = ddtheta2;
}

/* Gymnasium's wrap(): x moved into [m, M] by whole periods, one at a time. A value so far out
 * that the loop would run for long (in Python forever, once x - diff == x) is first brought
 * near the range with fmod; states reachable from bounded velocities never need it. */
static double ab_wrap(double x, double m, double M) {
  double diff = M - m;
  if (!isfinite(x)) return x;
  if (fabs(x) > 1e4 * diff) x = fmod(x, diff);
  while (x > M) x = x - diff;
  while (x < m) x = x + diff;
  return x;
}

/* Gymnasium's bound(): min(max(x, m), M). */
static double ab_bound(double x, double m, double M) {
  double y = m > x ? m : x;
  return M < y ? M : y;
}

static void ab_reset(ng_env_state_t *st, ng_rng_t *rng) {
  /* np_random.uniform(low=-0.1, high=0.1, size=(4,)).astype(np.float32) */
  for (int i = 0; i < 4; i++) st->s[i] = ng_env_f32(ng_rng_uniform_range(rng, -0.1, 0.1));
  st->f32 = 1;
}

static void ab_step(const ng_env_state_t *st, const double *action, ng_env_state_t *next,
                    double *reward, int *terminated) {
  double torque = ab_torque[(int)action[0]];
  /* rk4(self._dsdt, s_augmented, [0, self.dt]): one step, t = [0, 0.2]. */
  const double dt = AB_DT - 0;
  const double dt2 = dt / 2.0;
  double y0[4], k1[4], k2[4], k3[4], k4[4], yt[4];
  for (int i = 0; i < 4; i++) y0[i] = st->s[i];
  ab_dsdt(y0, torque, k1);
  for (int i = 0; i < 4; i++) yt[i] = y0[i] + dt2 * k1[i];
  ab_dsdt(yt, torque, k2);
  for (int i = 0; i < 4; i++) yt[i] = y0[i] + dt2 * k2[i];
  ab_dsdt(yt, torque, k3);
  for (int i = 0; i < 4; i++) yt[i] = y0[i] + dt * k3[i];
  ab_dsdt(yt, torque, k4);
  double ns[4];
  for (int i = 0; i < 4; i++)
    ns[i] = y0[i] + dt / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);

  ns[0] = ab_wrap(ns[0], -NG_ENV_PI, NG_ENV_PI);
  ns[1] = ab_wrap(ns[1], -NG_ENV_PI, NG_ENV_PI);
  ns[2] = ab_bound(ns[2], -AB_MAX_VEL_1, AB_MAX_VEL_1);
  ns[3] = ab_bound(ns[3], -AB_MAX_VEL_2, AB_MAX_VEL_2);
  for (int i = 0; i < 4; i++) next->s[i] = ns[i];
  next->f32 = 0;
  *terminated = -cos(ns[0]) - cos(ns[1] + ns[0]) > 1.0;
  *reward = *terminated ? 0.0 : -1.0;
}

static void ab_observe(const ng_env_state_t *st, double *obs) {
  if (st->f32) {
    /* NumPy's cos/sin of np.float32 scalars compute in float32. */
    float t1 = ng_env_to_f32(st->s[0]), t2 = ng_env_to_f32(st->s[1]);
    obs[0] = (double)cosf(t1);
    obs[1] = (double)sinf(t1);
    obs[2] = (double)cosf(t2);
    obs[3] = (double)sinf(t2);
  } else {
    obs[0] = ng_env_f32(cos(st->s[0]));
    obs[1] = ng_env_f32(sin(st->s[0]));
    obs[2] = ng_env_f32(cos(st->s[1]));
    obs[3] = ng_env_f32(sin(st->s[1]));
  }
  obs[4] = ng_env_f32(st->s[2]);
  obs[5] = ng_env_f32(st->s[3]);
}

const ng_env_class_t ng_env_acrobot = {
    .def =
        {
            .info =
                {
                    .id = "Acrobot-v1",
                    .summary = "swing the tip of a two-link chain above a line by torquing the "
                               "middle joint; -1 per step",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 6,
                                          .low = ab_obs_low, .high = ab_obs_high},
                    .action_space = {.kind = NG_SPACE_DISCRETE, .dim = 3},
                    .max_episode_steps = 500,
                    .state_size = 4,
                    .state_doc = "theta1,theta2,dtheta1,dtheta2",
                },
            NG_ENV_CLASSIC(ng_env_acrobot),
        },
    .has_f32_states = 1,
    .reset = ab_reset,
    .step = ab_step,
    .observe = ab_observe,
};
