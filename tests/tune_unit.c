/* natgrad tune's pieces (cli/tune.h): the space parser on good and bad lines, every default
 * space inside its keys' ranges, trials drawn from the seed alone and inside their
 * distributions, the rungs, and successive halving's promotions (ties, NaN, rounding). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ng_test.h"
#include "tune.h"

/* The CLI's printer (cli/main.c), which run_dir.c calls: here it just prints. */
void ng_cli_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "natgrad %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static ng_rl_config_t base_config(const char *env) {
  ng_rl_config_t cfg;
  ng_error_t err;
  if (ng_rl_config_default(&cfg, env, &err) != NG_OK) {
    fprintf(stderr, "no defaults for %s: %s\n", env, err.message);
    exit(1);
  }
  return cfg;
}

/* Parses text as a space file; returns its status, err holding the message. */
static int parse(const char *text, ng_tune_space_t *s, ng_error_t *err) {
  ng_rl_config_t base = base_config("Pendulum-v1");
  ng_kv_list_t l;
  memset(s, 0, sizeof *s);
  ng_error_clear(err);
  int st = ng_kv_parse(&l, text, strlen(text), "space.txt", NULL, err);
  if (st != NG_OK) return st;
  st = ng_tune_space_read(s, &l, NULL, &base, err);
  ng_kv_free(&l);
  return st;
}

static void test_space_good(void) {
  ng_tune_space_t s;
  ng_error_t err;
  NG_CHECK_OK(parse("# a comment\n"
                    "max_kl = loguniform(1e-3, 1e-1)\n"
                    "gae_lambda = uniform(0.9, 1)   # trailing comment\n"
                    "vf_epochs: int(5, 30)\n"
                    "n_steps = choice(256, 512,1024)\n"
                    "policy_act = choice(tanh, relu)\n", &s, &err));
  NG_CHECK(s.n == 5);
  NG_CHECK(!strcmp(s.dims[0].key, "max_kl") && s.dims[0].dist == NG_TUNE_LOGUNIFORM);
  NG_CHECK(s.dims[0].lo == 1e-3 && s.dims[0].hi == 1e-1);
  NG_CHECK(s.dims[1].dist == NG_TUNE_UNIFORM && s.dims[1].hi == 1);
  NG_CHECK(s.dims[2].dist == NG_TUNE_INT && s.dims[2].lo == 5 && s.dims[2].hi == 30);
  NG_CHECK(s.dims[3].dist == NG_TUNE_CHOICE && s.dims[3].n_choices == 3);
  NG_CHECK(!strcmp(s.dims[3].choices[2], "1024"));
  NG_CHECK(!strcmp(s.dims[4].choices[1], "relu"));
  NG_CHECK(!strcmp(s.dims[0].spec, "loguniform(1e-3, 1e-1)"));
  NG_CHECK(ng_tune_space_drop(&s, "gae_lambda") == 1 && s.n == 4);
  NG_CHECK(!strcmp(s.dims[1].key, "vf_epochs"));
  NG_CHECK(ng_tune_space_drop(&s, "gae_lambda") == 0 && s.n == 4);
  NG_CHECK(ng_tune_space_drop(&s, "max_kl") == 1 && s.n == 3);
  /* a key added twice (the reader refuses it within one file first) */
  ng_rl_config_t base = base_config("Pendulum-v1");
  NG_CHECK_STATUS(ng_tune_space_add(&s, "vf_epochs", "int(1, 2)", &base, "x", 9, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "x:9: vf_epochs is already in the space") != NULL);
  NG_CHECK(s.n == 3);
}

