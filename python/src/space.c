/* ng_space_t as Python sees it: a plain description (ngpy.h), which natgrad/_spaces.py
 * turns into gymnasium.spaces when Gymnasium is importable. */
#include "ngpy.h"

#include <string.h>

static const char *const ngpy__kind_name[] = {
    [NG_SPACE_BOX] = "Box",
    [NG_SPACE_DISCRETE] = "Discrete",
    [NG_SPACE_MULTI_DISCRETE] = "MultiDiscrete",
    [NG_SPACE_MULTI_BINARY] = "MultiBinary",
};

/* A new 1-d array of n values copied from src (float64) or srcu (uint32 -> int64). */
static PyObject *ngpy__array(size_t n, const double *src, const uint32_t *srcu) {
  npy_intp dims[1] = {(npy_intp)n};
  PyObject *a = PyArray_SimpleNew(1, dims, src ? NPY_FLOAT64 : NPY_INT64);
  if (!a) return NULL;
  if (src) {
    memcpy(PyArray_DATA((PyArrayObject *)a), src, n * sizeof *src);
  } else {
    int64_t *dst = PyArray_DATA((PyArrayObject *)a);
    for (size_t i = 0; i < n; i++) dst[i] = srcu[i];
  }
  return a;
}

/* d[key] = value, stealing value; -1 if value is NULL or the store fails. */
static int ngpy__set(PyObject *d, const char *key, PyObject *value) {
  if (!value) return -1;
  int rc = PyDict_SetItemString(d, key, value);
  Py_DECREF(value);
  return rc;
}

PyObject *ngpy_space_describe(const ng_space_t *space) {
  if ((unsigned)space->kind > NG_SPACE_MULTI_BINARY) {
    PyErr_Format(PyExc_ValueError, "unknown space kind %d", (int)space->kind);
    return NULL;
  }
  PyObject *d = PyDict_New();
  if (!d) return NULL;
  int bad = ngpy__set(d, "kind", PyUnicode_FromString(ngpy__kind_name[space->kind]));
  Py_ssize_t dim = (Py_ssize_t)space->dim;
  switch (space->kind) {
  case NG_SPACE_DISCRETE:
    bad = bad || ngpy__set(d, "n", PyLong_FromSsize_t(dim)) ||
          ngpy__set(d, "shape", Py_BuildValue("()"));
    break;
  case NG_SPACE_BOX:
    bad = bad || ngpy__set(d, "low", ngpy__array(space->dim, space->low, NULL)) ||
          ngpy__set(d, "high", ngpy__array(space->dim, space->high, NULL));
    /* fall through */
  case NG_SPACE_MULTI_BINARY:
    bad = bad || ngpy__set(d, "shape", Py_BuildValue("(n)", dim));
    break;
  case NG_SPACE_MULTI_DISCRETE:
    bad = bad || ngpy__set(d, "nvec", ngpy__array(space->dim, NULL, space->nvec)) ||
          ngpy__set(d, "shape", Py_BuildValue("(n)", dim));
    break;
  }
  if (bad) {
    Py_DECREF(d);
    return NULL;
  }
  return d;
}

void ngpy_space_free(ngpy_space_t *s) {
  PyMem_Free(s->low);
  PyMem_Free(s->high);
  PyMem_Free(s->nvec);
  memset(s, 0, sizeof *s);
}

/* The kind of a gymnasium space from its classes' names (the first known one in its MRO),
 * or of a description from its "kind"; -1 if neither (no exception set). */
static int ngpy__kind_of(PyObject *obj, PyObject **kind_name) {
  *kind_name = NULL;
  if (PyDict_Check(obj)) {
    PyObject *k = PyDict_GetItemString(obj, "kind"); /* borrowed */
    if (!k || !PyUnicode_Check(k)) return -1;
    *kind_name = k;
    Py_INCREF(k);
  } else {
    PyObject *mro = Py_TYPE(obj)->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro) && !*kind_name; i++) {
      const char *name = ((PyTypeObject *)PyTuple_GET_ITEM(mro, i))->tp_name;
      const char *dot = strrchr(name, '.');
      name = dot ? dot + 1 : name;
      for (int k = 0; k <= NG_SPACE_MULTI_BINARY; k++)
        if (strcmp(name, ngpy__kind_name[k]) == 0) *kind_name = PyUnicode_FromString(name);
    }
    if (!*kind_name) return -1;
  }
  for (int k = 0; k <= NG_SPACE_MULTI_BINARY; k++)
    if (PyUnicode_CompareWithASCIIString(*kind_name, ngpy__kind_name[k]) == 0) return k;
  return -1;
}

