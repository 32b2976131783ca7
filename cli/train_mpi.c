/* The CLI's MPI glue (cli/train_mpi.h): start-up check, env share, stop vote, watchdog. */
#include "train_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifdef NG_HAVE_MPI
#include "natgrad/env.h"
#include "natgrad/mpi.h"

#define CMD "train"
#define NG__MPI_TIMEOUT_DEFAULT 60.0

static ng_mpi_t *g_mpi = NULL;
static double g_cpu0; /* this thread's CPU time when the run's iterations began */

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

/* The watchdog's handler: a collective has waited too long, so a rank died or hangs. The
 * process ends without MPI_Finalize; mpirun then ends every other rank, and the last
 * checkpoint (written atomically) stays as it was. */
static void on_timeout(void *ctx, int rank, double waited_s) {
  (void)ctx;
  char msg[256];
  int n = snprintf(msg, sizeof msg, "natgrad train: rank %d: no word from the other ranks "
                   "for %.0f s (one died or hangs): stopping; the last checkpoint is "
                   "intact\n", rank, waited_s);
  if (n > 0 && write(2, msg, (size_t)n) < 0) n = 0;
  _exit(NG_EXIT_FAILURE);
}

int ng_train_mpi_start(void) {
  if (!ng_mpi_launched()) return -1;
  double timeout = NG__MPI_TIMEOUT_DEFAULT;
  const char *v = getenv("NATGRAD_MPI_TIMEOUT");
  if (v && *v) {
    char *end;
    timeout = strtod(v, &end);
    if (*end || !(timeout > 0)) {
      ng_cli_error(CMD, "NATGRAD_MPI_TIMEOUT: expected seconds > 0, got '%s'", v);
      return NG_EXIT_USAGE;
    }
  }
  ng_error_t err;
  ng_error_clear(&err);
  if (ng_mpi_init(&g_mpi, timeout, on_timeout, NULL, &err) != NG_OK) {
    ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_FAILURE;
  }
  return -1;
}

int ng_train_mpi_rank(void) { return ng_mpi_rank(g_mpi); }

int ng_train_mpi_threads(int cores) {
  const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  long local = v ? strtol(v, NULL, 10) : ng_mpi_size(g_mpi);
  if (!g_mpi || local < 1) return cores;
  return cores / local > 1 ? (int)(cores / local) : 1;
}
int ng_train_mpi_size(void) { return ng_mpi_size(g_mpi); }

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
  if (!g_mpi) return -1;
  ng_error_t err;
  ng_error_clear(&err);
  ng_mpi_fingerprint_t fp;
  if (fingerprint(t, &fp, &err) != NG_OK) {
    ng_cli_error(CMD, "rank %d: %s", ng_mpi_rank(g_mpi), err.message);
    fp.ok = 0;
  }
  if (ng_mpi_agree(g_mpi, &fp, &err) != NG_OK) {
    if (ng_mpi_rank(g_mpi) == 0) ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_USAGE;
  }
  ng_rl_env_share_t share;
  if (ng_mpi_env_share(g_mpi, ng_rl_config(t)->n_envs, &share, &err) != NG_OK ||
      ng_rl_set_env_share(t, &share, &err) != NG_OK) {
    if (ng_mpi_rank(g_mpi) == 0) ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_USAGE;
  }
  ng_split_t split = {0, 0, 1, NULL, NULL};
  if (ng_mpi_split(g_mpi, &split) != NG_OK || ng_rl_set_split(t, &split) != NG_OK) {
    ng_cli_error(CMD, "rank %d: cannot split the update (out of memory)", ng_mpi_rank(g_mpi));
    return NG_EXIT_FAILURE;
  }
  const ng_reducer_t counter = {count_sum, NULL};
  ng_rl_set_reducer(t, &counter);
  ng_mpi_stats_reset(g_mpi);
  g_cpu0 = ng_mpi_thread_cpu();
  return -1;
}

int ng_train_mpi_any(int flag) {
  if (!g_mpi) return flag;
  ng_error_t err;
  ng_error_clear(&err);
  int any = 1;
  if (ng_mpi_any(g_mpi, flag, &any, &err) != NG_OK)
    ng_cli_error(CMD, "rank %d: %s", ng_mpi_rank(g_mpi), err.message);
  return any;
}

void ng_train_mpi_report(long iterations) {
  if (!g_mpi || ng_mpi_rank(g_mpi) != 0 || iterations < 1) return;
  ng_mpi_stats_t s;
  ng_mpi_stats(g_mpi, &s);
  printf("mpi: %d ranks; per iteration %.1f collectives, %.1f kB received, %.3f s in "
         "communication (rank 0)\n", ng_mpi_size(g_mpi), (double)s.calls / (double)iterations,
         (double)s.bytes / 1e3 / (double)iterations, s.seconds / (double)iterations);
  printf("mpi: rank 0 computed for %.3f s of CPU per iteration (outside the collectives)\n",
         (ng_mpi_thread_cpu() - g_cpu0 - s.cpu_seconds) / (double)iterations);
  ng_mpi_split_stats(g_mpi, &s);
  printf("mpi: of which the update's gathers %.1f, %.1f kB received, %.3f s\n",
         (double)s.calls / (double)iterations, (double)s.bytes / 1e3 / (double)iterations,
         s.seconds / (double)iterations);
  printf("mpi: all-reducing partial sums instead would take %.1f all-reduces of %.1f kB in "
         "all per iteration\n", (double)g_sums.calls / (double)iterations,
         (double)g_sums.doubles * 8e-3 / (double)iterations);
}

void ng_train_mpi_end(void) {
  ng_mpi_finalize(g_mpi);
  g_mpi = NULL;
}

#else /* no MPI in this build: one process */

int ng_train_mpi_start(void) {
  const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
  for (int i = 0; vars[i]; i++) {
    const char *v = getenv(vars[i]);
    if (v && strcmp(v, "1") != 0) {
      ng_cli_error("train", "started by mpirun with %s ranks, but this natgrad was built "
                   "without MPI (install libopenmpi-dev and rebuild)", v);
      return NG_EXIT_USAGE;
    }
  }
  return -1;
}
int ng_train_mpi_rank(void) { return 0; }
int ng_train_mpi_threads(int cores) { return cores; }
int ng_train_mpi_size(void) { return 1; }
int ng_train_mpi_setup(ng_rl_t *t) { return -1; }
int ng_train_mpi_any(int flag) { return flag; }
void ng_train_mpi_report(long iterations) {}
void ng_train_mpi_end(void) {}

#endif
