/* The CLI's side of run folders: opening one with the CLI's advice. */
#include "run_dir.h"

#include "cli.h"
#include "natgrad/env.h"
#include "natgrad/keys.h"

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

/* ---- plugins ---- */

static int ng__cli_plugin_exit(int status) {
  return status == NG_EIO || status == NG_ENOMEM ? NG_EXIT_FAILURE : NG_EXIT_USAGE;
}

int ng_cli_plugin_load(const char *cmd, const char *path) {
  ng_error_t err;
  ng_error_clear(&err);
  int st = ng_plugin_load(path, NULL, &err);
  if (st == NG_OK) return -1;
  ng_cli_error(cmd, "--plugin: %s", err.message);
  return ng__cli_plugin_exit(st);
}

/* path's checksum against the recorded one (who: where it was recorded). -1 to go on. */
static int ng__cli_plugin_same(const char *cmd, const char *path, const char *recorded,
                               const char *who, int force) {
  char now[24];
  ng_error_t err;
  ng_error_clear(&err);
  int st = ng_plugin_hash_file(path, now, sizeof now, &err);
  if (st == NG_ENOTFOUND) {
    ng_cli_error(cmd, "the run's plugin %s (recorded in %s) is missing; pass --plugin PATH if "
                 "it moved", path, who);
    return NG_EXIT_USAGE;
  }
  if (st != NG_OK) {
    ng_cli_error(cmd, "%s", err.message);
    return ng__cli_plugin_exit(st);
  }
  if (!recorded[0] || !strcmp(now, recorded)) return -1;
  if (!force) {
    ng_cli_error(cmd, "the plugin %s has changed since %s recorded it (%s then, %s now): "
                 "rebuild the original, or pass --force to use it anyway", path, who,
                 recorded, now);
    return NG_EXIT_USAGE;
  }
  ng_cli_error(cmd, "warning: the plugin %s has changed since %s recorded it (%s then, %s "
               "now); going on with it (--force)", path, who, recorded, now);
  return -1;
}

int ng_cli_plugin_from_config(const char *cmd, const char *config_path, const char *override,
                              int force) {
  static const char *const sections[] = {"trpo", "npg", "acktr", NULL};
  char path[1024] = "", hash[24] = "";
  struct stat sb;
  if (config_path && stat(config_path, &sb) == 0 && S_ISREG(sb.st_mode)) {
    ng_kv_list_t l;
    ng_error_t err;
    ng_error_clear(&err);
    int st = ng_kv_read_file(&l, config_path, sections, &err);
    if (st != NG_OK) {
      ng_cli_error(cmd, "%s", err.message);
      return st == NG_EIO ? NG_EXIT_FAILURE : NG_EXIT_USAGE;
    }
    const char *p = ng_kv_get(&l, "plugin", NULL), *h = ng_kv_get(&l, "plugin_hash", NULL);
    snprintf(path, sizeof path, "%s", p ? p : "");
    snprintf(hash, sizeof hash, "%s", h ? h : "");
    ng_kv_free(&l);
  }
  return ng_cli_plugin_recorded(cmd, path, hash, config_path, override, force);
}

int ng_cli_plugin_recorded(const char *cmd, const char *path, const char *hash,
                           const char *who, const char *override, int force) {
  const char *use = override ? override : path[0] ? path : NULL;
  if (!use) return -1;
  int rc = ng__cli_plugin_same(cmd, use, hash, who, force);
  return rc >= 0 ? rc : ng_cli_plugin_load(cmd, use);
}

int ng_cli_plugin_record(const char *cmd, ng_rl_config_t *cfg) {
  const char *from = ng_env_plugin_path(cfg->env_id);
  ng_plugin_info_t info;
  cfg->plugin[0] = cfg->plugin_hash[0] = '\0';
  if (!from || ng_plugin_load(from, &info, NULL) != NG_OK) return -1;
  if (strlen(info.path) >= sizeof cfg->plugin) {
    ng_cli_error(cmd, "--plugin: path too long to record: %s", info.path);
    return NG_EXIT_USAGE;
  }
  memcpy(cfg->plugin, info.path, strlen(info.path) + 1);
  snprintf(cfg->plugin_hash, sizeof cfg->plugin_hash, "%s", info.hash);
  return -1;
}

int ng_cli_plugin_check(const char *cmd, const ng_rl_config_t *cfg, int force) {
  const char *path = ng_env_plugin_path(cfg->env_id);
  if (!cfg->plugin_hash[0] || !path) return -1;
  ng_plugin_info_t info;
  if (ng_plugin_load(path, &info, NULL) != NG_OK || !strcmp(info.hash, cfg->plugin_hash))
    return -1;
  if (!force) {
    ng_cli_error(cmd, "the plugin %s is not the one the checkpoint was trained with (%s then, "
                 "%s now): pass --force to use it anyway", path, cfg->plugin_hash, info.hash);
    return NG_EXIT_USAGE;
  }
  ng_cli_error(cmd, "warning: the plugin %s is not the one the checkpoint was trained with "
               "(%s then, %s now); going on with it (--force)", path, cfg->plugin_hash,
               info.hash);
  return -1;
}

int ng_cli_load_trainer(const char *cmd, const char *where, const char *plugin, int force,
                        ng_rl_t **out) {
  char warning[2048] = "";
  ng_rl_t *t = NULL;
  int rc;
  ng_error_t err;
  ng_error_clear(&err);
  struct stat sb;
  int st;
  if (stat(where, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    /* a run folder falls back to its previous checkpoint if the latest is damaged (and
     * leaves the files as they are: this only reads) */
    char config_path[NG_CLI_PATH];
    if (ng_run_path(config_path, sizeof config_path, where, NG_RUN_CONFIG, &err) != NG_OK) {
      ng_cli_error(cmd, "%s", err.message);
      return NG_EXIT_USAGE;
    }
    if ((rc = ng_cli_plugin_from_config(cmd, config_path, plugin, force)) >= 0) return rc;
    ng_run_t *run;
    st = ng_run_open(&run, where, NG_RUN_READ, 0, &err);
    if (st != NG_OK) {
      ng_cli_error(cmd, "%s", err.message);
      return st == NG_ENOTFOUND ? NG_EXIT_USAGE : NG_EXIT_FAILURE;
    }
    st = ng_run_load_checkpoint(run, ng_rl_run_load, &t, ng_rl_resume_keys(), warning,
                                sizeof warning, &err);
    ng_run_close(run);
  } else if (access(where, F_OK) != 0) {
    ng_cli_error(cmd, "no checkpoint: '%s' %s", where,
                 errno == ENOENT ? "does not exist" : strerror(errno));
    return NG_EXIT_USAGE;
  } else {
    if (plugin && (rc = ng_cli_plugin_load(cmd, plugin)) >= 0) return rc;
    st = ng_rl_load(&t, where, &err);
  }
  if (st != NG_OK) {
    const char *msg = ng_run_untag(err.message, "load");
    if (strstr(msg, where))
      ng_cli_error(cmd, "cannot load checkpoint: %s", msg);
    else
      ng_cli_error(cmd, "cannot load checkpoint '%s': %s", where, msg);
    if (t) ng_rl_destroy(t);
    return NG_EXIT_FAILURE;
  }
  if (warning[0]) ng_cli_error(cmd, "warning: %s", warning);
  if ((rc = ng_cli_plugin_check(cmd, ng_rl_config(t), force)) >= 0) {
    ng_rl_destroy(t);
    return rc;
  }
  *out = t;
  return -1;
}
