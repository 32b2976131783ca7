/* The CLI's MPI glue for train (cli/train_mpi.h): its fingerprint, env share, update split
 * and all-reduce count, on top of what it shares with fit (cli/mpi_run.h). */
#include "train_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpi_run.h"

#define CMD "train"

int ng_train_mpi_start(void) { return ng_mpi_run_start(CMD, 1); }
int ng_train_mpi_rank(void) { return ng_mpi_run_rank(); }
int ng_train_mpi_size(void) { return ng_mpi_run_size(); }
int ng_train_mpi_threads(int cores) { return ng_mpi_run_threads(cores); }
int ng_train_mpi_any(int flag) { return ng_mpi_run_any(flag); }
void ng_train_mpi_end(void) { ng_mpi_run_end(); }
void ng_train_mpi_failed(const ng_rl_t *t, int code) {
  if (ng_rl_config(t)->blocks > 1) ng_mpi_run_abort(code);
}

#ifdef NG_HAVE_MPI
#include "natgrad/env.h"

/* What a design that all-reduces partial sums (baselines' trpo_mpi) would exchange: every
 * batch sum the trainer makes passes through this reducer, which counts it and, every rank
 * holding the whole batch, leaves it as it is. */
static struct {
  unsigned long calls;
  unsigned long long doubles;
} g_sums;
static int count_sum(void *ctx, double *buf, size_t n) {
  (void)ctx, (void)buf;
  g_sums.calls++;
  g_sums.doubles += n;
  return NG_OK;
}

/* The fingerprints of this rank: its binary, its effective config with the run's position
 * (a rank that loaded another checkpoint differs) and its environment registry with the
 * plugin files behind it. */
static int fingerprint(ng_rl_t *t, ng_mpi_fingerprint_t *fp, ng_error_t *err) {
  fp->ok = t != NULL;
  fp->binary = fp->config = fp->plugins = NG_MPI_HASH_INIT;
  int s = ng_mpi_hash_file(&fp->binary, "/proc/self/exe", err);
  if (s || !t) return s;
  const ng_rl_config_t *cfg = ng_rl_config(t);
  size_t need = ng_rl_config_format(cfg, NULL, 0);
  char *text = malloc(need + 1);
  if (!text) return ng_error_set(err, NG_ENOMEM, "out of memory");
  ng_rl_config_format(cfg, text, need + 1);
  fp->config = ng_mpi_hash(fp->config, text, need);
  free(text);
  long pos[2] = {ng_rl_iteration(t), ng_rl_env_steps(t)};
  fp->config = ng_mpi_hash(fp->config, pos, sizeof pos);
  size_t n;
  const double *theta = ng_rl_policy_params(t, &n);
  fp->config = ng_mpi_hash(fp->config, theta, n * sizeof *theta);
  for (size_t i = 0; i < ng_env_count(); i++) {
    const ng_env_info_t *info = ng_env_info_at(i);
    fp->plugins = ng_mpi_hash(fp->plugins, info->id, strlen(info->id) + 1);
    const char *path = ng_env_plugin_path(info->id);
    if (path && (s = ng_mpi_hash_file(&fp->plugins, path, err))) return s;
  }
  return NG_OK;
}

int ng_train_mpi_setup(ng_rl_t *t) {
  ng_mpi_t *mpi = ng_mpi_run_world();
  if (!mpi) return -1;
  ng_error_t err;
  ng_error_clear(&err);
  ng_mpi_fingerprint_t fp;
  if (fingerprint(t, &fp, &err) != NG_OK) {
    ng_cli_error(CMD, "rank %d: %s", ng_mpi_rank(mpi), err.message);
    fp.ok = 0;
  }
  if (ng_mpi_agree(mpi, &fp, &err) != NG_OK) {
    if (ng_mpi_rank(mpi) == 0) ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_USAGE;
  }
  /* with blocks, the ranks share out the blocks (each holding its own blocks' rows), and
   * the env share's items are blocks; else the envs, every rank holding every row */
  const int blocks = ng_rl_config(t)->blocks, size = ng_mpi_size(mpi);
  if (blocks > 1 && size > blocks) {
    if (ng_mpi_rank(mpi) == 0)
      ng_cli_error(CMD, "%d ranks for a run of %d blocks: each rank needs at least one (raise "
                   "blocks, which changes the run, or run at most %d ranks)", size, blocks,
                   blocks);
    return NG_EXIT_USAGE;
  }
  ng_split_t split; /* the trainer sets the config's slices */
  if (ng_mpi_run_split(&split, 0) != NG_OK || ng_rl_set_split(t, &split) != NG_OK) {
    ng_cli_error(CMD, "rank %d: cannot split the update (out of memory)", ng_mpi_rank(mpi));
    return NG_EXIT_FAILURE;
  }
  ng_rl_env_share_t share;
  if (ng_mpi_env_share(mpi, blocks > 1 ? (size_t)blocks : (size_t)ng_rl_config(t)->n_envs,
                       &share, &err) != NG_OK ||
      ng_rl_set_env_share(t, &share, &err) != NG_OK) {
    if (ng_mpi_rank(mpi) == 0) ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_USAGE;
  }
  const ng_reducer_t counter = {count_sum, NULL};
  if (blocks == 1) ng_rl_set_reducer(t, &counter);
  ng_mpi_run_stats_reset();
  return -1;
}

void ng_train_mpi_report(long iterations) {
  ng_mpi_t *mpi = ng_mpi_run_world();
  if (!mpi || ng_mpi_rank(mpi) != 0 || iterations < 1) return;
  ng_mpi_run_report(iterations, "iteration");
  if (g_sums.calls == 0) return; /* blocks: the sums are the blocks' */
  printf("mpi: all-reducing partial sums instead would take %.1f all-reduces of %.1f kB in "
         "all per iteration\n", (double)g_sums.calls / (double)iterations,
         (double)g_sums.doubles * 8e-3 / (double)iterations);
}

#else /* no MPI in this build: one process */

int ng_train_mpi_setup(ng_rl_t *t) {
  (void)t;
  return -1;
}
void ng_train_mpi_report(long iterations) { (void)iterations; }

#endif
