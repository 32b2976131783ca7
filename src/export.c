/* natgrad export: writes a trainer's deterministic policy as a C header (natgrad/export.h).
 * The header repeats, operation for operation, what ng_rl_predict runs for one row:
 * ng__rl_obs_encode, ng__rms_normalize, the one-row forward (ng__small_layer's dot products
 * in src/mlp_kernels.c: lane q of 8 sums k = q, q + 8, ... from 0, the lanes added in a fixed
 * tree, the last c % 8 terms in order, then the bias added; ng__tanh_array's algorithm per
 * value), ng_dist_mode and ng__rl_clip_action. A change to any of those orders must change
 * the text below, or the f64 export tests fail. */
#include "natgrad/export.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "natgrad/dist.h"
#include "natgrad/env.h"
#include "natgrad/model.h"
#include "rl/rl_impl.h"

#ifndef NG_VERSION
#define NG_VERSION "unknown"
#endif

#define NG__PREFIX_MAX 64
/* At the start of each emitted function: clang's contraction off for its body only. */
#define NG__CLANG "#if defined(__clang__)\n#pragma clang fp contract(off)\n#endif\n"

typedef struct {
  FILE *f;
  int f32;
  int bad; /* a write failed or a value has no literal */
  const char *T;
} ng__w_t;

