/* Numeric CSV tables (plain or gzip) into a data set: one target column, the rest features. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "natgrad/data.h"

/* Reads one line (without its newline) into *buf, growing it; 0 at end of file, 1 for a
 * line, -1 on an allocation or zlib error or a NUL byte (no part of a text table; gzgets
 * would hide the rest of its line and join the next one to it). */
static int ng__gz_getline(gzFile f, char **buf, size_t *cap) {
  size_t len = 0;
  int c;
  for (;;) {
    if (*cap - len < 2) {
      size_t nc = *cap ? 2 * *cap : 256;
      char *nb = ng_realloc(*buf, nc);
      if (!nb) return -1;
      *buf = nb;
      *cap = nc;
    }
    if ((c = gzgetc(f)) == -1 || c == '\n') break;
    if (c == '\0') return -1;
    (*buf)[len++] = (char)c;
  }
  if (c == -1) {
    int zerr;
    gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) return -1;
    if (len == 0) return 0;
  }
  while (len > 0 && (*buf)[len - 1] == '\r') len--;
  (*buf)[len] = '\0';
  return 1;
}

static int ng__blank(const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t') return 0;
  return 1;
}

/* Splits line in place at commas into at most max fields (more are counted, not stored);
 * returns the number of fields. */
static size_t ng__split(char *line, char **fields, size_t max) {
  size_t n = 0;
  char *p = line;
  for (;;) {
    char *c = strchr(p, ',');
    if (c) *c = '\0';
    if (n < max) fields[n] = p;
    n++;
    if (!c) break;
    p = c + 1;
  }
  return n;
}

/* 1 if s (surrounding blanks allowed) is one number; its value in *v. */
static int ng__number(const char *s, double *v) {
  while (*s == ' ' || *s == '\t') s++;
  if (!*s) return 0;
  char *end;
  errno = 0;
  double d = strtod(s, &end);
  if (end == s) return 0;
  while (*end == ' ' || *end == '\t') end++;
  if (*end) return 0;
  *v = d;
  return 1;
}

#define NG_CSV_MAX_FIELDS 100000

