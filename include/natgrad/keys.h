/* natgrad keys: configs as tables of named keys, and the one reader of "key = value" text.
 *
 * A config is a plain struct; its key table says, once per key, the field's name, type,
 * place (offsetof), range, default (as text), meaning and the names it accepts on input.
 * From the table alone: defaults, setting a key from text (strictly parsed, range
 * checked), checking a whole struct, and writing it back as "key = value" lines that read
 * back to the same bytes. rl.h and supervised.h publish their tables (ng_rl_config_keys,
 * ng_sup_opt_config_keys) so a front end can list, set and read any key.
 *
 * The text format (config files, the config a checkpoint stores):
 *   - one `key = value` (or `key: value`) per line; spaces around key and value are dropped;
 *   - a line whose first non-blank character is '#' or ';' is a comment, and a '#' or ';'
 *     after a blank starts a trailing comment;
 *   - `[name]` starts a section, if the reader allows that name; `[]` returns to the top
 *     level. Top-level keys always apply; a section's keys only when asked for (a file's
 *     [npg] values apply to NPG runs only) and then override the top level;
 *   - a key given twice in one section is an error naming both lines; so are a NUL byte, a
 *     text over NG_KV_MAX_TEXT bytes, more than NG_KV_MAX_ITEMS entries, a key or value too
 *     long for ng_kv_t. Every error names SOURCE:LINE.
 *
 * Every function returns NG_OK or a negative status with a one-line message in err; none
 * prints or exits. Messages from ng_keys_* start with "WHAT: " (the table's what, when it
 * has one); those of ng_kv_* with "SOURCE:LINE: ".
 */
#ifndef NATGRAD_KEYS_H
#define NATGRAD_KEYS_H

#include <stddef.h>

#include "natgrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NG_KEY_INT,    /* int, decimal, in [lo, hi] */
  NG_KEY_LONG,   /* long, decimal, in [lo, hi] */
  NG_KEY_U64,    /* uint64_t, decimal, any value (lo, hi unused) */
  NG_KEY_SIZE,   /* size_t, decimal, in [lo, hi] (hi infinite: up to SIZE_MAX) */
  NG_KEY_DOUBLE, /* double, decimal (no hex, inf or nan), finite, in [lo, hi] */
  NG_KEY_FLAG,   /* int 0 or 1; reads 0, 1, false, true */
  NG_KEY_CHOICE, /* int or enum: (int)lo + the index of the value's name in choices */
  NG_KEY_STRING, /* char[size], value shorter than size, accepted by check */
  NG_KEY_WIDTHS  /* size_t[size] with a size_t count at count_offset: "64,64", each in
                    [lo, hi]; "" or "none" is no width */
} ng_key_type_t;

/* One key. Ranges are closed unless lo_open / hi_open; an infinite lo or hi is no bound. */
typedef struct {
  const char *name;
  ng_key_type_t type;
  size_t offset;                /* offsetof the field in the config struct */
  double lo, hi;
  int lo_open, hi_open;
  const char *dflt;             /* the default as text (ng_keys_defaults); NULL: none */
  const char *doc;              /* one line, for listings */
  const char *const *choices;   /* CHOICE: the names, NULL-terminated */
  size_t size;                  /* STRING: buffer size; WIDTHS: most widths */
  size_t count_offset;          /* WIDTHS: offsetof the size_t count */
  const char *alias;            /* another name accepted on input (NULL: none) */
  /* STRING: NULL if value is acceptable, else why not (static text); NULL: any value */
  const char *(*check)(const char *value);
} ng_key_t;

typedef struct {
  const char *what; /* the messages' tag, e.g. "config" (NULL: none) */
  const ng_key_t *keys;
  size_t n;
} ng_key_table_t;

