/* Optimiser names, and ng_sup_opt_config_t's key table (keys.h): ranges, defaults, the
 * key = value form. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "natgrad/supervised.h"

static const char *const ng__opt_names[NG_OPT_KINDS + 1] = {"sgd", "adam", "diag-ng", "cg-ng",
                                                            "kfac", NULL};

int ng_opt_parse(const char *name, ng_opt_kind_t *kind) {
  if (!name || !kind) return NG_EINVAL;
  for (int i = 0; i < NG_OPT_KINDS; i++)
    if (strcmp(name, ng__opt_names[i]) == 0) {
      *kind = (ng_opt_kind_t)i;
      return NG_OK;
    }
  return NG_EINVAL;
}

const char *ng_opt_name(ng_opt_kind_t kind) {
  return (unsigned)kind < NG_OPT_KINDS ? ng__opt_names[kind] : "unknown";
}

/* ---- the key table: one row per setting, with its range and generic default; the kinds
 * override some defaults below ------------------------------------------------------------- */

static const char *const ng__fisher_names[] = {"true", "empirical", NULL}; /* NG_FISHER_* */

#define OFF(f) offsetof(ng_sup_opt_config_t, f)
/* A number or flag: name, type, field, [lo, hi] with open ends, default, doc. */
#define NUM(name_, type_, lo_, hi_, lo_open_, hi_open_, dflt_, doc_)                          \
  {.name = #name_, .type = type_, .offset = OFF(name_), .lo = lo_, .hi = hi_,                 \
   .lo_open = lo_open_, .hi_open = hi_open_, .dflt = dflt_, .doc = doc_}
#define DBL(name_, lo_, hi_, lo_open_, hi_open_, dflt_, doc_)                                   \
  NUM(name_, NG_KEY_DOUBLE, lo_, hi_, lo_open_, hi_open_, dflt_, doc_)
#define INT(name_, lo_, hi_, dflt_, doc_) NUM(name_, NG_KEY_INT, lo_, hi_, 0, 0, dflt_, doc_)
static const ng_key_t ng__keys[] = {
    {.name = "kind", .type = NG_KEY_CHOICE, .offset = OFF(kind), .lo = 0,
     .choices = ng__opt_names, .doc = "optimiser: sgd, adam, diag-ng, cg-ng or kfac"},
    DBL(lr, 0, INFINITY, 1, 0, "0.01", "step size"),
    DBL(momentum, 0, 1, 0, 1, "0", "heavy-ball coefficient (sgd, diag-ng, cg-ng, kfac)"),
    DBL(beta1, 0, 1, 0, 1, "0.9", "Adam's first-moment decay"),
    DBL(beta2, 0, 1, 0, 1, "0.999", "Adam's second-moment decay"),
    DBL(eps, 0, INFINITY, 1, 0, "1e-8", "Adam's denominator offset"),
    DBL(weight_decay, 0, INFINITY, 0, 0, "0", "L2 coefficient in the loss"),
    DBL(damping, 0, INFINITY, 1, 0, "1e-3",
      "initial Tikhonov damping lambda, in [damping_min, damping_max]"),
    NUM(adapt_damping, NG_KEY_FLAG, 0, 1, 0, 0, "0",
        "1: Levenberg-Marquardt adaptation of lambda"),
    INT(damping_every, 1, 1e9, "5", "adapt lambda every this many steps"),
    DBL(lm_factor, 0, 1, 1, 1, "0.95", "omega per step: lambda's factor is lm_factor^damping_every"),
    DBL(damping_min, 0, INFINITY, 1, 0, "1e-8", "lambda's floor"),
    DBL(damping_max, 0, INFINITY, 1, 0, "1e4", "lambda's ceiling (>= damping_min)"),
    DBL(stat_decay, 0, 1, 0, 1, "0.95", "running-average decay of curvature statistics"),
    INT(stats_every, 1, 1e9, "1", "update the curvature statistics every this many steps"),
    INT(inverse_every, 1, 1e9, "20", "kfac: recompute the damped inverses every this many steps"),
    INT(fisher_samples, 0, 1000, "1", "labels sampled per row (0: the exact expectation)"),
    {.name = "fisher", .type = NG_KEY_CHOICE, .offset = OFF(fisher), .lo = NG_FISHER_TRUE,
     .choices = ng__fisher_names, .dflt = "true",
     .doc = "true (labels from the model) or empirical (the data's; diag-ng and kfac only)"},
    DBL(kl_clip, 0, INFINITY, 0, 0, "0", "bound on the step's quadratic KL (0: off)"),
    INT(cg_iters, 1, 100000, "10", "cg-ng: CG iterations per step"),
    DBL(cg_tol, 0, INFINITY, 0, 0, "1e-10", "cg-ng: stop when ||r||^2 <= cg_tol ||g||^2"),
    NUM(fisher_batch, NG_KEY_SIZE, 0, INFINITY, 0, 0, "0",
        "cg-ng: rows of the batch used for Fisher products (0: all)"),
    /* last: a fit run's description leaves it out (it is the run's own seed) */
    NUM(seed, NG_KEY_U64, 0, 0, 0, 0, "0", "stream for sampled labels and sub-sampling"),
};
#undef INT
#undef DBL
#undef NUM
#undef OFF

