/* natgrad env: environments with Gymnasium's semantics, written in C.
 *
 * An environment is created by its Gymnasium id ("CartPole-v1"), owns its random stream
 * (seeded with ng_env_seed; reset draws the initial state from it), and enforces its time
 * limit as truncation, like Gymnasium's TimeLimit wrapper. Observations and actions are
 * flat arrays of doubles (ng_space_t): observations carry the float32-rounded values
 * Gymnasium returns; a Discrete action or observation is one double holding the integer
 * index; a Box action outside its bounds is clipped where Gymnasium's environment clips it.
 *
 * Every environment, built in or a user's, is an ng_env_def_t: a description (id, spaces,
 * time limit, state size) and callbacks (create, destroy, reset, step, optional get/set
 * state). The built-in ones are registered definitions like any other; ng_env_register adds
 * a user's from C, ng_plugin_load from a shared library (the CLI's --plugin). One registry,
 * one dispatch path.
 *
 * No allocation after create; step and reset never print. One env per thread.
 */
#ifndef NATGRAD_ENV_H
#define NATGRAD_ENV_H

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The spaces of Gymnasium that natgrad trains on. Every element is a flat array of doubles:
 *   Box(dim):           dim reals; bounds low/high
 *   Discrete(n):        one double, the integer index 0..n-1 (dim = n)
 *   MultiDiscrete(nvec): dim doubles, component i an integer 0..nvec[i]-1 (Gymnasium's nvec;
 *                       its `start` offsets are the environment's to add)
 *   MultiBinary(dim):   dim doubles, each exactly 0 or 1
 * Actions may be of any kind (the policy's distribution follows: Gaussian, categorical,
 * ng_dist_multi_discrete, NG_DIST_MULTI_BINARY). Observations may be a Box or a Discrete;
 * the trainer feeds a Discrete observation to its networks one-hot (n inputs), while the
 * environment writes the index, as Gymnasium's do. */
typedef enum {
  NG_SPACE_BOX = 0,
  NG_SPACE_DISCRETE = 1,
  NG_SPACE_MULTI_DISCRETE = 2,
  NG_SPACE_MULTI_BINARY = 3
} ng_space_kind_t;

/* Name the fields when initialising one ({.kind = NG_SPACE_BOX, .dim = 3, .low = lo,
 * .high = hi}): fields unused by a kind are then NULL. */
typedef struct {
  ng_space_kind_t kind;
  size_t dim;            /* Box, MultiBinary: components; Discrete: n; MultiDiscrete: components
                          * (at most NG_DIST_MAX_COMPONENTS, dist.h) */
  const double *low;     /* Box: dim lower bounds (may be -INFINITY); NULL otherwise */
  const double *high;    /* Box: dim upper bounds (may be +INFINITY); NULL otherwise */
  const uint32_t *nvec;  /* MultiDiscrete: dim counts, each >= 1; NULL otherwise */
} ng_space_t;

/* Doubles needed to hold one element of the space: 1 for a Discrete, dim for the others. */
size_t ng_space_size(const ng_space_t *space);

/* Whether x (ng_space_size doubles) is an element of the space, as ng_env_step checks an
 * action: NG_OK; NG_ENONFINITE for a NaN/Inf entry; NG_EINVAL for a Discrete or
 * MultiDiscrete entry that is not an integer in its range, or a MultiBinary entry that is
 * not exactly 0 or 1, with a message naming the component in err (may be NULL). A Box
 * element need only be finite: bounds are the environment's to clip to. */
int ng_space_contains(const ng_space_t *space, const double *x, ng_error_t *err);

typedef struct {
  const char *id;               /* Gymnasium id, e.g. "CartPole-v1" */
  const char *summary;          /* one line for `natgrad list` */
  ng_space_t observation_space;
  ng_space_t action_space;
  int max_episode_steps;        /* time limit (truncation), as registered in Gymnasium */
  size_t state_size;            /* doubles of internal state accepted by ng_env_set_state */
  const char *state_doc;        /* names of the state components, e.g. "x,x_dot,theta,theta_dot" */
  /* 0, or the length of a shorter form of the state (1 .. state_size - 1): its first
   * state_min_size components, every later one 0. An environment that declares it gives the
   * zeros a meaning (MuJoCo's: "no solver warm start", Gymnasium's set_state(qpos, qvel)),
   * so that a state of this length, padded with zeros, is a valid state: a checkpoint
   * holding states of this length loads, `natgrad replay --state` takes either length. */
  size_t state_min_size;
} ng_env_info_t;

typedef struct ng_env ng_env_t;

/* ---- defining an environment ------------------------------------------------------------
 *
 * What an environment is (info) and what it does (the callbacks). The library calls the
 * callbacks of one environment from one thread at a time, and only in a valid order: reset
 * (or set_state) before the first step and after an episode ended; it has validated the
 * arguments first (non-NULL buffers of the sizes the spaces give; an action is in its space
 * as ng_space_contains says: a Discrete action an integer in [0, n), MultiDiscrete entries
 * integers in [0, nvec[i]), MultiBinary entries 0 or 1; a Box action is finite, not
 * clipped: clip it where your dynamics would). A Discrete observation is written as its
 * index (one double, an integer in [0, n): anything else stops training). The library keeps
 * the step counter and the time limit itself: step reports only `terminated`. `self` is
 * whatever create made; `rng` is the environment's own stream (ng_env_seed seeds it,
 * checkpoints save and restore it), the only randomness an environment may use if its runs
 * are to repeat and resume bit for bit (core.h's ng_rng_* draw from it). Status: NG_OK, or
 * a negative NG_E* code (ng_error_t in create); any other nonzero value from reset or step
 * is reported as NG_EINVAL.
 *
 * info.state_size and get/set_state: an environment whose internal state is a vector of
 * doubles can expose it; then checkpoints save it and a resumed run continues its episodes
 * bit for bit, and `natgrad replay --state` can start from any state. Without them
 * (state_size 0, both callbacks NULL) a resumed run starts fresh episodes in every
 * environment, drawn from the saved random streams: resuming is still deterministic (the
 * same checkpoint resumes to the same run every time) but differs from the uninterrupted
 * run, whose episodes in progress at the checkpoint are dropped (not counted in any mean). */
typedef struct ng_env_def ng_env_def_t;
struct ng_env_def {
  ng_env_info_t info;
  const void *user; /* handed to create unchanged: parameters one implementation shares
                       between several ids; may be NULL */
  /* Makes one environment: *self (freed by destroy). Allocate everything here: reset and
   * step should not allocate. */
  int (*create)(void **self, const ng_env_def_t *def, ng_error_t *err);
  void (*destroy)(void *self);
  /* Starts an episode: draws the initial state from rng, writes the observation. */
  int (*reset)(void *self, ng_rng_t *rng, double *obs);
  /* One step: writes the next observation, the reward and terminated (a terminal state of
   * the MDP). A non-finite observation or reward stops training with NG_ENONFINITE naming
   * the environment and the step. */
  int (*step)(void *self, ng_rng_t *rng, const double *action, double *obs, double *reward,
              int *terminated);
  /* Optional, both or neither: read and write info.state_size doubles of state
   * (set_state's state is finite; it writes the observation unless obs is NULL). */
  int (*get_state)(const void *self, double *state);
  int (*set_state)(void *self, const double *state, double *obs);
};

/* Limits of a definition: dimensions of a space and state_size. */
#define NG_ENV_MAX_DIM 65536
#define NG_ENV_ID_MAX 63 /* characters in an id */

/* Checks a definition without registering it: NG_EINVAL with a message naming the id and
 * the first problem: an id that is not NAME-vN (NAME: letters, digits and _ . : / -,
 * starting with a letter; at most NG_ENV_ID_MAX characters in all), a missing create,
 * destroy, reset or step, one of get/set_state without the other or without state_size >
 * 0 (or state_size > 0 without them), a state_min_size other than 0 that is not below
 * state_size, a time limit < 1, an unknown space kind, an observation space that is
 * neither a Box nor a Discrete, a space of dimension 0 or above NG_ENV_MAX_DIM, a Box
 * without bounds, a NaN bound, low > high, low = +inf or high = -inf,
 * a MultiDiscrete without nvec, with more than NG_DIST_MAX_COMPONENTS components or with a
 * count of 0. Does not look at the registry. */
int ng_env_def_check(const ng_env_def_t *def, ng_error_t *err);

/* Registers def for ng_env_create, ng_env_find and listing, after ng_env_def_check and a
 * check that no registered environment (built in or not) has its id (NG_EINVAL). The
 * description is copied (id, summary, state_doc, bounds, nvec): def may be freed afterwards, but
 * the callbacks and def->user must stay valid for the life of the process. There is no
 * unregistering. Thread-safe; NG_ENOMEM, or NG_ERANGE past NG_ENV_MAX_REGISTERED. */
#define NG_ENV_MAX_REGISTERED 256
int ng_env_register(const ng_env_def_t *def, ng_error_t *err);

/* Number of registered environments (the built-in ones first, in a fixed order, then the
 * others in the order they were registered) and their descriptions, for listing. The
 * pointers stay valid for the life of the process. */
size_t ng_env_count(void);
const ng_env_info_t *ng_env_info_at(size_t i);
/* The description of id, or NULL. */
const ng_env_info_t *ng_env_find(const char *id);
/* The absolute path of the plugin that registered id, or NULL (built in, registered from C,
 * or unknown). */
const char *ng_env_plugin_path(const char *id);

/* Creates environment `id`. NG_ENOTFOUND (with the known ids in err) for an unknown id. */
int ng_env_create(ng_env_t **out, const char *id, ng_error_t *err);
/* Creates an environment of def without registering it (after ng_env_def_check: NG_EINVAL
 * naming the problem): an environment that lives elsewhere, e.g. one stepped in Python,
 * which may even share a registered environment's id. def is borrowed, not copied: it and
 * everything it points to must stay valid until the environment is destroyed. */
int ng_env_create_from_def(ng_env_t **out, const ng_env_def_t *def, ng_error_t *err);
void ng_env_destroy(ng_env_t *env);
const ng_env_info_t *ng_env_info(const ng_env_t *env);

/* Seeds the environment's own stream (seed, stream): environment i of a run uses stream i. */
void ng_env_seed(ng_env_t *env, uint64_t seed, uint64_t stream);

/* Starts an episode: draws the initial state from the env's stream, writes the
 * observation (observation_space size doubles) and resets the step counter. */
int ng_env_reset(ng_env_t *env, double *obs);

/* One step. Writes the next observation, the reward and the two flags: terminated (a
 * terminal state of the MDP was reached) and truncated (the time limit was reached and the
 * episode was cut short). NG_EINVAL for an action outside its space (ng_space_contains),
 * NG_ENONFINITE (with nothing advanced) for a NaN/Inf action, NG_ENONFINITE if the
 * dynamics produced a non-finite state, and for MuJoCo NG_ERANGE if the simulation diverged
 * past MuJoCo's limit (|qpos|, |qvel| or |qacc| > 1e10, still finite); after either failure
 * nothing has advanced. Stepping after terminated/truncated without a reset returns
 * NG_EINVAL. */
int ng_env_step(ng_env_t *env, const double *action, double *obs, double *reward,
                int *terminated, int *truncated);

/* Sets the internal state (state_size doubles, layout in state_doc) and writes the
 * corresponding observation; the step counter restarts at 0. For `natgrad replay`,
 * checkpoints, and tests that check dynamics against another implementation. A state read
 * by ng_env_get_state continues bit for bit as the env it was read from would have; a
 * shorter form (info.state_min_size, padded with zeros) as that form means. */
int ng_env_set_state(ng_env_t *env, const double *state, double *obs);
/* Reads the internal state (state_size doubles). Both: NG_EUNSUPPORTED for an environment
 * without get/set state. */
int ng_env_get_state(const ng_env_t *env, double *state);

/* The env's random stream (to checkpoint it or restore it bit for bit). */
ng_rng_t *ng_env_rng(ng_env_t *env);
/* Steps taken in the current episode. */
int ng_env_elapsed_steps(const ng_env_t *env);

/* ---- plugins: environments in a shared library --------------------------------------------
 *
 * A plugin is a shared library that defines one symbol, NG_PLUGIN_SYMBOL ("natgrad_plugin"),
 * a const ng_plugin_t whose abi is NG_PLUGIN_ABI as the plugin was compiled:
 *
 *   static int my_init(ng_plugin_registrar_t *r, ng_error_t *err) {
 *     return r->add_env(r, &my_env_def, err);          // once per environment
 *   }
 *   const ng_plugin_t natgrad_plugin = {NG_PLUGIN_ABI, "my environments", my_init};
 *
 * It registers its environments through the registrar handed to init, never by calling
 * ng_env_register (a plugin linked with its own copy of the library would register into
 * that copy). Loading is all or nothing: if init fails, registers nothing, or one
 * definition is refused, no environment of the plugin is registered and it is unloaded.
 * A loaded plugin stays loaded for the life of the process. A plugin may call core.h's
 * ng_rng_* and ng_error_set (the natgrad program exports them). Plugin code runs in the
 * process: a crash in it (SIGSEGV) kills the process, and a run's last checkpoint, written
 * atomically, survives it.
 *
 * ABI history: 1, Box and Discrete spaces. 2: ng_space_t gained nvec (and the
 * MultiDiscrete and MultiBinary kinds), so ng_env_info_t's layout changed. 3, this one:
 * ng_env_info_t gained state_min_size (after state_doc), which moves ng_env_def_t's
 * callbacks. The version changes whenever ng_plugin_t, ng_env_def_t, ng_env_info_t,
 * ng_space_t or a callback's signature changes; a plugin built for another version (a
 * version-1 plugin included: its spaces would be read with the wrong layout) is refused,
 * never called: rebuilding it against these headers is all it needs (Box and Discrete are
 * as they were; a positional {kind, dim, low, high} initialiser leaves nvec NULL, though
 * -Wextra asks to name the fields; a definition that does not name state_min_size has
 * none). */
#define NG_PLUGIN_ABI 3
#define NG_PLUGIN_SYMBOL "natgrad_plugin"

typedef struct ng_plugin_registrar ng_plugin_registrar_t;
struct ng_plugin_registrar {
  /* Checks def as ng_env_register would (and against the plugin's other ids) and keeps a
   * copy, registered when init returns NG_OK. */
  int (*add_env)(ng_plugin_registrar_t *r, const ng_env_def_t *def, ng_error_t *err);
  void *host; /* the loader's state: not for the plugin */
};

typedef struct {
  int abi;          /* NG_PLUGIN_ABI, first so that any version can be read */
  const char *name; /* what it is, for messages and listings */
  int (*init)(ng_plugin_registrar_t *r, ng_error_t *err);
} ng_plugin_t;

/* A loaded plugin. */
typedef struct {
  char path[4096]; /* absolute, symbolic links resolved */
  char hash[24];   /* the file's checksum when it was loaded: "crc32:" and 8 hex digits */
  char name[128];
  size_t n_envs;   /* environments it registered */
} ng_plugin_info_t;

/* The file's checksum as ng_plugin_info_t.hash spells it ("crc32:1a2b3c4d"). NG_ENOTFOUND
 * (missing), NG_EIO (unreadable). */
int ng_plugin_hash_file(const char *path, char *hash, size_t size, ng_error_t *err);

/* Loads the plugin at path and registers its environments; info (may be NULL) describes it.
 * Loading a plugin that is already loaded (the same resolved path) does nothing more and
 * describes the loaded one. One line in err, naming the file: NG_ENOTFOUND (no such file),
 * NG_EINVAL (not a regular file), NG_EFORMAT (not a loadable shared library, or no
 * NG_PLUGIN_SYMBOL), NG_EUNSUPPORTED (another ABI version), init's status or NG_EINVAL for
 * a refused definition (naming the environment), NG_ERANGE (too many plugins). Thread-safe. */
int ng_plugin_load(const char *path, ng_plugin_info_t *info, ng_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
