/* natgrad._natgrad.Trainer: the library's TRPO / NPG trainer (natgrad/rl.h) for natgrad.TRPO
 * and natgrad.NPG, in the CLI's run-folder format (natgrad/run.h).
 *
 * The environment is a registered id (everything runs in C) or Python environments: an
 * ng_env_def_t (ng_rl_create_with_env; not registered, so it may share a built-in's id)
 * whose callbacks call into Python with the GIL taken (PyGILState_Ensure), while the
 * library runs with it released: the policy's forward pass over the whole vector, the
 * update and the value fit stay in C, and Python environments are stepped on the caller's
 * thread, one after the other. The i-th environment the trainer creates is factory(i).
 *
 * A Python environment that raises, returns the wrong number of values, an observation of
 * the wrong size or of no number type fails its callback; the failure is kept (the first
 * one, with its Python exception) and raised as natgrad.EnvironmentError with the
 * library's message (environment id, index and step) once the library call has returned:
 * ng_rl_iterate has then put the model back as it was before the iteration. A NaN or
 * infinite observation or reward is the library's to find (NonFiniteError, with the step).
 * A KeyboardInterrupt raised inside an environment is re-raised as it is. */
#include "ngpy.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "natgrad/export.h"
#include "natgrad/rl.h"
#include "natgrad/run.h"

void openblas_set_num_threads(int num_threads); /* OpenBLAS's own, as the CLI calls it */

/* ---- Python environments as one ng_env_def_t ---------------------------------------------- */

typedef struct {
  ng_env_def_t def;          /* def.user points back here */
  char id[NG_ENV_ID_MAX + 1];
  ngpy_space_t obs, act;     /* the spaces (their arrays) def.info points to */
  PyObject *factory;         /* factory(i) -> the i-th environment */
  PyObject *act_dtype;       /* numpy dtype of an action (Box, MultiDiscrete, MultiBinary) */
  long created;
  /* the first failure since the last clear: what happened, and Python's exception */
  char what[384];
  PyObject *exc_type, *exc_value, *exc_tb;
} ngpy_pydef_t;

typedef struct {
  ngpy_pydef_t *pd;
  PyObject *env;
  long steps; /* in the current episode */
} ngpy_pyenv_t;

/* Keeps the first failure: a message, and the pending Python exception if there is one.
 * Returns NG_EINVAL, the status the callback then gives the library. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int ngpy__pyenv_fail(ngpy_pyenv_t *e, const char *fmt, ...) {
  ngpy_pydef_t *pd = e->pd;
  PyObject *t = NULL, *v = NULL, *tb = NULL;
  PyErr_Fetch(&t, &v, &tb);
  if (pd->what[0]) { /* an earlier failure is the one to report */
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    return NG_EINVAL;
  }
  char head[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  if (t) {
    PyErr_NormalizeException(&t, &v, &tb);
    PyObject *s = v ? PyObject_Str(v) : NULL;
    const char *text = s ? PyUnicode_AsUTF8(s) : NULL;
    if (!text) PyErr_Clear();
    snprintf(pd->what, sizeof pd->what, "%s raised %s: %s", head,
             ((PyTypeObject *)t)->tp_name, text ? text : "?");
    Py_XDECREF(s);
  } else {
    snprintf(pd->what, sizeof pd->what, "%s", head);
  }
  pd->exc_type = t;
  pd->exc_value = v;
  pd->exc_tb = tb;
  return NG_EINVAL;
}

static void ngpy__pydef_clear(ngpy_pydef_t *pd) {
  if (!pd) return;
  pd->what[0] = '\0';
  Py_CLEAR(pd->exc_type);
  Py_CLEAR(pd->exc_value);
  Py_CLEAR(pd->exc_tb);
}

/* An observation from Python into out (the observation space's size in doubles). */
/* "reset", or "step N": the call an observation came from, named only on a failure. */
static const char *ngpy__call(long step, char *buf, size_t size) {
  if (!step) return "reset";
  snprintf(buf, size, "step %ld", step);
  return buf;
}

/* The observation o from reset (step 0) or step `step` into out. */
static int ngpy__obs_in(ngpy_pyenv_t *e, PyObject *o, double *out, long step) {
  const ng_space_t *sp = &e->pd->def.info.observation_space;
  char call[32];
  if (sp->kind == NG_SPACE_DISCRETE) {
    PyObject *i = PyNumber_Index(o);
    if (!i)
      return ngpy__pyenv_fail(e, "%s returned an observation that is not an integer "
                              "(Discrete(%zu))", ngpy__call(step, call, sizeof call), sp->dim);
    long long v = PyLong_AsLongLong(i);
    Py_DECREF(i);
    if (v == -1 && PyErr_Occurred())
      return ngpy__pyenv_fail(e, "%s's observation", ngpy__call(step, call, sizeof call));
    out[0] = (double)v;
    return NG_OK;
  }
  PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, NPY_DOUBLE, 0, 0, NPY_ARRAY_CARRAY);
  if (!a) return ngpy__pyenv_fail(e, "%s returned an observation that is not an array of "
                                  "numbers (%s)", ngpy__call(step, call, sizeof call),
                                  Py_TYPE(o)->tp_name);
  npy_intp n = PyArray_SIZE(a);
  if ((size_t)n != sp->dim) {
    Py_DECREF(a);
    return ngpy__pyenv_fail(e, "%s returned an observation of %ld numbers, expected %zu "
                            "(the observation space's)", ngpy__call(step, call, sizeof call),
                            (long)n, sp->dim);
  }
  memcpy(out, PyArray_DATA(a), sp->dim * sizeof *out);
  Py_DECREF(a);
  return NG_OK;
}

