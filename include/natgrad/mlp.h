/* natgrad mlp: a multilayer perceptron over one flat parameter vector, with a batched
 * forward pass, backprop (vector-Jacobian product) and forward mode (Jacobian-vector
 * product), all on CBLAS.
 *
 * Shapes. Layer l (0-based, L layers) maps width sizes[l] to sizes[l+1]:
 *     z_l = a_{l-1} W_l^T + b_l        a_l = act_l(z_l)        a_{-1} = x
 * for a batch, with W_l of shape (sizes[l+1], sizes[l]) row-major (PyTorch's nn.Linear
 * layout) and b_l of length sizes[l+1]. The flat parameter vector theta is
 *     [W_0 | b_0 | W_1 | b_1 | ... | W_{L-1} | b_{L-1}]
 * and ng_mlp_layer_offset() gives where each block starts. Inputs X are B x sizes[0] and
 * outputs Y are B x sizes[L], row-major.
 *
 * Memory. The ng_mlp_t describes the architecture only (immutable after create, shareable
 * between threads). Parameters are the caller's (n_params doubles). Everything a pass
 * needs is in an ng_mlp_ws_t sized for a maximum batch at create time: forward stores the
 * activations there, and vjp/jvp reuse them, so many products at the same theta cost no
 * further forward pass. No pass allocates.
 */
#ifndef NATGRAD_MLP_H
#define NATGRAD_MLP_H

#include "natgrad/core.h"
#include "natgrad/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NG_ACT_IDENTITY = 0,
  NG_ACT_TANH = 1,
  NG_ACT_RELU = 2  /* derivative taken as 0 at z = 0 */
} ng_act_t;

/* Parses "tanh", "relu", "identity" (also "linear"); NG_EINVAL otherwise. */
int ng_act_parse(const char *name, ng_act_t *act);
const char *ng_act_name(ng_act_t act);

/* a = act(z) elementwise, n values (a may equal z; n = 0 is a no-op). The forward pass's own
 * kernel: tanh is natgrad's vectorised one (mlp_kernels.c), within ~1.3 ulp of the exact tanh and
 * 2 ulp of glibc's over the whole double range, NaN in NaN out, tanh(-0) = -0. NG_EINVAL for
 * an unknown act or NULL arrays. */
int ng_act_apply(ng_act_t act, size_t n, const double *z, double *a);

/* g .*= act'(z) elementwise, n values, with the derivative read off the OUTPUT a = act(z)
 * as the passes do (identity 1, tanh 1 - a^2, relu [a > 0]): the backward's own rule, for
 * callers that push cotangents through a layer themselves. NG_EINVAL as ng_act_apply. */
int ng_act_mul_deriv(ng_act_t act, size_t n, const double *a, double *g);

typedef struct ng_mlp ng_mlp_t;

/* n_layers >= 1 layers; sizes has n_layers + 1 entries, all >= 1; acts has n_layers
 * entries (the last is usually NG_ACT_IDENTITY). Both arrays are copied. */
int ng_mlp_create(ng_mlp_t **out, size_t n_layers, const size_t *sizes, const ng_act_t *acts);
void ng_mlp_destroy(ng_mlp_t *mlp);

size_t ng_mlp_n_params(const ng_mlp_t *mlp);
size_t ng_mlp_n_layers(const ng_mlp_t *mlp);
size_t ng_mlp_n_in(const ng_mlp_t *mlp);
size_t ng_mlp_n_out(const ng_mlp_t *mlp);
size_t ng_mlp_size(const ng_mlp_t *mlp, size_t i);      /* sizes[i], i <= n_layers */
ng_act_t ng_mlp_act(const ng_mlp_t *mlp, size_t layer);
/* Offset of W_l in theta; b_l follows at offset + sizes[l+1]*sizes[l]. */
size_t ng_mlp_layer_offset(const ng_mlp_t *mlp, size_t layer);

/* ---- initialisation (biases are set to zero) ---------------------------------------------- */

/* Orthogonal weights scaled by gains[l] (e.g. sqrt(2) hidden, 0.01 policy head, 1 value
 * head, as TRPO/PPO implementations use): each W_l has orthonormal rows or columns,
 * whichever is fewer, times the gain. */
int ng_mlp_init_orthogonal(const ng_mlp_t *mlp, double *theta, const double *gains,
                           ng_rng_t *rng);
/* W_l entries i.i.d. N(0, gains[l]^2 / sizes[l]) (LeCun-style fan-in scaling). */
int ng_mlp_init_normal(const ng_mlp_t *mlp, double *theta, const double *gains, ng_rng_t *rng);

