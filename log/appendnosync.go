package log

import "context"

// AppendNoSync appends recs like Append — one atomic call, checked the
// same way, visible to readers at once — but returns without waiting for
// them to be on disk, whatever Options.Durability says. They survive a
// crash of the process (the operating system has them), and become durable
// with the next Append that syncs, Sync or Close: an fsync covers every
// entry written before it. Until then the durable mark does not cover them,
// so a power loss may cut them off without Open reporting a loss.
//
// It is for entries that can be had again if lost, such as entries pulled
// from a peer (the puller asks for them again from where its log ends), so
// that they do not pay an fsync each nor hold up, behind theirs, the
// appends that need one. It is safe for concurrent use with every other
// method.
func (l *Log) AppendNoSync(ctx context.Context, recs ...Record) ([]Seq, error) {
	return l.append(ctx, recs, false, nil)
}
