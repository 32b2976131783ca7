/* A fit run's data: a folder of IDX files or a CSV table, split and scaled as the run says. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "natgrad/data.h"

/* Regression targets to zero mean and unit variance on train (test with train's numbers), so
 * a fixed sigma = 1 and the default step sizes suit any table; *scale gets the first
 * target's std, to report RMSE in the data's units. */
static void standardize_targets(ng_dataset_t *train, ng_dataset_t *test, double *scale) {
  size_t t = train->n_targets;
  for (size_t j = 0; j < t; j++) {
    double mu = 0, var = 0;
    for (size_t i = 0; i < train->n; i++) mu += train->y[i * t + j];
    mu /= (double)train->n;
    for (size_t i = 0; i < train->n; i++)
      var += (train->y[i * t + j] - mu) * (train->y[i * t + j] - mu);
    double sd = sqrt(var / (double)train->n);
    if (!(sd >= 1e-12)) sd = 1.0;
    for (size_t i = 0; i < train->n; i++) train->y[i * t + j] = (train->y[i * t + j] - mu) / sd;
    for (size_t i = 0; i < test->n; i++) test->y[i * t + j] = (test->y[i * t + j] - mu) / sd;
    if (j == 0) *scale = sd;
  }
}

/* A CSV table split into train and test, then scaled. */
static int load_table(const ng_data_source_t *s, ng_dataset_t *train, ng_dataset_t *test,
                      double *y_scale, ng_error_t *err) {
  ng_dataset_t all;
  int st = ng_data_load_csv(s->path, s->label_col, s->task, &all, err);
  if (st) return st;
  if (all.n < 2) {
    st = ng_error_set(err, NG_EFORMAT, "%s: %zu data row%s (after any header line): at least 2 "
                      "are needed to split off a test set", s->path, all.n,
                      all.n == 1 ? "" : "s");
    ng_dataset_free(&all);
    return st;
  }
  st = ng_data_split(&all, s->test_fraction, s->seed, train, test);
  ng_dataset_free(&all);
  if (st)
    return ng_error_set(err, st, "%s: cannot split %g of the rows off as a test set", s->path,
                        s->test_fraction);
  if (s->standardize) {
    if ((st = ng_data_standardize(train, test, NULL, NULL)))
      return ng_error_set(err, st, "%s: cannot standardise the features", s->path);
    if (s->task == NG_TASK_REGRESS) standardize_targets(train, test, y_scale);
  }
  return NG_OK;
}

int ng_data_load_source(const ng_data_source_t *s, ng_dataset_t *train, ng_dataset_t *test,
                        double *y_scale, ng_error_t *err) {
  if (!s || !s->path || !train || !test || !y_scale)
    return ng_error_set(err, NG_EINVAL, "data: NULL argument");
  memset(train, 0, sizeof *train);
  memset(test, 0, sizeof *test);
  *y_scale = 1.0;
  struct stat sb;
  int st = stat(s->path, &sb) == 0 && S_ISDIR(sb.st_mode)
               ? ng_data_load_mnist_dir(s->path, train, test, err)
               : load_table(s, train, test, y_scale, err);
  if (st) {
    ng_dataset_free(train);
    ng_dataset_free(test);
    return st;
  }
  if (s->limit > 0) ng_data_truncate(train, s->limit);
  if (s->test_limit > 0) ng_data_truncate(test, s->test_limit);
  return NG_OK;
}
