package replicate

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// TestAnswers: the status and error answers of a server with tokens, for
// requests with no, a bad, and good tokens, and for cursors that do not
// fit the log.
func TestAnswers(t *testing.T) {
	srv := openLog(t)
	appendBatch(t, srv, 0, 10, func(i int) string { return fmt.Sprintf("user:%d", i%2) })
	store := OpenTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
	one, err := store.Add("one", []string{"user:1"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := store.Add("all", []string{AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	url, _ := serveLog(t, srv, ServerOptions{Tokens: store, OpenWhenEmpty: true})
	e5, err := srv.Get(5)
	if err != nil {
		t.Fatal(err)
	}
	check5 := fmt.Sprintf("&check=5&check_id=%s&check_sum=%08x", e5.ID, payloadSum(e5.Payload))
	node := srv.Node().String()
	cases := []struct {
		method, path, token string
		status              int
		code                string
	}{
		{"GET", "/v1/status", "", 401, "unauthorized"},
		{"GET", "/v1/status", "slc_nope", 401, "unauthorized"},
		{"GET", "/v1/status", one, 200, ""},
		{"GET", "/v1/entries", "", 401, "unauthorized"},
		{"GET", "/v1/entries", "slc_nope", 401, "unauthorized"},
		{"GET", "/v1/entries", one, 200, ""},
		{"GET", "/v1/entries?scope=user:1", one, 200, ""},
		{"GET", "/v1/entries?scope=user:0", one, 403, "forbidden"},
		{"GET", "/v1/entries?scope=user:0", all, 200, ""},
		{"GET", "/v1/entries?after=10", all, 200, ""},
		{"GET", "/v1/entries?after=11", all, 409, "cut_back"},
		{"GET", "/v1/entries?after=3&node=" + node, all, 200, ""},
		{"GET", "/v1/entries?after=3&node=" + strings.Repeat("ab", 16), all, 409, "node_mismatch"},
		{"GET", "/v1/entries?after=5" + check5, all, 200, ""},
		{"GET", "/v1/entries?after=5" + strings.Replace(check5, "check=5", "check=4", 1), all, 409, "diverged"},
		{"GET", "/v1/entries?after=5" + check5[:len(check5)-1] + "0", all, 409, "diverged"},
		{"GET", "/v1/entries?after=5" + check5, one, 409, "diverged"}, // seq 5 is user:0's (i=4)
		{"GET", "/v1/entries?after=x", all, 400, "bad_request"},
		{"GET", "/v1/entries?follow=maybe", all, 400, "bad_request"},
		{"GET", "/v1/entries?scope=has%20space", all, 400, "bad_request"},
		{"GET", "/v1/nothing", all, 404, "not_found"},
		{"POST", "/v1/entries", all, 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, url+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("%s %s: status %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.status, body)
		}
		if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s %s: 401 without WWW-Authenticate", tc.method, tc.path)
		}
		if tc.code != "" {
			var eb errorBody
			if err := json.Unmarshal(body, &eb); err != nil || eb.Code != tc.code || eb.Message == "" {
				t.Fatalf("%s %s: body %s, want error %q with a message", tc.method, tc.path, body, tc.code)
			}
		}
	}
	// Once every token is revoked, the server is open again (it listens
	// on loopback: OpenWhenEmpty).
	for _, n := range []string{"one", "all"} {
		if err := store.Revoke(n); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(url + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("no tokens left, open server: status %d", resp.StatusCode)
	}
}

// TestScopes: over a random log of scoped and unscoped entries, some of them
// replicated from another node, a token for user:1 pulls exactly the
// unscoped and user:1 entries, in order — never another scope's — through
// the client, and through the JSON lines form read like curl would.
func TestScopes(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	srv := openLog(t)
	other := log.NodeID{0x77}
	for b := 0; b < 400; b++ {
		n := 1 + rng.IntN(6)
		recs := make([]log.Record, n)
		for k := range recs {
			recs[k].Payload = []byte(fmt.Sprintf(`{"b":%d,"k":%d}`, b, k))
			if s := rng.IntN(5); s > 0 {
				recs[k].Scope = fmt.Sprintf("user:%d", s)
			}
			if rng.IntN(8) == 0 {
				recs[k].Author = log.ID{Node: other, Seq: log.Seq(b*10 + k + 1)}
			}
		}
		if rng.IntN(10) == 0 {
			recs[len(recs)-1].Payload = []byte{0xff, 0x00, 'x'} // not JSON
		}
		if _, err := srv.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	store := OpenTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
	tok, err := store.Add("phone", []string{"user:1"})
	if err != nil {
		t.Fatal(err)
	}
	url, _ := serveLog(t, srv, ServerOptions{Tokens: store})
	want := entries(t, srv)
	mine := func(e log.Entry) bool { return e.Scope == "" || e.Scope == "user:1" }

	dev := openLog(t)
	c := newClient(t, dev, ClientOptions{})
	if _, err := c.Pull(ctx, Peer{URL: url}); err == nil {
		t.Fatal("pull without a token: no error")
	}
	if n := len(entries(t, dev)); n != 0 {
		t.Fatalf("pull without a token appended %d entries", n)
	}
	st, err := c.Pull(ctx, Peer{URL: url, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, dev)
	checkMirror(t, got, want, srv.Node(), mine)
	if st.To != want[len(want)-1].Seq {
		t.Fatalf("position %d after the pull, want the server's last seq %d", st.To, want[len(want)-1].Seq)
	}

	// JSON lines, read as curl would.
	req, _ := http.NewRequest("GET", url+"/v1/entries?format=jsonl", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != ContentTypeJSONL {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var lines []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if lines[0]["type"] != "hello" || lines[0]["node"] != srv.Node().String() || lines[len(lines)-1]["type"] != "end" {
		t.Fatalf("first line %v, last %v", lines[0], lines[len(lines)-1])
	}
	i := 0
	for _, m := range lines {
		if m["type"] != "entry" {
			continue
		}
		for !mine(want[i]) {
			i++
		}
		w := want[i]
		i++
		var payload []byte
		if p, ok := m["payload"]; ok {
			payload, _ = json.Marshal(p)
		} else {
			payload, _ = base64.StdEncoding.DecodeString(m["payload_base64"].(string))
		}
		wantPayload := w.Payload
		if json.Valid(w.Payload) {
			var v any
			json.Unmarshal(w.Payload, &v)
			wantPayload, _ = json.Marshal(v)
		}
		if m["seq"] != float64(w.Seq) || m["id"] != w.ID.String() || string(payload) != string(wantPayload) || (m["scope"] != nil && m["scope"] != w.Scope) {
			t.Fatalf("line %v, want seq %d id %s scope %q payload %q", m, w.Seq, w.ID, w.Scope, w.Payload)
		}
		if m["scope"] != nil && m["scope"] != "user:1" {
			t.Fatalf("line %v: another scope", m)
		}
	}
	for ; i < len(want); i++ {
		if mine(want[i]) {
			t.Fatalf("the JSON lines miss seq %d", want[i].Seq)
		}
	}
}

// TestRevokeEndsStream: a following stream ends with an error frame at the
// next heartbeat once its token is revoked, and the client stops (it will
// not do without a new token).
func TestRevokeEndsStream(t *testing.T) {
	srv := openLog(t)
	appendBatch(t, srv, 0, 3, nil)
	store := OpenTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
	tok, err := store.Add("laptop", nil)
	if err != nil {
		t.Fatal(err)
	}
	url, _ := serveLog(t, srv, ServerOptions{Tokens: store, Heartbeat: 20 * time.Millisecond})
	dev := openLog(t)
	c := newClient(t, dev, ClientOptions{Backoff: [2]time.Duration{time.Millisecond, 10 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caughtUp := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() { done <- c.Follow(ctx, Peer{URL: url, Token: tok}, func() { caughtUp <- struct{}{} }) }()
	<-caughtUp
	if err := store.Revoke("laptop"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Follow ended with %v, want ErrUnauthorized (after the stream's revoked error, the reconnection is refused)", err)
		}
	case <-ctx.Done():
		t.Fatal("Follow did not stop after the token was revoked")
	}
	if _, err := os.Stat(store.Path()); err != nil {
		t.Fatal(err)
	}
}
