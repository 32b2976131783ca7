/* Hyperparameters: defaults traced to their published sources, parsing with range checks,
 * and the "key = value" text form that config files and checkpoints use. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/env.h"
#include "rl/rl_impl.h"

/* ---- defaults ------------------------------------------------------------------------------
 *
 * Library defaults: Stable-Baselines3-contrib TRPO (sb3_contrib/trpo/trpo.py, TRPO.__init__)
 * and its MlpPolicy (stable_baselines3/common/policies.py, ActorCriticPolicy):
 *
 *   key                   value   source
 *   n_steps               2048    TRPO n_steps=2048
 *   vf_minibatch          128     TRPO batch_size=128 (critic minibatches only)
 *   gamma                 0.99    TRPO gamma=0.99
 *   gae_lambda            0.95    TRPO gae_lambda=0.95
 *   max_kl                0.01    TRPO target_kl=0.01
 *   cg_iters              15      TRPO cg_max_steps=15
 *   cg_damping            0.1     TRPO cg_damping=0.1
 *   cg_residual_tol       1e-10   sb3_contrib/common/utils.py conjugate_gradient_solver,
 *                                 residual_tol=1e-10 on the squared residual norm
 *   ls_shrink             0.8     TRPO line_search_shrinking_factor=0.8
 *   ls_max_backtracks     9       TRPO line_search_max_iter=10 trials = full step + 9
 *   ls_accept_ratio       0       TRPO accepts any surrogate improvement with KL < target_kl
 *   vf_epochs             10      TRPO n_critic_updates=10
 *   vf_lr                 1e-3    TRPO learning_rate=1e-3 (critic Adam)
 *   normalize_advantages  1       TRPO normalize_advantage=True
 *   timeout_as_terminal   0       SB3 >= 1.4 bootstraps a time-limit truncation on
 *                                 gamma V(final observation) (collect_rollouts)
 *   fisher_subsample      1       TRPO sub_sampling_factor=1
 *   entropy_coef          0       TRPO passes ent_coef=0.0 ("not used by TRPO")
 *   policy_hidden         64,64   ActorCriticPolicy net_arch pi=[64, 64]
 *   value_hidden          64,64   ActorCriticPolicy net_arch vf=[64, 64]
 *   policy_act/value_act  tanh    ActorCriticPolicy activation_fn=nn.Tanh
 *   init_log_std          0       ActorCriticPolicy log_std_init=0.0
 *   clip_actions          1       SB3 clips sampled Box actions to the space before env.step
 *                                 (OnPolicyAlgorithm.collect_rollouts) and in predict();
 *                                 the buffer keeps the unclipped sample
 *   (orthogonal init, gains sqrt(2) hidden, 0.01 policy head, 1 value head: ortho_init=True)
 *   n_envs                1       one environment unless the zoo says otherwise
 *   steps                 1e6     rl-baselines3-zoo hyperparams/trpo.yml `default`
 *   normalize_obs/_reward 0       off unless the zoo sets `normalize: true`
 *   obs_clip              10      VecNormalize clip_obs=10.0
 *   reward_clip           10      VecNormalize clip_reward=10.0
 *
 * One unit differs. SB3's Gaussian policy is a Normal per action component, and its TRPO
 * bounds kl_divergence(new, old).mean() over rows AND the d components, so its target_kl is
 * a KL per component and its Fisher is F/d. natgrad's max_kl bounds the KL of the whole
 * action distribution per state (the TRPO paper's). SB3's steps exactly would be max_kl =
 * d * target_kl and cg_damping = d * cg_damping ((F + d*l I) s = g is solved by
 * (F/d + l I)^-1 g / d with the same CG residuals, and the step rule and the line search's
 * KL test undo the 1/d; test_optim's test_sb3_kl_units checks it). natgrad's defaults keep
 * the published numbers in its own units instead, i.e. steps d times smaller in KL than
 * SB3's for a d-dimensional Box: on the MuJoCo v5 tasks that trained Walker2d and Swimmer
 * clearly better and the others about as well (docs/mujoco.md has the measurements).
 *
 * Per environment: rl-baselines3-zoo hyperparams/trpo.yml ("# Tuned" entries). The zoo's
 * `normalize: true` is VecNormalize (observations and rewards, gamma of the run):
 *
 *   CartPole-v1               n_envs 2, n_timesteps 1e5, n_steps 512, batch_size 512,
 *                             cg_damping 1e-3, gae_lambda 0.98, gamma 0.99,
 *                             learning_rate 1e-3, n_critic_updates 20
 *   Pendulum-v1               n_envs 2, n_timesteps 1e5, n_steps 1024, gamma 0.9,
 *                             n_critic_updates 15, use_sde True, sde_sample_freq 4
 *   Acrobot-v1                normalize true, n_envs 2, n_timesteps 1e5, n_steps 1024
 *   MountainCar-v0            normalize true, n_envs 2, n_timesteps 1e5, n_steps 1024,
 *                             n_critic_updates 20
 *   MountainCarContinuous-v0  normalize true, n_envs 2, n_timesteps 50000, use_sde True,
 *                             sde_sample_freq 4
 *
 * MuJoCo: the zoo tunes the v4 ids; natgrad gives the same values to the v5 ids (v5 changed
 * the environments' defaults only slightly: Ant-v5 observes the contact forces). The zoo's
 * `Ant-v4: &mujoco-defaults` is `<<: *pybullet-defaults` (HalfCheetahBulletEnv-v0) with
 * n_timesteps 1e6:
 *
 *   mujoco-defaults           normalize true, n_envs 2, n_timesteps 1e6, batch_size 128,
 *                             n_steps 1024, gamma 0.99, gae_lambda 0.95,
 *                             sub_sampling_factor 1, cg_max_steps 25, cg_damping 0.1,
 *                             n_critic_updates 20, learning_rate 1e-3
 *   Ant-v4, Hopper-v4,        mujoco-defaults
 *   Walker2d-v4
 *   HalfCheetah-v4            mujoco-defaults, target_kl 0.04
 *   Swimmer-v4                mujoco-defaults, gamma 0.9999 (VecNormalize's too)
 *
 * as natgrad keys: normalize_obs/_reward 1, n_envs 2, steps 1e6, vf_minibatch 128 (= the
 * library default), n_steps 1024, gamma 0.99, gae_lambda 0.95, fisher_subsample 1, cg_iters
 * 25, cg_damping 0.1, vf_epochs 20, vf_lr 1e-3 (= the library default); target_kl 0.04 for
 * HalfCheetah (in natgrad's units: see above).
 *
 * The zoo has no InvertedPendulum or InvertedDoublePendulum entry, so it runs them with
 * `default` (the library defaults, 1e6 steps). natgrad does too, but normalises their
 * observations (running mean/std, clip 10; rewards left alone), as OpenAI baselines' MuJoCo
 * TRPO does (trpo_mpi/defaults.py mujoco(): normalize_observations=True), whose 905 and 6732
 * are the published figures for these two. InvertedDoublePendulum-v5, 1M steps, seeds 0-4:
 * 4732, 9360, 979, 8442, 5702 without it, 7538, 4889, 8430, 5759, 7543 with it;
 * InvertedPendulum-v5 stays at 1000 either way. (With the mujoco-defaults instead,
 * InvertedPendulum-v5 balances for 1000 steps by 30k steps, then degrades: deterministic
 * returns 14, 4 and 213 after 1M steps, seeds 0-2; with the reward normalisation off it
 * stays at 1000: docs/mujoco.md.)
 *
 * Deviations. natgrad has no generalised state-dependent exploration (gSDE), so Pendulum-v1
 * and MountainCarContinuous-v0 explore with the plain state-independent Gaussian
 * (use_sde=False, sde_sample_freq ignored). Pendulum-v1 reaches its goal without it. On
 * MountainCarContinuous-v0 the Gaussian with log std 0 finds the flag within 50k steps in
 * only some seeds (seeds 0-4: 3 of 5 without clipping, 1 of 5 with it; the others settle
 * on "do nothing", return ~0), so its entry starts from init_log_std 0.5 (std 1.65): with
 * clipped actions all five seeds reach the flag (deterministic returns 93-97).
 *
 * Ant-v5 starts from init_log_std -1 (std 0.37) instead of 0. With std 1 the first
 * policies pay a control cost of about 0.5 * 8 * E[clip(N(0,1))^2] = 2.1 per step against a
 * healthy reward of 1, and their strong random kicks throw the torso above the healthy
 * z-range within ~60 steps: ending episodes early pays, and TRPO learns exactly that (zoo
 * settings, seeds 0-2: returns 178, 195, 64 after 1M steps). At std 0.37 the control cost
 * is about 0.5 and episodes last, and the same run walks (docs/mujoco.md). The published
 * SB3 figure is from Ant-v3, whose contact forces read as zeros under mujoco-py 2 and so
 * cost nothing; v5 observes and charges them. */

