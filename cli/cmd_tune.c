/* natgrad tune: random search with successive halving over config keys (docs/tuning.md).
 *
 * A trial is a `natgrad train` run folder (trials/NNN) trained by a child process on one
 * core; continuing it to the next rung is `natgrad train --resume` of that folder, so nothing
 * is recomputed, and a killed tune resumes from the folders' checkpoints. A trial's score is
 * what `natgrad eval DIR` prints (NG_RUN_EVAL_EPISODES deterministic episodes from
 * NG_RUN_EVAL_SEED), computed here from its checkpoint. Rows of trials.csv are written per
 * rung in trial order and promotions are decided on a whole rung, so the results depend on
 * the seed and the settings only, never on --workers or on which child finished first.
 * Under mpirun each rank trains its share of a rung's trials and every rank then holds the
 * whole rung (share_rung), so the results do not depend on the number of ranks either;
 * rank 0 alone holds the folder and writes its files. With --trial-seeds R a trial is R run
 * folders on R seeds, each run a unit of work of its own, and its score their scores' mean;
 * trials.csv keeps each run's score, so a resumed tune promotes on the very same means. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "args.h"
#include "cli.h"
#include "cmd_args.h"
#include "mpi_run.h"
#include "natgrad/env.h"
#include "natgrad/keys.h"
#include "natgrad/rl.h"
#include "natgrad/run.h"
#include "natgrad/svg.h"
#include "progress.h"
#include "run_dir.h"
#include "tune.h"

#define CMD "tune"
#define TUNE_INI "tune.ini"
#define TUNE_CSV "trials.csv"
#define TUNE_SVG "tune.svg"
#define TUNE_BEST "best.ini"
#define DEFAULT_ETA 3
#define MAX_TRIALS 10000
#define MAX_SETS 64
#define SET_VALUE 1024 /* as ng_kv_t's value */
#define TUNE_REPORT "report.csv"
#define REPORT_SEEDS 10  /* --report-seeds: seeds 0 .. REPORT_SEEDS - 1 */

static volatile sig_atomic_t g_signal = 0;
static void on_signal(int sig) { g_signal = sig; }

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad tune --env ID --trials N --steps S [options]\n"
          "       natgrad tune --resume DIR [--workers W] [--plugin LIB.so] [--force] [-q]\n"
          "\n"
          "Searches config keys by random search with successive halving: N trials drawn from\n"
          "the space are trained to M steps each (the first rung) and scored; the best 1/eta\n"
          "are continued to M*eta steps, and so on up to S. A trial is a run folder trained by\n"
          "`natgrad train` on one core; continuing it resumes its checkpoint. Trials train on\n"
          "seeds %d and up (trial i on seed %d + i; with --trial-seeds R on R seeds,\n"
          "%d + i*R + j): report the best config on seeds 0-9.\n"
          "\n"
          "options:\n"
          "  --env ID          environment, e.g. CartPole-v1\n"
          "  --plugin LIB.so   load environments from a plugin (docs/custom-envs.md); tune.ini\n"
          "                    records it and --resume reloads it (--plugin again if it moved)\n"
          "  --trials N        trials at the first rung\n"
          "  --trial-seeds R   train each trial on R seeds and score it by their mean: R times\n"
          "                    the runs, less of a seed's luck in the choice (default 1)\n"
          "  --steps S         environment steps of the trials that reach the last rung\n"
          "  --algo NAME       trpo, npg or acktr (default trpo)\n"
          "  --min-steps M     steps of the first rung (default: S / eta^2, rounded up)\n"
          "  --eta E           keep the best 1/E at each rung and train them E times longer\n"
          "                    (default %d)\n"
          "  --seed SEED       the tune's seed: the same seed draws the same trials (default 0)\n"
          "  --space FILE      the keys to search, one `key = DIST` per line, DIST one of\n"
          "                    uniform(a, b), loguniform(a, b), int(a, b), choice(v1, v2, ...)\n"
          "                    (default: the algorithm's space in docs/tuning.md; --show-space)\n"
          "  --set KEY=VALUE   fix a key for every trial (not searched); repeatable\n"
          "  --out DIR         the tune's folder (default tunes/ENV-ALGO-sSEED)\n"
          "  --workers W       runs trained at once, one core each (default: one per core,\n"
          "                    here %d; under mpirun per rank, the node's cores shared by its\n"
          "                    ranks); the results are the same for every W\n"
          "  --resume DIR      continue a stopped or killed tune; ends as an uninterrupted one\n"
          "  --report-seeds    then train best.ini on seeds 0-9 to S steps (report/sS/) and\n"
          "                    print their scores' mean, standard error and 95%% interval\n"
          "                    (report.csv); with --resume, for a tune already done too\n"
          "  --force           start over in a folder that holds a tune; with --resume, go on\n"
          "                    with a plugin that changed since tune.ini recorded it\n"
          "  --show-space      print the space and exit: --space FILE's as --env and --algo\n"
          "                    read it, else the default of --algo for --env\n"
          "  --quiet, -q       print nothing but errors\n"
          "  --help, -h        this help\n"
          "\n"
          "The folder: tune.ini (the settings and the space), trials.csv (trial, rung, steps,\n"
          "score and every searched key, one row per trial and rung), trials/NNN/ (each\n"
          "trial's run folder; with --trial-seeds R, trials/NNN-sJ/ its runs j = 1..R-1 and\n"
          "trials.csv's score_sJ each run's score), best.ini (the best trial's config:\n"
          "natgrad train --config best.ini) and tune.svg (every trial's score against steps,\n"
          "the best highlighted).\n"
          "A score is the mean return of %d deterministic episodes from seed %d, as\n"
          "`natgrad eval DIR` prints it; a trial's on R seeds, the mean of its runs'.\n"
          "\n"
          "Over MPI ranks: `mpirun -np K natgrad tune ...` deals each rung's runs over the K\n"
          "ranks (each running its --workers); the folder must be on a file system every rank\n"
          "shares, rank 0 writes the tune's files, and the results are those of one process.\n"
          "\n"
          "Exit status: 0 done, 1 failure, 2 usage or config error, 130 interrupted by Ctrl-C,\n"
          "143 by SIGTERM (continue with --resume).\n",
          NG_TUNE_SEED_BASE, NG_TUNE_SEED_BASE, NG_TUNE_SEED_BASE, DEFAULT_ETA,
          ng_train_default_threads(), NG_RUN_EVAL_EPISODES, NG_RUN_EVAL_SEED);
}

/* ---- settings: what tune.ini holds ------------------------------------------------------- */

typedef struct {
  char env[64];
  char plugin[1024], plugin_hash[24]; /* the env's plugin as recorded ("" for none) */
  ng_algo_t algo;
  long trials, steps, min_steps, eta;
  long trial_seeds; /* each trial's training runs, one seed each (1 in tunes before it) */
  uint64_t seed;
  int n_sets;
  char set_key[MAX_SETS][64];
  char set_value[MAX_SETS][SET_VALUE];
  const char *where;  /* "--set" or tune.ini's path, for messages */
  ng_tune_space_t space;
} settings_t;

typedef struct {
  settings_t s;
  const char *out, *resume, *space_file, *plugin;
  long workers;
  int force, quiet, show_space, have_min_steps, have_eta, have_workers, have_trial_seeds, report;
} opts_t;

static int add_set(settings_t *s, const char *kv) {
  const char *e = strchr(kv, '=');
  if (!e || e == kv) {
    ng_cli_error(CMD, "--set expects KEY=VALUE, got '%s'", kv);
    return 0;
  }
  if (s->n_sets == MAX_SETS || (size_t)(e - kv) >= sizeof s->set_key[0] ||
      strlen(e + 1) >= sizeof s->set_value[0]) {
    ng_cli_error(CMD, "--set %s: too long, or more than %d --set", kv, MAX_SETS);
    return 0;
  }
  memcpy(s->set_key[s->n_sets], kv, (size_t)(e - kv));
  s->set_key[s->n_sets][e - kv] = '\0';
  snprintf(s->set_value[s->n_sets], sizeof s->set_value[0], "%s", e + 1);
  s->n_sets++;
  return 1;
}

