/* Adam's step (adam.h): one plain loop per entry point, built for each vector width and
 * picked at run time, as mlp.c does for its kernels. */
#include "adam.h"

#include <math.h>

/* sqrt may set errno (EDOM, below 0), so under the default -fmath-errno gcc and clang keep a
 * branch to the library call in every element and vectorise nothing (the critic's step ran
 * at 2.4 ns an element, 0.6 with 8 lanes). Its argument here, v / (1 - beta2^t), is >= 0 or
 * NaN, where sqrt sets no errno: declared const, it is the same correctly rounded root as an
 * instruction that vectorises. */
#if defined(__GNUC__)
double sqrt(double) __attribute__((const));
#endif

/* The loops' constants for step t. */
typedef struct {
  double b1, c1, b2, c2, bc1, bc2, lr, eps;
} ng__adam_k_t;

static ng__adam_k_t ng__adam_k(const ng__adam_hp_t *hp, uint64_t t) {
  ng__adam_k_t k = {hp->beta1, 1.0 - hp->beta1, hp->beta2, 1.0 - hp->beta2,
                    1.0 - pow(hp->beta1, (double)t), 1.0 - pow(hp->beta2, (double)t),
                    hp->lr, hp->eps};
  return k;
}

/* One element, adam.h's order of operations: the moments mi, vi (doubles) in place, and the
 * step's size lr mhat / (sqrt(vhat) + eps) (theta moves by minus it). */
#define NG__ADAM_ELEM(k, gi, mi, vi, out)                                                      \
  do {                                                                                         \
    (mi) = (k).b1 * (mi) + (k).c1 * (gi);                                                      \
    (vi) = (k).b2 * (vi) + (k).c2 * (gi) * (gi);                                               \
    (out) = (k).lr * ((mi) / (k).bc1) / (sqrt((vi) / (k).bc2) + (k).eps);                      \
  } while (0)

/* Shapes: every array n. */
#define NG__ADAM_KERNELS(SFX, ATTR)                                                            \
  ATTR static void ng__update_##SFX(size_t n, ng__adam_k_t k, double *restrict theta,          \
                                    double *restrict m, double *restrict v,                    \
                                    const double *restrict g) {                                \
    for (size_t i = 0; i < n; i++) {                                                           \
      double mi = m[i], vi = v[i], x;                                                          \
      NG__ADAM_ELEM(k, g[i], mi, vi, x);                                                       \
      m[i] = mi;                                                                               \
      v[i] = vi;                                                                               \
      theta[i] -= x;                                                                           \
    }                                                                                          \
  }                                                                                            \
  ATTR static void ng__delta_##SFX(size_t n, ng__adam_k_t k, const double *restrict m,         \
                                   const double *restrict v, const double *restrict g,         \
                                   double *restrict m_new, double *restrict v_new,             \
                                   double *restrict d) {                                       \
    for (size_t i = 0; i < n; i++) {                                                           \
      double mi = m[i], vi = v[i], x;                                                          \
      NG__ADAM_ELEM(k, g[i], mi, vi, x);                                                       \
      m_new[i] = mi;                                                                           \
      v_new[i] = vi;                                                                           \
      d[i] = -x;                                                                               \
    }                                                                                          \
  }

NG__ADAM_KERNELS(generic, )
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
NG__ADAM_KERNELS(avx2, __attribute__((target("avx2"))))
NG__ADAM_KERNELS(avx512, __attribute__((target("avx512f"))))
#define NG__ADAM_PICK(name, ...)                                                               \
  do {                                                                                         \
    if (__builtin_cpu_supports("avx512f")) name##_avx512(__VA_ARGS__);                         \
    else if (__builtin_cpu_supports("avx2")) name##_avx2(__VA_ARGS__);                         \
    else name##_generic(__VA_ARGS__);                                                          \
  } while (0)
#else
#define NG__ADAM_PICK(name, ...) name##_generic(__VA_ARGS__)
#endif

void ng__adam_update(size_t n, const ng__adam_hp_t *hp, uint64_t t, double *restrict theta,
                     double *restrict m, double *restrict v, const double *restrict g) {
  ng__adam_k_t k = ng__adam_k(hp, t);
  NG__ADAM_PICK(ng__update, n, k, theta, m, v, g);
}

void ng__adam_delta(size_t n, const ng__adam_hp_t *hp, uint64_t t, const double *restrict m,
                    const double *restrict v, const double *restrict g, double *restrict m_new,
                    double *restrict v_new, double *restrict d) {
  ng__adam_k_t k = ng__adam_k(hp, t);
  NG__ADAM_PICK(ng__delta, n, k, m, v, g, m_new, v_new, d);
}
