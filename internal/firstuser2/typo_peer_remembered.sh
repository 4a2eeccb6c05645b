#!/usr/bin/env bash
# Defect: `sluice sync --from URL` remembers URL in peers.json even when the
# very first pull from it fails (connection refused, 404 because of a stray
# /v1 path). From then on `sluice sync` alone pulls every remembered peer and
# exits 1 forever, and sends this device's tasks to "the first peer": the
# mistyped one. The good server never receives them.
# Expected: a peer that never answered (no node id known) is not remembered,
# or tasks go to a peer that answered. Exit 1 = defect reproduced.
source "$(dirname "$0")/lib.sh"
cd "$W"
S --dir s token add phone --scope user:7777 >tok 2>/dev/null
bg s serve --dir s --listen 127.0.0.1:0 --addr-file s.addr --view "$VIEW"
waitfile s.addr; U=$(cat s.addr); T=$(cat tok)
S --dir d sync --from http://127.0.0.1:1 --token "$T" --view "$VIEW" >/dev/null 2>&1   # a typo: wrong port
S --dir d sync --from "$U" --token "$T" --view "$VIEW" >/dev/null 2>&1 || fail "sync from the good server failed"
id=$(S --dir d task add --queue q --kind reaction.add --scope user:7777 --json '{"message":"m1","emoji":"x"}' | cut -d' ' -f1)
S --dir d sync --view "$VIEW" >/dev/null 2>&1; echo "sync alone rc=$?"
S --dir d tasks --queue q
S --dir d tasks --queue q --json | grep -q succeeded || fail "task $id was sent to the mistyped peer remembered first, not to the server"
ok "task reached the server"
