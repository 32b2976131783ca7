/* The live progress line of `natgrad train`. */
#include "progress.h"

#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

double ng_progress_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ng_progress_duration(char *buf, size_t size, double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) {
    snprintf(buf, size, "?");
    return;
  }
  long s = (long)(seconds + 0.5);
  if (seconds < 9.95)
    snprintf(buf, size, "%.1fs", seconds);
  else if (s < 60)
    snprintf(buf, size, "%lds", s);
  else if (s < 3600)
    snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
  else
    snprintf(buf, size, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
}

ng_progress_mode_t ng_progress_auto_mode(FILE *out, int quiet) {
  if (quiet) return NG_PROGRESS_QUIET;
  return isatty(fileno(out)) ? NG_PROGRESS_TTY : NG_PROGRESS_PLAIN;
}

void ng_progress_init(ng_progress_t *p, FILE *out, ng_progress_mode_t mode, int every,
                      long start_steps, long total_steps, int ls_max) {
  memset(p, 0, sizeof *p);
  p->out = out;
  p->mode = mode;
  p->every = every > 0 ? every : 1;
  p->ls_max = ls_max;
  p->start_steps = start_steps;
  p->total_steps = total_steps;
  p->start_time = ng_progress_now();
}

void ng_progress_add_history(ng_progress_t *p, double mean_return, int episodes) {
  if (episodes <= 0 || !isfinite(mean_return)) return;
  p->ret[p->ring_pos] = mean_return;
  p->ring_pos = (p->ring_pos + 1) % NG_PROGRESS_SMOOTH;
  if (p->ring_len < NG_PROGRESS_SMOOTH) p->ring_len++;
}

double ng_progress_smoothed_return(const ng_progress_t *p) {
  double sum = 0.0;
  for (int i = 0; i < p->ring_len; i++) sum += p->ret[i];
  return p->ring_len > 0 ? sum / p->ring_len : NAN;
}

/* Columns of the terminal, so the rewritten line never wraps (a wrapped line cannot be
 * rewritten with '\r'). */
static int term_width(FILE *out) {
  struct winsize ws;
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

/* 950, 30.7k, 1.25M: step counts short enough for one terminal line. */
static void short_count(char *buf, size_t size, double v) {
  if (v < 1e4)
    snprintf(buf, size, "%.0f", v);
  else if (v < 1e6)
    snprintf(buf, size, "%.3gk", v / 1e3);
  else if (v < 1e9)
    snprintf(buf, size, "%.3gM", v / 1e6);
  else
    snprintf(buf, size, "%.3gG", v / 1e9);
}

/* sep goes between fields: two spaces, or one where the terminal is narrow. */
static void format_line(const ng_progress_t *p, const ng_rl_stats_t *s, const char *sep,
                        char *buf, size_t size) {
  double elapsed = ng_progress_now() - p->start_time;
  double done = (double)(s->env_steps - p->start_steps);
  double rate = elapsed > 0 ? done / elapsed : 0.0;
  double left = (double)(p->total_steps - s->env_steps);
  char ret[32], ls[32], eta[32];
  double r = ng_progress_smoothed_return(p);
  if (isnan(r))
    snprintf(ret, sizeof ret, "-");
  else
    snprintf(ret, sizeof ret, "%.4g", r);
  if (s->step_accepted && (p->ls_max <= 0 || s->ls_trials == 0)) /* NPG: no line search */
    snprintf(ls, sizeof ls, "step taken");
  else if (s->step_accepted)
    snprintf(ls, sizeof ls, "ls ok %d/%d", s->ls_trials, p->ls_max);
  else if (s->update_status == NG_ELINESEARCH || s->update_status == NG_OK)
    snprintf(ls, sizeof ls, "ls rejected");
  else /* CG or the step's curvature failed: no step was tried */
    snprintf(ls, sizeof ls, "no step (%s)", ng_status_name(s->update_status));
  if (left <= 0)
    snprintf(eta, sizeof eta, "0s");
  else if (rate > 0 && left / rate < 9.5) /* whole seconds: the line must stay short */
    snprintf(eta, sizeof eta, "%.0fs", left / rate);
  else if (rate > 0)
    ng_progress_duration(eta, sizeof eta, left / rate);
  else
    snprintf(eta, sizeof eta, "?");
  char steps[16], total[16], speed[16];
  short_count(steps, sizeof steps, (double)s->env_steps);
  short_count(total, sizeof total, (double)p->total_steps);
  short_count(speed, sizeof speed, rate);
  snprintf(buf, size, "it %ld%ssteps %s/%s%sreturn %s%skl %.2g%sent %.3g%s%s%s%s/s%sETA %s",
           s->iteration, sep, steps, total, sep, ret, sep, s->kl, sep, s->entropy, sep, ls, sep,
           speed, sep, eta);
}

void ng_progress_update(ng_progress_t *p, const ng_rl_stats_t *s, int last) {
  ng_progress_add_history(p, s->mean_return, s->episodes);
  if (p->mode == NG_PROGRESS_QUIET) return;
  char line[512];
  if (p->mode == NG_PROGRESS_TTY) {
    format_line(p, s, "  ", line, sizeof line);
    int width = term_width(p->out);
    if ((int)strlen(line) > width - 1) format_line(p, s, " ", line, sizeof line);
    if ((int)strlen(line) > width - 1) line[width - 1] = '\0';
    fprintf(p->out, "\r%s\033[K", line);
    p->on_line = 1;
  } else {
    if (!(last || s->iteration == 1 || s->iteration % p->every == 0)) return;
    format_line(p, s, "  ", line, sizeof line);
    fprintf(p->out, "%s\n", line);
  }
  fflush(p->out);
}

void ng_progress_break(ng_progress_t *p) {
  if (p->on_line) {
    fputc('\n', p->out);
    fflush(p->out);
    p->on_line = 0;
  }
}