static int ngpy__pyenv_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  ngpy_pydef_t *pd = (ngpy_pydef_t *)def->user;
  PyGILState_STATE g = PyGILState_Ensure();
  int s = NG_OK;
  ngpy_pyenv_t *e = PyMem_RawCalloc(1, sizeof *e);
  if (!e) {
    s = ng_error_set(err, NG_ENOMEM, "%s: out of memory", pd->id);
    goto out;
  }
  e->pd = pd;
  e->env = PyObject_CallFunction(pd->factory, "l", pd->created);
  if (!e->env) {
    s = ngpy__pyenv_fail(e, "making Python environment %ld", pd->created);
    ng_error_set(err, s, "%s: %s", pd->id, pd->what);
    PyMem_RawFree(e);
    goto out;
  }
  pd->created++;
  *self = e;
out:
  PyGILState_Release(g);
  return s;
}

static void ngpy__pyenv_destroy(void *self) {
  ngpy_pyenv_t *e = self;
  if (!e) return;
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF(e->env);
  PyGILState_Release(g);
  PyMem_RawFree(e);
}

/* reset(seed=...) with a seed drawn from the environment's stream: a run (and a resumed
 * one) repeats as long as the Python environment draws only from its own np_random. */
static int ngpy__pyenv_reset(void *self, ng_rng_t *rng, double *obs) {
  ngpy_pyenv_t *e = self;
  unsigned long long seed = (unsigned long long)ng_rng_below(rng, 1ULL << 31);
  PyGILState_STATE g = PyGILState_Ensure();
  int s = NG_OK;
  PyObject *kw = Py_BuildValue("{s:K}", "seed", seed);
  PyObject *fn = kw ? PyObject_GetAttrString(e->env, "reset") : NULL;
  PyObject *no_args = fn ? PyTuple_New(0) : NULL;
  PyObject *r = no_args ? PyObject_Call(fn, no_args, kw) : NULL;
  Py_XDECREF(no_args);
  Py_XDECREF(fn);
  Py_XDECREF(kw);
  if (!r)
    s = ngpy__pyenv_fail(e, "reset");
  else if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2)
    s = ngpy__pyenv_fail(e, "reset returned %s, expected (obs, info)", Py_TYPE(r)->tp_name);
  else
    s = ngpy__obs_in(e, PyTuple_GET_ITEM(r, 0), obs, 0);
  Py_XDECREF(r);
  e->steps = 0;
  PyGILState_Release(g);
  return s;
}

/* The action as the Python environment takes it: an int for a Discrete, else a 1-d array of
 * the space's dtype (ngpy_space_from_py takes only 1-d spaces). */
static PyObject *ngpy__action_out(const ngpy_pydef_t *pd, const double *a) {
  const ng_space_t *sp = &pd->def.info.action_space;
  if (sp->kind == NG_SPACE_DISCRETE) return PyLong_FromLongLong((long long)a[0]);
  npy_intp dim = (npy_intp)sp->dim;
  PyArrayObject *d = (PyArrayObject *)PyArray_SimpleNew(1, &dim, NPY_DOUBLE);
  if (!d) return NULL;
  memcpy(PyArray_DATA(d), a, sp->dim * sizeof *a);
  Py_INCREF(pd->act_dtype);
  PyObject *c = PyArray_CastToType(d, (PyArray_Descr *)pd->act_dtype, 0);
  Py_DECREF(d);
  return c;
}