/* What a row normalises: nothing, VecNormalize's observations and rewards (the zoo's
 * `normalize: true`), or the observations alone (baselines' normalize_observations). */
enum { NG__NORM_NONE = 0, NG__NORM_ALL = 1, NG__NORM_OBS = 2 };

typedef struct {
  const char *id;
  int n_envs, n_steps, vf_minibatch, vf_epochs, normalize; /* normalize: NG__NORM_* */
  long steps;
  double gamma, gae_lambda, cg_damping; /* < 0: keep the library default */
  double init_log_std;                  /* NAN: keep the library default */
  int cg_iters;                         /* 0: keep the library default */
  double max_kl;                        /* 0: keep the library default */
} ng__zoo_entry_t;

static const ng__zoo_entry_t ng__zoo[] = {
    {"CartPole-v1", 2, 512, 512, 20, NG__NORM_NONE, 100000, 0.99, 0.98, 1e-3, NAN, 0, 0},
    {"Pendulum-v1", 2, 1024, -1, 15, NG__NORM_NONE, 100000, 0.9, -1, -1, NAN, 0, 0},
    {"Acrobot-v1", 2, 1024, -1, -1, NG__NORM_ALL, 100000, -1, -1, -1, NAN, 0, 0},
    {"MountainCar-v0", 2, 1024, -1, 20, NG__NORM_ALL, 100000, -1, -1, -1, NAN, 0, 0},
    /* init_log_std 0.5: natgrad's deviation, see above */
    {"MountainCarContinuous-v0", 2, -1, -1, -1, NG__NORM_ALL, 50000, -1, -1, -1, 0.5, 0, 0},
    /* the zoo's `default` and baselines' observation normalisation: see above */
    {"InvertedPendulum-v5", -1, -1, -1, -1, NG__NORM_OBS, -1, -1, -1, -1, NAN, 0, 0},
    {"InvertedDoublePendulum-v5", -1, -1, -1, -1, NG__NORM_OBS, -1, -1, -1, -1, NAN, 0, 0},
    /* mujoco-defaults */
    {"Swimmer-v5", 2, 1024, 128, 20, NG__NORM_ALL, 1000000, 0.9999, 0.95, 0.1, NAN, 25, 0},
    {"Hopper-v5", 2, 1024, 128, 20, NG__NORM_ALL, 1000000, 0.99, 0.95, 0.1, NAN, 25, 0},
    {"Walker2d-v5", 2, 1024, 128, 20, NG__NORM_ALL, 1000000, 0.99, 0.95, 0.1, NAN, 25, 0},
    {"HalfCheetah-v5", 2, 1024, 128, 20, NG__NORM_ALL, 1000000, 0.99, 0.95, 0.1, NAN, 25,
     0.04},
    /* init_log_std -1: natgrad's deviation, see above */
    {"Ant-v5", 2, 1024, 128, 20, NG__NORM_ALL, 1000000, 0.99, 0.95, 0.1, -1.0, 25, 0},
};

