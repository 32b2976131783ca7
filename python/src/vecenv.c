/* natgrad._natgrad.VecEnv: num_envs library environments stepped together, with
 * Gymnasium 1.0's next-step autoreset, into NumPy arrays made once at creation.
 *
 * The arrays (observations (n, dim) float32 or float64 for a Box, as obs_float64 says,
 * int64 (n,) for a Discrete; rewards float64 (n,); terminations and truncations bool
 * (n,)) are created once and filled in place by every reset and step: the same objects are
 * returned each time, as EnvPool does (natgrad/_vector.py copies them when asked). Actions
 * are checked on the caller's thread before any environment moves (a bad action raises
 * with nothing advanced); then the environments step with the GIL released, on the pool
 * when threads > 1, each task a contiguous block of environments writing its own rows.
 *
 * Autoreset (Gymnasium 1.0's default, SyncVectorEnv): an environment whose step terminated
 * or truncated is reset by the next step instead of stepped; that step ignores its action
 * and reports reward 0, not terminated, not truncated, and the first observation of the new
 * episode. With autoreset off (natgrad.make's single environment) stepping an ended episode
 * raises instead. */
#include "ngpy.h"

#include "natgrad/pool.h"

#include <math.h>
#include <string.h>

typedef struct {
  PyObject_HEAD
  ng_env_t **envs;
  size_t n;
  const ng_env_info_t *info;
  size_t obs_size, act_size;
  ng_pool_t *pool; /* NULL: one thread */
  int threads;
  int autoreset;
  int obs_f64; /* Box observations as float64 (Gymnasium's MuJoCo dtype), else float32 */
  int busy;   /* a step or reset runs without the GIL: refuse a second caller */
  int closed;
  double *obs_d;  /* n * obs_size: what the library writes */
  double *act_d;  /* n * act_size: the actions as the library takes them */
  unsigned char *ended;   /* the last step terminated or truncated */
  unsigned char *started; /* reset or set_state since creation */
  int *status;            /* per env, of the last step */
  PyArrayObject *obs, *rewards, *terms, *truncs;
} ngpy_vecenv_t;

/* Writes env i's observation row from obs_d into the NumPy array. */
static void ngpy__put_obs(ngpy_vecenv_t *v, size_t i) {
  const double *src = v->obs_d + i * v->obs_size;
  if (v->info->observation_space.kind == NG_SPACE_DISCRETE) {
    ((int64_t *)PyArray_DATA(v->obs))[i] = (int64_t)src[0];
  } else if (v->obs_f64) {
    memcpy((double *)PyArray_DATA(v->obs) + i * v->obs_size, src, v->obs_size * sizeof *src);
  } else {
    float *dst = (float *)PyArray_DATA(v->obs) + i * v->obs_size;
    for (size_t k = 0; k < v->obs_size; k++) dst[k] = (float)src[k];
  }
}

/* Steps (or autoresets) env i and writes its row of every output. */
static int ngpy__step_one(ngpy_vecenv_t *v, size_t i) {
  double *rew = PyArray_DATA(v->rewards);
  npy_bool *te = PyArray_DATA(v->terms), *tr = PyArray_DATA(v->truncs);
  double *obs = v->obs_d + i * v->obs_size;
  int st, term = 0, trunc = 0;
  double r = 0.0;
  if (v->autoreset && v->ended[i])
    st = ng_env_reset(v->envs[i], obs);
  else
    st = ng_env_step(v->envs[i], v->act_d + i * v->act_size, obs, &r, &term, &trunc);
  v->status[i] = st;
  if (st != NG_OK) return st;
  rew[i] = r;
  te[i] = (npy_bool)(term != 0);
  tr[i] = (npy_bool)(trunc != 0);
  v->ended[i] = (unsigned char)(term || trunc);
  ngpy__put_obs(v, i);
  return NG_OK;
}

/* Pool task t: the t-th contiguous block of environments. */
static int ngpy__step_task(void *ctx, size_t t) {
  ngpy_vecenv_t *v = ctx;
  size_t tasks = (size_t)v->threads < v->n ? (size_t)v->threads : v->n;
  size_t lo = t * v->n / tasks, hi = (t + 1) * v->n / tasks;
  int first = NG_OK;
  for (size_t i = lo; i < hi; i++) {
    int st = ngpy__step_one(v, i);
    if (st != NG_OK && first == NG_OK) first = st;
  }
  return first;
}

