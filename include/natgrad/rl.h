/* natgrad rl: TRPO, natural policy gradient and ACKTR on natgrad environments.
 *
 * One iteration: roll out n_envs environments for n_steps each with the current stochastic
 * policy into one buffer; advantages by GAE(gamma, lambda) with a value-function baseline
 * (bootstrapping on truncation, not on termination); the surrogate gradient; the natural
 * direction by CG on the policy's Fisher (fisher.h); a step scaled to the KL bound and
 * checked by a backtracking line search (TRPO) or taken as is (NPG); then the value MLP is
 * fitted with Adam over minibatches. ACKTR (algo = acktr) takes the same surrogate gradient
 * but steps along its K-FAC natural gradient (natgrad/kfac.h) scaled to the KL bound and
 * capped by acktr_lr, without a line search, and fits the value MLP by K-FAC Gauss-Newton
 * steps on the same minibatches. Every sum over the batch goes through one reduction
 * point per quantity (core.h's ng_reducer_t) so shards on several processes can be reduced
 * there.
 *
 * Everything a run needs to continue bit for bit (parameters, optimiser and normaliser
 * state, RNG streams, environment states, counters, the config) is in the trainer and in
 * its checkpoint.
 */
#ifndef NATGRAD_RL_H
#define NATGRAD_RL_H

#include <stdio.h>

#include "natgrad/core.h"
#include "natgrad/env.h"
#include "natgrad/keys.h"
#include "natgrad/mlp.h"
#include "natgrad/run.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NG_RL_MAX_HIDDEN 4

typedef enum { NG_ALGO_TRPO = 0, NG_ALGO_NPG = 1, NG_ALGO_ACKTR = 2 } ng_algo_t;

/* "trpo", "npg", "acktr" (NULL for anything else). */
const char *ng_rl_algo_name(ng_algo_t algo);
/* The algo called name, as the config key algo reads it, into *algo; NG_EINVAL with the
 * key's message for any other name (*algo is then unchanged). */
int ng_rl_algo_parse(const char *name, ng_algo_t *algo, ng_error_t *err);

/* Hyperparameters. Every field has a config key of the same name (see ng_rl_config_set),
 * except env_id and total_steps whose keys are "env" and "steps" ("env_id" and
 * "total_steps" are accepted as aliases), and a default from ng_rl_config_default. */
