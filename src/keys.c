/* Key tables (defaults, strict parsing, range checks, the "key = value" form) and the one
 * reader of "key = value" text: include/natgrad/keys.h. */
#include "natgrad/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int is_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* ---- one key ------------------------------------------------------------------------------- */

const ng_key_t *ng_keys_find(const ng_key_table_t *t, const char *name) {
  if (!t || !name) return NULL;
  for (size_t i = 0; i < t->n; i++)
    if (!strcmp(t->keys[i].name, name) || (t->keys[i].alias && !strcmp(t->keys[i].alias, name)))
      return &t->keys[i];
  return NULL;
}

/* "[lo, hi]" (open ends as parentheses), "> lo", "<= hi"... for messages; "" if none. */
static void range_text(const ng_key_t *k, char *buf, size_t size) {
  int has_lo = isfinite(k->lo), has_hi = isfinite(k->hi);
  if (has_lo && has_hi)
    snprintf(buf, size, "%c%.15g, %.15g%c", k->lo_open ? '(' : '[', k->lo, k->hi,
             k->hi_open ? ')' : ']');
  else if (has_lo)
    snprintf(buf, size, "%s %.15g", k->lo_open ? ">" : ">=", k->lo);
  else if (has_hi)
    snprintf(buf, size, "%s %.15g", k->hi_open ? "<" : "<=", k->hi);
  else
    buf[0] = '\0';
}

/* " in [lo, hi]", " > lo" or "": what a parse error says is expected. */
static const char *range_phrase(const ng_key_t *k, char *buf, size_t size) {
  char r[96];
  range_text(k, r, sizeof r);
  snprintf(buf, size, "%s%s", !r[0] ? "" : r[0] == '[' || r[0] == '(' ? " in " : " ", r);
  return buf;
}

/* "KEY = GOT is out of range [lo, hi]" or "KEY must be > lo (got GOT)". */
static int range_error(ng_error_t *err, const char *pre, const ng_key_t *k, const char *got) {
  char r[96];
  range_text(k, r, sizeof r);
  if (r[0] == '[' || r[0] == '(')
    return ng_error_set(err, NG_ERANGE, "%s%s = %s is out of range %s", pre, k->name, got, r);
  return ng_error_set(err, NG_ERANGE, "%s%s must be %s (got %s)", pre, k->name,
                      r[0] ? r : "finite", got);
}

static int in_range(const ng_key_t *k, double x) {
  if (isfinite(k->lo) && !(k->lo_open ? x > k->lo : x >= k->lo)) return 0;
  if (isfinite(k->hi) && !(k->hi_open ? x < k->hi : x <= k->hi)) return 0;
  return 1;
}

static size_t count_names(const char *const *names) {
  size_t n = 0;
  while (names && names[n]) n++;
  return n;
}

/* "a, b or c" from a NULL-terminated list. */
static void choices_text(const char *const *c, char *buf, size_t size) {
  size_t len = 0, n = count_names(c);
  buf[0] = '\0';
  for (size_t i = 0; i < n && len < size; i++) {
    int w = snprintf(buf + len, size - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                     c[i]);
    if (w > 0) len += (size_t)w;
  }
}

/* Appends to buf like snprintf, counting the whole length needed. */
typedef struct {
  char *buf;
  size_t size, len;
} out_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void out(out_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->len < o->size ? o->buf + o->len : NULL,
                    o->len < o->size ? o->size - o->len : 0, fmt, ap);
  va_end(ap);
  if (n > 0) o->len += (size_t)n;
}

int ng_keys_format_double(char *buf, size_t size, double x) {
  char num[32]; /* %.17g of any double fits */
  int n = 0;
  for (int digits = 15; digits <= 17; digits++) {
    n = snprintf(num, sizeof num, "%.*g", digits, x);
    if (isnan(x) || strtod(num, NULL) == x) break;
  }
  return size ? snprintf(buf, size, "%s", num) : n;
}

