/* Checkpoints: everything a run needs to continue bit for bit, in one binary file.
 *
 * Layout (little-endian whatever the host, through src/ckpt_io.h):
 *   header, 32 bytes: magic "NGCKPT01" | u32 format version | u32 byte-order mark 0x01020304
 *                     | u64 body size | u32 CRC-32 of the body (zlib's crc32) | u32 zero
 *   Version 1 (this one) writes the last word as zero. Every later version keeps the magic
 *   and the version where they are and writes there the CRC-32 of the header's first 28
 *   bytes instead (src/ckpt_io.h): a version above 1 is read as "newer than this build"
 *   (NG_EUNSUPPORTED) only when it is 2..17 and that checksum matches; any other version is
 *   a damaged header (NG_EFORMAT), so that a flipped bit does not block the fallback to an
 *   intact previous checkpoint.
 *   body: u64 length + config text (ng_rl_config_format)
 *         u64 sizes: n_envs, n_steps, obs_dim, act_size, n_dist, n_pol, n_vf, state_size
 *         i64 iteration, env_steps; i64 started
 *         f64 policy theta[n_pol], value theta[n_vf], Adam m[n_vf], v[n_vf]; i64 Adam t
 *         normalisers: f64 count, mean[d], var[d] for observations (d = obs_dim), returns (1)
 *         trainer rng
 *         per env: action rng, env rng, f64 state[state_size], i64 episode length,
 *                  f64 episode return, f64 discounted return, f64 raw obs[obs_dim],
 *                  f64 normalised obs[obs_dim]
 *         blocks > 1 only (blocks in the config): every block's rng, in block order
 *         ACKTR only (algo = acktr in the config): the policy's K-FAC state, then the value
 *         function's (src/kfac.c: update count, inverted flag, damping, per layer the sizes,
 *         running factors and inverses)
 *   an rng is u64 s[4], f64 spare normal, i64 has_spare.
 *   An environment without get/set state has state_size 0: loading resets each env from
 *   its restored stream instead of setting a state (fresh episodes), and so does loading
 *   with an environment of the caller's that has no state, or whose checkpoint has none
 *   (ng_rl_load_with_env: another implementation of the same environment).
 *   The file's state_size is the environment's info.state_size when it was written. A file
 *   whose state_size is the environment's info.state_min_size instead holds the short form
 *   of each state (natgrad/env.h), which loads padded with zeros: so do the MuJoCo
 *   checkpoints written before their states held the solver's warm start (qpos and qvel,
 *   nq + nv): they resume as they always did, the solver starting afresh, so the resumed
 *   run differs from the uninterrupted one in the last bits. Any other size is refused.
 *
 * Writing: ng__ckio_write_file (path.tmp, fflush, fsync, rename over path, fsync of the
 * folder): a crash at any instant leaves either the old or the new checkpoint at path,
 * never a torn one. A state that the loader would refuse (non-finite parameters after a
 * numerical fault, say) is never written, so a good checkpoint is never replaced by a bad
 * one.
 *
 * Reading trusts no byte before it has been checked: the magic, the version (judged as
 * above), the byte-order mark, the reserved word and the body size against the file's size
 * come first, then the CRC-32 of the body. Inside the body the config text is parsed and
 * validated, the eight sizes are checked against the body's length (before anything is
 * allocated for them) and
 * against the trainer the config builds, and every value is range-checked (finite
 * parameters and statistics, non-negative counters, non-degenerate random states) before
 * the trainer is handed out. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt_io.h"
#include "kfac_impl.h"
#include "rl/rl_impl.h"

#define NG_CKPT_MAGIC "NGCKPT01"
#define NG_CKPT_VERSION 1u
#define NG_CKPT_BOM 0x01020304u
#define NG_CKPT_HEADER NG__CKIO_HEADER
#define NG_CKPT_MAX_CONFIG (1u << 20) /* config text: a few hundred bytes in practice */
#define NG_CKPT_RNG_BYTES 48u          /* u64 s[4], f64 spare, i64 has_spare */

/* an rng: u64 s[4], f64 spare, i64 has_spare */
static void ng__w_rng(ng__ckio_w_t *w, const ng_rng_t *r) {
  for (int i = 0; i < 4; i++) ng__ckio_put_u64(w, r->s[i]);
  ng__ckio_put_f64(w, r->spare_normal);
  ng__ckio_put_i64(w, r->has_spare);
}

