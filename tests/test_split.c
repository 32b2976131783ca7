/* The update split over processes (core.h's ng_split_t): each process computes only its
 * block of a batch sum's slices and the gather brings it the others'; the result must be
 * the bits of one process with the same slice count, for any number of processes (more
 * processes than slices included). Processes are simulated in turn: a first round runs each
 * one with a gather that records its own slices, a second runs each again with a gather
 * that fills the others' slices from that record. Covers the gradient (ng_mlp_vjp, _sq)
 * and the factored Fisher product, K-FAC's batch factors, and the blocks ng_split_own hands
 * out. */
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "natgrad/fisher.h"
#include "natgrad/kfac.h"
#include "natgrad/mlp.h"
#include "natgrad/model.h"
#include "ng_test.h"

#define BATCH 1100 /* 5 chunks of 256 rows (mlp.c, fisher.c) */
#define MAX_PROCS 7
#define MAX_CALLS 4 /* gathers in one process's run: a forward's rows, then a sum */

typedef struct {
  int rank, size, replay; /* replay 0: record own slices; 1: fill the others' */
  double *rec[MAX_CALLS][NG_SLICES_MAX]; /* call c's slice s as its owner computed it */
  size_t len[MAX_CALLS][NG_SLICES_MAX];
  unsigned call;         /* gathers so far in the current process's run */
  const double *before;  /* the sum's output before the pass (slice 0 adds to it) */
  unsigned sum_call;     /* which gather is that sum */
  int untouched_ok;      /* a process not owning slice 0 left the sum's output alone */
} sim_t;

static int sim_gather(void *ctx, double *const *parts, const size_t *lens, size_t n_slices) {
  sim_t *s = ctx;
  ng_split_t me = {0, s->rank, s->size, sim_gather, s, NULL};
  size_t first, count;
  ng_split_own(&me, n_slices, &first, &count);
  const unsigned c = s->call++;
  if (c >= MAX_CALLS) return NG_ERANGE;
  for (size_t k = 0; k < n_slices; k++) {
    int own = k >= first && k < first + count;
    if (!s->replay && own) {
      free(s->rec[c][k]);
      s->rec[c][k] = malloc((lens[k] ? lens[k] : 1) * sizeof(double));
      if (!s->rec[c][k]) return NG_ENOMEM;
      memcpy(s->rec[c][k], parts[k], lens[k] * sizeof(double));
      s->len[c][k] = lens[k];
    }
    if (!s->replay && !own && k == 0 && c == s->sum_call && s->before &&
        memcmp(parts[0], s->before, lens[0] * sizeof(double)) != 0)
      s->untouched_ok = 0;
    if (s->replay && !own) {
      if (!s->rec[c][k] || s->len[c][k] != lens[k]) return NG_ERANGE;
      memcpy(parts[k], s->rec[c][k], lens[k] * sizeof(double));
    }
  }
  return NG_OK;
}

static void sim_free(sim_t *s) {
  for (int c = 0; c < MAX_CALLS; c++)
    for (int k = 0; k < NG_SLICES_MAX; k++) free(s->rec[c][k]);
}

static void test_own_blocks(void) {
  size_t first, count;
  ng_split_own(NULL, 5, &first, &count);
  NG_CHECK(first == 0 && count == 5);
  ng_split_t nog = {8, 1, 3, NULL, NULL, NULL}; /* no gather: one process computes all */
  ng_split_own(&nog, 5, &first, &count);
  NG_CHECK(first == 0 && count == 5);
  NG_CHECK(ng_split_slices(NULL, 9) == NG_SLICES_DEFAULT && ng_split_slices(NULL, 2) == 2);
  NG_CHECK(ng_split_slices(&nog, 9) == 8);
  for (size_t S = 1; S <= 10; S++)
    for (int K = 1; K <= 12; K++) {
      size_t next = 0, lo = S, hi = 0;
      for (int r = 0; r < K; r++) {
        ng_split_t sp = {S, r, K, sim_gather, NULL, NULL};
        ng_split_own(&sp, S, &first, &count);
        NG_CHECK(first == next); /* contiguous blocks in rank order */
        next = first + count;
        if (count < lo) lo = count;
        if (count > hi) hi = count;
      }
      NG_CHECK(next == S && hi - lo <= 1);
    }
}

