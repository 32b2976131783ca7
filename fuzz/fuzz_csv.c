/* Fuzz target: the CSV reader (ng_data_load_csv), through a file as `natgrad fit` reads it.
 *
 * Input: one mode byte, then the file. Mode bit 0 gzip-compresses the file before it is
 * written (the reader takes both); bit 1 picks the task (0 classify, 1 regress); bits 2-4
 * the label column, -4..3. Invariants beyond "no crash, no leak":
 *   - a failure is a documented status with a message and leaves nothing behind;
 *   - the reader agrees with a reference parser written here from data.h's description of
 *     the format (lines split at '\n', trailing '\r' dropped, blank lines skipped, a first
 *     line with a non-number is a header, every other line the same number of finite
 *     numbers; a NUL byte is no part of a text table): it accepts exactly the files the
 *     reference accepts (unless memory ran out), with the same rows, features, targets and
 *     classes, bit for bit. Numbers are strtod's in both. */
#include <math.h>

#include "fuzz.h"
#include "natgrad/data.h"

#define MAX_FIELDS 100000 /* csv.c's NG_CSV_MAX_FIELDS */

static char g_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ng_fuzz_alloc_install();
  ng_fuzz_temp_path(g_path, sizeof g_path, "csv");
  return 0;
}

/* A number with blanks (space, tab) around it, as data.h describes a field. */
static int ref_number(const char *s, const char *end, double *v) {
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
  if (s == end) return 0;
  char buf[512];
  if ((size_t)(end - s) >= sizeof buf) {
    /* long fields: strtod on a copy of any length */
    char *big = malloc((size_t)(end - s) + 1);
    if (!big) return 0;
    memcpy(big, s, (size_t)(end - s));
    big[end - s] = '\0';
    char *e;
    *v = strtod(big, &e);
    int ok = e != big && *e == '\0';
    free(big);
    return ok;
  }
  memcpy(buf, s, (size_t)(end - s));
  buf[end - s] = '\0';
  char *e;
  *v = strtod(buf, &e);
  return e != buf && *e == '\0';
}

/* The reference: 1 if text[0, n) is a valid table for (label_col, task); the rows in
 * *table (malloc'ed, rows x cols doubles), with *rows and *cols. */
static int ref_parse(const char *text, size_t n, int label_col, ng_task_t task, double **table,
                     size_t *rows, size_t *cols) {
  *table = NULL;
  *rows = *cols = 0;
  if (memchr(text, '\0', n)) return 0;
  size_t cap = 0;
  int first = 1;
  double *vals = NULL;
  for (const char *line = text; line < text + n;) {
    const char *nl = memchr(line, '\n', (size_t)(text + n - line));
    const char *end = nl ? nl : text + n, *next = nl ? nl + 1 : text + n;
    while (end > line && end[-1] == '\r') end--;
    const char *q = line;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    if (q == end) {
      line = next;
      continue;
    }
    size_t nf = 1;
    for (const char *c = line; c < end; c++) nf += *c == ',';
    if (nf > MAX_FIELDS) goto fail;
    double *nv = realloc(vals, nf * sizeof *nv);
    if (!nv) goto fail;
    vals = nv;
    int numeric = 1;
    const char *f = line;
    for (size_t i = 0; i < nf; i++) {
      const char *c = memchr(f, ',', (size_t)(end - f));
      const char *fe = c ? c : end;
      if (!ref_number(f, fe, &vals[i])) numeric = 0;
      f = fe + 1;
    }
    if (first) {
      first = 0;
      if (!numeric) {
        line = next;
        continue;
      }
    }
    if (*cols == 0) *cols = nf;
    long lc = label_col < 0 ? (long)nf + label_col : label_col;
    if (nf < 2 || nf != *cols || !numeric || lc < 0 || lc >= (long)nf) goto fail;
    for (size_t i = 0; i < nf; i++)
      if (!isfinite(vals[i])) goto fail;
    double t = vals[lc];
    if (task == NG_TASK_CLASSIFY && !(t >= 0.0 && t < 65536.0 && t == floor(t))) goto fail;
    if (*rows == cap) {
      cap = cap ? 2 * cap : 16;
      double *nt = realloc(*table, cap * nf * sizeof *nt);
      if (!nt) goto fail;
      *table = nt;
    }
    memcpy(*table + *rows * nf, vals, nf * sizeof *vals);
    (*rows)++;
    line = next;
  }
  free(vals);
  return *rows > 0;
fail:
  free(vals);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const unsigned mode = data[0];
  const int gz = mode & 1;
  const ng_task_t task = (mode & 2) ? NG_TASK_REGRESS : NG_TASK_CLASSIFY;
  const int label_col = (int)((mode >> 2) & 7) - 4;
  const char *text = (const char *)data + 1;
  const size_t n = size - 1;
  /* A plain file that starts like gzip is decompressed by zlib: no reference for it. */
  const int comparable = gz || n < 2 || (uint8_t)text[0] != 0x1f || (uint8_t)text[1] != 0x8b;
  if (ng_fuzz_write_file(g_path, text, n, gz) != 0) return 0;
  ng_dataset_t ds;
  ng_error_t err;
  ng_error_clear(&err);
  int s = ng_data_load_csv(g_path, label_col, task, &ds, &err);
  remove(g_path);
  if (s != NG_OK) {
    NG_FUZZ_ASSERT(err.status == s && err.message[0] != '\0');
    NG_FUZZ_ASSERT(s == NG_EFORMAT || s == NG_ERANGE || s == NG_ENOMEM);
    NG_FUZZ_ASSERT(ds.x == NULL && ds.y == NULL && ds.n == 0);
  }
  if (s != NG_ENOMEM && comparable) {
    double *table;
    size_t rows, cols;
    int ok = ref_parse(text, n, label_col, task, &table, &rows, &cols);
    NG_FUZZ_ASSERT(ok == (s == NG_OK));
    if (ok) {
      const size_t lc = label_col < 0 ? (size_t)((long)cols + label_col) : (size_t)label_col;
      size_t k = 0;
      NG_FUZZ_ASSERT(ds.n == rows && ds.n_features == cols - 1 && ds.n_targets == 1);
      for (size_t i = 0; i < rows; i++) {
        const double *row = table + i * cols;
        for (size_t j = 0, o = 0; j < cols; j++) {
          if (j == lc) continue;
          NG_FUZZ_ASSERT(memcmp(&ds.x[i * (cols - 1) + o++], &row[j], sizeof *row) == 0);
        }
        NG_FUZZ_ASSERT(memcmp(&ds.y[i], &row[lc], sizeof *row) == 0);
        if (task == NG_TASK_CLASSIFY && (size_t)row[lc] + 1 > k) k = (size_t)row[lc] + 1;
      }
      NG_FUZZ_ASSERT(ds.n_classes == k);
    }
    free(table);
  }
  ng_dataset_free(&ds);
  ng_fuzz_alloc_check("fuzz_csv");
  return 0;
}
