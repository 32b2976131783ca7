/* natgrad replay: steps an environment (built in, or a plugin's) from a given state under given actions and
 * prints every transition as CSV, to compare the dynamics with another implementation. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "natgrad/env.h"
#include "run_dir.h"

#define CMD "replay"

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad replay --env ID (--state X1,X2,... | --seed S) --actions FILE\n"
          "                      [--plugin LIB.so]\n"
          "\n"
          "Sets the environment's internal state (layout shown by `natgrad list`, e.g.\n"
          "x,x_dot,theta,theta_dot for CartPole-v1) or resets it from seed S, then takes the\n"
          "actions in FILE one after the other and prints one CSV row per step. It stops at the\n"
          "first terminated or truncated step (the time limit counts from the given state) and\n"
          "says so on stderr if actions remain.\n"
          "\n"
          "options:\n"
          "  --env ID          environment id, e.g. CartPole-v1\n"
          "  --plugin LIB.so   load the plugin that defines ID (a run folder's config.ini\n"
          "                    names it: plugin = ...)\n"
          "  --state LIST      the internal state, numbers separated by commas; where the\n"
          "                    environment has a shorter form (MuJoCo: qpos,qvel, as\n"
          "                    Gymnasium's set_state), its values alone are enough\n"
          "  --seed S          instead of --state: reset from seed S (stream 0)\n"
          "  --actions FILE    one action a line ('-' reads standard input): for a Discrete\n"
          "                    space an integer 0..n-1, for a Box, MultiDiscrete or\n"
          "                    MultiBinary its numbers separated by commas or by spaces; blank lines and lines starting with '#'\n"
          "                    are skipped. Each action goes to the environment as given, as\n"
          "                    to Gymnasium's step(): Pendulum clips the torque and\n"
          "                    MountainCarContinuous the force (charging the unclipped action),\n"
          "                    while the MuJoCo environments do not clip (MuJoCo clamps the\n"
          "                    control inside the dynamics; the control cost uses the action\n"
          "                    as given)\n"
          "  --help            this text\n"
          "\n"
          "Numbers are decimal: an optional sign, digits with an optional decimal point, an\n"
          "optional exponent (-0.25, 3, 1e-3, .5); no hex, inf or nan, one number per token.\n"
          "\n"
          "output (stdout), a header line then one row per step:\n"
          "  step,obs_0,...,obs_{D-1},reward,terminated,truncated\n"
          "step counts from 1; obs_i is the observation after the step and reward its reward\n"
          "(printed with %%.17g, so they read back exactly); terminated and truncated are 0 or 1.\n"
          "\n"
          "exit status: 0 done; 1 the dynamics failed: a NaN/Inf state, observation or reward,\n"
          "or a MuJoCo simulation that diverged (beyond MuJoCo's limit of 1e10), reported with\n"
          "its step and no row printed for it; 2 bad usage: an unknown environment, a wrong\n"
          "number of state values, a malformed number or action line, an unreadable file.\n");
}

/* The number reader: a strict decimal syntax, so that "0.1-0.2", "0.5.5", "0x1", "1e" or
 * "inf" are refused instead of read as two numbers, hex or an infinity. */

