package log

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sluicedb/sluice/internal/fsutil"
)

// The HEAD file holds the log's durable mark: the highest seq whose Append
// was acknowledged as durable. It is written only after the entries it
// covers are on stable storage, so it may lag behind the log but never
// leads it: a log that ends before its mark has lost acknowledged entries.
//
// It has two slots, at offset 0 and headStride, written in turn in place
// (no fsync per append: the mark may lag). Each is one line,
//
//	sluice-head GEN SEQ CRC
//
// GEN (16 hex digits) counts the writes, SEQ is 20 decimal digits and CRC
// is the crc32c of the line before it, 8 hex digits. The valid slot with
// the higher GEN holds the mark, so a write torn by a power loss leaves the
// other, older slot.
const (
	headStride  = 4096
	headSlotLen = len("sluice-head ") + 16 + 1 + 20 + 1 + 8 + 1
)

// headSlot formats slot gen of the HEAD file.
func headSlot(gen uint64, seq Seq) []byte {
	b := make([]byte, 0, headSlotLen)
	b = append(b, "sluice-head "...)
	b = append(b, fmt.Sprintf("%016x %020d", gen, uint64(seq))...)
	return append(b, fmt.Sprintf(" %08x\n", crc32.Checksum(b, castagnoli))...)
}

// parseHeadSlot parses one slot; ok is false if it is not a valid one.
func parseHeadSlot(b []byte) (gen uint64, seq Seq, ok bool) {
	if len(b) < headSlotLen {
		return 0, 0, false
	}
	b = b[:headSlotLen]
	body := b[:headSlotLen-10]
	if string(b[:12]) != "sluice-head " || b[len(b)-1] != '\n' || b[len(body)] != ' ' {
		return 0, 0, false
	}
	crc, err := strconv.ParseUint(string(b[len(body)+1:len(b)-1]), 16, 32)
	if err != nil || uint32(crc) != crc32.Checksum(body, castagnoli) {
		return 0, 0, false
	}
	gen, err1 := strconv.ParseUint(string(body[12:28]), 16, 64)
	s, err2 := strconv.ParseUint(string(body[29:]), 10, 64)
	if err1 != nil || err2 != nil || body[28] != ' ' {
		return 0, 0, false
	}
	return gen, Seq(s), true
}

// readHead reads the mark from an open HEAD file: the seq and generation
// of its newest valid slot.
func readHead(f *os.File) (Seq, uint64, error) {
	var b [headStride + headSlotLen]byte // on the stack: followers call this every poll
	n, err := f.ReadAt(b[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	buf := b[:n]
	var seq Seq
	var gen uint64
	found := false
	for _, off := range []int{0, headStride} {
		if off >= len(buf) {
			break
		}
		if g, s, ok := parseHeadSlot(buf[off:]); ok && (!found || g > gen) {
			gen, seq, found = g, s, true
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("%w: %s holds no valid mark: cannot tell whether acknowledged entries were lost", ErrLost, f.Name())
	}
	return seq, gen, nil
}

// ReadMark returns the durable mark of the log in dir: the highest seq
// acknowledged as durable (see doc.go). It is 0 for a format 1 log and an
// error matching ErrLost if the HEAD file of a format 2 log is missing or
// damaged. It takes no lock.
func ReadMark(dir string) (Seq, error) {
	m, err := readMeta(dir)
	if err != nil {
		return 0, fmt.Errorf("read mark: %w", err)
	}
	if m.version == 1 {
		return 0, nil
	}
	f, err := openHead(dir, os.O_RDONLY)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	seq, _, err := readHead(f)
	return seq, err
}

// openHead opens the HEAD file; a missing one is an ErrLost error.
func openHead(dir string, flag int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, headFile), flag, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: the HEAD file is missing: cannot tell whether acknowledged entries were lost", ErrLost, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open mark: %w", err)
	}
	return f, nil
}

// writeHeadFile replaces the HEAD file with one holding mark seq
// (atomically: a new log, an upgrade, or a loss accepted).
func writeHeadFile(dir string, seq Seq) error {
	return fsutil.WriteFileAtomic(filepath.Join(dir, headFile), headSlot(0, seq), 0o644)
}

// head is the writer's open HEAD file.
type head struct {
	f    *os.File
	gen  uint64
	mark Seq // what the file says
}

// openHeadWriter opens dir's HEAD file for the writer.
func openHeadWriter(dir string) (*head, error) {
	f, err := openHead(dir, os.O_RDWR)
	if err != nil {
		return nil, err
	}
	seq, gen, err := readHead(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &head{f: f, gen: gen, mark: seq}, nil
}

// set writes seq as the mark into the slot after the current one, unless
// the mark is already there or beyond. The caller makes sure the entries
// up to seq are durable first. With sync it fsyncs the file too.
func (h *head) set(seq Seq, sync bool) error {
	seq = max(seq, h.mark) // the mark never goes back
	if seq == h.mark && !sync {
		return nil
	}
	gen := h.gen + 1
	if _, err := h.f.WriteAt(headSlot(gen, seq), int64(gen%2)*headStride); err != nil {
		return fmt.Errorf("write mark: %w", err)
	}
	h.gen, h.mark = gen, seq
	if sync {
		if err := h.f.Sync(); err != nil {
			return fmt.Errorf("sync mark: %w", err)
		}
	}
	return nil
}

func (h *head) close() error { return h.f.Close() }
