/* The PyTorch reference, run at its best in a child process: torch on OpenBLAS (the folder
 * from --peer-blas or NG_PEER_BLAS_DIR becomes the child's LD_LIBRARY_PATH) and glibc's
 * malloc told to keep freed memory (MALLOC_MMAP_MAX_, MALLOC_TRIM_THRESHOLD_), as the peer's
 * README prescribes. These settings go into the child's environment only: natgrad's own
 * process keeps its OpenBLAS and its malloc. The interpreter is --python, else $NG_PYTHON,
 * (a path, or a name looked up on PATH), else the first python3 on PATH that imports torch;
 * the script is found by find_script(). Every setting is recorded in the JSON. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define CMD NG_BENCH_CMD
#define SCRIPT NG_BENCH_PEER_SCRIPT

/* What the probe prints: torch's version and the BLAS and LAPACK libraries it loaded. */
static const char PROBE[] =
    "import torch\n"
    "print('torch', torch.__version__)\n"
    "libs = set(l.split()[-1] for l in open('/proc/self/maps'))\n"
    "for p in sorted(libs):\n"
    "    if p.startswith('/') and ('blas' in p or 'lapack' in p): print('lib', p)\n";

/* The peer's JSON, flattened to lines for C. */
static const char FLATTEN[] =
    "import json, sys\n"
    "d = json.load(open(sys.argv[1]))\n"
    "for r in d['results']:\n"
    "    print('row', r['policy'], r['N'], r['dtype'], r['threads'], r['grad']['median_s'],\n"
    "          r['kl_setup']['median_s'], r['fvp']['median_s'], r['cg10']['median_s'])\n";

/* src into dst, cut to fit. */
static void copy_cut(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static int is_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (f) fclose(f);
  return f != NULL;
}

/* ---- the script ------------------------------------------------------------------------- */

/* 0 if dir/shared/peers holds the script; its path into out. */
static int script_in(const char *dir, char *out, size_t size) {
  int n = snprintf(out, size, "%s/shared/peers/%s", dir, SCRIPT);
  return n > 0 && (size_t)n < size && is_file(out) ? 0 : -1;
}

/* --peer-dir, $NG_PEER_DIR, else shared/peers in a folder above the binary or above (or at)
 * the current folder: a clone of the project keeps it at ../shared/peers. On failure out
 * holds the path that was looked for. */
static int find_script(const ng_bench_opts_t *o, char *out, size_t size) {
  const char *given = o->peer_dir ? o->peer_dir : getenv("NG_PEER_DIR");
  if (given) {
    int n = snprintf(out, size, "%s/%s", given, SCRIPT);
    return n > 0 && (size_t)n < size && is_file(out) ? 0 : -1;
  }
  char dir[4096];
  for (int s = 0; s < 2; s++) {
    if (s == 0) {
      ssize_t len = readlink("/proc/self/exe", dir, sizeof dir - 1);
      dir[len > 0 ? len : 0] = '\0';
      char *slash = strrchr(dir, '/');
      if (slash) *slash = '\0'; /* the binary's folder */
    } else if (!getcwd(dir, sizeof dir)) {
      break;
    }
    for (;;) {
      if (dir[0] && script_in(dir, out, size) == 0) return 0;
      char *slash = strrchr(dir, '/');
      if (!slash) break;
      *slash = '\0';
    }
  }
  snprintf(out, size, "../shared/peers/%s", SCRIPT);
  return -1;
}

/* ---- the child's environment and the child ---------------------------------------------- */

typedef struct {
  char **vars; /* NULL-terminated, for posix_spawn */
  char *own[4];
} child_env_t;

static void child_env_free(child_env_t *e) {
  for (int i = 0; i < 4; i++) free(e->own[i]);
  free(e->vars);
  memset(e, 0, sizeof *e);
}

static int starts_with_var(const char *entry, const char *name) {
  size_t n = strlen(name);
  return !strncmp(entry, name, n) && entry[n] == '=';
}

