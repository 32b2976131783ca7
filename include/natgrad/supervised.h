/* natgrad supervised: training a model (model.h) on a data set (data.h) by minimising the
 * negative log-likelihood, with first-order and natural-gradient optimisers behind one step.
 *
 * Losses as distributions. The model maps x to a distribution p_theta(. | x) and the loss of
 * a batch is
 *     L(theta) = -(1/B) sum_b log p_theta(y_b | x_b) + (weight_decay / 2) ||theta||^2
 *   classification: categorical over logits  -> cross-entropy;
 *   regression:     Gaussian (state-independent log std in the model's head) -> squared
 *                   error / (2 sigma^2) + log sigma + const. For FIXED variance freeze the
 *                   head with ng_sup_opt_set_trainable (log std 0: half the squared error);
 *                   for learned variance leave it trainable.
 * Because the loss is a log-likelihood, its Fisher is the model's F = mean J^T M J of
 * fisher.h, and for these two (canonical) heads F is also the Gauss-Newton matrix of L.
 *
 * Optimisers (ng_opt_kind_t), each one call ng_sup_opt_step(theta, batch):
 *   sgd      v <- momentum v + g;  theta -= lr v
 *   adam     Adam with bias correction (Kingma & Ba)
 *   diag-ng  s = g / (diag(F) + lambda), F's diagonal a running average over batches
 *   cg-ng    s = (F + lambda I)^{-1} g by truncated CG on exact Fisher-vector products at the
 *            current batch (fisher.h): a truncated-Newton (Hessian-free style) step
 *   kfac     K-FAC: per dense layer F_l ~ A_l (x) G_l with A = E[a a^T] over the layer's
 *            inputs (with a 1 appended for the bias) and G = E[g g^T] over the gradients g of
 *            -log p(y~ | x) w.r.t. the layer's pre-activations, y~ SAMPLED FROM THE MODEL
 *            (the true Fisher); running averages; factored Tikhonov damping
 *            (A + pi gamma I) (x) (G + gamma/pi I), gamma = sqrt(lambda + weight_decay);
 *            inverses refreshed every inverse_every steps.
 * then, for the three natural-gradient kinds: KL clipping (if kl_clip > 0) scales s by
 * nu = min(1, sqrt(2 kl_clip / (lr^2 g.s))) so the step's quadratic KL estimate stays
 * <= kl_clip; momentum v <- momentum v + nu s; theta -= lr v. lambda adapts by
 * Levenberg-Marquardt (adapt_damping): every damping_every steps the reduction ratio
 *     rho = (L(theta + d) - L(theta)) / (g.d + 1/2 d^T (F + lambda I) d)
 * of the step d just taken is measured on the same batch with the exact F; rho > 3/4
 * multiplies lambda by omega = lm_factor^damping_every, rho < 1/4 divides by it.
 *
 * The true Fisher versus the empirical Fisher. F = E_x E_{y~p_theta(.|x)}[grad log p grad
 * log p^T] takes the expectation over labels drawn from the MODEL. The "empirical Fisher"
 * puts the data's labels y in place of y~: a different matrix (it is not a Gauss-Newton
 * matrix, is rank-deficient for a batch, and does not track the curvature of L away from
 * a perfect fit). natgrad uses it only when asked, under that name: fisher =
 * NG_FISHER_EMPIRICAL (for diag-ng and kfac). cg-ng always uses the exact F of fisher.h.
 *
 * Memory: everything is allocated in *_create; a step allocates nothing.
 */
#ifndef NATGRAD_SUPERVISED_H
#define NATGRAD_SUPERVISED_H

#include "natgrad/core.h"
#include "natgrad/data.h"
#include "natgrad/keys.h"
#include "natgrad/kfac.h"
#include "natgrad/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- loss and metrics ---------------------------------------------------------------------- */

/* *loss = -(1/B) sum_b log p(y_b | x_b) (no weight decay) and, if grad is non-NULL,
 * grad = its gradient (OVERWRITES, n_params). One forward (kept in ws) and one backward. */
