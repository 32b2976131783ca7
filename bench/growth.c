/* Growth curves (--growth): time and peak memory of the gradient and one F.v of a
 * Hopper-sized policy against batch size and hidden width, each point measured in a fresh
 * child process (`natgrad bench --point ...`) so its peak resident memory is its own. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "natgrad/svg.h"

#define CMD NG_BENCH_CMD

/* s in single quotes for /bin/sh, into buf. */
static void shell_quote(const char *s, char *buf, size_t size) {
  size_t j = 0;
  if (size < 3) return;
  buf[j++] = '\'';
  for (; *s && j + 6 < size; s++) {
    if (*s == '\'') {
      memcpy(buf + j, "'\\''", 4);
      j += 4;
    } else {
      buf[j++] = *s;
    }
  }
  buf[j++] = '\'';
  buf[j] = '\0';
}


/* Peak resident memory of this process so far (VmHWM), kB; -1 if unknown. */
static long peak_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

/* `--point op:policy:hidden:batch`: sets up one problem in this (fresh) process, times the op,
 * and prints one line: time_s base_kb peak_kb n_params ws_bytes cache_bytes flops. */
int ng_bench_point(const ng_bench_opts_t *o) {
  char op[16], pol[16];
  size_t hidden = 0, batch = 0;
  if (sscanf(o->point, "%15[a-z]:%15[a-z]:%zu:%zu", op, pol, &hidden, &batch) != 4 ||
      hidden == 0 || batch == 0 || (strcmp(op, "grad") && strcmp(op, "fvp"))) {
    ng_cli_error(CMD, "--point: expected grad|fvp:POLICY:HIDDEN:BATCH, got '%s'", o->point);
    return NG_EXIT_USAGE;
  }
  const ng_bench_policy_t *policy = ng_bench_policy_find(pol);
  if (!policy) {
    ng_cli_error(CMD, "--point: unknown policy '%s'", pol);
    return NG_EXIT_USAGE;
  }
  openblas_set_num_threads(1);
  long base = peak_rss_kb();
  int fvp = !strcmp(op, "fvp");
  ng_bench_problem_t p;
  int st = ng_bench_problem_init(&p, policy, hidden, batch,
                                 fvp ? NG_BENCH_PROBLEM_FISHER : NG_BENCH_PROBLEM_GRAD, 0);
  if (!st) st = fvp ? ng_bench_op_setup(&p, NULL) : ng_bench_op_grad(&p, NULL);
  if (st) {
    ng_cli_error(CMD, "--point %s: %s", o->point, ng_strerror(st));
    if (p.model) ng_bench_problem_free(&p);
    return NG_EXIT_FAILURE;
  }
  ng_bench_timing_t t =
      ng_bench_time_op(fvp ? ng_bench_op_fvp : ng_bench_op_grad, &p, o->target_s, 3);
  if (t.status) {
    ng_cli_error(CMD, "--point %s: %s", o->point, ng_strerror(t.status));
    ng_bench_problem_free(&p);
    return NG_EXIT_FAILURE;
  }
  int factored = fvp && ng_fisher_factored(p.fisher);
  size_t cache = factored ? ng_fisher_cache_bytes(p.model, batch) : 0;
  size_t ws = ng_mlp_ws_bytes(ng_model_mlp(p.model), batch);
  ng_bench_flops_t passes = ng_bench_flops(3, p.sizes, batch, p.k, factored);
  printf("%.9g %ld %ld %zu %zu %zu %.9g %d\n", t.median_s, base, peak_rss_kb(), p.n, ws, cache,
         fvp ? passes.fvp : passes.grad, factored);
  ng_bench_problem_free(&p);
  return NG_EXIT_OK;
}

typedef struct {
  int fvp;
  size_t hidden, batch;
  double time_s, flops;
  long base_kb, peak_kb;
  size_t n_params, ws_bytes, cache_bytes;
  int factored, ok;
} point_t;

static int measure_point(const ng_bench_opts_t *o, point_t *pt) {
  char exe[4096], qe[4300], cmd[8192];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return -1;
  exe[len] = '\0';
  shell_quote(exe, qe, sizeof qe);
  snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 %s bench --point %s:hopper:%zu:%zu "
           "--target-s %g", qe, pt->fvp ? "fvp" : "grad", pt->hidden, pt->batch, o->target_s);
  FILE *f = popen(cmd, "r");
  if (!f) return -1;
  char line[512] = "";
  if (!fgets(line, sizeof line, f)) line[0] = '\0';
  int rc = pclose(f);
  pt->ok = rc == 0 && sscanf(line, "%lf %ld %ld %zu %zu %zu %lf %d", &pt->time_s, &pt->base_kb,
                             &pt->peak_kb, &pt->n_params, &pt->ws_bytes, &pt->cache_bytes,
                             &pt->flops, &pt->factored) == 8;
  return pt->ok ? 0 : -1;
}

