/* The live progress line of `natgrad train` and `natgrad fit`: one format for both.
 *
 *   HEAD  UNIT done/total  FIELD  FIELD ...  rate/s  ETA t
 *
 * HEAD and the FIELDs are the command's own ("it 12", "return 187  kl 0.009"; "epoch 3/10",
 * "loss 0.41"); the progress module adds the work done, the rate and the time left. On a
 * terminal one line is rewritten in place (at most every NG_PROGRESS_REFRESH_S seconds, and
 * never wider than the terminal: fields are then joined by one space, then cut); otherwise
 * (a log file, a pipe, CI) a plain line is printed every few ticks and for the last, so logs
 * stay short.
 */
#ifndef NG_CLI_PROGRESS_H
#define NG_CLI_PROGRESS_H

#include <stdio.h>

#define NG_PROGRESS_REFRESH_S 0.1
#define NG_PROGRESS_MAX_FIELDS 8

typedef enum {
  NG_PROGRESS_QUIET = 0, /* print nothing */
  NG_PROGRESS_TTY = 1,   /* one line rewritten with '\r' */
  NG_PROGRESS_PLAIN = 2  /* a line every `every` ticks and for the last */
} ng_progress_mode_t;

typedef struct {
  FILE *out;
  ng_progress_mode_t mode;
  int every;         /* PLAIN: print every this many ticks */
  const char *unit;  /* what is counted: "steps", "examples" */
  long start, total; /* units done when this process started, and in all */
  double start_time; /* ng_progress_now() then */
  double last_draw;  /* TTY: when the line was last drawn */
  int on_line;       /* TTY: a progress line is showing (no newline yet) */
} ng_progress_t;

/* Monotonic wall-clock seconds. */
double ng_progress_now(void);
/* "45s", "3m07s", "2h05m": short durations for people. */
void ng_progress_duration(char *buf, size_t size, double seconds);

/* The mode for out: TTY if it is a terminal, else PLAIN; QUIET if quiet. */
ng_progress_mode_t ng_progress_auto_mode(FILE *out, int quiet);

void ng_progress_init(ng_progress_t *p, FILE *out, ng_progress_mode_t mode, int every,
                      const char *unit, long start, long total);
/* Shows the line for `done` units of work: fields[0] is the head, n fields in all (at most
 * NG_PROGRESS_MAX_FIELDS). tick numbers the calls for PLAIN's every (1 is always shown);
 * last forces the line in every mode. */
void ng_progress_show(ng_progress_t *p, long done, long tick, int last,
                      const char *const *fields, int n);
/* Ends a showing TTY line with a newline, so other messages start on a fresh line. */
void ng_progress_break(ng_progress_t *p);

#endif
