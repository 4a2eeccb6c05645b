package log

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
)

// NodeID identifies a log: a random 16-byte id chosen when the log is
// created (or when a format 1 log is first opened for writing) and kept in
// its NODE file. The zero NodeID means "no node": a format 1 log that no
// writer has upgraded yet, or "this node" in a Record's Author.
type NodeID [16]byte

// String returns the id as 32 lower-case hex digits.
func (n NodeID) String() string { return hex.EncodeToString(n[:]) }

// IsZero reports whether n is the zero NodeID.
func (n NodeID) IsZero() bool { return n == NodeID{} }

// ParseNodeID is the inverse of NodeID.String: exactly 32 hex digits.
func ParseNodeID(s string) (NodeID, error) {
	var n NodeID
	if len(s) != 2*len(n) {
		return n, fmt.Errorf("parse node id %q: want %d hex digits, got %d characters", s, 2*len(n), len(s))
	}
	if _, err := hex.Decode(n[:], []byte(s)); err != nil {
		return NodeID{}, fmt.Errorf("parse node id %q: %w", s, err)
	}
	return n, nil
}

func newNodeID() (NodeID, error) {
	var n NodeID
	if _, err := rand.Read(n[:]); err != nil {
		return n, fmt.Errorf("make node id: %w", err)
	}
	if n.IsZero() { // 2^-128; the zero id means "none"
		n[0] = 1
	}
	return n, nil
}

// ID identifies an entry everywhere: the node that first appended it and
// its seq in that node's log. An entry keeps its ID when it is replicated,
// so a node that receives it by two paths can tell it is the same entry.
type ID struct {
	Node NodeID
	Seq  Seq
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// String returns "NODE/SEQ", NODE in hex.
func (id ID) String() string { return id.Node.String() + "/" + strconv.FormatUint(uint64(id.Seq), 10) }

// invalid reports why id cannot name an entry ("" if it can): a zero node
// with a non-zero seq, or a node with seq 0.
func (id ID) invalid() string {
	switch {
	case id.Node.IsZero() && id.Seq != 0:
		return fmt.Sprintf("seq %d without a node", id.Seq)
	case !id.Node.IsZero() && id.Seq == 0:
		return fmt.Sprintf("node %s with seq 0 (seqs start at 1)", id.Node)
	}
	return ""
}
