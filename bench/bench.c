/* natgrad bench: the standard performance suite, measured against this machine's own DGEMM
 * rate and, with --peer, against the PyTorch reference run in the same command; --growth
 * draws time and peak memory against batch and width. The pieces are in bench.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench.h"

#define CMD NG_BENCH_CMD
#define DEFAULT_SIZES "1000,5000,25000,100000"

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad bench [--quick] [--sizes N,N,...] [--threads N] [--json FILE]\n"
          "                     [--peer] [--peer-dir DIR] [--python PATH] [--peer-blas DIR]\n"
          "                     [--no-runs] [--no-envs] [--growth DIR] [--target-s S]\n"
          "\n"
          "Times natgrad's TRPO kernels (surrogate gradient, Fisher set-up, one Fisher-vector\n"
          "product, %d CG iterations) for a CartPole-sized (4-64-64-2, categorical) and a\n"
          "Hopper-sized (11-64-64-3, Gaussian) policy at each batch size, and the trainer's own\n"
          "policy update on CartPole-v1 and Hopper-v5 batches of that size (%d CG iterations,\n"
          "its line search), with FLOP counts, GFLOP/s and the fraction of this machine's\n"
          "tall-skinny DGEMM rate (measured in the same command); then environment steps per\n"
          "second and full TRPO runs (CartPole-v1 and Pendulum-v1 to 100k steps with their\n"
          "tuned defaults). Medians of repeated runs, one core; --threads N adds columns for N\n"
          "threads of natgrad's own and for N OpenBLAS threads.\n"
          "\n"
          "options:\n"
          "  --quick          short timings, sizes 1000,5000 unless --sizes, no runs\n"
          "  --sizes LIST     batch sizes (default %s)\n"
          "  --threads N      also time with N threads (default 1: one core only)\n"
          "  --json FILE      write every number as JSON (for machines)\n"
          "  --peer           also run the PyTorch reference (%s) on the same sizes and\n"
          "                   print the ratios, at its best: torch on OpenBLAS and glibc's\n"
          "                   malloc keeping its memory (MALLOC_MMAP_MAX_=%s\n"
          "                   MALLOC_TRIM_THRESHOLD_=%s), in its process only\n"
          "  --peer-dir DIR   where %s is (default: $NG_PEER_DIR, else shared/peers in a\n"
          "                   folder above the natgrad binary or the current folder)\n"
          "  --python PATH    the interpreter with torch, a path or a name on PATH (default:\n"
          "                   $NG_PYTHON, else the first python3 on PATH that imports torch)\n"
          "  --peer-blas DIR  OpenBLAS's folder, the peer's LD_LIBRARY_PATH (default:\n"
          "                   $NG_PEER_BLAS_DIR, else none: torch's own BLAS, which must then\n"
          "                   be OpenBLAS)\n"
          "  --no-runs        skip the full training runs\n"
          "  --no-envs        skip the environment steps/s\n"
          "  --growth DIR     instead of the suite: time and peak memory of the gradient and\n"
          "                   F.v against batch (1k-100k) and hidden width (32-1024), one child\n"
          "                   process per point, into DIR/growth-*.svg and DIR/growth.json\n"
          "  --target-s S     seconds of repetitions per measurement (default 0.5; quick 0.05)\n"
          "  --help, -h       this help\n"
          "\n"
          "Set OPENBLAS_NUM_THREADS=1 for one-core numbers; the command sets OpenBLAS to one\n"
          "thread itself except in the OpenBLAS-threads columns.\n"
          "Exit status: 0 done, 1 failure (including a missing PyTorch with --peer), 2 usage.\n",
          NG_BENCH_CG_ITERS, NG_BENCH_CG_ITERS, DEFAULT_SIZES, NG_BENCH_PEER_SCRIPT,
          NG_BENCH_PEER_MMAP_MAX, NG_BENCH_PEER_TRIM_THRESHOLD, NG_BENCH_PEER_SCRIPT);
}

/* ---- options ---------------------------------------------------------------------------- */

static int parse_sizes(const char *s, ng_bench_opts_t *o) {
  o->n_sizes = 0;
  const char *p = s;
  while (*p) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || errno || v < 1 || v > 10000000 || *p == '-' ||
        o->n_sizes == NG_BENCH_MAX_SIZES)
      return -1;
    o->sizes[o->n_sizes++] = (size_t)v;
    if (*end == ',') end++;
    else if (*end) return -1;
    p = end;
  }
  return o->n_sizes > 0 ? 0 : -1;
}

