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
