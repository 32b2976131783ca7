/* A fit run folder's curves (natgrad/supervised.h): its own curve.svg, and fit.svg in the
 * folder above comparing every fit run there. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "natgrad/run.h"
#include "natgrad/supervised.h"
#include "natgrad/svg.h"

#define NG__MAX_RUNS 16
#define NG__PATH 4096

typedef struct {
  long epoch;
  double seconds, train_loss, test_acc, test_rmse;
} ng__row_t;

typedef struct {
  char name[64];
  ng__row_t *rows;
  size_t n;
} ng__run_t;

typedef struct {
  ng__run_t *runs;
  int n_runs;
} ng__plot_t;

/* The rows of one run's log; NG_EFORMAT if it is not a fit log. */
static int read_rows(const char *path, ng__run_t *run) {
  ng_run_log_t log;
  run->rows = NULL;
  run->n = 0;
  if (ng_run_log_read(path, NG_FIT_LOG_HEADER, &log, NULL) != NG_OK) return NG_EFORMAT;
  ng__row_t *r = ng_malloc((log.n_rows + 1) * sizeof *r);
  if (!r) {
    ng_run_log_free(&log);
    return NG_ENOMEM;
  }
  static const char *const cols[5] = {"epoch", "seconds", "train_loss", "test_acc",
                                      "test_rmse"};
  int c[5];
  for (int k = 0; k < 5; k++) c[k] = ng_run_log_column(NG_FIT_LOG_HEADER, cols[k]);
  for (size_t i = 0; i < log.n_rows; i++) {
    const double *v = log.values + i * log.n_cols;
    r[i] = (ng__row_t){(long)v[c[0]], v[c[1]], v[c[2]], v[c[3]], v[c[4]]};
  }
  run->rows = r;
  run->n = log.n_rows;
  ng_run_log_free(&log);
  return NG_OK;
}

/* Loss and test metric against epochs and seconds, one line per run. */
static int draw(FILE *out, void *ctx) {
  const ng__plot_t *p = ctx;
  const ng__run_t *runs = p->runs;
  int n_runs = p->n_runs;
  int regression = n_runs > 0 && runs[0].n > 0 && isnan(runs[0].rows[0].test_acc);
  ng_svg_series_t s[4][NG__MAX_RUNS];
  double *bufs[NG__MAX_RUNS] = {0};
  int st = NG_OK;
  for (int i = 0; i < n_runs && st == NG_OK; i++) {
    size_t n = runs[i].n;
    double *b = ng_malloc((4 * n + 1) * sizeof *b);
    bufs[i] = b;
    if (!b) {
      st = NG_ENOMEM;
      break;
    }
    double *ep = b, *sec = b + n, *loss = b + 2 * n, *acc = b + 3 * n;
    for (size_t k = 0; k < n; k++) {
      const ng__row_t *r = &runs[i].rows[k];
      ep[k] = (double)r->epoch;
      sec[k] = r->seconds;
      loss[k] = r->train_loss;
      acc[k] = regression ? r->test_rmse : 100.0 * r->test_acc;
    }
    for (int q = 0; q < 4; q++) {
      memset(&s[q][i], 0, sizeof s[q][i]);
      s[q][i].label = runs[i].name;
      s[q][i].n = n;
      s[q][i].x = (q % 2 == 0) ? ep : sec;
      s[q][i].y = q < 2 ? loss : acc;
      s[q][i].markers = n;
      s[q][i].marker_size = 2.5;
    }
  }
  if (st == NG_OK) {
    ng_svg_t svg;
    ng_svg_begin(&svg, out, 1100, 820, "natgrad fit: training loss and test metric");
    const char *metric = regression ? "test RMSE" : "test accuracy (%)";
    ng_svg_legend_t low = regression ? NG_SVG_LEGEND_TOP_RIGHT : NG_SVG_LEGEND_BOTTOM_RIGHT;
    ng_svg_panel_t pn[4] = {
        {0, 30, 550, 395, "training loss vs epochs", "epoch", "mean -log p (train set)", 1,
         NG_SVG_LEGEND_TOP_RIGHT, 0, 0, 0, 0},
        {550, 30, 550, 395, "training loss vs time", "training seconds",
         "mean -log p (train set)", 1, NG_SVG_LEGEND_TOP_RIGHT, 0, 0, 0, 0},
        {0, 425, 550, 395, NULL, "epoch", metric, 0, low, 0, 0, 0, 0},
        {550, 425, 550, 395, NULL, "training seconds", metric, 0, low, 0, 0, 0, 0},
    };
    /* the metric's range after the first epoch: epoch 0 (chance) would flatten the rest */
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n_runs; i++)
      for (size_t k = 0; k < runs[i].n; k++) {
        const ng__row_t *r = &runs[i].rows[k];
        double v = regression ? r->test_rmse : 100.0 * r->test_acc;
        if (r->epoch >= 1 && isfinite(v)) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    if (lo < hi) {
      double pad = 0.08 * (hi - lo);
      for (int q = 2; q < 4; q++) {
        pn[q].y_lo = lo - pad;
        pn[q].y_hi = hi + pad;
      }
    }
    pn[2].title = regression ? "test RMSE vs epochs" : "test accuracy vs epochs";
    pn[3].title = regression ? "test RMSE vs time" : "test accuracy vs time";
    for (int q = 0; q < 4; q++) ng_svg_lines(&svg, &pn[q], (size_t)n_runs, s[q]);
    st = ng_svg_end(&svg);
  }
  for (int i = 0; i < n_runs; i++) ng_free(bufs[i]);
  return st;
}

