/* natgrad replay: steps a built-in environment from a given state under given actions and
 * prints every transition as CSV, to compare the dynamics with another implementation. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "natgrad/env.h"

#define CMD "replay"

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad replay --env ID (--state X1,X2,... | --seed S) --actions FILE\n"
          "\n"
          "Sets the environment's internal state (layout shown by `natgrad list`, e.g.\n"
          "x,x_dot,theta,theta_dot for CartPole-v1) or resets it from seed S, then takes the\n"
          "actions in FILE one after the other and prints one CSV row per step. It stops at the\n"
          "first terminated or truncated step (the time limit counts from the given state) and\n"
          "says so on stderr if actions remain.\n"
          "\n"
          "options:\n"
          "  --env ID          environment id, e.g. CartPole-v1\n"
          "  --state LIST      the internal state, comma-separated numbers\n"
          "  --seed S          instead of --state: reset from seed S (stream 0)\n"
          "  --actions FILE    one action a line ('-' reads standard input): for a Discrete\n"
          "                    space an integer 0..n-1, for a Box its numbers separated by\n"
          "                    commas or spaces (out-of-range values are clipped as Gymnasium\n"
          "                    clips them); blank lines and lines starting with '#' are skipped\n"
          "  --help            this text\n"
          "\n"
          "output (stdout), a header line then one row per step:\n"
          "  step,obs_0,...,obs_{D-1},reward,terminated,truncated\n"
          "step counts from 1; obs_i is the observation after the step and reward its reward\n"
          "(printed with %%.17g, so they read back exactly); terminated and truncated are 0 or 1.\n"
          "\n"
          "exit status: 0 done, 1 the dynamics failed (a non-finite state), 2 bad usage: an\n"
          "unknown environment, a wrong number of state values, a malformed action line, an\n"
          "unreadable file.\n");
}

/* Parses a number that must be finite; *end gets the first character after it. */
static int parse_number(const char *s, double *out, char **end) {
  double v = strtod(s, end);
  if (*end == s) return 0;
  if (!isfinite(v)) return 0;
  *out = v;
  return 1;
}

/* Comma-separated state values; exactly n of them. */
static int parse_state(const char *text, size_t n, double *state) {
  const char *p = text;
  size_t k = 0;
  for (;;) {
    char *end;
    double v;
    while (*p == ' ' || *p == '\t') p++;
    if (!parse_number(p, &v, &end)) {
      ng_cli_error(CMD, "--state: '%s' is not a comma-separated list of finite numbers", text);
      return 0;
    }
    if (k < n) state[k] = v;
    k++;
    p = end;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') break;
    if (*p != ',') {
      ng_cli_error(CMD, "--state: unexpected '%c' in '%s'", *p, text);
      return 0;
    }
    p++;
  }
  if (k != n) return -(int)k - 1; /* the count, for the caller's message */
  return 1;
}

/* One action line: n numbers for a Box, one integer in [0, n) for Discrete. Returns 1 for
 * an action, 0 for a blank or comment line, -1 (message printed) for a malformed one. */
static int parse_action(const char *line, size_t lineno, const ng_space_t *space,
                        double *action) {
  const char *p = line;
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  if (*p == '\0' || *p == '#') return 0;
  size_t want = ng_space_size(space), k = 0;
  for (;;) {
    char *end;
    double v;
    if (!parse_number(p, &v, &end)) {
      ng_cli_error(CMD, "actions line %zu: expected %s, got '%s'", lineno,
                   space->kind == NG_SPACE_DISCRETE ? "an integer action" : "finite numbers",
                   line);
      return -1;
    }
    if (k < want) action[k] = v;
    k++;
    p = end;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p == '\0') break;
    if (*p == ',') {
      p++;
      while (*p == ' ' || *p == '\t') p++;
    }
  }
  if (k != want) {
    ng_cli_error(CMD, "actions line %zu: %zu number%s, the action space needs %zu", lineno, k,
                 k == 1 ? "" : "s", want);
    return -1;
  }
  if (space->kind == NG_SPACE_DISCRETE &&
      (action[0] != floor(action[0]) || action[0] < 0 || action[0] >= (double)space->dim)) {
    ng_cli_error(CMD, "actions line %zu: action %g is not one of 0..%zu", lineno, action[0],
                 space->dim - 1);
    return -1;
  }
  return 1;
}

typedef struct {
  double *values; /* n_actions * width */
  size_t *lines;  /* the file line of each action */
  size_t n_actions, cap;
} actions_t;

static void actions_free(actions_t *a) {
  free(a->values);
  free(a->lines);
}

/* Reads and validates the whole file first, so that a malformed line stops the command
 * before any output. */
