#!/bin/sh
# What CI runs (`make ci`, from .ci/run): every step must pass.
#   1. the dependency step
#   2. -Werror builds with gcc and with clang (library, programs, tests, benches)
#   3. make test with gcc
#   4. make test again under AddressSanitizer + UndefinedBehaviorSanitizer
#   5. the unit tests under valgrind (leaks and memory errors fail)
#   6. make conformance
#   7. a fuzz smoke run of every libFuzzer target (make fuzz)
set -eu
jobs=${JOBS:-2}
step() {
    echo
    echo "==== ci: $*"
    date -u +"==== %H:%M:%S"
}

step "dependencies"
sh ci/deps.sh

step "gcc -Werror build"
make -j"$jobs" CC=gcc all tests-build

step "clang -Werror build"
make -j"$jobs" CC=clang all tests-build

step "make test (gcc)"
make -j"$jobs" CC=gcc test

step "make test SANITIZE=address,undefined"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    make -j"$jobs" CC=gcc SANITIZE=address,undefined test

step "unit tests under valgrind"
make -j"$jobs" CC=gcc valgrind

step "make conformance"
make CC=gcc conformance

step "fuzz smoke (libFuzzer, ${FUZZ_SECONDS:-20} s per target)"
make FUZZ_SECONDS="${FUZZ_SECONDS:-20}" fuzz

step "ci passed"
