/* Checkpoints: everything a run needs to continue bit for bit, in one binary file.
 *
 * Layout (little-endian, as in memory on the hosts natgrad supports):
 *   header, 32 bytes: magic "NGCKPT01" | u32 format version | u32 byte-order mark 0x01020304
 *                     | u64 body size | u32 CRC-32 of the body (zlib's crc32) | u32 zero
 *   body: u64 length + config text (ng_rl_config_format)
 *         u64 sizes: n_envs, n_steps, obs_dim, act_size, n_dist, n_pol, n_vf, state_size
 *         i64 iteration, env_steps; i64 started
 *         f64 policy theta[n_pol], value theta[n_vf], Adam m[n_vf], v[n_vf]; i64 Adam t
 *         normalisers: f64 count, mean[d], var[d] for observations (d = obs_dim), returns (1)
 *         trainer rng
 *         per env: action rng, env rng, f64 state[state_size], i64 episode length,
 *                  f64 episode return, f64 discounted return, f64 raw obs[obs_dim],
 *                  f64 normalised obs[obs_dim]
 *   an rng is u64 s[4], f64 spare normal, i64 has_spare.
 * The file is written to path.tmp, flushed, fsync'ed and renamed over path, so a crash
 * leaves either the old or the new checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "rl/rl_impl.h"

#define NG_CKPT_MAGIC "NGCKPT01"
#define NG_CKPT_VERSION 1u
#define NG_CKPT_BOM 0x01020304u
#define NG_CKPT_HEADER 32u

/* ---- writer ---- */

typedef struct {
  unsigned char *buf;
  size_t len, cap;
  int oom;
} ng__w_t;

static void ng__w_bytes(ng__w_t *w, const void *p, size_t n) {
  if (w->oom) return;
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + n) cap *= 2;
    unsigned char *nb = ng_realloc(w->buf, cap);
    if (!nb) {
      w->oom = 1;
      return;
    }
    w->buf = nb;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, p, n);
  w->len += n;
}
static void ng__w_u64(ng__w_t *w, uint64_t x) { ng__w_bytes(w, &x, sizeof x); }
static void ng__w_i64(ng__w_t *w, int64_t x) { ng__w_bytes(w, &x, sizeof x); }
static void ng__w_f64s(ng__w_t *w, const double *x, size_t n) {
  ng__w_bytes(w, x, n * sizeof *x);
}
static void ng__w_rng(ng__w_t *w, const ng_rng_t *r) {
  for (int i = 0; i < 4; i++) ng__w_u64(w, r->s[i]);
  ng__w_f64s(w, &r->spare_normal, 1);
  ng__w_i64(w, r->has_spare);
}

/* ---- reader: every read is bounds-checked; a short body sets bad ---- */

typedef struct {
  const unsigned char *p;
  size_t len, pos;
  int bad;
} ng__r_t;

static void ng__r_bytes(ng__r_t *r, void *out, size_t n) {
  if (r->bad || n > r->len - r->pos) {
    r->bad = 1;
    memset(out, 0, n);
    return;
  }
  memcpy(out, r->p + r->pos, n);
  r->pos += n;
}
static uint64_t ng__r_u64(ng__r_t *r) {
  uint64_t x;
  ng__r_bytes(r, &x, sizeof x);
  return x;
}
static int64_t ng__r_i64(ng__r_t *r) {
  int64_t x;
  ng__r_bytes(r, &x, sizeof x);
  return x;
}
static void ng__r_f64s(ng__r_t *r, double *x, size_t n) { ng__r_bytes(r, x, n * sizeof *x); }
static void ng__r_rng(ng__r_t *r, ng_rng_t *g) {
  for (int i = 0; i < 4; i++) g->s[i] = ng__r_u64(r);
  ng__r_f64s(r, &g->spare_normal, 1);
  g->has_spare = ng__r_i64(r) != 0;
}

static int ng__little_endian(void) {
  uint32_t x = 1;
  unsigned char c;
  memcpy(&c, &x, 1);
  return c == 1;
}

static size_t ng__state_size(const ng_rl_t *t) {
  const ng_env_info_t *info = ng_env_info(t->envs[0]);
  return info ? info->state_size : 0;
}

/* ---- save ---- */

