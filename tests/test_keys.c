/* keys.h: every key type parsed strictly and range checked (open and closed ends), checked
 * as a whole struct, formatted and read back to the same bytes; the "key = value" reader's
 * format, its refusals (NUL byte, duplicate key, unknown section, size and entry caps, long
 * keys and values, anything but a regular file) with SOURCE:LINE in every message, and
 * section filtering on apply. */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "natgrad/keys.h"
#include "natgrad/rl.h"
#include "natgrad/supervised.h"
#include "ng_test.h"

typedef struct {
  int count;
  long budget;
  uint64_t seed;
  size_t rows;
  double rate, tol, shrink;
  int on;
  int mode;
  char name[16];
  size_t widths[3];
  size_t n_widths;
} cfg_t;

static const char *no_bad(const char *v) { return strcmp(v, "bad") ? NULL : "is not allowed"; }

static const char *const modes[] = {"fast", "slow", "exact", NULL};

#define OFF(f) offsetof(cfg_t, f)
static const ng_key_t keys[] = {
    {.name = "count", .type = NG_KEY_INT, .offset = OFF(count), .lo = 1, .hi = 100, .dflt = "10",
     .doc = "an int in [1, 100]"},
    {.name = "budget", .type = NG_KEY_LONG, .offset = OFF(budget), .lo = 0, .hi = 1e12,
     .dflt = "1000", .doc = "a long"},
    {.name = "seed", .type = NG_KEY_U64, .offset = OFF(seed), .dflt = "18446744073709551615",
     .doc = "a u64"},
    {.name = "rows", .type = NG_KEY_SIZE, .offset = OFF(rows), .lo = 0, .hi = INFINITY,
     .dflt = "0", .doc = "a size"},
    {.name = "rate", .type = NG_KEY_DOUBLE, .offset = OFF(rate), .lo = 0, .hi = 1, .lo_open = 1,
     .dflt = "0.5", .doc = "in (0, 1]"},
    {.name = "tol", .type = NG_KEY_DOUBLE, .offset = OFF(tol), .lo = 0, .hi = INFINITY,
     .dflt = "1e-10", .alias = "tolerance", .doc = ">= 0"},
    {.name = "shrink", .type = NG_KEY_DOUBLE, .offset = OFF(shrink), .lo = 0, .hi = 1,
     .lo_open = 1, .hi_open = 1, .dflt = "0.8", .doc = "in (0, 1)"},
    {.name = "on", .type = NG_KEY_FLAG, .offset = OFF(on), .dflt = "1", .doc = "a flag"},
    {.name = "mode", .type = NG_KEY_CHOICE, .offset = OFF(mode), .lo = 5, .choices = modes,
     .dflt = "slow", .doc = "stored as 5 + index"},
    {.name = "name", .type = NG_KEY_STRING, .offset = OFF(name), .size = 16, .check = no_bad,
     .dflt = "x", .doc = "a string"},
    {.name = "widths", .type = NG_KEY_WIDTHS, .offset = OFF(widths), .lo = 1, .hi = 1000,
     .size = 3, .count_offset = OFF(n_widths), .dflt = "8,8", .doc = "widths"},
};
#undef OFF
static const ng_key_table_t table = {"test", keys, sizeof keys / sizeof keys[0]};

static cfg_t defaults(void) {
  cfg_t c;
  memset(&c, 0, sizeof c);
  ng_error_t err;
  NG_CHECK_OK(ng_keys_defaults(&table, &c, &err));
  return c;
}

/* ng_keys_set must fail with want and a message holding text (and "test: "). */
static void expect_set(const char *key, const char *value, int want, const char *text) {
  cfg_t c = defaults(), before = c;
  ng_error_t err;
  NG_CHECK_STATUS(ng_keys_set(&table, &c, key, value, &err), want);
  NG_CHECK(memcmp(&c, &before, sizeof c) == 0); /* a failed set leaves the field */
  NG_CHECK(!strncmp(err.message, "test: ", 6));
  if (text && !strstr(err.message, text))
    fprintf(stderr, "  '%s = %s': message '%s' lacks '%s'\n", key, value, err.message, text);
  NG_CHECK(!text || strstr(err.message, text));
}