/* has_spare must be 0 or 1: anything else comes back as 2, which ng__rng_ok refuses. */
static void ng__r_rng(ng__ckio_r_t *r, ng_rng_t *g) {
  for (int i = 0; i < 4; i++) g->s[i] = ng__ckio_get_u64(r);
  g->spare_normal = ng__ckio_get_f64(r);
  int64_t h = ng__ckio_get_i64(r);
  g->has_spare = (h == 0 || h == 1) ? (int)h : 2;
}

static size_t ng__state_size(const ng_rl_t *t) {
  const ng_env_info_t *info = ng_env_info(t->envs[0]);
  return info ? info->state_size : 0;
}

/* The state size a file whose state_size is fss must have for an environment of info:
 * fss itself when either has no state (fresh episodes) or when the file holds the short
 * form (info->state_min_size), else the environment's. */
static uint64_t ng__file_state_size(const ng_env_info_t *info, uint64_t fss) {
  if (!fss || !info->state_size || fss == info->state_min_size) return fss;
  return info->state_size;
}

/* ---- the values a trainer may hold, checked alike before saving and after loading ---- */

/* xoshiro256** never leaves the all-zero state (it would draw 0 for ever, and the normal
 * sampler's rejection loop would never end). */
static int ng__rng_ok(const ng_rng_t *g) {
  return (g->s[0] | g->s[1] | g->s[2] | g->s[3]) != 0 && isfinite(g->spare_normal) &&
         (g->has_spare == 0 || g->has_spare == 1);
}

static int ng__rms_ok(const ng__rms_t *r) {
  if (!(isfinite(r->count) && r->count > 0)) return 0;
  for (size_t i = 0; i < r->dim; i++)
    if (!isfinite(r->mean[i]) || !isfinite(r->var[i]) || !(r->var[i] >= 0)) return 0;
  return 1;
}

/* What is wrong with t's state (env states in states, E x ss), or NULL if nothing is. */
static const char *ng__state_problem(const ng_rl_t *t, const double *states, size_t ss) {
  if (t->iteration < 0 || t->env_steps < 0) return "negative iteration or step counter";
  if (!ng_all_finite(t->n_pol, t->theta)) return "non-finite policy parameters";
  if (!ng_all_finite(t->n_vf, t->vtheta)) return "non-finite value-function parameters";
  if (!ng_all_finite(t->n_vf, t->adam.m) || !ng_all_finite(t->n_vf, t->adam.v))
    return "non-finite optimiser moments";
  for (size_t i = 0; i < t->n_vf; i++)
    if (!(t->adam.v[i] >= 0)) return "negative optimiser second moment";
  if (t->adam.t < 0) return "negative optimiser step count";
  if (!ng__rms_ok(&t->obs_rms) || !ng__rms_ok(&t->ret_rms))
    return "invalid normaliser statistics (non-finite, negative variance or count <= 0)";
  if (!ng__rng_ok(&t->rng)) return "invalid trainer random state";
  for (size_t b = 0; t->blk_rng && b < (size_t)t->cfg.blocks; b++)
    if (!ng__rng_ok(&t->blk_rng[b])) return "invalid block random state";
  const size_t od = t->obs_dim;
  for (size_t e = 0; e < t->n_envs; e++) {
    if (!ng__rng_ok(&t->act_rng[e]) || !ng__rng_ok(ng_env_rng(t->envs[e])))
      return "invalid environment random state";
    if (t->ep_length[e] < 0 ||
        (t->max_episode_steps > 0 && t->ep_length[e] >= t->max_episode_steps))
      return "episode length outside [0, time limit)";
    if (!isfinite(t->ep_return[e]) || !isfinite(t->disc_return[e]))
      return "non-finite episode return";
    if (!ng_all_finite(od, t->obs_raw + e * od) || !ng_all_finite(od, t->obs_norm + e * od))
      return "non-finite observation";
    if (states && !ng_all_finite(ss, states + e * ss)) return "non-finite environment state";
  }
  return NULL;
}

/* ---- save ---- */

