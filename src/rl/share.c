/* Environments split over processes: each steps its share, then one gather per step gives
 * every process every env's outputs, so all hold the same batch and take the same update.
 * Nothing here knows of MPI: the gather is the caller's (natgrad/mpi.h provides one).
 *
 * A step record is doubles: the observation as the env wrote it (obs_dim), the reward, the
 * terminated and truncated flags, the step's status, the reset's status and the reset's
 * observation (obs_dim, encoded), the sampled action (act_size) and its log-prob: only the
 * owner samples an env's action (its stream advances there alone; ng_rl_gather_envs brings
 * the streams to every process for a checkpoint). Integers up to 2^53 are exact in a double. */
#include <math.h>
#include <string.h>

#include "rl/rl_impl.h"

static size_t ng__share_row_doubles(const ng_rl_t *t) { return 2 * t->obs_dim + 6 + t->act_size; }

/* An env record for ng_rl_gather_envs: its env's stream and its action stream (each 4 state
 * words, the spare deviate and its flag: 6 words) and its state. */
#define NG__RNG_WORDS 6
static size_t ng__env_row_bytes(const ng_rl_t *t) {
  const ng_env_info_t *info = ng_env_info(t->envs[0]);
  return (2 * NG__RNG_WORDS + info->state_size) * 8;
}

/* With blocks, a block's record for ng_rl_gather_envs: the block's stream, then per env its
 * env record and episode state (length, return, discounted return, raw and normalised
 * observation: 3 + 2 obs_dim words), which only the block's owner keeps up to date. */
static size_t ng__ep_words(const ng_rl_t *t) { return 3 + 2 * t->obs_dim; }
static size_t ng__block_row_bytes(const ng_rl_t *t) {
  const size_t per_env = ng__env_row_bytes(t) + ng__ep_words(t) * 8;
  return NG__RNG_WORDS * 8 + per_env * (t->n_envs / (size_t)t->cfg.blocks);
}

static void ng__rng_pack(const ng_rng_t *g, unsigned char *p) {
  const int64_t spare_flag = g->has_spare;
  memcpy(p, g->s, 32);
  memcpy(p + 32, &g->spare_normal, 8);
  memcpy(p + 40, &spare_flag, 8);
}

static void ng__rng_unpack(const unsigned char *p, ng_rng_t *g) {
  int64_t spare_flag;
  memcpy(g->s, p, 32);
  memcpy(&g->spare_normal, p + 32, 8);
  memcpy(&spare_flag, p + 40, 8);
  g->has_spare = (int)spare_flag;
}

int ng_rl_set_env_share(ng_rl_t *t, const ng_rl_env_share_t *share, ng_error_t *err) {
  if (!t) return ng_error_set(err, NG_EINVAL, "env share: no trainer");
  if (!share) {
    t->shared = 0;
    return NG_OK;
  }
  if (t->grp) { /* the share's items are blocks: this process's, and a gather for saving */
    if (!share->gather || share->first != t->blk_first || share->count != t->blk_count)
      return ng_error_set(err, NG_EINVAL, "env share: blocks [%zu, %zu + %zu) are not this "
                          "process's [%zu, %zu + %zu) (ng_rl_set_split names them)",
                          share->first, share->first, share->count, t->blk_first,
                          t->blk_first, t->blk_count);
    if (!t->share_rows &&
        !(t->share_rows = ng_malloc((size_t)t->cfg.blocks * ng__block_row_bytes(t))))
      return ng_error_set(err, NG_ENOMEM, "env share: out of memory");
    t->share = *share;
    t->shared = 1;
    return NG_OK;
  }
  if (!share->gather || share->count == 0 || share->first >= t->n_envs ||
      share->count > t->n_envs - share->first)
    return ng_error_set(err, NG_EINVAL, "env share: envs [%zu, %zu + %zu) outside the %zu envs "
                        "or no gather", share->first, share->first, share->count, t->n_envs);
  const size_t E = t->n_envs, row = ng__share_row_doubles(t) * 8;
  const size_t env_row = ng__env_row_bytes(t);
  if (!t->share_rows) {
    t->share_rows = ng_malloc(E * (row > env_row ? row : env_row));
    t->step_reset_obs = ng_calloc(E * t->obs_dim, sizeof(double));
    t->step_reset_status = ng_calloc(E, sizeof(int));
    if (!t->share_rows || !t->step_reset_obs || !t->step_reset_status)
      return ng_error_set(err, NG_ENOMEM, "env share: out of memory");
  }
  t->share = *share;
  t->shared = 1;
  return NG_OK;
}