static void test_types(void) {
  ng_error_t err;
  cfg_t c = defaults();
  NG_CHECK(c.count == 10 && c.budget == 1000 && c.seed == UINT64_MAX && c.rows == 0);
  NG_CHECK(c.rate == 0.5 && c.tol == 1e-10 && c.shrink == 0.8 && c.on == 1 && c.mode == 6);
  NG_CHECK(!strcmp(c.name, "x") && c.n_widths == 2 && c.widths[0] == 8 && c.widths[1] == 8);
  NG_CHECK_OK(ng_keys_check(&table, &c, &err));

  /* accepted: blanks around the token, both closed ends, aliases */
  NG_CHECK_OK(ng_keys_set(&table, &c, "count", " 100\t", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "budget", "1000000000000", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "seed", "0", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "rows", "18446744073709551615", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "rate", "1", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "tolerance", "0", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "shrink", ".5e0", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "on", "false", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "mode", "exact", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "name", " fifteen-chars!! ", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "widths", " 1, 2 ,1000", &err));
  NG_CHECK(c.count == 100 && c.budget == 1000000000000L && c.seed == 0);
  NG_CHECK(c.rows == SIZE_MAX && c.rate == 1 && c.tol == 0 && c.shrink == 0.5 && c.on == 0);
  NG_CHECK(c.mode == 7 && !strcmp(c.name, "fifteen-chars!!") && c.n_widths == 3);
  NG_CHECK(c.widths[0] == 1 && c.widths[1] == 2 && c.widths[2] == 1000);
  NG_CHECK(ng_keys_find(&table, "tolerance") == &keys[5] && !ng_keys_find(&table, "x"));
  NG_CHECK_OK(ng_keys_set(&table, &c, "widths", "", &err));
  NG_CHECK(c.n_widths == 0);
  NG_CHECK_OK(ng_keys_set(&table, &c, "widths", "none", &err));
  NG_CHECK(c.n_widths == 0);
  NG_CHECK_OK(ng_keys_check(&table, &c, &err));

  /* refused: the wrong form (NG_EINVAL) and out of range (NG_ERANGE), open ends included */
  expect_set("nope", "1", NG_ENOTFOUND, "unknown key 'nope'");
  expect_set("count", "2.5", NG_EINVAL, "expected an integer in [1, 100]");
  expect_set("count", "0x10", NG_EINVAL, NULL);
  expect_set("count", "1e2", NG_EINVAL, NULL);
  expect_set("count", "7 7", NG_EINVAL, NULL);
  expect_set("count", "+7", NG_EINVAL, NULL);
  expect_set("count", "", NG_EINVAL, NULL);
  expect_set("count", "99999999999999999999", NG_EINVAL, NULL);
  expect_set("count", "0", NG_ERANGE, "count = 0 is out of range [1, 100]");
  expect_set("count", "101", NG_ERANGE, NULL);
  expect_set("count", "-3000000000", NG_ERANGE, NULL);
  expect_set("budget", "1000000000001", NG_ERANGE, NULL);
  expect_set("seed", "18446744073709551616", NG_EINVAL, NULL);
  expect_set("seed", "-1", NG_EINVAL, "[0, 18446744073709551615]");
  expect_set("rows", "-5", NG_EINVAL, NULL);
  expect_set("rate", "0", NG_ERANGE, "(0, 1]");
  expect_set("rate", "1.0000001", NG_ERANGE, NULL);
  expect_set("rate", "0x1p-1", NG_EINVAL, "expected a finite number in (0, 1]");
  expect_set("rate", "inf", NG_EINVAL, NULL);
  expect_set("rate", "nan", NG_EINVAL, NULL);
  expect_set("rate", "1e999", NG_EINVAL, NULL);
  expect_set("rate", "0.5x", NG_EINVAL, NULL);
  expect_set("rate", "1e", NG_EINVAL, NULL);
  expect_set("tol", "-1", NG_ERANGE, "tol must be >= 0 (got -1)");
  expect_set("shrink", "1", NG_ERANGE, "(0, 1)");
  expect_set("shrink", "0", NG_ERANGE, NULL);
  expect_set("on", "yes", NG_EINVAL, "expected 0, 1, true or false");
  expect_set("on", "2", NG_EINVAL, NULL);
  expect_set("mode", "medium", NG_EINVAL, "expected fast, slow or exact");
  expect_set("name", "bad", NG_EINVAL, "name = 'bad': is not allowed");
  expect_set("name", "sixteen-chars!!!", NG_EINVAL, "too long");
  expect_set("widths", "1,2,3,4", NG_ERANGE, "at most 3");
  expect_set("widths", "0", NG_ERANGE, "each width must be in [1, 1000]");
  expect_set("widths", "1;2", NG_EINVAL, NULL);
  expect_set("widths", "1,", NG_EINVAL, NULL);
  expect_set("widths", "1,,2", NG_EINVAL, NULL);
  expect_set("widths", "-1", NG_EINVAL, NULL);
  NG_CHECK_STATUS(ng_keys_set(&table, NULL, "count", "1", &err), NG_EINVAL);
}

