/* What `natgrad bench` prints and writes: the kernel table, the peer's ratios, the targets,
 * and every number as JSON (read back by tests/test_bench.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define CMD NG_BENCH_CMD

void ng_bench_cpu_name(char *buf, size_t size) {
  snprintf(buf, size, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char *c = strchr(line, ':');
    if (!strncmp(line, "model name", 10) && c) {
      c++;
      while (*c == ' ' || *c == '\t') c++;
      c[strcspn(c, "\n")] = '\0';
      snprintf(buf, size, "%s", c);
      break;
    }
  }
  fclose(f);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

/* A JSON string: s with " and \ escaped (control characters dropped). */
static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f), fputc(*s, f);
    else if ((unsigned char)*s >= 0x20) fputc(*s, f);
  }
  fputc('"', f);
}

/* A number, or null when not finite (JSON has no NaN). */
static void json_num(FILE *f, double x) {
  if (isfinite(x)) fprintf(f, "%.9g", x);
  else fprintf(f, "null");
}

/* , "key": "s" and , "key": x */
static void json_kstr(FILE *f, const char *key, const char *s) {
  fprintf(f, ", \"%s\": ", key);
  json_str(f, s);
}

static void json_knum(FILE *f, const char *key, double x) {
  fprintf(f, ", \"%s\": ", key);
  json_num(f, x);
}

static void json_timing(FILE *f, const char *key, const ng_bench_timing_t *t, double flops,
                        double tall, double square) {
  double g = ng_bench_gflops(flops, t);
  fprintf(f, "\"%s\": {\"reps\": %d", key, t->reps);
  json_knum(f, "median_s", t->median_s);
  json_knum(f, "p10_s", t->p10_s);
  json_knum(f, "p90_s", t->p90_s);
  json_knum(f, "gflops", g);
  json_knum(f, "frac_tall", g / tall);
  json_knum(f, "frac_square", g / square);
  fprintf(f, "}");
}

static void json_load(FILE *f, const char *key, const double load[3]) {
  fprintf(f, ", \"%s\": [", key);
  for (int i = 0; i < 3; i++) {
    if (i) fprintf(f, ", ");
    json_num(f, load[i]);
  }
  fprintf(f, "]");
}

static void json_op(FILE *f, const ng_bench_results_t *res, const ng_bench_kernel_result_t *x,
                    int op) {
  const ng_bench_op_result_t *q = &x->op[op];
  const ng_bench_machine_t *m = res->m;
  fprintf(f, "%s\n    \"%s\": {", op ? "," : "", ng_bench_op_names[op]);
  if (op == NG_BENCH_UPDATE) {
    fprintf(f, "\"env\": ");
    json_str(f, x->pol->env_id);
    if (x->update_status) {
      json_kstr(f, "error", x->update_error);
      fprintf(f, "}");
      return;
    }
    fprintf(f, ", \"trainer_n_params\": %zu, \"cg_iterations\": %.9g, \"ls_trials\": %.9g, "
               "\"skipped\": %d, ",
            x->update_n_params, x->update_cg_iters, x->update_trials, x->update_skipped);
  }
  fprintf(f, "\"flops\": %.17g, ", q->flops);
  json_timing(f, "t1", &q->t1, q->flops, m->tall1, m->sq1);
  if (res->o->threads > 1) {
    fprintf(f, ", ");
    json_timing(f, "tn", &q->tn, q->flops, m->tall1, m->sq1);
    fprintf(f, ", ");
    json_timing(f, "tblas", &q->tb, q->flops, m->tall1, m->sq1);
  }
  fprintf(f, "}");
}

