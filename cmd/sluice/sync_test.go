package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
)

// child is a sluice process whose stderr is collected.
type child struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	line  chan string // every stderr line, as it comes (dropped if nobody reads)
	done  chan error  // the exit
}

// start starts sluice --dir dir args... as a child process.
func start(t *testing.T, dir string, args ...string) *child {
	t.Helper()
	cmd := sluiceCmd(dir, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, line: make(chan string, 100), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
			select {
			case c.line <- sc.Text():
			default:
			}
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
		}
	})
	return c
}

func (c *child) stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// waitLine waits (bounded) for a stderr line containing s and returns it.
func (c *child) waitLine(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l := <-c.line:
			if strings.Contains(l, s) {
				return l
			}
		case err := <-c.done:
			c.done <- err
			t.Fatalf("sluice %v exited (%v) before saying %q:\n%s", c.cmd.Args[1:], err, s, c.stderr())
		case <-timeout:
			t.Fatalf("sluice %v did not say %q within 60 s:\n%s", c.cmd.Args[1:], s, c.stderr())
		}
	}
}

// wait waits (bounded) for the child to exit.
func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(2 * time.Minute):
		t.Fatalf("sluice %v did not exit within 2 minutes:\n%s", c.cmd.Args[1:], c.stderr())
	}
	return nil
}

// stop interrupts the child (Ctrl-C) and waits for a clean exit.
func (c *child) stop(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(os.Interrupt)
	if err := c.wait(t); err != nil {
		t.Fatalf("sluice %v after SIGINT: %v\n%s", c.cmd.Args[1:], err, c.stderr())
	}
}

// kill kills the child with SIGKILL and waits for it.
func (c *child) kill(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.wait(t)
}

// serveNode starts sluice serve on a free loopback port (or the address
// given) and returns it and its URL.
func serveNode(t *testing.T, dir, listen string, args ...string) (*child, string) {
	t.Helper()
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	c := start(t, dir, append([]string{"serve", "--listen", listen, "--heartbeat", "200ms"}, args...)...)
	l := c.waitLine(t, "serving ")
	i := strings.Index(l, " on http")
	if i < 0 {
		t.Fatalf("no URL in %q", l)
	}
	url := strings.Fields(l[i+4:])[0]
	return c, url
}