int ng__rl_step_ends_episode(const ng_rl_t *t, size_t e) {
  if (t->step_term[e] || t->step_trunc[e]) return 1;
  return t->max_episode_steps > 0 && t->ep_length[e] + 1 >= t->max_episode_steps;
}

/* Env e's step record, and its reset when the step is good and ends the episode (the rollout
 * checks the same outputs again, in env order, before it uses any). */
static void ng__share_pack(ng_rl_t *t, size_t e, const double *act, double logp, double *rec) {
  const size_t od = t->obs_dim;
  memcpy(rec + 2 * od + 5, act, t->act_size * sizeof *rec);
  rec[2 * od + 5 + t->act_size] = logp;
  const double *obs = t->step_obs + e * od;
  double *reset = rec + od + 5;
  memcpy(rec, obs, od * sizeof *rec);
  rec[od] = t->step_rew[e];
  rec[od + 1] = t->step_term[e];
  rec[od + 2] = t->step_trunc[e];
  rec[od + 3] = t->step_status[e];
  rec[od + 4] = NG_OK;
  memcpy(reset, obs, od * sizeof *reset);
  int good = t->step_status[e] == NG_OK && isfinite(t->step_rew[e]) &&
             ng__rl_obs_encode(t, reset) == NG_OK;
  if (good && ng__rl_step_ends_episode(t, e))
    rec[od + 4] = ng__rl_env_reset(t, t->envs[e], reset);
}

int ng__rl_share_step(ng_rl_t *t, double *act, double *logp, ng_error_t *err) {
  const size_t od = t->obs_dim, as = t->act_size, nd = ng__share_row_doubles(t), row = nd * 8;
  double *rec = (double *)(void *)t->share_rows;
  for (size_t e = t->share.first; e < t->share.first + t->share.count; e++)
    ng__share_pack(t, e, act + e * as, logp[e], rec + e * nd);
  int s = t->share.gather(t->share.ctx, t->share_rows, row);
  if (s) return ng_error_set(err, s, "rollout: gathering the other processes' steps failed "
                             "(%s)", ng_strerror(s));
  for (size_t e = 0; e < t->n_envs; e++) {
    const double *r = rec + e * nd;
    memcpy(t->step_obs + e * od, r, od * sizeof *r);
    t->step_rew[e] = r[od];
    t->step_term[e] = (int)r[od + 1];
    t->step_trunc[e] = (int)r[od + 2];
    t->step_status[e] = (int)r[od + 3];
    t->step_reset_status[e] = (int)r[od + 4];
    memcpy(t->step_reset_obs + e * od, r + od + 5, od * sizeof *r);
    memcpy(act + e * as, r + 2 * od + 5, as * sizeof *r);
    logp[e] = r[2 * od + 5 + as];
  }
  return NG_OK;
}

