/* The checkpoint loader trusts no byte it has not checked. Files are forged from a real
 * checkpoint with a correct CRC-32 (so that the checksum does not catch them) and each
 * must be refused with NG_EFORMAT and a message naming what is wrong: a NUL byte or a bad
 * value in the config text, sizes that disagree with the body's length or with the config,
 * non-finite parameters or statistics, negative counters, a degenerate random state, a bad
 * flag, an episode past its time limit, a non-zero reserved header word, a damaged version
 * field (only a plausible newer version vouched for by the header's own CRC-32 is "newer
 * than this build"). A size the file
 * cannot back is refused before anything is allocated for it. Loading from memory and from
 * a file agree, and so do a saved, loaded and saved-again trainer's bytes.
 *
 * With MuJoCo: a Hopper-v5 run resumed from a checkpoint is the uninterrupted run, bit for
 * bit (the environments' states hold the solver's warm start), and a checkpoint written
 * before they did (states of qpos and qvel, the env's state_min_size) still loads and
 * resumes as it used to. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ng_test.h"
#include "rl/rl_impl.h"

#define HDR 32

/* room for a checkpoint of Hopper's default (its 256,256 critic and Adam moments: 1.7 MB) */
#define CKPT_CAP (4u << 20)
static unsigned char g_file[CKPT_CAP], g_mod[CKPT_CAP];
static size_t g_len;
static size_t g_clen; /* config text length */
static ng_rl_t *g_t;  /* the trainer the file was saved from */

/* body offsets of the fields, from the layout in src/rl/checkpoint.c */
static size_t off_sizes(void) { return HDR + 8 + g_clen; }
static size_t off_counters(void) { return off_sizes() + 8 * 8; }
static size_t off_theta(void) { return off_counters() + 3 * 8; }
static size_t off_adam_v(void) { return off_theta() + 8 * (g_t->n_pol + 2 * g_t->n_vf); }
static size_t off_obs_rms(void) { return off_adam_v() + 8 * g_t->n_vf + 8; }
static size_t off_rng(void) { return off_obs_rms() + 8 * (1 + 2 * g_t->obs_dim) + 8 * 3; }
static size_t off_env(size_t e) {
  size_t per = 2 * 48 + 8 * 4 /* CartPole state */ + 3 * 8 + 16 * g_t->obs_dim;
  return off_rng() + 48 + e * per;
}

static void fix_crc(unsigned char *f, size_t len) {
  uint64_t body = len - HDR;
  uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), f + HDR, (uInt)body);
  memcpy(f + 16, &body, 8);
  memcpy(f + 24, &crc, 4);
}

/* Loads g_mod[0..len) from memory; must fail with status and a message containing what. */
static void expect_refused(size_t len, int status, const char *what) {
  ng_rl_t *t = (ng_rl_t *)g_file;
  ng_error_t err;
  int s = ng_rl_load_mem(&t, g_mod, len, &err);
  NG_CHECK_STATUS(s, status);
  NG_CHECK(t == NULL);
  if (!strstr(err.message, what)) {
    ng_test_failures++;
    fprintf(stderr, "expected '%s' in: %s\n", what, err.message);
  }
}

static void put_u64(size_t off, uint64_t x) { memcpy(g_mod + off, &x, 8); }
static void put_f64(size_t off, double x) { memcpy(g_mod + off, &x, 8); }

static void forge_u64(size_t off, uint64_t x, const char *what) {
  memcpy(g_mod, g_file, g_len);
  put_u64(off, x);
  fix_crc(g_mod, g_len);
  expect_refused(g_len, NG_EFORMAT, what);
}
static void forge_f64(size_t off, double x, const char *what) {
  memcpy(g_mod, g_file, g_len);
  put_f64(off, x);
  fix_crc(g_mod, g_len);
  expect_refused(g_len, NG_EFORMAT, what);
}

