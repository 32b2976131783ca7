/* Threads: the pool runs every task exactly once and reports the lowest failing task; the
 * chunked passes (mlp.c) give the same result as a pass computed row by row; and every pass,
 * Fisher product and training run (with environment stepping on the threads, too) is
 * bit-identical for 1, 2, 3 and 4 threads. */
#include <stdatomic.h>
#include <stdlib.h>

#include "natgrad/fisher.h"
#include "natgrad/mlp.h"
#include "natgrad/model.h"
#include "natgrad/pool.h"
#include "natgrad/rl.h"
#include "ng_test.h"

/* Chunked sums against per-row sums: both are sums of the same terms in another order. */
#define TOL_REORDER 1e-12
#define MAX_THREADS 4

/* Batches around the chunk-size (64 rows up to 256, then 256) and slice (4) boundaries: 1
 * to 8 chunks. */
static const size_t BATCHES[] = {1, 5, 100, 255, 256, 257, 700, 1024, 1025, 1800};
#define N_BATCHES (sizeof BATCHES / sizeof BATCHES[0])
#define MAX_BATCH 1800

static ng_pool_t *g_pools[MAX_THREADS + 1]; /* [t]: t threads; [1] is NULL-equivalent */

static void fill(ng_rng_t *rng, size_t n, double *x, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = scale * ng_rng_normal(rng);
}

static int same(size_t n, const double *a, const double *b) {
  return memcmp(a, b, n * sizeof *a) == 0;
}

/* ---- the pool itself ---- */

typedef struct {
  atomic_int count[1000];
  int fail_from; /* tasks >= fail_from fail with their own code */
} count_ctx_t;

static int count_task(void *ctx, size_t i) {
  count_ctx_t *c = ctx;
  atomic_fetch_add(&c->count[i], 1);
  if ((int)i >= c->fail_from) return -100 - (int)i;
  return NG_OK;
}

static int nested_task(void *ctx, size_t i) {
  /* a task that runs a job itself: inline, never a deadlock */
  count_ctx_t *c = ctx;
  (void)i;
  return ng_pool_run(g_pools[2], 10, count_task, c);
}