typedef struct {
  char env_id[64];         /* env */
  ng_algo_t algo;          /* algo: trpo | npg | acktr */
  uint64_t seed;           /* seed */
  long total_steps;        /* steps: environment steps to train for */
  int n_envs;              /* n_envs: environments stepped together */
  int n_steps;             /* n_steps: steps per environment per iteration */
  double gamma;            /* gamma: discount */
  double gae_lambda;       /* gae_lambda */
  double max_kl;           /* max_kl: KL bound (TRPO) or fixed KL step (NPG) */
  double cg_damping;       /* cg_damping: (F + damping I) */
  int cg_iters;            /* cg_iters */
  double cg_residual_tol;  /* cg_residual_tol: on ||r||^2 */
  double fisher_subsample; /* fisher_subsample: fraction of the batch for F products, (0,1] */
  int ls_max_backtracks;   /* ls_max_backtracks */
  double ls_shrink;        /* ls_shrink: step shrink per backtrack */
  double ls_accept_ratio;  /* ls_accept_ratio: min actual/expected improvement (0: any) */
  double entropy_coef;     /* entropy_coef: bonus weight in the surrogate */
  int normalize_advantages;/* normalize_advantages: 0|1 */
  int timeout_terminal;    /* timeout_as_terminal: 0|1, a time-limit truncation counts as a
                              terminal state (no bootstrap), as SB3 before 1.4 did; 0 (the
                              default) bootstraps on the final observation's value */
  int normalize_obs;       /* normalize_obs: 0|1, running mean/std (saved with the policy) */
  int normalize_reward;    /* normalize_reward: 0|1, scale by running std of the return */
  double obs_clip;         /* obs_clip: clip normalised observations to +-obs_clip */
  double reward_clip;      /* reward_clip: clip normalised rewards to +-reward_clip */
  size_t policy_hidden[NG_RL_MAX_HIDDEN]; /* policy_hidden: e.g. "64,64" */
  size_t n_policy_hidden;
  ng_act_t policy_act;     /* policy_act: tanh | relu */
  double init_log_std;     /* init_log_std: Gaussian policies */
  int clip_actions;        /* clip_actions: 0|1, clip sampled Box actions to the action space
                              before the env step (SB3 does); the buffer keeps the sample */
  size_t value_hidden[NG_RL_MAX_HIDDEN];  /* value_hidden */
  size_t n_value_hidden;
  ng_act_t value_act;      /* value_act */
  double vf_lr;            /* vf_lr: Adam step size */
  int vf_epochs;           /* vf_epochs: passes over the batch per iteration */
  int vf_minibatch;        /* vf_minibatch: rows per Adam step */
  /* The plugin that registered env (env.h's ng_plugin_load), so that whoever reads the
   * config can load it again and tell whether it changed; both "" for any other env, and
   * then ng_rl_config_format leaves them out. */
  char plugin[1024];       /* plugin: its absolute path */
  char plugin_hash[24];    /* plugin_hash: its checksum, ng_plugin_info_t.hash */
  /* ACKTR (Wu et al. 2017), used only with algo = acktr (and then written by
   * ng_rl_config_format, after every other key): the policy steps by
   * eta = min(acktr_lr, sqrt(2 max_kl / g^T F~^-1 g)) along the K-FAC natural gradient
   * F~^-1 g (natgrad/kfac.h), the value function by its K-FAC Gauss-Newton step. */
  double acktr_lr;         /* acktr_lr: the policy step's cap eta_max */
  double kfac_damping;     /* kfac_damping: Tikhonov damping of the policy's K-FAC */
  double kfac_stat_decay;  /* kfac_stat_decay: running-average decay of both K-FACs' factors */
  int kfac_inverse_every;  /* kfac_inverse_every: refresh the damped inverses every this many
                              factor updates */
  double vf_kfac_lr;       /* vf_kfac_lr: the value step's cap */
  double vf_max_kl;        /* vf_max_kl: the value step's bound on (1/2) mean (dV)^2 */
  double vf_kfac_damping;  /* vf_kfac_damping: Tikhonov damping of the value K-FAC */
  /* slices: partial sums per batch gradient and Fisher product (core.h's ng_split_t), the
   * most processes the update splits over; written only when not NG_SLICES_DEFAULT, so that
   * every other run's config text stays what it was */
  int slices;
  /* vf_precision: 0 f64, 1 f32 (NG_VF_F64/F32): the value network's passes in the Adam fit
   * and GAE's value forwards in float (SGEMM); its parameters, Adam's state, the losses and
   * everything of the policy stay double. Written to the config text only when f32, and
   * ACKTR (whose value step is K-FAC's, in double) takes f64 only. */
  int vf_precision;
  /* blocks: the n_envs environments cut into this many equal blocks (1..NG_RL_MAX_BLOCKS,
   * dividing n_envs and vf_minibatch). Each block rolls out, advantages and passes over its
   * own rows (a value minibatch takes vf_minibatch / blocks rows of every block, each block
   * shuffling with its own random stream), and every batch sum is the blocks' partial sums
   * added in block order: so the run is the same, bit for bit, however the blocks are
   * spread over threads and MPI processes, each process holding only its own blocks' rows
   * (docs/distributed.md). 1 (the default, not written to the config text): one batch, as
   * every run before the key. */
  int blocks;
} ng_rl_config_t;

#define NG_RL_MAX_BLOCKS 1024

enum { NG_VF_F64 = 0, NG_VF_F32 = 1 };

/* The defaults of a run of algo on env_id: the library's (Stable-Baselines3-contrib's TRPO),
 * overridden by rl-baselines3-zoo's tuned values for env_id where it has them, then by
 * natgrad tune's best config for that algo on env_id where natgrad has one (TRPO on
 * Swimmer-v5, Hopper-v5, Ant-v5 and Humanoid-v5: docs/tuning.md). A front end that knows
 * the run's algo before it reads the user's keys starts here, so the user's keys still
 * come last.
 * NG_ENOTFOUND for an unknown env id, NG_EINVAL for an unknown algo. */
int ng_rl_config_default_algo(ng_rl_config_t *cfg, const char *env_id, ng_algo_t algo,
                              ng_error_t *err);

