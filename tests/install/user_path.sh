#!/usr/bin/env bash
# The user's path through an installed natgrad, out of the source tree (tests/install.cmake
# runs each step as one CTest test):
#   install   cmake --install into WORK/prefix; the files expected there and none other; what
#             libnatgrad.so exports
#   headers   each installed header compiles alone, as C and (if there is a C++ compiler) C++
#   pkgconfig the README's example, a shared object and a program that dlopens it, built with
#             plain `cc ... $(pkg-config --cflags --libs natgrad)`, and an environment plugin
#             the installed CLI trains; the example linked statically too from
#             `pkg-config --static`; all run
#   cmake     a CMake project with find_package(natgrad): the example with each library
# Usage: user_path.sh STEP BUILD_DIR SOURCE_DIR WORK_DIR LIBDIR CC [CXX]
set -euo pipefail
step=$1 build=$2 src=$3 work=$4 libdir=$5 cc=$6 cxx=${7:-}
prefix=$work/prefix
example=$src/examples/natural_gradient.c
unset DESTDIR
fail() { echo "install test ($step): $*" >&2; exit 1; }
# Fails unless program P loads libnatgrad.so from the prefix (shared) or not at all (static).
loads_from_prefix() {
  [[ "$(ldd "$1")" == *"$prefix/$libdir/libnatgrad.so"* ]] \
    || fail "$1 does not load $prefix/$libdir/libnatgrad.so"
}
static_only() { [[ "$(readelf -d "$1")" != *libnatgrad* ]] || fail "$1 needs libnatgrad.so"; }

case $step in
install)
  rm -rf "$work"
  mkdir -p "$work"
  cmake --install "$build" --prefix "$prefix" >/dev/null
  # The public headers, exactly; none of src/'s private ones.
  diff <(cd "$src/include" && find . -type f | sort) \
       <(cd "$prefix/include" && find . -type f | sort) \
    || fail "installed headers differ from include/ (above)"
  for f in libnatgrad.a libnatgrad.so pkgconfig/natgrad.pc cmake/natgrad/natgradConfig.cmake \
           cmake/natgrad/natgradConfigVersion.cmake; do
    f=$prefix/$libdir/$f
    [ -e "$f" ] || fail "missing $f"
  done
  soname=$(readelf -d "$prefix/$libdir/libnatgrad.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ -e "$prefix/$libdir/$soname" ] || fail "SONAME $soname is not in $prefix/$libdir"
  # Exports: every ng_ function the headers name, and none of the ng__ internals (mpi.h's
  # are libnatgrad_mpi.a's, installed beside it when built with MPI: cmake/mpi.cmake).
  exported=$(nm -D --defined-only "$prefix/$libdir/libnatgrad.so" | awk '{print $3}' | sort -u)
  named=$(ls "$prefix"/include/natgrad/*.h | grep -v '/mpi\.h$' | xargs cat |
          grep -oE '\bng_[a-z0-9_]+ *\(' | sed 's/ *(//' | sort -u)
  missing=$(comm -23 <(echo "$named") <(echo "$exported"))
  [ -z "$missing" ] || fail "libnatgrad.so does not export: $missing"
  [[ "$exported" != *ng__* ]] || fail "libnatgrad.so exports internals: $(grep ng__ <<<"$exported")"
  if [ -e "$build/natgrad" ]; then
    [[ "$("$prefix/bin/natgrad" list)" == *CartPole-v1* ]] || fail "installed natgrad list"
  fi
  echo "installed into $prefix: SONAME $soname, $(wc -l <<<"$named") functions named by the" \
    "headers all exported, no ng__ internal"
  ;;
headers)
  cd "$work"
  for h in "$prefix"/include/natgrad/*.h; do
    name=natgrad/$(basename "$h")
    printf '#include "%s"\n' "$name" > alone.c
    "$cc" -std=c11 -Wall -Wextra -Werror -pedantic -I"$prefix/include" -c alone.c -o alone.o \
      || fail "$name does not compile alone as C"
    if [ -n "$cxx" ]; then
      "$cxx" -x c++ -Wall -Wextra -Werror -I"$prefix/include" -c alone.c -o alone.o \
        || fail "$name does not compile alone as C++"
    fi
  done
  echo "every installed header compiles alone as C11${cxx:+ and C++}"
  ;;
pkgconfig)
  export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
  mkdir -p "$work/pc" && cd "$work/pc"
  version=$(pkg-config --modversion natgrad)
  # Shared: a program, a shared object and the program that loads it.
  "$cc" "$example" $(pkg-config --cflags --libs natgrad) -lm -o example
  "$cc" -shared -fPIC "$src/tests/install/myenv.c" $(pkg-config --cflags --libs natgrad) \
    -o libmyenv.so
  "$cc" -Wall -Wextra -Werror "$src/tests/install/host.c" $(pkg-config --cflags --libs natgrad) \
    -ldl -o host
  export LD_LIBRARY_PATH=$prefix/$libdir
  loads_from_prefix example
  ./example
  ./host ./libmyenv.so | tee host.out
  grep -qx 'env CartPole-v1' host.out || fail "host listed no CartPole-v1"
  # A user's environment plugin (the test plugin Reach-v0), built as issue 12 says, trained
  # for a moment by the installed CLI.
  if [ -e "$prefix/bin/natgrad" ]; then
    "$cc" -shared -fPIC "$src/tests/plugins/reach.c" $(pkg-config --cflags --libs natgrad) \
      -o libreach.so
    rm -rf run
    "$prefix/bin/natgrad" train --plugin ./libreach.so --env Reach-v0 --steps 2048 --threads 1 \
      --eval-episodes 0 --out run --quiet
    [ -s run/checkpoint.ngc ] || fail "the installed natgrad trained no Reach-v0 from libreach.so"
  fi
  # Static: libnatgrad.a and what natgrad.pc says it needs.
  "$cc" "$example" $(pkg-config --cflags natgrad) \
    $(pkg-config --static --libs natgrad | sed 's/-lnatgrad\b/-l:libnatgrad.a/') -lm \
    -o example_static
  static_only example_static
  ./example_static
  echo "pkg-config natgrad $version: shared program, shared object, plugin, static program" \
    "built and run"
  ;;
cmake)
  rm -rf "$work/cmake-user"
  cmake -S "$src/tests/install" -B "$work/cmake-user" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release -DNG_EXAMPLE="$example" >/dev/null
  cmake --build "$work/cmake-user" >/dev/null
  cd "$work/cmake-user"
  loads_from_prefix example_shared
  static_only example_static
  ./example_shared
  ./example_static
  echo "find_package(natgrad): natgrad::natgrad and natgrad::natgrad_static built and run"
  ;;
*)
  fail "unknown step (install, headers, pkgconfig, cmake)"
  ;;
esac
