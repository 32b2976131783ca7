/* Rollouts: n_envs environments stepped together, one batched policy forward per step, into
 * the time-major buffer; running observation / reward normalisation as VecNormalize does it;
 * then value predictions and GAE. Nothing here allocates. */
#include <math.h>
#include <string.h>

#include "rl/rl_impl.h"

/* VecNormalize.reset: the first observations enter the running statistics. */
static int ng__first_obs(ng_rl_t *t, ng_error_t *err) {
  if (t->cfg.normalize_obs) {
    int s = ng__rms_update(&t->obs_rms, t->n_envs, t->obs_raw, &t->reducer, t->rms_work);
    if (s) return ng_error_set(err, s, "rollout: observation statistics: %s", ng_strerror(s));
    ng__rms_normalize(&t->obs_rms, t->n_envs, t->obs_raw, t->cfg.obs_clip, t->obs_norm);
  }
  t->started = 1;
  return NG_OK;
}

int ng__rl_obs_encode(const ng_rl_t *t, double *x) {
  /* every step of every env comes here: a Box observation only has to be finite */
  if (t->obs_space.kind == NG_SPACE_BOX)
    return ng_all_finite(t->obs_dim, x) ? NG_OK : NG_ENONFINITE;
  int s = ng_space_contains(&t->obs_space, x, NULL);
  if (s || t->obs_space.kind != NG_SPACE_DISCRETE) return s;
  const size_t k = (size_t)x[0];
  memset(x, 0, t->obs_dim * sizeof *x);
  x[k] = 1.0;
  return NG_OK;
}

int ng__rl_env_reset(const ng_rl_t *t, ng_env_t *env, double *obs) {
  int s = ng_env_reset(env, obs);
  return s ? s : ng__rl_obs_encode(t, obs);
}

void ng__rl_clip_action(const ng_rl_t *t, double *a) {
  if (!t->cfg.clip_actions || !t->act_low || !t->act_high) return; /* Box actions only */
  for (size_t j = 0; j < t->act_size; j++) {
    if (a[j] < t->act_low[j]) a[j] = t->act_low[j];
    if (a[j] > t->act_high[j]) a[j] = t->act_high[j];
  }
}

typedef struct {
  ng_rl_t *t;
  const double *act; /* n_envs x act_size: this step's sampled actions */
  size_t first;      /* task i steps env first + i */
} ng__step_job_t;

/* Env e's step into its slots of step_*. The buffer keeps the sampled action for the
 * log-probs; the env gets it clipped to its Box (SB3's collect_rollouts) or, with
 * clip_actions = 0, as sampled (the env clips the force as Gymnasium does, but
 * MountainCarContinuous charges the unclipped action's square). Envs share nothing, so
 * these run on the pool when a step is costly (ng_rl_set_threads); everything after the
 * step happens in env order on the caller's thread. */
static int ng__env_step_task(void *ctx, size_t i) {
  const ng__step_job_t *j = ctx;
  const size_t e = j->first + i;
  ng_rl_t *t = j->t;
  const size_t as = t->act_size;
  double *a = t->step_act + e * as;
  memcpy(a, j->act + e * as, as * sizeof(double));
  ng__rl_clip_action(t, a);
  t->step_term[e] = t->step_trunc[e] = 0;
  t->step_status[e] = ng_env_step(t->envs[e], a, t->step_obs + e * t->obs_dim, &t->step_rew[e],
                                  &t->step_term[e], &t->step_trunc[e]);
  return NG_OK;
}