static int read_actions(const char *path, const ng_space_t *space, actions_t *out) {
  FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
  if (!f) {
    ng_cli_error(CMD, "cannot open actions file '%s': %s", path, strerror(errno));
    return NG_EXIT_USAGE;
  }
  size_t width = ng_space_size(space);
  char *line = NULL;
  size_t linecap = 0, lineno = 0;
  int rc = NG_EXIT_OK;
  double *action = malloc(width * sizeof *action);
  if (!action) {
    ng_cli_error(CMD, "out of memory");
    rc = NG_EXIT_FAILURE;
  }
  while (rc == NG_EXIT_OK && getline(&line, &linecap, f) >= 0) {
    lineno++;
    int r = parse_action(line, lineno, space, action);
    if (r < 0) {
      rc = NG_EXIT_USAGE;
      break;
    }
    if (r == 0) continue;
    if (out->n_actions == out->cap) {
      size_t cap = out->cap ? 2 * out->cap : 256;
      double *v = realloc(out->values, cap * width * sizeof *v);
      if (v) out->values = v;
      size_t *l = realloc(out->lines, cap * sizeof *l);
      if (l) out->lines = l;
      if (!v || !l) {
        ng_cli_error(CMD, "out of memory reading '%s'", path);
        rc = NG_EXIT_FAILURE;
        break;
      }
      out->cap = cap;
    }
    memcpy(out->values + out->n_actions * width, action, width * sizeof *action);
    out->lines[out->n_actions++] = lineno;
  }
  if (rc == NG_EXIT_OK && ferror(f)) {
    ng_cli_error(CMD, "error reading actions file '%s'", path);
    rc = NG_EXIT_USAGE;
  }
  free(line);
  free(action);
  if (f != stdin) fclose(f);
  return rc;
}

int ng_cmd_replay(int argc, char **argv) {
  const char *env_id = NULL, *state_text = NULL, *actions_path = NULL, *seed_text = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    }
    const char **dst = !strcmp(a, "--env")       ? &env_id
                       : !strcmp(a, "--state")   ? &state_text
                       : !strcmp(a, "--actions") ? &actions_path
                       : !strcmp(a, "--seed")    ? &seed_text
                                                 : NULL;
    if (!dst) {
      ng_cli_error(CMD, "unknown argument '%s' (see natgrad replay --help)", a);
      return NG_EXIT_USAGE;
    }
    if (i + 1 >= argc) {
      ng_cli_error(CMD, "%s needs a value", a);
      return NG_EXIT_USAGE;
    }
    *dst = argv[++i];
  }
  if (!env_id || !actions_path || (!state_text == !seed_text)) {
    ng_cli_error(CMD, "needs --env, --actions and one of --state or --seed "
                      "(see natgrad replay --help)");
    return NG_EXIT_USAGE;
  }

  ng_env_t *env = NULL;
  ng_error_t err;
  if (ng_env_create(&env, env_id, &err) != NG_OK) {
    ng_cli_error(CMD, "%s", err.message);
    return NG_EXIT_USAGE;
  }
  const ng_env_info_t *info = ng_env_info(env);
  size_t obs_dim = ng_space_size(&info->observation_space);
  size_t act_dim = ng_space_size(&info->action_space);
  double *obs = malloc((obs_dim + info->state_size + 1) * sizeof *obs);
  double *state = obs + obs_dim;
  int rc = NG_EXIT_OK;
  if (!obs) {
    ng_cli_error(CMD, "out of memory");
    ng_env_destroy(env);
    return NG_EXIT_FAILURE;
  }

  if (state_text) {
    int r = parse_state(state_text, info->state_size, state);
    if (r < 0) {
      ng_cli_error(CMD, "--state: %s takes %zu values (%s), got %d", info->id, info->state_size,
                   info->state_doc, -r - 1);
      rc = NG_EXIT_USAGE;
    } else if (r == 0) {
      rc = NG_EXIT_USAGE;
    } else if (ng_env_set_state(env, state, obs) != NG_OK) {
      ng_cli_error(CMD, "--state: %s rejected the state", info->id);
      rc = NG_EXIT_USAGE;
    }
  } else {
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(seed_text, &end, 10);
    if (end == seed_text || *end != '\0' || errno || seed_text[0] == '-') {
      ng_cli_error(CMD, "--seed: '%s' is not a non-negative integer", seed_text);
      rc = NG_EXIT_USAGE;
    } else {
      ng_env_seed(env, (uint64_t)seed, 0);
      int s = ng_env_reset(env, obs);
      if (s != NG_OK) {
        ng_cli_error(CMD, "%s: reset failed: %s", info->id, ng_strerror(s));
        rc = NG_EXIT_FAILURE;
      }
    }
  }

  actions_t acts = {0};
  if (rc == NG_EXIT_OK) rc = read_actions(actions_path, &info->action_space, &acts);

  if (rc == NG_EXIT_OK) {
    printf("step");
    for (size_t i = 0; i < obs_dim; i++) printf(",obs_%zu", i);
    printf(",reward,terminated,truncated\n");
    for (size_t t = 0; t < acts.n_actions; t++) {
      double reward;
      int terminated, truncated;
      int s = ng_env_step(env, acts.values + t * act_dim, obs, &reward, &terminated, &truncated);
      if (s != NG_OK) {
        ng_cli_error(CMD, "step %zu (actions line %zu): %s (%s)", t + 1, acts.lines[t],
                     ng_strerror(s), ng_status_name(s));
        rc = NG_EXIT_FAILURE;
        break;
      }
      printf("%zu", t + 1);
      for (size_t i = 0; i < obs_dim; i++) printf(",%.17g", obs[i]);
      printf(",%.17g,%d,%d\n", reward, terminated, truncated);
      if (terminated || truncated) {
        size_t left = acts.n_actions - t - 1;
        if (left)
          ng_cli_error(CMD, "episode %s at step %zu; %zu remaining action%s not taken",
                       terminated ? "terminated" : "truncated (time limit)", t + 1, left,
                       left == 1 ? "" : "s");
        break;
      }
    }
    if (fflush(stdout) != 0) {
      ng_cli_error(CMD, "error writing the output");
      rc = NG_EXIT_FAILURE;
    }
  }
  actions_free(&acts);
  free(obs);
  ng_env_destroy(env);
  return rc;
}
