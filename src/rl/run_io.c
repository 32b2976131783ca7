/* The trainer in a run folder (natgrad/run.h): its log rows and checkpoint adapters. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "natgrad/rl.h"
#include "natgrad/run.h"

/* Appends like snprintf, tracking the length needed. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(*len < size ? buf + *len : NULL, *len < size ? size - *len : 0, fmt, ap);
  va_end(ap);
  if (n > 0) *len += (size_t)n;
}

/* A value for the CSV: "nan" spelled the same on every libc. */
static void put_num(char *buf, size_t size, size_t *len, double x, const char *fmt) {
  char num[64];
  if (isnan(x))
    snprintf(num, sizeof num, "nan");
  else
    snprintf(num, sizeof num, fmt, x);
  put(buf, size, len, ",%s", num);
}

size_t ng_rl_log_row(const ng_rl_stats_t *s, double wall_s, char *buf, size_t size) {
  size_t len = 0;
  if (buf && size) buf[0] = '\0';
  if (!s) return 0;
  put(buf, size, &len, "%ld,%ld,%d", s->iteration, s->env_steps, s->episodes);
  put_num(buf, size, &len, s->mean_return, "%.10g");
  put_num(buf, size, &len, s->mean_length, "%.10g");
  put_num(buf, size, &len, s->kl, "%.6g");
  put_num(buf, size, &len, s->entropy, "%.6g");
  put_num(buf, size, &len, s->surrogate_gain, "%.6g");
  put(buf, size, &len, ",%d,%d,%d", s->ls_trials, s->step_accepted, s->cg_iterations);
  put_num(buf, size, &len, s->cg_residual, "%.6g");
  put_num(buf, size, &len, s->vf_loss, "%.6g");
  put_num(buf, size, &len, s->explained_variance, "%.6g");
  put_num(buf, size, &len, s->rollout_seconds, "%.4f");
  put_num(buf, size, &len, s->update_seconds, "%.4f");
  put_num(buf, size, &len, wall_s, "%.3f");
  return len;
}

const char *const *ng_rl_resume_keys(void) {
  static const char *const keys[] = {"steps", NULL};
  return keys;
}

int ng_rl_run_save(void *trainer, const char *path, ng_error_t *err) {
  return ng_rl_save(trainer, path, err);
}

int ng_rl_run_load(void *slot, const char *path, char **config, char *state, size_t size,
                   ng_error_t *err) {
  ng_rl_t **t = slot, *loaded = NULL;
  *config = NULL;
  int st = ng_rl_load(&loaded, path, err);
  if (st) return st;
  size_t need = ng_rl_config_format(ng_rl_config(loaded), NULL, 0);
  char *text = ng_malloc(need + 1);
  if (!text) {
    ng_rl_destroy(loaded);
    return ng_error_set(err, NG_ENOMEM, "out of memory loading '%s'", path);
  }
  ng_rl_config_format(ng_rl_config(loaded), text, need + 1);
  if (*t) ng_rl_destroy(*t);
  *t = loaded;
  *config = text;
  snprintf(state, size, "iteration %ld", ng_rl_iteration(loaded));
  return NG_OK;
}