static void fill(size_t n, double *x, ng_rng_t *rng) {
  for (size_t i = 0; i < n; i++) x[i] = ng_rng_uniform_range(rng, -1.0, 1.0);
}

/* One process of K (K = 0: alone, no gather) runs dtheta += vjp (sq: vjp_sq) with S slices. */
static int run_vjp(const ng_mlp_t *mlp, const double *theta, const double *x, const double *dy,
                   const double *init, size_t S, int sq, sim_t *sim, double *out) {
  ng_mlp_ws_t *ws = NULL;
  int st = ng_mlp_ws_create(&ws, mlp, BATCH);
  if (st) return st;
  ng_split_t sp = {S,   sim ? sim->rank : 0, sim ? sim->size : 1, sim ? sim_gather : NULL,
                   sim, NULL};
  size_t n = ng_mlp_n_params(mlp);
  memcpy(out, init, n * sizeof *out);
  if (sim) {
    sim->before = init;
    sim->sum_call = 1; /* after the forward's rows */
    sim->call = 0;
  }
  if (!(st = ng_mlp_ws_set_split(ws, &sp)) &&
      !(st = ng_mlp_forward(mlp, theta, ws, BATCH, x, NULL)))
    st = sq ? ng_mlp_vjp_sq(mlp, theta, ws, BATCH, dy, out)
            : ng_mlp_vjp(mlp, theta, ws, BATCH, dy, out, NULL);
  ng_mlp_ws_destroy(ws);
  return st;
}

static void test_vjp(void) {
  const size_t sizes[] = {5, 16, 16, 3};
  const ng_act_t acts[] = {NG_ACT_TANH, NG_ACT_TANH, NG_ACT_IDENTITY};
  ng_mlp_t *mlp = NULL;
  NG_CHECK_OK(ng_mlp_create(&mlp, 3, sizes, acts));
  if (!mlp) return;
  size_t n = ng_mlp_n_params(mlp);
  ng_rng_t rng;
  ng_rng_seed(&rng, 14, 0);
  double *theta = malloc(n * sizeof *theta), *x = malloc(BATCH * 5 * sizeof *x);
  double *dy = malloc(BATCH * 3 * sizeof *dy), *init = malloc(n * sizeof *init);
  double *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
  double *def = malloc(n * sizeof *def);
  fill(n, theta, &rng);
  fill(BATCH * 5, x, &rng);
  fill(BATCH * 3, dy, &rng);
  fill(n, init, &rng); /* the vjp adds to its output: slice 0's owner must start from it */
  for (int sq = 0; sq < 2; sq++) {
    /* the default slice count is what a workspace without a split uses */
    NG_CHECK_OK(run_vjp(mlp, theta, x, dy, init, NG_SLICES_DEFAULT, sq, NULL, ref));
    ng_mlp_ws_t *ws = NULL;
    NG_CHECK_OK(ng_mlp_ws_create(&ws, mlp, BATCH));
    memcpy(def, init, n * sizeof *def);
    NG_CHECK_OK(ng_mlp_forward(mlp, theta, ws, BATCH, x, NULL));
    NG_CHECK_OK(sq ? ng_mlp_vjp_sq(mlp, theta, ws, BATCH, dy, def)
                   : ng_mlp_vjp(mlp, theta, ws, BATCH, dy, def, NULL));
    NG_CHECK(memcmp(def, ref, n * sizeof *def) == 0);
    ng_mlp_ws_destroy(ws);
    for (size_t S = 2; S <= 6; S += 2) {
      NG_CHECK_OK(run_vjp(mlp, theta, x, dy, init, S, sq, NULL, ref));
      for (int K = 1; K <= MAX_PROCS; K++) {
        sim_t sim;
        memset(&sim, 0, sizeof sim);
        sim.size = K;
        sim.untouched_ok = 1;
        for (int r = 0; r < K; r++) {
          sim.rank = r;
          NG_CHECK_OK(run_vjp(mlp, theta, x, dy, init, S, sq, &sim, got));
          NG_CHECK(sim.call == (K > 1 ? 2u : 0u)); /* the forward's rows, the gradient */
        }
        NG_CHECK(sim.untouched_ok);
        sim.replay = 1;
        for (int r = 0; r < K; r++) {
          sim.rank = r;
          NG_CHECK_OK(run_vjp(mlp, theta, x, dy, init, S, sq, &sim, got));
          NG_CHECK(memcmp(got, ref, n * sizeof *got) == 0);
        }
        sim_free(&sim);
      }
    }
  }
  /* a failing gather's status comes back; too many slices are refused */
  ng_mlp_ws_t *ws = NULL;
  NG_CHECK_OK(ng_mlp_ws_create(&ws, mlp, BATCH));
  sim_t sim; /* replay with nothing recorded */
  memset(&sim, 0, sizeof sim);
  sim.size = 2;
  sim.replay = 1;
  ng_split_t sp = {4, 0, 2, sim_gather, &sim, NULL};
  NG_CHECK_OK(ng_mlp_ws_set_split(ws, &sp));
  NG_CHECK_STATUS(ng_mlp_forward(mlp, theta, ws, BATCH, x, NULL), NG_ERANGE);
  sp.slices = NG_SLICES_MAX + 1;
  NG_CHECK_STATUS(ng_mlp_ws_set_split(ws, &sp), NG_EINVAL);
  ng_mlp_ws_destroy(ws);
  ng_mlp_destroy(mlp);
  free(theta), free(x), free(dy), free(init), free(ref), free(got), free(def);
}

