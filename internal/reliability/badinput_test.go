package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// badInput is one malformed input: a file for `audit import` and a body
// for POST /v1/events, and what the error must name.
type badInput struct {
	name    string
	format  string // jsonl, json or csv
	content string
	says    []string // in the error message, besides the line or record
}

const okTime = "2026-11-20T14:00:00Z"

// jsonlEvent is a valid JSON Lines event with one field replaced by raw
// (a JSON value as text), or added when it is not there.
func jsonlEvent(field, raw string) string {
	fields := [][2]string{{"id", `"bad-1"`}, {"time", `"` + okTime + `"`}, {"user", `"jdavis"`},
		{"type", `"update"`}, {"action", `"Updated"`}, {"details", `"ok"`}, {"ip", `"10.0.0.55"`}}
	var b strings.Builder
	b.WriteString("{")
	found := false
	for i, f := range fields {
		if i > 0 {
			b.WriteString(",")
		}
		v := f[1]
		if f[0] == field {
			v, found = raw, true
		}
		fmt.Fprintf(&b, "%q:%s", f[0], v)
	}
	if !found {
		fmt.Fprintf(&b, ",%q:%s", field, raw)
	}
	return b.String() + "}"
}

// badInputs are the malformed inputs of the issue: invalid UTF-8, 10 MB
// fields, NUL bytes, CSV with the wrong column count, JSON with wrong
// types, times out of range, IPs with zones.
func badInputs() []badInput {
	valid := jsonlEvent("", "") // the same event, valid, as line 1
	valid = strings.Replace(valid, `,"":`, "", 1)
	valid = strings.Replace(valid, `"bad-1"`, `"good-1"`, 1)
	big := strings.Repeat("A", 10<<20)
	csvHeader := "id,time,user,type,details,ip\n"
	csvOK := "good-1," + okTime + ",jdavis,update,ok,10.0.0.55\n"
	return []badInput{
		{"invalid UTF-8 in details (JSON Lines)", "jsonl", valid + "\n" + jsonlEvent("details", "\"caf\xe9 \xff\""), []string{"line 2", "details", "UTF-8"}},
		{"lone UTF-16 surrogate escape (JSON Lines)", "jsonl", jsonlEvent("details", `"\ud800"`), []string{"line 1", "details", "UTF-8"}},
		{"invalid UTF-8 in user (JSON array)", "json", "[" + jsonlEvent("user", "\"j\xc3\x28\"") + "]", []string{"record 1", "user", "UTF-8"}},
		{"invalid UTF-8 in resource (CSV)", "csv", "id,time,user,type,resource\nbad-1," + okTime + ",jdavis,update,\xfe\xfe\n", []string{"line 2", "resource", "UTF-8"}},
		{"10 MB details (JSON Lines)", "jsonl", jsonlEvent("details", `"`+big+`"`), []string{"line 1", "longer than"}},
		{"10 MB details (JSON array)", "json", "[" + jsonlEvent("details", `"`+big+`"`) + "]", []string{"record 1", "details", "limit of 8192"}},
		{"10 MB details (CSV)", "csv", csvHeader + "bad-1," + okTime + ",jdavis,update," + big + ",10.0.0.55\n", []string{"line 2", "details", "limit of 8192"}},
		{"10 MB id (JSON Lines)", "jsonl", jsonlEvent("id", `"`+big[:1<<19]+`"`), []string{"line 1", "id", "longer than 128"}},
		{"NUL escape in details (JSON Lines)", "jsonl", jsonlEvent("details", `"before\u0000after"`), []string{"line 1", "details", "NUL"}},
		{"raw NUL byte in a JSON string", "jsonl", jsonlEvent("details", "\"a\x00b\""), []string{"line 1", "invalid JSON"}},
		{"NUL byte in a CSV cell", "csv", csvHeader + "bad-1," + okTime + ",jd\x00avis,update,ok,\n", []string{"line 2", "user", "NUL"}},
		{"CSV row with too many columns", "csv", csvHeader + csvOK + "bad-1," + okTime + ",jdavis,update,ok,10.0.0.55,extra\n", []string{"line 3", "wrong number of fields"}},
		{"CSV row with too few columns", "csv", csvHeader + "bad-1," + okTime + ",jdavis\n", []string{"line 2", "wrong number of fields"}},
		{"CSV with an unknown column", "csv", "id,time,user,type,color\nbad-1," + okTime + ",jdavis,update,red\n", []string{"line 1", `unknown CSV column "color"`}},
		{"CSV without the time column", "csv", "id,user,type\nbad-1,jdavis,update\n", []string{"line 1", `"time"`}},
		{"CSV with an unclosed quote", "csv", csvHeader + "bad-1," + okTime + ",\"jdavis,update,ok,\n", []string{"invalid CSV"}},
		{"JSON number for time", "jsonl", jsonlEvent("time", "1732111200"), []string{"line 1", "time", "RFC 3339"}},
		{"JSON array for user", "jsonl", jsonlEvent("user", `["jdavis"]`), []string{"line 1", "user", "want a string"}},
		{"JSON object for details", "json", "[" + jsonlEvent("details", `{"a":1}`) + "]", []string{"record 1", "details", "want a string"}},
		{"JSON string for seq", "jsonl", jsonlEvent("seq", `"7"`), []string{"line 1", "seq", "want a whole number"}},
		{"an array of numbers", "json", "[1, 2]", []string{"record 1", "want an event (a JSON object)"}},
		{"JSON boolean for outcome", "jsonl", jsonlEvent("outcome", `true`), []string{"line 1", "outcome"}},
		{"unknown type", "jsonl", jsonlEvent("type", `"reboot"`), []string{"line 1", "type", `unknown type "reboot"`}},
		{"unknown field", "jsonl", jsonlEvent("colour", `"red"`), []string{"line 1", `unknown field "colour"`}},
		{"two JSON values on a line", "jsonl", jsonlEvent("", "") + " {}", []string{"line 1"}},
		{"truncated JSON array", "json", "[" + valid + ",", []string{"invalid JSON"}},
		{"time before 1970", "jsonl", jsonlEvent("time", `"1969-12-31T23:59:59Z"`), []string{"line 1", "time", "out of range"}},
		{"time in year 1", "jsonl", jsonlEvent("time", `"0001-01-02T00:00:00Z"`), []string{"line 1", "time", "out of range"}},
		{"time past 2262 (SQLite's limit)", "jsonl", jsonlEvent("time", `"2263-01-01T00:00:00Z"`), []string{"time", "2263-01-01T00:00:00Z"}},
		{"time in year 10000", "jsonl", jsonlEvent("time", `"10000-01-01T00:00:00Z"`), []string{"line 1", "time", "RFC 3339"}},
		{"hour 24", "csv", "id,time,user,type\nbad-1,2026-11-20T24:00:00Z,jdavis,update\n", []string{"line 2", "time", "RFC 3339"}},
		{"offset +25:00", "jsonl", jsonlEvent("time", `"2026-11-20T14:00:00+25:00"`), []string{"line 1", "time"}},
		{"IPv6 with a zone", "jsonl", jsonlEvent("ip", `"fe80::1%eth0"`), []string{"line 1", "ip", "without zone"}},
		{"IPv6 with a numeric zone (CSV)", "csv", csvHeader + "bad-1," + okTime + ",jdavis,update,ok,fe80::1%2\n", []string{"line 2", "ip", "without zone"}},
		{"IP with a port", "jsonl", jsonlEvent("ip", `"10.0.0.55:443"`), []string{"line 1", "ip"}},
		{"CIDR as an IP", "jsonl", jsonlEvent("ip", `"10.0.0.0/8"`), []string{"line 1", "ip"}},
		{"id with a newline", "jsonl", jsonlEvent("id", `"a\nb"`), []string{"line 1", "id", "control character"}},
		{"empty user", "jsonl", jsonlEvent("user", `""`), []string{"line 1", "user", "missing"}},
		{"blank lines, then a bad line (JSON Lines)", "jsonl", "\n\n" + valid + "\n\n" + jsonlEvent("type", `"reboot"`) + "\n", []string{"line 5", "type"}},
		{"blank lines, then a bad row (CSV)", "csv", "\n\n" + csvHeader + "\n" + "bad-1,yesterday,jdavis,update,ok,\n", []string{"line 5", "time"}},
	}
}

