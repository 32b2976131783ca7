/* SVG plots: line plots and contour plots (see natgrad/svg.h). */
#include "natgrad/svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Panel layout, px: room for tick labels and axis labels around the plot area. */
enum { MARGIN_LEFT = 72, MARGIN_RIGHT = 18, MARGIN_TOP_TITLE = 34, MARGIN_TOP = 14,
       MARGIN_BOTTOM = 50, CANVAS_TITLE = 34 };
#define TICK_LEN 5.0
#define FONT_TICK 11.0
#define FONT_LEGEND 12.0
#define CHAR_WIDTH 0.62   /* average glyph width per px of font size, for sizing boxes */
#define RANGE_PAD 0.05    /* fraction of the data range added on each side of y */
#define MAX_TICKS 16
#define MAX_LEVELS 64
#define MAX_GRID 2000
#define DECIMATE_PX 0.5   /* a line point closer than this to the last drawn one is skipped */
#define GUARD_PX 50.0     /* lines are cut this far outside the plot area */
#define LEGEND_MARKER_WEIGHT 25.0 /* a hidden marker costs as much as 100 px of line */
#define PI 3.14159265358979323846

static const char *const palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                      "#e69f00", "#56b4e9", "#000000", "#f0e442"};

const char *ng_svg_palette(size_t i) { return palette[i % (sizeof palette / sizeof *palette)]; }

/* ---- output helpers -------------------------------------------------------------------- */

static void put(ng_svg_t *svg, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(ng_svg_t *svg, const char *fmt, ...) {
  if (svg->status != NG_OK) return;
  va_list ap;
  va_start(ap, fmt);
  if (vfprintf(svg->out, fmt, ap) < 0) svg->status = NG_EIO;
  va_end(ap);
}

/* Every coordinate goes through here: the file never holds NaN or Inf, whatever happens. */
static double px(double v) {
  if (!isfinite(v)) return 0.0;
  if (v > 1e7) return 1e7;
  if (v < -1e7) return -1e7;
  return v;
}

void ng_svg_write_escaped(FILE *out, const char *s) {
  if (!out || !s) return;
  for (; *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", out); break;
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&apos;", out); break;
    default: fputc(*s, out);
    }
  }
}

static void put_text(ng_svg_t *svg, const char *s) {
  if (svg->status != NG_OK) return;
  ng_svg_write_escaped(svg->out, s);
}

/* <text> at (x, y) with a class, an anchor and an optional extra attribute string. */
static void text_at(ng_svg_t *svg, double x, double y, const char *cls, const char *anchor,
                    const char *extra, const char *s) {
  put(svg, "<text class=\"%s\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\"%s>", cls, px(x), px(y),
      anchor, extra ? extra : "");
  put_text(svg, s);
  put(svg, "</text>\n");
}

/* ---- canvas ------------------------------------------------------------------------------ */

int ng_svg_begin(ng_svg_t *svg, FILE *out, double width, double height, const char *title) {
  if (!svg) return NG_EINVAL;
  svg->out = out;
  svg->width = width;
  svg->height = height;
  svg->n_panels = 0;
  svg->status = NG_OK;
  if (!out || !(width >= 100 && width <= 1e5) || !(height >= 100 && height <= 1e5))
    return svg->status = NG_EINVAL;
  put(svg,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
      width, height, width, height);
  put(svg, "<style>\n"
           "text { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; fill: #222; }\n"
           ".title { font-size: 17px; font-weight: bold; }\n"
           ".ptitle { font-size: 14px; font-weight: bold; }\n"
           ".label { font-size: 13px; }\n"
           ".tick { font-size: 11px; fill: #444; }\n"
           ".legend { font-size: 12px; }\n"
           ".grid { stroke: #e8e8e8; stroke-width: 1; }\n"
           ".frame { fill: none; stroke: #777; stroke-width: 1; }\n"
           ".tickmark { stroke: #777; stroke-width: 1; }\n"
           ".legendbox { fill: #fff; fill-opacity: 0.88; stroke: #bbb; stroke-width: 1; }\n"
           "</style>\n");
  put(svg, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", width,
      height);
  if (title && *title) text_at(svg, width / 2, 24, "title", "middle", NULL, title);
  return svg->status;
}

int ng_svg_end(ng_svg_t *svg) {
  if (!svg) return NG_EINVAL;
  if (!svg->out) return svg->status != NG_OK ? svg->status : NG_EINVAL;
  put(svg, "</svg>\n");
  if (svg->status == NG_OK && (fflush(svg->out) != 0 || ferror(svg->out))) svg->status = NG_EIO;
  return svg->status;
}

/* ---- axes ------------------------------------------------------------------------------- */

/* An axis maps data value v (log10 v on a log axis) in [lo, hi] to pixels [p0, p1]. */
typedef struct {
  double lo, hi; /* in axis units (log10 for a log axis) */
  double p0, p1;
  int log;
} axis_t;