static int parse_args(int argc, char **argv, opts_t *o) {
  memset(o, 0, sizeof *o);
  o->s.eta = DEFAULT_ETA;
  o->s.trial_seeds = 1;
  o->s.where = "--set";
  o->workers = ng_train_default_threads();
  ng_args_t a;
  ng_args_init(&a, CMD, argc, argv);
  while (ng_args_next(&a)) {
    const char *v;
    if (ng_args_switch(&a, "--help", "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_is(&a, "--env")) {
      if (!(v = ng_args_value(&a))) return NG_EXIT_USAGE;
      snprintf(o->s.env, sizeof o->s.env, "%s", v);
    } else if (ng_args_is(&a, "--plugin")) {
      if (!(o->plugin = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--algo")) {
      if (!(v = ng_args_value(&a))) return NG_EXIT_USAGE;
      ng_error_t err;
      if (ng_rl_algo_parse(v, &o->s.algo, &err) != NG_OK) {
        ng_cli_error(CMD, "--algo: %s", ng_run_untag(err.message, "config"));
        return NG_EXIT_USAGE;
      }
    } else if (ng_args_is(&a, "--trials")) {
      if (!ng_args_int(&a, 1, MAX_TRIALS, &o->s.trials)) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--trial-seeds")) {
      if (!ng_args_int(&a, 1, MAX_TRIALS, &o->s.trial_seeds)) return NG_EXIT_USAGE;
      o->have_trial_seeds = 1;
    } else if (ng_args_is(&a, "--steps")) {
      if (!ng_args_int(&a, 1, LONG_MAX, &o->s.steps)) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--min-steps")) {
      if (!ng_args_int(&a, 1, LONG_MAX, &o->s.min_steps)) return NG_EXIT_USAGE;
      o->have_min_steps = 1;
    } else if (ng_args_is(&a, "--eta")) {
      if (!ng_args_int(&a, 2, 1000, &o->s.eta)) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--seed")) {
      long seed;
      if (!ng_args_int(&a, 0, LONG_MAX, &seed)) return NG_EXIT_USAGE;
      o->s.seed = (uint64_t)seed;
    } else if (ng_args_is(&a, "--workers")) {
      if (!ng_args_int(&a, 1, NG_POOL_MAX_THREADS, &o->workers)) return NG_EXIT_USAGE;
      o->have_workers = 1;
    } else if (ng_args_is(&a, "--space")) {
      if (!(o->space_file = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--set")) {
      if (!(v = ng_args_value(&a)) || !add_set(&o->s, v)) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--out")) {
      if (!(o->out = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--resume")) {
      if (!(o->resume = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_switch(&a, "--force", NULL)) {
      o->force = 1;
    } else if (ng_args_switch(&a, "--report-seeds", NULL)) {
      o->report = 1;
    } else if (ng_args_switch(&a, "--show-space", NULL)) {
      o->show_space = 1;
    } else if (ng_args_switch(&a, "--quiet", "-q")) {
      o->quiet = 1;
    } else {
      return ng_args_unknown(&a);
    }
    if (ng_args_is(&a, "--eta")) o->have_eta = 1;
  }
  if (o->resume) {
    const settings_t *s = &o->s;
    const char *bad = s->env[0] ? "--env" : s->trials ? "--trials" : s->steps ? "--steps"
                      : o->have_min_steps ? "--min-steps" : o->have_eta ? "--eta"
                      : s->seed ? "--seed" : o->have_trial_seeds ? "--trial-seeds"
                      : s->n_sets ? "--set" : o->space_file ? "--space"
                      : o->out ? "--out" : s->algo ? "--algo"
                      : o->show_space ? "--show-space" : NULL;
    if (bad) {
      ng_cli_error(CMD, "%s cannot be used with --resume: a resumed tune keeps the settings "
                   "in its %s", bad, TUNE_INI);
      return NG_EXIT_USAGE;
    }
    return -1;
  }
  if (!o->s.env[0]) {
    ng_cli_error(CMD, "no environment: pass --env ID (e.g. --env CartPole-v1)");
    return NG_EXIT_USAGE;
  }
  if (o->show_space) return -1;
  if (!o->s.trials || !o->s.steps) {
    ng_cli_error(CMD, "%s is required (natgrad tune --help)", !o->s.trials ? "--trials N"
                                                                            : "--steps S");
    return NG_EXIT_USAGE;
  }
  if (o->s.trials * o->s.trial_seeds > MAX_TRIALS) {
    ng_cli_error(CMD, "--trials %ld with --trial-seeds %ld is %ld runs per rung, above %d",
                 o->s.trials, o->s.trial_seeds, o->s.trials * o->s.trial_seeds, MAX_TRIALS);
    return NG_EXIT_USAGE;
  }
  if (!o->have_min_steps) { /* two halvings: S / eta^2, rounded up so that M eta^2 >= S */
    long e2 = o->s.eta * o->s.eta;
    o->s.min_steps = o->s.steps / e2 + (o->s.steps % e2 != 0);
  }
  if (o->s.min_steps > o->s.steps) {
    ng_cli_error(CMD, "--min-steps %ld is above --steps %ld: the first rung cannot train "
                 "longer than the last", o->s.min_steps, o->s.steps);
    return NG_EXIT_USAGE;
  }
  return -1;
}

/* The config trials start from: the env's defaults, algo, then the fixed keys in order. */
static int base_config(const settings_t *s, ng_rl_config_t *cfg) {
  ng_error_t err;
  ng_error_clear(&err);
  if (ng_rl_config_default_algo(cfg, s->env, s->algo, &err) != NG_OK) {
    ng_cli_error(CMD, "%s (`natgrad list` shows the environments; a plugin's needs --plugin)",
                 ng_run_untag(err.message, "config"));
    return NG_EXIT_USAGE;
  }
  int rc = ng_cli_plugin_record(CMD, cfg);
  if (rc >= 0) return rc;
  for (int i = 0; i < s->n_sets; i++) {
    const ng_key_t *k = ng_keys_find(ng_rl_config_keys(), s->set_key[i]);
    const char *name = k ? k->name : s->set_key[i];
    if (!strcmp(name, "env") || !strcmp(name, "algo") || !strcmp(name, "steps") ||
        !strcmp(name, "seed") || !strcmp(name, "plugin") || !strcmp(name, "plugin_hash")) {
      ng_cli_error(CMD, "%s %s: set by the tune itself (--env, --algo, --steps; trial i "
                   "trains on seed %d + i)", s->where, name, NG_TUNE_SEED_BASE);
      return NG_EXIT_USAGE;
    }
    if (ng_rl_config_set(cfg, s->set_key[i], s->set_value[i], &err) != NG_OK) {
      ng_cli_error(CMD, "%s %s=%s: %s", s->where, s->set_key[i], s->set_value[i],
                   ng_run_untag(err.message, "config"));
      return NG_EXIT_USAGE;
    }
  }
  return -1;
}

/* The default space (or the file's) into s->space, less the keys fixed by --set. */
static int read_space(opts_t *o, const ng_rl_config_t *base) {
  ng_kv_list_t l;
  ng_error_t err;
  ng_error_clear(&err);
  int st;
  if (o->space_file) {
    st = ng_kv_read_file(&l, o->space_file, NULL, &err);
  } else {
    const ng_env_info_t *info = ng_env_find(base->env_id);
    int gaussian = info && info->action_space.kind == NG_SPACE_BOX;
    const char *text = ng_tune_default_space(base->algo, gaussian);
    st = ng_kv_parse(&l, text, strlen(text), "the default space", NULL, &err);
  }
  if (st != NG_OK) {
    ng_cli_error(CMD, "--space: %s", err.message);
    return st == NG_EIO ? NG_EXIT_FAILURE : NG_EXIT_USAGE;
  }
  memset(&o->s.space, 0, sizeof o->s.space);
  st = ng_tune_space_read(&o->s.space, &l, NULL, base, &err);
  ng_kv_free(&l);
  if (st != NG_OK) {
    ng_cli_error(CMD, "%s%s", o->space_file ? "--space: " : "", err.message);
    return NG_EXIT_USAGE;
  }
  if (o->s.space.n == 0) {
    ng_cli_error(CMD, "--space %s: nothing to search: the file has no `key = DIST` line",
                 o->space_file);
    return NG_EXIT_USAGE;
  }
  for (int i = 0; i < o->s.n_sets; i++) ng_tune_space_drop(&o->s.space, o->s.set_key[i]);
  if (o->s.space.n == 0) {
    ng_cli_error(CMD, "nothing to search: every key of the space is fixed by --set");
    return NG_EXIT_USAGE;
  }
  return -1;
}

/* tune.ini's text (ng_malloc'ed), which read_ini reads back to the same settings. */
static char *format_ini(const settings_t *s) {
  size_t cap = 4096 + (size_t)s->n_sets * (SET_VALUE + 80) + NG_TUNE_MAX_DIMS * 400, len = 0;
  char *t = ng_malloc(cap);
  if (!t) return NULL;
  len += (size_t)snprintf(t + len, cap - len,
                          "# natgrad tune: this tune's settings and search space; `natgrad "
                          "tune --resume DIR` continues it\n"
                          "env = %s\nalgo = %s\ntrials = %ld\nsteps = %ld\nmin_steps = %ld\n"
                          "eta = %ld\nseed = %llu\n", s->env, ng_rl_algo_name(s->algo),
                          s->trials, s->steps, s->min_steps, s->eta,
                          (unsigned long long)s->seed);
  if (s->trial_seeds > 1) /* absent: 1, so a one-seed tune.ini is as before */
    len += (size_t)snprintf(t + len, cap - len, "trial_seeds = %ld\n", s->trial_seeds);
  if (s->plugin[0])
    len += (size_t)snprintf(t + len, cap - len, "plugin = %s\nplugin_hash = %s\n", s->plugin,
                            s->plugin_hash);
  len += (size_t)snprintf(t + len, cap - len, "\n[set]\n");
  for (int i = 0; i < s->n_sets; i++)
    len += (size_t)snprintf(t + len, cap - len, "%s = %s\n", s->set_key[i], s->set_value[i]);
  len += (size_t)snprintf(t + len, cap - len, "\n[space]\n");
  for (int i = 0; i < s->space.n; i++)
    len += (size_t)snprintf(t + len, cap - len, "%s = %s\n", s->space.dims[i].key,
                            s->space.dims[i].spec);
  return t;
}

/* A resumed tune's settings from dir/tune.ini (o->s filled, its space read). */
static int read_ini(opts_t *o, const char *path) {
  static const char *const sections[] = {"set", "space", NULL};
  ng_kv_list_t l;
  ng_error_t err;
  ng_error_clear(&err);
  int st = ng_kv_read_file(&l, path, sections, &err);
  if (st != NG_OK) {
    if (st == NG_ENOTFOUND)
      ng_cli_error(CMD, "--resume: no tune to continue: cannot read %s", path);
    else
      ng_cli_error(CMD, "%s", err.message);
    return st == NG_EIO ? NG_EXIT_FAILURE : NG_EXIT_USAGE;
  }
  settings_t *s = &o->s;
  static const char *const names[] = {"trials", "steps", "min_steps", "eta", "seed",
                                      "trial_seeds"};
  long *fields[] = {&s->trials, &s->steps, &s->min_steps, &s->eta, NULL, &s->trial_seeds};
  enum { N_NUMBERS = 6, ENV = 1 << 6, ALGO = 1 << 7, TRIAL_SEEDS = 1 << 5 };
  int seen = 0, rc = -1;
  s->trial_seeds = 1; /* tunes from before --trial-seeds do not say it */
  for (size_t i = 0; i < l.n && rc < 0; i++) {
    const ng_kv_t *e = &l.items[i];
    if (!strcmp(e->section, "set")) {
      if (s->n_sets == MAX_SETS) {
        ng_cli_error(CMD, "%s:%d: more than %d fixed keys", path, e->line, MAX_SETS);
        rc = NG_EXIT_USAGE;
        continue;
      }
      snprintf(s->set_key[s->n_sets], sizeof s->set_key[0], "%s", e->key);
      snprintf(s->set_value[s->n_sets++], sizeof s->set_value[0], "%s", e->value);
      continue;
    }
    if (e->section[0]) continue; /* [space], read below */
    size_t k = 0;
    while (k < N_NUMBERS && strcmp(e->key, names[k])) k++;
    char *end;
    errno = 0;
    long long x = strtoll(e->value, &end, 10);
    if (!strcmp(e->key, "env") && strlen(e->value) < sizeof s->env) {
      memcpy(s->env, e->value, strlen(e->value) + 1);
      seen |= ENV;
    } else if (!strcmp(e->key, "plugin") && strlen(e->value) < sizeof s->plugin) {
      memcpy(s->plugin, e->value, strlen(e->value) + 1);
    } else if (!strcmp(e->key, "plugin_hash") && strlen(e->value) < sizeof s->plugin_hash) {
      memcpy(s->plugin_hash, e->value, strlen(e->value) + 1);
    } else if (!strcmp(e->key, "algo") && ng_rl_algo_parse(e->value, &s->algo, NULL) == NG_OK) {
      seen |= ALGO;
    } else if (k < N_NUMBERS && end != e->value && !*end && !errno && x >= (k == 4 ? 0 : 1)) {
      if (fields[k]) *fields[k] = (long)x;
      else s->seed = (uint64_t)x;
      seen |= 1 << k;
    } else {
      ng_cli_error(CMD, "%s:%d: %s = %s: not a tune setting (env, algo, trials, steps, "
                   "min_steps, eta, seed, trial_seeds, plugin, plugin_hash)", path, e->line,
                   e->key, e->value);
      rc = NG_EXIT_USAGE;
    }
  }
  if (rc < 0 && (seen | TRIAL_SEEDS) != (ENV | ALGO | ((1 << N_NUMBERS) - 1))) {
    ng_cli_error(CMD, "%s: a setting is missing (env, algo, trials, steps, min_steps, eta, "
                 "seed are all needed)", path);
    rc = NG_EXIT_USAGE;
  }
  if (rc < 0 && (s->trials > MAX_TRIALS / s->trial_seeds || s->min_steps > s->steps ||
                 s->eta < 2)) {
    ng_cli_error(CMD, "%s: trials times trial_seeds must be at most %d, min_steps at most "
                 "steps, eta at least 2", path, MAX_TRIALS);
    rc = NG_EXIT_USAGE;
  }
  ng_rl_config_t base;
  /* the plugin first: it registers env; refused if missing or changed, as train --resume */
  if (rc < 0) rc = ng_cli_plugin_recorded(CMD, s->plugin, s->plugin_hash, path, o->plugin,
                                          o->force);
  if (rc < 0) rc = base_config(s, &base);
  if (rc < 0) {
    memset(&s->space, 0, sizeof s->space);
    if (ng_tune_space_read(&s->space, &l, "space", &base, &err) != NG_OK) {
      ng_cli_error(CMD, "%s", err.message);
      rc = NG_EXIT_USAGE;
    }
  }
  ng_kv_free(&l);
  return rc;
}

/* ---- the tune ---------------------------------------------------------------------------- */

typedef struct {
  settings_t *s;
  const char *dir;
  int workers, quiet;
  int force;  /* --resume --force: go on with a changed plugin (trials' runs too) */
  int lead;   /* rank 0 (or the only process): writes the tune's files */
  char **env; /* the trials' environment: without the MPI launchers' variables */
  int report; /* --report-seeds: runs trials + i are best.ini on seed i */
  char exe[NG_CLI_PATH];
  long rungs[NG_TUNE_MAX_RUNGS];
  int n_rungs;
  int n_seeds; /* --trial-seeds: trial t's runs are u = t * n_seeds + j, on seed 100 + u */
  int n_runs;  /* the trials' runs; the report's seeds follow */
  int best;    /* the best trial, once known: the report's runs train its config */
  char (*values)[NG_TUNE_MAX_DIMS][NG_TUNE_VALUE]; /* per trial: its drawn values */
  /* per run u (and rung k: at(T, u, k)): the trials' runs, then the report's seeds */
  ng_rl_config_t *cfg;   /* its config but for steps */
  double *score, *wall;  /* NaN until known */
  long *steps;           /* env steps when scored */
  unsigned char *have;   /* scored at that rung */
  int rows;              /* rows in trials.csv */
  FILE *csv;
} tune_t;

/* dir/name into buf (NG_CLI_PATH bytes). The tune's folder is at most TUNE_DIR_MAX long,
 * so every path the tune makes fits. */
#define TUNE_DIR_MAX (NG_CLI_PATH - 64)
/* Run u's slot at rung k in score, wall, steps and have. */
static size_t at(const tune_t *T, int u, int k) {
  return (size_t)u * (size_t)T->n_rungs + (size_t)k;
}

static void join(char *buf, const char *dir, const char *name) {
  (void)ng_run_path(buf, NG_CLI_PATH, dir, name, NULL);
}

/* rc (-1 to go on, else an exit code, never 0) voted over the ranks under mpirun: the
 * largest exit code of any rank, so that all stop together and reach the same collectives;
 * rc itself in one process. */
static int all_ranks(int rc) {
  int any = ng_mpi_run_any(rc >= 0 ? rc : 0);
  return any ? any : -1;
}

/* The trial whose config run u trains: a report seed's is the best trial. */
static int trial_of(const tune_t *T, int u) {
  return u < T->n_runs ? u / T->n_seeds : T->best;
}

/* Run u's folder: trials/NNN for trial NNN's first run (its only one with one seed), then
 * trials/NNN-sJ for its run j = J; report/sS for the report's seed S. */
static void trial_dir(const tune_t *T, int u, char *buf) {
  char name[48];
  if (u >= T->n_runs)
    snprintf(name, sizeof name, "report/s%d", u - T->n_runs);
  else if (u % T->n_seeds == 0)
    snprintf(name, sizeof name, "trials/%03d", u / T->n_seeds);
  else
    snprintf(name, sizeof name, "trials/%03d-s%d", u / T->n_seeds, u % T->n_seeds);
  join(buf, T->dir, name);
}

/* Run u for messages: "trial 3", "trial 3 (seed 107)" with several seeds, "report seed 2". */
static const char *run_name(const tune_t *T, int u, char buf[64]) {
  if (u >= T->n_runs)
    snprintf(buf, 64, "report seed %d", u - T->n_runs);
  else if (T->n_seeds == 1)
    snprintf(buf, 64, "trial %d", u);
  else
    snprintf(buf, 64, "trial %d (seed %d)", u / T->n_seeds, NG_TUNE_SEED_BASE + u);
  return buf;
}

/* Trial t's result at rung k from its runs': the mean score (NaN if a run failed), the
 * most steps (a failed run has 0) and the wall times' sum; with one seed, its run's. */
static double trial_result(const tune_t *T, int t, int k, long *steps, double *wall) {
  size_t i = at(T, t * T->n_seeds, k);
  double sum = T->score[i], w = T->wall[i];
  long most = T->steps[i];
  for (int j = 1; j < T->n_seeds; j++) {
    i = at(T, t * T->n_seeds + j, k);
    sum += T->score[i];
    w += T->wall[i];
    if (T->steps[i] > most) most = T->steps[i];
  }
  if (steps) *steps = most;
  if (wall) *wall = w;
  return sum / T->n_seeds;
}

/* "seed 109", or with several seeds "seeds 118-119": the seeds trial t trains on. */
static const char *trial_seeds(const tune_t *T, int t, char buf[48]) {
  const int first = NG_TUNE_SEED_BASE + t * T->n_seeds;
  if (T->n_seeds == 1)
    snprintf(buf, 48, "seed %d", first);
  else
    snprintf(buf, 48, "seeds %d-%d", first, first + T->n_seeds - 1);
  return buf;
}

/* Every trial's values and its runs' configs, checked before anything runs. */
static int draw_trials(tune_t *T, const ng_rl_config_t *base) {
  const settings_t *s = T->s;
  for (int u = 0; u < T->n_runs; u++) {
    const int t = u / T->n_seeds;
    if (u % T->n_seeds == 0) ng_tune_sample(&s->space, s->seed, t, T->values[t]);
    ng_rl_config_t *c = &T->cfg[u];
    *c = *base;
    c->seed = (uint64_t)(NG_TUNE_SEED_BASE + u);
    c->total_steps = s->steps;
    ng_error_t err;
    ng_error_clear(&err);
    for (int d = 0; d < s->space.n; d++)
      if (ng_rl_config_set(c, s->space.dims[d].key, T->values[t][d], &err) != NG_OK) break;
    if (!err.message[0]) ng_rl_config_validate(c, &err);
    if (err.message[0]) {
      ng_cli_error(CMD, "trial %d's config is not valid (fix the space or --set): %s", t,
                   ng_run_untag(err.message, "config"));
      return NG_EXIT_USAGE;
    }
  }
  return -1;
}

static char *csv_header(const tune_t *T) {
  size_t cap = 64 + (size_t)T->s->space.n * 72 + (size_t)T->n_seeds * 16;
  char *h = ng_malloc(cap);
  if (!h) return NULL;
  size_t len = (size_t)snprintf(h, cap, "row,trial,rung,steps,score");
  for (int j = 0; T->n_seeds > 1 && j < T->n_seeds; j++) /* each run's; score is their mean */
    len += (size_t)snprintf(h + len, cap - len, ",score_s%d", j);
  for (int d = 0; d < T->s->space.n; d++)
    len += (size_t)snprintf(h + len, cap - len, ",%s", T->s->space.dims[d].key);
  snprintf(h + len, cap - len, ",wall_s");
  return h;
}

/* trials.csv's rows so far (a resumed tune): the torn last line cut off the file, every
 * row's trial and rung checked. -1 to go on, else the exit code. */
static int read_rows(tune_t *T, const char *path, const char *header) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1; /* no row yet */
  char *text = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 > cap) {
      char *n = realloc(text, cap = 2 * cap + 8192);
      if (!n) break;
      text = n;
    }
    size_t got = fread(text + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int bad = ferror(f) || !text;
  fclose(f);
  if (bad) {
    free(text);
    ng_cli_error(CMD, "cannot read %s", path);
    return NG_EXIT_FAILURE;
  }
  size_t keep = len;
  while (keep && text[keep - 1] != '\n') keep--; /* a torn last row */
  ng_run_log_t log;
  ng_error_t err;
  ng_error_clear(&err);
  int rc = -1;
  if (ng_run_log_parse(text, keep, header, path, &log, &err) != NG_OK) {
    ng_cli_error(CMD, "%s (not this tune's %s?)", err.message, TUNE_CSV);
    rc = NG_EXIT_USAGE;
  } else {
    for (size_t r = 0; r < log.n_rows && rc < 0; r++) {
      const double *v = log.values + r * log.n_cols;
      int ok = v[0] == (double)(r + 1) && v[1] >= 0 && v[1] < (double)T->s->trials &&
               v[1] == floor(v[1]) && v[2] >= 0 && v[2] < T->n_rungs && v[2] == floor(v[2]);
      int t = ok ? (int)v[1] : 0, k = ok ? (int)v[2] : 0;
      if (!ok || T->have[at(T, t * T->n_seeds, k)]) {
        ng_cli_error(CMD, "%s:%zu: not a row of this tune", path, r + 2);
        rc = NG_EXIT_USAGE;
        break;
      }
      /* each run its own score and the row's steps, the first the row's wall time (the
       * runs' sum): trial_result gives the row back */
      for (int j = 0; j < T->n_seeds; j++) {
        size_t i = at(T, t * T->n_seeds + j, k);
        T->have[i] = 1;
        T->steps[i] = (long)v[3];
        T->score[i] = T->n_seeds > 1 ? v[5 + j] : v[4];
        T->wall[i] = j ? 0 : v[log.n_cols - 1];
      }
    }
    T->rows = (int)log.n_rows;
    ng_run_log_free(&log);
  }
  if (rc < 0 && keep < len && T->lead && truncate(path, (off_t)keep) != 0) {
    ng_cli_error(CMD, "cannot cut the torn last row of %s: %s", path, strerror(errno));
    rc = NG_EXIT_FAILURE;
  }
  free(text);
  return rc;
}

/* Loads run t's checkpoint if there is one (*tr NULL if not): -1 to go on, else the exit
 * code. A folder holding another config than the trial's is refused. */
static int load_trial(const tune_t *T, int t, ng_rl_t **tr) {
  char dir[NG_CLI_PATH], path[NG_CLI_PATH];
  trial_dir(T, t, dir);
  *tr = NULL;
  join(path, dir, NG_RUN_CHECKPOINT);
  char prev[NG_CLI_PATH];
  join(prev, dir, NG_RUN_CHECKPOINT_PREV);
  if (access(path, F_OK) != 0 && access(prev, F_OK) != 0) return -1;
  const char *plugin = T->cfg[t].plugin[0] ? T->cfg[t].plugin : NULL;
  int rc = ng_cli_load_trainer(CMD, dir, plugin, T->force, tr);
  if (rc >= 0) return rc;
  size_t na = ng_rl_config_format(&T->cfg[t], NULL, 0) + 1;
  size_t nb = ng_rl_config_format(ng_rl_config(*tr), NULL, 0) + 1;
  char *a = ng_malloc(na), *b = ng_malloc(nb), what[1200];
  rc = NG_EXIT_FAILURE;
  if (!a || !b) {
    ng_cli_error(CMD, "out of memory");
  } else {
    ng_rl_config_format(&T->cfg[t], a, na);
    ng_rl_config_format(ng_rl_config(*tr), b, nb);
    /* steps grow by rung; the plugin's path and checksum were checked when it loaded */
    static const char *const may_differ[] = {"steps", "plugin", "plugin_hash", NULL};
    char name[64];
    if (ng_run_config_diff(a, TUNE_INI, b, dir, may_differ, what, sizeof what))
      ng_cli_error(CMD, "%s holds another run than %s (%s): not this tune's; start the "
                   "tune over with --force", dir, run_name(T, t, name), what);
    else
      rc = -1;
  }
  ng_free(a);
  ng_free(b);
  if (rc >= 0) {
    ng_rl_destroy(*tr);
    *tr = NULL;
  }
  return rc;
}

/* The wall-clock seconds run t has trained, from its log (NaN if there is none). */
static double trial_wall(const tune_t *T, int t) {
  char path[NG_CLI_PATH];
  char dir[NG_CLI_PATH];
  trial_dir(T, t, dir);
  join(path, dir, NG_RUN_LOG);
  ng_run_log_t log;
  ng_error_t err;
  if (ng_run_log_read(path, NG_RL_LOG_HEADER, &log, &err) != NG_OK) return NAN;
  int c = ng_run_log_column(NG_RL_LOG_HEADER, "wall_s");
  double w = log.n_rows ? log.values[(log.n_rows - 1) * log.n_cols + (size_t)c] : NAN;
  ng_run_log_free(&log);
  return w;
}

/* Scores run t at rung k from its trainer: `natgrad eval DIR`'s mean. -1 to go on. */
static int score_trial(tune_t *T, int t, int k, ng_rl_t *tr) {
  size_t i = at(T, t, k);
  double ret[NG_RUN_EVAL_EPISODES], sum = 0;
  ng_error_t err;
  ng_error_clear(&err);
  if (ng_rl_evaluate(tr, NG_RUN_EVAL_EPISODES, NG_RUN_EVAL_SEED, 1, ret, &err) != NG_OK) {
    char name[64];
    ng_cli_error(CMD, "%s: evaluation failed: %s", run_name(T, t, name), err.message);
    T->score[i] = NAN;
  } else {
    for (int e = 0; e < NG_RUN_EVAL_EPISODES; e++) sum += ret[e];
    T->score[i] = sum / NG_RUN_EVAL_EPISODES;
  }
  T->steps[i] = ng_rl_env_steps(tr);
  T->wall[i] = trial_wall(T, t);
  T->have[i] = 1;
  return -1;
}

/* Starts `natgrad train` for run t up to steps (a new run, or its folder resumed). */
static pid_t start_child(const tune_t *T, int t, long steps, int resume) {
  char dir[NG_CLI_PATH], steps_s[32], seed_s[32];
  trial_dir(T, t, dir);
  snprintf(steps_s, sizeof steps_s, "%ld", steps);
  snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)T->cfg[t].seed);
  enum { MAX_ARGS = 24 + 2 * (MAX_SETS + NG_TUNE_MAX_DIMS) };
  static char sets[MAX_SETS + NG_TUNE_MAX_DIMS][64 + SET_VALUE + 2];
  char *argv[MAX_ARGS];
  int n = 0;
  argv[n++] = (char *)T->exe;
  argv[n++] = "train";
  const settings_t *s = T->s;
  if (T->cfg[t].plugin[0]) { /* the path in use: tune.ini's, or --plugin's if it moved */
    argv[n++] = "--plugin";
    argv[n++] = (char *)T->cfg[t].plugin;
  }
  if (resume) {
    argv[n++] = "--resume";
    argv[n++] = dir;
    if (T->force) argv[n++] = "--force";
  } else {
    argv[n++] = "--env";
    argv[n++] = (char *)s->env;
    argv[n++] = "--algo";
    argv[n++] = (char *)ng_rl_algo_name(s->algo);
    argv[n++] = "--seed";
    argv[n++] = seed_s;
    argv[n++] = "--out";
    argv[n++] = dir;
    argv[n++] = "--eval-episodes";
    argv[n++] = "0";
    int m = 0;
    for (int i = 0; i < s->n_sets; i++, m++) {
      snprintf(sets[m], sizeof sets[m], "%s=%s", s->set_key[i], s->set_value[i]);
      argv[n++] = "--set";
      argv[n++] = sets[m];
    }
    for (int d = 0; d < s->space.n; d++, m++) {
      snprintf(sets[m], sizeof sets[m], "%s=%s", s->space.dims[d].key,
               T->values[trial_of(T, t)][d]);
      argv[n++] = "--set";
      argv[n++] = sets[m];
    }
  }
  argv[n++] = "--steps";
  argv[n++] = steps_s;
  argv[n++] = "--threads"; /* one core per trial: W trials fill W cores */
  argv[n++] = "1";
  argv[n++] = "--quiet";
  argv[n] = NULL;
  fflush(NULL);
  pid_t parent = getpid(), pid = fork();
  if (pid == 0) {
#ifdef __linux__
    /* a killed tune takes its trials with it, so that --resume finds their folders free */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
#endif
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execve(T->exe, argv, T->env); /* not a rank: it must not start MPI */
    _exit(127);
  }
  return pid;
}

static void show_score(const tune_t *T, int u, int k, int done, int n) {
  if (T->quiet) return;
  size_t i = at(T, u, k);
  if (u >= T->n_runs)
    printf("  seed %d: score %10.2f after %ld steps  [%d/%d]\n", u - T->n_runs, T->score[i],
           T->steps[i], done, n);
  else if (T->n_seeds == 1)
    printf("  trial %3d: score %10.2f after %ld steps  [%d/%d of rung %d]\n", u, T->score[i],
           T->steps[i], done, n, k + 1);
  else
    printf("  trial %3d seed %3d: score %10.2f after %ld steps  [%d/%d of rung %d]\n",
           u / T->n_seeds, NG_TUNE_SEED_BASE + u, T->score[i], T->steps[i], done, n, k + 1);
  fflush(stdout);
}

/* Every rank's results of rung k's runs in todo (n) on every rank, once all are done with
 * their share (rc: this rank's, -1 to go on; done: the scores it showed): a vote on the
 * ranks' exit codes (one rank's failure or stop stops all), then one sum of (score, steps,
 * wall, have) where the owner of a run adds its values and the others 0.0, which leaves
 * them exact. Rank 0 then shows the other ranks' scores. -1 to go on. */
static int share_rung(tune_t *T, int k, const int *todo, int n, int rc, int done) {
  const int me = ng_mpi_run_rank(), K = ng_mpi_run_size();
  if (K == 1) return rc;
  double *x = calloc((size_t)n * 4 + 1, sizeof *x);
  if (!x) {
    ng_cli_error(CMD, "out of memory");
    rc = NG_EXIT_FAILURE;
  }
  if ((rc = all_ranks(rc)) >= 0) {
    free(x);
    return rc;
  }
  for (int j = me; j < n; j += K) {
    size_t i = at(T, todo[j], k);
    double *v = x + 4 * (size_t)j;
    v[0] = T->score[i], v[1] = (double)T->steps[i], v[2] = T->wall[i], v[3] = T->have[i];
  }
  if ((rc = ng_mpi_run_sum(x, (size_t)n * 4)) < 0) {
    for (int j = 0; j < n; j++) {
      size_t i = at(T, todo[j], k);
      const double *v = x + 4 * (size_t)j;
      T->score[i] = v[0], T->steps[i] = (long)v[1], T->wall[i] = v[2];
      T->have[i] = v[3] != 0;
      if (j % K != me) show_score(T, todo[j], k, ++done, n);
    }
  }
  free(x);
  return rc;
}

/* Trains and scores the runs in todo (n, increasing) at rung k, W at a time (a trial's
 * runs on its several seeds are units of their own, so they fill the cores too); under
 * mpirun each rank its share, then every rank holds all the results (share_rung). -1 when
 * all are scored, else the exit code. */
static int run_rung(tune_t *T, int k, const int *todo, int n) {
  pid_t pids[NG_POOL_MAX_THREADS];
  int who[NG_POOL_MAX_THREADS], running = 0, next = 0, done = 0, rc = -1, forwarded = 0;
  const long target = T->rungs[k];
  /* rank r of K trains the runs at positions r, r + K, r + 2K... of todo */
  const int me = ng_mpi_run_rank(), K = ng_mpi_run_size();
  while ((next < n && rc < 0 && !g_signal) || running > 0) {
    if (g_signal && !forwarded) { /* each child saves a checkpoint and exits */
      for (int i = 0; i < running; i++) kill(pids[i], SIGTERM);
      forwarded = 1;
    }
    if (next < n && rc < 0 && !g_signal && running < T->workers) {
      if (next % K != me) {
        next++;
        continue;
      }
      int t = todo[next++];
      ng_rl_t *tr;
      if ((rc = load_trial(T, t, &tr)) >= 0) continue;
      if (tr && ng_rl_env_steps(tr) >= target) { /* trained before the tune stopped */
        score_trial(T, t, k, tr);
        ng_rl_destroy(tr);
        show_score(T, t, k, ++done, n);
        continue;
      }
      int resume = tr != NULL;
      ng_rl_destroy(tr);
      pid_t pid = start_child(T, t, target, resume);
      if (pid < 0) {
        char name[64];
        ng_cli_error(CMD, "cannot start %s: %s", run_name(T, t, name), strerror(errno));
        rc = NG_EXIT_FAILURE;
        continue;
      }
      pids[running] = pid;
      who[running++] = t;
      continue;
    }
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      ng_cli_error(CMD, "waitpid: %s", strerror(errno));
      rc = NG_EXIT_FAILURE;
      break;
    }
    int j = 0;
    while (j < running && pids[j] != pid) j++;
    if (j == running) continue;
    int t = who[j];
    pids[j] = pids[--running];
    who[j] = who[running];
    size_t i = at(T, t, k);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == NG_EXIT_OK) {
      ng_rl_t *tr;
      int r = load_trial(T, t, &tr);
      if (r < 0 && tr) score_trial(T, t, k, tr);
      ng_rl_destroy(tr);
      if (r >= 0 && rc < 0) rc = r;
    } else if (code == NG_EXIT_FAILURE) { /* training failed (its error is above): a loss */
      T->score[i] = NAN;
      T->steps[i] = 0;
      T->wall[i] = trial_wall(T, t);
      T->have[i] = 1;
    } else if (rc < 0) {
      char name[64];
      if (code == 127)
        ng_cli_error(CMD, "%s: cannot run %s", run_name(T, t, name), T->exe);
      else if (!g_signal)
        ng_cli_error(CMD, "%s: natgrad train exited with status %d", run_name(T, t, name),
                     code);
      rc = g_signal ? 128 + (int)g_signal : code == NG_EXIT_USAGE ? code : NG_EXIT_FAILURE;
      continue;
    } else {
      continue;
    }
    if (T->have[i]) show_score(T, t, k, ++done, n);
  }
  if (g_signal && rc < 0) rc = 128 + (int)g_signal;
  return share_rung(T, k, todo, n, rc, done);
}

/* Appends the rows of the trials in todo at rung k, in trial order: with several seeds,
 * each run's score too, from which a resumed tune recomputes the very same mean. Scores are
 * written to read back exactly: a resumed tune promotes on the very scores an uninterrupted
 * one holds in memory. */
static int write_rows(tune_t *T, int k, const int *todo, int n) {
  for (int j = 0; j < n; j++) {
    int t = todo[j];
    long steps;
    double wall;
    char score[32];
    ng_keys_format_double(score, sizeof score, trial_result(T, t, k, &steps, &wall));
    fprintf(T->csv, "%d,%d,%d,%ld,%s", ++T->rows, t, k, steps, score);
    for (int r = 0; T->n_seeds > 1 && r < T->n_seeds; r++) {
      ng_keys_format_double(score, sizeof score, T->score[at(T, t * T->n_seeds + r, k)]);
      fprintf(T->csv, ",%s", score);
    }
    for (int d = 0; d < T->s->space.n; d++)
      fprintf(T->csv, ",%s", T->values[t][d]);
    fprintf(T->csv, ",%.3f\n", wall);
  }
  if (fflush(T->csv) != 0) {
    ng_cli_error(CMD, "cannot write %s/%s: %s", T->dir, TUNE_CSV, strerror(errno));
    return NG_EXIT_FAILURE;
  }
  return -1;
}

/* ---- the results ------------------------------------------------------------------------- */

static int write_text(FILE *out, void *text) {
  return fputs(text, out) < 0 ? NG_EIO : NG_OK;
}

/* path written atomically with text (ng_svg_write_file: the library's atomic writer). */
static int save_text(const char *path, const char *text) {
  ng_error_t err;
  ng_error_clear(&err);
  if (ng_svg_write_file(path, write_text, (void *)text, &err) == NG_OK) return -1;
  ng_cli_error(CMD, "%s", err.message);
  return NG_EXIT_FAILURE;
}

typedef struct {
  const tune_t *T;
  int best;
} plot_t;

/* Every trial's score against steps, one line per trial through its rungs, the best's in
 * colour and named in the legend. */
static int draw_plot(FILE *out, void *ctx) {
  const plot_t *p = ctx;
  const tune_t *T = p->T;
  const int N = (int)T->s->trials, R = T->n_rungs;
  double *x = malloc((size_t)N * (size_t)R * 2 * sizeof *x);
  ng_svg_series_t *series = calloc((size_t)N, sizeof *series);
  if (!x || !series) {
    free(x);
    free(series);
    return NG_ENOMEM;
  }
  double *y = x + (size_t)N * (size_t)R;
  char best_label[96], title[256];
  snprintf(best_label, sizeof best_label, "best: trial %d", p->best);
  for (int q = 0; q < N; q++) {
    const int t = q == N - 1 ? p->best : q + (q >= p->best); /* the best last, on top */
    ng_svg_series_t *s = &series[q];
    double *xt = x + (size_t)t * (size_t)R, *yt = y + (size_t)t * (size_t)R;
    size_t m = 0;
    for (int k = 0; k < R && T->have[at(T, t * T->n_seeds, k)]; k++) {
      long steps;
      yt[m] = trial_result(T, t, k, &steps, NULL);
      xt[m++] = (double)steps;
    }
    s->n = s->markers = m;
    s->x = xt;
    s->y = yt;
    if (t == p->best) {
      s->label = best_label;
      s->color = ng_svg_palette(0);
      s->line_width = 2.5;
    } else {
      s->color = "#999999";
      s->line_width = 1;
      s->marker_size = 2.5;
    }
  }
  char seeds[32] = "", ylabel[96];
  if (T->n_seeds > 1) snprintf(seeds, sizeof seeds, " x %d seeds", T->n_seeds);
  snprintf(title, sizeof title, "natgrad tune: %s (%s), %d trials%s, eta %ld, seed %llu",
           T->s->env, ng_rl_algo_name(T->s->algo), N, seeds, T->s->eta,
           (unsigned long long)T->s->seed);
  if (T->n_seeds > 1)
    snprintf(ylabel, sizeof ylabel, "score (mean over %d seeds of %d-episode returns)",
             T->n_seeds, NG_RUN_EVAL_EPISODES);
  else
    snprintf(ylabel, sizeof ylabel, "score (mean return, %d deterministic episodes)",
             NG_RUN_EVAL_EPISODES);
  ng_svg_panel_t panel = {.title = title, .xlabel = "environment steps", .ylabel = ylabel,
                          .legend = NG_SVG_LEGEND_AUTO};
  int st = ng_svg_line_plot(out, 800, 480, &panel, (size_t)N, series);
  free(x);
  free(series);
  return st;
}

/* T->best, the best trial of the last rung; rank 0 writes best.ini, tune.svg and the
 * summary. -1 to go on, else the exit code. */
static int finish(tune_t *T, const int *alive, int n_alive) {
  const int k = T->n_rungs - 1;
  int trial[1], best; /* promote with eta = n: the single best */
  double *score = malloc((size_t)n_alive * sizeof *score);
  if (!score) {
    ng_cli_error(CMD, "out of memory");
    return NG_EXIT_FAILURE;
  }
  for (int j = 0; j < n_alive; j++) score[j] = trial_result(T, alive[j], k, NULL, NULL);
  int found = ng_tune_promote(alive, score, n_alive, n_alive, trial);
  free(score);
  if (!found) {
    if (T->lead) ng_cli_error(CMD, "every trial of the last rung failed: no best config");
    return NG_EXIT_FAILURE;
  }
  best = T->best = trial[0];
  if (!T->lead) return -1; /* the tune's files are rank 0's */
  long steps;
  const double best_score = trial_result(T, best, k, &steps, NULL);
  char path[NG_CLI_PATH], seeds[48];
  trial_seeds(T, best, seeds);
  /* best.ini: the best trial's effective config (its first run's folder's, load_trial
   * checked) */
  ng_rl_config_t cfg = T->cfg[best * T->n_seeds];
  size_t need = ng_rl_config_format(&cfg, NULL, 0) + 1;
  char *text = ng_malloc(need + 1024);
  if (!text) {
    ng_cli_error(CMD, "out of memory");
    return NG_EXIT_FAILURE;
  }
  int len = snprintf(text, 1024,
                     "# natgrad tune: the best config, trial %d's (score %.2f after %ld "
                     "steps on %s).\n# Report it on seeds 0-9, never the tuning seeds: "
                     "natgrad train --config best.ini --seed S\n",
                     best, best_score, steps, seeds);
  ng_rl_config_format(&cfg, text + len, need);
  int rc;
  join(path, T->dir, TUNE_BEST);
  rc = save_text(path, text);
  ng_free(text);
  if (rc >= 0) return rc;
  plot_t plot = {T, best};
  ng_error_t err;
  ng_error_clear(&err);
  join(path, T->dir, TUNE_SVG);
  if (ng_svg_write_file(path, draw_plot, &plot, &err) != NG_OK) {
    ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_FAILURE;
  }
  if (T->quiet) return -1;
  printf("best: trial %d, score %.2f after %ld steps (trained on %s; the trials tuned on "
         "seeds %d-%d)\n", best, best_score, steps, seeds, NG_TUNE_SEED_BASE,
         NG_TUNE_SEED_BASE + T->n_runs - 1);
  for (int d = 0; d < T->s->space.n; d++)
    printf("  %-20s %s\n", T->s->space.dims[d].key, T->values[best][d]);
  printf("config:  %s/%s\ntrials:  %s/%s\nplot:    %s/%s\n", T->dir, TUNE_BEST, T->dir,
         TUNE_CSV, T->dir, TUNE_SVG);
  if (T->report) return -1;
  join(path, T->dir, TUNE_REPORT);
  FILE *done = fopen(path, "r");
  if (done) { /* a resumed tune whose report ran: point at it, not at how to run one */
    fclose(done);
    printf("report:  %s (--resume %s --report-seeds prints it, finishing it if cut short)\n",
           path, T->dir);
    return -1;
  }
  printf("results on seeds 0-9 (never on the seeds tuned on; or --resume %s --report-seeds):\n"
         "  for s in 0 1 2 3 4 5 6 7 8 9; do natgrad train --config %s/%s --seed $s "
         "--out %s/report/s$s -q && natgrad eval %s/report/s$s; done\n",
         T->dir, T->dir, TUNE_BEST, T->dir, T->dir);
  return -1;
}

/* --report-seeds: best.ini trained on seeds 0-9 (runs n_runs + s, in report/sS) to the
 * last rung's steps, scored as the trials are; report.csv and the mean, standard error and
 * 95 % interval. -1 to go on, else the exit code. */
static int report(tune_t *T) {
  const int N = T->n_runs, k = T->n_rungs - 1, best = T->best, first = best * T->n_seeds;
  int todo[REPORT_SEEDS], rc;
  for (int s = 0; s < REPORT_SEEDS; s++) {
    todo[s] = N + s;
    T->cfg[N + s] = T->cfg[first];
    T->cfg[N + s].seed = (uint64_t)s;
  }
  if (!T->quiet)
    printf("report: best.ini (trial %d) on seeds 0-%d to %ld steps\n", best, REPORT_SEEDS - 1,
           T->rungs[k]);
  fflush(stdout);
  if ((rc = run_rung(T, k, todo, REPORT_SEEDS)) >= 0 || !T->lead) return rc;
  char text[REPORT_SEEDS * 96 + 64], path[NG_CLI_PATH];
  int len = snprintf(text, sizeof text, "seed,steps,score,wall_s\n"), n = 0;
  double sum = 0, sq = 0, x[REPORT_SEEDS];
  for (int s = 0; s < REPORT_SEEDS; s++) {
    size_t i = at(T, N + s, k);
    char score[32];
    ng_keys_format_double(score, sizeof score, T->score[i]);
    len += snprintf(text + len, sizeof text - (size_t)len, "%d,%ld,%s,%.3f\n", s, T->steps[i],
                    score, T->wall[i]);
    if (!isnan(T->score[i])) sum += x[n++] = T->score[i];
  }
  join(path, T->dir, TUNE_REPORT);
  if ((rc = save_text(path, text)) >= 0) return rc;
  if (T->quiet) return -1;
  double mean = n ? sum / n : NAN;
  for (int j = 0; j < n; j++) sq += (x[j] - mean) * (x[j] - mean);
  double se = n > 1 ? sqrt(sq / (n - 1) / n) : NAN;
  printf("report: %.2f ± %.2f (mean ± standard error over seeds 0-%d", mean, se,
         REPORT_SEEDS - 1);
  const double half = ng_cli_t975(REPORT_SEEDS - 1) * se; /* of a 95 % interval */
  if (n == REPORT_SEEDS)
    printf("; 95%% interval [%.2f, %.2f]", mean - half, mean + half);
  else
    printf("; %d of %d failed and are left out", REPORT_SEEDS - n, REPORT_SEEDS);
  printf(")\nscores:  %s\n", path);
  return -1;
}

/* Removes what an earlier tune left where a new one starts (--force): its rows, its report
 * and its runs' checkpoints, which would otherwise be taken for this tune's. */
static int clear_old(const tune_t *T) {
  char path[NG_CLI_PATH], dir[NG_CLI_PATH];
  static const char *const names[] = {NG_RUN_CHECKPOINT, NG_RUN_CHECKPOINT_PREV,
                                      NG_RUN_CHECKPOINT_DAMAGED};
  join(path, T->dir, TUNE_CSV);
  if (unlink(path) != 0 && errno != ENOENT) goto fail;
  join(path, T->dir, TUNE_REPORT);
  if (unlink(path) != 0 && errno != ENOENT) goto fail;
  for (int u = 0; u < T->n_runs + REPORT_SEEDS; u++) {
    trial_dir(T, u, dir);
    for (int i = 0; i < 3; i++) {
      join(path, dir, names[i]);
      if (unlink(path) != 0 && errno != ENOENT) goto fail;
    }
  }
  return -1;
fail:
  ng_cli_error(CMD, "--force: cannot remove %s: %s", path, strerror(errno));
  return NG_EXIT_FAILURE;
}

static int run_tune(tune_t *T, int fresh) {
  const settings_t *s = T->s;
  const int N = (int)s->trials, R = T->n_rungs, ns = T->n_seeds;
  char path[NG_CLI_PATH];
  char *header = csv_header(T);
  int *alive = malloc((size_t)N * sizeof *alive), *todo = malloc((size_t)N * sizeof *todo);
  int *next = malloc((size_t)N * sizeof *next), *runs = malloc((size_t)T->n_runs * sizeof *runs);
  double *score = malloc((size_t)N * sizeof *score);
  int rc = -1, n_alive = N;
  if (!header || !alive || !todo || !next || !runs || !score) {
    ng_cli_error(CMD, "out of memory");
    rc = NG_EXIT_FAILURE;
  }
  join(path, T->dir, TUNE_CSV);
  if (rc < 0 && !fresh) rc = read_rows(T, path, header);
  if (rc < 0 && T->lead) {
    T->csv = fopen(path, T->rows ? "a" : "w");
    if (!T->csv || (!T->rows && (fprintf(T->csv, "%s\n", header) < 0 || fflush(T->csv)))) {
      ng_cli_error(CMD, "cannot write %s: %s", path, strerror(errno));
      rc = NG_EXIT_FAILURE;
    }
  }
  if ((rc = all_ranks(rc)) >= 0) goto out;
  for (int t = 0; t < N; t++) alive[t] = t;
  for (int k = 0; k < R && rc < 0; k++) {
    int n = 0, n_runs = 0; /* the trials without a row at rung k, and their runs */
    for (int j = 0; j < n_alive; j++)
      if (!T->have[at(T, alive[j] * ns, k)]) {
        todo[n++] = alive[j];
        for (int r = 0; r < ns; r++) runs[n_runs++] = alive[j] * ns + r;
      }
    if (!T->quiet) {
      printf("rung %d of %d: %d trial%s to %ld steps (%d to train, ", k + 1, R, n_alive,
             n_alive == 1 ? "" : "s", T->rungs[k], n);
      if (ns > 1) printf("%d seeds each, ", ns);
      if (ng_mpi_run_size() > 1) printf("%d ranks of ", ng_mpi_run_size());
      printf("%d worker%s)\n", T->workers, T->workers == 1 ? "" : "s");
    }
    fflush(stdout);
    if ((rc = run_rung(T, k, runs, n_runs)) >= 0) break;
    if (T->lead) rc = write_rows(T, k, todo, n);
    if ((rc = all_ranks(rc)) >= 0) break;
    if (k == R - 1) break;
    for (int j = 0; j < n_alive; j++) score[j] = trial_result(T, alive[j], k, NULL, NULL);
    int n_next = ng_tune_promote(alive, score, n_alive, (int)s->eta, next);
    if (n_next == 0) { /* the same on every rank: rank 0 says it */
      if (T->lead) ng_cli_error(CMD, "every trial of rung %d failed", k + 1);
      rc = NG_EXIT_FAILURE;
      break;
    }
    /* a later rung's rows belong to promoted trials only */
    for (int t = 0, j = 0; t < N; t++) {
      while (j < n_next && next[j] < t) j++;
      for (int kk = k + 1; kk < R; kk++)
        if (T->have[at(T, t * ns, kk)] && (j == n_next || next[j] != t)) {
          if (T->lead)
            ng_cli_error(CMD, "%s: trial %d has a row at rung %d but was not promoted to "
                         "it: not this tune's rows", path, t, kk);
          rc = NG_EXIT_USAGE;
        }
    }
    memcpy(alive, next, (size_t)n_next * sizeof *next);
    n_alive = n_next;
  }
  if (T->lead && (rc == 128 + SIGINT || rc == 128 + SIGTERM))
    ng_cli_error(CMD, "interrupted; the trials saved checkpoints: continue with natgrad tune "
                 "--resume %s", T->dir);
  if (rc < 0) rc = all_ranks(finish(T, alive, n_alive));
  if (rc < 0 && T->report) rc = report(T);
out:
  if (T->csv) fclose(T->csv);
  T->csv = NULL;
  free(header);
  free(alive);
  free(todo);
  free(next);
  free(runs);
  free(score);
  return rc;
}

/* The tune's settings (a new tune's from the command line, a resumed one's from tune.ini),
 * its rungs, and every trial's config and values, into T (--show-space: prints the space
 * and ends). -1 to go on, else the exit code. */
static int prepare(opts_t *o, tune_t *T, const char *out_dir, const char *ini) {
  ng_rl_config_t base;
  int rc;
  if (o->resume) {
    o->s.where = ini;
    if ((rc = read_ini(o, ini)) >= 0) return rc;
    if ((rc = base_config(&o->s, &base)) >= 0) return rc;
  } else {
    if (o->plugin && (rc = ng_cli_plugin_load(CMD, o->plugin)) >= 0) return rc;
    if ((rc = base_config(&o->s, &base)) >= 0) return rc;
    memcpy(o->s.plugin, base.plugin, sizeof o->s.plugin);
    memcpy(o->s.plugin_hash, base.plugin_hash, sizeof o->s.plugin_hash);
    if ((rc = read_space(o, &base)) >= 0) return rc;
    if (o->show_space) {
      for (int d = 0; d < o->s.space.n; d++)
        printf("%s = %s\n", o->s.space.dims[d].key, o->s.space.dims[d].spec);
      return NG_EXIT_OK;
    }
  }
  T->s = &o->s;
  T->dir = out_dir;
  T->workers = (int)o->workers;
  T->quiet = o->quiet;
  T->report = o->report;
  T->n_seeds = (int)o->s.trial_seeds;
  T->n_runs = (int)(o->s.trials * o->s.trial_seeds);
  T->n_rungs = ng_tune_rungs(o->s.min_steps, o->s.steps, (int)o->s.eta, T->rungs,
                             NG_TUNE_MAX_RUNGS);
  const size_t N = (size_t)T->n_runs + REPORT_SEEDS, NR = N * (size_t)T->n_rungs;
  T->values = calloc((size_t)o->s.trials, sizeof *T->values);
  T->cfg = calloc(N, sizeof *T->cfg);
  T->score = malloc(NR * sizeof *T->score);
  T->wall = malloc(NR * sizeof *T->wall);
  T->steps = calloc(NR, sizeof *T->steps);
  T->have = calloc(NR, 1);
  if (!T->values || !T->cfg || !T->score || !T->wall || !T->steps || !T->have) {
    ng_cli_error(CMD, "out of memory for %zu runs", N);
    return NG_EXIT_FAILURE;
  }
  for (size_t i = 0; i < NR; i++) T->score[i] = T->wall[i] = NAN;
  if ((rc = draw_trials(T, &base)) >= 0) return rc;
  ssize_t n = readlink("/proc/self/exe", T->exe, sizeof T->exe - 1);
  if (n <= 0 || (size_t)n >= sizeof T->exe - 1) {
    ng_cli_error(CMD, "cannot find the natgrad executable (/proc/self/exe) to run trials");
    return NG_EXIT_FAILURE;
  }
  T->exe[n] = '\0';
  return -1;
}

/* The folder: locked (one tune writes it at a time: the run folders' lock), and for a new
 * tune checked, cleared with --force and given its tune.ini. -1 to go on, else the exit
 * code. */
static int open_folder(const opts_t *o, const tune_t *T, ng_run_t **run, const char *ini) {
  ng_error_t err;
  ng_error_clear(&err);
  int rc;
  if ((rc = ng_cli_run_open(run, T->dir, NG_RUN_CREATE, 0, &err)) >= 0) {
    ng_cli_error(CMD, "%s", err.message);
    return rc;
  }
  if (o->resume) return -1;
  if (access(ini, F_OK) == 0 && !o->force) {
    ng_cli_error(CMD, "'%s' already holds a tune; continue it with --resume %s, or pass "
                 "--force to start over and overwrite it", T->dir, T->dir);
    return NG_EXIT_USAGE;
  }
  if (o->force && (rc = clear_old(T)) >= 0) return rc;
  char *text = format_ini(&o->s);
  if (!text) {
    ng_cli_error(CMD, "out of memory");
    return NG_EXIT_FAILURE;
  }
  rc = save_text(ini, text);
  ng_free(text);
  return rc;
}

int ng_cmd_tune(int argc, char **argv) {
  opts_t *o = calloc(1, sizeof *o);
  tune_t T;
  memset(&T, 0, sizeof T);
  ng_run_t *run = NULL;
  char ini[NG_CLI_PATH], out_dir[NG_CLI_PATH], *text = NULL;
  if (!o) {
    ng_cli_error(CMD, "out of memory");
    return NG_EXIT_FAILURE;
  }
  int rc = parse_args(argc, argv, o);
  if (rc >= 0) goto out;
  if (o->show_space) { /* before MPI: nothing to share */
    rc = prepare(o, &T, NULL, NULL);
    goto out;
  }
  /* under mpirun, no watchdog: a rank waits at a rung's end for the others' trials, which
   * takes minutes (docs/tuning.md, "Over MPI ranks") */
  if ((rc = ng_mpi_run_start(CMD, 0)) >= 0) goto out;
  T.lead = ng_mpi_run_rank() == 0;
  const int fresh = !o->resume;
  if (!T.lead) o->quiet = 1;
  if (!o->have_workers) o->workers = ng_mpi_run_threads(ng_train_default_threads());
  openblas_set_num_threads(1); /* the scores' evaluations: the cores are the trials' */
  if (o->resume)
    snprintf(out_dir, sizeof out_dir, "%s", o->resume);
  else if (o->out)
    snprintf(out_dir, sizeof out_dir, "%s", o->out);
  else
    snprintf(out_dir, sizeof out_dir, "tunes/%s-%s-s%llu", o->s.env,
             ng_rl_algo_name(o->s.algo), (unsigned long long)o->s.seed);
  if (strlen(out_dir) > TUNE_DIR_MAX) {
    ng_cli_error(CMD, "%s: path too long", o->resume ? "--resume" : "--out");
    rc = NG_EXIT_USAGE;
    goto out;
  }
  join(ini, out_dir, TUNE_INI);
  T.force = o->resume && o->force;
  /* rank 0 reads or writes tune.ini and holds the folder; the other ranks then read the
   * tune.ini it wrote, never lock the folder and never write the tune's files */
  if (T.lead && (rc = prepare(o, &T, out_dir, ini)) < 0) rc = open_folder(o, &T, &run, ini);
  if ((rc = all_ranks(rc)) >= 0) goto out;
  if (!T.lead) {
    memset(&o->s, 0, sizeof o->s);
    o->resume = out_dir;
    if (access(ini, F_OK) != 0) {
      ng_cli_error(CMD, "rank %d cannot see %s: under mpirun the tune's folder must be on a "
                   "file system every rank shares", ng_mpi_run_rank(), ini);
      rc = NG_EXIT_FAILURE;
    } else {
      rc = prepare(o, &T, out_dir, ini);
    }
  }
  /* every rank holds the same settings (refused otherwise, as train refuses another
   * config or binary) */
  if (rc < 0 && !(text = format_ini(&o->s))) {
    ng_cli_error(CMD, "out of memory");
    rc = NG_EXIT_FAILURE;
  }
  const void *bytes[1] = {text ? text : ""};
  size_t lens[1] = {text ? strlen(text) : 0};
  int agreed = ng_mpi_run_agree(rc < 0, bytes, lens, 1);
  if (rc < 0) rc = agreed;
  if (rc >= 0) goto out;
  if (!(T.env = ng_mpi_run_child_env())) {
    ng_cli_error(CMD, "out of memory");
    rc = NG_EXIT_FAILURE;
  }
  if ((rc = all_ranks(rc)) >= 0) goto out;
  if (!o->quiet) {
    printf("%s %s: %ld trials of %s with %s, rungs of", fresh ? "tune" : "resuming tune",
           out_dir, o->s.trials, o->s.env, ng_rl_algo_name(o->s.algo));
    for (int k = 0; k < T.n_rungs; k++) printf("%s %ld", k ? "," : "", T.rungs[k]);
    printf(" steps (eta %ld), seed %llu, training seeds %d-%d", o->s.eta,
           (unsigned long long)o->s.seed, NG_TUNE_SEED_BASE, NG_TUNE_SEED_BASE + T.n_runs - 1);
    if (T.n_seeds > 1) printf(" (%d per trial, scored by their mean)", T.n_seeds);
    printf("\n");
  }
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: waitpid returns to look at the flag */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  rc = run_tune(&T, fresh);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (rc < 0) rc = NG_EXIT_OK;
out:
  ng_run_close(run);
  ng_mpi_run_end();
  ng_free(text);
  free(T.env);
  free(T.values);
  free(T.cfg);
  free(T.score);
  free(T.wall);
  free(T.steps);
  free(T.have);
  free(o);
  return rc;
}
