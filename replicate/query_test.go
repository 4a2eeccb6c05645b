package replicate

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// liveFixture is a node answering live queries: a log, two KV views (pub
// in pub.db, priv in priv.db, both indexing every entry), an indexer
// following the log, and a Server with QueryHandler mounted at /v1/query,
// served on 127.0.0.1, its tokens in store.
type liveFixture struct {
	l      *log.Log
	ix     *index.Indexer
	srv    *Server
	store  *TokenStore
	url    string
	tokens map[string]string // name → secret

	mu   sync.Mutex
	runs []query.Result // every run of a live query (LiveOptions.OnRun)
	ran  chan struct{}  // closed and replaced on every run
}

func newLiveFixture(t *testing.T, heartbeat time.Duration) *liveFixture {
	t.Helper()
	dir := t.TempDir()
	f := &liveFixture{l: openLogAt(t, filepath.Join(dir, "log")), store: OpenTokenStore(filepath.Join(dir, "tokens.json")), tokens: map[string]string{}, ran: make(chan struct{})}
	if err := os.Mkdir(filepath.Join(dir, "views"), 0o755); err != nil {
		t.Fatal(err)
	}
	var files []*view.File
	var paths []string
	for _, name := range []string{"pub", "priv"} {
		p := filepath.Join(dir, "views", name+".db")
		vf, err := view.OpenFile(p, []view.View{&viewtest.KV{ViewName: name, ViewVersion: 1}}, view.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vf.Close() })
		files, paths = append(files, vf), append(paths, p)
	}
	var err error
	if f.ix, err = index.New(f.l, files, index.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.ix.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	db, err := query.Open(paths, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	live, err := query.NewLive(db, query.LiveOptions{Notifier: f.ix, OnRun: f.record})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close(); db.Close() })
	for _, tok := range []struct {
		name          string
		scopes, views []string
	}{
		{"pub", []string{"user:1"}, []string{"pub"}},
		{"none", []string{"user:1"}, nil},
		{"every-entry", []string{AllScopes}, nil},
		{"every-view", nil, []string{AllViews}},
	} {
		secret, err := f.store.AddWithViews(tok.name, tok.scopes, tok.views)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[tok.name] = secret
	}
	f.srv, err = NewServer(f.l, ServerOptions{Tokens: f.store, Heartbeat: heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close() })
	mux := http.NewServeMux()
	mux.Handle("/v1/query", f.srv.QueryHandler(db, live))
	mux.Handle("/", f.srv)
	f.url = serve(t, mux)
	return f
}

func (f *liveFixture) record(_ *query.Subscription, r *query.Result, _ bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, *r)
	close(f.ran)
	f.ran = make(chan struct{})
}

// waitRun waits (30 s at most) for a run of a live query over view that
// reflects seq.
func (f *liveFixture) waitRun(t *testing.T, view string, seq log.Seq) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		f.mu.Lock()
		ch := f.ran
		for _, r := range f.runs {
			if r.Shows(view, seq) {
				f.mu.Unlock()
				return
			}
		}
		f.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no run of a live query over %s showing seq %d within 30 s", view, seq)
		}
	}
}

// put appends {"k": k, "v": v} as a local entry of scope and waits until
// the views show it.
func (f *liveFixture) put(t *testing.T, k, v, scope string) log.Seq {
	t.Helper()
	seqs, err := f.l.Append(context.Background(), log.Record{Origin: log.Local, Payload: viewtest.Payload(k, v), Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.ix.WaitFor(ctx, seqs[0]); err != nil {
		t.Fatal(err)
	}
	return seqs[0]
}

// request is GET /v1/query with sql and args, and the token named (none
// for "").
func (f *liveFixture) request(ctx context.Context, t *testing.T, token, sql string, args ...string) *http.Request {
	t.Helper()
	q := url.Values{"sql": {sql}, "arg": args}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/v1/query?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[token])
	}
	return req
}

// sse is one Server-Sent Event, or a comment line (comment set).
type sse struct {
	comment        string
	id, name, data string
}

// events reads the events of an answer as they come; the channel closes
// at its end.
func events(body interface{ Read([]byte) (int, error) }) <-chan sse {
	ch := make(chan sse, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sse{}) {
					ch <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, ":"):
				ch <- sse{comment: strings.TrimSpace(line[1:])}
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					ev.id = v
				case "event":
					ev.name = v
				case "data":
					ev.data = v
				}
			}
		}
	}()
	return ch
}

// nextEvent returns the next event that is not a heartbeat (30 s at most).
func nextEvent(t *testing.T, ch <-chan sse) sse {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if ev.comment != "heartbeat" {
				return ev
			}
		case <-deadline:
			t.Fatal("no event within 30 s")
		}
	}
}

// resultData is the data of a result event (query.Result's JSON).
type resultData struct {
	N     uint64  `json:"n"`
	Rows  [][]any `json:"rows"`
	Views []struct {
		View  string  `json:"view"`
		Since log.Seq `json:"since"`
	} `json:"views"`
}

// checkResult fails unless ev is result n with the one-value rows want,
// reflecting view pub up to since.
func checkResult(t *testing.T, ev sse, n int, since log.Seq, want ...string) {
	t.Helper()
	var d resultData
	if ev.name != "result" || json.Unmarshal([]byte(ev.data), &d) != nil {
		t.Fatalf("got %+v, want a result event", ev)
	}
	var rows []string
	for _, r := range d.Rows {
		rows = append(rows, r[0].(string))
	}
	if ev.id != strconv.Itoa(n) || int(d.N) != n || strings.Join(rows, ",") != strings.Join(want, ",") ||
		len(d.Views) != 1 || d.Views[0].View != "pub" || d.Views[0].Since != since {
		t.Fatalf("got %+v\nwant result %d with rows %v, pub since %d", ev, n, want, since)
	}
}

