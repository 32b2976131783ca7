/* Humanoid-v5 and HumanoidStandup-v5, as Gymnasium's mujoco/humanoid_v5.py and
 * humanoidstandup_v5.py with their defaults. One file: the two share the body, the state
 * layout and the observation.
 *
 * Models models/humanoid.xml (standing, torso at z = 1.4) and models/humanoid_standup.xml
 * (lying, z = 0.105): a torso on a free joint, 17 hinges, two fixed hip-knee tendons; 17
 * motors with ctrl in [-0.4, 0.4] (the action space is Gymnasium's float32 Box, so its
 * bounds are (double)0.4f); RK4, timestep 0.003, frame_skip 5, so dt = 0.015 s.
 * Observation (348; v5's defaults include every part): qpos[2:] (22: x and y excluded),
 * qvel (23), then of bodies 1..13 (world excluded) cinert (130: com-based inertia and mass),
 * cvel (78: com-based velocity), then qfrc_actuator[6:] (17: the hinges' actuator forces),
 * then cfrc_ext of bodies 1..13 (78), unclipped.
 * Humanoid: healthy while 1.0 < qpos[2] < 2.0 (strict); terminated when unhealthy.
 *   reward = 1.25 vx + 5 healthy - 0.1 sum(ctrl^2) - min(5e-7 sum(cfrc_ext^2), 10)
 *   with vx the x velocity of the centre of mass (mass_center: the mass-weighted mean of
 *   xipos, before and after the step, over dt); all 14 x 6 cfrc_ext entries are charged.
 * HumanoidStandup: never terminates.
 *   reward = qpos[2] / timestep - 0.1 sum(ctrl^2) - min(5e-7 sum(cfrc_ext^2), 10) + 1
 *   (divided by MuJoCo's timestep 0.003, not dt, as Gymnasium's uph_cost).
 * ctrl is the action as written into MjData (unclipped: MuJoCo clamps it internally).
 * Reset: qpos = qpos0 + U(-0.01, 0.01) (24, the quaternion included, which MuJoCo then
 * normalises), qvel = U(-0.01, 0.01) (23). Time limit 1000 steps.
 */
#include "envs/mujoco/mj_env.h"

#define HM_NBODY 14
#define HM_TIMESTEP 0.003
#define HM_ACT_HIGH ((double)0.4f)

/* mass_center(model, data)[0:2]: np.sum(mass * xipos, axis=0) adds the bodies' products in
 * body order (an axis-0 reduction is a plain running sum per column), divided by np.sum of
 * the masses (a contiguous sum: pairwise). */
static void hm_track(const ng_mj_view_t *v, double *tracked) {
  double total = ng_mj_sum(HM_NBODY, v->body_mass);
  for (int j = 0; j < 2; j++) {
    double s = 0.0;
    for (int b = 0; b < HM_NBODY; b++) s += v->body_mass[b] * v->xipos[3 * b + j];
    tracked[j] = s / total;
  }
}

static void hm_observe(const ng_mj_view_t *v, double *obs) {
  double *o = obs;
  for (int i = 2; i < 24; i++) *o++ = v->qpos[i];
  for (int i = 0; i < 23; i++) *o++ = v->qvel[i];
  for (int i = 10; i < 10 * HM_NBODY; i++) *o++ = v->cinert[i];
  for (int i = 6; i < 6 * HM_NBODY; i++) *o++ = v->cvel[i];
  for (int i = 6; i < 23; i++) *o++ = v->qfrc_actuator[i];
  for (int i = 6; i < 6 * HM_NBODY; i++) *o++ = v->cfrc_ext[i];
}

/* weight * np.sum(np.square(cfrc_ext)), clipped to (-inf, 10]. */
static double hm_contact_cost(const ng_mj_view_t *v) {
  double cost = 5e-7 * ng_mj_sum_squares(6 * HM_NBODY, v->cfrc_ext);
  return ng_mj_clip(cost, -INFINITY, 10.0);
}

