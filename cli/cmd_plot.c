/* natgrad plot: learning curves of several training runs in one SVG. Runs whose configs
 * differ only in their seed (and step budget) are one curve: the mean over the seeds with
 * a 95 % confidence band (Student's t over seeds), which is how RL results are compared;
 * a run on its own is its own line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"
#include "natgrad/keys.h"
#include "natgrad/rl.h"
#include "natgrad/run.h"
#include "natgrad/svg.h"

#define NG__PLOT_MAX_RUNS 256
#define NG__PLOT_MAX_CURVES 32 /* the legend's limit */

static const char *const ng__plot_ignored[] = {"seed", "steps", NULL}; /* within a curve */

typedef struct {
  const char *dir;
  ng_kv_list_t config;
  size_t n;          /* iterations logged */
  double *x, *value; /* env_steps and the smoothed column, n each */
  size_t curve;      /* index of its curve */
  int loaded;        /* config and x are this run's to free */
} ng__plot_run_t;

typedef struct {
  char label[256];
  size_t first_run, n_runs;
  size_t n;                  /* iterations: the longest run's */
  double *x, *mean, *lo, *hi; /* n each; lo/hi NaN where fewer than two runs reach */
  size_t *count;             /* runs with a value at each iteration */
} ng__plot_curve_t;

static void ng__plot_usage(FILE *out) {
  fprintf(out,
          "usage: natgrad plot RUN... [--out FILE] [--y COLUMN] [--smooth N] [--runs]\n"
          "                    [--title TEXT] [--csv FILE] [--force]\n"
          "\n"
          "Draws the learning curves of `natgrad train` run folders as one SVG. Runs whose\n"
          "config.ini differ only in seed (and steps) are one curve: at each iteration the\n"
          "mean over those seeds with a shaded 95 %% confidence interval of the mean\n"
          "(mean +- t(0.975, n-1) sd / sqrt(n), n the seeds that reached it); a run on its own\n"
          "is a plain line. A run's value at an iteration is the mean of COLUMN over its last\n"
          "N iterations (only those with a value: mean_return is empty until an episode ends),\n"
          "as curve.svg and the progress line smooth it. Prints each curve's last point.\n"
          "\n"
          "options:\n"
          "  --out FILE    the SVG to write (default: curves.svg)\n"
          "  --y COLUMN    a progress.csv column (default: mean_return), e.g. kl, entropy,\n"
          "                vf_loss, explained_variance, mean_length\n"
          "  --smooth N    iterations to average over, 1..1000 (default: %d; 1: none)\n"
          "  --runs        also draw every run's own line, thin, under the means\n"
          "  --title TEXT  the figure's title\n"
          "  --csv FILE    also write the drawn numbers: curve, env_steps, runs, mean,\n"
          "                ci95_lo, ci95_hi\n"
          "  --force       overwrite existing output files\n",
          NG_RL_CURVE_SMOOTH);
}

double ng_cli_t975(size_t df) {
  static const double t[31] = {NAN,   12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                               2.306, 2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                               2.120, 2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
                               2.064, 2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (df <= 30) return t[df];
  const double z = 1.959963984540054, v = (double)df, z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v);
}

static int ng__plot_ignored_key(const char *key) {
  for (const char *const *ig = ng__plot_ignored; *ig; ig++)
    if (!strcmp(*ig, key)) return 1;
  return 0;
}

/* 1 if the two configs agree on every key but the ignored ones. */
static int ng__plot_same_config(const ng_kv_list_t *a, const ng_kv_list_t *b) {
  const ng_kv_list_t *pair[2][2] = {{a, b}, {b, a}};
  for (int k = 0; k < 2; k++) {
    const ng_kv_list_t *p = pair[k][0], *q = pair[k][1];
    for (size_t i = 0; i < p->n; i++) {
      const ng_kv_t *e = &p->items[i];
      if (ng__plot_ignored_key(e->key)) continue;
      const char *v = ng_kv_get(q, e->key, e->section[0] ? e->section : NULL);
      if (!v || !ng_kv_same_value(v, e->value)) return 0;
    }
  }
  return 1;
}

