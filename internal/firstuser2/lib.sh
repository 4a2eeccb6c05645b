# Shared helpers for the firstuser2 reproductions (source it; needs bash).
# SLUICE: the binary (default: bin/sluice of this repository, built if missing).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SLUICE=${SLUICE:-$ROOT/bin/sluice}
[ -x "$SLUICE" ] || (cd "$ROOT" && make build >/dev/null)
VIEW=$ROOT/testdata/views/reactions.sql
W=$(mktemp -d /tmp/firstuser2.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
S() { "$SLUICE" "$@"; }
# bg NAME CMD...: run a sluice command in the background, logs in $W/NAME.err; pid in $NAME_pid
bg() { local n=$1; shift; "$SLUICE" "$@" >"$W/$n.out" 2>"$W/$n.err" & PIDS+=($!); eval "${n}_pid=$!"; }
# waitfile FILE: wait up to 10 s for FILE to be non-empty
waitfile() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "timeout waiting for $1" >&2; return 1; }
# waitgrep FILE RE: wait up to 10 s for RE in FILE
waitgrep() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timeout waiting for /$2/ in $1" >&2; return 1; }
fail() { echo "DEFECT: $*"; exit 1; }
ok() { echo "ok: $*"; exit 0; }
