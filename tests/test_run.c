/* Run folders (natgrad/run.h): one writer at a time, in this process and across 20 forked
 * ones, with the owner's PID in the refusal and the lock gone when its holder is killed;
 * a run is not overwritten without force, and force removes every old checkpoint; a
 * failed set-up leaves no folder behind; checkpoints rotate so that the previous one is the
 * fallback for a damaged latest (set aside on resume); a checkpoint whose config differs
 * from config.ini is refused naming the key, but for the keys a resume may change; the log
 * keeps the rows up to the checkpoint, drops later ones and a torn line, and refuses a
 * damaged or out-of-sequence row instead of dropping good rows after it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "natgrad/run.h"
#include "ng_test.h"

static char root[256];

static void path_in(char *buf, size_t size, const char *dir, const char *name) {
  snprintf(buf, size, "%s/%s", dir, name);
}

static int file_exists(const char *dir, const char *name) {
  char p[512];
  path_in(p, sizeof p, dir, name);
  struct stat st;
  return stat(p, &st) == 0;
}

/* Replaces the file (a new inode: never through a hard link to the previous checkpoint). */
static void write_text(const char *dir, const char *name, const char *text) {
  char p[512];
  path_in(p, sizeof p, dir, name);
  remove(p);
  FILE *f = fopen(p, "wb");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static char *read_text(const char *dir, const char *name) {
  char p[512];
  path_in(p, sizeof p, dir, name);
  static char buf[8192];
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

/* A "checkpoint" for these tests: its config text, saved and loaded as a file whose first
 * line "CKPT" marks it intact. */
typedef struct {
  const char *config; /* what to save */
  char loaded[512];   /* what was loaded */
  int loads;
} fake_t;

/* Atomic, as every real saver: the previous checkpoint is a hard link to the old file. */
static int fake_save(void *ctx, const char *path, ng_error_t *err) {
  fake_t *f = ctx;
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *out = fopen(tmp, "wb");
  if (!out) return ng_error_set(err, NG_EIO, "cannot write '%s'", path);
  fprintf(out, "CKPT\n%s", f->config);
  fclose(out);
  return rename(tmp, path) == 0 ? NG_OK : ng_error_set(err, NG_EIO, "cannot rename");
}

static int fake_load(void *ctx, const char *path, char **config, char *state, size_t size,
                     ng_error_t *err) {
  fake_t *f = ctx;
  FILE *in = fopen(path, "rb");
  if (!in) return ng_error_set(err, NG_EIO, "cannot read '%s'", path);
  char buf[512];
  size_t n = fread(buf, 1, sizeof buf - 1, in);
  fclose(in);
  buf[n] = '\0';
  if (strncmp(buf, "CKPT\n", 5)) return ng_error_set(err, NG_EFORMAT, "'%s' is corrupt", path);
  snprintf(f->loaded, sizeof f->loaded, "%s", buf + 5);
  f->loads++;
  snprintf(state, size, "load %d", f->loads);
  *config = malloc(strlen(buf + 5) + 1);
  strcpy(*config, buf + 5);
  return NG_OK;
}

static const char CFG_A[] = "env = Pendulum-v1\nseed = 1\nsteps = 1000\n";
static const char CFG_B[] = "env = CartPole-v1\nseed = 1\nsteps = 1000\n";
static const char *const FREE[] = {"steps", NULL};
static const char HEADER[] = "iteration,env_steps,mean_return";

static void test_create_resume_and_force(void) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/a/b/run", root); /* parents made too */
  ng_run_t *r;
  ng_error_t err;
  NG_CHECK_STATUS(ng_run_open(&r, "", NG_RUN_CREATE, 0, &err), NG_EINVAL);
  NG_CHECK_STATUS(ng_run_open(&r, dir, NG_RUN_RESUME, 0, &err), NG_ENOTFOUND);
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_CREATE, 0, &err));
  fake_t f = {.config = CFG_A};
  NG_CHECK_OK(ng_run_write_config(r, "a comment\nover two lines", CFG_A, &err));
  NG_CHECK(!strncmp(read_text(dir, NG_RUN_CONFIG), "# a comment\n# over two lines\nenv = ", 35));
  NG_CHECK_OK(ng_run_save_checkpoint(r, fake_save, &f, &err));
  NG_CHECK(file_exists(dir, NG_RUN_CHECKPOINT) && !file_exists(dir, NG_RUN_CHECKPOINT_PREV));
  NG_CHECK_OK(ng_run_save_checkpoint(r, fake_save, &f, &err));
  NG_CHECK(file_exists(dir, NG_RUN_CHECKPOINT_PREV));
  ng_run_close(r);
  NG_CHECK(file_exists(dir, NG_RUN_CONFIG)); /* the run exists: nothing removed */

  /* a new run there is refused; force removes the old checkpoints first */
  NG_CHECK_STATUS(ng_run_open(&r, dir, NG_RUN_CREATE, 0, &err), NG_EEXIST);
  NG_CHECK(strstr(err.message, "already holds a run") != NULL);
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_CREATE, 1, &err));
  NG_CHECK(!file_exists(dir, NG_RUN_CHECKPOINT) && !file_exists(dir, NG_RUN_CHECKPOINT_PREV));
  NG_CHECK_OK(ng_run_save_checkpoint(r, fake_save, &f, &err));
  ng_run_close(r);

  /* resume and read-only opens */
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_RESUME, 0, &err));
  char warning[1024];
  NG_CHECK_OK(ng_run_load_checkpoint(r, fake_load, &f, FREE, warning, sizeof warning, &err));
  NG_CHECK(warning[0] == '\0' && !strcmp(f.loaded, CFG_A));
  ng_run_close(r);
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_READ, 0, &err));
  NG_CHECK_STATUS(ng_run_write_config(r, NULL, CFG_A, &err), NG_EINVAL);
  ng_run_close(r);
}

