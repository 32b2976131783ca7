/* MountainCar-v0, as Gymnasium's classic_control/mountain_car.py (goal_velocity = 0).
 *
 * State (float64): position, velocity. Action a in {0, 1, 2}:
 *   velocity += (a - 1) * 0.001 + cos(3 * position) * (-0.0025);  clip to [-0.07, 0.07]
 *   position += velocity;                                          clip to [-1.2, 0.6]
 *   if position == -1.2 and velocity < 0: velocity = 0              (inelastic left wall)
 * Terminates when position >= 0.5 and velocity >= 0; reward -1 on every step.
 * Observation: the state as float32.
 */
#include <math.h>

#include "envs/env_impl.h"

#define MC_MIN_POSITION (-1.2)
#define MC_MAX_POSITION 0.6
#define MC_MAX_SPEED 0.07
#define MC_GOAL_POSITION 0.5
#define MC_GOAL_VELOCITY 0.0
#define MC_FORCE 0.001
#define MC_GRAVITY 0.0025

/* np.array([min_position, -max_speed]) and [max_position, max_speed], dtype=np.float32 */
static const double mc_obs_low[2] = {(double)(float)MC_MIN_POSITION, (double)(float)-MC_MAX_SPEED};
static const double mc_obs_high[2] = {(double)(float)MC_MAX_POSITION, (double)(float)MC_MAX_SPEED};

/* np.clip for finite values. */
static double mc_clip(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

static void mc_reset(ng_env_state_t *st, ng_rng_t *rng) {
  /* np.array([np_random.uniform(low=-0.6, high=-0.4), 0]) */
  st->s[0] = ng_rng_uniform_range(rng, -0.6, -0.4);
  st->s[1] = 0.0;
  st->f32 = 0;
}

static void mc_step(const ng_env_state_t *st, const double *action, ng_env_state_t *next,
                    double *reward, int *terminated) {
  double position = st->s[0], velocity = st->s[1];
  double a = action[0];
  velocity = velocity + ((a - 1) * MC_FORCE + cos(3 * position) * (-MC_GRAVITY));
  velocity = mc_clip(velocity, -MC_MAX_SPEED, MC_MAX_SPEED);
  position = position + velocity;
  position = mc_clip(position, MC_MIN_POSITION, MC_MAX_POSITION);
  if (position == MC_MIN_POSITION && velocity < 0) velocity = 0.0;

  next->s[0] = position;
  next->s[1] = velocity;
  next->f32 = 0;
  *terminated = position >= MC_GOAL_POSITION && velocity >= MC_GOAL_VELOCITY;
  *reward = -1.0;
}

static void mc_observe(const ng_env_state_t *st, double *obs) {
  obs[0] = ng_env_f32(st->s[0]);
  obs[1] = ng_env_f32(st->s[1]);
}

const ng_env_class_t ng_env_mountain_car = {
    .def =
        {
            .info =
                {
                    .id = "MountainCar-v0",
                    .summary = "drive an underpowered car up a hill by rocking it (3 discrete "
                               "pushes); -1 per step",
                    .observation_space = {.kind = NG_SPACE_BOX, .dim = 2,
                                          .low = mc_obs_low, .high = mc_obs_high},
                    .action_space = {.kind = NG_SPACE_DISCRETE, .dim = 3},
                    .max_episode_steps = 200,
                    .state_size = 2,
                    .state_doc = "position,velocity",
                },
            NG_ENV_CLASSIC(ng_env_mountain_car),
        },
    .has_f32_states = 0,
    .reset = mc_reset,
    .step = mc_step,
    .observe = mc_observe,
};
