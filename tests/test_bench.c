/* `natgrad bench --json` checked for consistency: the FLOP counts recomputed from the shapes
 * in the file (each product of each pass counted here on its own, as mlp.h and fisher.h
 * describe the passes; the trainer's update from the CG iterations and line-search trials
 * it recorded), the parameter counts (the trainer's policy too) and cache sizes from the
 * layer sizes, every GFLOP/s and roofline fraction from its time and FLOPs, every (policy,
 * batch) present once, and a peer's recorded settings. No timing is asserted. The file comes from the CTest fixture in tests/bench.cmake through
 * NG_BENCH_JSON; without it, only the embedded sample is checked (which exercises the reader
 * and the formulas). */
#include <ctype.h>
#include <stdlib.h>

#include "ng_test.h"

/* The file prints times with 9 significant digits, so derived numbers agree to ~1e-8. */
#define TOL_PRINTED 1e-7
#define TOL_FLOPS 1e-12

/* ---- a small JSON reader: a tree of values ---- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind_t;

typedef struct jval {
  jkind_t kind;
  double num;
  char *str;           /* J_STR */
  struct jval **items; /* J_ARR / J_OBJ children */
  char **keys;         /* J_OBJ */
  size_t n;
} jval_t;

typedef struct {
  const char *p;
  int err;
} jparser_t;

static void jfree(jval_t *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) {
    jfree(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  free(v);
}

static void jskip(jparser_t *ps) {
  while (isspace((unsigned char)*ps->p)) ps->p++;
}

static char *jstring(jparser_t *ps) {
  if (*ps->p != '"') {
    ps->err = 1;
    return NULL;
  }
  const char *start = ++ps->p;
  size_t len = 0;
  char *out = malloc(strlen(start) + 1);
  if (!out) {
    ps->err = 1;
    return NULL;
  }
  while (*ps->p && *ps->p != '"') {
    if (*ps->p == '\\' && ps->p[1]) ps->p++;
    out[len++] = *ps->p++;
  }
  if (*ps->p != '"') {
    ps->err = 1;
    free(out);
    return NULL;
  }
  ps->p++;
  out[len] = '\0';
  return out;
}

static jval_t *jparse(jparser_t *ps);

static int jpush(jval_t *v, jval_t *item, char *key) {
  jval_t **items = realloc(v->items, (v->n + 1) * sizeof *items);
  if (!items) return -1;
  v->items = items;
  if (v->kind == J_OBJ) {
    char **keys = realloc(v->keys, (v->n + 1) * sizeof *keys);
    if (!keys) return -1;
    v->keys = keys;
    v->keys[v->n] = key;
  }
  v->items[v->n++] = item;
  return 0;
}

static jval_t *jparse(jparser_t *ps) {
  jskip(ps);
  jval_t *v = calloc(1, sizeof *v);
  if (!v) {
    ps->err = 1;
    return NULL;
  }
  char c = *ps->p;
  if (c == '{' || c == '[') {
    v->kind = c == '{' ? J_OBJ : J_ARR;
    char close = c == '{' ? '}' : ']';
    ps->p++;
    jskip(ps);
    if (*ps->p == close) {
      ps->p++;
      return v;
    }
    for (;;) {
      char *key = NULL;
      if (v->kind == J_OBJ) {
        jskip(ps);
        key = jstring(ps);
        jskip(ps);
        if (ps->err || *ps->p != ':') {
          ps->err = 1;
          free(key);
          break;
        }
        ps->p++;
      }
      jval_t *item = jparse(ps);
      if (ps->err || jpush(v, item, key) != 0) {
        ps->err = 1;
        jfree(item);
        free(key);
        break;
      }
      jskip(ps);
      if (*ps->p == ',') {
        ps->p++;
      } else if (*ps->p == close) {
        ps->p++;
        break;
      } else {
        ps->err = 1;
        break;
      }
    }
  } else if (c == '"') {
    v->kind = J_STR;
    v->str = jstring(ps);
  } else if (!strncmp(ps->p, "null", 4)) {
    v->kind = J_NULL;
    ps->p += 4;
  } else if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
    v->kind = J_BOOL;
    v->num = ps->p[0] == 't';
    ps->p += ps->p[0] == 't' ? 4 : 5;
  } else {
    char *end;
    v->kind = J_NUM;
    v->num = strtod(ps->p, &end);
    if (end == ps->p) ps->err = 1;
    ps->p = end;
  }
  return v;
}

static const jval_t *jget(const jval_t *o, const char *key) {
  if (!o || o->kind != J_OBJ) return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (!strcmp(o->keys[i], key)) return o->items[i];
  return NULL;
}

/* A number field (NAN when missing or null). */
static double jnum(const jval_t *o, const char *key) {
  const jval_t *v = jget(o, key);
  return v && v->kind == J_NUM ? v->num : NAN;
}

