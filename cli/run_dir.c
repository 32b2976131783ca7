/* The CLI's side of run folders: opening one with the CLI's advice. */
#include "run_dir.h"

#include "cli.h"

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
