/* natgrad fit: supervised training of an MLP on Fashion-MNIST, an MNIST-style IDX folder or a
 * CSV table, with SGD, Adam, diagonal NG, CG NG or K-FAC, into a run folder (natgrad/run.h,
 * the same files and rules as `natgrad train`):
 *     config.ini      the run's description, "key = value"
 *     progress.csv    one row per epoch (NG_FIT_LOG_HEADER), epoch 0 = the initial model
 *     checkpoint.ngc  the run's checkpoint (ng_fit_save), and checkpoint.prev.ngc before it
 *     curve.svg       loss and test metric against epochs and seconds
 * and fit.svg in the folder above, comparing every fit run there.
 *
 * The run's description (data, model, batch, seed, epochs, optimiser settings) is also
 * stored inside the checkpoint, so `--resume DIR` needs nothing else. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "args.h"
#include "cli.h"
#include "natgrad/data.h"
#include "natgrad/supervised.h"
#include "natgrad/run.h"
#include "mpi_run.h"
#include "progress.h"
#include "run_dir.h"

#define CMD "fit"
#define MAX_LAYERS 16
#define EVAL_BATCH 1000
#define NG__FAILED 1000 /* a rank's stop vote for a failure: above any signal number */
/* ---- the run description ---------------------------------------------------------------------- */

typedef ng_fit_run_config_t run_t; /* natgrad/supervised.h: the run's keys */

typedef ng_args_setting_t setting_t;

typedef struct {
  run_t run;
  const char *out, *resume;
  long epochs;
  int quiet, force, have_opt, have_name;
  ng_args_settings_t settings; /* the flags that set a key, and --set, in order */
} fit_opts_t;

static volatile sig_atomic_t g_signal = 0;
static volatile sig_atomic_t g_ranks = 1; /* over several, every rank stops after the epoch */

static void on_signal(int sig) {
  static const char msg[] =
      "\nnatgrad fit: stopping after this batch to save a checkpoint (Ctrl-C again quits)\n";
  static const char msg_ranks[] =
      "\nnatgrad fit: stopping every rank after this epoch (Ctrl-C again quits)\n";
  if (g_signal) _exit(128 + sig);
  g_signal = sig;
  ssize_t w = g_ranks > 1 ? write(STDERR_FILENO, msg_ranks, sizeof msg_ranks - 1)
                          : write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)w;
}

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad fit --data fashion-mnist|DIR|FILE.csv --opt sgd|adam|diag-ng|cg-ng|kfac\n"
          "                   [--model 784-256-10] [--epochs N] [--batch B] [--lr X] [--seed S]\n"
          "                   [--out DIR] [options]\n"
          "       natgrad fit --resume DIR [--epochs N]\n"
          "\n"
          "Trains an MLP by minimising -log p(y | x): a categorical over logits (cross-entropy)\n"
          "for classes, a Gaussian (squared error) for real targets. Writes a run folder DIR\n"
          "(default runs/fit/NAME) as `natgrad train` does: config.ini, progress.csv (one row\n"
          "per epoch; epoch 0 is the initial model), checkpoint.ngc after every epoch (the one\n"
          "before kept as the fallback) and curve.svg (training loss and test metric against\n"
          "epochs and seconds); fit.svg in the folder above DIR compares every fit run there.\n"
          "\n"
          "data:\n"
          "  --data fashion-mnist  Debian's dataset-fashion-mnist (%s, or\n"
          "                        $NATGRAD_FASHION_MNIST_DIR); its own 10000-image test set\n"
          "  --data DIR            a folder with MNIST-style IDX files (train-images-idx3-ubyte,\n"
          "                        train-labels-idx1-ubyte, t10k-..., each maybe .gz)\n"
          "  --data FILE           a numeric CSV table (maybe .gz), e.g. scikit-learn's iris.csv;\n"
          "                        a held-out part is split off (--test-fraction, default 0.2)\n"
          "  --label-col K         CSV target column, negative from the end (default -1)\n"
          "  --task classify|regress   CSV target kind (default classify)\n"
          "  --variance fixed|learned  regression: fixed sigma = 1, or a learned log std\n"
          "  --no-standardize      CSV: keep raw features and targets (default: features, and\n"
          "                        regression targets, standardised with the training rows'\n"
          "                        mean and std; RMSE is reported in the data's units)\n"
          "  --limit N, --test-limit N  use only the first N training / test rows\n"
          "\n"
          "model and training:\n"
          "  --model A-B-...-K     layer widths; 'auto' for the first or last takes the data's\n"
          "                        (default auto-256-auto)\n"
          "  --act relu|tanh       hidden activation (default relu)\n"
          "  --opt KIND            sgd, adam, diag-ng, cg-ng or kfac (default kfac)\n"
          "  --epochs N            epochs in all (default 10); with --resume, a new total (by\n"
          "                        default the run's own)\n"
          "  --batch B             minibatch rows (default 256)\n"
          "  --seed S              seed for the initial weights, batches and sampling (default 0)\n"
          "  --lr X, --momentum X, --damping X, --weight-decay X\n"
          "  --fisher true|empirical   diag-ng and kfac: labels drawn from the model (the true\n"
          "                        Fisher, default) or the data's (the empirical Fisher: a\n"
          "                        different matrix)\n"
          "  --set KEY=VALUE       any optimiser setting (--keys lists them); repeatable\n"
          "  --name NAME           the run's name: the folder runs/fit/NAME (default: the\n"
          "                        optimiser's name)\n"
          "  --out DIR             run folder (default runs/fit/NAME)\n"
          "  --resume DIR          continue the run in DIR from its checkpoint\n"
          "  --force               start over in a run folder that already holds a run\n"
          "  --quiet, -q           print only errors\n"
          "  --keys                list the optimiser settings and their defaults\n"
          "\n"
          "Under `mpirun -np K` (a build with MPI) with --set slices=S every rank reads the same\n"
          "data and computes its block of the S slices of each minibatch's passes; the run is\n"
          "the same for any K (docs/distributed.md); rank 0 alone writes the run folder.\n"
          "\n"
          "Ctrl-C saves a checkpoint after the current batch (over several ranks: after the\n"
          "epoch); --resume continues from it bit for bit. Exit status: 0 done, 1 failure\n"
          "(data, numerics, I/O), 2 usage error, 130/143 interrupted.\n",
          NG_FASHION_MNIST_DIR);
}

