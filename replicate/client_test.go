package replicate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// TestPull: a device pulls a server's log (batches, scopes, local and
// remote entries, and entries the server replicated from a third node)
// into an empty log: the same entries in the same order, remote, with their
// IDs, and Via naming the server for those it did not author. Pulling again
// appends nothing; entries appended since are pulled next time.
func TestPull(t *testing.T) {
	ctx := context.Background()
	srv := openLog(t)
	third := log.NodeID{0x33}
	for b := 0; b < 30; b++ {
		appendBatch(t, srv, b*10, 1+b%5, func(i int) string {
			if i%7 == 0 {
				return fmt.Sprintf("user:%d", i%3)
			}
			return ""
		})
	}
	// Entries the server pulled from a third node.
	if _, err := srv.Append(ctx, log.Record{Payload: []byte(`{"third":1}`), Author: log.ID{Node: third, Seq: 9}},
		log.Record{Payload: []byte(`{"third":2}`), Author: log.ID{Node: third, Seq: 10}, Via: log.ID{Node: log.NodeID{0x44}, Seq: 3}}); err != nil {
		t.Fatal(err)
	}
	url, _ := serveLog(t, srv, ServerOptions{})
	dev := openLog(t)
	c := newClient(t, dev, ClientOptions{})
	st, err := c.Pull(ctx, Peer{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	want := entries(t, srv)
	checkMirror(t, entries(t, dev), want, srv.Node(), nil)
	if st.Entries != int64(len(want)) || st.From != 0 || st.To != want[len(want)-1].Seq || st.Skipped != 0 {
		t.Fatalf("stats %+v, want %d entries from 0 to %d", st, len(want), want[len(want)-1].Seq)
	}

	st, err = c.Pull(ctx, Peer{URL: url})
	if err != nil || st.Entries != 0 || st.Skipped != 0 {
		t.Fatalf("second pull: %+v, %v; want nothing", st, err)
	}
	appendBatch(t, srv, 1000, 3, nil)
	// A new client (as after a restart) finds its position in the log.
	c2 := newClient(t, dev, ClientOptions{})
	st, err = c2.Pull(ctx, Peer{URL: url})
	if err != nil || st.Entries != 3 || st.Skipped != 0 {
		t.Fatalf("pull after 3 more: %+v, %v", st, err)
	}
	checkMirror(t, entries(t, dev), entries(t, srv), srv.Node(), nil)
}

// TestFollow: a following client gets each new entry as the server appends
// it, a batch in one Append; cancelling its context ends Follow with nil.
func TestFollow(t *testing.T) {
	srv := openLog(t)
	appendBatch(t, srv, 0, 10, nil)
	url, _ := serveLog(t, srv, ServerOptions{Heartbeat: 50 * time.Millisecond})
	dev := openLog(t)
	appended := make(chan AppendInfo, 100)
	c := newClient(t, dev, ClientOptions{OnAppend: func(a AppendInfo) {
		a.PeerSeqs = append([]log.Seq(nil), a.PeerSeqs...)
		appended <- a
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caughtUp := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() { done <- c.Follow(ctx, Peer{URL: url}, func() { caughtUp <- struct{}{} }) }()
	<-caughtUp
	pulled := 0
	for pulled < 10 {
		a := <-appended
		pulled += len(a.PeerSeqs)
	}
	for round := 0; round < 5; round++ {
		seqs := appendBatch(t, srv, 100*round, 1+round, nil)
		select {
		case a := <-appended:
			if len(a.PeerSeqs) != len(seqs) || a.PeerSeqs[0] != seqs[0] {
				t.Fatalf("round %d: appended peer seqs %v, want %v in one Append", round, a.PeerSeqs, seqs)
			}
		case err := <-done:
			t.Fatalf("Follow returned: %v", err)
		case <-ctx.Done():
			t.Fatalf("round %d: nothing pulled", round)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow after cancel: %v", err)
	}
	checkMirror(t, entries(t, dev), entries(t, srv), srv.Node(), nil)
}

// TestTwoPaths: node B pulls A's log and appends its own entries; a device
// pulls from A and from B, in both orders and at once: every entry once.
// A's entries coming back to A through B are skipped.
func TestTwoPaths(t *testing.T) {
	ctx := context.Background()
	a, b := openLog(t), openLog(t)
	appendBatch(t, a, 0, 20, nil)
	urlA, _ := serveLog(t, a, ServerOptions{})
	cb := newClient(t, b, ClientOptions{})
	appendBatch(t, b, 500, 5, nil)
	if _, err := cb.Pull(ctx, Peer{URL: urlA}); err != nil {
		t.Fatal(err)
	}
	appendBatch(t, a, 20, 10, nil) // B does not have these
	appendBatch(t, b, 600, 5, nil)
	urlB, _ := serveLog(t, b, ServerOptions{})

	union := map[log.ID]bool{}
	for _, e := range append(entries(t, a), entries(t, b)...) {
		union[e.ID] = true
	}
	for _, order := range []string{"AB", "BA", "together"} {
		t.Run(order, func(t *testing.T) {
			dev := openLog(t)
			c := newClient(t, dev, ClientOptions{})
			pull := func(u string) {
				if _, err := c.Pull(ctx, Peer{URL: u}); err != nil {
					t.Error(err)
				}
			}
			switch order {
			case "AB":
				pull(urlA)
				pull(urlB)
			case "BA":
				pull(urlB)
				pull(urlA)
			default:
				done := make(chan struct{})
				go func() { pull(urlA); close(done) }()
				pull(urlB)
				<-done
			}
			got := entries(t, dev)
			noDuplicates(t, got)
			if len(got) != len(union) {
				t.Fatalf("device holds %d entries, want %d", len(got), len(union))
			}
			// Again, with a new client: nothing new.
			c2 := newClient(t, dev, ClientOptions{})
			for _, u := range []string{urlA, urlB} {
				if st, err := c2.Pull(ctx, Peer{URL: u}); err != nil || st.Entries != 0 {
					t.Fatalf("pull %s again: %+v, %v", u, st, err)
				}
			}
		})
	}
	// A pulling from B gets only B's own entries, not its own back.
	ca := newClient(t, a, ClientOptions{})
	st, err := ca.Pull(ctx, Peer{URL: urlB})
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 10 || st.Skipped != 20 {
		t.Fatalf("A pulling B: %+v, want 10 entries and 20 of A's own skipped", st)
	}
	noDuplicates(t, entries(t, a))
}

// TestReplacedPeer: a peer whose log was replaced (another node), cut back
// (it ends before the position pulled), or cut back and written again
// (another entry where the pulled one was) is refused with a clear error,
// and nothing is appended.
func TestReplacedPeer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srvDir := filepath.Join(dir, "srv")
	srv, err := log.Open(srvDir, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendBatch(t, srv, 0, 10, nil)
	srv.Close()
	copyDir(t, srvDir, filepath.Join(dir, "srv-at-10"))
	srv = openLogAt(t, srvDir)
	appendBatch(t, srv, 10, 10, nil)

	var handler switchHandler
	s, err := NewServer(srv, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	handler.set(s)
	url := serve(t, &handler)
	dev := openLog(t)
	c := newClient(t, dev, ClientOptions{StatePath: filepath.Join(dir, "peers.json")})
	if _, err := c.Pull(ctx, Peer{URL: url}); err != nil {
		t.Fatal(err)
	}
	before := entries(t, dev)

	other := openLogAt(t, filepath.Join(dir, "other"))
	appendBatch(t, other, 0, 30, nil)
	old := openLogAt(t, filepath.Join(dir, "srv-at-10"))
	for _, tc := range []struct {
		name string
		src  Source
		grow int
		want error
	}{
		{"replaced", other, 0, ErrNodeMismatch},
		{"cut back", old, 0, ErrCutBack},
		{"cut back and written again", old, 15, ErrDiverged},
	} {
		if tc.grow > 0 {
			appendBatch(t, old, 5000, tc.grow, nil)
		}
		s, err := NewServer(tc.src, ServerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		handler.set(s)
		// Also a new client, as after a restart.
		for i, cl := range []*Client{c, newClient(t, dev, ClientOptions{StatePath: filepath.Join(dir, "peers.json")})} {
			_, err = cl.Pull(ctx, Peer{URL: url})
			if !errors.Is(err, tc.want) {
				t.Fatalf("%s (client %d): err %v, want %v", tc.name, i, err, tc.want)
			}
			pe := isPeerError(t, err, url)
			if pe.Position != 20 || pe.Status != 409 {
				t.Fatalf("%s: %+v, want position 20, status 409", tc.name, pe)
			}
		}
		if got := entries(t, dev); len(got) != len(before) {
			t.Fatalf("%s: the device log grew from %d to %d entries", tc.name, len(before), len(got))
		}
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, de.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPullNoSync: pulled entries do not pay an fsync of their own on a log
// that syncs every Append (the durable mark stays where the device's own
// appends put it), the next local Append covers them, and a client with a
// state file syncs them before it saves positions past them.
func TestPullNoSync(t *testing.T) {
	ctx := context.Background()
	srv := openLog(t)
	appendBatch(t, srv, 0, 5, nil)
	url, _ := serveLog(t, srv, ServerOptions{})
	dir := t.TempDir()
	dev, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	if _, err := dev.Append(ctx, log.Record{Payload: []byte(`{"local":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, dev, ClientOptions{}).Pull(ctx, Peer{URL: url}); err != nil {
		t.Fatal(err)
	}
	if last, _ := dev.Last(); last != 6 || dev.Mark() != 1 {
		t.Fatalf("after the pull: last %d, mark %d; want 6 and 1 (pulled entries not synced one by one)", last, dev.Mark())
	}
	if _, err := dev.Append(ctx, log.Record{Payload: []byte(`{"local":2}`)}); err != nil {
		t.Fatal(err)
	}
	if m := dev.Mark(); m != 7 {
		t.Fatalf("mark after a local Append = %d, want 7", m)
	}
	appendBatch(t, srv, 100, 3, nil)
	c := newClient(t, dev, ClientOptions{StatePath: filepath.Join(dir, "peers.json")})
	if _, err := c.Pull(ctx, Peer{URL: url}); err != nil {
		t.Fatal(err)
	}
	if last, _ := dev.Last(); last != 10 || dev.Mark() != 10 {
		t.Fatalf("after a pull with a state file: last %d, mark %d; want both 10 (synced before the positions are saved)", last, dev.Mark())
	}
}