static int ngpy__pyenv_step(void *self, ng_rng_t *rng, const double *action, double *obs,
                            double *reward, int *terminated) {
  ngpy_pyenv_t *e = self;
  (void)rng;
  PyGILState_STATE g = PyGILState_Ensure();
  int s = NG_OK;
  long step = ++e->steps;
  PyObject *act = ngpy__action_out(e->pd, action);
  PyObject *r = act ? PyObject_CallMethod(e->env, "step", "O", act) : NULL;
  Py_XDECREF(act);
  if (!r) {
    s = ngpy__pyenv_fail(e, "step %ld of its episode", step);
  } else if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 5) {
    s = ngpy__pyenv_fail(e, "step %ld returned %s%s, expected (obs, reward, terminated, "
                         "truncated, info)", step, Py_TYPE(r)->tp_name,
                         PyTuple_Check(r) ? " of another length" : "");
  } else {
    double rew = PyFloat_AsDouble(PyTuple_GET_ITEM(r, 1));
    int term = rew == -1.0 && PyErr_Occurred() ? -1 : PyObject_IsTrue(PyTuple_GET_ITEM(r, 2));
    int trunc = term < 0 ? -1 : PyObject_IsTrue(PyTuple_GET_ITEM(r, 3));
    if (term < 0 || trunc < 0)
      s = ngpy__pyenv_fail(e, "step %ld returned a reward that is not a number, or flags "
                           "that are not booleans", step);
    else
      s = ngpy__obs_in(e, PyTuple_GET_ITEM(r, 0), obs, step);
    /* The time limit is the library's (max_episode_steps); a truncation the environment
     * reports at any other step ends the episode as a terminal state. */
    if (!s) {
      *reward = rew;
      *terminated = term || (trunc && step < e->pd->def.info.max_episode_steps);
    }
  }
  Py_XDECREF(r);
  PyGILState_Release(g);
  return s;
}

static void ngpy__pydef_free(ngpy_pydef_t *pd) {
  if (!pd) return;
  ngpy__pydef_clear(pd);
  Py_XDECREF(pd->factory);
  Py_XDECREF(pd->act_dtype);
  ngpy_space_free(&pd->obs);
  ngpy_space_free(&pd->act);
  PyMem_Free(pd);
}

/* The definition of Python environments from spec = (id, obs space, action space,
 * max_episode_steps, factory, action dtype). */
static ngpy_pydef_t *ngpy__pydef_new(PyObject *spec) {
  const char *id;
  PyObject *obs, *act, *factory, *dtype;
  int max_steps;
  if (!PyArg_ParseTuple(spec, "sOOiOO", &id, &obs, &act, &max_steps, &factory, &dtype))
    return NULL;
  ngpy_pydef_t *pd = PyMem_Calloc(1, sizeof *pd);
  if (!pd) return (ngpy_pydef_t *)PyErr_NoMemory();
  snprintf(pd->id, sizeof pd->id, "%s", id);
  char what[NG_ENV_ID_MAX + 64];
  snprintf(what, sizeof what, "observation space of %s", id);
  if (ngpy_space_from_py(obs, what, &pd->obs) < 0) {
    ngpy__pydef_free(pd);
    return NULL;
  }
  snprintf(what, sizeof what, "action space of %s", id);
  if (ngpy_space_from_py(act, what, &pd->act) < 0) {
    ngpy__pydef_free(pd);
    return NULL;
  }
  pd->def.info.observation_space = pd->obs.space;
  pd->def.info.action_space = pd->act.space;
  pd->def.info.id = pd->id;
  pd->def.info.summary = "a Python environment";
  pd->def.info.max_episode_steps = max_steps;
  pd->def.user = pd;
  pd->def.create = ngpy__pyenv_create;
  pd->def.destroy = ngpy__pyenv_destroy;
  pd->def.reset = ngpy__pyenv_reset;
  pd->def.step = ngpy__pyenv_step;
  Py_INCREF(factory);
  pd->factory = factory;
  if (dtype == Py_None)
    pd->act_dtype = (PyObject *)PyArray_DescrFromType(NPY_FLOAT32);
  else if (!PyArray_DescrConverter(dtype, (PyArray_Descr **)&pd->act_dtype)) {
    ngpy__pydef_free(pd);
    return NULL;
  }
  ng_error_t err;
  int s = ng_env_def_check(&pd->def, &err);
  if (s) {
    ngpy__pydef_free(pd);
    ngpy_raise(s, &err);
    return NULL;
  }
  return pd;
}

/* ---- the trainer -------------------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  ng_rl_t *t;
  ngpy_pydef_t *pd;  /* NULL: a registered environment */
  ng_run_t *run;     /* the run folder while it is open */
  ng_rl_stats_t last;
  int busy;
} ngpy_trainer_t;

static PyTypeObject ngpy_trainer_type;

/* Raises for a failed library call: the Python environment's failure when there is one. */
static PyObject *ngpy__fail(ngpy_pydef_t *pd, int s, const ng_error_t *err) {
  if (!pd || !pd->what[0]) return ngpy_raise(s, err);
  if (pd->exc_type && PyErr_GivenExceptionMatches(pd->exc_type, PyExc_KeyboardInterrupt)) {
    PyErr_Restore(pd->exc_type, pd->exc_value, pd->exc_tb);
    pd->exc_type = pd->exc_value = pd->exc_tb = NULL;
    ngpy__pydef_clear(pd);
    return NULL;
  }
  ngpy_raise_fmt(ngpy_exc[NGPY_EXC_ENVIRONMENT], s, "%s: %s",
                 err && err->message[0] ? err->message : ng_strerror(s), pd->what);
  if (pd->exc_value) { /* the environment's own exception as the cause */
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    PyException_SetCause(v, pd->exc_value);
    pd->exc_value = NULL;
    PyErr_Restore(t, v, tb);
  }
  ngpy__pydef_clear(pd);
  return NULL;
}

