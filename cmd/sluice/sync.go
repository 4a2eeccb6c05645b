package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/replicate"
)

func init() { extraCommands = append(extraCommands, newSyncCmd) }

type syncOptions struct {
	node   nodeFlags
	from   []string
	forget []string
	token  string
	follow bool
	tasks  taskSendFlags
}

func newSyncCmd(e *env) *cobra.Command {
	var o syncOptions
	c := &cobra.Command{
		Use:   "sync [--from URL]... [--token TOKEN] [--follow]",
		Short: "Pull other nodes' logs into this one, and index them",
		Long: `Pull the entries of other nodes (sluice serve) into DIR/log, as remote
entries that keep their identity, and index them into the views. Entries
the log holds already (its own, or ones that came through another node) are
skipped: each entry is appended once, also after a crash or a kill at any
moment, and a pull resumes where it stopped.

Without --follow, sync first sends this device's pending tasks (unless
--no-tasks), each queue in order until it is drained or a request of it
fails (that queue backs off: the next sync sends it again); then it pulls
until it has what each peer held then, answers included, brings the views
up to date and exits; pulling and indexing overlap. With --follow it keeps pulling new entries as the peers append
them and sending tasks as they are added (Ctrl-C to stop); meanwhile sluice append in another process hands its
entries to it through the local socket.

The peers (URL and token) are remembered in DIR/replicate/peers.json (mode
0600) once they answered (a mistyped URL is not kept): sluice sync alone
pulls from them again. Tasks go to the first peer (or --tasks-to), which
sync names; a server whose log was replaced since is sent nothing. sluice
status shows where each one stands. A peer that was replaced or cut back,
or a damaged stream, is an error naming the peer and the position; nothing
of it is appended.
--forget URL forgets a peer, so that a server replaced on purpose can be
pulled as a new one.`,
		Example: `  sluice sync --from http://127.0.0.1:7070
  sluice sync --from https://sluice.example.com --token slc_... --follow
  sluice sync
  sluice sync --forget http://10.0.0.5:7070`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runSync(c.Context(), e, &o)
		},
	}
	f := c.Flags()
	o.node.add(f)
	f.StringArrayVar(&o.from, "from", nil, "a peer's URL (repeatable; remembered; default the remembered peers)")
	f.StringVar(&o.token, "token", "", "the token for the --from peers ($SLUICE_TOKEN if unset)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep pulling as the peers append")
	o.tasks.add(f)
	f.StringArrayVar(&o.forget, "forget", nil, "forget this remembered peer (its node, position and token) and exit: for a server replaced on purpose (repeatable)")
	return c
}

func runSync(ctx context.Context, e *env, o *syncOptions) error {
	if o.token == "" {
		o.token = os.Getenv("SLUICE_TOKEN")
	}
	if !o.tasks.off {
		o.node.extraViews = syncViews
	}
	n, err := openNode(e, &o.node)
	if err != nil {
		return err
	}
	defer n.close()
	if len(o.forget) > 0 {
		if len(o.from) > 0 || o.follow {
			return usagef("--forget goes alone: forget, then sync")
		}
		for _, u := range o.forget {
			if !n.client.ForgetPeer(strings.TrimRight(u, "/")) {
				return fmt.Errorf("--forget %s: not a remembered peer (sluice status lists them)", u)
			}
			e.notef("forgot %s", u)
		}
		return n.close()
	}
	var peers []replicate.Peer
	for _, u := range o.from {
		p := replicate.Peer{URL: strings.TrimRight(u, "/"), Token: o.token}
		if err := n.client.AddPeer(p); err != nil {
			return usageError{err}
		}
	}
	for _, p := range n.client.Peers() {
		if len(o.from) == 0 || contains(o.from, p.URL) {
			peers = append(peers, p.Peer)
		}
	}
	if len(peers) == 0 {
		return usagef("no peers to pull from: give --from URL (it is remembered in %s)", e.peersPath())
	}
	sender, err := o.tasks.sender(n, peers)
	if err != nil {
		return err
	}
	if o.follow {
		err = syncFollow(ctx, e, n, peers, sender)
	} else if err = sendPending(ctx, e, sender); err == nil {
		err = syncOnce(ctx, e, n, peers)
	}
	if errors.Is(err, replicate.ErrNodeMismatch) {
		err = fmt.Errorf("%w\n(if that server was replaced on purpose: sluice sync --forget URL, then sync again)", err)
	}
	if cerr := n.close(); err == nil {
		err = cerr
	}
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimRight(x, "/") == s {
			return true
		}
	}
	return false
}

// expectBacklog asks each peer how far it is and tells the indexer that
// the log is about to grow by that much (an upper bound: some of it may be
// skipped), so that it indexes the pull as one backlog. It returns that
// number.
func expectBacklog(ctx context.Context, n *node, peers []replicate.Peer) log.Seq {
	var behind log.Seq
	pos := startPositions(n)
	for _, p := range peers {
		st, err := n.client.FetchStatus(ctx, p)
		if err == nil && st.Last > pos[p.URL] {
			behind += st.Last - pos[p.URL]
		}
	}
	if n.ix != nil && behind > 0 {
		last, _ := n.log.Last()
		n.ix.Expect(last + behind)
	}
	return behind
}

