#!/usr/bin/env bash
# Defect: a task the server refuses for good (403: its scope is one the
# device's token lacks, or it has no scope) is treated as a retryable failure:
# it stays "pending", is sent again and again (attempts climb), the queue is
# reported stuck, and every task behind it in the queue waits forever; the
# device shows an optimistic row for another user's scope meanwhile, and
# `task add --wait` ends with "is sluice sync --follow running?" although it is.
# Expected: a 403 is an answer: the task fails with the server's reason (like a
# check's rejection), its optimistic row is removed, and the queue moves on.
# Exit 1 = defect reproduced.
source "$(dirname "$0")/lib.sh"
cd "$W"
S --dir s token add phone --scope user:7777 >tok 2>/dev/null
bg s serve --dir s --listen 127.0.0.1:0 --addr-file s.addr --view "$VIEW"
waitfile s.addr; U=$(cat s.addr)
bg d sync --dir d --from "$U" --token "$(cat tok)" --follow --view "$VIEW"
waitgrep d.err 'caught up'
S --dir d task add --queue q --kind reaction.add --scope user:8888 --json '{"message":"m1","emoji":"x"}' --wait --timeout 5s
echo "wait rc=$?"
S --dir d task add --queue q --kind reaction.add --scope user:7777 --json '{"message":"m2","emoji":"ok"}' --wait --timeout 3s
echo "wait rc=$? (a good task behind it)"
S --dir d tasks --queue q
echo "optimistic rows: $(S --dir d query --json "SELECT user, emoji, authority FROM reactions")"
st=$(S --dir d tasks --queue q --json | grep -c '"pending"')
[ "$st" -gt 0 ] && fail "a task refused with 403 stays pending and wedges its queue"
ok "403 answered as a failure"