static void setup(void) {
  ng_rl_config_t c;
  ng_error_t err;
  if (ng_rl_config_default(&c, "CartPole-v1", &err)) exit(1);
  c.n_envs = 2;
  c.n_steps = 32;
  c.vf_minibatch = 16;
  c.normalize_obs = 1;
  if (ng_rl_create(&g_t, &c, &err)) exit(1);
  ng_rl_stats_t st;
  if (ng_rl_iterate(g_t, &st, &err)) exit(1);
  char path[64];
  snprintf(path, sizeof path, "test_checkpoint_%d.ngc", (int)getpid());
  if (ng_rl_save(g_t, path, &err)) exit(1);
  FILE *f = fopen(path, "rb");
  g_len = f ? fread(g_file, 1, sizeof g_file, f) : 0;
  if (f) fclose(f);
  remove(path);
  memcpy(&g_clen, g_file + HDR, 8);
  if (g_len < 1000) exit(1);
}

static void test_intact(void) {
  ng_rl_t *a = NULL, *b = NULL;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_load_mem(&a, g_file, g_len, &err));
  /* loaded, saved again: the same bytes */
  char path[64];
  snprintf(path, sizeof path, "test_checkpoint_%d_b.ngc", (int)getpid());
  NG_CHECK_OK(ng_rl_save(a, path, &err));
  static unsigned char again[CKPT_CAP];
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(again, 1, sizeof again, f) : 0;
  if (f) fclose(f);
  NG_CHECK(n == g_len && memcmp(again, g_file, g_len) == 0);
  NG_CHECK_OK(ng_rl_load(&b, path, &err));
  NG_CHECK(b && ng_rl_iteration(b) == 1 && memcmp(b->theta, g_t->theta, g_t->n_pol * 8) == 0);
  remove(path);
  ng_rl_destroy(b);
  /* a folder is not a checkpoint */
  NG_CHECK_STATUS(ng_rl_load(&b, ".", &err), NG_EIO);
  NG_CHECK(b == NULL && strstr(err.message, "is a folder") != NULL);
  /* nor a FIFO (opening it for reading would block until a writer came) */
  char fifo[64];
  snprintf(fifo, sizeof fifo, "test_checkpoint_%d.fifo", (int)getpid());
  if (mkfifo(fifo, 0600) == 0) {
    NG_CHECK_STATUS(ng_rl_load(&b, fifo, &err), NG_EIO);
    NG_CHECK(b == NULL && strstr(err.message, "not a regular file") != NULL);
    remove(fifo);
  }
  NG_CHECK_STATUS(ng_rl_load_mem(&b, NULL, 0, &err), NG_EFORMAT);
  NG_CHECK_STATUS(ng_rl_load_mem(NULL, g_file, g_len, &err), NG_EINVAL);
  ng_rl_destroy(a);
}

static void test_header(void) {
  memcpy(g_mod, g_file, g_len);
  g_mod[30] = 1; /* the reserved word */
  expect_refused(g_len, NG_EFORMAT, "reserved word");
  memcpy(g_mod, g_file, g_len);
  g_mod[12] ^= 0xff; /* byte-order mark */
  expect_refused(g_len, NG_EFORMAT, "byte-order mark");
  memcpy(g_mod, g_file, g_len);
  expect_refused(g_len - 1, NG_EFORMAT, "truncated");
  expect_refused(20, NG_EFORMAT, "truncated header");
  expect_refused(3, NG_EFORMAT, "truncated");
  g_mod[g_len] = 0;
  expect_refused(g_len + 1, NG_EFORMAT, "unexpected bytes after the body");
}

/* g_mod = g_file with version v, and with the header's own CRC-32 at offset 28 if vouch
 * (what a genuinely newer format writes there; version 1 writes zero). */
static void forge_version(uint32_t v, int vouch) {
  memcpy(g_mod, g_file, g_len);
  memcpy(g_mod + 8, &v, 4);
  if (vouch) {
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), g_mod, 28);
    memcpy(g_mod + 28, &crc, 4);
  }
}

/* A damaged version field is damage (NG_EFORMAT, so that a caller falls back to an older
 * checkpoint); only a plausible newer version whose header checksum matches is "newer than
 * this build" (NG_EUNSUPPORTED, no fallback). */
