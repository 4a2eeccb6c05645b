package chaos

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
)

var (
	srvNode = log.NodeID{1}
	devNode = log.NodeID{2}
)

// entry is a hand-made log entry holding a workload item.
func entry(seq log.Seq, id log.ID, origin log.Origin, src string, n int64, scope string) log.Entry {
	p := fmt.Sprintf(`{"chaos":%q,"n":%d}`, src, n)
	if scope != "" {
		p = fmt.Sprintf(`{"chaos":%q,"n":%d,"scope":%q}`, src, n, scope)
	}
	return log.Entry{Seq: seq, ID: id, Origin: origin, Scope: scope, Payload: []byte(p)}
}

// rowsOf is the view a log calls for, written out by hand per entry.
func rowsOf(es []log.Entry) []Row {
	var rs []Row
	for _, e := range es {
		var it struct {
			Src   string `json:"chaos"`
			N     int64  `json:"n"`
			Scope string `json:"scope"`
		}
		if err := json.Unmarshal(e.Payload, &it); err != nil {
			panic(err)
		}
		rs = append(rs, Row{Seq: int64(e.Seq), Origin: e.Origin.String(), Src: it.Src, N: it.N, Scope: it.Scope})
	}
	return rs
}

// goodHistory is a server with five entries (unscoped, user:1, user:2)
// and a device of user 1 that holds the four it may read after two local
// entries of its own: a history that breaks no rule.
func goodHistory() *History {
	srv := []log.Entry{
		entry(1, log.ID{Node: srvNode, Seq: 1}, log.Local, "server", 1, ""),
		entry(2, log.ID{Node: srvNode, Seq: 2}, log.Local, "server", 2, "user:1"),
		entry(3, log.ID{Node: srvNode, Seq: 3}, log.Local, "server", 3, "user:2"),
		entry(4, log.ID{Node: srvNode, Seq: 4}, log.Local, "server", 4, ""),
		entry(5, log.ID{Node: srvNode, Seq: 5}, log.Local, "server", 5, "user:1"),
	}
	dev := []log.Entry{
		entry(1, log.ID{Node: devNode, Seq: 1}, log.Local, "dev0", 1, ""),
		entry(2, log.ID{Node: srvNode, Seq: 1}, log.Remote, "server", 1, ""),
		entry(3, log.ID{Node: devNode, Seq: 3}, log.Local, "dev0", 2, ""),
		entry(4, log.ID{Node: srvNode, Seq: 2}, log.Remote, "server", 2, "user:1"),
		entry(5, log.ID{Node: srvNode, Seq: 4}, log.Remote, "server", 4, ""),
		entry(6, log.ID{Node: srvNode, Seq: 5}, log.Remote, "server", 5, "user:1"),
	}
	return &History{
		Server:  NodeHistory{Name: "server", Node: srvNode, Entries: srv, Rows: rowsOf(srv)},
		Devices: []NodeHistory{{Name: "dev0", Node: devNode, Scopes: []string{"user:1"}, Entries: dev, Rows: rowsOf(dev)}},
		Acks: []Ack{
			{Node: "server", Src: "server", N: 1, Seq: 1, Durable: true},
			{Node: "server", Src: "server", N: 5, Seq: 5, Durable: true},
			{Node: "dev0", Src: "dev0", N: 1, Seq: 1, Durable: true},
			{Node: "dev0", Src: "dev0", N: 2, Seq: 3, Durable: false},
		},
	}
}

// TestCheckGood: the hand-made good history breaks no rule (so each case
// below fails for its own violation only).
func TestCheckGood(t *testing.T) {
	if vs := Check(goodHistory()); len(vs) > 0 {
		t.Fatalf("violations in the good history: %v", vs)
	}
	// A non-durable append lost where a later tear cut its node's
	// unsynced tail is allowed.
	h := goodHistory()
	d := &h.Devices[0]
	d.Entries[2] = entry(3, log.ID{Node: devNode, Seq: 3}, log.Local, "dev0", 3, "")
	d.Rows = rowsOf(d.Entries)
	h.Tears = append(h.Tears, TornTail{Node: "dev0", Tear: Tear{Mark: 1, Cut: 2}, Acks: 4})
	if vs := Check(h); len(vs) > 0 {
		t.Fatalf("violations with a non-durable append lost to a tear: %v", vs)
	}
}