/* 1 for a character that ends a number: a separator or the end of the text. */
static int ends_token(char c) { return c == '\0' || c == ',' || c == ' ' || c == '\t'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* The length of the decimal number that s starts with ([+-] digits [. digits] or
 * [+-] . digits, then optionally [eE] [+-] digits), 0 if it starts with none. */
static size_t decimal_len(const char *s) {
  size_t i = 0, digits = 0;
  if (s[i] == '+' || s[i] == '-') i++;
  for (; is_digit(s[i]); i++) digits++;
  if (s[i] == '.')
    for (i++; is_digit(s[i]); i++) digits++;
  if (!digits) return 0;
  if (s[i] == 'e' || s[i] == 'E') {
    size_t j = i + 1;
    if (s[j] == '+' || s[j] == '-') j++;
    if (!is_digit(s[j])) return 0;
    while (is_digit(s[j])) j++;
    i = j;
  }
  return i;
}

typedef enum { LIST_OK = 0, LIST_BAD_NUMBER, LIST_OUT_OF_RANGE, LIST_NO_COMMA } list_error_t;

typedef struct {
  size_t count;       /* numbers found (only the first cap are stored) */
  list_error_t error; /* why reading stopped early */
  const char *token;  /* the offending token (error != LIST_OK), token_len bytes */
  int token_len;
} list_t;

/* Reads the numbers of text (up to its NUL) into v[0, cap): separated by commas, with
 * blanks (spaces, tabs) around them allowed, and, if blanks_separate, by blanks alone. */
static list_t read_list(const char *text, int blanks_separate, double *v, size_t cap) {
  list_t l = {0, LIST_OK, NULL, 0};
  const char *p = text;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    size_t n = decimal_len(p);
    const char *end = p;
    while (!ends_token(*end)) end++;
    if (n == 0 || !ends_token(p[n])) {
      l.error = LIST_BAD_NUMBER;
      l.token = p;
      l.token_len = end - p > 64 ? 64 : (int)(end - p);
      return l;
    }
    double x = strtod(p, NULL); /* the same span: the syntax above is strtod's subset */
    if (!isfinite(x)) {
      l.error = LIST_OUT_OF_RANGE;
      l.token = p;
      l.token_len = (int)n;
      return l;
    }
    if (l.count < cap) v[l.count] = x;
    l.count++;
    p += n;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') return l;
    if (*p == ',') {
      p++;
    } else if (!blanks_separate) { /* "1 2" where only commas separate */
      l.error = LIST_NO_COMMA;
      return l;
    } /* else blanks ended the number and the next one starts at p */
  }
}

/* Prints what read_list found wrong, after `where` ("--state" or "actions line 3"). */
static void list_error(const char *where, const list_t *l, const char *text) {
  if (l->error == LIST_NO_COMMA)
    ng_cli_error(CMD, "%s: the numbers must be separated by commas in '%s'", where, text);
  else if (l->error == LIST_OUT_OF_RANGE)
    ng_cli_error(CMD, "%s: '%.*s' is beyond the range of a double", where, l->token_len,
                 l->token);
  else if (l->token_len == 0)
    ng_cli_error(CMD, "%s: a number is missing in '%s'", where, text);
  else
    ng_cli_error(CMD, "%s: '%.*s' is not a decimal number (e.g. -0.25, 3 or 1e-3) in '%s'",
                 where, l->token_len, l->token, text);
}

/* Comma-separated state values: state_size of them, or state_min_size (the short form, the
 * rest zero). Returns 1, or 0 (message printed). */
static int parse_state(const char *text, const ng_env_info_t *info, double *state) {
  if (info->state_size == 0) {
    ng_cli_error(CMD, "--state: %s has no get/set state; start it with --seed S", info->id);
    return 0;
  }
  list_t l = read_list(text, 0, state, info->state_size);
  if (l.error) {
    list_error("--state", &l, text);
    return 0;
  }
  size_t min = info->state_min_size;
  if (l.count != info->state_size && (!min || l.count != min)) {
    char also[48] = "";
    if (min) snprintf(also, sizeof also, ", or its first %zu", min);
    ng_cli_error(CMD, "--state: %s takes %zu values (%s)%s, got %zu", info->id,
                 info->state_size, info->state_doc, also, l.count);
    return 0;
  }
  memset(state + l.count, 0, (info->state_size - l.count) * sizeof *state);
  return 1;
}

/* One action line of len bytes (with its newline, if any): n numbers for a Box, one integer
 * in [0, n) for Discrete, n integers for a MultiDiscrete or MultiBinary. Returns 1 for an action, 0 for a blank or comment line, -1
 * (message printed) for a malformed one. */
