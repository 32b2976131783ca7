/* Fuzz target: the config parsers. The input is read three ways:
 *   - as a config file by cli/run_dir.c's reader (inih), then applied with
 *     ng_rl_config_set over the defaults of the file's env (or CartPole-v1's);
 *   - as the "key = value" text a checkpoint stores (ng__rl_config_parse);
 *   - as one KEY=VALUE pair handed to ng_rl_config_set (split at the first '=').
 * Invariants beyond "no crash, no leak": a failing reader leaves nothing to free; every
 * config that validates survives format -> parse -> format byte for byte. */
#include "fuzz.h"
#include "natgrad/rl.h"
#include "rl/rl_impl.h"
#include "run_dir.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ng_fuzz_alloc_install();
  return 0;
}

static void roundtrip(const ng_rl_config_t *cfg) {
  ng_error_t err;
  size_t n = ng_rl_config_format(cfg, NULL, 0);
  char *a = malloc(n + 1), *b = malloc(n + 1);
  NG_FUZZ_ASSERT(a && b);
  NG_FUZZ_ASSERT(ng_rl_config_format(cfg, a, n + 1) == n);
  ng_rl_config_t back;
  memset(&back, 0, sizeof back);
  NG_FUZZ_ASSERT(ng__rl_config_parse(&back, a, &err) == NG_OK);
  NG_FUZZ_ASSERT(ng_rl_config_validate(&back, &err) == NG_OK);
  NG_FUZZ_ASSERT(ng_rl_config_format(&back, b, n + 1) == n && memcmp(a, b, n) == 0);
  free(a);
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ng_error_t err;
  ng_rl_config_t cfg;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';

  if (size > 0) {
    FILE *f = fmemopen(text, size, "r");
    if (f) {
      ng_config_file_t cf;
      int s = ng_config_file_read_stream(&cf, f, "fuzz.ini", &err);
      fclose(f);
      if (s == NG_OK) {
        const char *env = ng_config_file_get(&cf, "env");
        if (!env || ng_rl_config_default(&cfg, env, &err) != NG_OK)
          NG_FUZZ_ASSERT(ng_rl_config_default(&cfg, "CartPole-v1", &err) == NG_OK);
        if (ng_config_file_apply(&cf, &cfg, &err) == NG_OK &&
            ng_rl_config_validate(&cfg, &err) == NG_OK)
          roundtrip(&cfg);
        ng_config_file_free(&cf);
      } else {
        NG_FUZZ_ASSERT(cf.entries == NULL && cf.n == 0);
        NG_FUZZ_ASSERT(err.status == s && err.message[0] != '\0');
      }
    }
  }

  memset(&cfg, 0, sizeof cfg);
  if (ng__rl_config_parse(&cfg, text, &err) == NG_OK && ng_rl_config_validate(&cfg, &err) == NG_OK)
    roundtrip(&cfg);

  NG_FUZZ_ASSERT(ng_rl_config_default(&cfg, "Pendulum-v1", &err) == NG_OK);
  char *eq = strchr(text, '=');
  if (eq) {
    *eq = '\0';
    if (ng_rl_config_set(&cfg, text, eq + 1, &err) == NG_OK &&
        ng_rl_config_validate(&cfg, &err) == NG_OK)
      roundtrip(&cfg);
  }
  free(text);
  ng_fuzz_alloc_check("fuzz_config");
  return 0;
}
