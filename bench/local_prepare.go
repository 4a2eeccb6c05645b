package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/log"
)

// localPrepared is the native log every run starts from: the source's
// messages as remote entries.
type localPrepared struct {
	dir   string // the log's directory
	last  log.Seq
	files []localFileStamp // its closed segments, which runs share (hard links)
}

// localFileStamp identifies a file's content cheaply: a shared segment must
// not change while the runs use it.
type localFileStamp struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
}

func localStamp(path string) (localFileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return localFileStamp{}, err
	}
	return localFileStamp{Path: path, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, nil
}

// localSourceInfo is kept beside a prepared log: the source it was made
// from, so that a changed source makes it again.
type localSourceInfo struct {
	Source  localFileStamp `json:"source"`
	Entries log.Seq        `json:"entries"`
}

// localPrepare makes (or reuses) the native log in dir/log holding the
// messages of the flumelog-offset file source as remote entries ("sluice
// --dir dir import source", with the sluice binary given), and reads it
// once so the runs find it in the page cache.
func localPrepare(ctx context.Context, sluice, source, dir string, logf func(string, ...any)) (*localPrepared, error) {
	src, err := localStamp(source)
	if err != nil {
		return nil, fmt.Errorf("source log: %w", err)
	}
	abs, err := filepath.Abs(source)
	if err != nil {
		return nil, err
	}
	src.Path = abs
	infoPath := filepath.Join(dir, "source.json")
	logDir := filepath.Join(dir, "log")
	var info localSourceInfo
	if b, err := os.ReadFile(infoPath); err == nil && json.Unmarshal(b, &info) == nil && info.Source == src && localLast(logDir) == info.Entries {
		logf("reusing the prepared log %s (%d entries)", logDir, info.Entries)
	} else {
		logf("preparing a native log from %s in %s", source, logDir)
		start := time.Now()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		os.Remove(infoPath)
		if err := os.RemoveAll(logDir); err != nil {
			return nil, err
		}
		if _, err := runMeasured(ctx, "", sluice, "--dir", dir, "import", source); err != nil {
			return nil, fmt.Errorf("prepare log: %w", err)
		}
		n := localLast(logDir)
		info = localSourceInfo{Source: src, Entries: n}
		b, _ := json.Marshal(info)
		if err := os.WriteFile(infoPath, append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
		logf("imported %d entries in %.1fs", n, time.Since(start).Seconds())
	}
	p := &localPrepared{dir: logDir, last: info.Entries}
	segs, last, err := localSegments(logDir)
	if err != nil {
		return nil, err
	}
	if last == "" {
		return nil, fmt.Errorf("prepared log %s holds no segment", logDir)
	}
	for _, s := range append(segs, last) {
		if err := localReadAll(s); err != nil {
			return nil, err
		}
	}
	for _, s := range segs {
		st, err := localStamp(s)
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, st)
	}
	return p, nil
}

// localLast returns the last seq of the log in dir, 0 if there is none.
func localLast(dir string) log.Seq {
	r, err := log.OpenReader(dir)
	if err != nil {
		return 0
	}
	defer r.Close()
	last, err := r.Last()
	if err != nil {
		return 0
	}
	return last
}

// localSegments lists a native log's segment files (named by 20 digits):
// the closed ones, and the last one, which the writer appends to.
func localSegments(dir string) (closed []string, last string, err error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", err
	}
	for _, de := range des { // sorted by name: by first seq
		if len(de.Name()) == 20 && !de.IsDir() {
			if last != "" {
				closed = append(closed, last)
			}
			last = filepath.Join(dir, de.Name())
		}
	}
	return closed, last, nil
}

func localReadAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// clone makes a copy of the prepared log in dir: closed segments are hard
// links (a writer never touches them), the last segment and the FORMAT,
// NODE and HEAD files are copied and synced, so the runs' appends do not
// flush them. (The copy has the same node id: it is a throwaway.)
func (p *localPrepared) clone(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	closed, last, err := localSegments(p.dir)
	if err != nil {
		return err
	}
	for _, s := range closed {
		if err := os.Link(s, filepath.Join(dir, filepath.Base(s))); err != nil {
			return fmt.Errorf("clone log: %w", err)
		}
	}
	// The log's own files: FORMAT, and since format 2 its node id and its
	// durable mark (a log without them is refused).
	for _, s := range []string{last, filepath.Join(p.dir, "FORMAT"), filepath.Join(p.dir, "NODE"), filepath.Join(p.dir, "HEAD")} {
		if err := localCopyFile(s, filepath.Join(dir, filepath.Base(s))); err != nil {
			return fmt.Errorf("clone log: %w", err)
		}
	}
	return nil
}

func localCopyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	return errors.Join(err, out.Close())
}

// check verifies that the shared segments did not change.
func (p *localPrepared) check() error {
	for _, want := range p.files {
		got, err := localStamp(want.Path)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("bench local: the prepared segment %s changed during the runs (size %d -> %d)", want.Path, want.Size, got.Size)
		}
	}
	return nil
}
