/* `mpirun -np K natgrad train ...`: the CLI's side of natgrad/mpi.h. Without MPI in the
 * build, or when not started by mpirun, every function is the single-process no-op, so
 * cmd_train.c calls them unconditionally. docs/distributed.md describes the protocol. */
#ifndef NG_CLI_TRAIN_MPI_H
#define NG_CLI_TRAIN_MPI_H

#include "natgrad/rl.h"

/* Starts MPI when launched by mpirun (watchdog from NATGRAD_MPI_TIMEOUT, seconds, default
 * 60). -1 to go on, else the exit code (MPI failed to start). */
int ng_train_mpi_start(void);
/* This process's rank and the number of ranks (0 and 1 without MPI). */
int ng_train_mpi_rank(void);
int ng_train_mpi_size(void);
/* The default --threads of a rank: the machine's cores shared by the ranks on it (one
 * process: cores). */
int ng_train_mpi_threads(int cores);
/* After every rank set up its trainer (t NULL where that failed): one check that all run
 * the same binary, config and plugins and are at the same point of the run, then this
 * rank's share of the environments. -1 to go on, else the exit code (rank 0 names the rank
 * that differs). */
int ng_train_mpi_setup(ng_rl_t *t);
/* The largest flag of all ranks, on every rank (a signal number: stop after this
 * iteration). flag without MPI. */
int ng_train_mpi_any(int flag);
/* Communication per iteration so far, printed by rank 0 at the end (nothing without MPI). */
void ng_train_mpi_report(long iterations);
/* MPI_Finalize (no-op without MPI). */
void ng_train_mpi_end(void);
/* After an iteration failed on this rank: with blocks (each rank holding its own rows) the
 * other ranks cannot know and wait inside the iteration's next sum, so every rank ends
 * with code (MPI_Abort); with one batch every rank failed alike and this returns. */
void ng_train_mpi_failed(const ng_rl_t *t, int code);

#endif
