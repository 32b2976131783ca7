/* The f32 policy header NG_POLICY (prefix pol) on a fixed set of observations, printing each
 * action's bits: built for a Cortex-M4F (run under qemu with semihosting) and for the host by
 * scripts/export_mcu.sh, which compares the two outputs. The observations come from an
 * integer generator, exact in float on both, and cover [-4, 4] (past the clip of a normalised
 * input). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include NG_POLICY

#define N_OBS 200

int main(void) {
  uint32_t s = 12345u, sum = 0;
  for (int i = 0; i < N_OBS; i++) {
    float obs[POL_OBS_DIM], act[POL_ACT_DIM];
    for (int j = 0; j < POL_OBS_DIM; j++) {
      s = s * 1664525u + 1013904223u;
      obs[j] = (float)((int32_t)((s >> 8) & 0xffffu) - 32768) / 8192.0f;
    }
    if (pol_act(obs, act) != 0) {
      printf("observation %d refused\n", i);
      return 1;
    }
    printf("%d", i);
    for (int j = 0; j < POL_ACT_DIM; j++) {
      uint32_t b;
      memcpy(&b, &act[j], sizeof b);
      printf(" %08lx", (unsigned long)b);
      sum = sum * 31u + b;
    }
    printf("\n");
  }
  printf("checksum %08lx\n", (unsigned long)sum);
  return 0;
}