static void out_value(out_t *o, const ng_key_t *k, const void *cfg) {
  const char *f = (const char *)cfg + k->offset;
  switch (k->type) {
  case NG_KEY_INT:
  case NG_KEY_FLAG:
    out(o, "%d", *(const int *)f);
    break;
  case NG_KEY_LONG:
    out(o, "%ld", *(const long *)f);
    break;
  case NG_KEY_U64:
    out(o, "%" PRIu64, *(const uint64_t *)f);
    break;
  case NG_KEY_SIZE:
    out(o, "%zu", *(const size_t *)f);
    break;
  case NG_KEY_DOUBLE: {
    char num[32];
    ng_keys_format_double(num, sizeof num, *(const double *)f);
    out(o, "%s", num);
    break;
  }
  case NG_KEY_CHOICE: {
    int i = *(const int *)f - (int)k->lo;
    if (i >= 0 && (size_t)i < count_names(k->choices)) out(o, "%s", k->choices[i]);
    else out(o, "%d", *(const int *)f);
    break;
  }
  case NG_KEY_STRING:
    out(o, "%.*s", (int)strnlen(f, k->size), f);
    break;
  case NG_KEY_WIDTHS: {
    const size_t *w = (const size_t *)f;
    size_t n = *(const size_t *)((const char *)cfg + k->count_offset);
    for (size_t i = 0; i < n && i < k->size; i++) out(o, i ? ",%zu" : "%zu", w[i]);
    break;
  }
  }
}

/* The numeric value of an INT, LONG, SIZE or DOUBLE field. */
static double number(const ng_key_t *k, const void *cfg) {
  const char *f = (const char *)cfg + k->offset;
  switch (k->type) {
  case NG_KEY_INT:
    return *(const int *)f;
  case NG_KEY_LONG:
    return (double)*(const long *)f;
  case NG_KEY_SIZE:
    return (double)*(const size_t *)f;
  default:
    return *(const double *)f;
  }
}

static int set_widths(const ng_key_t *k, void *cfg, const char *word, const char *pre,
                      ng_error_t *err) {
  size_t tmp[64], n = 0;
  char range[96];
  range_phrase(k, range, sizeof range);
  if (strcmp(word, "none") != 0) {
    for (const char *p = word; *p;) {
      while (is_blank(*p)) p++;
      const char *end = p;
      while (*end >= '0' && *end <= '9') end++;
      char num[32];
      if (end == p || (size_t)(end - p) >= sizeof num)
        return ng_error_set(err, NG_EINVAL, "%s%s = '%s': expected comma-separated widths, "
                            "e.g. 64,64", pre, k->name, word);
      memcpy(num, p, (size_t)(end - p));
      num[end - p] = '\0';
      double x = strtod(num, NULL);
      if (!in_range(k, x))
        return ng_error_set(err, NG_ERANGE, "%s%s = '%s': each width must be%s", pre, k->name,
                            word, range);
      if (n == k->size || n == sizeof tmp / sizeof tmp[0])
        return ng_error_set(err, NG_ERANGE, "%s%s = '%s': at most %zu widths", pre, k->name,
                            word, k->size);
      tmp[n++] = (size_t)x;
      for (p = end; is_blank(*p); p++) {}
      if (*p && *p++ != ',')
        return ng_error_set(err, NG_EINVAL, "%s%s = '%s': expected comma-separated widths, "
                            "e.g. 64,64", pre, k->name, word);
      if (!*p && p[-1] == ',')
        return ng_error_set(err, NG_EINVAL, "%s%s = '%s': expected a width after the last "
                            "comma", pre, k->name, word);
    }
  }
  memcpy((char *)cfg + k->offset, tmp, n * sizeof tmp[0]);
  memcpy((char *)cfg + k->count_offset, &n, sizeof n);
  return NG_OK;
}

/* 1 if word, written as a value, reads back as itself: no comment starts inside it. */
static int round_trips(const char *word) {
  for (const char *p = word; *p; p++)
    if ((*p == '#' || *p == ';') && (p == word || is_blank(p[-1]))) return 0;
  return 1;
}

