/* The float32 value function (vf_precision = f32; src/mlp_f32.c): the float tanh against
 * tanh, the float forward and VJP against mlp.c's double passes and the VJP against central
 * differences of the float forward, bit-identical passes for 1-3 threads, and whole f32 runs:
 * 1 vs 3 threads identical, a resumed run identical to a straight one, the key's text and
 * its refusal under ACKTR. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "mlp_f32.h"
#include "mlp_kernels.h"
#include "natgrad/mlp.h"
#include "natgrad/rl.h"
#include "ng_test.h"

#define TANHF_RTOL 6e-7   /* ~5 float ulp; Eigen's kernel is within a few */
#define FWD_RTOL 2e-5     /* float forward vs double, relative to the outputs' max norm */
#define VJP_RTOL 2e-4     /* float gradient summed over up to 700 rows vs double */
#define FD_H 1e-2         /* central difference step on the float forward */
#define FD_RTOL 2e-3      /* truncation ~h^2 plus float rounding / h */
#define MAX_THREADS 3

typedef struct {
  const char *name;
  size_t n_layers, sizes[5];
  ng_act_t acts[4];
} arch_t;

static const arch_t ARCHS[] = {
    {"4-64-64-1 tanh", 3, {4, 64, 64, 1}, {NG_ACT_TANH, NG_ACT_TANH, NG_ACT_IDENTITY}},
    {"3-7-5-1 relu", 3, {3, 7, 5, 1}, {NG_ACT_RELU, NG_ACT_RELU, NG_ACT_IDENTITY}},
    {"5-8-3 mixed", 2, {5, 8, 3}, {NG_ACT_TANH, NG_ACT_TANH}},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])
static const size_t BATCHES[] = {1, 17, 257, 700};
#define N_BATCHES (sizeof BATCHES / sizeof BATCHES[0])
#define MAX_B 700

static ng_pool_t *g_pools[MAX_THREADS + 1];

static void fill(ng_rng_t *rng, size_t n, double *x, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = scale * ng_rng_normal(rng);
}

static void test_tanhf(void) {
  enum { N = 200003 };
  float *z = malloc(N * sizeof *z), *a = malloc(N * sizeof *a);
  if (!z || !a) {
    NG_CHECK(0);
    free(z), free(a);
    return;
  }
  for (size_t i = 0; i < N; i++) z[i] = (float)(-12.0 + 24.0 * (double)i / (N - 1));
  z[0] = -0.0f, z[1] = 1e-30f, z[2] = 3e-4f, z[3] = 5e-4f, z[4] = 1e30f, z[5] = -1e30f;
  ng__tanhf_array(N, z, a);
  double worst = 0.0;
  for (size_t i = 0; i < N; i++) {
    double want = tanh((double)z[i]), e = fabs((double)a[i] - want) / fabs(want);
    if (want == 0.0) e = a[i] == 0.0f ? 0.0 : 1.0;
    if (!(e <= worst)) worst = e;
  }
  fprintf(stderr, "  float tanh: max relative error %.3g (%.2f float ulp)\n", worst,
          worst / 0x1p-24);
  NG_CHECK(worst <= TANHF_RTOL);
  NG_CHECK(a[0] == 0.0f && signbit(a[0]));
  NG_CHECK(a[4] == 1.0f && a[5] == -1.0f);
  float sp[3] = {NAN, INFINITY, -INFINITY};
  ng__tanhf_array(3, sp, sp);
  NG_CHECK(isnan(sp[0]) && sp[1] == 1.0f && sp[2] == -1.0f);
  /* a tail shorter than a vector gives the bits the vector would */
  float t7[7], v7[7];
  for (int i = 0; i < 7; i++) t7[i] = 0.3f * (float)i - 1.0f;
  ng__tanhf_array(7, t7, v7);
  for (int i = 0; i < 7; i++) {
    float one;
    ng__tanhf_array(1, t7 + i, &one);
    NG_CHECK(memcmp(&one, v7 + i, sizeof one) == 0);
  }
  free(z), free(a);
}

/* sum_b <dy_b, f(x_b; theta)> from the float forward (accumulated in double) */
static double f32_objective(ng__mlpf_t *f, size_t B, size_t n_out, const double *theta,
                            const double *x, const double *dy, double *y) {
  if (ng__mlpf_load(f, theta) || ng__mlpf_forward(f, B, x, y)) return NAN;
  double s = 0.0;
  for (size_t i = 0; i < B * n_out; i++) s += dy[i] * y[i];
  return s;
}

