/* InvertedDoublePendulum-v5, as Gymnasium's mujoco/inverted_double_pendulum_v5.py.
 *
 * Model models/inverted_double_pendulum.xml: cart on a slider, two poles on hinges, site
 * "tip" at the free end; one motor on the cart (ctrl in [-1, 1], gear 500); RK4, timestep
 * 0.01, frame_skip 5, so dt = 0.05 s.
 * Observation (9): qpos[0], sin(qpos[1]), sin(qpos[2]), cos(qpos[1]), cos(qpos[2]),
 * clip(qvel, -10, 10) (3), clip(qfrc_constraint[0], -10, 10) (the cart's constraint force;
 * v5 dropped the hinges' two, always 0).
 * With (x, _, y) = site_xpos of the tip after the step: terminated when y <= 1;
 * reward = 10 * (not terminated) - (0.01 x^2 + (y - 2)^2) - (1e-3 qvel[1]^2 + 5e-3 qvel[2]^2),
 * every square computed as Gymnasium's `** 2` on an np.float64 scalar: libm's pow(x, 2).
 * Reset: qpos + U(-0.1, 0.1), qvel + 0.1 N(0, 1). Time limit 1000 steps.
 */
#include <math.h>

#include "envs/mujoco/mj_env.h"

static void idp_observe(const ng_mj_view_t *v, double *obs) {
  obs[0] = v->qpos[0];
  obs[1] = sin(v->qpos[1]);
  obs[2] = sin(v->qpos[2]);
  obs[3] = cos(v->qpos[1]);
  obs[4] = cos(v->qpos[2]);
  for (int i = 0; i < 3; i++) obs[5 + i] = ng_mj_clip(v->qvel[i], -10.0, 10.0);
  obs[8] = ng_mj_clip(v->qfrc_constraint[0], -10.0, 10.0);
}

static void idp_reward(const ng_mj_view_t *v, const double *before, const double *action,
                       double dt, double *reward, int *terminated) {
  (void)before, (void)action, (void)dt;
  double x = v->site_xpos[0], y = v->site_xpos[2];
  int term = y <= 1.0;
  double v1 = v->qvel[1], v2 = v->qvel[2];
  /* x, y, v1, v2 are np.float64 scalars there (unpacked from MjData's arrays), whose ** 2
   * is libm's pow, not x * x: they differ in the last bit on about 0.1 % of inputs */
  double dist_penalty = 0.01 * ng_env_pow2(x) + ng_env_pow2(y - 2.0);
  double vel_penalty = 1e-3 * ng_env_pow2(v1) + 5e-3 * ng_env_pow2(v2);
  double alive_bonus = 10.0 * (double)!term;
  *reward = alive_bonus - dist_penalty - vel_penalty;
  *terminated = term;
}

const ng_mj_task_t ng_mj_inverted_double_pendulum = {
    .def =
        {
            .info =
                {
                    .id = "InvertedDoublePendulum-v5",
                    .summary = "MuJoCo: balance two stacked poles on a cart; +10 per step "
                               "while the tip is above 1 m, minus distance/velocity penalties",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 9,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 1,
                                     .low = ng_mj_minus_ones, .high = ng_mj_ones},
                    .max_episode_steps = 1000,
                    .state_size = 10,
                    .state_min_size = 6,
                    .state_doc = "slider,hinge,hinge2,slider_dot,hinge_dot,hinge2_dot,"
                                 "warmstart,slider_ws,hinge_ws,hinge2_ws",
                },
            NG_MJ_CALLBACKS(ng_mj_inverted_double_pendulum),
        },
    .model_name = "inverted_double_pendulum",
    .nq = 3,
    .nv = 3,
    .nu = 1,
    .nbody = 4,
    .nsite = 1,
    .frame_skip = 5,
    .reset_noise_scale = 0.1,
    .qvel_noise = NG_MJ_QVEL_NORMAL,
    .track = NULL,
    .reward = idp_reward,
    .observe = idp_observe,
};