/* ---- workspace ------------------------------------------------------------------------- */

typedef struct ng_mlp_ws ng_mlp_ws_t;

/* A workspace for batches of up to max_batch rows. One per thread. */
int ng_mlp_ws_create(ng_mlp_ws_t **out, const ng_mlp_t *mlp, size_t max_batch);
void ng_mlp_ws_destroy(ng_mlp_ws_t *ws);
size_t ng_mlp_ws_max_batch(const ng_mlp_ws_t *ws);
/* Bytes a workspace for max_batch rows holds (for planning memory). */
size_t ng_mlp_ws_bytes(const ng_mlp_t *mlp, size_t max_batch);

/* Threads for the passes on ws (pool.h; borrowed, must outlive its use here; NULL: the
 * caller's thread only). Passes cut the batch into fixed chunks of rows and sum a
 * gradient's chunks into a fixed number of partial sums (mlp.c), so every result is
 * bit-identical for any pool, and for none. NG_EINVAL for a NULL ws. */
int ng_mlp_ws_set_pool(ng_mlp_ws_t *ws, ng_pool_t *pool);

/* The slice count of a gradient's partial sums on ws and their split over processes that
 * all hold the whole batch (core.h's ng_split_t; copied). With an active split each process
 * runs ng_mlp_forward on the rows of its block of slices only and the gather brings it the
 * other rows' outputs (y and ng_mlp_ws_output are whole; the hidden activations are this
 * process's rows only); ng_mlp_jvp and ng_mlp_deltas compute its rows (jvp's others: 0);
 * ng_mlp_vjp / _sq its slices, gathered and added in order. Every result is the bits of one
 * process with that slice count. A vjp that wants dx needs every row: NG_EUNSUPPORTED after
 * a split forward. Callers that read hidden activations of every row (K-FAC) must not give
 * their workspace a split. Set-up time: may allocate (NG_ENOMEM); NG_EINVAL for a NULL ws
 * or more than NG_SLICES_MAX slices. NULL: one process, NG_SLICES_DEFAULT slices. */
int ng_mlp_ws_set_split(ng_mlp_ws_t *ws, const ng_split_t *sp);
/* The rows [*row0, *row0 + *rows) of slice s of a batch under split sp (NULL: the default
 * slices), as the passes cut it; returns the batch's slice count (s must be below it). For
 * callers that sum their own per-row statistics by slices (K-FAC's factors). */
size_t ng_mlp_slice_rows(const ng_split_t *sp, size_t batch, size_t s, size_t *row0,
                         size_t *rows);

/* ---- passes ------------------------------------------------------------------------------- */

/* Y = f(X; theta) for B <= max_batch rows. Keeps the activations in ws for vjp/jvp at the
 * same theta and X (they stay valid until the next forward on ws). Y may be NULL when only
 * the stored activations are wanted (the output is then read with ng_mlp_ws_output). */
int ng_mlp_forward(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
                   const double *x, double *y);

/* The last forward's output (B x n_out, borrowed, valid until the next forward). */
const double *ng_mlp_ws_output(const ng_mlp_ws_t *ws);

/* Activation i of the last forward (borrowed, valid until the next forward), B x sizes[i]
 * row-major, indexed like sizes: i = 0 is the forward's copy of X, i = l + 1 is layer l's
 * output a_l, so layer l reads activation l and writes activation l + 1 (i = n_layers is
 * the output). NULL for i > n_layers or when ws holds no forward. */
const double *ng_mlp_ws_activation(const ng_mlp_ws_t *ws, size_t i);
/* Rows B of the last successful forward on ws (0: none). */
size_t ng_mlp_ws_batch(const ng_mlp_ws_t *ws);

/* Backprop of the output cotangent dY (B x n_out) through the last forward on ws:
 *     dtheta += sum_b J_b^T dY_b        (ACCUMULATES: zero dtheta first for a plain gradient)
 *     dx      = dY J_x                   (OVERWRITES, B x n_in; pass NULL to skip)
 * where J_b = d y_b / d theta and J_x = d y / d x per row. theta must be the forward's. */
int ng_mlp_vjp(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
               const double *dy, double *dtheta, double *dx);

/* Forward mode through the last forward on ws: dY_b = J_b v for a parameter direction v
 * (n_params), written to dy (B x n_out, OVERWRITES). */
int ng_mlp_jvp(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
               const double *v, double *dy);

