/* DCMotorServo-v0: turn the shaft of a small DC motor to a commanded angle, by voltage.
 * An example environment plugin for natgrad, written only against the installed header
 * natgrad/env.h, as a user's would be (README.md beside this file builds and trains it).
 *
 * Dynamics: the armature-controlled DC motor of Franklin, Powell & Emami-Naeini, "Feedback
 * Control of Dynamic Systems" (Sec. 2.3, models of electromechanical systems), with the
 * parameters of the University of Michigan's Control Tutorials for MATLAB and Simulink,
 * "DC Motor Position: System Modeling" (Messner & Tilbury; measured on a motor in Carnegie
 * Mellon's undergraduate controls lab):
 *
 *   J theta'' + b theta' = K i          J = 3.2284e-6 kg m^2   b = 3.5077e-6 N m s
 *   L i' + R i = V - K theta'           K = 0.0274 N m/A (= V s/rad)   R = 4 ohm
 *                                       L = 2.75e-6 H
 *
 * The electrical time constant L/R = 0.7 us is four orders of magnitude below the mechanical
 * one (17 ms), so the current is taken as settled (L = 0): i = (V - K omega)/R, and
 *
 *   omega' = -a omega + c V,   a = (b R + K^2)/(J R) = 59.2 /s,   c = K/(J R) = 2122 rad/s^2/V.
 *
 * The controller holds V for a step of h = 1 ms (zero-order hold) and the step is the exact
 * solution over h, not an Euler step: with E = exp(-a h) and w = c V / a (the speed V would
 * settle to),
 *
 *   omega+ = w + (omega - w) E,   theta+ = theta + w h + (omega - w)(1 - E)/a.
 *
 * Task: theta0 and the target theta_ref are drawn uniformly from [-pi, pi], omega0 = 0. The
 * action u in [-1, 1] is the voltage as a fraction of V_MAX = 12 V (our choice of supply, not
 * CTMS's). Observation: the error e = theta_ref - theta (rad) and omega as a fraction of the
 * no-load speed at 12 V (430 rad/s). Reward -(e/pi)^2 - 0.01 u^2 per step (track, without
 * chattering at full voltage); no terminal state, 200 steps (0.2 s). A uniformly random
 * voltage scores about -240, a tuned saturated PD controller about -7 (the motor crosses pi
 * rad in about 30 ms). */
#include <math.h>
#include <stdlib.h>

#include "natgrad/env.h"

#define PI 3.14159265358979323846

/* The motor (CTMS "DC Motor Position") and the loop around it. */
#define MOTOR_J 3.2284e-6
#define MOTOR_B 3.5077e-6
#define MOTOR_K 0.0274
#define MOTOR_R 4.0
#define V_MAX 12.0
#define STEP_H 1e-3

typedef struct {
  double theta, omega, theta_ref;
  double a, c, decay, omega_max; /* fixed at create: a, c, exp(-a h), c V_MAX / a */
} servo_t;

static void servo_observe(const servo_t *s, double *obs) {
  obs[0] = s->theta_ref - s->theta;
  obs[1] = s->omega / s->omega_max;
}

static int servo_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  servo_t *s = calloc(1, sizeof *s);
  if (!s) return ng_error_set(err, NG_ENOMEM, "%s: out of memory", def->info.id);
  s->a = (MOTOR_B * MOTOR_R + MOTOR_K * MOTOR_K) / (MOTOR_J * MOTOR_R);
  s->c = MOTOR_K / (MOTOR_J * MOTOR_R);
  s->decay = exp(-s->a * STEP_H);
  s->omega_max = s->c * V_MAX / s->a;
  *self = s;
  return NG_OK;
}

static void servo_destroy(void *self) { free(self); }

static int servo_reset(void *self, ng_rng_t *rng, double *obs) {
  servo_t *s = self;
  s->theta = ng_rng_uniform_range(rng, -PI, PI);
  s->theta_ref = ng_rng_uniform_range(rng, -PI, PI);
  s->omega = 0.0;
  servo_observe(s, obs);
  return NG_OK;
}

static int servo_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                      double *reward, int *terminated) {
  servo_t *s = self;
  (void)rng; /* deterministic dynamics: randomness only at reset */
  /* natgrad hands over the action unclipped: the drive saturates at +-V_MAX */
  double u = action[0] < -1.0 ? -1.0 : action[0] > 1.0 ? 1.0 : action[0];
  double w = s->c * u * V_MAX / s->a;
  s->theta += w * STEP_H + (s->omega - w) * (1.0 - s->decay) / s->a;
  s->omega = w + (s->omega - w) * s->decay;
  servo_observe(s, obs);
  double e = obs[0] / PI;
  *reward = -e * e - 0.01 * u * u;
  *terminated = 0;
  return NG_OK;
}

/* The state, for resuming episodes bit for bit and `natgrad replay --state`. */
static int servo_get_state(const void *self, double *state) {
  const servo_t *s = self;
  state[0] = s->theta;
  state[1] = s->omega;
  state[2] = s->theta_ref;
  return NG_OK;
}

static int servo_set_state(void *self, const double *state, double *obs) {
  servo_t *s = self;
  s->theta = state[0];
  s->omega = state[1];
  s->theta_ref = state[2];
  if (obs) servo_observe(s, obs);
  return NG_OK;
}

/* The error is unbounded (the shaft may turn any number of times); so is the speed in
 * principle, though the drive keeps it within +-1 of the no-load speed. */
static const double obs_low[2] = {-INFINITY, -INFINITY}, obs_high[2] = {INFINITY, INFINITY};
static const double act_low[1] = {-1.0}, act_high[1] = {1.0};

static const ng_env_def_t servo_def = {
    .info = {.id = "DCMotorServo-v0",
             .summary = "turn a DC motor's shaft to a target angle by voltage (CTMS motor)",
             .observation_space = {.kind = NG_SPACE_BOX, .dim = 2,
                                   .low = obs_low, .high = obs_high},
             .action_space = {.kind = NG_SPACE_BOX, .dim = 1, .low = act_low, .high = act_high},
             .max_episode_steps = 200,
             .state_size = 3,
             .state_doc = "theta,omega,theta_ref"},
    .create = servo_create,
    .destroy = servo_destroy,
    .reset = servo_reset,
    .step = servo_step,
    .get_state = servo_get_state,
    .set_state = servo_set_state,
};

static int servo_init(ng_plugin_registrar_t *r, ng_error_t *err) {
  return r->add_env(r, &servo_def, err);
}

const ng_plugin_t natgrad_plugin = {NG_PLUGIN_ABI, "DC motor position servo", servo_init};
