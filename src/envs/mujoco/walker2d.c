/* Walker2d-v5, as Gymnasium's mujoco/walker2d_v5.py.
 *
 * Model models/walker2d.xml: planar torso and two legs (thigh, leg, foot each; both feet
 * with friction 1.9 in v5); six motors (ctrl in [-1, 1], gear 100); RK4, timestep 0.002,
 * frame_skip 4, so dt = 0.008 s. Observation (17): qpos[1:] (x excluded),
 * clip(qvel, -10, 10).
 * Healthy when, strictly inside each range, the height z = qpos[1] is in (0.8, 2) and the
 * torso angle qpos[2] in (-1, 1). Terminated when unhealthy.
 * reward = (x_after - x_before) / dt + 1 * healthy - 1e-3 * sum(action^2), x = qpos[0].
 * Reset: qpos and qvel each + U(-5e-3, 5e-3). Time limit 1000 steps.
 */
#include "envs/mujoco/mj_env.h"

static void wk_track(const ng_mj_view_t *v, double *tracked) { tracked[0] = v->qpos[0]; }

static void wk_observe(const ng_mj_view_t *v, double *obs) {
  for (int i = 1; i < 9; i++) obs[i - 1] = v->qpos[i];
  for (int i = 0; i < 9; i++) obs[8 + i] = ng_mj_clip(v->qvel[i], -10.0, 10.0);
}

static int wk_is_healthy(const ng_mj_view_t *v) {
  double z = v->qpos[1], angle = v->qpos[2];
  int healthy_z = 0.8 < z && z < 2.0;
  int healthy_angle = -1.0 < angle && angle < 1.0;
  return healthy_z && healthy_angle;
}

static void wk_reward(const ng_mj_view_t *v, const double *before, const double *action,
                      double dt, double *reward, int *terminated) {
  double x_velocity = (v->qpos[0] - before[0]) / dt;
  double forward_reward = 1.0 * x_velocity;
  int healthy = wk_is_healthy(v);
  double healthy_reward = (double)healthy * 1.0;
  double rewards = forward_reward + healthy_reward;
  double ctrl_cost = 1e-3 * ng_mj_sum_squares(6, action);
  *reward = rewards - ctrl_cost;
  *terminated = !healthy;
}

const ng_mj_task_t ng_mj_walker2d = {
    .def =
        {
            .info =
                {
                    .id = "Walker2d-v5",
                    .summary = "MuJoCo: a planar biped; reward = forward speed + 1 while "
                               "healthy - 1e-3 |a|^2",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 17,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 6,
                                     .low = ng_mj_minus_ones, .high = ng_mj_ones},
                    .max_episode_steps = 1000,
                    .state_size = 28,
                    .state_min_size = 18,
                    .state_doc = "rootx,rootz,rooty,thigh,leg,foot,thigh_left,leg_left,"
                                 "foot_left,rootx_dot,rootz_dot,rooty_dot,thigh_dot,leg_dot,"
                                 "foot_dot,thigh_left_dot,leg_left_dot,foot_left_dot,"
                                 "warmstart,rootx_ws,rootz_ws,rooty_ws,thigh_ws,leg_ws,"
                                 "foot_ws,thigh_left_ws,leg_left_ws,foot_left_ws",
                },
            NG_MJ_CALLBACKS(ng_mj_walker2d),
        },
    .model_name = "walker2d",
    .nq = 9,
    .nv = 9,
    .nu = 6,
    .nbody = 8,
    .nsite = 0,
    .frame_skip = 4,
    .reset_noise_scale = 5e-3,
    .qvel_noise = NG_MJ_QVEL_UNIFORM,
    .track = wk_track,
    .reward = wk_reward,
    .observe = wk_observe,
};