/* Each bad line is refused, naming the file and line, with the reason in the message. */
static void test_space_bad(void) {
  static const struct {
    const char *text;
    const char *says;
  } bad[] = {
      {"max_kll = uniform(0.1, 0.2)\n", "space.txt:1: unknown key 'max_kll'"},
      {"\nmax_kl = uniform(0.1, 20)\n", "space.txt:2: max_kl = 20 is out of range"},
      {"max_kl = uniform(0, 0.1)\n", "max_kl = 0 is out of range"},
      {"gamma = uniform(0.9, 1.5)\n", "gamma = 1.5 is out of range"},
      {"max_kl = loguniform(0.1, 0.01)\n", "lower bound must be below"},
      {"init_log_std = loguniform(-1, 0.5)\n", "loguniform needs a lower bound above 0"},
      {"max_kl = gaussian(0.1, 0.01)\n", "unknown distribution 'gaussian'"},
      {"max_kl = uniform(0.1)\n", "takes two bounds, got 1"},
      {"max_kl = uniform(0.1, 0.2, 0.3)\n", "takes two bounds, got 3"},
      {"max_kl = uniform(0.1, x)\n", "the bounds must be finite numbers"},
      {"max_kl = uniform 0.1, 0.2\n", "expected uniform(a, b)"},
      {"max_kl = uniform(0.1, 0.2) x\n", "expected uniform(a, b)"},
      {"max_kl = uniform(0.1, )\n", "expected uniform(a, b)"},
      {"max_kl = int(1, 2)\n", "max_kl is a non-integer key: use uniform(a, b)"},
      {"vf_epochs = uniform(1, 2)\n", "vf_epochs is an integer key: use int(a, b)"},
      {"vf_epochs = int(1.5, 3)\n", "the bounds must be whole numbers"},
      {"n_steps = choice(256, 0)\n", "n_steps = 0 is out of range"},
      {"n_steps = choice(256, 256)\n", "choice 256 given twice"},
      {"policy_act = choice(tanh, sigmoid)\n", "policy_act"},
      {"seed = int(0, 9)\n", "seed cannot be searched: it is set by the tune"},
      {"steps = int(1, 9)\n", "steps cannot be searched"},
      {"env = choice(CartPole-v1)\n", "env cannot be searched"},
      {"policy_hidden = choice(64)\n", "policy_hidden cannot be searched: not a number"},
      {"max_kl = uniform(0.1, 0.2)\ngamma = uniform(0.9, 1)\nmax_kl = uniform(0.2, 0.3)\n",
       "space.txt:3: 'max_kl' is set again (first on line 1)"},
      {"max_kl = uniform(0.1, 0.2)\nmax_kl = uniform(0.2, 0.3)\n", "space.txt:2"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ng_tune_space_t s;
    ng_error_t err;
    int st = parse(bad[i].text, &s, &err);
    ng_test_checks++;
    if (st == NG_OK || !strstr(err.message, bad[i].says)) {
      ng_test_failures++;
      fprintf(stderr, "bad line %zu (%s): status %d, message '%s', expected it to say '%s'\n",
              i, bad[i].text, st, err.message, bad[i].says);
    }
  }
}

/* The default spaces parse, for every algorithm, on a discrete and a Gaussian env, and
 * every value they can draw is accepted by a trial's config. */
static void test_default_spaces(void) {
  static const char *const envs[] = {"CartPole-v1", "Pendulum-v1"};
  for (int a = NG_ALGO_TRPO; a <= NG_ALGO_ACKTR; a++)
    for (int e = 0; e < 2; e++) {
      ng_rl_config_t base = base_config(envs[e]);
      base.algo = (ng_algo_t)a;
      const char *text = ng_tune_default_space((ng_algo_t)a, e == 1);
      ng_kv_list_t l;
      ng_tune_space_t s;
      ng_error_t err;
      memset(&s, 0, sizeof s);
      NG_CHECK_OK(ng_kv_parse(&l, text, strlen(text), "default", NULL, &err));
      NG_CHECK_OK(ng_tune_space_read(&s, &l, NULL, &base, &err));
      ng_kv_free(&l);
      NG_CHECK(s.n >= 6);
      int has_log_std = 0;
      for (int d = 0; d < s.n; d++) has_log_std |= !strcmp(s.dims[d].key, "init_log_std");
      NG_CHECK(has_log_std == (e == 1));
      for (int t = 0; t < 200; t++) {
        char v[NG_TUNE_MAX_DIMS][NG_TUNE_VALUE];
        ng_tune_sample(&s, 7, t, v);
        ng_rl_config_t cfg = base;
        for (int d = 0; d < s.n; d++)
          NG_CHECK_OK(ng_rl_config_set(&cfg, s.dims[d].key, v[d], &err));
        NG_CHECK_OK(ng_rl_config_validate(&cfg, &err));
      }
    }
}

/* A trial's values depend on (seed, trial) only, and lie in their distributions. */
static void test_sample(void) {
  ng_tune_space_t s;
  ng_error_t err;
  NG_CHECK_OK(parse("max_kl = loguniform(0.001, 0.1)\n"
                    "gae_lambda = uniform(0.9, 0.95)\n"
                    "vf_epochs = int(5, 7)\n"
                    "n_steps = choice(256, 512)\n", &s, &err));
  char a[NG_TUNE_MAX_DIMS][NG_TUNE_VALUE], b[NG_TUNE_MAX_DIMS][NG_TUNE_VALUE];
  int seen_int[3] = {0}, seen_choice[2] = {0}, low_decade = 0, differ = 0;
  for (int t = 0; t < 400; t++) {
    ng_tune_sample(&s, 3, t, a);
    ng_tune_sample(&s, 3, t, b);
    for (int d = 0; d < s.n; d++) NG_CHECK(!strcmp(a[d], b[d]));
    ng_tune_sample(&s, 4, t, b);
    differ += strcmp(a[0], b[0]) != 0;
    double kl = atof(a[0]), lam = atof(a[1]);
    int ep = atoi(a[2]);
    NG_CHECK(kl >= 0.001 && kl <= 0.1);
    NG_CHECK(lam >= 0.9 && lam <= 0.95);
    NG_CHECK(ep >= 5 && ep <= 7);
    if (ep >= 5 && ep <= 7) seen_int[ep - 5]++;
    seen_choice[!strcmp(a[3], "512")]++;
    NG_CHECK(!strcmp(a[3], "256") || !strcmp(a[3], "512"));
    low_decade += kl < 0.01; /* log-uniform: half the draws in [0.001, 0.01) */
  }
  NG_CHECK(seen_int[0] && seen_int[1] && seen_int[2]);
  NG_CHECK(seen_choice[0] > 100 && seen_choice[1] > 100);
  NG_CHECK(low_decade > 150 && low_decade < 250);
  NG_CHECK(differ > 390); /* another seed, other trials */
}

static void test_rungs(void) {
  long r[NG_TUNE_MAX_RUNGS];
  int n = ng_tune_rungs(1000, 9000, 3, r, NG_TUNE_MAX_RUNGS);
  NG_CHECK(n == 3 && r[0] == 1000 && r[1] == 3000 && r[2] == 9000);
  n = ng_tune_rungs(1000, 20000, 3, r, NG_TUNE_MAX_RUNGS);
  NG_CHECK(n == 4 && r[2] == 9000 && r[3] == 20000);
  n = ng_tune_rungs(2223, 20000, 3, r, NG_TUNE_MAX_RUNGS); /* the default: ceil(S / 9) */
  NG_CHECK(n == 3 && r[1] == 6669 && r[2] == 20000);
  n = ng_tune_rungs(500, 500, 3, r, NG_TUNE_MAX_RUNGS); /* pure random search */
  NG_CHECK(n == 1 && r[0] == 500);
  n = ng_tune_rungs(1, 1000000, 2, r, 4);
  NG_CHECK(n == 4 && r[0] == 1 && r[2] == 4 && r[3] == 1000000);
}

static void test_promote(void) {
  int out[16];
  const int trial[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  const double score[9] = {5, 9, 1, 7, 9, 3, 2, 8, 0};
  int n = ng_tune_promote(trial, score, 9, 3, out); /* best 3: 1 and 4 (9), 7 (8) */
  NG_CHECK(n == 3 && out[0] == 1 && out[1] == 4 && out[2] == 7);
  n = ng_tune_promote(trial, score, 9, 9, out); /* the single best: the tie to the lower */
  NG_CHECK(n == 1 && out[0] == 1);
  n = ng_tune_promote(trial, score, 2, 3, out); /* fewer than eta: still one */
  NG_CHECK(n == 1 && out[0] == 1);
  /* a tie at the cut goes to the lower index; NaN is never promoted */
  const int tr2[5] = {8, 3, 5, 6, 9};
  const double sc2[5] = {NAN, 4, 4, NAN, 4};
  n = ng_tune_promote(tr2, sc2, 5, 2, out);
  NG_CHECK(n == 2 && out[0] == 3 && out[1] == 5);
  n = ng_tune_promote(tr2, sc2, 5, 1, out); /* eta 1 would keep all: NaNs still out */
  NG_CHECK(n == 3 && out[0] == 3 && out[1] == 5 && out[2] == 9);
  const double all_nan[2] = {NAN, NAN};
  NG_CHECK(ng_tune_promote(trial, all_nan, 2, 2, out) == 0);
  /* negative scores (Pendulum) */
  const double neg[4] = {-1200.5, -150.25, -150.5, -900};
  n = ng_tune_promote(trial, neg, 4, 2, out);
  NG_CHECK(n == 2 && out[0] == 1 && out[1] == 2);
}

int main(void) {
  NG_TEST_RUN(test_space_good);
  NG_TEST_RUN(test_space_bad);
  NG_TEST_RUN(test_default_spaces);
  NG_TEST_RUN(test_sample);
  NG_TEST_RUN(test_rungs);
  NG_TEST_RUN(test_promote);
  NG_TEST_END();
}
