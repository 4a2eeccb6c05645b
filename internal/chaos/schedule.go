package chaos

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rates are the chances, per request through the proxy, of each fault.
// What is left of 1 passes.
type Rates struct {
	DropRequest, DropAnswer, DelayRequest, DelayAnswer, Answer5xx, ResetStream float64
	// StreamCut is the chance that a following stream that drew no
	// fault is reset after 1–8 s anyway (counted as reset_stream).
	StreamCut float64
	// MaxDelay bounds DelayRequest and DelayAnswer (default 2 s).
	MaxDelay time.Duration
}

// DefaultRates fault about one request in three (a following stream is
// one request: most of a device's requests are reconnections).
var DefaultRates = Rates{DropRequest: 0.06, DropAnswer: 0.06, DelayRequest: 0.05, DelayAnswer: 0.05, Answer5xx: 0.06, ResetStream: 0.08, StreamCut: 0.5, MaxDelay: 2 * time.Second}

// EventKind is a fault of the timeline (not of one request).
type EventKind int

// The timeline's events.
const (
	KillServer EventKind = iota // kill -9 the server, restart it after Down
	KillDevice                  // kill -9 a device's sync --follow, restart it after Down
	Partition                   // cut a device off for Down, then heal
)

func (k EventKind) String() string {
	return [...]string{"kill_server", "kill_device", "partition"}[k]
}

// Event is one fault of the timeline.
type Event struct {
	At     time.Duration // after the run's start
	Kind   EventKind
	Device int           // KillDevice, Partition
	Down   time.Duration // how long the process stays dead, or the device cut off
	Tear   bool          // KillServer, KillDevice: tear the log's tail before the restart
}

func (e Event) String() string {
	s := fmt.Sprintf("%7.2fs %s", e.At.Seconds(), e.Kind)
	if e.Kind != KillServer {
		s += fmt.Sprintf(" dev%d", e.Device)
	}
	s += fmt.Sprintf(" for %v", e.Down.Round(time.Millisecond))
	if e.Tear {
		s += " +torn tail"
	}
	return s
}

// Schedule is a run's faults, all drawn from its seed: the timeline of
// events, and per device the faults of its requests in the order it makes
// them. It is the proxy's Decider; Stop makes it pass everything.
type Schedule struct {
	Seed    uint64
	Devices int
	Rates   Rates
	Events  []Event

	stopped atomic.Bool
	mu      sync.Mutex
	rngs    map[string]*rand.Rand // per device: its requests' faults
}

// NewSchedule draws the timeline of a run of d with n devices from seed:
// an event every 2–8 s, the first after 1 s, none in the last 2 s.
func NewSchedule(seed uint64, n int, d time.Duration, rates Rates) *Schedule {
	if rates.MaxDelay <= 0 {
		rates.MaxDelay = 2 * time.Second
	}
	s := &Schedule{Seed: seed, Devices: n, Rates: rates, rngs: map[string]*rand.Rand{}}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for at := time.Second; at < d-2*time.Second; at += 2*time.Second + time.Duration(rng.Int64N(int64(6*time.Second))) {
		e := Event{At: at, Device: rng.IntN(max(n, 1))}
		switch x := rng.Float64(); {
		case x < 0.2:
			e.Kind, e.Down, e.Tear = KillServer, time.Duration(rng.Int64N(int64(3*time.Second))), rng.IntN(3) == 0
		case x < 0.6:
			e.Kind, e.Down, e.Tear = KillDevice, time.Duration(rng.Int64N(int64(3*time.Second))), rng.IntN(2) == 0
		default:
			e.Kind, e.Down = Partition, time.Second+time.Duration(rng.Int64N(int64(4*time.Second)))
		}
		s.Events = append(s.Events, e)
	}
	return s
}

// Decide draws the fault of device's next request (the proxy's Decider).
func (s *Schedule) Decide(device string, r *http.Request) Fault {
	if s.stopped.Load() {
		return Fault{Kind: Pass}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rng, ok := s.rngs[device]
	if !ok {
		var h uint64 = 14695981039346656037 // FNV-1a of the device's name
		for i := 0; i < len(device); i++ {
			h = (h ^ uint64(device[i])) * 1099511628211
		}
		rng = rand.New(rand.NewPCG(s.Seed, h))
		s.rngs[device] = rng
	}
	r8 := s.Rates
	x := rng.Float64()
	delay := time.Duration(rng.Int64N(int64(r8.MaxDelay)))
	for _, c := range []struct {
		p float64
		f Fault
	}{
		{r8.DropRequest, Fault{Kind: DropRequest}},
		{r8.DropAnswer, Fault{Kind: DropAnswer}},
		{r8.DelayRequest, Fault{Kind: DelayRequest, Delay: delay}},
		{r8.DelayAnswer, Fault{Kind: DelayAnswer, Delay: delay}},
		{r8.Answer5xx, Fault{Kind: []FaultKind{Answer500, Answer502, Answer503}[rng.IntN(3)]}},
		{r8.ResetStream, Fault{Kind: ResetStream, After: rng.Int64N(16 << 10), AfterTime: time.Duration(rng.Int64N(int64(3 * time.Second)))}},
	} {
		if x < c.p {
			return c.f
		}
		x -= c.p
	}
	if r.URL.Query().Get("follow") == "1" && rng.Float64() < r8.StreamCut {
		// A long-lived stream that passes is cut within seconds, as
		// middleboxes do: the device connects again, and its new
		// requests draw faults of their own.
		return Fault{Kind: ResetStream, After: 1 << 62, AfterTime: time.Second + time.Duration(rng.Int64N(int64(7*time.Second)))}
	}
	return Fault{Kind: Pass}
}

// Stop makes Decide pass every request from now on.
func (s *Schedule) Stop() { s.stopped.Store(true) }

// String prints the schedule: its seed, rates and timeline.
func (s *Schedule) String() string {
	var b strings.Builder
	r := s.Rates
	fmt.Fprintf(&b, "seed %d, %d devices; per request: drop_request %.2f drop_answer %.2f delay_request %.2f delay_answer %.2f 5xx %.2f reset_stream %.2f, a following stream cut within 1-8 s %.2f (delays up to %v)\n",
		s.Seed, s.Devices, r.DropRequest, r.DropAnswer, r.DelayRequest, r.DelayAnswer, r.Answer5xx, r.ResetStream, r.StreamCut, r.MaxDelay)
	for _, e := range s.Events {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}