// TestBadInputImport imports each malformed input into a store holding the
// six seed events: each exits 2 with one line naming the line or record
// and the field, and "nothing was stored"; the store keeps its six events
// and verifies.
func TestBadInputImport(t *testing.T) {
	h := newHarness(t)
	h.must(nil, "import", seedFile(t))
	for i, c := range badInputs() {
		path := filepath.Join(h.dir, fmt.Sprintf("bad-%02d.%s", i, c.format))
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		r := h.run(nil, "import", path)
		t.Run(c.name, func(t *testing.T) {
			wantFailure(t, r, 2, append(c.says, "nothing was stored")...)
			t.Logf("%s", truncate(strings.TrimSpace(r.stderr), 300))
		})
		os.Remove(path)
	}
	if st := h.stats(); st.rows != 6 {
		t.Fatalf("after the bad imports the store holds %d events, want the 6 seed events", st.rows)
	}
	if n := h.verify(); n != 6 {
		t.Fatalf("verify counted %d events, want 6", n)
	}
}

// TestBadInputPOST posts each malformed input to `audit serve`: each gets
// 400 with a JSON error naming the line or record and the field (413 for
// what is over the body limit), and nothing is stored.
func TestBadInputPOST(t *testing.T) {
	h := newHarness(t)
	h.must(nil, "import", seedFile(t))
	s := h.startServe("--max-body", "8MiB")
	types := map[string]string{"jsonl": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}
	for _, c := range badInputs() {
		t.Run(c.name, func(t *testing.T) {
			resp, err := httpClient.Post(s.url+"/v1/events", types[c.format], strings.NewReader(c.content))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var body struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(b, &body); err != nil || body.Error == "" {
				t.Fatalf("status %d: want a JSON error, got %q", resp.StatusCode, truncate(string(b), 300))
			}
			if len(c.content) > 8<<20 {
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d (%s), want 413 for a body over the limit", resp.StatusCode, body.Error)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d (%s), want 400", resp.StatusCode, body.Error)
			}
			for _, goName := range []string{"eventio.", "audit.", "wireEvent", "struct", "strconv.", "sql:"} {
				if strings.Contains(body.Error, goName) {
					t.Errorf("error %q speaks of the program's insides (%q)", body.Error, goName)
				}
			}
			for _, say := range c.says {
				if say == "nothing was stored" {
					continue
				}
				if !strings.Contains(body.Error, say) {
					t.Errorf("error %q does not say %q", body.Error, say)
				}
			}
		})
	}
	if err := s.stop(); err != nil {
		t.Errorf("serve on SIGTERM: %v", err)
	}
	if st := h.stats(); st.rows != 6 {
		t.Fatalf("after the bad POSTs the store holds %d events, want the 6 seed events", st.rows)
	}
	for _, l := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(l, "status=500") || strings.Contains(l, "panic") {
			t.Errorf("serve: %s", l)
		}
	}
}