int ng_sup_loss_grad(const ng_model_t *m, ng_model_ws_t *ws, const double *theta, size_t batch,
                     const double *x, const double *y, double *loss, double *grad);

typedef struct {
  double loss;     /* mean -log p(y | x) over the rows */
  double accuracy; /* classification (categorical): fraction whose most likely class is the
                      label; NAN for other heads */
  double rmse;     /* regression (Gaussian): root mean squared error of the mean; NAN for
                      other heads */
  size_t n;        /* rows evaluated */
} ng_sup_metrics_t;

/* Metrics of theta on every row of ds, in chunks of the workspace's max batch. */
int ng_sup_evaluate(const ng_model_t *m, ng_model_ws_t *ws, const double *theta,
                    const ng_dataset_t *ds, ng_sup_metrics_t *out);

/* ---- optimiser configuration ------------------------------------------------------------------ */

typedef enum {
  NG_OPT_SGD = 0,
  NG_OPT_ADAM = 1,
  NG_OPT_DIAG_NG = 2,
  NG_OPT_CG_NG = 3,
  NG_OPT_KFAC = 4
} ng_opt_kind_t;
#define NG_OPT_KINDS 5

/* "sgd", "adam", "diag-ng", "cg-ng", "kfac"; NG_EINVAL for anything else. */
int ng_opt_parse(const char *name, ng_opt_kind_t *kind);
const char *ng_opt_name(ng_opt_kind_t kind);

typedef struct {
  ng_opt_kind_t kind;
  double lr;            /* step size (every kind) */
  double momentum;      /* sgd, diag-ng, cg-ng, kfac: heavy-ball coefficient in [0, 1) */
  double beta1, beta2;  /* adam */
  double eps;           /* adam */
  double weight_decay;  /* L2 coefficient in the loss (every kind; NG kinds add it to lambda) */
  double damping;       /* lambda: initial Tikhonov damping (natural-gradient kinds), > 0 */
  int adapt_damping;    /* 1: Levenberg-Marquardt adaptation of lambda */
  int damping_every;    /* adapt every this many steps (>= 1) */
  double lm_factor;     /* omega per step, in (0, 1): omega = lm_factor^damping_every */
  double damping_min, damping_max; /* lambda is kept in [min, max] */
  double stat_decay;    /* diag-ng, kfac: running-average decay of curvature statistics */
  int stats_every;      /* diag-ng, kfac: update the statistics every this many steps */
  int inverse_every;    /* kfac: recompute the damped inverses every this many steps */
  int fisher_samples;   /* diag-ng, kfac: labels sampled per row; 0 = exact expectation
                           over the model's distribution (one backward per distribution
                           parameter: exact but slower) */
  ng_fisher_kind_t fisher; /* diag-ng, kfac */
  double kl_clip;       /* diag-ng, cg-ng, kfac: 0 = off */
  int cg_iters;         /* cg-ng: CG iterations per step (truncation) */
  double cg_tol;        /* cg-ng: stop when ||r||^2 <= cg_tol ||g||^2 */
  size_t fisher_batch;  /* cg-ng: rows of the batch used for Fisher products (0 = all) */
  uint64_t seed;        /* stream for sampled labels and sub-sampling */
} ng_sup_opt_config_t;

/* Defaults for kind (tuned on Fashion-MNIST MLPs; see docs/supervised.md). */
int ng_sup_opt_config_default(ng_sup_opt_config_t *c, ng_opt_kind_t kind);
/* Sets one field by name, as in ng_sup_opt_config_format's output ("lr", "momentum",
 * "damping", "fisher" = true|empirical, "kind" = sgd|..., ...). NG_ENOTFOUND for an
 * unknown key, NG_EINVAL for a bad value, NG_ERANGE for one out of its key's range
 * (message in err). */
