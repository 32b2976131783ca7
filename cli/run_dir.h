/* Run folders for `natgrad train` / `natgrad eval`: the CSV log, checkpoint paths and the
 * output-folder checks.
 *
 * A run folder holds:
 *   config.ini      the effective config ("key = value" lines; `--config DIR/config.ini`
 *                   reproduces the run)
 *   progress.csv    one row per iteration (NG_RUN_CSV_HEADER)
 *   checkpoint.ngc  the trainer's state (ng_rl_save), enough to continue bit for bit
 *   checkpoint.prev.ngc  the checkpoint before it, kept until the new one is safely written
 *   curve.svg       mean return against environment steps
 *
 * Config files (`--config`) are read by the library's one "key = value" reader,
 * natgrad/keys.h (ng_kv_read_file), which states their format.
 *
 * Every function reports failures in an ng_error_t (status + one-line message) and returns
 * its status; nothing here prints or exits.
 */
#ifndef NG_CLI_RUN_DIR_H
#define NG_CLI_RUN_DIR_H

#include <stdio.h>

#include "natgrad/core.h"
#include "natgrad/rl.h"

#define NG_RUN_CONFIG "config.ini"
#define NG_RUN_LOG "progress.csv"
#define NG_RUN_CHECKPOINT "checkpoint.ngc"
#define NG_RUN_CHECKPOINT_PREV "checkpoint.prev.ngc"   /* the one before: the fallback */
#define NG_RUN_CHECKPOINT_DAMAGED "checkpoint.damaged.ngc" /* set aside by a fallback */
#define NG_RUN_CURVE "curve.svg"

/* The final score of `natgrad train` and the default of `natgrad eval`: deterministic
 * episodes from a seed of their own, so both print the same number for one checkpoint. */
#define NG_RUN_EVAL_EPISODES 10
#define NG_RUN_EVAL_SEED 1000

/* msg without a leading "TAG: " (the library's tag for a module, e.g. "config"), for
 * messages the CLI already puts in context. */
const char *ng_run_untag(const char *msg, const char *tag);

/* Joins dir and name into buf; NG_ERANGE (with a message) if it does not fit. */
int ng_run_path(char *buf, size_t size, const char *dir, const char *name, ng_error_t *err);

/* 1 if path exists (any kind of file), else 0. */
int ng_run_exists(const char *path);
/* 1 if path is a directory, else 0. */
int ng_run_is_dir(const char *path);

/* Creates dir and its parents as needed, then proves it writable by creating and removing
 * a file in it. NG_EIO with "cannot create output folder 'DIR': reason" or "output folder
 * 'DIR' is not writable: reason". */
int ng_run_prepare_dir(const char *dir, ng_error_t *err);

/* ---- checkpoints ------------------------------------------------------------------------ */

/* Saves t as DIR/checkpoint.ngc and keeps the checkpoint it replaces as
 * DIR/checkpoint.prev.ngc: the current file is first hard-linked (or, where links are not
 * possible, copied) to the previous name, then ng_rl_save writes the new one atomically.
 * At every instant both names hold a complete checkpoint (or the latest one is absent
 * because none was ever written). */
int ng_run_save_checkpoint(const ng_rl_t *t, const char *dir, ng_error_t *err);

/* Loads DIR's latest checkpoint. If it is missing, truncated, corrupted or unreadable
 * (NG_EIO, NG_EFORMAT) and DIR/checkpoint.prev.ngc loads, that one is used and warning
 * (wsize bytes) says so and why; with set_aside, the damaged latest file is renamed to
 * checkpoint.damaged.ngc, so the next save cannot rotate it into the fallback's place.
 * Otherwise the latest one's error (and NG_ENOTFOUND if neither file exists). warning
 * is "" when the latest checkpoint was used. */
int ng_run_load_checkpoint(ng_rl_t **t, const char *dir, int set_aside, char *warning,
                           size_t wsize, ng_error_t *err);

/* Writes text to path atomically (temporary file in the same folder, flush, rename). */
int ng_run_write_file(const char *path, const char *text, ng_error_t *err);

/* Writes cfg as a config file (a comment header, then ng_rl_config_format's lines). */
int ng_run_write_config(const char *path, const ng_rl_config_t *cfg, ng_error_t *err);

/* ---- CSV log --------------------------------------------------------------------------- */

#define NG_RUN_CSV_HEADER                                                                   \
  "iteration,env_steps,episodes,mean_return,mean_length,kl,entropy,surrogate_gain,"         \
  "ls_trials,step_accepted,cg_iterations,cg_residual,vf_loss,explained_variance,rollout_s," \
  "update_s,wall_s"

/* One row of the log, as read back (the columns the CLI needs again). */
typedef struct {
  long iteration;
  long env_steps;
  int episodes;
  double mean_return;
  double wall_s;
} ng_log_row_t;

typedef struct {
  FILE *f;
  char path[1024];
} ng_log_t;

/* Opens the log for a fresh run: creates or truncates path and writes the header. */
int ng_log_create(ng_log_t *log, const char *path, ng_error_t *err);
/* Opens the log of a resumed run for appending, first dropping every row whose iteration
 * is beyond keep_through (rows logged after the checkpoint that is being resumed), so
 * the log matches the state. A missing log is created with its header. */
int ng_log_resume(ng_log_t *log, const char *path, long keep_through, ng_error_t *err);
/* Appends one row and flushes it (a crash loses at most the current row). */
int ng_log_append(ng_log_t *log, const ng_rl_stats_t *s, double wall_s, ng_error_t *err);
void ng_log_close(ng_log_t *log);

/* Reads every row of a log (for the curve and to seed the progress line on resume):
 * *rows is malloc'ed (free with free), *n rows. A missing file gives 0 rows;
 * NG_EFORMAT for a header that is not NG_RUN_CSV_HEADER or a malformed row. */
int ng_log_read(const char *path, ng_log_row_t **rows, size_t *n, ng_error_t *err);

#endif
