/* The CLI's side of run folders: opening one with the CLI's advice, config files. */
#include "run_dir.h"

#include "cli.h"

#include <errno.h>
#include <ini.h>
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

int ng_cli_run_open(ng_run_t **run, const char *dir, ng_run_mode_t mode, int force,
                    ng_error_t *err) {
  int st = ng_run_open(run, dir, mode, force, err);
  char msg[sizeof err->message];
  snprintf(msg, sizeof msg, "%s", err->message);
  switch (st) {
  case NG_OK:
    return -1;
  case NG_EEXIST:
    ng_error_set(err, st, "%s; continue it with --resume %s, or pass --force to start over "
                 "and overwrite it", msg, dir);
    return NG_EXIT_USAGE;
  case NG_EINVAL:
    ng_error_set(err, st, "%s: %s", mode == NG_RUN_CREATE ? "--out" : "--resume", msg);
    return NG_EXIT_USAGE;
  case NG_ENOTFOUND:
    if (mode == NG_RUN_RESUME && !strncmp(msg, "no checkpoint: ", 15))
      ng_error_set(err, st, "no checkpoint to resume: %s", msg + 15);
    return NG_EXIT_USAGE;
  default:
    return NG_EXIT_FAILURE;
  }
}

/* ---- config files ---------------------------------------------------------------------- */

/* Reader state: inih sees one normalised physical line per call, so the count of calls is
 * the line number the handler reports, and problems inih cannot see are kept here. */
typedef struct {
  FILE *f;
  ng_config_file_t *cf;
  int line;
  int status;          /* first error found by the reader or the handler */
  int error_line;
  char message[400];
} parse_ctx_t;

static void ctx_fail(parse_ctx_t *ctx, int status, const char *msg) {
  if (ctx->status != NG_OK) return;
  ctx->status = status;
  ctx->error_line = ctx->line;
  snprintf(ctx->message, sizeof ctx->message, "%s", msg);
}

/* fgets for inih, with two normalisations inih lacks: leading whitespace is dropped (so an
 * indented line is a line of its own, never the "continuation" of the previous value), and
 * a '#' after whitespace starts a comment (inih only knows ';' there). */
static char *config_reader(char *str, int num, void *stream) {
  parse_ctx_t *ctx = stream;
  char buf[1024];
  if (ctx->status != NG_OK || !fgets(buf, sizeof buf, ctx->f)) return NULL;
  ctx->line++;
  size_t len = strlen(buf);
  if (len == sizeof buf - 1 && buf[len - 1] != '\n' && !feof(ctx->f)) {
    ctx_fail(ctx, NG_EFORMAT, "line too long (at most 1000 characters)");
    return NULL;
  }
  char *s = buf;
  while (*s == ' ' || *s == '\t') s++;
  for (char *p = s + 1; *s && *p; p++)
    if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t')) {
      p[0] = '\n';
      p[1] = '\0';
      break;
    }
  if (*s == '[') { /* checked here, where its line is known (inih reports keys only) */
    size_t k = strcspn(s + 1, "]");
    int known = (k == 0 || (k == 4 && !strncmp(s + 1, "trpo", 4)) ||
                 (k == 3 && !strncmp(s + 1, "npg", 3)));
    if (s[1 + k] == ']' && !known) {
      char msg[300];
      snprintf(msg, sizeof msg, "unknown section [%.*s] (use no section, [trpo] or [npg])",
               (int)(k < 200 ? k : 200), s + 1);
      ctx_fail(ctx, NG_EFORMAT, msg);
      return NULL;
    }
  }
  len = strlen(s);
  if (num < 2 || len + 1 > (size_t)num) {
    char msg[64];
    snprintf(msg, sizeof msg, "line too long (at most %d characters)", num - 2);
    ctx_fail(ctx, NG_EFORMAT, msg);
    return NULL;
  }
  memcpy(str, s, len + 1);
  return str;
}

