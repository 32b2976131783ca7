/* The command lines of `natgrad train` and `natgrad eval` as data: parsed (and, for train,
 * turned into a config) without touching a file or training anything, so that the parsers
 * can be tested and fuzzed on their own (fuzz/fuzz_cli.c). */
#ifndef NG_CLI_CMD_ARGS_H
#define NG_CLI_CMD_ARGS_H

#include <stdint.h>

#include "args.h"
#include "natgrad/rl.h"

/* Strings point into argv (or into a setting's buf). */
typedef struct {
  const char *env, *config, *out, *resume;
  const char *plugin; /* --plugin: loaded by the command, not by the parser */
  ng_args_settings_t settings; /* --algo, --steps, --seed and --set, in order */
  int force, quiet, checkpoint_every, eval_episodes;
  int threads; /* 0: one per online core (ng_train_default_threads) */
} ng_train_opts_t;

/* Parses `train`'s arguments (argv[0] is the command name). Returns -1 to go on, else the
 * exit code (after printing help, or an error through ng_cli_error). */
int ng_train_parse_args(int argc, char **argv, ng_train_opts_t *o);
/* The effective config of a new run: the env's defaults < o->config (read from its file,
 * if set) < the flags in order; validated. -1 to go on, else the exit code (after an
 * error message). */
int ng_train_build_config(const ng_train_opts_t *o, ng_rl_config_t *cfg);
/* --threads' default: the online cores, at most NG_TRAIN_DEFAULT_MAX_THREADS. */
#define NG_TRAIN_DEFAULT_MAX_THREADS 8
int ng_train_default_threads(void);

typedef struct {
  const char *where; /* a run folder or a checkpoint file */
  long episodes;
  uint64_t seed;
  int stochastic;
  const char *plugin; /* --plugin */
  int force;          /* --force: go on with a changed plugin */
} ng_eval_opts_t;

/* Parses `eval`'s arguments; -1 to go on, else the exit code. */
int ng_eval_parse_args(int argc, char **argv, ng_eval_opts_t *o);

#endif
