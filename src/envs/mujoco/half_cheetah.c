/* HalfCheetah-v5, as Gymnasium's mujoco/half_cheetah_v5.py.
 *
 * Model models/half_cheetah.xml: planar torso with head, back and front legs (thigh, shin,
 * foot); six motors (ctrl in [-1, 1], gears 120 90 60 120 60 30); semi-implicit Euler,
 * timestep 0.01, frame_skip 5, so dt = 0.05 s. Observation (17): qpos[1:] (x excluded),
 * qvel (not clipped). Never terminates.
 * reward = (x_after - x_before) / dt - 0.1 * sum(action^2), x = qpos[0].
 * Reset: qpos + U(-0.1, 0.1), qvel + 0.1 N(0, 1). Time limit 1000 steps.
 */
#include "envs/mujoco/mj_env.h"

static void hc_track(const ng_mj_view_t *v, double *tracked) { tracked[0] = v->qpos[0]; }

static void hc_observe(const ng_mj_view_t *v, double *obs) {
  for (int i = 1; i < 9; i++) obs[i - 1] = v->qpos[i];
  for (int i = 0; i < 9; i++) obs[8 + i] = v->qvel[i];
}

static void hc_reward(const ng_mj_view_t *v, const double *before, const double *action,
                      double dt, double *reward, int *terminated) {
  double x_velocity = (v->qpos[0] - before[0]) / dt;
  double forward_reward = 1.0 * x_velocity;
  double ctrl_cost = 0.1 * ng_mj_sum_squares(6, action);
  *reward = forward_reward - ctrl_cost;
  *terminated = 0;
}

const ng_mj_task_t ng_mj_half_cheetah = {
    .def =
        {
            .info =
                {
                    .id = "HalfCheetah-v5",
                    .summary = "MuJoCo: a planar two-legged runner; reward = forward speed "
                               "- 0.1 |a|^2",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 17,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 6,
                                     .low = ng_mj_minus_ones, .high = ng_mj_ones},
                    .max_episode_steps = 1000,
                    .state_size = 28,
                    .state_min_size = 18,
                    .state_doc = "rootx,rootz,rooty,bthigh,bshin,bfoot,fthigh,fshin,ffoot,"
                                 "rootx_dot,rootz_dot,rooty_dot,bthigh_dot,bshin_dot,"
                                 "bfoot_dot,fthigh_dot,fshin_dot,ffoot_dot,warmstart,rootx_ws,"
                                 "rootz_ws,rooty_ws,bthigh_ws,bshin_ws,bfoot_ws,fthigh_ws,"
                                 "fshin_ws,ffoot_ws",
                },
            NG_MJ_CALLBACKS(ng_mj_half_cheetah),
        },
    .model_name = "half_cheetah",
    .nq = 9,
    .nv = 9,
    .nu = 6,
    .nbody = 8,
    .nsite = 0,
    .frame_skip = 5,
    .reset_noise_scale = 0.1,
    .qvel_noise = NG_MJ_QVEL_NORMAL,
    .track = hc_track,
    .reward = hc_reward,
    .observe = hc_observe,
};