int ng_sup_opt_config_set(ng_sup_opt_config_t *c, const char *key, const char *value,
                          ng_error_t *err);
/* Checks ranges; NG_EINVAL with a message naming the key. */
int ng_sup_opt_config_check(const ng_sup_opt_config_t *c, ng_error_t *err);
/* Writes every field as "key = value\n" lines (doubles round-trip: keys.h) into buf.
 * Returns the length needed (like snprintf); NG_EINVAL (< 0) on bad arguments. */
int ng_sup_opt_config_format(const ng_sup_opt_config_t *c, char *buf, size_t size);
/* The key table behind these functions (keys.h): every setting's name, type, range,
 * generic default (before ng_sup_opt_config_default's per-kind values) and meaning. */
const ng_key_table_t *ng_sup_opt_config_keys(void);

/* ---- optimiser ---------------------------------------------------------------------------------- */

typedef struct ng_sup_opt ng_sup_opt_t;

/* An optimiser for model m (borrowed; must outlive it) over batches of up to max_batch rows.
 * The config is checked and copied. */
int ng_sup_opt_create(ng_sup_opt_t **out, const ng_model_t *m, const ng_sup_opt_config_t *cfg,
                      size_t max_batch, ng_error_t *err);
void ng_sup_opt_destroy(ng_sup_opt_t *o);
const ng_sup_opt_config_t *ng_sup_opt_config(const ng_sup_opt_t *o);

/* Which parameters move: trainable[i] != 0 (n_params bytes, copied); NULL: all. Frozen
 * parameters keep their values and take no part in the curvature (the NG kinds solve in the
 * trainable subspace; K-FAC masks its dense-layer steps, which is exact when whole blocks
 * such as the Gaussian head are frozen). */
int ng_sup_opt_set_trainable(ng_sup_opt_t *o, const unsigned char *trainable);

/* The minibatch passes' slices and their split over processes that all hold the same data
 * (core.h's ng_split_t; copied; NULL: back to one process and the default slices): the
 * loss's forward and gradient and the Fisher's point and products (sgd, adam, cg-ng, the
 * sampled or empirical diag-ng) split by slices; K-FAC's factors read every row and run
 * whole. With a split set, damping adaptation's d^T F d is d . (F d), a split product,
 * instead of the per-row sum (other rounding, the same for any process count).
 * NG_EUNSUPPORTED for diag-ng's exact diagonal (it reads every row). */
int ng_sup_opt_set_split(ng_sup_opt_t *o, const ng_split_t *sp);

typedef struct {
  double loss;       /* batch loss at theta before the step (with weight decay) */
  double grad_norm;  /* ||g|| (trainable part) */
  double step_norm;  /* ||theta_new - theta|| */
  double damping;    /* lambda in force for this step */
  double rho;        /* LM reduction ratio measured this step (NAN if none) */
  double kl_scale;   /* KL-clip factor nu applied (1 if none) */
  int cg_iterations; /* cg-ng */
  int refreshed;     /* kfac: inverses recomputed this step */
} ng_sup_step_info_t;

/* One step on a batch: X (batch x n_in), Y (batch x the dist's action size: the class, or
 * the regression targets). theta is updated in place. On an error theta is left unchanged.
 * info may be NULL. Allocation-free. */
int ng_sup_opt_step(ng_sup_opt_t *o, double *theta, size_t batch, const double *x,
                    const double *y, ng_sup_step_info_t *info);

/* Steps taken so far. */
uint64_t ng_sup_opt_steps(const ng_sup_opt_t *o);
/* The current damping lambda (NG kinds). */
double ng_sup_opt_damping(const ng_sup_opt_t *o);

/* The optimiser's whole state (step count, random stream, lambda, momentum and Adam
 * moments, curvature statistics and K-FAC inverses) as bytes, so a run restored from it
 * continues bit for bit. Little-endian, with the kind and sizes in front; ..._load checks
 * them against o (NG_EFORMAT if they differ). */