static int ngpy__check_open(ngpy_vecenv_t *v) {
  if (v->closed) {
    ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL, "%s: the environment is closed",
                   v->info->id);
    return -1;
  }
  if (v->busy) {
    PyErr_Format(PyExc_RuntimeError, "%s: step or reset already running in another thread",
                 v->info->id);
    return -1;
  }
  return 0;
}

static void ngpy__free(ngpy_vecenv_t *v) {
  if (v->envs)
    for (size_t i = 0; i < v->n; i++) ng_env_destroy(v->envs[i]);
  ng_pool_destroy(v->pool);
  PyMem_Free(v->envs);
  PyMem_Free(v->obs_d);
  PyMem_Free(v->act_d);
  PyMem_Free(v->ended);
  PyMem_Free(v->started);
  PyMem_Free(v->status);
  v->envs = NULL;
  v->pool = NULL;
  v->obs_d = v->act_d = NULL;
  v->ended = v->started = NULL;
  v->status = NULL;
}

static void ngpy__vecenv_dealloc(PyObject *self) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  ngpy__free(v);
  Py_XDECREF(v->obs);
  Py_XDECREF(v->rewards);
  Py_XDECREF(v->terms);
  Py_XDECREF(v->truncs);
  Py_TYPE(self)->tp_free(self);
}

/* VecEnv(id, num_envs, threads=1, autoreset=True, obs_float64=False) */
static int ngpy__vecenv_init(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"id", "num_envs", "threads", "autoreset", "obs_float64", NULL};
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  const char *id;
  Py_ssize_t n;
  int threads = 1, autoreset = 1, obs_f64 = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "sn|ipp", kwlist, &id, &n, &threads, &autoreset,
                                   &obs_f64))
    return -1;
  if (v->envs) {
    PyErr_SetString(PyExc_RuntimeError, "VecEnv is already initialised");
    return -1;
  }
  if (n < 1 || n > 1 << 20) {
    ngpy_raise_fmt(ngpy_exc[NGPY_EXC_RANGE], NG_ERANGE,
                   "num_envs must be an integer in [1, %d], got %zd", 1 << 20, n);
    return -1;
  }
  if (threads < 1 || threads > NG_POOL_MAX_THREADS) {
    ngpy_raise_fmt(ngpy_exc[NGPY_EXC_RANGE], NG_ERANGE,
                   "threads must be an integer in [1, %d], got %d", NG_POOL_MAX_THREADS,
                   threads);
    return -1;
  }
  ng_error_t err;
  ng_env_t *first = NULL;
  int rc = ng_env_create(&first, id, &err);
  if (rc != NG_OK) {
    ngpy_raise(rc, &err);
    return -1;
  }
  const ng_env_info_t *info = ng_env_info(first);
  v->n = (size_t)n;
  v->info = info;
  v->autoreset = autoreset;
  v->obs_f64 = obs_f64;
  v->threads = threads;
  v->obs_size = ng_space_size(&info->observation_space);
  v->act_size = ng_space_size(&info->action_space);
  v->envs = PyMem_Calloc(v->n, sizeof *v->envs);
  v->obs_d = PyMem_Calloc(v->n * v->obs_size, sizeof *v->obs_d);
  v->act_d = PyMem_Calloc(v->n * v->act_size, sizeof *v->act_d);
  v->ended = PyMem_Calloc(v->n, 1);
  v->started = PyMem_Calloc(v->n, 1);
  v->status = PyMem_Calloc(v->n, sizeof *v->status);
  if (!v->envs || !v->obs_d || !v->act_d || !v->ended || !v->started || !v->status) {
    ng_env_destroy(first);
    ngpy__free(v);
    PyErr_NoMemory();
    return -1;
  }
  v->envs[0] = first;
  for (size_t i = 1; i < v->n && rc == NG_OK; i++) rc = ng_env_create(&v->envs[i], id, &err);
  if (rc == NG_OK && threads > 1) rc = ng_pool_create(&v->pool, threads);
  if (rc != NG_OK) {
    ngpy__free(v);
    ngpy_raise(rc, &err);
    return -1;
  }
  npy_intp dims[2] = {n, (npy_intp)v->obs_size};
  int discrete = info->observation_space.kind == NG_SPACE_DISCRETE;
  v->obs = (PyArrayObject *)PyArray_ZEROS(discrete ? 1 : 2, dims,
                                          discrete ? NPY_INT64
                                          : obs_f64 ? NPY_FLOAT64 : NPY_FLOAT32, 0);
  v->rewards = (PyArrayObject *)PyArray_ZEROS(1, dims, NPY_FLOAT64, 0);
  v->terms = (PyArrayObject *)PyArray_ZEROS(1, dims, NPY_BOOL, 0);
  v->truncs = (PyArrayObject *)PyArray_ZEROS(1, dims, NPY_BOOL, 0);
  if (!v->obs || !v->rewards || !v->terms || !v->truncs) {
    ngpy__free(v);
    return -1;
  }
  return 0;
}

