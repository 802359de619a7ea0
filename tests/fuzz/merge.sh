#!/bin/sh
# Minimise the committed corpus of TARGET together with new inputs (the
# directories given, say a fuzzing run's work directory): crash-* files
# stay whatever they cover, of the rest only what -merge=1 keeps for edge
# coverage (-use_counters=0: hit counts would keep a few times as many
# files, too many to commit).  Run from a --enable-fuzzing build
# directory (tests/fuzz/README).
#
#	tests/fuzz/merge.sh TARGET DIR...
set -eu

[ $# -ge 1 ] || { echo "usage: $0 TARGET DIR..." >&2; exit 2; }
t=$1
shift
corpus=$(cd "$(dirname "$0")" && pwd)/corpus/$t
fuzzer=tests/fuzz/fuzz_$t
[ -x "$fuzzer" ] || { echo "$0: no $fuzzer here" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$corpus" "$tmp/new"
for f in "$corpus"/crash-*; do
	if [ -f "$f" ]; then
		cp "$f" "$tmp/new/"
	fi
done
"$fuzzer" -merge=1 -use_counters=0 "$tmp/new" "$corpus" "$@" \
    2>"$tmp/log" || {
	cat "$tmp/log" >&2
	exit 1
}
rm -f "$corpus"/*
cp "$tmp"/new/* "$corpus/"
echo "$t: $(ls "$corpus" | wc -l) files, $(cat "$corpus"/* | wc -c) bytes"