static int ngpy__check(ngpy_trainer_t *self) {
  if (!self->t) {
    PyErr_SetString(ngpy_exc[NGPY_EXC_ERROR], "the trainer is closed");
    return -1;
  }
  if (self->busy) {
    PyErr_SetString(ngpy_exc[NGPY_EXC_BUSY], "the trainer is in use by another call");
    return -1;
  }
  return 0;
}

/* A new trainer object around t (on pd's environments, whose ownership it takes). */
static PyObject *ngpy__trainer_wrap(ng_rl_t *t, ngpy_pydef_t *pd) {
  ngpy_trainer_t *self = PyObject_New(ngpy_trainer_t, &ngpy_trainer_type);
  if (!self) {
    ng_rl_destroy(t);
    ngpy__pydef_free(pd);
    return NULL;
  }
  self->t = t;
  self->pd = pd;
  self->run = NULL;
  self->busy = 0;
  memset(&self->last, 0, sizeof self->last);
  return (PyObject *)self;
}

/* The run's algo in items, a sequence of (key, value): the last "algo" pair's, TRPO without
 * one (a bad name is reported when the pairs are set). -1 with a Python error. */
static int ngpy__items_algo(PyObject *seq) {
  ng_algo_t algo = NG_ALGO_TRPO;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
    const char *k, *v;
    if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ss", &k, &v)) return -1;
    if (!strcmp(k, "algo")) ng_rl_algo_parse(v, &algo, NULL);
  }
  return (int)algo;
}

/* The config from keys: the library's defaults for the env and the run's algo, then every
 * (key, value) pair in items, then validation: ValueError subclasses with the library's
 * messages. */
static int ngpy__config(ng_rl_config_t *cfg, const char *env_id, const ngpy_pydef_t *pd,
                        PyObject *items) {
  PyObject *seq = PySequence_Fast(items, "items: expected a sequence of (key, value)");
  if (!seq) return -1;
  int algo = ngpy__items_algo(seq);
  if (algo < 0) {
    Py_DECREF(seq);
    return -1;
  }
  ng_error_t err;
  int s = pd ? ng_rl_config_default_with_env(cfg, &pd->def, &err)
             : ng_rl_config_default_algo(cfg, env_id, (ng_algo_t)algo, &err);
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && !s; i++) {
    const char *k, *v; /* parsed once already: no error here */
    PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ss", &k, &v);
    s = ng_rl_config_set(cfg, k, v, &err);
  }
  Py_DECREF(seq);
  if (s) return ngpy_raise(s, &err), -1;
  s = ng_rl_config_validate_with_env(cfg, pd ? &pd->def : NULL, &err);
  if (s) return ngpy_raise(s, &err), -1;
  return 0;
}

/* Trainer(env_id, items, pyenv=None): items are (key, value) strings; pyenv the spec of
 * Python environments (ngpy__pydef_new), None for the registered env_id. */
static PyObject *ngpy__trainer_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  static char *names[] = {"env_id", "items", "pyenv", NULL};
  const char *env_id;
  PyObject *items, *spec = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|O", names, &env_id, &items, &spec))
    return NULL;
  (void)type;
  ngpy_pydef_t *pd = NULL;
  if (spec != Py_None && !(pd = ngpy__pydef_new(spec))) return NULL;
  ng_rl_config_t cfg;
  if (ngpy__config(&cfg, env_id, pd, items) < 0) {
    ngpy__pydef_free(pd);
    return NULL;
  }
  ng_rl_t *t = NULL;
  ng_error_t err;
  int s;
  /* the CLI's: BLAS rounds as its thread count splits a product, the init's blocked QR too */
  openblas_set_num_threads(1);
  Py_BEGIN_ALLOW_THREADS
  s = ng_rl_create_with_env(&t, &cfg, pd ? &pd->def : NULL, &err);
  Py_END_ALLOW_THREADS
  if (s) {
    ngpy__fail(pd, s, &err);
    ngpy__pydef_free(pd);
    return NULL;
  }
  return ngpy__trainer_wrap(t, pd);
}

static void ngpy__trainer_dealloc(ngpy_trainer_t *self) {
  ng_rl_destroy(self->t);
  ng_run_close(self->run);
  ngpy__pydef_free(self->pd);
  PyObject_Free(self);
}