static const ng_key_table_t ng__table = {NULL, ng__keys, sizeof ng__keys / sizeof ng__keys[0]};

const ng_key_table_t *ng_sup_opt_config_keys(void) { return &ng__table; }

int ng_sup_opt_config_default(ng_sup_opt_config_t *c, ng_opt_kind_t kind) {
  if (!c || (unsigned)kind >= NG_OPT_KINDS) return NG_EINVAL;
  memset(c, 0, sizeof *c);
  int st = ng_keys_defaults(&ng__table, c, NULL);
  if (st != NG_OK) return st;
  c->kind = kind;
  switch (kind) {
  case NG_OPT_SGD:
    c->lr = 0.05;
    c->momentum = 0.9;
    break;
  case NG_OPT_ADAM:
    c->lr = 1e-3;
    break;
  case NG_OPT_DIAG_NG:
    c->lr = 1e-2;
    c->momentum = 0.9;
    c->damping = 1e-1;
    break;
  case NG_OPT_CG_NG:
    /* Hessian-free's schedule: adapt every step by 3/2 or 2/3 */
    c->lr = 1.0;
    c->damping = 1e-1;
    c->adapt_damping = 1;
    c->damping_every = 1;
    c->lm_factor = 2.0 / 3.0;
    c->damping_min = 1e-2; /* measured on the batch it fits, rho is optimistic: keep a floor */
    c->kl_clip = 1e-2;
    break;
  case NG_OPT_KFAC:
    c->lr = 0.2;
    c->momentum = 0.9;
    c->damping = 1e-1;
    c->damping_min = 3e-2; /* as for cg-ng: rho on the step's own batch is optimistic */
    c->adapt_damping = 1;
    c->stats_every = 2;
    c->inverse_every = 10;
    c->kl_clip = 1e-3;
    break;
  }
  return NG_OK;
}

int ng_sup_opt_config_set(ng_sup_opt_config_t *c, const char *key, const char *value,
                          ng_error_t *err) {
  if (c && key && value && !ng_keys_find(&ng__table, key))
    return ng_error_set(err, NG_ENOTFOUND, "unknown optimiser setting '%s'", key);
  return ng_keys_set(&ng__table, c, key, value, err);
}

int ng_sup_opt_config_check(const ng_sup_opt_config_t *c, ng_error_t *err) {
  int st = ng_keys_check(&ng__table, c, err);
  if (st != NG_OK) { /* this function has always said NG_EINVAL for any bad setting */
    if (err) err->status = NG_EINVAL;
    return NG_EINVAL;
  }
  if (c->damping_max < c->damping_min)
    return ng_error_set(err, NG_EINVAL, "damping_max must be >= damping_min");
  if (c->damping < c->damping_min || c->damping > c->damping_max)
    return ng_error_set(err, NG_EINVAL,
                        "damping must be in [damping_min, damping_max] = [%g, %g] (got %g)",
                        c->damping_min, c->damping_max, c->damping);
  if (c->fisher != NG_FISHER_TRUE && c->kind != NG_OPT_DIAG_NG && c->kind != NG_OPT_KFAC)
    return ng_error_set(err, NG_EINVAL, "fisher = empirical applies only to diag-ng and kfac");
  return NG_OK;
}

int ng_sup_opt_config_format(const ng_sup_opt_config_t *c, char *buf, size_t size) {
  if (!c || (!buf && size)) return NG_EINVAL;
  size_t len = ng_keys_format(&ng__table, c, buf, size);
  return len > (size_t)2147483647 ? NG_ERANGE : (int)len;
}
