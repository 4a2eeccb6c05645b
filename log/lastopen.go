package log

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/internal/fsutil"
)

// LastOpen is what the LASTOPEN file records about the last Open for
// writing. Open writes it before it changes anything, so a report is not
// lost when something fails later.
type LastOpen struct {
	Time    time.Time `json:"time"`
	Repairs []Repair  `json:"repairs"`
	// Lost is set when that Open accepted a loss of acknowledged entries
	// (Options.AcceptLoss).
	Lost *Loss `json:"lost,omitempty"`
}

// Loss describes acknowledged entries that were missing when the log was
// opened and that the writer was told to accept as lost: their seqs are
// kept as lost (iterators skip them, Get reports them) and never handed out
// again.
type Loss struct {
	From   Seq    `json:"from"`
	To     Seq    `json:"to"`
	Reason string `json:"reason"`
}

// String describes the loss in one line.
func (l Loss) String() string {
	return fmt.Sprintf("accepted the loss of acknowledged seqs %d..%d (%s)", l.From, l.To, l.Reason)
}

func writeLastOpen(dir string, lo LastOpen) error {
	b, err := json.Marshal(lo)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, lastOpenFile), append(b, '\n'), 0o644)
}

// ReadLastOpen returns what the last Open for writing of the log in dir
// recorded (when, what it repaired, and a loss it accepted). It takes no
// lock.
func ReadLastOpen(dir string) (LastOpen, error) {
	var lo LastOpen
	b, err := os.ReadFile(filepath.Join(dir, lastOpenFile))
	if err != nil {
		return lo, fmt.Errorf("read last open: %w", err)
	}
	if err := json.Unmarshal(b, &lo); err != nil {
		return lo, fmt.Errorf("read last open: %s: %w", filepath.Join(dir, lastOpenFile), err)
	}
	return lo, nil
}