size_t ng_sup_opt_state_size(const ng_sup_opt_t *o);
int ng_sup_opt_state_save(const ng_sup_opt_t *o, void *buf, size_t size);
int ng_sup_opt_state_load(ng_sup_opt_t *o, const void *buf, size_t size);

/* ---- K-FAC on the supervised loss (natgrad/kfac.h holds K-FAC itself) -------------------- */

/* One forward and backward on the batch with K-FAC's model workspace: mean loss (no weight
 * decay) and, if grad is non-NULL, its gradient (OVERWRITES); keeps the activations for
 * ng_kfac_batch_stats. NG_EINVAL for an MLP K-FAC (ng_kfac_create_mlp). */
int ng_kfac_loss_grad(ng_kfac_t *k, const double *theta, size_t batch, const double *x,
                      const double *y, double *loss, double *grad);

/* ---- training loop, checkpoints ------------------------------------------------------------------ */

/* The position of a run: what a checkpoint needs besides theta and the optimiser. */
typedef struct {
  uint64_t epoch;        /* epochs completed */
  uint64_t batch_index;  /* batches done in the current epoch */
  uint64_t steps;        /* optimiser steps in all */
  double seconds;        /* training wall time so far (the caller's clock) */
  double epoch_loss_sum; /* sum over this epoch's batches of loss * rows */
  uint64_t epoch_rows;   /* rows seen this epoch */
} ng_fit_pos_t;

typedef struct ng_fit ng_fit_t;

/* A run over a training set of n_train rows in minibatches of `batch` (seeded by seed, see
 * ng_batcher_t) with an optimiser for m (config copied). */
int ng_fit_create(ng_fit_t **out, const ng_model_t *m, const ng_sup_opt_config_t *cfg,
                  size_t n_train, size_t batch, uint64_t seed, ng_error_t *err);
void ng_fit_destroy(ng_fit_t *f);
ng_sup_opt_t *ng_fit_opt(ng_fit_t *f);           /* borrowed: e.g. to set a mask */
const ng_fit_pos_t *ng_fit_pos(const ng_fit_t *f);
size_t ng_fit_n_batches(const ng_fit_t *f);
void ng_fit_set_seconds(ng_fit_t *f, double seconds);

/* Called after every step with its info and the position (batch_index already counts it);
 * a non-zero return stops the epoch after that step with NG_EINTERRUPTED. */
typedef int (*ng_fit_batch_fn)(void *ctx, const ng_sup_step_info_t *info,
                               const ng_fit_pos_t *pos);

/* Runs the rest of the current epoch on train (which must have n_train rows); on
 * completion advances pos to the next epoch and sets *mean_loss to the epoch's mean batch
 * loss. */
int ng_fit_epoch(ng_fit_t *f, double *theta, const ng_dataset_t *train, ng_fit_batch_fn on_batch,
                 void *ctx, double *mean_loss);

/* Checkpoint file (written to PATH.tmp, flushed, renamed over PATH):
 *     "NGSUPCK1" | u32 version | u32 CRC-32 (zlib) of the body | u64 body size | 8 zero
 *     bytes (32 in all) |
 *     body: u64 meta length, meta text | position | u64 n_params, theta | u64 state size,
 *           optimiser state
 * integers and doubles little-endian. meta is the caller's text (e.g. the CLI's run
 * description), stored verbatim. This is version 1; a later version keeps the magic and
 * the version where they are and stores the CRC-32 of the header's first 28 bytes in its
 * last 4, the rule by which a reader tells a newer format from a damaged header (see
 * ng_fit_checkpoint_read). */
int ng_fit_save(const ng_fit_t *f, const char *path, const char *meta, const double *theta,
                ng_error_t *err);

typedef struct {
  char *meta;            /* NUL-terminated */
  ng_fit_pos_t pos;
  size_t n_params;
  double *theta;
  size_t state_size;
  unsigned char *state;
} ng_fit_checkpoint_t;

