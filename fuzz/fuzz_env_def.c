/* Fuzz target: an environment's description as a plugin or a library user hands it over
 * (ng_env_def_check, and the copy ng_env_register and the plugin registrar keep).
 *
 * Input: byte 0 flags (bit 0: observation space Discrete; bit 1: action space Discrete;
 * bits 2-5: create, destroy, reset, step present; bit 6: get_state; bit 7: set_state),
 * u16 observation dim, u16 action dim, i32 time limit, u16 state_size, u8 id length and the
 * id, then the bounds as f64 (observation low, high, action low, high, each dim values),
 * then u8 the action kind when bit 1 is set (0 or 3: Discrete, 1: MultiDiscrete, 2:
 * MultiBinary; absent: Discrete) and the MultiDiscrete counts as u32 (action dim values):
 * where the input runs out, the arrays are missing (NULL). Invariants beyond "no crash, no
 * leak":
 *   - a refusal is NG_EINVAL with a one-line message;
 *   - an accepted description obeys every documented rule (checked here on its own), and
 *     its copy describes the same environment, bound for bound, and is accepted again. */
#include <math.h>

#include "envs/env_impl.h"
#include "fuzz.h"
#include "natgrad/dist.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ng_fuzz_alloc_install();
  return 0;
}

/* Never called: the description is only checked and copied. */
static int cb_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  (void)self, (void)def, (void)err;
  return NG_EINVAL;
}
static void cb_destroy(void *self) { (void)self; }
static int cb_reset(void *self, ng_rng_t *rng, double *obs) {
  (void)self, (void)rng, (void)obs;
  return NG_EINVAL;
}
static int cb_step(void *self, ng_rng_t *rng, const double *a, double *obs, double *r, int *t) {
  (void)self, (void)rng, (void)a, (void)obs, (void)r, (void)t;
  return NG_EINVAL;
}
static int cb_get(const void *self, double *s) {
  (void)self, (void)s;
  return NG_EINVAL;
}
static int cb_set(void *self, const double *s, double *obs) {
  (void)self, (void)s, (void)obs;
  return NG_EINVAL;
}

static size_t take(const uint8_t **p, size_t *left, size_t n, uint64_t *v) {
  *v = 0;
  if (*left < n) return 0;
  for (size_t i = 0; i < n; i++) *v |= (uint64_t)(*p)[i] << (8 * i);
  *p += n;
  *left -= n;
  return n;
}

/* n items of `size` bytes from the input into a fresh array (the bounds as f64, the counts
 * as u32), or NULL if the input has fewer. */
static void *take_array(const uint8_t **p, size_t *left, size_t n, size_t size) {
  if (n == 0 || *left / size < n) return NULL;
  void *a = malloc(n * size);
  NG_FUZZ_ASSERT(a);
  memcpy(a, *p, n * size);
  *p += n * size;
  *left -= n * size;
  return a;
}

static int same_space(const ng_space_t *a, const ng_space_t *b) {
  if (a->kind != b->kind || a->dim != b->dim) return 0;
  if (a->kind == NG_SPACE_MULTI_DISCRETE)
    return a->nvec != b->nvec && !memcmp(a->nvec, b->nvec, a->dim * sizeof *a->nvec);
  if (a->kind != NG_SPACE_BOX) return 1;
  return !memcmp(a->low, b->low, a->dim * sizeof(double)) &&
         !memcmp(a->high, b->high, a->dim * sizeof(double));
}

