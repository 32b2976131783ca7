/* Environments from Python: the registry (ids, descriptions, plugins). */
#include "ngpy.h"

/* A dict describing one registered environment. */
static PyObject *ngpy__env_describe(const ng_env_info_t *info) {
  PyObject *obs = ngpy_space_describe(&info->observation_space);
  PyObject *act = obs ? ngpy_space_describe(&info->action_space) : NULL;
  if (!act) {
    Py_XDECREF(obs);
    return NULL;
  }
  const char *plugin = ng_env_plugin_path(info->id);
  return Py_BuildValue("{s:s,s:s,s:N,s:N,s:i,s:n,s:s,s:n,s:z}", "id", info->id, "summary",
                       info->summary ? info->summary : "", "observation_space", obs,
                       "action_space", act, "max_episode_steps", info->max_episode_steps,
                       "state_size", (Py_ssize_t)info->state_size, "state_doc",
                       info->state_doc ? info->state_doc : "", "state_min_size",
                       (Py_ssize_t)info->state_min_size, "plugin", plugin);
}

/* _natgrad.env_ids() -> list of the registered ids, built-in ones first. */
static PyObject *ngpy__env_ids(PyObject *self, PyObject *unused) {
  size_t n = ng_env_count();
  PyObject *list = PyList_New((Py_ssize_t)n);
  if (!list) return NULL;
  for (size_t i = 0; i < n; i++) {
    PyObject *s = PyUnicode_FromString(ng_env_info_at(i)->id);
    if (!s) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, (Py_ssize_t)i, s);
  }
  return list;
}

/* _natgrad.env_info(id) -> dict (id, summary, spaces, max_episode_steps, state_size,
 * state_doc, state_min_size, plugin). NotFoundError for an unknown id. */
static PyObject *ngpy__env_info(PyObject *self, PyObject *arg) {
  const char *id = PyUnicode_AsUTF8(arg);
  if (!id) return NULL;
  const ng_env_info_t *info = ng_env_find(id);
  if (!info) {
    /* ng_env_create's message lists the known ids. */
    ng_env_t *env = NULL;
    ng_error_t err;
    int rc = ng_env_create(&env, id, &err);
    ng_env_destroy(env);
    return ngpy_raise(rc ? rc : NG_ENOTFOUND, rc ? &err : NULL);
  }
  return ngpy__env_describe(info);
}

/* _natgrad.load_plugin(path) -> dict (path, hash, name, n_envs). */
static PyObject *ngpy__load_plugin(PyObject *self, PyObject *arg) {
  PyObject *bytes = NULL;
  if (!PyUnicode_FSConverter(arg, &bytes)) return NULL;
  ng_plugin_info_t info;
  ng_error_t err;
  int rc;
  const char *path = PyBytes_AS_STRING(bytes);
  Py_BEGIN_ALLOW_THREADS
  rc = ng_plugin_load(path, &info, &err);
  Py_END_ALLOW_THREADS
  Py_DECREF(bytes);
  if (rc != NG_OK) return ngpy_raise(rc, &err);
  return Py_BuildValue("{s:s,s:s,s:s,s:n}", "path", info.path, "hash", info.hash, "name",
                       info.name, "n_envs", (Py_ssize_t)info.n_envs);
}

static PyMethodDef ngpy__env_methods[] = {
    {"env_ids", ngpy__env_ids, METH_NOARGS, "The registered environment ids."},
    {"env_info", ngpy__env_info, METH_O, "The description of a registered environment."},
    {"load_plugin", ngpy__load_plugin, METH_O,
     "Load an environment plugin (a shared library) and register its environments."},
    {NULL, NULL, 0, NULL},
};

int ngpy_env_init(PyObject *m) {
  if (PyModule_AddFunctions(m, ngpy__env_methods) < 0 || ngpy_space_init(m) < 0) return -1;
  return ngpy_vecenv_init(m);
}
