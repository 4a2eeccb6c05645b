package chaos

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sluicedb/sluice/log"
)

// History is what the checker judges: every node's log and view rows as
// they are once the run has settled, and what the harness saw happen —
// the appends it was told succeeded, the tails it tore, the processes that
// exited on their own.
type History struct {
	Server  NodeHistory
	Devices []NodeHistory
	Acks    []Ack
	Cancels []Cancel
	Tears   []TornTail
	Exits   []Exit
}

// NodeHistory is one node's log and the rows of its chaos view.
type NodeHistory struct {
	Name string
	Node log.NodeID
	// Scopes are what the device's token reads (besides unscoped
	// entries); "*" reads everything. Empty for the server.
	Scopes  []string
	Entries []log.Entry // the log, in seq order
	Rows    []Row       // the chaos view, by seq
	// With the task workload: the device's tasks view, the server's
	// handled_tasks, and the chaos task view's rows.
	Tasks   []TaskRow
	Handled []TaskRow
	Items   []ItemRow
}

// Row is a row of the chaos view (chaos.sql): one entry of the workload.
type Row struct {
	Seq    int64
	Origin string // "local" or "remote"
	Src    string // who appended it: "server" or a device's name
	N      int64  // its number there
	Scope  string
}

// Ack is an append the harness was told succeeded: sluice append exited 0
// and printed Seq.
type Ack struct {
	Node    string // where it was appended
	Src     string
	N       int64
	Seq     log.Seq
	Durable bool // appended with --durability sync (else none)
}

// TornTail is a tear of a node's log tail by the harness.
type TornTail struct {
	Node string
	Tear Tear
	// Acks is how many of History.Acks came before the tear: only those
	// can have been lost by it.
	Acks int
}

// Exit is a process that exited without being told to.
type Exit struct {
	Node   string
	Err    string
	Stderr string
}

// Violation is a rule the history breaks, with what breaks it.
type Violation struct {
	Rule   string
	Node   string
	Detail string
}

func (v Violation) String() string {
	return fmt.Sprintf("rule %s violated on %s: %s", v.Rule, v.Node, v.Detail)
}

// Rule is one guarantee the checker checks.
type Rule struct {
	Name  string
	Doc   string
	check func(h *History) []Violation
}

// Rules are the checker's rules, in the order they are checked: the first
// violation reported is of the first rule broken.
var Rules = []Rule{
	{"exits", "no sluice process exits on its own", checkExits},
	{"dense", "every log's seqs run 1..N with no gap", checkDense},
	{"acked", "every acknowledged append is in its node's log, at the seq it was acknowledged with (an append with durability none may be lost only where a tear cut the unsynced tail)", checkAcked},
	{"no-duplicates", "no log holds an entry (an ID, or a workload item) twice", checkNoDuplicates},
	{"scopes", "a device holds none of the server's entries its token may not read", checkScopes},
	{"order", "a device holds the server's entries in the server's order, as the server holds them, with no gap", checkOrder},
	{"converged", "every device holds every server entry its token may read", checkConverged},
	{"views", "every node's view rows are its log's workload entries, one row each", checkViews},
}

// Check checks every rule (Rules, then TaskRules) against h and returns the violations, those of
// the first rule broken first.
func Check(h *History) []Violation {
	var vs []Violation
	for _, r := range append(Rules[:len(Rules):len(Rules)], TaskRules...) {
		vs = append(vs, r.check(h)...)
	}
	return vs
}

// nodes returns the server and the devices.
func (h *History) nodes() []*NodeHistory {
	ns := []*NodeHistory{&h.Server}
	for i := range h.Devices {
		ns = append(ns, &h.Devices[i])
	}
	return ns
}

