package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
)

func init() { extraCommands = append(extraCommands, newRepairCmd) }

// repairReport is what sluice repair did.
type repairReport struct {
	Log     string       `json:"log"`
	Repairs []log.Repair `json:"repairs"`
	Lost    *log.Loss    `json:"lost,omitempty"`
	Last    log.Seq      `json:"last"`
}

func newRepairCmd(e *env) *cobra.Command {
	var acceptLoss, asJSON bool
	c := &cobra.Command{
		Use:   "repair [--accept-loss] [--json]",
		Short: "Open the log for writing: cut a torn tail, or accept a loss of acknowledged entries",
		Long: `Open the log for writing, as append does, and report what that changed: a
torn tail or an incomplete append cut off after a crash (any open for writing
cuts them; this one says so).

If the log ends before its durable mark — entries whose append was
acknowledged are missing, because files were deleted, emptied or damaged —
every open fails and names them; nothing is changed. Restore the log's files
if you can. Otherwise --accept-loss accepts the loss: the missing seqs are
kept as lost (readers skip them, and they are never handed out again), and
the loss is recorded in the log's LASTOPEN file, which sluice status shows.`,
		Example: `  sluice repair
  sluice repair --accept-loss
  sluice repair --json | jq .lost`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			l, err := log.Open(e.logDir(), log.Options{AcceptLoss: acceptLoss, LockWait: appendLockWait})
			if errors.Is(err, log.ErrLost) {
				return fmt.Errorf("%w\n(nothing was changed; run sluice repair --accept-loss to go on without them)", err)
			}
			if err != nil {
				return err
			}
			rep := repairReport{Log: e.logDir(), Repairs: l.Repairs(), Lost: l.Lost()}
			rep.Last, _ = l.Last()
			if err := l.Close(); err != nil {
				return err
			}
			if asJSON {
				if rep.Repairs == nil {
					rep.Repairs = []log.Repair{}
				}
				enc := json.NewEncoder(e.out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			for _, r := range rep.Repairs {
				fmt.Fprintf(e.out, "repaired: %s\n", r)
			}
			if rep.Lost != nil {
				fmt.Fprintf(e.out, "%s\n", rep.Lost)
			}
			if len(rep.Repairs) == 0 && rep.Lost == nil {
				fmt.Fprintf(e.out, "nothing to repair; the log ends at seq %d\n", rep.Last)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&acceptLoss, "accept-loss", false, "go on without acknowledged entries that are missing, keeping their seqs as lost")
	c.Flags().BoolVar(&asJSON, "json", false, "print what was repaired as JSON")
	return c
}
