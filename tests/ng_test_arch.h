/* One architecture of the model/fisher/optim test tables, and the model it describes. */
#ifndef NG_TEST_ARCH_H
#define NG_TEST_ARCH_H

#include "natgrad/model.h"
#include "ng_test.h"

typedef struct {
  const char *name;
  size_t n_in;
  size_t n_hidden;
  size_t hidden[3];
  ng_act_t act;
  ng_dist_kind_t kind;
  size_t dim;
  ng_logstd_mode_t logstd;
  uint32_t nvec[4]; /* a MultiDiscrete's counts (dim <= 4) */
} arch_t;

static inline ng_model_t *make_model(const arch_t *a) {
  ng_model_t *m = NULL;
  ng_dist_t dist = {.kind = a->kind, .dim = a->dim};
  for (size_t i = 0; i < 4; i++) dist.nvec[i] = a->nvec[i];
  int st = ng_model_create(&m, a->n_in, a->n_hidden, a->hidden, a->act, dist, a->logstd);
  NG_CHECK_OK(st);
  return st == NG_OK ? m : NULL;
}

#endif