/* Sets k from value; messages start with pre ("config: ", "FILE:LINE: "). */
static int set_key(const ng_key_t *k, void *cfg, const char *value, const char *pre,
                   ng_error_t *err) {
  char word[1024], range[96];
  while (is_blank(*value)) value++;
  size_t len = strlen(value);
  while (len > 0 && is_blank(value[len - 1])) len--;
  if (len >= sizeof word)
    return ng_error_set(err, NG_EINVAL, "%s%s: value too long (at most %zu characters)", pre,
                        k->name, sizeof word - 1);
  memcpy(word, value, len);
  word[len] = '\0';
  range_phrase(k, range, sizeof range);
  char *f = (char *)cfg + k->offset, *end = NULL;
  int neg = word[0] == '-';
  errno = 0;
  switch (k->type) {
  case NG_KEY_INT:
  case NG_KEY_LONG: {
    long long v = is_digits(word + neg) ? strtoll(word, &end, 10) : 0;
    if (!end || errno == ERANGE)
      return ng_error_set(err, NG_EINVAL, "%s%s = '%s': expected an integer%s", pre, k->name,
                          word, range);
    int fits = k->type == NG_KEY_INT ? v >= INT_MIN && v <= INT_MAX : v >= LONG_MIN && v <= LONG_MAX;
    if (!fits || !in_range(k, (double)v)) return range_error(err, pre, k, word);
    if (k->type == NG_KEY_INT) *(int *)f = (int)v;
    else *(long *)f = (long)v;
    return NG_OK;
  }
  case NG_KEY_U64:
  case NG_KEY_SIZE: {
    unsigned long long v = is_digits(word) ? strtoull(word, &end, 10) : 0;
    if (!end || errno == ERANGE)
      return ng_error_set(err, NG_EINVAL, "%s%s = '%s': expected an integer%s", pre, k->name,
                          word, k->type == NG_KEY_U64 ? " in [0, 18446744073709551615]" : range);
    if (k->type == NG_KEY_U64) {
      *(uint64_t *)f = (uint64_t)v;
      return NG_OK;
    }
    if (v > SIZE_MAX || !in_range(k, (double)v)) return range_error(err, pre, k, word);
    *(size_t *)f = (size_t)v;
    return NG_OK;
  }
  case NG_KEY_DOUBLE: {
    /* decimal only: strtod would also read hex, "inf" and "nan" */
    int digits = 0, other = 0;
    for (const char *p = word; *p; p++) {
      digits += *p >= '0' && *p <= '9';
      other += !strchr("0123456789.eE+-", *p);
    }
    double x = digits && !other ? strtod(word, &end) : 0;
    if (!end || *end || errno == ERANGE || !isfinite(x))
      return ng_error_set(err, NG_EINVAL, "%s%s = '%s': expected a finite number%s", pre,
                          k->name, word, range);
    if (!in_range(k, x)) return range_error(err, pre, k, word);
    *(double *)f = x;
    return NG_OK;
  }
  case NG_KEY_FLAG:
    if (!strcmp(word, "1") || !strcmp(word, "true")) *(int *)f = 1;
    else if (!strcmp(word, "0") || !strcmp(word, "false")) *(int *)f = 0;
    else
      return ng_error_set(err, NG_EINVAL, "%s%s = '%s': expected 0, 1, true or false", pre,
                          k->name, word);
    return NG_OK;
  case NG_KEY_CHOICE: {
    for (size_t i = 0; k->choices[i]; i++)
      if (!strcmp(word, k->choices[i])) {
        *(int *)f = (int)k->lo + (int)i;
        return NG_OK;
      }
    char names[256];
    choices_text(k->choices, names, sizeof names);
    return ng_error_set(err, NG_EINVAL, "%s%s = '%s': expected %s", pre, k->name, word, names);
  }
  case NG_KEY_STRING: {
    const char *why = len >= k->size ? "too long"
                      : !round_trips(word) ? "a '#' or ';' at its start or after a blank would "
                                             "read back as a comment"
                      : k->check ? k->check(word) : NULL;
    if (why) return ng_error_set(err, NG_EINVAL, "%s%s = '%s': %s", pre, k->name, word, why);
    memcpy(f, word, len + 1);
    return NG_OK;
  }
  case NG_KEY_WIDTHS:
    return set_widths(k, cfg, word, pre, err);
  }
  return ng_error_set(err, NG_EINVAL, "%s%s: bad key type", pre, k->name);
}

