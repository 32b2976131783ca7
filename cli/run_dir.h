/* The CLI's side of run folders (natgrad/run.h holds the rules): opening one with the
 * CLI's advice and exit codes, the evaluation every command shares, config files.
 *
 * Config-file format: one `key = value` per line (or `key: value`), keys as listed by
 * `natgrad train --keys`; whole-line comments start with '#' or ';', and a '#' or ';'
 * after whitespace starts a trailing comment. An optional section header [trpo] or [npg]
 * may come first; any other section is an error. Each error names FILE:LINE.
 *
 * Every function reports failures in an ng_error_t (status + one-line message) and returns
 * its status; nothing here prints or exits.
 */
#ifndef NG_CLI_RUN_DIR_H
#define NG_CLI_RUN_DIR_H

#include <stdio.h>

#include "natgrad/core.h"
#include "natgrad/rl.h"
#include "natgrad/run.h"

/* The final score of `natgrad train` and the default of `natgrad eval`: deterministic
 * episodes from a seed of their own, so both print the same number for one checkpoint. */
#define NG_RUN_EVAL_EPISODES 10
#define NG_RUN_EVAL_SEED 1000

/* msg without a leading "TAG: " (the library's tag for a module, e.g. "config"), for
 * messages the CLI already puts in context. */
const char *ng_run_untag(const char *msg, const char *tag);

/* ng_run_open with the same advice (--resume, --force) in the message and the same exit
 * code for every command: -1 to go on, else the exit code to leave with after printing
 * err's message. */
int ng_cli_run_open(ng_run_t **run, const char *dir, ng_run_mode_t mode, int force,
                    ng_error_t *err);

/* ---- config files ---------------------------------------------------------------------- */

typedef struct {
  char key[64];
  char value[256];
  int line;
} ng_config_entry_t;

/* A config file read into (key, value, line) entries, in file order; applying them is a
 * separate step so the env id can be read first (its defaults come before the file). */
typedef struct {
  char path[1024];
  ng_config_entry_t *entries;
  size_t n, cap;
} ng_config_file_t;

/* Reads and parses path. NG_ENOTFOUND if it cannot be opened, NG_EFORMAT for a syntax
 * error, a line too long or an unknown section (message "PATH:LINE: ..."). On failure
 * cf holds nothing to free. */
int ng_config_file_read(ng_config_file_t *cf, const char *path, ng_error_t *err);
/* The same from an open stream (name for messages); the caller closes f. */
int ng_config_file_read_stream(ng_config_file_t *cf, FILE *f, const char *name,
                               ng_error_t *err);
/* The value of the last entry for key, or NULL. */
const char *ng_config_file_get(const ng_config_file_t *cf, const char *key);
/* Applies every entry with ng_rl_config_set; the first failure's message reads
 * "PATH:LINE: <library message>" and its status is returned. */
int ng_config_file_apply(const ng_config_file_t *cf, ng_rl_config_t *cfg, ng_error_t *err);
void ng_config_file_free(ng_config_file_t *cf);

#endif
