# sluice — a log-structured database: one append-only log, SQLite views indexed from it.
#
#   make demo    build sluice and index the SSB fixture in testdata/ into .demo/, query it, sync it to a second node
#   make test    vet and run every test (with the race detector)
#   make build   build bin/sluice

GO       ?= go
BIN      := bin/sluice
DEMO_DIR ?= .demo

.PHONY: build demo demo-tasks test vet fuzz faults stress chaos bench clean

build:
	$(GO) build -o $(BIN) ./cmd/sluice

demo: build
	@rm -rf $(DEMO_DIR)
	@echo '# 1. Index the SSB log in testdata/ in place: the built-in SSB views and two SQL-declared views'
	$(BIN) --dir $(DEMO_DIR) index --ssb testdata/ssb/flume/log.offset \
	    --view ssb --view testdata/views/posts.sql --view testdata/views/votes.sql
	@echo
	@echo '# 2. The views: one SQLite file each, readable by the sqlite3 shell too'
	$(BIN) --dir $(DEMO_DIR) views --ssb testdata/ssb
	@echo
	@echo '# 3. Messages per type'
	$(BIN) --dir $(DEMO_DIR) query 'SELECT type, count(*) AS n FROM messages GROUP BY type ORDER BY n DESC'
	@echo
	@echo '# 4. The most liked posts, joining two views'
	$(BIN) --dir $(DEMO_DIR) query 'SELECT p.author, substr(p.text, 1, 40) AS text, v.likes FROM posts.posts p JOIN votes.vote_counts v ON v.target = p.key ORDER BY v.likes DESC LIMIT 5'
	@echo
	@echo '# 5. Who follows the most feeds'
	$(BIN) --dir $(DEMO_DIR) query 'SELECT a.feed, count(*) AS follows FROM contacts c JOIN authors a ON a.id = c.author_id WHERE c.following = 1 GROUP BY a.feed ORDER BY follows DESC LIMIT 3'
	@echo
	@echo '# 6. Writes are refused: views change only through the log'
	$(BIN) --dir $(DEMO_DIR) query 'DELETE FROM messages' || echo "(refused, exit status $$?)"
	@echo
	@echo '# 7. Import the log into a native sluice log, append a local entry and read it back'
	$(BIN) --dir $(DEMO_DIR) import testdata/ssb
	$(BIN) --dir $(DEMO_DIR) append --local --json '{"key":"%demo=.sha256","value":{"author":"@me.ed25519","sequence":1,"timestamp":1,"content":{"type":"post","text":"hello from the demo"}},"timestamp":1}'
	$(BIN) --dir $(DEMO_DIR) index
	$(BIN) --dir $(DEMO_DIR) query 'SELECT seq, type, content FROM messages ORDER BY seq DESC LIMIT 1'
	$(BIN) --dir $(DEMO_DIR) status
	@echo
	@echo '# 8. Sync between nodes: serve this log on a free loopback port, and follow it from a second node'
	@set -e; rm -rf $(DEMO_DIR)/node2 $(DEMO_DIR)/addr; \
	$(BIN) --dir $(DEMO_DIR) serve --listen 127.0.0.1:0 --addr-file $(DEMO_DIR)/addr & srv=$$!; \
	trap 'kill $$srv $${node2:-} 2>/dev/null || true; wait 2>/dev/null || true' EXIT; \
	for i in $$(seq 200); do test -s $(DEMO_DIR)/addr && break; sleep 0.05; done; \
	url=$$(cat $(DEMO_DIR)/addr); \
	echo "+ sluice --dir $(DEMO_DIR)/node2 sync --from $$url --follow &"; \
	$(BIN) --dir $(DEMO_DIR)/node2 sync --from $$url --follow & node2=$$!; \
	echo '+ sluice --dir $(DEMO_DIR)/node2 query --wait 3001 (the pulled log in its views)'; \
	$(BIN) --dir $(DEMO_DIR)/node2 query --wait 3001 --timeout 60s 'SELECT count(*) AS messages FROM messages'; \
	echo '+ sluice --dir $(DEMO_DIR) append --local ... (on the server, while it serves: through its local socket)'; \
	$(BIN) --dir $(DEMO_DIR) append --local --json '{"key":"%sync=.sha256","value":{"author":"@me.ed25519","sequence":2,"timestamp":2,"content":{"type":"post","text":"hello, second node"}},"timestamp":2}'; \
	echo '+ sluice --dir $(DEMO_DIR)/node2 query --wait 3002 (it arrives in the second node'"'"'s views)'; \
	$(BIN) --dir $(DEMO_DIR)/node2 query --wait 3002 --timeout 60s 'SELECT seq, type, content FROM messages ORDER BY seq DESC LIMIT 1'; \
	kill -INT $$node2; wait $$node2; node2=; \
	kill -INT $$srv; wait $$srv; srv=; \
	echo '+ sluice --dir $(DEMO_DIR)/node2 status'; \
	$(BIN) --dir $(DEMO_DIR)/node2 status
	@$(MAKE) --no-print-directory demo-tasks

