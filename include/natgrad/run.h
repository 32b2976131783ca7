/* natgrad run folders: the files one training run leaves, and the rules that keep them
 * consistent, for every front end (the CLI's `train` and `fit`, and any program built on
 * the library).
 *
 * A run folder holds:
 *   config.ini              the run's effective config, "key = value" lines: read back with
 *                           `--config` it repeats the run, and it is the folder's identity
 *   progress.csv            one row per iteration (or epoch); the first column counts them
 *   checkpoint.ngc          the latest checkpoint, written atomically
 *   checkpoint.prev.ngc     the one before it: the fallback when the latest is damaged
 *   checkpoint.damaged.ngc  a damaged latest checkpoint, set aside by a fallback
 *   curve.svg               the learning curve (drawn by the front end)
 *   .lock                   locked (flock) by the one process writing the folder; holds its PID
 *
 * The rules:
 *   - one writer: opening a folder to write takes an exclusive lock, released on every exit
 *     path (the kernel drops it when the process dies, so a crash leaves no stale lock); a
 *     second writer is refused with NG_EBUSY naming the owner's PID;
 *   - a run is never overwritten: a new run is refused (NG_EEXIST) where a checkpoint is,
 *     unless forced, and then the old checkpoints go before anything else is written;
 *   - a checkpoint belongs to its folder: on loading, its config must equal config.ini but
 *     for the keys a resume may change, or it is refused (NG_EFORMAT saying what differs);
 *   - the log matches the state: resuming keeps the rows up to the checkpoint, drops the
 *     later ones and a torn last line, and refuses a damaged row anywhere else;
 *   - a failed set-up leaves nothing: a folder this open created is removed again on close
 *     if nothing was logged or saved in it.
 *
 * Every function returns a status with a message in err; nothing here prints or exits. */
#ifndef NATGRAD_RUN_H
#define NATGRAD_RUN_H

#include <stddef.h>

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NG_RUN_CONFIG "config.ini"
#define NG_RUN_LOG "progress.csv"
#define NG_RUN_CHECKPOINT "checkpoint.ngc"
#define NG_RUN_CHECKPOINT_PREV "checkpoint.prev.ngc"
#define NG_RUN_CHECKPOINT_DAMAGED "checkpoint.damaged.ngc"
#define NG_RUN_CURVE "curve.svg"
#define NG_RUN_LOCK ".lock"

typedef enum {
  NG_RUN_CREATE, /* a new run: the folder (and its parents) made as needed, locked */
  NG_RUN_RESUME, /* a run to continue: the folder must hold a checkpoint; locked */
  NG_RUN_READ    /* read only (evaluate, inspect): no lock, nothing written */
} ng_run_mode_t;

/* An open run folder. Opaque: it holds the lock and what this process wrote. */
typedef struct ng_run ng_run_t;

/* Opens dir. CREATE: refused (NG_EEXIST) if dir holds a checkpoint (latest or previous)
 * unless force, which first removes every old checkpoint; NG_EIO if dir cannot be made or
 * written. RESUME: NG_ENOTFOUND if dir or its checkpoints are missing. CREATE and RESUME:
 * NG_EBUSY if another process holds the lock. NG_EINVAL for an empty path. */
int ng_run_open(ng_run_t **out, const char *dir, ng_run_mode_t mode, int force, ng_error_t *err);
/* Releases the lock and frees run (NULL is fine). A folder created by this open in which
 * nothing was logged or saved is removed, with what was written in it. */
void ng_run_close(ng_run_t *run);

const char *ng_run_dir(const ng_run_t *run);
/* Joins dir and name into buf; NG_ERANGE (with a message) if it does not fit. */
int ng_run_path(char *buf, size_t size, const char *dir, const char *name, ng_error_t *err);

/* ---- config.ini ---------------------------------------------------------------------------- */