static const size_t GROWTH_BATCH[] = {1000, 2000, 5000, 10000, 20000, 50000, 100000};
static const size_t GROWTH_WIDTH[] = {32, 64, 128, 256, 512, 1024};
#define N_GB (sizeof GROWTH_BATCH / sizeof GROWTH_BATCH[0])
#define N_GW (sizeof GROWTH_WIDTH / sizeof GROWTH_WIDTH[0])
#define GROWTH_WIDTH_BATCH 5000

/* Two panels (time, memory) of one sweep into path. xs: the swept values (already as the
 * plotted x); pts[op][i]. */
static int growth_svg(const char *path, const char *title, const char *xlabel, size_t n,
                      const double *xs, point_t pts[2][N_GB], int log_y, const double *ref_t,
                      const char *ref_label) {
  FILE *f = fopen(path, "w");
  if (!f) return NG_EIO;
  double t[2][N_GB], mem[2][N_GB], cache[N_GB], ws[N_GB];
  for (size_t i = 0; i < n; i++) {
    for (int op = 0; op < 2; op++) {
      point_t *p = &pts[op][i];
      t[op][i] = p->ok ? 1e3 * p->time_s : NAN;
      mem[op][i] = p->ok && p->peak_kb >= 0 ? (double)(p->peak_kb - p->base_kb) / 1024.0 : NAN;
    }
    cache[i] = pts[1][i].ok ? (double)pts[1][i].cache_bytes / 1048576.0 : NAN;
    ws[i] = pts[0][i].ok ? (double)pts[0][i].ws_bytes / 1048576.0 : NAN;
  }
  ng_svg_t svg;
  ng_svg_begin(&svg, f, 1100, 460, title);
  ng_svg_series_t ts[3] = {
      {.label = "gradient", .n = n, .x = xs, .y = t[0], .markers = n},
      {.label = "F.v (factored)", .n = n, .x = xs, .y = t[1], .markers = n,
       .marker = NG_SVG_MARKER_CROSS},
      {.label = ref_label, .n = n, .x = xs, .y = ref_t, .dashed = 1, .color = "#888888"}};
  ng_svg_panel_t tp = {.x = 0, .y = 30, .w = 550, .h = 430, .title = "median time (one core)",
                       .xlabel = xlabel, .ylabel = "ms", .log_y = log_y,
                       .legend = NG_SVG_LEGEND_TOP_LEFT};
  ng_svg_lines(&svg, &tp, ref_t ? 3 : 2, ts);
  ng_svg_series_t ms[4] = {
      {.label = "gradient: peak RSS growth", .n = n, .x = xs, .y = mem[0], .markers = n},
      {.label = "F.v: peak RSS growth", .n = n, .x = xs, .y = mem[1], .markers = n,
       .marker = NG_SVG_MARKER_CROSS},
      {.label = "F.v cache (ng_fisher_cache_bytes)", .n = n, .x = xs, .y = cache, .dashed = 1},
      {.label = "one MLP workspace (ng_mlp_ws_bytes)", .n = n, .x = xs, .y = ws, .dashed = 1}};
  ng_svg_panel_t mp = {.x = 550, .y = 30, .w = 550, .h = 430,
                       .title = "memory (peak RSS above the process's start)",
                       .xlabel = xlabel, .ylabel = "MB", .log_y = log_y,
                       .legend = NG_SVG_LEGEND_TOP_LEFT};
  ng_svg_lines(&svg, &mp, 4, ms);
  int st = ng_svg_end(&svg);
  if (fclose(f) != 0 && !st) st = NG_EIO;
  return st;
}

