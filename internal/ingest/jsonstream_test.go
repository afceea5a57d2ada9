package ingest

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
)

// TestJSONStreamValues reads the values of arrays whose strings hold
// brackets, braces, escaped quotes and backslashes, and checks each value
// is the bytes encoding/json sees as the same element.
func TestJSONStreamValues(t *testing.T) {
	for _, doc := range []string{
		`[{"a":"}]"},{"b":"\"{"},{"c":"\\"},[1,[2]],"x\"]",-1.5e3,true,null]`,
		"\ufeff[ {\"a\" : 1} ,\n\t{\"b\":[]} ]",
		`[{"deep":{"er":{"est":[{"k":"v"}]}}}]`,
	} {
		var want []json.RawMessage
		if err := json.Unmarshal([]byte(strings.TrimPrefix(doc, "\ufeff")), &want); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		js := NewJSONStream(bufio.NewReaderSize(strings.NewReader(doc), 16), 1<<20)
		if _, err := js.Expect("["); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		for i, w := range want {
			got, err := js.Value()
			if err != nil {
				t.Fatalf("%s: value %d: %v", doc, i, err)
			}
			if string(got) != string(w) {
				t.Errorf("%s: value %d = %s, want %s", doc, i, got, w)
			}
			sep, err := js.Expect(",]")
			if err != nil {
				t.Fatalf("%s: after value %d: %v", doc, i, err)
			}
			if (sep == ']') != (i == len(want)-1) {
				t.Fatalf("%s: %q after value %d of %d", doc, sep, i, len(want))
			}
		}
	}
}

// TestJSONStreamErrors: a document cut short, a missing separator and a
// value past the bound are errors that say so.
func TestJSONStreamErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"a":"b`, "unexpected end of input"},
		{`{"a":[1,2}`, "unexpected end of input"},
		{`{"a":1} {"b":2}`, `'{' where ",]" was expected`},
		{`{"big":"` + strings.Repeat("x", 100) + `"}`, "longer than 64 bytes"},
	} {
		js := NewJSONStream(bufio.NewReaderSize(strings.NewReader(c.doc), 16), 64)
		_, err := js.Value()
		if err == nil {
			_, err = js.Expect(",]")
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.doc, err, c.want)
		}
	}
}