/* iterate() -> dict of the iteration's statistics. */
static PyObject *ngpy__iterate(ngpy_trainer_t *self, PyObject *unused) {
  (void)unused;
  if (ngpy__check(self) < 0) return NULL;
  ng_rl_stats_t st;
  ng_error_t err;
  int s;
  self->busy = 1;
  ngpy__pydef_clear(self->pd);
  Py_BEGIN_ALLOW_THREADS
  s = ng_rl_iterate(self->t, &st, &err);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (s) return ngpy__fail(self->pd, s, &err);
  self->last = st;
  return Py_BuildValue(
      "{s:l,s:l,s:i,s:d,s:d,s:d,s:d,s:d,s:i,s:O,s:i,s:d,s:d,s:d,s:d,s:z}", "iteration",
      st.iteration, "env_steps", st.env_steps, "episodes", st.episodes, "mean_return",
      st.mean_return, "mean_length", st.mean_length, "kl", st.kl, "entropy", st.entropy,
      "surrogate_gain", st.surrogate_gain, "ls_trials", st.ls_trials, "step_accepted",
      st.step_accepted ? Py_True : Py_False, "cg_iterations", st.cg_iterations, "vf_loss",
      st.vf_loss, "explained_variance", st.explained_variance, "rollout_s",
      st.rollout_seconds, "update_s", st.update_seconds, "skip_reason", st.skip_reason);
}

/* The environment's description: the Python one's, or the registered id's (a trainer
 * exists only for an environment that is one or the other). */
static const ng_env_info_t *ngpy__info(const ngpy_trainer_t *self) {
  return self->pd ? &self->pd->def.info : ng_env_find(ng_rl_config(self->t)->env_id);
}

/* predict(obs (rows, obs size) float64, deterministic, seed) -> actions (rows, act size). */
static PyObject *ngpy__predict(ngpy_trainer_t *self, PyObject *args) {
  PyObject *o;
  int det;
  unsigned long long seed;
  if (!PyArg_ParseTuple(args, "OpK", &o, &det, &seed) || ngpy__check(self) < 0) return NULL;
  PyArrayObject *obs = (PyArrayObject *)PyArray_FROMANY(o, NPY_DOUBLE, 2, 2, NPY_ARRAY_CARRAY);
  if (!obs) return NULL;
  npy_intp dims[2] = {PyArray_DIM(obs, 0), 0};
  const ng_env_info_t *info = ngpy__info(self);
  size_t obs_size = ng_space_size(&info->observation_space);
  size_t act_size = ng_space_size(&info->action_space);
  if ((size_t)PyArray_DIM(obs, 1) != obs_size) {
    Py_DECREF(obs);
    return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL, "predict: observations of "
                          "%ld numbers, expected %zu", (long)PyArray_DIM(obs, 1), obs_size);
  }
  dims[1] = (npy_intp)act_size;
  PyArrayObject *act = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_DOUBLE);
  if (!act) {
    Py_DECREF(obs);
    return NULL;
  }
  ng_rng_t rng;
  ng_rng_seed(&rng, seed, 0);
  ng_error_t err;
  int s;
  self->busy = 1;
  Py_BEGIN_ALLOW_THREADS
  s = ng_rl_predict(self->t, (size_t)dims[0], PyArray_DATA(obs), det, &rng, PyArray_DATA(act),
                    &err);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  Py_DECREF(obs);
  if (s) {
    Py_DECREF(act);
    return ngpy_raise(s, &err);
  }
  return (PyObject *)act;
}

/* _sizes() -> (observation size, action size) as predict takes and returns them. */
static PyObject *ngpy__sizes(ngpy_trainer_t *self, PyObject *unused) {
  (void)unused;
  if (ngpy__check(self) < 0) return NULL;
  const ng_env_info_t *info = ngpy__info(self);
  return Py_BuildValue("(nn)", (Py_ssize_t)ng_space_size(&info->observation_space),
                       (Py_ssize_t)ng_space_size(&info->action_space));
}

/* evaluate(n_episodes, seed, deterministic) -> (returns, lengths): two lists, as SB3's
 * evaluate_policy(return_episode_rewards=True). */
static PyObject *ngpy__evaluate(ngpy_trainer_t *self, PyObject *args) {
  int n, det;
  unsigned long long seed;
  if (!PyArg_ParseTuple(args, "iKp", &n, &seed, &det) || ngpy__check(self) < 0) return NULL;
  if (n < 1) return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_RANGE], NG_ERANGE,
                                   "evaluate: n_episodes = %d, expected >= 1", n);
  ng_rl_episode_t *ep = PyMem_Calloc((size_t)n, sizeof *ep);
  if (!ep) return PyErr_NoMemory();
  ng_error_t err;
  int s;
  self->busy = 1;
  ngpy__pydef_clear(self->pd);
  Py_BEGIN_ALLOW_THREADS
  s = ng_rl_evaluate_episodes(self->t, n, seed, det, ep, &err);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  PyObject *out = NULL, *rets = NULL, *lens = NULL;
  if (s) {
    ngpy__fail(self->pd, s, &err);
  } else if ((rets = PyList_New(n)) && (lens = PyList_New(n))) {
    int ok = 1;
    for (int i = 0; ok && i < n; i++) {
      PyObject *r = PyFloat_FromDouble(ep[i].ret), *l = PyLong_FromLong(ep[i].length);
      if (r) PyList_SET_ITEM(rets, i, r);
      if (l) PyList_SET_ITEM(lens, i, l);
      ok = r && l;
    }
    if (ok) out = PyTuple_Pack(2, rets, lens);
  }
  Py_XDECREF(rets);
  Py_XDECREF(lens);
  PyMem_Free(ep);
  return out;
}