/* The first key (in a's order, the ignored ones aside) whose value differs in b, or NULL. */
static const ng_kv_t *ng__plot_first_difference(const ng_kv_list_t *a, const ng_kv_list_t *b) {
  for (size_t i = 0; i < a->n; i++) {
    const ng_kv_t *e = &a->items[i];
    const char *v = ng_kv_get(b, e->key, e->section[0] ? e->section : NULL);
    if (!ng__plot_ignored_key(e->key) && (!v || !ng_kv_same_value(v, e->value))) return e;
  }
  return NULL;
}

/* Reads a run folder's config and log; its smoothed column into run. Exit code or -1. */
static int ng__plot_load(ng__plot_run_t *run, const char *column, long smooth) {
  char path[NG_CLI_PATH];
  ng_error_t err;
  if (ng_run_path(path, sizeof path, run->dir, NG_RUN_CONFIG, &err)) {
    ng_cli_error("plot", "%s", err.message);
    return NG_EXIT_USAGE;
  }
  int st = ng_kv_read_file(&run->config, path, NULL, &err);
  if (st == NG_ENOTFOUND) {
    ng_cli_error("plot", "cannot read '%s': is '%s' a run folder of `natgrad train`?", path,
                 run->dir);
    return NG_EXIT_USAGE;
  }
  if (st) {
    ng_cli_error("plot", "%s", err.message);
    return NG_EXIT_FAILURE;
  }
  if (!ng_kv_get(&run->config, "env", NULL) || !ng_kv_get(&run->config, "algo", NULL)) {
    ng_cli_error("plot", "'%s' names no env and algo: not a run folder of `natgrad train` "
                 "(`natgrad fit` runs log other columns)", path);
    ng_kv_free(&run->config);
    return NG_EXIT_USAGE;
  }
  ng_run_log_t log;
  if (ng_run_path(path, sizeof path, run->dir, NG_RUN_LOG, &err) ||
      ng_run_log_read(path, NG_RL_LOG_HEADER, &log, &err)) {
    ng_cli_error("plot", "%s", err.message);
    ng_kv_free(&run->config);
    return NG_EXIT_FAILURE;
  }
  const size_t w = log.n_cols;
  const int c_x = ng_run_log_column(NG_RL_LOG_HEADER, "env_steps");
  const int c_y = ng_run_log_column(NG_RL_LOG_HEADER, column);
  run->n = log.n_rows;
  run->x = malloc((2 * log.n_rows + 1) * sizeof(double));
  if (!run->x) {
    ng_run_log_free(&log);
    ng_kv_free(&run->config);
    ng_cli_error("plot", "out of memory reading '%s'", path);
    return NG_EXIT_FAILURE;
  }
  run->value = run->x + log.n_rows;
  for (size_t i = 0; i < log.n_rows; i++) {
    run->x[i] = log.values[i * w + (size_t)c_x];
    double sum = 0;
    size_t k = 0;
    for (size_t j = i + 1; j-- > 0 && i - j < (size_t)smooth;) {
      double v = log.values[j * w + (size_t)c_y];
      if (isfinite(v)) sum += v, k++;
    }
    run->value[i] = k ? sum / (double)k : NAN;
  }
  ng_run_log_free(&log);
  run->loaded = 1;
  return -1;
}