/* ng_rl_config_default_algo for TRPO, the default algo. */
int ng_rl_config_default(ng_rl_config_t *cfg, const char *env_id, ng_error_t *err);

/* 1 if ng_rl_config_default has values tuned for env_id (rl-baselines3-zoo's, or
 * natgrad's own measured ones); 0 if it gives the library defaults (SB3-contrib's TRPO),
 * as for every environment from a plugin. */
int ng_rl_config_tuned(const char *env_id);

/* Sets one hyperparameter from text, e.g. ("max_kl", "0.02"); validates type and range.
 * NG_ENOTFOUND for an unknown key, NG_EINVAL / NG_ERANGE for a bad value, each with a
 * message naming the key and the accepted values. */
int ng_rl_config_set(ng_rl_config_t *cfg, const char *key, const char *value, ng_error_t *err);

/* Checks the whole config for consistency (e.g. vf_minibatch <= batch). */
int ng_rl_config_validate(const ng_rl_config_t *cfg, ng_error_t *err);

/* Writes the config as "key = value" lines (the config-file format) into buf; returns the
 * length it needs (like snprintf). */
size_t ng_rl_config_format(const ng_rl_config_t *cfg, char *buf, size_t size);

/* The same for a run on an environment of the caller's that is not registered (def, see
 * ng_rl_create_with_env): defaults for def's id (rl-baselines3-zoo's where it names one,
 * e.g. a Python "CartPole-v1"), and validation with env = def's id required instead of a
 * registered id. ng_rl_config_set's env key still looks ids up in the registry: leave it. */
int ng_rl_config_default_with_env(ng_rl_config_t *cfg, const ng_env_def_t *def,
                                  ng_error_t *err);
int ng_rl_config_validate_with_env(const ng_rl_config_t *cfg, const ng_env_def_t *def,
                                   ng_error_t *err);

/* Names and one-line descriptions of every key, for --help: iterate i = 0.. until NULL. */
const char *ng_rl_config_key(size_t i, const char **doc);

/* The key table behind the functions above (keys.h): every key's name, type, range,
 * library default and meaning, to list, set or read a config with ng_keys_* and ng_kv_*.
 * ng_kv_apply(list, ng_rl_config_keys(), cfg, "trpo" or "npg", err) reads a config file
 * with its [trpo] and [npg] sections. */
const ng_key_table_t *ng_rl_config_keys(void);

/* ---- trainer ----------------------------------------------------------------------------- */

typedef struct ng_rl ng_rl_t;

typedef struct {
  long iteration;          /* iterations completed (1 after the first) */
  long env_steps;          /* total environment steps so far */
  int episodes;            /* episodes that ended during this iteration's rollout */
  double mean_return;      /* their mean undiscounted return (NAN if none ended) */
  double mean_length;      /* their mean length */
  double kl;               /* true mean KL(pi_old || pi_new) of the update */
  double entropy;          /* mean policy entropy before the update */
  double surrogate_gain;   /* improvement of the surrogate by the accepted step */
  int ls_trials;           /* line-search trials (0 for NPG) */
  int step_accepted;       /* 1 if the policy moved */
  int cg_iterations;
  double cg_residual;      /* final ||r||^2 */
  double vf_loss;          /* value loss (mean squared error) after fitting */
  double explained_variance;
  double rollout_seconds, update_seconds;
  double policy_update_seconds; /* of update_seconds, the policy update alone (advantage
                              normalisation, surrogate gradient, Fisher set-up, CG, s^T F s,
                              line search): not the value predictions, GAE or value fit */
  int update_status;       /* NG_OK if the policy step was taken; else why it was skipped:
                              NG_ELINESEARCH (every trial rejected), NG_ECURVATURE or
                              NG_ENONFINITE (CG or s^T F s failed); theta is then unchanged */
  const char *skip_reason; /* NULL if the step was taken; else where the update stopped, e.g.
                              "CG breakdown (p^T F p <= 0)" (static text) */
} ng_rl_stats_t;

