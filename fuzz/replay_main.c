/* Replays inputs through a fuzz target without libFuzzer, for CTest on every build: each
 * argument is a file, or a folder whose files (not starting with '.') are fed one by one to
 * LLVMFuzzerTestOneInput. A finding aborts, as under libFuzzer; exit status 1 if no input
 * was found at all (a wrong path must not pass as an empty corpus). */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return -1;
  }
  size_t cap = 4096, n = 0;
  unsigned char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      unsigned char *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  fclose(f);
  if (!buf) return -1;
  /* an exact-size copy, so that ASan sees any read past the input's end */
  unsigned char *exact = malloc(n ? n : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  long count = 0;
  int bad = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s does not exist\n", argv[i]);
      bad = 1;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (replay_file(argv[i]) == 0) count++;
      else bad = 1;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) {
      bad = 1;
      continue;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      if (n == cap) {
        char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *nn);
        if (!nn) break;
        names = nn;
      }
      size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
      if (!(names[n] = malloc(len))) break;
      snprintf(names[n++], len, "%s/%s", argv[i], e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names); /* the same order on every machine */
    for (size_t k = 0; k < n; k++) {
      if (replay_file(names[k]) == 0) count++;
      else bad = 1;
      free(names[k]);
    }
    free(names);
  }
  fprintf(stderr, "replay: %ld inputs, no finding\n", count);
  return bad || count == 0;
}