/* One process of K (sim NULL: alone) takes one Fisher product with S slices, on the
 * factored path or (factored 0) the JVP/VJP one. */
static int run_fisher(const ng_model_t *m, const double *theta, const double *x,
                      const double *v, size_t S, int factored, sim_t *sim, double *out) {
  ng_fisher_t *f = NULL;
  int st = ng_fisher_create_ex(&f, m, BATCH, factored ? NG_FISHER_CACHE_BYTES_DEFAULT : 0);
  if (st) return st;
  ng_split_t sp = {S,   sim ? sim->rank : 0, sim ? sim->size : 1, sim ? sim_gather : NULL,
                   sim, NULL};
  if (sim) {
    sim->before = NULL; /* a product overwrites its output */
    sim->call = 0;
  }
  if (!(st = ng_fisher_set_split(f, &sp)) && !(st = ng_fisher_set_point(f, theta, BATCH, x)))
    st = ng_fisher_factored(f) == factored ? ng_fisher_apply(f, v, 0.1, out) : NG_EUNSUPPORTED;
  /* these read every row: not under a split of over 256 rows */
  if (st == NG_OK && sim && sim->size > 1) {
    double d;
    st = ng_fisher_distance(f, v, &d) == NG_EUNSUPPORTED ? NG_OK : NG_EINVAL;
  }
  ng_fisher_destroy(f);
  return st;
}

static void test_fisher(void) {
  const size_t hidden[] = {16, 16};
  ng_dist_t dist = {.kind = NG_DIST_GAUSSIAN, .dim = 3};
  ng_model_t *m = NULL;
  NG_CHECK_OK(ng_model_create(&m, 5, 2, hidden, NG_ACT_TANH, dist, NG_LOGSTD_STATE_INDEPENDENT));
  if (!m) return;
  size_t n = ng_model_n_params(m);
  ng_rng_t rng;
  ng_rng_seed(&rng, 15, 0);
  double *theta = malloc(n * sizeof *theta), *x = malloc(BATCH * 5 * sizeof *x);
  double *v = malloc(n * sizeof *v), *ref = malloc(n * sizeof *ref);
  double *got = malloc(n * sizeof *got);
  NG_CHECK_OK(ng_model_init(m, theta, 1.0, 0.01, -0.5, &rng));
  fill(BATCH * 5, x, &rng);
  fill(n, v, &rng);
  for (int fac = 0; fac < 2; fac++)
  for (size_t S = 3; S <= 5; S++) {
    NG_CHECK_OK(run_fisher(m, theta, x, v, S, fac, NULL, ref));
    for (int K = 1; K <= MAX_PROCS; K++) {
      sim_t sim;
      memset(&sim, 0, sizeof sim);
      sim.size = K;
      for (int r = 0; r < K; r++) {
        sim.rank = r;
        NG_CHECK_OK(run_fisher(m, theta, x, v, S, fac, &sim, got));
      }
      sim.replay = 1;
      for (int r = 0; r < K; r++) {
        sim.rank = r;
        NG_CHECK_OK(run_fisher(m, theta, x, v, S, fac, &sim, got));
        NG_CHECK(memcmp(got, ref, n * sizeof *got) == 0);
      }
      sim_free(&sim);
    }
  }
  ng_model_destroy(m);
  free(theta), free(x), free(v), free(ref), free(got);
}