static void json_peer(FILE *f, const ng_bench_peer_t *peer, int threads) {
  fprintf(f, ",\n \"peer\": {\"script\": ");
  json_str(f, peer->script);
  json_kstr(f, "python", peer->python);
  json_kstr(f, "torch", peer->torch);
  json_kstr(f, "blas", peer->blas);
  /* the peer's environment, set for its process only */
  fprintf(f, ",\n  \"env\": {\"LD_LIBRARY_PATH\": ");
  if (peer->blas_dir[0]) json_str(f, peer->blas_dir);
  else fprintf(f, "null");
  fprintf(f, ", \"MALLOC_MMAP_MAX_\": \"%s\", \"MALLOC_TRIM_THRESHOLD_\": \"%s\", "
             "\"OMP_NUM_THREADS\": \"%d\"},\n  \"results\": [",
          NG_BENCH_PEER_MMAP_MAX, NG_BENCH_PEER_TRIM_THRESHOLD, threads);
  for (int i = 0; i < peer->n; i++) {
    const ng_bench_peer_row_t *p = &peer->rows[i];
    fprintf(f, "%s\n  {\"policy\": \"%s\", \"N\": %zu, \"dtype\": \"%s\", \"threads\": %d, "
               "\"grad_s\": %.9g, \"kl_setup_s\": %.9g, \"fvp_s\": %.9g, \"cg10_s\": %.9g}",
            i ? "," : "", p->policy, p->batch, p->dtype, p->threads, p->grad_s, p->setup_s,
            p->fvp_s, p->cg10_s);
  }
  fprintf(f, "\n ]}");
}

int ng_bench_write_json(const ng_bench_results_t *res) {
  const ng_bench_opts_t *o = res->o;
  const ng_bench_machine_t *m = res->m;
  FILE *f = fopen(o->json, "w");
  if (!f) {
    ng_cli_error(CMD, "cannot write %s: %s", o->json, strerror(errno));
    return -1;
  }
  fprintf(f, "{\"meta\": {\"threads\": %d", o->threads);
  json_kstr(f, "blas", m->blas);
  json_kstr(f, "cpu", m->cpu);
  json_load(f, "loadavg_start", m->load_start);
  json_load(f, "loadavg_end", m->load_end);
  fprintf(f, ", \"quick\": %d, \"target_s\": %g, \"damping\": %g, \"cg_iters\": %d, "
             "\"max_kl\": %g},\n",
          o->quick, o->target_s, NG_BENCH_DAMPING, NG_BENCH_CG_ITERS, NG_BENCH_MAX_KL);
  fprintf(f, " \"dgemm\": {\"square_n\": %d, \"tall_m\": %d, \"tall_n\": %d, \"tall_k\": %d",
          NG_BENCH_SQ_N, NG_BENCH_TALL_M, NG_BENCH_TALL_N, NG_BENCH_TALL_N);
  json_knum(f, "square_gflops", m->sq1);
  json_knum(f, "tall_gflops", m->tall1);
  json_knum(f, "square_gflops_threads", m->sqn);
  json_knum(f, "tall_gflops_threads", m->talln);
  fprintf(f, "},\n \"kernels\": [");
  for (int i = 0; i < res->n_k; i++) {
    const ng_bench_kernel_result_t *x = &res->k[i];
    fprintf(f, "%s\n  {\"policy\": \"%s\", \"dist\": \"%s\", \"n_in\": %zu, \"hidden\": [64, 64], "
               "\"n_out\": %zu, \"k\": %zu, \"N\": %zu, \"n_params\": %zu, \"factored\": %d, "
               "\"cache_bytes\": %zu, \"ops\": {",
            i ? "," : "", x->pol->name, x->pol->gauss ? "gaussian" : "categorical", x->pol->n_in,
            x->pol->out_dim, x->k, x->batch, x->n_params, x->factored, x->cache_bytes);
    for (int op = 0; op < NG_BENCH_N_OPS; op++) json_op(f, res, x, op);
    fprintf(f, "}}");
  }
  fprintf(f, "\n ],\n \"envs\": [");
  for (int i = 0; i < res->n_e; i++) {
    const ng_bench_env_result_t *e = &res->e[i];
    fprintf(f, "%s\n  {\"id\": \"%s\", \"status\": %d", i ? "," : "", e->id, e->status);
    json_knum(f, "steps_per_s", e->rate1);
    json_knum(f, "steps_per_s_threads", e->rate_n);
    fprintf(f, "}");
  }
  fprintf(f, "\n ],\n \"runs\": [");
  for (int i = 0; i < res->n_r; i++) {
    const ng_bench_run_result_t *r = &res->r[i];
    fprintf(f, "%s\n  {\"env\": \"%s\", \"threads\": %d, \"status\": %d, \"steps\": %ld, "
               "\"iterations\": %d, \"wall_s\": %.6g, \"rollout_s\": %.6g, \"update_s\": %.6g, "
               "\"policy_update_s\": %.6g",
            i ? "," : "", r->env, r->threads, r->status, r->steps, r->iterations, r->wall_s,
            r->rollout_s, r->update_s, r->policy_update_s);
    json_knum(f, "last_mean_return", r->mean_return);
    fprintf(f, "}");
  }
  fprintf(f, "\n ]");
  if (res->peer) json_peer(f, res->peer, o->threads);
  fprintf(f, "\n}\n");
  if (fclose(f) != 0) {
    ng_cli_error(CMD, "writing %s failed", o->json);
    return -1;
  }
  return 0;
}

