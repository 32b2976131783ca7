/* Internals shared by the supervised module's files: K-FAC's state for the optimiser's
 * (its bytes through src/ckpt_io.h). Not part of the public API. */
#ifndef NG_SUP_IMPL_H
#define NG_SUP_IMPL_H

#include "ckpt_io.h"
#include "natgrad/supervised.h"

/* K-FAC's state (update count, running factors, inverses and their damping). */
void ng__kfac_state_put(const ng_kfac_t *k, ng__ckio_w_t *w);
int ng__kfac_state_get(ng_kfac_t *k, ng__ckio_r_t *r);
/* 1 once ng_kfac_invert has succeeded. */
int ng__kfac_inverted(const ng_kfac_t *k);

#endif
