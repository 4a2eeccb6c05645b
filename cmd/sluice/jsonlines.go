package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// lineSlack is how far a line may run over maxPayload before it is refused
// unread: room for whitespace around a payload of the largest size.
const lineSlack = 64 << 10

// jsonLines reads JSON lines: one JSON value per line, blank lines skipped.
// Every value is checked with checkPayload; a line that fails stops the
// reader with an error naming the source, the line and the byte. Memory is
// bounded: a line is never held beyond maxPayload+lineSlack bytes.
type jsonLines struct {
	br   *bufio.Reader
	name string // the source, for messages ("standard input")
	line int    // number of the line last read, from 1
	buf  []byte
}

func newJSONLines(r io.Reader, name string) *jsonLines {
	return &jsonLines{br: bufio.NewReaderSize(r, 1<<20), name: name}
}

// next returns the next value, trimmed of surrounding whitespace; the
// slice is valid until the next call. At the end of the input it returns
// ok false and no error.
func (r *jsonLines) next() (v []byte, ok bool, err error) {
	for {
		line, eof, err := r.readLine()
		if err != nil {
			return nil, false, err
		}
		t := bytes.TrimLeft(line, " \t\r\n\v\f")
		lead := len(line) - len(t)
		t = bytes.TrimRight(t, " \t\r\n\v\f")
		if len(t) > 0 {
			if err := checkPayload(t); err != nil {
				return nil, false, placePayloadError(fmt.Sprintf("%s line %d", r.name, r.line), err, func(at int) string {
					return fmt.Sprintf("byte %d", lead+at+1) // of the line
				})
			}
			return t, true, nil
		}
		if eof {
			return nil, false, nil
		}
	}
}

// readLine reads the next line, newline included; eof reports that the
// input ended with it.
func (r *jsonLines) readLine() (line []byte, eof bool, err error) {
	r.line++
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.buf = append(r.buf, chunk...)
		if len(r.buf) > maxPayload+lineSlack {
			return nil, false, fmt.Errorf("%s line %d: longer than %d bytes, over the log's limit of %d bytes per entry",
				r.name, r.line, maxPayload+lineSlack, maxPayload)
		}
		switch {
		case err == nil:
			return r.buf, false, nil
		case err == io.EOF:
			return r.buf, true, nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return nil, false, fmt.Errorf("read %s line %d: %w", r.name, r.line, err)
		}
	}
}
