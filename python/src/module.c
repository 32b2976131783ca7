/* natgrad._natgrad: the CPython extension over libnatgrad. PyInit creates the exception
 * hierarchy (ngpy.h) and lets each part add its functions and types. */
#define NGPY_MODULE_C
#include "ngpy.h"

#include <stdarg.h>
#include <string.h>

PyObject *ngpy_exc[NGPY_EXC_COUNT];

/* Each class: its name, its Python bases besides natgrad.Error (NULL: none), its doc. */
static const struct {
  const char *name;
  PyObject **extra_base;
  const char *doc;
} ngpy__exc_def[NGPY_EXC_COUNT] = {
    [NGPY_EXC_ERROR] = {"natgrad.Error", NULL, "Base class of every natgrad error."},
    [NGPY_EXC_INVALID] = {"natgrad.InvalidArgumentError", &PyExc_ValueError,
                          "An invalid argument (NG_EINVAL)."},
    [NGPY_EXC_RANGE] = {"natgrad.OutOfRangeError", &PyExc_ValueError,
                        "A value out of its range (NG_ERANGE)."},
    [NGPY_EXC_NOTFOUND] = {"natgrad.NotFoundError", &PyExc_ValueError,
                           "An unknown environment id, config key or a missing file "
                           "(NG_ENOTFOUND)."},
    [NGPY_EXC_NONFINITE] = {"natgrad.NonFiniteError", &PyExc_ValueError,
                            "A NaN or infinite value (NG_ENONFINITE)."},
    [NGPY_EXC_FILE] = {"natgrad.FileError", &PyExc_OSError,
                       "A file could not be read or written (NG_EIO)."},
    [NGPY_EXC_FORMAT] = {"natgrad.FormatError", NULL,
                         "A malformed or unsupported file: a checkpoint, a config, a plugin "
                         "(NG_EFORMAT). Also named CheckpointError."},
    [NGPY_EXC_UNSUPPORTED] = {"natgrad.UnsupportedError", NULL,
                              "Not supported in this build (NG_EUNSUPPORTED)."},
    [NGPY_EXC_INTERRUPTED] = {"natgrad.InterruptedError", NULL,
                              "Interrupted (NG_EINTERRUPTED)."},
    [NGPY_EXC_BUSY] = {"natgrad.BusyError", NULL,
                       "A run folder in use by another process (NG_EBUSY)."},
    [NGPY_EXC_EXISTS] = {"natgrad.ExistsError", &PyExc_FileExistsError,
                         "Something that would be overwritten exists (NG_EEXIST)."},
    [NGPY_EXC_NUMERICAL] = {"natgrad.NumericalError", NULL,
                            "A numerical failure: a matrix not positive definite, negative "
                            "curvature, no convergence, a failed line search."},
    [NGPY_EXC_ENVIRONMENT] = {"natgrad.EnvironmentError", NULL,
                              "An environment misbehaved (raised, or returned the wrong "
                              "shape, dtype or a non-finite value)."},
};

PyObject *ngpy_exc_for_status(int status) {
  switch (status) {
  case NG_EINVAL: return ngpy_exc[NGPY_EXC_INVALID];
  case NG_ERANGE: return ngpy_exc[NGPY_EXC_RANGE];
  case NG_ENOTFOUND: return ngpy_exc[NGPY_EXC_NOTFOUND];
  case NG_ENONFINITE: return ngpy_exc[NGPY_EXC_NONFINITE];
  case NG_EIO: return ngpy_exc[NGPY_EXC_FILE];
  case NG_EFORMAT: return ngpy_exc[NGPY_EXC_FORMAT];
  case NG_EUNSUPPORTED: return ngpy_exc[NGPY_EXC_UNSUPPORTED];
  case NG_EINTERRUPTED: return ngpy_exc[NGPY_EXC_INTERRUPTED];
  case NG_EBUSY: return ngpy_exc[NGPY_EXC_BUSY];
  case NG_EEXIST: return ngpy_exc[NGPY_EXC_EXISTS];
  case NG_ENOMEM: return PyExc_MemoryError;
  case NG_ENOTPD:
  case NG_ECURVATURE:
  case NG_ENOCONVERGE:
  case NG_ELINESEARCH: return ngpy_exc[NGPY_EXC_NUMERICAL];
  default: return ngpy_exc[NGPY_EXC_ERROR];
  }
}