/* ---- tables --------------------------------------------------------------------------------- */

void ng_bench_print_kernels(const ng_bench_results_t *res) {
  const ng_bench_opts_t *o = res->o;
  printf("\nkernels (medians; FLOPs of the matrix products; %%tall = share of the tall-skinny "
         "DGEMM rate;\nupdate = the trainer's own policy update, timed inside ng_rl_iterate)\n");
  printf("%-8s %7s %-6s %10s %9s %8s %6s", "policy", "N", "op", "MFLOP", "ms", "GFLOP/s",
         "%tall");
  if (o->threads > 1) printf(" | %9s %6s | %9s %6s", "ms ours", "x", "ms blas", "x");
  printf("\n");
  for (int i = 0; i < res->n_k; i++) {
    const ng_bench_kernel_result_t *k = &res->k[i];
    for (int op = 0; op < NG_BENCH_N_OPS; op++) {
      const ng_bench_op_result_t *q = &k->op[op];
      if (op == NG_BENCH_UPDATE && k->update_status) {
        printf("%-8s %7zu %-6s (not timed: %s)\n", k->pol->name, k->batch,
               ng_bench_op_names[op], k->update_error);
        continue;
      }
      double g = ng_bench_gflops(q->flops, &q->t1);
      printf("%-8s %7zu %-6s %10.2f %9.3f %8.2f %5.0f%%", k->pol->name, k->batch,
             ng_bench_op_names[op], q->flops * 1e-6, 1e3 * q->t1.median_s, g,
             100.0 * g / res->m->tall1);
      if (o->threads > 1)
        printf(" | %9.3f %6.2f | %9.3f %6.2f", 1e3 * q->tn.median_s,
               q->t1.median_s / q->tn.median_s, 1e3 * q->tb.median_s,
               q->t1.median_s / q->tb.median_s);
      if (op == NG_BENCH_UPDATE)
        printf("  (%s; CG %.3g, trials %.3g%s)", k->pol->env_id, k->update_cg_iters,
               k->update_trials, k->update_skipped ? ", some steps skipped" : "");
      printf("\n");
    }
  }
}

void ng_bench_print_peer(const ng_bench_results_t *res) {
  const ng_bench_peer_t *peer = res->peer;
  const ng_bench_opts_t *o = res->o;
  printf("\nPyTorch reference (torch %s under %s; BLAS %s; LD_LIBRARY_PATH %s, "
         "MALLOC_MMAP_MAX_=%s MALLOC_TRIM_THRESHOLD_=%s in its process only), same sizes, one "
         "thread; speed-up = torch time / natgrad time\n",
         peer->torch, peer->python, peer->blas, peer->blas_dir[0] ? peer->blas_dir : "(not set)",
         NG_BENCH_PEER_MMAP_MAX, NG_BENCH_PEER_TRIM_THRESHOLD);
  printf("%-8s %7s | %8s %8s %9s | %8s %8s %9s | %9s | %6s %6s %6s | %8s\n", "policy", "N",
         "grad ms", "fvp ms", "cg10 ms", "t64 grad", "t64 fvp", "t64 cg10", "t32 cg10",
         "grad x", "fvp x", "cg10 x", "cg10 x32");
  for (int i = 0; i < res->n_k; i++) {
    const ng_bench_kernel_result_t *k = &res->k[i];
    const ng_bench_peer_row_t *d = ng_bench_peer_find(peer, k->pol->peer, k->batch, "float64", 1);
    const ng_bench_peer_row_t *s = ng_bench_peer_find(peer, k->pol->peer, k->batch, "float32", 1);
    if (!d || !s) continue;
    const ng_bench_op_result_t *q = k->op;
    double grad = q[NG_BENCH_GRAD].t1.median_s, fvp = q[NG_BENCH_FVP].t1.median_s;
    double cg = q[NG_BENCH_CG10].t1.median_s;
    printf("%-8s %7zu | %8.3f %8.3f %9.3f | %8.3f %8.3f %9.3f | %9.3f | %6.1f %6.1f %6.1f "
           "| %8.1f\n",
           k->pol->name, k->batch, 1e3 * grad, 1e3 * fvp, 1e3 * cg, 1e3 * d->grad_s,
           1e3 * d->fvp_s, 1e3 * d->cg10_s, 1e3 * s->cg10_s, d->grad_s / grad, d->fvp_s / fvp,
           d->cg10_s / cg, s->cg10_s / cg);
  }
  if (o->threads > 1) {
    printf("with %d threads each (natgrad's pool vs torch.set_num_threads(%d)):\n", o->threads,
           o->threads);
    for (int i = 0; i < res->n_k; i++) {
      const ng_bench_kernel_result_t *k = &res->k[i];
      const ng_bench_peer_row_t *d =
          ng_bench_peer_find(peer, k->pol->peer, k->batch, "float64", o->threads);
      if (!d) continue;
      double cg = k->op[NG_BENCH_CG10].tn.median_s;
      printf("%-8s %7zu | cg10 %9.3f ms vs torch f64 %9.3f ms: %5.1fx\n", k->pol->name,
             k->batch, 1e3 * cg, 1e3 * d->cg10_s, d->cg10_s / cg);
    }
  }
}

