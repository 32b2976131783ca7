/* The trainer: creation of every piece a run needs (all allocation happens here), the
 * iteration driver, evaluation on a separate environment, accessors. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rl/rl_impl.h"

static double ng__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define NG__ALLOC(ptr, count)                                   \
  do {                                                          \
    (ptr) = ng_calloc((count), sizeof *(ptr));                  \
    if (!(ptr)) {                                               \
      s = NG_ENOMEM;                                            \
      goto fail;                                                \
    }                                                           \
  } while (0)

/* Every failure below but the environments' own (whose messages say which) is an allocation
 * or a create that returned a bare status. */
static int ng__rl_create_failed(ng_error_t *err, int s) {
  return ng_error_set(err, s, "rl: creating the trainer failed (%s)", ng_strerror(s));
}

int ng__rl_action_dist(const ng_space_t *space, ng_dist_t *dist) {
  switch (space->kind) {
    case NG_SPACE_BOX:
      *dist = (ng_dist_t){.kind = NG_DIST_GAUSSIAN, .dim = space->dim};
      return NG_OK;
    case NG_SPACE_DISCRETE:
      *dist = (ng_dist_t){.kind = NG_DIST_CATEGORICAL, .dim = space->dim};
      return NG_OK;
    case NG_SPACE_MULTI_BINARY:
      *dist = (ng_dist_t){.kind = NG_DIST_MULTI_BINARY, .dim = space->dim};
      return NG_OK;
    case NG_SPACE_MULTI_DISCRETE: {
      size_t counts[NG_DIST_MAX_COMPONENTS];
      if (!space->nvec || space->dim > NG_DIST_MAX_COMPONENTS) return NG_EUNSUPPORTED;
      for (size_t i = 0; i < space->dim; i++) counts[i] = space->nvec[i];
      return ng_dist_multi_discrete(dist, space->dim, counts) ? NG_EUNSUPPORTED : NG_OK;
    }
  }
  return NG_EUNSUPPORTED;
}

size_t ng__rl_obs_inputs(const ng_space_t *space) {
  return space->kind == NG_SPACE_BOX || space->kind == NG_SPACE_DISCRETE ? space->dim : 0;
}

/* Sizes and the spaces, from the environment's; *dist is the policy's head. */
static int ng__rl_set_sizes(ng_rl_t *t, const ng_env_info_t *info, ng_dist_t *dist) {
  t->n_envs = (size_t)t->cfg.n_envs;
  if (!t->borrowed) t->envs_run = t->n_envs;
  t->n_steps = (size_t)t->cfg.n_steps;
  t->batch = t->n_envs * t->n_steps;
  t->obs_space = info->observation_space;
  t->obs_dim = ng__rl_obs_inputs(&info->observation_space);
  t->max_episode_steps = info->max_episode_steps;
  if (info->action_space.kind == NG_SPACE_BOX) {
    t->act_low = info->action_space.low;
    t->act_high = info->action_space.high;
  }
  int s = ng__rl_action_dist(&info->action_space, dist);
  if (s) return s;
  t->act_size = ng_dist_action_size(dist);
  t->n_dist = ng_dist_n_params(dist);
  return t->act_size && t->n_dist ? NG_OK : NG_EUNSUPPORTED;
}

/* One environment of the run: the caller's definition, or the registered id's. */
static int ng__rl_env_create(const ng_rl_t *t, ng_env_t **env, ng_error_t *err) {
  return t->env_def ? ng_env_create_from_def(env, t->env_def, err)
                    : ng_env_create(env, t->cfg.env_id, err);
}

/* The training environments seeded (seed, i), the evaluation one, and the random streams. */
static int ng__rl_create_envs(ng_rl_t *t, ng_error_t *err) {
  const ng_rl_config_t *cfg = &t->cfg;
  const size_t E = t->n_envs;
  int s;
  NG__ALLOC(t->envs, E);
  for (size_t e = 0; e < E; e++) {
    if ((s = ng__rl_env_create(t, &t->envs[e], err))) return s;
    ng_env_seed(t->envs[e], cfg->seed, e);
  }
  if ((s = ng__rl_env_create(t, &t->eval_env, err))) return s;
  NG__ALLOC(t->act_rng, E);
  for (size_t e = 0; e < E; e++) ng_rng_seed(&t->act_rng[e], cfg->seed, NG_RL_STREAM_ACTION + e);
  ng_rng_seed(&t->rng, cfg->seed, NG_RL_STREAM_TRAINER);
  return NG_OK;
fail:
  return ng__rl_create_failed(err, s);
}