int ng_bench_growth(const ng_bench_opts_t *o) {
  static point_t gb[2][N_GB], gw[2][N_GB];
  printf("growth: one child process per point, peak RSS from /proc/self/status (VmHWM)\n");
  printf("%-5s %7s %6s %10s %9s %9s %10s %10s %9s\n", "op", "N", "width", "params", "ms",
         "GFLOP/s", "peak+ MB", "cache MB", "ws MB");
  for (int sweep = 0; sweep < 2; sweep++) {
    size_t n = sweep ? N_GW : N_GB;
    for (size_t i = 0; i < n; i++)
      for (int op = 0; op < 2; op++) {
        point_t *pt = sweep ? &gw[op][i] : &gb[op][i];
        pt->fvp = op;
        pt->hidden = sweep ? GROWTH_WIDTH[i] : 64;
        pt->batch = sweep ? GROWTH_WIDTH_BATCH : GROWTH_BATCH[i];
        if (measure_point(o, pt) != 0) {
          printf("%-5s %7zu %6zu  (failed)\n", op ? "fvp" : "grad", pt->batch, pt->hidden);
          continue;
        }
        printf("%-5s %7zu %6zu %10zu %9.3f %9.2f %10.1f %10.1f %9.1f\n", op ? "fvp" : "grad",
               pt->batch, pt->hidden, pt->n_params, 1e3 * pt->time_s,
               pt->flops / pt->time_s * 1e-9, (double)(pt->peak_kb - pt->base_kb) / 1024.0,
               (double)pt->cache_bytes / 1048576.0, (double)pt->ws_bytes / 1048576.0);
        fflush(stdout);
      }
  }
  /* x axes: batch in thousands (linear: a straight line is linear growth); width as log2
   * with a log time axis (a line of slope 2 per doubling... drawn as the w^2 reference) */
  double xb[N_GB], xw[N_GB], refw[N_GB], refb[N_GB];
  for (size_t i = 0; i < N_GB; i++) {
    xb[i] = (double)GROWTH_BATCH[i] / 1000.0;
    /* linear through the largest batch's F.v point */
    refb[i] = gb[1][N_GB - 1].ok ? 1e3 * gb[1][N_GB - 1].time_s * (double)GROWTH_BATCH[i] /
                                       (double)GROWTH_BATCH[N_GB - 1]
                                 : NAN;
  }
  for (size_t i = 0; i < N_GW; i++) {
    xw[i] = log2((double)GROWTH_WIDTH[i]);
    double w = (double)GROWTH_WIDTH[i], wl = (double)GROWTH_WIDTH[N_GW - 1];
    refw[i] = gw[1][N_GW - 1].ok ? 1e3 * gw[1][N_GW - 1].time_s * (w * w) / (wl * wl) : NAN;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/growth-batch.svg", o->growth);
  int st = growth_svg(path, "natgrad: cost against batch size (Hopper-sized policy 11-64-64-3)",
                      "batch size (thousands of rows)", N_GB, xb, gb, 0, refb,
                      "linear in batch (through the last F.v point)");
  snprintf(path, sizeof path, "%s/growth-width.svg", o->growth);
  if (!st)
    st = growth_svg(path, "natgrad: cost against hidden width (11-w-w-3, 5000 rows)",
                    "log2(hidden width w): 5 = 32 ... 10 = 1024", N_GW, xw, gw, 1, refw,
                    "quadratic in width (through the last F.v point)");
  if (st) {
    ng_cli_error(CMD, "writing %s: %s", path, ng_strerror(st));
    return NG_EXIT_FAILURE;
  }
  snprintf(path, sizeof path, "%s/growth.json", o->growth);
  FILE *js = fopen(path, "w");
  if (!js) {
    ng_cli_error(CMD, "cannot write %s: %s", path, strerror(errno));
    return NG_EXIT_FAILURE;
  }
  fprintf(js, "{\"points\": [");
  int first = 1;
  for (int sweep = 0; sweep < 2; sweep++)
    for (size_t i = 0; i < (sweep ? N_GW : N_GB); i++)
      for (int op = 0; op < 2; op++) {
        point_t *p = sweep ? &gw[op][i] : &gb[op][i];
        if (!p->ok) continue;
        fprintf(js, "%s\n {\"sweep\": \"%s\", \"op\": \"%s\", \"N\": %zu, \"hidden\": %zu, "
                    "\"n_params\": %zu, \"median_s\": %.9g, \"flops\": %.9g, \"base_kb\": %ld, "
                    "\"peak_kb\": %ld, \"ws_bytes\": %zu, \"cache_bytes\": %zu, \"factored\": %d}",
                first ? "" : ",", sweep ? "width" : "batch", op ? "fvp" : "grad", p->batch,
                p->hidden, p->n_params, p->time_s, p->flops, p->base_kb, p->peak_kb,
                p->ws_bytes, p->cache_bytes, p->factored);
        first = 0;
      }
  fprintf(js, "\n]}\n");
  if (fclose(js) != 0) {
    ng_cli_error(CMD, "writing %s failed", path);
    return NG_EXIT_FAILURE;
  }
  printf("wrote %s/growth-batch.svg, %s/growth-width.svg, %s\n", o->growth, o->growth, path);
  return NG_EXIT_OK;
}

