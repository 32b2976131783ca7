/* Ant-v5, as Gymnasium's mujoco/ant_v5.py with its defaults.
 *
 * Model models/ant.xml: a torso on a free joint and four legs of two hinged links; eight
 * motors (ctrl in [-1, 1], gear 150); RK4, timestep 0.01, frame_skip 5, so dt = 0.05 s.
 * Observation (105): qpos[2:] (13: z, orientation quaternion w x y z, eight hinge angles;
 * x and y excluded), qvel (14), then clip(cfrc_ext, -1, 1) of bodies 1..13 (78: the
 * contact force and torque on each body, world body excluded; include_cfrc_ext_in_observation
 * defaults to True in v5).
 * Healthy when qpos and qvel are finite and the torso height qpos[2] is in [0.2, 1.0]
 * (closed). Terminated when unhealthy.
 * reward = (x_after - x_before) / dt + 1 * healthy - 0.5 * sum(action^2)
 *          - 5e-4 * sum(clip(cfrc_ext, -1, 1)^2)   (all 14 x 6 entries),
 * where x is the torso's body position xpos[1][0] as MjData holds it (after a step, from the
 * last forward pass of the integrator, as Gymnasium reads data.body("torso").xpos).
 * Reset: qpos + U(-0.1, 0.1) (all 15 coordinates, quaternion included), qvel + 0.1 N(0, 1).
 * Time limit 1000 steps.
 */
#include <math.h>

#include "envs/mujoco/mj_env.h"

#define ANT_NBODY 14
#define ANT_TORSO 1

static void ant_track(const ng_mj_view_t *v, double *tracked) {
  tracked[0] = v->xpos[3 * ANT_TORSO + 0];
  tracked[1] = v->xpos[3 * ANT_TORSO + 1];
}

static void ant_observe(const ng_mj_view_t *v, double *obs) {
  for (int i = 2; i < 15; i++) obs[i - 2] = v->qpos[i];
  for (int i = 0; i < 14; i++) obs[13 + i] = v->qvel[i];
  for (int i = 6; i < 6 * ANT_NBODY; i++) obs[27 + i - 6] = ng_mj_clip(v->cfrc_ext[i], -1.0, 1.0);
}

static int ant_is_healthy(const ng_mj_view_t *v) {
  double z = v->qpos[2];
  return ng_all_finite(15, v->qpos) && ng_all_finite(14, v->qvel) && 0.2 <= z && z <= 1.0;
}

static void ant_reward(const ng_mj_view_t *v, const double *before, const double *action,
                       double dt, double *reward, int *terminated) {
  double x_velocity = (v->xpos[3 * ANT_TORSO + 0] - before[0]) / dt;
  double forward_reward = x_velocity * 1.0;
  int healthy = ant_is_healthy(v);
  double healthy_reward = (double)healthy * 1.0;
  double rewards = forward_reward + healthy_reward;

  double ctrl_cost = 0.5 * ng_mj_sum_squares(8, action);
  double clipped[6 * ANT_NBODY];
  for (int i = 0; i < 6 * ANT_NBODY; i++) clipped[i] = ng_mj_clip(v->cfrc_ext[i], -1.0, 1.0);
  double contact_cost = 5e-4 * ng_mj_sum_squares(6 * ANT_NBODY, clipped);
  double costs = ctrl_cost + contact_cost;

  *reward = rewards - costs;
  *terminated = !healthy;
}

const ng_mj_task_t ng_mj_ant = {
    .def =
        {
            .info =
                {
                    .id = "Ant-v5",
                    .summary = "MuJoCo: a four-legged walker; reward = forward speed + 1 while "
                               "healthy - 0.5 |a|^2 - 5e-4 |contact forces|^2",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 105,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 8,
                                     .low = ng_mj_minus_ones, .high = ng_mj_ones},
                    .max_episode_steps = 1000,
                    .state_size = 46,
                    .state_min_size = 29,
                    .state_doc = "x,y,z,qw,qx,qy,qz,hip_1,ankle_1,hip_2,ankle_2,hip_3,ankle_3,"
                                 "hip_4,ankle_4,x_dot,y_dot,z_dot,wx,wy,wz,hip_1_dot,"
                                 "ankle_1_dot,hip_2_dot,ankle_2_dot,hip_3_dot,ankle_3_dot,"
                                 "hip_4_dot,ankle_4_dot,warmstart,x_ws,y_ws,z_ws,wx_ws,wy_ws,"
                                 "wz_ws,hip_1_ws,ankle_1_ws,hip_2_ws,ankle_2_ws,hip_3_ws,"
                                 "ankle_3_ws,hip_4_ws,ankle_4_ws,torso_x,torso_y",
                },
            NG_MJ_CALLBACKS(ng_mj_ant),
        },
    .model_name = "ant",
    .nq = 15,
    .nv = 14,
    .nu = 8,
    .nbody = ANT_NBODY,
    .nsite = 0,
    .frame_skip = 5,
    .reset_noise_scale = 0.1,
    .qvel_noise = NG_MJ_QVEL_NORMAL,
    .track = ant_track,
    .track_in_state = 2,
    .reward = ant_reward,
    .observe = ant_observe,
};
