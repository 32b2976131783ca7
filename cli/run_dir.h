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

/* ---- plugins (natgrad/env.h) -------------------------------------------------------------
 * Each returns -1 to go on, else the exit code after printing the error as "natgrad CMD: ...":
 * NG_EXIT_USAGE for a plugin refused (missing, not a plugin, another ABI, a bad
 * definition, changed), NG_EXIT_FAILURE for an I/O error. */

/* Loads the plugin at path (--plugin). */
int ng_cli_plugin_load(const char *cmd, const char *path);

/* Loads the plugin that the config file at config_path records (keys plugin and
 * plugin_hash: a run folder's config.ini, a --config file), from override (--plugin) if
 * non-NULL, else from the recorded path. A missing file is refused, and so is one whose
 * checksum differs from the recorded one unless force (then a warning; the file is loaded).
 * A config_path that does not exist or records no plugin: only override is loaded. */
int ng_cli_plugin_from_config(const char *cmd, const char *config_path, const char *override,
                              int force);

/* As ng_cli_plugin_from_config, for a plugin recorded elsewhere (path and hash, "" for
 * none, e.g. a tune's tune.ini; who names the file in messages). */
int ng_cli_plugin_recorded(const char *cmd, const char *path, const char *hash,
                           const char *who, const char *override, int force);

/* cfg's plugin and plugin_hash from the plugin that registered cfg->env_id (both "" for an
 * environment built in): where the env came from, whatever a file or --set said. */
int ng_cli_plugin_record(const char *cmd, ng_rl_config_t *cfg);

/* After a checkpoint was loaded: its config's plugin_hash against the plugin that
 * registered its env (a bare checkpoint file has no config.ini to check first). */
int ng_cli_plugin_check(const char *cmd, const ng_rl_config_t *cfg, int force);

/* The trainer of a run folder (its checkpoint.ngc, or checkpoint.prev.ngc with a warning when
 * the latest is damaged; the folder is only read) or of a checkpoint file, with its plugin
 * (plugin: --plugin or NULL; force: go on with a changed one), as eval and export load it:
 * -1 and *out (the caller's to destroy), else the exit code after the error was printed
 * (NG_EXIT_USAGE when there is no checkpoint, NG_EXIT_FAILURE when it cannot be loaded). */
int ng_cli_load_trainer(const char *cmd, const char *where, const char *plugin, int force,
                        ng_rl_t **out);

#endif
