package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/log"
)

// Peer is a node to pull from.
type Peer struct {
	// URL is where the peer serves its log: the base its /v1/... paths
	// hang off, such as http://127.0.0.1:7070.
	URL string `json:"url"`
	// Token is sent as Authorization: Bearer TOKEN, if set.
	Token string `json:"token,omitempty"`
}

// PeerStatus is what a client knows of a peer.
type PeerStatus struct {
	Peer
	// Node is the peer's node id, zero until the first contact.
	Node log.NodeID `json:"-"`
	// Position is the seq of the peer's log this node has pulled up to:
	// every entry up to it that it may read is in the local log (or was
	// there already).
	Position log.Seq `json:"position"`
	// Last is the peer's last seq, as last heard from it.
	Last log.Seq `json:"last"`
	// LastContact is when the peer last sent anything.
	LastContact time.Time `json:"last_contact,omitzero"`
	// LastError is the last pull's error, "" once a pull succeeds or
	// makes progress since.
	LastError string    `json:"last_error,omitempty"`
	ErrorTime time.Time `json:"error_time,omitzero"`
	// Connected says a stream from the peer is open now.
	Connected bool `json:"connected,omitempty"`
	// Pulled and Bytes count the entries and record bytes appended from
	// the peer, and Skipped those it sent that the log held already, since
	// the client started.
	Pulled  int64 `json:"-"`
	Bytes   int64 `json:"-"`
	Skipped int64 `json:"-"`
}

// Behind is how many entries the peer has past Position (an upper bound
// of what is left to pull: some may not be for this node, or be held).
func (p PeerStatus) Behind() log.Seq {
	if p.Last > p.Position {
		return p.Last - p.Position
	}
	return 0
}

// peerJSON is a peer in the state file.
type peerJSON struct {
	PeerStatus
	NodeHex string `json:"node,omitempty"`
}

// stateFile is the JSON of a client's state file (DIR/replicate/peers.json).
type stateFile struct {
	// Node is the local log's node: a state file beside another log (a
	// copied directory) is not trusted.
	Node  string     `json:"node"`
	Saved time.Time  `json:"saved"`
	Peers []peerJSON `json:"peers"`
}

// ReadPeers returns the peers in a client's state file (see
// ClientOptions.StatePath) and the node id of the log it belongs to, for
// status displays in other processes. A missing file holds no peer.
func ReadPeers(path string) ([]PeerStatus, log.NodeID, error) {
	f, err := readState(path)
	if err != nil || f == nil {
		return nil, log.NodeID{}, err
	}
	node, _ := log.ParseNodeID(f.Node)
	out := make([]PeerStatus, len(f.Peers))
	for i, p := range f.Peers {
		out[i] = p.PeerStatus
		out[i].Node, _ = log.ParseNodeID(p.NodeHex)
	}
	return out, node, nil
}

func readState(path string) (*stateFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read peers: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read peers %s: %w", path, err)
	}
	return &f, nil
}

// writeState replaces the state file (mode 0600: it holds tokens).
func writeState(path string, node log.NodeID, peers []PeerStatus) error {
	f := stateFile{Node: node.String(), Saved: time.Now().UTC()}
	for _, p := range peers {
		if p.Node.IsZero() {
			// Never answered (a mistyped URL, a server down, a refused
			// token): a peer is remembered from its first successful
			// contact only, or a later sync would pull from it, and send
			// it tasks, forever.
			continue
		}
		pj := peerJSON{PeerStatus: p, NodeHex: p.Node.String()}
		pj.Connected = false
		f.Peers = append(f.Peers, pj)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write peers: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write peers: %w", err)
	}
	return nil
}
