/* natgrad export: a trained policy as one dependency-free C header.
 *
 * The header holds the deterministic policy exactly as ng_rl_predict (rl.h) computes it:
 * the observation checked, one-hot encoded (Discrete), normalised and clipped with the
 * trained statistics (normalize_obs), the policy network, and the action (the Gaussian mean
 * clipped to the Box bounds when clip_actions; the first largest logit for Discrete, per
 * component for MultiDiscrete; logit > 0 for MultiBinary). It declares, for a prefix P:
 *
 *     #define P_OBS_DIM ...   values per observation, as the environment writes it
 *     #define P_ACT_DIM ...   values per action, as the environment takes it
 *     static inline int P_act(const T *obs, T *act);   0, or -1 (act untouched) for an
 *                                                       observation outside its space
 *
 * with T double (NG_EXPORT_F64) or float (NG_EXPORT_F32). It is C99 and C++, includes
 * nothing, allocates nothing, writes no global, calls no libm (its tanh is natgrad's own
 * algorithm, scalar), and keeps its weights in static const arrays (flash on a
 * microcontroller). In f64 its actions equal ng_rl_predict's bit for bit when it is
 * compiled without floating-point contraction (its pragmas turn it off for GCC and clang,
 * except under clang's -ffp-contract=fast; else -ffp-contract=off; no -ffast-math) on a
 * target whose double arithmetic is IEEE binary64 evaluated in double (FLT_EVAL_METHOD 0:
 * x86-64, AArch64, ARM, not x87), and when the library was built with GCC or clang (the
 * one-row forward's summation order of src/mlp_kernels.c's vector kernels, which the header
 * repeats). docs/export.md says how to use it.
 */
#ifndef NATGRAD_EXPORT_H
#define NATGRAD_EXPORT_H

#include <stdio.h>

#include "natgrad/core.h"
#include "natgrad/rl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NG_EXPORT_F64 = 0, NG_EXPORT_F32 = 1 } ng_export_precision_t;

typedef struct {
  ng_export_precision_t precision;
  const char *prefix; /* names' prefix, a C identifier of at most 64 characters; NULL:
                         "policy" */
  const char *run;    /* what the header's comment names as the run (e.g. its folder);
                         NULL: nothing */
} ng_export_opts_t;

/* What a header holds, as its comment states it. */
typedef struct {
  size_t n_params;   /* network weights and biases in the file (the log std and unused
                        outputs left out) */
  size_t n_consts;   /* other constants: normaliser means and scales, action bounds */
  size_t flops;      /* floating-point operations per call besides the tanh: a multiply and
                        an add per weight, an add per bias, a subtract and a divide per
                        normalised input */
  size_t n_tanh;     /* tanh evaluations per call */
  size_t bytes;      /* read-only data: (n_params + n_consts) * sizeof(T) */
  size_t stack;      /* bytes of the call's local arrays */
} ng_export_info_t;

/* Writes the header of t's policy to out. NG_EINVAL for a bad prefix or argument,
 * NG_EUNSUPPORTED for a policy it cannot express (an observation space that is neither Box
 * nor Discrete), NG_ERANGE for a value that overflows float (f32), NG_EIO when out fails
 * (the header is then incomplete). info may be NULL. */
int ng_export_c(const ng_rl_t *t, const ng_export_opts_t *opts, FILE *out,
                ng_export_info_t *info, ng_error_t *err);

/* The same into the file at path, written whole to path.tmp and renamed over path, so a
 * failure leaves what was there. NG_EEXIST if path exists and !force; NG_EIO (naming the
 * path and the system's reason) when it cannot be written. */
int ng_export_c_file(const ng_rl_t *t, const ng_export_opts_t *opts, const char *path,
                     int force, ng_export_info_t *info, ng_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
