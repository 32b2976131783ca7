/* The live progress line of `natgrad train` and `natgrad fit`. */
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
                      const char *unit, long start, long total) {
  memset(p, 0, sizeof *p);
  p->out = out;
  p->mode = mode;
  p->every = every > 0 ? every : 1;
  p->unit = unit;
  p->start = start;
  p->total = total;
  p->start_time = ng_progress_now();
  p->last_draw = -1e300;
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

/* The whole line with sep between fields: two spaces, or one where the terminal is narrow. */
static void format_line(const ng_progress_t *p, long done, const char *const *fields, int n,
                        const char *sep, char *buf, size_t size) {
  double elapsed = ng_progress_now() - p->start_time;
  double rate = elapsed > 0 ? (double)(done - p->start) / elapsed : 0.0;
  double left = (double)(p->total - done);
  char eta[32], count[16], total[16], speed[16];
  if (left <= 0)
    snprintf(eta, sizeof eta, "0s");
  else if (rate > 0 && left / rate < 9.5) /* whole seconds: the line must stay short */
    snprintf(eta, sizeof eta, "%.0fs", left / rate);
  else if (rate > 0)
    ng_progress_duration(eta, sizeof eta, left / rate);
  else
    snprintf(eta, sizeof eta, "?");
  short_count(count, sizeof count, (double)done);
  short_count(total, sizeof total, (double)p->total);
  short_count(speed, sizeof speed, rate);
  size_t len = 0;
  int k = snprintf(buf, size, "%s%s%s %s/%s", n > 0 ? fields[0] : "", n > 0 ? sep : "",
                   p->unit, count, total);
  if (k > 0) len += (size_t)k;
  for (int i = 1; i <= n; i++) {
    k = i < n ? snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s%s",
                         sep, fields[i])
              : snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
                         "%s%s/s%sETA %s", sep, speed, sep, eta);
    if (k > 0) len += (size_t)k;
  }
}

void ng_progress_show(ng_progress_t *p, long done, long tick, int last,
                      const char *const *fields, int n) {
  if (p->mode == NG_PROGRESS_QUIET) return;
  if (n > NG_PROGRESS_MAX_FIELDS) n = NG_PROGRESS_MAX_FIELDS;
  char line[512];
  if (p->mode == NG_PROGRESS_TTY) {
    double now = ng_progress_now();
    if (!last && now - p->last_draw < NG_PROGRESS_REFRESH_S) return;
    p->last_draw = now;
    format_line(p, done, fields, n, "  ", line, sizeof line);
    int width = term_width(p->out);
    if ((int)strlen(line) > width - 1) format_line(p, done, fields, n, " ", line, sizeof line);
    if ((int)strlen(line) > width - 1) line[width - 1] = '\0';
    fprintf(p->out, "\r%s\033[K", line);
    p->on_line = 1;
  } else {
    if (!(last || tick == 1 || tick % p->every == 0)) return;
    format_line(p, done, fields, n, "  ", line, sizeof line);
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