static void ng__config_base(ng_rl_config_t *c) {
  memset(c, 0, sizeof *c);
  c->algo = NG_ALGO_TRPO;
  c->seed = 0;
  c->total_steps = 1000000;
  c->n_envs = 1;
  c->n_steps = 2048;
  c->gamma = 0.99;
  c->gae_lambda = 0.95;
  c->max_kl = 0.01;
  c->cg_damping = 0.1;
  c->cg_iters = 15;
  c->cg_residual_tol = 1e-10;
  c->fisher_subsample = 1.0;
  c->ls_max_backtracks = 9;
  c->ls_shrink = 0.8;
  c->ls_accept_ratio = 0.0;
  c->entropy_coef = 0.0;
  c->normalize_advantages = 1;
  c->normalize_obs = 0;
  c->normalize_reward = 0;
  c->obs_clip = 10.0;
  c->reward_clip = 10.0;
  c->policy_hidden[0] = c->policy_hidden[1] = 64;
  c->n_policy_hidden = 2;
  c->policy_act = NG_ACT_TANH;
  c->init_log_std = 0.0;
  c->clip_actions = 1;
  c->value_hidden[0] = c->value_hidden[1] = 64;
  c->n_value_hidden = 2;
  c->value_act = NG_ACT_TANH;
  c->vf_lr = 1e-3;
  c->vf_epochs = 10;
  c->vf_minibatch = 128;
}