static void test_check(void) {
  ng_error_t err;
  cfg_t c = defaults();
  c.rate = 0;
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_ERANGE);
  NG_CHECK(strstr(err.message, "rate = 0 is out of range (0, 1]") != NULL);
  c = defaults();
  c.tol = NAN;
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_ERANGE);
  NG_CHECK(strstr(err.message, "tol") != NULL);
  c = defaults();
  c.count = 0;
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_ERANGE);
  c = defaults();
  c.on = 2;
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_ERANGE);
  c = defaults();
  c.mode = 4;
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_EINVAL);
  c = defaults();
  memset(c.name, 'a', sizeof c.name);
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_EINVAL);
  c = defaults();
  snprintf(c.name, sizeof c.name, "bad");
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_EINVAL);
  c = defaults();
  c.n_widths = 4;
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_ERANGE);
  c = defaults();
  c.widths[1] = 1001;
  NG_CHECK_STATUS(ng_keys_check(&table, &c, &err), NG_ERANGE);
}

/* Doubles as the shortest of 15-17 digits that reads back exactly: the short ones short,
 * every one (drawn as random bit patterns) exact, and no fewer digits than needed. */
static void test_format_double(void) {
  static const struct {
    double x;
    const char *text;
  } cases[] = {{0.99, "0.99"}, {0.1, "0.1"}, {1e-3, "0.001"}, {0.0, "0"}, {-0.0, "-0"},
               {1000000, "1000000"}, {1.0 / 3.0, "0.3333333333333333"},
               {0.1 + 0.2, "0.30000000000000004"}, {5e-324, "4.94065645841247e-324"},
               {1.7976931348623157e308, "1.7976931348623157e+308"}};
  char buf[32];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int n = ng_keys_format_double(buf, sizeof buf, cases[i].x);
    NG_CHECK(n == (int)strlen(cases[i].text) && strcmp(buf, cases[i].text) == 0);
  }
  NG_CHECK(ng_keys_format_double(NULL, 0, 0.99) == 4);
  NG_CHECK(ng_keys_format_double(buf, 3, 0.99) == 4 && strcmp(buf, "0.") == 0);
  ng_keys_format_double(buf, sizeof buf, NAN);
  NG_CHECK(strcmp(buf, "nan") == 0 || strcmp(buf, "-nan") == 0);
  uint64_t s = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 100000; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
    double x;
    memcpy(&x, &s, sizeof x);
    if (!isfinite(x)) continue;
    int n = ng_keys_format_double(buf, sizeof buf, x);
    char shorter[320]; /* what %.*g can write, to the compiler's mind */
    int digits = 0; /* the significant digits written: from the first nonzero one */
    for (const char *p = buf; *p && *p != 'e'; p++)
      digits += (digits || (*p >= '1' && *p <= '9')) && *p >= '0' && *p <= '9';
    snprintf(shorter, sizeof shorter, "%.*g", digits - 1, x);
    NG_CHECK(n > 0 && strtod(buf, NULL) == x);
    NG_CHECK(digits <= 15 || strtod(shorter, NULL) != x); /* 16 or 17 only when needed */
  }
}

