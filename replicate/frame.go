package replicate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/sluicedb/sluice/log"
)

// The binary stream (ContentTypeStream): the magic line, then frames
//
//	+----------+-------------------+--------------------+
//	| type (1) | uvarint length n  | body (n bytes)     |
//	+----------+-------------------+--------------------+
//
// See doc.go for what each frame type holds.
const (
	// ContentTypeStream is the media type of the binary stream.
	ContentTypeStream = "application/x-sluice-stream"
	// ContentTypeJSONL is the media type of the JSON lines stream.
	ContentTypeJSONL = "application/x-ndjson"

	streamMagic = "sluice-stream 1\n"
)

// Frame types.
const (
	frameHello    = 'h' // JSON: Hello
	frameRecord   = 'r' // a record exactly as the server's log stores it
	framePosition = 'p' // uvarint position, uvarint the server's last seq
	frameError    = 'e' // text: the server hit an error mid-stream
	frameEnd      = 'z' // uvarint position: the end of a stream that does not follow
)

// DefaultMaxFrame is the largest frame body a client accepts by default:
// a record of log.DefaultMaxRecordSize with room for its header.
const DefaultMaxFrame = log.DefaultMaxRecordSize + 1<<10

// frameWriter writes frames to a buffered writer. Not safe for concurrent
// use.
type frameWriter struct {
	w      *bufio.Writer
	length [binary.MaxVarintLen64]byte     // a frame's length
	pos    [2 * binary.MaxVarintLen64]byte // a position frame's body
}

// frame writes one frame.
func (fw *frameWriter) frame(typ byte, body []byte) error {
	fw.w.WriteByte(typ)
	n := binary.PutUvarint(fw.length[:], uint64(len(body)))
	fw.w.Write(fw.length[:n])
	_, err := fw.w.Write(body)
	return err
}

// position writes a position frame: everything up to pos was sent or is
// not for this reader; last is the server's last seq.
func (fw *frameWriter) position(typ byte, pos, last log.Seq) error {
	b := binary.AppendUvarint(fw.pos[:0], uint64(pos))
	if typ == framePosition {
		b = binary.AppendUvarint(b, uint64(last))
	}
	return fw.frame(typ, b)
}

// errFrameTooLarge and errUnexpectedEOF are what frameReader returns for a
// frame over its limit and for a stream that ends inside a frame.
var (
	errFrameTooLarge = errors.New("frame too large")
	errCut           = errors.New("the stream ends inside a frame")
)

// frameReader reads frames. Record bodies are appended to an arena, which
// the caller replaces once it has taken them (streamReader.take); other
// bodies are only valid until the next call. Not safe for concurrent use.
type frameReader struct {
	r     *bufio.Reader
	max   int
	off   int64  // stream offset of the next frame
	arena []byte // record bodies since the caller last took them
	small []byte // the last non-record body
}

func newFrameReader(r io.Reader, max int) *frameReader {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &frameReader{r: bufio.NewReaderSize(r, 1<<20), max: max}
}

// magic reads and checks the magic line.
func (fr *frameReader) magic() error {
	b := make([]byte, len(streamMagic))
	n, err := io.ReadFull(fr.r, b)
	fr.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("the stream ends before its first line %q", streamMagic[:len(streamMagic)-1])
		}
		return err
	}
	if string(b) != streamMagic {
		return fmt.Errorf("the stream does not start with %q (got %q): not a sluice stream", streamMagic[:len(streamMagic)-1], b)
	}
	return nil
}

// next reads the next frame. It returns io.EOF at the end of the stream
// between frames, errCut inside one. A record's body is appended to the
// arena; the others' are valid until the next call.
func (fr *frameReader) next() (typ byte, body []byte, err error) {
	typ, err = fr.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	size, err := binary.ReadUvarint(fr.r)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return typ, nil, errCut
		}
		return typ, nil, fmt.Errorf("frame length: %w", err)
	}
	if size > uint64(fr.max) {
		return typ, nil, fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, size, fr.max)
	}
	n := int(size)
	if typ == frameRecord {
		start := len(fr.arena)
		fr.arena = growBytes(fr.arena, n)
		body = fr.arena[start : start+n : start+n]
	} else {
		fr.small = growBytes(fr.small[:0], n)
		body = fr.small
	}
	if _, err := io.ReadFull(fr.r, body); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return typ, nil, errCut
		}
		return typ, nil, err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	fr.off += 1 + int64(binary.PutUvarint(lenBuf[:], size)) + int64(size)
	return typ, body, nil
}

// growBytes extends b by n bytes, reallocating if needed.
func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, max(2*cap(b), len(b)+n, 64<<10))
	copy(nb, b)
	return nb
}

// decodePosition decodes a position or end frame's body: one uvarint (end)
// or two (position: the position and the server's last seq).
func decodePosition(typ byte, body []byte) (pos, last log.Seq, err error) {
	p, k := binary.Uvarint(body)
	if k <= 0 {
		return 0, 0, errors.New("bad position")
	}
	body = body[k:]
	if typ == framePosition {
		l, k := binary.Uvarint(body)
		if k <= 0 {
			return 0, 0, errors.New("bad last seq")
		}
		last, body = log.Seq(l), body[k:]
	}
	if len(body) != 0 {
		return 0, 0, fmt.Errorf("%d extra bytes", len(body))
	}
	return log.Seq(p), last, nil
}
