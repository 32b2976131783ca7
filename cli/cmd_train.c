/* natgrad train: TRPO / NPG on a built-in environment, into a run folder.
 *
 * Config precedence: the library's defaults for the env < the config file < flags (in the
 * order given). Everything is validated, and the output folder proven writable, before
 * the first environment step. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "cmd_args.h"
#include "natgrad/env.h"
#include "natgrad/rl.h"
#include "natgrad/run.h"
#include "progress.h"
#include "run_dir.h"
#include "train_mpi.h"

#define CMD "train"
#define DEFAULT_CHECKPOINT_EVERY 10
#define PLAIN_EVERY 10       /* non-terminal output: a progress line every this many iterations */
/* The return shown on the progress line and drawn smoothed on the curve: the mean of the
 * per-iteration mean returns of the last RETURN_SMOOTH iterations in which episodes ended
 * (unweighted: many short early episodes would otherwise hold it down long after the policy
 * improved). */
#define RETURN_SMOOTH NG_RL_CURVE_SMOOTH

typedef ng_args_setting_t setting_t;
typedef ng_train_opts_t train_opts_t;

static volatile sig_atomic_t g_signal = 0;
static volatile sig_atomic_t g_mode = NG_PROGRESS_QUIET; /* the progress line's mode */

static void on_signal(int sig) {
  static const char msg[] =
      "\nnatgrad train: stopping after this iteration to save a checkpoint "
      "(press Ctrl-C again to quit at once)\n";
  g_signal = sig;
  if (g_mode != NG_PROGRESS_QUIET) { /* write(2): printf is not async-signal-safe */
    int skip = g_mode == NG_PROGRESS_TTY ? 0 : 1; /* the '\n' ends a rewritten line */
    ssize_t w = write(STDERR_FILENO, msg + skip, sizeof msg - 1 - (size_t)skip);
    (void)w;
  }
}

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad train --env ID [--plugin LIB.so] [options]\n"
          "       natgrad train --resume DIR [--steps N] [options]\n"
          "\n"
          "Trains a policy with TRPO (or NPG, or ACKTR) on an environment and\n"
          "writes a run folder: config.ini (the effective config), progress.csv (one row per\n"
          "iteration), checkpoint.ngc and curve.svg (mean return against environment steps).\n"
          "\n"
          "options:\n"
          "  --env ID             environment, e.g. CartPole-v1 (`natgrad list` shows them)\n"
          "  --plugin LIB.so      load environments from a plugin (docs/custom-envs.md); the run\n"
          "                       records its path and checksum, and --resume, eval and --config\n"
          "                       load it again (with --resume or --config: load it from here)\n"
          "  --algo NAME          trpo, npg or acktr (default trpo; ACKTR: docs/mujoco.md)\n"
          "  --steps N            environment steps to train for in all (default: tuned per env);\n"
          "                       with --resume, the new total for the continued run\n"
          "  --seed S             random seed (default 0)\n"
          "  --config FILE        read hyperparameters from FILE (format below)\n"
          "  --set KEY=VALUE      set one hyperparameter; repeatable (see --keys)\n"
          "  --out DIR            run folder (default runs/ENV-ALGO-sSEED)\n"
          "  --resume DIR         continue the run in DIR from its checkpoint\n"
          "  --force              start over in a run folder that already holds a run; also go on\n"
          "                       with a plugin that changed since the run recorded it\n"
          "  --checkpoint-every K save a checkpoint every K iterations (default %d) and at the end\n"
          "  --eval-episodes N    deterministic episodes for the final score (default %d, 0: none)\n"
          "  --threads N          cores to use in all, OpenBLAS's included: N threads for rollouts\n"
          "                       and updates, each calling OpenBLAS single-threaded (default:\n"
          "                       one per core, here %d); a run's results are the same for every N\n"
          "  --quiet, -q          print nothing but errors\n"
          "  --keys               list every hyperparameter with its meaning\n"
          "  --help, -h           this help\n"
          "\n"
          "Precedence: the library's defaults for the env, then the config file, then flags in\n"
          "the order given. Config file format: one `key = value` (or `key: value`) per line,\n"
          "keys as listed by --keys; lines starting with '#' or ';' are comments, and so is\n"
          "anything after ' #' or ' ;'; values under a [trpo], [npg] or [acktr] section apply\n"
          "to that algorithm's runs only. An unknown key, a key given twice, a value out of\n"
          "range or a NUL byte is an error naming the file and line. A run's config.ini is\n"
          "such a file: `natgrad train --config runs/X/config.ini` repeats the run.\n"
          "\n"
          "One process at a time writes a run folder: another --out or --resume into it is\n"
          "refused with the owner's PID. A folder's checkpoint must match its config.ini.\n"
          "\n"
          "An environment without tuned defaults (any from a plugin) starts from SB3-contrib's\n"
          "TRPO defaults, and says so. Resuming a plugin environment that has no get/set state\n"
          "starts fresh episodes in every environment, drawn from the saved random streams:\n"
          "deterministic, but not the uninterrupted run (the episodes under way are dropped).\n"
          "Plugin code runs in this process: if it crashes, the last checkpoint survives.\n"
          "\n"
          "Under `mpirun -np K` (a build with MPI) the environments are split over the K ranks\n"
          "(K <= n_envs) and rank 0 writes the run folder; the run is the same for every K.\n"
          "With --set blocks=B (dividing n_envs) each rank keeps only its blocks' rows, which is\n"
          "what scales past a few ranks (K <= B; a run of its own, the same for every K).\n"
          "--threads is per rank (default: the cores shared by the ranks on a machine).\n"
          "NATGRAD_MPI_TIMEOUT (seconds, default 60) ends every rank when one hangs\n"
          "(docs/distributed.md).\n"
          "\n"
          "Ctrl-C (or SIGTERM) finishes the current iteration, saves a checkpoint and exits;\n"
          "`natgrad train --resume DIR` continues from there. Checkpoints are written atomically\n"
          "and the one before is kept as checkpoint.prev.ngc: if the latest is damaged, --resume\n"
          "falls back to it with a warning.\n"
          "\n"
          "Exit status: 0 done, 1 failure (numerics, I/O), 2 usage or config error, 130\n"
          "interrupted by Ctrl-C, 143 by SIGTERM.\n",
          DEFAULT_CHECKPOINT_EVERY, NG_RUN_EVAL_EPISODES, ng_train_default_threads());
}

