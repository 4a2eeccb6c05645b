package ssb

import (
	"testing"
)

// FuzzDecode checks that Decode never panics and agrees with encoding/json
// (through the oracle) on every input: the same fields when both accept it,
// and an error naming the same field when the oracle rejects it. Its seed
// corpus (testdata/fuzz/FuzzDecode) holds real messages, indented and
// private ones, and broken ones.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(envelope(`{"type":"post","root":"%r","branch":["%b"],"mentions":[{"link":"@m"},"#c"]}`)))
	f.Add([]byte(envelope(`{"type":"contact","contact":"@c","following":true,"blocking":null}`)))
	f.Add([]byte(envelope(`{"type":"about","about":"@a","image":{"link":"&i","size":1}}`)))
	f.Add([]byte(envelope(`"c2VjcmV0.box"`)))
	f.Add([]byte(`{"key":"%k","value":{"author":"@a","sequence":1.5}}`))
	used := []byte(envelope(`{"type":"about","about":"@\u00e9","name":"n","mentions":["@x"]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var m Message
		checkAgainstOracle(t, &m, payload)
		// A Message that was used before gives the same result.
		if err := Decode(used, &m); err != nil {
			t.Fatal(err)
		}
		checkAgainstOracle(t, &m, payload)
	})
}
