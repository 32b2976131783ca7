/* Allocation failure, libuv's way: for every create / init / load of the library, an
 * allocator that fails on the k-th call, for k = 1, 2, ... until the call succeeds without
 * reaching its k-th allocation. Each failing call must return NG_ENOMEM (never crash, never
 * another status), leave its output NULL, and leak nothing: the allocations it made are
 * counted against the frees through core.h's replaceable allocator. The successful run
 * must free everything on destroy as well. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "natgrad/data.h"
#include "natgrad/gauss1d.h"
#include "natgrad/pool.h"
#include "natgrad/supervised.h"
#include "natgrad/svg.h"
#include "ng_test.h"
#include "rl/rl_impl.h"

#define MAX_K 100000 /* no create needs this many allocations: a loop that never ends fails */

/* ---- the failing, counting allocator ---------------------------------------------------- */

static long g_calls;   /* allocation calls since the case started */
static long g_fail_at; /* fail the call with this number (1-based); 0: never */
static long g_live;    /* blocks allocated and not yet freed */

static int should_fail(void) { return ++g_calls == g_fail_at; }

static void *t_malloc(size_t n) {
  if (should_fail()) return NULL;
  void *p = malloc(n);
  if (p) g_live++;
  return p;
}
static void *t_calloc(size_t c, size_t n) {
  if (should_fail()) return NULL;
  void *p = calloc(c, n);
  if (p) g_live++;
  return p;
}
static void *t_realloc(void *q, size_t n) {
  if (should_fail()) return NULL;
  void *p = realloc(q, n);
  if (p && !q) g_live++;
  return p;
}
static void t_free(void *p) {
  if (p) g_live--;
  free(p);
}

/* A case: runs one create (and its destroy on success); returns its status. */
typedef int (*case_fn)(void);

/* Fails the k-th allocation for every k until the case succeeds; returns the number of
 * allocations the successful run made. */
static long check_case(const char *name, case_fn fn) {
  long k;
  int failures = 0;
  for (k = 1; k < MAX_K; k++) {
    g_calls = 0;
    g_live = 0;
    g_fail_at = k;
    int s = fn();
    long calls = g_calls, live = g_live;
    g_fail_at = 0;
    if (live != 0) {
      fprintf(stderr, "%s: allocation %ld failed: %ld blocks leaked (status %s)\n", name, k, live,
              ng_status_name(s));
      failures++;
    }
    if (s == NG_OK) {
      if (calls >= k) { /* the k-th allocation failed and the call still succeeded */
        fprintf(stderr, "%s: allocation %ld failed but the call returned NG_OK\n", name, k);
        failures++;
      }
      break;
    }
    if (s != NG_ENOMEM) {
      fprintf(stderr, "%s: allocation %ld failed: status %s, expected NG_ENOMEM\n", name, k,
              ng_status_name(s));
      failures++;
    }
    if (failures > 5) break;
  }
  ng_test_checks++;
  if (failures || k == MAX_K) {
    ng_test_failures++;
    fprintf(stderr, "%s: FAILED\n", name);
  } else {
    fprintf(stderr, "  %-26s %4ld allocations, each failure clean\n", name, k - 1);
  }
  return k - 1;
}

/* ---- cases --------------------------------------------------------------------------------- */

static const size_t g_sizes[4] = {5, 16, 8, 3};
static const ng_act_t g_acts[3] = {NG_ACT_TANH, NG_ACT_RELU, NG_ACT_IDENTITY};
static const size_t g_hidden[2] = {16, 8};

/* The output must be NULL whenever the status is not NG_OK. */
#define CHECK_OUT(s, p)                                                                    \
  do {                                                                                     \
    if ((s) != NG_OK && (p) != NULL) {                                                     \
      ng_test_failures++;                                                                  \
      fprintf(stderr, "%s:%d: output not NULL after %s\n", __FILE__, __LINE__,             \
              ng_status_name(s));                                                          \
    }                                                                                      \
  } while (0)

static int case_mlp(void) {
  ng_mlp_t *m = (ng_mlp_t *)&g_live;
  int s = ng_mlp_create(&m, 3, g_sizes, g_acts);
  CHECK_OUT(s, m);
  if (!s) ng_mlp_destroy(m);
  return s;
}