static void hm_reward(const ng_mj_view_t *v, const double *before, const double *action,
                      double dt, double *reward, int *terminated) {
  double after[2];
  hm_track(v, after);
  double x_velocity = (after[0] - before[0]) / dt;
  double forward_reward = 1.25 * x_velocity;
  double z = v->qpos[2];
  int healthy = 1.0 < z && z < 2.0;
  double healthy_reward = (double)healthy * 5.0;
  double rewards = forward_reward + healthy_reward;
  double ctrl_cost = 0.1 * ng_mj_sum_squares(17, action);
  double costs = ctrl_cost + hm_contact_cost(v);
  *reward = rewards - costs;
  *terminated = !healthy;
}

static void hs_reward(const ng_mj_view_t *v, const double *before, const double *action,
                      double dt, double *reward, int *terminated) {
  (void)before, (void)dt;
  double uph_cost = (v->qpos[2] - 0) / HM_TIMESTEP;
  double quad_ctrl_cost = 0.1 * ng_mj_sum_squares(17, action);
  *reward = uph_cost - quad_ctrl_cost - hm_contact_cost(v) + 1;
  *terminated = 0;
}

#define HM_R17(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const double hm_high[17] = {HM_R17(HM_ACT_HIGH)};
static const double hm_low[17] = {HM_R17(-HM_ACT_HIGH)};

#define HM_JOINTS(s)                                                                         \
  "abdomen_z" s ",abdomen_y" s ",abdomen_x" s ",right_hip_x" s ",right_hip_z" s              \
  ",right_hip_y" s ",right_knee" s ",left_hip_x" s ",left_hip_z" s ",left_hip_y" s           \
  ",left_knee" s ",right_shoulder1" s ",right_shoulder2" s ",right_elbow" s                  \
  ",left_shoulder1" s ",left_shoulder2" s ",left_elbow" s
#define HM_STATE_DOC                                                                         \
  "x,y,z,qw,qx,qy,qz," HM_JOINTS("") ",x_dot,y_dot,z_dot,wx,wy,wz," HM_JOINTS("_dot")       \
  ",warmstart,x_ws,y_ws,z_ws,wx_ws,wy_ws,wz_ws," HM_JOINTS("_ws")

/* Humanoid's state ends with the centre of mass its reward differences (2 values, doc
 * ",com_x,com_y"); HumanoidStandup's reward differences nothing. */
#define HM_INFO(name, text, ntrack, track_doc)                                               \
  .id = name, .summary = text,                                                               \
  .observation_space = {.kind = NG_SPACE_BOX, .dim = 348, .low = ng_mj_minus_inf,           \
                        .high = ng_mj_inf},                                                  \
  .action_space = {.kind = NG_SPACE_BOX, .dim = 17, .low = hm_low, .high = hm_high},         \
  .max_episode_steps = 1000, .state_size = 71 + (ntrack), .state_min_size = 47,             \
  .state_doc = HM_STATE_DOC track_doc

#define HM_SIZES                                                                             \
  .nq = 24, .nv = 23, .nu = 17, .nbody = HM_NBODY, .nsite = 0, .frame_skip = 5,              \
  .reset_noise_scale = 1e-2, .qvel_noise = NG_MJ_QVEL_UNIFORM, .observe = hm_observe

const ng_mj_task_t ng_mj_humanoid = {
    .def = {.info = {HM_INFO("Humanoid-v5", "MuJoCo: a 3D biped walking forward; reward = "
                                            "1.25 com speed + 5 while healthy - 0.1 |a|^2 - "
                                            "contact cost", 2, ",com_x,com_y")},
            NG_MJ_CALLBACKS(ng_mj_humanoid)},
    .model_name = "humanoid",
    HM_SIZES,
    .track = hm_track,
    .track_in_state = 2,
    .reward = hm_reward,
};

const ng_mj_task_t ng_mj_humanoid_standup = {
    .def = {.info = {HM_INFO("HumanoidStandup-v5", "MuJoCo: a 3D biped getting up from the "
                                                   "floor; reward = height / timestep + 1 - "
                                                   "0.1 |a|^2 - contact cost", 0, "")},
            NG_MJ_CALLBACKS(ng_mj_humanoid_standup)},
    .model_name = "humanoid_standup",
    HM_SIZES,
    .reward = hs_reward,
};
