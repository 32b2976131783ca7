/* Numeric CSV tables (plain or gzip) into a data set: one target column, the rest features. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "natgrad/data.h"

/* Reads one line (without its newline) into *buf, growing it; 0 at end of file, 1 for a
 * line, -1 on an allocation or zlib error. */
static int ng__gz_getline(gzFile f, char **buf, size_t *cap) {
  size_t len = 0;
  for (;;) {
    if (*cap - len < 2) {
      size_t nc = *cap ? 2 * *cap : 256;
      char *nb = ng_realloc(*buf, nc);
      if (!nb) return -1;
      *buf = nb;
      *cap = nc;
    }
    if (!gzgets(f, *buf + len, (int)(*cap - len))) {
      int zerr;
      gzerror(f, &zerr);
      if (zerr != Z_OK && zerr != Z_STREAM_END) return -1;
      if (len == 0) return 0;
      break;
    }
    len += strlen(*buf + len);
    if (len > 0 && (*buf)[len - 1] == '\n') break;
    if (gzeof(f)) break;
  }
  while (len > 0 && ((*buf)[len - 1] == '\n' || (*buf)[len - 1] == '\r')) len--;
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

/* A table being read: its rows so far and one line's scratch. */
typedef struct {
  const char *path;
  int label_col;
  ng_task_t task;
  size_t lineno;         /* of the line being read, from 1 */
  int first;             /* no non-blank line seen yet: it may be a header */
  size_t n_cols, target; /* fixed by the first data line; 0 columns until then */
  char **fields;         /* NG_CSV_MAX_FIELDS each, allocated at the first non-blank line */
  double *vals;
  double *table; /* rows x n_cols */
  size_t rows, rows_cap;
} ng__csv_t;

static int ng__csv_too_many(const ng__csv_t *c, ng_error_t *err) {
  return ng_error_set(err, NG_EFORMAT, "%s:%zu: more than %d fields", c->path, c->lineno,
                      NG_CSV_MAX_FIELDS);
}

/* At the first non-blank line: count its fields (a line too wide fails before anything is
 * allocated), then allocate the line scratch. */
static int ng__csv_alloc_fields(ng__csv_t *c, const char *line, ng_error_t *err) {
  size_t nf = 1;
  for (const char *p = line; *p; p++) nf += *p == ',';
  if (nf > NG_CSV_MAX_FIELDS) return ng__csv_too_many(c, err);
  c->fields = ng_malloc(NG_CSV_MAX_FIELDS * sizeof *c->fields);
  c->vals = ng_malloc(NG_CSV_MAX_FIELDS * sizeof *c->vals);
  if (!c->fields || !c->vals) return ng_error_set(err, NG_ENOMEM, "%s: out of memory", c->path);
  return NG_OK;
}

/* At the first data line, of nf fields: the column count and the target column. */
static int ng__csv_set_columns(ng__csv_t *c, size_t nf, ng_error_t *err) {
  if (nf < 2)
    return ng_error_set(err, NG_EFORMAT,
                        "%s:%zu: a table needs a target and at least one feature column, "
                        "found %zu field",
                        c->path, c->lineno, nf);
  c->n_cols = nf;
  long lc = c->label_col < 0 ? (long)nf + c->label_col : c->label_col;
  if (lc < 0 || lc >= (long)nf)
    return ng_error_set(err, NG_ERANGE, "%s: label column %d does not exist (%zu columns)",
                        c->path, c->label_col, nf);
  c->target = (size_t)lc;
  return NG_OK;
}

/* A data line of nf fields, the first non-number at index bad (nf if none), parsed into
 * c->vals: the right width, every field a finite number, a class label an integer. */
static int ng__csv_check_row(const ng__csv_t *c, size_t nf, size_t bad, ng_error_t *err) {
  if (nf != c->n_cols)
    return ng_error_set(err, NG_EFORMAT, "%s:%zu: expected %zu fields, found %zu", c->path,
                        c->lineno, c->n_cols, nf);
  if (bad < nf)
    return ng_error_set(err, NG_EFORMAT, "%s:%zu: field %zu ('%.40s') is not a number",
                        c->path, c->lineno, bad + 1, c->fields[bad]);
  for (size_t i = 0; i < nf; i++)
    if (!isfinite(c->vals[i]))
      return ng_error_set(err, NG_EFORMAT, "%s:%zu: field %zu is not finite", c->path,
                          c->lineno, i + 1);
  double t = c->vals[c->target];
  if (c->task == NG_TASK_CLASSIFY && !(t >= 0.0 && t < 65536.0 && t == floor(t)))
    return ng_error_set(err, NG_EFORMAT,
                        "%s:%zu: class label %g in column %zu is not an integer 0..65535",
                        c->path, c->lineno, t, c->target + 1);
  return NG_OK;
}

/* c->vals as a new row of the table, which doubles when full. */
static int ng__csv_append(ng__csv_t *c, ng_error_t *err) {
  if (c->rows == c->rows_cap) {
    size_t nc = c->rows_cap ? 2 * c->rows_cap : 64;
    if (nc > SIZE_MAX / sizeof(double) / c->n_cols)
      return ng_error_set(err, NG_ENOMEM, "%s: too many rows", c->path);
    double *nt = ng_realloc(c->table, nc * c->n_cols * sizeof *nt);
    if (!nt)
      return ng_error_set(err, NG_ENOMEM, "%s: out of memory at line %zu", c->path, c->lineno);
    c->table = nt;
    c->rows_cap = nc;
  }
  memcpy(c->table + c->rows * c->n_cols, c->vals, c->n_cols * sizeof *c->vals);
  c->rows++;
  return NG_OK;
}

/* One non-blank line (split in place): skipped if it is a header (a first line with a
 * field that is not a number), else checked and appended. */
static int ng__csv_line(ng__csv_t *c, char *line, ng_error_t *err) {
  int st;
  if (!c->fields && (st = ng__csv_alloc_fields(c, line, err))) return st;
  size_t nf = ng__split(line, c->fields, NG_CSV_MAX_FIELDS);
  if (nf > NG_CSV_MAX_FIELDS) return ng__csv_too_many(c, err);
  size_t bad = nf;
  for (size_t i = 0; i < nf && bad == nf; i++)
    if (!ng__number(c->fields[i], &c->vals[i])) bad = i;
  if (c->first) {
    c->first = 0;
    if (bad < nf) return NG_OK; /* a header line */
  }
  if (c->n_cols == 0 && (st = ng__csv_set_columns(c, nf, err))) return st;
  if ((st = ng__csv_check_row(c, nf, bad, err))) return st;
  return ng__csv_append(c, err);
}

/* The table into ds: the target column to y, the others to x in order; k classes = the
 * largest label + 1 (0 for regression). */
static int ng__csv_to_dataset(const ng__csv_t *c, ng_dataset_t *ds, ng_error_t *err) {
  if (c->rows == 0) return ng_error_set(err, NG_EFORMAT, "%s: no data rows", c->path);
  const size_t n_cols = c->n_cols, target = c->target;
  size_t k = 0;
  if (c->task == NG_TASK_CLASSIFY)
    for (size_t i = 0; i < c->rows; i++)
      if ((size_t)c->table[i * n_cols + target] + 1 > k)
        k = (size_t)c->table[i * n_cols + target] + 1;
  int st = ng_dataset_alloc(ds, c->rows, n_cols - 1, 1, k);
  if (st != NG_OK) return ng_error_set(err, st, "%s: out of memory", c->path);
  for (size_t i = 0; i < c->rows; i++) {
    const double *row = c->table + i * n_cols;
    double *x = ds->x + i * (n_cols - 1);
    for (size_t j = 0, o = 0; j < n_cols; j++)
      if (j != target) x[o++] = row[j];
    ds->y[i] = row[target];
  }
  return NG_OK;
}

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
  ng__csv_t c = {.path = path, .label_col = label_col, .task = task, .first = 1};
  char *line = NULL;
  size_t cap = 0;
  int st;
  for (;;) {
    int r = ng__gz_getline(f, &line, &cap);
    if (r < 0) {
      st = ng_error_set(err, NG_EFORMAT, "%s: read error after line %zu (corrupt file?)", path,
                        c.lineno);
      break;
    }
    if (r == 0) {
      st = ng__csv_to_dataset(&c, ds, err);
      break;
    }
    c.lineno++;
    if (ng__blank(line)) continue;
    if ((st = ng__csv_line(&c, line, err))) break;
  }
  gzclose(f);
  ng_free(line);
  ng_free(c.fields);
  ng_free(c.vals);
  ng_free(c.table);
  return st;
}