/* seed(seeds): seeds a sequence of num_envs ints (or None: leave that env's stream as it
 * is); env i's stream becomes (seeds[i], 0), as natgrad.make(id).reset(seed=seeds[i]). */
static PyObject *ngpy__vecenv_seed(PyObject *self, PyObject *arg) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  if (ngpy__check_open(v) < 0) return NULL;
  PyObject *seq = PySequence_Fast(arg, "seeds must be a sequence");
  if (!seq) return NULL;
  if ((size_t)PySequence_Fast_GET_SIZE(seq) != v->n) {
    Py_DECREF(seq);
    return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                          "%zu seeds needed (one per environment), got %zd", v->n,
                          PySequence_Fast_GET_SIZE(seq));
  }
  /* Convert every seed before seeding any. */
  uint64_t *seeds = PyMem_Calloc(v->n, sizeof *seeds);
  unsigned char *set = PyMem_Calloc(v->n, 1);
  if (!seeds || !set) {
    PyMem_Free(seeds);
    PyMem_Free(set);
    Py_DECREF(seq);
    return PyErr_NoMemory();
  }
  PyObject *ok = Py_None;
  for (size_t i = 0; i < v->n && ok; i++) {
    PyObject *s = PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i);
    if (s == Py_None) continue;
    unsigned long long u = PyLong_Check(s) ? PyLong_AsUnsignedLongLong(s) : 0;
    if (!PyLong_Check(s) || (u == (unsigned long long)-1 && PyErr_Occurred())) {
      PyErr_Clear();
      ok = ngpy_raise_fmt(PyLong_Check(s) ? ngpy_exc[NGPY_EXC_RANGE] : PyExc_TypeError,
                          NG_ERANGE, "seed of env %zu must be an integer in [0, 2**64), got %R",
                          i, s);
      break;
    }
    seeds[i] = u;
    set[i] = 1;
  }
  if (ok)
    for (size_t i = 0; i < v->n; i++)
      if (set[i]) ng_env_seed(v->envs[i], seeds[i], 0);
  PyMem_Free(seeds);
  PyMem_Free(set);
  Py_DECREF(seq);
  if (!ok) return NULL;
  Py_RETURN_NONE;
}

/* Raises for env i's failed status. */
static PyObject *ngpy__env_failed(ngpy_vecenv_t *v, size_t i, const char *what) {
  int st = v->status[i];
  return ngpy_raise_fmt(ngpy_exc_for_status(st), st, "%s (env %zu, step %d of its episode): "
                        "%s failed: %s", v->info->id, i, ng_env_elapsed_steps(v->envs[i]) + 1,
                        what, ng_strerror(st));
}

/* reset(): starts an episode in every environment; returns the observations array. */
static PyObject *ngpy__vecenv_reset(PyObject *self, PyObject *unused) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  if (ngpy__check_open(v) < 0) return NULL;
  size_t bad = v->n;
  v->busy = 1;
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < v->n; i++) {
    v->status[i] = ng_env_reset(v->envs[i], v->obs_d + i * v->obs_size);
    if (v->status[i] != NG_OK) {
      if (bad == v->n) bad = i;
      continue;
    }
    v->ended[i] = 0;
    v->started[i] = 1;
    ngpy__put_obs(v, i);
  }
  Py_END_ALLOW_THREADS
  v->busy = 0;
  memset(PyArray_DATA(v->rewards), 0, v->n * sizeof(double));
  memset(PyArray_DATA(v->terms), 0, v->n * sizeof(npy_bool));
  memset(PyArray_DATA(v->truncs), 0, v->n * sizeof(npy_bool));
  if (bad < v->n) return ngpy__env_failed(v, bad, "reset");
  Py_INCREF(v->obs);
  return (PyObject *)v->obs;
}