/* Sum over rows of the squared per-row parameter gradient:
 *     out_i += sum_b ( (J_b^T dY_b)_i )^2     (ACCUMULATES)
 * computed layer by layer as (G.G)^T (A.A) without forming per-row gradients, exact
 * for an MLP since row b's gradient of W_l is the outer product g_{l,b} a_{l-1,b}^T.
 * The building block of the diagonal Fisher. */
int ng_mlp_vjp_sq(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
                  const double *dy, double *out);

/* ---- per-row gradients through cached cotangents ----------------------------------------
 * For an output cotangent dY_b, row b's parameter gradient g_b = J_b^T dY_b is, layer by
 * layer, the outer product delta_{l,b} a_{l-1,b}^T (bias: delta_{l,b}), with delta_{l,b}
 * the cotangent at the pre-activation z_l. ng_mlp_deltas caches these deltas for k
 * cotangents per row; products with the B*k per-row gradients g_{b,r} then need no further
 * backward pass: all dots <g_{b,r}, v> cost one matrix product per layer, a weighted sum of
 * the g_{b,r} another (the Fisher product F v = (1/N) sum g (g^T v) in fisher.c).
 *
 * The last hidden layer (L-2) is not stored: its delta is (delta_{L-1} W_{L-1}) .* act', and
 * W_{L-1} has only n_out rows, so the passes recompute its share through a product with
 * n_out columns at a small fraction of a hidden layer's cost, and the cache is that much
 * smaller (for 64-64 hidden layers, about half).
 *
 * Layout. A deltas array holds B*k*ng_mlp_deltas_width() doubles: one block per stored
 * layer l (every layer but L-2), in layer order, each a (B*k) x sizes[l+1] row-major matrix
 * whose row b*k + r is delta_l for the r-th cotangent of batch row b. Weights and dots w, c
 * are B x k arrays (entry b*k + r). The rowgrad functions work on rows [row0, row0 + n_rows)
 * of the last forward on ws (a chunk, so a caller can keep the chunk's deltas in cache
 * between a dot and an accumulate) and read/write only those rows' entries; theta must be
 * the forward's, and deltas must come from ng_mlp_deltas on that same forward with the same
 * k (not checked, nor scanned for NaN: it is the caller's cache). */

/* Doubles per deltas row: the sum of sizes[l+1] over the stored layers (every layer but
 * L-2); 0 for NULL. */
size_t ng_mlp_deltas_width(const ng_mlp_t *mlp);

/* deltas (B*k*width doubles in the layout above, OVERWRITES) for the k cotangents per row in
 * dy (B*k x n_out, row b*k + r the r-th cotangent of row b), through the last forward on ws
 * (batch = its rows):
 *     delta_{L-1} = dY .* act'(z_{L-1}),    delta_{l-1} = (delta_l W_l) .* act'(z_{l-1})
 * One product per layer above the first (one per cotangent for the two top layers, all k
 * at once below them); no parameter gradient. */
int ng_mlp_deltas(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t batch,
                  size_t k, const double *dy, double *deltas);

/* c[b*k + r] = <g_{b,r}, v> for the chunk's rows (OVERWRITES those entries), v a parameter
 * vector (n_params):  P_l = A_{l-1} V_l^T + 1 bv_l^T (one product per layer, shared by the
 * k cotangents),  c_{b,r} = sum_l <delta_{l,b,r}, P_{l,b}>. */
int ng_mlp_rowgrad_dot(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t row0,
                       size_t n_rows, size_t k, const double *deltas, const double *v,
                       double *c);

/* out += sum_{b in chunk, r} w[b*k + r] g_{b,r}   (ACCUMULATES, n_params):
 *     H_l = sum_r w_{:,r} .* delta_{l,r},   dW_l += H_l^T A_{l-1},   db_l += H_l^T 1. */
int ng_mlp_rowgrad_acc(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws, size_t row0,
                       size_t n_rows, size_t k, const double *deltas, const double *w,
                       double *out);

/* out += sum_{b in chunk, r} w[b*k + r] g_{b,r} .* g_{b,r}   (ACCUMULATES; w NULL: all 1):
 *     dW_l += (sum_r w_{:,r} .* delta_{l,r} .* delta_{l,r})^T (A_{l-1} .* A_{l-1}).
 * With deltas of a square-root factor of a Fisher, the exact diagonal. */
int ng_mlp_rowgrad_sq_acc(const ng_mlp_t *mlp, const double *theta, ng_mlp_ws_t *ws,
                          size_t row0, size_t n_rows, size_t k, const double *deltas,
                          const double *w, double *out);

#ifdef __cplusplus
}
#endif
#endif
