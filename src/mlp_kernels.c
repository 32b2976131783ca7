/* The MLP's numeric kernels: a vectorised tanh, products with a thin dimension, and the
 * finiteness check, each with its run-time pick of AVX-512F / AVX2 / plain builds. Kept
 * apart from the passes in mlp.c, which call them through mlp_kernels.h. Internal. */
#include "mlp_kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "natgrad/core.h"

/* GCC/clang vector extensions keep the kernels vectorised whatever the optimiser decides;
 * other compilers get libm's tanh, BLAS for every product and a plain finiteness loop. On
 * x86 each kernel is also built for AVX2 and AVX-512F, picked at run time. */
#if defined(__GNUC__)
#define NG__SIMD 1
#if defined(__x86_64__) || defined(__i386__)
#define NG__X86_DISPATCH 1
#else
#define NG__X86_DISPATCH 0
#endif
#else
#define NG__SIMD 0
#define NG__X86_DISPATCH 0
#endif

/* ---- tanh ----------------------------------------------------------------------------
 * libm's tanh (glibc: expm1 plus branches, ~15 ns a call) was most of a forward pass. This
 * one evaluates both of Cephes' branches on all lanes of a vector at once, without
 * branches, and picks per lane:
 *     |x| <= 0.625:  x + x^3 P(x^2) / Q(x^2)          (Cephes tanh.c, degree 2/3 rational)
 *     |x| >  0.625:  1 - 2 / (exp(2|x|) + 1)          (exp as fdlibm's e_exp.c kernel)
 * with the sign copied from x. |x| is clamped at 20 (tanh(20) rounds to 1) so the exp never
 * overflows; NaN propagates through the rational branch; -0 stays -0. Max error ~1.3 ulp
 * against a long-double tanhl over the whole double range (libm's own: ~2.1), checked in
 * test_mlp. No fused multiply-adds (-ffp-contract=off), so every machine rounds the same.
 *
 * Width. The kernel is one macro instantiated for 2 lanes (SSE2, any x86-64) and, on x86,
 * for 4 (AVX2) and 8 (AVX-512F) lanes, picked at run time. Lanes are independent and every
 * operation is an IEEE basic one (+ - * /, compares, bit logic), so all widths give the same
 * bits; the 8-lane one is ~4x faster than the 2-lane one here (~0.9 ns a value). Sharing one
 * division between the branches (operands picked per lane, same bits) was measured slower:
 * at 8 lanes the kernel is bound by its instruction count, not by the divider. */
#if NG__SIMD
/* Cephes tanh: P (numerator, highest first) and Q (monic denominator). */
#define NG__TP0 -9.64399179425052238628E-1
#define NG__TP1 -9.92877231001918586564E1
#define NG__TP2 -1.61468768441708447952E3
#define NG__TQ0 1.12811678491632931402E2
#define NG__TQ1 2.23548839060100448583E3
#define NG__TQ2 4.84406305325125486048E3
/* fdlibm exp: ln2 split so k * LN2_HI is exact for |k| < 2^20, and the Remez coefficients
 * of its rational kernel on [-ln2/2, ln2/2]. */
#define NG__LN2_HI 6.93147180369123816490e-01
#define NG__LN2_LO 1.90821492927058770002e-10
#define NG__INV_LN2 1.44269504088896338700e+00
#define NG__EP1 1.66666666666666019037e-01
#define NG__EP2 -2.77777777770155933842e-03
#define NG__EP3 6.61375632143793436117e-05
#define NG__EP4 -1.65339022054652515390e-06
#define NG__EP5 4.13813679705723846039e-08
/* 1.5 * 2^52: adding it rounds to an integer, held in the low mantissa bits. */
#define NG__ROUND_SHIFT 0x1.8p52

/* NAME(n, z, a): a = tanh(z) on the first n - n % W values, W lanes at a time; returns how
 * many it did. VD/VU: W-lane double / uint64 vector types; (a & m) | (b & ~m) is the lane
 * select. */