/* export_c(path, precision, prefix, run, force) -> (n_params, flops, n_tanh, bytes): the
 * deterministic policy as a dependency-free C header (natgrad/export.h). */
static PyObject *ngpy__export_c(ngpy_trainer_t *self, PyObject *args) {
  PyObject *path_obj;
  const char *precision, *prefix, *run;
  int force;
  if (!PyArg_ParseTuple(args, "O&szzp", PyUnicode_FSConverter, &path_obj, &precision, &prefix,
                        &run, &force))
    return NULL;
  PyObject *out = NULL;
  if (ngpy__check(self) < 0) goto done;
  ng_export_opts_t o = {.precision = NG_EXPORT_F64, .prefix = prefix, .run = run};
  if (!strcmp(precision, "f32")) o.precision = NG_EXPORT_F32;
  else if (strcmp(precision, "f64") != 0) {
    ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                   "export_c: precision = '%s', expected 'f64' or 'f32'", precision);
    goto done;
  }
  ng_export_info_t info;
  ng_error_t err;
  int s = ng_export_c_file(self->t, &o, PyBytes_AS_STRING(path_obj), force, &info, &err);
  if (s) ngpy_raise(s, &err);
  else out = Py_BuildValue("{s:n,s:n,s:n,s:n}", "n_params", (Py_ssize_t)info.n_params,
                           "flops", (Py_ssize_t)info.flops, "n_tanh", (Py_ssize_t)info.n_tanh,
                           "bytes", (Py_ssize_t)info.bytes);
done:
  Py_DECREF(path_obj);
  return out;
}

/* policy_params() -> a copy of the policy's parameters (float64), for tests and users. */
static PyObject *ngpy__policy_params(ngpy_trainer_t *self, PyObject *unused) {
  (void)unused;
  if (ngpy__check(self) < 0) return NULL;
  size_t n;
  const double *p = ng_rl_policy_params(self->t, &n);
  npy_intp dim = (npy_intp)n;
  PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, &dim, NPY_DOUBLE);
  if (a) memcpy(PyArray_DATA(a), p, n * sizeof *p);
  return (PyObject *)a;
}

static PyObject *ngpy__config_text(ngpy_trainer_t *self, PyObject *unused) {
  (void)unused;
  if (!self->t) return ngpy__check(self), NULL;
  const ng_rl_config_t *cfg = ng_rl_config(self->t);
  size_t need = ng_rl_config_format(cfg, NULL, 0);
  char *buf = PyMem_Malloc(need + 1);
  if (!buf) return PyErr_NoMemory();
  ng_rl_config_format(cfg, buf, need + 1);
  PyObject *s = PyUnicode_FromStringAndSize(buf, (Py_ssize_t)need);
  PyMem_Free(buf);
  return s;
}

static PyObject *ngpy__set_total_steps(ngpy_trainer_t *self, PyObject *arg) {
  long n = PyLong_AsLong(arg);
  if ((n == -1 && PyErr_Occurred()) || ngpy__check(self) < 0) return NULL;
  if (ng_rl_set_total_steps(self->t, n) != NG_OK)
    return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_RANGE], NG_ERANGE, "steps = %ld: expected >= 1", n);
  Py_RETURN_NONE;
}

/* set_threads(n): n threads for the batch passes, OpenBLAS single-threaded in each (the
 * CLI's --threads); Python environments stay on the caller's thread. */
static PyObject *ngpy__set_threads(ngpy_trainer_t *self, PyObject *arg) {
  int n = (int)PyLong_AsLong(arg);
  if ((n == -1 && PyErr_Occurred()) || ngpy__check(self) < 0) return NULL;
  openblas_set_num_threads(1);
  int s = ng_rl_set_threads(self->t, n);
  if (!s && self->pd) s = ng_rl_set_threads_envs(self->t, 0);
  if (s) return ngpy_raise_fmt(ngpy_exc_for_status(s), s, "threads = %d: %s", n,
                               s == NG_EINVAL ? "expected 1 .. the pool's limit"
                                              : ng_strerror(s));
  Py_RETURN_NONE;
}

/* ---- the run folder ---- */

static int ngpy__run_check(ngpy_trainer_t *self) {
  if (ngpy__check(self) < 0) return -1;
  if (!self->run) {
    PyErr_SetString(ngpy_exc[NGPY_EXC_ERROR], "no run folder is open");
    return -1;
  }
  return 0;
}