static void test_version_field(void) {
  /* every single-bit flip of the version (1 -> 0, 3, 5, 9, 17, ..., 2^31 + 1) */
  for (int bit = 0; bit < 32; bit++) {
    forge_version(1u ^ (1u << bit), 0);
    expect_refused(g_len, NG_EFORMAT, "corrupted header: format version");
  }
  /* the case of the report: 17 read as "newer than this build" blocked the fallback */
  forge_version(17, 0);
  expect_refused(g_len, NG_EFORMAT, "corrupted header: format version 17 without the header "
                                    "checksum a newer format carries");
  forge_version(33, 0);
  expect_refused(g_len, NG_EFORMAT, "format version 33 is neither this build's (1) nor a "
                                    "plausible newer one (2 to 17)");
  forge_version(0, 1);
  expect_refused(g_len, NG_EFORMAT, "corrupted header: format version 0");
  /* genuinely newer: named as such, whatever follows the header (a later format may lay
   * out its body differently, so the body is not looked at) */
  forge_version(2, 1);
  expect_refused(g_len, NG_EUNSUPPORTED, "format version 2 is newer than this build reads (1)");
  forge_version(17, 1);
  expect_refused(g_len, NG_EUNSUPPORTED, "format version 17 is newer");
  expect_refused(32, NG_EUNSUPPORTED, "format version 17 is newer");
  g_mod[40] ^= 1; /* the body's CRC is not this version's business */
  expect_refused(g_len, NG_EUNSUPPORTED, "format version 17 is newer");
  /* but beyond the bound, a cut header, or a header with any other byte flipped is damage */
  forge_version(18, 1);
  expect_refused(g_len, NG_EFORMAT, "nor a plausible newer one");
  forge_version(2, 1);
  expect_refused(20, NG_EFORMAT, "truncated header (20 bytes, format version 2)");
  for (int byte = 0; byte < 28; byte++) {
    if (byte >= 8 && byte < 12) continue; /* the version itself: above */
    forge_version(2, 1);
    g_mod[byte] ^= 0x10;
    expect_refused(g_len, NG_EFORMAT, byte < 8 ? "bad magic" : "without the header checksum");
  }
  /* the same verdicts through a file */
  char path[64];
  snprintf(path, sizeof path, "test_checkpoint_%d_v.ngc", (int)getpid());
  const uint32_t versions[2] = {17, 2};
  const int statuses[2] = {NG_EFORMAT, NG_EUNSUPPORTED};
  for (int k = 0; k < 2; k++) {
    forge_version(versions[k], k);
    FILE *f = fopen(path, "wb");
    NG_CHECK(f && fwrite(g_mod, 1, g_len, f) == g_len);
    if (f) fclose(f);
    ng_rl_t *t = (ng_rl_t *)g_file;
    ng_error_t err;
    NG_CHECK_STATUS(ng_rl_load(&t, path, &err), statuses[k]);
    NG_CHECK(t == NULL && strstr(err.message, path) != NULL);
  }
  remove(path);
}

static void test_config_text(void) {
  /* a NUL inside the text would hide the rest of it from the parser */
  memcpy(g_mod, g_file, g_len);
  g_mod[HDR + 8 + 5] = '\0';
  fix_crc(g_mod, g_len);
  expect_refused(g_len, NG_EFORMAT, "NUL byte");
  /* a value out of range: "gamma = 0.99..." becomes "gamma = 9.99..." */
  memcpy(g_mod, g_file, g_len);
  char *text = (char *)g_mod + HDR + 8;
  char *gamma = strstr(text, "\ngamma = 0.");
  NG_CHECK(gamma != NULL && gamma < text + g_clen);
  if (gamma) gamma[9] = '9';
  fix_crc(g_mod, g_len);
  expect_refused(g_len, NG_EFORMAT, "bad config: ");
  /* an unknown key */
  memcpy(g_mod, g_file, g_len);
  text = (char *)g_mod + HDR + 8;
  NG_CHECK(memcmp(text, "env = ", 6) == 0);
  memcpy(text, "vne", 3); /* "env = ..." -> "vne = ..." */
  fix_crc(g_mod, g_len);
  expect_refused(g_len, NG_EFORMAT, "unknown key");
  /* a config length that runs past the body */
  forge_u64(HDR, g_len, "bad config length");
}