static void list_keys(FILE *out) {
  fprintf(out, "optimiser settings (--set KEY=VALUE), with the defaults of each kind:\n\n");
  char buf[NG_OPT_KINDS][4096];
  for (int k = 0; k < NG_OPT_KINDS; k++) {
    ng_sup_opt_config_t c;
    ng_sup_opt_config_default(&c, (ng_opt_kind_t)k);
    ng_sup_opt_config_format(&c, buf[k], sizeof buf[k]);
  }
  fprintf(out, "%-16s", "key");
  for (int k = 0; k < NG_OPT_KINDS; k++) fprintf(out, " %-10s", ng_opt_name((ng_opt_kind_t)k));
  fputc('\n', out);
  char *pos[NG_OPT_KINDS];
  for (int k = 0; k < NG_OPT_KINDS; k++) pos[k] = buf[k];
  for (;;) {
    char key[64] = "", val[NG_OPT_KINDS][64];
    int got = 0;
    for (int k = 0; k < NG_OPT_KINDS; k++) {
      char *nl = strchr(pos[k], '\n');
      if (!nl) break;
      *nl = '\0';
      if (sscanf(pos[k], "%63s = %63s", key, val[k]) == 2) got++;
      pos[k] = nl + 1;
    }
    if (got != NG_OPT_KINDS) break;
    if (!strcmp(key, "kind")) continue;
    fprintf(out, "%-16s", key);
    for (int k = 0; k < NG_OPT_KINDS; k++) fprintf(out, " %-10s", val[k]);
    fputc('\n', out);
  }
  fprintf(out, "\nSee include/natgrad/supervised.h and docs/supervised.md for their meaning.\n");
}

static int copy_str(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) return 0;
  memcpy(dst, src, n + 1);
  return 1;
}

/* ---- arguments ------------------------------------------------------------------------------------ */

/* Flags that map to one run or optimiser key. */
static const struct {
  const char *flag, *key;
} FLAG_KEYS[] = {
    {"--data", "data"},         {"--model", "model"},           {"--act", "act"},
    {"--task", "task"},         {"--variance", "variance"},     {"--batch", "batch"},
    {"--seed", "seed"},         {"--limit", "limit"},           {"--test-limit", "test_limit"},
    {"--label-col", "label_col"}, {"--test-fraction", "test_fraction"}, {"--lr", "lr"},
    {"--momentum", "momentum"}, {"--damping", "damping"},       {"--weight-decay", "weight_decay"},
    {"--fisher", "fisher"},
};

