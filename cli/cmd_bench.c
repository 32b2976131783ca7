/* natgrad bench: the standard performance suite, measured against this machine's own DGEMM
 * rate and, with --peer, against the PyTorch reference (shared/peers/torch_fvp_bench.py)
 * run in the same command; --growth draws time and peak memory against batch and width.
 *
 * Kernels run on the peer's shapes: "cartpole" = 4 -> 64 tanh -> 64 tanh -> 2 logits
 * (categorical) and "hopper" = 11 -> 64 tanh -> 64 tanh -> 3 means with state-independent
 * log stds (Gaussian), on random observations. Every number is a median of repeated runs.
 * FLOPs count the matrix products only (2 m n k each; elementwise work is not counted), from
 * the shapes alone, with the formulas written out in flops_of() and docs/performance.md; a
 * CTest recomputes them from the JSON (tests/bench.cmake). */
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "natgrad/env.h"
#include "natgrad/fisher.h"
#include "natgrad/linalg.h"
#include "natgrad/model.h"
#include "natgrad/optim.h"
#include "natgrad/pool.h"
#include "natgrad/rl.h"
#include "natgrad/svg.h"

#define CMD "bench"
#define DAMPING 0.1
#define CG_ITERS 10
#define MAX_KL 0.01
#define MAX_REPS 400
#define MAX_SIZES 16
#define DEFAULT_SIZES "1000,5000,25000,100000"
#define PEER_SCRIPT "torch_fvp_bench.py"
#define PEER_PYTHON "/usr/bin/python3"
#define PEER_LIBDIR "/usr/lib/x86_64-linux-gnu/openblas-openmp"
/* The square and the tall-skinny DGEMM of the roofline: an MLP layer's product is the
 * tall-skinny one (batch rows by 64 by 64). */
#define SQ_N 1000
#define TALL_M 25000
#define TALL_N 64

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad bench [--quick] [--sizes N,N,...] [--threads N] [--json FILE]\n"
          "                     [--peer] [--peer-dir DIR] [--no-runs] [--no-envs]\n"
          "                     [--growth DIR] [--target-s S]\n"
          "\n"
          "Times natgrad's TRPO kernels (surrogate gradient, Fisher set-up, one Fisher-vector\n"
          "product, %d CG iterations, one full TRPO update) for a CartPole-sized (4-64-64-2,\n"
          "categorical) and a Hopper-sized (11-64-64-3, Gaussian) policy at each batch size,\n"
          "with FLOP counts, GFLOP/s and the fraction of this machine's tall-skinny DGEMM rate\n"
          "(measured first, in the same command); then environment steps per second and full\n"
          "TRPO runs (CartPole-v1 and Pendulum-v1 to 100k steps with their tuned defaults).\n"
          "Medians of repeated runs, one core; --threads N adds columns for N threads of\n"
          "natgrad's own and for N OpenBLAS threads.\n"
          "\n"
          "options:\n"
          "  --quick          short timings, sizes 1000,5000 unless --sizes, no runs\n"
          "  --sizes LIST     batch sizes (default %s)\n"
          "  --threads N      also time with N threads (default 1: one core only)\n"
          "  --json FILE      write every number as JSON (for machines)\n"
          "  --peer           also run the PyTorch reference (%s) on the same sizes and\n"
          "                   print the ratios; needs Debian's python3-torch for %s\n"
          "  --peer-dir DIR   where %s is (default: $NG_PEER_DIR, else shared/peers in a\n"
          "                   folder above the natgrad binary or the current folder)\n"
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
          CG_ITERS, DEFAULT_SIZES, PEER_SCRIPT, PEER_PYTHON, PEER_SCRIPT);
}

/* ---- options ---------------------------------------------------------------------------- */

typedef struct {
  int quick, threads, peer, runs, envs;
  const char *json, *peer_dir, *growth, *point;
  double target_s;
  size_t sizes[MAX_SIZES];
  int n_sizes;
} opts_t;

static int parse_sizes(const char *s, opts_t *o) {
  o->n_sizes = 0;
  const char *p = s;
  while (*p) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || errno || v < 1 || v > 10000000 || *p == '-' || o->n_sizes == MAX_SIZES)
      return -1;
    o->sizes[o->n_sizes++] = (size_t)v;
    if (*end == ',') end++;
    else if (*end) return -1;
    p = end;
  }
  return o->n_sizes > 0 ? 0 : -1;
}

/* -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, opts_t *o) {
  memset(o, 0, sizeof *o);
  o->threads = 1;
  o->runs = o->envs = 1;
  o->target_s = -1.0;
  const char *sizes = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_value = !strcmp(a, "--sizes") || !strcmp(a, "--threads") || !strcmp(a, "--json") ||
                    !strcmp(a, "--peer-dir") || !strcmp(a, "--growth") ||
                    !strcmp(a, "--target-s") || !strcmp(a, "--point");
    const char *v = NULL;
    if (has_value) {
      if (i + 1 >= argc) {
        ng_cli_error(CMD, "%s needs a value (see natgrad bench --help)", a);
        return NG_EXIT_USAGE;
      }
      v = argv[++i];
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (!strcmp(a, "--quick")) {
      o->quick = 1;
    } else if (!strcmp(a, "--peer")) {
      o->peer = 1;
    } else if (!strcmp(a, "--no-runs")) {
      o->runs = 0;
    } else if (!strcmp(a, "--no-envs")) {
      o->envs = 0;
    } else if (!strcmp(a, "--sizes")) {
      sizes = v;
    } else if (!strcmp(a, "--threads")) {
      char *end;
      errno = 0;
      long t = strtol(v, &end, 10);
      if (end == v || *end || errno || t < 1 || t > NG_POOL_MAX_THREADS) {
        ng_cli_error(CMD, "--threads: expected an integer in [1, %d], got '%s'",
                     NG_POOL_MAX_THREADS, v);
        return NG_EXIT_USAGE;
      }
      o->threads = (int)t;
    } else if (!strcmp(a, "--target-s")) {
      char *end;
      errno = 0;
      o->target_s = strtod(v, &end);
      if (end == v || *end || errno || !(o->target_s > 0.0) || o->target_s > 60.0) {
        ng_cli_error(CMD, "--target-s: expected seconds in (0, 60], got '%s'", v);
        return NG_EXIT_USAGE;
      }
    } else if (!strcmp(a, "--json")) {
      o->json = v;
    } else if (!strcmp(a, "--peer-dir")) {
      o->peer_dir = v;
    } else if (!strcmp(a, "--growth")) {
      o->growth = v;
    } else if (!strcmp(a, "--point")) {
      o->point = v;
    } else {
      ng_cli_error(CMD, "unknown option '%s' (see natgrad bench --help)", a);
      return NG_EXIT_USAGE;
    }
  }
  if (!sizes) sizes = o->quick ? "1000,5000" : DEFAULT_SIZES;
  if (parse_sizes(sizes, o) != 0) {
    ng_cli_error(CMD, "--sizes: expected up to %d comma-separated batch sizes in [1, 1e7], "
                 "got '%s'", MAX_SIZES, sizes);
    return NG_EXIT_USAGE;
  }
  if (o->target_s < 0.0) o->target_s = o->quick ? 0.05 : 0.5;
  if (o->quick && !o->growth) o->runs = 0;
  return -1;
}

/* ---- timing ------------------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  double median_s, p10_s, p90_s;
  int reps, status;
} timing_t;

typedef int (*op_fn)(void *ctx);

/* Runs op once to warm up and estimate its cost, then repeats it to fill target_s (at least
 * min_reps, at most MAX_REPS times): median and 10/90% quantiles. */