static void ng__out(ng__w_t *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void ng__out(ng__w_t *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (vfprintf(w->f, fmt, ap) < 0 && !w->bad) w->bad = 1;
  va_end(ap);
}

/* v as a literal of the header's type that the compiler reads back to the same value:
 * 17 significant digits for a double, 9 for a float (plus the f suffix), always with a
 * point or exponent so that -0 stays -0.0. */
static const char *ng__lit(ng__w_t *w, double v, char *buf, size_t size) {
  const double x = w->f32 ? (double)(float)v : v;
  if (!isfinite(x)) {
    w->bad = 2; /* reported by the caller */
    snprintf(buf, size, "0");
    return buf;
  }
  int n = snprintf(buf, size, w->f32 ? "%.9g" : "%.17g", x);
  if (n > 0 && (size_t)n + 3 < size) {
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    if (w->f32) strcat(buf, "f");
  }
  return buf;
}

/* "static const T NAME[n] = {...};" four values a line; with std, sqrt(v + 1e-8) as
 * ng__rms_normalize divides by it (sqrt is correctly rounded: the same value). */
static void ng__array(ng__w_t *w, const char *prefix, const char *name, size_t n,
                      const double *v, int std, const char *comment) {
  char b[40];
  ng__out(w, "/* %s */\nstatic const %s %s_%s[%zu] = {", comment, w->T, prefix, name, n);
  for (size_t i = 0; i < n; i++) {
    const double x = std ? sqrt(v[i] + NG_RL_NORM_EPS) : v[i];
    ng__out(w, "%s%s%s", i % 4 ? " " : "\n    ", ng__lit(w, x, b, sizeof b),
            i + 1 < n ? "," : "");
  }
  ng__out(w, "};\n\n");
}

/* The tanh of src/mlp_kernels.c (NG__TANH_KERNEL) for one value, in the header's type.
 * For double every operation is the kernel's lane operation, in its order: |x| clamped at
 * 20, the Cephes rational for |x| <= 0.625, else 1 - 2 / (exp(2|x|) + 1) with fdlibm's exp
 * kernel, the sign of x put back; 2^k, which the kernel builds from k's bits, is built by
 * doubling (exact). For float the same algorithm with float constants: ln 2 split as Cephes'
 * expf (0.693359375 - 2.12194440e-4) and the rounding shift 1.5 * 2^23. */
static void ng__emit_tanh(ng__w_t *w, const char *p) {
  const char *T = w->T, *f = w->f32 ? "f" : "", *z = w->f32 ? ".0f" : ".0";
  ng__out(w,
          "/* natgrad's tanh (src/mlp_kernels.c), one value at a time. */\n"
          "static inline %s %s_tanh(%s x) {\n"
          NG__CLANG
          "  %s ax, res;\n"
          "  if (x == 0%s) return x; /* -0 stays -0 */\n"
          "  ax = x < 0%s ? -x : x;\n"
          "  if (ax > 20%s) ax = 20%s; /* tanh(20) rounds to 1; exp cannot overflow */\n"
          "  if (!(ax > 0.625%s)) { /* also NaN */\n"
          "    %s s = ax * ax;\n"
          "    %s p = (-9.64399179425052238628E-1%s * s + -9.92877231001918586564E1%s) * s +\n"
          "           -1.61468768441708447952E3%s;\n"
          "    %s q = ((s + 1.12811678491632931402E2%s) * s + 2.23548839060100448583E3%s) * s +\n"
          "           4.84406305325125486048E3%s;\n"
          "    res = ax + ax * (s * (p / q));\n"
          "  } else {\n",
          T, p, T, T, z, z, z, z, f, T, T, f, f, f, T, f, f, f);
  if (w->f32)
    ng__out(w, "    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;\n"
               "    const float shift = 12582912.0f; /* 1.5 * 2^23 */\n");
  else
    ng__out(w, "    const double ln2_hi = 6.93147180369123816490e-01;\n"
               "    const double ln2_lo = 1.90821492927058770002e-10;\n"
               "    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */\n");
  ng__out(w,
          "    %s y = 2%s * ax, t = y * 1.44269504088896338700e+00%s + shift, kd = t - shift;\n"
          "    %s hi = y - kd * ln2_hi, lo = kd * ln2_lo, r = hi - lo, r2 = r * r;\n"
          "    %s c = r - r2 * (1.66666666666666019037e-01%s +\n"
          "                 r2 * (-2.77777777770155933842e-03%s +\n"
          "                       r2 * (6.61375632143793436117e-05%s +\n"
          "                             r2 * (-1.65339022054652515390e-06%s +\n"
          "                                   r2 * 4.13813679705723846039e-08%s))));\n"
          "    %s er = 1%s - ((lo - (r * c) / (2%s - c)) - hi), two_k = 1%s;\n"
          "    int k;\n"
          "    for (k = (int)kd; k > 0; k--) two_k *= 2%s; /* 2^k, exactly */\n"
          "    res = 1%s - 2%s / (er * two_k + 1%s);\n"
          "  }\n"
          "  return x < 0%s ? -res : res;\n"
          "}\n\n",
          T, z, f, T, T, f, f, f, f, f, T, z, z, z, z, z, z, z, z);
}

static int ng__prefix_ok(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > NG__PREFIX_MAX || isdigit((unsigned char)p[0])) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)p[i]) && p[i] != '_') return 0;
  return 1;
}

static const char *ng__space_name(const ng_space_t *s, char *buf, size_t size) {
  static const char *kinds[] = {"Box", "Discrete", "MultiDiscrete", "MultiBinary"};
  const char *k = (unsigned)s->kind < 4 ? kinds[s->kind] : "?";
  snprintf(buf, size, "%s(%zu)", k, s->dim);
  return buf;
}

