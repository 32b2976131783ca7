/* The CLI's side of run folders (natgrad/run.h holds the rules): opening one with the
 * CLI's advice and exit codes, the evaluation every command shares. Config files
 * (`--config`) are read by the library's one "key = value" reader, natgrad/keys.h
 * (ng_kv_read_file), which states their format.
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

#endif