// TestBadInputHTTPQuery sends malformed and extreme query parameters to
// every GET endpoint of `audit serve`: a bad one gets 400 with a JSON error
// naming the parameter, an extreme but valid one 200; never a 500, and the
// server keeps serving.
func TestBadInputHTTPQuery(t *testing.T) {
	h := newHarness(t)
	h.must(nil, "import", seedFile(t))
	s := h.startServe()
	cases := []struct {
		path, query string
		status      int
		says        string
	}{
		{"/v1/events", "since=yesterday", 400, "since"},
		{"/v1/events", "since=0001-01-01T00:00:00Z", 200, ""},
		{"/v1/events", "until=9999-12-31T23:59:59.999999999Z", 200, ""},
		{"/v1/events", "since=9999-12-31T23:59:59Z&until=9999-12-31T23:59:59Z", 200, ""},
		{"/v1/events", "since=10000-01-01T00:00:00Z", 400, "since"},
		{"/v1/events", "ip=fe80::1%25eth0", 400, "ip"},
		{"/v1/events", "ip=10.0.0.0/33", 400, "ip"},
		{"/v1/events", "ip=::ffff:10.0.0.55", 200, ""},
		{"/v1/events", "type=reboot", 400, "type"},
		{"/v1/events", "type=login,,logout", 400, "type"},
		{"/v1/events", "outcome=maybe", 400, "outcome"},
		{"/v1/events", "limit=-1", 400, "limit"},
		{"/v1/events", "limit=99999999999999999999", 400, "limit"},
		{"/v1/events", "limit=2147483648", 200, ""},
		{"/v1/events", "after=-5", 400, "after"},
		{"/v1/events", "after=9223372036854775807", 200, ""},
		{"/v1/events", "before=abc", 400, "before"},
		{"/v1/events", "order=sideways", 400, "order"},
		{"/v1/events", "colour=red", 400, "colour"},
		{"/v1/events", "user=%ff%fe", 200, ""},
		{"/v1/events", "search=%00", 200, ""},
		{"/v1/events", "search=%25%5F%5C", 200, ""},
		{"/v1/events", "user=" + strings.Repeat("*", 5000), 200, ""},
		{"/v1/events", "resource=" + strings.Repeat("a*", 2000), 200, ""},
		{"/v1/events", "q=%zz", 200, ""}, // Go's query parser drops a malformed pair
		{"/v1/events/%00", "", 404, ""},
		{"/v1/events/" + strings.Repeat("x", 4000), "", 404, ""},
		{"/v1/stats", "by=nonsense", 400, ""},
		{"/v1/stats", "since=x", 400, "since"},
		{"/v1/stats/logins", "threshold=-1&window=10m", 400, "threshold"},
		{"/v1/stats/logins", "threshold=5&window=forever", 400, "window"},
		{"/v1/stats/logins", "threshold=5&window=10m&since=1969-12-31T23:59:59Z", 200, ""},
		{"/v1/verify", "from_seq=-1", 400, "from_seq"},
		{"/v1/verify", "expect=zz", 400, "expect"},
		{"/v1/verify", "to_seq=99999999999999999999", 400, "to_seq"},
		{"/v1/events/watch", "since=x", 400, "since"},
	}
	for _, c := range cases {
		u := s.url + c.path
		if c.query != "" {
			u += "?" + c.query
		}
		resp, err := httpClient.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", c.path+"?"+c.query, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		name := truncate(c.path+"?"+c.query, 80)
		if resp.StatusCode != c.status {
			t.Errorf("GET %s: status %d, want %d: %s", name, resp.StatusCode, c.status, truncate(string(b), 200))
			continue
		}
		if c.status >= 400 {
			var body struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(b, &body); err != nil || body.Error == "" {
				t.Errorf("GET %s: want a JSON error, got %q", name, truncate(string(b), 200))
			} else if !strings.Contains(body.Error, c.says) {
				t.Errorf("GET %s: error %q does not name %q", name, body.Error, c.says)
			}
		}
	}
	if resp, err := httpClient.Get(s.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("serve stopped answering: %v", err)
	}
	if err := s.stop(); err != nil {
		t.Errorf("serve on SIGTERM: %v", err)
	}
	for _, l := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(l, "status=500") || strings.Contains(l, "panic") {
			t.Errorf("serve: %s", l)
		}
	}
}