/* Writes config.ini atomically: comment (lines to prefix with "# ", may be NULL), then text. */
int ng_run_write_config(ng_run_t *run, const char *comment, const char *text, ng_error_t *err);
/* The first key whose value differs between two "key = value" texts (natgrad/keys.h's
 * format; a key missing from one side counts), skipping the keys in ignore (NULL-terminated,
 * may be NULL). 0 if the texts agree; else 1, with "KEY = A in WHO_A, B in WHO_B" in what
 * (or which text is not a list of keys). */
int ng_run_config_diff(const char *a, const char *who_a, const char *b, const char *who_b,
                       const char *const *ignore, char *what, size_t size);

/* ---- checkpoints -------------------------------------------------------------------------- */

/* Writes a checkpoint to path atomically (ng_rl_save, ng_fit_save...). */
typedef int (*ng_run_save_fn)(void *ctx, const char *path, ng_error_t *err);
/* Reads the checkpoint at path into ctx, replacing what ctx held only on success, and
 * returns its config as "key = value" text in *config (ng_malloc'ed; the caller's to
 * ng_free) and where it stands in state (e.g. "iteration 3", for messages; size bytes).
 * NG_EIO or NG_EFORMAT for a damaged file (the fallback applies), other statuses are
 * reported as they are. */
typedef int (*ng_run_load_fn)(void *ctx, const char *path, char **config, char *state,
                              size_t size, ng_error_t *err);

/* Saves through save as checkpoint.ngc, keeping the file it replaces as checkpoint.prev.ngc
 * (hard link, or a copy where links are impossible): at every instant both names hold a
 * complete checkpoint, or the latest is absent because none was ever written. */
int ng_run_save_checkpoint(ng_run_t *run, ng_run_save_fn save, void *ctx, ng_error_t *err);

/* Loads the latest checkpoint through load. If it is damaged (NG_EIO, NG_EFORMAT) or
 * missing and checkpoint.prev.ngc loads, that one is used and warning (wsize bytes; "" when
 * the latest was used) says so and why; a RESUME run sets the damaged file aside as
 * checkpoint.damaged.ngc, so the next save cannot rotate it into the fallback's place.
 * The loaded checkpoint's config must equal config.ini (when there is one) but for the
 * keys in free_keys (NULL-terminated, may be NULL): else NG_EFORMAT saying what differs,
 * and ctx holds the refused checkpoint for the caller to discard. */
int ng_run_load_checkpoint(ng_run_t *run, ng_run_load_fn load, void *ctx,
                           const char *const *free_keys, char *warning, size_t wsize,
                           ng_error_t *err);

/* ---- progress.csv ------------------------------------------------------------------------- */

/* Opens the log for appending. A CREATE run starts it afresh with header. A RESUME run
 * checks the log there (the same header; every complete row with the header's number of
 * fields and a first column of strictly increasing integers) and keeps the rows up to and
 * including keep_through, dropping later rows (logged after the checkpoint) and a torn
 * last line; a damaged row is refused as NG_EFORMAT "progress.csv:LINE: ...", so no good
 * row is ever dropped silently. A missing log is started afresh. */
int ng_run_log_open(ng_run_t *run, const char *header, long keep_through, ng_error_t *err);
/* Appends one row (no newline) and flushes it: a crash loses at most that row. */
int ng_run_log_append(ng_run_t *run, const char *row, ng_error_t *err);

/* A log read back: n_rows rows of n_cols values each (a field that is not a number, or
 * "nan", reads as NaN). */
typedef struct {
  size_t n_rows, n_cols;
  double *values; /* n_rows * n_cols, row-major; ng_malloc'ed */
} ng_run_log_t;

/* Parses a log's text (len bytes; a torn last line is left out) with the rules of
 * ng_run_log_open; source names it in messages. On failure log holds nothing. */
int ng_run_log_parse(const char *text, size_t len, const char *header, const char *source,
                     ng_run_log_t *log, ng_error_t *err);
/* Reads and parses the log file at path; a missing file gives 0 rows. */
int ng_run_log_read(const char *path, const char *header, ng_run_log_t *log, ng_error_t *err);
/* The index of column name in header, or -1. */
int ng_run_log_column(const char *header, const char *name);
void ng_run_log_free(ng_run_log_t *log);

#ifdef __cplusplus
}
#endif
#endif
