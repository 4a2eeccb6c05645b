package lattice_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/view/lattice"
)

// randomCounter favours small values, so that ties happen, and includes
// the extremes.
func randomCounter(rng *rand.Rand) lattice.Counter {
	switch rng.IntN(6) {
	case 0:
		return lattice.Counter(math.MinInt64)
	case 1:
		return lattice.Counter(math.MaxInt64)
	case 2:
		return lattice.Counter(rng.Int64())
	}
	return lattice.Counter(rng.IntN(7) - 3)
}

// randomSet returns a set of members from the test's scalars, parsed from
// their raw text, and the canonical texts of its members.
func randomSet(t *testing.T, rng *rand.Rand) (lattice.Set, []string) {
	t.Helper()
	var raws, canon []string
	seen := map[string]bool{}
	for _, s := range pick(rng, scalars, rng.IntN(6)) {
		raws = append(raws, s.raw)
		if !seen[s.canon] {
			seen[s.canon] = true
			canon = append(canon, s.canon)
		}
	}
	v, err := lattice.ParseValue("x_set", []byte("["+strings.Join(raws, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(canon)
	return v.(lattice.Set), canon
}

// randomRegister uses few versions and values, so that ties happen.
func randomRegister(t *testing.T, rng *rand.Rand) lattice.Register {
	t.Helper()
	pool := append(append([]jsonText(nil), scalars[:6]...), composites...)
	v := pool[rng.IntN(len(pool))]
	r, err := lattice.ParseValue("x_register", fmt.Appendf(nil, "[%d, %s]", rng.IntN(3)-1, v.raw))
	if err != nil {
		t.Fatal(err)
	}
	return r.(lattice.Register)
}

func text(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkLaws checks that merge is commutative, associative and idempotent
// on a, b, c (values compared by their JSON).
func checkLaws[V any](t *testing.T, name string, merge func(V, V) V, a, b, c V) {
	t.Helper()
	if x, y := text(t, merge(a, b)), text(t, merge(b, a)); x != y {
		t.Fatalf("%s not commutative: merge(%s, %s) = %s, merge(b, a) = %s", name, text(t, a), text(t, b), x, y)
	}
	if x, y := text(t, merge(merge(a, b), c)), text(t, merge(a, merge(b, c))); x != y {
		t.Fatalf("%s not associative on %s, %s, %s: %s vs %s", name, text(t, a), text(t, b), text(t, c), x, y)
	}
	if x := text(t, merge(a, a)); x != text(t, a) {
		t.Fatalf("%s not idempotent: merge(%s, itself) = %s", name, text(t, a), x)
	}
}

// TestMergeLaws checks, for random values of each kind, the laws that make
// the lattice order-independent, and each merge against its definition
// computed here.
func TestMergeLaws(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 15))
	for i := 0; i < 2000; i++ {
		a, b, c := randomCounter(rng), randomCounter(rng), randomCounter(rng)
		checkLaws(t, "MergeCounter", lattice.MergeCounter, a, b, c)
		if m := lattice.MergeCounter(a, b); m < a || m < b || (m != a && m != b) {
			t.Fatalf("MergeCounter(%d, %d) = %d, not the greater", a, b, m)
		}

		sa, ca := randomSet(t, rng)
		sb, cb := randomSet(t, rng)
		sc, _ := randomSet(t, rng)
		checkLaws(t, "MergeSet", lattice.MergeSet, sa, sb, sc)
		union := map[string]bool{}
		for _, m := range append(ca, cb...) {
			union[m] = true
		}
		want := sortedKeys(union)
		if got, w := text(t, lattice.MergeSet(sa, sb)), "["+strings.Join(want, ",")+"]"; got != w {
			t.Fatalf("MergeSet(%s, %s) = %s, want %s", text(t, sa), text(t, sb), got, w)
		}

		ra, rb, rc := randomRegister(t, rng), randomRegister(t, rng), randomRegister(t, rng)
		checkLaws(t, "MergeRegister", lattice.MergeRegister, ra, rb, rc)
		wantR := ra
		if rb.Version > ra.Version || rb.Version == ra.Version && string(rb.Value) > string(ra.Value) {
			wantR = rb
		}
		if got := lattice.MergeRegister(ra, rb); text(t, got) != text(t, wantR) {
			t.Fatalf("MergeRegister(%s, %s) = %s, want %s", text(t, ra), text(t, rb), text(t, got), text(t, wantR))
		}

		generic := func(x, y lattice.Value) lattice.Value {
			v, err := lattice.Merge(x, y)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		checkLaws[lattice.Value](t, "Merge", generic, sa, sb, sc)
		checkLaws[lattice.Value](t, "Merge", generic, ra, rb, rc)
	}
}

// TestRegisterTieBreak: registers of equal versions are decided by the
// bytes of their canonical values, whichever comes first; the canonical
// forms are written out here.
func TestRegisterTieBreak(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{`[1, "a"]`, `[1, "b"]`, `[1,"b"]`},
		{`[1, "z"]`, `[1, 2]`, `[1,2]`},                       // '2' (0x32) > '"' (0x22)
		{`[1, 10]`, `[1, 9]`, `[1,9]`},                        // bytes, not numbers
		{`[1, 2.0]`, `[1, 2]`, `[1,2]`},                       // the same value once canonical
		{`[1, true]`, `[1, null]`, `[1,true]`},                // 't' > 'n'
		{`[1, {"b":1,"a":2}]`, `[1, {"a":3}]`, `[1,{"a":3}]`}, // {"a":2,"b":1} < {"a":3}
		{`[2, "a"]`, `[1, "z"]`, `[2,"a"]`},                   // the version first
		{`[-1, "z"]`, `[0, "a"]`, `[0,"a"]`},
	} {
		a, err := lattice.ParseValue("r_register", []byte(tc.a))
		if err != nil {
			t.Fatal(err)
		}
		b, err := lattice.ParseValue("r_register", []byte(tc.b))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []lattice.Register{
			lattice.MergeRegister(a.(lattice.Register), b.(lattice.Register)),
			lattice.MergeRegister(b.(lattice.Register), a.(lattice.Register)),
		} {
			if got := text(t, m); got != tc.want {
				t.Errorf("merge %s and %s = %s, want %s", tc.a, tc.b, got, tc.want)
			}
		}
	}
}

// randomDict returns a dictionary of random values over the test's keys
// and fields.
func randomDict(t *testing.T, rng *rand.Rand) lattice.Dict {
	t.Helper()
	d := lattice.Dict{}
	for _, k := range pick(rng, keys, rng.IntN(3)) {
		d[k] = map[string]lattice.Value{}
		for _, f := range pick(rng, fields, 1+rng.IntN(3)) {
			switch kind, _ := lattice.KindOf(f); kind {
			case lattice.KindCounter:
				d[k][f] = randomCounter(rng)
			case lattice.KindSet:
				d[k][f], _ = randomSet(t, rng)
			default:
				d[k][f] = randomRegister(t, rng)
			}
		}
	}
	return d
}

// TestDictMergeLaws: merging dictionaries field by field keeps the laws.
func TestDictMergeLaws(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 15))
	merge := func(a, b lattice.Dict) lattice.Dict {
		out := lattice.Dict{}
		for _, d := range []lattice.Dict{a, b} {
			if err := out.Merge(d); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	for i := 0; i < 500; i++ {
		a, b, c := randomDict(t, rng), randomDict(t, rng), randomDict(t, rng)
		checkLaws(t, "Dict.Merge", merge, a, b, c)
	}
}

// TestDictMergeRefuses: a value of the wrong kind for its field, or two
// kinds for one field, is an error naming the key and field, and the
// dictionary is unchanged.
func TestDictMergeRefuses(t *testing.T) {
	d := lattice.Dict{"k": {"a_counter": lattice.Counter(1)}}
	set, _ := lattice.NewSet("x")
	for _, tc := range []struct {
		o   lattice.Dict
		msg string
	}{
		{lattice.Dict{"k": {"a_counter": set}}, `key "k" field "a_counter": a set value in a counter field`},
		{lattice.Dict{"k": {"b_counter": lattice.Counter(5), "a_set": lattice.Counter(1)}}, `key "k" field "a_set": a counter value in a set field`},
		{lattice.Dict{"k": {"x": lattice.Counter(1)}}, `key "k" field "x": unknown suffix`},
		{lattice.Dict{"": {"x_counter": lattice.Counter(1)}}, `empty key`},
		{lattice.Dict{"k": {"s_set": lattice.Set{json.RawMessage(`"b"`), json.RawMessage(`"a"`)}}}, `not canonical or not in order`},
		{lattice.Dict{"k": {"r_register": lattice.Register{Version: 1, Value: json.RawMessage(`{ }`)}}}, `not canonical`},
	} {
		err := d.Merge(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Merge(%v): %v, want an error containing %q", tc.o, err, tc.msg)
		}
		if got := text(t, d); got != `{"k":{"a_counter":1}}` {
			t.Fatalf("after a refused merge: %s", got)
		}
	}
}
