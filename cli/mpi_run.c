/* The CLI's MPI glue shared by train, fit and tune (cli/mpi_run.h). */
#include "mpi_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

char **ng_mpi_run_child_env(void) {
  static const char *const prefixes[] = {"OMPI_", "PMIX_", "PMI_", NULL};
  size_t n = 0;
  while (environ[n]) n++;
  char **env = malloc((n + 1) * sizeof *env);
  if (!env) return NULL;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    int launcher = 0;
    for (int p = 0; prefixes[p] && !launcher; p++)
      launcher = !strncmp(environ[i], prefixes[p], strlen(prefixes[p]));
    if (!launcher) env[m++] = environ[i];
  }
  env[m] = NULL;
  return env;
}

#ifdef NG_HAVE_MPI

#define NG__MPI_TIMEOUT_DEFAULT 60.0

static ng_mpi_t *g_mpi = NULL;
static const char *g_cmd = "train";
static double g_cpu0; /* this thread's CPU time when the counts were reset */

ng_mpi_t *ng_mpi_run_world(void) { return g_mpi; }

/* The watchdog's handler: a collective has waited too long, so a rank died or hangs. The
 * process ends without MPI_Finalize; mpirun then ends every other rank, and the last
 * checkpoint (written atomically) stays as it was. */
static void on_timeout(void *ctx, int rank, double waited_s) {
  (void)ctx;
  char msg[256];
  int n = snprintf(msg, sizeof msg, "natgrad %s: rank %d: no word from the other ranks "
                   "for %.0f s (one died or hangs): stopping; the last checkpoint is "
                   "intact\n", g_cmd, rank, waited_s);
  if (n > 0 && write(2, msg, (size_t)n) < 0) n = 0;
  _exit(NG_EXIT_FAILURE);
}

int ng_mpi_run_start(const char *cmd, int watchdog) {
  g_cmd = cmd;
  if (!ng_mpi_launched()) return -1;
  double timeout = watchdog ? NG__MPI_TIMEOUT_DEFAULT : 0; /* 0: no watchdog */
  const char *v = getenv("NATGRAD_MPI_TIMEOUT");
  if (watchdog && v && *v) {
    char *end;
    timeout = strtod(v, &end);
    if (*end || !(timeout > 0)) {
      ng_cli_error(cmd, "NATGRAD_MPI_TIMEOUT: expected seconds > 0, got '%s'", v);
      return NG_EXIT_USAGE;
    }
  }
  ng_error_t err;
  ng_error_clear(&err);
  if (ng_mpi_init(&g_mpi, timeout, on_timeout, NULL, &err) != NG_OK) {
    ng_cli_error(cmd, "%s", err.message);
    return NG_EXIT_FAILURE;
  }
  return -1;
}

int ng_mpi_run_active(void) { return g_mpi != NULL; }
int ng_mpi_run_rank(void) { return ng_mpi_rank(g_mpi); }
int ng_mpi_run_size(void) { return ng_mpi_size(g_mpi); }

int ng_mpi_run_threads(int cores) {
  const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  long local = v ? strtol(v, NULL, 10) : ng_mpi_size(g_mpi);
  if (!g_mpi || local < 1) return cores;
  return cores / local > 1 ? (int)(cores / local) : 1;
}

int ng_mpi_run_agree(int ok, const void *const *bytes, const size_t *lens, size_t n) {
  if (!g_mpi) return -1;
  ng_error_t err;
  ng_error_clear(&err);
  ng_mpi_fingerprint_t fp = {(uint64_t)(ok != 0), NG_MPI_HASH_INIT, NG_MPI_HASH_INIT,
                             NG_MPI_HASH_INIT};
  if (ng_mpi_hash_file(&fp.binary, "/proc/self/exe", &err) != NG_OK) {
    ng_cli_error(g_cmd, "rank %d: %s", ng_mpi_rank(g_mpi), err.message);
    fp.ok = 0;
  }
  for (size_t i = 0; i < n; i++) fp.config = ng_mpi_hash(fp.config, bytes[i], lens[i]);
  if (ng_mpi_agree(g_mpi, &fp, &err) != NG_OK) {
    if (ng_mpi_rank(g_mpi) == 0) ng_cli_error(g_cmd, "%s", err.message);
    return NG_EXIT_USAGE;
  }
  return -1;
}

int ng_mpi_run_split(ng_split_t *sp, size_t slices) {
  ng_split_t one = {slices, 0, 1, NULL, NULL, NULL};
  *sp = one;
  if (!g_mpi) return NG_OK;
  int st = ng_mpi_split(g_mpi, sp);
  sp->slices = slices;
  return st;
}

