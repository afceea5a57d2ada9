package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// compactCases are valid and invalid JSON at the edges of the grammar.
var compactCases = []string{
	`{"a":1}`, ` { "a" : [ 1 , 2.5e-3 , -0 , true , false , null ] } `, "[\n]", `"x\"y\\z\u00e9"`,
	`{"eventID":"a b","n":{"m":{}}}`, "\t\"tab \\t inside\"\n", `0`, `-12.5E+7`, `[]`, `{}`,
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `-`, `1e`, `tru`,
	`nul`, `"unterminated`, "\"ctl \x01\"", `"\x"`, `"\u12"`, `"\u12g4"`, `[1] [2]`, `{"a":1}x`,
	`[` + strings.Repeat("[", 20) + strings.Repeat("]", 21), `"é"`, `{"k":"v"}` + "\n",
}

func TestCompactJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range compactCases {
		checkCompact(t, []byte(c))
	}
}

func checkCompact(t *testing.T, src []byte) {
	t.Helper()
	var want bytes.Buffer
	wantErr := json.Compact(&want, src)
	got, err := CompactJSON(src)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("CompactJSON(%q): error %v, encoding/json says %v", src, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, bytes.TrimSpace(want.Bytes())) {
		t.Fatalf("CompactJSON(%q) = %q, encoding/json gives %q", src, got, want.Bytes())
	}
}

func FuzzCompactJSON(f *testing.F) {
	for _, c := range compactCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, src []byte) { checkCompact(t, src) })
}