/* Ours, with the peer's settings in place of any inherited ones. */
static int child_env_init(child_env_t *e, const ng_bench_peer_t *p, int omp_threads) {
  static const char *const SET[] = {"MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_",
                                    "OMP_NUM_THREADS", "LD_LIBRARY_PATH"};
  memset(e, 0, sizeof *e);
  size_t n = 0;
  while (environ[n]) n++;
  e->vars = calloc(n + 5, sizeof *e->vars);
  size_t len = strlen(p->blas_dir) + 64;
  for (int i = 0; i < 4; i++) e->own[i] = malloc(len);
  if (!e->vars || !e->own[0] || !e->own[1] || !e->own[2] || !e->own[3]) {
    child_env_free(e);
    return -1;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int replaced = 0;
    for (int j = 0; j < 4; j++)
      replaced |= starts_with_var(environ[i], SET[j]) && (j < 3 || p->blas_dir[0]);
    if (!replaced) e->vars[k++] = environ[i];
  }
  snprintf(e->own[0], len, "%s=%s", SET[0], NG_BENCH_PEER_MMAP_MAX);
  snprintf(e->own[1], len, "%s=%s", SET[1], NG_BENCH_PEER_TRIM_THRESHOLD);
  snprintf(e->own[2], len, "%s=%d", SET[2], omp_threads);
  snprintf(e->own[3], len, "%s=%s", SET[3], p->blas_dir);
  for (int j = 0; j < (p->blas_dir[0] ? 4 : 3); j++) e->vars[k++] = e->own[j];
  e->vars[k] = NULL;
  return 0;
}

/* Runs argv (argv[0] the program's path) with env vars, its stdout into out_path (NULL: our
 * stderr) and its stderr into /dev/null when quiet; 0 if it exited with status 0. */
static int run_child(char *const argv[], char *const vars[], const char *out_path, int quiet) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) return -1;
  int rc = out_path ? posix_spawn_file_actions_addopen(&fa, 1, out_path,
                                                      O_WRONLY | O_CREAT | O_TRUNC, 0600)
                    : posix_spawn_file_actions_adddup2(&fa, 2, 1);
  if (!rc && quiet) rc = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  fflush(stdout);
  fflush(stderr);
  if (!rc) rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, vars);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) return -1;
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int temp_file(char *path, size_t size) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, size, "%s/natgrad-bench-peer-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

/* 0 if python imports torch under the peer's settings; torch's version and loaded BLAS
 * libraries into p. */
static int probe(const char *python, ng_bench_peer_t *p) {
  char out[4096], line[4096];
  if (access(python, X_OK) != 0 || temp_file(out, sizeof out) != 0) return -1;
  child_env_t env;
  int rc = child_env_init(&env, p, 1);
  if (!rc) {
    char *argv[] = {(char *)python, "-c", (char *)PROBE, NULL};
    rc = run_child(argv, env.vars, out, 1);
    child_env_free(&env);
  }
  FILE *f = rc ? NULL : fopen(out, "r");
  p->torch[0] = p->blas[0] = '\0';
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (!strncmp(line, "torch ", 6)) {
      copy_cut(p->torch, sizeof p->torch, line + 6);
    } else if (!strncmp(line, "lib ", 4)) {
      size_t used = strlen(p->blas);
      snprintf(p->blas + used, sizeof p->blas - used, "%s%s", used ? "," : "", line + 4);
    }
  }
  if (f) fclose(f);
  remove(out);
  return !rc && p->torch[0] ? 0 : -1;
}

/* The interpreter: the path given, else the first program of the name given (default
 * python3) on PATH that imports torch (PATH may start with e.g. a pyenv shim without it).
 * tried lists what was tried. */
static int find_python(const ng_bench_opts_t *o, ng_bench_peer_t *p, char *tried,
                       size_t size) {
  const char *given = o->python ? o->python : getenv("NG_PYTHON");
  tried[0] = '\0';
  if (given && strchr(given, '/')) {
    snprintf(p->python, sizeof p->python, "%s", given);
    snprintf(tried, size, "%s", given);
    return probe(p->python, p);
  }
  const char *name = given ? given : "python3", *path = getenv("PATH");
  if (!path) return -1;
  for (const char *d = path; ; ) {
    size_t n = strcspn(d, ":");
    int w = snprintf(p->python, sizeof p->python, "%.*s/%s", (int)n, n ? d : ".", name);
    if (w > 0 && (size_t)w < sizeof p->python && access(p->python, X_OK) == 0) {
      size_t used = strlen(tried);
      snprintf(tried + used, size - used, "%s%s", used ? ", " : "", p->python);
      if (probe(p->python, p) == 0) return 0;
    }
    if (!d[n]) break;
    d += n + 1;
  }
  p->python[0] = '\0';
  return -1;
}

/* 1 if one of the loaded libraries is OpenBLAS (Debian's libblas.so.3 alternatives resolve to
 * a path under an openblas-* folder; the reference BLAS's does not). */