// TestBadInputFilterFlags gives the filter flags malformed and extreme
// values: a bad one exits 2 with one line naming the flag, an extreme but
// valid one exits 0.
func TestBadInputFilterFlags(t *testing.T) {
	h := newHarness(t)
	h.must(nil, "import", seedFile(t))
	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--since", "last tuesday"}, 2, "--since"},
		{[]string{"--since", "2026-13-45"}, 2, "--since"},
		{[]string{"--since", "99999999d"}, 2, "--since"},
		{[]string{"--since", "0001-01-02"}, 0, ""},
		{[]string{"--since", "0001-01-01"}, 2, "--since"}, // the zero time means "no bound"
		{[]string{"--until", "9999-12-31"}, 0, ""},
		{[]string{"--since", "2026-11-20", "--until", "2026-11-19"}, 2, "not before"},
		{[]string{"--period", "2026-W54"}, 2, "period"},
		{[]string{"--period", "2026-00"}, 2, "period"},
		{[]string{"--period", "today", "--since", "1h"}, 2, "--period"},
		{[]string{"--ip", "fe80::1%eth0"}, 2, "--ip"},
		{[]string{"--ip", "10.0.0.0/99"}, 2, "--ip"},
		{[]string{"--ip", "::ffff:10.0.0.55"}, 0, ""},
		{[]string{"--type", "reboot"}, 2, "--type"},
		{[]string{"--outcome", "maybe"}, 2, "--outcome"},
		{[]string{"--failed", "--outcome", "success"}, 2, "--failed"},
		{[]string{"--after", "-1"}, 2, "--after"},
		{[]string{"--after", "99999999999999999999"}, 2, "--after"},
		{[]string{"--user", ""}, 2, "--user"},
		{[]string{"--user", "\xff\xfe"}, 0, ""},
		{[]string{"--search", "%_\\"}, 0, ""},
		{[]string{"--search", "\x1b[2J"}, 0, ""},
		{[]string{"--user", strings.Repeat("*", 10000)}, 0, ""},
		{[]string{"-n", "-5"}, 2, "limit"},
	}
	for _, c := range cases {
		for _, verb := range []string{"list", "export", "stats"} {
			args := append([]string{verb}, c.args...)
			r := h.run(nil, args...)
			if c.code == 0 {
				if r.code != 0 {
					t.Errorf("want exit 0\n%s", r)
				}
				continue
			}
			if verb == "stats" && c.says == "limit" {
				continue // stats has no -n
			}
			if r.code != c.code {
				t.Errorf("want exit %d\n%s", c.code, r)
				continue
			}
			msg := strings.TrimSpace(r.stderr)
			if !strings.Contains(msg, c.says) || strings.Contains(msg, "panic") {
				t.Errorf("audit %q: message %q does not name %q", args, msg, c.says)
			}
		}
	}
}