#define NG__TANH_KERNEL(NAME, VD, VU, W, ATTR)                                                 \
  ATTR static size_t NAME(size_t n, const double *z, double *a) {                             \
    const VU sign = (VU){0} + (UINT64_C(1) << 63);                                             \
    const VD clamp = (VD){0} + 20.0;                                                           \
    size_t i = 0;                                                                              \
    for (; i + (W) <= n; i += (W)) {                                                           \
      VD x;                                                                                    \
      memcpy(&x, z + i, sizeof x); /* no alignment assumed */                                 \
      VD ax = (VD)((VU)x & ~sign);                                                             \
      VU big = (VU)(ax > 20.0);                                                                \
      ax = (VD)(((VU)ax & ~big) | ((VU)clamp & big));                                          \
      /* small branch */                                                                       \
      VD s = ax * ax;                                                                          \
      VD p = (NG__TP0 * s + NG__TP1) * s + NG__TP2;                                            \
      VD q = ((s + NG__TQ0) * s + NG__TQ1) * s + NG__TQ2;                                      \
      VD small = ax + ax * (s * (p / q));                                                      \
      /* large branch: e = exp(y) = 2^k exp(r), y = k ln2 + r, |r| <= ln2/2 */                 \
      VD y = 2.0 * ax;                                                                         \
      VD t = y * NG__INV_LN2 + NG__ROUND_SHIFT;                                                \
      VD kd = t - NG__ROUND_SHIFT;                                                             \
      VD hi = y - kd * NG__LN2_HI, lo = kd * NG__LN2_LO;                                       \
      VD r = hi - lo, r2 = r * r;                                                              \
      VD c = r - r2 * (NG__EP1 + r2 * (NG__EP2 + r2 * (NG__EP3 + r2 * (NG__EP4 + r2 * NG__EP5)))); \
      VD er = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);                                         \
      /* 2^k from k's bits in t (0 <= k <= 58 here): shift them into the exponent field */     \
      VD two_k = (VD)(((VU)t << 52) + (UINT64_C(1023) << 52));                                 \
      VD large = 1.0 - 2.0 / (er * two_k + 1.0);                                               \
      /* NaN compares false: it takes the small branch, which propagates it */                 \
      VU use_large = (VU)(ax > 0.625);                                                         \
      VU res = ((VU)large & use_large) | ((VU)small & ~use_large);                             \
      VD out = (VD)(res | ((VU)x & sign));                                                     \
      memcpy(a + i, &out, sizeof out);                                                         \
    }                                                                                          \
    return i;                                                                                  \
  }

typedef double ng__v2d __attribute__((vector_size(16)));
typedef uint64_t ng__v2u __attribute__((vector_size(16)));
NG__TANH_KERNEL(ng__tanh_w2, ng__v2d, ng__v2u, 2, )

#if NG__X86_DISPATCH
typedef double ng__v4d __attribute__((vector_size(32)));
typedef uint64_t ng__v4u __attribute__((vector_size(32)));
typedef double ng__v8d __attribute__((vector_size(64)));
typedef uint64_t ng__v8u __attribute__((vector_size(64)));
NG__TANH_KERNEL(ng__tanh_w4, ng__v4d, ng__v4u, 4, __attribute__((target("avx2"))))
NG__TANH_KERNEL(ng__tanh_w8, ng__v8d, ng__v8u, 8, __attribute__((target("avx512f"))))
#endif
#endif

void ng__tanh_array(size_t n, const double *z, double *a) {
#if NG__SIMD
  size_t i = 0;
#if NG__X86_DISPATCH
  if (__builtin_cpu_supports("avx512f")) i = ng__tanh_w8(n, z, a);
  else if (__builtin_cpu_supports("avx2")) i = ng__tanh_w4(n, z, a);
#endif
  i += ng__tanh_w2(n - i, z + i, a + i);
  if (i < n) {
    double pair[2] = {z[i], 0.0};
    ng__tanh_w2(2, pair, pair);
    a[i] = pair[0];
  }
#else
  for (size_t i = 0; i < n; i++) a[i] = tanh(z[i]);
#endif
}

/* ---- float tanh ----------------------------------------------------------------------
 * For the float32 value function (mlp_f32.c): Eigen's generic_fast_tanh_float, an odd
 * rational of degree 13/6 on x clamped to +-7.9053 (where it rounds to +-1 in float), x
 * itself for |x| < 4e-4. Basic IEEE operations only, lanes independent, so the 4-, 8- and
 * 16-lane builds give the same bits; NaN fails both compares and propagates; -0 stays -0. */
