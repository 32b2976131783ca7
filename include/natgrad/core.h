/* natgrad core: status codes, the replaceable allocator, the random-number stream and the
 * batch reducer that every other module shares.
 *
 * Conventions for the whole library:
 *   - every fallible function returns int: NG_OK (0) or a negative NG_E* code; ng_strerror()
 *     names it. The library never prints, exits or aborts.
 *   - matrices are row-major doubles; a batch of B rows of width w is a B*w array.
 *   - memory is allocated only in *_create / *_init functions, through ng_malloc & co.;
 *     every hot path (forward, backward, Fisher product, CG iteration, env step) is
 *     allocation-free.
 *   - randomness is always an explicit ng_rng_t; there is no global random state.
 */
#ifndef NATGRAD_CORE_H
#define NATGRAD_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------ */

#define NG_STATUS_MAP(X)                                                    \
  X(NG_OK, 0, "success")                                                    \
  X(NG_EINVAL, -1, "invalid argument")                                      \
  X(NG_ENOMEM, -2, "out of memory")                                         \
  X(NG_ENONFINITE, -3, "non-finite value (NaN or Inf)")                     \
  X(NG_ENOTPD, -4, "matrix is not positive definite")                       \
  X(NG_ECURVATURE, -5, "non-positive curvature along a search direction")   \
  X(NG_ENOCONVERGE, -6, "iteration limit reached before convergence")       \
  X(NG_ELINESEARCH, -7, "line search rejected every trial step")            \
  X(NG_EIO, -8, "input/output error")                                       \
  X(NG_EFORMAT, -9, "malformed or unsupported file")                        \
  X(NG_ERANGE, -10, "value out of range")                                   \
  X(NG_ENOTFOUND, -11, "not found")                                         \
  X(NG_EUNSUPPORTED, -12, "not supported in this build")                    \
  X(NG_EINTERRUPTED, -13, "interrupted")                                    \
  X(NG_EBUSY, -14, "in use by another process")                             \
  X(NG_EEXIST, -15, "already exists")

enum {
#define NG__STATUS_ENUM(name, code, text) name = code,
  NG_STATUS_MAP(NG__STATUS_ENUM)
#undef NG__STATUS_ENUM
};

/* Human-readable text for a status code; never NULL (unknown codes get a generic text). */
const char *ng_strerror(int status);
/* The symbolic name, e.g. "NG_ENOTPD"; never NULL. */
const char *ng_status_name(int status);

/* A status with a message for the caller to show, for functions whose failures need
 * context (which file and line, which environment and step). Fixed size: no allocation.
 * Functions that take an ng_error_t * accept NULL when the caller wants only the code. */
typedef struct {
  int status;
  char message[512];
} ng_error_t;

/* Records status and a printf-style message in err (if err is non-NULL); returns status,
 * so a failing path can say `return ng_error_set(err, NG_EINVAL, "...", ...);`. */