static const char *jstr(const jval_t *o, const char *key) {
  const jval_t *v = jget(o, key);
  return v && v->kind == J_STR ? v->str : "";
}

/* ---- FLOPs, counted product by product ---- */

/* 2 m n k for C (m x n) += A (m x k) B (k x n). */
static double gemm(double m, double n, double k) { return 2.0 * m * n * k; }

/* Sizes s[0..L]: the matrix-product FLOPs of each op for N rows, k factor rows; the update
 * is the trainer's policy update with `cg` CG iterations and `trials` line-search trials
 * (means over the timed updates, as the file records them). */
typedef struct {
  double grad, setup, fvp, cg10, update;
} flops_t;

static flops_t count_flops(size_t L, const double *s, double N, double k, int factored,
                           double cg, double trials) {
  flops_t f;
  double fwd = 0.0, bwd = 0.0;
  for (size_t l = 0; l < L; l++) fwd += gemm(N, s[l + 1], s[l]); /* z_l = a W^T */
  for (size_t l = 0; l < L; l++) {
    bwd += gemm(s[l + 1], s[l], N);          /* dW_l = G^T A */
    if (l > 0) bwd += gemm(N, s[l], s[l + 1]); /* G_{l-1} = G W (none below layer 0) */
  }
  f.grad = fwd + bwd;
  f.setup = fwd;
  if (factored) {
    /* ng_mlp_deltas: per factor row, through the unstored last hidden layer (two products),
     * then one product per layer below it for all k rows at once */
    if (L >= 3) {
      f.setup += k * (gemm(N, s[L - 1], s[L]) + gemm(N, s[L - 2], s[L - 1]));
      for (size_t l = L - 3; l >= 1; l--) f.setup += gemm(N * k, s[l], s[l + 1]);
    }
    /* the dots: every layer's tangent P_l = A V^T, plus (act' .* P_{L-2}) W_{L-1}^T; the
     * accumulate: every layer's H^T A, plus H_{L-2} = H_{L-1} W_{L-1} */
    double dots = fwd, acc = fwd;
    if (L >= 2) {
      dots += gemm(N, s[L], s[L - 1]);
      acc += gemm(N, s[L - 1], s[L]);
    }
    f.fvp = dots + acc;
  } else {
    /* JVP: a dW^T per layer plus t W^T above layer 0; VJP: dW per layer plus dX above 0 */
    double jvp = fwd, vjp = 0.0;
    for (size_t l = 1; l < L; l++) jvp += gemm(N, s[l + 1], s[l]);
    for (size_t l = 0; l < L; l++) {
      vjp += gemm(s[l + 1], s[l], N);
      if (l > 0) vjp += gemm(N, s[l], s[l + 1]);
    }
    f.fvp = jvp + vjp;
  }
  f.cg10 = 10.0 * f.fvp;
  /* gradient, Fisher set-up, CG, s^T F s, and each trial's forward */
  f.update = f.grad + f.setup + (cg + 1.0) * f.fvp + trials * fwd;
  return f;
}

/* ---- the checks ---- */

static void check_timing(const jval_t *t, double flops, double tall, double square,
                         const char *what) {
  double med = jnum(t, "median_s"), p10 = jnum(t, "p10_s"), p90 = jnum(t, "p90_s");
  double gf = jnum(t, "gflops"), frac = jnum(t, "frac_tall"), reps = jnum(t, "reps");
  int ok = med > 0.0 && p10 > 0.0 && p10 <= med && med <= p90 && reps >= 1.0;
  if (!ok) fprintf(stderr, "%s: bad timing (median %g, p10 %g, p90 %g)\n", what, med, p10, p90);
  NG_CHECK(ok);
  NG_CHECK_CLOSE(gf, flops / med * 1e-9, TOL_PRINTED, 0.0);
  NG_CHECK_CLOSE(frac, gf / tall, TOL_PRINTED, 0.0);
  NG_CHECK_CLOSE(jnum(t, "frac_square"), gf / square, TOL_PRINTED, 0.0);
}