# Tasks and optimistic writes: a server and two devices of user:7777 (phone,
# laptop), each keeping testdata/views/reactions.sql. A reaction added
# offline shows at once (optimistic), becomes authoritative when the server
# is reachable, appears on the other device; a task the server rejects
# rolls back.
TD = $(DEMO_DIR)/tasks
REACT = $(BIN) task add --queue reactions --kind reaction.add --scope user:7777
SHOW = query 'SELECT message, emoji, user, authority FROM reactions ORDER BY message, emoji'
demo-tasks: build
	@rm -rf $(TD); mkdir -p $(TD)
	@echo
	@echo '# 9. Tasks. The phone is offline: it adds a reaction, a task entry in its own log; its views show it at once (authority 0: optimistic)'
	$(REACT) --dir $(TD)/phone --id r1 --json '{"message":"m1","emoji":"+1"}'
	$(BIN) --dir $(TD)/phone index --view testdata/views/reactions.sql --view tasks
	$(BIN) --dir $(TD)/phone $(SHOW)
	$(BIN) --dir $(TD)/phone tasks
	@set -e; \
	$(BIN) --dir $(TD)/server serve --listen 127.0.0.1:0 --addr-file $(TD)/addr --view testdata/views/reactions.sql & srv=$$!; \
	trap 'kill $$srv $${phone:-} $${laptop:-} 2>/dev/null || true; wait 2>/dev/null || true' EXIT; \
	for i in $$(seq 200); do test -s $(TD)/addr && break; sleep 0.05; done; \
	url=$$(cat $(TD)/addr); \
	echo; echo '# 10. The server is up; the phone syncs with it: its task is sent, applied, and the answer comes back'; \
	echo "+ sluice --dir $(TD)/phone sync --from $$url --follow --view testdata/views/reactions.sql &"; \
	$(BIN) --dir $(TD)/phone sync --from $$url --follow --view testdata/views/reactions.sql 2>/dev/null & phone=$$!; \
	for i in $$(seq 200); do test -S $(TD)/phone/sluice.sock && break; sleep 0.05; done; \
	echo '+ sluice --dir $(TD)/phone task add ... --wait (a second reaction, same queue: answered after r1)'; \
	$(REACT) --dir $(TD)/phone --id r2 --json '{"message":"m1","emoji":"heart"}' --wait; \
	$(BIN) --dir $(TD)/phone $(SHOW); \
	$(BIN) --dir $(TD)/phone tasks; \
	echo; echo '# 11. The laptop syncs too: the phone'"'"'s reactions appear there, authoritative'; \
	$(BIN) --dir $(TD)/laptop sync --from $$url --follow --view testdata/views/reactions.sql 2>/dev/null & laptop=$$!; \
	for i in $$(seq 200); do test -S $(TD)/laptop/sluice.sock && break; sleep 0.05; done; \
	echo '+ sluice --dir $(TD)/laptop task add ... --wait (a reaction of its own)'; \
	$(REACT) --dir $(TD)/laptop --id l1 --json '{"message":"m2","emoji":"+1"}' --wait; \
	$(BIN) --dir $(TD)/laptop $(SHOW); \
	echo; echo '# 12. The laptop reacts +1 to m1 again: the server'"'"'s check rejects it, and the optimistic row rolls back'; \
	$(REACT) --dir $(TD)/laptop --id l2 --json '{"message":"m1","emoji":"+1"}' --wait || echo "(rejected, exit status $$?)"; \
	$(BIN) --dir $(TD)/laptop $(SHOW); \
	$(BIN) --dir $(TD)/laptop tasks; \
	echo; echo '# 13. On the server: every task once, in queue order'; \
	$(BIN) --dir $(TD)/server query 'SELECT substr(node, 1, 8) AS device, task_id, queue, seq, outcome, reason FROM handled_tasks ORDER BY answer_seq'; \
	kill -INT $$phone $$laptop; wait $$phone $$laptop || true; phone=; laptop=; \
	kill -INT $$srv; wait $$srv; srv=