/* Copies the actions into act_d (doubles) after checking dtype and shape; 0 or -1. */
static int ngpy__take_actions(ngpy_vecenv_t *v, PyObject *actions) {
  const ng_space_t *as = &v->info->action_space;
  PyArrayObject *a;
  if (PyArray_Check(actions)) {
    a = (PyArrayObject *)actions;
    Py_INCREF(a);
  } else {
    a = (PyArrayObject *)PyArray_FROMANY(actions, NPY_NOTYPE, 0, 0, 0);
    if (!a) return -1;
  }
  char kind = PyArray_DESCR(a)->kind;
  int ok_kind = kind == 'i' || kind == 'u' || kind == 'f' ||
                (kind == 'b' && as->kind == NG_SPACE_MULTI_BINARY);
  if (!ok_kind) {
    PyErr_Format(PyExc_TypeError, "%s: actions must be a numeric array (%s), got dtype %R",
                 v->info->id, as->kind == NG_SPACE_BOX ? "floats" : "integers",
                 (PyObject *)PyArray_DESCR(a));
    Py_DECREF(a);
    return -1;
  }
  int ndim = as->kind == NG_SPACE_DISCRETE ? 1 : 2;
  npy_intp *dims = PyArray_DIMS(a);
  if (PyArray_NDIM(a) != ndim || dims[0] != (npy_intp)v->n ||
      (ndim == 2 && dims[1] != (npy_intp)v->act_size)) {
    PyObject *shape = PyObject_GetAttrString((PyObject *)a, "shape");
    if (ndim == 1)
      ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                     "%s: actions must have shape (%zu,), got %R", v->info->id, v->n, shape);
    else
      ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                     "%s: actions must have shape (%zu, %zu), got %R", v->info->id, v->n,
                     v->act_size, shape);
    Py_XDECREF(shape);
    Py_DECREF(a);
    return -1;
  }
  size_t total = v->n * v->act_size;
  int fast = PyArray_IS_C_CONTIGUOUS(a) && PyArray_ISNOTSWAPPED(a) && PyArray_ISALIGNED(a);
  int type = PyArray_TYPE(a);
  if (fast && type == NPY_FLOAT64) {
    memcpy(v->act_d, PyArray_DATA(a), total * sizeof(double));
  } else if (fast && type == NPY_FLOAT32) {
    const float *src = PyArray_DATA(a);
    for (size_t k = 0; k < total; k++) v->act_d[k] = src[k];
  } else if (fast && type == NPY_INT64) {
    const int64_t *src = PyArray_DATA(a);
    for (size_t k = 0; k < total; k++) v->act_d[k] = (double)src[k];
  } else {
    /* Any other numeric layout: NumPy casts into an array over act_d (no copy of ours). */
    npy_intp d[2] = {(npy_intp)v->n, (npy_intp)v->act_size};
    PyObject *dst = PyArray_SimpleNewFromData(ndim, d, NPY_FLOAT64, v->act_d);
    int rc = dst ? PyArray_CopyInto((PyArrayObject *)dst, a) : -1;
    Py_XDECREF(dst);
    if (rc < 0) {
      Py_DECREF(a);
      return -1;
    }
  }
  Py_DECREF(a);
  return 0;
}

/* step(actions) -> (obs, rewards, terminations, truncations, infos): the arrays made at
 * creation, and a new empty dict. */