/* The iteration snapshot's doubles (ng__snapshot's parts). */
static size_t ng__snap_doubles(const ng_rl_t *t) {
  return t->n_pol + 3 * t->n_vf + 2 * t->obs_dim + 2 + 2;
}

/* Rows of the update's workspaces and buffers: the batch's, or one for a run of blocks,
 * whose blocks' trainers hold the batch (its own are there only to keep one code path). */
static size_t ng__update_rows(const ng_rl_t *t) { return t->cfg.blocks > 1 ? 1 : t->batch; }

/* The policy: MLP + distribution head, SB3's orthogonal init (draws from t->rng), its
 * workspaces, the Fisher and CG. */
static int ng__rl_create_policy(ng_rl_t *t, ng_dist_t dist, ng_error_t *err) {
  const ng_rl_config_t *cfg = &t->cfg;
  int s = ng_model_create(&t->policy, t->obs_dim, cfg->n_policy_hidden, cfg->policy_hidden,
                          cfg->policy_act, dist, NG_LOGSTD_STATE_INDEPENDENT);
  if (s) goto fail;
  t->n_pol = ng_model_n_params(t->policy);
  NG__ALLOC(t->theta, t->n_pol);
  NG__ALLOC(t->theta_backup, t->n_pol);
  NG__ALLOC(t->grad, t->n_pol);
  NG__ALLOC(t->step_dir, t->n_pol);
  NG__ALLOC(t->work_n, t->n_pol);
  NG__ALLOC(t->ent_grad, t->n_pol);
  s = ng_model_init(t->policy, t->theta, sqrt(2.0), 0.01, cfg->init_log_std, &t->rng);
  if (s) goto fail;
  if ((s = ng_model_ws_create(&t->pol_ws_step, t->policy, t->n_envs))) goto fail;
  if ((s = ng_model_ws_create(&t->pol_ws_eval, t->policy, 1))) goto fail;
  const size_t rows = ng__update_rows(t);
  if (cfg->algo == NG_ALGO_ACKTR) {
    /* K-FAC in place of the exact Fisher and CG; the batch passes run on its workspace, so
     * that its factors read the activations of the gradient's own forward */
    if ((s = ng_kfac_create(&t->pol_kfac, t->policy, rows))) goto fail;
    t->pol_ws_batch = ng_kfac_model_ws(t->pol_kfac);
  } else {
    if ((s = ng_model_ws_create(&t->pol_ws_batch, t->policy, rows))) goto fail;
    if ((s = ng_fisher_create(&t->fisher, t->policy, rows))) goto fail;
    if ((s = ng_cg_create(&t->cg, t->n_pol))) goto fail;
  }
  return NG_OK;
fail:
  return ng__rl_create_failed(err, s);
}

/* The value function: hidden layers then one linear output, orthogonal init with gains
 * sqrt(2) and 1 (after the policy's, from the same stream); its Adam and minibatch scratch. */
