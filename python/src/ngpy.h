/* natgrad._natgrad's internal header: what the extension's C files share.
 *
 * Include it first in every file of python/src (Python.h must come before any system
 * header). module.c defines NGPY_MODULE_C before including it: that file owns NumPy's C API
 * table (import_array), the others use it through PY_ARRAY_UNIQUE_SYMBOL.
 *
 * Conventions: a function returning PyObject * returns a new reference, or NULL with a
 * Python exception set; one returning int returns 0, or -1 with an exception set. The GIL
 * is released around library calls that do real work (Py_BEGIN_ALLOW_THREADS).
 */
#ifndef NATGRAD_PYTHON_NGPY_H
#define NATGRAD_PYTHON_NGPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL ngpy_ARRAY_API
#ifndef NGPY_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "natgrad/core.h"
#include "natgrad/env.h"

/* ---- errors ------------------------------------------------------------------------------
 *
 * Every library status has one exception class, all subclasses of natgrad.Error:
 *   NG_EINVAL      InvalidArgumentError  (also a ValueError)
 *   NG_ERANGE      OutOfRangeError       (also a ValueError)
 *   NG_ENOTFOUND   NotFoundError         (also a ValueError: unknown id, key or file)
 *   NG_ENONFINITE  NonFiniteError        (also a ValueError)
 *   NG_EIO         FileError             (also an OSError)
 *   NG_EFORMAT     FormatError           (a malformed file: checkpoint, config, plugin;
 *                                        CheckpointError is the same class)
 *   NG_EUNSUPPORTED UnsupportedError
 *   NG_EINTERRUPTED InterruptedError
 *   NG_EBUSY       BusyError
 *   NG_EEXIST      ExistsError           (also a FileExistsError)
 *   NG_ENOMEM      MemoryError itself
 *   NG_ENOTPD, NG_ECURVATURE, NG_ENOCONVERGE, NG_ELINESEARCH  NumericalError
 * and EnvironmentError, raised by the extension itself for an environment (a Python one
 * included) that misbehaves in a way no status names. The instance carries the library's
 * message as its text and `.status`, the status's name ("NG_EINVAL"). */
typedef enum {
  NGPY_EXC_ERROR = 0, /* natgrad.Error, the base */
  NGPY_EXC_INVALID,
  NGPY_EXC_RANGE,
  NGPY_EXC_NOTFOUND,
  NGPY_EXC_NONFINITE,
  NGPY_EXC_FILE,
  NGPY_EXC_FORMAT,
  NGPY_EXC_UNSUPPORTED,
  NGPY_EXC_INTERRUPTED,
  NGPY_EXC_BUSY,
  NGPY_EXC_EXISTS,
  NGPY_EXC_NUMERICAL,
  NGPY_EXC_ENVIRONMENT,
  NGPY_EXC_COUNT
} ngpy_exc_t;

/* The class objects (borrowed; set by PyInit, alive as long as the module). */
extern PyObject *ngpy_exc[NGPY_EXC_COUNT];

/* The exception class for a library status (NG_ENOMEM: PyExc_MemoryError). Borrowed. */
PyObject *ngpy_exc_for_status(int status);

/* Sets the exception for status with err's message (or ng_strerror's text when err is NULL
 * or its message empty) and returns NULL. */
PyObject *ngpy_raise(int status, const ng_error_t *err);

/* Sets exception class cls (one of ngpy_exc, or a Python builtin) with a message formatted
 * as PyUnicode_FromFormat does (%s, %d, %zu, %zd, %R for an object's repr; no %f or %g)
 * and `.status` = status's name; returns NULL. */
PyObject *ngpy_raise_fmt(PyObject *cls, int status, const char *fmt, ...);

/* ---- spaces ------------------------------------------------------------------------------
 *
 * A space as Python sees it, before Gymnasium: a dict {"kind": "Box" | "Discrete" |
 * "MultiDiscrete" | "MultiBinary", "n" (Discrete), "shape": (dim,), "low"/"high" (Box:
 * float64 arrays), "nvec" (MultiDiscrete: int64 array)}. natgrad/_spaces.py turns it into
 * a gymnasium.spaces object when Gymnasium is importable. */
PyObject *ngpy_space_describe(const ng_space_t *space);

/* The other way: a gymnasium.spaces Box (1-d), Discrete (start 0), MultiDiscrete (1-d,
 * start 0) or MultiBinary (1-d) (recognised by class name, subclasses included, so that
 * Gymnasium need not be imported here), or a description dict as above, as an ng_space_t.
 * `what` names the space in messages ("observation space of MyEnv-v0"). Structure only:
 * the bounds' values (NaN, low > high) are ng_env_def_check's to refuse. Raises
 * UnsupportedError for another kind of space (Dict, Tuple, ...) or a `start` offset,
 * InvalidArgumentError for a bad shape or size. out owns its arrays: ngpy_space_free. */
typedef struct {
  ng_space_t space; /* its low/high/nvec point at the arrays below */
  double *low, *high;
  uint32_t *nvec;
} ngpy_space_t;
int ngpy_space_from_py(PyObject *obj, const char *what, ngpy_space_t *out);
void ngpy_space_free(ngpy_space_t *s);
/* Adds _natgrad.space_describe (ngpy_env_init calls it). */
int ngpy_space_init(PyObject *m);

/* ---- the module's parts --------------------------------------------------------------------
 * Each adds its functions and types to the module m; 0 or -1 with an exception set. */
int ngpy_env_init(PyObject *m);
/* The VecEnv type (vecenv.c); ngpy_env_init calls it. */
int ngpy_vecenv_init(PyObject *m);
/* natgrad.TRPO / NPG's trainer type and functions (train.c). */
int ngpy_train_init(PyObject *m);

#endif