#if NG__SIMD
#define NG__TANHF_KERNEL(NAME, VF, VI, W, ATTR)                                                \
  ATTR static size_t NAME(size_t n, const float *z, float *a) {                               \
    size_t i = 0;                                                                              \
    for (; i + (W) <= n; i += (W)) {                                                           \
      VF x, c = (VF){0} + 7.90531110763549805f;                                                \
      memcpy(&x, z + i, sizeof x);                                                             \
      VI hi = (VI)(x > c), lo = (VI)(x < -c);                                                  \
      VF xc = (VF)(((VI)x & ~(hi | lo)) | ((VI)c & hi) | ((VI)(-c) & lo));                     \
      VF x2 = xc * xc;                                                                         \
      VF p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;                              \
      p = x2 * p + -8.60467152213735e-11f;                                                     \
      p = x2 * p + 5.12229709037114e-08f;                                                      \
      p = x2 * p + 1.48572235717979e-05f;                                                      \
      p = x2 * p + 6.37261928875436e-04f;                                                      \
      p = x2 * p + 4.89352455891786e-03f;                                                      \
      p = xc * p;                                                                              \
      VF q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;                               \
      q = x2 * q + 2.26843463243900e-03f;                                                      \
      q = x2 * q + 4.89352518554385e-03f;                                                      \
      VF r = p / q, ax = (VF)((VI)x & ~((VI){0} + INT32_MIN));                                 \
      VI tiny = (VI)(ax < 0.0004f);                                                            \
      VF out = (VF)(((VI)x & tiny) | ((VI)r & ~tiny));                                         \
      memcpy(a + i, &out, sizeof out);                                                         \
    }                                                                                          \
    return i;                                                                                  \
  }
typedef float ng__v4f __attribute__((vector_size(16)));
typedef int32_t ng__v4i __attribute__((vector_size(16)));
NG__TANHF_KERNEL(ng__tanhf_w4, ng__v4f, ng__v4i, 4, )
#if NG__X86_DISPATCH
typedef float ng__v8f __attribute__((vector_size(32)));
typedef int32_t ng__v8i __attribute__((vector_size(32)));
typedef float ng__v16f __attribute__((vector_size(64)));
typedef int32_t ng__v16i __attribute__((vector_size(64)));
NG__TANHF_KERNEL(ng__tanhf_w8, ng__v8f, ng__v8i, 8, __attribute__((target("avx2"))))
NG__TANHF_KERNEL(ng__tanhf_w16, ng__v16f, ng__v16i, 16, __attribute__((target("avx512f"))))
#endif
#endif

