package chaos

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// FaultKind is one kind of fault the proxy injects into a request.
type FaultKind int

// The faults the proxy injects. Pass is no fault.
const (
	Pass         FaultKind = iota
	DropRequest            // the server never sees the request; the client's connection is reset
	DropAnswer             // the server applies the request; its answer is lost (connection reset)
	DelayRequest           // the request reaches the server Fault.Delay late
	DelayAnswer            // the answer reaches the client Fault.Delay late
	Answer500              // the proxy answers 500 itself; the server never sees the request
	Answer502              // likewise 502
	Answer503              // likewise 503, with Retry-After: 1
	ResetStream            // the connection is reset after Fault.After bytes (or Fault.AfterTime) of the answer
	Partitioned            // a device cut off by Partition (counted once per partition)
	numFaultKinds
)

var faultNames = [numFaultKinds]string{
	Pass: "pass", DropRequest: "drop_request", DropAnswer: "drop_answer",
	DelayRequest: "delay_request", DelayAnswer: "delay_answer",
	Answer500: "answer_500", Answer502: "answer_502", Answer503: "answer_503",
	ResetStream: "reset_stream", Partitioned: "partition",
}

// String is the kind's name as counted and reported ("drop_answer").
func (k FaultKind) String() string {
	if k >= 0 && k < numFaultKinds {
		return faultNames[k]
	}
	return fmt.Sprintf("fault(%d)", int(k))
}

// status is the HTTP status the proxy answers for Answer500/502/503.
func (k FaultKind) status() int {
	switch k {
	case Answer500:
		return 500
	case Answer502:
		return 502
	case Answer503:
		return 503
	}
	return 0
}

// Fault is what the proxy does to one request.
type Fault struct {
	Kind FaultKind
	// Delay is how long DelayRequest and DelayAnswer hold the request or
	// the answer.
	Delay time.Duration
	// After is how many bytes of the answer's body ResetStream lets
	// through before the reset (fewer if the body is shorter: at least
	// its last byte is withheld).
	After int64
	// AfterTime, if positive, resets a ResetStream connection after this
	// long even if After bytes have not gone through (a following stream
	// that is quiet).
	AfterTime time.Duration
}

// String describes the fault for a schedule's printout.
func (f Fault) String() string {
	switch f.Kind {
	case DelayRequest, DelayAnswer:
		return fmt.Sprintf("%s %v", f.Kind, f.Delay)
	case ResetStream:
		return fmt.Sprintf("%s after %dB/%v", f.Kind, f.After, f.AfterTime)
	}
	return f.Kind.String()
}

// Counts counts faults by kind. It is safe for concurrent use.
type Counts struct {
	mu sync.Mutex
	n  [numFaultKinds]int64
}

// Add counts one fault of kind k (Pass is not counted).
func (c *Counts) Add(k FaultKind) {
	if k == Pass || k < 0 || k >= numFaultKinds {
		return
	}
	c.mu.Lock()
	c.n[k]++
	c.mu.Unlock()
}

// Get returns how many faults of kind k were counted.
func (c *Counts) Get(k FaultKind) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// Map returns the counts by kind name, without the kinds never counted.
func (c *Counts) Map() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]int64{}
	for k, n := range c.n {
		if n > 0 {
			m[FaultKind(k).String()] = n
		}
	}
	return m
}

// FormatCounts writes counts as "kind=n kind=n", by kind name.
func FormatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
