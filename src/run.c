/* Run folders: lock, config.ini, checkpoint rotation and fallback, progress.csv. */
#include "natgrad/run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_io.h"
#include "natgrad/keys.h"

#define NG__PATH_MAX 4096

struct ng_run {
  char dir[NG__PATH_MAX];
  ng_run_mode_t mode;
  int lock_fd;       /* -1 when not locked (READ) */
  int created_dir;   /* this open made the folder */
  int wrote;         /* a log row or a checkpoint was written: the run exists */
  FILE *log;
};

int ng_run_path(char *buf, size_t size, const char *dir, const char *name, ng_error_t *err) {
  size_t len = strlen(dir);
  const char *sep = (len > 0 && dir[len - 1] == '/') ? "" : "/";
  int n = snprintf(buf, size, "%s%s%s", dir, sep, name);
  if (n < 0 || (size_t)n >= size)
    return ng_error_set(err, NG_ERANGE, "path too long: '%s%s%s'", dir, sep, name);
  return NG_OK;
}

const char *ng_run_dir(const ng_run_t *run) { return run ? run->dir : ""; }

static int run_file(const ng_run_t *run, const char *name, char *buf, ng_error_t *err) {
  return ng_run_path(buf, NG__PATH_MAX, run->dir, name, err);
}

/* 1 if path exists, 0 if it does not; -1 (errno set) if that cannot be told: a symlink
 * loop or a forbidden folder is not the same as a missing file. */
static int exists(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0) return 1;
  return errno == ENOENT ? 0 : -1;
}

static int stat_fail(ng_error_t *err, const char *path) {
  return ng_error_set(err, NG_EIO, "cannot examine '%s': %s", path, strerror(errno));
}

/* A whole file, at most max bytes, into an ng_malloc'ed buffer; *found = 0 if missing. */
static int read_file(const char *path, size_t max, char **text, size_t *len, int *found,
                     ng_error_t *err) {
  *text = NULL;
  *len = 0;
  *found = 0;
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT) return NG_OK;
    return stat_fail(err, path);
  }
  *found = 1;
  if (!S_ISREG(sb.st_mode))
    return ng_error_set(err, NG_EFORMAT, "'%s' is not a regular file", path);
  if ((unsigned long long)sb.st_size > max)
    return ng_error_set(err, NG_EFORMAT, "'%s' is larger than %zu MiB", path, max >> 20);
  FILE *f = fopen(path, "rb");
  if (!f) return ng_error_set(err, NG_EIO, "cannot read '%s': %s", path, strerror(errno));
  size_t size = (size_t)sb.st_size;
  char *buf = ng_malloc(size + 1);
  size_t n = buf ? fread(buf, 1, size + 1, f) : 0;
  int bad = ferror(f);
  fclose(f);
  if (!buf) return ng_error_set(err, NG_ENOMEM, "out of memory reading '%s'", path);
  if (bad || n > size) { /* it grew while read: someone else is writing it */
    ng_free(buf);
    return ng_error_set(err, NG_EIO, "cannot read '%s'%s", path, bad ? "" : ": it is changing");
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return NG_OK;
}

