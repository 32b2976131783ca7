/* A Cortex-M reset for qemu's mps2-an386: the vector table at address 0 (initial stack at the
 * top of its 4 MB SSRAM2/3 block, reset handler), which enables the FPU (CPACR: CP10 and CP11
 * full access) before newlib's _start (rdimon: semihosting) sets up and calls main. */
#include <stdint.h>

extern void _start(void);
void ng_reset(void);

__attribute__((section(".vectors"), used)) static const uintptr_t ng_vectors[2] = {
    0x20400000u, (uintptr_t)ng_reset};

__attribute__((noreturn)) void ng_reset(void) {
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb");
  _start();
  for (;;) {
  }
}
