/* The benchmark harness behind `natgrad bench` (entry: ng_cmd_bench, declared with the other
 * commands in cli/cli.h). It measures the library through its public headers only:
 *
 *   timing.c   the clock, medians of repeated runs, this machine's DGEMM rates
 *   kernels.c  the TRPO kernels on the peer's shapes (gradient, Fisher set-up, F.v, 10 CG
 *              iterations) and the trainer's own policy update (ng_rl_iterate's
 *              policy_update_seconds), with their FLOP counts
 *   envs.c     environment steps per second and whole training runs
 *   peer.c     the PyTorch reference (torch_fvp_bench.py), run at its best in a child
 *   growth.c   time and peak memory against batch and width (--growth)
 *   report.c   the printed tables, the targets and the JSON
 *   bench.c    options and the suite
 *
 * Policies: "cartpole" = 4 -> 64 tanh -> 64 tanh -> 2 logits (categorical) and "hopper" =
 * 11 -> 64 tanh -> 64 tanh -> 3 means with state-independent log stds (Gaussian). Every time
 * is a median of repeated runs. FLOPs count the matrix products only (2 m n k each), from the
 * shapes alone (ng_bench_flops and docs/performance.md); tests/test_bench.c recounts them from
 * the JSON. */
#ifndef NG_BENCH_H
#define NG_BENCH_H

#include <stddef.h>

#include "cli.h"
#include "natgrad/env.h"
#include "natgrad/fisher.h"
#include "natgrad/linalg.h"
#include "natgrad/model.h"
#include "natgrad/optim.h"
#include "natgrad/pool.h"

#define NG_BENCH_CMD "bench"
#define NG_BENCH_DAMPING 0.1
#define NG_BENCH_CG_ITERS 10
#define NG_BENCH_MAX_KL 0.01
#define NG_BENCH_MAX_SIZES 16
#define NG_BENCH_PEER_SCRIPT "torch_fvp_bench.py"

/* ---- options (bench.c) ------------------------------------------------------------------ */

typedef struct {
  int quick, threads, peer, runs, envs;
  const char *json, *growth, *point;
  const char *peer_dir;  /* --peer-dir, else $NG_PEER_DIR, else searched */
  const char *python;    /* --python, else $NG_PYTHON, else python3 on PATH */
  const char *peer_blas; /* --peer-blas, else $NG_PEER_BLAS_DIR, else torch's own */
  double target_s;
  size_t sizes[NG_BENCH_MAX_SIZES];
  int n_sizes;
} ng_bench_opts_t;

/* ---- timing (timing.c) ------------------------------------------------------------------ */

typedef struct {
  double median_s, p10_s, p90_s;
  int reps, status;
} ng_bench_timing_t;

/* One timed call: returns a status; sets *self_s to the time of the part it measures itself
 * (e.g. the policy update inside a training iteration), or leaves it NAN to be timed whole. */
typedef int (*ng_bench_op_fn)(void *ctx, double *self_s);

/* Calls op once to warm up and estimate its cost (this first call is never a sample), then
 * repeats it to fill target_s of wall time (at least min_reps, at most a few hundred
 * times): the median and 10/90% quantiles of the samples. */
ng_bench_timing_t ng_bench_time_op(ng_bench_op_fn op, void *ctx, double target_s, int min_reps);
/* GFLOP/s of flops at t's median (NAN if t has no samples). */
double ng_bench_gflops(double flops, const ng_bench_timing_t *t);

/* The roofline: OpenBLAS DGEMM rates at one (and o->threads) OpenBLAS threads on a square
 * product (SQ_N^3) and on an MLP layer's tall-skinny one (TALL_M x TALL_N by TALL_N x TALL_N). */
#define NG_BENCH_SQ_N 1000
#define NG_BENCH_TALL_M 25000
#define NG_BENCH_TALL_N 64
typedef struct {
  char blas[512], cpu[256];
  double sq1, tall1, sqn, talln; /* GFLOP/s at 1 and N OpenBLAS threads */
  double load_start[3], load_end[3]; /* /proc/loadavg before and after */
} ng_bench_machine_t;
/* Measures the rates again, keeping each at the highest median so far (the machine is
 * shared: a rate measured while another job ran is only a lower bound). */
void ng_bench_measure_dgemm(const ng_bench_opts_t *o, ng_bench_machine_t *m);
/* The 1-, 5- and 15-minute load averages (NAN if unknown). */
void ng_bench_loadavg(double load[3]);

/* ---- the kernels (kernels.c) ------------------------------------------------------------ */