static timing_t time_op(op_fn op, void *ctx, double target_s, int min_reps) {
  static double ts[MAX_REPS];
  timing_t t = {NAN, NAN, NAN, 0, NG_OK};
  double t0 = now_s();
  if ((t.status = op(ctx)) != NG_OK) return t;
  double est = now_s() - t0;
  if (est < 1e-7) est = 1e-7;
  int reps = (int)(target_s / est);
  if (reps < min_reps) reps = min_reps;
  if (reps > MAX_REPS) reps = MAX_REPS;
  for (int i = 0; i < reps; i++) {
    t0 = now_s();
    if ((t.status = op(ctx)) != NG_OK) return t;
    ts[i] = now_s() - t0;
  }
  qsort(ts, (size_t)reps, sizeof ts[0], cmp_double);
  t.median_s = reps % 2 ? ts[reps / 2] : 0.5 * (ts[reps / 2 - 1] + ts[reps / 2]);
  t.p10_s = ts[reps / 10];
  t.p90_s = ts[(reps * 9) / 10];
  t.reps = reps;
  return t;
}

/* ---- FLOPs ---------------------------------------------------------------------------------
 * From the layer sizes s_0 .. s_L (L layers), the batch N and the factor rows k per sample
 * (fisher.h), matrix products only:
 *   fwd    = 2N sum_l s_l s_{l+1}
 *   grad   = fwd + 2N sum_l s_l s_{l+1} (dW) + 2N sum_{l>=1} s_l s_{l+1} (dX)
 *          = 3 fwd - 2N s_0 s_1
 *   setup  = fwd, plus on the factored path the cached deltas (ng_mlp_deltas): for L >= 3,
 *            2Nk (s_L s_{L-1} + s_{L-1} s_{L-2}) + 2Nk sum_{l=1}^{L-3} s_{l+1} s_l
 *   fvp    = factored: 2 fwd + 4N s_{L-1} s_L (for L >= 2; 2 fwd for L = 1)
 *            JVP/VJP:  4 fwd - 4N s_0 s_1
 *   cg10   = 10 fvp
 *   update = grad + setup + 11 fvp + fwd   (gradient, set-up, 10 CG products, s^T F s, one
 *            line-search trial) */
typedef enum { OP_GRAD, OP_SETUP, OP_FVP, OP_CG10, OP_UPDATE, N_OPS } op_id_t;
static const char *const OP_NAMES[N_OPS] = {"grad", "setup", "fvp", "cg10", "update"};

static double flops_of(op_id_t op, size_t L, const size_t *s, size_t batch, size_t k,
                       int factored) {
  const double N = (double)batch;
  double fwd = 0.0;
  for (size_t l = 0; l < L; l++) fwd += 2.0 * N * (double)s[l] * (double)s[l + 1];
  const double first = 2.0 * N * (double)s[0] * (double)s[1];
  double grad = 3.0 * fwd - first;
  double setup = fwd;
  if (factored && L >= 3) {
    setup += 2.0 * N * (double)k *
             ((double)s[L] * (double)s[L - 1] + (double)s[L - 1] * (double)s[L - 2]);
    for (size_t l = 1; l + 3 <= L; l++)
      setup += 2.0 * N * (double)k * (double)s[l + 1] * (double)s[l];
  }
  double fvp = factored ? 2.0 * fwd + (L >= 2 ? 4.0 * N * (double)s[L - 1] * (double)s[L] : 0.0)
                        : 4.0 * fwd - 2.0 * first;
  switch (op) {
  case OP_GRAD:
    return grad;
  case OP_SETUP:
    return setup;
  case OP_FVP:
    return fvp;
  case OP_CG10:
    return CG_ITERS * fvp;
  case OP_UPDATE:
    return grad + setup + (CG_ITERS + 1) * fvp + fwd;
  default:
    return NAN;
  }
}

/* ---- the problem: a policy, a batch, old log-probs and advantages ------------------------- */

typedef struct {
  const char *name; /* ours */
  const char *peer; /* the peer's */
  size_t n_in, out_dim;
  int gauss;
} policy_t;

static const policy_t POLICIES[2] = {{"cartpole", "cat", 4, 2, 0}, {"hopper", "gauss", 11, 3, 1}};

typedef struct {
  const policy_t *pol;
  size_t hidden[2], batch, n, n_in, a_size, np, k;
  size_t sizes[4]; /* the MLP's layer sizes */
  ng_model_t *model;
  ng_model_ws_t *ws;
  ng_fisher_t *fisher; /* NULL for a gradient-only problem */
  ng_cg_t *cg;
  double *theta, *theta_new, *x, *act, *p_old, *logp_old, *adv, *w, *logp, *g, *v, *out, *s;
} problem_t;

static void problem_free(problem_t *p) {
  ng_cg_destroy(p->cg);
  ng_fisher_destroy(p->fisher);
  ng_model_ws_destroy(p->ws);
  ng_model_destroy(p->model);
  double *arrays[] = {p->theta, p->theta_new, p->x, p->act, p->p_old, p->logp_old, p->adv,
                      p->w, p->logp, p->g, p->v, p->out, p->s};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
  memset(p, 0, sizeof *p);
}

/* What a problem holds: everything, the gradient's part only, or the Fisher's part only (the
 * memory curves attribute each op's memory alone). */
enum { PROBLEM_FULL, PROBLEM_GRAD, PROBLEM_FISHER };

