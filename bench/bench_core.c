/* bench_core: times natgrad's TRPO kernels on the peer's shapes (shared/peers/README.md):
 * the surrogate gradient, one Fisher-vector product, the Fisher's set-up (its one forward
 * pass) and 10 CG iterations, for a Hopper-sized Gaussian policy (11 -> 64 -> 64 -> 3) and
 * a CartPole-sized categorical one (4 -> 64 -> 64 -> 2), at batches 1k / 5k / 25k.
 * Also measures the machine's DGEMM rate on a square and on the tall-skinny shape an MLP
 * layer has, and prints which BLAS is loaded. Medians of repeated runs; no asserts.
 *
 * usage: bench_core [--sizes 1000,5000,25000] [--target-s 1.0] [--json FILE] [--quick]
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natgrad/fisher.h"
#include "natgrad/linalg.h"
#include "natgrad/model.h"
#include "natgrad/optim.h"

/* OpenBLAS extensions (not in the standard CBLAS header everywhere). */
char *openblas_get_config(void);
void openblas_set_num_threads(int n);

#define DAMPING 0.1
#define MAX_REPS 500

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
  int reps;
} timing_t;

typedef int (*op_fn)(void *ctx);

/* Runs op twice to warm up, estimates its cost, then repeats it to fill target_s
 * (at least min_reps times) and returns the median and the 10/90% quantiles. */
static timing_t bench(op_fn op, void *ctx, double target_s, int min_reps) {
  static double ts[MAX_REPS];
  op(ctx);
  op(ctx);
  double t0 = now_s();
  op(ctx);
  double est = now_s() - t0;
  if (est < 1e-7) est = 1e-7;
  int reps = (int)(target_s / est);
  if (reps < min_reps) reps = min_reps;
  if (reps > MAX_REPS) reps = MAX_REPS;
  for (int i = 0; i < reps; i++) {
    t0 = now_s();
    op(ctx);
    ts[i] = now_s() - t0;
  }
  qsort(ts, (size_t)reps, sizeof ts[0], cmp_double);
  timing_t t = {ts[reps / 2], ts[reps / 10], ts[(reps * 9) / 10], reps};
  if (reps % 2 == 0) t.median_s = 0.5 * (ts[reps / 2 - 1] + ts[reps / 2]);
  return t;
}

/* ---- the problem: a policy, a batch, old log-probs and advantages ---- */

typedef struct {
  ng_model_t *model;
  ng_model_ws_t *ws;
  ng_fisher_t *fisher;
  ng_cg_t *cg;
  size_t n, batch;
  double *theta, *x, *act, *logp_old, *adv, *w, *logp, *g, *v, *out, *s;
} problem_t;

static int die(const char *what, int status) {
  fprintf(stderr, "bench_core: %s: %s\n", what, ng_strerror(status));
  exit(1);
}

static void problem_init(problem_t *p, int gauss, size_t batch, uint64_t seed) {
  size_t hidden[2] = {64, 64};
  ng_dist_t dist = gauss ? (ng_dist_t){NG_DIST_GAUSSIAN, 3} : (ng_dist_t){NG_DIST_CATEGORICAL, 2};
  size_t n_in = gauss ? 11 : 4;
  int st;
  memset(p, 0, sizeof *p);
  if ((st = ng_model_create(&p->model, n_in, 2, hidden, NG_ACT_TANH, dist,
                            NG_LOGSTD_STATE_INDEPENDENT)))
    die("model", st);
  p->n = ng_model_n_params(p->model);
  p->batch = batch;
  if ((st = ng_model_ws_create(&p->ws, p->model, batch))) die("workspace", st);
  if ((st = ng_fisher_create(&p->fisher, p->model, batch))) die("fisher", st);
  if ((st = ng_cg_create(&p->cg, p->n))) die("cg", st);
  size_t a_size = ng_dist_action_size(&dist);
  p->theta = malloc(p->n * sizeof(double));
  p->g = malloc(p->n * sizeof(double));
  p->v = malloc(p->n * sizeof(double));
  p->out = malloc(p->n * sizeof(double));
  p->s = malloc(p->n * sizeof(double));
  p->x = malloc(batch * n_in * sizeof(double));
  p->act = malloc(batch * a_size * sizeof(double));
  p->logp_old = malloc(batch * sizeof(double));
  p->logp = malloc(batch * sizeof(double));
  p->adv = malloc(batch * sizeof(double));
  p->w = malloc(batch * sizeof(double));
  if (!p->theta || !p->g || !p->v || !p->out || !p->s || !p->x || !p->act || !p->logp_old ||
      !p->logp || !p->adv || !p->w)
    die("allocation", NG_ENOMEM);
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  if ((st = ng_model_init(p->model, p->theta, 1.4142135623730951, 0.01, 0.0, &rng)))
    die("init", st);
  for (size_t i = 0; i < batch * n_in; i++) p->x[i] = ng_rng_normal(&rng);
  for (size_t i = 0; i < p->n; i++) p->v[i] = ng_rng_normal(&rng);
  for (size_t i = 0; i < batch; i++) p->adv[i] = ng_rng_normal(&rng);
  if ((st = ng_model_forward(p->model, p->theta, p->ws, batch, p->x, NULL))) die("forward", st);
  const double *P = ng_model_ws_params(p->ws);
  size_t np = ng_model_n_dist_params(p->model);
  for (size_t b = 0; b < batch; b++)
    if ((st = ng_dist_sample(&dist, P + b * np, &rng, p->act + b * a_size))) die("sample", st);
  if ((st = ng_model_logp(p->model, p->ws, batch, p->act, p->logp_old))) die("logp", st);
}

