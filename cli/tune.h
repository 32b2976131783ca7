/* natgrad tune's pieces that neither print nor start anything, so they can be tested on their
 * own (tests/tune_unit.c): the search space, drawing a trial's values from the tune's seed,
 * and successive halving's rungs and promotions. cmd_tune.c runs the trials.
 *
 * A space is a list of "key = DIST" lines, read by the project's one key/value reader
 * (natgrad/keys.h: comments, SOURCE:LINE in every message), with DIST one of
 *   uniform(a, b)       a double key, uniform on [a, b)
 *   loguniform(a, b)    a double key, log-uniform on [a, b), 0 < a
 *   int(a, b)           an integer key, uniform on the integers a..b
 *   choice(v1, v2, ...) any numeric or named key (n_steps, gamma, policy_act...), one of the
 *                       values, each equally likely
 * a < b, and both ends (every value of a choice) must be accepted by the key's own range in
 * the config's key table (ng_rl_config_keys). The keys a tune sets itself (env, algo, seed,
 * steps) and the ones that are not numbers (widths, paths) cannot be searched.
 *
 * Every function returns NG_OK or a status with a one-line message in err; nothing here
 * prints or exits. */
#ifndef NG_CLI_TUNE_H
#define NG_CLI_TUNE_H

#include <stdint.h>

#include "natgrad/keys.h"
#include "natgrad/rl.h"

#define NG_TUNE_MAX_DIMS 32
#define NG_TUNE_MAX_CHOICES 16
#define NG_TUNE_VALUE 32 /* a drawn value as text, e.g. "0.0123457" */
#define NG_TUNE_MAX_RUNGS 64
/* The training seeds of trials: trial i trains on seed NG_TUNE_SEED_BASE + i (on R seeds,
 * NG_TUNE_SEED_BASE + i*R + j, j < R), so that the seeds results are reported on (0-9) are
 * never the ones tuned on. */
#define NG_TUNE_SEED_BASE 100

typedef enum { NG_TUNE_UNIFORM, NG_TUNE_LOGUNIFORM, NG_TUNE_INT, NG_TUNE_CHOICE } ng_tune_dist_t;

typedef struct {
  char key[64];
  ng_tune_dist_t dist;
  double lo, hi; /* uniform, loguniform, int */
  int n_choices;
  char choices[NG_TUNE_MAX_CHOICES][NG_TUNE_VALUE];
  char spec[256]; /* the distribution as given, for tune.ini */
} ng_tune_dim_t;

typedef struct {
  ng_tune_dim_t dims[NG_TUNE_MAX_DIMS];
  int n;
} ng_tune_space_t;

/* The default space of algo, for an environment whose actions are Gaussian (gaussian: then
 * init_log_std is searched too), as "key = DIST" lines. */
const char *ng_tune_default_space(ng_algo_t algo, int gaussian);

/* Adds "key = spec" to s. base is the config the trials start from (the key's range is
 * checked by setting each end on a copy of it). Messages start with "SOURCE:LINE: ". A key
 * given twice is refused. */
int ng_tune_space_add(ng_tune_space_t *s, const char *key, const char *spec,
                      const ng_rl_config_t *base, const char *source, int line, ng_error_t *err);
/* Every entry of l in section (NULL: the top level) through ng_tune_space_add, in order. */
int ng_tune_space_read(ng_tune_space_t *s, const ng_kv_list_t *l, const char *section,
                       const ng_rl_config_t *base, ng_error_t *err);
/* Removes key from s (a key fixed by --set is not searched); 1 if it was there. */
int ng_tune_space_drop(ng_tune_space_t *s, const char *key);

/* Trial's values (values[d] for dim d, as text the key reads), drawn from the random stream
 * (seed, trial): a trial's values depend on the seed and its index only, not on how many
 * trials there are. Doubles are rounded to 6 significant digits, the text being the value. */
void ng_tune_sample(const ng_tune_space_t *s, uint64_t seed, int trial,
                    char values[][NG_TUNE_VALUE]);

/* The rungs' step budgets: min_steps, min_steps * eta, ... while below steps, then steps
 * (1 <= min_steps <= steps, eta >= 2). Returns their count (at most max). */
int ng_tune_rungs(long min_steps, long steps, int eta, long *rungs, int max);

/* Successive halving's promotion: of the n trials (indices trial[i], scores score[i]; NaN for
 * a failed trial, never promoted) the best max(1, n / eta) by score, ties broken by the lower
 * index; written to out in increasing trial order. Returns their count (0 when every score
 * is NaN). With eta >= n it gives the single best. */
int ng_tune_promote(const int *trial, const double *score, int n, int eta, int *out);

#endif