/* Values that say the same: text, or the same double where either is written as one. */
static void test_same_value(void) {
  NG_CHECK(ng_kv_same_value("fast", "fast") && !ng_kv_same_value("fast", "slow"));
  NG_CHECK(ng_kv_same_value("0.99", "0.98999999999999999"));
  NG_CHECK(ng_kv_same_value("3e-300", "3.0000000000000004e-300"));
  NG_CHECK(ng_kv_same_value("1e+16", "10000000000000000"));
  NG_CHECK(ng_kv_same_value("4.94065645841247e-324", "4.9406564584124654e-324")); /* subnormal */
  NG_CHECK(!ng_kv_same_value("0.99", "0.98") && !ng_kv_same_value("0.5", "0.5x"));
  NG_CHECK(!ng_kv_same_value("9007199254740993", "9007199254740992")); /* integers: text */
  NG_CHECK(!ng_kv_same_value("1e999", "2e999"));                       /* out of range */
  double x;
  NG_CHECK(ng_kv_number(" 0.25", &x) == 1 && x == 0.25);
  NG_CHECK(!ng_kv_number("", &x) && !ng_kv_number("64,64", &x) && !ng_kv_number("1e999", &x));
}

/* format -> ng_kv_parse -> ng_kv_apply over the defaults -> format: the same bytes. */
static void test_roundtrip(void) {
  ng_error_t err;
  cfg_t c = defaults();
  NG_CHECK_OK(ng_keys_set(&table, &c, "rate", "0.1", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "tol", "3.0000000000000004e-300", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "seed", "12345678901234567890", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "mode", "fast", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "widths", "", &err));
  NG_CHECK_OK(ng_keys_set(&table, &c, "name", "", &err));
  char a[2048], b[2048];
  size_t len = ng_keys_format(&table, &c, a, sizeof a);
  NG_CHECK(len == strlen(a) && ng_keys_format(&table, &c, NULL, 0) == len);
  NG_CHECK(strstr(a, "rate = 0.1\n") && strstr(a, "widths = \n"));
  NG_CHECK(strstr(a, "tol = 3e-300\n")); /* the same double as 3.0000000000000004e-300 */
  NG_CHECK(strstr(a, "mode = fast\n") && strstr(a, "seed = 12345678901234567890\n"));
  NG_CHECK(ng_keys_format(&table, &c, b, 10) == len && strlen(b) == 9); /* cut, terminated */
  ng_kv_list_t l;
  NG_CHECK_OK(ng_kv_parse(&l, a, len, "formatted", NULL, &err));
  NG_CHECK(l.n == table.n);
  cfg_t d = defaults();
  NG_CHECK_OK(ng_kv_apply(&l, &table, &d, NULL, &err));
  ng_kv_free(&l);
  NG_CHECK(ng_keys_format(&table, &d, b, sizeof b) == len && !strcmp(a, b));
  NG_CHECK(d.rate == c.rate && d.tol == c.tol && d.seed == c.seed && d.n_widths == 0);
}

/* ng_kv_parse must fail with want and a message holding text. */
static void expect_parse(const char *text, size_t len, const char *const *sections, int want,
                         const char *msg) {
  ng_kv_list_t l;
  ng_error_t err;
  NG_CHECK_STATUS(ng_kv_parse(&l, text, len, "src", sections, &err), want);
  NG_CHECK(l.items == NULL && l.n == 0);
  if (!strstr(err.message, msg)) fprintf(stderr, "  '%s' lacks '%s'\n", err.message, msg);
  NG_CHECK(strstr(err.message, msg) != NULL);
}

