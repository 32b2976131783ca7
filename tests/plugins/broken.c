/* Deliberately broken test plugins, one per BROKEN_* definition (tests/cli_plugins.cmake
 * builds each as its own module):
 *   BROKEN_NOSYM     no natgrad_plugin symbol
 *   BROKEN_ABI       built for another plugin ABI (a later one)
 *   BROKEN_ABI1      built for ABI 1, before ng_space_t gained nvec: refused, never called
 *   BROKEN_ABI2      built for ABI 2, before ng_env_info_t gained state_min_size: refused
 *   BROKEN_SPACE     an observation space with low > high
 *   BROKEN_CLASH     registers CartPole-v1
 *   BROKEN_NAN       Faulty-v0 returns a NaN observation from the process's FAULT_AT-th step
 *   BROKEN_STEP_ERR  Faulty-v0's step fails (NG_ERANGE) from the FAULT_AT-th step
 *   BROKEN_CRASH     Faulty-v0 dereferences NULL (SIGSEGV) at the FAULT_AT-th step
 * The faults count steps over the whole process, so that a run first writes checkpoints
 * and a later `natgrad eval` of them (fewer steps) does not fault. */
#include <math.h>
#include <stdlib.h>

#include "natgrad/env.h"

#define FAULT_AT 6000
#if defined(BROKEN_CLASH)
#define FAULTY_ID "CartPole-v1"
#else
#define FAULTY_ID "Faulty-v0"
#endif

static long steps_taken;

typedef struct {
  double x;
} faulty_t;

static int faulty_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  faulty_t *f = calloc(1, sizeof *f);
  if (!f) return ng_error_set(err, NG_ENOMEM, "%s: out of memory", def->info.id);
  *self = f;
  return NG_OK;
}
static void faulty_destroy(void *self) { free(self); }
static int faulty_reset(void *self, ng_rng_t *rng, double *obs) {
  faulty_t *f = self;
  f->x = ng_rng_uniform_range(rng, -1.0, 1.0);
  obs[0] = f->x;
  return NG_OK;
}
static int faulty_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                       double *reward, int *terminated) {
  faulty_t *f = self;
  (void)rng;
  double a = action[0] < -1 ? -1 : action[0] > 1 ? 1 : action[0];
  f->x += 0.1 * a;
  obs[0] = f->x;
  *reward = -f->x * f->x;
  *terminated = 0;
  if (++steps_taken < FAULT_AT) return NG_OK;
#if defined(BROKEN_NAN)
  obs[0] = NAN;
#elif defined(BROKEN_STEP_ERR)
  return NG_ERANGE;
#elif defined(BROKEN_CRASH)
  {
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
  }
#endif
  return NG_OK;
}

static const double one_low[1] = {-1}, one_high[1] = {1};
#if defined(BROKEN_SPACE)
static const double bad_low[2] = {0, 2}, bad_high[2] = {1, 1}; /* component 1: low > high */
#endif

static const ng_env_def_t faulty_def = {
    .info = {.id = FAULTY_ID,
             .summary = "test plugin: a broken environment",
#if defined(BROKEN_SPACE)
             .observation_space = {.kind = NG_SPACE_BOX, .dim = 2,
                                   .low = bad_low, .high = bad_high},
#else
             .observation_space = {.kind = NG_SPACE_BOX, .dim = 1,
                                   .low = one_low, .high = one_high},
#endif
             .action_space = {.kind = NG_SPACE_BOX, .dim = 1, .low = one_low, .high = one_high},
             .max_episode_steps = 100},
    .create = faulty_create,
    .destroy = faulty_destroy,
    .reset = faulty_reset,
    .step = faulty_step,
};

static int faulty_init(ng_plugin_registrar_t *r, ng_error_t *err) {
  return r->add_env(r, &faulty_def, err);
}

#if !defined(BROKEN_NOSYM)
const ng_plugin_t natgrad_plugin = {
#if defined(BROKEN_ABI)
    NG_PLUGIN_ABI + 1,
#elif defined(BROKEN_ABI1)
    1,
#elif defined(BROKEN_ABI2)
    2,
#else
    NG_PLUGIN_ABI,
#endif
    "natgrad test plugin: broken", faulty_init};
#else
/* a plugin's init under another name: no entry symbol */
const ng_plugin_t natgrad_plugin_v0 = {NG_PLUGIN_ABI, "no entry", faulty_init};
#endif
