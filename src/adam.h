/* Adam (Kingma & Ba 2015) over flat arrays, the one copy under the critic (rl/value.c) and the
 * supervised optimiser (supervised/opt.c). Internal. Step t (1-based), per element, in this
 * order of operations (runs reproduce to the bit only while it stays so):
 *     m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g g,
 *     d = -(lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)),   theta + d. */
#ifndef NG_ADAM_H
#define NG_ADAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  double lr, beta1, beta2, eps;
} ng__adam_hp_t;

/* In place: theta, m, v take step t. Shapes: all n, no two overlapping. */
void ng__adam_update(size_t n, const ng__adam_hp_t *hp, uint64_t t, double *restrict theta,
                     double *restrict m, double *restrict v, const double *restrict g);
/* For a caller that checks the step before committing it: m_new, v_new = the moments after
 * step t, d = the step; m, v, g only read. Shapes: all n, no two overlapping. */
void ng__adam_delta(size_t n, const ng__adam_hp_t *hp, uint64_t t, const double *restrict m,
                    const double *restrict v, const double *restrict g, double *restrict m_new,
                    double *restrict v_new, double *restrict d);

#endif
