/* K-FAC tests' shared helper (test_kfac, test_acktr): a layer's Kronecker block written out
 * densely, to compare with fisher.h's dense Fisher. Header-only. */
#ifndef NG_TEST_KFAC_H
#define NG_TEST_KFAC_H

#include "natgrad/mlp.h"

/* The K-FAC block of layer l of mlp as a dense n x n matrix over theta's indices (W
 * row-major, then b; n >= the MLP's parameters), entry ((i, j), (k, m)) = G[i,k] A[j,m];
 * F's other entries are left as they are. */
static inline void ng_test_kron_block(const ng_mlp_t *mlp, size_t n, size_t l, const double *A,
                                      const double *G, double *F) {
  size_t c = ng_mlp_size(mlp, l), ro = ng_mlp_size(mlp, l + 1), ad = c + 1;
  size_t off = ng_mlp_layer_offset(mlp, l);
  for (size_t i = 0; i < ro; i++)
    for (size_t j = 0; j < ad; j++)
      for (size_t k = 0; k < ro; k++)
        for (size_t mm = 0; mm < ad; mm++) {
          size_t p = j < c ? off + i * c + j : off + ro * c + i;
          size_t q = mm < c ? off + k * c + mm : off + ro * c + k;
          F[p * n + q] = G[i * ro + k] * A[j * ad + mm];
        }
}

#endif
