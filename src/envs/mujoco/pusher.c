/* Pusher-v5, as Gymnasium's mujoco/pusher_v5.py with its defaults (model pusher_v5.xml).
 *
 * Model models/pusher.xml: a seven-joint arm, an object (a cylinder on two slide joints, y
 * then x) and a goal (likewise); ctrl in [-2, 2], gear 1; Euler, timestep 0.01, no gravity,
 * frame_skip 5, so dt = 0.05 s. Bodies: tips_arm 10, object 11, goal 12.
 * Observation (23): qpos[0:7], qvel[0:7], then the body frame positions (xpos, get_body_com)
 * of tips_arm, object and goal. Never terminates.
 * reward = -|object - goal| - 0.1 sum(action^2) - 0.5 |object - tips_arm| (summed in that
 * order: dist, ctrl, near), after the step.
 * Reset: qpos = qpos0, the object at (U(-0.3, 0), U(-0.2, 0.2)) drawn again until it is more
 * than 0.17 from the goal at (0, 0), written to qpos[7:9], the goal to qpos[9:11] = 0;
 * qvel = U(-0.005, 0.005) for all eleven, then qvel[7:11] = 0. Time limit 100 steps.
 * (Gymnasium's reset writes into init_qpos itself, an alias; its arm coordinates stay 0 and
 * the object's and goal's are overwritten on every reset, so nothing observable changes.)
 */
#include <math.h>

#include "envs/mujoco/mj_env.h"

#define PU_TIPS 10
#define PU_OBJECT 11
#define PU_GOAL 12

static void pu_observe(const ng_mj_view_t *v, double *obs) {
  for (int i = 0; i < 7; i++) obs[i] = v->qpos[i];
  for (int i = 0; i < 7; i++) obs[7 + i] = v->qvel[i];
  for (int j = 0; j < 3; j++) obs[14 + j] = v->xpos[3 * PU_TIPS + j];
  for (int j = 0; j < 3; j++) obs[17 + j] = v->xpos[3 * PU_OBJECT + j];
  for (int j = 0; j < 3; j++) obs[20 + j] = v->xpos[3 * PU_GOAL + j];
}

static void pu_reward(const ng_mj_view_t *v, const double *before, const double *action,
                      double dt, double *reward, int *terminated) {
  (void)before, (void)dt;
  double vec_1[3], vec_2[3];
  for (int j = 0; j < 3; j++) {
    vec_1[j] = v->xpos[3 * PU_OBJECT + j] - v->xpos[3 * PU_TIPS + j];
    vec_2[j] = v->xpos[3 * PU_OBJECT + j] - v->xpos[3 * PU_GOAL + j];
  }
  double reward_near = -ng_mj_norm3(vec_1) * 0.5;
  double reward_dist = -ng_mj_norm3(vec_2) * 1.0;
  double reward_ctrl = -ng_mj_sum_squares(7, action) * 0.1;
  *reward = reward_dist + reward_ctrl + reward_near;
  *terminated = 0;
}

static void pu_reset(const double *qpos0, ng_rng_t *rng, double *qpos, double *qvel) {
  for (int i = 0; i < 11; i++) qpos[i] = qpos0[i];
  double cyl[2];
  do {
    cyl[0] = ng_rng_uniform_range(rng, -0.3, 0.0);
    cyl[1] = ng_rng_uniform_range(rng, -0.2, 0.2);
  } while (!(sqrt(cyl[0] * cyl[0] + cyl[1] * cyl[1]) > 0.17));
  qpos[7] = cyl[0], qpos[8] = cyl[1];
  qpos[9] = qpos[10] = 0.0;
  for (int i = 0; i < 11; i++) qvel[i] = 0.0 + ng_rng_uniform_range(rng, -0.005, 0.005);
  for (int i = 7; i < 11; i++) qvel[i] = 0.0;
}

static const double pu_high[7] = {2, 2, 2, 2, 2, 2, 2};
static const double pu_low[7] = {-2, -2, -2, -2, -2, -2, -2};

const ng_mj_task_t ng_mj_pusher = {
    .def =
        {
            .info =
                {
                    .id = "Pusher-v5",
                    .summary = "MuJoCo: a seven-joint arm pushing a cylinder to a goal; reward "
                               "= -object-goal distance - 0.1 |a|^2 - 0.5 tip-object distance",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 23,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 7, .low = pu_low,
                                     .high = pu_high},
                    .max_episode_steps = 100,
                    .state_size = 34,
                    .state_min_size = 22,
                    .state_doc = "shoulder_pan,shoulder_lift,upper_arm_roll,elbow_flex,"
                                 "forearm_roll,wrist_flex,wrist_roll,object_y,object_x,goal_y,"
                                 "goal_x,shoulder_pan_dot,shoulder_lift_dot,"
                                 "upper_arm_roll_dot,elbow_flex_dot,forearm_roll_dot,"
                                 "wrist_flex_dot,wrist_roll_dot,object_y_dot,object_x_dot,"
                                 "goal_y_dot,goal_x_dot,warmstart,shoulder_pan_ws,"
                                 "shoulder_lift_ws,upper_arm_roll_ws,elbow_flex_ws,"
                                 "forearm_roll_ws,wrist_flex_ws,wrist_roll_ws,object_y_ws,"
                                 "object_x_ws,goal_y_ws,goal_x_ws",
                },
            NG_MJ_CALLBACKS(ng_mj_pusher),
        },
    .model_name = "pusher",
    .nq = 11,
    .nv = 11,
    .nu = 7,
    .nbody = 13,
    .nsite = 0,
    .frame_skip = 5,
    .reset = pu_reset,
    .reward = pu_reward,
    .observe = pu_observe,
};
