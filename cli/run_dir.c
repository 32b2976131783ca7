/* Run-folder helpers: the CSV log, checkpoints, output-folder checks. */
#include "run_dir.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ng_run_untag(const char *msg, const char *tag) {
  size_t n = strlen(tag);
  if (!strncmp(msg, tag, n) && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
  return msg;
}

int ng_run_path(char *buf, size_t size, const char *dir, const char *name, ng_error_t *err) {
  size_t len = strlen(dir);
  const char *sep = (len > 0 && dir[len - 1] == '/') ? "" : "/";
  int n = snprintf(buf, size, "%s%s%s", dir, sep, name);
  if (n < 0 || (size_t)n >= size)
    return ng_error_set(err, NG_ERANGE, "path too long: '%s%s%s'", dir, sep, name);
  return NG_OK;
}

int ng_run_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int ng_run_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir -p: each missing component in turn. */
static int make_dirs(const char *dir) {
  char buf[1024];
  size_t len = strlen(dir);
  if (len == 0 || len >= sizeof buf) {
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
  if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
  if (!ng_run_is_dir(buf)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

int ng_run_prepare_dir(const char *dir, ng_error_t *err) {
  if (make_dirs(dir) != 0)
    return ng_error_set(err, NG_EIO, "cannot create output folder '%s': %s", dir,
                        strerror(errno));
  /* Permission bits do not tell the whole story (root, read-only mounts): try it. */
  char probe[1100];
  int st = ng_run_path(probe, sizeof probe, dir, ".natgrad-write-test", err);
  if (st != NG_OK) return st;
  FILE *f = fopen(probe, "w");
  if (!f || fputs("ok\n", f) == EOF || fclose(f) != 0) {
    int e = errno;
    remove(probe);
    return ng_error_set(err, NG_EIO, "output folder '%s' is not writable: %s", dir,
                        strerror(e));
  }
  remove(probe);
  return NG_OK;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* Copies src to dst through dst.tmp (flushed, fsync'ed, renamed): for file systems without
 * hard links. */
static int copy_file(const char *src, const char *dst) {
  char tmp[1100];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", dst) >= (int)sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  FILE *in = fopen(src, "rb");
  if (!in) return -1;
  FILE *out = fopen(tmp, "wb");
  if (!out) {
    int e = errno;
    fclose(in);
    errno = e;
    return -1;
  }
  char buf[65536];
  size_t n;
  int ok = 1;
  while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
  ok = ok && !ferror(in) && fflush(out) == 0 && fsync(fileno(out)) == 0;
  int e = errno;
  fclose(in);
  if (fclose(out) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (ok && rename(tmp, dst) != 0) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    remove(tmp);
    errno = e;
    return -1;
  }
  return 0;
}

int ng_run_save_checkpoint(const ng_rl_t *t, const char *dir, ng_error_t *err) {
  char ckpt[1100], prev[1100], prev_tmp[1100];
  int st = ng_run_path(ckpt, sizeof ckpt, dir, NG_RUN_CHECKPOINT, err);
  if (st == NG_OK) st = ng_run_path(prev, sizeof prev, dir, NG_RUN_CHECKPOINT_PREV, err);
  if (st == NG_OK) st = ng_run_path(prev_tmp, sizeof prev_tmp, dir, NG_RUN_CHECKPOINT_PREV ".tmp",
                                    err);
  if (st != NG_OK) return st;
  if (ng_run_exists(ckpt)) {
    /* link to a temporary name, then rename: prev is never missing once it exists */
    if (remove(prev_tmp) != 0 && errno != ENOENT)
      return ng_error_set(err, NG_EIO, "cannot remove '%s': %s", prev_tmp, strerror(errno));
    if (link(ckpt, prev_tmp) == 0) {
      if (rename(prev_tmp, prev) != 0) {
        int e = errno;
        remove(prev_tmp);
        return ng_error_set(err, NG_EIO, "cannot keep the previous checkpoint as '%s': %s", prev,
                            strerror(e));
      }
    } else if (copy_file(ckpt, prev) != 0) {
      return ng_error_set(err, NG_EIO, "cannot keep the previous checkpoint as '%s': %s", prev,
                          strerror(errno));
    }
  }
  return ng_rl_save(t, ckpt, err);
}

int ng_run_load_checkpoint(ng_rl_t **t, const char *dir, int set_aside, char *warning,
                           size_t wsize, ng_error_t *err) {
  char ckpt[1100], prev[1100], damaged[1100];
  if (wsize) warning[0] = '\0';
  *t = NULL;
  int st = ng_run_path(ckpt, sizeof ckpt, dir, NG_RUN_CHECKPOINT, err);
  if (st == NG_OK) st = ng_run_path(prev, sizeof prev, dir, NG_RUN_CHECKPOINT_PREV, err);
  if (st == NG_OK) st = ng_run_path(damaged, sizeof damaged, dir, NG_RUN_CHECKPOINT_DAMAGED, err);
  if (st != NG_OK) return st;
  int have = ng_run_exists(ckpt), have_prev = ng_run_exists(prev);
  if (!have && !have_prev)
    return ng_error_set(err, NG_ENOTFOUND, "no checkpoint: '%s' does not exist", ckpt);
  char why[1200];
  ng_error_t e1, e2;
  ng_error_clear(&e1);
  ng_error_clear(&e2);
  if (have) {
    st = ng_rl_load(t, ckpt, &e1);
    if (st == NG_OK || !have_prev || (st != NG_EIO && st != NG_EFORMAT))
      return st == NG_OK ? NG_OK : ng_error_set(err, st, "%s", e1.message);
    snprintf(why, sizeof why, "%s", ng_run_untag(e1.message, "load"));
  } else {
    snprintf(why, sizeof why, "'%s' is missing", ckpt);
  }
  st = ng_rl_load(t, prev, &e2);
  if (st != NG_OK) /* the latest one's error is the one to report, if there is one */
    return have ? ng_error_set(err, e1.status, "%s", e1.message)
                : ng_error_set(err, st, "%s", e2.message);
  int moved = set_aside && have && rename(ckpt, damaged) == 0;
  snprintf(warning, wsize, "the latest checkpoint is unusable (%s); using the previous one, "
           "'%s' (iteration %ld)%s%s%s", why, prev, ng_rl_iteration(*t),
           moved ? "; the damaged file is kept as '" : "", moved ? damaged : "",
           moved ? "'" : "");
  return NG_OK;
}

int ng_run_write_file(const char *path, const char *text, ng_error_t *err) {
  char tmp[1100];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (n < 0 || (size_t)n >= sizeof tmp)
    return ng_error_set(err, NG_ERANGE, "path too long: '%s'", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return ng_error_set(err, NG_EIO, "cannot write '%s': %s", tmp, strerror(errno));
  int ok = fputs(text, f) != EOF && fflush(f) == 0;
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (!ok || rename(tmp, path) != 0) {
    if (ok) e = errno;
    remove(tmp);
    return ng_error_set(err, NG_EIO, "cannot write '%s': %s", path, strerror(e));
  }
  return NG_OK;
}

int ng_run_write_config(const char *path, const ng_rl_config_t *cfg, ng_error_t *err) {
  static const char header[] =
      "# natgrad train: the effective config of this run (defaults for the env, then the\n"
      "# config file, then the command line). `natgrad train --config FILE` reads it back.\n";
  char small[4096];
  size_t need = ng_rl_config_format(cfg, small, sizeof small);
  char *body = small;
  if (need >= sizeof small) {
    body = malloc(need + 1);
    if (!body) return ng_error_set(err, NG_ENOMEM, "out of memory writing '%s'", path);
    ng_rl_config_format(cfg, body, need + 1);
  }
  size_t hl = sizeof header - 1, bl = strlen(body);
  char *text = malloc(hl + bl + 1);
  int st;
  if (!text) {
    st = ng_error_set(err, NG_ENOMEM, "out of memory writing '%s'", path);
  } else {
    memcpy(text, header, hl);
    memcpy(text + hl, body, bl + 1);
    st = ng_run_write_file(path, text, err);
    free(text);
  }
  if (body != small) free(body);
  return st;
}

/* ---- CSV log --------------------------------------------------------------------------- */

int ng_log_create(ng_log_t *log, const char *path, ng_error_t *err) {
  snprintf(log->path, sizeof log->path, "%s", path);
  log->f = fopen(path, "w");
  if (!log->f) return ng_error_set(err, NG_EIO, "cannot write '%s': %s", path, strerror(errno));
  if (fputs(NG_RUN_CSV_HEADER "\n", log->f) == EOF || fflush(log->f) != 0) {
    int e = errno;
    ng_log_close(log);
    return ng_error_set(err, NG_EIO, "cannot write '%s': %s", path, strerror(e));
  }
  return NG_OK;
}

/* Reads a whole small text file into a malloc'ed string; NULL and errno if it cannot. */
static char *read_text(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    char *b = realloc(buf, 2 * cap);
    if (!b) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = b;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    errno = bad ? EIO : ENOMEM;
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

int ng_log_resume(ng_log_t *log, const char *path, long keep_through, ng_error_t *err) {
  if (!ng_run_exists(path)) return ng_log_create(log, path, err);
  size_t len = 0;
  char *text = read_text(path, &len);
  if (!text) return ng_error_set(err, NG_EIO, "cannot read '%s': %s", path, strerror(errno));
  /* Keep the header and every complete row up to keep_through; drop the rest, including a
   * torn last line from a crash. */
  size_t keep = 0;
  char *line = text;
  int first = 1, st = NG_OK;
  while (*line) {
    char *nl = strchr(line, '\n');
    if (!nl) break;
    if (first) {
      if ((size_t)(nl - line) != strlen(NG_RUN_CSV_HEADER) ||
          strncmp(line, NG_RUN_CSV_HEADER, (size_t)(nl - line)) != 0) {
        st = ng_error_set(err, NG_EFORMAT, "%s: not a natgrad progress log (unexpected header)",
                          path);
        break;
      }
      first = 0;
    } else {
      char *end;
      long it = strtol(line, &end, 10);
      if (end == line || *end != ',' || it > keep_through) break;
    }
    keep = (size_t)(nl + 1 - text);
    line = nl + 1;
  }
  if (st == NG_OK) {
    if (first) {
      free(text);
      return ng_log_create(log, path, err);
    }
    if (keep < len) {
      text[keep] = '\0';
      st = ng_run_write_file(path, text, err);
    }
  }
  free(text);
  if (st != NG_OK) return st;
  snprintf(log->path, sizeof log->path, "%s", path);
  log->f = fopen(path, "a");
  if (!log->f) return ng_error_set(err, NG_EIO, "cannot append to '%s': %s", path, strerror(errno));
  return NG_OK;
}

/* A value for the CSV: "nan" spelled the same on every libc. */
static void put_num(FILE *f, double x, const char *fmt) {
  if (isnan(x))
    fputs(",nan", f);
  else {
    fputc(',', f);
    fprintf(f, fmt, x);
  }
}

int ng_log_append(ng_log_t *log, const ng_rl_stats_t *s, double wall_s, ng_error_t *err) {
  FILE *f = log->f;
  fprintf(f, "%ld,%ld,%d", s->iteration, s->env_steps, s->episodes);
  put_num(f, s->mean_return, "%.10g");
  put_num(f, s->mean_length, "%.10g");
  put_num(f, s->kl, "%.6g");
  put_num(f, s->entropy, "%.6g");
  put_num(f, s->surrogate_gain, "%.6g");
  fprintf(f, ",%d,%d,%d", s->ls_trials, s->step_accepted, s->cg_iterations);
  put_num(f, s->cg_residual, "%.6g");
  put_num(f, s->vf_loss, "%.6g");
  put_num(f, s->explained_variance, "%.6g");
  put_num(f, s->rollout_seconds, "%.4f");
  put_num(f, s->update_seconds, "%.4f");
  put_num(f, wall_s, "%.3f");
  fputc('\n', f);
  if (ferror(f) || fflush(f) != 0)
    return ng_error_set(err, NG_EIO, "cannot write '%s': %s", log->path, strerror(errno));
  return NG_OK;
}

void ng_log_close(ng_log_t *log) {
  if (log->f) fclose(log->f);
  log->f = NULL;
}

/* Field k (0-based) of a CSV line as a double; NAN for "nan"; 0 on a malformed field. */
static int csv_field(const char *line, int k, double *out) {
  const char *p = line;
  for (int i = 0; i < k; i++) {
    p = strchr(p, ',');
    if (!p) return 0;
    p++;
  }
  if (!strncmp(p, "nan", 3)) {
    *out = NAN;
    return 1;
  }
  char *end;
  *out = strtod(p, &end);
  return end != p && (*end == ',' || *end == '\n' || *end == '\r' || *end == '\0');
}

int ng_log_read(const char *path, ng_log_row_t **rows, size_t *n, ng_error_t *err) {
  *rows = NULL;
  *n = 0;
  if (!ng_run_exists(path)) return NG_OK;
  size_t len = 0;
  char *text = read_text(path, &len);
  if (!text) return ng_error_set(err, NG_EIO, "cannot read '%s': %s", path, strerror(errno));
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  ng_log_row_t *r = malloc((lines + 1) * sizeof *r);
  if (!r) {
    free(text);
    return ng_error_set(err, NG_ENOMEM, "out of memory reading '%s'", path);
  }
  int st = NG_OK, lineno = 0;
  size_t count = 0;
  for (char *line = text; *line;) {
    char *nl = strchr(line, '\n');
    if (!nl) break; /* a torn last line */
    *nl = '\0';
    lineno++;
    if (lineno == 1) {
      if (strcmp(line, NG_RUN_CSV_HEADER) != 0) {
        st = ng_error_set(err, NG_EFORMAT, "%s: not a natgrad progress log (unexpected header)",
                          path);
        break;
      }
    } else {
      double it, steps, eps, ret, wall;
      if (!csv_field(line, 0, &it) || !csv_field(line, 1, &steps) ||
          !csv_field(line, 2, &eps) || !csv_field(line, 3, &ret) ||
          !csv_field(line, 16, &wall)) {
        st = ng_error_set(err, NG_EFORMAT, "%s:%d: malformed row", path, lineno);
        break;
      }
      r[count].iteration = (long)it;
      r[count].env_steps = (long)steps;
      r[count].episodes = (int)eps;
      r[count].mean_return = ret;
      r[count].wall_s = wall;
      count++;
    }
    line = nl + 1;
  }
  free(text);
  if (st != NG_OK) {
    free(r);
    return st;
  }
  *rows = r;
  *n = count;
  return NG_OK;
}
