package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestServeLiveQuery runs sluice serve with a SQL view and two tokens of
// user:1, one granted the view (token add --view): it receives the query's
// result as Server-Sent Events over 127.0.0.1, then the next one when
// sluice append (in another process, through the server's local socket)
// adds an entry of user 2; the other token is refused with 403, and no
// token with 401.
func TestServeLiveQuery(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`)
	granted := strings.TrimSpace(ok(t, dir, "", "token", "add", "dash", "--scope", "user:1", "--view", "kv"))
	other := strings.TrimSpace(ok(t, dir, "", "token", "add", "phone", "--scope", "user:1"))
	if list := ok(t, dir, "", "token", "list"); !strings.Contains(list, "dash") || !strings.Contains(list, "kv") {
		t.Errorf("token list does not show the view granted:\n%s", list)
	}
	if r := sluice(t, dir, "", "token", "add", "x", "--view", "a b"); r.code != 2 {
		t.Errorf("a bad view name: %+v, want exit 2", r)
	}
	srv, base := serveNode(t, dir, "", "--view", filepath.Join(dir, "kv.sql"))

	get := func(ctx context.Context, token string) *http.Response {
		t.Helper()
		u := base + "/v1/query?" + url.Values{"sql": {"SELECT k, v FROM kv ORDER BY seq"}}.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for token, status := range map[string]int{"": 401, other: 403} {
		resp := get(context.Background(), token)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("token %q: status %d, want %d", token, resp.StatusCode, status)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := get(ctx, granted)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	data := make(chan string, 10)
	go func() {
		defer close(data)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				data <- d
			}
		}
	}()
	next := func(want [][]any, since float64) {
		t.Helper()
		select {
		case d := <-data:
			var r struct {
				Rows  [][]any
				Views []struct{ Since float64 }
			}
			if err := json.Unmarshal([]byte(d), &r); err != nil || !reflect.DeepEqual(r.Rows, want) || len(r.Views) != 1 || r.Views[0].Since != since {
				t.Fatalf("event data %s, want rows %v since %v", d, want, since)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no event within 30 s")
		}
	}
	next([][]any{{"a", "x"}}, 1)
	runChild(t, dir, "append", "--scope", "user:2", "--json", `{"k":"b","v":"y"}`)
	next([][]any{{"a", "x"}, {"b", "y"}}, 2)
	cancel()
	srv.stop(t)
}