static int parse_action(char *line, size_t len, size_t lineno, const ng_space_t *space,
                        double *action) {
  char where[48];
  snprintf(where, sizeof where, "actions line %zu", lineno);
  const char *nul = memchr(line, '\0', len);
  if (nul) {
    ng_cli_error(CMD, "%s: a NUL byte at column %zu (a text file has none)", where,
                 (size_t)(nul - line) + 1);
    return -1;
  }
  if (len && line[len - 1] == '\n') line[--len] = '\0';
  if (len && line[len - 1] == '\r') line[--len] = '\0';
  const char *p = line;
  while (*p == ' ' || *p == '\t') p++;
  if (*p == '\0' || *p == '#') return 0;
  size_t want = ng_space_size(space);
  list_t l = read_list(line, 1, action, want);
  if (l.error) {
    if (space->kind == NG_SPACE_DISCRETE)
      ng_cli_error(CMD, "%s: expected an integer action, got '%s'", where, line);
    else
      list_error(where, &l, line);
    return -1;
  }
  if (l.count != want) {
    ng_cli_error(CMD, "%s: %zu number%s, the action space needs %zu", where, l.count,
                 l.count == 1 ? "" : "s", want);
    return -1;
  }
  /* a Box action goes as given (the env clips it); the others must be in their space */
  ng_error_t e;
  if (space->kind != NG_SPACE_BOX && ng_space_contains(space, action, &e) != NG_OK) {
    if (space->kind == NG_SPACE_DISCRETE)
      ng_cli_error(CMD, "%s: action %g is not one of 0..%zu", where, action[0], space->dim - 1);
    else
      ng_cli_error(CMD, "%s: action %s", where, e.message);
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
  ssize_t got;
  while (rc == NG_EXIT_OK && (got = getline(&line, &linecap, f)) >= 0) {
    lineno++;
    int r = parse_action(line, (size_t)got, lineno, space, action);
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

/* Why step `step` (from actions line `line`) failed: the env's status s, or with s == NG_OK
 * a non-finite observation component (the first, obs[bad], if bad < its size) or reward.
 * Nothing is printed to stdout for that step. */
static void report_step_failure(size_t step, size_t line, int s, size_t bad, const double *obs,
                                double reward) {
  if (s == NG_ERANGE)
    ng_cli_error(CMD, "step %zu (actions line %zu): the simulation diverged: a position, "
                 "velocity or acceleration went beyond MuJoCo's limit of 1e10 (mjMAXVAL), "
                 "where MuJoCo would reset it; the step was not taken", step, line);
  else if (s == NG_ENONFINITE)
    ng_cli_error(CMD, "step %zu (actions line %zu): the dynamics produced a NaN or Inf "
                 "(state, observation or reward); the step was not taken", step, line);
  else if (s != NG_OK)
    ng_cli_error(CMD, "step %zu (actions line %zu): %s (%s)", step, line, ng_strerror(s),
                 ng_status_name(s));
  else if (!isfinite(reward))
    ng_cli_error(CMD, "step %zu (actions line %zu): the reward is not finite (%g)", step, line,
                 reward);
  else
    ng_cli_error(CMD, "step %zu (actions line %zu): the observation is not finite (obs_%zu = "
                 "%g: the state left the range the observation can hold)", step, line, bad,
                 obs[bad]);
}

int ng_cmd_replay(int argc, char **argv) {
  const char *env_id = NULL, *state_text = NULL, *actions_path = NULL, *seed_text = NULL;
  const char *plugin = NULL;
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
                       : !strcmp(a, "--plugin")  ? &plugin
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

  if (plugin) {
    int rc = ng_cli_plugin_load(CMD, plugin);
    if (rc >= 0) return rc;
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
    int s;
    if (!parse_state(state_text, info, state)) {
      rc = NG_EXIT_USAGE;
    } else if ((s = ng_env_set_state(env, state, obs)) != NG_OK) {
      ng_cli_error(CMD, "--state: %s rejected the state: %s", info->id,
                   s == NG_ERANGE ? "a value beyond MuJoCo's limit of 1e10" : ng_strerror(s));
      rc = NG_EXIT_USAGE;
    }
  } else {
    char *end;
    errno = 0; /* loading a plugin may have left it set */
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
      size_t bad = 0;
      while (s == NG_OK && bad < obs_dim && isfinite(obs[bad])) bad++;
      if (s != NG_OK || bad < obs_dim || !isfinite(reward)) {
        report_step_failure(t + 1, acts.lines[t], s, bad, obs, reward);
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
