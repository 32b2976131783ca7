/* An example plugin with the spaces that are not Box: Discrete observations, MultiDiscrete and
 * MultiBinary actions (the tests train it too). Written only against the installed
 * natgrad/env.h, as a user's plugin is; build it with
 *     cc -std=c11 -O2 -shared -fPIC ring.c $(pkg-config --cflags natgrad) -o libring.so
 * Both tasks are our own, analytic puzzles (no published dynamics to cite), small enough that
 * the best policy is known exactly.
 *
 * Ring-v0: an agent on a ring of 8 cells, cells 0..7, wants to stand on cell 0.
 *   observation  Discrete(8): its cell c
 *   action       MultiDiscrete([2 3]): (direction d, speed v); d = 0 counter-clockwise,
 *                1 clockwise; v cells per step, 0..2
 *   dynamics     c' = (c + (2d - 1) v) mod 8
 *   reward       1 on cell 0, else -dist(c', 0) / 4 (dist: steps around the ring, 1..4)
 *   episode      c0 ~ uniform over the 8 cells; no terminal state, 20 steps
 * The best policy heads for 0 at speed 2 and then stands still: it scores 19.5 on average
 * (20 from 5 of the cells, 18.75 from the two at distance 3, 18.5 from the one opposite); a
 * random one about -7.
 *
 * Switches-v0: set 4 switches to the pattern on display.
 *   observation  Discrete(16): the pattern k (its bits are the wanted switch positions)
 *   action       MultiBinary(4): the switch positions
 *   reward       (switches matching bit i of k) / 4; then a new pattern k ~ uniform
 *   episode      10 steps, no terminal state
 * The best policy (a_i = bit i of k) scores 10, a random one 5. */
#include <stdlib.h>

#include "natgrad/env.h"

#define RING_CELLS 8

typedef struct {
  int cell; /* Ring-v0: the agent's cell; Switches-v0: the pattern on display */
} ring_t;

static int ring_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  ring_t *r = calloc(1, sizeof *r);
  if (!r) return ng_error_set(err, NG_ENOMEM, "%s: out of memory", def->info.id);
  *self = r;
  return NG_OK;
}
static void ring_destroy(void *self) { free(self); }

static int ring_reset(void *self, ng_rng_t *rng, double *obs) {
  ring_t *r = self;
  r->cell = (int)ng_rng_below(rng, RING_CELLS);
  obs[0] = r->cell;
  return NG_OK;
}
static int ring_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                     double *reward, int *terminated) {
  ring_t *r = self;
  (void)rng;
  /* natgrad has checked the action: d in {0, 1}, v in {0, 1, 2} */
  const int move = (2 * (int)action[0] - 1) * (int)action[1];
  r->cell = ((r->cell + move) % RING_CELLS + RING_CELLS) % RING_CELLS;
  const int dist = r->cell <= RING_CELLS / 2 ? r->cell : RING_CELLS - r->cell;
  obs[0] = r->cell;
  *reward = dist == 0 ? 1.0 : -dist / 4.0;
  *terminated = 0;
  return NG_OK;
}

static int switches_reset(void *self, ng_rng_t *rng, double *obs) {
  ring_t *r = self;
  r->cell = (int)ng_rng_below(rng, 16);
  obs[0] = r->cell;
  return NG_OK;
}
static int switches_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                         double *reward, int *terminated) {
  ring_t *r = self;
  int match = 0;
  for (int i = 0; i < 4; i++) match += (int)action[i] == ((r->cell >> i) & 1);
  r->cell = (int)ng_rng_below(rng, 16);
  obs[0] = r->cell;
  *reward = match / 4.0;
  *terminated = 0;
  return NG_OK;
}

/* The state is the one integer, as a double; set_state is handed finite values only. */
static int ring_get(const void *self, double *state) {
  state[0] = ((const ring_t *)self)->cell;
  return NG_OK;
}
static int set_cell(void *self, const double *state, double *obs, int n) {
  if (state[0] != (double)(int)state[0] || state[0] < 0 || state[0] >= n) return NG_EINVAL;
  ((ring_t *)self)->cell = (int)state[0];
  if (obs) obs[0] = state[0];
  return NG_OK;
}
static int ring_set(void *self, const double *state, double *obs) {
  return set_cell(self, state, obs, RING_CELLS);
}
static int switches_set(void *self, const double *state, double *obs) {
  return set_cell(self, state, obs, 16);
}

static const uint32_t ring_nvec[2] = {2, 3};

static const ng_env_def_t ring_def = {
    .info = {.id = "Ring-v0",
             .summary = "test plugin: walk a ring of 8 cells to cell 0 (direction, speed)",
             .observation_space = {.kind = NG_SPACE_DISCRETE, .dim = RING_CELLS},
             .action_space = {.kind = NG_SPACE_MULTI_DISCRETE, .dim = 2, .nvec = ring_nvec},
             .max_episode_steps = 20,
             .state_size = 1,
             .state_doc = "cell"},
    .create = ring_create,
    .destroy = ring_destroy,
    .reset = ring_reset,
    .step = ring_step,
    .get_state = ring_get,
    .set_state = ring_set,
};

static const ng_env_def_t switches_def = {
    .info = {.id = "Switches-v0",
             .summary = "test plugin: set 4 switches to the pattern on display",
             .observation_space = {.kind = NG_SPACE_DISCRETE, .dim = 16},
             .action_space = {.kind = NG_SPACE_MULTI_BINARY, .dim = 4},
             .max_episode_steps = 10,
             .state_size = 1,
             .state_doc = "pattern"},
    .create = ring_create,
    .destroy = ring_destroy,
    .reset = switches_reset,
    .step = switches_step,
    .get_state = ring_get,
    .set_state = switches_set,
};

static int ring_init(ng_plugin_registrar_t *r, ng_error_t *err) {
  int s = r->add_env(r, &ring_def, err);
  return s ? s : r->add_env(r, &switches_def, err);
}

const ng_plugin_t natgrad_plugin = {NG_PLUGIN_ABI, "natgrad test plugin: Ring, Switches",
                                    ring_init};