static void test_reader_format(void) {
  static const char *const sections[] = {"a", "b", NULL};
  static const char text[] = "# comment\n"
                             "; comment\n"
                             "\n"
                             "   count = 7   # trailing\n"
                             "rate: 0.25 ; trailing\r\n"
                             "name = a#b;c\n"
                             "[a]\n"
                             "rate = 0.75\n"
                             "  [b]  \n"
                             "count = 3\n"
                             "rate=0.125\n"
                             "[]\n"
                             "on = 0\n";
  ng_kv_list_t l;
  ng_error_t err;
  NG_CHECK_OK(ng_kv_parse(&l, text, sizeof text - 1, "src", sections, &err));
  NG_CHECK(l.n == 7);
  NG_CHECK(!strcmp(l.items[0].key, "count") && !strcmp(l.items[0].value, "7"));
  NG_CHECK(l.items[0].line == 4 && !l.items[0].section[0]);
  NG_CHECK(!strcmp(l.items[1].value, "0.25") && l.items[1].line == 5);
  NG_CHECK(!strcmp(l.items[2].value, "a#b;c")); /* a comment needs a blank before it */
  NG_CHECK(!strcmp(l.items[3].section, "a") && l.items[3].line == 8);
  NG_CHECK(!strcmp(l.items[5].section, "b") && !strcmp(l.items[5].value, "0.125"));
  NG_CHECK(!l.items[6].section[0] && l.items[6].line == 13);
  /* a section's values apply only when asked for, and override the top level */
  NG_CHECK(!strcmp(ng_kv_get(&l, "rate", NULL), "0.25"));
  NG_CHECK(!strcmp(ng_kv_get(&l, "rate", "a"), "0.75"));
  NG_CHECK(!strcmp(ng_kv_get(&l, "rate", "b"), "0.125"));
  NG_CHECK(!strcmp(ng_kv_get(&l, "count", "a"), "7") && !ng_kv_get(&l, "shrink", "a"));
  cfg_t c = defaults();
  NG_CHECK_OK(ng_kv_apply(&l, &table, &c, NULL, &err));
  NG_CHECK(c.count == 7 && c.rate == 0.25 && c.on == 0);
  c = defaults();
  NG_CHECK_OK(ng_kv_apply(&l, &table, &c, "a", &err));
  NG_CHECK(c.count == 7 && c.rate == 0.75);
  c = defaults();
  NG_CHECK_OK(ng_kv_apply(&l, &table, &c, "b", &err));
  NG_CHECK(c.count == 3 && c.rate == 0.125);
  ng_kv_free(&l);
  ng_kv_free(&l); /* twice is fine */
  NG_CHECK_OK(ng_kv_parse(&l, "", 0, "empty", NULL, &err));
  NG_CHECK(l.n == 0);
  ng_kv_free(&l);
  /* a key in the top level and again in a section, or in two sections: allowed */
  NG_CHECK_OK(ng_kv_parse(&l, "x = 1\n[a]\nx = 2\n[b]\nx = 3\n", 25, "src", sections, &err));
  ng_kv_free(&l);
  /* apply's errors name the line */
  NG_CHECK_OK(ng_kv_parse(&l, "rate = 0.5\nzzz = 1\n", 19, "src", NULL, &err));
  NG_CHECK_STATUS(ng_kv_apply(&l, &table, &c, NULL, &err), NG_ENOTFOUND);
  NG_CHECK(!strcmp(err.message, "src:2: unknown key 'zzz'"));
  ng_kv_free(&l);
  NG_CHECK_OK(ng_kv_parse(&l, "\nrate = 2\n", 10, "src", NULL, &err));
  NG_CHECK_STATUS(ng_kv_apply(&l, &table, &c, NULL, &err), NG_ERANGE);
  NG_CHECK(!strcmp(err.message, "src:2: rate = 2 is out of range (0, 1]"));
  ng_kv_free(&l);
  /* one key under two names in one section */
  NG_CHECK_OK(ng_kv_parse(&l, "tolerance = 1\n\ntol = 2\n", 23, "src", NULL, &err));
  NG_CHECK_STATUS(ng_kv_apply(&l, &table, &c, NULL, &err), NG_EFORMAT);
  NG_CHECK(!strcmp(err.message, "src:3: 'tolerance' is set again as 'tol' (first on line 1)"));
  ng_kv_free(&l);
}