int ng__rl_rollout(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err) {
  const size_t E = t->n_envs, od = t->obs_dim, as = t->act_size, nd = t->n_dist;
  const ng_dist_t dist = ng_model_dist(t->policy);
  double ep[3] = {0.0, 0.0, 0.0}; /* episodes ended, sum of returns, sum of lengths */
  int s;
  if (!t->started && (s = ng__first_obs(t, err))) return s;

  for (size_t step = 0; step < t->n_steps; step++) {
    const size_t row0 = step * E;
    /* one forward over the n_envs current observations */
    s = ng_model_forward(t->policy, t->theta, t->pol_ws_step, E, t->obs_norm, t->step_p);
    if (s) return ng_error_set(err, s, "rollout: policy forward failed (%s)", ng_strerror(s));
    double *act = t->b_act + row0 * as, *logp = t->b_logp + row0;
    /* Shared: only this process's envs; the others' actions and log-probs (the same bits:
     * per-env streams, per-row log-probs) come with their step records. */
    const size_t e0 = t->shared ? t->share.first : 0, e1 = t->shared ? e0 + t->share.count : E;
    for (size_t e = e0; e < e1; e++) {
      s = ng_dist_sample(&dist, t->step_p + e * nd, &t->act_rng[e], act + e * as);
      if (s) return ng_error_set(err, s, "rollout: sampling env %zu's action failed (%s)",
                                 t->env0 + e, ng_strerror(s));
      s = ng_dist_logp(&dist, t->step_p + e * nd, act + e * as, &logp[e]);
      if (s) return ng_error_set(err, s, "rollout: log-prob failed (%s)", ng_strerror(s));
    }
    memcpy(t->b_obs + row0 * od, t->obs_norm, E * od * sizeof(double));
    memcpy(t->b_pold + row0 * nd, t->step_p, E * nd * sizeof(double));

    ng__step_job_t job = {t, act, 0};
    if (t->shared) { /* this process's share only; the others' come from the gather */
      const size_t first = t->share.first, n = t->share.count;
      job.first = first;
      if (t->par_envs) ng_pool_run(t->pool, n, ng__env_step_task, &job);
      for (size_t i = 0; !t->par_envs && i < n; i++) ng__env_step_task(&job, i);
      if ((s = ng__rl_share_step(t, act, logp, err))) return s;
    } else if (t->par_envs) {
      ng_pool_run(t->pool, E, ng__env_step_task, &job);
    }
    for (size_t e = 0; e < E; e++) {
      const size_t row = row0 + e;
      if (!t->par_envs && !t->shared) ng__env_step_task(&job, e);
      double r = t->step_rew[e];
      int term = t->step_term[e], trunc = t->step_trunc[e];
      /* into obs_raw only once it is known to be good (and a Discrete index one-hot) */
      double *obs = t->step_obs + e * od;
      s = t->step_status[e];
      /* the run's step count in env order (a block's trainer: of all blocks' envs) */
      const long run_step =
          t->env_steps / (long)E * (long)t->envs_run + (long)(t->env0 + e) + 1;
      if (t->step_hook) s = t->step_hook(t->step_hook_ctx, t->env0 + e, run_step, s, obs, &r);
      /* checked here, where it happens: nothing non-finite reaches the buffer or the
       * normalisers (the env wrapper checks too; this holds for any environment) */
      const int bad_obs = s || !isfinite(r) ? NG_OK : ng__rl_obs_encode(t, obs);
      const char *what = s ? ng_strerror(s) : !isfinite(r) ? "non-finite reward"
                         : bad_obs == NG_ENONFINITE ? "non-finite observation"
                         : bad_obs ? "an observation outside its Discrete space" : NULL;
      if (what)
        return ng_error_set(err, s ? s : bad_obs ? bad_obs : NG_ENONFINITE,
                            "rollout: %s env %zu, step %ld of its episode (step %ld of the "
                            "run): %s", t->cfg.env_id, t->env0 + e,
                            t->ep_length[e] + 1, run_step, what);
      memcpy(t->obs_raw + e * od, obs, od * sizeof(double));
      t->ep_return[e] += r;
      t->ep_length[e]++;
      /* The trainer keeps the time limit itself so that a resumed run (whose envs restart
       * their own step counters in ng_env_set_state) truncates at the same step. */
      if (t->max_episode_steps > 0 && t->ep_length[e] >= t->max_episode_steps) trunc = 1;
      t->b_rew[row] = r;
      t->b_term[row] = (unsigned char)(term != 0);
      t->b_trunc[row] = (unsigned char)(trunc != 0 && !term);
      if (term || trunc) {
        if (!term) memcpy(t->b_final_obs + row * od, t->obs_raw + e * od, od * sizeof(double));
        ep[0] += 1.0;
        ep[1] += t->ep_return[e];
        ep[2] += (double)t->ep_length[e];
        t->ep_return[e] = 0.0;
        t->ep_length[e] = 0;
        if (t->shared) { /* the owner reset it (src/rl/share.c) */
          s = t->step_reset_status[e];
          memcpy(t->obs_raw + e * od, t->step_reset_obs + e * od, od * sizeof(double));
        } else {
          s = ng__rl_env_reset(t, t->envs[e], t->obs_raw + e * od);
        }
        if (s) return ng_error_set(err, s, "rollout: %s env %zu, reset after step %ld of the "
                                   "run failed: %s", t->cfg.env_id, t->env0 + e, run_step,
                                   ng_strerror(s));
      }
    }
    t->env_steps += (long)E;

    /* VecNormalize.step_wait: statistics from the returned (post-reset) observations, then
     * the observations and the truncations' final observations normalised with them; and
     * the discounted returns' statistics. One reduction for both (independent) sums. */
    double *obs_work = t->rms_work;
    double *ret_work = obs_work + (t->cfg.normalize_obs ? 1 + 2 * od : 0);
    if (t->cfg.normalize_obs) ng__rms_moments(&t->obs_rms, E, t->obs_raw, obs_work);
    if (t->cfg.normalize_reward) {
      for (size_t e = 0; e < E; e++)
        t->disc_return[e] = t->disc_return[e] * t->cfg.gamma + t->b_rew[row0 + e];
      ng__rms_moments(&t->ret_rms, E, t->disc_return, ret_work);
    }
    const size_t n_work = (size_t)(ret_work - obs_work) + (t->cfg.normalize_reward ? 3 : 0);
    if (n_work && (s = ng_reduce_sum(&t->reducer, t->rms_work, n_work)))
      return ng_error_set(err, s, "rollout: normaliser statistics: %s", ng_strerror(s));
    if (t->cfg.normalize_obs) {
      if ((s = ng__rms_apply(&t->obs_rms, obs_work)))
        return ng_error_set(err, s, "rollout: observation statistics: %s", ng_strerror(s));
      ng__rms_normalize(&t->obs_rms, E, t->obs_raw, t->cfg.obs_clip, t->obs_norm);
      for (size_t e = 0; e < E; e++)
        if (t->b_trunc[row0 + e]) {
          double *f = t->b_final_obs + (row0 + e) * od;
          ng__rms_normalize(&t->obs_rms, 1, f, t->cfg.obs_clip, f);
        }
    } else {
      memcpy(t->obs_norm, t->obs_raw, E * od * sizeof(double));
    }
    if (t->cfg.normalize_reward) {
      if ((s = ng__rms_apply(&t->ret_rms, ret_work)))
        return ng_error_set(err, s, "rollout: return statistics: %s", ng_strerror(s));
      double scale = sqrt(t->ret_rms.var[0] + NG_RL_NORM_EPS), c = t->cfg.reward_clip;
      for (size_t e = 0; e < E; e++) {
        double z = t->b_rew[row0 + e] / scale;
        t->b_rew[row0 + e] = z < -c ? -c : (z > c ? c : z);
        if (t->b_term[row0 + e] || t->b_trunc[row0 + e]) t->disc_return[e] = 0.0;
      }
    }
  }

  int s2 = ng_reduce_sum(&t->reducer, ep, 3);
  if (s2) return ng_error_set(err, s2, "rollout: reducer failed (%s)", ng_strerror(s2));
  stats->episodes = (int)ep[0];
  stats->mean_return = ep[0] > 0 ? ep[1] / ep[0] : NAN;
  stats->mean_length = ep[0] > 0 ? ep[2] / ep[0] : NAN;
  return NG_OK;
}

