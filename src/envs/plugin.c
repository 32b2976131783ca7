/* Plugins: environments in a shared library, loaded with dlopen and registered all or
 * nothing (natgrad/env.h states the entry point and its ABI).
 *
 * Order of checks, each a one-line error naming the file: the path resolves to a regular
 * file; its CRC-32 (the identity a run folder records); dlopen; the entry symbol; its ABI
 * version, read before anything of the plugin runs; init, whose definitions are checked and
 * copied as they come and registered together only if init succeeds. A plugin is never
 * unloaded once any of its environments is registered (their callbacks are its code); a
 * failed one is closed again. */
/* realpath is XSI */
#define _XOPEN_SOURCE 700
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "envs/env_impl.h"

#define NG__PLUGIN_MAX 16         /* plugins per process */
#define NG__PLUGIN_MAX_ENVS 64    /* environments per plugin */

typedef struct {
  ng_plugin_info_t info;
  void *handle;
} ng__plugin_t;

static pthread_mutex_t ng__plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static ng__plugin_t ng__plugins[NG__PLUGIN_MAX];
static size_t ng__n_plugins;

int ng_plugin_hash_file(const char *path, char *hash, size_t size, ng_error_t *err) {
  if (!path || !hash) return ng_error_set(err, NG_EINVAL, "plugin: NULL argument");
  FILE *f = fopen(path, "rb");
  if (!f)
    return ng_error_set(err, errno == ENOENT ? NG_ENOTFOUND : NG_EIO, "plugin %s: %s", path,
                        strerror(errno));
  unsigned char buf[65536];
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) crc = crc32(crc, buf, (uInt)got);
  int bad = ferror(f);
  fclose(f);
  if (bad) return ng_error_set(err, NG_EIO, "plugin %s: read error", path);
  snprintf(hash, size, "crc32:%08lx", (unsigned long)crc);
  ng_error_clear(err);
  return NG_OK;
}

/* ---- the registrar handed to init ---- */

typedef struct {
  const char *path;
  ng_env_def_t *pending[NG__PLUGIN_MAX_ENVS];
  size_t n;
  /* the first definition refused: the load fails with it even if init goes on to return
   * NG_OK (all or nothing) */
  ng_error_t refused;
} ng__host_t;

static int ng__plugin_add_env(ng_plugin_registrar_t *r, const ng_env_def_t *def,
                              ng_error_t *err) {
  ng__host_t *h = r ? r->host : NULL;
  if (!h) return ng_error_set(err, NG_EINVAL, "plugin: add_env outside init");
  if (h->n == NG__PLUGIN_MAX_ENVS) {
    ng_error_set(&h->refused, NG_ERANGE, "more than %d environments", NG__PLUGIN_MAX_ENVS);
    if (err) *err = h->refused;
    return NG_ERANGE;
  }
  ng_env_def_t *copy;
  int s = ng__env_copy(def, &copy, &h->refused);
  if (err) *err = h->refused;
  if (s) return s;
  /* a clash now, where the plugin can still see which call it was (commit checks again) */
  const char *id = copy->info.id;
  const ng_env_info_t *taken = ng_env_find(id);
  int clash = taken != NULL;
  for (size_t i = 0; i < h->n && !clash; i++) clash = !strcmp(h->pending[i]->info.id, id);
  if (clash) {
    const char *other = ng_env_plugin_path(id);
    s = ng_error_set(&h->refused, NG_EINVAL, "env %s: the id is taken (by %s)", id,
                     other ? other : taken ? "a built-in environment or one "
                                                       "registered from C"
                                                     : "another of this plugin's");
    ng__env_copy_free(copy);
    if (err) *err = h->refused;
    return s;
  }
  h->pending[h->n++] = copy;
  ng_error_clear(err);
  return NG_OK;
}

/* ---- loading ---- */

/* "plugin PATH: MESSAGE" from a message that may already name the plugin's environment. */
static int ng__plugin_fail(ng_error_t *err, int status, const char *path, const char *msg) {
  return ng_error_set(err, status, "plugin %s: %s", path, msg);
}

