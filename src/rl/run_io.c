/* The trainer in a run folder (natgrad/run.h): its log rows and checkpoint adapters. */
#include <math.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "natgrad/rl.h"
#include "natgrad/run.h"
#include "natgrad/svg.h"

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

int ng_rl_run_write_config(ng_run_t *run, const ng_rl_config_t *cfg, ng_error_t *err) {
  static const char comment[] =
      "natgrad train: the effective config of this run (defaults for the env, then the\n"
      "config file, then the command line). `natgrad train --config FILE` reads it back.";
  if (!run || !cfg) return ng_error_set(err, NG_EINVAL, "config: NULL argument");
  size_t need = ng_rl_config_format(cfg, NULL, 0);
  char *text = ng_malloc(need + 1);
  if (!text) return ng_error_set(err, NG_ENOMEM, "out of memory writing %s", NG_RUN_CONFIG);
  ng_rl_config_format(cfg, text, need + 1);
  int st = ng_run_write_config(run, comment, text, err);
  ng_free(text);
  return st;
}

int ng_rl_run_save(void *trainer, const char *path, ng_error_t *err) {
  return ng_rl_save(trainer, path, err);
}

/* ng_rl_run_load on environments of def (NULL: the registry's). */
static int ng__run_load(ng_rl_t **t, const ng_env_def_t *def, const char *path, char **config,
                        char *state, size_t size, ng_error_t *err) {
  ng_rl_t *loaded = NULL;
  *config = NULL;
  int st = ng_rl_load_with_env(&loaded, path, def, err);
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

int ng_rl_run_load(void *slot, const char *path, char **config, char *state, size_t size,
                   ng_error_t *err) {
  return ng__run_load(slot, NULL, path, config, state, size, err);
}

int ng_rl_run_load_with_env(void *slot, const char *path, char **config, char *state,
                            size_t size, ng_error_t *err) {
  ng_rl_run_slot_t *s = slot;
  return ng__run_load(&s->trainer, s->def, path, config, state, size, err);
}

/* The curve's points: iterations in which episodes ended, their mean return, and its mean
 * over the last NG_RL_CURVE_SMOOTH of them (as the CLI's progress line shows it). */
typedef struct {
  const ng_rl_config_t *cfg;
  size_t n;
  double *x, *y, *ys;
} ng__curve_t;

static int ng__draw_curve(FILE *out, void *ctx) {
  const ng__curve_t *c = ctx;
  char title[160], smooth_label[64];
  static const char *const upper[] = {"TRPO", "NPG", "ACKTR"}; /* NG_ALGO_TRPO + i */
  snprintf(title, sizeof title, "%s: %s, seed %llu", c->cfg->env_id,
           upper[c->cfg->algo <= NG_ALGO_ACKTR ? c->cfg->algo : 0],
           (unsigned long long)c->cfg->seed);
  snprintf(smooth_label, sizeof smooth_label, "mean over %d iterations", NG_RL_CURVE_SMOOTH);
  ng_svg_panel_t panel = {.title = title,
                          .xlabel = "environment steps",
                          .ylabel = "mean episode return",
                          .legend = NG_SVG_LEGEND_AUTO};
  ng_svg_series_t series[2] = {
      {.label = "per iteration", .n = c->n, .x = c->x, .y = c->y, .color = "#9ecae1",
       .line_width = 1},
      {.label = smooth_label, .n = c->n, .x = c->x, .y = c->ys, .color = "#0072b2",
       .line_width = 2.5},
  };
  return ng_svg_line_plot(out, 800, 480, &panel, 2, series);
}

int ng_rl_draw_curve(const char *dir, const ng_rl_config_t *cfg, ng_error_t *err) {
  if (!dir || !cfg) return ng_error_set(err, NG_EINVAL, "curve: NULL argument");
  char log_path[4096], svg_path[4096];
  int st = ng_run_path(log_path, sizeof log_path, dir, NG_RUN_LOG, err);
  if (!st) st = ng_run_path(svg_path, sizeof svg_path, dir, NG_RUN_CURVE, err);
  if (st) return st;
  ng_run_log_t log;
  if ((st = ng_run_log_read(log_path, NG_RL_LOG_HEADER, &log, err))) return st;
  size_t rows = log.n_rows, w = log.n_cols;
  double *buf = ng_malloc((3 * rows + 1) * sizeof *buf);
  if (!buf) {
    ng_run_log_free(&log);
    return ng_error_set(err, NG_ENOMEM, "out of memory drawing '%s'", svg_path);
  }
  int c_steps = ng_run_log_column(NG_RL_LOG_HEADER, "env_steps");
  int c_eps = ng_run_log_column(NG_RL_LOG_HEADER, "episodes");
  int c_ret = ng_run_log_column(NG_RL_LOG_HEADER, "mean_return");
  ng__curve_t c = {cfg, 0, buf, buf + rows, buf + 2 * rows};
  for (size_t i = 0; i < rows; i++) {
    const double *row = log.values + i * w;
    if (row[c_eps] > 0 && isfinite(row[c_ret])) {
      c.x[c.n] = row[c_steps];
      c.y[c.n] = row[c_ret];
      c.n++;
    }
  }
  ng_run_log_free(&log);
  for (size_t i = 0; i < c.n; i++) {
    double sum = 0;
    size_t k = 0;
    for (size_t j = i + 1; j-- > 0 && i - j < NG_RL_CURVE_SMOOTH; k++) sum += c.y[j];
    c.ys[i] = sum / (double)k;
  }
  st = ng_svg_write_file(svg_path, ng__draw_curve, &c, err);
  ng_free(buf);
  return st;
}