/* -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, ng_bench_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->threads = 1;
  o->runs = o->envs = 1;
  o->target_s = -1.0;
  const char *sizes = NULL, *target_s = NULL;
  /* the options with a value, kept as given (checked below) */
  const struct {
    const char *name;
    const char **value;
  } with_value[] = {{"--sizes", &sizes},         {"--target-s", &target_s},
                    {"--json", &o->json},         {"--peer-dir", &o->peer_dir},
                    {"--python", &o->python},     {"--peer-blas", &o->peer_blas},
                    {"--growth", &o->growth},     {"--point", &o->point}};
  ng_args_t a;
  ng_args_init(&a, CMD, argc, argv);
  while (ng_args_next(&a)) {
    size_t j = 0;
    while (j < sizeof with_value / sizeof with_value[0] && !ng_args_is(&a, with_value[j].name))
      j++;
    if (j < sizeof with_value / sizeof with_value[0]) {
      if (!(*with_value[j].value = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--threads")) {
      long t;
      if (!ng_args_int(&a, 1, NG_POOL_MAX_THREADS, &t)) return NG_EXIT_USAGE;
      o->threads = (int)t;
    } else if (ng_args_switch(&a, "--help", "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_switch(&a, "--quick", NULL)) {
      o->quick = 1;
    } else if (ng_args_switch(&a, "--peer", NULL)) {
      o->peer = 1;
    } else if (ng_args_switch(&a, "--no-runs", NULL)) {
      o->runs = 0;
    } else if (ng_args_switch(&a, "--no-envs", NULL)) {
      o->envs = 0;
    } else {
      return ng_args_unknown(&a);
    }
  }
  if (target_s) {
    char *end;
    errno = 0;
    o->target_s = strtod(target_s, &end);
    if (end == target_s || *end || errno || !(o->target_s > 0.0) || o->target_s > 60.0) {
      ng_cli_error(CMD, "--target-s: expected seconds in (0, 60], got '%s'", target_s);
      return NG_EXIT_USAGE;
    }
  }
  if (!sizes) sizes = o->quick ? "1000,5000" : DEFAULT_SIZES;
  if (parse_sizes(sizes, o) != 0) {
    ng_cli_error(CMD, "--sizes: expected up to %d comma-separated batch sizes in [1, 1e7], "
                 "got '%s'", NG_BENCH_MAX_SIZES, sizes);
    return NG_EXIT_USAGE;
  }
  if (o->target_s < 0.0) o->target_s = o->quick ? 0.05 : 0.5;
  if (o->quick && !o->growth) o->runs = 0;
  return -1;
}

/* ---- the suite ------------------------------------------------------------------------------ */

/* Every (policy, size); the number timed into *n_k. */
static int run_all_kernels(const ng_bench_opts_t *o, ng_pool_t *pool,
                           ng_bench_kernel_result_t *k, int *n_k) {
  *n_k = 0;
  for (int pi = 0; pi < 2; pi++)
    for (int si = 0; si < o->n_sizes; si++) {
      const ng_bench_policy_t *pol = &ng_bench_policies[pi];
      fprintf(stderr, "  timing %s at N = %zu...\n", pol->name, o->sizes[si]);
      int st = ng_bench_run_kernels(o, pol, o->sizes[si], pool, &k[*n_k]);
      if (st) {
        ng_cli_error(CMD, "%s at N = %zu: %s", pol->name, o->sizes[si], ng_strerror(st));
        return NG_EXIT_FAILURE;
      }
      ++*n_k;
    }
  return NG_EXIT_OK;
}

static int run_envs(const ng_bench_opts_t *o, ng_pool_t *pool, ng_bench_env_result_t *envs,
                    int max) {
  int n = 0;
  printf("\nenvironment steps/s (random actions; one env on one thread");
  if (o->threads > 1) printf("; %d envs on %d threads, total", o->threads, o->threads);
  printf(")\n");
  for (size_t i = 0; i < ng_env_count() && n < max; i++) {
    ng_bench_env_result_t e = ng_bench_env(o, ng_env_info_at(i), pool);
    if (e.status == NG_EUNSUPPORTED) continue; /* e.g. MuJoCo not built in */
    envs[n++] = e;
    if (e.status) printf("  %-26s failed: %s\n", e.id, ng_strerror(e.status));
    else if (o->threads > 1)
      printf("  %-26s %12.0f   %12.0f (%.2fx)\n", e.id, e.rate1, e.rate_n, e.rate_n / e.rate1);
    else printf("  %-26s %12.0f\n", e.id, e.rate1);
    fflush(stdout);
  }
  return n;
}

static int run_trainings(const ng_bench_opts_t *o, ng_bench_run_result_t *runs) {
  static const char *const IDS[2] = {"CartPole-v1", "Pendulum-v1"};
  int n = 0;
  printf("\nfull TRPO runs (the tuned defaults of `natgrad train`)\n");
  for (int i = 0; i < 2; i++)
    for (int t = 1; t <= (o->threads > 1 ? 2 : 1); t++) {
      ng_bench_run_result_t *r = &runs[n++];
      ng_bench_train_run(IDS[i], t == 1 ? 1 : o->threads, r);
      if (r->status) {
        printf("  %-12s failed: %s\n", r->env, r->message);
        continue;
      }
      printf("  %-12s %ld steps, %d iterations, %d thread%s: %.2f s (rollout %.2f s, update "
             "%.2f s of which policy %.2f s), last mean return %.1f\n",
             r->env, r->steps, r->iterations, r->threads, r->threads > 1 ? "s" : "", r->wall_s,
             r->rollout_s, r->update_s, r->policy_update_s, r->mean_return);
      fflush(stdout);
    }
  return n;
}

int ng_cmd_bench(int argc, char **argv) {
  ng_bench_opts_t o;
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0) return rc;
  if (o.point) return ng_bench_point(&o);
  if (o.growth) return ng_bench_growth(&o);

  static ng_bench_peer_t peer; /* large: not on the stack */
  if (o.peer && (rc = ng_bench_peer_prepare(&o, &peer)) >= 0) return rc;

  ng_bench_machine_t m;
  memset(&m, 0, sizeof m);
  m.sqn = m.talln = NAN;
  ng_bench_loadavg(m.load_start);
  openblas_set_num_threads(1);
  snprintf(m.blas, sizeof m.blas, "OpenBLAS %s", openblas_get_config());
  ng_bench_cpu_name(m.cpu, sizeof m.cpu);
  ng_pool_t *pool = NULL;
  if (o.threads > 1) {
    int st = ng_pool_create(&pool, o.threads);
    if (st) {
      ng_cli_error(CMD, "cannot start %d threads: %s", o.threads, ng_strerror(st));
      return NG_EXIT_FAILURE;
    }
  }
  printf("natgrad bench%s: %s; %s; load average %.2f %.2f %.2f\n", o.quick ? " --quick" : "",
         m.cpu, m.blas, m.load_start[0], m.load_start[1], m.load_start[2]);
  fflush(stdout);
  ng_bench_measure_dgemm(&o, &m);

  ng_bench_kernel_result_t *k = calloc((size_t)(2 * o.n_sizes), sizeof *k);
  if (!k) {
    ng_pool_destroy(pool);
    return NG_EXIT_FAILURE;
  }
  ng_bench_results_t res = {.o = &o, .m = &m, .k = k};
  int status = run_all_kernels(&o, pool, k, &res.n_k);
  /* the roofline again after the kernels: the machine is shared, so each rate is the higher
   * of its two medians */
  ng_bench_measure_dgemm(&o, &m);
  printf("DGEMM, one thread: %.1f GFLOP/s square (%d^3), %.1f GFLOP/s tall-skinny "
         "(%dx%d by %dx%d)\n", m.sq1, NG_BENCH_SQ_N, m.tall1, NG_BENCH_TALL_M, NG_BENCH_TALL_N,
         NG_BENCH_TALL_N, NG_BENCH_TALL_N);
  if (o.threads > 1)
    printf("DGEMM, %d OpenBLAS threads: %.1f GFLOP/s square, %.1f GFLOP/s tall-skinny\n",
           o.threads, m.sqn, m.talln);
  ng_bench_print_kernels(&res);
  fflush(stdout);

  ng_bench_env_result_t envs[64];
  if (o.envs && status == NG_EXIT_OK) res.n_e = run_envs(&o, pool, envs, 64);
  res.e = envs;
  ng_bench_run_result_t runs[4];
  if (o.runs && status == NG_EXIT_OK) res.n_r = run_trainings(&o, runs);
  res.r = runs;

  if (o.peer && status == NG_EXIT_OK) {
    printf("\nrunning the PyTorch reference (%s %s)...\n", peer.python, peer.script);
    if (ng_bench_peer_run(&o, &peer) != 0) {
      ng_cli_error(CMD, "--peer: the PyTorch reference failed (its messages are above)");
      status = NG_EXIT_FAILURE;
    } else {
      res.peer = &peer;
      ng_bench_print_peer(&res);
    }
  }
  ng_bench_print_targets(&res);
  ng_bench_loadavg(m.load_end);
  printf("load average at the end: %.2f %.2f %.2f\n", m.load_end[0], m.load_end[1],
         m.load_end[2]);
  if (o.json && ng_bench_write_json(&res) != 0) status = NG_EXIT_FAILURE;
  free(k);
  ng_pool_destroy(pool);
  return status;
}