int ng_rl_save(const ng_rl_t *t, const char *path, ng_error_t *err) {
  if (!t || !path) return ng_error_set(err, NG_EINVAL, "save: NULL argument");
  if (!ng__little_endian())
    return ng_error_set(err, NG_EUNSUPPORTED, "save: checkpoints need a little-endian host");
  const size_t E = t->n_envs, od = t->obs_dim, ss = ng__state_size(t);
  ng__w_t w = {NULL, 0, 0, 0};
  double *state = ng_calloc(ss ? ss : 1, sizeof *state);
  char *tmp = ng_malloc(strlen(path) + 5);
  size_t clen = ng_rl_config_format(&t->cfg, NULL, 0);
  char *ctext = ng_malloc(clen + 1);
  int s = NG_OK;
  if (!state || !tmp || !ctext) {
    s = ng_error_set(err, NG_ENOMEM, "save: out of memory");
    goto done;
  }
  ng_rl_config_format(&t->cfg, ctext, clen + 1);

  ng__w_u64(&w, clen);
  ng__w_bytes(&w, ctext, clen);
  const uint64_t sizes[8] = {E, t->n_steps, od, t->act_size, t->n_dist, t->n_pol, t->n_vf, ss};
  for (int i = 0; i < 8; i++) ng__w_u64(&w, sizes[i]);
  ng__w_i64(&w, t->iteration);
  ng__w_i64(&w, t->env_steps);
  ng__w_i64(&w, t->started);
  ng__w_f64s(&w, t->theta, t->n_pol);
  ng__w_f64s(&w, t->vtheta, t->n_vf);
  ng__w_f64s(&w, t->adam.m, t->n_vf);
  ng__w_f64s(&w, t->adam.v, t->n_vf);
  ng__w_i64(&w, t->adam.t);
  const ng__rms_t *rms[2] = {&t->obs_rms, &t->ret_rms};
  for (int k = 0; k < 2; k++) {
    ng__w_f64s(&w, &rms[k]->count, 1);
    ng__w_f64s(&w, rms[k]->mean, rms[k]->dim);
    ng__w_f64s(&w, rms[k]->var, rms[k]->dim);
  }
  ng__w_rng(&w, &t->rng);
  for (size_t e = 0; e < E; e++) {
    ng__w_rng(&w, &t->act_rng[e]);
    ng__w_rng(&w, ng_env_rng(t->envs[e]));
    if (ss && (s = ng_env_get_state(t->envs[e], state))) {
      ng_error_set(err, s, "save: reading env %zu's state failed (%s)", e, ng_strerror(s));
      goto done;
    }
    ng__w_f64s(&w, state, ss);
    ng__w_i64(&w, t->ep_length[e]);
    ng__w_f64s(&w, &t->ep_return[e], 1);
    ng__w_f64s(&w, &t->disc_return[e], 1);
    ng__w_f64s(&w, t->obs_raw + e * od, od);
    ng__w_f64s(&w, t->obs_norm + e * od, od);
  }
  if (w.oom) {
    s = ng_error_set(err, NG_ENOMEM, "save: out of memory");
    goto done;
  }

  unsigned char header[NG_CKPT_HEADER];
  memset(header, 0, sizeof header);
  memcpy(header, NG_CKPT_MAGIC, 8);
  uint32_t version = NG_CKPT_VERSION, bom = NG_CKPT_BOM;
  uint64_t body = w.len;
  uint32_t crc = (uint32_t)crc32(0L, w.buf, (uInt)0);
  /* zlib's crc32 takes uInt lengths: feed large bodies in pieces */
  for (size_t off = 0; off < w.len;) {
    size_t n = w.len - off > 0x40000000u ? 0x40000000u : w.len - off;
    crc = (uint32_t)crc32(crc, w.buf + off, (uInt)n);
    off += n;
  }
  memcpy(header + 8, &version, 4);
  memcpy(header + 12, &bom, 4);
  memcpy(header + 16, &body, 8);
  memcpy(header + 24, &crc, 4);

  sprintf(tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    s = ng_error_set(err, NG_EIO, "save: cannot open %s for writing", tmp);
    goto done;
  }
  int ok = fwrite(header, 1, sizeof header, f) == sizeof header &&
           fwrite(w.buf, 1, w.len, f) == w.len && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    s = ng_error_set(err, NG_EIO, "save: writing %s failed", path);
    goto done;
  }
  ng_error_clear(err);
