/* The SVG writer (src/svg.c): well-formed XML, finite numbers, axis ranges that cover
 * the data, escaped text, degenerate inputs, contour geometry against the function, bad
 * arguments and write errors. The output is parsed back here by a small XML reader written
 * for the test, independently of the writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natgrad/core.h"
#include "natgrad/svg.h"
#include "ng_test.h"

#define PX_TOL 0.011         /* coordinates are written with 2 decimals */
#define CONTOUR_TOL 0.02     /* |f(point) - level| on a 41 x 41 grid (interpolation error) */
#define MAX_SVG_BYTES 300000 /* a 100000-point line must be decimated to well under this */
#define MAX_DEPTH 64

/* ---- rendering to a string -------------------------------------------------------------- */

typedef struct {
  char *text;
  size_t len;
  int status;
} doc_t;

static char *slurp(FILE *f, size_t *len) {
  long n;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
    return NULL;
  char *buf = malloc((size_t)n + 1);
  if (!buf) return NULL;
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  *len = got;
  return buf;
}

static doc_t line_doc(const ng_svg_panel_t *p, size_t ns, const ng_svg_series_t *s) {
  doc_t d = {NULL, 0, NG_EIO};
  FILE *f = tmpfile();
  if (!f) return d;
  d.status = ng_svg_line_plot(f, 640, 420, p, ns, s);
  d.text = slurp(f, &d.len);
  fclose(f);
  return d;
}

static doc_t contour_doc(const ng_svg_panel_t *p, const ng_svg_contour_t *c, size_t ns,
                         const ng_svg_series_t *s) {
  doc_t d = {NULL, 0, NG_EIO};
  FILE *f = tmpfile();
  if (!f) return d;
  d.status = ng_svg_contour_plot(f, 600, 500, p, c, ns, s);
  d.text = slurp(f, &d.len);
  fclose(f);
  return d;
}

/* ---- a minimal XML reader ---------------------------------------------------------------- */

static int is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == ':' || c == '.';
}

/* An entity at s ("&amp;" ...): its length, or 0 if it is not one of XML's five or &#N;. */
static size_t entity_len(const char *s) {
  static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
  for (size_t i = 0; i < 5; i++)
    if (!strncmp(s, ents[i], strlen(ents[i]))) return strlen(ents[i]);
  if (s[1] == '#') {
    size_t k = 2;
    while (s[k] >= '0' && s[k] <= '9') k++;
    if (k > 2 && s[k] == ';') return k + 1;
  }
  return 0;
}

/* 1 if text is one well-formed element tree rooted at <svg>: balanced and properly nested
 * tags, quoted attributes, no raw '<' in attribute values, only known entities. */