/* Reads and verifies a checkpoint (NG_ENOTFOUND, NG_EFORMAT with what is wrong: magic,
 * version, size, checksum). A version other than 1 is damage (NG_EFORMAT) unless it is 2..17
 * and the header's own CRC-32 matches, which only a genuinely newer format writes: then
 * NG_EUNSUPPORTED ("newer than this build"). Free with ng_fit_checkpoint_free. */
int ng_fit_checkpoint_read(const char *path, ng_fit_checkpoint_t *ck, ng_error_t *err);
void ng_fit_checkpoint_free(ng_fit_checkpoint_t *ck);
/* Puts a checkpoint's position and optimiser state into f and its theta into theta
 * (n_params of f's model). NG_EFORMAT if the sizes do not match. */
int ng_fit_restore(ng_fit_t *f, const ng_fit_checkpoint_t *ck, double *theta, ng_error_t *err);

/* ---- a fit run's description ---------------------------------------------------------------- */

/* Everything that defines a supervised training run: what config.ini and the checkpoint's
 * text of a `natgrad fit` run hold, as keys (ng_fit_run_keys, then the optimiser's). */
typedef enum { NG_VARIANCE_FIXED = 0, NG_VARIANCE_LEARNED = 1 } ng_variance_t;

typedef struct {
  char data[1024];       /* "fashion-mnist" (for the front end to resolve), an IDX folder or a
                            CSV file */
  char model[256];       /* layer widths "784-256-10"; "auto" ends take the data's */
  ng_act_t act;          /* hidden activation: NG_ACT_TANH or NG_ACT_RELU */
  ng_task_t task;        /* CSV target kind */
  ng_variance_t variance; /* regression: sigma = 1 fixed, or a learned log std */
  char name[64];         /* for plots and messages */
  long batch;
  uint64_t seed;
  long limit, test_limit; /* first rows only (0: all) */
  int label_col;
  double test_fraction;
  int standardize;
  long epochs;           /* the run's total */
  int slices;            /* 0: one process as before; S: the passes' slices (ng_split_t),
                            the same run for any number of MPI ranks */
  ng_sup_opt_config_t opt;
} ng_fit_run_config_t;

const ng_key_table_t *ng_fit_run_keys(void);
/* Every key's default, and K-FAC's optimiser settings. */
int ng_fit_run_config_default(ng_fit_run_config_t *c, ng_error_t *err);
/* A run key, else an optimiser setting (NG_ENOTFOUND for neither). */
int ng_fit_run_config_set(ng_fit_run_config_t *c, const char *key, const char *value,
                          ng_error_t *err);
/* "key = value" lines, the run's keys then the optimiser's; snprintf-style length. */
size_t ng_fit_run_config_format(const ng_fit_run_config_t *c, char *buf, size_t size);
/* Defaults, then the text's keys (a checkpoint's or config.ini's); errors name SOURCE:LINE. */
int ng_fit_run_config_parse(ng_fit_run_config_t *c, const char *text, size_t len,
                            const char *source, ng_error_t *err);
/* Ranges of every key, a data source and a plain name, and the optimiser's rules. */
int ng_fit_run_config_check(const ng_fit_run_config_t *c, ng_error_t *err);

/* The columns of a fit run's progress.csv, one row per epoch (epoch 0: the initial model). */
#define NG_FIT_LOG_HEADER                                                                  \
  "epoch,steps,seconds,batch_loss,train_loss,train_acc,test_loss,test_acc,test_rmse,"      \
  "examples_per_s,damping,theta_crc32"
/* The comparison plot in the folder above fit run folders. */
#define NG_FIT_COMPARISON "fit.svg"

/* The fit run folder dir's curve.svg (training loss and test metric against epochs and
 * seconds, from its progress.csv), and NG_FIT_COMPARISON in the folder above with one line
 * for every fit run there (at most 16, by name). NG_EFORMAT if dir's log is not a fit log. */
int ng_fit_draw_curves(const char *dir, ng_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