static ng_mlp_t *g_mlp;
static int case_mlp_ws(void) {
  ng_mlp_ws_t *ws = (ng_mlp_ws_t *)&g_live;
  int s = ng_mlp_ws_create(&ws, g_mlp, 32);
  CHECK_OUT(s, ws);
  if (!s) ng_mlp_ws_destroy(ws);
  return s;
}

static int model_case(ng_dist_t dist, ng_logstd_mode_t mode) {
  ng_model_t *m = (ng_model_t *)&g_live;
  int s = ng_model_create(&m, 6, 2, g_hidden, NG_ACT_TANH, dist, mode);
  CHECK_OUT(s, m);
  if (!s) ng_model_destroy(m);
  return s;
}
static int case_model_categorical(void) {
  ng_dist_t d = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  return model_case(d, NG_LOGSTD_STATE_INDEPENDENT);
}
static int case_model_gaussian(void) {
  ng_dist_t d = {.kind = NG_DIST_GAUSSIAN, .dim = 2};
  return model_case(d, NG_LOGSTD_NETWORK);
}

static ng_model_t *g_model;
static int case_model_ws(void) {
  ng_model_ws_t *ws = (ng_model_ws_t *)&g_live;
  int s = ng_model_ws_create(&ws, g_model, 32);
  CHECK_OUT(s, ws);
  if (!s) ng_model_ws_destroy(ws);
  return s;
}
static int case_model_init(void) {
  double theta[1024];
  ng_rng_t rng;
  ng_rng_seed(&rng, 1, 2);
  return ng_model_init(g_model, theta, 1.4, 0.01, 0.0, &rng);
}
static int case_fisher(void) {
  ng_fisher_t *f = (ng_fisher_t *)&g_live;
  int s = ng_fisher_create(&f, g_model, 32);
  CHECK_OUT(s, f);
  if (!s) ng_fisher_destroy(f);
  return s;
}
static int case_cg(void) {
  ng_cg_t *cg = (ng_cg_t *)&g_live;
  int s = ng_cg_create(&cg, 100);
  CHECK_OUT(s, cg);
  if (!s) ng_cg_destroy(cg);
  return s;
}

static int g_threads;
static int case_pool(void) {
  ng_pool_t *p = (ng_pool_t *)&g_live;
  int s = ng_pool_create(&p, g_threads);
  CHECK_OUT(s, p);
  if (!s) ng_pool_destroy(p);
  return s;
}

static const char *g_env_id;
static int case_env(void) {
  ng_env_t *e = (ng_env_t *)&g_live;
  ng_error_t err;
  int s = ng_env_create(&e, g_env_id, &err);
  CHECK_OUT(s, e);
  if (!s) ng_env_destroy(e);
  return s;
}

static ng_rl_config_t g_cfg;
static int case_rl_create(void) {
  ng_rl_t *t = (ng_rl_t *)&g_live;
  ng_error_t err;
  int s = ng_rl_create(&t, &g_cfg, &err);
  CHECK_OUT(s, t);
  if (s && err.status != s) {
    ng_test_failures++;
    fprintf(stderr, "ng_rl_create: err.status %d, returned %d\n", err.status, s);
  }
  if (!s) ng_rl_destroy(t);
  return s;
}

static char g_ckpt[64];
static unsigned char *g_ckpt_bytes;
static size_t g_ckpt_len;
static int case_rl_load(void) {
  ng_rl_t *t = (ng_rl_t *)&g_live;
  ng_error_t err;
  int s = ng_rl_load(&t, g_ckpt, &err);
  CHECK_OUT(s, t);
  if (!s) ng_rl_destroy(t);
  return s;
}
static int case_rl_load_mem(void) {
  ng_rl_t *t = (ng_rl_t *)&g_live;
  ng_error_t err;
  int s = ng_rl_load_mem(&t, g_ckpt_bytes, g_ckpt_len, &err);
  CHECK_OUT(s, t);
  if (!s) ng_rl_destroy(t);
  return s;
}
static ng_rl_t *g_rl;
static int case_rl_save(void) {
  ng_error_t err;
  char path[80];
  snprintf(path, sizeof path, "%s.save", g_ckpt);
  int s = ng_rl_save(g_rl, path, &err);
  /* a failed save leaves no temporary file */
  char tmp[96];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (s && access(tmp, F_OK) == 0) {
    ng_test_failures++;
    fprintf(stderr, "ng_rl_save left %s after %s\n", tmp, ng_status_name(s));
  }
  remove(path);
  return s;
}