static int well_formed(const char *text) {
  char stack[MAX_DEPTH][32];
  int depth = 0, roots = 0;
  const char *s = text;
  if (!strncmp(s, "<?xml", 5)) {
    s = strstr(s, "?>");
    if (!s) return 0;
    s += 2;
  }
  while (*s) {
    if (*s == '&') {
      size_t n = entity_len(s);
      if (!n) return 0;
      s += n;
      continue;
    }
    if (*s == '>') return 0; /* a stray '>' in text is legal XML but never written by us */
    if (*s != '<') {
      if (depth == 0 && !(*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) return 0;
      s++;
      continue;
    }
    if (!strncmp(s, "<!--", 4)) {
      s = strstr(s, "-->");
      if (!s) return 0;
      s += 3;
      continue;
    }
    int closing = s[1] == '/';
    s += closing ? 2 : 1;
    char name[32];
    size_t n = 0;
    while (is_name_char(*s) && n < sizeof name - 1) name[n++] = *s++;
    name[n] = '\0';
    if (n == 0) return 0;
    if (closing) {
      while (*s == ' ') s++;
      if (*s != '>' || depth == 0 || strcmp(stack[depth - 1], name)) return 0;
      depth--;
      s++;
      continue;
    }
    /* attributes */
    int self_closing = 0;
    for (;;) {
      while (*s == ' ' || *s == '\n') s++;
      if (*s == '>') {
        s++;
        break;
      }
      if (s[0] == '/' && s[1] == '>') {
        self_closing = 1;
        s += 2;
        break;
      }
      if (!is_name_char(*s)) return 0;
      while (is_name_char(*s)) s++;
      if (*s++ != '=') return 0;
      char q = *s++;
      if (q != '"' && q != '\'') return 0;
      while (*s && *s != q) {
        if (*s == '<') return 0;
        if (*s == '&') {
          size_t e = entity_len(s);
          if (!e) return 0;
          s += e;
        } else {
          s++;
        }
      }
      if (*s++ != q) return 0;
    }
    if (depth == 0) {
      roots++;
      if (strcmp(name, "svg")) return 0;
    }
    if (!self_closing) {
      if (depth == MAX_DEPTH) return 0;
      memcpy(stack[depth++], name, n + 1);
    }
  }
  return depth == 0 && roots == 1;
}

/* 1 if no "nan" or "inf" appears anywhere (any case). Test labels avoid these letters. */
static int no_nonfinite_words(const char *text) {
  for (const char *s = text; *s; s++) {
    char a = (char)(s[0] | 0x20), b = s[1] ? (char)(s[1] | 0x20) : 0,
         c = (s[1] && s[2]) ? (char)(s[2] | 0x20) : 0;
    if ((a == 'n' && b == 'a' && c == 'n') || (a == 'i' && b == 'n' && c == 'f')) return 0;
  }
  return 1;
}

/* Every number in every attribute value parses as a finite double. */
static int attribute_numbers_finite(const char *text) {
  for (const char *s = strstr(text, "=\""); s; s = strstr(s + 1, "=\"")) {
    const char *v = s + 2, *end = strchr(v, '"');
    if (!end) return 0;
    for (const char *p = v; p < end;) {
      if ((*p >= '0' && *p <= '9') || ((*p == '-' || *p == '.') && p + 1 < end &&
                                        ((p[1] >= '0' && p[1] <= '9') || p[1] == '.'))) {
        char *q;
        double x = strtod(p, &q);
        if (q == p) return 0;
        if (!isfinite(x)) return 0;
        p = q;
      } else {
        p++;
      }
    }
  }
  return 1;
}

/* Reads the number after `key="` in the tag starting at tag (NaN if absent). */
static double attr_num(const char *tag, const char *key) {
  char pat[48];
  snprintf(pat, sizeof pat, " %s=\"", key);
  const char *end = strchr(tag, '>');
  const char *a = strstr(tag, pat);
  if (!a || (end && a > end)) return NAN;
  return strtod(a + strlen(pat), NULL);
}

/* Reads the two numbers after `key="` (data ranges). */
static int attr_pair(const char *tag, const char *key, double *lo, double *hi) {
  char pat[48];
  snprintf(pat, sizeof pat, " %s=\"", key);
  const char *a = strstr(tag, pat);
  if (!a) return 0;
  char *q;
  *lo = strtod(a + strlen(pat), &q);
  *hi = strtod(q, NULL);
  return 1;
}

typedef struct {
  double x, y, w, h;             /* plot frame, px */
  double xlo, xhi, ylo, yhi;     /* data ranges */
} frame_t;

static int read_frame(const char *text, frame_t *f) {
  const char *g = strstr(text, "<g class=\"panel\"");
  const char *r = strstr(text, "<rect class=\"frame\"");
  if (!g || !r) return 0;
  if (!attr_pair(g, "data-x-range", &f->xlo, &f->xhi)) return 0;
  if (!attr_pair(g, "data-y-range", &f->ylo, &f->yhi)) return 0;
  f->x = attr_num(r, "x");
  f->y = attr_num(r, "y");
  f->w = attr_num(r, "width");
  f->h = attr_num(r, "height");
  return isfinite(f->x) && isfinite(f->y) && f->w > 0 && f->h > 0;
}

/* Calls fn on each (x, y) pair of the path data of every <path> whose tag starts with
 * `prefix`; returns the number of points, or -1 if fn returned 0 for one. */
typedef int (*point_fn)(void *ctx, double x, double y);

static long each_path_point(const char *text, const char *prefix, point_fn fn, void *ctx) {
  long count = 0;
  for (const char *t = strstr(text, prefix); t; t = strstr(t + 1, prefix)) {
    const char *d = strstr(t, " d=\"");
    const char *close = strchr(t, '>');
    if (!d || !close || d > close) continue;
    const char *p = d + 4;
    while (*p && *p != '"') {
      if (*p == 'M' || *p == 'L' || *p == 'Z' || *p == ' ' || *p == '\n') {
        p++;
        continue;
      }
      char *q;
      double x = strtod(p, &q);
      if (q == p) return -1;
      double y = strtod(q, &q);
      p = q;
      count++;
      if (!fn(ctx, x, y)) return -1;
    }
  }
  return count;
}

static int inside_frame(void *ctx, double x, double y) {
  const frame_t *f = ctx;
  return x >= f->x - PX_TOL && x <= f->x + f->w + PX_TOL && y >= f->y - PX_TOL &&
         y <= f->y + f->h + PX_TOL;
}

/* The checks every document must pass. */
static void check_doc(const doc_t *d) {
  NG_CHECK(d->text != NULL);
  if (!d->text) return;
  NG_CHECK(well_formed(d->text));
  NG_CHECK(no_nonfinite_words(d->text));
  NG_CHECK(attribute_numbers_finite(d->text));
}

/* Data range of the valid points of series (log: y > 0 only). */
static void data_range(size_t ns, const ng_svg_series_t *s, int log_y, double *xlo, double *xhi,
                       double *ylo, double *yhi) {
  *xlo = *ylo = INFINITY;
  *xhi = *yhi = -INFINITY;
  for (size_t k = 0; k < ns; k++)
    for (size_t i = 0; i < s[k].n; i++) {
      double x = s[k].x ? s[k].x[i] : (double)i, y = s[k].y[i];
      if (!isfinite(x) || !isfinite(y) || (log_y && y <= 0)) continue;
      *xlo = fmin(*xlo, x);
      *xhi = fmax(*xhi, x);
      *ylo = fmin(*ylo, y);
      *yhi = fmax(*yhi, y);
    }
}

/* Axis ranges cover the data, and every drawn series point lies inside the frame. */
static void check_covers(const doc_t *d, size_t ns, const ng_svg_series_t *s, int log_y) {
  frame_t f;
  NG_CHECK(d->text && read_frame(d->text, &f));
  if (!d->text || !read_frame(d->text, &f)) return;
  NG_CHECK(f.xlo < f.xhi);
  NG_CHECK(f.ylo < f.yhi);
  double xlo, xhi, ylo, yhi;
  data_range(ns, s, log_y, &xlo, &xhi, &ylo, &yhi);
  if (xlo <= xhi) {
    NG_CHECK(f.xlo <= xlo && xhi <= f.xhi);
    NG_CHECK(f.ylo <= ylo + 1e-12 * fabs(ylo) && yhi <= f.yhi + 1e-12 * fabs(f.yhi));
  }
  NG_CHECK(each_path_point(d->text, "<path fill=\"none\"", inside_frame, &f) >= 0);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* A band vertex mapped back to data units must be one of the band's own points. */
typedef struct {
  const frame_t *f;
  const double *x, *lo, *hi;
  size_t n;
} band_ctx_t;

static int band_vertex_known(void *ctx, double X, double Y) {
  const band_ctx_t *b = ctx;
  const frame_t *f = b->f;
  double x = f->xlo + (X - f->x) / f->w * (f->xhi - f->xlo);
  double y = f->yhi - (Y - f->y) / f->h * (f->yhi - f->ylo);
  double tx = (f->xhi - f->xlo) / f->w * 0.02, ty = (f->yhi - f->ylo) / f->h * 0.02;
  for (size_t i = 0; i < b->n; i++)
    if (fabs(x - b->x[i]) <= tx && (fabs(y - b->lo[i]) <= ty || fabs(y - b->hi[i]) <= ty))
      return 1;
  return 0;
}

/* A confidence band: one filled polygon per run of valid points, under the line, every
 * vertex on a bound, and the y range widened to hold it. */
static void test_band(void) {
  double x[20], y[20], lo[20], hi[20];
  for (int i = 0; i < 20; i++) {
    x[i] = 100.0 * i;
    y[i] = i;
    lo[i] = i - 1.0 - 0.5 * i;
    hi[i] = i + 3.0;
  }
  lo[7] = NAN; /* a gap: two polygons, of 7 and 12 points */
  ng_svg_series_t s = {.label = "mean", .n = 20, .x = x, .y = y, .band_lo = lo, .band_hi = hi};
  ng_svg_panel_t p = {.title = "band"};
  doc_t d = line_doc(&p, 1, &s);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  check_covers(&d, 1, &s, 0);
  frame_t f;
  NG_CHECK(d.text && read_frame(d.text, &f));
  if (!d.text || !read_frame(d.text, &f)) return;
  NG_CHECK(f.ylo <= -1.0 && f.yhi >= 22.0); /* beyond the line: lo[0] = -1, hi[19] = 22 */
  const char *band = "<path fill=\"#";
  size_t polygons = 0;
  for (const char *c = d.text; (c = strstr(c, band)); c++) polygons++;
  NG_CHECK(polygons == 2);
  band_ctx_t b = {&f, x, lo, hi, 20};
  NG_CHECK(each_path_point(d.text, band, band_vertex_known, &b) == 2 * (7 + 12));
  const char *first_band = strstr(d.text, band), *line = strstr(d.text, "<path fill=\"none\"");
  NG_CHECK(first_band && line && first_band < line);
  free(d.text);

  /* on a log axis a non-positive bound leaves a gap too; NULL bounds draw no band */
  ng_svg_panel_t lp = {.log_y = 1};
  for (int i = 0; i < 20; i++) y[i] = lo[i] = hi[i] = 1.0 + i;
  lo[3] = -1.0;
  d = line_doc(&lp, 1, &s);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  polygons = 0;
  for (const char *c = d.text; c && (c = strstr(c, band)); c++) polygons++;
  NG_CHECK(polygons == 2);
  free(d.text);
  s.band_hi = NULL;
  d = line_doc(&p, 1, &s);
  NG_CHECK(d.text && !strstr(d.text, band));
  free(d.text);
}

static void test_two_series(void) {
  double x[50], y1[50], y2[50];
  for (int i = 0; i < 50; i++) {
    x[i] = -3.0 + 0.1 * i;
    y1[i] = sin(x[i]) * 4.0;
    y2[i] = 0.5 * x[i] * x[i] - 1.0;
  }
  ng_svg_series_t s[2] = {{.label = "sine", .n = 50, .x = x, .y = y1, .markers = 5},
                          {.label = "parabola", .n = 50, .x = x, .y = y2, .dashed = 1,
                           .marker = NG_SVG_MARKER_CROSS, .markers = 3}};
  ng_svg_panel_t p = {.title = "two series", .xlabel = "x", .ylabel = "y"};
  doc_t d = line_doc(&p, 2, s);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  check_covers(&d, 2, s, 0);
  NG_CHECK(d.text && strstr(d.text, ">sine</text>") && strstr(d.text, ">parabola</text>"));
  NG_CHECK(d.text && strstr(d.text, "stroke-dasharray"));
  /* 5 + 3 markers on the plot, one in each legend entry */
  size_t circles = 0;
  for (const char *c = d.text; c && (c = strstr(c, "<circle")); c++) circles++;
  NG_CHECK(circles == 5 + 1);
  /* the same input gives the same bytes */
  doc_t d2 = line_doc(&p, 2, s);
  NG_CHECK(d.text && d2.text && d.len == d2.len && !memcmp(d.text, d2.text, d.len));
  free(d.text);
  free(d2.text);
}

static void test_escaping(void) {
  double y[3] = {1, 2, 3};
  ng_svg_series_t s = {.label = "loss <train> & \"val\"", .n = 3, .y = y};
  ng_svg_panel_t p = {.title = "a<b & c", .xlabel = "it's", .ylabel = "x > 0"};
  doc_t d = line_doc(&p, 1, &s);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  NG_CHECK(d.text && strstr(d.text, ">a&lt;b &amp; c</text>"));
  NG_CHECK(d.text && strstr(d.text, ">loss &lt;train&gt; &amp; &quot;val&quot;</text>"));
  NG_CHECK(d.text && strstr(d.text, ">it&apos;s</text>"));
  NG_CHECK(d.text && !strstr(d.text, "a<b"));
  free(d.text);
}

/* Single points, constant series, empty and all-NaN series: valid files, no division by
 * zero, ranges still cover the data. */
static void test_degenerate(void) {
  double one_x[1] = {5.0}, one_y[1] = {-2.5};
  double cst[4] = {3.0, 3.0, 3.0, 3.0};
  double zeros[4] = {0, 0, 0, 0};
  double nans[3] = {NAN, NAN, NAN};
  double mixed[5] = {1.0, NAN, INFINITY, 2.0, -INFINITY};
  double xs_same[4] = {7, 7, 7, 7};
  struct {
    const char *name;
    ng_svg_series_t s;
    int log_y;
  } cases[] = {
      {"single point", {.label = "p", .n = 1, .x = one_x, .y = one_y, .markers = 1}, 0},
      {"constant", {.label = "c", .n = 4, .y = cst}, 0},
      {"constant at zero", {.label = "z", .n = 4, .y = zeros}, 0},
      {"constant log", {.label = "c", .n = 4, .y = cst}, 1},
      {"zeros on log axis", {.label = "z", .n = 4, .y = zeros}, 1},
      {"empty", {.label = "e", .n = 0, .y = NULL}, 0},
      {"all invalid", {.label = "n", .n = 3, .y = nans}, 0},
      {"mixed non-finite", {.label = "m", .n = 5, .y = mixed, .markers = 5}, 0},
      {"mixed non-finite log", {.label = "m", .n = 5, .y = mixed}, 1},
      {"vertical", {.label = "v", .n = 4, .x = xs_same, .y = mixed}, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    ng_svg_panel_t p = {.title = cases[k].name, .log_y = cases[k].log_y};
    doc_t d = line_doc(&p, 1, &cases[k].s);
    int before = ng_test_failures;
    NG_CHECK_OK(d.status);
    check_doc(&d);
    check_covers(&d, 1, &cases[k].s, cases[k].log_y);
    if (ng_test_failures != before) fprintf(stderr, "  in case '%s'\n", cases[k].name);
    free(d.text);
  }
  /* no series at all */
  ng_svg_panel_t p = {.title = "nothing"};
  doc_t d = line_doc(&p, 0, NULL);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  free(d.text);
}

static void test_log_axis(void) {
  double y[60];
  for (int i = 0; i < 60; i++) y[i] = pow(10.0, -0.15 * i); /* 1 down to ~1e-9 */
  ng_svg_series_t s = {.label = "error", .n = 60, .y = y};
  ng_svg_panel_t p = {.title = "log", .xlabel = "iteration", .ylabel = "error", .log_y = 1};
  doc_t d = line_doc(&p, 1, &s);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  check_covers(&d, 1, &s, 1);
  NG_CHECK(d.text && strstr(d.text, "10<tspan")); /* decade labels */
  /* a fixed range from the panel is honoured */
  p.y_lo = 1e-12;
  p.y_hi = 10;
  doc_t d2 = line_doc(&p, 1, &s);
  frame_t f;
  NG_CHECK(d2.text && read_frame(d2.text, &f));
  if (d2.text && read_frame(d2.text, &f)) {
    NG_CHECK_CLOSE(f.ylo, 1e-12, 1e-9, 0);
    NG_CHECK_CLOSE(f.yhi, 10, 1e-9, 0);
  }
  free(d.text);
  free(d2.text);
}

static int last_x_ctx(void *ctx, double x, double y) {
  double *last = ctx;
  last[0] = x;
  last[1] = y;
  return 1;
}

/* A long series is decimated to about a point per pixel but keeps its ends. */
static void test_long_series(void) {
  enum { N = 100000 };
  double *y = malloc(N * sizeof *y);
  NG_CHECK(y != NULL);
  if (!y) return;
  for (int i = 0; i < N; i++) y[i] = exp(-1e-4 * i);
  ng_svg_series_t s = {.label = "decay", .n = N, .y = y};
  ng_svg_panel_t p = {.title = "long", .log_y = 1};
  doc_t d = line_doc(&p, 1, &s);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  check_covers(&d, 1, &s, 1);
  NG_CHECK(d.len < MAX_SVG_BYTES);
  frame_t f;
  double last[2] = {NAN, NAN};
  if (d.text && read_frame(d.text, &f)) {
    each_path_point(d.text, "<path fill=\"none\"", last_x_ctx, last);
    NG_CHECK_CLOSE(last[0], f.x + f.w, 0, PX_TOL); /* the last point reaches the right edge */
  }
  free(d.text);
  free(y);
}

/* No tick label holds a long exponent ("e+06", "e-05"). */
static int tick_labels_compact(const char *text) {
  for (const char *t = strstr(text, "class=\"tick\""); t; t = strstr(t + 1, "class=\"tick\"")) {
    const char *a = strchr(t, '>'), *b = a ? strchr(a, '<') : NULL;
    if (!a || !b) return 0;
    for (const char *c = a; c + 1 < b; c++)
      if (c[0] == 'e' && (c[1] == '+' || (c[1] == '-' && c + 2 < b && c[2] == '0'))) return 0;
  }
  return 1;
}

/* Tick labels: plain decimals for ordinary ranges, compact exponents for large and small. */
static void test_tick_labels(void) {
  double x[2] = {0.0, 3e6}, y_small[2] = {0.0, 5e-5}, y_unit[2] = {0.0, 1.0};
  ng_svg_series_t s[2] = {{.n = 2, .x = x, .y = y_small}, {.n = 2, .x = x, .y = y_unit}};
  ng_svg_panel_t p = {.title = "ticks"};
  doc_t d = line_doc(&p, 1, &s[0]);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  NG_CHECK(d.text && strstr(d.text, ">1e6</text>") && strstr(d.text, ">1.5e6</text>"));
  NG_CHECK(d.text && strstr(d.text, ">1e-5</text>") && strstr(d.text, ">0</text>"));
  NG_CHECK(d.text && tick_labels_compact(d.text));
  free(d.text);
  doc_t d2 = line_doc(&p, 1, &s[1]);
  NG_CHECK(d2.text && strstr(d2.text, ">0.2</text>") && strstr(d2.text, ">1.0</text>"));
  NG_CHECK(d2.text && !strstr(d2.text, ">-0"));
  free(d2.text);
}

typedef struct {
  double x, y, w, h;
} box_t;

static int outside_box(void *ctx, double x, double y) {
  const box_t *b = ctx;
  return !(x > b->x && x < b->x + b->w && y > b->y && y < b->y + b->h);
}

/* NG_SVG_LEGEND_AUTO puts the legend where it hides no line: a rising diagonal leaves the
 * top-left and bottom-right corners free. */
static void test_auto_legend(void) {
  double y[50];
  for (int i = 0; i < 50; i++) y[i] = i;
  ng_svg_series_t s = {.label = "rising diagonal", .n = 50, .y = y, .markers = 3};
  ng_svg_panel_t p = {.title = "auto legend", .legend = NG_SVG_LEGEND_AUTO};
  doc_t d = line_doc(&p, 1, &s);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  const char *r = d.text ? strstr(d.text, "<rect class=\"legendbox\"") : NULL;
  NG_CHECK(r != NULL);
  if (r) {
    box_t b = {attr_num(r, "x"), attr_num(r, "y"), attr_num(r, "width"), attr_num(r, "height")};
    NG_CHECK(b.w > 0 && b.h > 0);
    NG_CHECK(each_path_point(d.text, "<path fill=\"none\"", outside_box, &b) > 0);
  }
  free(d.text);
}

typedef struct {
  frame_t f;
  double max_off_line;  /* px distance of drawn points from the line y = x (data units) */
  double max_outside;   /* px beyond the frame */
} diag_t;

static int on_diagonal(void *ctx, double X, double Y) {
  diag_t *d = ctx;
  /* y = x in data units; the frame maps [-1, 1]^2 onto itself, so in px the line is
   * (X - x0) / w = (y0 + h - Y) / h */
  double u = (X - d->f.x) / d->f.w, v = (d->f.y + d->f.h - Y) / d->f.h;
  double off = fabs(u - v) * fmin(d->f.w, d->f.h);
  double out = fmax(fmax(d->f.x - X, X - (d->f.x + d->f.w)),
                    fmax(d->f.y - Y, Y - (d->f.y + d->f.h)));
  if (off > d->max_off_line) d->max_off_line = off;
  if (out > d->max_outside) d->max_outside = out;
  return 1;
}

/* A segment to a point far outside a fixed range is cut near the plot area and keeps its
 * direction (no clamping of coordinates that would bend it). */
static void test_clipped_lines(void) {
  double x[3] = {0.0, 1e6, -3e5}, y[3] = {0.0, 1e6, -3e5};
  ng_svg_series_t s = {.label = "diagonal", .n = 3, .x = x, .y = y};
  ng_svg_panel_t p = {.title = "clipped", .x_lo = -1, .x_hi = 1, .y_lo = -1, .y_hi = 1};
  doc_t d = line_doc(&p, 1, &s);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  diag_t dg = {.max_off_line = 0, .max_outside = 0};
  NG_CHECK(d.text && read_frame(d.text, &dg.f));
  if (d.text && read_frame(d.text, &dg.f)) {
    NG_CHECK_CLOSE(dg.f.xlo, -1, 0, 1e-12);
    NG_CHECK_CLOSE(dg.f.yhi, 1, 0, 1e-12);
    NG_CHECK(each_path_point(d.text, "<path fill=\"none\"", on_diagonal, &dg) >= 4);
    NG_CHECK(dg.max_off_line <= 2 * PX_TOL);
    NG_CHECK(dg.max_outside <= 100); /* cut near the plot area, not at the far point */
  }
  free(d.text);
}

/* ---- contours ---- */

static double bowl(void *ctx, double x, double y) {
  (void)ctx;
  return x * x + y * y;
}

static double saddle(void *ctx, double x, double y) {
  (void)ctx;
  return x * y;
}

static double half_nan(void *ctx, double x, double y) {
  (void)ctx;
  return x < 0 ? NAN : x + y;
}

static double constant(void *ctx, double x, double y) {
  (void)ctx, (void)x, (void)y;
  return 1.5;
}

typedef struct {
  frame_t f;
  double (*fn)(void *, double, double);
  double level;
  double max_err;
} on_level_t;

/* Maps a contour point back to data coordinates and records |f - level|. */
static int on_level(void *ctx, double X, double Y) {
  on_level_t *c = ctx;
  double x = c->f.xlo + (X - c->f.x) / c->f.w * (c->f.xhi - c->f.xlo);
  double y = c->f.ylo + (c->f.y + c->f.h - Y) / c->f.h * (c->f.yhi - c->f.ylo);
  double e = fabs(c->fn(NULL, x, y) - c->level);
  if (!(e <= c->max_err)) c->max_err = e;
  return 1;
}

/* Points of the contour of each level lie on that level set of f (after mapping pixels back
 * to data units); returns the number of points seen. */
static long check_contour_geometry(double (*fn)(void *, double, double), const double *levels,
                                   size_t nl, double tol) {
  ng_svg_contour_t c = {.f = fn, .x0 = -2, .x1 = 2, .y0 = -2, .y1 = 2, .nx = 41, .ny = 41,
                        .n_levels = nl, .levels = levels, .label = "f"};
  ng_svg_panel_t p = {.title = "contours", .xlabel = "x", .ylabel = "y"};
  doc_t d = contour_doc(&p, &c, 0, NULL);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  long total = 0;
  on_level_t ol = {.fn = fn};
  if (!d.text || !read_frame(d.text, &ol.f)) {
    NG_CHECK(0);
    free(d.text);
    return 0;
  }
  for (size_t k = 0; k < nl; k++) {
    char prefix[80];
    snprintf(prefix, sizeof prefix, "<path class=\"contour\" data-level=\"%.17g\"", levels[k]);
    ol.level = levels[k];
    ol.max_err = 0;
    long n = each_path_point(d.text, prefix, on_level, &ol);
    NG_CHECK(n > 0);
    NG_CHECK(ol.max_err <= tol);
    if (!(ol.max_err <= tol)) fprintf(stderr, "  level %g: max |f - level| = %g\n", levels[k],
                                      ol.max_err);
    total += n;
  }
  free(d.text);
  return total;
}

static void test_contour_geometry(void) {
  const double bowl_levels[3] = {0.5, 1.0, 2.0};
  /* a circle of radius 1 crosses ~4 * 2r / h = 80 cells: at least that many segments */
  NG_CHECK(check_contour_geometry(bowl, bowl_levels, 3, CONTOUR_TOL) >= 2 * 80);
  const double saddle_levels[3] = {-0.5, 0.05, 1.0}; /* includes saddle cells near 0 */
  NG_CHECK(check_contour_geometry(saddle, saddle_levels, 3, CONTOUR_TOL) > 0);
}

static void test_contour_paths_and_degenerate(void) {
  double px_[4] = {-1.5, -0.5, 0.5, 5.0}, py[4] = {1.5, 0.5, 0.1, 9.0}; /* leaves the box */
  double ox[1] = {0}, oy[1] = {0};
  ng_svg_series_t paths[2] = {
      {.label = "path & <more>", .n = 4, .x = px_, .y = py, .markers = 4},
      {.label = "optimum", .n = 1, .x = ox, .y = oy, .markers = 1, .line_width = -1,
       .marker = NG_SVG_MARKER_STAR, .marker_size = 6}};
  ng_svg_contour_t c = {.f = bowl, .x0 = -2, .x1 = 2, .y0 = -2, .y1 = 2, .nx = 30, .ny = 20,
                        .n_levels = 6, .label = "bowl"};
  ng_svg_panel_t p = {.title = "paths", .legend = NG_SVG_LEGEND_BOTTOM_LEFT};
  doc_t d = contour_doc(&p, &c, 2, paths);
  NG_CHECK_OK(d.status);
  check_doc(&d);
  NG_CHECK(d.text && strstr(d.text, "clip-path=\"url(#ng-clip-0)\""));
  NG_CHECK(d.text && strstr(d.text, ">path &amp; &lt;more&gt;</text>"));
  NG_CHECK(d.text && strstr(d.text, "<polygon")); /* the star */
  /* automatic levels are increasing and inside (fmin, fmax) = (0, 8) */
  size_t levels = 0;
  double prev = -INFINITY;
  for (const char *t = d.text; t && (t = strstr(t, "data-level=\"")); t++) {
    double v = strtod(t + 12, NULL);
    NG_CHECK(v > prev && v > 0 && v < 8);
    prev = v;
    levels++;
  }
  NG_CHECK(levels == 6);
  free(d.text);

  /* a constant function (no level to draw) and a function undefined on half the box */
  double (*fns[2])(void *, double, double) = {constant, half_nan};
  for (int k = 0; k < 2; k++) {
    ng_svg_contour_t c2 = {.f = fns[k], .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .nx = 2,
                           .ny = 2 + 20 * k, .n_levels = 5};
    doc_t d2 = contour_doc(&p, &c2, 0, NULL);
    NG_CHECK_OK(d2.status);
    check_doc(&d2);
    free(d2.text);
  }
}

/* Two panels on one canvas: distinct clip ids, one root. */
static void test_canvas(void) {
  FILE *f = tmpfile();
  NG_CHECK(f != NULL);
  if (!f) return;
  double y[3] = {1, 4, 9};
  ng_svg_series_t s = {.label = "sq", .n = 3, .y = y};
  ng_svg_contour_t c = {.f = bowl, .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .nx = 10, .ny = 10,
                        .n_levels = 3};
  ng_svg_t svg;
  NG_CHECK_OK(ng_svg_begin(&svg, f, 900, 400, "canvas & title"));
  ng_svg_panel_t left = {.x = 0, .y = 30, .w = 450, .h = 370, .title = "left"};
  ng_svg_panel_t right = {.x = 450, .y = 30, .w = 450, .h = 370, .title = "right", .log_y = 1};
  NG_CHECK_OK(ng_svg_contour(&svg, &left, &c, 1, &s));
  NG_CHECK_OK(ng_svg_lines(&svg, &right, 1, &s));
  NG_CHECK_OK(ng_svg_end(&svg));
  doc_t d = {NULL, 0, NG_OK};
  d.text = slurp(f, &d.len);
  fclose(f);
  check_doc(&d);
  NG_CHECK(d.text && strstr(d.text, "id=\"ng-clip-0\"") && strstr(d.text, "id=\"ng-clip-1\""));
  NG_CHECK(d.text && strstr(d.text, ">canvas &amp; title</text>"));
  free(d.text);
}

static void test_bad_input(void) {
  double y[2] = {1, 2};
  ng_svg_series_t s = {.n = 2, .y = y};
  ng_svg_series_t no_y = {.n = 2, .y = NULL};
  ng_svg_panel_t p = {.title = "t"};
  NG_CHECK_STATUS(ng_svg_line_plot(NULL, 640, 480, &p, 1, &s), NG_EINVAL);
  NG_CHECK_STATUS(ng_svg_line_plot(stdout, 640, 480, NULL, 1, &s), NG_EINVAL);
  NG_CHECK_STATUS(ng_svg_line_plot(stdout, NAN, 480, &p, 1, &s), NG_EINVAL);
  NG_CHECK_STATUS(ng_svg_begin(NULL, stdout, 640, 480, NULL), NG_EINVAL);

  FILE *f = tmpfile();
  NG_CHECK(f != NULL);
  if (!f) return;
  ng_svg_t svg;
  NG_CHECK_OK(ng_svg_begin(&svg, f, 640, 480, NULL));
  NG_CHECK_STATUS(ng_svg_lines(&svg, &p, 1, &no_y), NG_EINVAL);
  NG_CHECK_STATUS(ng_svg_lines(&svg, &p, 1, &s), NG_EINVAL); /* sticky */
  NG_CHECK_STATUS(ng_svg_end(&svg), NG_EINVAL);

  ng_svg_contour_t c = {.f = bowl, .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .nx = 1, .ny = 10,
                        .n_levels = 3};
  NG_CHECK_OK(ng_svg_begin(&svg, f, 640, 480, NULL));
  NG_CHECK_STATUS(ng_svg_contour(&svg, &p, &c, 0, NULL), NG_EINVAL); /* nx < 2 */
  c.nx = 10;
  c.x1 = -1;
  NG_CHECK_OK(ng_svg_begin(&svg, f, 640, 480, NULL));
  NG_CHECK_STATUS(ng_svg_contour(&svg, &p, &c, 0, NULL), NG_EINVAL); /* empty domain */
  c.x1 = 1;
  c.n_levels = 0;
  NG_CHECK_OK(ng_svg_begin(&svg, f, 640, 480, NULL));
  NG_CHECK_STATUS(ng_svg_contour(&svg, &p, &c, 0, NULL), NG_EINVAL);
  c.n_levels = 3;
  ng_svg_panel_t tiny = {.x = 0, .y = 0, .w = 50, .h = 50};
  NG_CHECK_OK(ng_svg_begin(&svg, f, 640, 480, NULL));
  NG_CHECK_STATUS(ng_svg_contour(&svg, &tiny, &c, 0, NULL), NG_EINVAL); /* no plot area */
  ng_svg_panel_t logp = {.log_y = 1};
  NG_CHECK_OK(ng_svg_begin(&svg, f, 640, 480, NULL));
  NG_CHECK_STATUS(ng_svg_contour(&svg, &logp, &c, 0, NULL), NG_EINVAL);
  fclose(f);

  /* a device that refuses writes: the error surfaces, at the latest from ng_svg_end */
  FILE *full = fopen("/dev/full", "w");
  if (full) {
    NG_CHECK_STATUS(ng_svg_line_plot(full, 640, 480, &p, 1, &s), NG_EIO);
    fclose(full);
  }
}

int main(void) {
  NG_TEST_RUN(test_two_series);
  NG_TEST_RUN(test_escaping);
  NG_TEST_RUN(test_band);
  NG_TEST_RUN(test_degenerate);
  NG_TEST_RUN(test_log_axis);
  NG_TEST_RUN(test_long_series);
  NG_TEST_RUN(test_tick_labels);
  NG_TEST_RUN(test_clipped_lines);
  NG_TEST_RUN(test_auto_legend);
  NG_TEST_RUN(test_contour_geometry);
  NG_TEST_RUN(test_contour_paths_and_degenerate);
  NG_TEST_RUN(test_canvas);
  NG_TEST_RUN(test_bad_input);
  NG_TEST_END();
}