static PyObject *ngpy__vecenv_step(PyObject *self, PyObject *actions) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  if (ngpy__check_open(v) < 0) return NULL;
  for (size_t i = 0; i < v->n; i++) {
    if (!v->started[i])
      return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                            "%s: call reset() before step()", v->info->id);
    if (v->ended[i] && !v->autoreset)
      return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                            "%s: the episode has ended (terminated or truncated): call "
                            "reset() before step()", v->info->id);
  }
  if (ngpy__take_actions(v, actions) < 0) return NULL;
  /* Every action checked before any environment moves (an env about to autoreset ignores
   * its action, as Gymnasium's does). */
  const ng_space_t *as = &v->info->action_space;
  for (size_t i = 0; i < v->n; i++) {
    if (v->autoreset && v->ended[i]) continue;
    const double *a = v->act_d + i * v->act_size;
    /* A Discrete action's check inline (the common case: CartPole's step is ~50 ns, a call
     * per env would show); anything else, or a failure, through the library's check. */
    if (as->kind == NG_SPACE_DISCRETE && a[0] >= 0.0 && a[0] < (double)as->dim &&
        a[0] == floor(a[0]))
      continue;
    ng_error_t err;
    int st = ng_space_contains(as, a, &err);
    if (st != NG_OK)
      return ngpy_raise_fmt(ngpy_exc_for_status(st), st, "%s: action of env %zu: %s",
                            v->info->id, i, err.message);
  }
  int rc;
  v->busy = 1;
  Py_BEGIN_ALLOW_THREADS
  rc = ng_pool_run(v->pool, (size_t)v->threads < v->n ? (size_t)v->threads : v->n,
                   ngpy__step_task, v);
  Py_END_ALLOW_THREADS
  v->busy = 0;
  if (rc != NG_OK) {
    for (size_t i = 0; i < v->n; i++)
      if (v->status[i] != NG_OK) return ngpy__env_failed(v, i, "step");
  }
  PyObject *infos = PyDict_New(); /* natgrad's environments report no per-step info */
  if (!infos) return NULL;
  PyObject *out = PyTuple_Pack(5, v->obs, v->rewards, v->terms, v->truncs, infos);
  Py_DECREF(infos);
  return out;
}

static int ngpy__index(ngpy_vecenv_t *v, Py_ssize_t i) {
  if (i < 0 || (size_t)i >= v->n) {
    ngpy_raise_fmt(ngpy_exc[NGPY_EXC_RANGE], NG_ERANGE, "env index %zd out of range [0, %zu)",
                   i, v->n);
    return -1;
  }
  return ngpy__check_open(v);
}

static int ngpy__has_state(ngpy_vecenv_t *v) {
  if (v->info->state_size > 0) return 0;
  ngpy_raise_fmt(ngpy_exc[NGPY_EXC_UNSUPPORTED], NG_EUNSUPPORTED,
                 "%s does not expose its state (no get/set state)", v->info->id);
  return -1;
}

/* get_state(i) -> float64 array of state_size. */
static PyObject *ngpy__vecenv_get_state(PyObject *self, PyObject *arg) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  Py_ssize_t i = PyLong_AsSsize_t(arg);
  if ((i == -1 && PyErr_Occurred()) || ngpy__index(v, i) < 0 || ngpy__has_state(v) < 0)
    return NULL;
  if (!v->started[i])
    return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                          "%s: no state before reset() or set_state()", v->info->id);
  npy_intp d[1] = {(npy_intp)v->info->state_size};
  PyObject *out = PyArray_SimpleNew(1, d, NPY_FLOAT64);
  if (!out) return NULL;
  int st = ng_env_get_state(v->envs[i], PyArray_DATA((PyArrayObject *)out));
  if (st != NG_OK) {
    Py_DECREF(out);
    return ngpy_raise(st, NULL);
  }
  return out;
}

/* set_state(i, state) -> observations: state_size finite values, or state_min_size (the
 * short form, padded with zeros); writes env i's observation row and starts a new episode
 * there (step counter 0). */
static PyObject *ngpy__vecenv_set_state(PyObject *self, PyObject *args) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  Py_ssize_t i;
  PyObject *state;
  if (!PyArg_ParseTuple(args, "nO", &i, &state)) return NULL;
  if (ngpy__index(v, i) < 0 || ngpy__has_state(v) < 0) return NULL;
  PyArrayObject *s = (PyArrayObject *)PyArray_FROMANY(state, NPY_FLOAT64, 0, 0,
                                                      NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
  if (!s) return NULL;
  size_t n = PyArray_NDIM(s) == 1 ? (size_t)PyArray_DIM(s, 0) : 0;
  size_t full = v->info->state_size, min = v->info->state_min_size;
  if (PyArray_NDIM(s) != 1 || (n != full && (!min || n != min))) {
    char also[48] = "";
    if (min) snprintf(also, sizeof also, ", or its first %zu", min);
    Py_DECREF(s);
    return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                          "%s: state must be %zu values (%s)%s", v->info->id, full,
                          v->info->state_doc ? v->info->state_doc : "", also);
  }
  const double *x = PyArray_DATA(s);
  if (!ng_all_finite(n, x)) {
    Py_DECREF(s);
    return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_NONFINITE], NG_ENONFINITE,
                          "%s: state has a NaN or infinite value", v->info->id);
  }
  double *padded = NULL;
  if (n < full) {
    if (!(padded = PyMem_Calloc(full, sizeof *padded))) {
      Py_DECREF(s);
      return PyErr_NoMemory();
    }
    memcpy(padded, x, n * sizeof *x);
    x = padded;
  }
  int st = ng_env_set_state(v->envs[i], x, v->obs_d + (size_t)i * v->obs_size);
  PyMem_Free(padded);
  Py_DECREF(s);
  if (st != NG_OK) return ngpy_raise(st, NULL);
  v->started[i] = 1;
  v->ended[i] = 0;
  ngpy__put_obs(v, (size_t)i);
  Py_INCREF(v->obs);
  return (PyObject *)v->obs;
}

