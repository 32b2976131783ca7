/* natgrad list: the registered environments (built in, and a plugin's), their spaces, time
 * limits and state layouts. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "natgrad/env.h"
#include "natgrad/rl.h"
#include "run_dir.h"

#define CMD "list"

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad list [--ids] [--plugin LIB.so]\n"
          "\n"
          "Lists the environments: the built-in ones (Gymnasium's classic-control and MuJoCo\n"
          "tasks, same ids and dynamics), then a plugin's. For each: the observation and action\n"
          "spaces (a Box with its float32 bounds, Discrete(n) for 0..n-1 (an observation\n"
          "one-hot), MultiDiscrete([n0 n1 ..]) or MultiBinary(n)), the time\n"
          "limit after which an episode is truncated, the internal state that `natgrad replay\n"
          "--state` takes, a summary, and for a plugin's its file.\n"
          "\n"
          "options:\n"
          "  --ids            print only the ids, one a line\n"
          "  --plugin LIB.so  load a plugin and list its environments too\n"
          "  --help           this text\n");
}

/* "[-1.20000005, -0.0700000003]", or one number when every component has the same bound;
 * %.9g prints a float32 bound exactly enough to read it back. */
static void print_bounds(size_t n, const double *b) {
  int same = 1;
  for (size_t i = 1; i < n; i++)
    if (b[i] != b[0]) same = 0;
  if (same && n > 1) {
    printf("%.9g", b[0]);
    return;
  }
  printf("[");
  for (size_t i = 0; i < n; i++) printf("%s%.9g", i ? ", " : "", b[i]);
  printf("]");
}

/* "Box(2) low [-1.2, -0.07] high [0.6, 0.07]", "Box(17) low -inf high inf", "Discrete(3)",
 * "MultiDiscrete([8 3])" or "MultiBinary(4)", as Gymnasium prints them (a Discrete
 * observation is fed to the networks one-hot: "(one-hot)"). */
static void print_space(const ng_space_t *sp, int obs) {
  if (sp->kind == NG_SPACE_DISCRETE) {
    printf("Discrete(%zu)%s", sp->dim, obs ? " (one-hot)" : "");
    return;
  }
  if (sp->kind == NG_SPACE_MULTI_BINARY) {
    printf("MultiBinary(%zu)", sp->dim);
    return;
  }
  if (sp->kind == NG_SPACE_MULTI_DISCRETE) {
    printf("MultiDiscrete([");
    for (size_t i = 0; i < sp->dim; i++) printf("%s%u", i ? " " : "", (unsigned)sp->nvec[i]);
    printf("])");
    return;
  }
  printf("Box(%zu) low ", sp->dim);
  print_bounds(sp->dim, sp->low);
  printf(" high ");
  print_bounds(sp->dim, sp->high);
}

int ng_cmd_list(int argc, char **argv) {
  int ids_only = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (!strcmp(argv[i], "--ids")) {
      ids_only = 1;
    } else if (!strcmp(argv[i], "--plugin") && i + 1 < argc) {
      int rc = ng_cli_plugin_load(CMD, argv[++i]);
      if (rc >= 0) return rc;
    } else {
      ng_cli_error(CMD, "unknown argument '%s' (see natgrad list --help)", argv[i]);
      return NG_EXIT_USAGE;
    }
  }
  for (size_t i = 0; i < ng_env_count(); i++) {
    const ng_env_info_t *info = ng_env_info_at(i);
    if (ids_only) {
      printf("%s\n", info->id);
      continue;
    }
    printf("%s%s\n", i ? "\n" : "", info->id);
    printf("  observation  ");
    print_space(&info->observation_space, 1);
    printf("\n  action       ");
    print_space(&info->action_space, 0);
    printf("\n  time limit   %d steps\n", info->max_episode_steps);
    printf("  state        %s\n", info->state_size ? info->state_doc
                                                     : "(none: no get/set state)");
    if (info->state_min_size)
      printf("  short state  its first %zu values (the rest 0)\n", info->state_min_size);
    printf("  summary      %s\n", info->summary);
    const char *plugin = ng_env_plugin_path(info->id);
    if (plugin) printf("  plugin       %s\n", plugin);
  }
  return fflush(stdout) == 0 ? NG_EXIT_OK : NG_EXIT_FAILURE;
}
