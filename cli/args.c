/* The flag loop shared by every command (args.h). */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void ng_args_init(ng_args_t *a, const char *cmd, int argc, char **argv) {
  memset(a, 0, sizeof *a);
  a->cmd = cmd;
  a->argc = argc;
  a->argv = argv;
  a->i = 0; /* argv[0] is the command's name */
}

int ng_args_next(ng_args_t *a) {
  if (++a->i >= a->argc) return 0;
  a->arg = a->argv[a->i];
  a->inl = NULL;
  const char *eq = strchr(a->arg, '=');
  if (!strncmp(a->arg, "--", 2) && eq && (size_t)(eq - a->arg) < sizeof a->name) {
    memcpy(a->name, a->arg, (size_t)(eq - a->arg));
    a->name[eq - a->arg] = '\0';
    a->inl = eq + 1;
  } else {
    snprintf(a->name, sizeof a->name, "%s", a->arg);
  }
  return 1;
}

int ng_args_is(const ng_args_t *a, const char *flag) { return !strcmp(a->name, flag); }

int ng_args_switch(const ng_args_t *a, const char *flag, const char *short_flag) {
  return !a->inl && (!strcmp(a->name, flag) || (short_flag && !strcmp(a->name, short_flag)));
}

const char *ng_args_value(ng_args_t *a) {
  if (a->inl) return a->inl;
  if (a->i + 1 >= a->argc) {
    ng_cli_error(a->cmd, "%s needs a value (see natgrad %s --help)", a->name, a->cmd);
    return NULL;
  }
  return a->argv[++a->i];
}

int ng_args_int(ng_args_t *a, long lo, long hi, long *out) {
  const char *v = ng_args_value(a);
  if (!v) return 0;
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (end == v || *end || errno || x < lo || x > hi) {
    ng_cli_error(a->cmd, "%s: expected an integer in [%ld, %ld], got '%s'", a->name, lo, hi, v);
    return 0;
  }
  *out = x;
  return 1;
}

int ng_args_unknown(const ng_args_t *a) {
  ng_cli_error(a->cmd, "%s '%s' (see natgrad %s --help)",
               a->arg[0] == '-' ? "unknown option" : "unexpected argument", a->arg, a->cmd);
  return NG_EXIT_USAGE;
}

int ng_args_setting(const ng_args_t *a, ng_args_settings_t *s, const char *flag,
                    const char *key, const char *value) {
  if (s->n == NG_ARGS_MAX_SETTINGS) {
    ng_cli_error(a->cmd, "too many settings (at most %d)", NG_ARGS_MAX_SETTINGS);
    return 0;
  }
  ng_args_setting_t *t = &s->item[s->n++];
  t->flag = flag;
  t->key = key;
  t->value = value;
  return 1;
}

const ng_args_setting_t *ng_args_set(const ng_args_t *a, ng_args_settings_t *s, const char *kv) {
  const char *e = strchr(kv, '=');
  if (!e || e == kv) {
    ng_cli_error(a->cmd, "--set expects KEY=VALUE, got '%s'", kv);
    return NULL;
  }
  size_t len = strlen(kv);
  if (len >= sizeof s->item[0].buf) {
    ng_cli_error(a->cmd, "--set %s: too long", kv);
    return NULL;
  }
  if (!ng_args_setting(a, s, "--set", NULL, NULL)) return NULL;
  ng_args_setting_t *t = &s->item[s->n - 1];
  memcpy(t->buf, kv, len + 1);
  t->buf[e - kv] = '\0';
  t->key = t->buf;
  t->value = t->buf + (e - kv) + 1;
  return t;
}