done:
  ng_free(w.buf);
  ng_free(state);
  ng_free(tmp);
  ng_free(ctext);
  return s;
}

/* ---- load ---- */

static int ng__read_file(const char *path, unsigned char **out, size_t *len, ng_error_t *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return ng_error_set(err, NG_EIO, "load: cannot open %s", path);
  unsigned char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 65536;
      unsigned char *nb = ng_realloc(buf, nc);
      if (!nb) {
        ng_free(buf);
        fclose(f);
        return ng_error_set(err, NG_ENOMEM, "load: out of memory reading %s", path);
      }
      buf = nb;
      cap = nc;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    ng_free(buf);
    return ng_error_set(err, NG_EIO, "load: error reading %s", path);
  }
  *out = buf;
  *len = n;
  return NG_OK;
}

static int ng__load_body(ng_rl_t **out, ng__r_t *r, const char *path, ng_error_t *err) {
  uint64_t clen = ng__r_u64(r);
  if (r->bad || clen > r->len - r->pos || clen > (1u << 20))
    return ng_error_set(err, NG_EFORMAT, "load: %s: bad config length", path);
  char *ctext = ng_malloc((size_t)clen + 1);
  if (!ctext) return ng_error_set(err, NG_ENOMEM, "load: out of memory");
  ng__r_bytes(r, ctext, (size_t)clen);
  ctext[clen] = '\0';
  ng_rl_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  int s = ng__rl_config_parse(&cfg, ctext, err);
  ng_free(ctext);
  if (s) {
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "%s", err ? err->message : "");
    return ng_error_set(err, NG_EFORMAT, "load: %s: bad config: %s", path, msg);
  }
  ng_rl_t *t;
  s = ng_rl_create(&t, &cfg, err);
  if (s) return s;

  const size_t E = t->n_envs, od = t->obs_dim, ss = ng__state_size(t);
  const uint64_t want[8] = {E, t->n_steps, od, t->act_size, t->n_dist, t->n_pol, t->n_vf, ss};
  static const char *names[8] = {"n_envs", "n_steps", "obs_dim", "action size",
                                 "distribution size", "policy parameters",
                                 "value parameters", "env state size"};
  for (int i = 0; i < 8; i++) {
    uint64_t got = ng__r_u64(r);
    if (r->bad || got != want[i]) {
      ng_rl_destroy(t);
      return ng_error_set(err, NG_EFORMAT, "load: %s: %s is %llu in the file but %llu for its "
                          "config", path, names[i], (unsigned long long)got,
                          (unsigned long long)want[i]);
    }
  }
  double *state = ng_calloc(ss ? ss : 1, sizeof *state);
  double *obs = ng_calloc(od, sizeof *obs);
  if (!state || !obs) {
    ng_free(state);
    ng_free(obs);
    ng_rl_destroy(t);
    return ng_error_set(err, NG_ENOMEM, "load: out of memory");
  }
  t->iteration = (long)ng__r_i64(r);
  t->env_steps = (long)ng__r_i64(r);
  t->started = ng__r_i64(r) != 0;
  ng__r_f64s(r, t->theta, t->n_pol);
  ng__r_f64s(r, t->vtheta, t->n_vf);
  ng__r_f64s(r, t->adam.m, t->n_vf);
  ng__r_f64s(r, t->adam.v, t->n_vf);
  t->adam.t = (long)ng__r_i64(r);
  ng__rms_t *rms[2] = {&t->obs_rms, &t->ret_rms};
  for (int k = 0; k < 2; k++) {
    ng__r_f64s(r, &rms[k]->count, 1);
    ng__r_f64s(r, rms[k]->mean, rms[k]->dim);
    ng__r_f64s(r, rms[k]->var, rms[k]->dim);
  }
  ng__r_rng(r, &t->rng);
  s = NG_OK;
  for (size_t e = 0; e < E && !r->bad && !s; e++) {
    ng_rng_t env_rng;
    ng__r_rng(r, &t->act_rng[e]);
    ng__r_rng(r, &env_rng);
    ng__r_f64s(r, state, ss);
    t->ep_length[e] = (long)ng__r_i64(r);
    ng__r_f64s(r, &t->ep_return[e], 1);
    ng__r_f64s(r, &t->disc_return[e], 1);
    ng__r_f64s(r, t->obs_raw + e * od, od);
    ng__r_f64s(r, t->obs_norm + e * od, od);
    if (r->bad) break;
    /* the env's own step counter restarts here; the trainer keeps the time limit */
    if (ss) s = ng_env_set_state(t->envs[e], state, obs);
    if (!s) *ng_env_rng(t->envs[e]) = env_rng;
  }
  ng_free(state);
  ng_free(obs);
  if (r->bad || r->pos != r->len) {
    ng_rl_destroy(t);
    return ng_error_set(err, NG_EFORMAT, "load: %s: body has the wrong length for its sizes",
                        path);
  }
  if (s) {
    ng_rl_destroy(t);
    return ng_error_set(err, NG_EFORMAT, "load: %s: an environment rejected its saved state "
                        "(%s)", path, ng_strerror(s));
  }
  *out = t;
  return NG_OK;
}

