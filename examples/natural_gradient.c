/* The README's example: a categorical policy, its Fisher at theta, and the natural gradient
 * F^-1 g both matrix-free (CG) and exactly (Cholesky). Error handling kept short. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

#include "natgrad/fisher.h"
#include "natgrad/optim.h"

#define TRY(call) do { int st_ = (call); if (st_) { fprintf(stderr, "%s: %s\n", #call, ng_strerror(st_)); return 1; } } while (0)

int main(void) {
  size_t hidden[] = {16, 16}, batch = 256;
  ng_model_t *m;  /* 4 inputs -> 16 -> 16 tanh -> 3 logits */
  ng_dist_t logits = {.kind = NG_DIST_CATEGORICAL, .dim = 3};
  TRY(ng_model_create(&m, 4, 2, hidden, NG_ACT_TANH, logits, NG_LOGSTD_STATE_INDEPENDENT));
  size_t n = ng_model_n_params(m);
  double *theta = malloc(n * sizeof *theta), *g = malloc(n * sizeof *g);
  double *s_cg = malloc(n * sizeof *s_cg), *s_exact = malloc(n * sizeof *s_exact);
  double *x = malloc(batch * 4 * sizeof *x), *work = malloc(n * n * sizeof *work);
  ng_rng_t rng;
  ng_rng_seed(&rng, 42, 0);
  TRY(ng_model_init(m, theta, 1.4142135623730951, 1.0, 0.0, &rng));
  for (size_t i = 0; i < batch * 4; i++) x[i] = ng_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) g[i] = ng_rng_normal(&rng); /* any loss gradient */

  ng_fisher_t *f;  /* F = mean_b J_b^T M_b J_b at theta: one forward, then products */
  ng_cg_t *cg;
  TRY(ng_fisher_create(&f, m, batch));
  TRY(ng_cg_create(&cg, n));
  TRY(ng_fisher_set_point(f, theta, batch, x));
  ng_cg_opts_t opts = {.max_iter = 200, .residual_tol = 1e-20};
  ng_cg_report_t rep;
  TRY(ng_natgrad_cg(f, cg, 1e-3, g, s_cg, &opts, &rep));      /* (F + 1e-3 I)^-1 g by CG */
  TRY(ng_natgrad_cholesky(f, 1e-3, g, s_exact, work));         /* the same, dense and exact */
  double dist;
  TRY(ng_fisher_distance(f, s_exact, &dist));                   /* s^T F s */
  double err = 0, norm = 0;
  for (size_t i = 0; i < n; i++) {
    err = fmax(err, fabs(s_cg[i] - s_exact[i]));
    norm = fmax(norm, fabs(s_exact[i]));
  }
  printf("%zu parameters; CG: %d iterations, ||r||^2 = %.2e; CG vs Cholesky: %.1e relative\n",
         n, rep.iterations, rep.residual_norm2, err / norm);
  printf("s^T F s = %.6g: a step of -beta s with beta = sqrt(2 * 0.01 / s^T F s) changes the "
         "policy by KL ~ 0.01\n", dist);
  ng_cg_destroy(cg), ng_fisher_destroy(f), ng_model_destroy(m);
  free(theta), free(g), free(s_cg), free(s_exact), free(x), free(work);
  return err / norm < 1e-8 ? 0 : 1;
}