// readLog returns the entries of the log in dir/log, read with a Reader.
func readLog(t *testing.T, dir string) (log.NodeID, []log.Entry) {
	t.Helper()
	r, err := log.OpenReader(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	it, err := r.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var es []log.Entry
	for it.Next() {
		e := it.Entry()
		e.Payload = bytes.Clone(e.Payload)
		es = append(es, e)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return r.Node(), es
}

// checkPulled checks that the device in dev holds every entry of the server
// in srv that keep selects, exactly once, in the server's order, as remote
// entries with the server's identity, and nothing else but local entries
// for which local returns true.
func checkPulled(t *testing.T, dev, srv string, keep func(log.Entry) bool) int {
	t.Helper()
	node, want := readLog(t, srv)
	_, got := readLog(t, dev)
	seen := map[log.ID]log.Seq{}
	i := 0
	for _, g := range got {
		if s, ok := seen[g.ID]; ok {
			t.Fatalf("entry %s is in the device's log twice: seqs %d and %d", g.ID, s, g.Seq)
		}
		seen[g.ID] = g.Seq
		if g.Origin == log.Local {
			continue
		}
		for i < len(want) && keep != nil && !keep(want[i]) {
			i++
		}
		if i >= len(want) {
			t.Fatalf("device seq %d (%s) is not one of the server's entries", g.Seq, g.ID)
		}
		w := want[i]
		if g.ID != w.ID || g.Scope != w.Scope || !bytes.Equal(g.Payload, w.Payload) {
			t.Fatalf("device seq %d holds %s (scope %q), want the server's seq %d: %s (scope %q)", g.Seq, g.ID, g.Scope, w.Seq, w.ID, w.Scope)
		}
		if w.ID.Node != node && g.Via != (log.ID{Node: node, Seq: w.Seq}) {
			t.Fatalf("device seq %d: via %s, want the server's %d", g.Seq, g.Via, w.Seq)
		}
		i++
	}
	for ; i < len(want); i++ {
		if keep == nil || keep(want[i]) {
			t.Fatalf("the device misses the server's seq %d (%s)", want[i].Seq, want[i].ID)
		}
	}
	return len(got)
}

// TestSyncViews: a device pulling the fixture log (imported into a native
// log) from sluice serve ends with views identical to indexing that log
// locally: full dumps of the SSB view set and both SQL views.
func TestSyncViews(t *testing.T) {
	srv, dev, ref := t.TempDir(), t.TempDir(), t.TempDir()
	ok(t, srv, "", "import", "../../testdata/ssb")
	s, url := serveNode(t, srv, "", "--no-index")
	out := sluice(t, dev, "", append([]string{"sync", "--from", url}, sqlViews...)...)
	if out.code != 0 {
		t.Fatalf("sync: %+v", out)
	}
	if !strings.Contains(out.err, "pulled 3000 entries") {
		t.Fatalf("sync's summary: %s", out.err)
	}
	checkPulled(t, dev, srv, nil)
	ok(t, ref, "", append([]string{"index", "--log", filepath.Join(srv, "log")}, sqlViews...)...)
	compareDumps(t, dumpViews(t, dev), dumpViews(t, ref))
	s.stop(t)

	// sluice status shows the peer, caught up.
	st := ok(t, dev, "", "status", "--json")
	if !strings.Contains(st, `"url": "`+url+`"`) || !strings.Contains(st, `"position": 3000`) || !strings.Contains(st, `"behind": 0`) {
		t.Fatalf("status: %s", st)
	}
}

// TestSyncKillPuller kills sluice sync with SIGKILL at many random points
// — while it connects, pulls, appends and indexes — and runs it again:
// in the end the device's log holds every entry of the server exactly once,
// in the server's order, and its views equal indexing the server's log.
func TestSyncKillPuller(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	srv, dev, ref := t.TempDir(), t.TempDir(), t.TempDir()
	msgs := ssbtest.Generate(ssbtest.Options{Seed: 12, Messages: 30000, Authors: 30})
	writeBatches(t, srv, msgs, 1+len(msgs)/200)
	s, url := serveNode(t, srv, "", "--no-index")
	defer s.stop(t)
	_, want := readLog(t, srv)

	rng := rand.New(rand.NewPCG(12, 1))
	kills := 0
	for round := 0; round < 30; round++ {
		args := []string{"sync", "--from", url}
		if round%2 == 1 {
			args = append(args, "--no-index")
		}
		c := start(t, dev, args...)
		if round%3 == 0 {
			// When its log reaches a random seq.
			target := log.Seq(1 + rng.IntN(len(want)))
			if !killAt(t, c, filepath.Join(dev, "log"), target) {
				continue
			}
		} else {
			select {
			case <-time.After(time.Duration(rng.Int64N(int64(400 * time.Millisecond)))):
			case err := <-c.done:
				c.done <- err
			}
			if c.cmd.ProcessState != nil || exited(c) {
				continue
			}
		}
		c.kill(t)
		kills++
	}
	r := sluice(t, dev, "", "sync")
	if r.code != 0 {
		t.Fatalf("the last sync: %+v", r)
	}
	if kills < 10 {
		t.Fatalf("only %d kills landed before the pulls finished", kills)
	}
	n := checkPulled(t, dev, srv, nil)
	ok(t, ref, "", "index", "--log", filepath.Join(srv, "log"))
	devViews, _ := ssbtest.Dump(filepath.Join(dev, "views", "ssb.db"))
	refViews, _ := ssbtest.Dump(filepath.Join(ref, "views", "ssb.db"))
	if devViews != refViews {
		t.Fatalf("the device's views differ from indexing the server's log:\n%s", ssbtest.Diff(refViews, devViews))
	}
	t.Logf("%d kills; %d entries", kills, n)
}

// exited reports whether the child has exited.
func exited(c *child) bool {
	select {
	case err := <-c.done:
		c.done <- err
		return true
	default:
		return false
	}
}

// killAt kills c once the log in dir holds target entries (polling it),
// unless c exits first; it reports whether it killed.
func killAt(t *testing.T, c *child, dir string, target log.Seq) bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if exited(c) {
			return false
		}
		if r, err := log.OpenReader(dir); err == nil {
			last, _ := r.Last()
			r.Close()
			if last >= target {
				c.kill(t)
				return true
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the log in %s did not reach seq %d within a minute", dir, target)
	return false
}

// writeBatches appends payloads to dir/log in Appends of n.
func writeBatches(t *testing.T, dir string, payloads [][]byte, n int) {
	t.Helper()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for len(payloads) > 0 {
		k := min(n, len(payloads))
		recs := make([]log.Record, k)
		for i := range recs {
			recs[i] = log.Record{Payload: payloads[i]}
		}
		if _, err := l.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
		payloads = payloads[k:]
	}
}

// TestSyncKillServer kills sluice serve with SIGKILL while a following
// device pulls from it, restarts it on the same port, and appends to it
// between restarts: the device (sync --follow, reconnecting) ends with
// every entry exactly once, in the server's order.
func TestSyncKillServer(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	srv, dev := t.TempDir(), t.TempDir()
	msgs := ssbtest.Generate(ssbtest.Options{Seed: 13, Messages: 30000, Authors: 30})
	writeBatches(t, srv, msgs[:20000], 97)
	s, url := serveNode(t, srv, "", "--no-index")
	addr := strings.TrimPrefix(url, "http://")
	f := start(t, dev, "sync", "--from", url, "--follow", "--no-index")
	rng := rand.New(rand.NewPCG(13, 1))
	next := 20000
	for round := 0; round < 12; round++ {
		time.Sleep(time.Duration(rng.Int64N(int64(150 * time.Millisecond))))
		s.kill(t)
		if round%2 == 0 && next < len(msgs) {
			writeBatches(t, srv, msgs[next:next+1000], 1+rng.IntN(50))
			next += 1000
		}
		s, _ = serveNode(t, srv, addr, "--no-index")
	}
	// Entries appended through the running server too.
	for i := 0; i < 5; i++ {
		ok(t, srv, "", "append", "--json", fmt.Sprintf(`{"last":%d}`, i))
	}
	_, want := readLog(t, srv)
	waitFor(t, func() bool {
		r, err := log.OpenReader(filepath.Join(dev, "log"))
		if err != nil {
			return false
		}
		defer r.Close()
		last, _ := r.Last()
		return last >= log.Seq(len(want))
	}, "the device to catch up")
	f.stop(t)
	s.stop(t)
	checkPulled(t, dev, srv, nil)
	if !strings.Contains(f.stderr(), "connecting again") && !strings.Contains(f.stderr(), "pull failed") {
		t.Logf("follower's stderr:\n%s", f.stderr())
	}
}

// waitFor polls cond (bounded: a minute) until it holds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSyncTwoServers: server B follows server A (sluice serve --from) and
// has entries of its own; a device pulls from both: every entry once, A's
// through whichever path came first.
func TestSyncTwoServers(t *testing.T) {
	a, b, dev := t.TempDir(), t.TempDir(), t.TempDir()
	writeBatches(t, a, ssbtest.Generate(ssbtest.Options{Seed: 14, Messages: 3000, Authors: 5}), 50)
	writeBatches(t, b, ssbtest.Generate(ssbtest.Options{Seed: 15, Messages: 500, Authors: 5}), 7)
	sa, urlA := serveNode(t, a, "", "--no-index")
	sb, urlB := serveNode(t, b, "", "--no-index", "--from", urlA)
	_, wantA := readLog(t, a)
	waitFor(t, func() bool {
		_, es := readLog(t, b)
		return len(es) >= 500+len(wantA)
	}, "B to pull A")
	ok(t, b, "", "append", "--local", "--json", `{"b":"after"}`) // through B's socket
	r := sluice(t, dev, "", "sync", "--no-index", "--from", urlB, "--from", urlA)
	if r.code != 0 {
		t.Fatalf("sync: %+v", r)
	}
	// Again: nothing new.
	r = sluice(t, dev, "", "sync", "--no-index")
	if r.code != 0 || !strings.Contains(r.err, "pulled 0 entries") {
		t.Fatalf("second sync: %+v", r)
	}
	sa.stop(t)
	sb.stop(t)
	_, got := readLog(t, dev)
	_, wantB := readLog(t, b)
	union := map[log.ID]bool{}
	for _, e := range append(wantA, wantB...) {
		union[e.ID] = true
	}
	seen := map[log.ID]bool{}
	for _, e := range got {
		if seen[e.ID] {
			t.Fatalf("entry %s twice in the device's log", e.ID)
		}
		seen[e.ID] = true
		if !union[e.ID] {
			t.Fatalf("entry %s is neither A's nor B's", e.ID)
		}
	}
	if len(got) != len(union) {
		t.Fatalf("the device holds %d entries, A and B %d distinct ones", len(got), len(union))
	}
}

// TestSyncScopes: a token for user:1 pulls from a server holding a large
// random log of entries for 20 users and for everybody: the device receives
// every unscoped and user:1 entry, and never another user's.
func TestSyncScopes(t *testing.T) {
	srv, dev := t.TempDir(), t.TempDir()
	rng := rand.New(rand.NewPCG(16, 1))
	l, err := log.Open(filepath.Join(srv, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 4000; b++ {
		recs := make([]log.Record, 1+rng.IntN(10))
		for i := range recs {
			recs[i].Payload = []byte(fmt.Sprintf(`{"b":%d,"i":%d}`, b, i))
			if u := rng.IntN(21); u > 0 {
				recs[i].Scope = fmt.Sprintf("user:%d", u)
			}
		}
		if _, err := l.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	tok := strings.TrimSpace(ok(t, srv, "", "token", "add", "phone", "--scope", "user:1"))
	s, url := serveNode(t, srv, "", "--no-index")
	defer s.stop(t)
	r := sluice(t, dev, "", "sync", "--no-index", "--from", url)
	if r.code != 1 || !strings.Contains(r.err, "401") {
		t.Fatalf("sync without a token: %+v", r)
	}
	r = sluice(t, dev, "", "sync", "--no-index", "--from", url, "--token", tok)
	if r.code != 0 {
		t.Fatalf("sync: %+v", r)
	}
	mine := func(e log.Entry) bool { return e.Scope == "" || e.Scope == "user:1" }
	n := checkPulled(t, dev, srv, mine)
	_, got := readLog(t, dev)
	for _, e := range got {
		if !mine(e) {
			t.Fatalf("the device received %s of scope %q", e.ID, e.Scope)
		}
	}
	t.Logf("%d of the server's entries are for user:1 or everybody", n)
}

// TestAppendWhileSyncFollows: sluice append while sluice sync --follow holds
// the log goes through its local socket: same output (the seqs), entries in
// order, each once; a refused append appends nothing and fails the same.
func TestAppendWhileSyncFollows(t *testing.T) {
	srv, dev := t.TempDir(), t.TempDir()
	writeBatches(t, srv, ssbtest.Generate(ssbtest.Options{Seed: 17, Messages: 200, Authors: 3}), 10)
	s, url := serveNode(t, srv, "", "--no-index")
	defer s.stop(t)
	f := start(t, dev, "sync", "--from", url, "--follow", "--no-index")
	f.waitLine(t, "caught up")
	var seqs []string
	for i := 0; i < 5; i++ {
		out := ok(t, dev, "", "append", "--local", "--scope", "user:5", "--json", fmt.Sprintf(`{"mine":%d}`, i))
		seqs = append(seqs, strings.TrimSpace(out))
	}
	if strings.Join(seqs, ",") != "201,202,203,204,205" {
		t.Fatalf("append printed %v, want 201..205", seqs)
	}
	if r := sluice(t, dev, "", "append", "--local", "--scope", "user 5", "--json", `1`); r.code != 2 {
		t.Fatalf("a bad scope: %+v", r)
	}
	if r := sluice(t, dev, "", "append", "--json", `{"x":1}`, "--durability", "none"); r.code != 0 {
		t.Fatalf("append --durability none: %+v", r)
	}
	f.stop(t)
	_, got := readLog(t, dev)
	if len(got) != 206 {
		t.Fatalf("the device holds %d entries, want 206", len(got))
	}
	for i, e := range got[200:205] {
		if e.Origin != log.Local || e.Scope != "user:5" || string(e.Payload) != fmt.Sprintf(`{"mine":%d}`, i) {
			t.Fatalf("seq %d: %+v", e.Seq, e)
		}
	}
	// With the follower gone, append opens the log itself again.
	if out := ok(t, dev, "", "append", "--json", `{"y":1}`); strings.TrimSpace(out) != "207" {
		t.Fatalf("append after the follower stopped: %q", out)
	}
}

// TestServeRefuses: serve will not listen beyond loopback without a token,
// and a second writer of the same log is refused with a message saying who.
func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	r := sluice(t, dir, "", "serve", "--listen", "0.0.0.0:0")
	if r.code != 1 || !strings.Contains(r.err, "beyond loopback") {
		t.Fatalf("serve beyond loopback without tokens: %+v", r)
	}
	s, _ := serveNode(t, dir, "", "--no-index")
	defer s.stop(t)
	r = sluice(t, dir, "", "sync", "--from", "http://127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.err, "is the writer of") {
		t.Fatalf("sync while serve runs: %+v", r)
	}
	ok(t, dir, "", "token", "add", "x", "--scope", "user:1")
	s2, url := serveNode(t, t.TempDir(), "0.0.0.0:0", "--no-index", "--token-file", filepath.Join(dir, "replicate", "tokens.json"))
	defer s2.stop(t)
	if !strings.HasPrefix(url, "http://127.0.0.1:") { // listening on every interface, reached on loopback
		t.Fatalf("URL %q, want one to dial: http://127.0.0.1:PORT", url)
	}
}

// TestSyncBadPeer: a stream damaged on its way (a proxy flips a byte in
// the middle) makes sync fail with an error naming the peer and the
// position; the batches whole before the damage are kept, nothing after
// it. A peer that does not answer, and a URL that is not one, are errors
// too.
func TestSyncBadPeer(t *testing.T) {
	srv, dev := t.TempDir(), t.TempDir()
	writeBatches(t, srv, ssbtest.Generate(ssbtest.Options{Seed: 18, Messages: 2000, Authors: 3}), 100)
	s, url := serveNode(t, srv, "", "--no-index")
	defer s.stop(t)
	const flipAt = 500_000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(url + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		body, _ := io.ReadAll(resp.Body)
		if r.URL.Path == "/v1/entries" && len(body) > flipAt {
			body[flipAt] ^= 0x10
		}
		w.Write(body)
	})}
	go proxy.Serve(ln)
	defer proxy.Close()
	purl := "http://" + ln.Addr().String()
	r := sluice(t, dev, "", "sync", "--no-index", "--from", purl)
	if r.code != 1 || !strings.Contains(r.err, purl) || !strings.Contains(r.err, "at position") {
		t.Fatalf("sync through the damaging proxy: %+v", r)
	}
	_, got := readLog(t, dev)
	if len(got) == 0 || len(got)%100 != 0 || len(got) >= 2000 {
		t.Fatalf("the device holds %d entries: want the whole batches of 100 before the damage", len(got))
	}
	if !strings.Contains(r.err, fmt.Sprintf("at position %d", len(got))) {
		t.Fatalf("the error does not name position %d: %s", len(got), r.err)
	}
	// From the server itself, the pull completes.
	if r := sluice(t, dev, "", "sync", "--no-index", "--from", url); r.code != 0 {
		t.Fatalf("sync from the server: %+v", r)
	}
	checkPulled(t, dev, srv, nil)

	r = sluice(t, dev, "", "sync", "--no-index", "--from", "http://127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.err, "http://127.0.0.1:1") {
		t.Fatalf("sync from nowhere: %+v", r)
	}
	if r := sluice(t, dev, "", "sync", "--from", "ftp://x"); r.code != 2 {
		t.Fatalf("a bad URL: %+v", r)
	}
}

// TestServeTLS: serve --tls-cert/--tls-key serves HTTPS; sync --tls-ca
// trusts the certificate; without it the certificate is refused.
func TestServeTLS(t *testing.T) {
	srv, dev := t.TempDir(), t.TempDir()
	writeBatches(t, srv, ssbtest.Generate(ssbtest.Options{Seed: 19, Messages: 100, Authors: 2}), 10)
	cert, key := selfSigned(t, t.TempDir())
	s, url := serveNode(t, srv, "", "--no-index", "--tls-cert", cert, "--tls-key", key)
	defer s.stop(t)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("URL %q", url)
	}
	if r := sluice(t, dev, "", "sync", "--no-index", "--from", url); r.code != 1 || !strings.Contains(r.err, "certificate") {
		t.Fatalf("sync without --tls-ca: %+v", r)
	}
	if r := sluice(t, dev, "", "sync", "--no-index", "--from", url, "--tls-ca", cert); r.code != 0 {
		t.Fatalf("sync --tls-ca: %+v", r)
	}
	checkPulled(t, dev, srv, nil)
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certPath, keyPath
}

// TestTokenCommands: token add prints a token once, list shows names and
// scopes (never tokens), revoke removes it; bad names and scopes are usage
// errors.
func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	tok := strings.TrimSpace(ok(t, dir, "", "token", "add", "phone", "--scope", "user:1", "--scope", "user:2"))
	if !strings.HasPrefix(tok, "slc_") {
		t.Fatalf("token %q", tok)
	}
	list := ok(t, dir, "", "token", "list", "--json")
	if !strings.Contains(list, `"name": "phone"`) || !strings.Contains(list, `"user:2"`) || strings.Contains(list, tok) {
		t.Fatalf("list: %s", list)
	}
	if r := sluice(t, dir, "", "token", "add", "phone"); r.code != 1 || !strings.Contains(r.err, "exists") {
		t.Fatalf("the same name again: %+v", r)
	}
	if r := sluice(t, dir, "", "token", "add", "x", "--scope", "a b"); r.code != 2 {
		t.Fatalf("a bad scope: %+v", r)
	}
	if r := sluice(t, dir, "", "token", "add"); r.code != 2 {
		t.Fatalf("no name: %+v", r)
	}
	ok(t, dir, "", "token", "revoke", "phone")
	if list := ok(t, dir, "", "token", "list", "--json"); strings.TrimSpace(list) != "[]" {
		t.Fatalf("list after revoke: %s", list)
	}
	if r := sluice(t, dir, "", "token", "revoke", "phone"); r.code != 1 {
		t.Fatalf("revoke twice: %+v", r)
	}
}

// TestSyncReplacedServer: a server replaced by another node at the same
// address is refused with an error saying what to do; after sync --forget
// it is pulled as a new peer, and the entries of the old one stay.
func TestSyncReplacedServer(t *testing.T) {
	a, b, dev := t.TempDir(), t.TempDir(), t.TempDir()
	writeBatches(t, a, ssbtest.Generate(ssbtest.Options{Seed: 20, Messages: 50, Authors: 2}), 10)
	writeBatches(t, b, ssbtest.Generate(ssbtest.Options{Seed: 21, Messages: 30, Authors: 2}), 10)
	sa, url := serveNode(t, a, "", "--no-index")
	ok(t, dev, "", "sync", "--no-index", "--from", url)
	sa.stop(t)
	sb, _ := serveNode(t, b, strings.TrimPrefix(url, "http://"), "--no-index")
	defer sb.stop(t)
	r := sluice(t, dev, "", "sync", "--no-index")
	if r.code != 1 || !strings.Contains(r.err, "node_mismatch") || !strings.Contains(r.err, "sluice sync --forget") {
		t.Fatalf("sync from the replaced server: %+v", r)
	}
	if _, got := readLog(t, dev); len(got) != 50 {
		t.Fatalf("the refused sync changed the log: %d entries", len(got))
	}
	if r := sluice(t, dev, "", "sync", "--forget", "http://127.0.0.1:1"); r.code != 1 {
		t.Fatalf("forget an unknown peer: %+v", r)
	}
	ok(t, dev, "", "sync", "--forget", url)
	ok(t, dev, "", "sync", "--no-index", "--from", url)
	if _, got := readLog(t, dev); len(got) != 80 {
		t.Fatalf("after forgetting and pulling the new server: %d entries, want 50 + 30", len(got))
	}
}