/* A policy of widths hidden x hidden over `batch` random observations. */
static int problem_init(problem_t *p, const policy_t *pol, size_t hidden, size_t batch,
                        int what, uint64_t seed) {
  memset(p, 0, sizeof *p);
  p->pol = pol;
  p->hidden[0] = p->hidden[1] = hidden;
  p->batch = batch;
  p->n_in = pol->n_in;
  ng_dist_t dist = pol->gauss ? (ng_dist_t){.kind = NG_DIST_GAUSSIAN, .dim = pol->out_dim}
                              : (ng_dist_t){.kind = NG_DIST_CATEGORICAL, .dim = pol->out_dim};
  int st = ng_model_create(&p->model, pol->n_in, 2, p->hidden, NG_ACT_TANH, dist,
                           NG_LOGSTD_STATE_INDEPENDENT);
  if (st) return st;
  p->n = ng_model_n_params(p->model);
  p->np = ng_model_n_dist_params(p->model);
  p->a_size = ng_dist_action_size(&dist);
  p->k = pol->gauss ? pol->out_dim : pol->out_dim - 1;
  p->sizes[0] = pol->n_in;
  p->sizes[1] = p->sizes[2] = hidden;
  p->sizes[3] = pol->out_dim;
  if ((st = ng_model_ws_create(&p->ws, p->model, what == PROBLEM_FISHER ? 1 : batch))) goto fail;
  if (what != PROBLEM_GRAD && (st = ng_fisher_create(&p->fisher, p->model, batch))) goto fail;
  if ((st = ng_cg_create(&p->cg, p->n))) goto fail;
  size_t n = p->n;
  p->theta = malloc(n * sizeof(double));
  p->theta_new = malloc(n * sizeof(double));
  p->g = malloc(n * sizeof(double));
  p->v = malloc(n * sizeof(double));
  p->out = malloc(n * sizeof(double));
  p->s = malloc(n * sizeof(double));
  p->x = malloc(batch * p->n_in * sizeof(double));
  p->act = malloc(batch * p->a_size * sizeof(double));
  p->p_old = malloc(batch * p->np * sizeof(double));
  p->logp_old = malloc(batch * sizeof(double));
  p->logp = malloc(batch * sizeof(double));
  p->adv = malloc(batch * sizeof(double));
  p->w = malloc(batch * sizeof(double));
  st = NG_ENOMEM;
  if (!p->theta || !p->theta_new || !p->g || !p->v || !p->out || !p->s || !p->x || !p->act ||
      !p->p_old || !p->logp_old || !p->logp || !p->adv || !p->w)
    goto fail;
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  if ((st = ng_model_init(p->model, p->theta, sqrt(2.0), 0.01, 0.0, &rng))) goto fail;
  for (size_t i = 0; i < batch * p->n_in; i++) p->x[i] = ng_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) p->v[i] = ng_rng_normal(&rng);
  for (size_t i = 0; i < batch; i++) p->adv[i] = ng_rng_normal(&rng);
  if (what == PROBLEM_FISHER) return NG_OK;
  if ((st = ng_model_forward(p->model, p->theta, p->ws, batch, p->x, p->p_old))) goto fail;
  for (size_t b = 0; b < batch; b++)
    if ((st = ng_dist_sample(&dist, p->p_old + b * p->np, &rng, p->act + b * p->a_size)))
      goto fail;
  if ((st = ng_model_logp(p->model, p->ws, batch, p->act, p->logp_old))) goto fail;
  return NG_OK;
fail:
  problem_free(p);
  return st;
}

static void problem_set_pool(problem_t *p, ng_pool_t *pool) {
  ng_model_ws_set_pool(p->ws, pool);
  if (p->fisher) ng_fisher_set_pool(p->fisher, pool);
}

/* grad: forward + surrogate mean(A exp(logp - logp_old)) and its gradient, as the peer's. */
static int op_grad(void *ctx) {
  problem_t *p = ctx;
  int st = ng_model_forward(p->model, p->theta, p->ws, p->batch, p->x, NULL);
  if (!st) st = ng_model_logp(p->model, p->ws, p->batch, p->act, p->logp);
  if (st) return st;
  for (size_t b = 0; b < p->batch; b++)
    p->w[b] = p->adv[b] * exp(p->logp[b] - p->logp_old[b]) / (double)p->batch;
  memset(p->g, 0, p->n * sizeof(double));
  return ng_model_logp_vjp(p->model, p->theta, p->ws, p->batch, p->act, p->w, p->g);
}

/* setup: the Fisher at theta (its forward, and the factored path's cache). */
static int op_setup(void *ctx) {
  problem_t *p = ctx;
  return ng_fisher_set_point(p->fisher, p->theta, p->batch, p->x);
}

static int op_fvp(void *ctx) {
  problem_t *p = ctx;
  return ng_fisher_apply(p->fisher, p->v, DAMPING, p->out);
}

static int op_cg10(void *ctx) {
  problem_t *p = ctx;
  ng_cg_opts_t opts = {.max_iter = CG_ITERS, .residual_tol = 0.0};
  return ng_natgrad_cg(p->fisher, p->cg, DAMPING, p->g, p->s, &opts, NULL);
}

/* update: one TRPO policy update as src/rl/trpo.c runs it, with exactly one line-search
 * trial: gradient, set-up, CG, s^T F s, the step scaled to the KL bound, and the trial's
 * forward, log-probs and KL. */
static int op_update(void *ctx) {
  problem_t *p = ctx;
  int st = op_grad(p);
  if (!st) st = op_setup(p);
  if (!st) st = op_cg10(p);
  if (!st) st = ng_fisher_apply(p->fisher, p->s, DAMPING, p->out);
  if (st) return st;
  double sfs = ng_vec_dot(p->n, p->s, p->out), beta;
  if ((st = ng_trust_region_scale(sfs, MAX_KL, &beta))) return st;
  for (size_t i = 0; i < p->n; i++) p->theta_new[i] = p->theta[i] + beta * p->s[i];
  double kl = 0.0;
  st = ng_model_forward(p->model, p->theta_new, p->ws, p->batch, p->x, NULL);
  if (!st) st = ng_model_logp(p->model, p->ws, p->batch, p->act, p->logp);
  if (!st) st = ng_model_kl_sum(p->model, p->theta_new, p->ws, p->batch, p->p_old, &kl, NULL);
  return st;
}

static const op_fn OP_FNS[N_OPS] = {op_grad, op_setup, op_fvp, op_cg10, op_update};

/* ---- DGEMM rates -------------------------------------------------------------------------- */

typedef struct {
  int m, n, k;
  double *a, *b, *c;
} gemm_t;

static int op_gemm(void *ctx) {
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
    timing_t t = time_op(op_gemm, &g, target_s, 5);
    r = 2.0 * m * n * k / t.median_s * 1e-9;
  }
  free(g.a), free(g.b), free(g.c);
  return r;
}

/* ---- kernels ------------------------------------------------------------------------------ */

typedef struct {
  double flops;
  timing_t t1; /* one thread */
  timing_t tn; /* natgrad's pool of N threads (OpenBLAS at 1) */
  timing_t tb; /* OpenBLAS at N threads, no pool */
} op_result_t;

typedef struct {
  const policy_t *pol;
  size_t batch, n_params, k;
  int factored;
  size_t cache_bytes;
  op_result_t op[N_OPS];
} kernel_result_t;

static int run_kernels(const opts_t *o, const policy_t *pol, size_t batch, ng_pool_t *pool,
                       kernel_result_t *r) {
  problem_t p;
  memset(r, 0, sizeof *r);
  int st = problem_init(&p, pol, 64, batch, PROBLEM_FULL, 0);
  if (st) return st;
  r->pol = pol;
  r->batch = batch;
  r->n_params = p.n;
  r->k = p.k;
  /* first pass: gradient and point, so cg10 has its right-hand side */
  if ((st = op_grad(&p)) || (st = op_setup(&p))) {
    problem_free(&p);
    return st;
  }
  r->factored = ng_fisher_factored(p.fisher);
  r->cache_bytes = r->factored ? ng_fisher_cache_bytes(p.model, batch) : 0;
  for (int op = 0; op < N_OPS; op++) {
    op_result_t *q = &r->op[op];
    int min_reps = op >= OP_CG10 ? 5 : 11;
    q->flops = flops_of((op_id_t)op, 3, p.sizes, batch, p.k, r->factored);
    problem_set_pool(&p, NULL);
    q->t1 = time_op(OP_FNS[op], &p, o->target_s, min_reps);
    if (o->threads > 1) {
      problem_set_pool(&p, pool);
      q->tn = time_op(OP_FNS[op], &p, o->target_s, min_reps);
      problem_set_pool(&p, NULL);
      openblas_set_num_threads(o->threads);
      q->tb = time_op(OP_FNS[op], &p, o->target_s, min_reps);
      openblas_set_num_threads(1);
    }
    st = q->t1.status ? q->t1.status : q->tn.status ? q->tn.status : q->tb.status;
    if (st) break;
  }
  problem_free(&p);
  return st;
}