/* obj's attribute or description key `name` (new reference), NULL with an exception. */
static PyObject *ngpy__field(PyObject *obj, const char *name, const char *what) {
  if (!PyDict_Check(obj)) return PyObject_GetAttrString(obj, name);
  PyObject *v = PyDict_GetItemString(obj, name);
  if (!v)
    return ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                          "%s: the description has no '%s'", what, name);
  Py_INCREF(v);
  return v;
}

/* A 1-d contiguous array of obj's field `name` as type (new reference), with `dim`
 * elements when dim > 0 (its length in *n otherwise). */
static PyArrayObject *ngpy__field_array(PyObject *obj, const char *name, int type,
                                        size_t dim, size_t *n, const char *what) {
  PyObject *f = ngpy__field(obj, name, what);
  if (!f) return NULL;
  PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(f, type, 0, 0,
                                                      NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST);
  Py_DECREF(f);
  if (!a) return NULL;
  if (PyArray_NDIM(a) != 1 || PyArray_DIM(a, 0) < 1 || PyArray_DIM(a, 0) > NG_ENV_MAX_DIM ||
      (dim && (size_t)PyArray_DIM(a, 0) != dim)) {
    PyObject *shape = PyObject_GetAttrString((PyObject *)a, "shape");
    Py_DECREF(a);
    ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                   "%s: %s must be one-dimensional with 1 to %d entries%s, got shape %R", what,
                   name, NG_ENV_MAX_DIM, dim ? " (as the shape says)" : "", shape);
    Py_XDECREF(shape);
    return NULL;
  }
  *n = (size_t)PyArray_DIM(a, 0);
  return a;
}

/* Raises unless obj's `start` (when it has one) is all zeros. */
static int ngpy__no_start(PyObject *obj, const char *what) {
  if (PyDict_Check(obj) || !PyObject_HasAttrString(obj, "start")) return 0;
  PyObject *start = PyObject_GetAttrString(obj, "start");
  if (!start) return -1;
  PyObject *any = PyObject_CallMethod(start, "any", NULL);
  int nonzero = any ? PyObject_IsTrue(any) : -1;
  Py_XDECREF(any);
  if (nonzero == 1)
    ngpy_raise_fmt(ngpy_exc[NGPY_EXC_UNSUPPORTED], NG_EUNSUPPORTED,
                   "%s: start=%R is not supported: natgrad's indices start at 0 (add the "
                   "offset in the environment)", what, start);
  Py_DECREF(start);
  return nonzero == 0 ? 0 : -1;
}