/* Raises cls(text) with .status set; steals text. */
static PyObject *ngpy__raise_text(PyObject *cls, int status, PyObject *text) {
  if (!text) return NULL;
  PyObject *inst = PyObject_CallOneArg(cls, text);
  Py_DECREF(text);
  if (!inst) return NULL;
  PyObject *name = PyUnicode_FromString(ng_status_name(status));
  if (!name || PyObject_SetAttrString(inst, "status", name) < 0) {
    Py_XDECREF(name);
    Py_DECREF(inst);
    return NULL;
  }
  Py_DECREF(name);
  PyErr_SetObject(cls, inst);
  Py_DECREF(inst);
  return NULL;
}

PyObject *ngpy_raise(int status, const ng_error_t *err) {
  const char *text = err && err->message[0] ? err->message : ng_strerror(status);
  return ngpy__raise_text(ngpy_exc_for_status(status), status,
                          PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace"));
}

PyObject *ngpy_raise_fmt(PyObject *cls, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  PyObject *text = PyUnicode_FromFormatV(fmt, ap);
  va_end(ap);
  return ngpy__raise_text(cls, status, text);
}

/* _natgrad.status_name(status) -> "NG_EINVAL": for messages and tests. */
static PyObject *ngpy__status_name(PyObject *self, PyObject *arg) {
  long status = PyLong_AsLong(arg);
  if (status == -1 && PyErr_Occurred()) return NULL;
  return PyUnicode_FromString(ng_status_name((int)status));
}

/* _natgrad.raise_status(status, message): raises what a library failure with this status
 * and message raises (tests check the mapping through it). */
static PyObject *ngpy__raise_status(PyObject *self, PyObject *args) {
  int status;
  const char *message;
  if (!PyArg_ParseTuple(args, "is", &status, &message)) return NULL;
  if (status == NG_OK) {
    PyErr_SetString(PyExc_ValueError, "raise_status: NG_OK is not an error");
    return NULL;
  }
  ng_error_t err;
  ng_error_set(&err, status, "%s", message);
  return ngpy_raise(status, &err);
}

static PyMethodDef ngpy__methods[] = {
    {"status_name", ngpy__status_name, METH_O, "The name of a library status code."},
    {"raise_status", ngpy__raise_status, METH_VARARGS,
     "Raise the exception a library status maps to (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ngpy__module = {
    PyModuleDef_HEAD_INIT, "natgrad._natgrad",
    "natgrad's C extension: the library's environments and trainers.", -1, ngpy__methods,
    NULL, NULL, NULL, NULL,
};

static int ngpy__add_exceptions(PyObject *m) {
  for (int i = 0; i < NGPY_EXC_COUNT; i++) {
    PyObject *bases = i == NGPY_EXC_ERROR ? PyTuple_Pack(1, PyExc_Exception)
                      : ngpy__exc_def[i].extra_base
                          ? PyTuple_Pack(2, ngpy_exc[NGPY_EXC_ERROR], *ngpy__exc_def[i].extra_base)
                          : PyTuple_Pack(1, ngpy_exc[NGPY_EXC_ERROR]);
    if (!bases) return -1;
    ngpy_exc[i] = PyErr_NewExceptionWithDoc(ngpy__exc_def[i].name, ngpy__exc_def[i].doc,
                                            bases, NULL);
    Py_DECREF(bases);
    if (!ngpy_exc[i]) return -1;
    /* PyModule_AddObjectRef keeps our reference: ngpy_exc stays valid with the module. */
    if (PyModule_AddObjectRef(m, ngpy__exc_def[i].name + sizeof "natgrad", ngpy_exc[i]) < 0)
      return -1;
  }
  if (PyModule_AddObjectRef(m, "CheckpointError", ngpy_exc[NGPY_EXC_FORMAT]) < 0) return -1;
  /* The status codes, by name. */
#define NGPY__STATUS_CONST(name, code, text) \
  if (PyModule_AddIntConstant(m, #name, code) < 0) return -1;
  NG_STATUS_MAP(NGPY__STATUS_CONST)
#undef NGPY__STATUS_CONST
  return 0;
}

PyMODINIT_FUNC PyInit__natgrad(void);
PyMODINIT_FUNC PyInit__natgrad(void) {
  import_array();
  PyObject *m = PyModule_Create(&ngpy__module);
  if (!m) return NULL;
  if (ngpy__add_exceptions(m) < 0 || ngpy_env_init(m) < 0 ||
      ngpy_train_init(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