int ng_rl_save(const ng_rl_t *t, const char *path, ng_error_t *err) {
  if (!t || !path) return ng_error_set(err, NG_EINVAL, "save: NULL argument");
  const size_t E = t->n_envs, od = t->obs_dim, ss = ng__state_size(t);
  ng__ckio_w_t w = {0};
  double *states = ng_calloc(E * ss + 1, sizeof *states);
  size_t clen = ng_rl_config_format(&t->cfg, NULL, 0);
  char *ctext = ng_malloc(clen + 1);
  int s = NG_OK;
  if (!states || !ctext) {
    s = ng_error_set(err, NG_ENOMEM, "save: out of memory");
    goto done;
  }
  for (size_t e = 0; e < E && ss; e++)
    if ((s = ng_env_get_state(t->envs[e], states + e * ss))) {
      ng_error_set(err, s, "save: reading env %zu's state failed (%s)", e, ng_strerror(s));
      goto done;
    }
  const char *bad = ng__state_problem(t, states, ss);
  if (bad) {
    s = ng_error_set(err, NG_ENONFINITE, "save: refusing to write %s: the trainer holds %s",
                     path, bad);
    goto done;
  }
  ng_rl_config_format(&t->cfg, ctext, clen + 1);

  ng__ckio_put_zeros(&w, NG_CKPT_HEADER); /* filled in once the body's CRC is known */
  ng__ckio_put_u64(&w, clen);
  ng__ckio_put_bytes(&w, ctext, clen);
  const uint64_t sizes[8] = {E, t->n_steps, od, t->act_size, t->n_dist, t->n_pol, t->n_vf, ss};
  for (int i = 0; i < 8; i++) ng__ckio_put_u64(&w, sizes[i]);
  ng__ckio_put_i64(&w, t->iteration);
  ng__ckio_put_i64(&w, t->env_steps);
  ng__ckio_put_i64(&w, t->started);
  ng__ckio_put_f64s(&w, t->theta, t->n_pol);
  ng__ckio_put_f64s(&w, t->vtheta, t->n_vf);
  ng__ckio_put_f64s(&w, t->adam.m, t->n_vf);
  ng__ckio_put_f64s(&w, t->adam.v, t->n_vf);
  ng__ckio_put_i64(&w, t->adam.t);
  const ng__rms_t *rms[2] = {&t->obs_rms, &t->ret_rms};
  for (int k = 0; k < 2; k++) {
    ng__ckio_put_f64(&w, rms[k]->count);
    ng__ckio_put_f64s(&w, rms[k]->mean, rms[k]->dim);
    ng__ckio_put_f64s(&w, rms[k]->var, rms[k]->dim);
  }
  ng__w_rng(&w, &t->rng);
  for (size_t e = 0; e < E; e++) {
    ng__w_rng(&w, &t->act_rng[e]);
    ng__w_rng(&w, ng_env_rng(t->envs[e]));
    ng__ckio_put_f64s(&w, states + e * ss, ss);
    ng__ckio_put_i64(&w, t->ep_length[e]);
    ng__ckio_put_f64(&w, t->ep_return[e]);
    ng__ckio_put_f64(&w, t->disc_return[e]);
    ng__ckio_put_f64s(&w, t->obs_raw + e * od, od);
    ng__ckio_put_f64s(&w, t->obs_norm + e * od, od);
  }
  for (size_t b = 0; t->blk_rng && b < (size_t)t->cfg.blocks; b++) ng__w_rng(&w, &t->blk_rng[b]);
  if (t->pol_kfac) { /* ACKTR: the running factors and inverses continue too */
    ng__kfac_state_put(t->pol_kfac, &w);
    ng__kfac_state_put(t->vf_kfac, &w);
  }
  if (w.status) {
    s = ng_error_set(err, NG_ENOMEM, "save: out of memory");
    goto done;
  }
  const size_t body = w.len - NG_CKPT_HEADER;
  memcpy(w.buf, NG_CKPT_MAGIC, 8);
  ng__ckio_st(w.buf + 8, NG_CKPT_VERSION, 4);
  ng__ckio_st(w.buf + 12, NG_CKPT_BOM, 4);
  ng__ckio_st(w.buf + 16, body, 8);
  ng__ckio_st(w.buf + 24, ng__ckio_crc32(w.buf + NG_CKPT_HEADER, body), 4);
  if ((s = ng__ckio_write_file(path, w.buf, w.len, err)) == NG_OK) ng_error_clear(err);
done:
  ng__ckio_w_free(&w);
  ng_free(states);
  ng_free(ctext);
  return s;
}

