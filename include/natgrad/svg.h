/* natgrad svg: the plots every front end draws (a run folder's curve.svg, the demo's and
 * the benchmark's figures), in the library so that the CLI, Python or any program on the
 * library writes the same bytes. Line plots (axes, "nice" ticks, labels, a legend, several
 * series, optional log-scale y) and contour plots of a 2-D function with paths drawn over
 * them. Output is plain SVG 1.1 text written to a FILE *, deterministic for the same
 * inputs (fixed number formats, no timestamps).
 *
 * A figure is a canvas holding one or more panels:
 *
 *     ng_svg_t svg;
 *     ng_svg_begin(&svg, out, 1100, 480, "title");
 *     ng_svg_contour(&svg, &left_panel, &contour, n_paths, paths);
 *     ng_svg_lines(&svg, &right_panel, n_series, series);
 *     status = ng_svg_end(&svg);
 *
 * or, for a one-panel file, ng_svg_line_plot / ng_svg_contour_plot.
 *
 * Robustness: non-finite data points (and non-positive ones on a log axis) are skipped and
 * break the line there; an empty, single-point or constant series gets a padded range, so
 * nothing divides by zero and no NaN reaches the file. Text (titles, labels, legend entries)
 * is XML-escaped. Functions return NG_OK, NG_EINVAL (NULL or inconsistent arguments),
 * NG_ENOMEM (a contour's sample grid, the only allocation, through ng_malloc) or NG_EIO (a
 * write failed); after a failure later calls on the same canvas do nothing and ng_svg_end
 * returns the first error. Nothing is printed anywhere but to the caller's FILE *.
 */
#ifndef NATGRAD_SVG_H
#define NATGRAD_SVG_H

#include <stddef.h>
#include <stdio.h>

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A canvas being written. Plain struct, filled by ng_svg_begin; no allocation. */
typedef struct {
  FILE *out;
  double width, height; /* px */
  int status;           /* first error (NG_OK while all is well) */
  int n_panels;         /* panels written, for unique clip-path ids */
} ng_svg_t;

typedef enum {
  NG_SVG_LEGEND_TOP_RIGHT = 0,
  NG_SVG_LEGEND_TOP_LEFT,
  NG_SVG_LEGEND_BOTTOM_RIGHT,
  NG_SVG_LEGEND_BOTTOM_LEFT,
  NG_SVG_LEGEND_NONE,
  NG_SVG_LEGEND_AUTO /* the corner that hides the least of the series */
} ng_svg_legend_t;

/* One panel: a box on the canvas holding a title, axis labels, ticks and the plot area. */
typedef struct {
  double x, y, w, h;    /* the panel's box on the canvas, px; w or h <= 0: the whole canvas */
  const char *title;    /* may be NULL */
  const char *xlabel;   /* may be NULL */
  const char *ylabel;   /* may be NULL */
  int log_y;            /* 1: log10 y axis (line plots only) */
  ng_svg_legend_t legend;
  /* Fixed axis ranges: used when lo < hi (finite, and > 0 for a log axis); otherwise the
   * range is taken from the data (line plots) or the function's domain (contour plots). */
  double x_lo, x_hi, y_lo, y_hi;
} ng_svg_panel_t;

typedef enum { NG_SVG_MARKER_CIRCLE = 0, NG_SVG_MARKER_CROSS, NG_SVG_MARKER_STAR } ng_svg_marker_t;

/* One data series (a line, or the path of an optimiser over a contour plot). Borrowed. */
typedef struct {
  const char *label;       /* legend text; NULL: not in the legend */
  size_t n;                /* points */
  const double *x;         /* n values; NULL: x = 0, 1, ..., n-1 */
  const double *y;         /* n values (NULL only when n == 0) */
  const char *color;       /* any SVG colour ("#d55e00"); NULL: the palette's colour i */
  double line_width;       /* px; 0: 2; < 0: no line (markers only) */
  int dashed;
  size_t markers;          /* markers on the first `markers` points (0: none) */
  ng_svg_marker_t marker;
  double marker_size;      /* px radius; 0: 3.5 */
  /* A shaded band from band_lo[i] to band_hi[i] around the line (a confidence interval), in
   * the series' colour, drawn under every series' line and counted in the axis range; NULL
   * (either): none. Line plots only; a point with a non-finite bound leaves a gap. */
  const double *band_lo, *band_hi;
} ng_svg_series_t;

/* A function sampled on an nx x ny grid over [x0, x1] x [y0, y1]; the levels are traced by
 * marching squares (saddles resolved by the cell's mean). Non-finite samples leave a hole. */
typedef struct {
  double (*f)(void *ctx, double x, double y);
  void *ctx;
  double x0, x1, y0, y1; /* x0 < x1, y0 < y1 */
  size_t nx, ny;         /* samples per axis, 2 .. 2000 */
  size_t n_levels;       /* 1 .. 64 */
  const char *label;     /* legend text for the contour lines; NULL: not in the legend */
  const double *levels;  /* n_levels values, increasing; NULL: automatic, fmin + (fmax -
                            fmin) * 2^-(n_levels - k) for k = 0 .. n_levels-1, dense near
                            the minimum where a loss's contours matter */
} ng_svg_contour_t;

/* Colour i of the palette (Okabe-Ito, safe for colour-blind readers); cycles. */
const char *ng_svg_palette(size_t i);

/* Starts a canvas of width x height px (title may be NULL: none). */
int ng_svg_begin(ng_svg_t *svg, FILE *out, double width, double height, const char *title);
/* Closes the canvas; returns the first error of any call on it, or NG_EIO if the stream
 * reports an error. Does not close `out`. */
int ng_svg_end(ng_svg_t *svg);

/* A line-plot panel with n_series series. */
int ng_svg_lines(ng_svg_t *svg, const ng_svg_panel_t *panel, size_t n_series,
                 const ng_svg_series_t *series);
/* A contour panel of c with n_paths series drawn over it (clipped to the plot area).
 * panel->log_y must be 0. */
int ng_svg_contour(ng_svg_t *svg, const ng_svg_panel_t *panel, const ng_svg_contour_t *c,
                   size_t n_paths, const ng_svg_series_t *paths);

/* One-panel files: begin + panel (filling the canvas, title from the panel) + end. */
int ng_svg_line_plot(FILE *out, double width, double height, const ng_svg_panel_t *panel,
                     size_t n_series, const ng_svg_series_t *series);
int ng_svg_contour_plot(FILE *out, double width, double height, const ng_svg_panel_t *panel,
                        const ng_svg_contour_t *c, size_t n_paths, const ng_svg_series_t *paths);

/* Writes s with & < > " ' replaced by entities (NULL writes nothing). */
void ng_svg_write_escaped(FILE *out, const char *s);

/* Writes path atomically (path.tmp, then rename) with draw(out, ctx), which writes one
 * whole SVG document to out and returns a status. NG_EIO (with the file named) if it cannot
 * be written; on failure path is as it was. */
int ng_svg_write_file(const char *path, int (*draw)(FILE *out, void *ctx), void *ctx,
                      ng_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
