/* The export library call's own contract (natgrad/export.h): arguments refused, the text
 * deterministic, a write failure and a float overflow reported, an existing file kept. The
 * header's numbers against the library are tests/export.cmake's (they need a compiler). */
#include <stdlib.h>
#include <unistd.h>

#include "natgrad/export.h"
#include "ng_test.h"
#include "rl/rl_impl.h"

/* The header text of t under opts, in a malloc'd string (NULL on failure), status in *s. */
static char *export_text(const ng_rl_t *t, const ng_export_opts_t *o, int *s, size_t *len) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  if (!f) return NULL;
  ng_error_t err;
  *s = ng_export_c(t, o, f, NULL, &err);
  fclose(f);
  return buf;
}

static void test_export(void) {
  ng_rl_config_t c;
  ng_error_t err;
  ng_rl_t *t;
  NG_CHECK_OK(ng_rl_config_default(&c, "Pendulum-v1", &err));
  c.n_envs = 1;
  c.n_steps = 64;
  c.vf_minibatch = 32;
  c.normalize_obs = 1;
  NG_CHECK_OK(ng_rl_create(&t, &c, &err));
  NG_CHECK_OK(ng_rl_iterate(t, NULL, &err));

  /* arguments */
  FILE *null = fopen("/dev/null", "w");
  NG_CHECK(null != NULL);
  if (!null) {
    ng_rl_destroy(t);
    return;
  }
  ng_export_opts_t o = {NG_EXPORT_F64, "ok_1", NULL};
  NG_CHECK_STATUS(ng_export_c(NULL, &o, null, NULL, &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_export_c(t, &o, NULL, NULL, &err), NG_EINVAL);
  const char *bad[] = {"", "1x", "a-b", "a b",
                       "a1234567890123456789012345678901234567890123456789012345678901234"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o.prefix = bad[i];
    NG_CHECK_STATUS(ng_export_c(t, &o, null, NULL, &err), NG_EINVAL);
  }
  o.prefix = "ok_1";
  o.precision = (ng_export_precision_t)7;
  NG_CHECK_STATUS(ng_export_c(t, &o, null, NULL, &err), NG_EINVAL);
  o.precision = NG_EXPORT_F64;

  /* the same text twice; the sizes it states; NULL options: prefix "policy" in f64 */
  int s1 = -1, s2 = -1;
  size_t n1 = 0, n2 = 0;
  ng_export_info_t info;
  char *a = export_text(t, &o, &s1, &n1), *b = export_text(t, &o, &s2, &n2);
  NG_CHECK(a && b && s1 == NG_OK && s2 == NG_OK && n1 == n2 && !memcmp(a, b, n1));
  NG_CHECK_OK(ng_export_c(t, &o, null, &info, &err));
  fclose(null);
  /* 3-64-64-1 with a normaliser of 3 means and 3 scales and 2 action bounds */
  NG_CHECK(info.n_params == 3 * 64 + 64 + 64 * 64 + 64 + 64 + 1);
  NG_CHECK(info.n_consts == 3 + 3 + 2 && info.bytes == (info.n_params + 8) * 8);
  NG_CHECK(info.n_tanh == 128 && info.flops == 2 * (3 * 64 + 64 * 64 + 64) + 129 + 6);
  NG_CHECK(a && strstr(a, "#define OK_1_OBS_DIM 3 ") && strstr(a, "static inline int ok_1_act("));
  NG_CHECK(a && strstr(a, "Pendulum-v1") && strstr(a, "64 environment steps"));
  free(a);
  free(b);
  a = export_text(t, NULL, &s1, &n1);
  NG_CHECK(a && s1 == NG_OK && strstr(a, "static inline int policy_act(const double *obs"));
  free(a);

  /* a full device: NG_EIO */
  FILE *full = fopen("/dev/full", "w");
  if (full) {
    NG_CHECK_STATUS(ng_export_c(t, &o, full, NULL, &err), NG_EIO);
    fclose(full);
  }

  /* a weight past float's range: fine in f64, NG_ERANGE in f32 */
  const double keep = t->theta[0];
  t->theta[0] = 1e300;
  o.precision = NG_EXPORT_F32;
  a = export_text(t, &o, &s1, &n1);
  NG_CHECK(s1 == NG_ERANGE);
  free(a);
  o.precision = NG_EXPORT_F64;
  a = export_text(t, &o, &s1, &n1);
  NG_CHECK(s1 == NG_OK && a && strstr(a, "1.0000000000000001e+300"));
  free(a);
  t->theta[0] = keep;

  /* a file: refused when it exists unless forced; a failure keeps the old one */
  char path[64];
  snprintf(path, sizeof path, "test_export_%d.h", (int)getpid());
  FILE *f = fopen(path, "w");
  NG_CHECK(f && fputs("old\n", f) >= 0 && fclose(f) == 0);
  NG_CHECK_STATUS(ng_export_c_file(t, &o, path, 0, NULL, &err), NG_EEXIST);
  NG_CHECK(strstr(err.message, path) != NULL);
  o.prefix = "9";
  NG_CHECK_STATUS(ng_export_c_file(t, &o, path, 1, NULL, &err), NG_EINVAL);
  f = fopen(path, "r");
  char line[8] = "";
  NG_CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "old\n"));
  if (f) fclose(f);
  o.prefix = "ok_1";
  NG_CHECK_OK(ng_export_c_file(t, &o, path, 1, NULL, &err));
  f = fopen(path, "r");
  NG_CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "/* ok_1"));
  if (f) fclose(f);
  char tmp[80];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  NG_CHECK(access(tmp, F_OK) != 0);
  NG_CHECK_STATUS(ng_export_c_file(t, &o, "no-such-dir/x.h", 0, NULL, &err), NG_EIO);
  remove(path);
  ng_rl_destroy(t);
}

int main(void) {
  NG_TEST_RUN(test_export);
  NG_TEST_END();
}