/* ---- load ---- */

/* a += b * c, 0 on overflow */
static int ng__madd(uint64_t *a, uint64_t b, uint64_t c) {
  if (c && b > (UINT64_MAX - *a) / c) return 0;
  *a += b * c;
  return 1;
}

/* The body length that the sizes sz[8], a config text of clen bytes and its blocks imply;
 * 0 if it overflows (no real body is that long). */
static uint64_t ng__body_length(uint64_t clen, const uint64_t *sz, int blocks) {
  const uint64_t E = sz[0], od = sz[2], n_pol = sz[5], n_vf = sz[6], ss = sz[7];
  uint64_t per_env = 2 * NG_CKPT_RNG_BYTES + 3 * 8, n = 8;
  int ok = ng__madd(&per_env, 8, ss) && ng__madd(&per_env, 16, od) && ng__madd(&n, 1, clen) &&
           ng__madd(&n, 8, 8 + 3) && ng__madd(&n, 8, n_pol) && ng__madd(&n, 24, n_vf) &&
           ng__madd(&n, 8, 1 + 1 + 2 + 1) && ng__madd(&n, 16, od) &&
           ng__madd(&n, 1, NG_CKPT_RNG_BYTES) && ng__madd(&n, E, per_env) &&
           ng__madd(&n, blocks > 1 ? (uint64_t)blocks : 0, NG_CKPT_RNG_BYTES);
  return ok ? n : 0;
}

static const char *const ng__size_names[8] = {"n_envs", "n_steps", "obs_dim", "action size",
                                              "distribution size", "policy parameters",
                                              "value parameters", "env state size"};

