#!/usr/bin/env bash
# Defect (security): POST /v1/tasks takes the device's node id from the request
# body and deduplicates task ids per that node, without tying the node to the
# token. Any token holder (here: another user's, scope user:8888) can post a
# task under the victim device's node id (visible in every entry it wrote)
# with an id the victim will use (a --id such as "t1", as in the --help
# example). The server applies the forger's payload; when the victim sends
# its own t1, the server answers it with the forger's answer: the victim's
# task is never applied, and as that answer has the forger's scope the victim
# never receives it: t1 stays "sending" forever, with its optimistic row.
# Expected: a task answered before is only replayed for the same token/scope
# (or node ids are bound to tokens). Exit 1 = defect reproduced.
source "$(dirname "$0")/lib.sh"
cd "$W"
S --dir s token add victim --scope user:7777 >tokv 2>/dev/null
S --dir s token add mallory --scope user:8888 >tokm 2>/dev/null
bg s serve --dir s --listen 127.0.0.1:0 --addr-file s.addr --view "$VIEW"
waitfile s.addr; U=$(cat s.addr)
bg d sync --dir d --from "$U" --token "$(cat tokv)" --follow --view "$VIEW"
waitgrep d.err 'caught up'
node=$(S --dir d status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"])')
curl -sf -X POST -H "Authorization: Bearer $(cat tokm)" "$U/v1/tasks" \
  -d "{\"node\":\"$node\",\"queue\":\"q\",\"tasks\":[{\"id\":\"t1\",\"kind\":\"reaction.add\",\"seq\":1,\"scope\":\"user:8888\",\"payload\":{\"message\":\"evil\",\"emoji\":\"x\"}}]}"
echo
S --dir d task add --queue q --kind reaction.add --id t1 --scope user:7777 --json '{"message":"mine","emoji":"y"}' --wait --timeout 5s
echo "victim's wait rc=$?"
echo "server: $(S --dir s query --json "SELECT message, user FROM reactions")"
S --dir s query --json "SELECT 1 FROM reactions WHERE message='mine'" | grep -q 1 || fail "the victim's task t1 was answered with a forger's task and never applied"
ok "victim's task applied"