/* "what: " or "". */
static const char *tag(const ng_key_table_t *t, char *buf, size_t size) {
  if (t->what && t->what[0]) snprintf(buf, size, "%s: ", t->what);
  else buf[0] = '\0';
  return buf;
}

int ng_keys_set(const ng_key_table_t *t, void *cfg, const char *key, const char *value,
                ng_error_t *err) {
  char pre[64];
  if (!t || !cfg || !key || !value) return ng_error_set(err, NG_EINVAL, "keys: NULL argument");
  const ng_key_t *k = ng_keys_find(t, key);
  if (!k) return ng_error_set(err, NG_ENOTFOUND, "%sunknown key '%s'", tag(t, pre, sizeof pre), key);
  return set_key(k, cfg, value, tag(t, pre, sizeof pre), err);
}

int ng_keys_defaults(const ng_key_table_t *t, void *cfg, ng_error_t *err) {
  if (!t || !cfg) return ng_error_set(err, NG_EINVAL, "keys: NULL argument");
  char pre[64];
  for (size_t i = 0; i < t->n; i++) {
    if (!t->keys[i].dflt) continue;
    int st = set_key(&t->keys[i], cfg, t->keys[i].dflt, tag(t, pre, sizeof pre), err);
    if (st != NG_OK) return st;
  }
  return NG_OK;
}

int ng_keys_check(const ng_key_table_t *t, const void *cfg, ng_error_t *err) {
  if (!t || !cfg) return ng_error_set(err, NG_EINVAL, "keys: NULL argument");
  char pre[64], range[96], got[128];
  tag(t, pre, sizeof pre);
  for (size_t i = 0; i < t->n; i++) {
    const ng_key_t *k = &t->keys[i];
    const char *f = (const char *)cfg + k->offset;
    out_t o = {got, sizeof got, 0};
    range_phrase(k, range, sizeof range);
    switch (k->type) {
    case NG_KEY_INT:
    case NG_KEY_LONG:
    case NG_KEY_SIZE:
    case NG_KEY_DOUBLE: {
      double x = number(k, cfg);
      if (isfinite(x) && in_range(k, x)) break;
      out_value(&o, k, cfg);
      return range_error(err, pre, k, got);
    }
    case NG_KEY_U64:
      break;
    case NG_KEY_FLAG:
      if (*(const int *)f == 0 || *(const int *)f == 1) break;
      return ng_error_set(err, NG_ERANGE, "%s%s must be 0 or 1 (got %d)", pre, k->name,
                          *(const int *)f);
    case NG_KEY_CHOICE: {
      int c = *(const int *)f - (int)k->lo;
      if (c >= 0 && (size_t)c < count_names(k->choices)) break;
      choices_text(k->choices, got, sizeof got);
      return ng_error_set(err, NG_EINVAL, "%s%s: expected %s (got %d)", pre, k->name, got,
                          *(const int *)f);
    }
    case NG_KEY_STRING: {
      if (!memchr(f, '\0', k->size))
        return ng_error_set(err, NG_EINVAL, "%s%s: not a terminated string", pre, k->name);
      const char *why = k->check ? k->check(f) : NULL;
      if (why) return ng_error_set(err, NG_EINVAL, "%s%s = '%s': %s", pre, k->name, f, why);
      break;
    }
    case NG_KEY_WIDTHS: {
      const size_t *w = (const size_t *)f;
      size_t n = *(const size_t *)((const char *)cfg + k->count_offset);
      if (n > k->size)
        return ng_error_set(err, NG_ERANGE, "%s%s: at most %zu widths (got %zu)", pre, k->name,
                            k->size, n);
      for (size_t j = 0; j < n; j++)
        if (!in_range(k, (double)w[j]))
          return ng_error_set(err, NG_ERANGE, "%s%s: each width must be%s (got %zu)", pre,
                              k->name, range, w[j]);
      break;
    }
    }
  }
  return NG_OK;
}