/* Builds the environments, policy, value function and buffers for cfg (validated). */
int ng_rl_create(ng_rl_t **out, const ng_rl_config_t *cfg, ng_error_t *err);
/* The same on environments of def, which need not be registered (env.h's
 * ng_env_create_from_def: e.g. one that steps in Python): cfg->env_id must be def's id,
 * which is what config.ini and the checkpoint record, so that a run on a Python
 * "CartPole-v1" is evaluated and resumed on the built-in one. def is borrowed: it must
 * outlive the trainer. NULL def: ng_rl_create. */
int ng_rl_create_with_env(ng_rl_t **out, const ng_rl_config_t *cfg, const ng_env_def_t *def,
                          ng_error_t *err);
void ng_rl_destroy(ng_rl_t *t);
const ng_rl_config_t *ng_rl_config(const ng_rl_t *t);

/* One iteration (rollout + policy update + value fit). A NaN/Inf or a failed step from an
 * environment, or a non-finite value anywhere in the update, is reported in err with where
 * it happened (environment id and index, episode step, run step, iteration) and the call
 * fails; the policy and value parameters, the optimiser state and the normaliser statistics
 * are then exactly as before the call (the environments have moved on). A policy step that
 * cannot be trusted (CG breakdown, s^T F s <= 0 or non-finite, every line-search trial
 * rejected) is not a failure: it is skipped, theta is unchanged, and stats->update_status
 * and stats->skip_reason say why. */
int ng_rl_iterate(ng_rl_t *t, ng_rl_stats_t *stats, ng_error_t *err);
/* 1 once total_steps have been taken. */
int ng_rl_done(const ng_rl_t *t);
/* Changes the step budget (e.g. to extend a run resumed from a checkpoint); the config's
 * total_steps follows. NG_EINVAL for steps < 1. */
int ng_rl_set_total_steps(ng_rl_t *t, long steps);
/* Threads for the run (n_threads >= 1, at most NG_POOL_MAX_THREADS; 1, the default, runs
 * everything on the caller's thread). The batch passes (policy gradient and line search,
 * Fisher products, value fit) split their rows over the threads in fixed chunks summed in a
 * fixed order, and the environments are stepped on them when a step costs more than a few
 * microseconds (measured here on the evaluation env: MuJoCo, not CartPole; never for an
 * environment of the caller's, ng_rl_create_with_env, which stays on the caller's thread
 * unless ng_rl_set_threads_envs turns it on): results are bit-identical for every
 * n_threads, given one BLAS thread (openblas_set_num_threads(1) before ng_rl_create, as the
 * CLI and the Python package do: BLAS rounds as its thread count splits a product, the
 * orthogonal init's QR included). Not part of the config or the checkpoint. NG_EINVAL
 * for a bad count, NG_ENOMEM if the threads cannot start (the old setting stays). */
int ng_rl_set_threads(ng_rl_t *t, int n_threads);
/* Forces environment stepping on the threads on (1) or off (0) whatever a step costs (for
 * measurements; ignored with one thread or one env). */
int ng_rl_set_threads_envs(ng_rl_t *t, int on);

/* The reducer through which every batch sum passes (gradient, KL, surrogate, statistics,
 * Fisher products, normaliser statistics); copied. NULL restores the identity. Not with
 * blocks > 1 (NG_EINVAL): the blocks' sums have their own reduction. */
int ng_rl_set_reducer(ng_rl_t *t, const ng_reducer_t *r);
/* The update split over processes that all hold the whole batch (core.h's ng_split_t;
 * copied, its slice count replaced by the config's `slices`): each computes its block of
 * the slices of the policy gradient, the Fisher products and the value fit's gradients, and
 * the split's gather exchanges them. NULL: one process. NG_ENOMEM if the partial sums'
 * room cannot grow.
 * With blocks = B > 1 the split's slices are the B env blocks instead: this process keeps
 * and runs only its block of them (ng_split_own(sp, B); blocks' trainers, and so their
 * batches, are made at the first iteration, for this process's blocks only),
 * and every batch sum gathers the B blocks' partial sums through sp->gather (parts of equal
 * length, one per block) and adds them in block order. Call it before the first iteration,
 * with ng_rl_set_env_share naming the same blocks. NG_EINVAL if this process would own no
 * block (more processes than blocks). */
