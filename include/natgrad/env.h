/* natgrad env: environments with Gymnasium's semantics, written in C.
 *
 * An environment is created by its Gymnasium id ("CartPole-v1"), owns its random stream
 * (seeded with ng_env_seed; reset draws the initial state from it), and enforces its time
 * limit as truncation, like Gymnasium's TimeLimit wrapper. Observations and actions are
 * doubles: observations carry the float32-rounded values Gymnasium returns; a Discrete
 * action is one double holding the integer index; a Box action outside its bounds is
 * clipped where Gymnasium's environment clips it.
 *
 * No allocation after create; step and reset never print. One env per thread.
 */
#ifndef NATGRAD_ENV_H
#define NATGRAD_ENV_H

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NG_SPACE_BOX = 0, NG_SPACE_DISCRETE = 1 } ng_space_kind_t;

typedef struct {
  ng_space_kind_t kind;
  size_t dim;          /* Box: number of components; Discrete: number of actions n */
  const double *low;   /* Box: dim lower bounds (may be -INFINITY); NULL for Discrete */
  const double *high;  /* Box: dim upper bounds (may be +INFINITY); NULL for Discrete */
} ng_space_t;

/* Doubles needed to hold one element of the space: dim for a Box, 1 for Discrete. */
size_t ng_space_size(const ng_space_t *space);

typedef struct {
  const char *id;               /* Gymnasium id, e.g. "CartPole-v1" */
  const char *summary;          /* one line for `natgrad list` */
  ng_space_t observation_space;
  ng_space_t action_space;
  int max_episode_steps;        /* time limit (truncation), as registered in Gymnasium */
  size_t state_size;            /* doubles of internal state accepted by ng_env_set_state */
  const char *state_doc;        /* names of the state components, e.g. "x,x_dot,theta,theta_dot" */
} ng_env_info_t;

typedef struct ng_env ng_env_t;

/* Number of built-in environments and their descriptions, for listing. */
size_t ng_env_count(void);
const ng_env_info_t *ng_env_info_at(size_t i);
/* The description of id, or NULL. */
const ng_env_info_t *ng_env_find(const char *id);

/* Creates environment `id`. NG_ENOTFOUND (with the known ids in err) for an unknown id. */
int ng_env_create(ng_env_t **out, const char *id, ng_error_t *err);
void ng_env_destroy(ng_env_t *env);
const ng_env_info_t *ng_env_info(const ng_env_t *env);

/* Seeds the environment's own stream (seed, stream): environment i of a run uses stream i. */
void ng_env_seed(ng_env_t *env, uint64_t seed, uint64_t stream);

/* Starts an episode: draws the initial state from the env's stream, writes the
 * observation (observation_space size doubles) and resets the step counter. */
int ng_env_reset(ng_env_t *env, double *obs);

/* One step. Writes the next observation, the reward and the two flags: terminated (a
 * terminal state of the MDP was reached) and truncated (the time limit was reached and the
 * episode was cut short). NG_EINVAL for a Discrete action that is not an integer in range,
 * NG_ENONFINITE (with nothing advanced) for a NaN/Inf action, NG_ENONFINITE if the
 * dynamics produced a non-finite state, and for MuJoCo NG_ERANGE if the simulation diverged
 * past MuJoCo's limit (|qpos|, |qvel| or |qacc| > 1e10, still finite); after either failure
 * nothing has advanced. Stepping after terminated/truncated without a reset returns
 * NG_EINVAL. */
int ng_env_step(ng_env_t *env, const double *action, double *obs, double *reward,
                int *terminated, int *truncated);

/* Sets the internal state (state_size doubles, layout in state_doc) and writes the
 * corresponding observation; the step counter restarts at 0. For `natgrad replay` and
 * tests that check dynamics against another implementation. */
int ng_env_set_state(ng_env_t *env, const double *state, double *obs);
/* Reads the internal state (state_size doubles). */
int ng_env_get_state(const ng_env_t *env, double *state);

/* The env's random stream (to checkpoint it or restore it bit for bit). */
ng_rng_t *ng_env_rng(ng_env_t *env);
/* Steps taken in the current episode. */
int ng_env_elapsed_steps(const ng_env_t *env);

#ifdef __cplusplus
}
#endif
#endif
