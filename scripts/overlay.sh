#!/bin/sh
# Overlay vfio-direct's own files onto an unpacked QEMU tree as symlinks.
#
# Run by configure, and by make before every build so that files added
# since configure are linked too; links to files that were removed from
# the clone are dropped.  An overlay file may never replace an upstream
# file: upstream files change only through base/patches.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
src=${1:?usage: overlay.sh QEMU-SOURCE-TREE}

die() { echo "overlay: $*" >&2; exit 1; }

[ -d "$src/.git" ] || die "$src is not a configured source tree; run ./configure"

exclude=$src/.git/info/exclude
for dir in hw include linux-headers qapi tests/unit tests/qtest; do
    [ -d "$srcdir/$dir" ] || continue
    for f in $(cd "$srcdir" && find "$dir" -type f | sort); do
        if [ -e "$src/$f" ] && [ ! -L "$src/$f" ]; then
            die "$f would replace an upstream file; change it through base/patches instead"
        fi
        [ -L "$src/$f" ] && continue
        mkdir -p "$src/$(dirname "$f")"
        ln -s "$srcdir/$f" "$src/$f"
        grep -qxF "/$f" "$exclude" || echo "/$f" >>"$exclude"
    done
done

# Drop links whose target left the clone.
find "$src" -path "$src/.git" -prune -o -type l -lname "$srcdir/*" -print |
while read -r link; do
    [ -e "$link" ] || rm -f "$link"
done