/* elapsed_steps(i): steps in env i's current episode. */
static PyObject *ngpy__vecenv_elapsed(PyObject *self, PyObject *arg) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  Py_ssize_t i = PyLong_AsSsize_t(arg);
  if ((i == -1 && PyErr_Occurred()) || ngpy__index(v, i) < 0) return NULL;
  return PyLong_FromLong(ng_env_elapsed_steps(v->envs[i]));
}

/* close(): frees the environments and the pool now; later calls raise. Idempotent. */
static PyObject *ngpy__vecenv_close(PyObject *self, PyObject *unused) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  if (v->busy) {
    PyErr_SetString(PyExc_RuntimeError, "close() while a step runs in another thread");
    return NULL;
  }
  ngpy__free(v);
  v->closed = 1;
  Py_RETURN_NONE;
}

static PyObject *ngpy__vecenv_info(PyObject *self, void *closure) {
  ngpy_vecenv_t *v = (ngpy_vecenv_t *)self;
  return v->info ? PyUnicode_FromString(v->info->id) : PyUnicode_FromString("");
}

static PyObject *ngpy__vecenv_num(PyObject *self, void *closure) {
  return PyLong_FromSize_t(((ngpy_vecenv_t *)self)->n);
}

static PyObject *ngpy__vecenv_threads(PyObject *self, void *closure) {
  return PyLong_FromLong(((ngpy_vecenv_t *)self)->threads);
}

static PyMethodDef ngpy__vecenv_methods[] = {
    {"seed", ngpy__vecenv_seed, METH_O,
     "seed(seeds): env i's stream becomes (seeds[i], 0); None leaves it."},
    {"reset", ngpy__vecenv_reset, METH_NOARGS,
     "reset() -> observations: a new episode in every environment."},
    {"step", ngpy__vecenv_step, METH_O,
     "step(actions) -> (observations, rewards, terminations, truncations, infos); the arrays "
     "are the same objects at every step, filled in place."},
    {"get_state", ngpy__vecenv_get_state, METH_O, "get_state(i) -> env i's state."},
    {"set_state", ngpy__vecenv_set_state, METH_VARARGS,
     "set_state(i, state) -> observations: env i starts an episode from state."},
    {"elapsed_steps", ngpy__vecenv_elapsed, METH_O, "Steps in env i's current episode."},
    {"close", ngpy__vecenv_close, METH_NOARGS, "Frees the environments."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ngpy__vecenv_getset[] = {
    {"id", ngpy__vecenv_info, NULL, "The environment id.", NULL},
    {"num_envs", ngpy__vecenv_num, NULL, "Number of environments.", NULL},
    {"threads", ngpy__vecenv_threads, NULL, "Threads stepping them.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ngpy__vecenv_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "natgrad._natgrad.VecEnv",
    .tp_basicsize = sizeof(ngpy_vecenv_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "VecEnv(id, num_envs, threads=1, autoreset=True, obs_float64=False): library "
              "environments stepped together (natgrad.make_vec wraps it).",
    .tp_new = PyType_GenericNew,
    .tp_init = ngpy__vecenv_init,
    .tp_dealloc = ngpy__vecenv_dealloc,
    .tp_methods = ngpy__vecenv_methods,
    .tp_getset = ngpy__vecenv_getset,
};

int ngpy_vecenv_init(PyObject *m) {
  if (PyType_Ready(&ngpy__vecenv_type) < 0) return -1;
  return PyModule_AddObjectRef(m, "VecEnv", (PyObject *)&ngpy__vecenv_type);
}