void ng_bench_print_targets(const ng_bench_results_t *res) {
  printf("\ntargets (one core)\n");
  for (int i = 0; i < res->n_k; i++) {
    const ng_bench_kernel_result_t *k = &res->k[i];
    const ng_bench_op_result_t *q = k->op;
    double ratio = q[NG_BENCH_FVP].t1.median_s / q[NG_BENCH_GRAD].t1.median_s;
    printf("  %-8s %7zu  F.v / gradient = %.2f (<= 1.5): %s\n", k->pol->name, k->batch, ratio,
           ratio <= 1.5 ? "ok" : "MISS");
  }
  for (int i = 0; i < res->n_k; i++) {
    const ng_bench_kernel_result_t *k = &res->k[i];
    if (k->batch < 5000) continue;
    for (int op = NG_BENCH_GRAD; op <= NG_BENCH_FVP; op += NG_BENCH_FVP - NG_BENCH_GRAD) {
      double f = ng_bench_gflops(k->op[op].flops, &k->op[op].t1) / res->m->tall1;
      printf("  %-8s %7zu  %-4s at %.0f%% of tall-skinny DGEMM (>= 50%%): %s\n", k->pol->name,
             k->batch, ng_bench_op_names[op], 100.0 * f, f >= 0.5 ? "ok" : "MISS");
    }
  }
  for (int i = 0; res->peer && i < res->n_k; i++) {
    const ng_bench_kernel_result_t *k = &res->k[i];
    const ng_bench_peer_row_t *d = ng_bench_peer_find(res->peer, k->pol->peer, k->batch,
                                                      "float64", 1);
    const ng_bench_peer_row_t *s = ng_bench_peer_find(res->peer, k->pol->peer, k->batch,
                                                      "float32", 1);
    if (!d || !s) continue;
    double c = k->op[NG_BENCH_CG10].t1.median_s, x64 = d->cg10_s / c, x32 = s->cg10_s / c;
    printf("  %-8s %7zu  cg10 vs torch: %.1fx f64 (>= 4): %s, %.1fx f32 (>= 2): %s\n",
           k->pol->name, k->batch, x64, x64 >= 4.0 ? "ok" : "MISS", x32,
           x32 >= 2.0 ? "ok" : "MISS");
  }
  for (int i = 0; i < res->n_r; i++) {
    const ng_bench_run_result_t *r = &res->r[i];
    double limit = !strcmp(r->env, "CartPole-v1") ? 1.0 : 2.0;
    if (r->status) continue;
    printf("  %-12s %ld steps, %d thread%s: %.2f s (< %.0f s): %s\n", r->env, r->steps,
           r->threads, r->threads > 1 ? "s" : "", r->wall_s, limit,
           r->wall_s < limit ? "ok" : "MISS");
  }
}