/* The mean and band of one curve's runs, iteration by iteration. Exit code or -1. */
static int ng__plot_aggregate(ng__plot_curve_t *c, ng__plot_run_t *runs) {
  ng__plot_run_t *r = runs + c->first_run;
  c->n = 0;
  for (size_t k = 0; k < c->n_runs; k++) c->n = r[k].n > c->n ? r[k].n : c->n;
  c->x = malloc((4 * c->n + 1) * sizeof(double));
  c->count = malloc((c->n + 1) * sizeof(size_t));
  if (!c->x || !c->count) {
    ng_cli_error("plot", "out of memory");
    return NG_EXIT_FAILURE;
  }
  c->mean = c->x + c->n;
  c->lo = c->mean + c->n;
  c->hi = c->lo + c->n;
  for (size_t i = 0; i < c->n; i++) {
    double sum = 0, sq = 0, x = NAN;
    size_t n = 0;
    for (size_t k = 0; k < c->n_runs; k++) {
      if (i >= r[k].n) continue;
      if (isnan(x)) x = r[k].x[i];
      if (r[k].x[i] != x) { /* same config, so the same batch: a folder mixed up */
        ng_cli_error("plot", "'%s' and '%s' have the same config but log different steps at "
                     "iteration %zu (%.0f and %.0f)", r[0].dir, r[k].dir, i + 1, x, r[k].x[i]);
        return NG_EXIT_USAGE;
      }
      if (isfinite(r[k].value[i])) sum += r[k].value[i], n++;
    }
    double mean = n ? sum / (double)n : NAN;
    for (size_t k = 0; k < c->n_runs; k++)
      if (i < r[k].n && isfinite(r[k].value[i]))
        sq += (r[k].value[i] - mean) * (r[k].value[i] - mean);
    double half = n >= 2 ? ng_cli_t975(n - 1) * sqrt(sq / (double)(n - 1) / (double)n) : NAN;
    c->x[i] = x;
    c->count[i] = n;
    c->mean[i] = mean;
    c->lo[i] = mean - half;
    c->hi[i] = mean + half;
  }
  return -1;
}

/* Refuses an existing output without --force (exit code), else -1. */
static int ng__plot_check_out(const char *path, int force) {
  struct stat st;
  if (!force && stat(path, &st) == 0) {
    ng_cli_error("plot", "'%s' exists (--force overwrites it)", path);
    return NG_EXIT_USAGE;
  }
  return -1;
}

typedef struct {
  const ng_svg_panel_t *panel;
  size_t n;
  const ng_svg_series_t *series;
} ng__plot_figure_t;

static int ng__plot_draw(FILE *out, void *ctx) {
  const ng__plot_figure_t *f = ctx;
  return ng_svg_line_plot(out, 900, 540, f->panel, f->n, f->series);
}

static int ng__plot_write_csv(const char *path, const ng__plot_curve_t *curves, size_t n) {
  FILE *f = fopen(path, "w");
  if (!f) {
    ng_cli_error("plot", "cannot write '%s'", path);
    return NG_EXIT_FAILURE;
  }
  fprintf(f, "curve,env_steps,runs,mean,ci95_lo,ci95_hi\n");
  for (size_t c = 0; c < n; c++)
    for (size_t i = 0; i < curves[c].n; i++) {
      fputc('"', f);
      for (const char *s = curves[c].label; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
      }
      fprintf(f, "\",%.0f,%zu,%.17g,%.17g,%.17g\n", curves[c].x[i], curves[c].count[i],
              curves[c].mean[i], curves[c].lo[i], curves[c].hi[i]);
    }
  if (fclose(f) != 0) {
    ng_cli_error("plot", "cannot write '%s'", path);
    return NG_EXIT_FAILURE;
  }
  return -1;
}

/* Builds the curves' labels: "ENV ALGO" and, when another curve shares them, the first key
 * that tells them apart; then the seeds. */
