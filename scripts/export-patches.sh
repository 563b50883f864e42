#!/bin/sh
# Regenerate base/build-fixes/ and base/patches/ from the unpacked base.
#
# configure makes build/src a git repository: the pristine base is tagged
# "base", the build fixes end at "hooks-base", and every hook patch is one
# commit on top.  Edit upstream files there, commit (or amend / rebase -i),
# then run this script to write the series back into the clone.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$srcdir/build/src}

die() { echo "export-patches: $*" >&2; exit 1; }

git -C "$src" rev-parse -q --verify hooks-base >/dev/null 2>&1 ||
    die "$src has no hooks-base tag; run ./configure (with the overlay) first"
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
    die "$src has uncommitted changes to upstream files; commit them first"

export_range()
{
    rm -f "$srcdir/base/$1"/*.patch
    git -C "$src" format-patch -q -N --no-signature --zero-commit \
        --no-stat -o "$srcdir/base/$1" "$2"
    echo "export-patches: base/$1: $(git -C "$src" rev-list --count "$2") patch(es)"
}

export_range build-fixes base..hooks-base
export_range patches hooks-base..HEAD