static void test_lock(void) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/locked", root);
  ng_run_t *r, *r2;
  ng_error_t err;
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_CREATE, 0, &err));
  NG_CHECK_STATUS(ng_run_open(&r2, dir, NG_RUN_CREATE, 1, &err), NG_EBUSY);
  char pid[32];
  snprintf(pid, sizeof pid, "PID %ld", (long)getpid());
  NG_CHECK(strstr(err.message, pid) != NULL);
  NG_CHECK_STATUS(ng_run_open(&r2, dir, NG_RUN_READ, 0, &err), NG_ENOTFOUND); /* none yet */
  fake_t f = {.config = CFG_A};
  NG_CHECK_OK(ng_run_log_open(r, HEADER, -1, &err));
  NG_CHECK_OK(ng_run_log_append(r, "1,10,0.5", &err));
  NG_CHECK_OK(ng_run_save_checkpoint(r, fake_save, &f, &err));
  NG_CHECK_STATUS(ng_run_open(&r2, dir, NG_RUN_RESUME, 0, &err), NG_EBUSY);
  ng_run_close(r);
  NG_CHECK_OK(ng_run_open(&r2, dir, NG_RUN_RESUME, 0, &err));
  ng_run_close(r2);

  /* 20 processes at once: exactly one gets the folder, the others are told who has it */
  char many[300];
  snprintf(many, sizeof many, "%s/many", root);
  int wins = 0, busy = 0;
  pid_t kids[20];
  for (int i = 0; i < 20; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      ng_run_t *mine;
      ng_error_t e;
      int st = ng_run_open(&mine, many, NG_RUN_CREATE, 0, &e);
      if (st == NG_OK) {
        fake_t g = {.config = CFG_A};
        ng_run_save_checkpoint(mine, fake_save, &g, &e);
        nanosleep(&(struct timespec){0, 300000000}, NULL); /* hold it while the others try */
        ng_run_close(mine);
        _exit(0);
      }
      _exit(st == NG_EBUSY && strstr(e.message, "PID ") ? 1 : st == NG_EEXIST ? 1 : 2);
    }
  }
  for (int i = 0; i < 20; i++) {
    int status = 0;
    waitpid(kids[i], &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
    wins += code == 0;
    busy += code == 1;
  }
  NG_CHECK(wins == 1 && busy == 19);

  /* a holder killed with SIGKILL leaves no stale lock */
  char killed[300];
  snprintf(killed, sizeof killed, "%s/killed", root);
  int pipefd[2];
  NG_CHECK(pipe(pipefd) == 0);
  pid_t kid = fork();
  if (kid == 0) {
    ng_run_t *mine;
    ng_error_t e;
    if (ng_run_open(&mine, killed, NG_RUN_CREATE, 0, &e) != NG_OK) _exit(1);
    fake_t g = {.config = CFG_A};
    ng_run_save_checkpoint(mine, fake_save, &g, &e);
    ssize_t w = write(pipefd[1], "x", 1);
    (void)w;
    for (;;) pause();
  }
  char c;
  NG_CHECK(read(pipefd[0], &c, 1) == 1);
  NG_CHECK_STATUS(ng_run_open(&r, killed, NG_RUN_RESUME, 0, &err), NG_EBUSY);
  kill(kid, SIGKILL);
  waitpid(kid, NULL, 0);
  NG_CHECK_OK(ng_run_open(&r, killed, NG_RUN_RESUME, 0, &err));
  ng_run_close(r);
  close(pipefd[0]);
  close(pipefd[1]);
}