int ngpy_space_from_py(PyObject *obj, const char *what, ngpy_space_t *out) {
  memset(out, 0, sizeof *out);
  PyObject *kind_name;
  int kind = ngpy__kind_of(obj, &kind_name);
  if (kind < 0) {
    if (kind_name)
      ngpy_raise_fmt(ngpy_exc[NGPY_EXC_UNSUPPORTED], NG_EUNSUPPORTED,
                     "%s: kind %R is not supported (Box, Discrete, MultiDiscrete, MultiBinary)",
                     what, kind_name);
    else
      ngpy_raise_fmt(ngpy_exc[NGPY_EXC_UNSUPPORTED], NG_EUNSUPPORTED,
                     "%s: %R is not a space natgrad supports (a gymnasium Box, Discrete, "
                     "MultiDiscrete or MultiBinary)", what, obj);
    Py_XDECREF(kind_name);
    return -1;
  }
  Py_DECREF(kind_name);
  if (ngpy__no_start(obj, what) < 0) return -1;
  out->space.kind = (ng_space_kind_t)kind;
  size_t n = 0;
  if (kind == NG_SPACE_DISCRETE) {
    PyObject *f = ngpy__field(obj, "n", what);
    long long v = f ? PyLong_AsLongLong(f) : -1;
    Py_XDECREF(f);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 1 || v > NG_ENV_MAX_DIM) {
      ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                     "%s: Discrete n must be in [1, %d], got %lld", what, NG_ENV_MAX_DIM, v);
      return -1;
    }
    out->space.dim = (size_t)v;
    return 0;
  }
  if (kind == NG_SPACE_MULTI_DISCRETE) {
    PyArrayObject *a = ngpy__field_array(obj, "nvec", NPY_INT64, 0, &n, what);
    if (!a) return -1;
    const int64_t *src = PyArray_DATA(a);
    out->nvec = PyMem_Calloc(n, sizeof *out->nvec);
    for (size_t i = 0; out->nvec && i < n; i++) {
      if (src[i] < 1 || src[i] > UINT32_MAX) {
        ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                       "%s: nvec[%zu] = %lld must be a count >= 1", what, i, (long long)src[i]);
        Py_DECREF(a);
        ngpy_space_free(out);
        return -1;
      }
      out->nvec[i] = (uint32_t)src[i];
    }
    Py_DECREF(a);
    if (!out->nvec) {
      PyErr_NoMemory();
      return -1;
    }
    out->space.dim = n;
    out->space.nvec = out->nvec;
    return 0;
  }
  /* Box and MultiBinary: a one-dimensional shape. */
  PyObject *shape = ngpy__field(obj, "shape", what);
  if (!shape) return -1;
  Py_ssize_t d = -1;
  if (PyTuple_Check(shape) && PyTuple_GET_SIZE(shape) == 1)
    d = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, 0));
  if (d < 1 || d > NG_ENV_MAX_DIM) {
    PyErr_Clear();
    ngpy_raise_fmt(ngpy_exc[NGPY_EXC_INVALID], NG_EINVAL,
                   "%s: shape must be (n,) with 1 <= n <= %d (flatten it), got %R", what,
                   NG_ENV_MAX_DIM, shape);
    Py_DECREF(shape);
    return -1;
  }
  Py_DECREF(shape);
  out->space.dim = (size_t)d;
  if (kind == NG_SPACE_MULTI_BINARY) return 0;
  PyArrayObject *lo = ngpy__field_array(obj, "low", NPY_FLOAT64, (size_t)d, &n, what);
  PyArrayObject *hi = lo ? ngpy__field_array(obj, "high", NPY_FLOAT64, (size_t)d, &n, what)
                         : NULL;
  out->low = hi ? PyMem_Calloc((size_t)d, sizeof(double)) : NULL;
  out->high = out->low ? PyMem_Calloc((size_t)d, sizeof(double)) : NULL;
  if (out->high) {
    memcpy(out->low, PyArray_DATA(lo), (size_t)d * sizeof(double));
    memcpy(out->high, PyArray_DATA(hi), (size_t)d * sizeof(double));
    out->space.low = out->low;
    out->space.high = out->high;
  }
  Py_XDECREF(lo);
  Py_XDECREF(hi);
  if (!out->high) {
    if (!PyErr_Occurred()) PyErr_NoMemory();
    ngpy_space_free(out);
    return -1;
  }
  return 0;
}

/* _natgrad.space_describe(space) -> the description of what natgrad makes of a gymnasium
 * space (or a description): how a Python environment's spaces will be read. */
static PyObject *ngpy__space_describe_py(PyObject *self, PyObject *arg) {
  ngpy_space_t s;
  if (ngpy_space_from_py(arg, "space", &s) < 0) return NULL;
  PyObject *d = ngpy_space_describe(&s.space);
  ngpy_space_free(&s);
  return d;
}

static PyMethodDef ngpy__space_methods[] = {
    {"space_describe", ngpy__space_describe_py, METH_O,
     "space_describe(space) -> dict: what natgrad makes of a gymnasium space."},
    {NULL, NULL, 0, NULL},
};

int ngpy_space_init(PyObject *m) { return PyModule_AddFunctions(m, ngpy__space_methods); }
