/* A fit run's description as keys (natgrad/keys.h): what config.ini and the checkpoint's
 * text hold, read back by --resume. The run's own keys come first, then the optimiser's. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "natgrad/supervised.h"

static const char *const ng__act_names[] = {"tanh", "relu", NULL};          /* NG_ACT_TANH + i */
static const char *const ng__task_names[] = {"classify", "regress", NULL};  /* ng_task_t */
static const char *const ng__variance_names[] = {"fixed", "learned", NULL}; /* ng_variance_t */

#define OFF(f) offsetof(ng_fit_run_config_t, f)
#define STR(name_, dflt_, doc_)                                                               \
  {.name = #name_, .type = NG_KEY_STRING, .offset = OFF(name_),                               \
   .size = sizeof ((ng_fit_run_config_t *)0)->name_, .dflt = dflt_, .doc = doc_}
#define NUM(name_, type_, lo_, hi_, lo_open_, hi_open_, dflt_, doc_)                          \
  {.name = #name_, .type = type_, .offset = OFF(name_), .lo = lo_, .hi = hi_,                 \
   .lo_open = lo_open_, .hi_open = hi_open_, .dflt = dflt_, .doc = doc_}
#define CHOICE(name_, lo_, names_, dflt_, doc_)                                               \
  {.name = #name_, .type = NG_KEY_CHOICE, .offset = OFF(name_), .lo = lo_, .choices = names_, \
   .dflt = dflt_, .doc = doc_}
static const ng_key_t ng__keys[] = {
    STR(data, "", "fashion-mnist, a folder of IDX files or a CSV table (an absolute path)"),
    STR(model, "auto-256-auto", "layer widths, e.g. 784-256-10; 'auto' ends take the data's"),
    CHOICE(act, NG_ACT_TANH, ng__act_names, "relu", "hidden activation: tanh|relu"),
    CHOICE(task, NG_TASK_CLASSIFY, ng__task_names, "classify", "CSV target: classify|regress"),
    CHOICE(variance, NG_VARIANCE_FIXED, ng__variance_names, "fixed",
           "regression: fixed sigma = 1, or a learned log std"),
    STR(name, "", "the run's name, for plots"),
    NUM(batch, NG_KEY_LONG, 1, 1e6, 0, 0, "256", "minibatch rows"),
    NUM(seed, NG_KEY_U64, 0, 0, 0, 0, "0", "initial weights, batches, sampling, the CSV split"),
    NUM(limit, NG_KEY_LONG, 0, 1e15, 0, 0, "0", "use only the first N training rows (0: all)"),
    NUM(test_limit, NG_KEY_LONG, 0, 1e15, 0, 0, "0", "use only the first N test rows (0: all)"),
    NUM(label_col, NG_KEY_INT, -100000, 100000, 0, 0, "-1",
        "CSV target column, negative from the end"),
    NUM(test_fraction, NG_KEY_DOUBLE, 0, 1, 1, 1, "0.2", "CSV rows held out for testing"),
    NUM(standardize, NG_KEY_FLAG, 0, 1, 0, 0, "1",
        "CSV: features (and regression targets) to zero mean, unit std"),
    NUM(epochs, NG_KEY_LONG, 0, 1e6, 0, 0, "10", "epochs in all"),
    /* last: written only when set, so runs from before it keep their text */
    NUM(slices, NG_KEY_INT, 0, NG_SLICES_MAX, 0, 0, "0",
        "minibatch passes in S slices, split over MPI ranks (0: one process only)"),
};
#undef OFF
#undef STR
#undef NUM
#undef CHOICE

static const ng_key_table_t ng__table = {"fit", ng__keys, sizeof ng__keys / sizeof ng__keys[0]};

const ng_key_table_t *ng_fit_run_keys(void) { return &ng__table; }

int ng_fit_run_config_default(ng_fit_run_config_t *c, ng_error_t *err) {
  if (!c) return ng_error_set(err, NG_EINVAL, "fit: NULL argument");
  memset(c, 0, sizeof *c);
  int st = ng_keys_defaults(&ng__table, c, err);
  if (st) return st;
  if (ng_sup_opt_config_default(&c->opt, NG_OPT_KFAC) != NG_OK)
    return ng_error_set(err, NG_EINVAL, "fit: no optimiser defaults");
  return NG_OK;
}

