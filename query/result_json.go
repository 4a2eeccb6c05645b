package query

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// MarshalJSON writes the result as one JSON object:
//
//	{"n": 2, "time": "2026-12-01T10:00:00.123Z", "columns": ["k", "v"],
//	 "rows": [["a", 1], ["b", null]],
//	 "views": [{"file": "kv", "view": "kv", "since": 42, "ahead": [45]}]}
//
// Values are written as AppendValueJSON writes them, so a BLOB is never
// taken for text and an infinite float does not make invalid JSON.
func (r *Result) MarshalJSON() ([]byte, error) {
	b := strconv.AppendUint([]byte(`{"n":`), r.N, 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendQuote(b, r.Time.UTC().Format(time.RFC3339Nano))
	cols, err := json.Marshal(r.Columns)
	if err != nil {
		return nil, err
	}
	b = append(append(b, `,"columns":`...), cols...)
	b = append(b, `,"rows":[`...)
	for i, row := range r.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, v := range row {
			if j > 0 {
				b = append(b, ',')
			}
			b = AppendValueJSON(b, v)
		}
		b = append(b, ']')
	}
	views, err := json.Marshal(r.Views)
	if err != nil {
		return nil, err
	}
	b = append(append(b, `],"views":`...), views...)
	return append(b, '}'), nil
}

// AppendValueJSON appends the JSON of a value as a query returns it (nil,
// int64, float64, string, []byte, bool or time.Time), the way sluice writes
// values everywhere: NULL is null; an infinite float is "Infinity" or
// "-Infinity" and NaN "NaN" (strings: JSON has no such numbers); a BLOB is
// {"$base64": true, "encoded": "..."}; a time is RFC 3339 text. A value of
// another type is written as the string fmt.Sprint gives.
func AppendValueJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case float64:
		switch {
		case math.IsInf(x, 1):
			return append(b, `"Infinity"`...)
		case math.IsInf(x, -1):
			return append(b, `"-Infinity"`...)
		case math.IsNaN(x):
			return append(b, `"NaN"`...)
		}
	case []byte:
		b = append(b, `{"$base64": true, "encoded": "`...)
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, `"}`...)
	case time.Time:
		v = x.Format(time.RFC3339Nano)
	}
	j, err := json.Marshal(v)
	if err != nil { // not a type database/sql gives
		j, _ = json.Marshal(fmt.Sprint(v))
	}
	return append(b, j...)
}