static void test_failed_setup_leaves_nothing(void) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/never", root);
  ng_run_t *r;
  ng_error_t err;
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_CREATE, 0, &err));
  NG_CHECK_OK(ng_run_write_config(r, NULL, CFG_A, &err));
  NG_CHECK_OK(ng_run_log_open(r, HEADER, -1, &err));
  ng_run_close(r); /* nothing logged or saved: the set-up failed */
  struct stat st;
  NG_CHECK(stat(dir, &st) != 0 && errno == ENOENT);

  /* a folder that was there before is left alone */
  mkdir(dir, 0777);
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_CREATE, 0, &err));
  ng_run_close(r);
  NG_CHECK(stat(dir, &st) == 0);
}

static void test_identity_and_fallback(void) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/ident", root);
  ng_run_t *r;
  ng_error_t err;
  char warning[1024];
  fake_t f = {.config = CFG_A};
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_CREATE, 0, &err));
  NG_CHECK_OK(ng_run_write_config(r, "header", CFG_A, &err));
  NG_CHECK_OK(ng_run_save_checkpoint(r, fake_save, &f, &err));
  NG_CHECK_OK(ng_run_save_checkpoint(r, fake_save, &f, &err));
  ng_run_close(r);

  /* steps may differ (a resume extends it); the env may not */
  write_text(dir, NG_RUN_CHECKPOINT, "CKPT\nenv = Pendulum-v1\nseed = 1\nsteps = 5000\n");
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_RESUME, 0, &err));
  NG_CHECK_OK(ng_run_load_checkpoint(r, fake_load, &f, FREE, warning, sizeof warning, &err));
  write_text(dir, NG_RUN_CHECKPOINT, "CKPT\nenv = CartPole-v1\nseed = 1\nsteps = 1000\n");
  NG_CHECK_STATUS(ng_run_load_checkpoint(r, fake_load, &f, FREE, warning, sizeof warning, &err),
                  NG_EFORMAT);
  NG_CHECK(strstr(err.message, "belongs to another run") != NULL);
  NG_CHECK(strstr(err.message, "env = CartPole-v1 in checkpoint.ngc, Pendulum-v1 in config.ini"));
  NG_CHECK(file_exists(dir, NG_RUN_CHECKPOINT)); /* refused, not set aside */
  write_text(dir, NG_RUN_CHECKPOINT, "CKPT\nenv = Pendulum-v1\nsteps = 1000\n");
  NG_CHECK_STATUS(ng_run_load_checkpoint(r, fake_load, &f, FREE, warning, sizeof warning, &err),
                  NG_EFORMAT);
  NG_CHECK(strstr(err.message, "seed is set in config.ini but not in checkpoint.ngc") != NULL);

  /* damage falls back to the previous checkpoint and sets the damaged one aside */
  write_text(dir, NG_RUN_CHECKPOINT, "garbage");
  f.loads = 0;
  NG_CHECK_OK(ng_run_load_checkpoint(r, fake_load, &f, FREE, warning, sizeof warning, &err));
  NG_CHECK(f.loads == 1 && strstr(warning, "using the previous one") != NULL);
  NG_CHECK(strstr(warning, "checkpoint.prev.ngc' (load 1); the damaged file is kept") != NULL);
  NG_CHECK(file_exists(dir, NG_RUN_CHECKPOINT_DAMAGED) && !file_exists(dir, NG_RUN_CHECKPOINT));
  ng_run_close(r);

  char what[256];
  NG_CHECK(ng_run_config_diff(CFG_A, "a", CFG_A, "b", NULL, what, sizeof what) == 0);
  NG_CHECK(ng_run_config_diff(CFG_A, "a", CFG_B, "b", NULL, what, sizeof what) == 1);
  NG_CHECK(!strcmp(what, "env = Pendulum-v1 in a, CartPole-v1 in b"));
  NG_CHECK(ng_run_config_diff("x = \n", "a", "x = 1\n", "b", NULL, what, sizeof what) == 1);
  NG_CHECK(ng_run_config_diff("# c\nx = 1\n", "a", "x = 1\n", "b", NULL, what, sizeof what) == 0);
  /* a double as config.ini wrote it before (%.17g) is the same value; a seed past 2^53 is
   * not the neighbour its double would round to */
  NG_CHECK(ng_run_config_diff("g = 0.99\nk = 1e+16\n", "a", "g = 0.98999999999999999\n"
                              "k = 10000000000000000\n", "b", NULL, what, sizeof what) == 0);
  NG_CHECK(ng_run_config_diff("g = 0.99\n", "a", "g = 0.98\n", "b", NULL, what, sizeof what) == 1);
  NG_CHECK(ng_run_config_diff("s = 9007199254740993\n", "a", "s = 9007199254740992\n", "b", NULL,
                              what, sizeof what) == 1);
}