/* The body, whose CRC has been checked: config, sizes, then the values. */
static int ng__load_body(ng_rl_t **out, const unsigned char *body, size_t len,
                         const char *name, const ng_env_def_t *def, ng_error_t *err) {
  ng__ckio_r_t r = {body, len, 0, 0};
  int s = def ? ng_env_def_check(def, err) : NG_OK;
  if (s) return s;
  uint64_t clen = ng__ckio_get_u64(&r);
  if (r.bad || clen > r.len - r.pos || clen > NG_CKPT_MAX_CONFIG)
    return ng_error_set(err, NG_EFORMAT, "load: %s: bad config length", name);
  ng_rl_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  /* the keys a text may leave out (ACKTR's, for other algos) keep their defaults */
  s = ng_keys_defaults(ng_rl_config_keys(), &cfg, err);
  if (!s) s = ng__rl_config_parse_env(&cfg, (const char *)body + r.pos, (size_t)clen, def, err);
  r.pos += (size_t)clen;
  if (!s && def && strcmp(cfg.env_id, def->info.id) != 0)
    return ng_error_set(err, NG_EINVAL, "load: %s is a run on %s, not on %s", name,
                        cfg.env_id, def->info.id);
  if (!s) s = ng_rl_config_validate_with_env(&cfg, def, err);
  if (s == NG_ENOMEM) return s;
  if (s) {
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "%s", err ? err->message : "");
    return ng_error_set(err, NG_EFORMAT, "load: %s: bad config: %s", name, msg);
  }

  /* the sizes: first against the body length and what the config fixes without building
   * anything, so that nothing is allocated for a size the file cannot back */
  uint64_t sz[8];
  for (int i = 0; i < 8; i++) sz[i] = ng__ckio_get_u64(&r);
  if (r.bad) return ng_error_set(err, NG_EFORMAT, "load: %s: body too short for its sizes", name);
  /* ACKTR's K-FAC states follow, sized by the trainer the config builds: checked with the
   * rest of the body once it is built */
  uint64_t want_len = ng__body_length(clen, sz, cfg.blocks);
  if (cfg.algo == NG_ALGO_ACKTR ? want_len == 0 || want_len > len : want_len != len)
    return ng_error_set(err, NG_EFORMAT, "load: %s: the body has %zu bytes but its sizes need "
                        "%llu", name, len, (unsigned long long)want_len);
  const ng_env_info_t *info = def ? &def->info : ng_env_find(cfg.env_id);
  ng_dist_t dist = {.kind = NG_DIST_GAUSSIAN, .dim = 0}; /* sizes 0 if unsupported */
  ng__rl_action_dist(&info->action_space, &dist);
  /* the environment's states are restored when both sides have one (of a size that
   * ng__file_state_size accepts); when either has none, fresh episodes (rl.h's
   * ng_rl_load_with_env) */
  const uint64_t fss = sz[7], use_ss = fss && info->state_size;
  const uint64_t early[8] = {(uint64_t)cfg.n_envs, (uint64_t)cfg.n_steps,
                             ng__rl_obs_inputs(&info->observation_space),
                             ng_dist_action_size(&dist), ng_dist_n_params(&dist), sz[5], sz[6],
                             ng__file_state_size(info, fss)};
  const char *whose = def ? "the environment given" : "its config";
  for (int i = 0; i < 8; i++)
    if (sz[i] != early[i])
      return ng_error_set(err, NG_EFORMAT, "load: %s: %s is %llu in the file but %llu for %s",
                          name, ng__size_names[i], (unsigned long long)sz[i],
                          (unsigned long long)early[i], whose);

  ng_rl_t *t;
  s = ng_rl_create_with_env(&t, &cfg, def, err);
  if (s) return s;
  /* ss doubles a state in the file, rs a row of states here: the env's, whose components
   * past a short form stay zero */
  const size_t E = t->n_envs, od = t->obs_dim, ss = (size_t)fss;
  const size_t rs = use_ss ? ng__state_size(t) : ss;
  const uint64_t want[8] = {E, t->n_steps, od, t->act_size, t->n_dist, t->n_pol, t->n_vf,
                            ng__file_state_size(ng_env_info(t->envs[0]), fss)};
  for (int i = 0; i < 8; i++)
    if (sz[i] != want[i]) {
      ng_rl_destroy(t);
      return ng_error_set(err, NG_EFORMAT, "load: %s: %s is %llu in the file but %llu for %s",
                          name, ng__size_names[i], (unsigned long long)sz[i],
                          (unsigned long long)want[i], whose);
    }
  /* E x rs states, then room for the observation that setting one writes */
  double *states = ng_calloc(E * rs + od, sizeof *states);
  if (!states) {
    ng_rl_destroy(t);
    return ng_error_set(err, NG_ENOMEM, "load: out of memory");
  }
  const char *bad = NULL;
  int64_t it = ng__ckio_get_i64(&r), steps = ng__ckio_get_i64(&r), started = ng__ckio_get_i64(&r);
  if (it < 0 || steps < 0) bad = "negative iteration or step counter";
  if (started != 0 && started != 1) bad = "a 'started' flag that is neither 0 nor 1";
  t->iteration = (long)it;
  t->env_steps = (long)steps;
  t->started = (int)(started != 0);
  ng__ckio_get_f64s(&r, t->theta, t->n_pol);
  ng__ckio_get_f64s(&r, t->vtheta, t->n_vf);
  ng__ckio_get_f64s(&r, t->adam.m, t->n_vf);
  ng__ckio_get_f64s(&r, t->adam.v, t->n_vf);
  int64_t adam_t = ng__ckio_get_i64(&r);
  if (adam_t < 0 && !bad) bad = "negative optimiser step count";
  t->adam.t = (long)adam_t;
  ng__rms_t *rms[2] = {&t->obs_rms, &t->ret_rms};
  for (int k = 0; k < 2; k++) {
    rms[k]->count = ng__ckio_get_f64(&r);
    ng__ckio_get_f64s(&r, rms[k]->mean, rms[k]->dim);
    ng__ckio_get_f64s(&r, rms[k]->var, rms[k]->dim);
  }
  ng__r_rng(&r, &t->rng);
  for (size_t e = 0; e < E; e++) {
    ng__r_rng(&r, &t->act_rng[e]);
    ng__r_rng(&r, ng_env_rng(t->envs[e]));
    ng__ckio_get_f64s(&r, states + e * rs, ss);
    int64_t ep_len = ng__ckio_get_i64(&r);
    if ((ep_len < 0 || ep_len > 0x7fffffff) && !bad) bad = "episode length outside [0, time limit)";
    t->ep_length[e] = (long)ep_len;
    t->ep_return[e] = ng__ckio_get_f64(&r);
    t->disc_return[e] = ng__ckio_get_f64(&r);
    ng__ckio_get_f64s(&r, t->obs_raw + e * od, od);
    ng__ckio_get_f64s(&r, t->obs_norm + e * od, od);
  }
  for (size_t b = 0; t->blk_rng && b < (size_t)t->cfg.blocks; b++) ng__r_rng(&r, &t->blk_rng[b]);
  if (t->pol_kfac && !bad &&
      (ng__kfac_state_get(t->pol_kfac, &r) != NG_OK || ng__kfac_state_get(t->vf_kfac, &r) != NG_OK))
    bad = "K-FAC factors of the wrong sizes or with non-finite values";
  if (!bad && (r.bad || r.pos != r.len)) bad = "a body of the wrong length for its sizes";
  if (!bad) bad = ng__state_problem(t, states, rs);
  /* the env's own step counter restarts here; the trainer keeps the time limit */
  for (size_t e = 0; e < E && !bad && use_ss; e++) {
    ng_rng_t keep = *ng_env_rng(t->envs[e]);
    s = ng_env_set_state(t->envs[e], states + e * rs, states + E * rs);
    if (s) bad = "an environment state that its environment rejects";
    *ng_env_rng(t->envs[e]) = keep;
  }
  /* An environment without get/set state cannot continue its episode: each starts a fresh
   * one from its saved stream (natgrad/env.h), so the same checkpoint always resumes to the
   * same run. The episode under way is dropped, as if it had never begun. */
  for (size_t e = 0; e < E && !bad && !use_ss; e++) {
    double *obs = t->obs_raw + e * od;
    if (ng__rl_env_reset(t, t->envs[e], obs) != NG_OK) {
      bad = "an environment that fails to reset";
      break;
    }
    t->ep_length[e] = 0;
    t->ep_return[e] = 0.0;
    t->disc_return[e] = 0.0;
    if (t->cfg.normalize_obs && t->started)
      ng__rms_normalize(&t->obs_rms, 1, obs, t->cfg.obs_clip, t->obs_norm + e * od);
    else
      memcpy(t->obs_norm + e * od, obs, od * sizeof *obs);
  }
  ng_free(states);
  if (bad) {
    ng_rl_destroy(t);
    return ng_error_set(err, NG_EFORMAT, "load: %s: invalid checkpoint: %s", name, bad);
  }
  ng__rl_blocks_sync(t); /* the blocks' trainers continue from what was loaded */
  *out = t;
  return NG_OK;
}