int ng_data_load_csv(const char *path, int label_col, ng_task_t task, ng_dataset_t *ds,
                     ng_error_t *err) {
  if (!ds) return ng_error_set(err, NG_EINVAL, "ng_data_load_csv: NULL output");
  memset(ds, 0, sizeof *ds);
  if (!path) return ng_error_set(err, NG_EINVAL, "ng_data_load_csv: NULL path");
  if (task != NG_TASK_CLASSIFY && task != NG_TASK_REGRESS)
    return ng_error_set(err, NG_EINVAL, "ng_data_load_csv: unknown task");
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (!f)
    return ng_error_set(err, NG_ENOTFOUND, "%s: cannot open: %s", path,
                        errno ? strerror(errno) : "out of memory");
  int st = NG_OK;
  char *line = NULL;
  size_t cap = 0, lineno = 0, n_cols = 0, rows = 0, rows_cap = 0, target = 0;
  char **fields = NULL;
  double *vals = NULL, *table = NULL; /* table: rows x n_cols */
  int first = 1;
  for (;;) {
    int r = ng__gz_getline(f, &line, &cap);
    if (r < 0) {
      st = ng_error_set(err, NG_EFORMAT, "%s: read error after line %zu (corrupt file?)", path,
                        lineno);
      goto done;
    }
    if (r == 0) break;
    lineno++;
    if (ng__blank(line)) continue;
    if (!fields) {
      /* The first non-blank line fixes nothing yet: count its fields to size the arrays. */
      size_t nf = 1;
      for (const char *p = line; *p; p++) nf += *p == ',';
      if (nf > NG_CSV_MAX_FIELDS) {
        st = ng_error_set(err, NG_EFORMAT, "%s:%zu: more than %d fields", path, lineno,
                          NG_CSV_MAX_FIELDS);
        goto done;
      }
      fields = ng_malloc(NG_CSV_MAX_FIELDS * sizeof *fields);
      vals = ng_malloc(NG_CSV_MAX_FIELDS * sizeof *vals);
      if (!fields || !vals) {
        st = ng_error_set(err, NG_ENOMEM, "%s: out of memory", path);
        goto done;
      }
    }
    size_t nf = ng__split(line, fields, NG_CSV_MAX_FIELDS);
    if (nf > NG_CSV_MAX_FIELDS) {
      st = ng_error_set(err, NG_EFORMAT, "%s:%zu: more than %d fields", path, lineno,
                        NG_CSV_MAX_FIELDS);
      goto done;
    }
    size_t bad = nf;
    for (size_t i = 0; i < nf && bad == nf; i++)
      if (!ng__number(fields[i], &vals[i])) bad = i;
    if (first) {
      first = 0;
      if (bad < nf) continue; /* a header line */
    }
    if (n_cols == 0) {
      if (nf < 2) {
        st = ng_error_set(err, NG_EFORMAT,
                          "%s:%zu: a table needs a target and at least one feature column, "
                          "found %zu field",
                          path, lineno, nf);
        goto done;
      }
      n_cols = nf;
      long lc = label_col < 0 ? (long)nf + label_col : label_col;
      if (lc < 0 || lc >= (long)nf) {
        st = ng_error_set(err, NG_ERANGE, "%s: label column %d does not exist (%zu columns)",
                          path, label_col, nf);
        goto done;
      }
      target = (size_t)lc;
    }
    if (nf != n_cols) {
      st = ng_error_set(err, NG_EFORMAT, "%s:%zu: expected %zu fields, found %zu", path, lineno,
                        n_cols, nf);
      goto done;
    }
    if (bad < nf) {
      st = ng_error_set(err, NG_EFORMAT, "%s:%zu: field %zu ('%.40s') is not a number", path,
                        lineno, bad + 1, fields[bad]);
      goto done;
    }
    for (size_t i = 0; i < nf; i++)
      if (!isfinite(vals[i])) {
        st = ng_error_set(err, NG_EFORMAT, "%s:%zu: field %zu is not finite", path, lineno,
                          i + 1);
        goto done;
      }
    double t = vals[target];
    if (task == NG_TASK_CLASSIFY && !(t >= 0.0 && t < 65536.0 && t == floor(t))) {
      st = ng_error_set(err, NG_EFORMAT,
                        "%s:%zu: class label %g in column %zu is not an integer 0..65535", path,
                        lineno, t, target + 1);
      goto done;
    }
    if (rows == rows_cap) {
      size_t nc = rows_cap ? 2 * rows_cap : 64;
      if (nc > SIZE_MAX / sizeof(double) / n_cols) {
        st = ng_error_set(err, NG_ENOMEM, "%s: too many rows", path);
        goto done;
      }
      double *nt = ng_realloc(table, nc * n_cols * sizeof *nt);
      if (!nt) {
        st = ng_error_set(err, NG_ENOMEM, "%s: out of memory at line %zu", path, lineno);
        goto done;
      }
      table = nt;
      rows_cap = nc;
    }
    memcpy(table + rows * n_cols, vals, n_cols * sizeof *vals);
    rows++;
  }
  if (rows == 0) {
    st = ng_error_set(err, NG_EFORMAT, "%s: no data rows", path);
    goto done;
  }
  size_t k = 0;
  if (task == NG_TASK_CLASSIFY)
    for (size_t i = 0; i < rows; i++)
      if ((size_t)table[i * n_cols + target] + 1 > k) k = (size_t)table[i * n_cols + target] + 1;
  st = ng_dataset_alloc(ds, rows, n_cols - 1, 1, k);
  if (st != NG_OK) {
    ng_error_set(err, st, "%s: out of memory", path);
    goto done;
  }
  for (size_t i = 0; i < rows; i++) {
    const double *row = table + i * n_cols;
    double *x = ds->x + i * (n_cols - 1);
    for (size_t j = 0, o = 0; j < n_cols; j++)
      if (j != target) x[o++] = row[j];
    ds->y[i] = row[target];
  }
done:
  gzclose(f);
  ng_free(line);
  ng_free(fields);
  ng_free(vals);
  ng_free(table);
  return st;
}
