/* natgrad export: a run's policy as one dependency-free C header (natgrad/export.h). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "natgrad/export.h"
#include "natgrad/rl.h"
#include "run_dir.h"

#define CMD "export"

static void help(FILE *out) {
  fprintf(out,
          "usage: natgrad export DIR|FILE.ngc --out POLICY.h [--precision f64|f32]\n"
          "                      [--prefix NAME] [--plugin LIB.so] [--force]\n"
          "\n"
          "Writes the run's deterministic policy (observation normalisation and clipping as\n"
          "trained, the network, the action as natgrad eval takes it) as one C99/C++ header\n"
          "with no dependencies: int NAME_act(const T *obs, T *act). In f64 its actions are\n"
          "natgrad's bit for bit when compiled with -ffp-contract=off (docs/export.md). A run\n"
          "folder whose latest checkpoint is damaged is exported from checkpoint.prev.ngc, with\n"
          "a warning.\n"
          "\n"
          "options:\n"
          "  --out FILE         the header to write (required)\n"
          "  --precision P      f64 (double, the default: bit for bit) or f32 (float: half the\n"
          "                     bytes, for FPUs without double)\n"
          "  --prefix NAME      prefix of the header's names, a C identifier (default policy)\n"
          "  --plugin LIB       the plugin of the run's environment (as natgrad eval)\n"
          "  --force            replace an existing FILE; go on with a changed plugin\n"
          "  --help, -h         this help\n"
          "\n"
          "Exit status: 0 written, 1 failure (unreadable checkpoint, unwritable file), 2 usage\n"
          "error, no checkpoint there, or FILE exists.\n");
}

int ng_cmd_export(int argc, char **argv) {
  const char *where = NULL, *out = NULL, *plugin = NULL;
  ng_export_opts_t eo = {NG_EXPORT_F64, "policy", NULL};
  int force = 0;
  ng_args_t a;
  ng_args_init(&a, CMD, argc, argv);
  while (ng_args_next(&a)) {
    if (ng_args_switch(&a, "--help", "-h")) {
      help(stdout);
      return NG_EXIT_OK;
    } else if (ng_args_is(&a, "--out")) {
      if (!(out = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--precision")) {
      const char *v = ng_args_value(&a);
      if (!v) return NG_EXIT_USAGE;
      if (!strcmp(v, "f64")) eo.precision = NG_EXPORT_F64;
      else if (!strcmp(v, "f32")) eo.precision = NG_EXPORT_F32;
      else {
        ng_cli_error(CMD, "--precision: expected f64 or f32, got '%s'", v);
        return NG_EXIT_USAGE;
      }
    } else if (ng_args_is(&a, "--prefix")) {
      if (!(eo.prefix = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_is(&a, "--plugin")) {
      if (!(plugin = ng_args_value(&a))) return NG_EXIT_USAGE;
    } else if (ng_args_switch(&a, "--force", NULL)) {
      force = 1;
    } else if (a.arg[0] == '-' || where) {
      return ng_args_unknown(&a);
    } else {
      where = a.arg;
    }
  }
  if (!where || !out || !*out) {
    ng_cli_error(CMD, "%s; usage: natgrad export DIR --out POLICY.h",
                 where ? "--out FILE is required" : "which run?");
    return NG_EXIT_USAGE;
  }
  ng_rl_t *t = NULL;
  int rc = ng_cli_load_trainer(CMD, where, plugin, force, &t);
  if (rc >= 0) return rc;
  eo.run = where;
  ng_export_info_t info;
  ng_error_t err;
  int st = ng_export_c_file(t, &eo, out, force, &info, &err);
  if (st != NG_OK) {
    ng_cli_error(CMD, "%s", ng_run_untag(err.message, "export"));
    rc = st == NG_EEXIST || st == NG_EINVAL ? NG_EXIT_USAGE : NG_EXIT_FAILURE;
  } else {
    printf("%s: %s_act for %s, %zu parameters, %zu FLOPs and %zu tanh a call, %zu bytes of "
           "constants (%s)\n",
           out, eo.prefix, ng_rl_config(t)->env_id, info.n_params, info.flops, info.n_tanh,
           info.bytes, eo.precision == NG_EXPORT_F32 ? "f32" : "f64");
    rc = NG_EXIT_OK;
  }
  ng_rl_destroy(t);
  return rc;
}
