/* The MLP's numeric kernels (src/mlp_kernels.c): tanh over an array, every dense product of
 * the passes, bias gradients and the finiteness check. Internal to mlp.c. Row-major, leading
 * dimensions in doubles. Each result's bits are the same whichever instruction set (AVX-512F,
 * AVX2, SSE2) is picked at run time: the orders of summation are fixed in mlp_kernels.c. */
#ifndef NG_MLP_KERNELS_H
#define NG_MLP_KERNELS_H

#include <stddef.h>

/* Forward passes of at most this many rows (the rollout's) use ng__small_layer. */
#define NG__SMALL_ROWS 4

/* a = tanh(z), n values; a may equal z. Max error ~1.3 ulp. */
void ng__tanh_array(size_t n, const double *z, double *a);

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
