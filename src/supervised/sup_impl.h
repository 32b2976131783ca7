/* Internals shared by the supervised module's files: K-FAC's state for the optimiser's
 * (its bytes through src/ckpt_io.h, src/kfac_impl.h). Not part of the public API. */
#ifndef NG_SUP_IMPL_H
#define NG_SUP_IMPL_H

#include "kfac_impl.h"
#include "natgrad/supervised.h"

#endif