static void ng__plot_label(ng__plot_curve_t *curves, size_t n_curves, const ng__plot_run_t *runs) {
  for (size_t c = 0; c < n_curves; c++) {
    const ng_kv_list_t *cfg = &runs[curves[c].first_run].config;
    const char *env = ng_kv_get(cfg, "env", NULL), *algo = ng_kv_get(cfg, "algo", NULL);
    char algo_up[16] = {0};
    for (size_t i = 0; algo[i] && i + 1 < sizeof algo_up; i++)
      algo_up[i] = (char)(algo[i] >= 'a' && algo[i] <= 'z' ? algo[i] - 32 : algo[i]);
    char what[128] = "";
    for (size_t d = 0; d < n_curves && !what[0]; d++) {
      const ng_kv_list_t *other = &runs[curves[d].first_run].config;
      if (d == c || strcmp(env, ng_kv_get(other, "env", NULL)) ||
          strcmp(algo, ng_kv_get(other, "algo", NULL)))
        continue;
      const ng_kv_t *e = ng__plot_first_difference(cfg, other);
      if (!e) continue;
      char num[32];
      double x;
      const char *v = e->value; /* a number as config.ini writes it now */
      if (ng_kv_number(v, &x)) {
        ng_keys_format_double(num, sizeof num, x);
        v = num;
      }
      snprintf(what, sizeof what, ", %.40s = %.60s", e->key, v);
    }
    if (curves[c].n_runs == 1)
      snprintf(curves[c].label, sizeof curves[c].label, "%.64s %s%s, seed %.24s", env, algo_up, what,
               ng_kv_get(cfg, "seed", NULL) ? ng_kv_get(cfg, "seed", NULL) : "?");
    else
      snprintf(curves[c].label, sizeof curves[c].label, "%.64s %s%s (%zu seeds)", env, algo_up,
               what, curves[c].n_runs);
  }
}

