/* Swimmer-v5, as Gymnasium's mujoco/swimmer_v5.py.
 *
 * Model models/swimmer.xml: three capsules and two actuated hinges in a viscous fluid
 * (density 4000, viscosity 0.1); ctrl in [-1, 1], gear 150; RK4, timestep 0.01,
 * frame_skip 4, so dt = 0.04 s. Observation (8): qpos[2:] (the x, y of the front tip are
 * excluded), qvel. Never terminates.
 * reward = (x_after - x_before) / dt - 1e-4 * sum(action^2), x = qpos[0].
 * Reset: qpos and qvel each + U(-0.1, 0.1). Time limit 1000 steps.
 */
#include "envs/mujoco/mj_env.h"

static void sw_track(const ng_mj_view_t *v, double *tracked) {
  tracked[0] = v->qpos[0];
  tracked[1] = v->qpos[1];
}

static void sw_observe(const ng_mj_view_t *v, double *obs) {
  for (int i = 2; i < 5; i++) obs[i - 2] = v->qpos[i];
  for (int i = 0; i < 5; i++) obs[3 + i] = v->qvel[i];
}

static void sw_reward(const ng_mj_view_t *v, const double *before, const double *action,
                      double dt, double *reward, int *terminated) {
  double x_velocity = (v->qpos[0] - before[0]) / dt;
  double forward_reward = 1.0 * x_velocity;
  double ctrl_cost = 1e-4 * ng_mj_sum_squares(2, action);
  *reward = forward_reward - ctrl_cost;
  *terminated = 0;
}

const ng_mj_task_t ng_mj_swimmer = {
    .def =
        {
            .info =
                {
                    .id = "Swimmer-v5",
                    .summary = "MuJoCo: a three-link swimmer in a viscous fluid; reward = "
                               "forward speed - 1e-4 |a|^2",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 8,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 2,
                                     .low = ng_mj_minus_ones, .high = ng_mj_ones},
                    .max_episode_steps = 1000,
                    .state_size = 16,
                    .state_min_size = 10,
                    .state_doc = "slider1,slider2,free_body_rot,motor1_rot,motor2_rot,"
                                 "slider1_dot,slider2_dot,free_body_rot_dot,motor1_rot_dot,"
                                 "motor2_rot_dot,warmstart,slider1_ws,slider2_ws,"
                                 "free_body_rot_ws,motor1_rot_ws,motor2_rot_ws",
                },
            NG_MJ_CALLBACKS(ng_mj_swimmer),
        },
    .model_name = "swimmer",
    .nq = 5,
    .nv = 5,
    .nu = 2,
    .nbody = 4,
    .nsite = 0,
    .frame_skip = 4,
    .reset_noise_scale = 0.1,
    .qvel_noise = NG_MJ_QVEL_UNIFORM,
    .track = sw_track,
    .reward = sw_reward,
    .observe = sw_observe,
};