static int ng__rl_create_value(ng_rl_t *t, ng_error_t *err) {
  const ng_rl_config_t *cfg = &t->cfg;
  const size_t nl = cfg->n_value_hidden + 1;
  size_t sizes[NG_RL_MAX_HIDDEN + 2];
  ng_act_t acts[NG_RL_MAX_HIDDEN + 1];
  double gains[NG_RL_MAX_HIDDEN + 1];
  sizes[0] = t->obs_dim;
  for (size_t l = 0; l < cfg->n_value_hidden; l++) {
    sizes[l + 1] = cfg->value_hidden[l];
    acts[l] = cfg->value_act;
    gains[l] = sqrt(2.0);
  }
  sizes[nl] = 1;
  acts[nl - 1] = NG_ACT_IDENTITY;
  gains[nl - 1] = 1.0;
  const size_t rows = ng__update_rows(t);
  const size_t mb = (size_t)cfg->vf_minibatch < rows ? (size_t)cfg->vf_minibatch : rows;
  int s;
  if ((s = ng_mlp_create(&t->vf, nl, sizes, acts))) goto fail;
  t->n_vf = ng_mlp_n_params(t->vf);
  NG__ALLOC(t->vtheta, t->n_vf);
  NG__ALLOC(t->vgrad, t->n_vf + 2);
  if ((s = ng_mlp_init_orthogonal(t->vf, t->vtheta, gains, &t->rng))) goto fail;
  if ((s = ng_mlp_ws_create(&t->vf_ws, t->vf, rows))) goto fail;
  if (cfg->vf_precision == NG_VF_F32 &&
      (s = ng__mlpf_create(&t->vf_f32, t->vf, rows, (size_t)cfg->slices)))
    goto fail;
  if ((s = ng__adam_init(&t->adam, t->n_vf, cfg->vf_lr))) goto fail;
  NG__ALLOC(t->perm, rows);
  NG__ALLOC(t->mb_obs, mb * t->obs_dim);
  NG__ALLOC(t->mb_target, mb);
  NG__ALLOC(t->mb_dy, mb);
  if (cfg->algo == NG_ALGO_ACKTR) {
    if ((s = ng_kfac_create_mlp(&t->vf_kfac, t->vf, mb))) goto fail;
    NG__ALLOC(t->vstep, t->n_vf);
    t->snap_pol_kfac = ng_kfac_state_size(t->pol_kfac);
    t->snap_vf_kfac = ng_kfac_state_size(t->vf_kfac);
    NG__ALLOC(t->snap_kfac, t->snap_pol_kfac + t->snap_vf_kfac);
  }
  return NG_OK;
fail:
  return ng__rl_create_failed(err, s);
}

/* The normalisers, the rollout buffer, per-env and per-step state, evaluation scratch and
 * the iteration snapshot; shapes as in struct ng_rl. */
static int ng__rl_create_buffers(ng_rl_t *t, ng_error_t *err) {
  const size_t E = t->n_envs, N = ng__update_rows(t), od = t->obs_dim;
  int s;
  if ((s = ng__rms_init(&t->obs_rms, od))) goto fail;
  if ((s = ng__rms_init(&t->ret_rms, 1))) goto fail;
  NG__ALLOC(t->rms_work, 4 + 2 * (od > E ? od : E)); /* a step's obs and return sums */

  if (!t->borrowed) { /* a block's trainer has its run's */
    NG__ALLOC(t->obs_raw, E * od);
    NG__ALLOC(t->obs_norm, E * od);
    NG__ALLOC(t->ep_return, E);
    NG__ALLOC(t->ep_length, E);
    NG__ALLOC(t->disc_return, E);
  }
  NG__ALLOC(t->b_obs, N * od);
  NG__ALLOC(t->b_act, N * t->act_size);
  NG__ALLOC(t->b_rew, N);
  NG__ALLOC(t->b_term, N);
  NG__ALLOC(t->b_trunc, N);
  NG__ALLOC(t->b_logp, N);
  NG__ALLOC(t->b_pold, N * t->n_dist);
  NG__ALLOC(t->b_val, N);
  NG__ALLOC(t->b_final_obs, N * od);
  NG__ALLOC(t->b_final_val, N);
  NG__ALLOC(t->b_adv, N);
  NG__ALLOC(t->b_ret, N);
  NG__ALLOC(t->b_adv_n, N);
  NG__ALLOC(t->b_w, N);
  NG__ALLOC(t->b_scratch, N * od);
  NG__ALLOC(t->b_idx, N);
  NG__ALLOC(t->last_val, E);
  NG__ALLOC(t->step_p, E * t->n_dist);
  NG__ALLOC(t->step_logp, E);
  NG__ALLOC(t->step_act, E * t->act_size);
  NG__ALLOC(t->step_obs, E * od);
  NG__ALLOC(t->step_rew, E);
  NG__ALLOC(t->step_term, E);
  NG__ALLOC(t->step_trunc, E);
  NG__ALLOC(t->step_status, E);
  NG__ALLOC(t->eval_obs, od);
  NG__ALLOC(t->eval_obs_raw, od);
  NG__ALLOC(t->eval_obs_norm, od);
  NG__ALLOC(t->eval_act, t->act_size);
  NG__ALLOC(t->snap, ng__snap_doubles(t));
  return NG_OK;
fail:
  return ng__rl_create_failed(err, s);
}

