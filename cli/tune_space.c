/* natgrad tune's search space, trial sampling and successive halving (tune.h). */
#include "tune.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_dir.h"

/* The default spaces: natgrad's choice, ranges around the published defaults (src/rl/config.c)
 * wide enough to hold the zoo's per-task values (cg_damping 1e-3 for CartPole, 0.1 for
 * MuJoCo; gamma 0.99 and 0.9999; n_steps 512-2048) and every value inside its key's range. */
#define NG__SPACE_COMMON                                                                     \
  "gae_lambda = uniform(0.9, 1)\n"                                                          \
  "gamma = choice(0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)\n"                                \
  "n_steps = choice(256, 512, 1024, 2048)\n"
#define NG__SPACE_CG                                                                         \
  "cg_damping = loguniform(0.001, 0.3)\n"                                                   \
  "vf_lr = loguniform(0.0001, 0.003)\n"                                                     \
  "vf_epochs = int(5, 30)\n"

#define NG__SPACE_LOG_STD "init_log_std = uniform(-1.5, 0.5)\n"
#define NG__SPACE_TRPO "max_kl = loguniform(0.002, 0.05)\n" NG__SPACE_CG NG__SPACE_COMMON
#define NG__SPACE_NPG "max_kl = loguniform(0.001, 0.05)\n" NG__SPACE_CG NG__SPACE_COMMON
/* ACKTR steps by K-FAC on both networks: its step caps and damping instead of CG's */
#define NG__SPACE_ACKTR                                                                      \
  "max_kl = loguniform(0.0005, 0.02)\n"                                                      \
  "acktr_lr = loguniform(0.03, 1)\n"                                                         \
  "kfac_damping = loguniform(0.001, 0.1)\n"                                                  \
  "vf_kfac_lr = loguniform(0.05, 1)\n" NG__SPACE_COMMON

const char *ng_tune_default_space(ng_algo_t algo, int gaussian) {
  switch (algo) {
  case NG_ALGO_NPG:
    return gaussian ? NG__SPACE_NPG NG__SPACE_LOG_STD : NG__SPACE_NPG;
  case NG_ALGO_ACKTR:
    return gaussian ? NG__SPACE_ACKTR NG__SPACE_LOG_STD : NG__SPACE_ACKTR;
  default:
    return gaussian ? NG__SPACE_TRPO NG__SPACE_LOG_STD : NG__SPACE_TRPO;
  }
}