int ng_rl_config_default(ng_rl_config_t *cfg, const char *env_id, ng_error_t *err) {
  if (!cfg || !env_id) return ng_error_set(err, NG_EINVAL, "config: NULL argument");
  if (strlen(env_id) >= sizeof cfg->env_id)
    return ng_error_set(err, NG_ENOTFOUND, "config: unknown environment id '%.64s...'", env_id);
  if (!ng_env_find(env_id))
    return ng_error_set(err, NG_ENOTFOUND, "config: unknown environment id '%s'", env_id);
  ng__config_base(cfg);
  snprintf(cfg->env_id, sizeof cfg->env_id, "%s", env_id);
  for (size_t i = 0; i < sizeof ng__zoo / sizeof ng__zoo[0]; i++) {
    const ng__zoo_entry_t *z = &ng__zoo[i];
    if (strcmp(z->id, env_id) != 0) continue;
    if (z->n_envs > 0) cfg->n_envs = z->n_envs;
    if (z->n_steps > 0) cfg->n_steps = z->n_steps;
    if (z->vf_minibatch > 0) cfg->vf_minibatch = z->vf_minibatch;
    if (z->vf_epochs > 0) cfg->vf_epochs = z->vf_epochs;
    if (z->steps > 0) cfg->total_steps = z->steps;
    if (z->gamma >= 0) cfg->gamma = z->gamma;
    if (z->gae_lambda >= 0) cfg->gae_lambda = z->gae_lambda;
    if (z->cg_damping >= 0) cfg->cg_damping = z->cg_damping;
    if (!isnan(z->init_log_std)) cfg->init_log_std = z->init_log_std;
    if (z->cg_iters > 0) cfg->cg_iters = z->cg_iters;
    if (z->max_kl > 0) cfg->max_kl = z->max_kl;
    cfg->normalize_obs = z->normalize != NG__NORM_NONE;
    cfg->normalize_reward = z->normalize == NG__NORM_ALL;
  }
  ng_error_clear(err);
  return NG_OK;
}

/* ---- the key table ------------------------------------------------------------------------ */

typedef enum {
  K_ENV, K_ALGO, K_U64, K_LONG, K_INT, K_DOUBLE, K_FLAG, K_PHIDDEN, K_VHIDDEN, K_ACT
} ng__ktype_t;

typedef struct {
  const char *name;
  ng__ktype_t type;
  size_t off;
  double lo, hi;     /* numeric range */
  int lo_open, hi_open;
  const char *doc;
} ng__key_t;

