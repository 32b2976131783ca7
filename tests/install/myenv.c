/* A user's code built as a shared object against the installed natgrad, the way the
 * install test builds it:
 *     cc -shared -fPIC myenv.c $(pkg-config --cflags --libs natgrad) -o libmyenv.so
 * A noisy point mass pushed towards 0 by a fixed controller, its noise from natgrad's
 * random stream: one episode's return. Loaded by host.c with dlopen. */
#include <math.h>

#include "natgrad/core.h"

int myenv_episode(uint64_t seed, int steps, double *ret, ng_error_t *err);

int myenv_episode(uint64_t seed, int steps, double *ret, ng_error_t *err) {
  if (steps <= 0 || !ret) return ng_error_set(err, NG_EINVAL, "myenv: steps = %d", steps);
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  double x = ng_rng_uniform_range(&rng, -1.0, 1.0), total = 0.0;
  for (int t = 0; t < steps; t++) {
    x += -0.5 * x * 0.1 + 0.05 * ng_rng_normal(&rng);
    total -= x * x;
  }
  *ret = total;
  return ng_all_finite(1, ret) ? NG_OK : ng_error_set(err, NG_ENONFINITE, "myenv: return");
}
