package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sluicedb/sluice/log"
)

// maxJSONDepth is how deeply arrays and objects may nest in a payload:
// encoding/json's limit, which sluice keeps (views parse payloads).
const maxJSONDepth = 10000

// maxPayload is the largest payload append and import accept: the log's
// default record limit, which they open the log with.
const maxPayload = log.DefaultMaxRecordSize

// payloadError says why a payload is refused and where in it: At is the
// 0-based byte offset the problem was found at, or -1 for the payload as
// a whole (its size). Error counts bytes from 1.
type payloadError struct {
	At     int
	Reason string
}

func (e *payloadError) Error() string {
	if e.At < 0 {
		return e.Reason
	}
	return fmt.Sprintf("byte %d: %s", e.At+1, e.Reason)
}

// placePayloadError names where a payload refused by checkPayload was:
// "standard input line 3, byte 17: ...". what is the payload's place;
// byteOf turns an offset in the payload into the words naming that byte.
func placePayloadError(what string, err error, byteOf func(at int) string) error {
	var pe *payloadError
	if !errors.As(err, &pe) || pe.At < 0 {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s, %s: %s", what, byteOf(pe.At), pe.Reason)
}

// checkPayload applies the one rule append and import share: a payload is
// one JSON value in valid UTF-8, nested at most maxJSONDepth deep, not empty
// and at most maxPayload bytes. It returns a *payloadError.
func checkPayload(b []byte) error {
	switch {
	case len(b) == 0:
		return &payloadError{-1, "empty: a payload must be a JSON value"}
	case len(b) > maxPayload:
		return &payloadError{-1, fmt.Sprintf("%d bytes, over the log's limit of %d bytes per entry", len(b), maxPayload)}
	}
	if isJSONText(b) {
		return nil
	}
	if !utf8.Valid(b) {
		i := invalidUTF8At(b)
		return &payloadError{i, "invalid UTF-8 (a payload must be JSON text in UTF-8)"}
	}
	// Slow path, for the message: json.Unmarshal says what and where.
	var raw json.RawMessage
	err := json.Unmarshal(b, &raw)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &payloadError{-1, "not a valid JSON value"}
	}
	at := int(se.Offset) - 1
	if strings.HasSuffix(se.Error(), "exceeded max depth") {
		return &payloadError{at, fmt.Sprintf("JSON nested deeper than %d levels, the limit (each array and object is a level)", maxJSONDepth)}
	}
	if se.Error() == "unexpected end of JSON input" {
		return &payloadError{-1, "not a valid JSON value: it ends before the value does"}
	}
	return &payloadError{at, "not a valid JSON value: " + se.Error()}
}

// isJSONText reports whether b is one JSON value in valid UTF-8 (nested
// at most maxJSONDepth deep, as encoding/json checks).
func isJSONText(b []byte) bool { return json.Valid(b) && utf8.Valid(b) }

// invalidUTF8At returns the offset of the first byte of b that is not
// part of valid UTF-8, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}
