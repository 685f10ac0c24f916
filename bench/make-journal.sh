#!/bin/sh
# Usage: bench/make-journal.sh N DIR [SEED]
#
# Builds a journal directory DIR holding N entries of synthetic host traffic
# (bench/gen-traffic.py), readable with `journalctl --directory=DIR`, and writes the
# ground truth next to it as DIR/truth.json (journal readers only open *.journal).
#
# systemd-journal-remote (252) reads export format from stdin with `-`; the output name
# must end in .journal. It rotates the file whenever its hash table fills (~64 MB, about
# 115k entries here), so a big DIR holds system.journal plus archived system@….journal
# files; the count at the end reads them all back.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 N DIR [SEED]" >&2; exit 2; }
n=$1 dir=$2 seed=${3:-1}
here=$(dirname "$0")
remote=/lib/systemd/systemd-journal-remote
[ -x "$remote" ] || { echo "$0: needs $remote (apt-get install systemd-journal-remote)" >&2; exit 1; }

mkdir -p "$dir"
# journal-remote appends to an existing file: never mix runs.
if ls "$dir"/*.journal >/dev/null 2>&1; then
    echo "$0: $dir already holds journal files; remove them or pick another DIR" >&2
    exit 1
fi

t0=$(date +%s.%N)
# A pipe, not a temporary file: the export text is ~630 MB per million entries.
# journal-remote is the slow half (~40 us an entry). Plain sh has no pipefail: a
# generator failure shows up as a short count below.
"$here/gen-traffic.py" --entries "$n" --seed "$seed" --out - --truth "$dir/truth.json" |
    "$remote" --output="$dir/system.journal" - 2>"$dir/.remote.log" ||
    { cat "$dir/.remote.log" >&2; exit 1; }
t1=$(date +%s.%N)
rm -f "$dir/.remote.log"

# Read every entry back (all files), not just the headers' counts.
got=$(journalctl --directory="$dir" -q -o export --output-fields=PRIORITY | grep -c '^__CURSOR=' || true)
files=$(ls "$dir"/*.journal | wc -l)
size=$(du -sh "$dir" | cut -f1)
secs=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
echo "$n entries generated and converted in $secs s; $got read back from $files file(s), $size in $dir"
[ "$got" -eq "$n" ] || { echo "$0: expected $n entries, read $got" >&2; exit 1; }
