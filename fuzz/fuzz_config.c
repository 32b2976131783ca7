/* Fuzz target: the "key = value" reader and the RL key table. The input is read three ways:
 *   - as a config file by ng_kv_parse ([trpo] and [npg] allowed), then applied with
 *     ng_kv_apply over the defaults of the file's env (or CartPole-v1's), for the section
 *     the first byte picks;
 *   - as the config text a checkpoint stores (ng__rl_config_parse), straight from the
 *     input's bytes (not NUL-terminated: the reader must stay within len);
 *   - as one KEY=VALUE pair handed to ng_rl_config_set (split at the first '=').
 * Invariants beyond "no crash, no leak": a failing reader leaves nothing to free and says
 * why; every entry read is trimmed, NUL-free and on a later line than the one before; every
 * config that validates survives format -> parse -> format byte for byte. */
#include "fuzz.h"
#include "natgrad/keys.h"
#include "natgrad/rl.h"
#include "rl/rl_impl.h"

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
  NG_FUZZ_ASSERT(ng__rl_config_parse(&back, a, n, &err) == NG_OK);
  NG_FUZZ_ASSERT(ng_rl_config_validate(&back, &err) == NG_OK);
  NG_FUZZ_ASSERT(ng_rl_config_format(&back, b, n + 1) == n && memcmp(a, b, n) == 0);
  free(a);
  free(b);
}

static int trimmed(const char *s) {
  size_t n = strlen(s);
  return n == 0 || (s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const sections[] = {"trpo", "npg", NULL};
  ng_error_t err;
  ng_rl_config_t cfg;
  ng_kv_list_t l;
  int s = ng_kv_parse(&l, (const char *)data, size, "fuzz.ini", sections, &err);
  if (s == NG_OK) {
    const char *section = size > 0 && (data[0] & 1) ? "npg" : "trpo";
    for (size_t i = 0; i < l.n; i++) {
      NG_FUZZ_ASSERT(l.items[i].key[0] && trimmed(l.items[i].key) && trimmed(l.items[i].value));
      NG_FUZZ_ASSERT(i == 0 || l.items[i].line > l.items[i - 1].line);
    }
    const char *env = ng_kv_get(&l, "env", section);
    if (!env || ng_rl_config_default(&cfg, env, &err) != NG_OK)
      NG_FUZZ_ASSERT(ng_rl_config_default(&cfg, "CartPole-v1", &err) == NG_OK);
    if (ng_kv_apply(&l, ng_rl_config_keys(), &cfg, section, &err) == NG_OK &&
        ng_rl_config_validate(&cfg, &err) == NG_OK)
      roundtrip(&cfg);
    ng_kv_free(&l);
  } else {
    NG_FUZZ_ASSERT(l.items == NULL && l.n == 0);
    NG_FUZZ_ASSERT(err.status == s && err.message[0] != '\0');
  }

  memset(&cfg, 0, sizeof cfg);
  if (ng__rl_config_parse(&cfg, (const char *)data, size, &err) == NG_OK &&
      ng_rl_config_validate(&cfg, &err) == NG_OK)
    roundtrip(&cfg);

  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
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
