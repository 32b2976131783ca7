/* InvertedPendulum-v5, as Gymnasium's mujoco/inverted_pendulum_v5.py.
 *
 * Model models/inverted_pendulum.xml: cart on a slider (range [-1, 1] m), pole on a hinge,
 * one motor on the cart (ctrl in [-3, 3], gear 100); RK4, timestep 0.02, frame_skip 2, so
 * dt = 0.04 s. Observation (4): qpos (cart x, pole angle), qvel.
 * Terminated when the pole angle |qpos[1]| > 0.2 rad (strictly); reward 1 while not
 * terminated, 0 on the terminating step (v5's fix: no healthy reward once unhealthy).
 * Reset: qpos and qvel each + U(-0.01, 0.01). Time limit 1000 steps.
 * Gymnasium also terminates on a non-finite observation; here that is NG_ENONFINITE.
 */
#include <math.h>

#include "envs/mujoco/mj_env.h"

static const double ip_action_high[1] = {3.0};
static const double ip_action_low[1] = {-3.0};

static void ip_observe(const ng_mj_view_t *v, double *obs) {
  obs[0] = v->qpos[0];
  obs[1] = v->qpos[1];
  obs[2] = v->qvel[0];
  obs[3] = v->qvel[1];
}

static void ip_reward(const ng_mj_view_t *v, const double *before, const double *action,
                      double dt, double *reward, int *terminated) {
  (void)before, (void)action, (void)dt;
  /* terminated = bool(not np.isfinite(obs).all() or (np.abs(obs[1]) > 0.2)) */
  int term = fabs(v->qpos[1]) > 0.2;
  *terminated = term;
  *reward = term ? 0.0 : 1.0;
}

const ng_mj_task_t ng_mj_inverted_pendulum = {
    .def =
        {
            .info =
                {
                    .id = "InvertedPendulum-v5",
                    .summary = "MuJoCo: balance a pole on a cart by pushing the cart; +1 per "
                               "step while |angle| <= 0.2",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 4,
                                          .low = ng_mj_minus_inf, .high = ng_mj_inf},
                    .action_space = {.kind = NG_SPACE_BOX, .dim = 1,
                                     .low = ip_action_low, .high = ip_action_high},
                    .max_episode_steps = 1000,
                    .state_size = 7,
                    .state_min_size = 4,
                    .state_doc = "slider,hinge,slider_dot,hinge_dot,warmstart,slider_ws,"
                                 "hinge_ws",
                },
            NG_MJ_CALLBACKS(ng_mj_inverted_pendulum),
        },
    .model_name = "inverted_pendulum",
    .nq = 2,
    .nv = 2,
    .nu = 1,
    .nbody = 3,
    .nsite = 0,
    .frame_skip = 2,
    .reset_noise_scale = 0.01,
    .qvel_noise = NG_MJ_QVEL_UNIFORM,
    .track = NULL,
    .reward = ip_reward,
    .observe = ip_observe,
};