/* ---- environments ------------------------------------------------------------------------- */

/* One env's state for the threaded steps, alone on its cache lines: RNGs and buffers of two
 * envs side by side made both cores fight over one line at every step (CartPole ran 0.6x
 * slower on two threads than on one). */
typedef struct {
  _Alignas(64) ng_rng_t rng;
  ng_env_t *env;
  double *obs, *act; /* each in its own 64-byte-aligned block */
} env_slot_t;

typedef struct {
  env_slot_t *slot[NG_POOL_MAX_THREADS];
  const ng_env_info_t *info;
  long steps;
} env_job_t;

/* Steps env i `steps` times with uniformly random actions (Box: uniform on its bounds, or
 * normal where a bound is infinite), resetting at episode ends. */
static int env_task(void *ctx, size_t i) {
  env_job_t *j = ctx;
  env_slot_t *e = j->slot[i];
  const ng_space_t *as = &j->info->action_space;
  for (long t = 0; t < j->steps; t++) {
    if (as->kind == NG_SPACE_DISCRETE) {
      e->act[0] = (double)ng_rng_below(&e->rng, as->dim);
    } else {
      for (size_t d = 0; d < as->dim; d++) {
        double lo = as->low[d], hi = as->high[d];
        e->act[d] = isfinite(lo) && isfinite(hi) ? ng_rng_uniform_range(&e->rng, lo, hi)
                                                 : ng_rng_normal(&e->rng);
      }
    }
    double r;
    int term = 0, trunc = 0;
    int st = ng_env_step(e->env, e->act, e->obs, &r, &term, &trunc);
    if (!st && (term || trunc)) st = ng_env_reset(e->env, e->obs);
    if (st) return st;
  }
  return NG_OK;
}

typedef struct {
  const char *id;
  double rate1, rate_n; /* steps/s: one env on one thread; N envs on N threads (total) */
  int status;
} env_result_t;

typedef struct {
  env_job_t *job;
  ng_pool_t *pool;
  size_t n_envs;
} env_run_t;

static int op_envs(void *ctx) {
  env_run_t *r = ctx;
  return ng_pool_run(r->pool, r->n_envs, env_task, r->job);
}

static env_result_t bench_env(const opts_t *o, const ng_env_info_t *info, ng_pool_t *pool) {
  env_result_t res = {info->id, NAN, NAN, NG_OK};
  env_job_t *j = calloc(1, sizeof *j);
  if (!j) {
    res.status = NG_ENOMEM;
    return res;
  }
  j->info = info;
  size_t n_envs = o->threads > 1 ? (size_t)o->threads : 1;
  size_t od = info->observation_space.dim, ad = ng_space_size(&info->action_space);
  size_t ob = (od * sizeof(double) + 63) / 64 * 64;
  size_t ab = ((ad ? ad : 1) * sizeof(double) + 63) / 64 * 64;
  for (size_t i = 0; i < n_envs && !res.status; i++) {
    env_slot_t *e = j->slot[i] = aligned_alloc(64, sizeof *e);
    if (!e) {
      res.status = NG_ENOMEM;
      break;
    }
    memset(e, 0, sizeof *e);
    e->obs = aligned_alloc(64, ob);
    e->act = aligned_alloc(64, ab);
    if (!e->obs || !e->act) {
      res.status = NG_ENOMEM;
      break;
    }
    res.status = ng_env_create(&e->env, info->id, NULL);
    if (res.status) break;
    ng_env_seed(e->env, 0, i);
    ng_rng_seed(&e->rng, 0, 1000 + i);
    res.status = ng_env_reset(e->env, e->obs);
  }
  if (!res.status) {
    /* steps per repetition: a tenth of the time budget's worth */
    j->steps = 200;
    double t0 = now_s();
    res.status = env_task(j, 0);
    double per = (now_s() - t0) / 200.0;
    j->steps = per > 0 ? (long)(0.1 * o->target_s / per) : 100000;
    if (j->steps < 100) j->steps = 100;
    if (j->steps > 1000000) j->steps = 1000000;
  }
  if (!res.status) {
    env_run_t run = {j, NULL, 1};
    timing_t t = time_op(op_envs, &run, o->target_s, 5);
    res.status = t.status;
    res.rate1 = (double)j->steps / t.median_s;
    if (!res.status && n_envs > 1) {
      env_run_t run_n = {j, pool, n_envs};
      t = time_op(op_envs, &run_n, o->target_s, 5);
      res.status = t.status;
      res.rate_n = (double)j->steps * (double)n_envs / t.median_s;
    }
  }
  for (size_t i = 0; i < n_envs; i++) {
    if (!j->slot[i]) continue;
    ng_env_destroy(j->slot[i]->env);
    free(j->slot[i]->obs);
    free(j->slot[i]->act);
    free(j->slot[i]);
  }
  free(j);
  return res;
}

/* ---- full training runs ----------------------------------------------------------------- */

typedef struct {
  const char *env;
  int threads;
  long steps;
  double wall_s, rollout_s, update_s, mean_return;
  int iterations, status;
  char message[512];
} run_result_t;

static void train_run(const char *env, int threads, run_result_t *r) {
  memset(r, 0, sizeof *r);
  r->env = env;
  r->threads = threads;
  r->mean_return = NAN;
  ng_rl_config_t cfg;
  ng_error_t err;
  ng_error_clear(&err);
  ng_rl_t *t = NULL;
  double t0 = now_s();
  r->status = ng_rl_config_default(&cfg, env, &err);
  if (!r->status) r->status = ng_rl_create(&t, &cfg, &err);
  if (!r->status) r->status = ng_rl_set_threads(t, threads);
  while (!r->status && !ng_rl_done(t)) {
    ng_rl_stats_t st;
    r->status = ng_rl_iterate(t, &st, &err);
    if (r->status) break;
    r->iterations++;
    r->rollout_s += st.rollout_seconds;
    r->update_s += st.update_seconds;
    if (!isnan(st.mean_return)) r->mean_return = st.mean_return;
  }
  r->wall_s = now_s() - t0;
  r->steps = t ? ng_rl_env_steps(t) : 0;
  snprintf(r->message, sizeof r->message, "%s", err.message);
  ng_rl_destroy(t);
}

/* ---- the peer ----------------------------------------------------------------------------- */

typedef struct {
  char policy[16], dtype[16];
  size_t batch;
  int threads;
  double grad_s, setup_s, fvp_s, cg10_s;
} peer_row_t;

typedef struct {
  peer_row_t rows[256];
  int n;
  char torch[64], blas[512];
} peer_t;

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

static int file_exists(const char *path) {
  FILE *f = fopen(path, "r");
  if (f) fclose(f);
  return f != NULL;
}

