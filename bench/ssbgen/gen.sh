#!/usr/bin/env bash
# gen.sh MESSAGES [AUTHORS] [SEED] — print the directory of a generated SSB log
# with MESSAGES messages (DIR/flume/log.offset and DIR/report.md), generating it
# with the npm package ssb-fixtures the first time and reusing it after that.
#
# The cache lives in $SLUICE_BENCH_DATA (default: bench/.data in the repo).
# Needs node and npm; installs ssb-fixtures into bench/ssbgen/node_modules once.
# ssb-fixtures output is not byte-identical between runs with the same seed,
# but its counts (report.md) are.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:?usage: gen.sh MESSAGES [AUTHORS] [SEED]}
authors=${2:-$(( n / 400 > 20 ? n / 400 : 20 ))}
seed=${3:-sluice}
case $n in (*[!0-9]*|'') echo "gen.sh: MESSAGES must be a number, got $n" >&2; exit 2;; esac
cache=${SLUICE_BENCH_DATA:-$here/../.data}
out="$cache/ssb-$n-$authors-$seed"
if [ -s "$out/flume/log.offset" ] && [ -s "$out/report.md" ]; then
  echo "$out"
  exit 0
fi
if [ ! -x "$here/node_modules/.bin/ssb-fixtures" ]; then
  echo "gen.sh: installing ssb-fixtures into $here/node_modules" >&2
  (cd "$here" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
mkdir -p "$cache"
# One generator per output at a time: a second caller waits, then reuses it.
exec 9>"$out.lock"
flock 9
if [ -s "$out/flume/log.offset" ] && [ -s "$out/report.md" ]; then
  echo "$out"
  exit 0
fi
tmp="$out.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "gen.sh: generating $n messages from $authors authors (seed $seed) into $out" >&2
start=$(date +%s)
"$here/node_modules/.bin/ssb-fixtures" --seed="$seed" --messages="$n" --authors="$authors" --outputDir="$tmp" >&2
rm -rf "$out"
mv -T "$tmp" "$out"
trap - EXIT
echo "gen.sh: done in $(( $(date +%s) - start )) s" >&2
echo "$out"
