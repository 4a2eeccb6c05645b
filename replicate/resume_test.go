package replicate

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// cutWriter passes at most budget bytes of a response, then aborts the
// connection: what a server killed mid-stream looks like to a client.
type cutWriter struct {
	http.ResponseWriter
	budget int
}

func (w *cutWriter) Write(b []byte) (int, error) {
	if len(b) <= w.budget {
		w.budget -= len(b)
		return w.ResponseWriter.Write(b)
	}
	w.ResponseWriter.Write(b[:w.budget])
	w.budget = 0
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler)
}

func (w *cutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestResumeAfterCuts: the server's stream is cut at a random byte, again
// and again, and each time a new Client (as after a restart) resumes from
// what the log and the state file say: in the end the device holds every
// entry the token may read exactly once, in the server's order.
func TestResumeAfterCuts(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	srv := openLog(t)
	next := 0
	for b := 0; b < 300; b++ {
		n := 1 + rng.IntN(8)
		appendBatch(t, srv, next, n, func(i int) string {
			if i%5 == 0 {
				return "user:2" // not for the device
			}
			return ""
		})
		next += n
	}
	store := OpenTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
	tok, err := store.Add("device", []string{"user:1"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(srv, ServerOptions{Tokens: store})
	if err != nil {
		t.Fatal(err)
	}
	var cuts atomic.Int64
	budget := func() int { return 1 + rng.IntN(4000) }
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/entries" {
			cuts.Add(1)
			w = &cutWriter{ResponseWriter: w, budget: budget()}
		}
		s.ServeHTTP(w, r)
	}))
	dev := openLog(t)
	state := filepath.Join(t.TempDir(), "peers.json")
	var lastErr error
	for attempt := 0; attempt < 500; attempt++ {
		c, err := NewClient(dev, ClientOptions{StatePath: state})
		if err != nil {
			t.Fatal(err)
		}
		_, lastErr = c.Pull(ctx, Peer{URL: url, Token: tok})
		c.Close()
		if lastErr == nil {
			break
		}
		if !errors.Is(lastErr, ErrBadStream) {
			t.Fatalf("attempt %d: %v", attempt, lastErr)
		}
	}
	if lastErr != nil {
		t.Fatalf("no complete pull in 500 attempts: %v", lastErr)
	}
	if cuts.Load() < 10 {
		t.Fatalf("only %d streams: the cuts did not exercise resuming", cuts.Load())
	}
	got := entries(t, dev)
	noDuplicates(t, got)
	checkMirror(t, got, entries(t, srv), srv.Node(), func(e log.Entry) bool { return e.Scope != "user:2" })
	t.Logf("%d streams, %d entries", cuts.Load(), len(got))
}