size_t ng_keys_format(const ng_key_table_t *t, const void *cfg, char *buf, size_t size) {
  out_t o = {buf, buf ? size : 0, 0};
  if (buf && size) buf[0] = '\0';
  if (!t || !cfg) return 0;
  for (size_t i = 0; i < t->n; i++) {
    out(&o, "%s = ", t->keys[i].name);
    out_value(&o, &t->keys[i], cfg);
    out(&o, "\n");
  }
  return o.len;
}

/* ---- the reader ---------------------------------------------------------------------------- */

static int section_allowed(const char *const *sections, const char *name, size_t len) {
  if (len == 0) return 1; /* [] : back to the top level */
  for (size_t i = 0; sections && sections[i]; i++)
    if (strlen(sections[i]) == len && !strncmp(sections[i], name, len)) return 1;
  return 0;
}

/* "use no section, [a] or [b]" */
static void sections_text(const char *const *sections, char *buf, size_t size) {
  size_t len = 0, n = count_names(sections);
  if (n == 0) {
    snprintf(buf, size, "no sections here");
    return;
  }
  len = (size_t)snprintf(buf, size, "use no section");
  for (size_t i = 0; i < n && len < size; i++) {
    int w = snprintf(buf + len, size - len, "%s[%s]", i + 1 == n ? " or " : ", ", sections[i]);
    if (w > 0) len += (size_t)w;
  }
}

/* An upper bound on the entries of text (lines that are not blank, comments or sections),
 * so the list is allocated once. */
static size_t count_candidates(const char *text, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len && n <= NG_KV_MAX_ITEMS;) {
    while (i < len && is_blank(text[i]) && text[i] != '\n') i++;
    if (i < len && !strchr("\n#;[", text[i])) n++;
    while (i < len && text[i] != '\n') i++;
    i++;
  }
  return n;
}

/* One line (without its '\n') into l; section is the current one. */
static int parse_line(ng_kv_list_t *l, const char *s, size_t len, int line, char *section,
                      const char *const *sections, ng_error_t *err) {
  const char *src = l->source;
  while (len > 0 && is_blank(*s)) s++, len--;
  if (len == 0 || *s == '#' || *s == ';') return NG_OK;
  for (size_t i = 1; i < len; i++) /* a trailing comment */
    if ((s[i] == '#' || s[i] == ';') && is_blank(s[i - 1])) {
      len = i;
      break;
    }
  while (len > 0 && is_blank(s[len - 1])) len--;
  if (*s == '[') {
    if (s[len - 1] != ']')
      return ng_error_set(err, NG_EFORMAT, "%s:%d: expected ']' to end the section name", src,
                          line);
    const char *name = s + 1;
    size_t n = len - 2;
    if (n >= sizeof l->items[0].section || !section_allowed(sections, name, n)) {
      char allowed[256];
      sections_text(sections, allowed, sizeof allowed);
      return ng_error_set(err, NG_EFORMAT, "%s:%d: unknown section [%.*s] (%s)", src, line,
                          (int)(n < 64 ? n : 64), name, allowed);
    }
    memcpy(section, name, n);
    section[n] = '\0';
    return NG_OK;
  }
  size_t sep = 0; /* s is not terminated at len */
  while (sep < len && s[sep] != '=' && s[sep] != ':') sep++;
  if (sep == len)
    return ng_error_set(err, NG_EFORMAT, "%s:%d: expected 'key = value', a [section] or a "
                        "comment", src, line);
  size_t klen = sep, vstart = sep + 1;
  while (klen > 0 && is_blank(s[klen - 1])) klen--;
  while (vstart < len && is_blank(s[vstart])) vstart++;
  if (klen == 0)
    return ng_error_set(err, NG_EFORMAT, "%s:%d: expected a key before '%c'", src, line, s[sep]);
  if (klen >= sizeof l->items[0].key)
    return ng_error_set(err, NG_EFORMAT, "%s:%d: key too long (at most %zu characters)", src,
                        line, sizeof l->items[0].key - 1);
  if (len - vstart >= sizeof l->items[0].value)
    return ng_error_set(err, NG_EFORMAT, "%s:%d: value too long (at most %zu characters)", src,
                        line, sizeof l->items[0].value - 1);
  for (size_t i = 0; i < l->n; i++) { /* at most NG_KV_MAX_ITEMS: a scan is cheap */
    const ng_kv_t *e = &l->items[i];
    if (strlen(e->key) == klen && !strncmp(e->key, s, klen) && !strcmp(e->section, section)) {
      char where[48] = "";
      if (section[0]) snprintf(where, sizeof where, " in [%s]", section);
      return ng_error_set(err, NG_EFORMAT, "%s:%d: '%s' is set again%s (first on line %d)", src,
                          line, e->key, where, e->line);
    }
  }
  if (l->n == l->cap)
    return ng_error_set(err, NG_EFORMAT, "%s:%d: too many entries (at most %d)", src, line,
                        NG_KV_MAX_ITEMS);
  ng_kv_t *e = &l->items[l->n++];
  memcpy(e->key, s, klen);
  e->key[klen] = '\0';
  memcpy(e->value, s + vstart, len - vstart);
  e->value[len - vstart] = '\0';
  snprintf(e->section, sizeof e->section, "%s", section);
  e->line = line;
  return NG_OK;
}

