/* Private to src/rl: the trainer's layout and the building blocks (GAE, running
 * normaliser, Adam, value fit) that tests check one by one. Not installed. */
#ifndef NG_RL_IMPL_H
#define NG_RL_IMPL_H

#include <stdint.h>

#include "natgrad/core.h"
#include "natgrad/env.h"
#include "natgrad/fisher.h"
#include "natgrad/kfac.h"
#include "natgrad/linalg.h"
#include "natgrad/mlp.h"
#include "natgrad/model.h"
#include "natgrad/optim.h"
#include "natgrad/pool.h"
#include "natgrad/rl.h"
#include "adam.h"
#include "mlp_f32.h"

/* Constants from Stable-Baselines3 (RunningMeanStd, VecNormalize, TRPO's advantage
 * normalisation) and Kingma & Ba (Adam). */
#define NG_RL_RMS_INIT_COUNT 1e-4 /* RunningMeanStd(epsilon=1e-4): prior count */
#define NG_RL_NORM_EPS 1e-8       /* VecNormalize: x / sqrt(var + 1e-8) */
#define NG_RL_ADV_EPS 1e-8        /* (A - mean) / (std + 1e-8) */
#define NG_RL_ADAM_BETA1 0.9
#define NG_RL_ADAM_BETA2 0.999
#define NG_RL_ADAM_EPS 1e-5 /* SB3 ActorCriticPolicy: optimizer_kwargs["eps"] = 1e-5 for Adam */

/* Random streams of one seed: env i uses stream i (its own dynamics), its action sampling
 * stream NG_RL_STREAM_ACTION + i; the trainer (init, shuffles, Fisher sub-sampling) uses
 * NG_RL_STREAM_TRAINER. Far apart so they never collide for any n_envs. */
#define NG_RL_STREAM_ACTION 0x100000000ULL
#define NG_RL_STREAM_TRAINER 0x200000000ULL
#define NG_RL_STREAM_EVAL 0x300000000ULL

/* ---- running mean / variance (parallel-merge form) ---------------------------------------- */

typedef struct {
  size_t dim;
  double count;
  double *mean; /* dim */
  double *var;  /* dim (population variance) */
} ng__rms_t;

int ng__rms_init(ng__rms_t *r, size_t dim);
void ng__rms_free(ng__rms_t *r);
void ng__rms_reset(ng__rms_t *r); /* count 1e-4, mean 0, var 1 */
/* Merges a batch summarised by (count, mean, population var) (Chan et al.):
 *   d = mb - m, n' = n + nb, m' = m + d nb / n', var' = (var n + vb nb + d^2 n nb / n') / n'. */
void ng__rms_merge(ng__rms_t *r, double batch_count, const double *batch_mean,
                   const double *batch_var);
/* Merges rows x (rows x dim) of the local batch after one reduction of
 * [count, sum (x - m), sum (x - m)^2] (m the current mean, equal on every participant).
 * work holds 1 + 2 dim doubles. */
int ng__rms_update(ng__rms_t *r, size_t rows, const double *x, const ng_reducer_t *red,
                   double *work);
/* Its two halves, for callers that reduce several statistics' sums at once: the local sums
 * into work (1 + 2 dim), and the merge of the reduced ones (NG_ENONFINITE if any is not
 * finite). */
void ng__rms_moments(const ng__rms_t *r, size_t rows, const double *x, double *work);
int ng__rms_apply(ng__rms_t *r, double *work);
/* out = clip((x - mean) / sqrt(var + 1e-8), -clip, clip) for rows x dim. */
void ng__rms_normalize(const ng__rms_t *r, size_t rows, const double *x, double clip,
                       double *out);

/* ---- GAE ---------------------------------------------------------------------------------- */

/* Generalised advantage estimation over a time-major buffer of T steps x E envs (row
 * t*E + e). For each row:
 *   next = final_val[row]          if truncated[row] (and not terminated)
 *        = values[row + E]         if t < T-1
 *        = last_val[e]             if t = T-1
 *   delta = r + gamma * next * (1 - terminated) - values[row]
 *   A     = delta + gamma * lambda * (1 - done) * A[row + E]      (done = term or trunc)
 * and returns = A + values. final_val is read only where truncated; NULL makes a
 * truncation a termination (next = 0: no bootstrap). */
int ng__gae(size_t n_steps, size_t n_envs, double gamma, double lambda, const double *rewards,
            const double *values, const unsigned char *terminated,
            const unsigned char *truncated, const double *final_val, const double *last_val,
            double *adv, double *returns);