/* A forged size is refused before anything is allocated for it. */
static long g_allocs;
static void *c_malloc(size_t n) { g_allocs++; return malloc(n); }
static void *c_calloc(size_t c, size_t n) { g_allocs++; return calloc(c, n); }
static void *c_realloc(void *p, size_t n) { g_allocs++; return realloc(p, n); }

static void test_sizes(void) {
  const uint64_t huge = (uint64_t)1 << 40;
  NG_CHECK_OK(ng_set_allocator(c_malloc, c_calloc, c_realloc, free));
  for (int i = 0; i < 8; i++) {
    g_allocs = 0;
    /* n_steps, the action and distribution sizes do not change the body's length: they
     * are checked against the config instead, still before the trainer is built */
    int in_length = i != 1 && i != 3 && i != 4;
    forge_u64(off_sizes() + 8 * (size_t)i, huge,
              in_length ? "but its sizes need" : "1099511627776 in the file but");
    NG_CHECK(g_allocs <= 1); /* the config text's copy; never the trainer */
  }
  NG_CHECK_OK(ng_set_allocator(NULL, NULL, NULL, NULL));
  /* sizes that overflow when multiplied out */
  memcpy(g_mod, g_file, g_len);
  put_u64(off_sizes() + 0, UINT64_MAX / 3);
  put_u64(off_sizes() + 16, UINT64_MAX / 5);
  fix_crc(g_mod, g_len);
  expect_refused(g_len, NG_EFORMAT, "but its sizes need");
  /* consistent with the body length but not with the config: swap policy and value sizes
   * is caught by the trainer the config builds */
  memcpy(g_mod, g_file, g_len);
  uint64_t n_envs;
  memcpy(&n_envs, g_mod + off_sizes(), 8);
  NG_CHECK(n_envs == 2);
  /* n_steps 32 -> 33: the body length does not depend on it, the config does */
  forge_u64(off_sizes() + 8, 33, "n_steps is 33 in the file but 32 for its config");
}

static void test_values(void) {
  forge_f64(off_theta() + 8 * 17, NAN, "non-finite policy parameters");
  forge_f64(off_theta() + 8 * g_t->n_pol, INFINITY, "non-finite value-function parameters");
  forge_f64(off_adam_v() + 8, -1.0, "negative optimiser second moment");
  forge_u64(off_counters(), (uint64_t)-5, "negative iteration or step counter");
  forge_u64(off_counters() + 8, (uint64_t)-1, "negative iteration or step counter");
  forge_u64(off_counters() + 16, 7, "'started' flag");
  forge_u64(off_obs_rms() - 8, (uint64_t)-1, "negative optimiser step count");
  forge_f64(off_obs_rms(), 0.0, "normaliser statistics");
  forge_f64(off_obs_rms() + 8 * (1 + g_t->obs_dim), -0.5, "normaliser statistics");
  forge_f64(off_obs_rms() + 8, NAN, "normaliser statistics");
  /* the trainer's random state all zero, or with has_spare not 0/1 */
  memcpy(g_mod, g_file, g_len);
  memset(g_mod + off_rng(), 0, 32);
  fix_crc(g_mod, g_len);
  expect_refused(g_len, NG_EFORMAT, "invalid trainer random state");
  forge_u64(off_rng() + 40, 2, "invalid trainer random state");
  /* env 1: its action stream, its state, its episode */
  forge_u64(off_env(1) + 40, 3, "invalid environment random state");
  forge_f64(off_env(1) + 96 + 8, NAN, "non-finite environment state");
  forge_u64(off_env(1) + 96 + 32, 500, "episode length outside [0, time limit)");
  forge_u64(off_env(1) + 96 + 32, (uint64_t)-1, "episode length outside [0, time limit)");
  forge_f64(off_env(1) + 96 + 40, INFINITY, "non-finite episode return");
  forge_f64(off_env(0) + 96 + 56 + 8 * 3, NAN, "non-finite observation");
  /* the untouched file still loads: the offsets above hit what they meant to */
  memcpy(g_mod, g_file, g_len);
  fix_crc(g_mod, g_len);
  ng_rl_t *t = NULL;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_load_mem(&t, g_mod, g_len, &err));
  NG_CHECK(t && t->ep_length[1] == g_t->ep_length[1] &&
           t->obs_raw[3] == g_t->obs_raw[3] && t->obs_rms.count == g_t->obs_rms.count);
  ng_rl_destroy(t);
}