#define OFF(f) offsetof(ng_rl_config_t, f)
static const ng__key_t ng__keys[] = {
    {"env", K_ENV, OFF(env_id), 0, 0, 0, 0, "environment id (Gymnasium's), e.g. CartPole-v1"},
    {"algo", K_ALGO, OFF(algo), 0, 0, 0, 0, "trpo (line search) or npg (fixed KL step)"},
    {"seed", K_U64, OFF(seed), 0, 0, 0, 0, "random seed (0 .. 2^64-1)"},
    {"steps", K_LONG, OFF(total_steps), 1, 1e15, 0, 0, "environment steps to train for"},
    {"n_envs", K_INT, OFF(n_envs), 1, 4096, 0, 0, "environments stepped together"},
    {"n_steps", K_INT, OFF(n_steps), 1, 1e7, 0, 0, "steps per environment per iteration"},
    {"gamma", K_DOUBLE, OFF(gamma), 0, 1, 0, 0, "discount factor"},
    {"gae_lambda", K_DOUBLE, OFF(gae_lambda), 0, 1, 0, 0, "GAE lambda"},
    {"max_kl", K_DOUBLE, OFF(max_kl), 0, 10, 1, 0,
     "KL bound per update (TRPO) or fixed KL step (NPG); per state, summed over action "
     "components"},
    {"cg_damping", K_DOUBLE, OFF(cg_damping), 0, 1e6, 0, 0, "damping d in (F + d I) s = g"},
    {"cg_iters", K_INT, OFF(cg_iters), 1, 10000, 0, 0, "conjugate-gradient iterations"},
    {"cg_residual_tol", K_DOUBLE, OFF(cg_residual_tol), 0, 1e300, 0, 0,
     "CG stops when ||r||^2 falls below this"},
    {"fisher_subsample", K_DOUBLE, OFF(fisher_subsample), 0, 1, 1, 0,
     "fraction of the batch used for Fisher products"},
    {"ls_max_backtracks", K_INT, OFF(ls_max_backtracks), 0, 1000, 0, 0,
     "line-search trials after the full step"},
    {"ls_shrink", K_DOUBLE, OFF(ls_shrink), 0, 1, 1, 1, "line-search step shrink factor"},
    {"ls_accept_ratio", K_DOUBLE, OFF(ls_accept_ratio), 0, 1, 0, 0,
     "minimum actual/expected surrogate improvement (0: any improvement)"},
    {"entropy_coef", K_DOUBLE, OFF(entropy_coef), 0, 1e3, 0, 0,
     "weight of the entropy bonus in the surrogate"},
    {"normalize_advantages", K_FLAG, OFF(normalize_advantages), 0, 0, 0, 0,
     "standardise advantages per batch (0/1)"},
    {"timeout_as_terminal", K_FLAG, OFF(timeout_terminal), 0, 0, 0, 0,
     "treat a time-limit truncation as a terminal state, no bootstrap (0/1; SB3 < 1.4)"},
    {"normalize_obs", K_FLAG, OFF(normalize_obs), 0, 0, 0, 0,
     "running mean/std observation normalisation (0/1)"},
    {"normalize_reward", K_FLAG, OFF(normalize_reward), 0, 0, 0, 0,
     "scale rewards by the running std of the discounted return (0/1)"},
    {"obs_clip", K_DOUBLE, OFF(obs_clip), 0, 1e300, 1, 0, "clip normalised observations"},
    {"reward_clip", K_DOUBLE, OFF(reward_clip), 0, 1e300, 1, 0, "clip normalised rewards"},
    {"policy_hidden", K_PHIDDEN, 0, 1, 65536, 0, 0,
     "policy hidden widths, e.g. 64,64 (up to 4; empty: linear)"},
    {"policy_act", K_ACT, OFF(policy_act), 0, 0, 0, 0, "policy hidden activation: tanh|relu"},
    {"init_log_std", K_DOUBLE, OFF(init_log_std), -20, 5, 0, 0,
     "initial log standard deviation (Gaussian policies)"},
    {"clip_actions", K_FLAG, OFF(clip_actions), 0, 0, 0, 0,
     "clip sampled Box actions to the action space before stepping (0/1)"},
    {"value_hidden", K_VHIDDEN, 0, 1, 65536, 0, 0, "value-function hidden widths, e.g. 64,64"},
    {"value_act", K_ACT, OFF(value_act), 0, 0, 0, 0, "value hidden activation: tanh|relu"},
    {"vf_lr", K_DOUBLE, OFF(vf_lr), 0, 1, 1, 0, "value-function Adam step size"},
    {"vf_epochs", K_INT, OFF(vf_epochs), 0, 100000, 0, 0,
     "value-function passes over the batch per iteration"},
    {"vf_minibatch", K_INT, OFF(vf_minibatch), 1, 1e9, 0, 0, "rows per value-function Adam step"},
};
#undef OFF
#define NG__NKEYS (sizeof ng__keys / sizeof ng__keys[0])

const char *ng_rl_config_key(size_t i, const char **doc) {
  if (i >= NG__NKEYS) {
    if (doc) *doc = NULL;
    return NULL;
  }
  if (doc) *doc = ng__keys[i].doc;
  return ng__keys[i].name;
}

static const ng__key_t *ng__key_find(const char *name) {
  if (strcmp(name, "env_id") == 0) name = "env";
  if (strcmp(name, "total_steps") == 0) name = "steps";
  for (size_t i = 0; i < NG__NKEYS; i++)
    if (strcmp(ng__keys[i].name, name) == 0) return &ng__keys[i];
  return NULL;
}

/* "[lo, hi]" with open ends as parentheses, for messages. */
static void ng__range_text(const ng__key_t *k, char *buf, size_t size) {
  snprintf(buf, size, "%c%.17g, %.17g%c", k->lo_open ? '(' : '[', k->lo, k->hi,
           k->hi_open ? ')' : ']');
}

static int ng__in_range(const ng__key_t *k, double x) {
  if (!(k->lo_open ? x > k->lo : x >= k->lo)) return 0;
  if (!(k->hi_open ? x < k->hi : x <= k->hi)) return 0;
  return 1;
}

static const char *ng__skip_space(const char *s) {
  while (*s && isspace((unsigned char)*s)) s++;
  return s;
}

