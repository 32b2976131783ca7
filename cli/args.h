/* One flag loop for every command: walks argv as `--flag value`, `--flag=value`, switches
 * and -h/-q, and prints the shared messages for what it cannot take ("--out needs a value",
 * "unknown option", "unexpected argument"), so each command only says what its flags mean.
 *
 *   ng_args_t a;
 *   ng_args_init(&a, "train", argc, argv);
 *   while (ng_args_next(&a)) {
 *     if (ng_args_is(&a, "--out")) { if (!(o->out = ng_args_value(&a))) return 2; }
 *     else if (ng_args_switch(&a, "--force", NULL)) o->force = 1;
 *     else return ng_args_unknown(&a);
 *   }
 */
#ifndef NG_CLI_ARGS_H
#define NG_CLI_ARGS_H

typedef struct {
  const char *cmd; /* for messages: "natgrad CMD: ..." */
  int argc, i;
  char **argv;
  const char *arg;  /* the current argument as typed */
  char name[64];    /* its flag name, without an inline "=value" */
  const char *inl;  /* the inline value, or NULL */
} ng_args_t;

void ng_args_init(ng_args_t *a, const char *cmd, int argc, char **argv);
/* Moves to the next argument; 0 when there are no more. */
int ng_args_next(ng_args_t *a);
/* 1 if the current argument is flag (with or without an inline value). */
int ng_args_is(const ng_args_t *a, const char *flag);
/* 1 if the current argument is the switch flag (or its short form, may be NULL), given
 * without a value. */
int ng_args_switch(const ng_args_t *a, const char *flag, const char *short_flag);
/* The current flag's value (inline, or the next argument, which is then consumed); NULL
 * after "FLAG needs a value". */
const char *ng_args_value(ng_args_t *a);
/* The value as a whole decimal integer in [lo, hi]; 0 after an error naming the flag. */
int ng_args_int(ng_args_t *a, long lo, long hi, long *out);
/* "unknown option 'X'" or "unexpected argument 'X'"; returns the usage exit code. */
int ng_args_unknown(const ng_args_t *a);

/* Flags that each set one key, and --set KEY=VALUE, kept in the order typed: a command
 * applies them once it knows its defaults, a later one overriding an earlier (train, fit). */
#define NG_ARGS_MAX_SETTINGS 128
typedef struct {
  const char *flag;        /* as typed, for messages: "--steps", "--set" */
  const char *key, *value; /* into argv, or into buf for a --set */
  char buf[320];
} ng_args_setting_t;

typedef struct {
  ng_args_setting_t item[NG_ARGS_MAX_SETTINGS];
  int n;
} ng_args_settings_t;

/* Appends flag's setting of key to value (kept by pointer); 0 after "too many settings". */
int ng_args_setting(const ng_args_t *a, ng_args_settings_t *s, const char *flag,
                    const char *key, const char *value);
/* Appends the --set KEY=VALUE kv, split into the new setting's buf; NULL after an error. */
const ng_args_setting_t *ng_args_set(const ng_args_t *a, ng_args_settings_t *s, const char *kv);

#endif