int ng_rl_set_split(ng_rl_t *t, const ng_split_t *sp);
/* Environments split over processes (natgrad/mpi.h does it over MPI): this process steps
 * and resets only envs [first, first + count), and after every step `gather` fills every
 * other env's record from the process that owns it, so that each process holds the whole
 * batch and runs the same update on it. The run is then the same, bit for bit, for any
 * split and any number of processes, as for one. gather(ctx, rows, row_bytes): rows holds
 * n_envs records of row_bytes bytes, in env order, this process's own filled; it fills the
 * rest (an allgather) and returns NG_OK or a status, which ends the iteration. Every
 * process calls gather the same number of times with the same row_bytes. Copied; NULL
 * restores stepping every env here. NG_EINVAL for a range outside [0, n_envs). */
typedef struct {
  size_t first, count;
  int (*gather)(void *ctx, void *rows, size_t row_bytes);
  void *ctx;
} ng_rl_env_share_t;
/* With blocks > 1 the share's items are the blocks, not the envs: [first, first + count)
 * must be this process's blocks (those of ng_rl_set_split), and no step is gathered (a
 * block needs no other block's rows); the gather serves ng_rl_gather_envs alone, with one
 * record per block. */
int ng_rl_set_env_share(ng_rl_t *t, const ng_rl_env_share_t *share, ng_error_t *err);
/* With a share set: brings every env's state and random stream (and, with blocks, the
 * per-env episode state and the blocks' random streams) from its owner to this process
 * (one gather), so that a checkpoint saved here holds them all. Every process calls it at
 * the same point. NG_OK and nothing done without a share. */
int ng_rl_gather_envs(ng_rl_t *t, ng_error_t *err);
long ng_rl_env_steps(const ng_rl_t *t);
long ng_rl_iteration(const ng_rl_t *t);

/* The policy's parameters (borrowed; n values). */
const double *ng_rl_policy_params(const ng_rl_t *t, size_t *n);
/* The value function's parameters (borrowed; n values). */
const double *ng_rl_value_params(const ng_rl_t *t, size_t *n);

/* The policy's actions for rows observations (obs: rows x the observation space's size,
 * as the environment writes them), as evaluation hands them to the environment: the
 * observation normalised and clipped with the trained statistics (when normalize_obs), the
 * distribution's mode (deterministic: the Gaussian mean, the argmax of each categorical,
 * p > 0.5 for MultiBinary) or a sample drawn from rng (may be NULL when deterministic), and
 * a Box action clipped to its bounds when clip_actions. actions: rows x the action space's
 * size. NG_ENONFINITE / NG_EINVAL for an observation outside its space, naming its row. Uses
 * the trainer's one-row workspace: one call at a time per trainer. */
int ng_rl_predict(ng_rl_t *t, size_t rows, const double *obs, int deterministic,
                  ng_rng_t *rng, double *actions, ng_error_t *err);

/* Runs n_episodes fresh episodes of the current policy on its own env seeded from seed
 * (deterministic: the distribution's mode; else sampled), writing each undiscounted return
 * to returns (n_episodes doubles). Does not change the training state. */
int ng_rl_evaluate(ng_rl_t *t, int n_episodes, uint64_t seed, int deterministic,
                   double *returns, ng_error_t *err);

/* One evaluation episode: how it ended tells a fall from a slow gait. */
typedef struct {
  double ret;     /* undiscounted return */
  long length;    /* steps taken */
  int terminated; /* 1: the environment ended it; 0: its time limit (or evaluate's cap of
                     10^6 steps for an environment without one) */
} ng_rl_episode_t;

/* ng_rl_evaluate's episodes (the same ones, the same returns), each with its length and
 * how it ended (episodes: n_episodes entries). */
int ng_rl_evaluate_episodes(ng_rl_t *t, int n_episodes, uint64_t seed, int deterministic,
                            ng_rl_episode_t *episodes, ng_error_t *err);

/* Checkpoint: everything needed to continue bit for bit. save writes path atomically
 * (path.tmp, fflush, fsync, rename, fsync of the folder), so a crash at any instant leaves
 * the old or the new file at path; it refuses (NG_ENONFINITE) to write a state that load
 * would reject, e.g. non-finite parameters. load creates a trainer from a checkpoint after
 * checking magic, version, sizes and CRC32 and then every size and value in the body:
 * NG_EIO if the file cannot be read, NG_EFORMAT for a foreign, truncated, corrupted or
 * inconsistent file (a version field that is neither 1 nor a newer version vouched for by
 * the header's own CRC-32 is damage, see src/rl/checkpoint.c), NG_EUNSUPPORTED for a newer
 * format version. The format is
 * little-endian on every host. docs/robustness.md states the guarantees. */
