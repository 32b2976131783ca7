/* Reacher-v5, as Gymnasium's mujoco/reacher_v5.py with its defaults.
 *
 * Model models/reacher.xml: a two-link planar arm (joint0 unlimited, joint1 in [-3, 3]) and a
 * target on two slide joints (x, y); ctrl in [-1, 1], gear 200; RK4, timestep 0.01,
 * frame_skip 2, so dt = 0.02 s. Bodies: world, body0, body1, fingertip (3), target (4).
 * Observation (10): cos(qpos[0:2]), sin(qpos[0:2]), qpos[2:4] (the target), qvel[0:2],
 * (fingertip - target)[0:2], where a body's position is its frame's xpos after the step
 * (get_body_com). Never terminates.
 * reward = -|fingertip - target| (the 3-vector's norm) - sum(action^2), both weights 1; v5
 * computes it after the step (v4 before).
 * Reset: qpos = qpos0 + U(-0.1, 0.1) for all four coordinates, then the goal drawn as
 * U(-0.2, 0.2)^2 until its norm is under 0.2 and written to qpos[2:4]; qvel = U(-0.005,
 * 0.005) for all four, then qvel[2:4] = 0 (Gymnasium's order of draws). Time limit 50 steps.
 */
#include <math.h>

#include "envs/mujoco/mj_env.h"

#define RE_FINGERTIP 3
#define RE_TARGET 4

/* fingertip - target, as get_body_com("fingertip") - get_body_com("target"). */
static void re_vec(const ng_mj_view_t *v, double *vec) {
  for (int j = 0; j < 3; j++) vec[j] = v->xpos[3 * RE_FINGERTIP + j] - v->xpos[3 * RE_TARGET + j];
}

static void re_observe(const ng_mj_view_t *v, double *obs) {
  double vec[3];
  re_vec(v, vec);
  obs[0] = cos(v->qpos[0]), obs[1] = cos(v->qpos[1]);
  obs[2] = sin(v->qpos[0]), obs[3] = sin(v->qpos[1]);
  obs[4] = v->qpos[2], obs[5] = v->qpos[3];
  obs[6] = v->qvel[0], obs[7] = v->qvel[1];
  obs[8] = vec[0], obs[9] = vec[1];
}

static void re_reward(const ng_mj_view_t *v, const double *before, const double *action,
                      double dt, double *reward, int *terminated) {
  (void)before, (void)dt;
  double vec[3];
  re_vec(v, vec);
  double reward_dist = -ng_mj_norm3(vec) * 1.0;
  double reward_ctrl = -ng_mj_sum_squares(2, action) * 1.0;
  *reward = reward_dist + reward_ctrl;
  *terminated = 0;
}

static void re_reset(const double *qpos0, ng_rng_t *rng, double *qpos, double *qvel) {
  for (int i = 0; i < 4; i++) qpos[i] = ng_rng_uniform_range(rng, -0.1, 0.1) + qpos0[i];
  double goal[2];
  do {
    goal[0] = ng_rng_uniform_range(rng, -0.2, 0.2);
    goal[1] = ng_rng_uniform_range(rng, -0.2, 0.2);
  } while (!(sqrt(goal[0] * goal[0] + goal[1] * goal[1]) < 0.2));
  qpos[2] = goal[0], qpos[3] = goal[1];
  for (int i = 0; i < 4; i++) qvel[i] = 0.0 + ng_rng_uniform_range(rng, -0.005, 0.005);
  qvel[2] = qvel[3] = 0.0;
}

const ng_mj_task_t ng_mj_reacher = {
    .def =
        {
            .info =
                {
                    .id = "Reacher-v5",
                    .summary = "MuJoCo: a two-link arm reaching for a random target; reward = "
                               "-distance - |a|^2",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 10,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 2,
                                     .low = ng_mj_minus_ones, .high = ng_mj_ones},
                    .max_episode_steps = 50,
                    .state_size = 13,
                    .state_min_size = 8,
                    .state_doc = "joint0,joint1,target_x,target_y,joint0_dot,joint1_dot,"
                                 "target_x_dot,target_y_dot,warmstart,joint0_ws,joint1_ws,"
                                 "target_x_ws,target_y_ws",
                },
            NG_MJ_CALLBACKS(ng_mj_reacher),
        },
    .model_name = "reacher",
    .nq = 4,
    .nv = 4,
    .nu = 2,
    .nbody = 5,
    .nsite = 0,
    .frame_skip = 2,
    .reset = re_reset,
    .reward = re_reward,
    .observe = re_observe,
};