typedef enum { NG_BENCH_GRAD, NG_BENCH_SETUP, NG_BENCH_FVP, NG_BENCH_CG10, NG_BENCH_UPDATE,
               NG_BENCH_N_OPS } ng_bench_op_t;
extern const char *const ng_bench_op_names[NG_BENCH_N_OPS];

typedef struct {
  const char *name;   /* ours */
  const char *peer;   /* the peer's */
  const char *env_id; /* the environment whose trainer runs the update */
  size_t n_in, out_dim;
  int gauss;
} ng_bench_policy_t;
extern const ng_bench_policy_t ng_bench_policies[2];
/* "cartpole" or "hopper"; NULL if neither. */
const ng_bench_policy_t *ng_bench_policy_find(const char *name);

/* Matrix-product FLOPs of one pass of each kind, from the layer sizes s_0 .. s_L, the batch
 * N and the factor rows k per sample (fisher.h):
 *   fwd    = 2N sum_l s_l s_{l+1}
 *   grad   = fwd + 2N sum_l s_l s_{l+1} (dW) + 2N sum_{l>=1} s_l s_{l+1} (dX)
 *          = 3 fwd - 2N s_0 s_1
 *   setup  = fwd, plus on the factored path the cached deltas (ng_mlp_deltas): for L >= 3,
 *            2Nk (s_L s_{L-1} + s_{L-1} s_{L-2}) + 2Nk sum_{l=1}^{L-3} s_{l+1} s_l
 *   fvp    = factored: 2 fwd + 4N s_{L-1} s_L (for L >= 2; 2 fwd for L = 1)
 *            JVP/VJP:  4 fwd - 4N s_0 s_1
 * and the trainer's policy update (src/rl/trpo.c) with c CG iterations and t line-search
 * trials: grad + setup + (c + 1) fvp + t fwd (gradient, set-up, CG, s^T F s, and each
 * trial's forward; the rest is elementwise). */
typedef struct {
  double fwd, grad, setup, fvp;
} ng_bench_flops_t;
ng_bench_flops_t ng_bench_flops(size_t L, const size_t *s, size_t batch, size_t k,
                                int factored);
double ng_bench_update_flops(const ng_bench_flops_t *f, double cg_iters, double trials);

/* A policy of widths hidden x hidden over `batch` random observations, with sampled actions,
 * their old log-probs and random advantages. */
typedef struct {
  const ng_bench_policy_t *pol;
  size_t hidden[2], batch, n, n_in, a_size, np, k;
  size_t sizes[4]; /* the MLP's layer sizes */
  ng_model_t *model;
  ng_model_ws_t *ws;
  ng_fisher_t *fisher; /* NULL for a gradient-only problem */
  ng_cg_t *cg;
  double *theta, *x, *act, *p_old, *logp_old, *adv, *w, *logp, *g, *v, *out, *s;
} ng_bench_problem_t;
/* What a problem holds: everything, the gradient's part only, or the Fisher's part only (the
 * memory curves attribute each op's memory alone). */
enum { NG_BENCH_PROBLEM_FULL, NG_BENCH_PROBLEM_GRAD, NG_BENCH_PROBLEM_FISHER };
int ng_bench_problem_init(ng_bench_problem_t *p, const ng_bench_policy_t *pol, size_t hidden,
                          size_t batch, int what, uint64_t seed);
void ng_bench_problem_free(ng_bench_problem_t *p);
/* The ops on a problem (ng_bench_op_fn, ctx = the problem): the surrogate's gradient, the
 * Fisher at theta, one F.v, 10 CG iterations (needs grad and setup first). */
int ng_bench_op_grad(void *ctx, double *self_s);
int ng_bench_op_setup(void *ctx, double *self_s);
int ng_bench_op_fvp(void *ctx, double *self_s);
int ng_bench_op_cg10(void *ctx, double *self_s);

typedef struct {
  double flops;
  ng_bench_timing_t t1; /* one thread */
  ng_bench_timing_t tn; /* natgrad's pool of N threads (OpenBLAS at 1) */
  ng_bench_timing_t tb; /* OpenBLAS at N threads, no pool */
} ng_bench_op_result_t;

typedef struct {
  const ng_bench_policy_t *pol;
  size_t batch, n_params, k;
  int factored;
  size_t cache_bytes;
  ng_bench_flops_t passes;
  ng_bench_op_result_t op[NG_BENCH_N_OPS];
  /* the update, timed in the trainer: its status (NG_OK, else op[NG_BENCH_UPDATE] is empty
   * and update_error says why, e.g. MuJoCo not built in), the trainer's policy size, and
   * the mean CG iterations and line-search trials of the timed updates, and how many of
   * them skipped the step */
  int update_status;
  char update_error[512];
  size_t update_n_params;
  double update_cg_iters, update_trials;
  int update_skipped;
} ng_bench_kernel_result_t;