static int case_batcher(void) {
  ng_batcher_t *b = (ng_batcher_t *)&g_live;
  int s = ng_batcher_create(&b, 100, 7, 3);
  CHECK_OUT(s, b);
  if (!s) ng_batcher_destroy(b);
  return s;
}

static ng_opt_kind_t g_kind;
static int case_sup_opt(void) {
  ng_sup_opt_config_t c;
  ng_error_t err;
  if (ng_sup_opt_config_default(&c, g_kind) != NG_OK) return NG_EINVAL;
  ng_sup_opt_t *o = (ng_sup_opt_t *)&g_live;
  int s = ng_sup_opt_create(&o, g_model, &c, 16, &err);
  CHECK_OUT(s, o);
  if (!s) ng_sup_opt_destroy(o);
  return s;
}
static int case_kfac(void) {
  ng_kfac_t *k = (ng_kfac_t *)&g_live;
  int s = ng_kfac_create(&k, g_model, 16);
  CHECK_OUT(s, k);
  if (!s) ng_kfac_destroy(k);
  return s;
}
static int case_fit(void) {
  ng_sup_opt_config_t c;
  ng_error_t err;
  if (ng_sup_opt_config_default(&c, g_kind) != NG_OK) return NG_EINVAL;
  ng_fit_t *f = (ng_fit_t *)&g_live;
  int s = ng_fit_create(&f, g_model, &c, 100, 16, 5, &err);
  CHECK_OUT(s, f);
  if (!s) ng_fit_destroy(f);
  return s;
}
/* Growing outputs: the demo's descents grow their paths as they go; a failed growth is
 * NG_ENOMEM, and freeing the paths then leaks nothing. */