/* run_open(dir, mode "create" | "resume", force): opens (and locks) the folder. */
static PyObject *ngpy__run_open(ngpy_trainer_t *self, PyObject *args) {
  PyObject *dir_o;
  const char *mode;
  int force;
  if (!PyArg_ParseTuple(args, "O&sp", PyUnicode_FSConverter, &dir_o, &mode, &force))
    return NULL;
  ng_run_mode_t m = !strcmp(mode, "resume") ? NG_RUN_RESUME : NG_RUN_CREATE;
  ng_error_t err;
  ng_run_close(self->run);
  self->run = NULL;
  int s = ng_run_open(&self->run, PyBytes_AS_STRING(dir_o), m, force, &err);
  Py_DECREF(dir_o);
  if (s) return ngpy_raise(s, &err);
  Py_RETURN_NONE;
}

static PyObject *ngpy__run_close(ngpy_trainer_t *self, PyObject *unused) {
  (void)unused;
  ng_run_close(self->run);
  self->run = NULL;
  Py_RETURN_NONE;
}

/* run_start(keep_through): config.ini, then the log opened (keep_through -1: afresh). */
static PyObject *ngpy__run_start(ngpy_trainer_t *self, PyObject *arg) {
  long keep = PyLong_AsLong(arg);
  if ((keep == -1 && PyErr_Occurred()) || ngpy__run_check(self) < 0) return NULL;
  ng_error_t err;
  int s = ng_rl_run_write_config(self->run, ng_rl_config(self->t), &err);
  if (!s) s = ng_run_log_open(self->run, NG_RL_LOG_HEADER, keep, &err);
  if (s) return ngpy_raise(s, &err);
  Py_RETURN_NONE;
}

/* run_log(wall_s): the last iteration's row into progress.csv. */
static PyObject *ngpy__run_log(ngpy_trainer_t *self, PyObject *arg) {
  double wall = PyFloat_AsDouble(arg);
  if ((wall == -1.0 && PyErr_Occurred()) || ngpy__run_check(self) < 0) return NULL;
  char row[512];
  ng_rl_log_row(&self->last, wall, row, sizeof row);
  ng_error_t err;
  int s = ng_run_log_append(self->run, row, &err);
  if (s) return ngpy_raise(s, &err);
  Py_RETURN_NONE;
}

/* run_save(): checkpoint.ngc (the one it replaces kept as checkpoint.prev.ngc). */
static PyObject *ngpy__run_save(ngpy_trainer_t *self, PyObject *unused) {
  (void)unused;
  if (ngpy__run_check(self) < 0) return NULL;
  ng_error_t err;
  int s;
  Py_BEGIN_ALLOW_THREADS
  s = ng_run_save_checkpoint(self->run, ng_rl_run_save, self->t, &err);
  Py_END_ALLOW_THREADS
  if (s) return ngpy_raise(s, &err);
  Py_RETURN_NONE;
}

/* run_curve(): curve.svg from progress.csv. */
static PyObject *ngpy__run_curve(ngpy_trainer_t *self, PyObject *unused) {
  (void)unused;
  if (ngpy__run_check(self) < 0) return NULL;
  ng_error_t err;
  int s = ng_rl_draw_curve(ng_run_dir(self->run), ng_rl_config(self->t), &err);
  if (s) return ngpy_raise(s, &err);
  Py_RETURN_NONE;
}

static PyObject *ngpy__get_steps(ngpy_trainer_t *self, void *c) {
  (void)c;
  return PyLong_FromLong(ng_rl_env_steps(self->t));
}
static PyObject *ngpy__get_iteration(ngpy_trainer_t *self, void *c) {
  (void)c;
  return PyLong_FromLong(ng_rl_iteration(self->t));
}
static PyObject *ngpy__get_done(ngpy_trainer_t *self, void *c) {
  (void)c;
  return PyBool_FromLong(ng_rl_done(self->t));
}
static PyObject *ngpy__get_total(ngpy_trainer_t *self, void *c) {
  (void)c;
  return PyLong_FromLong(self->t ? ng_rl_config(self->t)->total_steps : 0);
}

/* _natgrad.trainer_load(dir, mode "resume" | "read", pyenv spec or None) -> (Trainer,
 * warning): the run folder's checkpoint (or its fallback), checked against config.ini.
 * With "resume" the folder stays open (locked) in the trainer. */