/* s with blanks at both ends cut off, into out (size bytes); 0 if it does not fit. */
static int trimmed(const char *s, size_t len, char *out, size_t size) {
  while (len && (*s == ' ' || *s == '\t')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (len >= size) return 0;
  memcpy(out, s, len);
  out[len] = '\0';
  return 1;
}

static int number(const char *s, double *x) {
  char *end;
  errno = 0;
  *x = strtod(s, &end);
  return end != s && !*end && !errno && isfinite(*x);
}

/* "name(a, b, ...)" into name and up to max arguments; the count, or -1 if malformed. */
static int split_call(const char *spec, char *name, size_t name_size,
                      char args[][NG_TUNE_VALUE], int max) {
  const char *open = strchr(spec, '('), *close = strrchr(spec, ')');
  if (!open || !close || close < open || close[1] != '\0') return -1;
  if (!trimmed(spec, (size_t)(open - spec), name, name_size)) return -1;
  int n = 0;
  for (const char *p = open + 1;; n++) {
    const char *comma = strchr(p, ',');
    const char *stop = comma && comma < close ? comma : close;
    if (n == max || !trimmed(p, (size_t)(stop - p), args[n], NG_TUNE_VALUE) || !args[n][0])
      return -1;
    if (stop == close) return n + 1;
    p = stop + 1;
  }
}

/* The keys a tune sets itself, and why. */
static const char *own_key(const char *name) {
  static const char *const own[][2] = {
      {"env", "--env"}, {"algo", "--algo"}, {"steps", "--steps and the rungs"},
      {"seed", "the tune: trial i trains on seed 100 + i"},
      {"plugin", "--plugin"}, {"plugin_hash", "--plugin"}};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (!strcmp(name, own[i][0])) return own[i][1];
  return NULL;
}

/* value accepted by key on a copy of base; else err says why ("SOURCE:LINE: ..."). */
static int in_range(const ng_rl_config_t *base, const char *key, const char *value,
                    const char *source, int line, ng_error_t *err) {
  ng_rl_config_t scratch = *base;
  ng_error_t e;
  ng_error_clear(&e);
  int st = ng_rl_config_set(&scratch, key, value, &e);
  if (st == NG_OK) return NG_OK;
  return ng_error_set(err, st, "%s:%d: %s", source, line, ng_run_untag(e.message, "config"));
}

int ng_tune_space_add(ng_tune_space_t *s, const char *key, const char *spec,
                      const ng_rl_config_t *base, const char *source, int line, ng_error_t *err) {
  const ng_key_t *k = ng_keys_find(ng_rl_config_keys(), key);
  if (!k)
    return ng_error_set(err, NG_ENOTFOUND, "%s:%d: unknown key '%s' (natgrad train --keys "
                        "lists them)", source, line, key);
  const char *own = own_key(k->name);
  if (own)
    return ng_error_set(err, NG_EINVAL, "%s:%d: %s cannot be searched: it is set by %s",
                        source, line, k->name, own);
  if (k->type == NG_KEY_STRING || k->type == NG_KEY_WIDTHS || k->type == NG_KEY_U64)
    return ng_error_set(err, NG_EINVAL, "%s:%d: %s cannot be searched: not a number or a "
                        "named choice (fix it with --set)", source, line, k->name);
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->dims[i].key, k->name))
      return ng_error_set(err, NG_EINVAL, "%s:%d: %s is already in the space", source, line,
                          k->name);
  if (s->n == NG_TUNE_MAX_DIMS)
    return ng_error_set(err, NG_ERANGE, "%s:%d: at most %d keys in a space", source, line,
                        NG_TUNE_MAX_DIMS);
  ng_tune_dim_t d;
  memset(&d, 0, sizeof d);
  snprintf(d.key, sizeof d.key, "%s", k->name);
  if (strlen(spec) >= sizeof d.spec)
    return ng_error_set(err, NG_ERANGE, "%s:%d: %s: too long", source, line, k->name);
  memcpy(d.spec, spec, strlen(spec) + 1);
  char name[32], args[NG_TUNE_MAX_CHOICES][NG_TUNE_VALUE];
  int n = split_call(spec, name, sizeof name, args, NG_TUNE_MAX_CHOICES);
  static const char usage[] = "expected uniform(a, b), loguniform(a, b), int(a, b) or "
                              "choice(v1, v2, ...)";
  if (n < 0)
    return ng_error_set(err, NG_EINVAL, "%s:%d: %s = %s: %s (at most %d choices of %d "
                        "characters)", source, line, k->name, spec, usage, NG_TUNE_MAX_CHOICES,
                        NG_TUNE_VALUE - 1);
  int st;
  if (!strcmp(name, "choice")) {
    d.dist = NG_TUNE_CHOICE;
    d.n_choices = n;
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < i; j++)
        if (!strcmp(args[i], args[j]))
          return ng_error_set(err, NG_EINVAL, "%s:%d: %s: choice %s given twice", source, line,
                              k->name, args[i]);
      if ((st = in_range(base, k->name, args[i], source, line, err))) return st;
      memcpy(d.choices[i], args[i], sizeof args[i]);
    }
  } else {
    int is_int = !strcmp(name, "int");
    d.dist = is_int ? NG_TUNE_INT : !strcmp(name, "uniform") ? NG_TUNE_UNIFORM
             : !strcmp(name, "loguniform") ? NG_TUNE_LOGUNIFORM : NG_TUNE_CHOICE;
    if (d.dist == NG_TUNE_CHOICE)
      return ng_error_set(err, NG_EINVAL, "%s:%d: %s = %s: unknown distribution '%s': %s",
                          source, line, k->name, spec, name, usage);
    if (n != 2)
      return ng_error_set(err, NG_EINVAL, "%s:%d: %s = %s: %s takes two bounds, got %d",
                          source, line, k->name, spec, name, n);
    int int_key = k->type == NG_KEY_INT || k->type == NG_KEY_LONG;
    if (is_int != int_key)
      return ng_error_set(err, NG_EINVAL, "%s:%d: %s is %s key: use %s", source, line,
                          k->name, int_key ? "an integer" : "a non-integer",
                          int_key ? "int(a, b) or choice(...)"
                          : k->type == NG_KEY_DOUBLE ? "uniform(a, b) or loguniform(a, b)"
                                                     : "choice(...)");
    if (!number(args[0], &d.lo) || !number(args[1], &d.hi) ||
        (is_int && (d.lo != floor(d.lo) || d.hi != floor(d.hi))))
      return ng_error_set(err, NG_EINVAL, "%s:%d: %s = %s: the bounds must be %s numbers",
                          source, line, k->name, spec, is_int ? "whole" : "finite");
    if (!(d.lo < d.hi))
      return ng_error_set(err, NG_EINVAL, "%s:%d: %s = %s: the lower bound must be below the "
                          "upper", source, line, k->name, spec);
    if (d.dist == NG_TUNE_LOGUNIFORM && !(d.lo > 0))
      return ng_error_set(err, NG_EINVAL, "%s:%d: %s = %s: loguniform needs a lower bound "
                          "above 0", source, line, k->name, spec);
    for (int i = 0; i < 2; i++)
      if ((st = in_range(base, k->name, args[i], source, line, err))) return st;
  }
  s->dims[s->n++] = d;
  return NG_OK;
}

