# sluice — a log-structured database: one append-only log, SQLite views indexed from it.
#
#   make demo    build sluice and index the SSB fixture in testdata/ into .demo/, query it, sync it to a second node
#   make test    vet and run every test (with the race detector)
#   make build   build bin/sluice

GO       ?= go
BIN      := bin/sluice
DEMO_DIR ?= .demo

.PHONY: build demo test vet fuzz faults stress bench clean

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

vet:
	$(GO) vet ./...

# Every test, once, with the race detector (one build of the cgo SQLite).
test: vet
	$(GO) test -race -count=1 -timeout 30m ./...

# The log's long fault runs: a file size limit at every byte offset, strace
# failing every write, fsync, rename and open in each durability mode.
faults:
	SLUICE_LONG_FAULTS=1 $(GO) test -count=1 -timeout 60m -run 'TestFileSizeLimit|TestSyscallFaults|TestFsyncDurable' -v ./log

# The log's follower stress test, long: a writer process appending 1-12
# payloads of 0.2-1.1 MB per call, followers reading as it writes.
stress:
	SLUICE_STRESS_CALLS=60 SLUICE_STRESS_SEEDS=8 $(GO) test -race -count=1 -timeout 60m -run 'TestFollowerStress' -v ./log

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
	$(GO) test -run '^$$' -fuzz '^FuzzParseTask$$' -fuzztime $(FUZZTIME) ./view

# Micro-benchmarks of the log and the decoder (see bench/README.md for the
# end-to-end ones).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./log ./log/offset ./view/ssb ./internal/sqlite

clean:
	rm -rf bin $(DEMO_DIR)