static void problem_free(problem_t *p) {
  ng_cg_destroy(p->cg);
  ng_fisher_destroy(p->fisher);
  ng_model_ws_destroy(p->ws);
  ng_model_destroy(p->model);
  free(p->theta), free(p->g), free(p->v), free(p->out), free(p->s), free(p->x), free(p->act);
  free(p->logp_old), free(p->logp), free(p->adv), free(p->w);
}

/* grad: forward + surrogate mean(A exp(logp - logp_old)) + its gradient, as the peer's op. */
static int op_grad(void *ctx) {
  problem_t *p = ctx;
  int st = ng_model_forward(p->model, p->theta, p->ws, p->batch, p->x, NULL);
  if (!st) st = ng_model_logp(p->model, p->ws, p->batch, p->act, p->logp);
  if (st) return st;
  for (size_t b = 0; b < p->batch; b++)
    p->w[b] = p->adv[b] * exp(p->logp[b] - p->logp_old[b]) / (double)p->batch;
  ng_vec_zero(p->n, p->g);
  return ng_model_logp_vjp(p->model, p->theta, p->ws, p->batch, p->act, p->w, p->g);
}

/* fisher_setup: the one forward pass a TRPO update pays before its products. */
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
  ng_cg_opts_t opts = {.max_iter = 10, .residual_tol = 0.0};
  return ng_natgrad_cg(p->fisher, p->cg, DAMPING, p->g, p->s, &opts, NULL);
}

/* ---- DGEMM rates ---- */

typedef struct {
  int m, n, k;
  double *a, *b, *c;
} gemm_t;

static int op_gemm(void *ctx) {
  gemm_t *g = ctx;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->m, g->n, g->k, 1.0, g->a, g->k, g->b,
              g->k, 0.0, g->c, g->n);
  return 0;
}

static double gemm_gflops(int m, int n, int k, double target_s) {
  gemm_t g = {m, n, k, calloc((size_t)m * k, 8), calloc((size_t)n * k, 8), calloc((size_t)m * n, 8)};
  if (!g.a || !g.b || !g.c) die("allocation", NG_ENOMEM);
  for (int i = 0; i < m * k; i++) g.a[i] = 1.0 / (1 + i % 7);
  for (int i = 0; i < n * k; i++) g.b[i] = 1.0 / (1 + i % 5);
  timing_t t = bench(op_gemm, &g, target_s, 5);
  free(g.a), free(g.b), free(g.c);
  return 2.0 * m * n * k / t.median_s * 1e-9;
}

/* FLOPs of one pass over the batch: 2 * sum over layers of batch * in * out per matrix
 * product. A forward is 1 product per layer; a VJP 2 (dW and dX; dX skipped on layer 0);
 * a JVP 2 (t W^T and a dW^T; the first skipped on layer 0). */
