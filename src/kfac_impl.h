/* Internals of K-FAC (src/kfac.c) shared with the optimisers built on it: its state through
 * src/ckpt_io.h inside their own state records, and the batch of a forward the supervised
 * loss ran on ng_kfac_model_ws itself. Not part of the public API. */
#ifndef NG_KFAC_IMPL_H
#define NG_KFAC_IMPL_H

#include "ckpt_io.h"
#include "natgrad/kfac.h"

/* K-FAC's state (update count, running factors, inverses and their damping). */
void ng__kfac_state_put(const ng_kfac_t *k, ng__ckio_w_t *w);
int ng__kfac_state_get(ng_kfac_t *k, ng__ckio_r_t *r);
/* The model of a model K-FAC (NULL for an MLP one). */
const ng_model_t *ng__kfac_model(const ng_kfac_t *k);
/* The rows of the forward just run on ng_kfac_model_ws (0: none usable). */
void ng__kfac_set_batch(ng_kfac_t *k, size_t batch);

#endif
