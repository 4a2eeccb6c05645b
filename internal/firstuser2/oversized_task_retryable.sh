#!/usr/bin/env bash
# Defect: a task whose payload is too large for the server's log (its result
# record passes the 16 MiB record limit) is answered 503 "nothing was applied;
# retry later": a refusal that can never succeed is reported as retryable, so
# a sender retries it forever and its queue wedges (see
# forbidden_task_retried.sh for what that looks like on a device).
# Expected: 400/413 or a "failed" answer naming the limit.
# Exit 1 = defect reproduced.
source "$(dirname "$0")/lib.sh"
cd "$W"
S --dir s token add phone --scope user:7777 >tok 2>/dev/null
bg s serve --dir s --listen 127.0.0.1:0 --addr-file s.addr --view "$VIEW"
waitfile s.addr; U=$(cat s.addr)
python3 -c "
import json
print(json.dumps({'node':'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','queue':'z','tasks':[{'id':'big','kind':'reaction.add','seq':1,'scope':'user:7777','payload':{'message':'x'*17000000,'emoji':'a'}}]}))" >big.json
code=$(curl -s -o ans -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat tok)" --data-binary @big.json "$U/v1/tasks")
echo "$code $(cat ans)"
[ "$code" = 503 ] && fail "an oversized task is answered 503 (retry later): it can never succeed"
ok "oversized task refused for good ($code)"
