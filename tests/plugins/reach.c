/* A test plugin: Reach-v0, a point on a line steered to the origin, written only against
 * natgrad/env.h as a user's plugin would be.
 *
 * Dynamics (first-order, analytic): x' = clip(x + 0.2 a, -3, 3) with the action a clipped
 * to [-1, 1]; reward -x'^2; no terminal state, 50 steps. x0 ~ U(-2, 2). The best policy
 * (a = -clip(5x, -1, 1)) scores about -3 on average, a random one about -150.
 * ReachNoState-v0 is the same task without get/set state (resuming starts fresh episodes). */
#include <math.h>
#include <stdlib.h>

#include "natgrad/env.h"

typedef struct {
  double x;
} reach_t;

static int reach_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  reach_t *r = calloc(1, sizeof *r);
  if (!r) return ng_error_set(err, NG_ENOMEM, "%s: out of memory", def->info.id);
  *self = r;
  return NG_OK;
}
static void reach_destroy(void *self) { free(self); }
static int reach_reset(void *self, ng_rng_t *rng, double *obs) {
  reach_t *r = self;
  r->x = ng_rng_uniform_range(rng, -2.0, 2.0);
  obs[0] = r->x;
  return NG_OK;
}
static int reach_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                      double *reward, int *terminated) {
  reach_t *r = self;
  (void)rng;
  double a = action[0] < -1 ? -1 : action[0] > 1 ? 1 : action[0];
  double x = r->x + 0.2 * a;
  r->x = x < -3 ? -3 : x > 3 ? 3 : x;
  obs[0] = r->x;
  *reward = -r->x * r->x;
  *terminated = 0;
  return NG_OK;
}
static int reach_get(const void *self, double *state) {
  state[0] = ((const reach_t *)self)->x;
  return NG_OK;
}
static int reach_set(void *self, const double *state, double *obs) {
  ((reach_t *)self)->x = state[0];
  if (obs) obs[0] = state[0];
  return NG_OK;
}

static const double obs_low[1] = {-3}, obs_high[1] = {3};
static const double act_low[1] = {-1}, act_high[1] = {1};

static const ng_env_def_t reach_def = {
    .info = {.id = "Reach-v0",
             .summary = "test plugin: steer a point on a line to 0; reward -x^2",
             .observation_space = {.kind = NG_SPACE_BOX, .dim = 1,
                                   .low = obs_low, .high = obs_high},
             .action_space = {.kind = NG_SPACE_BOX, .dim = 1, .low = act_low, .high = act_high},
             .max_episode_steps = 50,
             .state_size = 1,
             .state_doc = "x"},
    .create = reach_create,
    .destroy = reach_destroy,
    .reset = reach_reset,
    .step = reach_step,
    .get_state = reach_get,
    .set_state = reach_set,
};

static int reach_init(ng_plugin_registrar_t *r, ng_error_t *err) {
  int s = r->add_env(r, &reach_def, err);
  if (s) return s;
  ng_env_def_t nostate = reach_def; /* the registrar copies the description */
  nostate.info.id = "ReachNoState-v0";
  nostate.info.summary = "test plugin: Reach-v0 without get/set state";
  nostate.info.state_size = 0;
  nostate.info.state_doc = "";
  nostate.get_state = NULL;
  nostate.set_state = NULL;
  return r->add_env(r, &nostate, err);
}

const ng_plugin_t natgrad_plugin = {NG_PLUGIN_ABI, "natgrad test plugin: Reach", reach_init};