static void test_log(void) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/log", root);
  ng_run_t *r;
  ng_error_t err;
  fake_t f = {.config = CFG_A};
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_CREATE, 0, &err));
  NG_CHECK_OK(ng_run_log_open(r, HEADER, -1, &err));
  for (int i = 1; i <= 5; i++) {
    char row[64];
    snprintf(row, sizeof row, "%d,%d,%s", i, 100 * i, i == 2 ? "nan" : "1.5");
    NG_CHECK_OK(ng_run_log_append(r, row, &err));
  }
  NG_CHECK_OK(ng_run_save_checkpoint(r, fake_save, &f, &err));
  ng_run_close(r);

  char path[512];
  path_in(path, sizeof path, dir, NG_RUN_LOG);
  ng_run_log_t log;
  NG_CHECK_OK(ng_run_log_read(path, HEADER, &log, &err));
  NG_CHECK(log.n_rows == 5 && log.n_cols == 3);
  NG_CHECK(log.values[3 * 4 + 1] == 500 && log.values[3 * 1 + 2] != log.values[3 * 1 + 2]);
  ng_run_log_free(&log);
  NG_CHECK(ng_run_log_column(HEADER, "mean_return") == 2 && ng_run_log_column(HEADER, "x") == -1);

  /* resume at 3: rows 4, 5 and a torn line go */
  write_text(dir, NG_RUN_LOG, "iteration,env_steps,mean_return\n1,100,1\n2,200,2\n3,300,3\n"
                              "4,400,4\n5,500,5\n6,6");
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_RESUME, 0, &err));
  NG_CHECK_OK(ng_run_log_open(r, HEADER, 3, &err));
  NG_CHECK_OK(ng_run_log_append(r, "4,401,4.5", &err));
  ng_run_close(r);
  NG_CHECK(!strcmp(read_text(dir, NG_RUN_LOG),
                   "iteration,env_steps,mean_return\n1,100,1\n2,200,2\n3,300,3\n4,401,4.5\n"));

  /* a damaged row in the middle is refused, and the log is left as it was */
  static const char damaged[] = "iteration,env_steps,mean_return\n1,100,1\n2,2#0,\n3,300,3\n";
  write_text(dir, NG_RUN_LOG, damaged);
  NG_CHECK_OK(ng_run_open(&r, dir, NG_RUN_RESUME, 0, &err));
  NG_CHECK_STATUS(ng_run_log_open(r, HEADER, 3, &err), NG_EFORMAT);
  NG_CHECK(strstr(err.message, "progress.csv:3: malformed row") != NULL);
  NG_CHECK(!strcmp(read_text(dir, NG_RUN_LOG), damaged));
  /* so is a row out of sequence (another run's rows mixed in) and a foreign header */
  write_text(dir, NG_RUN_LOG, "iteration,env_steps,mean_return\n1,100,1\n2,200,2\n1,100,1\n");
  NG_CHECK_STATUS(ng_run_log_open(r, HEADER, 3, &err), NG_EFORMAT);
  NG_CHECK(strstr(err.message, "progress.csv:4: row '1' is out of sequence") != NULL);
  write_text(dir, NG_RUN_LOG, "epoch,loss\n0,1\n");
  NG_CHECK_STATUS(ng_run_log_open(r, HEADER, 3, &err), NG_EFORMAT);
  ng_run_close(r);

  NG_CHECK_STATUS(ng_run_log_parse("x\n", 2, HEADER, "mem", &log, &err), NG_EFORMAT);
  static const char nul[] = "iteration,env_steps,mean_return\n1,1\0000,1\n";
  NG_CHECK_STATUS(ng_run_log_parse(nul, sizeof nul - 1, HEADER, "mem", &log, &err), NG_EFORMAT);
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/ng_test_run_%ld", (long)getpid());
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  if (system(cmd) != 0) return 1;
  mkdir(root, 0777);
  NG_TEST_RUN(test_create_resume_and_force);
  NG_TEST_RUN(test_lock);
  NG_TEST_RUN(test_failed_setup_leaves_nothing);
  NG_TEST_RUN(test_identity_and_fallback);
  NG_TEST_RUN(test_log);
  if (system(cmd) != 0) return 1;
  NG_TEST_END();
}
