/* Hopper-v5, as Gymnasium's mujoco/hopper_v5.py.
 *
 * Model models/hopper.xml: planar torso, thigh, leg and foot; three motors (ctrl in
 * [-1, 1], gear 200); RK4, timestep 0.002, frame_skip 4, so dt = 0.008 s.
 * Observation (11): qpos[1:] (x excluded), clip(qvel, -10, 10).
 * Healthy when, strictly inside each range: every one of qpos[2:] and the (unclipped) qvel
 * in (-100, 100), the height z = qpos[1] in (0.7, inf), the torso angle qpos[2] in
 * (-0.2, 0.2). Terminated when unhealthy.
 * reward = (x_after - x_before) / dt + 1 * healthy - 1e-3 * sum(action^2), x = qpos[0].
 * Reset: qpos and qvel each + U(-5e-3, 5e-3). Time limit 1000 steps.
 */
#include <math.h>

#include "envs/mujoco/mj_env.h"

static void hop_track(const ng_mj_view_t *v, double *tracked) { tracked[0] = v->qpos[0]; }

static void hop_observe(const ng_mj_view_t *v, double *obs) {
  for (int i = 1; i < 6; i++) obs[i - 1] = v->qpos[i];
  for (int i = 0; i < 6; i++) obs[5 + i] = ng_mj_clip(v->qvel[i], -10.0, 10.0);
}

static int hop_is_healthy(const ng_mj_view_t *v) {
  double z = v->qpos[1], angle = v->qpos[2];
  /* state_vector()[2:]: qpos[2:], then qvel. */
  int healthy_state = 1;
  for (int i = 2; i < 6; i++) healthy_state &= -100.0 < v->qpos[i] && v->qpos[i] < 100.0;
  for (int i = 0; i < 6; i++) healthy_state &= -100.0 < v->qvel[i] && v->qvel[i] < 100.0;
  int healthy_z = 0.7 < z && z < INFINITY;
  int healthy_angle = -0.2 < angle && angle < 0.2;
  return healthy_state && healthy_z && healthy_angle;
}

static void hop_reward(const ng_mj_view_t *v, const double *before, const double *action,
                       double dt, double *reward, int *terminated) {
  double x_velocity = (v->qpos[0] - before[0]) / dt;
  double ctrl_cost = 1e-3 * ng_mj_sum_squares(3, action);
  double forward_reward = 1.0 * x_velocity;
  int healthy = hop_is_healthy(v);
  double healthy_reward = (double)healthy * 1.0;
  double rewards = forward_reward + healthy_reward;
  *reward = rewards - ctrl_cost;
  *terminated = !healthy;
}

const ng_mj_task_t ng_mj_hopper = {
    .def =
        {
            .info =
                {
                    .id = "Hopper-v5",
                    .summary = "MuJoCo: a one-legged planar hopper; reward = forward speed "
                               "+ 1 while healthy - 1e-3 |a|^2",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 11,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 3,
                                     .low = ng_mj_minus_ones, .high = ng_mj_ones},
                    .max_episode_steps = 1000,
                    .state_size = 19,
                    .state_min_size = 12,
                    .state_doc = "rootx,rootz,rooty,thigh,leg,foot,rootx_dot,rootz_dot,"
                                 "rooty_dot,thigh_dot,leg_dot,foot_dot,warmstart,rootx_ws,"
                                 "rootz_ws,rooty_ws,thigh_ws,leg_ws,foot_ws",
                },
            NG_MJ_CALLBACKS(ng_mj_hopper),
        },
    .model_name = "hopper",
    .nq = 6,
    .nv = 6,
    .nu = 3,
    .nbody = 5,
    .nsite = 0,
    .frame_skip = 4,
    .reset_noise_scale = 5e-3,
    .qvel_noise = NG_MJ_QVEL_UNIFORM,
    .track = hop_track,
    .reward = hop_reward,
    .observe = hop_observe,
};