static void test_against_double(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 18, 0);
  for (size_t ai = 0; ai < N_ARCHS; ai++) {
    const arch_t *A = &ARCHS[ai];
    ng_mlp_t *mlp = NULL;
    NG_CHECK_OK(ng_mlp_create(&mlp, A->n_layers, A->sizes, A->acts));
    if (!mlp) continue;
    const size_t np = ng_mlp_n_params(mlp), ni = ng_mlp_n_in(mlp), no = ng_mlp_n_out(mlp);
    double *theta = malloc(np * sizeof *theta), *x = malloc(MAX_B * ni * sizeof *x);
    double *dy = malloc(MAX_B * no * sizeof *dy), *y64 = malloc(MAX_B * no * sizeof *y64);
    double *y32 = malloc(MAX_B * no * sizeof *y32), *g64 = malloc(np * sizeof *g64);
    double *g32 = malloc(np * sizeof *g32), *tp = malloc(np * sizeof *tp);
    ng_mlp_ws_t *ws = NULL;
    ng__mlpf_t *f = NULL;
    NG_CHECK_OK(ng_mlp_ws_create(&ws, mlp, MAX_B));
    NG_CHECK_OK(ng__mlpf_create(&f, mlp, MAX_B, 0));
    if (!theta || !x || !dy || !y64 || !y32 || !g64 || !g32 || !tp || !ws || !f) {
      NG_CHECK(0);
      goto next;
    }
    double gains[4] = {1.2, 1.2, 1.2, 1.2};
    NG_CHECK_OK(ng_mlp_init_normal(mlp, theta, gains, &rng));
    fill(&rng, np, tp, 0.1); /* non-zero biases too */
    for (size_t i = 0; i < np; i++) theta[i] += tp[i];
    for (size_t bi = 0; bi < N_BATCHES; bi++) {
      const size_t B = BATCHES[bi];
      fill(&rng, B * ni, x, 1.0);
      fill(&rng, B * no, dy, 1.0);
      NG_CHECK_OK(ng_mlp_forward(mlp, theta, ws, B, x, y64));
      NG_CHECK_OK(ng__mlpf_load(f, theta));
      NG_CHECK_OK(ng__mlpf_forward(f, B, x, y32));
      NG_CHECK_VEC_CLOSE(B * no, y32, y64, FWD_RTOL);
      memset(g64, 0, np * sizeof *g64);
      for (size_t i = 0; i < np; i++) g32[i] = 1.0; /* accumulates onto what is there */
      NG_CHECK_OK(ng_mlp_vjp(mlp, theta, ws, B, dy, g64, NULL));
      NG_CHECK_OK(ng__mlpf_vjp(f, B, dy, g32));
      for (size_t i = 0; i < np; i++) g32[i] -= 1.0;
      NG_CHECK_VEC_CLOSE(np, g32, g64, VJP_RTOL);
      /* central differences of the float forward, on a strided subset of parameters; not
       * through relu, whose kink lies within a float-sized step of some pre-activation (its
       * float VJP is checked against the double one above, which test_mlp checks by FD) */
      if (B != 17 || A->acts[0] == NG_ACT_RELU) continue;
      double worst = 0.0, gmax = 0.0;
      for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g32[i]));
      for (size_t i = 0; i < np; i += 1 + np / 150) {
        memcpy(tp, theta, np * sizeof *tp);
        tp[i] = theta[i] + FD_H;
        double up = f32_objective(f, B, no, tp, x, dy, y32);
        tp[i] = theta[i] - FD_H;
        double dn = f32_objective(f, B, no, tp, x, dy, y32);
        double e = fabs((up - dn) / (2 * FD_H) - g32[i]) / gmax;
        if (!(e <= worst)) worst = e;
      }
      if (!(worst <= FD_RTOL)) fprintf(stderr, "  %s: FD error %.3g\n", A->name, worst);
      NG_CHECK(worst <= FD_RTOL);
    }
    /* contracts: a VJP needs its forward; bad rows and non-finite inputs are refused */
    NG_CHECK_STATUS(ng__mlpf_forward(f, MAX_B + 1, x, y32), NG_EINVAL);
    NG_CHECK_STATUS(ng__mlpf_vjp(f, 3, dy, g32), NG_EINVAL);
    theta[0] = NAN;
    NG_CHECK_STATUS(ng__mlpf_load(f, theta), NG_ENONFINITE);
    theta[0] = 1e39; /* finite in double, beyond float */
    NG_CHECK_STATUS(ng__mlpf_load(f, theta), NG_ENONFINITE);
    x[0] = INFINITY;
    NG_CHECK_STATUS(ng__mlpf_forward(f, 2, x, y32), NG_ENONFINITE);
  next:
    ng__mlpf_destroy(f);
    ng_mlp_ws_destroy(ws);
    free(theta), free(x), free(dy), free(y64), free(y32), free(g64), free(g32), free(tp);
    ng_mlp_destroy(mlp);
  }
}