vet:
	$(GO) vet ./...

# Every test, once, with the race detector (one build of the cgo SQLite).
# internal/chaos's TestChaos is a short run of the fault suite (15 s of
# faults, a random seed it prints; see make chaos).
test: vet
	CHAOS_TIME=15s CHAOS_SEED= CHAOS_DEVICES= CHAOS_TASKS= CHAOS_REPORT= CHAOS_KEEP= CHAOS_RACE= $(GO) test -race -count=1 -timeout 30m ./...

# The log's long fault runs: a file size limit at every byte offset, strace
# failing every write, fsync, rename and open in each durability mode.
faults:
	SLUICE_LONG_FAULTS=1 $(GO) test -count=1 -timeout 60m -run 'TestFileSizeLimit|TestSyscallFaults|TestFsyncDurable' -v ./log

# The log's follower stress test, long: a writer process appending 1-12
# payloads of 0.2-1.1 MB per call, followers reading as it writes.
stress:
	SLUICE_STRESS_CALLS=60 SLUICE_STRESS_SEEDS=8 $(GO) test -race -count=1 -timeout 60m -run 'TestFollowerStress' -v ./log

# The fault suite (internal/chaos): a server and CHAOS_DEVICES devices (4)
# as sluice processes behind the fault proxy, CHAOS_TIME of faults and
# workload (3m; 90s, 5m or seconds) drawn from CHAOS_SEED (random if
# empty; a failure prints the seed, the schedule and the first rule
# broken), then the checker. With the task workload (sluice task add and
# cancel on the devices) when the binary has tasks, unless CHAOS_TASKS=0.
# CHAOS_RACE=1 builds sluice with -race;
# CHAOS_KEEP=DIR keeps the nodes' directories; CHAOS_REPORT=FILE appends
# the run's row of bench/results/chaos.md.
CHAOS_TIME ?= 3m
CHAOS_SEED ?=
chaos:
	CHAOS_TIME=$(CHAOS_TIME) CHAOS_SEED=$(CHAOS_SEED) $(GO) test -count=1 -timeout 60m -run '^TestChaos$$' -v ./internal/chaos

# Run each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzScanSegment$$' -fuzztime $(FUZZTIME) ./log
	$(GO) test -run '^$$' -fuzz '^FuzzRecord$$' -fuzztime $(FUZZTIME) ./log
	$(GO) test -run '^$$' -fuzz '^FuzzRecordFields$$' -fuzztime $(FUZZTIME) ./log
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./log/offset
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./view/ssb
	$(GO) test -run '^$$' -fuzz '^FuzzParseDelta$$' -fuzztime $(FUZZTIME) ./view/lattice
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(FUZZTIME) ./view/lattice
	$(GO) test -run '^$$' -fuzz '^FuzzJSONLines$$' -fuzztime $(FUZZTIME) ./cmd/sluice
	$(GO) test -run '^$$' -fuzz '^FuzzStream$$' -fuzztime $(FUZZTIME) ./replicate
	$(GO) test -run '^$$' -fuzz '^FuzzTaskRequest$$' -fuzztime $(FUZZTIME) ./replicate
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./view/tasks
	$(GO) test -run '^$$' -fuzz '^FuzzParseTask$$' -fuzztime $(FUZZTIME) ./view

# Micro-benchmarks of the log and the decoder (see bench/README.md for the
# end-to-end ones).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./log ./log/offset ./view/ssb ./internal/sqlite

clean:
	rm -rf bin $(DEMO_DIR)