static void test_reader_refusals(void) {
  static const char *const sections[] = {"trpo", "npg", NULL};
  static const char nul[] = "cg_iters = 1\n\nmax_kl = 1\0000\n";
  expect_parse(nul, sizeof nul - 1, NULL, NG_EFORMAT, "src:3: a NUL byte");
  expect_parse("\0", 1, NULL, NG_EFORMAT, "src:1: a NUL byte");
  expect_parse("a = 1\nb = 2\n\na = 3\n", 18, NULL, NG_EFORMAT,
               "src:4: 'a' is set again (first on line 1)");
  expect_parse("[npg]\na = 1\n[trpo]\n[npg]\na = 3\n", 30, sections, NG_EFORMAT,
               "src:5: 'a' is set again in [npg] (first on line 2)");
  expect_parse("a = 1\n[ppo]\n", 12, sections, NG_EFORMAT,
               "src:2: unknown section [ppo] (use no section, [trpo] or [npg])");
  expect_parse("[a]\n", 4, NULL, NG_EFORMAT, "src:1: unknown section [a] (no sections here)");
  expect_parse("a = 1\n[trpo\n", 12, sections, NG_EFORMAT, "src:2: expected ']'");
  expect_parse("a = 1\nmax_kl 0.03\n", 18, NULL, NG_EFORMAT,
               "src:2: expected 'key = value', a [section] or a comment");
  expect_parse(" = 3\n", 5, NULL, NG_EFORMAT, "src:1: expected a key");
  /* long keys and values; a long comment is fine */
  static char big[NG_KV_MAX_TEXT + 2];
  memset(big, 'k', 64);
  memcpy(big + 64, " = 1\n", 5);
  expect_parse(big, 69, NULL, NG_EFORMAT, "src:1: key too long (at most 63 characters)");
  memcpy(big, "\n\nk = ", 6);
  memset(big + 6, 'v', 1024);
  expect_parse(big, 6 + 1024, NULL, NG_EFORMAT, "src:3: value too long (at most 1023");
  ng_kv_list_t l;
  ng_error_t err;
  memset(big, '#', 5000);
  NG_CHECK_OK(ng_kv_parse(&l, big, 5000, "src", NULL, &err));
  ng_kv_free(&l);
  /* the size cap: a text of NG_KV_MAX_TEXT bytes is read, one byte more is not */
  memset(big, '\n', sizeof big);
  NG_CHECK_OK(ng_kv_parse(&l, big, NG_KV_MAX_TEXT, "src", NULL, &err));
  ng_kv_free(&l);
  expect_parse(big, NG_KV_MAX_TEXT + 1, NULL, NG_EFORMAT, "src: too large (1048577 bytes");
  /* the entry cap */
  size_t len = 0;
  for (int i = 0; i <= NG_KV_MAX_ITEMS; i++)
    len += (size_t)snprintf(big + len, sizeof big - len, "k%d = 1\n", i);
  expect_parse(big, len, NULL, NG_EFORMAT, "src:4097: too many entries (at most 4096)");
}

static void write_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  NG_CHECK(f && fwrite(text, 1, len, f) == len && fclose(f) == 0);
}

static void test_read_file(void) {
  char dir[] = "/tmp/natgrad_test_keys_XXXXXX", path[128], fifo[128];
  NG_CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/c.ini", dir);
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  ng_kv_list_t l;
  ng_error_t err;
  write_file(path, "count = 9\n[trpo]\ncount = 8\n", 27);
  static const char *const sections[] = {"trpo", NULL};
  NG_CHECK_OK(ng_kv_read_file(&l, path, sections, &err));
  NG_CHECK(l.n == 2 && !strcmp(l.source, path));
  cfg_t c = defaults();
  NG_CHECK_OK(ng_kv_apply(&l, &table, &c, "npg", &err));
  NG_CHECK(c.count == 9);
  ng_kv_free(&l);
  /* errors name the file and line */
  write_file(path, "count = 9\ncount = 8\n", 20);
  NG_CHECK_STATUS(ng_kv_read_file(&l, path, NULL, &err), NG_EFORMAT);
  char want[256];
  snprintf(want, sizeof want, "%s:2: 'count' is set again (first on line 1)", path);
  NG_CHECK(!strcmp(err.message, want));
  /* too large: refused from its size, before it is read */
  FILE *f = fopen(path, "wb");
  NG_CHECK(f && ftruncate(fileno(f), (off_t)NG_KV_MAX_TEXT + 1) == 0 && fclose(f) == 0);
  NG_CHECK_STATUS(ng_kv_read_file(&l, path, NULL, &err), NG_EFORMAT);
  NG_CHECK(strstr(err.message, "too large") != NULL);
  /* anything but a regular file is refused before it is read: no endless /dev/zero, no
   * open that waits for a FIFO's writer */
  NG_CHECK_STATUS(ng_kv_read_file(&l, "/dev/zero", NULL, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "'/dev/zero': not a regular file") != NULL);
  NG_CHECK(mkfifo(fifo, 0600) == 0);
  NG_CHECK_STATUS(ng_kv_read_file(&l, fifo, NULL, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "not a regular file") != NULL);
  NG_CHECK_STATUS(ng_kv_read_file(&l, dir, NULL, &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "is a folder") != NULL);
  remove(fifo);
  remove(path);
  NG_CHECK_STATUS(ng_kv_read_file(&l, path, NULL, &err), NG_ENOTFOUND);
  NG_CHECK(strstr(err.message, "cannot read config file") != NULL);
  NG_CHECK(l.items == NULL);
  rmdir(dir);
}