int ng_mpi_run_any(int flag) {
  if (!g_mpi) return flag;
  ng_error_t err;
  ng_error_clear(&err);
  int any = 1;
  if (ng_mpi_any(g_mpi, flag, &any, &err) != NG_OK)
    ng_cli_error(g_cmd, "rank %d: %s", ng_mpi_rank(g_mpi), err.message);
  return any;
}

int ng_mpi_run_sum(double *x, size_t n) {
  if (!g_mpi) return -1;
  ng_error_t err;
  ng_error_clear(&err);
  if (ng_mpi_sum(g_mpi, x, n, &err) == NG_OK) return -1;
  ng_cli_error(g_cmd, "rank %d: %s", ng_mpi_rank(g_mpi), err.message);
  return NG_EXIT_FAILURE;
}

void ng_mpi_run_stats_reset(void) {
  if (!g_mpi) return;
  ng_mpi_stats_reset(g_mpi);
  g_cpu0 = ng_mpi_thread_cpu();
}

void ng_mpi_run_report(long count, const char *unit) {
  if (!g_mpi || ng_mpi_rank(g_mpi) != 0 || count < 1) return;
  const double c = (double)count;
  ng_mpi_stats_t s;
  ng_mpi_stats(g_mpi, &s);
  printf("mpi: %d ranks; per %s %.1f collectives, %.1f kB received, %.3f s in "
         "communication (rank 0)\n", ng_mpi_size(g_mpi), unit, (double)s.calls / c,
         (double)s.bytes / 1e3 / c, s.seconds / c);
  printf("mpi: rank 0 computed for %.3f s of CPU per %s (outside the collectives)\n",
         (ng_mpi_thread_cpu() - g_cpu0 - s.cpu_seconds) / c, unit);
  ng_mpi_split_stats(g_mpi, &s);
  if (s.sums == 0) {
    printf("mpi: of which the update's gathers %.1f, %.1f kB received, %.3f s\n",
           (double)s.calls / c, (double)s.bytes / 1e3 / c, s.seconds / c);
    return;
  }
  const double small = (double)(s.sums - s.large_sums);
  printf("mpi: of which the blocks' sums %.1f collectives, %.1f kB received, %.3f s: %.1f "
         "reduce-scattered sums of %.0f doubles and %.1f gathered whole of %.1f (<= %.0f kB "
         "over all blocks)\n", (double)s.calls / c, (double)s.bytes / 1e3 / c, s.seconds / c,
         (double)s.large_sums / c,
         s.large_sums ? (double)s.large_doubles / (double)s.large_sums : 0.0, small / c,
         small > 0 ? (double)(s.sum_doubles - s.large_doubles) / small : 0.0,
         8.0 * NG_MPI_SMALL_SUM / 1e3);
}

void ng_mpi_run_end(void) {
  ng_mpi_finalize(g_mpi);
  g_mpi = NULL;
}

void ng_mpi_run_abort(int code) {
  if (g_mpi && ng_mpi_size(g_mpi) > 1) ng_mpi_abort(g_mpi, code);
}

#else /* no MPI in this build: one process */

int ng_mpi_run_start(const char *cmd, int watchdog) {
  (void)watchdog;
  const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
  for (int i = 0; vars[i]; i++) {
    const char *v = getenv(vars[i]);
    if (v && strcmp(v, "1") != 0) {
      ng_cli_error(cmd, "started by mpirun with %s ranks, but this natgrad was built "
                   "without MPI (install libopenmpi-dev and rebuild)", v);
      return NG_EXIT_USAGE;
    }
  }
  return -1;
}
int ng_mpi_run_active(void) { return 0; }
int ng_mpi_run_rank(void) { return 0; }
int ng_mpi_run_size(void) { return 1; }
int ng_mpi_run_threads(int cores) { return cores; }
int ng_mpi_run_agree(int ok, const void *const *bytes, const size_t *lens, size_t n) {
  (void)ok, (void)bytes, (void)lens, (void)n;
  return -1;
}
int ng_mpi_run_split(ng_split_t *sp, size_t slices) {
  ng_split_t one = {slices, 0, 1, NULL, NULL, NULL};
  *sp = one;
  return NG_OK;
}
int ng_mpi_run_any(int flag) { return flag; }
int ng_mpi_run_sum(double *x, size_t n) {
  (void)x, (void)n;
  return -1;
}
void ng_mpi_run_report(long count, const char *unit) { (void)count, (void)unit; }
void ng_mpi_run_stats_reset(void) {}
void ng_mpi_run_end(void) {}
void ng_mpi_run_abort(int code) { (void)code; }

#endif
