/* Fuzz target: the command-line parsers of `natgrad train` and `natgrad eval`
 * (cli/cmd_args.h), run without training or touching a file.
 *
 * Input: one byte picks the command (even: train, odd: eval), the rest is split at NUL
 * bytes into arguments (at most 64). For train, a parse that goes on is turned into a
 * config (without --config: the file reader has its own target), which must then validate.
 * Messages are formatted (to catch bad format arguments) and dropped. */
#include <stdarg.h>

#include "cli.h"
#include "cmd_args.h"
#include "fuzz.h"

#define MAX_ARGS 64

void ng_cli_error(const char *cmd, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  (void)cmd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ng_fuzz_alloc_install();
  /* --help and --keys print to stdout */
  if (!freopen("/dev/null", "w", stdout)) return 0;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int eval = data[0] & 1;
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  char *argv[MAX_ARGS + 2];
  int argc = 0;
  argv[argc++] = eval ? "eval" : "train";
  for (char *p = text; p < text + size - 1 && argc <= MAX_ARGS; p += strlen(p) + 1)
    argv[argc++] = p;
  argv[argc] = NULL;

  if (eval) {
    ng_eval_opts_t o;
    int rc = ng_eval_parse_args(argc, argv, &o);
    NG_FUZZ_ASSERT(rc == -1 || rc == NG_EXIT_OK || rc == NG_EXIT_USAGE);
    if (rc == -1) NG_FUZZ_ASSERT(o.where && o.episodes >= 1 && o.episodes <= 1000000);
  } else {
    ng_train_opts_t *o = malloc(sizeof *o);
    NG_FUZZ_ASSERT(o);
    int rc = ng_train_parse_args(argc, argv, o);
    NG_FUZZ_ASSERT(rc == -1 || rc == NG_EXIT_OK || rc == NG_EXIT_USAGE);
    if (rc == -1) {
      NG_FUZZ_ASSERT(o->settings.n >= 0 && o->settings.n <= NG_ARGS_MAX_SETTINGS);
      NG_FUZZ_ASSERT(o->checkpoint_every >= 1 && o->eval_episodes >= 0);
      o->config = NULL;
      ng_rl_config_t cfg;
      rc = ng_train_build_config(o, &cfg);
      NG_FUZZ_ASSERT(rc == -1 || rc == NG_EXIT_USAGE);
      ng_error_t err;
      if (rc == -1) NG_FUZZ_ASSERT(ng_rl_config_validate(&cfg, &err) == NG_OK);
    }
    free(o);
  }
  free(text);
  ng_fuzz_alloc_check("fuzz_cli");
  return 0;
}
