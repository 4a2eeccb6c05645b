#!/usr/bin/env bash
# Defect: the task sender of `sluice sync --follow` sends tasks to a server
# whose log was replaced (another node id) although the pull refuses that
# server (409 node_mismatch). The impostor applies the task and answers
# "succeeded"; the device never receives the answer entry, so the task stays
# "sending" in `sluice tasks`, `task cancel` says "task already done
# (succeeded)", and the task is not sent to the real server when it comes
# back (until sync is restarted, which then applies it there too).
# Expected: no task is sent to a peer the pull refuses (or the sender checks
# the node id too). Exit 1 = defect reproduced.
source "$(dirname "$0")/lib.sh"
cd "$W"
S --dir s token add phone --scope user:7777 >tok 2>/dev/null
bg s serve --dir s --listen 127.0.0.1:0 --addr-file s.addr --view "$VIEW"
waitfile s.addr; U=$(cat s.addr); P=${U##*:}
bg d sync --dir d --from "$U" --token "$(cat tok)" --follow --view "$VIEW"
waitgrep d.err 'caught up'
S --dir d task add --queue q --kind reaction.add --scope user:7777 --json '{"message":"m1","emoji":"a"}' --wait >/dev/null 2>&1 || fail "first task did not succeed"
# Replace the server: same port, another directory (a new node, no tokens).
kill "$s_pid"; wait "$s_pid" 2>/dev/null
bg s2 serve --dir s2 --listen 127.0.0.1:$P --view "$VIEW"
waitgrep s2.err serving
id=$(S --dir d task add --queue q --kind reaction.add --scope user:7777 --json '{"message":"m2","emoji":"a"}' | cut -d' ' -f1)
for _ in $(seq 50); do [ -n "$(S --dir s2 query --json "SELECT 1 FROM handled_tasks WHERE task_id='$id'" 2>/dev/null | grep 1)" ] && break; sleep 0.1; done
grep -o 'node_mismatch[^"]*' d.err | head -1
applied=$(S --dir s2 query "SELECT outcome FROM handled_tasks WHERE task_id='$id'" | tail -1)
echo "replaced server handled $id: $applied"
echo "device: $(S --dir d tasks --queue q | grep "$id")"
echo "cancel: $(S --dir d task cancel "$id" 2>&1)"
[ "$applied" = succeeded ] && fail "task $id was applied by a replaced server the pull refuses"
ok "task not sent to the replaced server"