int ng_rl_load(ng_rl_t **out, const char *path, ng_error_t *err) {
  if (!out || !path) return ng_error_set(err, NG_EINVAL, "load: NULL argument");
  *out = NULL;
  if (!ng__little_endian())
    return ng_error_set(err, NG_EUNSUPPORTED, "load: checkpoints need a little-endian host");
  unsigned char *buf = NULL;
  size_t len = 0;
  int s = ng__read_file(path, &buf, &len, err);
  if (s) return s;
  if (len < 8 || memcmp(buf, NG_CKPT_MAGIC, 8) != 0) {
    int partial = len < 8 && memcmp(buf, NG_CKPT_MAGIC, len) == 0;
    ng_free(buf);
    return ng_error_set(err, NG_EFORMAT, partial ? "load: %s: truncated (%zu bytes)"
                                                 : "load: %s: not a natgrad checkpoint "
                                                   "(bad magic)", path, len);
  }
  if (len < NG_CKPT_HEADER) {
    ng_free(buf);
    return ng_error_set(err, NG_EFORMAT, "load: %s: truncated header (%zu bytes)", path, len);
  }
  uint32_t version, bom, crc;
  uint64_t body;
  memcpy(&version, buf + 8, 4);
  memcpy(&bom, buf + 12, 4);
  memcpy(&body, buf + 16, 8);
  memcpy(&crc, buf + 24, 4);
  if (bom != NG_CKPT_BOM) {
    ng_free(buf);
    return ng_error_set(err, NG_EFORMAT, "load: %s: bad byte-order mark (written on a host of "
                        "another byte order, or corrupted)", path);
  }
  if (version > NG_CKPT_VERSION) {
    ng_free(buf);
    return ng_error_set(err, NG_EUNSUPPORTED, "load: %s: format version %u is newer than this "
                        "build reads (%u)", path, version, NG_CKPT_VERSION);
  }
  if (version == 0) {
    ng_free(buf);
    return ng_error_set(err, NG_EFORMAT, "load: %s: bad format version 0", path);
  }
  if (body > len - NG_CKPT_HEADER) {
    ng_free(buf);
    return ng_error_set(err, NG_EFORMAT, "load: %s: truncated (body of %llu bytes, %zu "
                        "present)", path, (unsigned long long)body, len - NG_CKPT_HEADER);
  }
  if (body < len - NG_CKPT_HEADER) {
    ng_free(buf);
    return ng_error_set(err, NG_EFORMAT, "load: %s: %zu unexpected bytes after the body",
                        path, (size_t)(len - NG_CKPT_HEADER - body));
  }
  uint32_t got = (uint32_t)crc32(0L, buf, (uInt)0);
  for (size_t off = 0; off < body;) {
    size_t n = body - off > 0x40000000u ? 0x40000000u : (size_t)(body - off);
    got = (uint32_t)crc32(got, buf + NG_CKPT_HEADER + off, (uInt)n);
    off += n;
  }
  if (got != crc) {
    ng_free(buf);
    return ng_error_set(err, NG_EFORMAT, "load: %s: corrupted (CRC-32 %08x, header says %08x)",
                        path, got, crc);
  }
  ng__r_t r = {buf + NG_CKPT_HEADER, (size_t)body, 0, 0};
  s = ng__load_body(out, &r, path, err);
  ng_free(buf);
  if (!s) ng_error_clear(err);
  return s;
}
