/* The MLP's numeric kernels (src/mlp_kernels.c): tanh over an array, every dense product of
 * the passes, bias gradients and the finiteness check. Internal to mlp.c, and to mlp_f32.c
 * for the chunk helpers and the float tanh. Row-major, leading dimensions in doubles. Each
 * result's bits are the same whichever instruction set (AVX-512F, AVX2, SSE2) is picked at
 * run time: the orders of summation are fixed in mlp_kernels.c. */
#ifndef NG_MLP_KERNELS_H
#define NG_MLP_KERNELS_H

#include <stddef.h>

#include "natgrad/core.h"

/* Forward passes of at most this many rows (the rollout's) use ng__small_layer. */
#define NG__SMALL_ROWS 4

/* Rows per chunk of a pass (mlp.c and mlp_f32.c). */
#define NG__CHUNK 256 /* ... in batches of more than 256 rows; see ng__chunk */

/* Chunks and slices of a batch. Passes cut a batch into chunks of ng__chunk(B) rows (from
 * row 0; the last may be short), each pushed through every layer while its activations are
 * still in cache, and each a unit of work for a thread: NG__CHUNK rows, or 64 in batches of
 * up to 256 rows, so that a critic's 128-row minibatch still gives two cores a share (it
 * made Pendulum-v1's two-thread run 1.8 -> 1.4 s). A batch reduction (the parameter
 * gradient) sums its chunks into S = min(slices, chunks) partial sums (slices: the ws's
 * split's, NG_SLICES_DEFAULT = 4 without one; core.h), slice s taking the chunks
 * [s C / S, (s+1) C / S) in order; slice 0 accumulates straight into the caller's output
 * and the others are added to it afterwards in slice order. Both depend on the batch size
 * and slices only, so every result is the same for any number of threads (and a batch of
 * one chunk does exactly what one whole-batch product would), and for any number of
 * processes splitting the slices. */
static inline size_t ng__chunk(size_t batch) { return batch <= 256 ? 64 : NG__CHUNK; }
static inline size_t ng__n_chunks(size_t batch) {
  return (batch + ng__chunk(batch) - 1) / ng__chunk(batch);
}
static inline size_t ng__n_slices(const ng_split_t *sp, size_t batch) {
  return ng_split_slices(sp, ng__n_chunks(batch));
}
/* The most slices of any batch up to max_batch rows: 256 rows make 4 chunks of 64 and 257
 * only 2 of 256, so the largest batch of each chunk size is a candidate. */
static inline size_t ng__max_slices(const ng_split_t *sp, size_t max_batch) {
  size_t s = ng__n_slices(sp, max_batch), a = ng__n_slices(sp, max_batch < 256 ? max_batch : 256);
  return s > a ? s : a;
}

/* a = tanh(z), n values; a may equal z. Max error ~1.3 ulp. */
void ng__tanh_array(size_t n, const double *z, double *a);

/* The same in float (mlp_f32.c): a rational approximation on [-7.9, 7.9] (Eigen's
 * generic_fast_tanh_float), +-1 beyond, x itself below 4e-4; within a few float ulp. */
void ng__tanhf_array(size_t n, const float *z, float *a);

/* z (rows x r) = a (rows x c) W^T + 1 b^T, W (r x c), b (r), for rows <= NG__SMALL_ROWS:
 * one call in place of a bias broadcast and a product, for the rollout's tiny batches. */
void ng__small_layer(size_t rows, size_t r, size_t c, const double *a, const double *w,
                     const double *b, double *z);

/* C (m x n, ldc) = A' B' + beta C, A' = A or A^T (ta), B' = B or B^T (tb), beta 0 or 1:
 * shapes with a dimension of at most 4 by the thin kernels, everything else by BLAS. */
void ng__gemm(int ta, int tb, size_t m, size_t n, size_t k, const double *a, size_t lda,
              const double *b, size_t ldb, double beta, double *c, size_t ldc);

/* db (n) += sum of the K rows of G (K x n), in row order. */
void ng__bias_grad(size_t K, size_t n, const double *g, double *db);

/* 1 if all n values of x are finite, else 0. */
int ng__finite(size_t n, const double *x);

#endif