func (h *History) node(name string) *NodeHistory {
	for _, n := range h.nodes() {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// item is the workload's part of a payload.
type item struct {
	Src   string `json:"chaos"`
	N     int64  `json:"n"`
	Scope string `json:"scope"`
}

// workItem decodes the workload item in a payload; ok is false for an
// entry that is not one.
func workItem(p []byte) (item, bool) {
	var it item
	if json.Unmarshal(p, &it) != nil || it.Src == "" {
		return item{}, false
	}
	return it, true
}

// reads reports whether a reader with scopes may read an entry of scope.
func reads(scopes []string, scope string) bool {
	if scope == "" {
		return true
	}
	for _, s := range scopes {
		if s == "*" || s == scope {
			return true
		}
	}
	return false
}

func checkExits(h *History) []Violation {
	var vs []Violation
	for _, e := range h.Exits {
		vs = append(vs, Violation{"exits", e.Node, fmt.Sprintf("exited (%s); its stderr ended:\n%s", e.Err, e.Stderr)})
	}
	return vs
}

func checkDense(h *History) []Violation {
	var vs []Violation
	for _, n := range h.nodes() {
		for i, e := range n.Entries {
			if e.Seq != log.Seq(i+1) {
				vs = append(vs, Violation{"dense", n.Name, fmt.Sprintf("entry %d of the log has seq %d", i+1, e.Seq)})
				break
			}
		}
	}
	return vs
}

func checkAcked(h *History) []Violation {
	var vs []Violation
	for i, a := range h.Acks {
		n := h.node(a.Node)
		if n == nil {
			vs = append(vs, Violation{"acked", a.Node, "no such node"})
			continue
		}
		if a.Seq >= 1 && int(a.Seq) <= len(n.Entries) {
			if it, ok := workItem(n.Entries[a.Seq-1].Payload); ok && it.Src == a.Src && it.N == a.N {
				continue
			}
		}
		if !a.Durable && tornAbove(h, i) {
			continue
		}
		got := "nothing"
		if a.Seq >= 1 && int(a.Seq) <= len(n.Entries) {
			got = fmt.Sprintf("%.80s", n.Entries[a.Seq-1].Payload)
		}
		vs = append(vs, Violation{"acked", a.Node, fmt.Sprintf("%s/%d was acknowledged at seq %d (durable %v); the log holds %s there", a.Src, a.N, a.Seq, a.Durable, got)})
	}
	return vs
}

// tornAbove reports whether a tear after the i-th ack cut the unsynced
// tail of its node below its seq: a non-durable append there may be lost.
func tornAbove(h *History, i int) bool {
	a := h.Acks[i]
	for _, t := range h.Tears {
		if t.Node == a.Node && t.Acks > i && t.Tear.Cut > 0 && t.Tear.Mark < a.Seq {
			return true
		}
	}
	return false
}

func checkNoDuplicates(h *History) []Violation {
	var vs []Violation
	for _, n := range h.nodes() {
		ids := map[log.ID]log.Seq{}
		items := map[item]log.Seq{}
		for _, e := range n.Entries {
			if s, ok := ids[e.ID]; ok {
				vs = append(vs, Violation{"no-duplicates", n.Name, fmt.Sprintf("entry %s is at seqs %d and %d", e.ID, s, e.Seq)})
				break
			}
			ids[e.ID] = e.Seq
			if it, ok := workItem(e.Payload); ok {
				it.Scope = ""
				if s, ok := items[it]; ok {
					vs = append(vs, Violation{"no-duplicates", n.Name, fmt.Sprintf("item %s/%d is at seqs %d and %d", it.Src, it.N, s, e.Seq)})
					break
				}
				items[it] = e.Seq
			}
		}
	}
	return vs
}

// fromServer returns a device's entries authored by the server.
func fromServer(h *History, d *NodeHistory) []log.Entry {
	var es []log.Entry
	for _, e := range d.Entries {
		if e.ID.Node == h.Server.Node {
			es = append(es, e)
		}
	}
	return es
}

func checkScopes(h *History) []Violation {
	var vs []Violation
	for i := range h.Devices {
		d := &h.Devices[i]
		for _, e := range d.Entries {
			if e.Origin == log.Remote && !reads(d.Scopes, e.Scope) {
				vs = append(vs, Violation{"scopes", d.Name, fmt.Sprintf("seq %d (%s) has scope %q; the token reads %v", e.Seq, e.ID, e.Scope, d.Scopes)})
				break
			}
		}
	}
	return vs
}

func checkOrder(h *History) []Violation {
	var vs []Violation
	srv := h.Server.Entries
	for i := range h.Devices {
		d := &h.Devices[i]
		next := 0 // index in srv of the next entry the device must hold
		for _, e := range fromServer(h, d) {
			s := int(e.ID.Seq) - 1
			if s < next || s >= len(srv) {
				vs = append(vs, Violation{"order", d.Name, fmt.Sprintf("seq %d holds the server's %s out of order (after the server's seq %d) or beyond its log (%d entries)", e.Seq, e.ID, next, len(srv))})
				break
			}
			if miss := firstReadable(srv[next:s], d.Scopes); miss != nil {
				vs = append(vs, Violation{"order", d.Name, fmt.Sprintf("holds the server's seq %d at seq %d but not the server's seq %d before it (a gap)", s+1, e.Seq, miss.Seq)})
				break
			}
			w := srv[s]
			if w.ID != e.ID || w.Scope != e.Scope || string(w.Payload) != string(e.Payload) {
				vs = append(vs, Violation{"order", d.Name, fmt.Sprintf("seq %d (%s, scope %q) differs from the server's seq %d (%s, scope %q)", e.Seq, e.ID, e.Scope, w.Seq, w.ID, w.Scope)})
				break
			}
			next = s + 1
		}
	}
	return vs
}

// firstReadable returns the first of es that a reader with scopes may
// read, or nil.
func firstReadable(es []log.Entry, scopes []string) *log.Entry {
	for i := range es {
		if reads(scopes, es[i].Scope) {
			return &es[i]
		}
	}
	return nil
}

func checkConverged(h *History) []Violation {
	var vs []Violation
	for i := range h.Devices {
		d := &h.Devices[i]
		if miss := missing(h, d); len(miss) > 0 {
			vs = append(vs, Violation{"converged", d.Name, fmt.Sprintf("misses %d of the server's entries it may read, the first its seq %d", len(miss), miss[0])})
		}
	}
	return vs
}

// missing returns the seqs of the server's entries device d may read and
// does not hold.
func missing(h *History, d *NodeHistory) []log.Seq {
	held := map[log.Seq]bool{}
	for _, e := range fromServer(h, d) {
		held[e.ID.Seq] = true
	}
	var miss []log.Seq
	for _, e := range h.Server.Entries {
		if e.ID.Node == h.Server.Node && reads(d.Scopes, e.Scope) && !held[e.Seq] {
			miss = append(miss, e.Seq)
		}
	}
	return miss
}

func checkViews(h *History) []Violation {
	var vs []Violation
	for _, n := range h.nodes() {
		var want []Row
		for _, e := range n.Entries {
			if it, ok := workItem(e.Payload); ok {
				want = append(want, Row{Seq: int64(e.Seq), Origin: e.Origin.String(), Src: it.Src, N: it.N, Scope: it.Scope})
			}
		}
		if d := diffRows(want, n.Rows); d != "" {
			vs = append(vs, Violation{"views", n.Name, d})
		}
	}
	return vs
}

// diffRows describes the first difference between the rows a log calls
// for and the view's, or returns "".
func diffRows(want, got []Row) string {
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("the view has %d rows, the log %d: no row for seq %d (%+v)", len(got), len(want), want[i].Seq, want[i])
		case i >= len(want):
			return fmt.Sprintf("the view has %d rows, the log %d: row %+v has no entry", len(got), len(want), got[i])
		case want[i] != got[i]:
			return fmt.Sprintf("view row %+v, the log says %+v", got[i], want[i])
		}
	}
	return ""
}

// Report formats a failed run: the seed, the schedule and the first
// violated rule (then the others, briefly), so it can be replayed.
func Report(seed uint64, schedule string, vs []Violation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run failed: seed %d (replay: make chaos CHAOS_SEED=%d)\nschedule: %s", seed, seed, schedule)
	if len(vs) > 0 {
		fmt.Fprintf(&b, "first violation: %s\n", vs[0])
		for _, v := range vs[1:min(len(vs), 10)] {
			fmt.Fprintf(&b, "  also: %s\n", v)
		}
	}
	return b.String()
}