static void test_pool(void) {
  ng_pool_t *p = NULL;
  NG_CHECK_STATUS(ng_pool_create(&p, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_pool_create(&p, NG_POOL_MAX_THREADS + 1), NG_EINVAL);
  NG_CHECK(p == NULL);
  NG_CHECK_STATUS(ng_pool_create(NULL, 2), NG_EINVAL);
  NG_CHECK(ng_pool_threads(NULL) == 1);
  NG_CHECK(ng_pool_threads(g_pools[3]) == 3);
  NG_CHECK_STATUS(ng_pool_run(g_pools[2], 5, NULL, NULL), NG_EINVAL);
  static count_ctx_t c;
  for (int t = 1; t <= MAX_THREADS; t++) {
    for (size_t n = 0; n <= 1000; n += n < 8 ? 1 : 331) {
      /* many jobs in a row: a late worker must never run a newer job's tasks */
      for (int rep = 0; rep < 20; rep++) {
        for (size_t i = 0; i < 1000; i++) atomic_store(&c.count[i], 0);
        c.fail_from = 1 << 30;
        NG_CHECK_OK(ng_pool_run(g_pools[t], n, count_task, &c));
        int ok = 1;
        for (size_t i = 0; i < 1000; i++) ok &= atomic_load(&c.count[i]) == (i < n ? 1 : 0);
        NG_CHECK(ok);
      }
    }
    /* every task runs; the lowest failing index's status comes back */
    for (size_t i = 0; i < 1000; i++) atomic_store(&c.count[i], 0);
    c.fail_from = 37;
    NG_CHECK_STATUS(ng_pool_run(g_pools[t], 100, count_task, &c), -137);
    int ok = 1;
    for (size_t i = 0; i < 100; i++) ok &= atomic_load(&c.count[i]) == 1;
    NG_CHECK(ok);
    /* nesting */
    for (size_t i = 0; i < 1000; i++) atomic_store(&c.count[i], 0);
    c.fail_from = 1 << 30;
    NG_CHECK_OK(ng_pool_run(g_pools[t], 7, nested_task, &c));
    ok = 1;
    for (size_t i = 0; i < 10; i++) ok &= atomic_load(&c.count[i]) == 7;
    NG_CHECK(ok);
  }
}

/* ---- MLP passes ---- */

typedef struct {
  double *y, *g, *dx, *gsq, *jv, *deltas;
} passes_t;

/* Every pass of ws at batch rows, with pool p, into out (allocated by the caller). */
static void run_passes(const ng_mlp_t *mlp, ng_mlp_ws_t *ws, ng_pool_t *p, const double *theta,
                       size_t batch, const double *x, const double *dy, const double *v,
                       size_t k, const double *dyk, passes_t *out) {
  size_t n = ng_mlp_n_params(mlp);
  NG_CHECK_OK(ng_mlp_ws_set_pool(ws, p));
  NG_CHECK_OK(ng_mlp_forward(mlp, theta, ws, batch, x, out->y));
  for (size_t i = 0; i < n; i++) out->g[i] = out->gsq[i] = 0.5; /* they accumulate */
  NG_CHECK_OK(ng_mlp_vjp(mlp, theta, ws, batch, dy, out->g, out->dx));
  NG_CHECK_OK(ng_mlp_vjp_sq(mlp, theta, ws, batch, dy, out->gsq));
  NG_CHECK_OK(ng_mlp_jvp(mlp, theta, ws, batch, v, out->jv));
  NG_CHECK_OK(ng_mlp_deltas(mlp, theta, ws, batch, k, dyk, out->deltas));
}

static void test_mlp_passes(void) {
  const size_t sizes[5] = {7, 33, 65, 17, 5};
  const ng_act_t acts[4] = {NG_ACT_TANH, NG_ACT_RELU, NG_ACT_TANH, NG_ACT_IDENTITY};
  const size_t k = 3, n_in = sizes[0], n_out = sizes[4];
  ng_mlp_t *mlp = NULL;
  NG_CHECK_OK(ng_mlp_create(&mlp, 4, sizes, acts));
  size_t n = ng_mlp_n_params(mlp), width = ng_mlp_deltas_width(mlp);
  ng_mlp_ws_t *ws = NULL, *ws1 = NULL;
  NG_CHECK_OK(ng_mlp_ws_create(&ws, mlp, MAX_BATCH));
  NG_CHECK_OK(ng_mlp_ws_create(&ws1, mlp, 1));
  ng_rng_t rng;
  ng_rng_seed(&rng, 7, 0);
  double *theta = malloc(n * sizeof *theta), *v = malloc(n * sizeof *v);
  double *x = malloc(MAX_BATCH * n_in * sizeof *x), *dy = malloc(MAX_BATCH * n_out * sizeof *dy);
  double *dyk = malloc(MAX_BATCH * k * n_out * sizeof *dyk);
  fill(&rng, n, theta, 0.3);
  fill(&rng, n, v, 1.0);
  fill(&rng, MAX_BATCH * n_in, x, 1.0);
  fill(&rng, MAX_BATCH * n_out, dy, 1.0);
  fill(&rng, MAX_BATCH * k * n_out, dyk, 1.0);
  passes_t r[2];
  for (int i = 0; i < 2; i++) {
    r[i].y = malloc(MAX_BATCH * n_out * sizeof(double));
    r[i].g = malloc(n * sizeof(double));
    r[i].gsq = malloc(n * sizeof(double));
    r[i].dx = malloc(MAX_BATCH * n_in * sizeof(double));
    r[i].jv = malloc(MAX_BATCH * n_out * sizeof(double));
    r[i].deltas = malloc(MAX_BATCH * k * width * sizeof(double));
  }
  double *g_row = malloc(n * sizeof *g_row), *sq_row = malloc(n * sizeof *sq_row);
  double *y1 = malloc(n_out * sizeof *y1), *scratch = malloc(n * sizeof *scratch);
  for (size_t bi = 0; bi < N_BATCHES; bi++) {
    size_t batch = BATCHES[bi];
    run_passes(mlp, ws, NULL, theta, batch, x, dy, v, k, dyk, &r[0]);
    /* bit-identical for every thread count */
    for (int t = 2; t <= MAX_THREADS; t++) {
      run_passes(mlp, ws, g_pools[t], theta, batch, x, dy, v, k, dyk, &r[1]);
      int ok = same(batch * n_out, r[0].y, r[1].y) && same(n, r[0].g, r[1].g) &&
               same(batch * n_in, r[0].dx, r[1].dx) && same(n, r[0].gsq, r[1].gsq) &&
               same(batch * n_out, r[0].jv, r[1].jv) &&
               same(batch * k * width, r[0].deltas, r[1].deltas);
      if (!ok) fprintf(stderr, "batch %zu, %d threads: results differ\n", batch, t);
      NG_CHECK(ok);
    }
    /* the chunked sums against row-by-row passes (independent one-row workspace) */
    for (size_t i = 0; i < n; i++) g_row[i] = sq_row[i] = 0.5;
    int y_ok = 1;
    for (size_t b = 0; b < batch; b++) {
      NG_CHECK_OK(ng_mlp_forward(mlp, theta, ws1, 1, x + b * n_in, y1));
      y_ok &= ng_test_rel_err(n_out, y1, r[0].y + b * n_out, 1e-300) <= TOL_REORDER;
      NG_CHECK_OK(ng_mlp_vjp(mlp, theta, ws1, 1, dy + b * n_out, g_row, NULL));
      NG_CHECK_OK(ng_mlp_vjp_sq(mlp, theta, ws1, 1, dy + b * n_out, sq_row));
    }
    NG_CHECK(y_ok);
    NG_CHECK_VEC_CLOSE(n, r[0].g, g_row, TOL_REORDER);
    NG_CHECK_VEC_CLOSE(n, r[0].gsq, sq_row, TOL_REORDER);
    (void)scratch;
  }
  /* a workspace sized for fewer rows than its largest-sliced batch (256 rows: 4 chunks of
   * 64; 300 rows: 2 of 256) has room for every batch's partial sums, and gives the same
   * bits as any other workspace */
  {
    ng_mlp_ws_t *ws300 = NULL;
    NG_CHECK_OK(ng_mlp_ws_create(&ws300, mlp, 300));
    for (size_t batch = 250; batch <= 300; batch += 6) {
      run_passes(mlp, ws, g_pools[2], theta, batch, x, dy, v, k, dyk, &r[0]);
      run_passes(mlp, ws300, g_pools[3], theta, batch, x, dy, v, k, dyk, &r[1]);
      NG_CHECK(same(n, r[0].g, r[1].g) && same(n, r[0].gsq, r[1].gsq));
    }
    ng_mlp_ws_destroy(ws300);
  }
  /* with a pool attached, bad arguments still fail cleanly */
  NG_CHECK_STATUS(ng_mlp_ws_set_pool(NULL, g_pools[2]), NG_EINVAL);
  NG_CHECK_OK(ng_mlp_ws_set_pool(ws, g_pools[2]));
  NG_CHECK_STATUS(ng_mlp_forward(mlp, theta, ws, MAX_BATCH + 1, x, NULL), NG_EINVAL);
  theta[3] = NAN;
  NG_CHECK_STATUS(ng_mlp_forward(mlp, theta, ws, 300, x, NULL), NG_ENONFINITE);
  theta[3] = INFINITY;
  NG_CHECK_STATUS(ng_mlp_forward(mlp, theta, ws, 300, x, NULL), NG_ENONFINITE);
  for (int i = 0; i < 2; i++) {
    free(r[i].y), free(r[i].g), free(r[i].gsq), free(r[i].dx), free(r[i].jv);
    free(r[i].deltas);
  }
  free(g_row), free(sq_row), free(y1), free(scratch);
  free(theta), free(v), free(x), free(dy), free(dyk);
  ng_mlp_ws_destroy(ws);
  ng_mlp_ws_destroy(ws1);
  ng_mlp_destroy(mlp);
}

/* ---- Fisher products, on both paths ---- */

static void test_fisher_products(void) {
  const size_t hidden[2] = {24, 40};
  const ng_dist_t dists[2] = {{.kind = NG_DIST_GAUSSIAN, .dim = 3},
                              {.kind = NG_DIST_CATEGORICAL, .dim = 4}};
  for (int di = 0; di < 2; di++) {
    ng_model_t *m = NULL;
    NG_CHECK_OK(ng_model_create(&m, 6, 2, hidden, NG_ACT_TANH, dists[di],
                                NG_LOGSTD_STATE_INDEPENDENT));
    size_t n = ng_model_n_params(m);
    ng_rng_t rng;
    ng_rng_seed(&rng, 11, (uint64_t)di);
    double *theta = malloc(n * sizeof *theta), *v = malloc(n * sizeof *v);
    double *x = malloc(MAX_BATCH * 6 * sizeof *x);
    double *out0 = malloc(n * sizeof *out0), *out1 = malloc(n * sizeof *out1);
    NG_CHECK_OK(ng_model_init(m, theta, 1.4, 0.5, -0.3, &rng));
    fill(&rng, n, v, 1.0);
    fill(&rng, MAX_BATCH * 6, x, 1.0);
    for (int path = 0; path < 2; path++) {
      ng_fisher_t *f = NULL;
      NG_CHECK_OK(ng_fisher_create_ex(&f, m, MAX_BATCH, path ? 0 : NG_FISHER_CACHE_BYTES_DEFAULT));
      for (size_t bi = 0; bi < N_BATCHES; bi++) {
        size_t batch = BATCHES[bi];
        double d0 = 0.0, d1 = 0.0;
        NG_CHECK_OK(ng_fisher_set_pool(f, NULL));
        NG_CHECK_OK(ng_fisher_set_point(f, theta, batch, x));
        NG_CHECK(ng_fisher_factored(f) == !path);
        NG_CHECK_OK(ng_fisher_apply(f, v, 0.1, out0));
        NG_CHECK_OK(ng_fisher_distance(f, v, &d0));
        for (int t = 2; t <= MAX_THREADS; t++) {
          NG_CHECK_OK(ng_fisher_set_pool(f, g_pools[t]));
          NG_CHECK_OK(ng_fisher_set_point(f, theta, batch, x));
          NG_CHECK_OK(ng_fisher_apply(f, v, 0.1, out1));
          NG_CHECK_OK(ng_fisher_distance(f, v, &d1));
          int ok = same(n, out0, out1) && memcmp(&d0, &d1, sizeof d0) == 0;
          if (!ok)
            fprintf(stderr, "dist %d path %d batch %zu, %d threads: products differ\n", di,
                    path, batch, t);
          NG_CHECK(ok);
        }
      }
      NG_CHECK_STATUS(ng_fisher_set_pool(NULL, g_pools[2]), NG_EINVAL);
      ng_fisher_destroy(f);
    }
    free(theta), free(v), free(x), free(out0), free(out1);
    ng_model_destroy(m);
  }
}

/* ---- training: a whole run is the same for any thread count ---- */

static void run_train(const char *env, int threads, size_t *n_pol, double **theta,
                      size_t *n_vf, double **vtheta) {
  ng_rl_config_t cfg;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_config_default(&cfg, env, &err));
  cfg.n_envs = 3;
  cfg.n_steps = 200; /* 600 rows: three chunks */
  cfg.total_steps = 1800;
  cfg.vf_minibatch = 300;
  cfg.vf_epochs = 2;
  NG_CHECK_OK(ng_rl_config_validate(&cfg, &err));
  ng_rl_t *t = NULL;
  NG_CHECK_OK(ng_rl_create(&t, &cfg, &err));
  if (!t) return;
  NG_CHECK_OK(ng_rl_set_threads(t, threads));
  /* these envs are too cheap for threads on their own: force the threaded stepping */
  NG_CHECK_OK(ng_rl_set_threads_envs(t, 1));
  while (!ng_rl_done(t)) {
    int s = ng_rl_iterate(t, NULL, &err);
    NG_CHECK_OK(s);
    if (s) break;
  }
  const double *p = ng_rl_policy_params(t, n_pol), *q = ng_rl_value_params(t, n_vf);
  *theta = malloc(*n_pol * sizeof(double));
  *vtheta = malloc(*n_vf * sizeof(double));
  memcpy(*theta, p, *n_pol * sizeof(double));
  memcpy(*vtheta, q, *n_vf * sizeof(double));
  ng_rl_destroy(t);
}