/* 0 if dir/shared/peers holds the peer; its path into out. */
static int peer_in(const char *dir, char *out, size_t size) {
  char path[8192];
  if (snprintf(path, sizeof path, "%s/shared/peers/%s", dir, PEER_SCRIPT) >= (int)sizeof path ||
      !file_exists(path))
    return -1;
  return snprintf(out, size, "%s/shared/peers", dir) < (int)size ? 0 : -1;
}

/* The peer's folder: --peer-dir, $NG_PEER_DIR, else shared/peers in a folder above the binary
 * or above (or at) the current folder: a fresh clone keeps it at ../shared/peers. */
static int find_peer_dir(const opts_t *o, char *out, size_t size) {
  const char *given = o->peer_dir ? o->peer_dir : getenv("NG_PEER_DIR");
  if (given) {
    char path[8192];
    int n = snprintf(out, size, "%s", given);
    if (n < 0 || n >= (int)size) return -1;
    n = snprintf(path, sizeof path, "%s/%s", given, PEER_SCRIPT);
    return n > 0 && n < (int)sizeof path && file_exists(path) ? 0 : -1;
  }
  char dir[4096];
  for (int s = 0; s < 2; s++) {
    if (s == 0) {
      ssize_t len = readlink("/proc/self/exe", dir, sizeof dir - 1);
      dir[len > 0 ? len : 0] = '\0';
      char *slash = strrchr(dir, '/');
      if (slash) *slash = '\0'; /* the binary's folder */
    } else if (!getcwd(dir, sizeof dir)) {
      break;
    }
    for (;;) {
      if (dir[0] && peer_in(dir, out, size) == 0) return 0;
      char *slash = strrchr(dir, '/');
      if (!slash) break;
      *slash = '\0';
    }
  }
  snprintf(out, size, "../shared/peers");
  return -1;
}

/* 0 if `python -c 'import torch'` works. */
static int peer_check_torch(void) {
  if (access(PEER_PYTHON, X_OK) != 0) return -1;
  int rc = system("LD_LIBRARY_PATH=" PEER_LIBDIR " OMP_NUM_THREADS=1 " PEER_PYTHON
                  " -c 'import torch' >/dev/null 2>&1");
  return rc == 0 ? 0 : -1;
}

/* Runs the peer on o's sizes (1 thread, and N), dtypes float32 and float64, and reads its
 * medians back through a few lines of Python (the peer's JSON, flattened). */
static int run_peer(const opts_t *o, const char *dir, peer_t *peer) {
  char script[4200], qs[4400], tmp[] = "/tmp/natgrad-bench-peer-XXXXXX", qt[200], cmd[9000];
  char sizes[256] = "", threads[32];
  memset(peer, 0, sizeof *peer);
  int fd = mkstemp(tmp);
  if (fd < 0) return -1;
  close(fd);
  for (int i = 0; i < o->n_sizes; i++)
    snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), "%s%zu", i ? "," : "",
             o->sizes[i]);
  if (o->threads > 1) snprintf(threads, sizeof threads, "1,%d", o->threads);
  else snprintf(threads, sizeof threads, "1");
  snprintf(script, sizeof script, "%s/%s", dir, PEER_SCRIPT);
  shell_quote(script, qs, sizeof qs);
  shell_quote(tmp, qt, sizeof qt);
  char target[32];
  snprintf(target, sizeof target, "%g", o->target_s < 0.1 ? 0.1 : o->target_s);
  snprintf(cmd, sizeof cmd,
           "LD_LIBRARY_PATH=" PEER_LIBDIR " OMP_NUM_THREADS=%d " PEER_PYTHON
           " %s --threads %s --sizes %s --target-s %s --out %s %s >&2",
           o->threads, qs, threads, sizes, target, qt, o->quick ? "--quick" : "");
  fflush(stdout);
  int rc = system(cmd);
  if (rc != 0) {
    remove(tmp);
    return -1;
  }
  snprintf(cmd, sizeof cmd,
           PEER_PYTHON " -c 'import json, sys\n"
           "d = json.load(open(sys.argv[1]))\n"
           "print(\"torch\", d[\"meta\"].get(\"torch\", \"?\"))\n"
           "print(\"blas\", \",\".join(d[\"meta\"].get(\"blas_libs_loaded\", [])) or \"?\")\n"
           "for r in d[\"results\"]:\n"
           "    print(\"row\", r[\"policy\"], r[\"N\"], r[\"dtype\"], r[\"threads\"],"
           " r[\"grad\"][\"median_s\"], r[\"kl_setup\"][\"median_s\"], r[\"fvp\"][\"median_s\"],"
           " r[\"cg10\"][\"median_s\"])\n' %s",
           qt);
  FILE *f = popen(cmd, "r");
  if (!f) {
    remove(tmp);
    return -1;
  }
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (!strncmp(line, "torch ", 6)) {
      size_t n = strlen(line + 6);
      if (n >= sizeof peer->torch) n = sizeof peer->torch - 1;
      memcpy(peer->torch, line + 6, n);
      peer->torch[n] = '\0';
    } else if (!strncmp(line, "blas ", 5)) {
      size_t n = strlen(line + 5);
      if (n >= sizeof peer->blas) n = sizeof peer->blas - 1;
      memcpy(peer->blas, line + 5, n);
      peer->blas[n] = '\0';
    } else if (!strncmp(line, "row ", 4) &&
               peer->n < (int)(sizeof peer->rows / sizeof peer->rows[0])) {
      peer_row_t *r = &peer->rows[peer->n];
      if (sscanf(line + 4, "%15s %zu %15s %d %lf %lf %lf %lf", r->policy, &r->batch, r->dtype,
                 &r->threads, &r->grad_s, &r->setup_s, &r->fvp_s, &r->cg10_s) == 8)
        peer->n++;
    }
  }
  rc = pclose(f);
  remove(tmp);
  return rc == 0 && peer->n > 0 ? 0 : -1;
}

static const peer_row_t *peer_find(const peer_t *p, const char *policy, size_t batch,
                                   const char *dtype, int threads) {
  for (int i = 0; i < p->n; i++)
    if (!strcmp(p->rows[i].policy, policy) && p->rows[i].batch == batch &&
        !strcmp(p->rows[i].dtype, dtype) && p->rows[i].threads == threads)
      return &p->rows[i];
  return NULL;
}