int ng_fit_run_config_set(ng_fit_run_config_t *c, const char *key, const char *value,
                          ng_error_t *err) {
  if (!c || !key || !value) return ng_error_set(err, NG_EINVAL, "fit: NULL argument");
  if (ng_keys_find(&ng__table, key)) return ng_keys_set(&ng__table, c, key, value, err);
  return ng_sup_opt_config_set(&c->opt, key, value, err);
}

/* The optimiser's seed is the run's (both tables call it `seed`): written once, as the run's. */
size_t ng_fit_run_config_format(const ng_fit_run_config_t *c, char *buf, size_t size) {
  if (!c) return 0;
  ng_key_table_t run = ng__table;
  if (!c->slices) run.n--;
  size_t n = ng_keys_format(&run, c, buf, size);
  ng_key_table_t opt = *ng_sup_opt_config_keys();
  opt.n--; /* its last key is seed */
  return n + ng_keys_format(&opt, &c->opt, n < size ? buf + n : NULL, n < size ? size - n : 0);
}

/* Checkpoints written before the run's keys were one table carry the optimiser's seed again
 * after its `kind` line: the same value, dropped here so the text has each key once. */
static size_t drop_old_seed(const char *text, size_t len, char *out) {
  size_t n = 0;
  int after_kind = 0;
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(text + i, '\n', len - i);
    size_t l = nl ? (size_t)(nl - (text + i)) + 1 : len - i;
    int seed = l >= 7 && !strncmp(text + i, "seed = ", 7);
    if (!(seed && after_kind)) {
      memcpy(out + n, text + i, l);
      n += l;
    }
    if (l >= 7 && !strncmp(text + i, "kind = ", 7)) after_kind = 1;
    i += l;
  }
  return n;
}

int ng_fit_run_config_parse(ng_fit_run_config_t *c, const char *text, size_t len,
                            const char *source, ng_error_t *err) {
  int st = ng_fit_run_config_default(c, err);
  if (st) return st;
  if (!text || len > NG_KV_MAX_TEXT)
    return ng_error_set(err, NG_EFORMAT, "%s: missing or larger than 1 MiB", source);
  char *clean = ng_malloc(len + 1);
  if (!clean) return ng_error_set(err, NG_ENOMEM, "%s: out of memory", source);
  ng_kv_list_t l;
  st = ng_kv_parse(&l, clean, drop_old_seed(text, len, clean), source, NULL, err);
  ng_free(clean);
  if (st) return st;
  for (size_t i = 0; !st && i < l.n; i++) {
    ng_error_t e;
    ng_error_clear(&e);
    st = ng_fit_run_config_set(c, l.items[i].key, l.items[i].value, &e);
    if (st) ng_error_set(err, st, "%s:%d: %s", source, l.items[i].line, e.message);
  }
  ng_kv_free(&l);
  c->opt.seed = c->seed;
  return st;
}

int ng_fit_run_config_check(const ng_fit_run_config_t *c, ng_error_t *err) {
  if (!c) return ng_error_set(err, NG_EINVAL, "fit: NULL argument");
  int st = ng_keys_check(&ng__table, c, err);
  if (st) return st;
  if (!c->data[0])
    return ng_error_set(err, NG_EINVAL, "no data: pass --data fashion-mnist, a folder or a CSV "
                        "file");
  if (!c->name[0] || strchr(c->name, '/') || c->name[0] == '.')
    return ng_error_set(err, NG_EINVAL, "--name: '%s' is not a plain file name", c->name);
  if (c->slices && c->opt.kind == NG_OPT_DIAG_NG && c->opt.fisher == NG_FISHER_TRUE &&
      c->opt.fisher_samples == 0)
    return ng_error_set(err, NG_EINVAL, "slices: diag-ng's exact diagonal reads every row and "
                        "cannot be split; set fisher_samples > 0, or slices = 0");
  return ng_sup_opt_config_check(&c->opt, err);
}
