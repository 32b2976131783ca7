/* The live progress line of `natgrad train`.
 *
 * On a terminal one line is rewritten in place after every iteration; otherwise (a log
 * file, a pipe, CI) a plain line is printed every few iterations and after the last, so
 * logs stay short. The return shown is the mean of the per-iteration mean returns of the
 * last NG_PROGRESS_SMOOTH iterations in which episodes ended (unweighted: many short early
 * episodes would otherwise hold it down long after the policy improved), the same smoothing
 * as the curve.
 */
#ifndef NG_CLI_PROGRESS_H
#define NG_CLI_PROGRESS_H

#include <stdio.h>

#include "natgrad/rl.h"

#define NG_PROGRESS_SMOOTH 10

typedef enum {
  NG_PROGRESS_QUIET = 0, /* print nothing */
  NG_PROGRESS_TTY = 1,   /* one line rewritten with '\r' */
  NG_PROGRESS_PLAIN = 2  /* a line every `every` iterations and for the last */
} ng_progress_mode_t;

typedef struct {
  FILE *out;
  ng_progress_mode_t mode;
  int every;                 /* PLAIN: print every this many iterations */
  int ls_max;                /* line-search trials allowed, for "ok k/N" */
  long total_steps;
  long start_steps;          /* env steps when this process started (steps/s, ETA) */
  double start_time;         /* ng_progress_now() then */
  double ret[NG_PROGRESS_SMOOTH]; /* mean_return of recent iterations that had episodes */
  int ring_len, ring_pos;
  int on_line;               /* TTY: a progress line is showing (no newline yet) */
} ng_progress_t;

/* Monotonic wall-clock seconds. */
double ng_progress_now(void);
/* "45s", "3m07s", "2h05m": short durations for people. */
void ng_progress_duration(char *buf, size_t size, double seconds);

/* The mode for out: TTY if it is a terminal, else PLAIN; QUIET if quiet. */
ng_progress_mode_t ng_progress_auto_mode(FILE *out, int quiet);

void ng_progress_init(ng_progress_t *p, FILE *out, ng_progress_mode_t mode, int every,
                      long start_steps, long total_steps, int ls_max);
/* Feeds the smoothing ring without printing (history from the log of a resumed run). */
void ng_progress_add_history(ng_progress_t *p, double mean_return, int episodes);
/* The smoothed mean return, NAN if no episode has finished in the window. */
double ng_progress_smoothed_return(const ng_progress_t *p);
/* Records one iteration's stats and shows them; last forces a line in PLAIN mode. */
void ng_progress_update(ng_progress_t *p, const ng_rl_stats_t *s, int last);
/* Ends a showing TTY line with a newline, so other messages start on a fresh line. */
void ng_progress_break(ng_progress_t *p);

#endif