int ng_kv_parse(ng_kv_list_t *l, const char *text, size_t len, const char *source,
                const char *const *sections, ng_error_t *err) {
  if (!l) return ng_error_set(err, NG_EINVAL, "kv: NULL argument");
  memset(l, 0, sizeof *l);
  if ((!text && len) || !source) return ng_error_set(err, NG_EINVAL, "kv: NULL argument");
  if (strlen(source) >= sizeof l->source)
    return ng_error_set(err, NG_ERANGE, "name too long: '%.64s...'", source);
  snprintf(l->source, sizeof l->source, "%s", source);
  if (len > NG_KV_MAX_TEXT)
    return ng_error_set(err, NG_EFORMAT, "%s: too large (%zu bytes; at most %zu)", source, len,
                        NG_KV_MAX_TEXT);
  const char *nul = len ? memchr(text, '\0', len) : NULL;
  if (nul) {
    int line = 1;
    for (const char *p = text; p < nul; p++) line += *p == '\n';
    return ng_error_set(err, NG_EFORMAT, "%s:%d: a NUL byte (not a text file?)", source, line);
  }
  l->cap = count_candidates(text, len);
  if (l->cap > NG_KV_MAX_ITEMS) l->cap = NG_KV_MAX_ITEMS;
  if (l->cap && !(l->items = ng_malloc(l->cap * sizeof *l->items))) {
    l->cap = 0;
    return ng_error_set(err, NG_ENOMEM, "%s: out of memory", source);
  }
  char section[sizeof l->items[0].section] = "";
  int line = 0;
  for (size_t pos = 0; pos < len;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
    int st = parse_line(l, text + pos, n, ++line, section, sections, err);
    if (st != NG_OK) {
      ng_kv_free(l);
      return st;
    }
    pos += n + 1;
  }
  return NG_OK;
}