/* The key named name (or whose alias it is), or NULL. */
const ng_key_t *ng_keys_find(const ng_key_table_t *t, const char *name);
/* Sets every key that has a default to it; other fields are left alone. */
int ng_keys_defaults(const ng_key_table_t *t, void *cfg, ng_error_t *err);
/* Sets key from value: the whole value, blanks around it aside, must be one token of the
 * key's type and in its range. NG_ENOTFOUND for an unknown key, NG_EINVAL for a value of
 * the wrong form, NG_ERANGE for one out of range; the field is then unchanged. */
int ng_keys_set(const ng_key_table_t *t, void *cfg, const char *key, const char *value,
                ng_error_t *err);
/* Checks every field against its key (range, finite, 0/1, a known choice, a terminated
 * string): NG_ERANGE or NG_EINVAL naming the first key that fails. */
int ng_keys_check(const ng_key_table_t *t, const void *cfg, ng_error_t *err);
/* Writes "key = value\n" for every key in table order (doubles by ng_keys_format_double, so
 * they read back exactly) into buf; returns the length it needs, like snprintf. */
size_t ng_keys_format(const ng_key_table_t *t, const void *cfg, char *buf, size_t size);
/* Writes x into buf as the shortest of %.15g, %.16g and %.17g that strtod reads back to x
 * exactly: 0.99 as "0.99", not %.17g's "0.98999999999999999". Returns snprintf's count. */
int ng_keys_format_double(char *buf, size_t size, double x);

/* ---- the reader --------------------------------------------------------------------------- */

#define NG_KV_MAX_TEXT ((size_t)1 << 20) /* bytes of text: a config is a few hundred */
#define NG_KV_MAX_ITEMS 4096             /* entries */

typedef struct {
  char key[64];
  char value[1024]; /* long enough for a path */
  char section[32]; /* "" at the top level */
  int line;
} ng_kv_t;

/* Entries in text order. items is ng_malloc'ed; ng_kv_free releases it. */
typedef struct {
  char source[1024]; /* the text's name in messages */
  ng_kv_t *items;
  size_t n, cap;
} ng_kv_list_t;

/* Parses len bytes of text into l (overwritten: it need not be initialised). sections: the
 * [section] names allowed, NULL-terminated (NULL: none). NG_EFORMAT for anything the format
 * above refuses, NG_ENOMEM. On failure l holds nothing to free. */
int ng_kv_parse(ng_kv_list_t *l, const char *text, size_t len, const char *source,
                const char *const *sections, ng_error_t *err);
/* Reads the file at path and parses it, path as the source. Anything but a regular file (a
 * folder, a FIFO, a device) is refused before it is read, and so is one over
 * NG_KV_MAX_TEXT bytes. NG_ENOTFOUND if it cannot be opened, NG_EINVAL if it is not a
 * regular file, NG_EIO for a read error; else as ng_kv_parse. */
int ng_kv_read_file(ng_kv_list_t *l, const char *path, const char *const *sections,
                    ng_error_t *err);
/* Sets every top-level entry, then, with section non-NULL, every entry of that section (so
 * they override the top level), each in text order, through ng_keys_set; entries of other
 * sections are skipped. A key set twice in one section under two of its names (name and
 * alias) is refused. The first failure is returned, its message "SOURCE:LINE: ...". */
int ng_kv_apply(const ng_kv_list_t *l, const ng_key_table_t *t, void *cfg, const char *section,
                ng_error_t *err);
/* The value ng_kv_apply(l, ..., section) gives key: section's entry if it has one (section
 * non-NULL), else the top level's, else NULL. Borrowed from l. */
const char *ng_kv_get(const ng_kv_list_t *l, const char *key, const char *section);
void ng_kv_free(ng_kv_list_t *l);
/* 1 if value is one finite number as a whole (strtod), into *x. */
int ng_kv_number(const char *value, double *x);
/* 1 if two values say the same: the same text, or, where either is written as a decimal
 * fraction or with an exponent, the same double (config.ini wrote 0.99 as
 * "0.98999999999999999" before ng_keys_format_double). Integers compare as text, so
 * seeds past 2^53 stay apart. */
int ng_kv_same_value(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