static void test_training(void) {
  const char *envs[] = {"CartPole-v1", "Pendulum-v1", "MountainCarContinuous-v0"};
  for (size_t e = 0; e < sizeof envs / sizeof envs[0]; e++) {
    size_t np0 = 0, nv0 = 0;
    double *th0 = NULL, *vt0 = NULL;
    run_train(envs[e], 1, &np0, &th0, &nv0, &vt0);
    for (int t = 2; t <= 3; t++) {
      size_t np1 = 0, nv1 = 0;
      double *th1 = NULL, *vt1 = NULL;
      run_train(envs[e], t, &np1, &th1, &nv1, &vt1);
      int ok = th0 && th1 && np0 == np1 && nv0 == nv1 && same(np0, th0, th1) &&
               same(nv0, vt0, vt1);
      if (!ok) fprintf(stderr, "%s: %d threads train differently\n", envs[e], t);
      NG_CHECK(ok);
      free(th1), free(vt1);
    }
    free(th0), free(vt0);
  }
  ng_rl_config_t cfg;
  ng_rl_t *t = NULL;
  NG_CHECK_OK(ng_rl_config_default(&cfg, "CartPole-v1", NULL));
  NG_CHECK_OK(ng_rl_create(&t, &cfg, NULL));
  NG_CHECK_STATUS(ng_rl_set_threads(t, 0), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_set_threads(t, NG_POOL_MAX_THREADS + 1), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_set_threads(NULL, 2), NG_EINVAL);
  NG_CHECK_STATUS(ng_rl_set_threads_envs(NULL, 1), NG_EINVAL);
  NG_CHECK_OK(ng_rl_set_threads(t, 2));
  NG_CHECK_OK(ng_rl_set_threads(t, 1)); /* back to one: the pool goes */
  ng_rl_destroy(t);
}

int main(void) {
  for (int t = 1; t <= MAX_THREADS; t++) {
    if (ng_pool_create(&g_pools[t], t) != NG_OK) {
      fprintf(stderr, "cannot create a pool of %d threads\n", t);
      return 1;
    }
  }
  NG_TEST_RUN(test_pool);
  NG_TEST_RUN(test_mlp_passes);
  NG_TEST_RUN(test_fisher_products);
  NG_TEST_RUN(test_training);
  for (int t = 1; t <= MAX_THREADS; t++) ng_pool_destroy(g_pools[t]);
  NG_TEST_END();
}