static int ng__parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (end == s || *ng__skip_space(end) != '\0' || errno == ERANGE || !isfinite(x)) return 0;
  *out = x;
  return 1;
}

static int ng__parse_integer(const char *s, double *out) {
  const char *p = ng__skip_space(s);
  char *end;
  errno = 0;
  long long x = strtoll(p, &end, 10);
  if (end == p || *ng__skip_space(end) != '\0' || errno == ERANGE) return 0;
  *out = (double)x;
  return 1;
}

static int ng__parse_hidden(const char *s, size_t *widths, size_t *n, const ng__key_t *k,
                            ng_error_t *err) {
  size_t count = 0;
  size_t tmp[NG_RL_MAX_HIDDEN];
  const char *p = ng__skip_space(s);
  if (*p == '\0' || strcmp(p, "none") == 0) {
    *n = 0;
    return NG_OK;
  }
  for (;;) {
    p = ng__skip_space(p);
    char *end;
    errno = 0;
    long long w = strtoll(p, &end, 10);
    if (end == p || errno == ERANGE)
      return ng_error_set(err, NG_EINVAL,
                          "config: %s = '%s': expected comma-separated widths, e.g. 64,64",
                          k->name, s);
    if (w < 1 || w > 65536)
      return ng_error_set(err, NG_ERANGE, "config: %s = '%s': each width must be in [1, 65536]",
                          k->name, s);
    if (count == NG_RL_MAX_HIDDEN)
      return ng_error_set(err, NG_ERANGE, "config: %s = '%s': at most %d hidden layers",
                          k->name, s, NG_RL_MAX_HIDDEN);
    tmp[count++] = (size_t)w;
    p = ng__skip_space(end);
    if (*p == '\0') break;
    if (*p != ',')
      return ng_error_set(err, NG_EINVAL,
                          "config: %s = '%s': expected comma-separated widths, e.g. 64,64",
                          k->name, s);
    p++;
  }
  memcpy(widths, tmp, count * sizeof *widths);
  *n = count;
  return NG_OK;
}

int ng_rl_config_set(ng_rl_config_t *cfg, const char *key, const char *value, ng_error_t *err) {
  if (!cfg || !key || !value) return ng_error_set(err, NG_EINVAL, "config: NULL argument");
  const ng__key_t *k = ng__key_find(key);
  if (!k) return ng_error_set(err, NG_ENOTFOUND, "config: unknown key '%s'", key);
  char *field = (char *)cfg + k->off;
  char range[96];
  ng__range_text(k, range, sizeof range);
  double x;
  const char *v = ng__skip_space(value);
  /* trimmed copy for word-valued keys */
  char word[64];
  size_t len = strlen(v);
  while (len > 0 && isspace((unsigned char)v[len - 1])) len--;
  if (len >= sizeof word && k->type != K_PHIDDEN && k->type != K_VHIDDEN)
    return ng_error_set(err, NG_EINVAL, "config: %s: value is too long", k->name);
  if (len >= sizeof word) len = sizeof word - 1;
  memcpy(word, v, len);
  word[len] = '\0';

  switch (k->type) {
  case K_ENV:
    if (!ng_env_find(word))
      return ng_error_set(err, NG_EINVAL, "config: env = '%s': unknown environment id "
                          "(see `natgrad list`)", word);
    snprintf(cfg->env_id, sizeof cfg->env_id, "%s", word);
    break;
  case K_ALGO:
    if (strcmp(word, "trpo") == 0) cfg->algo = NG_ALGO_TRPO;
    else if (strcmp(word, "npg") == 0) cfg->algo = NG_ALGO_NPG;
    else
      return ng_error_set(err, NG_EINVAL, "config: algo = '%s': expected trpo or npg", word);
    break;
  case K_U64: {
    char *end;
    errno = 0;
    if (word[0] == '-' || word[0] == '\0') goto bad_u64;
    unsigned long long u = strtoull(word, &end, 10);
    if (*end != '\0' || errno == ERANGE) goto bad_u64;
    cfg->seed = (uint64_t)u;
    break;
  bad_u64:
    return ng_error_set(err, NG_EINVAL, "config: %s = '%s': expected an integer in "
                        "[0, 18446744073709551615]", k->name, word);
  }
  case K_LONG:
  case K_INT:
    if (!ng__parse_integer(word, &x))
      return ng_error_set(err, NG_EINVAL, "config: %s = '%s': expected an integer in %s",
                          k->name, word, range);
    if (!ng__in_range(k, x))
      return ng_error_set(err, NG_ERANGE, "config: %s = %s is out of range %s", k->name, word,
                          range);
    if (k->type == K_LONG) *(long *)field = (long)x;
    else *(int *)field = (int)x;
    break;
  case K_DOUBLE:
    if (!ng__parse_double(word, &x))
      return ng_error_set(err, NG_EINVAL, "config: %s = '%s': expected a finite number in %s",
                          k->name, word, range);
    if (!ng__in_range(k, x))
      return ng_error_set(err, NG_ERANGE, "config: %s = %s is out of range %s", k->name, word,
                          range);
    *(double *)field = x;
    break;
  case K_FLAG:
    if (strcmp(word, "1") == 0 || strcmp(word, "true") == 0) *(int *)field = 1;
    else if (strcmp(word, "0") == 0 || strcmp(word, "false") == 0) *(int *)field = 0;
    else
      return ng_error_set(err, NG_EINVAL, "config: %s = '%s': expected 0, 1, true or false",
                          k->name, word);
    break;
  case K_PHIDDEN:
    return ng__parse_hidden(value, cfg->policy_hidden, &cfg->n_policy_hidden, k, err);
  case K_VHIDDEN:
    return ng__parse_hidden(value, cfg->value_hidden, &cfg->n_value_hidden, k, err);
  case K_ACT: {
    ng_act_t a;
    if (strcmp(word, "tanh") == 0) a = NG_ACT_TANH;
    else if (strcmp(word, "relu") == 0) a = NG_ACT_RELU;
    else
      return ng_error_set(err, NG_EINVAL, "config: %s = '%s': expected tanh or relu", k->name,
                          word);
    *(ng_act_t *)field = a;
    break;
  }
  }
  return NG_OK;
}

