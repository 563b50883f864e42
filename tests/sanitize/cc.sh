#!/bin/sh
# cc.sh - the C compiler of ./configure --enable-sanitizers=vfio.
#
#   cc.sh ARG...      as cc (through ccache when it is installed)
#
# Compiles the files where assigned devices live with ASan and UBSan
# (no UBSan recovery): hw/vfio (upstream vfio and hw/vfio/direct), hw/pci
# and the memory core (system/memory.c, system/physmem.c).  Every other
# file is compiled with exactly the arguments of the normal build, so
# ccache serves it from that build's objects; the executables link the
# sanitizer runtimes (configure adds them to the link flags), which
# brings leak detection, double and invalid frees and the checked libc
# calls to all of QEMU.  The whole binary instrumented is
# --enable-sanitizers=full (QEMU's --enable-asan --enable-ubsan).
set -eu

cc=cc
command -v ccache >/dev/null && cc="ccache cc"

compile=no source=
for a do
    case $a in
    -c) compile=yes ;;
    *.c) source=$a ;;
    esac
done
if [ "$compile" = yes ]; then
    case $source in
    */hw/vfio/*|*/hw/pci/*|*/system/memory.c|*/system/physmem.c)
        # shellcheck disable=SC2086  # cc is "ccache cc"
        exec $cc "$@" -fsanitize=address -fsanitize=undefined \
            -fno-sanitize-recover=undefined -fno-omit-frame-pointer ;;
    esac
fi
# shellcheck disable=SC2086
exec $cc "$@"