// TestCheckRules feeds the checker, for each rule, a history that breaks
// it, and sees it reported first.
func TestCheckRules(t *testing.T) {
	dev := func(h *History) *NodeHistory { return &h.Devices[0] }
	// setRows makes the view of n follow its (changed) log, so that only
	// the rule under test breaks.
	setRows := func(n *NodeHistory) { n.Rows = rowsOf(n.Entries) }
	cases := []ruleCase{
		{"exits", "exited", func(h *History) {
			h.Exits = append(h.Exits, Exit{Node: "dev0", Err: "exit status 1", Stderr: "sluice: boom"})
		}},
		{"dense", "entry 3 of the log has seq 4", func(h *History) {
			d := dev(h)
			d.Entries = append(d.Entries[:2], d.Entries[3:]...) // seq 3 missing
			setRows(d)
			h.Acks = h.Acks[:3]
		}},
		{"acked", "dev0/1 was acknowledged at seq 1", func(h *History) {
			d := dev(h)
			d.Entries[0] = entry(1, log.ID{Node: devNode, Seq: 1}, log.Local, "dev0", 9, "")
			setRows(d)
		}},
		{"acked", "dev0/2 was acknowledged at seq 3 (durable false)", func(h *History) {
			// A non-durable append lost with no tear to explain it.
			d := dev(h)
			d.Entries[2] = entry(3, log.ID{Node: devNode, Seq: 3}, log.Local, "dev0", 3, "")
			setRows(d)
		}},
		{"acked", "dev0/2 was acknowledged at seq 3 (durable false)", func(h *History) {
			// A non-durable append lost, and a tear of its node's unsynced
			// tail, but one that came before it was acknowledged.
			d := dev(h)
			d.Entries[2] = entry(3, log.ID{Node: devNode, Seq: 3}, log.Local, "dev0", 3, "")
			setRows(d)
			h.Tears = append(h.Tears, TornTail{Node: "dev0", Tear: Tear{Mark: 1, Cut: 2}, Acks: 3})
		}},
		{"acked", "server/5 was acknowledged at seq 5 (durable true)", func(h *History) {
			// A durable append lost: a tear below it does not excuse it.
			h.Server.Entries = h.Server.Entries[:4]
			setRows(&h.Server)
			h.Tears = append(h.Tears, TornTail{Node: "server", Tear: Tear{Mark: 3, Cut: 4}, Acks: 4})
			d := dev(h)
			d.Entries = d.Entries[:5]
			setRows(d)
		}},
		{"no-duplicates", "entry " + log.ID{Node: srvNode, Seq: 4}.String() + " is at seqs 5 and 7", func(h *History) {
			d := dev(h)
			e := d.Entries[4]
			e.Seq = 7
			d.Entries = append(d.Entries, e)
			setRows(d)
		}},
		{"no-duplicates", "item dev0/2 is at seqs 3 and 7", func(h *History) {
			d := dev(h)
			d.Entries = append(d.Entries, entry(7, log.ID{Node: devNode, Seq: 7}, log.Local, "dev0", 2, ""))
			setRows(d)
		}},
		{"scopes", `has scope "user:2"`, func(h *History) {
			d := dev(h)
			d.Entries = append(d.Entries[:4], append([]log.Entry{entry(5, log.ID{Node: srvNode, Seq: 3}, log.Remote, "server", 3, "user:2")},
				entry(6, log.ID{Node: srvNode, Seq: 4}, log.Remote, "server", 4, ""), entry(7, log.ID{Node: srvNode, Seq: 5}, log.Remote, "server", 5, "user:1"))...)
			setRows(d)
		}},
		{"order", "but not the server's seq 4 before it (a gap)", func(h *History) {
			// Swapped: the first of the two comes before the one it follows.
			d := dev(h)
			d.Entries[4].ID, d.Entries[5].ID = d.Entries[5].ID, d.Entries[4].ID
			d.Entries[4].Payload, d.Entries[5].Payload = d.Entries[5].Payload, d.Entries[4].Payload
			d.Entries[4].Scope, d.Entries[5].Scope = d.Entries[5].Scope, d.Entries[4].Scope
			setRows(d)
		}},
		{"order", "beyond its log (5 entries)", func(h *History) {
			d := dev(h)
			d.Entries = append(d.Entries, entry(7, log.ID{Node: srvNode, Seq: 6}, log.Remote, "server", 6, ""))
			setRows(d)
		}},
		{"order", "but not the server's seq 2 before it (a gap)", func(h *History) {
			d := dev(h)
			d.Entries = append(d.Entries[:3], entry(4, log.ID{Node: srvNode, Seq: 4}, log.Remote, "server", 4, ""),
				entry(5, log.ID{Node: srvNode, Seq: 5}, log.Remote, "server", 5, "user:1"))
			setRows(d)
		}},
		{"order", "differs from the server's seq 4", func(h *History) {
			d := dev(h)
			d.Entries[4] = entry(5, log.ID{Node: srvNode, Seq: 4}, log.Remote, "server", 44, "")
			setRows(d)
		}},
		{"converged", "misses 1 of the server's entries it may read, the first its seq 5", func(h *History) {
			d := dev(h)
			d.Entries = d.Entries[:5]
			setRows(d)
		}},
		{"views", "no row for seq 6", func(h *History) {
			d := dev(h)
			d.Rows = d.Rows[:5]
		}},
		{"views", "row {Seq:7", func(h *History) {
			d := dev(h)
			d.Rows = append(d.Rows, Row{Seq: 7, Origin: "local", Src: "dev0", N: 3})
		}},
		{"views", "view row {Seq:2 Origin:remote Src:server N:2 Scope:}, the log says {Seq:2 Origin:remote Src:server N:1", func(h *History) {
			d := dev(h)
			d.Rows[1].N = 2
		}},
	}
	runRuleCases(t, goodHistory, cases)
}

// ruleCase is a history that breaks a rule: base's, changed by breakH.
type ruleCase struct {
	rule   string
	detail string // a part of the violation's text
	breakH func(h *History)
}

// runRuleCases checks that each case's history is reported, first, as
// breaking its rule.
func runRuleCases(t *testing.T, base func() *History, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			h := base()
			c.breakH(h)
			vs := Check(h)
			if len(vs) == 0 {
				t.Fatalf("no violation reported")
			}
			if vs[0].Rule != c.rule || !strings.Contains(vs[0].String(), c.detail) {
				t.Fatalf("first violation %q, want rule %s saying %q (all: %v)", vs[0], c.rule, c.detail, vs)
			}
		})
	}
}
