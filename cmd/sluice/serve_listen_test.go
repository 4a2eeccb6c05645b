package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBusyPort: serve on a port in use fails before it creates or
// opens DIR.
func TestServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "new")
	r := sluice(t, dir, "", "serve", "--listen", ln.Addr().String())
	if r.code != 1 || !strings.Contains(r.err, "address already in use") {
		t.Fatalf("serve on a busy port: %+v", r)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("serve on a busy port left %s behind (%v)", dir, err)
	}
}

// TestDialable: the address serve writes to --addr-file and prints can be
// dialled: a listener on every interface is reached on 127.0.0.1.
func TestDialable(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 7070}, "127.0.0.1:7070"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 7071}, "127.0.0.1:7071"},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7072}, "127.0.0.1:7072"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 7073}, "[::1]:7073"},
	} {
		if got := dialable(c.addr); got != c.want {
			t.Errorf("dialable(%v) = %s, want %s", c.addr, got, c.want)
		}
	}
}
