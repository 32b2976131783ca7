#!/bin/sh
# An exported policy on a microcontroller: trains a short run of each ENV, exports it in f32,
# cross-compiles tests/export/mcu.c over the header for a Cortex-M4F (-mcpu=cortex-m4
# -mfpu=fpv4-sp-d16 -mfloat-abi=hard -Os -ffp-contract=off, newlib with semihosting), runs it
# under qemu-system-arm on the mps2-an386 board, and compares its 200 actions bit for bit
# with the same program built for the host. Then reports the policy's flash and RAM: the
# arm-none-eabi-size of an object holding only the policy (its code and constants), the
# stack of its call (-fstack-usage), and the size of the whole test program.
#
# Usage: scripts/export_mcu.sh NATGRAD WORKDIR ENV... (e.g. build/release/natgrad /tmp/mcu
# CartPole-v1 Hopper-v5). Exit 77 (skipped) without gcc-arm-none-eabi,
# libnewlib-arm-none-eabi or qemu-system-arm (Debian packages).
set -u
cli=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); work=$2; shift 2
src=$(cd "$(dirname "$0")/../tests/export" && pwd)
for tool in arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm; do
  command -v $tool >/dev/null || { echo "skipped: $tool not found (apt-get install" \
    "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"; exit 77; }
done
arm-none-eabi-gcc -print-file-name=rdimon.specs | grep -q / || { echo "skipped: no newlib" \
  "rdimon.specs (apt-get install libnewlib-arm-none-eabi)"; exit 77; }
cc=${CC:-cc}
mcu="-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard -Os -ffp-contract=off"
warn="-std=c99 -Wall -Wextra -Werror"
rm -rf "$work"; mkdir -p "$work" || exit 1
for env in "$@"; do
  d=$work/$env; mkdir -p "$d"; cd "$d" || exit 1
  "$cli" train --env "$env" --steps 2048 --seed 1 --eval-episodes 0 --out run --quiet || exit 1
  "$cli" export run --out p32.h --prefix pol --precision f32 > /dev/null || exit 1
  arm-none-eabi-gcc $mcu $warn --specs=rdimon.specs -DNG_POLICY='"p32.h"' -I. "$src/mcu.c" \
    "$src/mcu_start.c" -Wl,--section-start=.vectors=0 -o mcu.elf || exit 1
  timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel mcu.elf > arm.out 2> qemu.err \
    || { cat arm.out qemu.err; echo "$env: the Cortex-M4F program failed"; exit 1; }
  $cc $warn -O2 -ffp-contract=off -DNG_POLICY='"p32.h"' -I. "$src/mcu.c" -o host || exit 1
  ./host > host.out || exit 1
  [ "$(wc -l < arm.out)" -eq 201 ] || { cat arm.out; echo "$env: incomplete output"; exit 1; }
  cmp arm.out host.out || { diff arm.out host.out | head; echo "$env: actions differ"; exit 1; }
  printf '#include "p32.h"\nint step(const float *o, float *a);\n%s\n' \
    'int step(const float *o, float *a) { return pol_act(o, a); }' > only.c
  arm-none-eabi-gcc $mcu $warn -fstack-usage -c only.c -o only.o || exit 1
  set -- $(arm-none-eabi-size only.o | tail -1); text=$1; data=$2; bss=$3
  stack=$(awk '{ s += $2 } END { print s }' only.su)
  set -- $(arm-none-eabi-size mcu.elf | tail -1)
  echo "$env: Cortex-M4F actions equal the host's f32 build's bit for bit ($(tail -1 arm.out));" \
    "policy: flash $((text + data)) bytes (text $text, data $data), RAM $bss static +" \
    "at most $stack stack; whole test program (newlib, printf): text $1, data $2, bss $3"
  cd - > /dev/null || exit 1
done