/* Checks the header h (have bytes of it present) of a file of total bytes; on success
 * *body is the body length (= total - header) and *crc its checksum. */
static int ng__check_header(const unsigned char *h, size_t have, uint64_t total,
                            const char *name, uint64_t *body, uint32_t *crc, ng_error_t *err) {
  if (have < 8 || memcmp(h, NG_CKPT_MAGIC, 8) != 0) {
    if (have < 8 && memcmp(h, NG_CKPT_MAGIC, have) == 0)
      return ng_error_set(err, NG_EFORMAT, "load: %s: truncated (%zu bytes)", name, have);
    return ng_error_set(err, NG_EFORMAT, "load: %s: not a natgrad checkpoint (bad magic)", name);
  }
  /* the version right after the magic, before anything it may lay out differently: a
   * newer format is named as such only when its header vouches for it (ckpt_io.h) */
  uint32_t bom, reserved;
  int s = have >= 12 ? ng__ckio_check_version(h, have, NG_CKPT_VERSION, "load: ", name, err)
                     : NG_OK;
  if (s) return s;
  if (have < NG_CKPT_HEADER)
    return ng_error_set(err, NG_EFORMAT, "load: %s: truncated header (%zu bytes)", name, have);
  bom = (uint32_t)ng__ckio_ld(h + 12, 4);
  *body = ng__ckio_ld(h + 16, 8);
  *crc = (uint32_t)ng__ckio_ld(h + 24, 4);
  reserved = (uint32_t)ng__ckio_ld(h + 28, 4);
  if (bom != NG_CKPT_BOM)
    return ng_error_set(err, NG_EFORMAT, "load: %s: bad byte-order mark (written on a host of "
                        "another byte order, or corrupted)", name);
  if (reserved != 0)
    return ng_error_set(err, NG_EFORMAT, "load: %s: corrupted header (reserved word %08x)",
                        name, reserved);
  uint64_t present = total - NG_CKPT_HEADER;
  if (*body > present)
    return ng_error_set(err, NG_EFORMAT, "load: %s: truncated (body of %llu bytes, %llu "
                        "present)", name, (unsigned long long)*body,
                        (unsigned long long)present);
  if (*body < present)
    return ng_error_set(err, NG_EFORMAT, "load: %s: %llu unexpected bytes after the body", name,
                        (unsigned long long)(present - *body));
  return NG_OK;
}