int ng_tune_space_read(ng_tune_space_t *s, const ng_kv_list_t *l, const char *section,
                       const ng_rl_config_t *base, ng_error_t *err) {
  for (size_t i = 0; i < l->n; i++) {
    const ng_kv_t *e = &l->items[i];
    if (strcmp(e->section, section ? section : "") != 0) continue;
    int st = ng_tune_space_add(s, e->key, e->value, base, l->source, e->line, err);
    if (st != NG_OK) return st;
  }
  return NG_OK;
}

int ng_tune_space_drop(ng_tune_space_t *s, const char *key) {
  const ng_key_t *k = ng_keys_find(ng_rl_config_keys(), key);
  for (int i = 0; k && i < s->n; i++)
    if (!strcmp(s->dims[i].key, k->name)) {
      memmove(&s->dims[i], &s->dims[i + 1], (size_t)(s->n - i - 1) * sizeof s->dims[0]);
      s->n--;
      return 1;
    }
  return 0;
}

void ng_tune_sample(const ng_tune_space_t *s, uint64_t seed, int trial,
                    char values[][NG_TUNE_VALUE]) {
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, (uint64_t)trial);
  for (int i = 0; i < s->n; i++) { /* one draw per key, in the space's order */
    const ng_tune_dim_t *d = &s->dims[i];
    switch (d->dist) {
    case NG_TUNE_UNIFORM:
      snprintf(values[i], NG_TUNE_VALUE, "%.6g", ng_rng_uniform_range(&rng, d->lo, d->hi));
      break;
    case NG_TUNE_LOGUNIFORM:
      snprintf(values[i], NG_TUNE_VALUE, "%.6g",
               exp(ng_rng_uniform_range(&rng, log(d->lo), log(d->hi))));
      break;
    case NG_TUNE_INT:
      snprintf(values[i], NG_TUNE_VALUE, "%.0f",
               d->lo + (double)ng_rng_below(&rng, (uint64_t)(d->hi - d->lo) + 1));
      break;
    case NG_TUNE_CHOICE:
      memcpy(values[i], d->choices[ng_rng_below(&rng, (uint64_t)d->n_choices)], NG_TUNE_VALUE);
      break;
    }
  }
}

int ng_tune_rungs(long min_steps, long steps, int eta, long *rungs, int max) {
  int n = 0;
  for (long r = min_steps; n < max - 1 && r < steps; r = r > steps / eta ? steps : r * eta)
    rungs[n++] = r;
  rungs[n++] = steps;
  return n;
}

/* a ranks before b: the higher score, then the lower index; NaN after every number. */
static int better(double sa, int ia, double sb, int ib) {
  if (isnan(sa) || isnan(sb)) return !isnan(sa) || (isnan(sb) && ia < ib);
  return sa > sb || (sa == sb && ia < ib);
}

int ng_tune_promote(const int *trial, const double *score, int n, int eta, int *out) {
  int keep = n / eta < 1 ? 1 : n / eta, count = 0;
  /* a trial is kept when fewer than keep others rank before it */
  for (int i = 0; i < n; i++) {
    if (isnan(score[i])) continue;
    int before = 0;
    for (int j = 0; j < n; j++)
      before += j != i && better(score[j], trial[j], score[i], trial[i]);
    if (before < keep) out[count++] = trial[i];
  }
  /* increasing trial order */
  for (int i = 1; i < count; i++)
    for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
      int t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  return count;
}