static double mlp_flops(size_t batch, int gauss) {
  size_t sizes[4] = {gauss ? 11 : 4, 64, 64, gauss ? 3 : 2};
  double f = 0;
  for (int l = 0; l < 3; l++) f += 2.0 * (double)batch * (double)(sizes[l] * sizes[l + 1]);
  return f;
}

int main(int argc, char **argv) {
  const char *sizes_arg = "1000,5000,25000";
  const char *json_path = NULL;
  double target_s = 1.0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sizes") && i + 1 < argc) sizes_arg = argv[++i];
    else if (!strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else if (!strcmp(argv[i], "--target-s") && i + 1 < argc) target_s = atof(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) target_s = 0.1;
    else {
      fprintf(stderr, "usage: bench_core [--sizes 1000,5000,25000] [--target-s S] [--json FILE] [--quick]\n");
      return 2;
    }
  }
  openblas_set_num_threads(1);
  const char *config = openblas_get_config();
  double sq = gemm_gflops(1000, 1000, 1000, target_s);
  double ts = gemm_gflops(25000, 64, 64, target_s);
  printf("BLAS: OpenBLAS %s (1 thread)\n", config);
  printf("DGEMM: %.1f GFLOP/s on 1000^3, %.1f GFLOP/s on 25000x64 by 64x64 (tall-skinny)\n\n",
         sq, ts);
  printf("%-6s %6s %9s %9s %9s %9s %7s %7s %9s\n", "policy", "N", "grad ms", "setup ms",
         "fvp ms", "cg10 ms", "fvp/g", "cg10/g", "fvp GF/s");
  FILE *js = NULL;
  if (json_path) {
    js = fopen(json_path, "w");
    if (!js) {
      fprintf(stderr, "bench_core: cannot write %s\n", json_path);
      return 1;
    }
    fprintf(js, "{\"meta\": {\"blas\": \"OpenBLAS %s\", \"dgemm_square_gflops\": %.3f, "
                "\"dgemm_tall_gflops\": %.3f, \"damping\": %g},\n \"results\": [",
            config, sq, ts, DAMPING);
  }
  int first = 1;
  for (int gauss = 1; gauss >= 0; gauss--) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", sizes_arg);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
      size_t batch = (size_t)strtoul(tok, NULL, 10);
      if (batch == 0) continue;
      problem_t p;
      problem_init(&p, gauss, batch, 0);
      int st = op_grad(&p);
      if (!st) st = op_setup(&p);
      if (st) die("first pass", st);
      timing_t tg = bench(op_grad, &p, target_s, 15);
      timing_t tsu = bench(op_setup, &p, target_s, 15);
      timing_t tf = bench(op_fvp, &p, target_s, 15);
      timing_t tc = bench(op_cg10, &p, target_s, 5);
      /* F.v on the factored path (fisher.h): two products per layer, A V^T and H^T A, so
       * twice a forward's matrix FLOPs (the elementwise work over r is not counted); on the
       * JVP/VJP path it would be four per layer less the two skipped on layer 0. */
      double fwd = mlp_flops(batch, gauss);
      size_t in0 = gauss ? 11 : 4;
      double fvp_flops = ng_fisher_cache_rows(p.fisher) >= batch
                             ? 2.0 * fwd
                             : 4.0 * fwd - 2.0 * 2.0 * (double)batch * (double)(in0 * 64);
      printf("%-6s %6zu %9.3f %9.3f %9.3f %9.3f %7.2f %7.2f %9.1f\n", gauss ? "gauss" : "cat",
             batch, tg.median_s * 1e3, tsu.median_s * 1e3, tf.median_s * 1e3, tc.median_s * 1e3,
             tf.median_s / tg.median_s, tc.median_s / tg.median_s,
             fvp_flops / tf.median_s * 1e-9);
      if (js) {
        fprintf(js, "%s\n  {\"policy\": \"%s\", \"N\": %zu, \"n_params\": %zu, "
                    "\"grad_s\": %.9g, \"setup_s\": %.9g, \"fvp_s\": %.9g, \"cg10_s\": %.9g, "
                    "\"fvp_flops\": %.6g}",
                first ? "" : ",", gauss ? "gauss" : "cat", batch, p.n, tg.median_s,
                tsu.median_s, tf.median_s, tc.median_s, fvp_flops);
        first = 0;
      }
      problem_free(&p);
    }
  }
  if (js) {
    fprintf(js, "\n]}\n");
    fclose(js);
  }
  return 0;
}
