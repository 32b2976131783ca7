/* natgrad: dispatches to one command per file. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void ng_cli_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "natgrad %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} ng_command_t;

static const ng_command_t commands[] = {
    {"demo", ng_cmd_demo, "the seed post's examples: Gaussian distances and a natural-gradient fit"},
    {"train", ng_cmd_train, "train a policy with TRPO, NPG or ACKTR into a run folder (--resume continues)"},
    {"eval", ng_cmd_eval, "mean return of a saved policy over fresh episodes"},
    {"list", ng_cmd_list, "the built-in environments: spaces, time limits, state layouts"},
    {"replay", ng_cmd_replay, "step an environment from a given state under given actions (CSV)"},
    {"fit", ng_cmd_fit, "train an MLP on Fashion-MNIST or a CSV table: SGD, Adam, diag/CG natural gradient, K-FAC"},
    {"tune", ng_cmd_tune, "search config keys: random search with successive halving over trial runs"},
    {"export", ng_cmd_export, "a run's policy as one dependency-free C header (bit for bit in f64)"},
    {"plot", ng_cmd_plot, "learning curves of runs: the mean over seeds with a 95% band, as SVG"},
    {"bench", ng_cmd_bench, "the performance suite: kernels, env steps/s, runs; --peer, --growth"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: natgrad COMMAND [options]   (natgrad COMMAND --help for each)\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return NG_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return NG_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "natgrad: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return NG_EXIT_USAGE;
}