/* ---- Adam (Kingma & Ba 2015) --------------------------------------------------------------- */

typedef struct {
  size_t n;
  double *m, *v;    /* first and second moments, n each */
  long t;           /* steps taken */
  ng__adam_hp_t hp; /* lr, betas, eps (src/adam.h) */
} ng__adam_t;

int ng__adam_init(ng__adam_t *a, size_t n, double lr);
void ng__adam_free(ng__adam_t *a);
/* t += 1; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * theta -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). */
void ng__adam_step(ng__adam_t *a, double *theta, const double *g);

/* ---- the trainer -------------------------------------------------------------------------- */

struct ng_rl {
  ng_rl_config_t cfg;
  ng_reducer_t reducer;
  ng_split_t split; /* slices = cfg.slices; rank, size, gather from ng_rl_set_split */

  /* sizes */
  size_t n_envs, n_steps, batch;  /* batch = n_envs * n_steps */
  size_t obs_dim, act_size, n_dist; /* act_size doubles per action, n_dist per dist row */
  int max_episode_steps;
  ng_space_t obs_space;             /* the env's (pointers into the registry, static) */
  const double *act_low, *act_high; /* Box bounds (env info, static), NULL for other kinds */

  /* environments and their running episodes */
  const ng_env_def_t *env_def; /* the caller's (ng_rl_create_with_env), or NULL: registered */
  ng_env_t **envs;
  ng_rng_t *act_rng;       /* n_envs action-sampling streams */
  double *obs_raw;         /* n_envs x obs_dim: current raw observation */
  double *obs_norm;        /* n_envs x obs_dim: as the policy sees it */
  double *ep_return;       /* n_envs: raw undiscounted return so far */
  long *ep_length;         /* n_envs: steps in the current episode (time limit is ours) */
  double *disc_return;     /* n_envs: discounted return for reward normalisation */

  /* policy */
  ng_model_t *policy;
  size_t n_pol;
  double *theta;           /* n_pol */
  double *theta_backup;    /* n_pol: last good parameters */
  ng_model_ws_t *pol_ws_step;  /* n_envs rows (rollout) */
  ng_model_ws_t *pol_ws_batch; /* batch rows (update) */
  ng_model_ws_t *pol_ws_eval;  /* 1 row */
  ng_fisher_t *fisher;
  ng_cg_t *cg;
  ng_kfac_t *pol_kfac;     /* ACKTR only (else NULL): the policy's K-FAC over the batch */
  double *grad, *step_dir, *work_n, *ent_grad; /* n_pol each */

  /* value function */
  ng_mlp_t *vf;
  size_t n_vf;
  double *vtheta;          /* n_vf */
  double *vgrad;           /* n_vf + 2: gradient sum, loss sum, count */
  ng_mlp_ws_t *vf_ws;      /* batch rows */
  ng__mlpf_t *vf_f32;      /* vf_precision = f32 only (else NULL): float passes, batch rows */
  ng__adam_t adam;
  size_t *perm;            /* batch: minibatch shuffle */
  double *mb_obs, *mb_target, *mb_dy; /* minibatch scratch */
  ng_kfac_t *vf_kfac;      /* ACKTR only: the value function's Gauss-Newton K-FAC (minibatch) */
  double *vstep;           /* ACKTR only: n_vf, the value step */

  /* normalisers */
  ng__rms_t obs_rms, ret_rms;
  double *rms_work;        /* 4 + 2 max(obs_dim, n_envs): a step's obs and return sums */

  /* rollout buffer, time-major rows t*n_envs + e */
  double *b_obs;           /* batch x obs_dim (normalised) */
  double *b_act;           /* batch x act_size (as sampled) */
  double *b_rew;           /* batch (normalised if normalize_reward) */
  unsigned char *b_term, *b_trunc;
  double *b_logp;          /* batch */
  double *b_pold;          /* batch x n_dist */
  double *b_val;           /* batch */
  double *b_final_obs;     /* batch x obs_dim: normalised final obs of truncated rows */
  double *b_final_val;     /* batch */
  double *b_adv, *b_ret;   /* batch */
  double *b_adv_n;         /* batch: advantages as used by the surrogate */
  double *b_w;             /* batch: per-row weights (scratch) */
  double *b_scratch;       /* batch x max(obs_dim, n_dist): gathers */
  size_t *b_idx;           /* batch: gather indices */
  double *last_val;        /* n_envs */
  double *step_p;          /* n_envs x n_dist */
  double *step_logp;       /* n_envs */
  double *step_act;        /* n_envs x act_size: the actions handed to the envs */
  double *step_obs;        /* n_envs x obs_dim: the observations they return, until checked */
  double *step_rew;        /* n_envs: their rewards, until checked */
  int *step_term, *step_trunc, *step_status; /* n_envs: their flags and statuses */