static void check_file(const jval_t *root, int strict) {
  NG_CHECK(root && root->kind == J_OBJ);
  const jval_t *meta = jget(root, "meta"), *dgemm = jget(root, "dgemm");
  const jval_t *kernels = jget(root, "kernels");
  double threads = jnum(meta, "threads"), tall = jnum(dgemm, "tall_gflops");
  double square = jnum(dgemm, "square_gflops");
  NG_CHECK(threads >= 1.0);
  NG_CHECK(jnum(meta, "cg_iters") == 10.0);
  NG_CHECK(tall > 0.0 && jnum(dgemm, "square_gflops") > 0.0);
  NG_CHECK(jnum(dgemm, "tall_m") >= 1000.0 && jnum(dgemm, "tall_n") >= 1.0);
  NG_CHECK(kernels && kernels->kind == J_ARR && kernels->n >= 2);
  if (!kernels || kernels->kind != J_ARR) return;
  static const char *ops[5] = {"grad", "setup", "fvp", "cg10", "update"};
  size_t n_cart = 0, n_hop = 0;
  for (size_t i = 0; i < kernels->n; i++) {
    const jval_t *k = kernels->items[i];
    const char *pol = jstr(k, "policy"), *dist = jstr(k, "dist");
    const jval_t *hidden = jget(k, "hidden");
    int gauss = !strcmp(dist, "gaussian");
    NG_CHECK(gauss || !strcmp(dist, "categorical"));
    NG_CHECK(hidden && hidden->kind == J_ARR && hidden->n == 2);
    if (!hidden || hidden->kind != J_ARR || hidden->n != 2) continue;
    double s[4] = {jnum(k, "n_in"), hidden->items[0]->num, hidden->items[1]->num, jnum(k, "n_out")};
    double N = jnum(k, "N"), kk = jnum(k, "k");
    int factored = jnum(k, "factored") == 1.0;
    /* the peer's two shapes, by name */
    if (!strcmp(pol, "cartpole")) {
      n_cart++;
      NG_CHECK(!gauss && s[0] == 4 && s[1] == 64 && s[2] == 64 && s[3] == 2);
    } else if (!strcmp(pol, "hopper")) {
      n_hop++;
      NG_CHECK(gauss && s[0] == 11 && s[1] == 64 && s[2] == 64 && s[3] == 3);
    } else {
      NG_CHECK(!"unknown policy");
    }
    /* parameters: weights and biases, plus the Gaussian's state-independent log stds */
    double n_params = 0.0;
    for (int l = 0; l < 3; l++) n_params += s[l] * s[l + 1] + s[l + 1];
    if (gauss) n_params += s[3];
    NG_CHECK(jnum(k, "n_params") == n_params);
    /* factor rows: d for d means, K - 1 for K categories */
    NG_CHECK(kk == (gauss ? s[3] : s[3] - 1.0));
    /* the cache: k rows per sample of deltas (every layer but the last hidden one: s_1 +
     * s_3), the factor row (s_3) and its dot (1) */
    double cache = factored ? 8.0 * N * kk * (s[1] + s[3] + s[3] + 1.0) : 0.0;
    NG_CHECK(jnum(k, "cache_bytes") == cache);
    const jval_t *o = jget(k, "ops"), *update = jget(o, "update");
    /* the trainer's update: on the policy's environment, whose policy is this shape; not
     * timed when that environment is not built in (then it says why) */
    NG_CHECK(update != NULL);
    int have_update = update && !jget(update, "error");
    double cg = jnum(update, "cg_iterations"), trials = jnum(update, "ls_trials");
    if (have_update) {
      NG_CHECK(!strcmp(jstr(update, "env"), gauss ? "Hopper-v5" : "CartPole-v1"));
      NG_CHECK(jnum(update, "trainer_n_params") == n_params);
      NG_CHECK(cg >= 1.0 && cg <= jnum(meta, "cg_iters") && trials >= 0.0);
      NG_CHECK(jnum(update, "skipped") >= 0.0);
    } else if (update) {
      fprintf(stderr, "%s N=%g: update not timed: %s\n", pol, N, jstr(update, "error"));
    }
    flops_t f = count_flops(3, s, N, kk, factored, cg, trials);
    double want[5] = {f.grad, f.setup, f.fvp, f.cg10, f.update};
    for (int op = 0; op < 5; op++) {
      const jval_t *q = jget(o, ops[op]);
      char what[96];
      snprintf(what, sizeof what, "%s N=%g %s", pol, N, ops[op]);
      NG_CHECK(q != NULL);
      if (!q || (op == 4 && !have_update)) continue;
      double flops = jnum(q, "flops");
      NG_CHECK_CLOSE(flops, want[op], TOL_FLOPS, 0.0);
      if (strict) {
        check_timing(jget(q, "t1"), flops, tall, square, what);
        if (threads > 1.0) {
          check_timing(jget(q, "tn"), flops, tall, square, what);
          check_timing(jget(q, "tblas"), flops, tall, square, what);
        }
      }
    }
    /* each (policy, N) once */
    for (size_t j = 0; j < i; j++)
      NG_CHECK(strcmp(jstr(kernels->items[j], "policy"), pol) ||
               jnum(kernels->items[j], "N") != N);
  }
  NG_CHECK(n_cart == n_hop && n_cart >= 1);
  /* the peer ran at its best: on OpenBLAS, with glibc's malloc keeping its memory (the
   * peer's README), and says so */
  const jval_t *peer = jget(root, "peer");
  if (peer) {
    const jval_t *env = jget(peer, "env");
    NG_CHECK(!strcmp(jstr(env, "MALLOC_MMAP_MAX_"), "0"));
    NG_CHECK(!strcmp(jstr(env, "MALLOC_TRIM_THRESHOLD_"), "17179869184"));
    NG_CHECK(strstr(jstr(peer, "blas"), "openblas") != NULL);
    NG_CHECK(*jstr(peer, "python") && *jstr(peer, "torch"));
  }
  const jval_t *envs = jget(root, "envs");
  if (envs && envs->kind == J_ARR)
    for (size_t i = 0; i < envs->n; i++)
      if (jnum(envs->items[i], "status") == 0.0) {
        NG_CHECK(jnum(envs->items[i], "steps_per_s") > 0.0);
        if (threads > 1.0) NG_CHECK(jnum(envs->items[i], "steps_per_s_threads") > 0.0);
      }
}