static int ng__load_checked(ng_rl_t **out, const unsigned char *body, size_t len, uint32_t crc,
                            const char *name, const ng_env_def_t *def, ng_error_t *err) {
  uint32_t got = ng__ckio_crc32(body, len);
  if (got != crc)
    return ng_error_set(err, NG_EFORMAT, "load: %s: corrupted (CRC-32 %08x, header says %08x)",
                        name, got, crc);
  int s = ng__load_body(out, body, len, name, def, err);
  if (!s) ng_error_clear(err);
  return s;
}

int ng_rl_load_mem(ng_rl_t **out, const void *data, size_t size, ng_error_t *err) {
  return ng_rl_load_mem_with_env(out, data, size, NULL, err);
}

int ng_rl_load_mem_with_env(ng_rl_t **out, const void *data, size_t size,
                            const ng_env_def_t *def, ng_error_t *err) {
  if (!out || (!data && size)) return ng_error_set(err, NG_EINVAL, "load: NULL argument");
  *out = NULL;
  static const char name[] = "checkpoint in memory";
  const unsigned char *p = size ? data : (const unsigned char *)"";
  uint64_t body = 0; /* set by the header check (gcc -O3 cannot see that it always is) */
  uint32_t crc = 0;
  int s = ng__check_header(p, size < NG_CKPT_HEADER ? size : NG_CKPT_HEADER, size, name, &body,
                           &crc, err);
  if (s) return s;
  return ng__load_checked(out, p + NG_CKPT_HEADER, (size_t)body, crc, name, def, err);
}

int ng_rl_load(ng_rl_t **out, const char *path, ng_error_t *err) {
  return ng_rl_load_with_env(out, path, NULL, err);
}

int ng_rl_load_with_env(ng_rl_t **out, const char *path, const ng_env_def_t *def,
                        ng_error_t *err) {
  if (!out || !path) return ng_error_set(err, NG_EINVAL, "load: NULL argument");
  *out = NULL;
  /* a FIFO or a device would block or never end: only regular files (checked again on
   * the open file below) */
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return ng_error_set(err, NG_EIO, "load: %s: %s", path,
                        S_ISDIR(st.st_mode) ? "is a folder" : "not a regular file");
  FILE *f = fopen(path, "rb");
  if (!f) return ng_error_set(err, NG_EIO, "load: cannot open %s: %s", path, strerror(errno));
  if (fstat(fileno(f), &st) != 0) {
    int e = errno;
    fclose(f);
    return ng_error_set(err, NG_EIO, "load: %s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    fclose(f);
    return ng_error_set(err, NG_EIO, "load: %s: %s", path,
                        S_ISDIR(st.st_mode) ? "is a folder" : "not a regular file");
  }
  /* the header decides how much to read: a foreign or damaged file costs 32 bytes */
  unsigned char header[NG_CKPT_HEADER];
  size_t have = fread(header, 1, sizeof header, f);
  uint64_t body = 0;
  uint32_t crc = 0;
  int s = ferror(f) ? ng_error_set(err, NG_EIO, "load: error reading %s", path)
                    : ng__check_header(header, have, (uint64_t)st.st_size, path, &body, &crc, err);
  unsigned char *buf = NULL;
  if (!s && body > SIZE_MAX - 1) s = ng_error_set(err, NG_ENOMEM, "load: %s is too large", path);
  if (!s && !(buf = ng_malloc((size_t)body)))
    s = ng_error_set(err, NG_ENOMEM, "load: out of memory reading %s", path);
  /* one byte more than the body must not be there: the file did not grow meanwhile */
  if (!s && (fread(buf, 1, (size_t)body, f) != body || fgetc(f) != EOF))
    s = ng_error_set(err, ferror(f) ? NG_EIO : NG_EFORMAT, "load: %s changed size while it "
                     "was read", path);
  fclose(f);
  if (!s) s = ng__load_checked(out, buf, (size_t)body, crc, path, def, err);
  ng_free(buf);
  return s;
}