static int on_openblas(const char *libs) {
  for (const char *s = libs; *s; s++)
    if (!strncmp(s, "openblas", 8) || !strncmp(s, "OpenBLAS", 8)) return 1;
  return 0;
}

int ng_bench_peer_prepare(const ng_bench_opts_t *o, ng_bench_peer_t *p) {
  memset(p, 0, sizeof *p);
  if (find_script(o, p->script, sizeof p->script) != 0) {
    ng_cli_error(CMD, "--peer: %s not found (give its folder with --peer-dir DIR or "
                 "NG_PEER_DIR)", p->script);
    return NG_EXIT_USAGE;
  }
  const char *blas = o->peer_blas ? o->peer_blas : getenv("NG_PEER_BLAS_DIR");
  if (blas) snprintf(p->blas_dir, sizeof p->blas_dir, "%s", blas);
  char tried[8192];
  if (find_python(o, p, tried, sizeof tried) != 0) {
    ng_cli_error(CMD, "--peer: no interpreter that can import torch (tried: %s): the PyTorch "
                 "reference needs Debian's python3-torch (apt-get install python3-torch "
                 "libopenblas0-openmp) and its interpreter, given with --python PATH or "
                 "NG_PYTHON if it is not the first python3 on PATH; see the peer's README",
                 tried[0] ? tried : "none found on PATH");
    return NG_EXIT_FAILURE;
  }
  if (!on_openblas(p->blas)) {
    ng_cli_error(CMD, "--peer: torch under %s runs on %s, not OpenBLAS: give OpenBLAS's "
                 "folder (Debian's libopenblas0-openmp installs one) with --peer-blas DIR or "
                 "NG_PEER_BLAS_DIR, so the reference is measured at its best",
                 p->python, p->blas[0] ? p->blas : "no BLAS library it could name");
    return NG_EXIT_FAILURE;
  }
  return -1;
}

int ng_bench_peer_run(const ng_bench_opts_t *o, ng_bench_peer_t *p) {
  char json[4096], flat[4096], sizes[256] = "", threads[32], target[32], line[1024];
  if (temp_file(json, sizeof json) != 0) return -1;
  if (temp_file(flat, sizeof flat) != 0) {
    remove(json);
    return -1;
  }
  for (int i = 0; i < o->n_sizes; i++)
    snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), "%s%zu", i ? "," : "",
             o->sizes[i]);
  if (o->threads > 1) snprintf(threads, sizeof threads, "1,%d", o->threads);
  else snprintf(threads, sizeof threads, "1");
  snprintf(target, sizeof target, "%g", o->target_s < 0.1 ? 0.1 : o->target_s);
  child_env_t env;
  int rc = child_env_init(&env, p, o->threads);
  if (!rc) {
    char *run[] = {p->python, p->script, "--threads", threads, "--sizes", sizes, "--target-s",
                   target, "--out", json, o->quick ? "--quick" : NULL, NULL};
    char *flatten[] = {p->python, "-c", (char *)FLATTEN, json, NULL};
    rc = run_child(run, env.vars, NULL, 0);
    if (!rc) rc = run_child(flatten, env.vars, flat, 0);
    child_env_free(&env);
  }
  p->n = 0;
  FILE *f = rc ? NULL : fopen(flat, "r");
  while (f && fgets(line, sizeof line, f)) {
    ng_bench_peer_row_t *r = &p->rows[p->n];
    if (p->n < (int)(sizeof p->rows / sizeof p->rows[0]) &&
        sscanf(line, "row %15s %zu %15s %d %lf %lf %lf %lf", r->policy, &r->batch, r->dtype,
               &r->threads, &r->grad_s, &r->setup_s, &r->fvp_s, &r->cg10_s) == 8)
      p->n++;
  }
  if (f) fclose(f);
  remove(json);
  remove(flat);
  return !rc && p->n > 0 ? 0 : -1;
}

const ng_bench_peer_row_t *ng_bench_peer_find(const ng_bench_peer_t *p, const char *policy,
                                              size_t batch, const char *dtype, int threads) {
  for (int i = 0; i < p->n; i++)
    if (!strcmp(p->rows[i].policy, policy) && p->rows[i].batch == batch &&
        !strcmp(p->rows[i].dtype, dtype) && p->rows[i].threads == threads)
      return &p->rows[i];
  return NULL;
}