static double axis_px(const axis_t *a, double v) {
  double u = a->log ? log10(v) : v;
  return a->p0 + (u - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* Makes [lo, hi] a usable range: finite, lo < hi, not collapsed to one value. */
static void axis_fix_range(double *lo, double *hi, double pad, int is_log) {
  if (!isfinite(*lo) || !isfinite(*hi) || *lo > *hi) {
    *lo = 0.0; /* no data: [0, 1], or decades 1..10 on a log axis */
    *hi = 1.0;
    return;
  }
  double span = *hi - *lo;
  double mag = fmax(fabs(*lo), fabs(*hi));
  if (!(span > 1e-12 * mag)) {
    /* a single point or a constant series: centre it in a range of its own scale */
    double c = 0.5 * (*lo + *hi);
    double half = is_log ? 0.5 : (mag > 0 ? 0.1 * mag : 1.0);
    *lo = c - half;
    *hi = c + half;
    return;
  }
  if (!isfinite(span)) { /* extreme values: keep them, skip the padding */
    return;
  }
  *lo -= pad * span;
  *hi += pad * span;
}

/* A "nice" tick step (1, 2 or 5 x 10^k) giving about `target` ticks over span. */
static double nice_step(double span, double target) {
  double raw = span / target;
  if (!(raw > 0) || !isfinite(raw)) return 0.0;
  double mag = pow(10.0, floor(log10(raw)));
  double norm = raw / mag;
  double m = norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0;
  return m * mag;
}

/* Formats a tick value with as many digits as the step needs; no "-0". sci: compact
 * scientific notation (2.5e6, 1e-5), chosen per axis so that all its labels match. */
static void format_tick(char *buf, size_t size, double v, double step, int sci) {
  if (fabs(v) < 1e-9 * step) v = 0.0;
  if (!sci) {
    int dec = (int)ceil(-log10(step) - 1e-9);
    if (dec < 0) dec = 0;
    if (dec > 8) dec = 8;
    snprintf(buf, size, "%.*f", dec, v);
    return;
  }
  if (v == 0.0) {
    snprintf(buf, size, "0");
    return;
  }
  int dec = (int)(floor(log10(fabs(v))) - floor(log10(step) + 1e-9));
  if (dec < 0) dec = 0;
  if (dec > 4) dec = 4;
  char tmp[24]; /* "-1.2345e+308" at most */
  snprintf(tmp, sizeof tmp, "%.*e", dec, v);
  char *e = strchr(tmp, 'e');
  if (!e) {
    snprintf(buf, size, "%s", tmp);
    return;
  }
  int ex = atoi(e + 1);
  char *end = e; /* strip the mantissa's trailing zeros and point */
  while (end > tmp && end[-1] == '0' && strchr(tmp, '.')) end--;
  if (end > tmp && end[-1] == '.') end--;
  *end = '\0';
  snprintf(buf, size, "%se%d", tmp, ex);
}

typedef struct {
  double pos[MAX_TICKS];   /* px */
  char label[MAX_TICKS][48];
  int decade[MAX_TICKS];   /* log axis, label 10^k: k (label is then the exponent) */
  int is_decade[MAX_TICKS];
  int n;
} ticks_t;

static void ticks_linear(const axis_t *a, double lo, double hi, ticks_t *t) {
  double step = nice_step(hi - lo, 6.0);
  t->n = 0;
  if (step <= 0) return;
  double first = ceil(lo / step - 1e-9);
  int sci = fmax(fabs(lo), fabs(hi)) >= 1e6 || step < 1e-4;
  for (int k = 0; t->n < MAX_TICKS; k++) {
    double v = (first + k) * step;
    if (v > hi + 1e-9 * step) break;
    if (a->log && !(v > 0)) continue;
    t->pos[t->n] = axis_px(a, v);
    t->is_decade[t->n] = 0;
    format_tick(t->label[t->n], sizeof t->label[0], v, step, sci);
    t->n++;
  }
}

static void axis_ticks(const axis_t *a, ticks_t *t) {
  t->n = 0;
  if (!a->log) {
    ticks_linear(a, a->lo, a->hi, t);
    return;
  }
  double k0 = ceil(a->lo - 1e-9), k1 = floor(a->hi + 1e-9);
  if (k1 - k0 < 1) {
    /* less than two decades in view: linear ticks in value space, placed on the log axis */
    ticks_linear(a, pow(10.0, a->lo), pow(10.0, a->hi), t);
    return;
  }
  double every = ceil((k1 - k0 + 1) / 8.0);
  k0 = every * ceil(k0 / every - 1e-9); /* 10^0, 10^-2, ... rather than 10^1, 10^-1, ... */
  for (double k = k0; k <= k1 && t->n < MAX_TICKS; k += every) {
    t->pos[t->n] = a->p0 + (k - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
    t->is_decade[t->n] = 1;
    t->decade[t->n] = (int)k;
    t->label[t->n][0] = '\0';
    t->n++;
  }
}

/* Plot-area geometry of a panel, in canvas px. */
typedef struct {
  double x, y, w, h;       /* panel box */
  double ax, ay, aw, ah;   /* plot area */
} layout_t;

static int panel_layout(const ng_svg_t *svg, const ng_svg_panel_t *p, layout_t *l) {
  l->x = p->x;
  l->y = p->y;
  l->w = p->w;
  l->h = p->h;
  if (!(p->w > 0) || !(p->h > 0)) { /* the whole canvas, under its title */
    l->x = 0;
    l->y = 0;
    l->w = svg->width;
    l->h = svg->height;
  }
  if (!isfinite(l->x) || !isfinite(l->y) || !isfinite(l->w) || !isfinite(l->h))
    return NG_EINVAL;
  l->ax = l->x + MARGIN_LEFT;
  l->ay = l->y + ((p->title && *p->title) ? MARGIN_TOP_TITLE : MARGIN_TOP);
  l->aw = l->w - MARGIN_LEFT - MARGIN_RIGHT;
  l->ah = l->y + l->h - MARGIN_BOTTOM - l->ay;
  if (!(l->aw >= 20) || !(l->ah >= 20)) return NG_EINVAL;
  return NG_OK;
}

/* Title, frame, grid, ticks and axis labels; data range attributes for readers and tests. */
static void draw_axes(ng_svg_t *svg, const ng_svg_panel_t *p, const layout_t *l,
                      const axis_t *xa, const axis_t *ya, int grid) {
  put(svg, "<g class=\"panel\" data-x-range=\"%.17g %.17g\" data-y-range=\"%.17g %.17g\">\n",
      xa->lo, xa->hi, ya->log ? pow(10.0, ya->lo) : ya->lo,
      ya->log ? pow(10.0, ya->hi) : ya->hi);
  if (p->title && *p->title)
    text_at(svg, l->ax + l->aw / 2, l->y + 22, "ptitle", "middle", NULL, p->title);
  ticks_t tx, ty;
  axis_ticks(xa, &tx);
  axis_ticks(ya, &ty);
  if (grid) {
    for (int i = 0; i < tx.n; i++)
      put(svg, "<line class=\"grid\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
          px(tx.pos[i]), px(l->ay), px(tx.pos[i]), px(l->ay + l->ah));
    for (int i = 0; i < ty.n; i++)
      put(svg, "<line class=\"grid\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
          px(l->ax), px(ty.pos[i]), px(l->ax + l->aw), px(ty.pos[i]));
  }
  double bottom = l->ay + l->ah;
  for (int i = 0; i < tx.n; i++) {
    put(svg, "<line class=\"tickmark\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
        px(tx.pos[i]), px(bottom), px(tx.pos[i]), px(bottom + TICK_LEN));
    text_at(svg, tx.pos[i], bottom + TICK_LEN + FONT_TICK + 2, "tick", "middle", NULL,
            tx.label[i]);
  }
  for (int i = 0; i < ty.n; i++) {
    double yy = ty.pos[i];
    put(svg, "<line class=\"tickmark\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n",
        px(l->ax - TICK_LEN), px(yy), px(l->ax), px(yy));
    if (ty.is_decade[i]) {
      /* 10 with a raised exponent */
      put(svg,
          "<text class=\"tick\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">10<tspan dy=\"-6\" "
          "font-size=\"9\">%d</tspan></text>\n",
          px(l->ax - TICK_LEN - 3), px(yy + 4), ty.decade[i]);
    } else {
      text_at(svg, l->ax - TICK_LEN - 3, yy + 4, "tick", "end", NULL, ty.label[i]);
    }
  }
  put(svg, "<rect class=\"frame\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>\n",
      px(l->ax), px(l->ay), px(l->aw), px(l->ah));
  if (p->xlabel && *p->xlabel)
    text_at(svg, l->ax + l->aw / 2, bottom + TICK_LEN + FONT_TICK + 24, "label", "middle", NULL,
            p->xlabel);
  if (p->ylabel && *p->ylabel) {
    char rot[96];
    double lx = l->x + 18, ly = l->ay + l->ah / 2;
    snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.2f %.2f)\"", px(lx), px(ly));
    text_at(svg, lx, ly, "label", "middle", rot, p->ylabel);
  }
}

/* ---- series ------------------------------------------------------------------------------ */

/* The pixel of u, a value in the axis' own units (log10 on a log axis), bounded to +-1e5 px
 * so that a wild value cannot blow up the numbers written. */
static double band_px(const axis_t *a, double u) {
  double p = a->p0 + (u - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
  return p < -1e5 ? -1e5 : p > 1e5 ? 1e5 : p;
}

static int point_ok(const ng_svg_series_t *s, size_t i, int log_y, double *x, double *y) {
  *x = s->x ? s->x[i] : (double)i;
  *y = s->y[i];
  return isfinite(*x) && isfinite(*y) && (!log_y || *y > 0);
}

static const char *series_color(const ng_svg_series_t *s, size_t i) {
  return s->color ? s->color : ng_svg_palette(i);
}

/* Point i of s's band (both bounds in log10 units on a log axis); 0 where it has none. */
static int band_ok(const ng_svg_series_t *s, size_t i, int log_y, double *x, double *lo,
                   double *hi) {
  if (!s->band_lo || !s->band_hi) return 0;
  *x = s->x ? s->x[i] : (double)i;
  *lo = s->band_lo[i];
  *hi = s->band_hi[i];
  if (!isfinite(*x) || !isfinite(*lo) || !isfinite(*hi) || (log_y && !(*lo > 0 && *hi > 0)))
    return 0;
  if (log_y) *lo = log10(*lo), *hi = log10(*hi);
  return 1;
}

static void draw_marker(ng_svg_t *svg, ng_svg_marker_t m, double x, double y, double r,
                        const char *color) {
  switch (m) {
  case NG_SVG_MARKER_CROSS:
    put(svg,
        "<path d=\"M%.2f %.2fL%.2f %.2fM%.2f %.2fL%.2f %.2f\" stroke=\"%s\" "
        "stroke-width=\"2\" stroke-linecap=\"round\"/>\n",
        px(x - r), px(y - r), px(x + r), px(y + r), px(x - r), px(y + r), px(x + r), px(y - r),
        color);
    break;
  case NG_SVG_MARKER_STAR: {
    put(svg, "<polygon points=\"");
    for (int k = 0; k < 10; k++) {
      double rad = (k % 2 == 0) ? 1.6 * r : 0.65 * r;
      double a = PI * (-0.5 + k / 5.0);
      put(svg, "%s%.2f,%.2f", k ? " " : "", px(x + rad * cos(a)), px(y + rad * sin(a)));
    }
    put(svg, "\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"1\"/>\n", color);
    break;
  }
  case NG_SVG_MARKER_CIRCLE:
  default:
    put(svg,
        "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\" stroke=\"#fff\" "
        "stroke-width=\"1\"/>\n",
        px(x), px(y), px(r), color);
  }
}

/* Clips the segment (x0, y0)-(x1, y1) to [xmin, xmax] x [ymin, ymax] (Liang-Barsky);
 * returns 0 if nothing of it is inside. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double xmin,
                        double xmax, double ymin, double ymax) {
  double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0.0, t1 = 1.0;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {*x0 - xmin, xmax - *x0, *y0 - ymin, ymax - *y0};
  for (int k = 0; k < 4; k++) {
    if (p[k] == 0.0) {
      if (q[k] < 0.0) return 0;
      continue;
    }
    double r = q[k] / p[k];
    if (p[k] < 0.0) {
      if (r > t1) return 0;
      if (r > t0) t0 = r;
    } else {
      if (r < t0) return 0;
      if (r < t1) t1 = r;
    }
  }
  double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy;
  *x1 = *x0 + t1 * dx;
  *y1 = *y0 + t1 * dy;
  *x0 = ax;
  *y0 = ay;
  return isfinite(*x0) && isfinite(*y0) && isfinite(*x1) && isfinite(*y1);
}

/* Draws one series as a polyline, broken at invalid points. Points closer than DECIMATE_PX
 * to the last drawn one are skipped; segments reaching far outside the plot area are cut
 * at a guard box around it, so that they keep their direction (the clip path trims the
 * rest). Markers go on the first s->markers points. */
static void draw_series(ng_svg_t *svg, const ng_svg_series_t *s, size_t index, const axis_t *xa,
                        const axis_t *ya) {
  const char *color = series_color(s, index);
  double lw = s->line_width == 0 ? 2.0 : s->line_width;
  if (lw > 0 && s->n > 0) {
    put(svg,
        "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" stroke-linejoin=\"round\" "
        "stroke-linecap=\"round\"%s d=\"",
        color, lw, s->dashed ? " stroke-dasharray=\"6 4\"" : "");
    const double gx0 = fmin(xa->p0, xa->p1) - GUARD_PX, gx1 = fmax(xa->p0, xa->p1) + GUARD_PX;
    const double gy0 = fmin(ya->p0, ya->p1) - GUARD_PX, gy1 = fmax(ya->p0, ya->p1) + GUARD_PX;
    int have_prev = 0, pen = 0, moves = 0; /* pen: the path's current point is (lx, ly) */
    double lx = 0, ly = 0, prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < s->n; i++) {
      double x, y;
      double X = 0, Y = 0;
      if (point_ok(s, i, ya->log, &x, &y)) {
        X = axis_px(xa, x);
        Y = axis_px(ya, y);
      }
      if (!point_ok(s, i, ya->log, &x, &y) || !isfinite(X) || !isfinite(Y)) {
        have_prev = pen = 0;
        continue;
      }
      int in = X >= gx0 && X <= gx1 && Y >= gy0 && Y <= gy1;
      double nx, ny;
      int last_of_run = i + 1 == s->n || !point_ok(s, i + 1, ya->log, &nx, &ny);
      if (!have_prev) {
        if (in) {
          put(svg, "%sM%.2f %.2f", moves++ ? "\n" : "", px(X), px(Y));
          /* a lone point still gets a visible dot from a zero-length round-capped segment */
          if (last_of_run) put(svg, "L%.2f %.2f", px(X), px(Y));
          pen = 1, lx = X, ly = Y;
        }
      } else if (in && pen) {
        if (last_of_run || fabs(X - lx) >= DECIMATE_PX || fabs(Y - ly) >= DECIMATE_PX) {
          put(svg, "L%.2f %.2f", px(X), px(Y));
          lx = X, ly = Y;
        }
      } else {
        double ax = prev_x, ay = prev_y, bx = X, by = Y;
        if (clip_segment(&ax, &ay, &bx, &by, gx0, gx1, gy0, gy1)) {
          if (pen) put(svg, "L%.2f %.2f", px(ax), px(ay)); /* may have been decimated */
          else put(svg, "%sM%.2f %.2f", moves++ ? "\n" : "", px(ax), px(ay));
          put(svg, "L%.2f %.2f", px(bx), px(by));
          lx = bx, ly = by;
          pen = in;
        } else {
          pen = 0;
        }
      }
      prev_x = X, prev_y = Y, have_prev = 1;
    }
    put(svg, "\"/>\n");
  }
  double r = s->marker_size > 0 ? s->marker_size : 3.5;
  for (size_t i = 0; i < s->n && i < s->markers; i++) {
    double x, y;
    if (point_ok(s, i, ya->log, &x, &y))
      draw_marker(svg, s->marker, axis_px(xa, x), axis_px(ya, y), r, color);
  }
}

/* Draws s's band as one filled polygon per run of valid points: along the upper bound,
 * back along the lower. Pixels are bounded so that a wild value cannot blow up the numbers
 * (the clip path trims what lies outside the plot area). */
static void draw_band(ng_svg_t *svg, const ng_svg_series_t *s, size_t index, const axis_t *xa,
                      const axis_t *ya) {
  const char *color = series_color(s, index);
  for (size_t i = 0; i < s->n;) {
    double x, lo, hi;
    if (!band_ok(s, i, ya->log, &x, &lo, &hi)) {
      i++;
      continue;
    }
    size_t end = i; /* the run is [i, end) */
    while (end < s->n && band_ok(s, end, ya->log, &x, &lo, &hi)) end++;
    put(svg, "<path fill=\"%s\" fill-opacity=\"0.2\" stroke=\"none\" d=\"", color);
    for (size_t k = i; k < end; k++) {
      band_ok(s, k, ya->log, &x, &lo, &hi);
      put(svg, "%s%.2f %.2f", k == i ? "M" : "L", px(band_px(xa, x)), px(band_px(ya, hi)));
    }
    for (size_t k = end; k-- > i;) {
      band_ok(s, k, ya->log, &x, &lo, &hi);
      put(svg, "L%.2f %.2f", px(band_px(xa, x)), px(band_px(ya, lo)));
    }
    put(svg, "Z\"/>\n");
    i = end;
  }
}

/* ---- legend ------------------------------------------------------------------------------ */

typedef struct {
  const char *label;
  const char *color;
  double line_width;
  int dashed;
  int has_marker;
  ng_svg_marker_t marker;
} legend_entry_t;

/* How much of the series a box at (bx, by, bw, bh) px would hide: line points (vertices
 * and samples every ~4 px along each segment) inside it, markers counted heavily. */
static double box_cover(const ng_svg_series_t *s, size_t ns, const axis_t *xa,
                        const axis_t *ya, double bx, double by, double bw, double bh) {
  double cover = 0;
  for (size_t k = 0; k < ns; k++) {
    int have_prev = 0;
    double px0 = 0, py0 = 0;
    for (size_t i = 0; i < s[k].n; i++) {
      double x, y;
      if (!point_ok(&s[k], i, ya->log, &x, &y)) {
        have_prev = 0;
        continue;
      }
      double X = axis_px(xa, x), Y = axis_px(ya, y);
      int draws_line = s[k].line_width >= 0;
      int steps = 1;
      if (have_prev && draws_line) {
        double len = hypot(X - px0, Y - py0);
        steps = len < 4 ? 1 : len > 800 ? 200 : (int)(len / 4);
      }
      for (int j = 1; j <= steps; j++) {
        double t = (double)j / steps;
        double qx = have_prev && draws_line ? px0 + t * (X - px0) : X;
        double qy = have_prev && draws_line ? py0 + t * (Y - py0) : Y;
        if (qx >= bx && qx <= bx + bw && qy >= by && qy <= by + bh) cover += 1;
      }
      if (i < s[k].markers && X >= bx - 6 && X <= bx + bw + 6 && Y >= by - 6 && Y <= by + bh + 6)
        cover += LEGEND_MARKER_WEIGHT;
      px0 = X, py0 = Y, have_prev = 1;
    }
  }
  return cover;
}

static void legend_box(ng_svg_legend_t where, const layout_t *l, double bw, double bh,
                       double *bx, double *by) {
  *bx = (where == NG_SVG_LEGEND_TOP_LEFT || where == NG_SVG_LEGEND_BOTTOM_LEFT)
            ? l->ax + 10
            : l->ax + l->aw - 10 - bw;
  *by = (where == NG_SVG_LEGEND_BOTTOM_LEFT || where == NG_SVG_LEGEND_BOTTOM_RIGHT)
            ? l->ay + l->ah - 10 - bh
            : l->ay + 10;
}

/* The legend in the corner `where`, or (NG_SVG_LEGEND_AUTO) the corner hiding the least of
 * the n_series series (first of top-right, top-left, bottom-right, bottom-left on ties). */
static void draw_legend(ng_svg_t *svg, ng_svg_legend_t where, const layout_t *l,
                        const legend_entry_t *e, size_t n, const ng_svg_series_t *series,
                        size_t n_series, const axis_t *xa, const axis_t *ya) {
  size_t shown = 0, max_chars = 0;
  for (size_t i = 0; i < n; i++) {
    if (!e[i].label) continue;
    shown++;
    size_t len = 0;
    for (const unsigned char *c = (const unsigned char *)e[i].label; *c; c++)
      if ((*c & 0xC0) != 0x80) len++; /* count UTF-8 characters, not bytes */
    if (len > max_chars) max_chars = len;
  }
  if (shown == 0 || where == NG_SVG_LEGEND_NONE) return;
  const double row = 19, sample = 28, pad = 8;
  double bw = pad + sample + 8 + (double)max_chars * FONT_LEGEND * CHAR_WIDTH + pad;
  double bh = pad + (double)shown * row;
  double bx, by;
  if (where == NG_SVG_LEGEND_AUTO) {
    double best = INFINITY;
    for (int c = NG_SVG_LEGEND_TOP_RIGHT; c <= NG_SVG_LEGEND_BOTTOM_LEFT; c++) {
      legend_box((ng_svg_legend_t)c, l, bw, bh, &bx, &by);
      double cover = box_cover(series, n_series, xa, ya, bx, by, bw, bh);
      if (cover < best) {
        best = cover;
        where = (ng_svg_legend_t)c;
      }
    }
  }
  legend_box(where, l, bw, bh, &bx, &by);
  put(svg, "<g class=\"legend\">\n");
  put(svg, "<rect class=\"legendbox\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
           "rx=\"3\"/>\n",
      px(bx), px(by), px(bw), px(bh));
  double y = by + pad + row / 2 - 1;
  for (size_t i = 0; i < n; i++) {
    if (!e[i].label) continue;
    double x0 = bx + pad, x1 = x0 + sample;
    if (e[i].line_width > 0)
      put(svg,
          "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
          "stroke-width=\"%.2f\"%s/>\n",
          px(x0), px(y), px(x1), px(y), e[i].color, e[i].line_width,
          e[i].dashed ? " stroke-dasharray=\"6 4\"" : "");
    if (e[i].has_marker) draw_marker(svg, e[i].marker, (x0 + x1) / 2, y, 3.5, e[i].color);
    text_at(svg, x1 + 8, y + 4, "legend", "start", NULL, e[i].label);
    y += row;
  }
  put(svg, "</g>\n");
}

static legend_entry_t series_entry(const ng_svg_series_t *s, size_t i) {
  legend_entry_t e;
  e.label = s->label;
  e.color = series_color(s, i);
  e.line_width = s->line_width == 0 ? 2.0 : s->line_width;
  e.dashed = s->dashed;
  e.has_marker = s->markers > 0;
  e.marker = s->marker;
  return e;
}

static int check_series(size_t n, const ng_svg_series_t *s) {
  if (n && !s) return NG_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (s[i].n && !s[i].y) return NG_EINVAL;
  return NG_OK;
}

/* Fixed range from the panel when it is usable, else lo/hi as given. */
static void panel_range(double plo, double phi, int is_log, double *lo, double *hi) {
  if (isfinite(plo) && isfinite(phi) && plo < phi && (!is_log || plo > 0)) {
    *lo = is_log ? log10(plo) : plo;
    *hi = is_log ? log10(phi) : phi;
  }
}

static int fail(ng_svg_t *svg, int status) {
  if (svg->status == NG_OK) svg->status = status;
  return status;
}

/* ---- line plots -------------------------------------------------------------------------- */

int ng_svg_lines(ng_svg_t *svg, const ng_svg_panel_t *panel, size_t n_series,
                 const ng_svg_series_t *series) {
  if (!svg) return NG_EINVAL;
  if (svg->status != NG_OK) return svg->status;
  if (!panel || check_series(n_series, series) != NG_OK) return fail(svg, NG_EINVAL);
  layout_t l;
  if (panel_layout(svg, panel, &l) != NG_OK) return fail(svg, NG_EINVAL);

  /* data range over every valid point (y in log10 units on a log axis) */
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t k = 0; k < n_series; k++)
    for (size_t i = 0; i < series[k].n; i++) {
      double x, y;
      if (!point_ok(&series[k], i, panel->log_y, &x, &y)) continue;
      double u = panel->log_y ? log10(y) : y;
      xlo = fmin(xlo, x);
      xhi = fmax(xhi, x);
      ylo = fmin(ylo, u);
      yhi = fmax(yhi, u);
    }
  for (size_t k = 0; k < n_series; k++)
    for (size_t i = 0; i < series[k].n; i++) {
      double x, lo, hi;
      if (!band_ok(&series[k], i, panel->log_y, &x, &lo, &hi)) continue;
      ylo = fmin(ylo, fmin(lo, hi));
      yhi = fmax(yhi, fmax(lo, hi));
    }
  axis_fix_range(&xlo, &xhi, 0.0, 0);
  axis_fix_range(&ylo, &yhi, RANGE_PAD, panel->log_y);
  panel_range(panel->x_lo, panel->x_hi, 0, &xlo, &xhi);
  panel_range(panel->y_lo, panel->y_hi, panel->log_y, &ylo, &yhi);

  axis_t xa = {xlo, xhi, l.ax, l.ax + l.aw, 0};
  axis_t ya = {ylo, yhi, l.ay + l.ah, l.ay, panel->log_y != 0};
  int clip = svg->n_panels++;
  put(svg, "<clipPath id=\"ng-clip-%d\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
           "height=\"%.2f\"/></clipPath>\n",
      clip, px(l.ax - 4), px(l.ay - 4), px(l.aw + 8), px(l.ah + 8));
  draw_axes(svg, panel, &l, &xa, &ya, 1);
  put(svg, "<g clip-path=\"url(#ng-clip-%d)\">\n", clip);
  for (size_t k = 0; k < n_series; k++) draw_band(svg, &series[k], k, &xa, &ya);
  for (size_t k = 0; k < n_series; k++) draw_series(svg, &series[k], k, &xa, &ya);
  put(svg, "</g>\n");

  legend_entry_t entries[32];
  size_t ne = n_series < 32 ? n_series : 32;
  for (size_t k = 0; k < ne; k++) entries[k] = series_entry(&series[k], k);
  draw_legend(svg, panel->legend, &l, entries, ne, series, n_series, &xa, &ya);
  put(svg, "</g>\n");
  return svg->status;
}

