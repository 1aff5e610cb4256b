#!/bin/bash
# build-with-pkg-config.sh - builds and runs main.c against an installed bpq using only pkg-config.
# Usage: build-with-pkg-config.sh <install-prefix> [<output-dir>]
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 <install-prefix> [<output-dir>]" >&2
    exit 2
fi
prefix=$(cd "$1" && pwd)
out=${2:-$(mktemp -d)}
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)

# The libdir depends on the platform (lib, lib64, lib/<multiarch>): take it
# from wherever the install put bpq.pc.
pc=$(find "$prefix" -name bpq.pc -path '*/pkgconfig/*' | head -n 1)
if [ -z "$pc" ]; then
    echo "no bpq.pc under $prefix" >&2
    exit 1
fi
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH

cflags=$(pkg-config --cflags bpq)
libs=$(pkg-config --libs bpq)
libdir=$(pkg-config --variable=libdir bpq)
echo "pkg-config: bpq $(pkg-config --modversion bpq), cflags '$cflags', libs '$libs'"

# pkg-config must point into this prefix, not wherever the build was configured for.
case "$libdir" in
    "$prefix"/*) ;;
    *) echo "bpq.pc's libdir $libdir is outside $prefix" >&2; exit 1 ;;
esac

# shellcheck disable=SC2086 # the flags are meant to split into words
${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic $cflags "$here/main.c" -o "$out/consumer-pc" $libs -lm

export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ldd "$out/consumer-pc" | grep libbpq # shows which copy of the library runs
"$out/consumer-pc"