/* Every training environment's first observation, raw and (before any statistics) as the
 * policy sees it. */
static int ng__rl_reset_envs(ng_rl_t *t, ng_error_t *err) {
  const size_t E = t->n_envs, od = t->obs_dim;
  for (size_t e = 0; e < E; e++) {
    int s = ng__rl_env_reset(t, t->envs[e], t->obs_raw + e * od);
    if (s)
      return ng_error_set(err, s, "rl: %s (env %zu) reset failed: %s", t->cfg.env_id, e,
                          ng_strerror(s));
  }
  memcpy(t->obs_norm, t->obs_raw, E * od * sizeof(double));
  return NG_OK;
}

int ng_rl_create(ng_rl_t **out, const ng_rl_config_t *cfg, ng_error_t *err) {
  return ng_rl_create_with_env(out, cfg, NULL, err);
}

int ng_rl_create_with_env(ng_rl_t **out, const ng_rl_config_t *cfg, const ng_env_def_t *def,
                          ng_error_t *err) {
  if (!out || !cfg) return ng_error_set(err, NG_EINVAL, "rl: NULL argument");
  *out = NULL;
  int s = def ? ng_env_def_check(def, err) : NG_OK;
  if (!s) s = ng_rl_config_validate_with_env(cfg, def, err);
  if (s) return s;
  const ng_env_info_t *info = def ? &def->info : ng_env_find(cfg->env_id);
  if (!info) return ng_error_set(err, NG_ENOTFOUND, "rl: unknown environment '%s'", cfg->env_id);
  if (ng__rl_obs_inputs(&info->observation_space) == 0)
    return ng_error_set(err, NG_EUNSUPPORTED, "rl: %s: only Box and Discrete observations are "
                        "supported", cfg->env_id);

  ng_rl_t *t = ng_calloc(1, sizeof *t);
  if (!t) return ng_error_set(err, NG_ENOMEM, "rl: out of memory");
  t->cfg = *cfg;
  t->env_def = def;
  ng_dist_t dist;
  if (ng__rl_set_sizes(t, info, &dist) != NG_OK) {
    ng_free(t);
    return ng_error_set(err, NG_EUNSUPPORTED, "rl: %s: unsupported action space", cfg->env_id);
  }
  /* In this order: the policy's init draws from t->rng before the value function's. */
  if ((s = ng__rl_create_envs(t, err)) || (s = ng__rl_create_policy(t, dist, err)) ||
      (s = ng__rl_create_value(t, err)) || (s = ng__rl_create_buffers(t, err)) ||
      (s = ng__rl_reset_envs(t, err))) {
    ng_rl_destroy(t);
    return s;
  }
  if ((s = ng_rl_set_split(t, NULL))) { /* the config's slice count, one process */
    ng_rl_destroy(t);
    return ng__rl_create_failed(err, s);
  }
  if (cfg->blocks > 1 && (s = ng__rl_blocks_create(t, err))) {
    ng_rl_destroy(t);
    return s;
  }
  *out = t;
  ng_error_clear(err);
  return NG_OK;
}

int ng__rl_create_block(ng_rl_t *t, size_t b, ng_rl_t **out, ng_error_t *err) {
  const size_t E = t->n_envs / (size_t)t->cfg.blocks, e0 = b * E, od = t->obs_dim;
  ng_rl_t *k = ng_calloc(1, sizeof *k);
  if (!k) return ng__rl_create_failed(err, NG_ENOMEM);
  k->cfg = t->cfg;
  k->cfg.n_envs = (int)E;
  k->cfg.vf_minibatch = t->cfg.vf_minibatch / t->cfg.blocks;
  k->cfg.blocks = 1;
  k->env_def = t->env_def;
  k->borrowed = 1;
  k->env0 = e0;
  k->envs_run = t->n_envs;
  k->envs = t->envs + e0;
  k->act_rng = t->act_rng + e0;
  k->obs_raw = t->obs_raw + e0 * od;
  k->obs_norm = t->obs_norm + e0 * od;
  k->ep_return = t->ep_return + e0;
  k->ep_length = t->ep_length + e0;
  k->disc_return = t->disc_return + e0;
  k->rng = t->rng; /* the init's draws, overwritten by t's parameters at the sync */
  ng_dist_t dist;
  int s = ng__rl_set_sizes(k, ng_env_info(t->envs[0]), &dist);
  if (s) s = ng__rl_create_failed(err, s);
  if (!s && !(s = ng__rl_create_policy(k, dist, err)) && !(s = ng__rl_create_value(k, err)) &&
      !(s = ng__rl_create_buffers(k, err)) && (s = ng_rl_set_split(k, NULL)))
    s = ng__rl_create_failed(err, s);
  if (s) {
    ng_rl_destroy(k);
    return s;
  }
  ng_rng_seed(&k->rng, t->cfg.seed, NG_RL_STREAM_BLOCK + b);
  *out = k;
  return NG_OK;
}