/* mkdir -p; *created says whether the last component was made here. */
static int make_dirs(const char *dir, int *created) {
  char buf[NG__PATH_MAX];
  size_t len = strlen(dir);
  *created = 0;
  if (len >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, dir, len + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(buf, 0777) == 0)
    *created = 1;
  else if (errno != EEXIST)
    return -1;
  struct stat st;
  if (stat(buf, &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

/* Reads the PID a lock holder wrote (it writes it just after locking: give it a moment). */
static long holder_pid(int fd) {
  char buf[32] = "";
  for (int tries = 0; tries < 50 && !buf[0]; tries++) {
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    if (!buf[0]) nanosleep(&(struct timespec){0, 2000000}, NULL);
  }
  return strtol(buf, NULL, 10);
}

/* Takes the folder's lock, or says who holds it. The lock is flock(2)'s: the kernel
 * releases it when the holder exits in any way, so there is never a stale lock to clear;
 * the PID inside is only for the message. A lock taken on a file that a failed set-up
 * removed meanwhile is not the folder's lock: then it is taken again on the new file. */
static int take_lock(ng_run_t *run, ng_error_t *err) {
  char path[NG__PATH_MAX];
  int st = run_file(run, NG_RUN_LOCK, path, err);
  if (st) return st;
  for (int attempt = 0; attempt < 100; attempt++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
      return ng_error_set(err, NG_EIO, "run folder '%s' is not writable: %s", run->dir,
                          strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      long pid = e == EWOULDBLOCK ? holder_pid(fd) : 0;
      close(fd);
      if (e != EWOULDBLOCK)
        return ng_error_set(err, NG_EIO, "cannot lock run folder '%s': %s", run->dir,
                            strerror(e));
      if (pid > 0)
        return ng_error_set(err, NG_EBUSY, "run folder '%s' is in use by another natgrad "
                            "process (PID %ld)", run->dir, pid);
      return ng_error_set(err, NG_EBUSY, "run folder '%s' is in use by another natgrad "
                          "process", run->dir);
    }
    struct stat held, now;
    if (fstat(fd, &held) != 0 || stat(path, &now) != 0 || held.st_ino != now.st_ino ||
        held.st_dev != now.st_dev) {
      close(fd); /* the file was removed under us: lock the one there now */
      continue;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
      int e = errno;
      close(fd);
      return ng_error_set(err, NG_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    run->lock_fd = fd;
    return NG_OK;
  }
  return ng_error_set(err, NG_EBUSY, "run folder '%s' keeps changing under its lock", run->dir);
}

/* Removes name from the run folder if it is there. */
static int remove_file(const ng_run_t *run, const char *name, ng_error_t *err) {
  char path[NG__PATH_MAX];
  int st = run_file(run, name, path, err);
  if (st) return st;
  if (remove(path) != 0 && errno != ENOENT)
    return ng_error_set(err, NG_EIO, "cannot remove '%s': %s", path, strerror(errno));
  return NG_OK;
}

/* Which checkpoint the folder holds: the latest's name, the previous one's, or NULL. */
static int find_checkpoint(const ng_run_t *run, const char **name, ng_error_t *err) {
  static const char *const names[2] = {NG_RUN_CHECKPOINT, NG_RUN_CHECKPOINT_PREV};
  *name = NULL;
  for (int i = 0; i < 2; i++) {
    char path[NG__PATH_MAX];
    int st = run_file(run, names[i], path, err);
    if (st) return st;
    int e = exists(path);
    if (e < 0) return stat_fail(err, path);
    if (e) {
      *name = names[i];
      return NG_OK;
    }
  }
  return NG_OK;
}

static int open_create(ng_run_t *run, int force, ng_error_t *err) {
  if (make_dirs(run->dir, &run->created_dir) != 0)
    return ng_error_set(err, NG_EIO, "cannot create output folder '%s': %s", run->dir,
                        strerror(errno));
  int st = take_lock(run, err);
  if (st) return st;
  const char *held;
  if ((st = find_checkpoint(run, &held, err))) return st;
  if (held && !force)
    return ng_error_set(err, NG_EEXIST, "'%s' already holds a run (%s)", run->dir, held);
  /* The old checkpoints go first, so they can never be resumed with the new run's log. */
  static const char *const old[3] = {NG_RUN_CHECKPOINT, NG_RUN_CHECKPOINT_PREV,
                                     NG_RUN_CHECKPOINT_DAMAGED};
  for (int i = 0; i < 3; i++)
    if ((st = remove_file(run, old[i], err))) return st;
  return NG_OK;
}

static int open_existing(ng_run_t *run, ng_error_t *err) {
  char path[NG__PATH_MAX];
  int st = run_file(run, NG_RUN_CHECKPOINT, path, err);
  if (st) return st;
  struct stat sb;
  if (stat(run->dir, &sb) != 0)
    return errno == ENOENT
               ? ng_error_set(err, NG_ENOTFOUND, "no checkpoint: '%s' does not exist", path)
               : ng_error_set(err, NG_EIO, "cannot open run folder '%s': %s", run->dir,
                              strerror(errno));
  if (!S_ISDIR(sb.st_mode))
    return ng_error_set(err, NG_ENOTFOUND, "'%s' is not a run folder", run->dir);
  if (run->mode == NG_RUN_RESUME && (st = take_lock(run, err))) return st;
  const char *held;
  if ((st = find_checkpoint(run, &held, err))) return st;
  if (!held) return ng_error_set(err, NG_ENOTFOUND, "no checkpoint: '%s' does not exist", path);
  return NG_OK;
}

int ng_run_open(ng_run_t **out, const char *dir, ng_run_mode_t mode, int force,
                ng_error_t *err) {
  if (!out) return ng_error_set(err, NG_EINVAL, "run: NULL argument");
  *out = NULL;
  if (!dir || !dir[0]) return ng_error_set(err, NG_EINVAL, "run folder: empty path");
  if (mode != NG_RUN_CREATE && mode != NG_RUN_RESUME && mode != NG_RUN_READ)
    return ng_error_set(err, NG_EINVAL, "run: unknown mode %d", (int)mode);
  /* room for the longest file name after the folder's */
  if (strlen(dir) + sizeof NG_RUN_CHECKPOINT_DAMAGED + 8 >= NG__PATH_MAX)
    return ng_error_set(err, NG_ERANGE, "run folder path too long: '%.200s...'", dir);
  ng_run_t *run = ng_calloc(1, sizeof *run);
  if (!run) return ng_error_set(err, NG_ENOMEM, "out of memory opening '%s'", dir);
  memcpy(run->dir, dir, strlen(dir) + 1);
  run->mode = mode;
  run->lock_fd = -1;
  int st = mode == NG_RUN_CREATE ? open_create(run, force, err) : open_existing(run, err);
  if (st) {
    ng_run_close(run);
    return st;
  }
  *out = run;
  return NG_OK;
}

void ng_run_close(ng_run_t *run) {
  if (!run) return;
  if (run->log) fclose(run->log);
  if (run->created_dir && !run->wrote && run->lock_fd >= 0) {
    /* a set-up that failed before the run began: leave no trace (only the lock's holder may:
     * a writer refused by the lock must not touch the holder's files) */
    static const char *const ours[3] = {NG_RUN_CONFIG, NG_RUN_LOG, NG_RUN_LOCK};
    for (int i = 0; i < 3; i++) remove_file(run, ours[i], NULL);
    rmdir(run->dir);
  }
  if (run->lock_fd >= 0) close(run->lock_fd); /* releases the lock */
  ng_free(run);
}

static int writable(const ng_run_t *run, ng_error_t *err) {
  if (run->mode == NG_RUN_READ)
    return ng_error_set(err, NG_EINVAL, "run folder '%s' was opened read-only", run->dir);
  return NG_OK;
}

/* ---- config.ini ---------------------------------------------------------------------------- */

int ng_run_write_config(ng_run_t *run, const char *comment, const char *text, ng_error_t *err) {
  if (!run || !text) return ng_error_set(err, NG_EINVAL, "run: NULL argument");
  int st = writable(run, err);
  if (st) return st;
  size_t need = strlen(text) + 1;
  for (const char *p = comment; p && *p; p++) need += *p == '\n' ? 3 : 1;
  need += 3;
  char *buf = ng_malloc(need);
  if (!buf) return ng_error_set(err, NG_ENOMEM, "out of memory writing %s", NG_RUN_CONFIG);
  size_t len = 0;
  for (const char *p = comment; p && *p;) { /* each line as "# line" */
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    buf[len++] = '#';
    if (n) buf[len++] = ' ';
    memcpy(buf + len, p, n);
    len += n;
    buf[len++] = '\n';
    p += n + (nl ? 1 : 0);
  }
  memcpy(buf + len, text, strlen(text));
  len += strlen(text);
  char path[NG__PATH_MAX];
  st = run_file(run, NG_RUN_CONFIG, path, err);
  if (!st) st = ng__ckio_write_file(path, buf, len, err);
  ng_free(buf);
  return st;
}

/* Looks through a's keys for one whose value b lacks or differs in. */
static int diff_one_way(const ng_kv_list_t *a, const char *who_a, const ng_kv_list_t *b,
                        const char *who_b, const char *const *ignore, char *what,
                        size_t size) {
  for (size_t i = 0; i < a->n; i++) {
    const char *key = a->items[i].key, *va = a->items[i].value;
    int skip = 0;
    for (const char *const *g = ignore; g && *g && !skip; g++) skip = !strcmp(*g, key);
    if (skip) continue;
    const char *vb = ng_kv_get(b, key, NULL);
    if (!vb) {
      snprintf(what, size, "%s is set in %s but not in %s", key, who_a, who_b);
      return 1;
    }
    if (!ng_kv_same_value(va, vb)) {
      snprintf(what, size, "%s = %.200s in %s, %.200s in %s", key, va, who_a, vb, who_b);
      return 1;
    }
  }
  return 0;
}

int ng_run_config_diff(const char *a, const char *who_a, const char *b, const char *who_b,
                       const char *const *ignore, char *what, size_t size) {
  if (size) what[0] = '\0';
  ng_kv_list_t la, lb;
  if (ng_kv_parse(&la, a, strlen(a), who_a, NULL, NULL) != NG_OK) {
    snprintf(what, size, "%s is not a list of keys", who_a);
    return 1;
  }
  if (ng_kv_parse(&lb, b, strlen(b), who_b, NULL, NULL) != NG_OK) {
    ng_kv_free(&la);
    snprintf(what, size, "%s is not a list of keys", who_b);
    return 1;
  }
  /* a value that differs is found by the first pass; the second finds keys only b has */
  int d = diff_one_way(&la, who_a, &lb, who_b, ignore, what, size) ||
          diff_one_way(&lb, who_b, &la, who_a, ignore, what, size);
  ng_kv_free(&la);
  ng_kv_free(&lb);
  return d;
}

/* ---- checkpoints -------------------------------------------------------------------------- */

/* Copies src to dst atomically: for file systems without hard links. */
static int copy_file(const char *src, const char *dst, ng_error_t *err) {
  char *buf;
  size_t len;
  int found;
  int st = read_file(src, (size_t)1 << 40, &buf, &len, &found, err);
  if (!st && !found) st = ng_error_set(err, NG_EIO, "cannot read '%s': it is gone", src);
  if (!st) st = ng__ckio_write_file(dst, buf, len, err);
  ng_free(buf);
  return st;
}

int ng_run_save_checkpoint(ng_run_t *run, ng_run_save_fn save, void *ctx, ng_error_t *err) {
  if (!run || !save) return ng_error_set(err, NG_EINVAL, "run: NULL argument");
  int st = writable(run, err);
  if (st) return st;
  char ckpt[NG__PATH_MAX], prev[NG__PATH_MAX], prev_tmp[NG__PATH_MAX];
  if ((st = run_file(run, NG_RUN_CHECKPOINT, ckpt, err)) ||
      (st = run_file(run, NG_RUN_CHECKPOINT_PREV, prev, err)) ||
      (st = run_file(run, NG_RUN_CHECKPOINT_PREV ".tmp", prev_tmp, err)))
    return st;
  int have = exists(ckpt);
  if (have < 0) return stat_fail(err, ckpt);
  if (have) {
    /* link to a temporary name, then rename: prev is never missing once it exists */
    if (remove(prev_tmp) != 0 && errno != ENOENT)
      return ng_error_set(err, NG_EIO, "cannot remove '%s': %s", prev_tmp, strerror(errno));
    if (link(ckpt, prev_tmp) == 0) {
      if (rename(prev_tmp, prev) != 0) {
        int e = errno;
        remove(prev_tmp);
        return ng_error_set(err, NG_EIO, "cannot keep the previous checkpoint as '%s': %s",
                            prev, strerror(e));
      }
    } else if ((st = copy_file(ckpt, prev, err))) {
      return st;
    }
  }
  st = save(ctx, ckpt, err);
  if (!st) run->wrote = 1;
  return st;
}

/* Loads path and checks it against config.ini; *foreign (if foreign is not NULL) says the
 * load worked but the checkpoint is another run's. */
static int load_checked(ng_run_t *run, ng_run_load_fn load, void *ctx, const char *path,
                        const char *name, const char *ini, const char *const *free_keys,
                        int *foreign, char *state, size_t size, ng_error_t *err) {
  char *config = NULL;
  if (foreign) *foreign = 0;
  state[0] = '\0';
  int st = load(ctx, path, &config, state, size, err);
  if (st) return st;
  char what[600];
  if (ini && config &&
      ng_run_config_diff(config, name, ini, NG_RUN_CONFIG, free_keys, what, sizeof what)) {
    if (foreign) *foreign = 1;
    st = ng_error_set(err, NG_EFORMAT, "'%s' belongs to another run than %s/%s: %s", path,
                      run->dir, NG_RUN_CONFIG, what);
  }
  ng_free(config);
  return st;
}

static int is_damage(int status) { return status == NG_EIO || status == NG_EFORMAT; }

/* config.ini's text, or NULL if the folder has none (an old or half-made run). */
static int read_ini(const ng_run_t *run, char **text, ng_error_t *err) {
  char path[NG__PATH_MAX];
  size_t len;
  int found;
  int st = run_file(run, NG_RUN_CONFIG, path, err);
  if (!st) st = read_file(path, NG_KV_MAX_TEXT, text, &len, &found, err);
  if (!st && *text && memchr(*text, '\0', len)) {
    ng_free(*text);
    *text = NULL;
    st = ng_error_set(err, NG_EFORMAT, "'%s' is damaged (a NUL byte)", path);
  }
  return st;
}

int ng_run_load_checkpoint(ng_run_t *run, ng_run_load_fn load, void *ctx,
                           const char *const *free_keys, char *warning, size_t wsize,
                           ng_error_t *err) {
  if (!run || !load || (!warning && wsize))
    return ng_error_set(err, NG_EINVAL, "run: NULL argument");
  if (wsize) warning[0] = '\0';
  char ckpt[NG__PATH_MAX], prev[NG__PATH_MAX], damaged[NG__PATH_MAX];
  int st;
  if ((st = run_file(run, NG_RUN_CHECKPOINT, ckpt, err)) ||
      (st = run_file(run, NG_RUN_CHECKPOINT_PREV, prev, err)) ||
      (st = run_file(run, NG_RUN_CHECKPOINT_DAMAGED, damaged, err)))
    return st;
  int have = exists(ckpt), have_prev = exists(prev);
  if (have < 0) return stat_fail(err, ckpt);
  if (have_prev < 0) return stat_fail(err, prev);
  if (!have && !have_prev)
    return ng_error_set(err, NG_ENOTFOUND, "no checkpoint: '%s' does not exist", ckpt);
  char *ini = NULL;
  if ((st = read_ini(run, &ini, err))) return st;
  ng_error_t e1;
  ng_error_clear(&e1);
  char why[700], state[128];
  if (have) {
    int foreign;
    st = load_checked(run, load, ctx, ckpt, NG_RUN_CHECKPOINT, ini, free_keys, &foreign, state,
                      sizeof state, &e1);
    /* a foreign checkpoint is a mistake to report, not damage to fall back from */
    if (st == NG_OK || !have_prev || !is_damage(st) || foreign) {
      ng_free(ini);
      return st == NG_OK ? NG_OK : ng_error_set(err, st, "%s", e1.message);
    }
    snprintf(why, sizeof why, "%s", e1.message);
  } else {
    snprintf(why, sizeof why, "'%s' is missing", NG_RUN_CHECKPOINT);
  }
  ng_error_t e2;
  ng_error_clear(&e2);
  st = load_checked(run, load, ctx, prev, NG_RUN_CHECKPOINT_PREV, ini, free_keys, NULL, state,
                    sizeof state, &e2);
  ng_free(ini);
  if (st) /* the latest one's error is the one to report, if there is one */
    return have ? ng_error_set(err, e1.status, "%s", e1.message)
                : ng_error_set(err, st, "%s", e2.message);
  int moved = run->mode == NG_RUN_RESUME && have && rename(ckpt, damaged) == 0;
  snprintf(warning, wsize, "the latest checkpoint is unusable (%s); using the previous one, "
           "'%s'%s%s%s%s%s%s", why, prev, state[0] ? " (" : "", state, state[0] ? ")" : "",
           moved ? "; the damaged file is kept as '" : "",
           moved ? damaged : "", moved ? "'" : "");
  return NG_OK;
}

/* ---- progress.csv ------------------------------------------------------------------------- */

int ng_run_log_column(const char *header, const char *name) {
  size_t nl = strlen(name);
  int col = 0;
  for (const char *p = header; p && *p; col++) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    if (len == nl && !strncmp(p, name, nl)) return col;
    p = c ? c + 1 : NULL;
  }
  return -1;
}

void ng_run_log_free(ng_run_log_t *log) {
  if (!log) return;
  ng_free(log->values);
  log->values = NULL;
  log->n_rows = log->n_cols = 0;
}

/* One field as a number: NaN for "nan" or any non-number (hex checksums and the like). */
static double field_value(const char *p, size_t len) {
  char buf[64];
  if (len == 0 || len >= sizeof buf) return NAN;
  memcpy(buf, p, len);
  buf[len] = '\0';
  char *end;
  double x = strtod(buf, &end);
  return *end == '\0' && end != buf ? x : NAN;
}

/* Parses text; *kept_len (if not NULL) gets the bytes of the header and the rows whose
 * first column is <= keep_through (all rows if keep_through < 0 is not asked). */
static int log_parse(const char *text, size_t len, const char *header, const char *source,
                     long keep_through, ng_run_log_t *log, size_t *kept_len,
                     ng_error_t *err) {
  memset(log, 0, sizeof *log);
  size_t hl = strlen(header);
  size_t cols = 1;
  for (const char *p = header; *p; p++) cols += *p == ',';
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  if (lines == 0 || len < hl + 1 || memcmp(text, header, hl) || text[hl] != '\n')
    return ng_error_set(err, NG_EFORMAT, "%s: not a natgrad progress log for this kind of run "
                        "(unexpected header)", source);
  double *v = ng_malloc((lines * cols + 1) * sizeof *v);
  if (!v) return ng_error_set(err, NG_ENOMEM, "out of memory reading '%s'", source);
  size_t rows = 0, pos = hl + 1, keep = pos;
  long last = 0;
  int st = NG_OK;
  for (int lineno = 2; pos < len; lineno++) {
    const char *line = text + pos;
    const char *nl = memchr(line, '\n', len - pos);
    if (!nl) break; /* a torn last line: a crash mid-write */
    size_t ll = (size_t)(nl - line);
    double *row = v + rows * cols;
    size_t f = 0, fl = 0;
    int bad = memchr(line, '\0', ll) != NULL;
    for (size_t a = 0; !bad && a <= ll; f++) {
      const char *c = memchr(line + a, ',', ll - a);
      size_t b = c ? (size_t)(c - line) : ll;
      if (f == 0) fl = b;
      if (f < cols) row[f] = field_value(line + a, b - a);
      if (b == a) bad = 1; /* an empty field */
      a = b + 1;
    }
    if (bad || f != cols) {
      st = ng_error_set(err, NG_EFORMAT, "%s:%d: malformed row (%zu fields, expected %zu)",
                        source, lineno, bad ? (size_t)0 : f, cols);
      break;
    }
    char *end;
    char first[32];
    if (fl >= sizeof first) fl = sizeof first - 1;
    memcpy(first, line, fl);
    first[fl] = '\0';
    errno = 0;
    long idx = strtol(first, &end, 10);
    if (end == first || *end || errno || idx < 0 || (rows > 0 && idx <= last)) {
      st = ng_error_set(err, NG_EFORMAT, "%s:%d: row '%s' is out of sequence (after %ld)",
                        source, lineno, first, last);
      break;
    }
    last = idx;
    rows++;
    pos += ll + 1;
    if (keep_through < 0 || idx <= keep_through) keep = pos;
  }
  if (st) {
    ng_free(v);
    return st;
  }
  log->values = v;
  log->n_rows = rows;
  log->n_cols = cols;
  if (kept_len) *kept_len = keep;
  return NG_OK;
}

int ng_run_log_parse(const char *text, size_t len, const char *header, const char *source,
                     ng_run_log_t *log, ng_error_t *err) {
  if (!text || !header || !source || !log)
    return ng_error_set(err, NG_EINVAL, "run: NULL argument");
  return log_parse(text, len, header, source, -1, log, NULL, err);
}

#define NG__LOG_MAX ((size_t)1 << 30)

int ng_run_log_read(const char *path, const char *header, ng_run_log_t *log, ng_error_t *err) {
  if (!path || !header || !log) return ng_error_set(err, NG_EINVAL, "run: NULL argument");
  memset(log, 0, sizeof *log);
  char *text;
  size_t len;
  int found;
  int st = read_file(path, NG__LOG_MAX, &text, &len, &found, err);
  if (st || !found) return st;
  st = log_parse(text, len, header, path, -1, log, NULL, err);
  ng_free(text);
  return st;
}

static int log_start(ng_run_t *run, const char *path, const char *header, ng_error_t *err) {
  run->log = fopen(path, "w");
  if (!run->log) return ng_error_set(err, NG_EIO, "cannot write '%s': %s", path, strerror(errno));
  if (fprintf(run->log, "%s\n", header) < 0 || fflush(run->log) != 0)
    return ng_error_set(err, NG_EIO, "cannot write '%s': %s", path, strerror(errno));
  return NG_OK;
}

int ng_run_log_open(ng_run_t *run, const char *header, long keep_through, ng_error_t *err) {
  if (!run || !header) return ng_error_set(err, NG_EINVAL, "run: NULL argument");
  int st = writable(run, err);
  if (st) return st;
  if (run->log) return ng_error_set(err, NG_EINVAL, "run: the log is already open");
  char path[NG__PATH_MAX];
  if ((st = run_file(run, NG_RUN_LOG, path, err))) return st;
  if (run->mode == NG_RUN_CREATE) return log_start(run, path, header, err);
  char *text;
  size_t len, keep = 0;
  int found;
  if ((st = read_file(path, NG__LOG_MAX, &text, &len, &found, err))) return st;
  if (!found) return log_start(run, path, header, err);
  ng_run_log_t log;
  st = log_parse(text, len, header, path, keep_through < 0 ? 0 : keep_through, &log, &keep,
                 err);
  ng_run_log_free(&log);
  if (!st && keep < len) st = ng__ckio_write_file(path, text, keep, err);
  ng_free(text);
  if (st) return st;
  run->log = fopen(path, "a");
  if (!run->log)
    return ng_error_set(err, NG_EIO, "cannot append to '%s': %s", path, strerror(errno));
  return NG_OK;
}

int ng_run_log_append(ng_run_t *run, const char *row, ng_error_t *err) {
  if (!run || !row) return ng_error_set(err, NG_EINVAL, "run: NULL argument");
  if (!run->log) return ng_error_set(err, NG_EINVAL, "run: the log is not open");
  if (fprintf(run->log, "%s\n", row) < 0 || fflush(run->log) != 0)
    return ng_error_set(err, NG_EIO, "cannot write '%s/%s': %s", run->dir, NG_RUN_LOG,
                        strerror(errno));
  run->wrote = 1;
  return NG_OK;
}
