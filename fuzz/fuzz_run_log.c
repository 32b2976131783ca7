/* Fuzz target: a run folder's progress.csv (ng_run_log_parse, what --resume and the curves
 * read) and a fit run's description (ng_fit_run_config_parse, what config.ini and a fit
 * checkpoint's text hold).
 *
 * Input: one mode byte, then the text. Mode bit 0 picks the reader: 0 the log (under the
 * TRPO header, which the text must repeat), 1 the run description. Invariants beyond "no
 * crash, no leak":
 *   - a failure is a documented status with a message and leaves nothing behind;
 *   - an accepted log has whole rows of the header's width whose first column increases
 *     strictly, and a NUL byte is never accepted in a complete line;
 *   - an accepted run description formats to text that parses back to the same text. */
#include "fuzz.h"
#include "natgrad/rl.h"
#include "natgrad/run.h"
#include "natgrad/supervised.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  ng_fuzz_alloc_install();
  return 0;
}

static void check_log(const char *text, size_t n) {
  ng_run_log_t log;
  ng_error_t err;
  ng_error_clear(&err);
  int s = ng_run_log_parse(text, n, NG_RL_LOG_HEADER, "fuzz.csv", &log, &err);
  if (s != NG_OK) {
    NG_FUZZ_ASSERT(err.status == s && err.message[0] != '\0');
    NG_FUZZ_ASSERT(s == NG_EFORMAT || s == NG_ENOMEM);
    NG_FUZZ_ASSERT(log.values == NULL && log.n_rows == 0);
    return;
  }
  const char *last_nl = NULL;
  for (size_t i = 0; i < n; i++)
    if (text[i] == '\n') last_nl = text + i;
  NG_FUZZ_ASSERT(last_nl && !memchr(text, '\0', (size_t)(last_nl - text)));
  NG_FUZZ_ASSERT(log.n_cols == 17);
  for (size_t r = 1; r < log.n_rows; r++)
    NG_FUZZ_ASSERT(log.values[r * log.n_cols] > log.values[(r - 1) * log.n_cols]);
  ng_run_log_free(&log);
}

static void check_description(const char *text, size_t n) {
  ng_fit_run_config_t c, back;
  ng_error_t err;
  ng_error_clear(&err);
  int s = ng_fit_run_config_parse(&c, text, n, "fuzz.ini", &err);
  if (s != NG_OK) {
    NG_FUZZ_ASSERT(err.status == s && err.message[0] != '\0');
    return;
  }
  static char a[16384], b[16384];
  size_t la = ng_fit_run_config_format(&c, a, sizeof a);
  NG_FUZZ_ASSERT(la < sizeof a);
  NG_FUZZ_ASSERT(ng_fit_run_config_parse(&back, a, la, "formatted", &err) == NG_OK);
  size_t lb = ng_fit_run_config_format(&back, b, sizeof b);
  NG_FUZZ_ASSERT(la == lb && memcmp(a, b, la) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *text = (const char *)data + 1;
  if (data[0] & 1)
    check_description(text, size - 1);
  else
    check_log(text, size - 1);
  ng_fuzz_alloc_check("fuzz_run_log");
  return 0;
}
