/* A user's program built against the installed natgrad with pkg-config (tests/install.cmake):
 * loads the shared object built from myenv.c with dlopen, as the CLI loads a plugin, runs
 * an episode twice with one seed (same return) and once with bad input (a status and a
 * message), then lists natgrad's environments. Exit 0 when all of that holds. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "natgrad/core.h"
#include "natgrad/env.h"

typedef int (*episode_fn)(uint64_t seed, int steps, double *ret, ng_error_t *err);

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: host PATH/libmyenv.so\n");
    return 2;
  }
  void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    fprintf(stderr, "host: %s\n", dlerror());
    return 1;
  }
  episode_fn episode;
  *(void **)&episode = dlsym(so, "myenv_episode");
  if (!episode) {
    fprintf(stderr, "host: %s\n", dlerror());
    return 1;
  }
  ng_error_t err;
  double r1, r2;
  int st1 = episode(7, 200, &r1, &err), st2 = episode(7, 200, &r2, &err);
  if (st1 != NG_OK || st2 != NG_OK || memcmp(&r1, &r2, sizeof r1) != 0) {
    fprintf(stderr, "host: myenv_episode(7): status %d, %d, returns %.17g, %.17g\n", st1, st2,
            r1, r2);
    return 1;
  }
  int bad = episode(7, 0, &r1, &err);
  if (bad != NG_EINVAL || strcmp(err.message, "myenv: steps = 0") != 0) {
    fprintf(stderr, "host: steps = 0 gave %s (%s)\n", ng_status_name(bad), err.message);
    return 1;
  }
  printf("myenv: return %.6f over 200 steps; steps = 0: %s\n", r2, ng_strerror(bad));
  for (size_t i = 0; i < ng_env_count(); i++) printf("env %s\n", ng_env_info_at(i)->id);
  dlclose(so);
  return 0;
}
