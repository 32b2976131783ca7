/* Timing: the clock, medians of repeated runs, and this machine's DGEMM rates (the roofline
 * every kernel is measured against). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "progress.h"

#define MAX_REPS 400

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

ng_bench_timing_t ng_bench_time_op(ng_bench_op_fn op, void *ctx, double target_s,
                                   int min_reps) {
  static double ts[MAX_REPS];
  ng_bench_timing_t t = {NAN, NAN, NAN, 0, NG_OK};
  double self = NAN, t0 = ng_progress_now();
  if ((t.status = op(ctx, &self)) != NG_OK) return t;
  double est = ng_progress_now() - t0;
  if (est < 1e-7) est = 1e-7;
  int reps = (int)(target_s / est);
  if (reps < min_reps) reps = min_reps;
  if (reps > MAX_REPS) reps = MAX_REPS;
  for (int i = 0; i < reps; i++) {
    self = NAN;
    t0 = ng_progress_now();
    if ((t.status = op(ctx, &self)) != NG_OK) return t;
    double wall = ng_progress_now() - t0;
    ts[i] = isnan(self) ? wall : self;
  }
  qsort(ts, (size_t)reps, sizeof ts[0], cmp_double);
  t.median_s = reps % 2 ? ts[reps / 2] : 0.5 * (ts[reps / 2 - 1] + ts[reps / 2]);
  t.p10_s = ts[reps / 10];
  t.p90_s = ts[(reps * 9) / 10];
  t.reps = reps;
  return t;
}

double ng_bench_gflops(double flops, const ng_bench_timing_t *t) {
  return t->reps > 0 ? flops / t->median_s * 1e-9 : NAN;
}

/* ---- DGEMM rates -------------------------------------------------------------------------- */

typedef struct {
  int m, n, k;
  double *a, *b, *c;
} gemm_t;

static int op_gemm(void *ctx, double *self_s) {
  gemm_t *g = ctx;
  /* C (m x n) = A (m x k) B^T (B: n x k), the forward's layout */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->m, g->n, g->k, 1.0, g->a, g->k, g->b,
              g->k, 0.0, g->c, g->n);
  return 0;
}

static double gemm_gflops(int m, int n, int k, double target_s) {
  gemm_t g = {m, n, k, calloc((size_t)m * (size_t)k, sizeof(double)),
              calloc((size_t)n * (size_t)k, sizeof(double)),
              calloc((size_t)m * (size_t)n, sizeof(double))};
  double r = NAN;
  if (g.a && g.b && g.c) {
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++) g.a[i] = 1.0 / (double)(1 + i % 7);
    for (size_t i = 0; i < (size_t)n * (size_t)k; i++) g.b[i] = 1.0 / (double)(1 + i % 5);
    ng_bench_timing_t t = ng_bench_time_op(op_gemm, &g, target_s, 5);
    r = 2.0 * m * n * k / t.median_s * 1e-9;
  }
  free(g.a), free(g.b), free(g.c);
  return r;
}

void ng_bench_measure_dgemm(const ng_bench_opts_t *o, ng_bench_machine_t *m) {
  const int sq = NG_BENCH_SQ_N, tm = NG_BENCH_TALL_M, tn = NG_BENCH_TALL_N;
  double s = gemm_gflops(sq, sq, sq, o->target_s), t = gemm_gflops(tm, tn, tn, o->target_s);
  m->sq1 = m->sq1 > s ? m->sq1 : s;
  m->tall1 = m->tall1 > t ? m->tall1 : t;
  if (o->threads > 1) {
    openblas_set_num_threads(o->threads);
    s = gemm_gflops(sq, sq, sq, o->target_s);
    t = gemm_gflops(tm, tn, tn, o->target_s);
    openblas_set_num_threads(1);
    m->sqn = m->sqn > s ? m->sqn : s;
    m->talln = m->talln > t ? m->talln : t;
  }
}

void ng_bench_loadavg(double load[3]) {
  load[0] = load[1] = load[2] = NAN;
  FILE *f = fopen("/proc/loadavg", "r");
  if (!f) return;
  if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
    load[0] = load[1] = load[2] = NAN;
  fclose(f);
}