static int ng__plugin_load_locked(const char *path, ng_plugin_info_t *out, ng_error_t *err) {
  char real[PATH_MAX];
  struct stat st;
  if (!realpath(path, real) || stat(real, &st) != 0)
    return ng_error_set(err, errno == ENOENT || errno == ENOTDIR ? NG_ENOTFOUND : NG_EIO,
                        "plugin %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return ng_error_set(err, NG_EINVAL, "plugin %s: not a regular file", path);
  if (strlen(real) >= sizeof out->path)
    return ng_error_set(err, NG_ERANGE, "plugin %s: path too long", path);
  for (size_t i = 0; i < ng__n_plugins; i++)
    if (!strcmp(ng__plugins[i].info.path, real)) {
      *out = ng__plugins[i].info;
      ng_error_clear(err);
      return NG_OK;
    }
  if (ng__n_plugins == NG__PLUGIN_MAX)
    return ng_error_set(err, NG_ERANGE, "plugin %s: more than %d plugins", real,
                        NG__PLUGIN_MAX);
  ng__plugin_t *p = &ng__plugins[ng__n_plugins];
  memset(p, 0, sizeof *p);
  snprintf(p->info.path, sizeof p->info.path, "%s", real);
  int s = ng_plugin_hash_file(real, p->info.hash, sizeof p->info.hash, err);
  if (s) return s;

  dlerror();
  p->handle = dlopen(real, RTLD_NOW | RTLD_LOCAL);
  if (!p->handle) {
    const char *why = dlerror();
    return ng_error_set(err, NG_EFORMAT, "plugin %s: not a loadable shared library (%s)", real,
                        why ? why : "dlopen failed");
  }
  const ng_plugin_t *entry = dlsym(p->handle, NG_PLUGIN_SYMBOL);
  ng__host_t host = {real, {NULL}, 0, {NG_OK, ""}};
  if (!entry) {
    s = ng_error_set(err, NG_EFORMAT, "plugin %s: no symbol '%s': not a natgrad plugin (see "
                     "natgrad/env.h)", real, NG_PLUGIN_SYMBOL);
  } else if (entry->abi != NG_PLUGIN_ABI) {
    s = ng_error_set(err, NG_EUNSUPPORTED, "plugin %s: built for plugin ABI %d; this natgrad "
                     "loads ABI %d: rebuild it against this natgrad's headers", real,
                     entry->abi, NG_PLUGIN_ABI);
  } else if (!entry->init) {
    s = ng_error_set(err, NG_EFORMAT, "plugin %s: its %s has no init function", real,
                     NG_PLUGIN_SYMBOL);
  } else {
    ng_plugin_registrar_t reg = {ng__plugin_add_env, &host};
    ng_error_t perr;
    ng_error_clear(&perr);
    int r = entry->init(&reg, &perr);
    if (host.refused.status != NG_OK) {
      s = host.refused.status;
      ng__plugin_fail(err, s, real, host.refused.message);
    } else if (r != NG_OK) {
      s = r < 0 ? r : NG_EINVAL;
      ng__plugin_fail(err, s, real, perr.message[0] ? perr.message : ng_strerror(s));
    } else if (host.n == 0) {
      s = ng__plugin_fail(err, NG_EINVAL, real, "registered no environment");
    } else if ((s = ng__env_commit(host.pending, host.n, p->info.path, &perr))) {
      ng__plugin_fail(err, s, real, perr.message);
    }
  }
  if (s) {
    for (size_t i = 0; i < host.n; i++) ng__env_copy_free(host.pending[i]);
    dlclose(p->handle);
    return s;
  }
  snprintf(p->info.name, sizeof p->info.name, "%s", entry->name ? entry->name : "");
  p->info.n_envs = host.n;
  ng__n_plugins++;
  *out = p->info;
  ng_error_clear(err);
  return NG_OK;
}

int ng_plugin_load(const char *path, ng_plugin_info_t *info, ng_error_t *err) {
  if (!path || !path[0]) return ng_error_set(err, NG_EINVAL, "plugin: no path");
  ng_plugin_info_t scratch;
  pthread_mutex_lock(&ng__plugin_lock);
  int s = ng__plugin_load_locked(path, info ? info : &scratch, err);
  pthread_mutex_unlock(&ng__plugin_lock);
  return s;
}
