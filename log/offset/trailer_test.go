package offset

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// The trailer formats written out byte by byte, by hand, from the format in
// doc.go: [u32 length][payload][u32 length][next-frame offset, W bytes],
// all big-endian. Nothing here is computed by the package (nor by the
// helpers of writer_test.go, which these bytes check).

// unhex decodes hex digits, ignoring spaces and "|" (which only show the
// fields).
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// longPayload is the 300-byte payload of frame 2, long enough for
// next-frame offsets over 255: two significant bytes in every trailer.
var longPayload = strings.Repeat("x", 300)

// handFrames are three frames of each width, holding "ab", longPayload and
// "{}". Frame sizes: 10+W, 308+W, 10+W.
var handFrames = []struct {
	w      int
	frames []string // hex; "LONG" stands for longPayload's bytes
}{
	{4, []string{
		"00000002 | 6162 | 00000002 | 0000000e", // ends at 14
		"0000012c | LONG | 0000012c | 00000146", // 14+312 = 326
		"00000002 | 7b7d | 00000002 | 00000154", // 326+14 = 340
	}},
	{6, []string{
		"00000002 | 6162 | 00000002 | 000000000010", // ends at 16
		"0000012c | LONG | 0000012c | 00000000014a", // 16+314 = 330
		"00000002 | 7b7d | 00000002 | 00000000015a", // 330+16 = 346
	}},
	{8, []string{
		"00000002 | 6162 | 00000002 | 0000000000000012", // ends at 18
		"0000012c | LONG | 0000012c | 000000000000014e", // 18+316 = 334
		"00000002 | 7b7d | 00000002 | 0000000000000160", // 334+18 = 352
	}},
}

// TestTrailerBytes reads files written byte by byte with each trailer
// width: the reader detects the width, yields the payloads, and from the
// middle too; a frame whose trailer is written little-endian is damage,
// not a frame. The test helpers build the same bytes.
func TestTrailerBytes(t *testing.T) {
	payloads := []string{"ab", longPayload, "{}"}
	for _, hf := range handFrames {
		t.Run(fmt.Sprintf("w%d", hf.w), func(t *testing.T) {
			var file []byte
			for _, f := range hf.frames {
				file = append(file, unhex(t, strings.Replace(f, "LONG", hex.EncodeToString([]byte(longPayload)), 1))...)
			}
			if want := 328 + 3*hf.w; len(file) != want {
				t.Fatalf("the hand-written file has %d bytes, want %d: a typo in the test", len(file), want)
			}
			l := openLog(t, writeFile(t, file))
			got, err := readFrom(t, l, 1, 3)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, []want{{1, payloads[0]}, {2, payloads[1]}, {3, payloads[2]}})
			for from := log.Seq(2); from <= 3; from++ {
				got, err := readFrom(t, l, from, 3)
				if err != nil || len(got) != int(4-from) || string(got[0].Payload) != payloads[from-1] {
					t.Fatalf("Iter(%d): %d entries, %v", from, len(got), err)
				}
			}
			st, err := l.Stats()
			if err != nil || st != (Stats{Frames: 3, Bytes: int64(len(file)), TrailerWidth: hf.w}) {
				t.Fatalf("Stats = %+v, %v", st, err)
			}
			var ps [][]byte
			for _, p := range payloads {
				ps = append(ps, []byte(p))
			}
			if built := buildLog(hf.w, ps...); !bytes.Equal(built, file) {
				t.Fatalf("buildLog(%d) differs from the hand-written bytes:\n%x\n%x", hf.w, built, file)
			}

			// The middle frame's trailer reversed (little-endian), with a
			// good frame after it: corruption at seq 2, offset 10+w.
			bad := bytes.Clone(file)
			end := 318 + 2*hf.w
			slices.Reverse(bad[end-hf.w : end])
			path := writeFile(t, bad)
			_, err = readFrom(t, openLog(t, path), 1, 3)
			isCorrupt(t, err, path, 2, int64(10+hf.w))
		})
	}
}

// TestTrailerValues decodes and encodes trailers written out by hand,
// with every byte significant.
func TestTrailerValues(t *testing.T) {
	tests := []struct {
		bytes string
		v     uint64
	}{
		{"00000000", 0},
		{"0102a0ff", 0x0102a0ff},
		{"ffffffff", 1<<32 - 1},
		{"010203040506", 0x010203040506},
		{"ff0000000001", 0xff0000000001},
		{"000100000000", 1 << 32},
		{"0001020304050607", 0x0001020304050607},
		{"001fffffffffffff", 1<<53 - 1},
		{"8000000000000001", 1<<63 + 1},
	}
	for _, tt := range tests {
		b := unhex(t, tt.bytes)
		if got := trailer(b); got != tt.v {
			t.Errorf("trailer(%s) = %#x, want %#x", tt.bytes, got, tt.v)
		}
		if got := putTrailer(tt.v, len(b)); !bytes.Equal(got, b) {
			t.Errorf("putTrailer(%#x, %d) = %x, want %s", tt.v, len(b), got, tt.bytes)
		}
	}
}