  /* threads (ng_rl_set_threads): the batch passes (policy gradient, Fisher products, value
   * fit) run on the pool, and so do the environment steps when one costs enough */
  ng_pool_t *pool;         /* NULL: one thread */
  int par_envs;            /* step the environments on the pool */

  /* environments split over processes (ng_rl_set_env_share; src/rl/share.c): this one
   * steps [share.first, share.first + share.count) and gathers the others' records */
  int shared;
  ng_rl_env_share_t share;
  unsigned char *share_rows;  /* n_envs records: a step's outputs, or an env's state */
  double *step_reset_obs;     /* n_envs x obs_dim: an owner's reset after an episode ended */
  int *step_reset_status;     /* n_envs */

  /* evaluation (separate env) */
  ng_env_t *eval_env;
  double *eval_obs, *eval_obs_norm, *eval_act; /* ng_rl_predict's row */
  double *eval_obs_raw;    /* evaluate's observation, as the env writes it */

  /* the last good state, taken at the start of every iteration and put back if it fails:
   * theta | vtheta | Adam m | Adam v | obs mean | obs var | ret mean | ret var | counts */
  double *snap;
  long snap_adam_t;
  unsigned char *snap_kfac; /* ACKTR only: the two K-FACs' states (policy's, then value's) */
  size_t snap_pol_kfac, snap_vf_kfac; /* their sizes */

  /* Test hook (NULL in normal use): called after every environment step with the step's
   * status and outputs, which it may change, to play a misbehaving environment (a NaN
   * observation, an Inf reward, a failing step) where a real one would. Returns the status
   * the trainer then sees. run_step counts the environment steps of the run (from 1). */
  int (*step_hook)(void *ctx, size_t env, long run_step, int status, double *obs,
                   double *reward);
  void *step_hook_ctx;

  /* env blocks (cfg.blocks > 1, src/rl/blocks.c). The run's trainer holds the run's state
   * and every env but no batch: it runs its blocks' trainers (blk_count of them, from block
   * blk_first) on threads and takes their state after each iteration. A block's trainer is
   * a one-block trainer over its envs, which it borrows from the run's (with their episode
   * state), and whose batch sums go through the blocks' reduction (its reducer). */
  struct ng__blocks *grp;
  ng_rl_t **blk;
  size_t blk_first, blk_count;
  ng_rng_t *blk_rng;  /* every block's random stream (the checkpoint's), blocks only */
  int blk_threads;    /* threads the blocks run on at once */
  int borrowed;       /* a block's trainer: envs and per-env state are the run's */
  size_t env0, envs_run; /* its first env's index in the run, the run's n_envs (else 0, E) */

  /* training RNG and counters */
  ng_rng_t rng;
  int started;             /* the first observations have entered the normaliser */
  long iteration;
  long env_steps;
};

/* In place: a Box action clipped to the action space when cfg.clip_actions (else kept). */
void ng__rl_clip_action(const ng_rl_t *t, double *a);

/* The policy's distribution for an action space, the one mapping the trainer and the
 * checkpoint loader share: Box -> Gaussian, Discrete -> categorical, MultiDiscrete ->
 * ng_dist_multi_discrete(nvec), MultiBinary -> NG_DIST_MULTI_BINARY. NG_EUNSUPPORTED (and
 * *dist untouched) for anything else, e.g. a MultiDiscrete past NG_DIST_MAX_COMPONENTS. */
int ng__rl_action_dist(const ng_space_t *space, ng_dist_t *dist);
/* Inputs of the policy and value networks for an observation space: a Box's dim, a
 * Discrete's n (fed one-hot); 0 (unsupported) for other kinds. */
size_t ng__rl_obs_inputs(const ng_space_t *space);
/* In place: an environment's observation (ng_space_size doubles at x) as the networks'
 * input (obs_dim doubles at x): checked with ng_space_contains (NG_ENONFINITE for NaN/Inf,
 * NG_EINVAL for a Discrete index that is not an integer in [0, n)), then a Discrete index
 * expanded one-hot. */