static PyObject *ngpy__trainer_load(PyObject *mod, PyObject *args) {
  (void)mod;
  PyObject *dir_o, *spec;
  const char *mode;
  if (!PyArg_ParseTuple(args, "O&sO", PyUnicode_FSConverter, &dir_o, &mode, &spec))
    return NULL;
  ngpy_pydef_t *pd = NULL;
  if (spec != Py_None && !(pd = ngpy__pydef_new(spec))) {
    Py_DECREF(dir_o);
    return NULL;
  }
  ng_run_t *run = NULL;
  ng_error_t err;
  char warning[2048] = "";
  ng_rl_run_slot_t slot = {NULL, pd ? &pd->def : NULL};
  int s = ng_run_open(&run, PyBytes_AS_STRING(dir_o),
                      !strcmp(mode, "resume") ? NG_RUN_RESUME : NG_RUN_READ, 0, &err);
  Py_DECREF(dir_o);
  if (!s) {
    Py_BEGIN_ALLOW_THREADS
    s = ng_run_load_checkpoint(run, ng_rl_run_load_with_env, &slot, ng_rl_resume_keys(),
                               warning, sizeof warning, &err);
    Py_END_ALLOW_THREADS
  }
  if (s) {
    ng_rl_destroy(slot.trainer);
    ng_run_close(run);
    ngpy__fail(pd, s, &err);
    ngpy__pydef_free(pd);
    return NULL;
  }
  ngpy_trainer_t *t = (ngpy_trainer_t *)ngpy__trainer_wrap(slot.trainer, pd);
  if (!t) {
    ng_run_close(run);
    return NULL;
  }
  if (!strcmp(mode, "resume")) {
    t->run = run;
  } else {
    ng_run_close(run);
  }
  return Py_BuildValue("(Ns)", (PyObject *)t, warning);
}

static PyMethodDef ngpy__trainer_methods[] = {
    {"iterate", (PyCFunction)ngpy__iterate, METH_NOARGS, "One iteration; its statistics."},
    {"predict", (PyCFunction)ngpy__predict, METH_VARARGS, "The policy's actions."},
    {"_sizes", (PyCFunction)ngpy__sizes, METH_NOARGS, "(observation size, action size)."},
    {"evaluate", (PyCFunction)ngpy__evaluate, METH_VARARGS, "Returns of fresh episodes."},
    {"export_c", (PyCFunction)ngpy__export_c, METH_VARARGS, "The policy as a C header."},
    {"policy_params", (PyCFunction)ngpy__policy_params, METH_NOARGS, "The policy's "
     "parameters (a copy)."},
    {"config_text", (PyCFunction)ngpy__config_text, METH_NOARGS, "The config as key = value."},
    {"set_total_steps", (PyCFunction)ngpy__set_total_steps, METH_O, "The step budget."},
    {"set_threads", (PyCFunction)ngpy__set_threads, METH_O, "Threads for the updates."},
    {"run_open", (PyCFunction)ngpy__run_open, METH_VARARGS, "Open a run folder."},
    {"run_close", (PyCFunction)ngpy__run_close, METH_NOARGS, "Close the run folder."},
    {"run_start", (PyCFunction)ngpy__run_start, METH_O, "config.ini and the log."},
    {"run_log", (PyCFunction)ngpy__run_log, METH_O, "Log the last iteration."},
    {"run_save", (PyCFunction)ngpy__run_save, METH_NOARGS, "Save a checkpoint."},
    {"run_curve", (PyCFunction)ngpy__run_curve, METH_NOARGS, "Draw curve.svg."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ngpy__trainer_getset[] = {
    {"env_steps", (getter)ngpy__get_steps, NULL, "environment steps taken", NULL},
    {"iteration", (getter)ngpy__get_iteration, NULL, "iterations completed", NULL},
    {"done", (getter)ngpy__get_done, NULL, "the step budget is spent", NULL},
    {"total_steps", (getter)ngpy__get_total, NULL, "the step budget", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ngpy_trainer_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "natgrad._natgrad.Trainer",
    .tp_basicsize = sizeof(ngpy_trainer_t),
    .tp_dealloc = (destructor)ngpy__trainer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Trainer(env_id, items, pyenv=None): the library's TRPO/NPG/ACKTR trainer.",
    .tp_methods = ngpy__trainer_methods,
    .tp_getset = ngpy__trainer_getset,
    .tp_new = ngpy__trainer_new,
};

/* config_keys() -> [(key, doc)]: every config key, as `natgrad train --keys` lists them. */
static PyObject *ngpy__config_keys(PyObject *mod, PyObject *unused) {
  (void)mod;
  (void)unused;
  PyObject *list = PyList_New(0);
  const char *doc;
  for (size_t i = 0; list; i++) {
    const char *key = ng_rl_config_key(i, &doc);
    if (!key) break;
    PyObject *p = Py_BuildValue("(ss)", key, doc ? doc : "");
    if (!p || PyList_Append(list, p) < 0) Py_CLEAR(list);
    Py_XDECREF(p);
  }
  return list;
}

static PyMethodDef ngpy__train_functions[] = {
    {"trainer_load", ngpy__trainer_load, METH_VARARGS, "Load a run folder's checkpoint."},
    {"config_keys", ngpy__config_keys, METH_NOARGS, "Every config key and its meaning."},
    {NULL, NULL, 0, NULL},
};

int ngpy_train_init(PyObject *m) {
  if (PyType_Ready(&ngpy_trainer_type) < 0) return -1;
  if (PyModule_AddObjectRef(m, "Trainer", (PyObject *)&ngpy_trainer_type) < 0) return -1;
  return PyModule_AddFunctions(m, ngpy__train_functions);
}