// pulledSince sums the positions the client reached past start.
func pulledSince(n *node, start map[string]log.Seq) (pos int64, st replicate.PeerStatus) {
	for _, p := range n.client.Peers() {
		if s, ok := start[p.URL]; ok && p.Position > s {
			pos += int64(p.Position - s)
		}
		st.Pulled += p.Pulled
		st.Bytes += p.Bytes
		st.Skipped += p.Skipped
	}
	return pos, st
}

// startPositions returns where the client stands in each peer's log.
func startPositions(n *node) map[string]log.Seq {
	pos := map[string]log.Seq{}
	for _, p := range n.client.Peers() {
		pos[p.URL] = p.Position
	}
	return pos
}

func syncOnce(ctx context.Context, e *env, n *node, peers []replicate.Peer) error {
	start, startPos := time.Now(), startPositions(n)
	behind := expectBacklog(ctx, n, peers)
	ictx, stopIndex := context.WithCancel(ctx)
	var iwg sync.WaitGroup
	ierr := make(chan error, 1)
	n.runIndexer(ictx, &iwg, ierr)

	bar := newProgress(e, int64(behind), "pulling", false)
	var wg sync.WaitGroup
	errs := make([]error, len(peers))
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = n.client.Pull(ctx, p)
		}()
	}
	pulled := make(chan struct{})
	go func() { wg.Wait(); close(pulled) }()
	t := time.NewTicker(100 * time.Millisecond)
wait:
	for {
		select {
		case <-pulled:
			break wait
		case <-t.C:
			pos, _ := pulledSince(n, startPos)
			bar.set(pos)
		}
	}
	t.Stop()
	bar.done()
	pullTime := time.Since(start)
	_, st := pulledSince(n, startPos)

	// Index what arrived, also after a failed pull, and build the views'
	// indexes.
	var indexErr error
	if n.ix != nil {
		n.ix.Expect(0)
		stopIndex()
		iwg.Wait()
		select {
		case indexErr = <-ierr:
		default:
		}
		if indexErr == nil {
			indexErr = n.ix.SynchronizeUpTo(ctx, 0)
		}
	}
	stopIndex()
	el := time.Since(start)
	last, _ := n.log.Last()
	fmt.Fprintf(e.errOut, "pulled %d entries (%.1f MB) from %d peer(s) in %.2fs: %s entries, %.1f MB/s; %d skipped (held already); log at seq %d",
		st.Pulled, mb(st.Bytes), len(peers), pullTime.Seconds(), rate(float64(st.Pulled), pullTime), mb(st.Bytes)/max(pullTime.Seconds(), 1e-9), st.Skipped, last)
	if n.ix != nil {
		fmt.Fprintf(e.errOut, "; views caught up in %.2fs", el.Seconds())
	}
	fmt.Fprintln(e.errOut)
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if indexErr != nil {
		failed = append(failed, indexErr)
	}
	return errors.Join(failed...)
}

func syncFollow(ctx context.Context, e *env, n *node, peers []replicate.Peer, sender *replicate.Sender) error {
	start, startPos := time.Now(), startPositions(n)
	behind := expectBacklog(ctx, n, peers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var iwg sync.WaitGroup
	ierr := make(chan error, 1)
	n.runIndexer(ctx, &iwg, ierr)
	bar := newProgress(e, int64(behind), "pulling", false)
	var caughtUp atomic.Int32
	var once sync.Once
	allCaughtUp := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, len(peers)+1)
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			err := n.client.Follow(ctx, p, func() {
				if first {
					first = false
					if int(caughtUp.Add(1)) == len(peers) {
						once.Do(func() { close(allCaughtUp) })
					}
				}
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	if sender != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sender.Run(ctx); err != nil {
				errs <- fmt.Errorf("tasks: %w", err)
				cancel()
			}
		}()
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	e.notef("following %d peer(s); sluice append goes through %s", len(peers), e.socketPath())
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var failed []error
loop:
	for {
		select {
		case <-allCaughtUp:
			allCaughtUp = nil
			if n.ix != nil {
				n.ix.Expect(0)
			}
			bar.describe("following")
			e.notef("caught up with every peer after %.2fs; following", time.Since(start).Seconds())
		case err := <-errs:
			e.notef("%v", err)
			failed = append(failed, err)
		case <-stopped:
			break loop
		case err := <-ierr:
			failed = append(failed, err)
			cancel()
		case err := <-n.sockErr:
			failed = append(failed, fmt.Errorf("local socket: %w", err))
			cancel()
		case <-t.C:
			pos, _ := pulledSince(n, startPos)
			bar.set(pos)
		}
	}
	cancel()
	iwg.Wait()
	bar.done()
	for len(errs) > 0 {
		failed = append(failed, <-errs)
	}
	_, st := pulledSince(n, startPos)
	el := time.Since(start)
	fmt.Fprintf(e.errOut, "pulled %d entries (%.1f MB) from %d peer(s) in %.2fs; %d skipped (held already)\n",
		st.Pulled, mb(st.Bytes), len(peers), el.Seconds(), st.Skipped)
	return errors.Join(failed...)
}