static double g_samples[64];
static int case_gauss1d(void) {
  ng_gauss1d_fit_t fit;
  const double start[2] = {-2.0, 1.0};
  int s = ng_gauss1d_fit_init(&fit, 64, g_samples, start, 1e-6);
  ng_gauss1d_path_t gd = {0}, ng = {0};
  double eta;
  long it;
  if (!s) s = ng_gauss1d_gd_tuned(&fit, 1000, &gd, &eta, &it);
  if (!s) s = ng_gauss1d_ngd(&fit, 1.0, 1000, &ng, &it);
  ng_gauss1d_path_free(&gd);
  ng_gauss1d_path_free(&ng);
  return s;
}
static double plane(void *ctx, double x, double y) { return x + 2.0 * y; }
static int case_svg_contour(void) {
  FILE *f = tmpfile();
  if (!f) return NG_EIO;
  ng_svg_panel_t p = {.title = "plane"};
  ng_svg_contour_t c = {.f = plane, .x0 = 0, .x1 = 1, .y0 = 0, .y1 = 1, .nx = 20, .ny = 20,
                        .n_levels = 4};
  int s = ng_svg_contour_plot(f, 400, 300, &p, &c, 0, NULL);
  fclose(f);
  return s;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_core_objects(void) {
  check_case("ng_mlp_create", case_mlp);
  NG_CHECK_OK(ng_mlp_create(&g_mlp, 3, g_sizes, g_acts));
  check_case("ng_mlp_ws_create", case_mlp_ws);
  ng_mlp_destroy(g_mlp);
  check_case("ng_model_create (categorical)", case_model_categorical);
  check_case("ng_model_create (gaussian)", case_model_gaussian);
  ng_dist_t d = {.kind = NG_DIST_GAUSSIAN, .dim = 2};
  NG_CHECK_OK(ng_model_create(&g_model, 6, 2, g_hidden, NG_ACT_TANH, d,
                              NG_LOGSTD_STATE_INDEPENDENT));
  check_case("ng_model_ws_create", case_model_ws);
  check_case("ng_model_init", case_model_init);
  check_case("ng_fisher_create", case_fisher);
  check_case("ng_cg_create", case_cg);
  g_threads = 1;
  check_case("ng_pool_create (1 thread)", case_pool);
  g_threads = 3;
  check_case("ng_pool_create (3 threads)", case_pool);
  ng_model_destroy(g_model);
  g_model = NULL;
}

static void test_envs(void) {
  for (size_t i = 0; i < ng_env_count(); i++) {
    g_env_id = ng_env_info_at(i)->id;
    ng_env_t *e = NULL;
    ng_error_t err;
    if (ng_env_create(&e, g_env_id, &err) != NG_OK) continue; /* e.g. MuJoCo not built */
    ng_env_destroy(e);
    char name[96];
    snprintf(name, sizeof name, "ng_env_create %s", g_env_id);
    check_case(name, case_env);
  }
}

static void test_trainer(void) {
  static const char *envs[2] = {"CartPole-v1", "Pendulum-v1"};
  for (int i = 0; i < 2; i++) {
    ng_error_t err;
    NG_CHECK_OK(ng_rl_config_default(&g_cfg, envs[i], &err));
    g_cfg.n_envs = 2;
    g_cfg.n_steps = 16;
    g_cfg.vf_minibatch = 8;
    g_cfg.normalize_obs = g_cfg.normalize_reward = i;
    char name[96];
    snprintf(name, sizeof name, "ng_rl_create %s", envs[i]);
    check_case(name, case_rl_create);

    /* a checkpoint of a trainer that has run, to load */
    snprintf(g_ckpt, sizeof g_ckpt, "test_alloc_fail_%d.ngc", (int)getpid());
    NG_CHECK_OK(ng_rl_create(&g_rl, &g_cfg, &err));
    ng_rl_stats_t st;
    NG_CHECK_OK(ng_rl_iterate(g_rl, &st, &err));
    NG_CHECK_OK(ng_rl_save(g_rl, g_ckpt, &err));
    snprintf(name, sizeof name, "ng_rl_save %s", envs[i]);
    check_case(name, case_rl_save);
    snprintf(name, sizeof name, "ng_rl_load %s", envs[i]);
    check_case(name, case_rl_load);
    FILE *f = fopen(g_ckpt, "rb");
    static unsigned char buf[1 << 20];
    g_ckpt_len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    g_ckpt_bytes = buf;
    NG_CHECK(g_ckpt_len > 32);
    snprintf(name, sizeof name, "ng_rl_load_mem %s", envs[i]);
    check_case(name, case_rl_load_mem);
    ng_rl_destroy(g_rl);
    remove(g_ckpt);
  }
}

static void test_supervised(void) {
  check_case("ng_batcher_create", case_batcher);
  ng_dist_t d = {.kind = NG_DIST_CATEGORICAL, .dim = 4};
  NG_CHECK_OK(ng_model_create(&g_model, 6, 2, g_hidden, NG_ACT_RELU, d,
                              NG_LOGSTD_STATE_INDEPENDENT));
  check_case("ng_kfac_create", case_kfac);
  for (int k = 0; k < NG_OPT_KINDS; k++) {
    g_kind = (ng_opt_kind_t)k;
    char name[96];
    snprintf(name, sizeof name, "ng_sup_opt_create %s", ng_opt_name(g_kind));
    check_case(name, case_sup_opt);
    snprintf(name, sizeof name, "ng_fit_create %s", ng_opt_name(g_kind));
    check_case(name, case_fit);
  }
  ng_model_destroy(g_model);
  g_model = NULL;
}

static void test_growing(void) {
  ng_rng_t rng;
  ng_rng_seed(&rng, 9, 0);
  for (size_t i = 0; i < 64; i++) g_samples[i] = 1.0 + 0.3 * ng_rng_normal(&rng);
  check_case("ng_gauss1d_gd_tuned + ngd", case_gauss1d);
  check_case("ng_svg_contour_plot", case_svg_contour);
}

int main(void) {
  NG_CHECK_OK(ng_set_allocator(t_malloc, t_calloc, t_realloc, t_free));
  NG_TEST_RUN(test_core_objects);
  NG_TEST_RUN(test_envs);
  NG_TEST_RUN(test_trainer);
  NG_TEST_RUN(test_supervised);
  NG_TEST_RUN(test_growing);
  NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
  NG_TEST_END();
}