/* The numeric value of a numeric key, for validation. */
static double ng__key_number(const ng_rl_config_t *cfg, const ng__key_t *k) {
  const char *field = (const char *)cfg + k->off;
  switch (k->type) {
  case K_LONG:
    return (double)*(const long *)field;
  case K_INT:
  case K_FLAG:
    return (double)*(const int *)field;
  case K_DOUBLE:
    return *(const double *)field;
  default:
    return 0.0;
  }
}

static int ng__check_hidden(const char *name, const size_t *w, size_t n, ng_error_t *err) {
  if (n > NG_RL_MAX_HIDDEN)
    return ng_error_set(err, NG_ERANGE, "config: %s: at most %d hidden layers", name,
                        NG_RL_MAX_HIDDEN);
  for (size_t i = 0; i < n; i++)
    if (w[i] < 1 || w[i] > 65536)
      return ng_error_set(err, NG_ERANGE, "config: %s: each width must be in [1, 65536]", name);
  return NG_OK;
}

int ng_rl_config_validate(const ng_rl_config_t *cfg, ng_error_t *err) {
  if (!cfg) return ng_error_set(err, NG_EINVAL, "config: NULL argument");
  if (memchr(cfg->env_id, '\0', sizeof cfg->env_id) == NULL || !ng_env_find(cfg->env_id))
    return ng_error_set(err, NG_EINVAL, "config: env: unknown environment id");
  if (cfg->algo != NG_ALGO_TRPO && cfg->algo != NG_ALGO_NPG)
    return ng_error_set(err, NG_EINVAL, "config: algo: expected trpo or npg");
  for (size_t i = 0; i < NG__NKEYS; i++) {
    const ng__key_t *k = &ng__keys[i];
    char range[96];
    if (k->type == K_FLAG) {
      int f = *(const int *)((const char *)cfg + k->off);
      if (f != 0 && f != 1)
        return ng_error_set(err, NG_ERANGE, "config: %s = %d: expected 0 or 1", k->name, f);
      continue;
    }
    if (k->type == K_ACT) {
      ng_act_t a = *(const ng_act_t *)((const char *)cfg + k->off);
      if (a != NG_ACT_TANH && a != NG_ACT_RELU)
        return ng_error_set(err, NG_EINVAL, "config: %s: expected tanh or relu", k->name);
      continue;
    }
    if (k->type != K_LONG && k->type != K_INT && k->type != K_DOUBLE) continue;
    double x = ng__key_number(cfg, k);
    if (!isfinite(x) || !ng__in_range(k, x)) {
      ng__range_text(k, range, sizeof range);
      return ng_error_set(err, NG_ERANGE, "config: %s = %.17g is out of range %s", k->name, x,
                          range);
    }
  }
  int s = ng__check_hidden("policy_hidden", cfg->policy_hidden, cfg->n_policy_hidden, err);
  if (s) return s;
  s = ng__check_hidden("value_hidden", cfg->value_hidden, cfg->n_value_hidden, err);
  if (s) return s;
  long long batch = (long long)cfg->n_envs * cfg->n_steps;
  if (batch < 2)
    return ng_error_set(err, NG_ERANGE, "config: n_envs * n_steps = %lld: the batch needs at "
                        "least 2 rows (advantage normalisation)", batch);
  if (batch > 100000000LL)
    return ng_error_set(err, NG_ERANGE, "config: n_envs * n_steps = %lld exceeds 1e8 rows",
                        batch);
  if (cfg->vf_minibatch > batch)
    return ng_error_set(err, NG_ERANGE, "config: vf_minibatch = %d must be in [1, n_envs * "
                        "n_steps = %lld]", cfg->vf_minibatch, batch);
  ng_error_clear(err);
  return NG_OK;
}

