/* natgrad data: supervised data sets in memory, the IDX and CSV readers that fill them, a
 * seeded train/test split, feature standardisation and seeded minibatches.
 *
 * A data set is two row-major arrays of doubles:
 *     x   n x n_features     the inputs
 *     y   n x n_targets      classification: one column holding the class 0..n_classes-1
 *                            (the categorical "action" layout of dist.h); regression: the
 *                            n_targets real targets (a Gaussian's action layout)
 * so that -log p(y | x) of a model (model.h) is the loss of either task.
 *
 * Readers (IDX as used by MNIST and Fashion-MNIST; CSV for small numeric tables) accept plain
 * or gzip-compressed files (zlib detects which), validate everything they read and report
 * failures in an ng_error_t naming the file and what is wrong ("truncated", "bad magic",
 * "line 7: expected 5 fields, found 4"). They allocate through ng_malloc; free the result
 * with ng_dataset_free. Nothing here prints.
 */
#ifndef NATGRAD_DATA_H
#define NATGRAD_DATA_H

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t n;          /* rows */
  size_t n_features; /* columns of x */
  size_t n_targets;  /* columns of y (1 for classification) */
  size_t n_classes;  /* classification: number of classes (labels are 0..n_classes-1);
                        0 for regression */
  double *x;         /* n x n_features, owned */
  double *y;         /* n x n_targets, owned */
} ng_dataset_t;

/* Allocates x and y for n rows (contents zero). NG_EINVAL for zero widths. ds->n may be 0. */
int ng_dataset_alloc(ng_dataset_t *ds, size_t n, size_t n_features, size_t n_targets,
                     size_t n_classes);
/* Frees x and y and zeroes the struct (NULL or an already freed set is fine). */
void ng_dataset_free(ng_dataset_t *ds);

/* ---- IDX ----------------------------------------------------------------------------------- */

/* An IDX file: magic 0x00 0x00 TYPE NDIMS, NDIMS big-endian u32 sizes, then the values in
 * row-major order, big-endian. TYPE is 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32 or
 * 0x0E f64; 1 <= NDIMS <= 8. Values are converted to doubles. */
#define NG_IDX_MAX_DIMS 8
typedef struct {
  int type;                      /* the TYPE byte */
  size_t ndims;
  size_t dims[NG_IDX_MAX_DIMS];
  size_t count;                  /* product of dims */
  double *data;                  /* count doubles, owned (free with ng_idx_free) */
} ng_idx_t;

/* Reads path (plain or gzip). NG_ENOTFOUND if it cannot be opened; NG_EFORMAT for a bad
 * magic, unknown type, zero or absurd dims, fewer bytes than the dims promise ("truncated")
 * or bytes after the last value; NG_ENOMEM. On failure idx holds nothing to free. */
int ng_idx_read(const char *path, ng_idx_t *idx, ng_error_t *err);
void ng_idx_free(ng_idx_t *idx);

/* Writes an IDX file of u8 values (for tests and small tools): ndims sizes in dims, count
 * values in data, each an integer in [0, 255]. Plain, uncompressed. */
int ng_idx_write_u8(const char *path, size_t ndims, const size_t *dims, const double *data,
                    ng_error_t *err);

/* An image/label pair as MNIST ships it: images (n, rows, cols) of u8 (or n x d of any
 * type), labels (n) of integers in [0, 255]. x = image / pixel_scale (255 maps bytes to
 * [0, 1]; use 1 to keep raw values); y = the label; n_classes = max label + 1, or
 * min_classes if that is larger (a small subset may miss the top classes). NG_EFORMAT if the
 * counts differ or a label is not a non-negative integer. */
int ng_data_load_idx(const char *images_path, const char *labels_path, double pixel_scale,
                     size_t min_classes, ng_dataset_t *ds, ng_error_t *err);

/* The four MNIST-style files in dir: train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each with or without ".gz". Pixels are
 * scaled to [0, 1]; 10 classes at least. NG_ENOTFOUND names the first missing file. */
int ng_data_load_mnist_dir(const char *dir, ng_dataset_t *train, ng_dataset_t *test,
                           ng_error_t *err);

/* Where Debian's dataset-fashion-mnist package puts the files. */
#define NG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ---- CSV ----------------------------------------------------------------------------------- */

typedef enum { NG_TASK_CLASSIFY = 0, NG_TASK_REGRESS = 1 } ng_task_t;

