package chaos

import (
	"fmt"
	"os"
	"time"
)

// ReportKinds are the fault kinds a report's row counts, in its order.
var ReportKinds = []string{"kill_server", "kill_device", "torn_tail", "partition", "drop_request", "drop_answer",
	"delay_request", "delay_answer", "answer_500", "answer_502", "answer_503", "reset_stream"}

// Row formats a run as a row of bench/results/chaos.md: seed, minutes,
// devices, tasks, entries, faults of each kind (ReportKinds), violations,
// time to converge after the last fault p50/max.
func (r *Result) Row() string {
	s := fmt.Sprintf("| %d | %.1f | %d | %d | %d + %d |", r.Seed, r.Duration.Minutes(), r.Devices, r.Tasks, r.ServerEntries, r.DeviceEntries)
	for _, k := range ReportKinds {
		s += fmt.Sprintf(" %d |", r.Faults[k])
	}
	conv := func(d time.Duration) string {
		if d < 0 {
			return "never"
		}
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return s + fmt.Sprintf(" %d | %s / %s |", len(r.Violations), conv(Percentile(r.Converge, 50)), conv(Percentile(r.Converge, 100)))
}

// appendRow appends r's row to the file at path.
func appendRow(path string, r *Result) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, r.Row()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
