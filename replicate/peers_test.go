package replicate

import (
	"context"
	"path/filepath"
	"testing"
)

// TestPeerRememberedAfterContact: a peer is written to the state file only
// once it answered: a mistyped first URL (nothing listens there) is not
// remembered, so a later sync neither pulls from it nor sends it tasks.
func TestPeerRememberedAfterContact(t *testing.T) {
	server := openLog(t)
	appendBatch(t, server, 0, 3, nil)
	good, _ := serveLog(t, server, ServerOptions{})
	typo := "http://127.0.0.1:1" // nothing listens on port 1
	state := filepath.Join(t.TempDir(), "peers.json")
	device := openLog(t)

	c := newClient(t, device, ClientOptions{StatePath: state})
	if err := c.AddPeer(Peer{URL: typo, Token: "slc_x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(context.Background(), Peer{URL: typo, Token: "slc_x"}); err == nil {
		t.Fatal("pull from a port nothing listens on worked")
	}
	if _, err := c.Pull(context.Background(), Peer{URL: good}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	peers, _, err := ReadPeers(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 || peers[0].URL != good || peers[0].Node != server.Node() {
		t.Fatalf("state file holds %+v, want only %s (node %s)", peers, good, server.Node())
	}
	if got := newClient(t, device, ClientOptions{StatePath: state}).Peers(); len(got) != 1 || got[0].URL != good {
		t.Fatalf("a new client knows %+v, want only %s", got, good)
	}
}