int ng_error_set(ng_error_t *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Clears err to NG_OK with an empty message. */
void ng_error_clear(ng_error_t *err);

/* ---- allocator ----------------------------------------------------------------------- */

/* Every allocation the library makes goes through these four functions. Replace them (for
 * an arena, accounting, or failure injection in tests) before creating any object; passing
 * all NULL restores the C library's. Objects must be freed with the allocator that made
 * them. Returns NG_EINVAL if only some of the four are NULL. */
typedef void *(*ng_malloc_fn)(size_t size);
typedef void *(*ng_calloc_fn)(size_t count, size_t size);
typedef void *(*ng_realloc_fn)(void *ptr, size_t size);
typedef void (*ng_free_fn)(void *ptr);
int ng_set_allocator(ng_malloc_fn m, ng_calloc_fn c, ng_realloc_fn r, ng_free_fn f);

void *ng_malloc(size_t size);
void *ng_calloc(size_t count, size_t size);
void *ng_realloc(void *ptr, size_t size);
void ng_free(void *ptr);

/* ---- random numbers ---------------------------------------------------------------- */

/* xoshiro256** seeded through splitmix64 from (seed, stream): distinct streams of one seed
 * are independent, so environment i of a run uses stream i and results do not depend on
 * how environments are spread over threads or processes. Plain struct: copy it to fork a
 * stream, save its bytes to checkpoint it. */
typedef struct {
  uint64_t s[4];
  /* cached second normal deviate of the Box-Muller pair */
  double spare_normal;
  int has_spare;
} ng_rng_t;

void ng_rng_seed(ng_rng_t *rng, uint64_t seed, uint64_t stream);
uint64_t ng_rng_u64(ng_rng_t *rng);
/* Uniform on [0, 1), 53 random bits. */
double ng_rng_uniform(ng_rng_t *rng);
/* Uniform on [lo, hi). */
double ng_rng_uniform_range(ng_rng_t *rng, double lo, double hi);
/* Standard normal N(0, 1) (Box-Muller). */
double ng_rng_normal(ng_rng_t *rng);
/* Uniform integer on [0, n), n > 0, without modulo bias. */
uint64_t ng_rng_below(ng_rng_t *rng, uint64_t n);

/* ---- batch reduction ----------------------------------------------------------------- */

/* Every sum over a batch (a gradient, a Fisher product, a KL, a statistic) passes through
 * one reducer call, so that several processes holding shards of one batch can add their
 * partial sums there and nowhere else. `sum` replaces buf[0..n) in place by the sum of
 * every participant's buf (an allreduce); a reducer whose sum is NULL is the identity
 * (single process). */
typedef struct {
  int (*sum)(void *ctx, double *buf, size_t n);
  void *ctx;
} ng_reducer_t;

/* Applies r to buf (no-op for a NULL r or r->sum). */
int ng_reduce_sum(const ng_reducer_t *r, double *buf, size_t n);

/* ---- splitting batch sums over processes ------------------------------------------------ */

/* A pass that sums over a batch cuts it into fixed row chunks and sums those into S fixed
 * slices, added in slice order (pool.h): the same bits for any thread count. A split lets
 * `size` processes that all hold the whole batch share that work bit-identically: process
 * `rank` computes only its block of the slices (ng_split_own), `gather` brings every
 * process's slices to every process (an all-gather: unlike an all-reduce its result does not
 * depend on how the messages are combined), and every process then adds the slices in slice
 * order, as one process does. S is the run's choice (`slices`), not the process count: a sum
 * of C chunks has min(S, C) slices, and processes past the slices' count compute none.
 * The library never talks to other processes itself; a split without gather (or with size
 * 1) is one process using S slices. */
#define NG_SLICES_DEFAULT 4 /* what every pass used before splits existed */
#define NG_SLICES_MAX 64
typedef struct {
  size_t slices; /* S, 1..NG_SLICES_MAX (0: NG_SLICES_DEFAULT) */
  int rank, size;
  /* parts[s] (lens[s] doubles) for s < n_slices: on entry this process's own block holds
   * what it computed (partial sums, or a forward's output rows); on return every slice
   * does. NG_OK or a status. */
  int (*gather)(void *ctx, double *const *parts, const size_t *lens, size_t n_slices);
  void *ctx;
  /* Optional (NULL: gather, then add here): out (n doubles, on every process) = the n_slices
   * partial sums of n doubles added in slice order, from this process's own (its block of
   * slices, in order, at own[0..]). An implementation may move fewer bytes than the gather
   * (each process adds one segment of out over every slice, then the segments are
   * gathered) but must add in slice order: the bits are the gather's. */
  int (*sum)(void *ctx, const double *const *own, size_t n, size_t n_slices, double *out);
} ng_split_t;

/* min(S, n_chunks) for split sp (NULL: the default S). */
size_t ng_split_slices(const ng_split_t *sp, size_t n_chunks);
/* The slices [*first, *first + *count) of n_slices that sp's process computes: a contiguous
 * block, the first n_slices % size processes one more; all of them for NULL or one process. */
void ng_split_own(const ng_split_t *sp, size_t n_slices, size_t *first, size_t *count);
/* 1 when sp splits work over more than one process (and so has a gather), else 0. */
int ng_split_active(const ng_split_t *sp);
/* Calls sp's gather when it is active; NG_OK otherwise. */
int ng_split_gather(const ng_split_t *sp, double *const *parts, const size_t *lens,
                    size_t n_slices);
/* The same for n_slices partial sums of n doubles each. */
int ng_split_gather_sums(const ng_split_t *sp, double *const *parts, size_t n, size_t n_slices);

/* ---- small numeric helpers ------------------------------------------------------------- */

/* 1 if all n values are finite, else 0. */
int ng_all_finite(size_t n, const double *x);

#ifdef __cplusplus
}
#endif
#endif