/* Env e's record at p (its env's stream, action stream and state), and back. */
static int ng__env_pack(ng_rl_t *t, size_t e, unsigned char *p, ng_error_t *err) {
  const size_t ss = ng_env_info(t->envs[0])->state_size;
  ng__rng_pack(ng_env_rng(t->envs[e]), p);
  ng__rng_pack(&t->act_rng[e], p + NG__RNG_WORDS * 8);
  double *state = (double *)(void *)(p + 2 * NG__RNG_WORDS * 8);
  int s = ss ? ng_env_get_state(t->envs[e], state) : NG_OK;
  return s ? ng_error_set(err, s, "gather envs: reading env %zu's state failed (%s)", e,
                          ng_strerror(s)) : NG_OK;
}
static int ng__env_unpack(ng_rl_t *t, size_t e, const unsigned char *p, ng_error_t *err) {
  const size_t ss = ng_env_info(t->envs[0])->state_size;
  ng_rng_t g;
  ng__rng_unpack(p, &g);
  ng__rng_unpack(p + NG__RNG_WORDS * 8, &t->act_rng[e]);
  /* set_state restarts the env's own counters only; its stream is the owner's */
  const double *state = (const double *)(const void *)(p + 2 * NG__RNG_WORDS * 8);
  int s = ss ? ng_env_set_state(t->envs[e], state, NULL) : NG_OK;
  if (s) return ng_error_set(err, s, "gather envs: env %zu rejects its owner's state (%s)", e,
                             ng_strerror(s));
  *ng_env_rng(t->envs[e]) = g;
  return NG_OK;
}

/* With blocks: one record per block (ng__block_row_bytes), this process's filled. */
static int ng__gather_blocks(ng_rl_t *t, ng_error_t *err) {
  const size_t B = (size_t)t->cfg.blocks, E = t->n_envs / B, od = t->obs_dim;
  const size_t row = ng__block_row_bytes(t), env_row = ng__env_row_bytes(t);
  const size_t per_env = env_row + ng__ep_words(t) * 8;
  for (int out = 1; out >= 0; out--) {
    for (size_t b = 0; b < B; b++) {
      const int mine = b >= t->blk_first && b < t->blk_first + t->blk_count;
      if (mine != out) continue;
      unsigned char *p = t->share_rows + b * row;
      if (out) ng__rng_pack(&t->blk_rng[b], p);
      else ng__rng_unpack(p, &t->blk_rng[b]);
      for (size_t e = b * E; e < (b + 1) * E; e++) {
        unsigned char *q = p + NG__RNG_WORDS * 8 + (e - b * E) * per_env;
        double *ep = (double *)(void *)(q + env_row);
        int s = out ? ng__env_pack(t, e, q, err) : ng__env_unpack(t, e, q, err);
        if (s) return s;
        if (out) {
          ep[0] = (double)t->ep_length[e];
          ep[1] = t->ep_return[e];
          ep[2] = t->disc_return[e];
          memcpy(ep + 3, t->obs_raw + e * od, od * sizeof *ep);
          memcpy(ep + 3 + od, t->obs_norm + e * od, od * sizeof *ep);
        } else {
          t->ep_length[e] = (long)ep[0];
          t->ep_return[e] = ep[1];
          t->disc_return[e] = ep[2];
          memcpy(t->obs_raw + e * od, ep + 3, od * sizeof *ep);
          memcpy(t->obs_norm + e * od, ep + 3 + od, od * sizeof *ep);
        }
      }
    }
    if (out) {
      int s = t->share.gather(t->share.ctx, t->share_rows, row);
      if (s) return ng_error_set(err, s, "gather envs: the gather failed (%s)", ng_strerror(s));
    }
  }
  return NG_OK;
}

int ng_rl_gather_envs(ng_rl_t *t, ng_error_t *err) {
  if (!t) return ng_error_set(err, NG_EINVAL, "gather envs: no trainer");
  if (!t->shared) return NG_OK;
  if (t->grp) return ng__gather_blocks(t, err);
  const size_t row = ng__env_row_bytes(t);
  unsigned char *rows = t->share_rows;
  int s;
  for (size_t e = t->share.first; e < t->share.first + t->share.count; e++)
    if ((s = ng__env_pack(t, e, rows + e * row, err))) return s;
  s = t->share.gather(t->share.ctx, rows, row);
  if (s) return ng_error_set(err, s, "gather envs: the gather failed (%s)", ng_strerror(s));
  for (size_t e = 0; e < t->n_envs; e++) {
    if (e >= t->share.first && e < t->share.first + t->share.count) continue;
    if ((s = ng__env_unpack(t, e, rows + e * row, err))) return s;
  }
  return NG_OK;
}