/* A numeric table, one row per line, fields separated by commas (spaces around a field are
 * ignored; blank lines are skipped). If the first line has a field that is not a number it
 * is a header and is skipped (so scikit-learn's files, whose first line reads
 * "150,4,setosa,versicolor,virginica", load as they are). Every other line must have the
 * same number of fields, each a finite number.
 *   label_col: the target column; negative counts from the end (-1: the last).
 *   task: NG_TASK_CLASSIFY: the target must be a non-negative integer < 65536, n_classes =
 *         max + 1; NG_TASK_REGRESS: any finite number, n_targets = 1.
 * The remaining columns, in order, are the features. NG_EFORMAT with "PATH:LINE: ..." for
 * a malformed line, NG_ENOTFOUND if the file cannot be opened. */
int ng_data_load_csv(const char *path, int label_col, ng_task_t task, ng_dataset_t *ds,
                     ng_error_t *err);

/* ---- splitting, subsets, standardisation ---------------------------------------------------- */

/* Shuffles the rows of src with a stream seeded by (seed, 0) and puts the first
 * round(test_fraction * n) of them in test, the rest in train (both newly allocated; src
 * is unchanged). 0 < test_fraction < 1 and both parts must be non-empty. */
int ng_data_split(const ng_dataset_t *src, double test_fraction, uint64_t seed,
                  ng_dataset_t *train, ng_dataset_t *test);

/* Keeps only the first n rows of ds (no-op if n >= ds->n; n >= 1). */
int ng_data_truncate(ng_dataset_t *ds, size_t n);

/* Per-feature mean and standard deviation of train (a std below 1e-8 is taken as 1, so
 * constant columns pass through centred), then x <- (x - mean) / std on train and, if non-NULL, on
 * test with train's statistics. mean and std may be NULL; else n_features doubles each. */
int ng_data_standardize(ng_dataset_t *train, ng_dataset_t *test, double *mean, double *std);

/* ---- a data source -------------------------------------------------------------------------- */

/* Where a training run's data come from and how they are split and scaled. */
typedef struct {
  const char *path;     /* a folder of MNIST-style IDX files (its own test set), or a CSV */
  ng_task_t task;       /* CSV: what the target column holds */
  int label_col;        /* CSV: the target column, negative from the end */
  double test_fraction; /* CSV: the share of rows held out for testing, in (0, 1) */
  uint64_t seed;        /* CSV: the split's shuffle */
  int standardize;      /* CSV: features (and regression targets) to zero mean, unit std,
                           with the training rows' statistics */
  size_t limit, test_limit; /* keep only the first rows (0: all) */
} ng_data_source_t;

/* Loads train and test as s says; *y_scale is the factor from the model's regression
 * targets back to the data's units (1 unless they were standardised). A table needs at
 * least 2 rows. Errors name the file and line (NG_ENOTFOUND, NG_EFORMAT, NG_ENOMEM); on
 * failure train and test hold nothing. */
int ng_data_load_source(const ng_data_source_t *s, ng_dataset_t *train, ng_dataset_t *test,
                        double *y_scale, ng_error_t *err);

/* ---- minibatches --------------------------------------------------------------------------- */

/* Seeded minibatches: epoch e visits the rows in the order of a Fisher-Yates permutation
 * drawn from a stream seeded by (seed, e + 1), in consecutive batches of `batch` rows (the
 * last may be shorter). The order depends only on (seed, e, n), so a run resumed at batch k
 * of epoch e sees exactly the rows the uninterrupted run saw. */
typedef struct ng_batcher ng_batcher_t;

int ng_batcher_create(ng_batcher_t **out, size_t n, size_t batch, uint64_t seed);
void ng_batcher_destroy(ng_batcher_t *b);
/* Batches per epoch: ceil(n / batch). */
size_t ng_batcher_n_batches(const ng_batcher_t *b);
/* Sets the position to batch k (0 <= k <= n_batches) of epoch e, drawing its permutation. */
int ng_batcher_seek(ng_batcher_t *b, uint64_t epoch, size_t k);
/* Copies the next batch's rows of ds into x (batch x n_features) and y (batch x n_targets)
 * and sets *rows; *rows = 0 at the end of the epoch (seek to the next one). ds->n must be
 * the n the batcher was created for. */
int ng_batcher_next(ng_batcher_t *b, const ng_dataset_t *ds, double *x, double *y,
                    size_t *rows);
/* The position: epoch and batch index of the next batch. */
uint64_t ng_batcher_epoch(const ng_batcher_t *b);
size_t ng_batcher_index(const ng_batcher_t *b);

#ifdef __cplusplus
}
#endif
#endif