void ng_rl_destroy(ng_rl_t *t) {
  if (!t) return;
  ng__rl_blocks_destroy(t);
  if (t->borrowed) { /* the run's: not ours to free */
    t->envs = NULL;
    t->act_rng = NULL;
    t->obs_raw = t->obs_norm = t->ep_return = t->disc_return = NULL;
    t->ep_length = NULL;
  }
  if (t->envs)
    for (size_t e = 0; e < t->n_envs; e++) ng_env_destroy(t->envs[e]);
  ng_free(t->envs);
  ng_env_destroy(t->eval_env);
  ng_free(t->act_rng);
  ng_model_destroy(t->policy);
  ng_model_ws_destroy(t->pol_ws_step);
  if (!t->pol_kfac) ng_model_ws_destroy(t->pol_ws_batch); /* else K-FAC's own */
  ng_model_ws_destroy(t->pol_ws_eval);
  ng_fisher_destroy(t->fisher);
  ng_cg_destroy(t->cg);
  ng_kfac_destroy(t->pol_kfac);
  ng_kfac_destroy(t->vf_kfac);
  ng_mlp_destroy(t->vf);
  ng_mlp_ws_destroy(t->vf_ws);
  ng__mlpf_destroy(t->vf_f32);
  ng__adam_free(&t->adam);
  ng__rms_free(&t->obs_rms);
  ng__rms_free(&t->ret_rms);
  void *arrays[] = {t->theta, t->theta_backup, t->grad, t->step_dir, t->work_n, t->ent_grad,
                    t->vtheta, t->vgrad, t->perm, t->mb_obs, t->mb_target, t->mb_dy,
                    t->rms_work, t->obs_raw, t->obs_norm, t->ep_return, t->ep_length,
                    t->disc_return, t->b_obs, t->b_act, t->b_rew, t->b_term, t->b_trunc,
                    t->b_logp, t->b_pold, t->b_val, t->b_final_obs, t->b_final_val, t->b_adv,
                    t->b_ret, t->b_adv_n, t->b_w, t->b_scratch, t->b_idx, t->last_val,
                    t->step_p, t->step_logp, t->step_act, t->eval_obs, t->eval_obs_norm,
                    t->eval_act, t->eval_obs_raw, t->snap, t->step_obs, t->step_rew,
                    t->step_term, t->step_trunc,
                    t->step_status, t->share_rows, t->step_reset_obs, t->step_reset_status,
                    t->vstep, t->snap_kfac, t->blk_rng};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) ng_free(arrays[i]);
  ng_pool_destroy(t->pool); /* after everything that borrowed it */
  ng_free(t);
}

const ng_rl_config_t *ng_rl_config(const ng_rl_t *t) { return t ? &t->cfg : NULL; }
int ng_rl_done(const ng_rl_t *t) { return t && t->env_steps >= t->cfg.total_steps; }
long ng_rl_env_steps(const ng_rl_t *t) { return t ? t->env_steps : 0; }
long ng_rl_iteration(const ng_rl_t *t) { return t ? t->iteration : 0; }

int ng_rl_set_total_steps(ng_rl_t *t, long steps) {
  if (!t || steps < 1) return NG_EINVAL;
  t->cfg.total_steps = steps;
  return NG_OK;
}