// hostile are valid events whose text tries to drive a terminal: escape
// sequences that clear the screen, move the cursor, recolor, set the
// window title or ring the bell; CR and backspace that overwrite what was
// printed; C1 controls; bidirectional overrides that reverse text; line
// and paragraph separators. They are stored exactly, and shown escaped.
var hostile = []string{
	"\x1b[2J\x1b[H screen cleared",
	"cursor \x1b[10A up and \x1b[5;5H moved",
	"\x1b[31mred\x1b[0m and \x1b[8m hidden",
	"title \x1b]0;pwned\x07 set",
	"overwrite\rFAKE",
	"erase\b\b\b\bback",
	"bell\x07\x07",
	"c1 \u009b2J csi",
	"bidi \u202eevil\u202c text \u2066isolate\u2069",
	"line\u2028separator\u2029paragraph",
	"tab\tnew\nline",
	"del\x7f char",
	"fine: Changed load_multiplier from 1.0 to 1.5 — ünïcödé 李雷 😀",
}

// hostileFile writes the hostile events as JSON Lines, in every text field.
func hostileFile(t *testing.T, dir string) (string, []string) {
	t.Helper()
	var b bytes.Buffer
	var ids []string
	for i, s := range hostile {
		id := fmt.Sprintf("hostile-%02d", i)
		ids = append(ids, id)
		e := map[string]string{"id": id, "time": okTime, "user": "u" + s, "user_name": s, "type": "update",
			"action": s, "resource_type": s, "resource": s, "details": s, "ip": "10.0.0.55"}
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, "hostile.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, ids
}

// sgr matches the color sequences audit itself writes.
var sgr = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// checkTerminalSafe fails when out could drive a terminal: any control
// character but LF (and the tab of piped tables), an ESC that does not
// start one of audit's own color sequences, C1 controls, bidi controls, or
// line separators.
func checkTerminalSafe(t *testing.T, what, out string, tabs bool) {
	t.Helper()
	out = sgr.ReplaceAllString(out, "")
	for i, r := range out {
		bad := false
		switch {
		case r == '\n', r == '\t' && tabs:
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
			bad = true
		case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x2028, r == 0x2029:
			bad = true
		case r == utf8.RuneError:
			bad = true
		}
		if bad {
			lo, hi := max(i-40, 0), min(i+40, len(out))
			t.Errorf("%s: raw %U at byte %d: %q", what, r, i, out[lo:hi])
			return
		}
	}
}

// TestHostileTextStoredAndShownSafely imports events whose every text field
// holds terminal escape sequences and other controls: they are accepted
// and stored byte for byte (JSON Lines and CSV round trips), and every
// human format (the piped table, wide, show) shows them escaped.
func TestHostileTextStoredAndShownSafely(t *testing.T) {
	h := newHarness(t)
	path, ids := hostileFile(t, h.dir)
	h.must(nil, "import", path)

	// Stored exactly: the JSON Lines export gives back the input's text.
	r := h.must(nil, "export", "--format", "jsonl")
	got := lines(r.stdout)
	if len(got) != len(hostile) {
		t.Fatalf("export has %d events, want %d", len(got), len(hostile))
	}
	for i, l := range got {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"user_name", "action", "resource_type", "resource", "details"} {
			if e[f] != hostile[i] {
				t.Errorf("event %d: %s stored as %q, want %q", i, f, e[f], hostile[i])
			}
		}
	}
	// CSV (formula-neutralized) export imports back to the same events.
	csvPath := filepath.Join(h.dir, "hostile.csv")
	h.must(nil, "export", "-o", csvPath)
	h2 := *h
	h2.store = filepath.Join(h.dir, "copy.db")
	if r := h2.must(nil, "import", csvPath); strings.TrimSpace(r.stderr) != fmt.Sprintf("%d read, %d added, 0 duplicates, 0 read-only skipped", len(hostile), len(hostile)) {
		t.Fatalf("CSV re-import: %s", r)
	}
	a := h.must(nil, "export", "--format", "jsonl").stdout
	b := h2.must(nil, "export", "--format", "jsonl").stdout
	if strip := regexp.MustCompile(`"hash":"[0-9a-f]*"`); strip.ReplaceAllString(a, "") != strip.ReplaceAllString(b, "") {
		t.Errorf("the CSV round trip changed events:\n%s\n%s", a, b)
	}

	// Shown escaped, off a terminal.
	// tsv, like csv and json, is a data format that keeps the text exact
	// (it escapes only what would break its lines); it must still keep one
	// event a line.
	for _, args := range [][]string{{"list", "-n", "0"}, {"list", "-n", "0", "-o", "wide"}, {"list", "-n", "0", "-o", "tsv"}} {
		r := h.must(nil, args...)
		if args[len(args)-1] != "tsv" {
			checkTerminalSafe(t, "audit "+strings.Join(args, " "), r.stdout, true)
		}
		if n := len(lines(r.stdout)); n != len(hostile)+1 {
			t.Errorf("audit %s: %d lines, want a header and one per event: an event broke its line", strings.Join(args, " "), n)
		}
	}
	for _, id := range ids {
		r := h.must(nil, "show", id)
		checkTerminalSafe(t, "audit show "+id, r.stdout, true)
	}
}
