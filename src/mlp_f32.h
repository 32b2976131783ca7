/* A float32 shadow of an MLP for the value function (vf_precision = f32, src/rl/value.c and
 * rollout.c): forward and backprop in float (SGEMM, float tanh) over an ng_mlp_t's
 * architecture, with the same fixed chunks and slices as mlp.c, so results are bit-identical
 * for any pool. The parameters stay the caller's doubles (the master copy Adam steps and
 * checkpoints hold); ng__mlpf_load rounds them to float for the passes, and the gradient
 * comes back summed in float and widened to double. Internal. */
#ifndef NG_MLP_F32_H
#define NG_MLP_F32_H

#include "natgrad/mlp.h"
#include "natgrad/pool.h"

typedef struct ng__mlpf ng__mlpf_t;

/* For batches of up to max_batch rows of mlp (borrowed: must outlive the shadow), a
 * gradient summed in min(slices, chunks) partial sums as mlp.c's (0: NG_SLICES_DEFAULT). An
 * MPI split of the update does not split these passes: every rank computes every slice, so
 * the result is the same for any number of ranks. */
int ng__mlpf_create(ng__mlpf_t **out, const ng_mlp_t *mlp, size_t max_batch, size_t slices);
void ng__mlpf_destroy(ng__mlpf_t *f);
void ng__mlpf_set_pool(ng__mlpf_t *f, ng_pool_t *pool);

/* The passes' float parameters := theta (n_params doubles) rounded; NG_ENONFINITE if theta
 * or its rounding (a value beyond float's range) is not finite. */
int ng__mlpf_load(ng__mlpf_t *f, const double *theta);

/* y (B x n_out doubles, may be NULL) = f(x) for B <= max_batch rows of x (B x n_in doubles,
 * rounded to float), at the loaded parameters; keeps the activations for ng__mlpf_vjp. */
int ng__mlpf_forward(ng__mlpf_t *f, size_t batch, const double *x, double *y);

/* dtheta (n_params) += sum_b J_b^T dY_b through the last forward (batch its rows), summed in
 * float and widened; dy (B x n_out) rounded to float. */
int ng__mlpf_vjp(ng__mlpf_t *f, size_t batch, const double *dy, double *dtheta);

#endif