#ifdef NG_HAVE_MUJOCO

static ng_rl_config_t hopper_config(void) {
  ng_rl_config_t c;
  ng_error_t err;
  NG_CHECK_OK(ng_rl_config_default(&c, "Hopper-v5", &err));
  c.n_envs = 4;
  c.n_steps = 64;
  c.vf_minibatch = 64;
  c.total_steps = 100000;
  return c;
}

static long save_bytes(const ng_rl_t *t, unsigned char *buf, size_t cap) {
  char path[64];
  ng_error_t err;
  snprintf(path, sizeof path, "test_checkpoint_%d_mj.ngc", (int)getpid());
  NG_CHECK_OK(ng_rl_save(t, path, &err));
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, cap, f) : 0;
  NG_CHECK(f && n < cap); /* the whole file, not its first cap bytes */
  if (f) fclose(f);
  remove(path);
  return (long)n;
}

/* Two iterations straight, or one, a save, a load and one more: the same checkpoint. */
static void test_resume_mujoco(void) {
  ng_rl_config_t c = hopper_config();
  ng_error_t err;
  ng_rl_stats_t st;
  ng_rl_t *a = NULL, *b = NULL, *r = NULL;
  NG_CHECK_OK(ng_rl_create(&a, &c, &err));
  NG_CHECK_OK(ng_rl_create(&b, &c, &err));
  if (!a || !b) goto done;
  for (int i = 0; i < 2; i++) NG_CHECK_OK(ng_rl_iterate(a, &st, &err));
  NG_CHECK_OK(ng_rl_iterate(b, &st, &err));
  long n = save_bytes(b, g_mod, sizeof g_mod);
  NG_CHECK_OK(ng_rl_load_mem(&r, g_mod, (size_t)n, &err));
  if (!r) goto done;
  NG_CHECK_OK(ng_rl_iterate(r, &st, &err));
  static unsigned char straight[CKPT_CAP];
  long ns = save_bytes(a, straight, sizeof straight), nr = save_bytes(r, g_mod, sizeof g_mod);
  NG_CHECK(ns > HDR && ns == nr && memcmp(straight, g_mod, (size_t)ns) == 0);
done:
  ng_rl_destroy(a);
  ng_rl_destroy(b);
  ng_rl_destroy(r);
}

/* Hopper-v5 as natgrad's environments were before their states held the warm start: the
 * built-in Hopper behind a definition whose state is the first g_old_size values of its
 * own (qpos and qvel for 12) and whose set_state takes those with zeros after them (qpos
 * and qvel alone: Gymnasium's set_state, what set_state did then). A trainer on it saves
 * the checkpoint an earlier natgrad saved. */
static size_t g_old_size;
static int old_create(void **self, const ng_env_def_t *def, ng_error_t *err) {
  (void)def;
  return ng_env_create((ng_env_t **)self, "Hopper-v5", err);
}
static void old_destroy(void *self) { ng_env_destroy(self); }
/* the inner env draws from the outer stream */
static int old_reset(void *self, ng_rng_t *rng, double *obs) {
  *ng_env_rng(self) = *rng;
  int s = ng_env_reset(self, obs);
  *rng = *ng_env_rng(self);
  return s;
}
static int old_step(void *self, ng_rng_t *rng, const double *a, double *obs, double *reward,
                    int *terminated) {
  int truncated;
  (void)rng;
  return ng_env_step(self, a, obs, reward, terminated, &truncated);
}
static int old_get(const void *self, double *state) {
  double full[64];
  int s = ng_env_get_state(self, full);
  memcpy(state, full, g_old_size * sizeof *state);
  return s;
}
static int old_set(void *self, const double *state, double *obs) {
  double full[64] = {0}, o[16];
  memcpy(full, state, g_old_size * sizeof *state);
  return ng_env_set_state(self, full, obs ? obs : o);
}
static ng_env_def_t old_hopper(size_t state_size) {
  g_old_size = state_size;
  ng_env_def_t d = {.info = *ng_env_find("Hopper-v5"), .create = old_create,
                    .destroy = old_destroy, .reset = old_reset, .step = old_step,
                    .get_state = old_get, .set_state = old_set};
  d.info.state_size = state_size;
  d.info.state_min_size = 0;
  d.info.state_doc = "rootx,rootz,rooty,thigh,leg,foot,rootx_dot,rootz_dot,rooty_dot,"
                     "thigh_dot,leg_dot,foot_dot";
  return d;
}

