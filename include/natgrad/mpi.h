/* natgrad mpi: one training run over several processes with MPI (libnatgrad_mpi.a, built and
 * installed only when CMake finds MPI; libnatgrad itself knows nothing of it: link both).
 *
 * Two ways, both byte-identical (logs and checkpoints) for any number of ranks and threads:
 *   - one batch (the default): the environments are split over the ranks in contiguous
 *     blocks; after every step one MPI_Allgatherv gives every rank every env's outputs
 *     (rl.h's ng_rl_env_share_t), so every rank holds the whole batch, splits the update's
 *     passes (ng_mpi_split) and takes the same update as one process;
 *   - env blocks (rl.h's blocks = B): the ranks share out the B blocks, each keeping only its
 *     blocks' rows, and every batch sum is the blocks' partial sums added in block order
 *     (ng_mpi_split's sum). Nothing of the batch is repeated on every rank: what scales.
 * docs/distributed.md says what each exchanges and costs.
 *
 * Errors: the communicator returns errors (MPI_ERRORS_RETURN) instead of aborting, and each
 * call reports NG_EIO with the MPI error text. A watchdog thread calls the caller's handler
 * when one collective has waited longer than the timeout (a rank hung or gone): the handler
 * ends the process (the library never exits; the CLI's handler does).
 *
 * Use: ng_mpi_init once per process (before any other thread starts), ng_mpi_finalize at
 * the end. One thread at a time calls the collectives. */
#ifndef NATGRAD_MPI_H
#define NATGRAD_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "natgrad/core.h"
#include "natgrad/rl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ng_mpi ng_mpi_t;

/* 1 when this process was started by mpirun / mpiexec (OpenMPI's or a PMI launcher's
 * variables are set), else 0; no MPI call is made. */
int ng_mpi_launched(void);

/* Called by the watchdog thread (not the one in MPI) after one collective has waited
 * waited_s seconds; it should end the process. */
typedef void (*ng_mpi_timeout_fn)(void *ctx, int rank, double waited_s);

/* MPI_Init_thread, MPI_ERRORS_RETURN on the world communicator and a watchdog of timeout_s
 * seconds (0: none). *out is freed by ng_mpi_finalize. NG_EIO if MPI fails to start. */
int ng_mpi_init(ng_mpi_t **out, double timeout_s, ng_mpi_timeout_fn on_timeout, void *ctx,
                ng_error_t *err);
/* Stops the watchdog, MPI_Finalize, frees m. NULL is a no-op. */
void ng_mpi_finalize(ng_mpi_t *m);
/* Ends every rank's process with code (MPI_Abort). */
void ng_mpi_abort(ng_mpi_t *m, int code);
int ng_mpi_rank(const ng_mpi_t *m);
int ng_mpi_size(const ng_mpi_t *m);

/* The contiguous block of n items that rank takes of size: the first n % size ranks one
 * more. count is 0 when size > n. */
void ng_mpi_block(size_t n, int rank, int size, size_t *first, size_t *count);

/* This rank's share of n_envs environments, gathered with MPI_Allgatherv (the share borrows
 * m). NG_EINVAL naming both when there are more ranks than environments. */
int ng_mpi_env_share(ng_mpi_t *m, size_t n_envs, ng_rl_env_share_t *share, ng_error_t *err);

/* A sum of env blocks this small (doubles over all blocks: 32 kB) costs a collective's
 * latency, not its bytes: it is gathered whole in one collective instead of the
 * reduce-scatter's two (ng_mpi_split's sum). */
#define NG_MPI_SMALL_SUM 4096

/* The update's split over the ranks (core.h's ng_split_t; its slices left as they are):
 * rank r computes its block of every batch sum's slices, and one MPI_Allgatherv (in place,
 * doubles) per sum gives every rank every slice. For a run of env blocks (rl.h's blocks)
 * its sum adds the blocks' partial sums in block order: one MPI_Alltoallv brings each rank
 * its segment of every block's sum, which it adds, and one MPI_Allgatherv the segments (a
 * rank receives about 2 n doubles per sum whatever K), or for a small sum one gather of
 * every block's. The split borrows m. NG_EINVAL for NULL. */
int ng_mpi_split(ng_mpi_t *m, ng_split_t *sp);

/* What every rank must agree on before a run: ok (0 when this rank failed to set up, e.g. a
 * bad config) and fingerprints of the binary, the effective config and the environment
 * registry with its plugins. One MPI_Allgather. NG_OK when all agree; else NG_EINVAL with a
 * message naming the first rank that differs from rank 0 and in what (or that failed). */
typedef struct {
  uint64_t ok, binary, config, plugins;
} ng_mpi_fingerprint_t;
int ng_mpi_agree(ng_mpi_t *m, const ng_mpi_fingerprint_t *mine, ng_error_t *err);

/* 64-bit FNV-1a of n bytes, continuing from h (start with NG_MPI_HASH_INIT). */
#define NG_MPI_HASH_INIT 0xcbf29ce484222325ULL
uint64_t ng_mpi_hash(uint64_t h, const void *data, size_t n);
/* The same over a file's bytes. NG_EIO if it cannot be read. */
int ng_mpi_hash_file(uint64_t *h, const char *path, ng_error_t *err);

/* *any = the largest flag of all ranks, on every rank (a stop request's signal number, a
 * failure): non-zero if any rank's is. */
int ng_mpi_any(ng_mpi_t *m, int flag, int *any, ng_error_t *err);
/* x[i] = the sum of every rank's x[i], on every rank, in place (MPI_Allreduce). MPI adds in
 * an order of its own: the result is exact, the same for any number of ranks, when at most
 * one rank's x[i] is not 0.0 (entries that one rank owns, the others sending 0.0: x + 0.0
 * is x, and a NaN stays a NaN). */
int ng_mpi_sum(ng_mpi_t *m, double *x, size_t n, ng_error_t *err);

/* Communication since init (or the last reset): collective calls, bytes this rank received
 * and seconds spent inside them, by the clock and in this thread's CPU time (MPI polls while
 * it waits, so the CPU a rank computed with is its total less cpu_seconds). */
typedef struct {
  unsigned long calls;
  unsigned long long bytes;
  double seconds, cpu_seconds;
  /* the split's sums (a run of env blocks, core.h's ng_split_t sum): how many, how many of
   * them large enough for the reduce-scatter (else one gather), and the doubles (n each) of
   * all and of the large ones */
  unsigned long sums, large_sums;
  unsigned long long sum_doubles, large_doubles;
} ng_mpi_stats_t;
/* This thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID). */
double ng_mpi_thread_cpu(void);
void ng_mpi_stats(const ng_mpi_t *m, ng_mpi_stats_t *out);
/* The part of them that the update split's gathers (ng_mpi_split) made. */
void ng_mpi_split_stats(const ng_mpi_t *m, ng_mpi_stats_t *out);
void ng_mpi_stats_reset(ng_mpi_t *m);

#ifdef __cplusplus
}
#endif
#endif