/* A one-panel file: begins the canvas and makes *filled the panel stretched over it. */
static int begin_one_panel(ng_svg_t *svg, FILE *out, double width, double height,
                           const ng_svg_panel_t *panel, ng_svg_panel_t *filled) {
  if (!panel) return NG_EINVAL;
  *filled = *panel;
  filled->x = filled->y = 0;
  filled->w = width;
  filled->h = height;
  return ng_svg_begin(svg, out, width, height, NULL);
}

int ng_svg_line_plot(FILE *out, double width, double height, const ng_svg_panel_t *panel,
                     size_t n_series, const ng_svg_series_t *series) {
  ng_svg_t svg;
  ng_svg_panel_t p;
  int st = begin_one_panel(&svg, out, width, height, panel, &p);
  if (st != NG_OK) return st;
  ng_svg_lines(&svg, &p, n_series, series);
  return ng_svg_end(&svg);
}

/* ---- contour plots ----------------------------------------------------------------------- */

/* Colour of level k of n: from a deep blue (low) to a pale blue (high). */
static void level_color(size_t k, size_t n, char *buf, size_t size) {
  static const double lo[3] = {22, 64, 120}, hi[3] = {170, 200, 228};
  double t = n > 1 ? (double)k / (double)(n - 1) : 0.0;
  int c[3];
  for (int i = 0; i < 3; i++) c[i] = (int)lround(lo[i] + t * (hi[i] - lo[i]));
  snprintf(buf, size, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* The point where level L crosses the edge from corner a to corner b (values va, vb). */
static void edge_point(double L, double xa, double ya, double va, double xb, double yb,
                       double vb, double *x, double *y) {
  double t = (L - va) / (vb - va);
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  *x = xa + t * (xb - xa);
  *y = ya + t * (yb - ya);
}

/* Marching squares for one level over the grid g (ny rows of nx samples, row j at y_j):
 * writes the segments as path data. */
static void trace_level(ng_svg_t *svg, const double *g, const ng_svg_contour_t *c, double L,
                        const axis_t *xa, const axis_t *ya) {
  double dx = (c->x1 - c->x0) / (double)(c->nx - 1), dy = (c->y1 - c->y0) / (double)(c->ny - 1);
  size_t segs = 0;
  for (size_t j = 0; j + 1 < c->ny; j++)
    for (size_t i = 0; i + 1 < c->nx; i++) {
      /* corners: 0 = (i, j), 1 = (i+1, j), 2 = (i+1, j+1), 3 = (i, j+1) */
      double v[4] = {g[j * c->nx + i], g[j * c->nx + i + 1], g[(j + 1) * c->nx + i + 1],
                     g[(j + 1) * c->nx + i]};
      if (!isfinite(v[0]) || !isfinite(v[1]) || !isfinite(v[2]) || !isfinite(v[3])) continue;
      int b[4], any = 0;
      for (int k = 0; k < 4; k++) {
        b[k] = v[k] > L;
        any += b[k];
      }
      if (any == 0 || any == 4) continue;
      double cx[4] = {c->x0 + i * dx, c->x0 + (i + 1) * dx, c->x0 + (i + 1) * dx, c->x0 + i * dx};
      double cy[4] = {c->y0 + j * dy, c->y0 + j * dy, c->y0 + (j + 1) * dy, c->y0 + (j + 1) * dy};
      /* edge e runs from corner e to corner e+1 (mod 4): bottom, right, top, left */
      double ex[4], ey[4];
      int crosses[4];
      for (int e = 0; e < 4; e++) {
        int f = (e + 1) % 4;
        crosses[e] = b[e] != b[f];
        if (crosses[e]) edge_point(L, cx[e], cy[e], v[e], cx[f], cy[f], v[f], &ex[e], &ey[e]);
      }
      int pair[2][2], np = 0;
      if (any == 2 && b[0] == b[2]) {
        /* saddle: the cell mean decides whether corners 0 and 2 are joined through the
         * middle (then the segments cut off corners 1 and 3) or not */
        int mid = 0.25 * (v[0] + v[1] + v[2] + v[3]) > L;
        if (mid == b[0]) {
          pair[0][0] = 0, pair[0][1] = 1, pair[1][0] = 2, pair[1][1] = 3;
        } else {
          pair[0][0] = 3, pair[0][1] = 0, pair[1][0] = 1, pair[1][1] = 2;
        }
        np = 2;
      } else {
        int e0 = -1, e1 = -1;
        for (int e = 0; e < 4; e++)
          if (crosses[e]) {
            if (e0 < 0) e0 = e;
            else e1 = e;
          }
        pair[0][0] = e0, pair[0][1] = e1;
        np = 1;
      }
      for (int k = 0; k < np; k++) {
        int a = pair[k][0], bb = pair[k][1];
        put(svg, "%sM%.2f %.2fL%.2f %.2f", (segs % 6 == 5) ? "\n" : "", px(axis_px(xa, ex[a])),
            px(axis_px(ya, ey[a])), px(axis_px(xa, ex[bb])), px(axis_px(ya, ey[bb])));
        segs++;
      }
    }
}

int ng_svg_contour(ng_svg_t *svg, const ng_svg_panel_t *panel, const ng_svg_contour_t *c,
                   size_t n_paths, const ng_svg_series_t *paths) {
  if (!svg) return NG_EINVAL;
  if (svg->status != NG_OK) return svg->status;
  if (!panel || !c || !c->f || panel->log_y || check_series(n_paths, paths) != NG_OK)
    return fail(svg, NG_EINVAL);
  if (!(isfinite(c->x0) && isfinite(c->x1) && c->x0 < c->x1 && isfinite(c->y0) &&
        isfinite(c->y1) && c->y0 < c->y1) ||
      c->nx < 2 || c->ny < 2 || c->nx > MAX_GRID || c->ny > MAX_GRID || c->n_levels < 1 ||
      c->n_levels > MAX_LEVELS)
    return fail(svg, NG_EINVAL);
  layout_t l;
  if (panel_layout(svg, panel, &l) != NG_OK) return fail(svg, NG_EINVAL);

  double *g = ng_malloc(c->nx * c->ny * sizeof *g);
  if (!g) return fail(svg, NG_ENOMEM);
  double dx = (c->x1 - c->x0) / (double)(c->nx - 1), dy = (c->y1 - c->y0) / (double)(c->ny - 1);
  double fmin = INFINITY, fmax = -INFINITY;
  for (size_t j = 0; j < c->ny; j++)
    for (size_t i = 0; i < c->nx; i++) {
      double v = c->f(c->ctx, c->x0 + i * dx, c->y0 + j * dy);
      g[j * c->nx + i] = v;
      if (isfinite(v)) {
        fmin = fmin < v ? fmin : v;
        fmax = fmax > v ? fmax : v;
      }
    }
  double levels[MAX_LEVELS];
  size_t nl = 0;
  if (c->levels) {
    for (size_t k = 0; k < c->n_levels; k++)
      if (isfinite(c->levels[k])) levels[nl++] = c->levels[k];
  } else if (fmax > fmin && isfinite(fmax - fmin)) {
    for (size_t k = 0; k < c->n_levels; k++)
      levels[nl++] = fmin + (fmax - fmin) * pow(2.0, -(double)(c->n_levels - k));
  }

  double xlo = c->x0, xhi = c->x1, ylo = c->y0, yhi = c->y1;
  panel_range(panel->x_lo, panel->x_hi, 0, &xlo, &xhi);
  panel_range(panel->y_lo, panel->y_hi, 0, &ylo, &yhi);
  axis_t xa = {xlo, xhi, l.ax, l.ax + l.aw, 0};
  axis_t ya = {ylo, yhi, l.ay + l.ah, l.ay, 0};
  int clip = svg->n_panels++;
  put(svg, "<clipPath id=\"ng-clip-%d\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
           "height=\"%.2f\"/></clipPath>\n",
      clip, px(l.ax), px(l.ay), px(l.aw), px(l.ah));
  draw_axes(svg, panel, &l, &xa, &ya, 0);
  put(svg, "<g clip-path=\"url(#ng-clip-%d)\">\n", clip);
  for (size_t k = 0; k < nl; k++) {
    char color[8];
    level_color(k, nl, color, sizeof color);
    put(svg,
        "<path class=\"contour\" data-level=\"%.17g\" fill=\"none\" stroke=\"%s\" "
        "stroke-width=\"1.1\" stroke-linecap=\"round\" d=\"",
        levels[k], color);
    trace_level(svg, g, c, levels[k], &xa, &ya);
    put(svg, "\"/>\n");
  }
  ng_free(g);
  for (size_t k = 0; k < n_paths; k++) draw_series(svg, &paths[k], k, &xa, &ya);
  put(svg, "</g>\n");

  legend_entry_t entries[33];
  char mid_color[8]; /* the contours' legend colour, alive until draw_legend has run */
  size_t ne = 0;
  if (c->label && nl > 0) {
    level_color(nl / 2, nl, mid_color, sizeof mid_color);
    entries[ne++] = (legend_entry_t){c->label, mid_color, 1.1, 0, 0, NG_SVG_MARKER_CIRCLE};
  }
  for (size_t k = 0; k < n_paths && ne < 33; k++) entries[ne++] = series_entry(&paths[k], k);
  draw_legend(svg, panel->legend, &l, entries, ne, paths, n_paths, &xa, &ya);
  put(svg, "</g>\n");
  return svg->status;
}

int ng_svg_contour_plot(FILE *out, double width, double height, const ng_svg_panel_t *panel,
                        const ng_svg_contour_t *c, size_t n_paths,
                        const ng_svg_series_t *paths) {
  ng_svg_t svg;
  ng_svg_panel_t p;
  int st = begin_one_panel(&svg, out, width, height, panel, &p);
  if (st != NG_OK) return st;
  ng_svg_contour(&svg, &p, c, n_paths, paths);
  return ng_svg_end(&svg);
}

int ng_svg_write_file(const char *path, int (*draw)(FILE *out, void *ctx), void *ctx,
                      ng_error_t *err) {
  if (!path || !draw) return ng_error_set(err, NG_EINVAL, "svg: NULL argument");
  size_t n = strlen(path);
  char *tmp = ng_malloc(n + 5);
  if (!tmp) return ng_error_set(err, NG_ENOMEM, "out of memory writing '%s'", path);
  memcpy(tmp, path, n);
  memcpy(tmp + n, ".tmp", 5);
  FILE *f = fopen(tmp, "w");
  int st = NG_EIO, e = errno;
  if (f) {
    st = draw(f, ctx);
    if (fclose(f) != 0 && st == NG_OK) st = NG_EIO;
    e = errno;
    if (st == NG_OK && rename(tmp, path) != 0) {
      st = NG_EIO;
      e = errno;
    }
    if (st != NG_OK) remove(tmp);
  }
  ng_free(tmp);
  if (st != NG_OK)
    return ng_error_set(err, st, "cannot write '%s': %s", path,
                        st == NG_EIO ? strerror(e) : ng_strerror(st));
  return NG_OK;
}
