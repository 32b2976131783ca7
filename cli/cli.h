/* The natgrad command-line tool: one file per command, each an entry point
 * `int ng_cmd_NAME(int argc, char **argv)` (argv[0] is the command name) returning the
 * process exit code. Only the CLI prints or exits; it turns library statuses into messages. */
#ifndef NG_CLI_H
#define NG_CLI_H

#include <stddef.h>

/* Exit codes shared by every command. */
enum {
  NG_EXIT_OK = 0,
  NG_EXIT_FAILURE = 1, /* the command ran and failed (numerics, I/O) */
  NG_EXIT_USAGE = 2    /* bad flags, bad config, unknown names */
};

/* Room for a path the CLI builds (a run folder and a file name in it). */
#define NG_CLI_PATH 4096

/* Prints "natgrad CMD: message" to stderr (printf-style). */
void ng_cli_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The 0.975 quantile of Student's t with df >= 1 degrees of freedom (a 95 % interval of a
 * mean over df + 1 values): exact to 30, then the Cornish-Fisher expansion in 1/df (within
 * 1e-4). In cmd_plot.c. */
double ng_cli_t975(size_t df);

/* OpenBLAS's own controls (also in its cblas.h; declared here for other CBLAS headers). */
char *openblas_get_config(void);
void openblas_set_num_threads(int num_threads);

/* Commands (keep in the order of the table in main.c). */
int ng_cmd_demo(int argc, char **argv);
int ng_cmd_train(int argc, char **argv);
int ng_cmd_eval(int argc, char **argv);
int ng_cmd_list(int argc, char **argv);
int ng_cmd_replay(int argc, char **argv);
int ng_cmd_fit(int argc, char **argv);
int ng_cmd_tune(int argc, char **argv);
int ng_cmd_export(int argc, char **argv);
int ng_cmd_plot(int argc, char **argv);
int ng_cmd_bench(int argc, char **argv); /* bench/bench.c: the benchmark harness */

#endif