/* An old checkpoint (state_size 12, Hopper's state_min_size) loads: every env continues
 * from its qpos and qvel, the solver starting afresh, which is how the earlier natgrad
 * resumed it; a state size that is neither the env's nor its short form is refused. */
static void test_old_state_layout(void) {
  ng_rl_config_t c = hopper_config();
  ng_error_t err;
  ng_rl_stats_t st;
  ng_env_def_t old = old_hopper(12);
  ng_rl_t *w = NULL, *t = NULL, *o = NULL;
  NG_CHECK(ng_env_find("Hopper-v5")->state_min_size == 12);
  NG_CHECK_OK(ng_rl_create_with_env(&w, &c, &old, &err));
  if (!w) return;
  NG_CHECK_OK(ng_rl_iterate(w, &st, &err));
  long n = save_bytes(w, g_mod, sizeof g_mod);
  size_t clen;
  uint64_t fss;
  memcpy(&clen, g_mod + HDR, 8);
  memcpy(&fss, g_mod + HDR + 8 + clen + 7 * 8, 8);
  NG_CHECK(n > HDR && fss == 12);
  NG_CHECK_OK(ng_rl_load_mem(&t, g_mod, (size_t)n, &err));
  NG_CHECK_OK(ng_rl_load_mem_with_env(&o, g_mod, (size_t)n, &old, &err));
  if (!t || !o) goto done;
  NG_CHECK(ng_rl_iteration(t) == 1 && ng_rl_env_steps(t) == ng_rl_env_steps(w));
  for (size_t e = 0; e < t->n_envs; e++) {
    double was[64], is[64];
    NG_CHECK_OK(ng_env_get_state(w->envs[e], was));
    NG_CHECK_OK(ng_env_get_state(t->envs[e], is));
    NG_CHECK(memcmp(was, is, 12 * sizeof *was) == 0 && is[12] == 1.0);
  }
  /* the next iteration as the old environment would have run it */
  NG_CHECK_OK(ng_rl_iterate(t, &st, &err));
  NG_CHECK_OK(ng_rl_iterate(o, &st, &err));
  NG_CHECK(memcmp(t->theta, o->theta, t->n_pol * sizeof *t->theta) == 0);
  NG_CHECK(memcmp(t->vtheta, o->vtheta, t->n_vf * sizeof *t->vtheta) == 0);
  /* a state of 13 values is neither Hopper's 19 nor its 12 */
  ng_rl_destroy(w);
  w = NULL;
  old = old_hopper(13);
  NG_CHECK_OK(ng_rl_create_with_env(&w, &c, &old, &err));
  if (!w) goto done;
  NG_CHECK_OK(ng_rl_iterate(w, &st, &err));
  n = save_bytes(w, g_mod, sizeof g_mod);
  expect_refused((size_t)n, NG_EFORMAT, "env state size is 13 in the file but 19");
done:
  ng_rl_destroy(w);
  ng_rl_destroy(t);
  ng_rl_destroy(o);
}

#endif

int main(void) {
  setup();
  NG_TEST_RUN(test_intact);
  NG_TEST_RUN(test_header);
  NG_TEST_RUN(test_version_field);
  NG_TEST_RUN(test_config_text);
  NG_TEST_RUN(test_sizes);
  NG_TEST_RUN(test_values);
#ifdef NG_HAVE_MUJOCO
  NG_TEST_RUN(test_resume_mujoco);
  NG_TEST_RUN(test_old_state_layout);
#else
  printf("MuJoCo checkpoints skipped: built without MuJoCo\n");
#endif
  ng_rl_destroy(g_t);
  NG_TEST_END();
}