/* A hand-checked sample: cartpole at N = 1000 (factored, k = 1) and hopper at N = 10 (the
 * JVP/VJP path), worked out by hand: for cartpole fwd = 2 N (4*64 + 64*64 + 64*2) = 8.96e6,
 * grad = 3 fwd - 2 N 4*64 = 26.368e6. */
static const char *SAMPLE =
    "{\"meta\": {\"threads\": 1, \"cg_iters\": 10},"
    " \"dgemm\": {\"tall_m\": 25000, \"tall_n\": 64, \"square_gflops\": 50, \"tall_gflops\": 25},"
    " \"kernels\": ["
    " {\"policy\": \"cartpole\", \"dist\": \"categorical\", \"n_in\": 4, \"hidden\": [64, 64],"
    "  \"n_out\": 2, \"k\": 1, \"N\": 1000, \"n_params\": 4610, \"factored\": 1,"
    "  \"cache_bytes\": 552000, \"ops\": {"
    "  \"grad\": {\"flops\": 26368000}, \"setup\": {\"flops\": 17408000},"
    "  \"fvp\": {\"flops\": 18432000}, \"cg10\": {\"flops\": 184320000},"
    "  \"update\": {\"env\": \"CartPole-v1\", \"trainer_n_params\": 4610,"
    "   \"cg_iterations\": 10, \"ls_trials\": 1, \"skipped\": 0, \"flops\": 255488000}}},"
    " {\"policy\": \"hopper\", \"dist\": \"gaussian\", \"n_in\": 11, \"hidden\": [64, 64],"
    "  \"n_out\": 3, \"k\": 3, \"N\": 10, \"n_params\": 5126, \"factored\": 0,"
    "  \"cache_bytes\": 0, \"ops\": {"
    "  \"grad\": {\"flops\": 285440}, \"setup\": {\"flops\": 99840},"
    "  \"fvp\": {\"flops\": 371200}, \"cg10\": {\"flops\": 3712000},"
    "  \"update\": {\"env\": \"Hopper-v5\", \"trainer_n_params\": 5126,"
    "   \"cg_iterations\": 10, \"ls_trials\": 1, \"skipped\": 0, \"flops\": 4568320}}}"
    " ], \"envs\": []}";

static void test_sample(void) {
  jparser_t ps = {SAMPLE, 0};
  jval_t *root = jparse(&ps);
  NG_CHECK(!ps.err);
  check_file(root, 0);
  /* the reader and the formulas must be able to fail: a wrong count is caught (the failure
   * message printed next is expected) */
  int before = ng_test_failures;
  root->items[2]->items[0]->items[10]->items[0]->items[0]->num += 2.0; /* cartpole grad flops */
  check_file(root, 0);
  int caught = ng_test_failures - before;
  ng_test_failures = before;
  NG_CHECK(caught == 1);
  jfree(root);
}

static void test_file(void) {
  const char *path = getenv("NG_BENCH_JSON");
  if (!path || !*path) {
    fprintf(stderr, "NG_BENCH_JSON not set: only the embedded sample is checked\n");
    return;
  }
  FILE *f = fopen(path, "rb");
  NG_CHECK(f != NULL);
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)size + 1);
  NG_CHECK(text && fread(text, 1, (size_t)size, f) == (size_t)size);
  fclose(f);
  if (!text) return;
  text[size] = '\0';
  jparser_t ps = {text, 0};
  jval_t *root = jparse(&ps);
  NG_CHECK(!ps.err);
  if (!ps.err) check_file(root, 1);
  jfree(root);
  free(text);
}

int main(void) {
  NG_TEST_RUN(test_sample);
  NG_TEST_RUN(test_file);
  NG_TEST_END();
}