/* ---- growth curves (child process per point) -------------------------------------------- */

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
static int run_point(const opts_t *o) {
  char op[16], pol[16];
  size_t hidden = 0, batch = 0;
  if (sscanf(o->point, "%15[a-z]:%15[a-z]:%zu:%zu", op, pol, &hidden, &batch) != 4 ||
      hidden == 0 || batch == 0 || (strcmp(op, "grad") && strcmp(op, "fvp"))) {
    ng_cli_error(CMD, "--point: expected grad|fvp:POLICY:HIDDEN:BATCH, got '%s'", o->point);
    return NG_EXIT_USAGE;
  }
  const policy_t *policy = !strcmp(pol, "cartpole") ? &POLICIES[0]
                           : !strcmp(pol, "hopper") ? &POLICIES[1] : NULL;
  if (!policy) {
    ng_cli_error(CMD, "--point: unknown policy '%s'", pol);
    return NG_EXIT_USAGE;
  }
  openblas_set_num_threads(1);
  long base = peak_rss_kb();
  int fvp = !strcmp(op, "fvp");
  problem_t p;
  int st = problem_init(&p, policy, hidden, batch, fvp ? PROBLEM_FISHER : PROBLEM_GRAD, 0);
  if (!st) st = fvp ? op_setup(&p) : op_grad(&p);
  if (st) {
    ng_cli_error(CMD, "--point %s: %s", o->point, ng_strerror(st));
    if (p.model) problem_free(&p);
    return NG_EXIT_FAILURE;
  }
  timing_t t = time_op(fvp ? op_fvp : op_grad, &p, o->target_s, 3);
  if (t.status) {
    ng_cli_error(CMD, "--point %s: %s", o->point, ng_strerror(t.status));
    problem_free(&p);
    return NG_EXIT_FAILURE;
  }
  int factored = fvp && ng_fisher_factored(p.fisher);
  size_t cache = factored ? ng_fisher_cache_bytes(p.model, batch) : 0;
  size_t ws = ng_mlp_ws_bytes(ng_model_mlp(p.model), batch);
  printf("%.9g %ld %ld %zu %zu %zu %.9g %d\n", t.median_s, base, peak_rss_kb(), p.n, ws, cache,
         flops_of(fvp ? OP_FVP : OP_GRAD, 3, p.sizes, batch, p.k, factored), factored);
  problem_free(&p);
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

static int measure_point(const opts_t *o, point_t *pt) {
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

static int run_growth(const opts_t *o) {
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

/* ---- output ------------------------------------------------------------------------------- */

static double gflops(double flops, const timing_t *t) {
  return t->reps > 0 ? flops / t->median_s * 1e-9 : NAN;
}

static void cpu_name(char *buf, size_t size) {
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

/* JSON string body: s with " and \ escaped (control characters dropped). */
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

static void json_timing(FILE *f, const char *key, const timing_t *t, double flops, double tall,
                        double square) {
  fprintf(f, "\"%s\": {\"median_s\": ", key);
  json_num(f, t->median_s);
  fprintf(f, ", \"p10_s\": ");
  json_num(f, t->p10_s);
  fprintf(f, ", \"p90_s\": ");
  json_num(f, t->p90_s);
  fprintf(f, ", \"reps\": %d, \"gflops\": ", t->reps);
  json_num(f, gflops(flops, t));
  fprintf(f, ", \"frac_tall\": ");
  json_num(f, gflops(flops, t) / tall);
  fprintf(f, ", \"frac_square\": ");
  json_num(f, gflops(flops, t) / square);
  fprintf(f, "}");
}

typedef struct {
  char blas[512], cpu[256];
  double sq1, tall1, sqn, talln; /* GFLOP/s at 1 and N OpenBLAS threads */
} machine_t;

static int write_json(const opts_t *o, const machine_t *m, const kernel_result_t *k, int n_k,
                      const env_result_t *e, int n_e, const run_result_t *r, int n_r,
                      const peer_t *peer) {
  FILE *f = fopen(o->json, "w");
  if (!f) {
    ng_cli_error(CMD, "cannot write %s: %s", o->json, strerror(errno));
    return -1;
  }
  fprintf(f, "{\"meta\": {\"blas\": ");
  json_str(f, m->blas);
  fprintf(f, ", \"cpu\": ");
  json_str(f, m->cpu);
  fprintf(f, ", \"threads\": %d, \"quick\": %d, \"target_s\": %g, \"damping\": %g, "
             "\"cg_iters\": %d, \"max_kl\": %g},\n",
          o->threads, o->quick, o->target_s, DAMPING, CG_ITERS, MAX_KL);
  fprintf(f, " \"dgemm\": {\"square_n\": %d, \"tall_m\": %d, \"tall_n\": %d, \"tall_k\": %d, "
             "\"square_gflops\": ", SQ_N, TALL_M, TALL_N, TALL_N);
  json_num(f, m->sq1);
  fprintf(f, ", \"tall_gflops\": ");
  json_num(f, m->tall1);
  fprintf(f, ", \"square_gflops_threads\": ");
  json_num(f, m->sqn);
  fprintf(f, ", \"tall_gflops_threads\": ");
  json_num(f, m->talln);
  fprintf(f, "},\n \"kernels\": [");
  for (int i = 0; i < n_k; i++) {
    const kernel_result_t *x = &k[i];
    fprintf(f, "%s\n  {\"policy\": \"%s\", \"dist\": \"%s\", \"n_in\": %zu, \"hidden\": [64, 64], "
               "\"n_out\": %zu, \"k\": %zu, \"N\": %zu, \"n_params\": %zu, \"factored\": %d, "
               "\"cache_bytes\": %zu, \"ops\": {",
            i ? "," : "", x->pol->name, x->pol->gauss ? "gaussian" : "categorical", x->pol->n_in,
            x->pol->out_dim, x->k, x->batch, x->n_params, x->factored, x->cache_bytes);
    for (int op = 0; op < N_OPS; op++) {
      const op_result_t *q = &x->op[op];
      fprintf(f, "%s\n    \"%s\": {\"flops\": %.17g, ", op ? "," : "", OP_NAMES[op], q->flops);
      json_timing(f, "t1", &q->t1, q->flops, m->tall1, m->sq1);
      if (o->threads > 1) {
        fprintf(f, ", ");
        json_timing(f, "tn", &q->tn, q->flops, m->tall1, m->sq1);
        fprintf(f, ", ");
        json_timing(f, "tblas", &q->tb, q->flops, m->tall1, m->sq1);
      }
      fprintf(f, "}");
    }
    fprintf(f, "}}");
  }
  fprintf(f, "\n ],\n \"envs\": [");
  for (int i = 0; i < n_e; i++) {
    fprintf(f, "%s\n  {\"id\": \"%s\", \"status\": %d, \"steps_per_s\": ", i ? "," : "", e[i].id,
            e[i].status);
    json_num(f, e[i].rate1);
    fprintf(f, ", \"steps_per_s_threads\": ");
    json_num(f, e[i].rate_n);
    fprintf(f, "}");
  }
  fprintf(f, "\n ],\n \"runs\": [");
  for (int i = 0; i < n_r; i++) {
    fprintf(f, "%s\n  {\"env\": \"%s\", \"threads\": %d, \"status\": %d, \"steps\": %ld, "
               "\"iterations\": %d, \"wall_s\": %.6g, \"rollout_s\": %.6g, \"update_s\": %.6g, "
               "\"last_mean_return\": ",
            i ? "," : "", r[i].env, r[i].threads, r[i].status, r[i].steps, r[i].iterations,
            r[i].wall_s, r[i].rollout_s, r[i].update_s);
    json_num(f, r[i].mean_return);
    fprintf(f, "}");
  }
  fprintf(f, "\n ]");
  if (peer) {
    fprintf(f, ",\n \"peer\": {\"torch\": ");
    json_str(f, peer->torch);
    fprintf(f, ", \"blas\": ");
    json_str(f, peer->blas);
    fprintf(f, ", \"results\": [");
    for (int i = 0; i < peer->n; i++) {
      const peer_row_t *p = &peer->rows[i];
      fprintf(f, "%s\n  {\"policy\": \"%s\", \"N\": %zu, \"dtype\": \"%s\", \"threads\": %d, "
                 "\"grad_s\": %.9g, \"kl_setup_s\": %.9g, \"fvp_s\": %.9g, \"cg10_s\": %.9g}",
              i ? "," : "", p->policy, p->batch, p->dtype, p->threads, p->grad_s, p->setup_s,
              p->fvp_s, p->cg10_s);
    }
    fprintf(f, "\n ]}");
  }
  fprintf(f, "\n}\n");
  if (fclose(f) != 0) {
    ng_cli_error(CMD, "writing %s failed", o->json);
    return -1;
  }
  return 0;
}

static void print_kernels(const opts_t *o, const machine_t *m, const kernel_result_t *k,
                          int n_k) {
  printf("\nkernels (medians; FLOPs of the matrix products; %%tall = share of the tall-skinny "
         "DGEMM rate)\n");
  printf("%-8s %7s %-6s %10s %9s %8s %6s", "policy", "N", "op", "MFLOP", "ms", "GFLOP/s",
         "%tall");
  if (o->threads > 1)
    printf(" | %9s %6s | %9s %6s", "ms ours", "x", "ms blas", "x");
  printf("\n");
  for (int i = 0; i < n_k; i++)
    for (int op = 0; op < N_OPS; op++) {
      const op_result_t *q = &k[i].op[op];
      double g = gflops(q->flops, &q->t1);
      printf("%-8s %7zu %-6s %10.2f %9.3f %8.2f %5.0f%%", k[i].pol->name, k[i].batch,
             OP_NAMES[op], q->flops * 1e-6, 1e3 * q->t1.median_s, g, 100.0 * g / m->tall1);
      if (o->threads > 1)
        printf(" | %9.3f %6.2f | %9.3f %6.2f", 1e3 * q->tn.median_s,
               q->t1.median_s / q->tn.median_s, 1e3 * q->tb.median_s,
               q->t1.median_s / q->tb.median_s);
      printf("\n");
    }
}

static void print_peer(const opts_t *o, const kernel_result_t *k, int n_k, const peer_t *peer) {
  printf("\nPyTorch reference (torch %s; BLAS %s), same sizes, one thread; speed-up = torch "
         "time / natgrad time\n", peer->torch, peer->blas);
  printf("%-8s %7s | %8s %8s %9s | %8s %8s %9s | %9s | %6s %6s %6s | %8s\n", "policy", "N",
         "grad ms", "fvp ms", "cg10 ms", "t64 grad", "t64 fvp", "t64 cg10", "t32 cg10",
         "grad x", "fvp x", "cg10 x", "cg10 x32");
  for (int i = 0; i < n_k; i++) {
    const peer_row_t *d = peer_find(peer, k[i].pol->peer, k[i].batch, "float64", 1);
    const peer_row_t *s = peer_find(peer, k[i].pol->peer, k[i].batch, "float32", 1);
    if (!d || !s) continue;
    const op_result_t *q = k[i].op;
    printf("%-8s %7zu | %8.3f %8.3f %9.3f | %8.3f %8.3f %9.3f | %9.3f | %6.1f %6.1f %6.1f "
           "| %8.1f\n",
           k[i].pol->name, k[i].batch, 1e3 * q[OP_GRAD].t1.median_s,
           1e3 * q[OP_FVP].t1.median_s, 1e3 * q[OP_CG10].t1.median_s, 1e3 * d->grad_s,
           1e3 * d->fvp_s, 1e3 * d->cg10_s, 1e3 * s->cg10_s, d->grad_s / q[OP_GRAD].t1.median_s,
           d->fvp_s / q[OP_FVP].t1.median_s, d->cg10_s / q[OP_CG10].t1.median_s,
           s->cg10_s / q[OP_CG10].t1.median_s);
  }
  if (o->threads > 1) {
    printf("with %d threads each (natgrad's pool vs torch.set_num_threads(%d)):\n", o->threads,
           o->threads);
    for (int i = 0; i < n_k; i++) {
      const peer_row_t *d = peer_find(peer, k[i].pol->peer, k[i].batch, "float64", o->threads);
      if (!d) continue;
      printf("%-8s %7zu | cg10 %9.3f ms vs torch f64 %9.3f ms: %5.1fx\n", k[i].pol->name,
             k[i].batch, 1e3 * k[i].op[OP_CG10].tn.median_s, 1e3 * d->cg10_s,
             d->cg10_s / k[i].op[OP_CG10].tn.median_s);
    }
  }
}

/* The targets, each with ok / MISS and by how much. */
static void print_targets(const machine_t *m, const kernel_result_t *k, int n_k,
                          const run_result_t *r, int n_r, const peer_t *peer) {
  printf("\ntargets (one core)\n");
  for (int i = 0; i < n_k; i++) {
    const op_result_t *q = k[i].op;
    double ratio = q[OP_FVP].t1.median_s / q[OP_GRAD].t1.median_s;
    printf("  %-8s %7zu  F.v / gradient = %.2f (<= 1.5): %s\n", k[i].pol->name, k[i].batch,
           ratio, ratio <= 1.5 ? "ok" : "MISS");
  }
  for (int i = 0; i < n_k; i++) {
    if (k[i].batch < 5000) continue;
    for (int op = OP_GRAD; op <= OP_FVP; op += OP_FVP - OP_GRAD) {
      double f = gflops(k[i].op[op].flops, &k[i].op[op].t1) / m->tall1;
      printf("  %-8s %7zu  %-4s at %.0f%% of tall-skinny DGEMM (>= 50%%): %s\n", k[i].pol->name,
             k[i].batch, OP_NAMES[op], 100.0 * f, f >= 0.5 ? "ok" : "MISS");
    }
  }
  if (peer) {
    for (int i = 0; i < n_k; i++) {
      const peer_row_t *d = peer_find(peer, k[i].pol->peer, k[i].batch, "float64", 1);
      const peer_row_t *s = peer_find(peer, k[i].pol->peer, k[i].batch, "float32", 1);
      if (!d || !s) continue;
      double c = k[i].op[OP_CG10].t1.median_s, x64 = d->cg10_s / c, x32 = s->cg10_s / c;
      printf("  %-8s %7zu  cg10 vs torch: %.1fx f64 (>= 4): %s, %.1fx f32 (>= 2): %s\n",
             k[i].pol->name, k[i].batch, x64, x64 >= 4.0 ? "ok" : "MISS", x32,
             x32 >= 2.0 ? "ok" : "MISS");
    }
  }
  for (int i = 0; i < n_r; i++) {
    double limit = !strcmp(r[i].env, "CartPole-v1") ? 1.0 : 2.0;
    if (r[i].status) continue;
    printf("  %-12s %ld steps, %d thread%s: %.2f s (< %.0f s): %s\n", r[i].env, r[i].steps,
           r[i].threads, r[i].threads > 1 ? "s" : "", r[i].wall_s, limit,
           r[i].wall_s < limit ? "ok" : "MISS");
  }
}

/* ---- the command -------------------------------------------------------------------------- */

/* The DGEMM rates at 1 (and N) OpenBLAS threads; each kept at the highest of the medians
 * measured so far (the first call sets them). */
static void measure_dgemm(const opts_t *o, machine_t *m) {
  double sq = gemm_gflops(SQ_N, SQ_N, SQ_N, o->target_s);
  double tall = gemm_gflops(TALL_M, TALL_N, TALL_N, o->target_s);
  m->sq1 = m->sq1 > sq ? m->sq1 : sq;
  m->tall1 = m->tall1 > tall ? m->tall1 : tall;
  if (o->threads > 1) {
    openblas_set_num_threads(o->threads);
    sq = gemm_gflops(SQ_N, SQ_N, SQ_N, o->target_s);
    tall = gemm_gflops(TALL_M, TALL_N, TALL_N, o->target_s);
    openblas_set_num_threads(1);
    m->sqn = m->sqn > sq ? m->sqn : sq;
    m->talln = m->talln > tall ? m->talln : tall;
  }
}

int ng_cmd_bench(int argc, char **argv) {
  opts_t o;
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0) return rc;
  if (o.point) return run_point(&o);
  if (o.growth) return run_growth(&o);

  char peer_dir[4096] = "";
  if (o.peer) {
    if (find_peer_dir(&o, peer_dir, sizeof peer_dir) != 0) {
      ng_cli_error(CMD, "--peer: %s/%s not found (give its folder with --peer-dir DIR or "
                   "NG_PEER_DIR)", peer_dir, PEER_SCRIPT);
      return NG_EXIT_USAGE;
    }
    if (peer_check_torch() != 0) {
      ng_cli_error(CMD, "--peer: %s cannot import torch: the PyTorch reference needs Debian's "
                   "python3-torch (apt-get install python3-torch libopenblas0-openmp; see "
                   "%s/README.md)", PEER_PYTHON, peer_dir);
      return NG_EXIT_FAILURE;
    }
  }

  machine_t m;
  memset(&m, 0, sizeof m);
  m.sqn = m.talln = NAN;
  openblas_set_num_threads(1);
  snprintf(m.blas, sizeof m.blas, "OpenBLAS %s", openblas_get_config());
  cpu_name(m.cpu, sizeof m.cpu);
  ng_pool_t *pool = NULL;
  if (o.threads > 1) {
    int st = ng_pool_create(&pool, o.threads);
    if (st) {
      ng_cli_error(CMD, "cannot start %d threads: %s", o.threads, ng_strerror(st));
      return NG_EXIT_FAILURE;
    }
  }
  printf("natgrad bench%s: %s; %s\n", o.quick ? " --quick" : "", m.cpu, m.blas);
  fflush(stdout);
  measure_dgemm(&o, &m);

  int n_k = 2 * o.n_sizes, status = NG_EXIT_OK;
  kernel_result_t *k = calloc((size_t)n_k, sizeof *k);
  if (!k) {
    ng_pool_destroy(pool);
    return NG_EXIT_FAILURE;
  }
  int done_k = 0;
  for (int pi = 0; pi < 2 && status == NG_EXIT_OK; pi++)
    for (int si = 0; si < o.n_sizes; si++) {
      fprintf(stderr, "  timing %s at N = %zu...\n", POLICIES[pi].name, o.sizes[si]);
      int st = run_kernels(&o, &POLICIES[pi], o.sizes[si], pool, &k[done_k]);
      if (st) {
        ng_cli_error(CMD, "%s at N = %zu: %s", POLICIES[pi].name, o.sizes[si], ng_strerror(st));
        status = NG_EXIT_FAILURE;
        break;
      }
      done_k++;
    }
  /* the roofline again after the kernels: the machine is shared, so each rate is the higher
   * of its two medians */
  measure_dgemm(&o, &m);
  printf("DGEMM, one thread: %.1f GFLOP/s square (%d^3), %.1f GFLOP/s tall-skinny "
         "(%dx%d by %dx%d)\n", m.sq1, SQ_N, m.tall1, TALL_M, TALL_N, TALL_N, TALL_N);
  if (o.threads > 1)
    printf("DGEMM, %d OpenBLAS threads: %.1f GFLOP/s square, %.1f GFLOP/s tall-skinny\n",
           o.threads, m.sqn, m.talln);
  print_kernels(&o, &m, k, done_k);
  fflush(stdout);

  env_result_t envs[64];
  int n_e = 0;
  if (o.envs && status == NG_EXIT_OK) {
    printf("\nenvironment steps/s (random actions; one env on one thread");
    if (o.threads > 1) printf("; %d envs on %d threads, total", o.threads, o.threads);
    printf(")\n");
    for (size_t i = 0; i < ng_env_count() && n_e < 64; i++) {
      const ng_env_info_t *info = ng_env_info_at(i);
      env_result_t e = bench_env(&o, info, pool);
      if (e.status == NG_EUNSUPPORTED) continue; /* e.g. MuJoCo not built in */
      envs[n_e++] = e;
      if (e.status)
        printf("  %-26s failed: %s\n", e.id, ng_strerror(e.status));
      else if (o.threads > 1)
        printf("  %-26s %12.0f   %12.0f (%.2fx)\n", e.id, e.rate1, e.rate_n, e.rate_n / e.rate1);
      else
        printf("  %-26s %12.0f\n", e.id, e.rate1);
      fflush(stdout);
    }
  }

  run_result_t runs[4];
  int n_r = 0;
  if (o.runs && status == NG_EXIT_OK) {
    const char *ids[2] = {"CartPole-v1", "Pendulum-v1"};
    printf("\nfull TRPO runs (the tuned defaults of `natgrad train`)\n");
    for (int i = 0; i < 2; i++)
      for (int t = 1; t <= (o.threads > 1 ? 2 : 1); t++) {
        run_result_t *r = &runs[n_r++];
        train_run(ids[i], t == 1 ? 1 : o.threads, r);
        if (r->status) {
          printf("  %-12s failed: %s\n", r->env, r->message);
          continue;
        }
        printf("  %-12s %ld steps, %d iterations, %d thread%s: %.2f s (rollout %.2f s, update "
               "%.2f s), last mean return %.1f\n",
               r->env, r->steps, r->iterations, r->threads, r->threads > 1 ? "s" : "", r->wall_s,
               r->rollout_s, r->update_s, r->mean_return);
        fflush(stdout);
      }
  }

  peer_t *peer = NULL;
  if (o.peer && status == NG_EXIT_OK) {
    peer = calloc(1, sizeof *peer);
    printf("\nrunning the PyTorch reference (%s/%s)...\n", peer_dir, PEER_SCRIPT);
    fflush(stdout);
    if (!peer || run_peer(&o, peer_dir, peer) != 0) {
      ng_cli_error(CMD, "--peer: the PyTorch reference failed (its messages are above)");
      free(peer);
      peer = NULL;
      status = NG_EXIT_FAILURE;
    } else {
      print_peer(&o, k, done_k, peer);
    }
  }
  print_targets(&m, k, done_k, runs, n_r, peer);
  if (o.json && write_json(&o, &m, k, done_k, envs, n_e, runs, n_r, peer) != 0)
    status = NG_EXIT_FAILURE;
  free(peer);
  free(k);
  ng_pool_destroy(pool);
  return status;
}