/* forward and VJP give the same bits for 1, 2 and 3 threads at every batch size */
static void test_threads(void) {
  const arch_t *A = &ARCHS[0];
  ng_mlp_t *mlp = NULL;
  NG_CHECK_OK(ng_mlp_create(&mlp, A->n_layers, A->sizes, A->acts));
  if (!mlp) return;
  const size_t np = ng_mlp_n_params(mlp), ni = ng_mlp_n_in(mlp);
  double *theta = malloc(np * sizeof *theta), *x = malloc(MAX_B * ni * sizeof *x);
  double *dy = malloc(MAX_B * sizeof *dy), *y[MAX_THREADS + 1] = {0}, *g[MAX_THREADS + 1] = {0};
  ng__mlpf_t *f = NULL;
  NG_CHECK_OK(ng__mlpf_create(&f, mlp, MAX_B, 0));
  ng_rng_t rng;
  ng_rng_seed(&rng, 7, 0);
  int ok = theta && x && dy && f;
  for (int t = 1; t <= MAX_THREADS; t++) {
    y[t] = malloc(MAX_B * sizeof **y), g[t] = calloc(np, sizeof **g);
    ok = ok && y[t] && g[t];
  }
  NG_CHECK(ok);
  if (ok) {
    fill(&rng, np, theta, 0.3);
    for (size_t bi = 0; bi < N_BATCHES; bi++) {
      const size_t B = BATCHES[bi];
      fill(&rng, B * ni, x, 1.0);
      fill(&rng, B, dy, 1.0);
      for (int t = 1; t <= MAX_THREADS; t++) {
        ng__mlpf_set_pool(f, t == 1 ? NULL : g_pools[t]);
        memset(g[t], 0, np * sizeof **g);
        NG_CHECK_OK(ng__mlpf_load(f, theta));
        NG_CHECK_OK(ng__mlpf_forward(f, B, x, y[t]));
        NG_CHECK_OK(ng__mlpf_vjp(f, B, dy, g[t]));
        if (t == 1) continue;
        NG_CHECK(memcmp(y[t], y[1], B * sizeof **y) == 0);
        NG_CHECK(memcmp(g[t], g[1], np * sizeof **g) == 0);
      }
    }
  }
  for (int t = 1; t <= MAX_THREADS; t++) free(y[t]), free(g[t]);
  ng__mlpf_destroy(f);
  free(theta), free(x), free(dy);
  ng_mlp_destroy(mlp);
}

/* ---- whole runs ---- */

static ng_rl_t *make_run(const char *env, int precision, int threads) {
  ng_rl_config_t cfg;
  ng_error_t err;
  if (ng_rl_config_default(&cfg, env, &err)) return NULL;
  cfg.n_envs = 3;
  cfg.n_steps = 200; /* 600 rows: three chunks; minibatches of 300: two slices */
  cfg.total_steps = 3000;
  cfg.vf_minibatch = 300;
  cfg.vf_epochs = 3;
  cfg.vf_precision = precision;
  ng_rl_t *t = NULL;
  NG_CHECK_OK(ng_rl_config_validate(&cfg, &err));
  NG_CHECK_OK(ng_rl_create(&t, &cfg, &err));
  if (t) NG_CHECK_OK(ng_rl_set_threads(t, threads));
  if (t && threads > 1) NG_CHECK_OK(ng_rl_set_threads_envs(t, 1));
  return t;
}

static int same_checkpoints(ng_rl_t *a, ng_rl_t *b) {
  char pa[96], pb[96];
  ng_error_t err;
  snprintf(pa, sizeof pa, "test_mlp_f32_a_%d.ngc", (int)getpid());
  snprintf(pb, sizeof pb, "test_mlp_f32_b_%d.ngc", (int)getpid());
  NG_CHECK_OK(ng_rl_save(a, pa, &err));
  NG_CHECK_OK(ng_rl_save(b, pb, &err));
  unsigned char *ba = NULL, *bb = NULL;
  long la = ng_test_read_file(pa, &ba), lb = ng_test_read_file(pb, &bb);
  int same = la > 32 && la == lb && memcmp(ba, bb, (size_t)la) == 0;
  free(ba), free(bb);
  remove(pa), remove(pb);
  return same;
}