static int parse_args(int argc, char **argv, fit_opts_t *o) {
  memset(o, 0, sizeof *o);
  ng_fit_run_config_default(&o->run, NULL);
  o->epochs = -1;
  ng_args_t a;
  ng_args_init(&a, CMD, argc, argv);
  while (ng_args_next(&a)) {
    const char *v;
    size_t f = 0;
    while (f < sizeof FLAG_KEYS / sizeof FLAG_KEYS[0] && !ng_args_is(&a, FLAG_KEYS[f].flag)) f++;
    if (f < sizeof FLAG_KEYS / sizeof FLAG_KEYS[0]) {
      if (!(v = ng_args_value(&a)) ||
          !ng_args_setting(&a, &o->settings, FLAG_KEYS[f].flag, FLAG_KEYS[f].key, v))
        return NG_EXIT_USAGE;
    } else if (ng_args_switch(&a, "--help", "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_switch(&a, "--keys", NULL)) {
      list_keys(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_is(&a, "--opt")) {
      if (!(v = ng_args_value(&a))) return NG_EXIT_USAGE;
      ng_opt_kind_t k;
      if (ng_opt_parse(v, &k) != NG_OK) {
        ng_cli_error(CMD, "--opt: unknown optimiser '%s' (sgd, adam, diag-ng, cg-ng, kfac)", v);
        return NG_EXIT_USAGE;
      }
      /* a new kind starts from that kind's defaults; later flags refine them */
      ng_sup_opt_config_default(&o->run.opt, k);
      o->have_opt = 1;
    } else if (ng_args_is(&a, "--set")) {
      if (!(v = ng_args_value(&a)) || !ng_args_set(&a, &o->settings, v)) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--epochs")) {
      if (!ng_args_int(&a, 0, 1000000, &o->epochs)) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--name")) {
      if (!(v = ng_args_value(&a))) return NG_EXIT_USAGE;
      if (!copy_str(o->run.name, sizeof o->run.name, v)) {
        ng_cli_error(CMD, "--name: too long");
        return NG_EXIT_USAGE;
      }
      o->have_name = 1;
    } else if (ng_args_is(&a, "--out")) {
      if (!(o->out = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--resume")) {
      if (!(o->resume = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_switch(&a, "--no-standardize", NULL)) {
      if (!ng_args_setting(&a, &o->settings, "--no-standardize", "standardize", "0"))
        return NG_EXIT_USAGE;
    } else if (ng_args_switch(&a, "--force", NULL)) {
      o->force = 1;
    } else if (ng_args_switch(&a, "--quiet", "-q")) {
      o->quiet = 1;
    } else {
      return ng_args_unknown(&a);
    }
  }
  return -1;
}

/* Applies the settings (flags, --set) in order onto r. */
static int apply_settings(const fit_opts_t *o, run_t *r) {
  for (int i = 0; i < o->settings.n; i++) {
    const setting_t *s = &o->settings.item[i];
    if (!strcmp(s->key, "kind")) {
      ng_cli_error(CMD, "use --opt to choose the optimiser");
      return 0;
    }
    ng_error_t err;
    ng_error_clear(&err);
    if (ng_fit_run_config_set(r, s->key, s->value, &err) != NG_OK) {
      ng_cli_error(CMD, "%s (see natgrad fit --keys)", ng_run_untag(err.message, "fit"));
      return 0;
    }
  }
  return 1;
}

/* ---- data and model ---------------------------------------------------------------------------------- */

/* Loads train/test as the run says; *y_scale is the factor from the model's regression
 * targets back to the data's (1 unless they were standardised). Returns an exit code, -1 on
 * success. */
static int load_data(const run_t *r, ng_dataset_t *train, ng_dataset_t *test, double *y_scale) {
  ng_error_t err;
  ng_error_clear(&err);
  ng_data_source_t src = {.path = r->data,
                          .task = r->task,
                          .label_col = r->label_col,
                          .test_fraction = r->test_fraction,
                          .seed = r->seed,
                          .standardize = r->standardize,
                          .limit = (size_t)r->limit,
                          .test_limit = (size_t)r->test_limit};
  int fashion = !strcmp(r->data, "fashion-mnist");
  if (fashion) {
    src.path = getenv("NATGRAD_FASHION_MNIST_DIR");
    if (!src.path || !src.path[0]) src.path = NG_FASHION_MNIST_DIR;
  }
  int st = ng_data_load_source(&src, train, test, y_scale, &err);
  if (st == NG_ENOTFOUND && fashion) {
    ng_cli_error(CMD, "Fashion-MNIST not found: %s\n  install Debian's dataset-fashion-mnist "
                      "(scripts/deps.sh dataset-fashion-mnist) or set "
                      "NATGRAD_FASHION_MNIST_DIR",
                 err.message);
    return NG_EXIT_FAILURE;
  }
  if (st != NG_OK) {
    ng_cli_error(CMD, "%s", err.message[0] ? err.message : ng_strerror(st));
    return NG_EXIT_FAILURE;
  }
  return -1;
}

/* Parses "784-256-10" into w, 0 for an "auto" end. Returns the number of widths, 0 after
 * an error message. Needs no data, so a bad spec is refused before the folder is made. */
static size_t parse_widths(const char *spec, size_t *w) {
  size_t n = 0;
  for (const char *t = spec;; n++) {
    size_t len = strcspn(t, "-");
    char tok[16];
    if (n == MAX_LAYERS + 1) {
      ng_cli_error(CMD, "--model: at most %d layers", MAX_LAYERS);
      return 0;
    }
    if (len == 0 || len >= sizeof tok) { /* "16--10", "-16-8", "16-8-" */
      ng_cli_error(CMD, "--model: '%s' is not a list of layer widths (e.g. 784-256-10)", spec);
      return 0;
    }
    memcpy(tok, t, len);
    tok[len] = '\0';
    if (!strcmp(tok, "auto")) {
      w[n] = 0;
    } else {
      char *end;
      long x = strtol(tok, &end, 10);
      if (!isdigit((unsigned char)tok[0]) || *end || x < 1 || x > 100000) {
        ng_cli_error(CMD, "--model: '%s' is not a layer width (e.g. 784-256-10)", tok);
        return 0;
      }
      w[n] = (size_t)x;
    }
    if (!t[len]) {
      n++;
      break;
    }
    t += len + 1;
  }
  if (n < 2) {
    ng_cli_error(CMD, "--model: '%s' needs an input and an output width (e.g. 784-256-10)", spec);
    return 0;
  }
  for (size_t i = 1; i + 1 < n; i++)
    if (w[i] == 0) {
      ng_cli_error(CMD, "--model: only the first and last widths may be 'auto'");
      return 0;
    }
  return n;
}

/* parse_widths, then the "auto" ends taken from the data and both ends checked against it. */
static size_t parse_model(const char *spec, size_t n_in, size_t n_out, size_t *w) {
  size_t n = parse_widths(spec, w);
  if (!n) return 0;
  if (w[0] == 0) w[0] = n_in;
  if (w[n - 1] == 0) w[n - 1] = n_out;
  if (w[0] != n_in) {
    ng_cli_error(CMD, "--model %s: the data has %zu input features, the model takes %zu", spec,
                 n_in, w[0]);
    return 0;
  }
  if (w[n - 1] != n_out) {
    ng_cli_error(CMD, "--model %s: the data needs %zu outputs (%s), the model has %zu", spec,
                 n_out, n_out == 1 ? "one target" : "one per class", w[n - 1]);
    return 0;
  }
  return n;
}

/* ---- progress ---------------------------------------------------------------------------------------- */

typedef struct {
  ng_progress_t line; /* on a terminal; plain output gets the per-epoch lines only */
  long epochs;
  size_t n_batches, n_train;
  double epoch_start;    /* wall clock at the start of this epoch's training */
  double seconds_before; /* training seconds before this epoch (pos.seconds at its start) */
  uint64_t rows_start;   /* pos.epoch_rows at the start of this process's part of the epoch */
} progress_t;

static int on_batch(void *ctx, const ng_sup_step_info_t *info, const ng_fit_pos_t *pos) {
  progress_t *p = ctx;
  char epoch[48], batch[48], loss[48];
  snprintf(epoch, sizeof epoch, "epoch %llu/%ld", (unsigned long long)pos->epoch + 1, p->epochs);
  snprintf(batch, sizeof batch, "batch %llu/%zu", (unsigned long long)pos->batch_index,
           p->n_batches);
  snprintf(loss, sizeof loss, "loss %.4f", info->loss);
  const char *fields[3] = {epoch, batch, loss};
  long done = (long)(pos->epoch * p->n_train + pos->epoch_rows);
  ng_progress_show(&p->line, done, (long)pos->batch_index, 0, fields, 3);
  /* over several ranks a signal stops every rank after the epoch (their vote) instead */
  return g_signal != 0 && ng_mpi_run_size() == 1;
}

/* ---- the run folder ------------------------------------------------------------------------------------ */

static uint32_t theta_crc(size_t n, const double *theta) {
  uLong c = crc32(0L, Z_NULL, 0);
  return (uint32_t)crc32(c, (const Bytef *)theta, (uInt)(n * sizeof(double)));
}

static const char *const FIT_RESUME_KEYS[] = {"epochs", NULL};

/* A fit checkpoint for ng_run_load_checkpoint: ctx is the ng_fit_checkpoint_t to fill. */
static int load_fit_checkpoint(void *ctx, const char *path, char **config, char *state,
                               size_t size, ng_error_t *err) {
  ng_fit_checkpoint_t *ck = ctx, fresh;
  memset(&fresh, 0, sizeof fresh);
  int st = ng_fit_checkpoint_read(path, &fresh, err);
  if (st != NG_OK) return st == NG_ENOTFOUND ? NG_EIO : st;
  size_t n = strlen(fresh.meta ? fresh.meta : "");
  *config = ng_malloc(n + 1);
  if (!*config) {
    ng_fit_checkpoint_free(&fresh);
    return ng_error_set(err, NG_ENOMEM, "out of memory reading '%s'", path);
  }
  memcpy(*config, fresh.meta ? fresh.meta : "", n + 1);
  ng_fit_checkpoint_free(ck);
  *ck = fresh;
  snprintf(state, size, "epoch %llu, batch %llu", (unsigned long long)ck->pos.epoch,
           (unsigned long long)ck->pos.batch_index);
  return NG_OK;
}

typedef struct {
  const ng_fit_t *fit;
  const char *meta;
  const double *theta;
} fit_saver_t;

static int save_fit_checkpoint(void *ctx, const char *path, ng_error_t *err) {
  const fit_saver_t *s = ctx;
  return ng_fit_save(s->fit, path, s->meta, s->theta, err);
}

/* Runs of natgrad before run folders: NAME.ckpt and NAME.csv side by side in one folder. */
static int old_layout(const char *dir, char *name, size_t size) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  while (!found && (e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len > 5 && len - 5 < size && !strcmp(e->d_name + len - 5, ".ckpt")) {
      memcpy(name, e->d_name, len - 5);
      name[len - 5] = '\0';
      found = 1;
    }
  }
  closedir(d);
  return found;
}

/* The run folder and description of a resumed run: its checkpoint (or the one before it)
 * and --epochs. -1 to go on, else the exit code. */
static int resume_run(const fit_opts_t *o, run_t *r, ng_run_t **run, ng_fit_checkpoint_t *ck,
                      long *epochs, int lead) {
  if (o->out && strcmp(o->out, o->resume)) {
    ng_cli_error(CMD, "--resume continues in its own folder; drop --out");
    return NG_EXIT_USAGE;
  }
  if (o->settings.n || o->have_opt || o->have_name || o->force) {
    ng_cli_error(CMD, "%s cannot be used with --resume: a resumed run keeps its settings "
                      "(only --epochs can extend it)",
                 o->settings.n ? o->settings.item[0].flag : o->have_opt ? "--opt"
                                : o->have_name ? "--name" : "--force");
    return NG_EXIT_USAGE;
  }
  ng_error_t err;
  ng_error_clear(&err);
  /* under mpirun rank 0 owns the folder; the other ranks read the same checkpoint */
  int rc = ng_cli_run_open(run, o->resume, lead ? NG_RUN_RESUME : NG_RUN_READ, 0, &err);
  if (rc >= 0) {
    char name[64];
    if (rc == NG_EXIT_USAGE && err.status == NG_ENOTFOUND &&
        old_layout(o->resume, name, sizeof name))
      ng_cli_error(CMD, "'%s' holds fit runs in the old layout (%s.ckpt and %s.csv side by "
                        "side); each run now has a folder of its own. To continue '%s': mkdir "
                        "%s/%s && mv %s/%s.ckpt %s/%s/checkpoint.ngc && mv %s/%s.csv %s/%s/"
                        "progress.csv, then natgrad fit --resume %s/%s",
                   o->resume, name, name, name, o->resume, name, o->resume, name, o->resume,
                   name, o->resume, name, o->resume, name, o->resume, name);
    else
      ng_cli_error(CMD, "%s", err.message);
    return rc;
  }
  char warning[2048];
  if (ng_run_load_checkpoint(*run, load_fit_checkpoint, ck, FIT_RESUME_KEYS, warning,
                             sizeof warning, &err) != NG_OK) {
    ng_cli_error(CMD, "cannot resume: %s", err.message);
    return NG_EXIT_FAILURE;
  }
  if (warning[0]) ng_cli_error(CMD, "warning: %s", warning);
  const char *meta = ck->meta ? ck->meta : "";
  if (ng_fit_run_config_parse(r, meta, strlen(meta), "the checkpoint's run description",
                              &err) != NG_OK) {
    ng_cli_error(CMD, "%s: %s", o->resume, err.message);
    return NG_EXIT_FAILURE;
  }
  long done = (long)ck->pos.epoch;
  if (o->epochs >= 0 && o->epochs < done) {
    ng_cli_error(CMD, "--epochs %ld: the run has already trained %ld epochs; give a larger "
                      "total to train longer", o->epochs, done);
    return NG_EXIT_USAGE;
  }
  /* the run's own total, unless told (a run from before it was recorded: 10, the default) */
  *epochs = o->epochs >= 0 ? o->epochs : r->epochs;
  r->epochs = *epochs;
  return -1;
}

/* The run folder (rank 0's only: *run stays NULL on the others) and description of a new
 * run; dir gets the folder's path. -1 to go on, else the exit code. */
static int create_run(const fit_opts_t *o, run_t *r, ng_run_t **run, long *epochs, int lead,
                      char *dir) {
  if (!apply_settings(o, r)) return NG_EXIT_USAGE;
  if (!r->data[0]) {
    ng_cli_error(CMD, "no data: pass --data fashion-mnist, an IDX folder or a CSV file "
                      "(see natgrad fit --help)");
    return NG_EXIT_USAGE;
  }
  if (!o->have_name) snprintf(r->name, sizeof r->name, "%s", ng_opt_name(r->opt.kind));
  r->opt.seed = r->opt.seed ? r->opt.seed : r->seed;
  r->epochs = *epochs = o->epochs >= 0 ? o->epochs : 10;
  size_t widths[MAX_LAYERS + 1];
  if (!parse_widths(r->model, widths)) return NG_EXIT_USAGE;
  ng_error_t cerr;
  ng_error_clear(&cerr);
  if (ng_fit_run_config_check(r, &cerr) != NG_OK) {
    ng_cli_error(CMD, "%s", ng_run_untag(cerr.message, "fit"));
    return NG_EXIT_USAGE;
  }
  /* the data as an absolute path, so the run resumes from any folder */
  if (strcmp(r->data, "fashion-mnist")) {
    char *abs = realpath(r->data, NULL);
    if (!abs) {
      ng_cli_error(CMD, "%s: cannot open: %s", r->data, strerror(errno));
      return NG_EXIT_FAILURE;
    }
    int fits = copy_str(r->data, sizeof r->data, abs);
    free(abs);
    if (!fits) {
      ng_cli_error(CMD, "--data: the absolute path is too long");
      return NG_EXIT_USAGE;
    }
  }
  int n = o->out ? snprintf(dir, NG_CLI_PATH, "%s", o->out)
                 : snprintf(dir, NG_CLI_PATH, "runs/fit/%s", r->name);
  if (n < 0 || (size_t)n >= NG_CLI_PATH) {
    ng_cli_error(CMD, "--out: path too long");
    return NG_EXIT_USAGE;
  }
  if (!lead) return -1;
  ng_error_t err;
  ng_error_clear(&err);
  int rc = ng_cli_run_open(run, dir, NG_RUN_CREATE, o->force, &err);
  if (rc >= 0) ng_cli_error(CMD, "%s", err.message);
  return rc;
}

/* ---- the command ----------------------------------------------------------------------------------------- */

/* A fit run while it trains: what the stages below share. */
typedef struct {
  run_t *r;
  ng_run_t *run;
  const char *dir;
  int resume, quiet, lead; /* lead: rank 0 under mpirun (or one process), the only writer */
  ng_dataset_t train, test;
  double y_scale; /* regression targets back to the data's units */
  int classify;
  size_t w[MAX_LAYERS + 1], nw, n;
  ng_model_t *m;
  ng_model_ws_t *ews;
  ng_fit_t *fit;
  double *theta;
  unsigned char *mask;
  char meta[8192]; /* the run's description: config.ini and the checkpoint's text */
} fit_run_t;

static void fit_run_free(fit_run_t *f) {
  ng_fit_destroy(f->fit);
  ng_model_ws_destroy(f->ews);
  ng_model_destroy(f->m);
  free(f->theta);
  free(f->mask);
  ng_dataset_free(&f->train);
  ng_dataset_free(&f->test);
}

/* The data, the model and the optimiser, at the checkpoint's state or freshly initialised;
 * then config.ini and the log. -1 to go on, else the exit code. */
static int build(fit_run_t *f, const ng_fit_checkpoint_t *ck) {
  run_t *r = f->r;
  ng_error_t err;
  ng_error_clear(&err);
  int rc = load_data(r, &f->train, &f->test, &f->y_scale);
  if (rc >= 0) return rc;
  f->classify = f->train.n_classes > 0;
  size_t n_out = f->classify ? f->train.n_classes : f->train.n_targets;
  f->nw = parse_model(r->model, f->train.n_features, n_out, f->w);
  if (!f->nw) return f->resume ? NG_EXIT_FAILURE : NG_EXIT_USAGE;
  ng_act_t act = r->act;
  ng_dist_t dist = {.kind = f->classify ? NG_DIST_CATEGORICAL : NG_DIST_GAUSSIAN, .dim = n_out};
  int st = ng_model_create(&f->m, f->w[0], f->nw - 2, f->w + 1, act, dist,
                           NG_LOGSTD_STATE_INDEPENDENT);
  if (st == NG_OK) st = ng_model_ws_create(&f->ews, f->m, EVAL_BATCH);
  if (st != NG_OK) {
    ng_cli_error(CMD, "cannot build the model: %s", ng_strerror(st));
    return NG_EXIT_FAILURE;
  }
  f->n = ng_model_n_params(f->m);
  f->theta = malloc(f->n * sizeof *f->theta);
  if (!f->theta) {
    ng_cli_error(CMD, "out of memory for %zu parameters", f->n);
    return NG_EXIT_FAILURE;
  }
  if (ng_fit_create(&f->fit, f->m, &r->opt, f->train.n, (size_t)r->batch, r->seed, &err) !=
      NG_OK) {
    ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_FAILURE;
  }
  if (!f->classify && r->variance == NG_VARIANCE_FIXED) {
    /* fixed variance: the head's log stds stay at 0 (sigma = 1) */
    f->mask = malloc(f->n);
    if (!f->mask) {
      ng_cli_error(CMD, "out of memory");
      return NG_EXIT_FAILURE;
    }
    size_t n_mlp = ng_model_n_mlp_params(f->m);
    for (size_t i = 0; i < f->n; i++) f->mask[i] = i < n_mlp;
    ng_sup_opt_set_trainable(ng_fit_opt(f->fit), f->mask);
  }
  if (f->resume) {
    if (ng_fit_restore(f->fit, ck, f->theta, &err) != NG_OK) {
      ng_cli_error(CMD, "%s: %s", f->dir, err.message);
      return NG_EXIT_FAILURE;
    }
  } else {
    ng_rng_t rng;
    ng_rng_seed(&rng, r->seed, 1);
    ng_model_init(f->m, f->theta, act == NG_ACT_RELU ? sqrt(2.0) : 1.0, 1.0, 0.0, &rng);
  }
  if (ng_fit_run_config_format(r, f->meta, sizeof f->meta) >= sizeof f->meta) {
    ng_cli_error(CMD, "run description too long");
    return NG_EXIT_FAILURE;
  }
  return -1;
}

/* Every rank's check that all run the same binary, run description, data and position
 * (ok: 0 where set-up failed), then the minibatch passes' split (config key slices). -1 to
 * go on, else the exit code. */
static int share(fit_run_t *f, int ok) {
  const ng_fit_pos_t *pos = ok ? ng_fit_pos(f->fit) : NULL;
  const ng_dataset_t *d[2] = {&f->train, &f->test};
  const void *bytes[7] = {f->meta, pos, f->theta};
  size_t lens[7] = {strlen(f->meta), pos ? sizeof *pos : 0, ok ? f->n * sizeof *f->theta : 0};
  for (int i = 0; i < 2; i++) { /* the data as loaded: the same file is not enough */
    bytes[3 + 2 * i] = d[i]->x;
    lens[3 + 2 * i] = ok && d[i]->x ? d[i]->n * d[i]->n_features * sizeof *d[i]->x : 0;
    bytes[4 + 2 * i] = d[i]->y;
    lens[4 + 2 * i] = ok && d[i]->y ? d[i]->n * d[i]->n_targets * sizeof *d[i]->y : 0;
  }
  int rc = ng_mpi_run_agree(ok, bytes, lens, 7);
  if (rc >= 0 || !ok) return rc >= 0 ? rc : NG_EXIT_FAILURE;
  const int ranks = ng_mpi_run_size();
  if (ranks > 1 && f->r->slices == 0) {
    if (f->lead)
      ng_cli_error(CMD, "%d ranks need the minibatch passes in slices: --set slices=S (S >= "
                   "%d splits them over every rank; the run is then the same for any number "
                   "of ranks)", ranks, ranks);
    return NG_EXIT_USAGE;
  }
  if (f->r->slices == 0) return -1; /* one process, as before slices existed */
  ng_split_t split;
  int st = ng_mpi_run_split(&split, (size_t)f->r->slices);
  if (st == NG_OK) st = ng_sup_opt_set_split(ng_fit_opt(f->fit), &split);
  if (st != NG_OK) {
    ng_cli_error(CMD, "rank %d: cannot split the minibatch passes: %s", ng_mpi_run_rank(),
                 ng_strerror(st));
    return NG_EXIT_FAILURE;
  }
  return -1;
}

/* config.ini, and the log: fresh, or cut back to the checkpoint's epoch (rank 0). 1 to go
 * on, 0 after an error message. */
static int open_files(fit_run_t *f, const ng_fit_checkpoint_t *ck) {
  ng_error_t err;
  ng_error_clear(&err);
  if (!f->lead) return 1;
  if (ng_run_write_config(f->run, "natgrad fit: this run's settings (its checkpoint holds "
                          "them too).", f->meta, &err) != NG_OK ||
      ng_run_log_open(f->run, NG_FIT_LOG_HEADER, f->resume ? (long)ck->pos.epoch : -1, &err) !=
          NG_OK) {
    ng_cli_error(CMD, "%s", err.message);
    return 0;
  }
  return 1;
}

static int save(fit_run_t *f) {
  if (!f->lead) return 1;
  fit_saver_t saver = {f->fit, f->meta, f->theta};
  ng_error_t err;
  ng_error_clear(&err);
  if (ng_run_save_checkpoint(f->run, save_fit_checkpoint, &saver, &err) == NG_OK) return 1;
  ng_cli_error(CMD, "%s", err.message);
  return 0;
}

/* Train and test metrics after an epoch, "acc 91.2%" or "rmse 0.31" each. */
static void metric_text(const fit_run_t *f, const ng_sup_metrics_t *m, char *buf, size_t size) {
  if (f->classify)
    snprintf(buf, size, " acc %.2f%%", 100 * m->accuracy);
  else
    snprintf(buf, size, " rmse %.4g", m->rmse * f->y_scale);
}

/* Epoch 0, the initial model: its row (unless a resumed run has it) and first checkpoint.
 * 1 to go on, else 0 after an error message. */
static int initial_epoch(fit_run_t *f) {
  ng_sup_metrics_t mtr, mte;
  if (ng_sup_evaluate(f->m, f->ews, f->theta, &f->train, &mtr) != NG_OK ||
      ng_sup_evaluate(f->m, f->ews, f->theta, &f->test, &mte) != NG_OK) {
    ng_cli_error(CMD, "cannot evaluate the initial model");
    return 0;
  }
  ng_run_log_t have;
  memset(&have, 0, sizeof have);
  ng_error_t err;
  ng_error_clear(&err);
  char log_path[NG_CLI_PATH];
  ng_run_path(log_path, sizeof log_path, f->dir, NG_RUN_LOG, NULL); /* fits: the log is open */
  int fresh = f->lead && ng_run_log_read(log_path, NG_FIT_LOG_HEADER, &have, NULL) == NG_OK &&
              !have.n_rows;
  ng_run_log_free(&have);
  if (fresh) { /* a resumed epoch-0 row was kept unless the run stopped before logging it */
    char row[512];
    snprintf(row, sizeof row, "0,0,0,nan,%.6f,%.6f,%.6f,%.6f,%.6f,nan,%.6g,%08x", mtr.loss,
             mtr.accuracy, mte.loss, mte.accuracy, mte.rmse * f->y_scale,
             ng_sup_opt_damping(ng_fit_opt(f->fit)), theta_crc(f->n, f->theta));
    if (ng_run_log_append(f->run, row, &err) != NG_OK) {
      ng_cli_error(CMD, "%s", err.message);
      return 0;
    }
  }
  if (!f->resume && !save(f)) return 0;
  if (!f->quiet && !f->resume) {
    char tr[32], te[32];
    metric_text(f, &mtr, tr, sizeof tr);
    metric_text(f, &mte, te, sizeof te);
    fprintf(stderr, "epoch %3d  train loss %.4f%s  test loss %.4f%s\n", 0, mtr.loss, tr,
            mte.loss, te);
  }
  return 1;
}

/* The epochs up to `epochs`: each logged, checkpointed and summed up on a line; a signal
 * stops after the current batch with a checkpoint. Returns the exit code. */
static int train_epochs(fit_run_t *f, long epochs) {
  progress_t pr = {.epochs = epochs, .n_batches = ng_fit_n_batches(f->fit), .n_train = f->train.n};
  const ng_fit_pos_t *pos = ng_fit_pos(f->fit);
  ng_progress_mode_t mode = ng_progress_auto_mode(stderr, f->quiet);
  ng_progress_init(&pr.line, stderr, mode == NG_PROGRESS_TTY ? mode : NG_PROGRESS_QUIET, 1,
                   "examples", (long)(pos->epoch * f->train.n + pos->epoch_rows),
                   epochs * (long)f->train.n);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int rc = NG_EXIT_OK;
  while ((long)pos->epoch < epochs) {
    pr.epoch_start = ng_progress_now();
    pr.seconds_before = pos->seconds;
    pr.rows_start = pos->epoch_rows;
    double mean_loss = NAN;
    int st = ng_fit_epoch(f->fit, f->theta, &f->train, on_batch, &pr, &mean_loss);
    double trained = ng_progress_now() - pr.epoch_start;
    ng_fit_set_seconds(f->fit, pr.seconds_before + trained);
    ng_progress_break(&pr.line);
    if (st == NG_EINTERRUPTED) {
      rc = save(f) ? 128 + (int)g_signal : NG_EXIT_FAILURE;
      if (rc != NG_EXIT_FAILURE && !f->quiet)
        fprintf(stderr, "natgrad fit: interrupted in epoch %llu (batch %llu/%zu); saved a "
                        "checkpoint in %s\n  continue with: natgrad fit --resume %s\n",
                (unsigned long long)pos->epoch + 1, (unsigned long long)pos->batch_index,
                pr.n_batches, f->dir, f->dir);
      break;
    }
    if (st != NG_OK) {
      ng_cli_error(CMD, "epoch %llu failed: %s (try a smaller --lr or a larger --damping)",
                   (unsigned long long)pos->epoch + 1, ng_strerror(st));
      rc = NG_EXIT_FAILURE;
      break;
    }
    double rate = (double)(f->train.n - pr.rows_start) / (trained > 0 ? trained : 1e-9);
    ng_sup_metrics_t mtr, mte;
    if (ng_sup_evaluate(f->m, f->ews, f->theta, &f->train, &mtr) != NG_OK ||
        ng_sup_evaluate(f->m, f->ews, f->theta, &f->test, &mte) != NG_OK) {
      ng_cli_error(CMD, "evaluation failed after epoch %llu (non-finite loss)",
                   (unsigned long long)pos->epoch);
      rc = NG_EXIT_FAILURE;
      break;
    }
    char row[512];
    snprintf(row, sizeof row, "%llu,%llu,%.4f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.6g,%08x",
             (unsigned long long)pos->epoch, (unsigned long long)pos->steps, pos->seconds,
             mean_loss, mtr.loss, mtr.accuracy, mte.loss, mte.accuracy,
             mte.rmse * f->y_scale, rate, ng_sup_opt_damping(ng_fit_opt(f->fit)),
             theta_crc(f->n, f->theta));
    ng_error_t err;
    ng_error_clear(&err);
    int saved = !f->lead || ng_run_log_append(f->run, row, &err) == NG_OK;
    if (!saved) ng_cli_error(CMD, "%s", err.message);
    saved = saved && save(f);
    /* every rank stops after the same epoch: rank 0's failed write or any rank's signal */
    int stop = ng_mpi_run_size() > 1 ? ng_mpi_run_any(saved ? (int)g_signal : NG__FAILED)
                                     : saved ? 0 : NG__FAILED;
    if (stop == NG__FAILED) {
      rc = NG_EXIT_FAILURE;
      break;
    }
    if (!f->quiet) {
      char tr[32], te[32];
      metric_text(f, &mtr, tr, sizeof tr);
      metric_text(f, &mte, te, sizeof te);
      fprintf(stderr, "epoch %3llu  train loss %.4f%s  test loss %.4f%s  %.0f ex/s  %.1fs\n",
              (unsigned long long)pos->epoch, mtr.loss, tr, mte.loss, te, rate, pos->seconds);
    }
    if (stop) {
      rc = 128 + stop;
      if (!f->quiet)
        fprintf(stderr, "natgrad fit: every rank stopped after epoch %llu; continue with: "
                        "natgrad fit --resume %s\n", (unsigned long long)pos->epoch, f->dir);
      break;
    }
  }
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  return rc;
}

int ng_cmd_fit(int argc, char **argv) {
  fit_opts_t o;
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0) return rc;
  long epochs = 0;
  ng_fit_checkpoint_t ck;
  memset(&ck, 0, sizeof ck);
  fit_run_t f = {.r = &o.run, .resume = o.resume != NULL, .quiet = o.quiet};
  /* under mpirun: rank 0 owns the run folder, the others read it (cli/mpi_run.h) */
  if ((rc = ng_mpi_run_start(CMD, 1)) >= 0) return rc;
  f.lead = ng_mpi_run_rank() == 0;
  g_ranks = ng_mpi_run_size();
  /* K-FAC's factors and inverses go through BLAS, whose rounding follows its thread count:
   * under mpirun one thread, so that every K gives the run of one process with
   * OPENBLAS_NUM_THREADS=1 (ranks share the cores anyway) */
  if (ng_mpi_run_active()) openblas_set_num_threads(1);
  if (!f.lead) f.quiet = o.quiet = 1;
  char dir[NG_CLI_PATH] = "";
  rc = o.resume ? resume_run(&o, f.r, &f.run, &ck, &epochs, f.lead)
                : create_run(&o, f.r, &f.run, &epochs, f.lead, dir);
  f.dir = f.run ? ng_run_dir(f.run) : dir;
  /* the name shown and plotted: the folder's */
  const char *slash = strrchr(f.dir, '/');
  if (!copy_str(f.r->name, sizeof f.r->name, slash && slash[1] ? slash + 1 : f.dir))
    copy_str(f.r->name, sizeof f.r->name, "run");
  if (rc < 0) rc = build(&f, &ck);
  /* every rank checks in, also one that failed: the others would wait for it */
  int rc_share = share(&f, rc < 0);
  if (rc < 0) rc = rc_share;
  if (rc >= 0) goto done;
  if (ng_mpi_run_any(!open_files(&f, &ck))) {
    rc = NG_EXIT_FAILURE;
    goto done;
  }
  if (!o.quiet) {
    char widths[256];
    size_t len = 0;
    for (size_t i = 0; i < f.nw && len < sizeof widths; i++)
      len += (size_t)snprintf(widths + len, sizeof widths - len, "%s%zu", i ? "-" : "", f.w[i]);
    fprintf(stderr, "natgrad fit: %s, %zu train / %zu test rows, model %s (%s, %zu parameters), "
                    "%s, batch %ld, lr %g, seed %llu, into %s%s\n",
            f.r->data, f.train.n, f.test.n, widths, f.r->act == NG_ACT_RELU ? "relu" : "tanh",
            f.n, ng_opt_name(f.r->opt.kind), f.r->batch, f.r->opt.lr,
            (unsigned long long)f.r->seed, f.dir, o.resume ? " (resumed)" : "");
  }
  rc = NG_EXIT_FAILURE;
  if (ng_mpi_run_any((!o.resume || ck.pos.epoch == 0) && !initial_epoch(&f))) goto done;
  const uint64_t steps_before = ng_fit_pos(f.fit)->steps;
  ng_mpi_run_stats_reset();
  rc = train_epochs(&f, epochs);
  if (!o.quiet) ng_mpi_run_report((long)(ng_fit_pos(f.fit)->steps - steps_before), "minibatch");
  ng_error_t perr;
  ng_error_clear(&perr);
  if (f.lead && ng_fit_draw_curves(f.dir, &perr) != NG_OK) {
    ng_cli_error(CMD, "%s", perr.message);
    if (rc == NG_EXIT_OK) rc = NG_EXIT_FAILURE;
  } else if (!o.quiet && rc == NG_EXIT_OK) {
    fprintf(stderr, "natgrad fit: wrote %s (config.ini, progress.csv, checkpoint.ngc, "
                    "curve.svg)\n", f.dir);
  }

done:
  ng_fit_checkpoint_free(&ck);
  fit_run_free(&f);
  ng_run_close(f.run);
  ng_mpi_run_end();
  return rc;
}
