package replicate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// openLog opens (creating) a log in a new temporary directory.
func openLog(t *testing.T) *log.Log {
	t.Helper()
	return openLogAt(t, filepath.Join(t.TempDir(), "log"))
}

func openLogAt(t *testing.T, dir string) *log.Log {
	t.Helper()
	l, err := log.Open(dir, log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendBatch appends one call of n records with payloads {"i":N,...},
// scoped by scope(i) ("" for none).
func appendBatch(t *testing.T, l *log.Log, first, n int, scope func(i int) string) []log.Seq {
	t.Helper()
	recs := make([]log.Record, n)
	for k := range recs {
		i := first + k
		recs[k] = log.Record{Origin: log.Origin(i % 2), Payload: []byte(fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, bytes.Repeat([]byte("x"), i%50)))}
		if scope != nil {
			recs[k].Scope = scope(i)
		}
	}
	seqs, err := l.Append(context.Background(), recs...)
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// serve serves h on 127.0.0.1 and returns its URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// serveLog serves l with a Server and returns its URL.
func serveLog(t *testing.T, l Source, opts ServerOptions) (string, *Server) {
	t.Helper()
	s, err := NewServer(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return serve(t, s), s
}

func newClient(t *testing.T, l *log.Log, opts ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// entries returns every entry of src.
func entries(t *testing.T, src log.Source) []log.Entry {
	t.Helper()
	it, err := src.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []log.Entry
	for it.Next() {
		e := it.Entry()
		e.Payload = bytes.Clone(e.Payload)
		out = append(out, e)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkMirror checks that got holds exactly the entries of want that keep
// says to keep, in want's order, once each, as pulled from the node of
// want's log (peer): same ID, payload, scope, remote, with Via set when
// peer is not the author.
func checkMirror(t *testing.T, got []log.Entry, want []log.Entry, peer log.NodeID, keep func(log.Entry) bool) {
	t.Helper()
	i := 0
	for _, w := range want {
		if keep != nil && !keep(w) {
			continue
		}
		if i >= len(got) {
			t.Fatalf("the pulled log ends after %d entries; the peer's seq %d (%s) is missing", len(got), w.Seq, w.ID)
		}
		g := got[i]
		wantVia := log.ID{}
		if w.ID.Node != peer {
			wantVia = log.ID{Node: peer, Seq: w.Seq}
		}
		if g.ID != w.ID || g.Via != wantVia || g.Scope != w.Scope || g.Origin != log.Remote || !bytes.Equal(g.Payload, w.Payload) {
			t.Fatalf("pulled entry %d (seq %d): id %s via %s scope %q origin %s payload %q; want the peer's seq %d: id %s via %s scope %q remote payload %q",
				i+1, g.Seq, g.ID, g.Via, g.Scope, g.Origin, g.Payload, w.Seq, w.ID, wantVia, w.Scope, w.Payload)
		}
		i++
	}
	if i != len(got) {
		t.Fatalf("the pulled log holds %d entries, want %d: %s is extra", len(got), i, got[i].ID)
	}
}

// noDuplicates fails if an ID appears twice in es.
func noDuplicates(t *testing.T, es []log.Entry) {
	t.Helper()
	seen := map[log.ID]log.Seq{}
	for _, e := range es {
		if s, ok := seen[e.ID]; ok {
			t.Fatalf("entry %s is in the log twice: seqs %d and %d", e.ID, s, e.Seq)
		}
		seen[e.ID] = e.Seq
	}
}

func isPeerError(t *testing.T, err error, url string) *PeerError {
	t.Helper()
	var pe *PeerError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *PeerError", err, err)
	}
	if pe.Peer != url {
		t.Fatalf("error names peer %q, want %q: %v", pe.Peer, url, err)
	}
	return pe
}

// switchHandler serves whatever handler was set last.
type switchHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *switchHandler) set(h http.Handler) {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
}

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}