/* name into buf (size bytes); 0 if it does not fit. */
static int copy_name(char *buf, size_t size, const char *name) {
  size_t n = strlen(name);
  if (n >= size) return 0;
  memcpy(buf, name, n + 1);
  return 1;
}

int ng_fit_draw_curves(const char *dir, ng_error_t *err) {
  if (!dir) return ng_error_set(err, NG_EINVAL, "curves: NULL argument");
  char path[NG__PATH], parent[NG__PATH], sub[NG__PATH];
  ng__run_t runs[NG__MAX_RUNS];
  int n_runs = 0, st;
  if (!copy_name(parent, sizeof parent, dir))
    return ng_error_set(err, NG_ERANGE, "path too long: '%.200s...'", dir);
  size_t len = strlen(parent);
  while (len > 1 && parent[len - 1] == '/') parent[--len] = '\0';
  char *slash = strrchr(parent, '/');
  if (!copy_name(runs[0].name, sizeof runs[0].name, slash ? slash + 1 : parent))
    copy_name(runs[0].name, sizeof runs[0].name, "run");
  if (slash == parent) parent[1] = '\0';
  else if (slash) *slash = '\0';
  else copy_name(parent, sizeof parent, ".");

  /* this run alone */
  if ((st = ng_run_path(path, sizeof path, dir, NG_RUN_LOG, err))) return st;
  if (read_rows(path, &runs[0]) != NG_OK)
    return ng_error_set(err, NG_EFORMAT, "cannot draw the curves: '%s' is not a fit log", path);
  ng__plot_t one = {runs, 1};
  st = ng_run_path(path, sizeof path, dir, NG_RUN_CURVE, err);
  if (!st) st = ng_svg_write_file(path, draw, &one, err);
  ng_free(runs[0].rows);
  if (st) return st;

  /* every fit run beside it, by name */
  DIR *d = opendir(parent);
  if (!d) return NG_OK; /* nothing to compare with */
  struct dirent *e;
  while ((e = readdir(d)) && n_runs < NG__MAX_RUNS) {
    ng__run_t *r = &runs[n_runs];
    if (e->d_name[0] == '.' || !copy_name(r->name, sizeof r->name, e->d_name) ||
        ng_run_path(sub, sizeof sub, parent, e->d_name, NULL) != NG_OK ||
        ng_run_path(path, sizeof path, sub, NG_RUN_LOG, NULL) != NG_OK)
      continue;
    if (read_rows(path, r) != NG_OK || r->n == 0) {
      ng_free(r->rows);
      continue;
    }
    n_runs++;
  }
  closedir(d);
  for (int i = 0; i < n_runs; i++)
    for (int j = i + 1; j < n_runs; j++)
      if (strcmp(runs[j].name, runs[i].name) < 0) {
        ng__run_t t = runs[i];
        runs[i] = runs[j];
        runs[j] = t;
      }
  ng__plot_t all = {runs, n_runs};
  if (n_runs > 1 && (st = ng_run_path(path, sizeof path, parent, NG_FIT_COMPARISON, err)) == NG_OK)
    st = ng_svg_write_file(path, draw, &all, err);
  for (int i = 0; i < n_runs; i++) ng_free(runs[i].rows);
  return st;
}