/* Seconds one step of this run's environment takes: 64 steps of the evaluation env (which
 * ng_rl_evaluate reseeds and resets before use) with the middle of the action space. */
static double ng__env_step_seconds(ng_rl_t *t) {
  const ng_env_info_t *info = ng_env_info(t->eval_env);
  for (size_t j = 0; j < t->act_size; j++) {
    /* 0 is in every non-Box space */
    double lo = t->act_low ? t->act_low[j] : 0.0, hi = t->act_high ? t->act_high[j] : 0.0;
    t->eval_act[j] = isfinite(lo) && isfinite(hi) ? 0.5 * (lo + hi) : 0.0;
  }
  if (!info || ng_env_reset(t->eval_env, t->eval_obs) != NG_OK) return 0.0;
  const int n = 64;
  double t0 = ng__now();
  for (int k = 0; k < n; k++) {
    double r;
    int term = 0, trunc = 0;
    if (ng_env_step(t->eval_env, t->eval_act, t->eval_obs, &r, &term, &trunc) != NG_OK) return 0.0;
    if ((term || trunc) && ng_env_reset(t->eval_env, t->eval_obs) != NG_OK) return 0.0;
  }
  return (ng__now() - t0) / n;
}

/* An environment step worth handing to another thread: a pool job costs a few microseconds
 * (a wake-up and a join), CartPole's step 35 ns, a MuJoCo Hopper step 45 us. */
#define NG__PAR_ENV_STEP_S 5e-6

int ng_rl_set_threads(ng_rl_t *t, int n_threads) {
  if (!t || n_threads < 1 || n_threads > NG_POOL_MAX_THREADS) return NG_EINVAL;
  if (t->grp) { /* blocks run on n_threads threads at once, each block on one */
    t->blk_threads = n_threads;
    return NG_OK;
  }
  ng_pool_t *pool = NULL;
  if (n_threads > 1) {
    int s = ng_pool_create(&pool, n_threads);
    if (s) return s;
  }
  ng_model_ws_set_pool(t->pol_ws_batch, pool);
  if (t->fisher) ng_fisher_set_pool(t->fisher, pool);
  ng_mlp_ws_set_pool(t->vf_ws, pool);
  ng__mlpf_set_pool(t->vf_f32, pool);
  if (t->pol_kfac) ng_kfac_set_pool(t->pol_kfac, pool);
  if (t->vf_kfac) ng_kfac_set_pool(t->vf_kfac, pool);
  ng_pool_destroy(t->pool);
  t->pool = pool;
  /* a caller's environment is not timed here (it may step in Python, under a lock of its
   * own): its steps stay on the caller's thread unless ng_rl_set_threads_envs says */
  t->par_envs = pool && t->n_envs > 1 && !t->env_def &&
                ng__env_step_seconds(t) > NG__PAR_ENV_STEP_S;
  return NG_OK;
}

int ng_rl_set_threads_envs(ng_rl_t *t, int on) {
  if (!t) return NG_EINVAL;
  t->par_envs = t->pool && t->n_envs > 1 && on;
  return NG_OK;
}

int ng_rl_set_split(ng_rl_t *t, const ng_split_t *sp) {
  if (!t) return NG_EINVAL;
  if (t->grp) return ng__rl_blocks_set_split(t, sp);
  ng_split_t one = {0, 0, 1, NULL, NULL, NULL};
  t->split = sp ? *sp : one;
  t->split.slices = (size_t)t->cfg.slices;
  /* ACKTR's batch workspace is its K-FAC's, whose factors read every row's activations */
  ng_split_t whole = t->split;
  whole.size = 1;
  int s = ng_mlp_ws_set_split(ng_model_ws_mlp(t->pol_ws_batch), t->pol_kfac ? &whole : &t->split);
  if (!s) s = ng_mlp_ws_set_split(t->vf_ws, &t->split);
  if (!s && t->fisher) s = ng_fisher_set_split(t->fisher, &t->split);
  return s;
}

int ng_rl_set_reducer(ng_rl_t *t, const ng_reducer_t *r) {
  if (!t || (t->grp && r)) return NG_EINVAL;
  ng_reducer_t id = {NULL, NULL};
  t->reducer = r ? *r : id;
  if (t->pol_kfac) ng_kfac_set_reducer(t->pol_kfac, &t->reducer);
  if (t->vf_kfac) ng_kfac_set_reducer(t->vf_kfac, &t->reducer);
  return t->fisher ? ng_fisher_set_reducer(t->fisher, &t->reducer) : NG_OK;
}