int ng__rl_obs_encode(const ng_rl_t *t, double *x);
/* Starts an episode of env and writes its observation as the networks take it (encoded). */
int ng__rl_env_reset(const ng_rl_t *t, ng_env_t *env, double *obs);

/* With a share: after the owned envs' steps (and, for those whose episode ended, their
 * resets), every env's outputs from its owner into step_* and step_reset_* (src/rl/share.c). */
int ng__rl_share_step(ng_rl_t *t, double *act, double *logp, ng_error_t *err);
/* Whether env e's step just taken ends its episode, as the rollout will decide it once its
 * outputs have been checked: the owner resets it at once. */
int ng__rl_step_ends_episode(const ng_rl_t *t, size_t e);

/* Rollout of n_steps x n_envs into the buffer (src/rl/rollout.c); fills the episode part
 * of stats. */
int ng__rl_rollout(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err);
/* Value predictions for the buffer, the truncations' final observations and the last
 * observations, then GAE. */
int ng__rl_advantages(ng_rl_t *t, ng_error_t *err);
/* The policy update (TRPO or NPG) on the filled buffer (src/rl/trpo.c). */
int ng__rl_policy_update(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err);
/* Its first steps, shared with ACKTR: the advantages as the surrogate uses them (b_adv_n),
 * then grad = -grad L at theta (reduced), *loss0 = -L(theta), stats->entropy. */
int ng__rl_policy_gradient(ng_rl_t *t, ng_rl_stats_t *stats, double *loss0, ng_error_t *err);
/* ACKTR's policy update (src/rl/acktr.c): the K-FAC natural gradient of the same surrogate,
 * scaled to the quadratic-KL bound and capped by acktr_lr. */
int ng__rl_acktr_policy_update(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err);
/* ACKTR's value step on the minibatch whose gradient of (1/2) mean (V - target)^2 is in
 * vgrad (reduced, n_vf) after a forward on vf_kfac's workspace: K-FAC Gauss-Newton. */
int ng__rl_acktr_value_step(ng_rl_t *t);
/* y (rows) = V(x) at vtheta, in the value function's precision (float passes when
 * vf_f32, loading vtheta each call). */
int ng__rl_values(ng_rl_t *t, size_t rows, const double *x, double *y);
/* Adam on the MSE to b_ret over shuffled minibatches (src/rl/value.c); vf_loss and
 * explained variance into stats. */
int ng__rl_value_fit(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err);
/* Surrogate, mean KL to b_pold and mean entropy at theta over the buffer (one forward on
 * pol_ws_batch; sums reduced). Used by the line search and by tests. */
int ng__rl_surrogate(ng_rl_t *t, const double *theta, double *surr, double *kl,
                     double *entropy);

/* ---- env blocks (src/rl/blocks.c) -------------------------------------------------------- */

/* A block's random stream: shuffles and Fisher sub-samples (the init draws from the run's). */
#define NG_RL_STREAM_BLOCK 0x400000000ULL
/* Block b's trainer of run t (created in trainer.c): its envs and episode state borrowed,
 * its parameters, statistics, optimiser state and counters copied from t. */
int ng__rl_create_block(ng_rl_t *t, size_t b, ng_rl_t **out, ng_error_t *err);
/* The state a run's blocks share, src's into dst (run <-> block): the iteration snapshot's
 * parts (parameters, Adam, normalisers, K-FAC's factors; through src's snapshot room, free
 * between iterations), the started flag and the iteration count. */
void ng__rl_copy_shared(ng_rl_t *dst, ng_rl_t *src);
/* After t is built (or loaded): every block's trainer and the reduction between them. */
int ng__rl_blocks_create(ng_rl_t *t, ng_error_t *err);
void ng__rl_blocks_destroy(ng_rl_t *t);
/* t's state (parameters, optimiser, normalisers, counters, the blocks' streams) into its
 * blocks' trainers, after a load. */
void ng__rl_blocks_sync(ng_rl_t *t);
int ng__rl_blocks_iterate(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err);
int ng__rl_blocks_set_split(ng_rl_t *t, const ng_split_t *sp);

/* Applies every "key = value" line of len bytes of config text to cfg (keys.h's format, no
 * sections); checkpoint loading reads its config this way. env: as in
 * ng_rl_config_validate_with_env (NULL: the env key must name a registered environment). */
int ng__rl_config_parse_env(ng_rl_config_t *cfg, const char *text, size_t len,
                            const ng_env_def_t *env, ng_error_t *err);
int ng__rl_config_parse(ng_rl_config_t *cfg, const char *text, size_t len, ng_error_t *err);

#endif