void ng__tanhf_array(size_t n, const float *z, float *a) {
#if NG__SIMD
  size_t i = 0;
#if NG__X86_DISPATCH
  if (__builtin_cpu_supports("avx512f")) i = ng__tanhf_w16(n, z, a);
  else if (__builtin_cpu_supports("avx2")) i = ng__tanhf_w8(n, z, a);
#endif
  i += ng__tanhf_w4(n - i, z + i, a + i);
  if (i < n) {
    float quad[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(quad, z + i, (n - i) * sizeof *quad);
    ng__tanhf_w4(4, quad, quad);
    memcpy(a + i, quad, (n - i) * sizeof *quad);
  }
#else
  for (size_t i = 0; i < n; i++) a[i] = tanhf(z[i]);
#endif
}

/* ---- small and thin products ------------------------------------------------------------
 * BLAS is fast on the 64 x 64 layer products but slow where one dimension is tiny: the
 * rollout's forward on n_envs rows (often 2; 2.6 us for a 4-64-64-2 forward, most of it
 * call overhead), and, in every pass, the products through a 2- or 3-wide output layer or a
 * 3- or 4-wide input (a 256 x 2 x 64 product ran at 13 GFLOP/s, a 2 x 64 x 256 one at 8,
 * against 50-58 for the 64-wide ones; together a quarter of a Fisher product's time). Those
 * shapes go to the kernels below; ng__gemm routes every product of mlp.c.
 *
 * The kernels use a generic 8-lane vector type and only + and * (no fused multiply-add), so
 * their AVX-512, AVX2 and plain builds, picked at run time, give the same bits. Orders:
 *   dot    out = init + sum_k a_k b_k: lane q sums k = q, q + 8, ... in order, the lanes
 *          are added in a fixed tree, then the last k % 8 terms in order;
 *   axpy   out_j = init_j + a_0 b_0j + a_1 b_1j + ... in order of k;
 *   outer  O_pq += S_0p L_0q + S_1p L_1q + ... in order of the rows.
 * init is the bias, or C (beta = 1), or 0. */
#define NG__THIN 4       /* a product with a dimension this small goes to the kernels */
#define NG__THIN_MAX 1024 /* ... if the other operand fits a stack buffer of 4 x this */

#if NG__SIMD
typedef double ng__g8d __attribute__((vector_size(64)));

/* The tree over an accumulator's lanes, then the tail terms k in [c8, c) in order. */
#define NG__DOT_FINISH(acc, ai, wj, c8, c, out)                                                \
  do {                                                                                         \
    double s_ = (((acc)[0] + (acc)[4]) + ((acc)[2] + (acc)[6])) +                              \
                (((acc)[1] + (acc)[5]) + ((acc)[3] + (acc)[7]));                               \
    for (size_t k_ = (c8); k_ < (c); k_++) s_ += (ai)[k_] * (wj)[k_];                          \
    (out) = s_;                                                                                \
  } while (0)

/* The output's initial value: the bias, C itself (beta = 1) or 0. */
#define NG__INIT(bias, beta, zij, j) ((bias) ? (bias)[j] : (beta) != 0.0 ? (zij) : 0.0)

#define NG__THIN_KERNELS(SFX, ATTR)                                                            \
  /* z (rows x r, ldz) = init + a (rows x c, lda) W^T, W (r x c, ldw): dot products. Four    \
   * outputs at a time share each load of the row's inputs. */                                 \
  ATTR static void ng__dot_##SFX(size_t rows, size_t r, size_t c, const double *a,              \
                                 size_t lda, const double *w, size_t ldw, const double *bias,   \
                                 double beta, double *z, size_t ldz) {                          \
    const size_t c8 = c - c % 8;                                                               \
    for (size_t i = 0; i < rows; i++) {                                                        \
      const double *ai = a + i * lda;                                                          \
      double *zi = z + i * ldz;                                                                \
      size_t j = 0;                                                                            \
      for (; j + 4 <= r; j += 4) {                                                             \
        const double *w0 = w + j * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;        \
        ng__g8d s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, av, wv;                                \
        for (size_t k = 0; k < c8; k += 8) {                                                   \
          memcpy(&av, ai + k, sizeof av);                                                      \
          memcpy(&wv, w0 + k, sizeof wv);                                                      \
          s0 += av * wv;                                                                       \
          memcpy(&wv, w1 + k, sizeof wv);                                                      \
          s1 += av * wv;                                                                       \
          memcpy(&wv, w2 + k, sizeof wv);                                                      \
          s2 += av * wv;                                                                       \
          memcpy(&wv, w3 + k, sizeof wv);                                                      \
          s3 += av * wv;                                                                       \
        }                                                                                      \
        double d0, d1, d2, d3;                                                                 \
        NG__DOT_FINISH(s0, ai, w0, c8, c, d0);                                                 \
        NG__DOT_FINISH(s1, ai, w1, c8, c, d1);                                                 \
        NG__DOT_FINISH(s2, ai, w2, c8, c, d2);                                                 \
        NG__DOT_FINISH(s3, ai, w3, c8, c, d3);                                                 \
        zi[j] = NG__INIT(bias, beta, zi[j], j) + d0;                                           \
        zi[j + 1] = NG__INIT(bias, beta, zi[j + 1], j + 1) + d1;                               \
        zi[j + 2] = NG__INIT(bias, beta, zi[j + 2], j + 2) + d2;                               \
        zi[j + 3] = NG__INIT(bias, beta, zi[j + 3], j + 3) + d3;                               \
      }                                                                                        \
      for (; j < r; j++) {                                                                     \
        const double *wj = w + j * ldw;                                                        \
        ng__g8d s0 = {0}, av, wv;                                                              \
        for (size_t k = 0; k < c8; k += 8) {                                                   \
          memcpy(&av, ai + k, sizeof av);                                                      \
          memcpy(&wv, wj + k, sizeof wv);                                                      \
          s0 += av * wv;                                                                       \
        }                                                                                      \
        double d0;                                                                             \
        NG__DOT_FINISH(s0, ai, wj, c8, c, d0);                                                 \
        zi[j] = NG__INIT(bias, beta, zi[j], j) + d0;                                           \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
  /* z (rows x n, ldz) = init + a (rows x k, lda) B (k x n, ldb), k small: axpys along the   \
   * rows of B, 8 outputs a lane-vector. */                                                    \
  ATTR static void ng__axpy_##SFX(size_t rows, size_t n, size_t k, const double *a,             \
                                  size_t lda, const double *bm, size_t ldb, double beta,        \
                                  double *z, size_t ldz) {                                      \
    const size_t n8 = n - n % 8;                                                               \
    for (size_t i = 0; i < rows; i++) {                                                        \
      const double *ai = a + i * lda;                                                          \
      double *zi = z + i * ldz;                                                                \
      for (size_t j = 0; j < n8; j += 8) {                                                     \
        ng__g8d acc = {0}, bv;                                                                 \
        if (beta != 0.0) memcpy(&acc, zi + j, sizeof acc);                                     \
        for (size_t q = 0; q < k; q++) {                                                       \
          memcpy(&bv, bm + q * ldb + j, sizeof bv);                                            \
          acc += ai[q] * bv;                                                                   \
        }                                                                                      \
        memcpy(zi + j, &acc, sizeof acc);                                                      \
      }                                                                                        \
      for (size_t j = n8; j < n; j++) {                                                        \
        double acc = beta != 0.0 ? zi[j] : 0.0;                                                \
        for (size_t q = 0; q < k; q++) acc += ai[q] * bm[q * ldb + j];                         \
        zi[j] = acc;                                                                           \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
  /* O (s x n, ldo) += S^T L over K rows, S (K x s, lds) with s <= NG__THIN, L (K x n, ldl):  \
   * per block of 16 outputs of each of the s rows, a sum over the K rows in order. */         \
  ATTR static void ng__outer_##SFX(size_t K, size_t s, size_t n, const double *sm, size_t lds, \
                                   const double *lm, size_t ldl, double *o, size_t ldo) {       \
    const size_t n16 = n - n % 16;                                                             \
    for (size_t j = 0; j < n16; j += 16) {                                                     \
      ng__g8d acc[NG__THIN][2], lv0, lv1;                                                      \
      for (size_t p = 0; p < s; p++) {                                                         \
        memcpy(&acc[p][0], o + p * ldo + j, sizeof lv0);                                       \
        memcpy(&acc[p][1], o + p * ldo + j + 8, sizeof lv0);                                   \
      }                                                                                        \
      for (size_t b = 0; b < K; b++) {                                                         \
        memcpy(&lv0, lm + b * ldl + j, sizeof lv0);                                            \
        memcpy(&lv1, lm + b * ldl + j + 8, sizeof lv1);                                        \
        for (size_t p = 0; p < s; p++) {                                                       \
          const double sp = sm[b * lds + p];                                                   \
          acc[p][0] += sp * lv0;                                                               \
          acc[p][1] += sp * lv1;                                                               \
        }                                                                                      \
      }                                                                                        \
      for (size_t p = 0; p < s; p++) {                                                         \
        memcpy(o + p * ldo + j, &acc[p][0], sizeof lv0);                                       \
        memcpy(o + p * ldo + j + 8, &acc[p][1], sizeof lv0);                                   \
      }                                                                                        \
    }                                                                                          \
    for (size_t j = n16; j < n; j++)                                                           \
      for (size_t p = 0; p < s; p++) {                                                         \
        double acc = o[p * ldo + j];                                                           \
        for (size_t b = 0; b < K; b++) acc += sm[b * lds + p] * lm[b * ldl + j];               \
        o[p * ldo + j] = acc;                                                                  \
      }                                                                                        \
  }

NG__THIN_KERNELS(generic, )
#if NG__X86_DISPATCH
NG__THIN_KERNELS(avx2, __attribute__((target("avx2"))))
NG__THIN_KERNELS(avx512, __attribute__((target("avx512f"))))
/* 2: AVX-512F, 1: AVX2, 0: neither */
static int ng__isa(void) {
  return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
}
#define NG__PICK(name, ...)                                                                    \
  do {                                                                                         \
    int isa_ = ng__isa();                                                                      \
    if (isa_ == 2) name##_avx512(__VA_ARGS__);                                                 \
    else if (isa_ == 1) name##_avx2(__VA_ARGS__);                                              \
    else name##_generic(__VA_ARGS__);                                                          \
  } while (0)
#else
#define NG__PICK(name, ...) name##_generic(__VA_ARGS__)
#endif
#endif

void ng__small_layer(size_t rows, size_t r, size_t c, const double *a, const double *w,
                     const double *b, double *z) {
#if NG__SIMD
  NG__PICK(ng__dot, rows, r, c, a, c, w, c, b, 0.0, z, r);
#else
  for (size_t i = 0; i < rows; i++) memcpy(z + i * r, b, r * sizeof *z);
  ng__gemm(0, 1, rows, r, c, a, c, w, c, 1.0, z, r);
#endif
}

void ng__gemm(int ta, int tb, size_t m, size_t n, size_t k, const double *a, size_t lda,
              const double *b, size_t ldb, double beta, double *c, size_t ldc) {
#if NG__SIMD
  double buf[NG__THIN * NG__THIN_MAX];
  if (!ta && tb) {
    /* C = A B^T: B (n x k) */
    if (n <= NG__THIN) {
      NG__PICK(ng__dot, m, n, k, a, lda, b, ldb, NULL, beta, c, ldc);
      return;
    }
    if (k <= NG__THIN && n <= NG__THIN_MAX) {
      for (size_t q = 0; q < k; q++)
        for (size_t j = 0; j < n; j++) buf[q * n + j] = b[j * ldb + q];
      NG__PICK(ng__axpy, m, n, k, a, lda, buf, n, beta, c, ldc);
      return;
    }
  } else if (!ta && !tb) {
    /* C = A B: B (k x n) */
    if (k <= NG__THIN) {
      NG__PICK(ng__axpy, m, n, k, a, lda, b, ldb, beta, c, ldc);
      return;
    }
    if (n <= NG__THIN && k <= NG__THIN_MAX) {
      for (size_t j = 0; j < n; j++)
        for (size_t q = 0; q < k; q++) buf[j * k + q] = b[q * ldb + j];
      NG__PICK(ng__dot, m, n, k, a, lda, buf, k, NULL, beta, c, ldc);
      return;
    }
  } else if (ta && !tb && beta != 0.0) {
    /* C += A^T B: A (k x m), B (k x n) */
    if (m <= NG__THIN) {
      NG__PICK(ng__outer, k, m, n, a, lda, b, ldb, c, ldc);
      return;
    }
    if (n <= NG__THIN && m <= NG__THIN_MAX) {
      /* C^T (n x m) += B^T A, summed apart and added in */
      memset(buf, 0, n * m * sizeof *buf);
      NG__PICK(ng__outer, k, n, m, b, ldb, a, lda, buf, m);
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) c[i * ldc + j] += buf[j * m + i];
      return;
    }
  }
#endif
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)m, (int)n, (int)k, 1.0, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

void ng__bias_grad(size_t K, size_t n, const double *g, double *db) {
#if NG__SIMD
  static const double one = 1.0; /* the outer kernel with S a column of ones, stride 0 */
  NG__PICK(ng__outer, K, 1, n, &one, 0, g, n, db, n);
#else
  for (size_t b = 0; b < K; b++)
    for (size_t j = 0; j < n; j++) db[j] += g[b * n + j];
#endif
}

/* ---- finiteness ----------------------------------------------------------------------
 * x * 0 is 0 for a finite x and NaN otherwise, summed in independent lanes. The check runs on
 * theta at every forward, including the rollout's two-row ones, where a per-value branch cost
 * as much as the products. */
#if NG__SIMD
#define NG__FINITE_KERNEL(NAME, ATTR)                                                          \
  ATTR static int NAME(size_t n, const double *x) {                                            \
    ng__g8d s0 = {0}, s1 = {0}, v;                                                             \
    size_t i = 0;                                                                              \
    for (; i + 16 <= n; i += 16) {                                                             \
      memcpy(&v, x + i, sizeof v);                                                             \
      s0 += v * 0.0;                                                                           \
      memcpy(&v, x + i + 8, sizeof v);                                                         \
      s1 += v * 0.0;                                                                           \
    }                                                                                          \
    s0 += s1;                                                                                  \
    double s = ((s0[0] + s0[1]) + (s0[2] + s0[3])) + ((s0[4] + s0[5]) + (s0[6] + s0[7]));      \
    for (; i < n; i++) s += x[i] * 0.0;                                                        \
    return s == 0.0;                                                                           \
  }
NG__FINITE_KERNEL(ng__finite_generic, )
#if NG__X86_DISPATCH
NG__FINITE_KERNEL(ng__finite_avx512, __attribute__((target("avx512f"))))
#endif
int ng__finite(size_t n, const double *x) {
#if NG__X86_DISPATCH
  if (__builtin_cpu_supports("avx512f")) return ng__finite_avx512(n, x);
#endif
  return ng__finite_generic(n, x);
}
#else
int ng__finite(size_t n, const double *x) { return ng_all_finite(n, x); }
#endif