/* Times every op of one (policy, batch), at one thread and, with o->threads > 1, on pool and
 * with that many OpenBLAS threads. A failed update is recorded in r, not returned. */
int ng_bench_run_kernels(const ng_bench_opts_t *o, const ng_bench_policy_t *pol, size_t batch,
                         ng_pool_t *pool, ng_bench_kernel_result_t *r);

/* ---- environments and runs (envs.c) ----------------------------------------------------- */

typedef struct {
  const char *id;
  double rate1, rate_n; /* steps/s: one env on one thread; N envs on N threads (total) */
  int status;
} ng_bench_env_result_t;

typedef struct {
  const char *env;
  int threads;
  long steps;
  double wall_s, rollout_s, update_s, policy_update_s, mean_return;
  int iterations, status;
  char message[512];
} ng_bench_run_result_t;

/* Steps one env (and, with o->threads > 1, one per thread) with random actions. */
ng_bench_env_result_t ng_bench_env(const ng_bench_opts_t *o, const ng_env_info_t *info,
                                   ng_pool_t *pool);
/* A whole training run with the tuned defaults of `natgrad train`. */
void ng_bench_train_run(const char *env, int threads, ng_bench_run_result_t *r);

/* ---- the PyTorch peer (peer.c) ----------------------------------------------------------- */

typedef struct {
  char policy[16], dtype[16];
  size_t batch;
  int threads;
  double grad_s, setup_s, fvp_s, cg10_s;
} ng_bench_peer_row_t;

typedef struct {
  char script[4096];    /* the peer's path */
  char python[4096];    /* the interpreter that runs it */
  char blas_dir[4096];  /* LD_LIBRARY_PATH of the peer's process ("" for none) */
  char torch[64];       /* torch.__version__ */
  char blas[1024];      /* the BLAS libraries the peer's process loaded */
  ng_bench_peer_row_t rows[256];
  int n;
} ng_bench_peer_t;

/* The settings the peer runs with, in its environment only (never natgrad's): glibc's malloc
 * keeps freed memory instead of unmapping and faulting it in again (see the peer's README). */
#define NG_BENCH_PEER_MMAP_MAX "0"
#define NG_BENCH_PEER_TRIM_THRESHOLD "17179869184"

/* Finds the peer's script and an interpreter that imports torch on OpenBLAS. Returns the
 * exit status to stop with after printing why (NG_EXIT_USAGE: no script; NG_EXIT_FAILURE:
 * no torch, or torch not on OpenBLAS), or -1 to go on. */
int ng_bench_peer_prepare(const ng_bench_opts_t *o, ng_bench_peer_t *p);
/* Runs the peer on o's sizes (one thread, and o->threads), float32 and float64; 0 or -1. */
int ng_bench_peer_run(const ng_bench_opts_t *o, ng_bench_peer_t *p);
const ng_bench_peer_row_t *ng_bench_peer_find(const ng_bench_peer_t *p, const char *policy,
                                              size_t batch, const char *dtype, int threads);

/* ---- growth curves (growth.c) ------------------------------------------------------------ */

/* `--point op:policy:hidden:batch`, run in a child: one line of numbers on stdout. */
int ng_bench_point(const ng_bench_opts_t *o);
/* `--growth DIR`: the sweeps, one child per point, into DIR/growth-*.svg and growth.json. */
int ng_bench_growth(const ng_bench_opts_t *o);

/* ---- output (report.c) -------------------------------------------------------------------- */

typedef struct {
  const ng_bench_opts_t *o;
  const ng_bench_machine_t *m;
  const ng_bench_kernel_result_t *k;
  int n_k;
  const ng_bench_env_result_t *e;
  int n_e;
  const ng_bench_run_result_t *r;
  int n_r;
  const ng_bench_peer_t *peer; /* NULL without --peer */
} ng_bench_results_t;

void ng_bench_cpu_name(char *buf, size_t size);
void ng_bench_print_kernels(const ng_bench_results_t *res);
void ng_bench_print_peer(const ng_bench_results_t *res);
/* The performance targets, each with ok / MISS. */
void ng_bench_print_targets(const ng_bench_results_t *res);
/* Every number into o->json; 0, or -1 after printing why. */
int ng_bench_write_json(const ng_bench_results_t *res);

#endif