static void iterate(ng_rl_t *t, int n) {
  ng_error_t err;
  for (int i = 0; i < n; i++) {
    int s = ng_rl_iterate(t, NULL, &err);
    NG_CHECK_OK(s);
    if (s) {
      fprintf(stderr, "  %s\n", err.message);
      return;
    }
  }
}

static void check_runs(const char *env) {
  ng_rl_t *one = make_run(env, NG_VF_F32, 1), *three = make_run(env, NG_VF_F32, 3);
  ng_rl_t *f64 = make_run(env, NG_VF_F64, 1), *res = make_run(env, NG_VF_F32, 1);
  if (one && three && f64 && res) {
    /* one iteration from the same start: the same rollout, values and fit but for float's
     * rounding, so the value functions agree closely */
    iterate(one, 1);
    iterate(f64, 1);
    size_t n1 = 0, n2 = 0;
    const double *v1 = ng_rl_value_params(one, &n1), *v2 = ng_rl_value_params(f64, &n2);
    double e = n1 == n2 ? ng_test_rel_err(n1, v1, v2, 1e-300) : 1.0;
    fprintf(stderr, "  %s: value parameters after one iteration, f32 vs f64: %.3g\n", env, e);
    NG_CHECK(e < 1e-3);
    iterate(one, 4);
    iterate(three, 5);
    iterate(f64, 4);
    NG_CHECK(same_checkpoints(one, three)); /* any thread count, the same bits */
    /* the precision is a real change: the value functions differ, by float's rounding */
    v1 = ng_rl_value_params(one, &n1), v2 = ng_rl_value_params(f64, &n2);
    NG_CHECK(n1 == n2 && memcmp(v1, v2, n1 * sizeof *v1) != 0);
    /* save after 2 iterations, load, 3 more = 5 straight, bit for bit */
    char p[96];
    ng_error_t err;
    snprintf(p, sizeof p, "test_mlp_f32_resume_%d.ngc", (int)getpid());
    iterate(res, 2);
    NG_CHECK_OK(ng_rl_save(res, p, &err));
    ng_rl_destroy(res);
    res = NULL;
    NG_CHECK_OK(ng_rl_load(&res, p, &err));
    remove(p);
    if (res) {
      NG_CHECK(ng_rl_config(res)->vf_precision == NG_VF_F32);
      iterate(res, 3);
      NG_CHECK(same_checkpoints(one, res));
    }
  }
  ng_rl_destroy(one), ng_rl_destroy(three), ng_rl_destroy(f64), ng_rl_destroy(res);
}

static void test_runs(void) {
  check_runs("CartPole-v1");
  check_runs("Pendulum-v1");
}

static void test_config(void) {
  ng_rl_config_t cfg;
  ng_error_t err;
  char buf[8192];
  NG_CHECK_OK(ng_rl_config_default(&cfg, "CartPole-v1", &err));
  NG_CHECK(cfg.vf_precision == NG_VF_F64);
  ng_rl_config_format(&cfg, buf, sizeof buf);
  NG_CHECK(strstr(buf, "vf_precision") == NULL); /* f64 runs' text as before the key */
  NG_CHECK_OK(ng_rl_config_set(&cfg, "vf_precision", "f32", &err));
  NG_CHECK(cfg.vf_precision == NG_VF_F32);
  size_t len = ng_rl_config_format(&cfg, buf, sizeof buf);
  NG_CHECK(len < sizeof buf && strstr(buf, "vf_precision = f32\n") != NULL);
  NG_CHECK_STATUS(ng_rl_config_set(&cfg, "vf_precision", "f16", &err), NG_EINVAL);
  NG_CHECK_OK(ng_rl_config_validate(&cfg, &err));
  NG_CHECK_OK(ng_rl_config_set(&cfg, "algo", "acktr", &err));
  NG_CHECK_STATUS(ng_rl_config_validate(&cfg, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "vf_precision") != NULL);
}

int main(void) {
  for (int t = 2; t <= MAX_THREADS; t++)
    if (ng_pool_create(&g_pools[t], t) != NG_OK) return 1;
  NG_TEST_RUN(test_tanhf);
  NG_TEST_RUN(test_against_double);
  NG_TEST_RUN(test_threads);
  NG_TEST_RUN(test_runs);
  NG_TEST_RUN(test_config);
  for (int t = 2; t <= MAX_THREADS; t++) ng_pool_destroy(g_pools[t]);
  NG_TEST_END();
}