/* K-FAC's batch factors (every layer's A then G, into out) after a forward, under a split of
 * S slices (0: none). */
static int run_kfac(const ng_model_t *m, const double *theta, const double *x, size_t S,
                    sim_t *sim, double *out) {
  ng_kfac_t *k = NULL;
  int st = ng_kfac_create(&k, m, BATCH);
  if (st) return st;
  ng_split_t sp = {S,   sim ? sim->rank : 0, sim ? sim->size : 1, sim ? sim_gather : NULL,
                   sim, NULL};
  if (sim) {
    sim->before = NULL;
    sim->call = 0;
  }
  if (!(st = ng_kfac_set_split(k, S ? &sp : NULL)) &&
      !(st = ng_kfac_forward(k, theta, BATCH, x)))
    st = ng_kfac_batch_stats(k, theta, NG_FISHER_TRUE, 0, NULL, NULL);
  static const size_t a_dim[3] = {6, 17, 17}, g_dim[3] = {16, 16, 4}; /* 5-16-16-4 */
  if (st == NG_OK && ng_kfac_n_layers(k) != 3) st = NG_EINVAL;
  for (size_t l = 0; st == NG_OK && l < 3; l++) {
    size_t a = a_dim[l], g = g_dim[l];
    memcpy(out, ng_kfac_batch_A(k, l), a * a * sizeof *out);
    memcpy(out + a * a, ng_kfac_batch_G(k, l), g * g * sizeof *out);
    out += a * a + g * g;
  }
  ng_kfac_destroy(k);
  return st;
}

/* Split factors: one process's bits with the same slices for any K, and within rounding
 * of the unsplit factors (the same sums in another order). */
static void test_kfac(void) {
  const size_t hidden[] = {16, 16};
  ng_dist_t dist = {.kind = NG_DIST_CATEGORICAL, .dim = 4};
  ng_model_t *m = NULL;
  NG_CHECK_OK(ng_model_create(&m, 5, 2, hidden, NG_ACT_TANH, dist, NG_LOGSTD_STATE_INDEPENDENT));
  if (!m) return;
  size_t n = ng_model_n_params(m), nf = 6 * 6 + 16 * 16 + 17 * 17 + 16 * 16 + 17 * 17 + 4 * 4;
  ng_rng_t rng;
  ng_rng_seed(&rng, 16, 0);
  double *theta = malloc(n * sizeof *theta), *x = malloc(BATCH * 5 * sizeof *x);
  double *whole = malloc(nf * sizeof *whole), *ref = malloc(nf * sizeof *ref);
  double *got = malloc(nf * sizeof *got);
  NG_CHECK_OK(ng_model_init(m, theta, 1.0, 0.01, -0.5, &rng));
  fill(BATCH * 5, x, &rng);
  NG_CHECK_OK(run_kfac(m, theta, x, 0, NULL, whole));
  for (size_t S = 2; S <= 5; S++) {
    NG_CHECK_OK(run_kfac(m, theta, x, S, NULL, ref));
    double worst = 0;
    for (size_t i = 0; i < nf; i++) {
      double e = fabs(ref[i] - whole[i]) / (1e-3 + fabs(whole[i]));
      if (e > worst) worst = e;
    }
    NG_CHECK(worst < 1e-12);
    for (int K = 2; K <= MAX_PROCS; K++) {
      sim_t sim;
      memset(&sim, 0, sizeof sim);
      sim.size = K;
      for (int r = 0; r < K; r++) {
        sim.rank = r;
        NG_CHECK_OK(run_kfac(m, theta, x, S, &sim, got));
      }
      sim.replay = 1;
      for (int r = 0; r < K; r++) {
        sim.rank = r;
        NG_CHECK_OK(run_kfac(m, theta, x, S, &sim, got));
        NG_CHECK(memcmp(got, ref, nf * sizeof *got) == 0);
      }
      sim_free(&sim);
    }
  }
  ng_model_destroy(m);
  free(theta), free(x), free(whole), free(ref), free(got);
}

int main(void) {
  NG_TEST_RUN(test_own_blocks);
  NG_TEST_RUN(test_vjp);
  NG_TEST_RUN(test_fisher);
  NG_TEST_RUN(test_kfac);
  NG_TEST_END();
}
