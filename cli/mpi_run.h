/* What `mpirun natgrad train`, `fit` and `tune` share (docs/distributed.md): MPI's start
 * (with a watchdog or without), the start-up agreement, the update's split, the stop vote,
 * a sum of what each rank owns, the communication report and a child's environment.
 * Without MPI in the build, or when not started by mpirun, every function is the
 * single-process no-op, so the commands call them unconditionally. */
#ifndef NG_CLI_MPI_RUN_H
#define NG_CLI_MPI_RUN_H

#include <stddef.h>

#include "natgrad/core.h"

/* Starts MPI when launched by mpirun; cmd names the command in messages. With watchdog, a
 * rank that waits in one collective longer than NATGRAD_MPI_TIMEOUT seconds (default 60)
 * ends itself; without, it waits as long as the others take (a tune's rung). -1 to go on,
 * else the exit code. */
int ng_mpi_run_start(const char *cmd, int watchdog);
/* 1 when started by mpirun (MPI running, even with one rank), else 0. */
int ng_mpi_run_active(void);
/* This process's rank and the number of ranks (0 and 1 without MPI). */
int ng_mpi_run_rank(void);
int ng_mpi_run_size(void);
/* The default thread count of a rank: the machine's cores shared by the ranks on it. */
int ng_mpi_run_threads(int cores);
/* The start-up check when the command has no fingerprint of its own: ok (0 where set-up
 * failed), the binary, and a config fingerprint over n byte ranges (bytes[i], lens[i]).
 * -1 to go on, else the exit code (rank 0 names the rank that differs). */
int ng_mpi_run_agree(int ok, const void *const *bytes, const size_t *lens, size_t n);
/* *sp = the update's split over the ranks with the given slices (ng_mpi_split); one process
 * without MPI. NG_OK or NG_ENOMEM. */
int ng_mpi_run_split(ng_split_t *sp, size_t slices);
/* The largest flag of all ranks, on every rank (a signal number, a failure); flag without
 * MPI. */
int ng_mpi_run_any(int flag);
/* x[i] = the sum over the ranks of x[i] (ng_mpi_sum: exact when one rank owns each entry
 * and the others hold 0.0); x as it is without MPI. -1 to go on, else the exit code. */
int ng_mpi_run_sum(double *x, size_t n);
/* environ without the MPI launchers' variables (OMPI_*, PMIX_*, PMI_*), for a child that
 * must not take itself for a rank (a tune's natgrad train, which would start MPI): a
 * NULL-terminated malloc'ed array of environ's strings (free the array, not the strings),
 * or NULL when out of memory. Made before fork: the child only execs. */
char **ng_mpi_run_child_env(void);
/* Rank 0 prints the communication since the split was made, per `unit` (iteration,
 * minibatch) over `count` of them; nothing without MPI or for count < 1. */
void ng_mpi_run_report(long count, const char *unit);
/* Resets the communication counts and the CPU clock of the report. */
void ng_mpi_run_stats_reset(void);
/* MPI_Finalize (no-op without MPI). */
void ng_mpi_run_end(void);
/* Ends every rank with code (MPI_Abort): for a failure the other ranks cannot see, which
 * leaves them inside a collective (no-op without MPI). */
void ng_mpi_run_abort(int code);

#ifdef NG_HAVE_MPI
#include "natgrad/mpi.h"
/* The world (NULL when not under mpirun), for a command's own fingerprints. */
ng_mpi_t *ng_mpi_run_world(void);
#endif

#endif