const double *ng_rl_policy_params(const ng_rl_t *t, size_t *n) {
  if (n) *n = t ? t->n_pol : 0;
  return t ? t->theta : NULL;
}

const double *ng_rl_value_params(const ng_rl_t *t, size_t *n) {
  if (n) *n = t ? t->n_vf : 0;
  return t ? t->vtheta : NULL;
}

/* Copies the parameters, optimiser state and normaliser statistics into t->snap (take) or
 * back (restore). */
static void ng__snapshot(ng_rl_t *t, int restore) {
  double *p = t->snap;
  struct {
    double *x;
    size_t n;
  } parts[] = {{t->theta, t->n_pol},        {t->vtheta, t->n_vf},
               {t->adam.m, t->n_vf},        {t->adam.v, t->n_vf},
               {t->obs_rms.mean, t->obs_dim}, {t->obs_rms.var, t->obs_dim},
               {t->ret_rms.mean, 1},        {t->ret_rms.var, 1},
               {&t->obs_rms.count, 1},      {&t->ret_rms.count, 1}};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    if (restore) memcpy(parts[i].x, p, parts[i].n * sizeof(double));
    else memcpy(p, parts[i].x, parts[i].n * sizeof(double));
    p += parts[i].n;
  }
  if (restore) t->adam.t = t->snap_adam_t;
  else t->snap_adam_t = t->adam.t;
  if (!t->snap_kfac) return;
  /* ACKTR's running factors: sizes fixed at create, so neither call can fail */
  unsigned char *kp = t->snap_kfac, *kv = t->snap_kfac + t->snap_pol_kfac;
  if (restore) {
    ng_kfac_state_load(t->pol_kfac, kp, t->snap_pol_kfac);
    ng_kfac_state_load(t->vf_kfac, kv, t->snap_vf_kfac);
  } else {
    ng_kfac_state_save(t->pol_kfac, kp, t->snap_pol_kfac);
    ng_kfac_state_save(t->vf_kfac, kv, t->snap_vf_kfac);
  }
}

void ng__rl_copy_shared(ng_rl_t *dst, ng_rl_t *src) {
  ng__snapshot(src, 0);
  memcpy(dst->snap, src->snap, ng__snap_doubles(src) * sizeof *src->snap);
  dst->snap_adam_t = src->snap_adam_t;
  if (src->snap_kfac)
    memcpy(dst->snap_kfac, src->snap_kfac, src->snap_pol_kfac + src->snap_vf_kfac);
  ng__snapshot(dst, 1);
  dst->started = src->started;
  dst->iteration = src->iteration;
}

int ng_rl_iterate(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err) {
  if (!t) return ng_error_set(err, NG_EINVAL, "rl: NULL trainer");
  ng_rl_stats_t local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  stats->mean_return = stats->mean_length = NAN;
  if (t->grp) return ng__rl_blocks_iterate(t, stats, err);
  ng__snapshot(t, 0);
  double t0 = ng__now();
  int s = ng__rl_rollout(t, stats, err);
  double t1 = ng__now();
  stats->rollout_seconds = t1 - t0;
  if (!s) s = ng__rl_advantages(t, err);
  double t2 = ng__now();
  if (!s)
    s = t->pol_kfac ? ng__rl_acktr_policy_update(t, stats, err)
                    : ng__rl_policy_update(t, stats, err);
  stats->policy_update_seconds = ng__now() - t2;
  if (!s) s = ng__rl_value_fit(t, stats, err);
  stats->update_seconds = ng__now() - t1;
  if (s) {
    /* back to the last good state; the message names the iteration that failed */
    ng__snapshot(t, 1);
    if (err) {
      char msg[sizeof err->message];
      snprintf(msg, sizeof msg, "%s", err->message);
      ng_error_set(err, s, "iteration %ld: %s; the policy and value function are left at "
                   "their last good values", t->iteration + 1, msg);
    }
    return s;
  }
  t->iteration++;
  stats->iteration = t->iteration;
  stats->env_steps = t->env_steps;
  ng_error_clear(err);
  return NG_OK;
}