int ng_kv_read_file(ng_kv_list_t *l, const char *path, const char *const *sections,
                    ng_error_t *err) {
  if (!l) return ng_error_set(err, NG_EINVAL, "kv: NULL argument");
  memset(l, 0, sizeof *l);
  if (!path) return ng_error_set(err, NG_EINVAL, "kv: NULL argument");
  /* Only a regular file: a FIFO would block the open, /dev/zero never ends. O_NONBLOCK, and
   * the type checked on the open file, so a swap after the stat cannot block either. */
  struct stat st;
  int fd = -1;
  if (stat(path, &st) != 0 || (S_ISREG(st.st_mode) && (fd = open(path, O_RDONLY | O_NONBLOCK)) < 0))
    return ng_error_set(err, NG_ENOTFOUND, "cannot read config file '%s': %s", path,
                        strerror(errno));
  if (fd >= 0 && fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return ng_error_set(err, NG_EIO, "cannot read config file '%s': %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return ng_error_set(err, NG_EINVAL, "cannot read config file '%s': %s", path,
                        S_ISDIR(st.st_mode) ? "is a folder" : "not a regular file");
  }
  if ((uintmax_t)st.st_size > NG_KV_MAX_TEXT) {
    close(fd);
    return ng_error_set(err, NG_EFORMAT, "%s: too large (%jd bytes; at most %zu)", path,
                        (intmax_t)st.st_size, NG_KV_MAX_TEXT);
  }
  /* one byte more than the size, so a file that grew since the fstat is caught */
  size_t size = (size_t)st.st_size + 1, len = 0;
  char *buf = ng_malloc(size);
  if (!buf) {
    close(fd);
    return ng_error_set(err, NG_ENOMEM, "%s: out of memory", path);
  }
  for (;;) {
    ssize_t r = read(fd, buf + len, size - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      ng_free(buf);
      close(fd);
      return ng_error_set(err, NG_EIO, "cannot read config file '%s': %s", path, strerror(e));
    }
    len += (size_t)r;
    if (r == 0 || len == size) break;
  }
  close(fd);
  int s = len == size ? ng_error_set(err, NG_EIO, "%s: changed while it was read", path)
                      : ng_kv_parse(l, buf, len, path, sections, err);
  ng_free(buf);
  return s;
}

int ng_kv_apply(const ng_kv_list_t *l, const ng_key_table_t *t, void *cfg, const char *section,
                ng_error_t *err) {
  if (!l || !t || !cfg) return ng_error_set(err, NG_EINVAL, "kv: NULL argument");
  for (int pass = 0; pass < (section ? 2 : 1); pass++)
    for (size_t i = 0; i < l->n; i++) {
      const ng_kv_t *e = &l->items[i];
      if (strcmp(e->section, pass ? section : "") != 0) continue;
      char pre[1100];
      snprintf(pre, sizeof pre, "%s:%d: ", l->source, e->line);
      const ng_key_t *k = ng_keys_find(t, e->key);
      if (!k) return ng_error_set(err, NG_ENOTFOUND, "%sunknown key '%s'", pre, e->key);
      if (strcmp(k->name, e->key) != 0) /* an alias: the same key under its other name? */
        for (size_t j = 0; j < l->n; j++) {
          const ng_kv_t *o = &l->items[j];
          if (j == i || strcmp(o->section, e->section) || strcmp(o->key, k->name)) continue;
          const ng_kv_t *first = o->line < e->line ? o : e, *again = first == o ? e : o;
          return ng_error_set(err, NG_EFORMAT, "%s:%d: '%s' is set again as '%s' (first on "
                              "line %d)", l->source, again->line, first->key, again->key,
                              first->line);
        }
      int st = set_key(k, cfg, e->value, pre, err);
      if (st != NG_OK) return st;
    }
  return NG_OK;
}

int ng_kv_number(const char *value, double *x) {
  char *end;
  *x = strtod(value, &end);
  return end != value && !*end && isfinite(*x); /* subnormals too, where errno says ERANGE */
}

int ng_kv_same_value(const char *a, const char *b) {
  double x, y;
  if (!strcmp(a, b)) return 1;
  if (!strpbrk(a, ".eE") && !strpbrk(b, ".eE")) return 0;
  return ng_kv_number(a, &x) && ng_kv_number(b, &y) && x == y;
}

const char *ng_kv_get(const ng_kv_list_t *l, const char *key, const char *section) {
  const char *top = NULL;
  for (size_t i = 0; l && key && i < l->n; i++) {
    if (strcmp(l->items[i].key, key) != 0) continue;
    if (!l->items[i].section[0]) top = l->items[i].value;
    else if (section && !strcmp(l->items[i].section, section)) return l->items[i].value;
  }
  return top;
}

void ng_kv_free(ng_kv_list_t *l) {
  if (!l) return;
  ng_free(l->items);
  l->items = NULL;
  l->n = l->cap = 0;
}