int ng_rl_save(const ng_rl_t *t, const char *path, ng_error_t *err);
int ng_rl_load(ng_rl_t **out, const char *path, ng_error_t *err);
/* The same from size bytes at data (a whole checkpoint file's contents, borrowed). */
int ng_rl_load_mem(ng_rl_t **out, const void *data, size_t size, ng_error_t *err);
/* Both on environments of def (as ng_rl_create_with_env; NULL: the registry's). The
 * checkpoint's env must be def's id (else NG_EINVAL), and its spaces must give the sizes
 * the checkpoint holds: observation inputs, action size and distribution size (else
 * NG_EFORMAT naming the first that differs).
 *
 * Environment states across implementations: the saved states are restored when the
 * checkpoint's state size equals the environment's and is not 0; when either is 0 (a
 * checkpoint of an environment without get/set state, or one loaded with such an
 * environment, e.g. the built-in CartPole-v1's checkpoint resumed on Gymnasium's Python
 * one) every environment starts a fresh episode from its saved random stream, as env.h
 * says for an environment without state (deterministic; the episodes under way are
 * dropped); two different non-zero sizes are refused (NG_EFORMAT). */
int ng_rl_load_with_env(ng_rl_t **out, const char *path, const ng_env_def_t *def,
                        ng_error_t *err);
int ng_rl_load_mem_with_env(ng_rl_t **out, const void *data, size_t size,
                            const ng_env_def_t *def, ng_error_t *err);

/* ---- in a run folder (natgrad/run.h) ---- */

/* The columns of a run's progress.csv, one row per iteration. */
#define NG_RL_LOG_HEADER                                                                    \
  "iteration,env_steps,episodes,mean_return,mean_length,kl,entropy,surrogate_gain,"         \
  "ls_trials,step_accepted,cg_iterations,cg_residual,vf_loss,explained_variance,rollout_s," \
  "update_s,wall_s"
/* One iteration's row (no newline) into buf, snprintf-style: returns the length needed. */
size_t ng_rl_log_row(const ng_rl_stats_t *s, double wall_s, char *buf, size_t size);
/* The config keys a resume may change (NULL-terminated): a checkpoint differing from its
 * folder's config.ini in any other key is another run's. */
const char *const *ng_rl_resume_keys(void);
/* The run folder dir's curve.svg, from its progress.csv: mean return against environment
 * steps for each iteration in which episodes ended, and its mean over the last
 * NG_RL_CURVE_SMOOTH such iterations (cfg names the env, algorithm and seed in the title). */
#define NG_RL_CURVE_SMOOTH 10
int ng_rl_draw_curve(const char *dir, const ng_rl_config_t *cfg, ng_error_t *err);
/* The run's config.ini (run.h's ng_run_write_config): cfg as ng_rl_config_format writes it,
 * under a comment saying that `natgrad train --config FILE` repeats the run. The same for
 * every front end (the CLI, Python). */
int ng_rl_run_write_config(ng_run_t *run, const ng_rl_config_t *cfg, ng_error_t *err);
/* ng_run_save_fn and ng_run_load_fn for a trainer: save's ctx is the ng_rl_t *; load's is
 * an ng_rl_t ** whose trainer (if any) is replaced by the loaded one. */
int ng_rl_run_save(void *trainer, const char *path, ng_error_t *err);
int ng_rl_run_load(void *slot, const char *path, char **config, char *state, size_t size,
                   ng_error_t *err);
/* ng_run_load_fn for a trainer on environments of def (ng_rl_load_with_env): load's ctx
 * is an ng_rl_run_slot_t *, whose trainer (if any) is replaced by the loaded one. */
typedef struct {
  ng_rl_t *trainer;
  const ng_env_def_t *def;
} ng_rl_run_slot_t;
int ng_rl_run_load_with_env(void *slot, const char *path, char **config, char *state,
                            size_t size, ng_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