int ng_cmd_plot(int argc, char **argv) {
  const char *out = "curves.svg", *column = "mean_return", *title = NULL, *csv = NULL;
  const char *dirs[NG__PLOT_MAX_RUNS];
  size_t n_runs = 0;
  long smooth = NG_RL_CURVE_SMOOTH;
  int force = 0, draw_runs = 0;
  ng_args_t a;
  ng_args_init(&a, "plot", argc, argv);
  while (ng_args_next(&a)) {
    if (ng_args_switch(&a, "--help", "-h")) {
      ng__plot_usage(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_is(&a, "--out")) {
      if (!(out = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--y")) {
      if (!(column = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--title")) {
      if (!(title = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--csv")) {
      if (!(csv = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--smooth")) {
      if (!ng_args_int(&a, 1, 1000, &smooth)) return NG_EXIT_USAGE;
    } else if (ng_args_switch(&a, "--runs", NULL)) {
      draw_runs = 1;
    } else if (ng_args_switch(&a, "--force", NULL)) {
      force = 1;
    } else if (a.arg[0] != '-' || !a.arg[1]) {
      if (n_runs == NG__PLOT_MAX_RUNS) {
        ng_cli_error("plot", "more than %d run folders", NG__PLOT_MAX_RUNS);
        return NG_EXIT_USAGE;
      }
      dirs[n_runs++] = a.arg;
    } else {
      return ng_args_unknown(&a);
    }
  }
  if (!n_runs) {
    ng_cli_error("plot", "no run folder given (natgrad plot RUN... ; --help)");
    return NG_EXIT_USAGE;
  }
  int c_y = ng_run_log_column(NG_RL_LOG_HEADER, column);
  if (c_y < 0 || !strcmp(column, "iteration") || !strcmp(column, "env_steps")) {
    ng_cli_error("plot", "--y: '%s' is not a value column of progress.csv (%s)", column,
                 NG_RL_LOG_HEADER);
    return NG_EXIT_USAGE;
  }
  int code = ng__plot_check_out(out, force);
  if (code < 0 && csv) code = ng__plot_check_out(csv, force);
  if (code >= 0) return code;

  ng__plot_run_t *runs = calloc(n_runs, sizeof *runs);
  ng__plot_curve_t *curves = calloc(NG__PLOT_MAX_CURVES, sizeof *curves);
  ng_svg_series_t *series = calloc(n_runs + NG__PLOT_MAX_CURVES, sizeof *series);
  size_t n_curves = 0;
  if (!runs || !curves || !series) {
    ng_cli_error("plot", "out of memory");
    code = NG_EXIT_FAILURE;
  }
  /* load, then order the runs so that each curve's are contiguous (stable: as given) */
  for (size_t i = 0; code < 0 && i < n_runs; i++) {
    runs[i].dir = dirs[i];
    code = ng__plot_load(&runs[i], column, smooth);
  }
  for (size_t i = 0; code < 0 && i < n_runs; i++) {
    size_t c = 0;
    while (c < n_curves && !ng__plot_same_config(&runs[curves[c].first_run].config,
                                                 &runs[i].config))
      c++;
    if (c == n_curves) {
      if (n_curves == NG__PLOT_MAX_CURVES) {
        ng_cli_error("plot", "more than %d different configs: at most that many curves",
                     NG__PLOT_MAX_CURVES);
        code = NG_EXIT_USAGE;
        break;
      }
      curves[n_curves++].first_run = i;
    }
    runs[i].curve = c;
    curves[c].n_runs++;
  }
  if (code < 0) {
    /* stable sort by curve (few runs: insertion sort), then each curve's first run */
    for (size_t i = 1; i < n_runs; i++)
      for (size_t j = i; j > 0 && runs[j - 1].curve > runs[j].curve; j--) {
        ng__plot_run_t t = runs[j];
        runs[j] = runs[j - 1];
        runs[j - 1] = t;
      }
    for (size_t i = n_runs; i-- > 0;) curves[runs[i].curve].first_run = i;
    ng__plot_label(curves, n_curves, runs);
    for (size_t c = 0; code < 0 && c < n_curves; c++) code = ng__plot_aggregate(&curves[c], runs);
  }
  if (code < 0) {
    size_t ns = 0;
    if (draw_runs)
      for (size_t i = 0; i < n_runs; i++)
        series[ns++] = (ng_svg_series_t){.n = runs[i].n, .x = runs[i].x, .y = runs[i].value,
                                         .color = ng_svg_palette(runs[i].curve),
                                         .line_width = 0.8};
    for (size_t c = 0; c < n_curves; c++)
      series[ns++] = (ng_svg_series_t){.label = curves[c].label, .n = curves[c].n,
                                       .x = curves[c].x, .y = curves[c].mean,
                                       .color = ng_svg_palette(c), .line_width = 2.5,
                                       .band_lo = curves[c].lo, .band_hi = curves[c].hi};
    char auto_title[192], ylabel[96];
    snprintf(auto_title, sizeof auto_title, "%s: mean over seeds with a 95%% confidence band",
             column);
    if (smooth > 1)
      snprintf(ylabel, sizeof ylabel, "%s (mean of the last %ld iterations)", column, smooth);
    else
      snprintf(ylabel, sizeof ylabel, "%s", column);
    ng_svg_panel_t panel = {.title = title ? title : auto_title,
                            .xlabel = "environment steps",
                            .ylabel = ylabel,
                            .legend = NG_SVG_LEGEND_AUTO};
    ng__plot_figure_t fig = {&panel, ns, series};
    ng_error_t err;
    if (ng_svg_write_file(out, ng__plot_draw, &fig, &err)) {
      ng_cli_error("plot", "%s", err.message);
      code = NG_EXIT_FAILURE;
    }
  }
  if (code < 0 && csv) code = ng__plot_write_csv(csv, curves, n_curves);
  if (code < 0) {
    for (size_t c = 0; c < n_curves; c++) {
      const ng__plot_curve_t *cv = &curves[c];
      size_t i = cv->n;
      while (i > 0 && !isfinite(cv->mean[i - 1])) i--;
      if (!i) {
        printf("%s: no %s logged yet\n", cv->label, column);
        continue;
      }
      i--;
      printf("%s: %s %.6g at %.0f steps", cv->label, column, cv->mean[i], cv->x[i]);
      if (cv->count[i] >= 2)
        printf(", 95 %% CI [%.6g, %.6g] over %zu runs\n", cv->lo[i], cv->hi[i], cv->count[i]);
      else
        printf("\n");
    }
    printf("plot: %s%s%s\n", out, csv ? ", " : "", csv ? csv : "");
    code = NG_EXIT_OK;
  }
  for (size_t i = 0; runs && i < n_runs; i++) {
    if (!runs[i].loaded) continue;
    ng_kv_free(&runs[i].config);
    free(runs[i].x);
  }
  for (size_t c = 0; curves && c < n_curves; c++) {
    free(curves[c].x);
    free(curves[c].count);
  }
  free(runs);
  free(curves);
  free(series);
  return code;
}