static void list_keys(FILE *out) {
  fprintf(out, "hyperparameters (config-file keys; flags: --set KEY=VALUE):\n");
  const char *doc = NULL;
  for (size_t i = 0;; i++) {
    const char *key = ng_rl_config_key(i, &doc);
    if (!key) break;
    fprintf(out, "  %-22s %s\n", key, doc ? doc : "");
  }
}

int ng_train_default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > NG_TRAIN_DEFAULT_MAX_THREADS ? NG_TRAIN_DEFAULT_MAX_THREADS : (int)n;
}

/* An integer flag into an int field. */
static int int_flag(ng_args_t *a, long lo, long hi, int *out) {
  long x;
  if (!ng_args_int(a, lo, hi, &x)) return 0;
  *out = (int)x;
  return 1;
}

int ng_train_parse_args(int argc, char **argv, train_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->checkpoint_every = DEFAULT_CHECKPOINT_EVERY;
  o->eval_episodes = NG_RUN_EVAL_EPISODES;
  /* flags that set one config key, in the order given */
  static const char *const keyed[][2] = {{"--algo", "algo"}, {"--steps", "steps"},
                                         {"--seed", "seed"}};
  ng_args_t a;
  ng_args_init(&a, CMD, argc, argv);
  while (ng_args_next(&a)) {
    const char *v;
    size_t k = 0;
    while (k < 3 && !ng_args_is(&a, keyed[k][0])) k++;
    if (k < 3) {
      if (!(v = ng_args_value(&a)) ||
          !ng_args_setting(&a, &o->settings, keyed[k][0], keyed[k][1], v))
        return NG_EXIT_USAGE;
    } else if (ng_args_switch(&a, "--help", "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_switch(&a, "--keys", NULL)) {
      list_keys(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_is(&a, "--env")) {
      if (!(o->env = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--set")) {
      const setting_t *s;
      if (!(v = ng_args_value(&a)) || !(s = ng_args_set(&a, &o->settings, v)))
        return NG_EXIT_USAGE;
      if (!strcmp(s->key, "env") || !strcmp(s->key, "env_id")) o->env = s->value;
    } else if (ng_args_is(&a, "--config")) {
      if (!(o->config = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--plugin")) {
      if (!(v = ng_args_value(&a))) return NG_EXIT_USAGE;
      if (o->plugin) {
        ng_cli_error(CMD, "--plugin: one plugin per run");
        return NG_EXIT_USAGE;
      }
      o->plugin = v;
    } else if (ng_args_is(&a, "--out")) {
      if (!(o->out = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--resume")) {
      if (!(o->resume = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--checkpoint-every")) {
      if (!int_flag(&a, 1, 1000000000L, &o->checkpoint_every)) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--eval-episodes")) {
      if (!int_flag(&a, 0, 1000000, &o->eval_episodes)) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--threads")) {
      if (!int_flag(&a, 1, NG_POOL_MAX_THREADS, &o->threads)) return NG_EXIT_USAGE;
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

/* "unknown environment id 'X' (known: A, B, ...)". */
static void unknown_env(const char *env, const ng_error_t *err) {
  char known[512] = "";
  size_t len = 0;
  for (size_t i = 0; i < ng_env_count() && len < sizeof known; i++) {
    int n = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                     ng_env_info_at(i)->id);
    if (n > 0) len += (size_t)n;
  }
  const char *msg = err->message[0] ? ng_run_untag(err->message, "config") : "";
  if (!strstr(msg, env))
    ng_cli_error(CMD, "unknown environment id '%s' (known: %s; a plugin's needs --plugin)",
                 env, known);
  else if (!strstr(msg, "known:"))
    ng_cli_error(CMD, "%s (known: %s)", msg, known);
  else
    ng_cli_error(CMD, "%s", msg);
}

int ng_train_build_config(const train_opts_t *o, ng_rl_config_t *cfg) {
  static const char *const sections[] = {"trpo", "npg", "acktr", NULL};
  ng_error_t err;
  ng_error_clear(&err);
  ng_kv_list_t file;
  int have_file = 0;
  if (o->config) {
    int st = ng_kv_read_file(&file, o->config, sections, &err);
    if (st != NG_OK) {
      ng_cli_error(CMD, "%s", err.message);
      return st == NG_EIO ? NG_EXIT_FAILURE : NG_EXIT_USAGE;
    }
    have_file = 1;
  }
  /* The run's algo (the flags', else the file's top level's, else the default; a bad name
   * is reported when the settings are applied): its defaults and the file's section. */
  const char *algo = have_file ? ng_kv_get(&file, "algo", NULL) : NULL;
  for (int i = 0; i < o->settings.n; i++)
    if (!strcmp(o->settings.item[i].key, "algo")) algo = o->settings.item[i].value;
  ng_algo_t run_algo = NG_ALGO_TRPO; /* kept for no name or a bad one, refused below */
  ng_rl_algo_parse(algo, &run_algo, NULL);
  const char *section = ng_rl_algo_name(run_algo);
  const char *env = o->env;
  if (!env && have_file) {
    env = ng_kv_get(&file, "env", section);
    if (!env) env = ng_kv_get(&file, "env_id", section);
  }
  const ng_kv_t *algo_in_section = NULL; /* it would switch the algo its section was for */
  for (size_t i = 0; have_file && i < file.n && !algo_in_section; i++)
    if (file.items[i].section[0] && !strcmp(file.items[i].key, "algo"))
      algo_in_section = &file.items[i];
  int rc = -1;
  if (algo_in_section) {
    ng_cli_error(CMD, "%s:%d: algo cannot be set in [%s]: a section holds the values for that "
                 "algo's runs", file.source, algo_in_section->line, algo_in_section->section);
    rc = NG_EXIT_USAGE;
  } else if (!env) {
    ng_cli_error(CMD, "no environment: pass --env ID (e.g. --env CartPole-v1; `natgrad list` "
                      "shows them)");
    rc = NG_EXIT_USAGE;
  } else if (ng_rl_config_default_algo(cfg, env, run_algo, &err) != NG_OK) {
    unknown_env(env, &err);
    rc = NG_EXIT_USAGE;
  } else if (have_file && ng_kv_apply(&file, ng_rl_config_keys(), cfg, section, &err) != NG_OK) {
    ng_cli_error(CMD, "%s", err.message);
    rc = NG_EXIT_USAGE;
  }
  if (have_file) ng_kv_free(&file);
  if (rc >= 0) return rc;
  for (int i = 0; i < o->settings.n; i++) {
    const setting_t *s = &o->settings.item[i];
    ng_error_clear(&err);
    int st = ng_rl_config_set(cfg, s->key, s->value, &err);
    if (st != NG_OK) {
      ng_cli_error(CMD, "%s: %s", s->flag,
                   err.message[0] ? ng_run_untag(err.message, "config") : ng_strerror(st));
      return NG_EXIT_USAGE;
    }
  }
  if (o->env && strcmp(cfg->env_id, o->env) != 0) {
    ng_error_clear(&err);
    if (ng_rl_config_set(cfg, "env", o->env, &err) != NG_OK) {
      unknown_env(o->env, &err);
      return NG_EXIT_USAGE;
    }
  }
  if ((rc = ng_cli_plugin_record(CMD, cfg)) >= 0) return rc;
  ng_error_clear(&err);
  if (ng_rl_config_validate(cfg, &err) != NG_OK) {
    ng_cli_error(CMD, "invalid config: %s", ng_run_untag(err.message, "config"));
    return NG_EXIT_USAGE;
  }
  return -1;
}

typedef struct {
  double ret[RETURN_SMOOTH];
  int len, pos;
} return_ring_t;

static void ring_add(return_ring_t *r, double mean_return, int episodes) {
  if (episodes <= 0 || !isfinite(mean_return)) return;
  r->ret[r->pos] = mean_return;
  r->pos = (r->pos + 1) % RETURN_SMOOTH;
  if (r->len < RETURN_SMOOTH) r->len++;
}

/* One iteration on the progress line. */
static void show_progress(ng_progress_t *p, return_ring_t *ring, const ng_rl_stats_t *s,
                          int ls_max, int last) {
  ring_add(ring, s->mean_return, s->episodes);
  char it[32], ret[48], kl[32], ent[32], ls[64];
  snprintf(it, sizeof it, "it %ld", s->iteration);
  double sum = 0;
  for (int i = 0; i < ring->len; i++) sum += ring->ret[i];
  if (ring->len)
    snprintf(ret, sizeof ret, "return %.4g", sum / ring->len);
  else
    snprintf(ret, sizeof ret, "return -");
  snprintf(kl, sizeof kl, "kl %.2g", s->kl);
  snprintf(ent, sizeof ent, "ent %.3g", s->entropy);
  if (s->step_accepted && (ls_max <= 0 || s->ls_trials == 0)) /* NPG: no line search */
    snprintf(ls, sizeof ls, "step taken");
  else if (s->step_accepted)
    snprintf(ls, sizeof ls, "ls ok %d/%d", s->ls_trials, ls_max);
  else if (s->update_status == NG_ELINESEARCH || s->update_status == NG_OK)
    snprintf(ls, sizeof ls, "ls rejected");
  else /* CG or the step's curvature failed: no step was tried */
    snprintf(ls, sizeof ls, "no step (%s)", ng_status_name(s->update_status));
  const char *fields[5] = {it, ret, kl, ent, ls};
  ng_progress_show(p, s->env_steps, s->iteration, last, fields, 5);
}

static int print_summary(ng_rl_t *t, const train_opts_t *o, const char *dir,
                          const char *ckpt, const char *log_path, const char *curve,
                          long steps_before, double seconds) {
  const ng_rl_config_t *cfg = ng_rl_config(t);
  long steps = ng_rl_env_steps(t) - steps_before;
  int ok = 1;
  char dur[32];
  ng_progress_duration(dur, sizeof dur, seconds);
  printf("done: %s %s, %ld iterations, %ld environment steps\n", cfg->env_id,
         ng_rl_algo_name(cfg->algo), ng_rl_iteration(t), ng_rl_env_steps(t));
  if (steps > 0)
    printf("time: %s for %ld steps (%.0f steps/s)\n", dur, steps,
           seconds > 0 ? steps / seconds : 0.0);
  if (o->eval_episodes > 0) {
    double *ret = malloc((size_t)o->eval_episodes * sizeof *ret);
    ng_error_t err;
    ng_error_clear(&err);
    if (!ret) {
      ng_cli_error(CMD, "out of memory for the evaluation");
      ok = 0;
    } else if (ng_rl_evaluate(t, o->eval_episodes, NG_RUN_EVAL_SEED, 1, ret, &err) != NG_OK) {
      ng_cli_error(CMD, "final evaluation failed: %s", err.message);
      ok = 0;
    } else {
      double mean = 0, var = 0;
      for (int i = 0; i < o->eval_episodes; i++) mean += ret[i];
      mean /= o->eval_episodes;
      for (int i = 0; i < o->eval_episodes; i++) var += (ret[i] - mean) * (ret[i] - mean);
      printf("final mean return: %.2f ± %.2f (%d deterministic episodes; natgrad eval %s)\n",
             mean, sqrt(var / o->eval_episodes), o->eval_episodes, dir);
    }
    free(ret);
  }
  printf("curve:      %s\nlog:        %s\ncheckpoint: %s\n", curve, log_path, ckpt);
  return ok;
}

/* The flags a resume takes: only --steps (into *steps_value). -1 to go on, else the exit
 * code after an error message. */
static int resume_flags(const train_opts_t *o, const char **steps_value) {
  const char *bad = o->env ? "--env" : o->config ? "--config" : o->out ? "--out" : NULL;
  *steps_value = NULL;
  for (int i = 0; !bad && i < o->settings.n; i++) {
    const setting_t *st = &o->settings.item[i];
    if (!strcmp(st->key, "steps") || !strcmp(st->key, "total_steps"))
      *steps_value = st->value;
    else
      bad = st->flag;
  }
  if (bad) {
    ng_cli_error(CMD, "%s cannot be used with --resume: a resumed run keeps its config "
                      "(only --steps can extend it)", bad);
    return NG_EXIT_USAGE;
  }
  return -1;
}

static int apply_steps(const char *steps_value, ng_rl_t *t);

/* The trainer of a resumed run, from its folder's checkpoint (or the one before it), with
 * --steps (steps_value, may be NULL) applied. -1 to go on, else the exit code. */
static int resume_trainer(const char *steps_value, ng_run_t *run, ng_rl_t **t) {
  char warning[2048];
  ng_error_t err;
  ng_error_clear(&err);
  /* a damaged latest checkpoint falls back to the previous one, said loudly */
  if (ng_run_load_checkpoint(run, ng_rl_run_load, t, ng_rl_resume_keys(), warning,
                             sizeof warning, &err) != NG_OK) {
    ng_cli_error(CMD, "cannot resume: %s", ng_run_untag(err.message, "load"));
    return NG_EXIT_FAILURE;
  }
  if (warning[0]) ng_cli_error(CMD, "warning: %s", warning);
  return apply_steps(steps_value, *t);
}

/* --steps on a resumed run (steps_value may be NULL). -1 to go on, else the exit code. */
static int apply_steps(const char *steps_value, ng_rl_t *t) {
  if (!steps_value) return -1;
  char *end;
  long steps = strtol(steps_value, &end, 10);
  if (end == steps_value || *end || steps < 1) {
    ng_cli_error(CMD, "--steps: expected a positive integer, got '%s'", steps_value);
    return NG_EXIT_USAGE;
  }
  if (steps <= ng_rl_env_steps(t)) {
    ng_cli_error(CMD, "--steps %ld: the run has already taken %ld steps; give a larger "
                      "total to train longer", steps, ng_rl_env_steps(t));
    return NG_EXIT_USAGE;
  }
  if (ng_rl_set_total_steps(t, steps) != NG_OK) {
    ng_cli_error(CMD, "--steps %ld: not accepted by the trainer", steps);
    return NG_EXIT_USAGE;
  }
  return -1;
}

/* The trainer of a new run, into a freshly opened folder. -1 to go on, else the exit code. */
/* A new run's plugin and config. -1 to go on, else the exit code. */
static int new_config(const train_opts_t *o, ng_rl_config_t *cfg) {
  /* the plugin first: the config names its environment */
  int rc = o->config ? ng_cli_plugin_from_config(CMD, o->config, o->plugin, o->force)
           : o->plugin ? ng_cli_plugin_load(CMD, o->plugin) : -1;
  return rc >= 0 ? rc : ng_train_build_config(o, cfg);
}

static int new_trainer(const train_opts_t *o, ng_run_t **run, ng_rl_t **t) {
  ng_rl_config_t cfg;
  int rc = new_config(o, &cfg);
  if (rc >= 0) return rc;
  char dir[NG_CLI_PATH];
  int len = o->out ? snprintf(dir, sizeof dir, "%s", o->out)
                   : snprintf(dir, sizeof dir, "runs/%s-%s-s%llu", cfg.env_id,
                              ng_rl_algo_name(cfg.algo),
                              (unsigned long long)cfg.seed);
  if (len >= (int)sizeof dir) {
    ng_cli_error(CMD, "--out: path too long");
    return NG_EXIT_USAGE;
  }
  ng_error_t err;
  ng_error_clear(&err);
  if ((rc = ng_cli_run_open(run, dir, NG_RUN_CREATE, o->force, &err)) >= 0) {
    ng_cli_error(CMD, "%s", err.message);
    return rc;
  }
  if (ng_rl_create(t, &cfg, &err) != NG_OK) {
    ng_cli_error(CMD, "cannot set up training: %s", err.message);
    return NG_EXIT_FAILURE;
  }
  return -1;
}

/* The smoothing ring and the wall clock of a resumed run, from its log. */
static int seed_from_log(const char *log_path, return_ring_t *ring, double *wall_base,
                         ng_error_t *err) {
  ng_run_log_t log;
  int st = ng_run_log_read(log_path, NG_RL_LOG_HEADER, &log, err);
  if (st != NG_OK) return st;
  int c_eps = ng_run_log_column(NG_RL_LOG_HEADER, "episodes");
  int c_ret = ng_run_log_column(NG_RL_LOG_HEADER, "mean_return");
  int c_wall = ng_run_log_column(NG_RL_LOG_HEADER, "wall_s");
  for (size_t i = 0; i < log.n_rows; i++) {
    const double *row = log.values + i * log.n_cols;
    ring_add(ring, row[c_ret], (int)row[c_eps]);
  }
  if (log.n_rows > 0) {
    double wall = log.values[(log.n_rows - 1) * log.n_cols + (size_t)c_wall];
    if (isfinite(wall)) *wall_base = wall;
  }
  ng_run_log_free(&log);
  return NG_OK;
}

/* The trainer of rank 0 (or of the only process): a new run in a new folder, or a resumed
 * one. -1 to go on, else the exit code. */
static int lead_trainer(train_opts_t *o, ng_run_t **run, ng_rl_t **t) {
  ng_error_t err;
  ng_error_clear(&err);
  int rc;
  if (!o->resume) return new_trainer(o, run, t);
  const char *steps_value;
  if ((rc = resume_flags(o, &steps_value)) >= 0) return rc;
  if ((rc = ng_cli_run_open(run, o->resume, NG_RUN_RESUME, 0, &err)) >= 0) {
    ng_cli_error(CMD, "%s", err.message);
    return rc;
  }
  char config_path[NG_CLI_PATH];
  if (ng_run_path(config_path, sizeof config_path, o->resume, NG_RUN_CONFIG, &err) != NG_OK) {
    ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_USAGE;
  }
  if ((rc = ng_cli_plugin_from_config(CMD, config_path, o->plugin, o->force)) >= 0) return rc;
  return resume_trainer(steps_value, *run, t);
}

/* The trainer of another rank under mpirun: the same config, or the same checkpoint read
 * from the run folder (shared by every machine), without touching the folder. -1 to go on,
 * else the exit code. */
static int follower_trainer(train_opts_t *o, ng_rl_t **t) {
  ng_error_t err;
  ng_error_clear(&err);
  ng_rl_config_t cfg;
  int rc;
  if (!o->resume) {
    if ((rc = new_config(o, &cfg)) >= 0) return rc;
    if (ng_rl_create(t, &cfg, &err) == NG_OK) return -1;
    ng_cli_error(CMD, "cannot set up training: %s", err.message);
    return NG_EXIT_FAILURE;
  }
  const char *steps_value;
  if ((rc = resume_flags(o, &steps_value)) >= 0) return rc;
  /* read-only, with rank 0's fallback to checkpoint.prev.ngc when the latest is damaged,
   * so that every rank resumes from the same checkpoint */
  if ((rc = ng_cli_load_trainer(CMD, o->resume, o->plugin, o->force, t)) >= 0) return rc;
  return apply_steps(steps_value, *t);
}

int ng_cmd_train(int argc, char **argv) {
  train_opts_t *o = calloc(1, sizeof *o);
  if (!o) {
    ng_cli_error(CMD, "out of memory");
    return NG_EXIT_FAILURE;
  }
  int rc = ng_train_parse_args(argc, argv, o);
  ng_rl_t *t = NULL;
  ng_run_t *run = NULL;
  ng_error_t err;
  ng_error_clear(&err);
  char ckpt[NG_CLI_PATH], log_path[NG_CLI_PATH], curve[NG_CLI_PATH];
  if (rc >= 0) goto out;
  /* OpenBLAS on one thread from before the trainer is made: --threads N means N cores in
   * all (the pool splits rollouts and batch passes, OpenBLAS would otherwise take every
   * core inside each), and BLAS rounds as its thread count splits a product, so the
   * orthogonal init (blocked QR on layers wider than 128) and every pass stay the same
   * run whatever the machine or OPENBLAS_NUM_THREADS. */
  openblas_set_num_threads(1);

  /* ---- the trainer: a new run, or the checkpoint of an earlier one; under mpirun rank
   * 0 owns the run folder and the others read it (cli/train_mpi.h) ---- */
  if ((rc = ng_train_mpi_start()) >= 0) goto out;
  const int lead = ng_train_mpi_rank() == 0;
  if (!lead) o->quiet = 1;
  rc = lead ? lead_trainer(o, &run, &t) : follower_trainer(o, &t);
  if (rc >= 0) {
    ng_rl_destroy(t);
    t = NULL;
  }
  int rc_mpi = ng_train_mpi_setup(t);
  if (rc < 0) rc = rc_mpi;
  if (rc >= 0) goto out;
  const char *dir = lead ? ng_run_dir(run) : NULL;
  rc = NG_EXIT_FAILURE;
  int threads = o->threads ? o->threads : ng_train_mpi_threads(ng_train_default_threads());
  int s_threads = ng_rl_set_threads(t, threads);
  if (s_threads != NG_OK) {
    ng_cli_error(CMD, "cannot start %d threads: %s", threads, ng_strerror(s_threads));
    goto out;
  }
  if (lead && (ng_run_path(ckpt, sizeof ckpt, dir, NG_RUN_CHECKPOINT, &err) != NG_OK ||
      ng_run_path(log_path, sizeof log_path, dir, NG_RUN_LOG, &err) != NG_OK ||
      ng_run_path(curve, sizeof curve, dir, NG_RUN_CURVE, &err) != NG_OK)) {
    ng_cli_error(CMD, "%s", err.message);
    goto out;
  }

  /* ---- the run folder ---- */
  const ng_rl_config_t *cfg = ng_rl_config(t);
  if (lead && (ng_rl_run_write_config(run, cfg, &err) != NG_OK ||
               ng_run_log_open(run, NG_RL_LOG_HEADER, o->resume ? ng_rl_iteration(t) : -1,
                               &err) != NG_OK)) {
    ng_cli_error(CMD, "%s", err.message);
    goto out;
  }
  ng_progress_t progress;
  ng_progress_init(&progress, stdout, ng_progress_auto_mode(stdout, o->quiet), PLAIN_EVERY,
                   "steps", ng_rl_env_steps(t), cfg->total_steps);
  return_ring_t ring = {0};
  double wall_base = 0;
  if (o->resume && lead) {
    if (seed_from_log(log_path, &ring, &wall_base, &err) != NG_OK) {
      ng_cli_error(CMD, "%s", err.message);
      goto out;
    }
    if (!o->quiet) {
      if (ng_rl_done(t))
        printf("the run in %s has already taken %ld of %ld steps; pass --steps N to train "
               "longer\n", dir, ng_rl_env_steps(t), cfg->total_steps);
      else
        printf("resuming %s at iteration %ld (%ld of %ld steps)\n", dir, ng_rl_iteration(t),
               ng_rl_env_steps(t), cfg->total_steps);
      const ng_env_info_t *info = ng_env_find(cfg->env_id);
      if (info && info->state_size == 0 && !ng_rl_done(t))
        printf("%s has no get/set state: every environment starts a fresh episode from its "
               "saved random stream (the episodes under way at the checkpoint are dropped)\n",
               cfg->env_id);
    }
  } else if (!o->quiet) {
    const int ranks = ng_train_mpi_size();
    printf("training %s with %s for %ld steps (seed %llu, %d thread%s", cfg->env_id,
           ng_rl_algo_name(cfg->algo), cfg->total_steps, (unsigned long long)cfg->seed, threads,
           threads == 1 ? "" : "s");
    if (ranks > 1) printf(" on each of %d ranks", ranks);
    printf(") into %s\n", dir);
    if (!ng_rl_config_tuned(cfg->env_id))
      printf("no tuned defaults for %s: SB3-contrib's TRPO defaults (natgrad train --keys; "
             "--set KEY=VALUE to change one)\n", cfg->env_id);
  }
  fflush(stdout);

  /* ---- the loop: a signal stops it between iterations ---- */
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
  g_signal = 0;
  g_mode = progress.mode;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  double t0 = ng_progress_now();
  long iter_before = ng_rl_iteration(t);
  long steps_before = ng_rl_env_steps(t), saved_at = o->resume ? ng_rl_iteration(t) : -1;
  int failed = 0;
  /* every rank votes before each iteration (and once more at the end), so that a stop on
   * any one stops all of them at the same iteration */
  int stop;
  while (!(stop = ng_train_mpi_any(g_signal)) && !ng_rl_done(t)) {
    ng_rl_stats_t s;
    ng_error_clear(&err);
    if (ng_rl_iterate(t, &s, &err) != NG_OK) {
      /* nothing of this iteration is saved: the last checkpoint holds the last good state */
      ng_progress_break(&progress);
      ng_cli_error(CMD, "training stopped: %s",
                   err.message[0] ? err.message : ng_strerror(err.status));
      if (saved_at >= 0)
        ng_cli_error(CMD, "the last good checkpoint (iteration %ld) is in %s", saved_at, ckpt);
      ng_train_mpi_failed(t, NG_EXIT_FAILURE);
      failed = 1;
      break;
    }
    if (s.update_status != NG_OK && !o->quiet) {
      ng_progress_break(&progress);
      ng_cli_error(CMD, "warning: iteration %ld: policy step skipped: %s (%s); the policy is "
                   "unchanged", s.iteration, s.skip_reason ? s.skip_reason : "no reason given",
                   ng_status_name(s.update_status));
    }
    char row[512];
    ng_rl_log_row(&s, wall_base + ng_progress_now() - t0, row, sizeof row);
    if (lead && ng_run_log_append(run, row, &err) != NG_OK) {
      ng_progress_break(&progress);
      ng_cli_error(CMD, "%s", err.message);
      failed = ng_train_mpi_any(1);
      break;
    }
    show_progress(&progress, &ring, &s, cfg->ls_max_backtracks + 1, ng_rl_done(t) || g_signal);
    if (s.iteration % o->checkpoint_every == 0) {
      if (ng_rl_gather_envs(t, &err) != NG_OK ||
          (lead && ng_run_save_checkpoint(run, ng_rl_run_save, t, &err) != NG_OK)) {
        ng_progress_break(&progress);
        ng_cli_error(CMD, "cannot save checkpoint: %s", err.message);
        failed = ng_train_mpi_any(1);
        break;
      }
      saved_at = s.iteration;
    }
  }
  double seconds = ng_progress_now() - t0;
  ng_progress_break(&progress);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (ng_train_mpi_size() > 1 && ng_train_mpi_any(failed)) failed = 1;
  if (failed) goto out;
  if (stop && !g_signal) g_signal = stop; /* another rank's signal */

  /* ---- the end: checkpoint, curve, summary ---- */
  if (ng_rl_gather_envs(t, &err) != NG_OK) {
    ng_cli_error(CMD, "cannot save checkpoint: %s", err.message);
    goto out;
  }
  if (!lead) {
    rc = NG_EXIT_OK;
    goto out;
  }
  if (saved_at != ng_rl_iteration(t) || access(ckpt, F_OK) != 0) {
    if (ng_run_save_checkpoint(run, ng_rl_run_save, t, &err) != NG_OK) {
      ng_cli_error(CMD, "cannot save checkpoint: %s", err.message);
      goto out;
    }
  }
  if (ng_rl_draw_curve(dir, cfg, &err) != NG_OK) {
    ng_cli_error(CMD, "%s", err.message);
    goto out;
  }
  if (g_signal) {
    if (!o->quiet)
      printf("interrupted at iteration %ld (%ld of %ld steps); checkpoint saved in %s\n"
             "continue with: natgrad train --resume %s\n",
             ng_rl_iteration(t), ng_rl_env_steps(t), cfg->total_steps, ckpt, dir);
    rc = 128 + (int)g_signal;
    goto out;
  }
  if (!o->quiet) ng_train_mpi_report(ng_rl_iteration(t) - iter_before);
  if (!o->quiet && !print_summary(t, o, dir, ckpt, log_path, curve, steps_before, seconds))
    goto out;
  rc = NG_EXIT_OK;
out:
  if (t) ng_rl_destroy(t);
  ng_run_close(run);
  ng_train_mpi_end();
  free(o);
  return rc;
}
