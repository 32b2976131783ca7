/* natgrad eval: the mean return of a saved policy over fresh episodes. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "cli.h"
#include "cmd_args.h"
#include "natgrad/rl.h"
#include "natgrad/run.h"
#include "run_dir.h"

#define CMD "eval"
#define MAX_EPISODES 1000000

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad eval DIR|FILE.ngc [--episodes N] [--seed S] [--stochastic]\n"
          "                    [--plugin LIB.so] [--force]\n"
          "\n"
          "Loads the checkpoint of a run (DIR/checkpoint.ngc, or a checkpoint file), runs N fresh\n"
          "episodes of its policy and prints the mean return ± its standard deviation (over\n"
          "episodes, population form) and the lowest and highest return. If a run folder's\n"
          "latest checkpoint is damaged, its previous one (checkpoint.prev.ngc) is used, with a\n"
          "warning.\n"
          "\n"
          "options:\n"
          "  --episodes N   episodes to run (default %d)\n"
          "  --seed S       seed of the evaluation environment (default %d, as the final score\n"
          "                 that natgrad train prints)\n"
          "  --stochastic   sample actions from the policy (default: its most likely action)\n"
          "  --plugin LIB   the plugin of the run's environment: a run folder's config.ini\n"
          "                 records it and it is loaded from there unless given here; a bare\n"
          "                 checkpoint file needs it\n"
          "  --force        go on with a plugin that changed since the run recorded it\n"
          "  --help, -h     this help\n"
          "\n"
          "Exit status: 0 done, 1 failure (unreadable checkpoint, numerics), 2 usage error or\n"
          "no checkpoint there.\n",
          NG_RUN_EVAL_EPISODES, NG_RUN_EVAL_SEED);
}

int ng_eval_parse_args(int argc, char **argv, ng_eval_opts_t *o) {
  o->where = NULL;
  o->episodes = NG_RUN_EVAL_EPISODES;
  o->seed = NG_RUN_EVAL_SEED;
  o->stochastic = 0;
  o->plugin = NULL;
  o->force = 0;
  for (int i = 1; i < argc; i++) {
    char name[64];
    const char *arg = argv[i], *v = NULL, *eq = strchr(arg, '=');
    if (!strncmp(arg, "--", 2) && eq && (size_t)(eq - arg) < sizeof name) {
      memcpy(name, arg, (size_t)(eq - arg));
      name[eq - arg] = '\0';
      v = eq + 1;
    } else {
      snprintf(name, sizeof name, "%s", arg);
    }
    int takes_value =
        !strcmp(name, "--episodes") || !strcmp(name, "--seed") || !strcmp(name, "--plugin");
    if (takes_value && !v) {
      if (i + 1 >= argc) {
        ng_cli_error(CMD, "%s needs a value (see natgrad eval --help)", name);
        return NG_EXIT_USAGE;
      }
      v = argv[++i];
    }
    char *end;
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (!strcmp(name, "--episodes")) {
      errno = 0;
      o->episodes = strtol(v, &end, 10);
      if (end == v || *end || errno || o->episodes < 1 || o->episodes > MAX_EPISODES) {
        ng_cli_error(CMD, "--episodes: expected an integer in [1, %d], got '%s'", MAX_EPISODES,
                     v);
        return NG_EXIT_USAGE;
      }
    } else if (!strcmp(name, "--seed")) {
      errno = 0;
      unsigned long long s = strtoull(v, &end, 10);
      if (end == v || *end || errno || v[0] == '-') {
        ng_cli_error(CMD, "--seed: expected a non-negative integer, got '%s'", v);
        return NG_EXIT_USAGE;
      }
      o->seed = (uint64_t)s;
    } else if (!strcmp(name, "--stochastic") && !v) {
      o->stochastic = 1;
    } else if (!strcmp(name, "--plugin")) {
      o->plugin = v;
    } else if (!strcmp(name, "--force") && !v) {
      o->force = 1;
    } else if (arg[0] == '-') {
      ng_cli_error(CMD, "unknown option '%s' (see natgrad eval --help)", arg);
      return NG_EXIT_USAGE;
    } else if (o->where) {
      ng_cli_error(CMD, "unexpected argument '%s': one run folder or checkpoint only", arg);
      return NG_EXIT_USAGE;
    } else {
      o->where = arg;
    }
  }
  if (!o->where) {
    ng_cli_error(CMD, "which run? usage: natgrad eval DIR|FILE.ngc [--episodes N]");
    return NG_EXIT_USAGE;
  }
  return -1;
}

int ng_cmd_eval(int argc, char **argv) {
  ng_eval_opts_t o;
  int rc = ng_eval_parse_args(argc, argv, &o);
  if (rc >= 0) return rc;
  const char *where = o.where;
  const long episodes = o.episodes;
  const uint64_t seed = o.seed;
  const int stochastic = o.stochastic;

  ng_rl_t *t = NULL;
  if ((rc = ng_cli_load_trainer(CMD, where, o.plugin, o.force, &t)) >= 0) return rc;
  ng_error_t err;
  double *ret = malloc((size_t)episodes * sizeof *ret);
  rc = NG_EXIT_FAILURE;
  if (!ret) {
    ng_cli_error(CMD, "out of memory for %ld episodes", episodes);
  } else if (ng_rl_evaluate(t, (int)episodes, seed, !stochastic, ret, &err) != NG_OK) {
    ng_cli_error(CMD, "evaluation failed: %s", ng_run_untag(err.message, "evaluate"));
  } else {
    double mean = 0, var = 0, lo = INFINITY, hi = -INFINITY;
    for (long i = 0; i < episodes; i++) {
      mean += ret[i];
      if (ret[i] < lo) lo = ret[i];
      if (ret[i] > hi) hi = ret[i];
    }
    mean /= (double)episodes;
    for (long i = 0; i < episodes; i++) var += (ret[i] - mean) * (ret[i] - mean);
    const ng_rl_config_t *cfg = ng_rl_config(t);
    printf("%s after %ld steps: mean return %.2f ± %.2f over %ld %s episodes (seed %" PRIu64
           "); min %.2f, max %.2f\n",
           cfg->env_id, ng_rl_env_steps(t), mean, sqrt(var / (double)episodes), episodes,
           stochastic ? "stochastic" : "deterministic", seed, lo, hi);
    rc = NG_EXIT_OK;
  }
  free(ret);
  ng_rl_destroy(t);
  return rc;
}
