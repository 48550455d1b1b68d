#!/bin/sh
# Standalone build of the GEMM test and bench (no CMake, no Python):
#   cpp/tests/build_gemm.sh [outdir]   -> outdir/{test_gemm,bench_gemm}{,_omp}
# Each ISA kernel file gets its own target flags; everything else is baseline x86-64.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../fastmlp
out=${1:-$here/../../build-gemm}
mkdir -p "$out"
CXX=${CXX:-g++}
FLAGS="-O3 -std=c++17 -Wall -Wextra"
for variant in serial omp; do
    extra=""
    [ $variant = omp ] && extra="-fopenmp"
    obj=$out/obj_$variant
    mkdir -p "$obj"
    $CXX $FLAGS $extra -c "$src/gemm_ukernel_avx2.cpp" -mavx2 -mfma -o "$obj/avx2.o" &
    $CXX $FLAGS $extra -c "$src/gemm_ukernel_avx512.cpp" -mavx512f -mfma -o "$obj/avx512.o" &
    for f in gemm gemm_ref gemm_dispatch gemm_ukernel_portable threads; do
        $CXX $FLAGS $extra -c "$src/$f.cpp" -o "$obj/$f.o" &
    done
    wait
    suffix=""
    [ $variant = omp ] && suffix="_omp"
    for prog in test_gemm bench_gemm; do
        [ -f "$here/$prog.cpp" ] || continue
        $CXX $FLAGS $extra "$here/$prog.cpp" "$obj"/*.o -o "$out/$prog$suffix"
    done
done