/* The algo names, read through the key table: each the inverse of ng_rl_algo_name; any
 * other name refused with the key's message, the output left alone. */
static void test_algo_names(void) {
  ng_error_t err;
  for (int a = NG_ALGO_TRPO; a <= NG_ALGO_ACKTR; a++) {
    ng_algo_t got = (ng_algo_t)-1;
    NG_CHECK_OK(ng_rl_algo_parse(ng_rl_algo_name((ng_algo_t)a), &got, &err));
    NG_CHECK(got == (ng_algo_t)a);
  }
  ng_algo_t algo = NG_ALGO_NPG;
  NG_CHECK_STATUS(ng_rl_algo_parse("ppo", &algo, &err), NG_EINVAL);
  NG_CHECK(algo == NG_ALGO_NPG && strstr(err.message, "algo") != NULL);
  NG_CHECK_STATUS(ng_rl_algo_parse(NULL, &algo, &err), NG_EINVAL);
  NG_CHECK(ng_rl_algo_parse("trpo", &algo, NULL) == NG_OK && algo == NG_ALGO_TRPO);
}

/* The library's own tables: every key documented, unique, its default in range. */
static void test_library_tables(void) {
  const ng_key_table_t *tables[] = {ng_rl_config_keys(), ng_sup_opt_config_keys()};
  ng_error_t err;
  for (int t = 0; t < 2; t++) {
    NG_CHECK(tables[t]->n >= 20);
    for (size_t i = 0; i < tables[t]->n; i++) {
      const ng_key_t *k = &tables[t]->keys[i];
      NG_CHECK(k->doc && k->doc[0] && ng_keys_find(tables[t], k->name) == k);
    }
  }
  ng_rl_config_t rl;
  NG_CHECK_OK(ng_rl_config_default(&rl, "CartPole-v1", &err));
  NG_CHECK_OK(ng_keys_check(ng_rl_config_keys(), &rl, &err));
  NG_CHECK(ng_keys_find(ng_rl_config_keys(), "env_id") == ng_keys_find(ng_rl_config_keys(), "env"));
  ng_sup_opt_config_t sup;
  for (int k = 0; k < NG_OPT_KINDS; k++) {
    NG_CHECK_OK(ng_sup_opt_config_default(&sup, (ng_opt_kind_t)k));
    NG_CHECK_OK(ng_keys_check(ng_sup_opt_config_keys(), &sup, &err));
  }
}

/* A string value is written back into config.ini and a checkpoint's text as it is: one
 * that a comment would cut short there is refused when set (found by fuzz_run_log). */
static void test_string_round_trip(void) {
  ng_fit_run_config_t c, back;
  ng_error_t err;
  NG_CHECK_OK(ng_fit_run_config_default(&c, &err));
  NG_CHECK_STATUS(ng_fit_run_config_set(&c, "data", "/data/run #1.csv", &err), NG_EINVAL);
  NG_CHECK(strstr(err.message, "would read back as a comment") != NULL);
  NG_CHECK_STATUS(ng_fit_run_config_set(&c, "data", ";x", &err), NG_EINVAL);
  NG_CHECK_OK(ng_fit_run_config_set(&c, "data", "/data/run#1;2.csv", &err));
  char text[8192];
  size_t n = ng_fit_run_config_format(&c, text, sizeof text);
  NG_CHECK_OK(ng_fit_run_config_parse(&back, text, n, "text", &err));
  NG_CHECK(strcmp(back.data, "/data/run#1;2.csv") == 0);
}

int main(void) {
  NG_TEST_RUN(test_types);
  NG_TEST_RUN(test_check);
  NG_TEST_RUN(test_format_double);
  NG_TEST_RUN(test_same_value);
  NG_TEST_RUN(test_roundtrip);
  NG_TEST_RUN(test_reader_format);
  NG_TEST_RUN(test_reader_refusals);
  NG_TEST_RUN(test_read_file);
  NG_TEST_RUN(test_library_tables);
  NG_TEST_RUN(test_algo_names);
  NG_TEST_RUN(test_string_round_trip);
  NG_TEST_END();
}
