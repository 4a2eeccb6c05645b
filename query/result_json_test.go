package query_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
)

// TestResultJSON compares a Result's JSON, with every kind of value a
// query returns, to bytes written by hand (compact: json.Marshal compacts
// what MarshalJSON writes).
func TestResultJSON(t *testing.T) {
	r := &query.Result{
		N:       3,
		Time:    time.Date(2026, 12, 1, 10, 0, 0, 123000000, time.FixedZone("X", 3600)),
		Columns: []string{"i", "f", "s", "b", "n", "inf", "nan", "t", "ok"},
		Rows: [][]any{
			{int64(-7), 1.5, "a\"\n", []byte{0, 0xff}, nil, math.Inf(-1), math.NaN(), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
			{int64(1), 1e21, "", []byte{}, nil, math.Inf(1), 0.0, time.Time{}, false},
		},
		Views: []query.ViewState{{File: "app", View: "kv", Since: 42, Ahead: []log.Seq{45, 47}}, {File: "ssb", View: "ssb", Since: 7}},
	}
	want := `{"n":3,"time":"2026-12-01T09:00:00.123Z","columns":["i","f","s","b","n","inf","nan","t","ok"],"rows":[` +
		`[-7,1.5,"a\"\n",{"$base64":true,"encoded":"AP8="},null,"-Infinity","NaN","2026-01-02T03:04:05Z",true],` +
		`[1,1e+21,"",{"$base64":true,"encoded":""},null,"Infinity",0,"0001-01-01T00:00:00Z",false]],` +
		`"views":[{"file":"app","view":"kv","since":42,"ahead":[45,47]},{"file":"ssb","view":"ssb","since":7}]}`
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