static int config_handler(void *user, const char *section, const char *name,
                          const char *value) {
  parse_ctx_t *ctx = user;
  ng_config_file_t *cf = ctx->cf;
  char msg[400];
  if (section[0] && strcmp(section, "trpo") != 0 && strcmp(section, "npg") != 0) {
    snprintf(msg, sizeof msg, "unknown section [%s] (use no section, [trpo] or [npg])",
             section); /* a long name cut by inih; the reader checks whole ones */
    ctx_fail(ctx, NG_EFORMAT, msg);
    return 0;
  }
  if (strlen(name) >= sizeof cf->entries[0].key || strlen(value) >= sizeof cf->entries[0].value) {
    ctx_fail(ctx, NG_EFORMAT, "key or value too long");
    return 0;
  }
  if (cf->n == cf->cap) {
    size_t cap = cf->cap ? 2 * cf->cap : 32;
    ng_config_entry_t *e = realloc(cf->entries, cap * sizeof *e);
    if (!e) {
      ctx_fail(ctx, NG_ENOMEM, "out of memory");
      return 0;
    }
    cf->entries = e;
    cf->cap = cap;
  }
  ng_config_entry_t *e = &cf->entries[cf->n++];
  snprintf(e->key, sizeof e->key, "%s", name);
  snprintf(e->value, sizeof e->value, "%s", value);
  e->line = ctx->line;
  return 1;
}

int ng_config_file_read(ng_config_file_t *cf, const char *path, ng_error_t *err) {
  memset(cf, 0, sizeof *cf);
  if (strlen(path) >= sizeof cf->path)
    return ng_error_set(err, NG_ERANGE, "config file path too long: '%s'", path);
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    return ng_error_set(err, NG_ENOTFOUND, "cannot read config file '%s': is a folder", path);
  FILE *f = fopen(path, "r");
  if (!f)
    return ng_error_set(err, NG_ENOTFOUND, "cannot read config file '%s': %s", path,
                        strerror(errno));
  int st = ng_config_file_read_stream(cf, f, path, err);
  fclose(f);
  return st;
}

int ng_config_file_read_stream(ng_config_file_t *cf, FILE *f, const char *name,
                               ng_error_t *err) {
  memset(cf, 0, sizeof *cf);
  if (strlen(name) >= sizeof cf->path)
    return ng_error_set(err, NG_ERANGE, "config file path too long: '%s'", name);
  snprintf(cf->path, sizeof cf->path, "%s", name);
  const char *path = cf->path;
  parse_ctx_t ctx = {.f = f, .cf = cf};
  int ret = ini_parse_stream(config_reader, &ctx, config_handler, &ctx);
  int read_failed = ferror(ctx.f);
  int st = NG_OK;
  if (read_failed) {
    st = ng_error_set(err, NG_EIO, "cannot read config file '%s'", path);
  } else if (ret > 0 && (ctx.status == NG_OK || ret < ctx.error_line)) {
    /* inih's own complaint (on a line the handler never saw): a line that is neither a
     * comment, a [section] nor a key = value pair. */
    st = ng_error_set(err, NG_EFORMAT, "%s:%d: expected 'key = value', a [section] or a comment",
                      path, ret);
  } else if (ctx.status != NG_OK) {
    st = ng_error_set(err, ctx.status, "%s:%d: %s", path, ctx.error_line, ctx.message);
  } else if (ret < 0) {
    st = ng_error_set(err, NG_ENOMEM, "cannot parse config file '%s'", path);
  }
  if (st != NG_OK) ng_config_file_free(cf);
  return st;
}

const char *ng_config_file_get(const ng_config_file_t *cf, const char *key) {
  for (size_t i = cf->n; i-- > 0;)
    if (!strcmp(cf->entries[i].key, key)) return cf->entries[i].value;
  return NULL;
}

int ng_config_file_apply(const ng_config_file_t *cf, ng_rl_config_t *cfg, ng_error_t *err) {
  for (size_t i = 0; i < cf->n; i++) {
    const ng_config_entry_t *e = &cf->entries[i];
    ng_error_t e2;
    ng_error_clear(&e2);
    int st = ng_rl_config_set(cfg, e->key, e->value, &e2);
    if (st != NG_OK)
      return ng_error_set(err, st, "%s:%d: %s", cf->path, e->line,
                          e2.message[0] ? ng_run_untag(e2.message, "config") : ng_strerror(st));
  }
  return NG_OK;
}

void ng_config_file_free(ng_config_file_t *cf) {
  free(cf->entries);
  cf->entries = NULL;
  cf->n = cf->cap = 0;
}

