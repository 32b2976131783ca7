/* The supervised loss on K-FAC's own workspace (src/kfac.c holds K-FAC itself): the
 * forward that ng_sup_loss_grad runs keeps the activations the factors are made from. */
#include "supervised/sup_impl.h"

int ng_kfac_loss_grad(ng_kfac_t *k, const double *theta, size_t batch, const double *x,
                      const double *y, double *loss, double *grad) {
  ng_model_ws_t *ws = ng_kfac_model_ws(k);
  if (!ws || !theta || !x || !y || !loss || batch == 0 || batch > ng_model_ws_max_batch(ws))
    return NG_EINVAL;
  int st = ng_sup_loss_grad(ng__kfac_model(k), ws, theta, batch, x, y, loss, grad);
  ng__kfac_set_batch(k, st == NG_OK ? batch : 0);
  return st;
}
