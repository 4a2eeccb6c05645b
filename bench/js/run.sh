#!/usr/bin/env bash
# run.sh — install bench/js's pinned npm dependencies if they are missing, then
# time ssb-db@20's initial sync with sync.js. All arguments go to sync.js:
#   bash bench/js/run.sh --log PATH/TO/log.offset [--samples-ms 250] [--out result.json]
# The JSON result is printed on stdout; progress and checks go to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "run.sh: node is not installed (Node.js 18 or later is needed)" >&2; exit 2; }
if [ ! -f "$here/node_modules/ssb-db/package.json" ] || [ ! -f "$here/node_modules/.package-lock.json" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "run.sh: installing ssb-db@20 and friends into $here/node_modules" >&2
  # npm ci installs exactly what package-lock.json pins; leveldown and
  # sodium-native load prebuilt binaries shipped in their npm packages.
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
exec node "$here/sync.js" "$@"