int ng__rl_advantages(ng_rl_t *t, ng_error_t *err) {
  const size_t N = t->batch, E = t->n_envs, od = t->obs_dim;
  int s = ng__rl_values(t, N, t->b_obs, t->b_val);
  if (s) return ng_error_set(err, s, "advantages: value forward failed (%s)", ng_strerror(s));
  /* values of the truncations' final observations, in one gathered forward (none when a
   * truncation counts as a termination) */
  const int bootstrap = !t->cfg.timeout_terminal;
  size_t k = 0;
  for (size_t i = 0; bootstrap && i < N; i++)
    if (t->b_trunc[i]) {
      memcpy(t->b_scratch + k * od, t->b_final_obs + i * od, od * sizeof(double));
      t->b_idx[k++] = i;
    }
  if (k > 0) {
    s = ng__rl_values(t, k, t->b_scratch, t->b_w); /* b_w: free until the policy step */
    if (s) return ng_error_set(err, s, "advantages: value forward failed (%s)", ng_strerror(s));
    for (size_t j = 0; j < k; j++) t->b_final_val[t->b_idx[j]] = t->b_w[j];
  }
  s = ng__rl_values(t, E, t->obs_norm, t->last_val);
  if (s) return ng_error_set(err, s, "advantages: value forward failed (%s)", ng_strerror(s));
  s = ng__gae(t->n_steps, E, t->cfg.gamma, t->cfg.gae_lambda, t->b_rew, t->b_val, t->b_term,
              t->b_trunc, bootstrap ? t->b_final_val : NULL, t->last_val, t->b_adv, t->b_ret);
  if (s) return ng_error_set(err, s, "advantages: non-finite advantages (value function "
                             "diverged?)");
  return NG_OK;
}