static void check_rules(const ng_env_def_t *d) {
  const ng_env_info_t *in = &d->info;
  size_t n = strlen(in->id), v = n;
  NG_FUZZ_ASSERT(n >= 4 && n <= NG_ENV_ID_MAX);
  while (v > 0 && in->id[v - 1] >= '0' && in->id[v - 1] <= '9') v--;
  NG_FUZZ_ASSERT(v < n && v >= 3 && in->id[v - 1] == 'v' && in->id[v - 2] == '-');
  NG_FUZZ_ASSERT(d->create && d->destroy && d->reset && d->step);
  NG_FUZZ_ASSERT(!d->get_state == !d->set_state && !d->get_state == (in->state_size == 0));
  NG_FUZZ_ASSERT(in->max_episode_steps >= 1);
  NG_FUZZ_ASSERT(in->observation_space.kind == NG_SPACE_BOX ||
                 in->observation_space.kind == NG_SPACE_DISCRETE);
  const ng_space_t *sp[2] = {&in->observation_space, &in->action_space};
  for (int k = 0; k < 2; k++) {
    NG_FUZZ_ASSERT(sp[k]->dim >= 1 && sp[k]->dim <= NG_ENV_MAX_DIM);
    if (sp[k]->kind == NG_SPACE_MULTI_DISCRETE) {
      NG_FUZZ_ASSERT(sp[k]->nvec && sp[k]->dim <= NG_DIST_MAX_COMPONENTS);
      for (size_t i = 0; i < sp[k]->dim; i++) NG_FUZZ_ASSERT(sp[k]->nvec[i] >= 1);
    }
    if (sp[k]->kind != NG_SPACE_BOX) continue;
    for (size_t i = 0; i < sp[k]->dim; i++) {
      double lo = sp[k]->low[i], hi = sp[k]->high[i];
      NG_FUZZ_ASSERT(!isnan(lo) && !isnan(hi) && lo <= hi && lo != INFINITY && hi != -INFINITY);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data;
  size_t left = size;
  uint64_t flags, od, ad, limit, ss, idlen;
  if (!take(&p, &left, 1, &flags) || !take(&p, &left, 2, &od) || !take(&p, &left, 2, &ad) ||
      !take(&p, &left, 4, &limit) || !take(&p, &left, 2, &ss) || !take(&p, &left, 1, &idlen) ||
      left < idlen)
    return 0;
  char id[256];
  memcpy(id, p, idlen);
  id[idlen] = '\0';
  p += idlen;
  left -= idlen;
  ng_env_def_t d;
  memset(&d, 0, sizeof d);
  d.info.id = id;
  d.info.summary = "fuzz";
  d.info.observation_space.kind = (flags & 1) ? NG_SPACE_DISCRETE : NG_SPACE_BOX;
  d.info.action_space.kind = (flags & 2) ? NG_SPACE_DISCRETE : NG_SPACE_BOX;
  d.info.observation_space.dim = (size_t)od * 2; /* up to 131070: past NG_ENV_MAX_DIM */
  d.info.action_space.dim = (size_t)ad;
  d.info.max_episode_steps = (int)(int32_t)(uint32_t)limit;
  d.info.state_size = (size_t)ss;
  d.create = (flags & 4) ? cb_create : NULL;
  d.destroy = (flags & 8) ? cb_destroy : NULL;
  d.reset = (flags & 16) ? cb_reset : NULL;
  d.step = (flags & 32) ? cb_step : NULL;
  d.get_state = (flags & 64) ? cb_get : NULL;
  d.set_state = (flags & 128) ? cb_set : NULL;
  size_t odim = d.info.observation_space.dim, adim = d.info.action_space.dim;
  double *ol = take_array(&p, &left, odim, 8), *oh = take_array(&p, &left, odim, 8);
  double *al = take_array(&p, &left, adim, 8), *ah = take_array(&p, &left, adim, 8);
  d.info.observation_space.low = ol;
  d.info.observation_space.high = oh;
  d.info.action_space.low = al;
  d.info.action_space.high = ah;
  uint64_t variant = 0;
  take(&p, &left, 1, &variant);
  static const ng_space_kind_t kinds[4] = {NG_SPACE_DISCRETE, NG_SPACE_MULTI_DISCRETE,
                                           NG_SPACE_MULTI_BINARY, NG_SPACE_DISCRETE};
  if (flags & 2) d.info.action_space.kind = kinds[variant & 3];
  uint32_t *nv = take_array(&p, &left, adim, 4);
  d.info.action_space.nvec = nv;

  ng_error_t err;
  ng_error_clear(&err);
  int s = ng_env_def_check(&d, &err);
  if (s != NG_OK) {
    NG_FUZZ_ASSERT(s == NG_EINVAL && err.status == s && err.message[0] != '\0');
    NG_FUZZ_ASSERT(strchr(err.message, '\n') == NULL);
  } else {
    check_rules(&d);
    ng_env_def_t *copy = NULL;
    s = ng__env_copy(&d, &copy, &err);
    NG_FUZZ_ASSERT(s == NG_OK || s == NG_ENOMEM);
    if (s == NG_OK) {
      NG_FUZZ_ASSERT(copy->info.id != d.info.id && !strcmp(copy->info.id, d.info.id));
      NG_FUZZ_ASSERT(same_space(&copy->info.observation_space, &d.info.observation_space));
      NG_FUZZ_ASSERT(same_space(&copy->info.action_space, &d.info.action_space));
      NG_FUZZ_ASSERT(copy->info.max_episode_steps == d.info.max_episode_steps &&
                     copy->info.state_size == d.info.state_size && copy->step == d.step);
      NG_FUZZ_ASSERT(ng_env_def_check(copy, NULL) == NG_OK);
      ng__env_copy_free(copy);
    }
  }
  free(ol);
  free(oh);
  free(al);
  free(ah);
  free(nv);
  ng_fuzz_alloc_check("fuzz_env_def");
  return 0;
}
