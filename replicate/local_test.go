package replicate

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestLocalAppend: records sent through the local socket are appended in
// one Append, in order, with their origin and scope, and their seqs come
// back; a refused record appends nothing; with no writer listening the
// error says so.
func TestLocalAppend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLogAt(t, filepath.Join(dir, "log"))
	sock := filepath.Join(dir, LocalSocketName)
	if _, err := AppendLocal(ctx, sock, log.SyncAlways, []log.Record{{Payload: []byte(`1`)}}); !errors.Is(err, ErrNoWriter) {
		t.Fatalf("no writer: err %v, want ErrNoWriter", err)
	}
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // a stale file
		t.Fatal(err)
	}
	ln, err := ListenLocal(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: LocalHandler(l)}
	go srv.Serve(ln)
	defer srv.Close()
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v, %v: want a socket of mode 0600", fi, err)
	}
	appendBatch(t, l, 0, 2, nil)
	recs := []log.Record{
		{Origin: log.Local, Payload: []byte(`{"a":1}`), Scope: "user:9"},
		{Origin: log.Remote, Payload: []byte{0xff, 0xfe}},
		{Origin: log.Local, Payload: []byte(`"x"`)},
	}
	seqs, err := AppendLocal(ctx, sock, log.SyncAlways, recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 3 || seqs[0] != 3 || seqs[2] != 5 {
		t.Fatalf("seqs %v, want 3..5", seqs)
	}
	got := entries(t, l)[2:]
	for i, r := range recs {
		if got[i].Origin != r.Origin || got[i].Scope != r.Scope || !bytes.Equal(got[i].Payload, r.Payload) {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], r)
		}
	}
	for _, bad := range [][]log.Record{
		{{Origin: log.Local, Payload: []byte(`1`)}, {Origin: log.Local, Payload: nil}},
		{{Origin: log.Local, Payload: []byte(`1`), Scope: "has space"}},
	} {
		_, err := AppendLocal(ctx, sock, log.SyncAlways, bad)
		if err == nil || !strings.Contains(err.Error(), "append through the writer") {
			t.Fatalf("bad records: err %v", err)
		}
	}
	if last, _ := l.Last(); last != 5 {
		t.Fatalf("refused appends changed the log: last %d", last)
	}
}

// TestTokenStore: a token is shown once and stored hashed (mode 0600);
// lookups find it until it is revoked; names and scopes are checked.
func TestTokenStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replicate", "tokens.json")
	s := OpenTokenStore(path)
	if empty, err := s.Empty(); err != nil || !empty {
		t.Fatalf("a store with no file: empty %v, %v", empty, err)
	}
	tok, err := s.Add("phone", []string{"user:2", "user:1", "user:2"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) < 40 {
		t.Fatalf("token %q", tok)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(tok)) || bytes.Contains(b, []byte(tok[len(TokenPrefix):])) {
		t.Fatal("the token file holds the token itself")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	// Another store on the same file (another process) sees it.
	other := OpenTokenStore(path)
	got, ok, err := other.Lookup(tok)
	if err != nil || !ok || got.Name != "phone" || strings.Join(got.Scopes, ",") != "user:1,user:2" {
		t.Fatalf("lookup: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := other.Lookup(tok + "x"); ok {
		t.Fatal("a wrong token was found")
	}
	if _, err := s.Add("phone", nil); !errors.Is(err, ErrTokenExists) {
		t.Fatalf("same name again: %v", err)
	}
	for _, bad := range []struct {
		name   string
		scopes []string
	}{{"", nil}, {"has space", nil}, {"ok", []string{""}}, {"ok", []string{"user 1"}}} {
		if _, err := s.Add(bad.name, bad.scopes); err == nil {
			t.Fatalf("Add(%q, %q): no error", bad.name, bad.scopes)
		}
	}
	if err := s.Revoke("phone"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := other.Lookup(tok); ok {
		t.Fatal("a revoked token was found")
	}
	if err := s.Revoke("phone"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("revoke twice: %v", err)
	}
}
