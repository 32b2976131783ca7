/* natgrad eval: the mean return of a saved policy over fresh episodes. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "args.h"
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
          "episodes, population form), the lowest and highest return, the shortest and longest\n"
          "episode and how many the environment ended itself (terminated, not truncated). If a\n"
          "run folder's latest checkpoint is damaged, its previous one (checkpoint.prev.ngc) is\n"
          "used, with a warning.\n"
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
  ng_args_t a;
  ng_args_init(&a, CMD, argc, argv);
  while (ng_args_next(&a)) {
    const char *v;
    long n;
    if (ng_args_switch(&a, "--help", "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_is(&a, "--episodes")) {
      if (!ng_args_int(&a, 1, MAX_EPISODES, &n)) return NG_EXIT_USAGE;
      o->episodes = n;
    } else if (ng_args_is(&a, "--seed")) {
      if (!(v = ng_args_value(&a))) return NG_EXIT_USAGE;
      char *end;
      errno = 0;
      unsigned long long s = strtoull(v, &end, 10);
      if (end == v || *end || errno || v[0] == '-') {
        ng_cli_error(CMD, "--seed: expected a non-negative integer, got '%s'", v);
        return NG_EXIT_USAGE;
      }
      o->seed = (uint64_t)s;
    } else if (ng_args_switch(&a, "--stochastic", NULL)) {
      o->stochastic = 1;
    } else if (ng_args_is(&a, "--plugin")) {
      if (!(o->plugin = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_switch(&a, "--force", NULL)) {
      o->force = 1;
    } else if (a.arg[0] == '-' || o->where) {
      return ng_args_unknown(&a);
    } else {
      o->where = a.arg;
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

  /* one BLAS thread, as train runs (cmd_train.c says why): the same returns on any machine */
  openblas_set_num_threads(1);
  ng_rl_t *t = NULL;
  if ((rc = ng_cli_load_trainer(CMD, where, o.plugin, o.force, &t)) >= 0) return rc;
  ng_error_t err;
  ng_rl_episode_t *ep = malloc((size_t)episodes * sizeof *ep);
  rc = NG_EXIT_FAILURE;
  if (!ep) {
    ng_cli_error(CMD, "out of memory for %ld episodes", episodes);
  } else if (ng_rl_evaluate_episodes(t, (int)episodes, seed, !stochastic, ep, &err) != NG_OK) {
    ng_cli_error(CMD, "evaluation failed: %s", ng_run_untag(err.message, "evaluate"));
  } else {
    double mean = 0, var = 0, lo = ep[0].ret, hi = ep[0].ret;
    long len_lo = ep[0].length, len_hi = ep[0].length, terminated = 0;
    for (long i = 0; i < episodes; i++) {
      mean += ep[i].ret;
      if (ep[i].ret < lo) lo = ep[i].ret;
      if (ep[i].ret > hi) hi = ep[i].ret;
      if (ep[i].length < len_lo) len_lo = ep[i].length;
      if (ep[i].length > len_hi) len_hi = ep[i].length;
      terminated += ep[i].terminated;
    }
    mean /= (double)episodes;
    for (long i = 0; i < episodes; i++) var += (ep[i].ret - mean) * (ep[i].ret - mean);
    const ng_rl_config_t *cfg = ng_rl_config(t);
    /* lengths and terminations tell a policy that fails now and then (a few short,
     * terminated episodes: a fall on Ant or Hopper) from one that is slow all along */
    printf("%s after %ld steps: mean return %.2f ± %.2f over %ld %s episodes (seed %" PRIu64
           "); min %.2f, max %.2f; lengths %ld-%ld, %ld terminated\n",
           cfg->env_id, ng_rl_env_steps(t), mean, sqrt(var / (double)episodes), episodes,
           stochastic ? "stochastic" : "deterministic", seed, lo, hi, len_lo, len_hi,
           terminated);
    rc = NG_EXIT_OK;
  }
  free(ep);
  ng_rl_destroy(t);
  return rc;
}