int ng_export_c(const ng_rl_t *t, const ng_export_opts_t *opts, FILE *out,
                ng_export_info_t *info, ng_error_t *err) {
  if (!t || !out) return ng_error_set(err, NG_EINVAL, "export: NULL trainer or file");
  const ng_export_opts_t def = {NG_EXPORT_F64, NULL, NULL};
  if (!opts) opts = &def;
  if (opts->precision != NG_EXPORT_F64 && opts->precision != NG_EXPORT_F32)
    return ng_error_set(err, NG_EINVAL, "export: unknown precision %d", (int)opts->precision);
  const char *p = opts->prefix ? opts->prefix : "policy";
  if (!ng__prefix_ok(p))
    return ng_error_set(err, NG_EINVAL, "export: prefix '%s' is not a C identifier of at most "
                        "%d characters", p, NG__PREFIX_MAX);
  const ng_space_t *os = &t->obs_space;
  if (os->kind != NG_SPACE_BOX && os->kind != NG_SPACE_DISCRETE)
    return ng_error_set(err, NG_EUNSUPPORTED, "export: observation space kind %d", os->kind);
  char P[NG__PREFIX_MAX + 1];
  for (size_t i = 0; i <= strlen(p); i++) P[i] = (char)toupper((unsigned char)p[i]);

  const ng_rl_config_t *cfg = &t->cfg;
  const ng_mlp_t *mlp = ng_model_mlp(t->policy);
  const ng_dist_t dist = ng_model_dist(t->policy);
  const size_t L = ng_mlp_n_layers(mlp), n_raw = ng_space_size(os), n_in = t->obs_dim;
  const ng_env_info_t *einfo = ng_env_info(t->envs[0]); /* a caller's env too */
  /* the outputs the mode reads: a Gaussian's means (a state-dependent log std's outputs
   * follow them), every logit of the other kinds */
  const size_t n_mode = dist.kind == NG_DIST_GAUSSIAN ? dist.dim : ng_dist_n_params(&dist);
  ng__w_t w = {out, opts->precision == NG_EXPORT_F32, 0,
               opts->precision == NG_EXPORT_F32 ? "float" : "double"};
  const char *T = w.T, *z = w.f32 ? ".0f" : ".0"; /* after an integer: a T literal */
  const size_t tsize = w.f32 ? sizeof(float) : sizeof(double);

  /* sizes first: the comment states them */
  ng_export_info_t in = {0, 0, 0, 0, 0, 0};
  size_t widest = 0, arch_len = 0;
  char arch[256];
  arch_len += (size_t)snprintf(arch, sizeof arch, "%zu", n_in);
  for (size_t l = 0; l < L; l++) {
    const size_t r = l + 1 == L ? n_mode : ng_mlp_size(mlp, l + 1), c = ng_mlp_size(mlp, l);
    in.n_params += r * c + r;
    in.flops += 2 * r * c + r;
    if (ng_mlp_act(mlp, l) == NG_ACT_TANH) in.n_tanh += r;
    if (l + 1 < L && r > widest) widest = r;
    if (arch_len < sizeof arch)
      arch_len += (size_t)snprintf(arch + arch_len, sizeof arch - arch_len, "-%zu%s", r,
                                   l + 1 < L ? "" : " ");
  }
  size_t n_clip = 0;
  if (cfg->clip_actions && t->act_low && t->act_high)
    for (size_t j = 0; j < t->act_size; j++)
      n_clip += isfinite(t->act_low[j]) + isfinite(t->act_high[j]);
  in.n_consts = (cfg->normalize_obs ? 2 * n_in : 0) + n_clip;
  in.flops += cfg->normalize_obs ? 2 * n_in : 0;
  in.bytes = (in.n_params + in.n_consts) * tsize;
  in.stack = (n_in + 2 * widest + n_mode + 8) * tsize;

  char ob[64], ab[64], b1[40], b2[40];
  ng__out(&w,
          "/* %s: a natgrad policy as C, written by `natgrad export`. C99 and C++; includes\n"
          " * nothing, allocates nothing, writes no global, calls no libm.\n"
          " *\n", p);
  if (opts->run) {
    /* the name as given, but nothing that could end the comment or the line */
    ng__out(&w, " *   run          ");
    for (const char *c = opts->run; *c; c++)
      ng__out(&w, "%c", (*c == '*' && c[1] == '/') || !isprint((unsigned char)*c) ? '?' : *c);
    ng__out(&w, "\n");
  }
  ng__out(&w,
          " *   environment  %s: observation %s, action %s\n"
          " *   trained      %ld environment steps, %ld iterations (%s, seed %llu)\n"
          " *   natgrad      %s\n"
          " *   precision    %s (%s)\n"
          " *   network      %s(%s hidden), %zu parameters; %zu other constants\n"
          " *   per call     %zu FLOPs and %zu tanh; %zu bytes of constants, %zu of stack\n"
          " *\n",
          cfg->env_id, ng__space_name(os, ob, sizeof ob),
          ng__space_name(&einfo->action_space, ab, sizeof ab), t->env_steps, t->iteration,
          ng_rl_algo_name(cfg->algo), (unsigned long long)cfg->seed,
          NG_VERSION, w.f32 ? "f32" : "f64", T, arch, ng_act_name(cfg->policy_act), in.n_params,
          in.n_consts, in.flops, in.n_tanh, in.bytes, in.stack);
  ng__out(&w,
          " * int %s_act(const %s *obs, %s *act): obs holds %s_OBS_DIM values as the\n"
          " * environment writes them, act gets %s_ACT_DIM values as the environment takes\n"
          " * them: the deterministic action of `natgrad eval`. Returns 0, or -1 (act untouched)\n"
          " * for an observation outside its space (NaN or Inf; a Discrete index that is not an\n"
          " * integer in range). Reentrant: state lives on the stack.\n"
          " *\n"
          " * No floating-point contraction: a * b + c must not become a fused multiply-add. The\n"
          " * header turns it off for its functions with GCC's and clang's pragmas (clang's\n"
          " * -ffp-contract=fast overrides its pragma); other compilers: -ffp-contract=off or\n"
          " * their equivalent. No -ffast-math.\n",
          p, T, T, P, P);
  if (w.f32)
    ng__out(&w, " * In float the actions differ from natgrad's double ones by rounding; on any\n"
                " * IEEE single-precision FPU without contraction they are the same bits.\n");
  else
    ng__out(&w, " * Then, where double is IEEE binary64 evaluated in double (x86-64, AArch64,\n"
                " * ARM; not x87), the actions are natgrad's ng_rl_predict's bit for bit.\n");
  ng__out(&w, " */\n#ifndef %s_NATGRAD_POLICY_H\n#define %s_NATGRAD_POLICY_H\n\n", P, P);
  ng__out(&w,
          "#define %s_OBS_DIM %zu /* values per observation */\n"
          "#define %s_ACT_DIM %zu /* values per action */\n"
          "#define %s_N_PARAMS %zu\n"
          "#define %s_FLOPS %zu\n\n",
          P, n_raw, P, t->act_size, P, in.n_params, P, in.flops);

  /* constants: normaliser, layers (the last one's first n_mode outputs) */
  if (cfg->normalize_obs) {
    ng__array(&w, p, "obs_mean", n_in, t->obs_rms.mean, 0, "running mean of the observations");
    ng__array(&w, p, "obs_std", n_in, t->obs_rms.var, 1, "their sqrt(variance + 1e-8)");
  }
  for (size_t l = 0; l < L; l++) {
    const size_t r = l + 1 == L ? n_mode : ng_mlp_size(mlp, l + 1), c = ng_mlp_size(mlp, l);
    const double *wl = t->theta + ng_mlp_layer_offset(mlp, l);
    char name[32], what[96];
    snprintf(name, sizeof name, "w%zu", l);
    snprintf(what, sizeof what, "layer %zu: weights, %zu x %zu row-major (out x in)", l, r, c);
    ng__array(&w, p, name, r * c, wl, 0, what);
    snprintf(name, sizeof name, "b%zu", l);
    snprintf(what, sizeof what, "layer %zu: biases", l);
    ng__array(&w, p, name, r, wl + ng_mlp_size(mlp, l + 1) * c, 0, what);
  }

  /* the helpers, and the policy: no contraction of a * b + c into a fused multiply-add
   * (which rounds once where natgrad rounds twice), whatever the includer's flags; clang's
   * -ffp-contract=fast overrides its pragma, which scopes to each function's body (NG__CLANG) */
  ng__out(&w, "#if defined(__GNUC__) && !defined(__clang__)\n#pragma GCC push_options\n"
              "#pragma GCC optimize(\"fp-contract=off\")\n#endif\n\n");
  if (in.n_tanh > 0) ng__emit_tanh(&w, p);
  ng__out(&w,
          "/* z = b + a W^T (W: r x c) then the activation (0 identity, 1 tanh, 2 relu), in\n"
          " * natgrad's one-row order: lane q of 8 sums k = q, q + 8, ... from 0, the lanes add\n"
          " * in a fixed tree, the last c %% 8 terms follow in order, the bias comes last. */\n"
          "static inline void %s_layer(int r, int c, const %s *w, const %s *b, const %s *a,\n"
          "                            %s *z, int act) {\n"
          NG__CLANG
          "  int j, k, q;\n"
          "  const int c8 = c - c %% 8;\n"
          "  for (j = 0; j < r; j++) {\n"
          "    const %s *wj = w + j * c;\n"
          "    %s s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, d;\n"
          "    for (k = 0; k < c8; k += 8)\n"
          "      for (q = 0; q < 8; q++) s[q] += a[k + q] * wj[k + q];\n"
          "    d = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));\n"
          "    for (k = c8; k < c; k++) d += a[k] * wj[k];\n"
          "    d = b[j] + d;\n",
          p, T, T, T, T, T, T);
  ng__out(&w, "    z[j] = act == 2 ? (d > 0%s ? d : 0%s) : ", z, z);
  if (in.n_tanh > 0) ng__out(&w, "act == 1 ? %s_tanh(d) : d;\n", p);
  else ng__out(&w, "d;\n");
  ng__out(&w, "  }\n}\n\n");

  /* the policy */
  const char *cur = "obs";
  ng__out(&w, "static inline int %s_act(const %s *obs, %s *act) {\n" NG__CLANG, p, T, T);
  ng__out(&w, "  %s x[%zu], h[2][%zu], y[%zu];\n  int i;\n", T, n_in, widest ? widest : 1,
          n_mode);
  if (os->kind == NG_SPACE_DISCRETE) {
    ng__out(&w,
            "  /* a Discrete observation: its index, fed one-hot */\n"
            "  if (!(obs[0] >= 0%s && obs[0] < %zu%s) || obs[0] != (%s)(int)obs[0]) return -1;\n"
            "  for (i = 0; i < %zu; i++) x[i] = 0%s;\n"
            "  x[(int)obs[0]] = 1%s;\n",
            z, os->dim, z, T, n_in, z, z);
    cur = "x";
  } else {
    ng__out(&w, "  for (i = 0; i < %zu; i++)\n    if (!(obs[i] - obs[i] == 0%s)) return -1; "
                "/* NaN or Inf */\n", n_in, z);
  }
  if (cfg->normalize_obs) {
    ng__out(&w,
            "  for (i = 0; i < %zu; i++) { /* normalised and clipped as trained */\n"
            "    const %s z = (%s[i] - %s_obs_mean[i]) / %s_obs_std[i];\n"
            "    x[i] = z < -%s ? -%s : (z > %s ? %s : z);\n"
            "  }\n",
            n_in, T, cur, p, p, ng__lit(&w, cfg->obs_clip, b1, sizeof b1), b1, b1, b1);
    cur = "x";
  }
  if (!strcmp(cur, "obs")) ng__out(&w, "  (void)x;\n");
  for (size_t l = 0; l < L; l++) {
    const size_t r = l + 1 == L ? n_mode : ng_mlp_size(mlp, l + 1), c = ng_mlp_size(mlp, l);
    const ng_act_t a = ng_mlp_act(mlp, l);
    char dst[32];
    if (l + 1 == L) snprintf(dst, sizeof dst, "y");
    else snprintf(dst, sizeof dst, "h[%zu]", l % 2);
    ng__out(&w, "  %s_layer(%zu, %zu, %s_w%zu, %s_b%zu, %s, %s, %d);\n", p, r, c, p, l, p, l, cur,
            dst, a == NG_ACT_TANH ? 1 : a == NG_ACT_RELU ? 2 : 0);
    snprintf(l % 2 ? b2 : b1, sizeof b1, "%s", dst);
    cur = l % 2 ? b2 : b1;
  }
  if (L == 1) ng__out(&w, "  (void)h;\n");
  /* the action (ng_dist_mode, then ng__rl_clip_action) */
  switch (dist.kind) {
  case NG_DIST_GAUSSIAN:
    ng__out(&w, "  for (i = 0; i < %zu; i++) act[i] = y[i]; /* the mean */\n", dist.dim);
    for (size_t j = 0; j < dist.dim && cfg->clip_actions && t->act_low && t->act_high; j++) {
      if (isfinite(t->act_low[j]))
        ng__out(&w, "  if (act[%zu] < %s) act[%zu] = %s;\n", j,
                ng__lit(&w, t->act_low[j], b1, sizeof b1), j, b1);
      if (isfinite(t->act_high[j]))
        ng__out(&w, "  if (act[%zu] > %s) act[%zu] = %s;\n", j,
                ng__lit(&w, t->act_high[j], b1, sizeof b1), j, b1);
    }
    break;
  case NG_DIST_MULTI_BINARY:
    ng__out(&w, "  for (i = 0; i < %zu; i++) act[i] = y[i] > 0%s ? 1%s : 0%s; /* p > 1/2 */\n",
            dist.dim, z, z, z);
    break;
  default: {
    /* the first largest logit of each block */
    size_t off = 0;
    for (size_t b = 0; b < ng_dist_n_blocks(&dist); b++) {
      const size_t k = ng_dist_block_size(&dist, b);
      ng__out(&w,
              "  { /* component %zu: the first largest of %zu logits */\n"
              "    int best = 0;\n"
              "    for (i = 1; i < %zu; i++)\n"
              "      if (y[%zu + i] > y[%zu + best]) best = i;\n"
              "    act[%zu] = (%s)best;\n"
              "  }\n",
              b, k, k, off, off, b, T);
      off += k;
    }
  }
  }
  ng__out(&w, "  return 0;\n}\n\n#if defined(__GNUC__) && !defined(__clang__)\n"
              "#pragma GCC pop_options\n#endif\n#endif\n");
  if (info) *info = in;
  if (w.bad == 2)
    return ng_error_set(err, NG_ERANGE, "export: a value overflows %s", T);
  if (w.bad || fflush(out) != 0 || ferror(out))
    return ng_error_set(err, NG_EIO, "export: write failed");
  return NG_OK;
}

int ng_export_c_file(const ng_rl_t *t, const ng_export_opts_t *opts, const char *path,
                     int force, ng_export_info_t *info, ng_error_t *err) {
  if (!t || !path || !*path) return ng_error_set(err, NG_EINVAL, "export: NULL trainer or path");
  struct stat sb;
  if (!force && stat(path, &sb) == 0)
    return ng_error_set(err, NG_EEXIST, "export: %s already exists (--force replaces it)", path);
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
    return ng_error_set(err, NG_EINVAL, "export: path too long");
  FILE *f = fopen(tmp, "w");
  if (!f) return ng_error_set(err, NG_EIO, "export: cannot write %s: %s", path, strerror(errno));
  int s = ng_export_c(t, opts, f, info, err);
  int e = 0;
  if (fclose(f) != 0 && !s) {
    e = errno;
    s = ng_error_set(err, NG_EIO, "export: cannot write %s: %s", tmp, strerror(e));
  }
  if (!s && rename(tmp, path) != 0)
    s = ng_error_set(err, NG_EIO, "export: cannot write %s: %s", path, strerror(errno));
  if (s) remove(tmp);
  return s;
}