// TestQueryAccess: who may query what, each refusal answered before the
// query starts, with the status and error code of the rest of the server.
func TestQueryAccess(t *testing.T) {
	f := newLiveFixture(t, time.Second)
	f.put(t, "a", "1", "user:2")
	for _, c := range []struct {
		token, sql string
		status     int
		code       string
	}{
		{"", `SELECT v FROM pub_kv`, 401, codeUnauthorized},
		{"none", `SELECT v FROM pub_kv`, 403, codeForbidden},
		{"pub", `SELECT v FROM priv_kv`, 403, codeForbidden},
		{"pub", `SELECT p.v FROM pub_kv p JOIN priv_kv q USING (k)`, 403, codeForbidden},
		{"pub", `SELECT v FROM pub_kv WHERE k IN (SELECT k FROM priv_kv)`, 403, codeForbidden},
		{"pub", `SELECT since FROM pub.sluice_views`, 403, codeForbidden},
		{"pub", `DELETE FROM pub_kv`, 400, codeBadRequest},
		{"pub", `SELECT nope FROM pub_kv`, 400, codeBadRequest},
		{"pub", ``, 400, codeBadRequest},
		{"pub", `SELECT v FROM pub_kv`, 200, ""},
		{"every-entry", `SELECT v FROM priv_kv`, 200, ""},
		{"every-entry", `SELECT since FROM pub.sluice_views`, 200, ""},
		{"every-view", `SELECT p.v FROM pub_kv p JOIN priv_kv q USING (k)`, 200, ""},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := http.DefaultClient.Do(f.request(ctx, t, c.token, c.sql))
		if err != nil {
			t.Fatal(err)
		}
		var body errorBody
		if c.status != 200 {
			json.NewDecoder(resp.Body).Decode(&body)
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != c.status || body.Code != c.code {
			t.Errorf("token %q, %q: %d %q (%s), want %d %q", c.token, c.sql, resp.StatusCode, body.Code, body.Message, c.status, c.code)
		}
		if c.status == 200 && resp.Header.Get("Content-Type") != ContentTypeEventStream {
			t.Errorf("token %q, %q: Content-Type %q", c.token, c.sql, resp.Header.Get("Content-Type"))
		}
		if c.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	resp, err := http.Post(f.url+"/v1/query?sql=SELECT+1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

// TestQueryEvents follows a live query over Server-Sent Events: the first
// result at once, each change as the next event with the seq it reflects,
// no event for an entry that leaves the result as it was (its run is seen
// first), heartbeats while idle; a client that goes away leaves no stream
// and no goroutine; a revoked token and a stopping server end the stream
// with an error event.
func TestQueryEvents(t *testing.T) {
	f := newLiveFixture(t, 50*time.Millisecond)
	s1 := f.put(t, "a", "1", "")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	resp, err := client.Do(f.request(ctx, t, "pub", `SELECT v FROM pub_kv WHERE k = ?`, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ch := events(resp.Body)
	if ev := nextEvent(t, ch); ev.comment != "sluice live query, reading pub" {
		t.Fatalf("first event %+v, want the comment naming the views read", ev)
	}
	checkResult(t, nextEvent(t, ch), 1, s1, "1")
	s2 := f.put(t, "a", "2", "user:2") // another user's entry: the view shows it
	checkResult(t, nextEvent(t, ch), 2, s2, "2")
	s3 := f.put(t, "b", "9", "")
	f.waitRun(t, "pub", s3) // run, not delivered: the next event is the next change
	s4 := f.put(t, "a", "3", "")
	checkResult(t, nextEvent(t, ch), 3, s4, "3")
	deadline := time.After(30 * time.Second)
	for ev := range ch {
		if ev.comment == "heartbeat" {
			break
		}
		select {
		case <-deadline:
			t.Fatal("no heartbeat within 30 s")
		default:
		}
		t.Fatalf("got %+v while idle, want a heartbeat", ev)
	}

	cancel() // the client goes away
	resp.Body.Close()
	for range ch {
	}
	client.CloseIdleConnections()
	waitFor(t, "no stream open and the goroutines back to their count", func() bool {
		return f.srv.Streams() == 0 && runtime.NumGoroutine() <= before
	})

	// A revoked token: an error event at the next heartbeat.
	resp, err = client.Do(f.request(context.Background(), t, "every-view", `SELECT v FROM pub_kv`))
	if err != nil {
		t.Fatal(err)
	}
	ch = events(resp.Body)
	nextEvent(t, ch) // the comment
	nextEvent(t, ch) // the first result
	if err := f.store.Revoke("every-view"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch); ev.name != "error" || !strings.Contains(ev.data, `"error":"unauthorized"`) || !strings.Contains(ev.data, "revoked") {
		t.Fatalf("after the revocation: %+v, want an error event", ev)
	}
	resp.Body.Close()

	// A stopping server.
	resp, err = client.Do(f.request(context.Background(), t, "pub", `SELECT v FROM pub_kv`))
	if err != nil {
		t.Fatal(err)
	}
	ch = events(resp.Body)
	nextEvent(t, ch)
	nextEvent(t, ch)
	f.srv.Close()
	if ev := nextEvent(t, ch); ev.name != "error" || !strings.Contains(ev.data, "stopping") {
		t.Fatalf("after Close: %+v, want an error event", ev)
	}
	resp.Body.Close()
}

// waitFor waits (10 s at most) until cond holds, failing the test with
// the goroutines' stacks otherwise.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("not %s within 10 s; %d goroutines:\n%s", what, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}