int ng_rl_predict(ng_rl_t *t, size_t rows, const double *obs, int deterministic,
                  ng_rng_t *rng, double *actions, ng_error_t *err) {
  if (!t || (rows && (!obs || !actions)) || (!deterministic && !rng))
    return ng_error_set(err, NG_EINVAL, "predict: bad arguments");
  const ng_dist_t dist = ng_model_dist(t->policy);
  const size_t n_raw = ng_space_size(&t->obs_space);
  for (size_t i = 0; i < rows; i++) {
    memcpy(t->eval_obs, obs + i * n_raw, n_raw * sizeof(double));
    int s = ng__rl_obs_encode(t, t->eval_obs);
    if (s)
      return ng_error_set(err, s, "predict: observation %zu is not in the observation space (%s)",
                          i, ng_strerror(s));
    const double *x = t->eval_obs;
    if (t->cfg.normalize_obs) {
      ng__rms_normalize(&t->obs_rms, 1, t->eval_obs, t->cfg.obs_clip, t->eval_obs_norm);
      x = t->eval_obs_norm;
    }
    s = ng_model_forward(t->policy, t->theta, t->pol_ws_eval, 1, x, NULL);
    if (s) return ng_error_set(err, s, "predict: policy forward failed (%s)", ng_strerror(s));
    const double *p = ng_model_ws_params(t->pol_ws_eval);
    double *a = actions + i * t->act_size;
    s = deterministic ? ng_dist_mode(&dist, p, a) : ng_dist_sample(&dist, p, rng, a);
    if (s) return ng_error_set(err, s, "predict: action failed (%s)", ng_strerror(s));
    ng__rl_clip_action(t, a);
  }
  ng_error_clear(err);
  return NG_OK;
}

/* Both evaluate calls: returns and/or episodes (one may be NULL, not both). */
static int ng__rl_evaluate(ng_rl_t *t, int n_episodes, uint64_t seed, int deterministic,
                           double *returns, ng_rl_episode_t *episodes, ng_error_t *err) {
  if (!t || !(returns || episodes) || n_episodes < 1)
    return ng_error_set(err, NG_EINVAL, "evaluate: bad arguments");
  ng_rng_t act_rng;
  ng_rng_seed(&act_rng, seed, NG_RL_STREAM_EVAL);
  ng_env_seed(t->eval_env, seed, 0);
  double *raw = t->eval_obs_raw;
  /* a hard cap for environments without a time limit */
  long cap = t->max_episode_steps > 0 ? t->max_episode_steps : 1000000;
  for (int ep = 0; ep < n_episodes; ep++) {
    int s = ng_env_reset(t->eval_env, raw);
    if (s) return ng_error_set(err, s, "evaluate: reset failed (%s)", ng_strerror(s));
    double ret = 0.0;
    long length = 0;
    int term = 0, trunc = 0;
    while (!term && !trunc && length < cap) {
      s = ng_rl_predict(t, 1, raw, deterministic, &act_rng, t->eval_act, err);
      if (s) return s;
      double r;
      s = ng_env_step(t->eval_env, t->eval_act, raw, &r, &term, &trunc);
      if (s) return ng_error_set(err, s, "evaluate: episode %d step %ld: %s", ep, length + 1,
                                 ng_strerror(s));
      ret += r;
      length++;
    }
    if (returns) returns[ep] = ret;
    if (episodes)
      episodes[ep] = (ng_rl_episode_t){.ret = ret, .length = length, .terminated = term != 0};
  }
  ng_error_clear(err);
  return NG_OK;
}

int ng_rl_evaluate(ng_rl_t *t, int n_episodes, uint64_t seed, int deterministic,
                   double *returns, ng_error_t *err) {
  return ng__rl_evaluate(t, n_episodes, seed, deterministic, returns, NULL, err);
}

int ng_rl_evaluate_episodes(ng_rl_t *t, int n_episodes, uint64_t seed, int deterministic,
                            ng_rl_episode_t *episodes, ng_error_t *err) {
  return ng__rl_evaluate(t, n_episodes, seed, deterministic, NULL, episodes, err);
}
