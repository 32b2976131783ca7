/* Optimiser names, defaults, and the key = value form of ng_sup_opt_config_t. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/supervised.h"

static const char *const ng__opt_names[NG_OPT_KINDS] = {"sgd", "adam", "diag-ng", "cg-ng",
                                                        "kfac"};

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

int ng_sup_opt_config_default(ng_sup_opt_config_t *c, ng_opt_kind_t kind) {
  if (!c || (unsigned)kind >= NG_OPT_KINDS) return NG_EINVAL;
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->lr = 0.01;
  c->momentum = 0.0;
  c->beta1 = 0.9;
  c->beta2 = 0.999;
  c->eps = 1e-8;
  c->weight_decay = 0.0;
  c->damping = 1e-3;
  c->adapt_damping = 0;
  c->damping_every = 5;
  c->lm_factor = 0.95;
  c->damping_min = 1e-8;
  c->damping_max = 1e4;
  c->stat_decay = 0.95;
  c->stats_every = 1;
  c->inverse_every = 20;
  c->fisher_samples = 1;
  c->fisher = NG_FISHER_TRUE;
  c->kl_clip = 0.0;
  c->cg_iters = 10;
  c->cg_tol = 1e-10;
  c->fisher_batch = 0;
  c->seed = 0;
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

typedef enum { NG__D, NG__I, NG__SZ, NG__U64, NG__KIND, NG__FISHER } ng__ktype_t;

typedef struct {
  const char *name;
  ng__ktype_t type;
  size_t off;
} ng__key_t;

#define NG__K(name, type) {#name, type, offsetof(ng_sup_opt_config_t, name)}
static const ng__key_t ng__keys[] = {
    NG__K(kind, NG__KIND),          NG__K(lr, NG__D),
    NG__K(momentum, NG__D),         NG__K(beta1, NG__D),
    NG__K(beta2, NG__D),            NG__K(eps, NG__D),
    NG__K(weight_decay, NG__D),     NG__K(damping, NG__D),
    NG__K(adapt_damping, NG__I),    NG__K(damping_every, NG__I),
    NG__K(lm_factor, NG__D),        NG__K(damping_min, NG__D),
    NG__K(damping_max, NG__D),      NG__K(stat_decay, NG__D),
    NG__K(stats_every, NG__I),      NG__K(inverse_every, NG__I),
    NG__K(fisher_samples, NG__I),   NG__K(fisher, NG__FISHER),
    NG__K(kl_clip, NG__D),          NG__K(cg_iters, NG__I),
    NG__K(cg_tol, NG__D),           NG__K(fisher_batch, NG__SZ),
    NG__K(seed, NG__U64),
};
#undef NG__K
#define NG__NKEYS (sizeof ng__keys / sizeof ng__keys[0])

int ng_sup_opt_config_set(ng_sup_opt_config_t *c, const char *key, const char *value,
                          ng_error_t *err) {
  if (!c || !key || !value) return ng_error_set(err, NG_EINVAL, "NULL argument");
  const ng__key_t *k = NULL;
  for (size_t i = 0; i < NG__NKEYS; i++)
    if (strcmp(ng__keys[i].name, key) == 0) k = &ng__keys[i];
  if (!k) return ng_error_set(err, NG_ENOTFOUND, "unknown optimiser setting '%s'", key);
  char *p = (char *)c + k->off, *end = NULL;
  errno = 0;
  switch (k->type) {
  case NG__D: {
    double d = strtod(value, &end);
    if (end == value || *end || errno || !isfinite(d))
      return ng_error_set(err, NG_EINVAL, "%s: '%s' is not a finite number", key, value);
    memcpy(p, &d, sizeof d);
    break;
  }
  case NG__I: {
    long v = strtol(value, &end, 10);
    if (end == value || *end || errno || v < -1000000000L || v > 1000000000L)
      return ng_error_set(err, NG_EINVAL, "%s: '%s' is not an integer", key, value);
    int i = (int)v;
    memcpy(p, &i, sizeof i);
    break;
  }
  case NG__SZ:
  case NG__U64: {
    if (value[0] == '-')
      return ng_error_set(err, NG_EINVAL, "%s: '%s' must not be negative", key, value);
    unsigned long long v = strtoull(value, &end, 10);
    if (end == value || *end || errno)
      return ng_error_set(err, NG_EINVAL, "%s: '%s' is not a non-negative integer", key, value);
    if (k->type == NG__SZ) {
      size_t s = (size_t)v;
      memcpy(p, &s, sizeof s);
    } else {
      uint64_t u = (uint64_t)v;
      memcpy(p, &u, sizeof u);
    }
    break;
  }
  case NG__KIND: {
    ng_opt_kind_t kind;
    if (ng_opt_parse(value, &kind) != NG_OK)
      return ng_error_set(err, NG_EINVAL,
                          "kind: unknown optimiser '%s' (sgd, adam, diag-ng, cg-ng, kfac)", value);
    memcpy(p, &kind, sizeof kind);
    break;
  }
  case NG__FISHER: {
    ng_fisher_kind_t f;
    if (strcmp(value, "true") == 0)
      f = NG_FISHER_TRUE;
    else if (strcmp(value, "empirical") == 0)
      f = NG_FISHER_EMPIRICAL;
    else
      return ng_error_set(err, NG_EINVAL, "fisher: '%s' is neither 'true' nor 'empirical'",
                          value);
    memcpy(p, &f, sizeof f);
    break;
  }
  }
  return NG_OK;
}

int ng_sup_opt_config_check(const ng_sup_opt_config_t *c, ng_error_t *err) {
  if (!c) return ng_error_set(err, NG_EINVAL, "NULL config");
  if ((unsigned)c->kind >= NG_OPT_KINDS) return ng_error_set(err, NG_EINVAL, "kind: unknown");
#define NG__REQ(cond, ...)                                     \
  do {                                                         \
    if (!(cond)) return ng_error_set(err, NG_EINVAL, __VA_ARGS__); \
  } while (0)
  NG__REQ(isfinite(c->lr) && c->lr > 0.0, "lr must be > 0 (got %g)", c->lr);
  NG__REQ(c->momentum >= 0.0 && c->momentum < 1.0, "momentum must be in [0, 1) (got %g)",
          c->momentum);
  NG__REQ(c->beta1 >= 0.0 && c->beta1 < 1.0, "beta1 must be in [0, 1)");
  NG__REQ(c->beta2 >= 0.0 && c->beta2 < 1.0, "beta2 must be in [0, 1)");
  NG__REQ(isfinite(c->eps) && c->eps > 0.0, "eps must be > 0");
  NG__REQ(isfinite(c->weight_decay) && c->weight_decay >= 0.0, "weight_decay must be >= 0");
  NG__REQ(isfinite(c->damping_min) && c->damping_min > 0.0, "damping_min must be > 0");
  NG__REQ(isfinite(c->damping_max) && c->damping_max >= c->damping_min,
          "damping_max must be >= damping_min");
  NG__REQ(c->damping >= c->damping_min && c->damping <= c->damping_max,
          "damping must be in [damping_min, damping_max] = [%g, %g] (got %g)", c->damping_min,
          c->damping_max, c->damping);
  NG__REQ(c->adapt_damping == 0 || c->adapt_damping == 1, "adapt_damping must be 0 or 1");
  NG__REQ(c->damping_every >= 1, "damping_every must be >= 1");
  NG__REQ(c->lm_factor > 0.0 && c->lm_factor < 1.0, "lm_factor must be in (0, 1)");
  NG__REQ(c->stat_decay >= 0.0 && c->stat_decay < 1.0, "stat_decay must be in [0, 1)");
  NG__REQ(c->stats_every >= 1, "stats_every must be >= 1");
  NG__REQ(c->inverse_every >= 1, "inverse_every must be >= 1");
  NG__REQ(c->fisher_samples >= 0 && c->fisher_samples <= 1000,
          "fisher_samples must be in [0, 1000]");
  NG__REQ(c->fisher == NG_FISHER_TRUE || c->fisher == NG_FISHER_EMPIRICAL,
          "fisher must be true or empirical");
  NG__REQ(c->fisher == NG_FISHER_TRUE || c->kind == NG_OPT_DIAG_NG || c->kind == NG_OPT_KFAC,
          "fisher = empirical applies only to diag-ng and kfac");
  NG__REQ(isfinite(c->kl_clip) && c->kl_clip >= 0.0, "kl_clip must be >= 0");
  NG__REQ(c->cg_iters >= 1 && c->cg_iters <= 100000, "cg_iters must be >= 1");
  NG__REQ(isfinite(c->cg_tol) && c->cg_tol >= 0.0, "cg_tol must be >= 0");
#undef NG__REQ
  return NG_OK;
}

int ng_sup_opt_config_format(const ng_sup_opt_config_t *c, char *buf, size_t size) {
  if (!c || (!buf && size)) return NG_EINVAL;
  size_t len = 0;
  for (size_t i = 0; i < NG__NKEYS; i++) {
    const char *p = (const char *)c + ng__keys[i].off;
    char val[64];
    switch (ng__keys[i].type) {
    case NG__D: {
      double d;
      memcpy(&d, p, sizeof d);
      snprintf(val, sizeof val, "%.17g", d);
      break;
    }
    case NG__I: {
      int v;
      memcpy(&v, p, sizeof v);
      snprintf(val, sizeof val, "%d", v);
      break;
    }
    case NG__SZ: {
      size_t v;
      memcpy(&v, p, sizeof v);
      snprintf(val, sizeof val, "%zu", v);
      break;
    }
    case NG__U64: {
      uint64_t v;
      memcpy(&v, p, sizeof v);
      snprintf(val, sizeof val, "%llu", (unsigned long long)v);
      break;
    }
    case NG__KIND: {
      ng_opt_kind_t v;
      memcpy(&v, p, sizeof v);
      snprintf(val, sizeof val, "%s", ng_opt_name(v));
      break;
    }
    case NG__FISHER: {
      ng_fisher_kind_t v;
      memcpy(&v, p, sizeof v);
      snprintf(val, sizeof val, "%s", v == NG_FISHER_EMPIRICAL ? "empirical" : "true");
      break;
    }
    }
    int w = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s = %s\n",
                     ng__keys[i].name, val);
    if (w < 0) return NG_EINVAL;
    len += (size_t)w;
  }
  if (len > (size_t)2147483647) return NG_ERANGE;
  return (int)len;
}
