/* The classic-control environments as definitions: each is a class of pure functions over
 * a small state value (env_impl.h), and these callbacks hold that value as the
 * environment's object and apply the class's functions to it. */
#include <math.h>
#include <string.h>

#include "envs/env_impl.h"

typedef struct {
  const ng_env_class_t *cls;
  ng_env_state_t state;
} ng__classic_t;

int ng__env_classic_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  ng__classic_t *c = ng_calloc(1, sizeof *c);
  if (!c) return ng_error_set(err, NG_ENOMEM, "%s: out of memory", def->info.id);
  c->cls = def->user;
  *self = c;
  return NG_OK;
}

void ng__env_classic_destroy(void *self) { ng_free(self); }

int ng__env_classic_reset(void *self, ng_rng_t *rng, double *obs) {
  ng__classic_t *c = self;
  c->cls->reset(&c->state, rng);
  c->cls->observe(&c->state, obs);
  return NG_OK;
}

int ng__env_classic_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                         double *reward, int *terminated) {
  ng__classic_t *c = self;
  ng_env_state_t next = c->state;
  double r = 0.0;
  int term = 0;
  (void)rng; /* the classic dynamics are deterministic */
  c->cls->step(&c->state, action, &next, &r, &term);
  /* Commit nothing from a step that left the finite numbers: the caller can still read
   * the last good state and observation. */
  if (!ng_all_finite(c->cls->def.info.state_size, next.s) || !isfinite(r)) return NG_ENONFINITE;
  c->state = next;
  c->cls->observe(&c->state, obs);
  *reward = r;
  *terminated = term;
  return NG_OK;
}

int ng__env_classic_get_state(const void *self, double *state) {
  const ng__classic_t *c = self;
  memcpy(state, c->state.s, c->cls->def.info.state_size * sizeof *state);
  return NG_OK;
}

int ng__env_classic_set_state(void *self, const double *state, double *obs) {
  ng__classic_t *c = self;
  size_t n = c->cls->def.info.state_size;
  ng_env_state_t st;
  memset(&st, 0, sizeof st);
  memcpy(st.s, state, n * sizeof *state);
  if (c->cls->has_f32_states) {
    st.f32 = 1;
    for (size_t i = 0; i < n; i++)
      if (ng_env_f32(state[i]) != state[i]) st.f32 = 0;
  }
  c->state = st;
  if (obs) c->cls->observe(&c->state, obs);
  return NG_OK;
}