/* Appends to buf like snprintf, tracking the total length needed. */
typedef struct {
  char *buf;
  size_t size, len;
} ng__out_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void ng__out(ng__out_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *dst = o->len < o->size ? o->buf + o->len : NULL;
  size_t room = o->len < o->size ? o->size - o->len : 0;
  int n = vsnprintf(dst, room, fmt, ap);
  va_end(ap);
  if (n > 0) o->len += (size_t)n;
}

static void ng__out_hidden(ng__out_t *o, const size_t *w, size_t n) {
  for (size_t i = 0; i < n; i++) ng__out(o, i ? ",%zu" : "%zu", w[i]);
}

size_t ng_rl_config_format(const ng_rl_config_t *cfg, char *buf, size_t size) {
  ng__out_t o = {buf, buf ? size : 0, 0};
  if (buf && size) buf[0] = '\0';
  if (!cfg) return 0;
  for (size_t i = 0; i < NG__NKEYS; i++) {
    const ng__key_t *k = &ng__keys[i];
    const char *field = (const char *)cfg + k->off;
    ng__out(&o, "%s = ", k->name);
    switch (k->type) {
    case K_ENV:
      ng__out(&o, "%.*s", (int)sizeof cfg->env_id, cfg->env_id);
      break;
    case K_ALGO:
      ng__out(&o, "%s", cfg->algo == NG_ALGO_NPG ? "npg" : "trpo");
      break;
    case K_U64:
      ng__out(&o, "%" PRIu64, cfg->seed);
      break;
    case K_LONG:
      ng__out(&o, "%ld", *(const long *)field);
      break;
    case K_INT:
    case K_FLAG:
      ng__out(&o, "%d", *(const int *)field);
      break;
    case K_DOUBLE:
      ng__out(&o, "%.17g", *(const double *)field);
      break;
    case K_PHIDDEN:
      ng__out_hidden(&o, cfg->policy_hidden, cfg->n_policy_hidden);
      break;
    case K_VHIDDEN:
      ng__out_hidden(&o, cfg->value_hidden, cfg->n_value_hidden);
      break;
    case K_ACT:
      ng__out(&o, "%s", *(const ng_act_t *)field == NG_ACT_RELU ? "relu" : "tanh");
      break;
    }
    ng__out(&o, "\n");
  }
  return o.len;
}

int ng__rl_config_parse(ng_rl_config_t *cfg, const char *text, ng_error_t *err) {
  char line[512];
  const char *p = text;
  int lineno = 0;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    lineno++;
    if (len >= sizeof line)
      return ng_error_set(err, NG_EFORMAT, "config text line %d is too long", lineno);
    memcpy(line, p, len);
    line[len] = '\0';
    p += len + (nl ? 1 : 0);
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *s = (char *)ng__skip_space(line);
    if (*s == '\0') continue;
    char *eq = strchr(s, '=');
    if (!eq) return ng_error_set(err, NG_EFORMAT, "config text line %d: expected key = value",
                                 lineno);
    *eq = '\0';
    char *kend = eq;
    while (kend > s && isspace((unsigned char)kend[-1])) *--kend = '\0';
    int st = ng_rl_config_set(cfg, s, eq + 1, err);
    if (st) return st;
  }
  return NG_OK;
}
