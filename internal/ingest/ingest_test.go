package ingest_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/ingest"
	_ "github.com/audit-cli/audit/internal/ingest/all"
	"github.com/audit-cli/audit/internal/ingest/auditd"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ingest", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeAll decodes data in format, failing the test on an error.
func decodeAll(t *testing.T, data []byte, format string, opts ingest.Options) (map[string]audit.Event, []string, ingest.Counts) {
	t.Helper()
	var c ingest.Counts
	byID := map[string]audit.Event{}
	var order []string
	for e, err := range ingest.Decode(bytes.NewReader(data), format, opts, &c) {
		if err != nil {
			t.Fatalf("decode %s: %v", format, err)
		}
		if err := e.Normalize(); err != nil {
			t.Fatalf("event %s does not validate: %v", e.ID, err)
		}
		if _, dup := byID[e.ID]; dup {
			t.Fatalf("id %s twice", e.ID)
		}
		byID[e.ID] = e
		order = append(order, e.ID)
	}
	return byID, order, c
}

// want is what a user checks of one mapped event.
type want struct {
	typ      audit.Type
	user     string
	ip       string
	resource string
	outcome  audit.Outcome
	time     string
}

func check(t *testing.T, events map[string]audit.Event, source string, wants map[string]want) {
	t.Helper()
	for id, w := range wants {
		e, ok := events[id]
		if !ok {
			t.Errorf("no event %s", id)
			continue
		}
		got := want{e.Type, e.User, e.IP, e.Resource, e.Outcome, audit.FormatTime(e.Time)}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", id, got, w)
		}
		if e.Source != source || len(e.Raw) == 0 {
			t.Errorf("%s: source %q, raw %d bytes; want %s and the original record", id, e.Source, len(e.Raw), source)
		}
	}
}

func TestCloudTrail(t *testing.T) {
	events, _, c := decodeAll(t, fixture(t, "cloudtrail-records.json"), "auto", ingest.Options{})
	check(t, events, "cloudtrail", map[string]want{
		"3fcfb1c8-8e2a-4b39-9f6b-EXAMPLE11111": {audit.TypeLogin, "Mary_Major", "192.0.2.110", "", audit.OutcomeSuccess, "2026-11-20T09:12:44Z"},
		"a2b4c6d8-1111-4e5f-8a9b-EXAMPLE22222": {audit.TypeLogin, "Mary_Major", "203.0.113.77", "", audit.OutcomeFailure, "2026-11-20T09:10:02Z"},
		"7116c6a1-EXAMPLE":                     {audit.TypeSecurity, "Mary_Major", "", "arn:aws:cloudtrail:us-east-2:123456789012:trail/My-First-Trail", audit.OutcomeSuccess, "2026-11-21T00:18:31Z"},
		"b8f1c2a0-EXAMPLE-create":              {audit.TypeCreate, "Alice", "", "neptune-db-1", audit.OutcomeSuccess, "2026-11-21T16:23:49Z"},
		"c9e2d3b1-EXAMPLE-delete":              {audit.TypeDelete, "Alice", "192.0.2.1", "neptune-db-1", audit.OutcomeSuccess, "2026-11-21T16:28:27Z"},
		"e755e09c-42f9-4c5c-9064-EXAMPLE228c7": {audit.TypeUpdate, "Mateo", "192.0.2.0", "i-EXAMPLE56126103cb", audit.OutcomeSuccess, "2026-11-22T21:30:02Z"},
		"5d6e7f80-EXAMPLE-accesskey":           {audit.TypeSecurity, "intruder", "2001:db8::5", "admin", audit.OutcomeFailure, "2026-11-23T03:04:05Z"},
	})
	if c.Read != 9 || c.ReadOnly != 2 || len(events) != 7 {
		t.Errorf("counts %+v, %d events; want 9 read, 2 read-only skipped, 7 events", c, len(events))
	}
	// "192.0.2.01" (as in AWS's own example) and a service name are no
	// address: ip stays empty, the details say where the call came from.
	if d := events["b8f1c2a0-EXAMPLE-create"].Details; !strings.Contains(d, "via 192.0.2.01") {
		t.Errorf("details %q do not keep the source", d)
	}

	// One record a line; the role session's issuer names the user; root is root.
	events, _, _ = decodeAll(t, fixture(t, "cloudtrail-lines.jsonl"), "cloudtrail", ingest.Options{})
	check(t, events, "cloudtrail", map[string]want{
		"1f2e3d4c-EXAMPLE-bucketpolicy": {audit.TypeSecurity, "root", "198.51.100.23", "audit-archive-bucket", audit.OutcomeSuccess, "2026-11-24T08:00:00Z"},
		"2a3b4c5d-EXAMPLE-lambda":       {audit.TypeUpdate, "ci-deployer", "198.51.100.40", "billing-export", audit.OutcomeSuccess, "2026-11-24T08:05:00Z"},
	})

	// --include-read-only keeps the Describe call and the service's AssumeRole.
	events, _, c = decodeAll(t, fixture(t, "cloudtrail-records.json"), "cloudtrail", ingest.Options{IncludeReadOnly: true})
	if len(events) != 9 || c.ReadOnly != 0 {
		t.Errorf("with read-only: %d events, counts %+v; want 9", len(events), c)
	}
	check(t, events, "cloudtrail", map[string]want{
		"9a8b7c6d-EXAMPLE-assumerole": {audit.TypeSecurity, "ec2.amazonaws.com", "", "arn:aws:iam::111122223333:role/web-server", audit.OutcomeSuccess, "2026-11-23T04:00:00Z"},
	})
}

func TestKubernetes(t *testing.T) {
	events, _, c := decodeAll(t, fixture(t, "kubernetes-audit.log"), "auto", ingest.Options{})
	check(t, events, "kubernetes", map[string]want{
		"0e876456-b574-40e0-a8c4-aca6ebe91fea": {audit.TypeCreate, "kubernetes-admin", "192.168.0.43", "default/pods/web-7b9", audit.OutcomeSuccess, "2026-11-20T03:39:45.231802Z"},
		"a02486f1-3a7c-4bca-8bcb-9019fa43dac4": {audit.TypeDelete, "mayor-malware", "192.168.49.1", "wareville/secrets/db-password", audit.OutcomeFailure, "2026-11-22T10:01:02.0042Z"},
		"34b75a57-e1c0-4659-a21f-2d39256f018c": {audit.TypeSecurity, "kubernetes-admin", "2001:db8:1::17", "default/pods/high-risk-pod/exec", audit.OutcomeSuccess, "2026-11-22T15:31:40.12Z"},
		"7f3c9a10-2b4d-4e6f-8a1b-3c5d7e9f0a12": {audit.TypeSecurity, "jdavis@example.com", "10.0.0.55", "payments/rolebindings/deployer-admin", audit.OutcomeSuccess, "2026-11-23T09:00:00.012Z"},
		"c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f": {audit.TypeUpdate, "ci-bot", "10.0.3.9", "payments/deployments/checkout", audit.OutcomeSuccess, "2026-11-24T12:00:00.53Z"},
	})
	if c.Read != 6 || c.ReadOnly != 1 || c.Stages != 2 || len(events) != 5 {
		t.Errorf("counts %+v, %d events; want 6 read, 1 read-only, 2 earlier stages, 5 events", c, len(events))
	}
	if d := events["c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f"].Details; !strings.Contains(d, "as system:serviceaccount:payments:deployer") {
		t.Errorf("impersonation not noted: %q", d)
	}
}

func TestGitHub(t *testing.T) {
	events, _, c := decodeAll(t, fixture(t, "github-export.json"), "auto", ingest.Options{})
	check(t, events, "github", map[string]want{
		"xJJFlFOhQ6b-5vaAFy9Rjw": {audit.TypeCreate, "octocat", "192.0.2.44", "octo-org/payments-api", audit.OutcomeSuccess, "2026-11-24T10:00:00Z"},
		"Kz0xH6Gv3yXbWQ-3q0Ad2A": {audit.TypeDelete, "monalisa", "198.51.100.12", "hubot", audit.OutcomeSuccess, "2026-11-24T11:00:00Z"},
		"P1r2o3t4e5c6t7e8d9b0rA": {audit.TypeDelete, "monalisa", "", "octo-org/payments-api", audit.OutcomeSuccess, "2026-11-24T12:00:00Z"},
		"T0k3nCr34t3dXYZabc123A": {audit.TypeSecurity, "octocat", "2001:db8:4::1", "octo-org", audit.OutcomeSuccess, "2026-11-24T13:00:00Z"},
		"0rgP3rm1ss10nUpd4t3dAA": {audit.TypeSecurity, "monalisa", "198.51.100.12", "octo-org", audit.OutcomeSuccess, "2026-11-24T15:00:00Z"},
	})
	if c.Read != 6 || c.ReadOnly != 1 {
		t.Errorf("counts %+v; want 6 read, 1 access skipped", c)
	}
	events, _, _ = decodeAll(t, fixture(t, "github-stream.jsonl"), "auto", ingest.Options{})
	check(t, events, "github", map[string]want{
		"T34mAddM3mb3r000000abA": {audit.TypeUpdate, "octocat", "", "octo-org/platform", audit.OutcomeSuccess, "2026-11-24T16:00:00Z"},
	})
}

func TestAuditd(t *testing.T) {
	users := auditd.ReadPasswd(fixture(t, "passwd"))
	events, _, c := decodeAll(t, fixture(t, "auditd-audit.log"), "auto", ingest.Options{Users: users})
	check(t, events, "auditd", map[string]want{
		"auditd:1795688163.243:24287":            {audit.TypeUpdate, "shadowman", "", "/etc/ssh/sshd_config", audit.OutcomeFailure, "2026-11-26T10:16:03.243Z"},
		"auditd:1795690000.120:24301":            {audit.TypeLogin, "root", "203.0.113.9", "/usr/sbin/sshd", audit.OutcomeFailure, "2026-11-26T10:46:40.12Z"},
		"auditd:1795690050.500:24310":            {audit.TypeLogin, "shadowman", "192.168.1.100", "/usr/sbin/sshd", audit.OutcomeSuccess, "2026-11-26T10:47:30.5Z"},
		"auditd:1795690100.000:24320":            {audit.TypeSecurity, "shadowman", "", "/usr/bin/sudo", audit.OutcomeSuccess, "2026-11-26T10:48:20Z"},
		"auditd:1795690200.000:24330":            {audit.TypeCreate, "shadowman", "", "/usr/sbin/useradd", audit.OutcomeSuccess, "2026-11-26T10:50:00Z"},
		"auditd:bbb-node-1:1795693600.000:24400": {audit.TypeLogout, "shadowman", "192.168.1.100", "/usr/sbin/sshd", audit.OutcomeSuccess, "2026-11-26T11:46:40Z"},
	})
	if c.Read != 8 || c.Unmatched != 2 || len(events) != 6 {
		t.Errorf("counts %+v, %d events; want 8 read, 2 unmatched, 6 events", c, len(events))
	}
	// Hex-encoded values are decoded; the event keeps all its lines.
	sys := events["auditd:1795688163.243:24287"]
	if !strings.Contains(sys.Details, "key=sshd_config") || strings.Count(string(sys.Raw), `\n`) != 3 {
		t.Errorf("SYSCALL event: details %q, raw %s", sys.Details, sys.Raw)
	}
	if d := events["auditd:1795690100.000:24320"].Details; !strings.Contains(d, "cmd=systemctl restart sshd") {
		t.Errorf("hex cmd not decoded: %q", d)
	}
	// Without --passwd the numbers stay: the importing host's users are
	// not the audited host's.
	events, _, _ = decodeAll(t, fixture(t, "auditd-audit.log"), "auditd", ingest.Options{})
	if u := events["auditd:1795688163.243:24287"].User; u != "1000" {
		t.Errorf("user without --passwd = %q, want 1000", u)
	}
}

func TestJournald(t *testing.T) {
	events, order, c := decodeAll(t, fixture(t, "journal.jsonl"), "auto", ingest.Options{})
	if c.Read != 10 || c.Unmatched != 1 || len(events) != 9 {
		t.Fatalf("counts %+v, %d events; want 10 read, 1 unmatched, 9 events", c, len(events))
	}
	got := map[string]want{}
	for _, id := range order {
		e := events[id]
		got[e.Action+" "+e.User] = want{e.Type, e.User, e.IP, e.Resource, e.Outcome, audit.FormatTime(e.Time)}
		if e.Source != "journald" || !strings.HasPrefix(e.ID, "s=739ad463") {
			t.Errorf("%s: source %q, id not the cursor", e.ID, e.Source)
		}
	}
	for k, w := range map[string]want{
		"SSH Login jdavis":      {audit.TypeLogin, "jdavis", "192.168.1.100", "ssh", audit.OutcomeSuccess, "2026-11-25T08:00:00.123456Z"},
		"SSH Login admin":       {audit.TypeLogin, "admin", "91.240.118.7", "ssh", audit.OutcomeFailure, "2026-11-25T08:01:10.000001Z"},
		"SSH Login oracle":      {audit.TypeLogin, "oracle", "91.240.118.7", "ssh", audit.OutcomeFailure, "2026-11-25T08:01:12.5Z"},
		"Sudo Command jdavis":   {audit.TypeSecurity, "jdavis", "", "/usr/bin/systemctl restart nginx", audit.OutcomeSuccess, "2026-11-25T08:05:00Z"},
		"Sudo Command mallory":  {audit.TypeSecurity, "mallory", "", "/bin/bash", audit.OutcomeFailure, "2026-11-25T08:06:00Z"},
		"Created root":          {audit.TypeCreate, "root", "", "newbie", audit.OutcomeSuccess, "2026-11-25T08:10:00Z"},
		"Password Changed root": {audit.TypeSecurity, "root", "", "newbie", audit.OutcomeSuccess, "2026-11-25T08:11:00Z"},
		"SSH Logout jdavis":     {audit.TypeLogout, "jdavis", "", "ssh", audit.OutcomeSuccess, "2026-11-25T09:00:00Z"},
		// A MESSAGE that is not UTF-8 arrives as bytes; it is stored
		// with a replacement character, never refused.
		"Deleted root": {audit.TypeDelete, "root", "", "old-\uFFFD", audit.OutcomeSuccess, "2026-11-25T09:30:00Z"},
	} {
		if got[k] != w {
			t.Errorf("%s:\n got %+v\nwant %+v", k, got[k], w)
		}
	}
}

// A --format that does not match the content fails on the first record
// and says what it expected.
func TestWrongFormat(t *testing.T) {
	for _, tc := range []struct{ file, format, msg string }{
		{"kubernetes-audit.log", "cloudtrail", "line 1: not a CloudTrail record (no eventID/eventName)"},
		{"cloudtrail-lines.jsonl", "kubernetes", "line 1: not a Kubernetes audit event (no auditID/verb)"},
		{"journal.jsonl", "auditd", "line 1: not an auditd record"},
		{"auditd-audit.log", "journald", "line 1: not a journal entry"},
		{"github-stream.jsonl", "journald", "line 1: not a journal entry (no __CURSOR/__REALTIME_TIMESTAMP)"},
	} {
		var c ingest.Counts
		var err error
		for _, e := range ingest.Decode(bytes.NewReader(fixture(t, tc.file)), tc.format, ingest.Options{}, &c) {
			if e != nil {
				err = e
			}
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.msg) || !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("%s as %s: %v; want %q (invalid input)", tc.file, tc.format, err, tc.msg)
		}
		if strings.Contains(errString(err), "struct") {
			t.Errorf("error names a Go type: %v", err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Unsure detection asks for --format.
func TestDetectUnsure(t *testing.T) {
	for _, in := range []string{"root:x:0:0:root:/root:/bin/bash\n", `{"hello":"world"}` + "\n", "just text\n"} {
		var c ingest.Counts
		for _, err := range ingest.Decode(strings.NewReader(in), "auto", ingest.Options{}, &c) {
			var de *ingest.DetectError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), "give --format") || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: %v; want one line asking for --format", in, err)
			}
		}
	}
}

// Compression is recognised by magic bytes, for every format.
func TestDecompress(t *testing.T) {
	plain := fixture(t, "kubernetes-audit.log")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	zs, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	zst := zs.EncodeAll(plain, nil)
	for name, data := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zst} {
		r, err := ingest.Decompress(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var c ingest.Counts
		n := 0
		for _, err := range ingest.Decode(r, "auto", ingest.Options{}, &c) {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			n++
		}
		if n != 5 {
			t.Errorf("%s: %d events, want 5", name, n)
		}
	}
	// A truncated gzip stream says so.
	r, err := ingest.Decompress(bytes.NewReader(gz.Bytes()[:gz.Len()/2]))
	if err != nil {
		t.Fatal(err)
	}
	var c ingest.Counts
	var last error
	for _, err := range ingest.Decode(r, "kubernetes", ingest.Options{}, &c) {
		last = err
	}
	if last == nil || !strings.Contains(last.Error(), "the gzip stream is truncated") {
		t.Errorf("truncated gzip: %v", last)
	}
}

// Hostile values are neutralised, never refused: a 2 MB field, invalid
// UTF-8, terminal escapes. A 10 MB line is one clear error.
func TestHostileValues(t *testing.T) {
	huge := `{"auditID":"h-0","verb":"create","stage":"ResponseComplete","requestURI":"` + strings.Repeat("A", 10<<20) + `"}` + "\n"
	var hc ingest.Counts
	for _, err := range ingest.Decode(strings.NewReader(huge), "auto", ingest.Options{}, &hc) {
		if err == nil || err.Error() != "line 1: line longer than 8388608 bytes" || !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("10 MB line: %v", err)
		}
	}
	long := strings.Repeat("A", 2<<20)
	line := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"h-1","stage":"ResponseComplete","requestURI":"/api/v1/x","verb":"create",` +
		`"user":{"username":"eve\u001b]0;pwned\u0007` + "\xff" + `"},"sourceIPs":["10.0.0.9"],"objectRef":{"resource":"pods","namespace":"default","name":"` + long + `"},` +
		`"responseStatus":{"code":201},"stageTimestamp":"2026-11-25T10:00:00Z"}` + "\n"
	var c ingest.Counts
	for e, err := range ingest.Decode(strings.NewReader(line), "kubernetes", ingest.Options{}, &c) {
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Normalize(); err != nil {
			t.Fatalf("hostile event does not validate: %v", err)
		}
		if len(e.Resource) > audit.MaxResource || len(e.Raw) != 0 || !strings.Contains(e.Details, "not kept") {
			t.Errorf("resource %d bytes, raw %d bytes, details %q", len(e.Resource), len(e.Raw), e.Details)
		}
		if !strings.HasPrefix(e.User, "eve\x1b]0;pwned\x07") || !strings.HasSuffix(e.User, "\uFFFD") {
			t.Errorf("user %q: want the escape kept (it is escaped where printed) and the bad byte replaced", e.User)
		}
		if e.Time != time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) {
			t.Errorf("time %v", e.Time)
		}
	}
}

// A time no store keeps (before 1970, after 9999) is one error naming the
// producer's field, never an event the store refuses later.
func TestTimeOutOfRange(t *testing.T) {
	for _, tc := range []struct{ format, record, want string }{
		{"cloudtrail", `{"eventVersion":"1.08","eventID":"e-1","eventName":"CreateUser","eventTime":"0000-01-01T00:00:00Z","eventSource":"iam.amazonaws.com"}`,
			"line 1: eventTime: year 0 out of range 1970-9999"},
		{"kubernetes", `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"k-1","stage":"ResponseComplete","verb":"create","requestURI":"/api/v1/pods","stageTimestamp":"1969-12-31T23:59:59Z"}`,
			"line 1: stageTimestamp: year 1969 out of range 1970-9999"},
		{"github", `{"@timestamp":-86400000,"action":"repo.create","actor":"octocat","_document_id":"g-1"}`,
			"line 1: @timestamp: year 1969 out of range 1970-9999"},
		{"journald", `{"__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"999999999999999999","_COMM":"sshd","MESSAGE":"Accepted password for bob from 10.0.0.1 port 22 ssh2"}`,
			"line 1: __REALTIME_TIMESTAMP: year 33658 out of range 1970-9999"},
		{"auditd", `type=USER_LOGIN msg=audit(999999999999.000:7): pid=1 uid=0 auid=1000 ses=1 msg='op=login acct="bob" exe="/usr/sbin/sshd" hostname=? addr=10.0.0.1 terminal=ssh res=success'`,
			"line 1: msg=audit(999999999999.000): year 33658 out of range 1970-9999"},
	} {
		var c ingest.Counts
		var got error
		for _, err := range ingest.Decode(strings.NewReader(tc.record+"\n"), tc.format, ingest.Options{}, &c) {
			got = err
			if err == nil {
				t.Errorf("%s: an event for a time no store keeps", tc.format)
			}
		}
		if got == nil || got.Error() != tc.want || !errors.Is(got, audit.ErrInvalid) {
			t.Errorf("%s: error %v, want %q (ErrInvalid)", tc.format, got, tc.want)
		}
	}
}

// A producer id audit cannot keep as it is (a space, too long, missing)
// becomes a digest: the same on every import, so re-importing adds
// nothing, and different for different ids, even ones that start alike.
func TestProducerIDDigest(t *testing.T) {
	long := strings.Repeat("7", 200)
	ids := func(docIDs ...string) []string {
		var in strings.Builder
		for _, id := range docIDs {
			fmt.Fprintf(&in, `{"@timestamp":1764000000000,"action":"repo.create","actor":"octocat","_document_id":%q}`+"\n", id)
		}
		var c ingest.Counts
		var out []string
		for e, err := range ingest.Decode(strings.NewReader(in.String()), "github", ingest.Options{}, &c) {
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Normalize(); err != nil {
				t.Fatalf("id %q: %v", e.ID, err)
			}
			out = append(out, e.ID)
		}
		return out
	}
	first := ids("a b", long+"1", long+"2", "", "ok-id")
	again := ids("a b", long+"1", long+"2", "", "ok-id")
	if !slices.Equal(first, again) {
		t.Errorf("ids differ between two imports: %q, %q", first, again)
	}
	if first[4] != "ok-id" {
		t.Errorf("a valid id was changed to %q", first[4])
	}
	if first[1] == first[2] {
		t.Errorf("two long ids that start alike got one id %q", first[1])
	}
	for _, id := range first[:3] {
		if !strings.HasPrefix(id, "github:") || len(id) != len("github:")+40 {
			t.Errorf("id %q: want github: and a 40-digit digest", id)
		}
	}
}

// FuzzDecode: whatever the bytes, every reader ends with events that
// validate or an error that matches audit.ErrInvalid, and never panics.
func FuzzDecode(f *testing.F) {
	dir := filepath.Join("..", "..", "testdata", "ingest")
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.SplitAfter(b, []byte("\n"))[:min(3, len(bytes.SplitAfter(b, []byte("\n"))))] {
			f.Add(line)
		}
		f.Add(b[:min(len(b), 4000)])
	}
	formats := append([]string{"auto"}, ingest.Names()...)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range formats {
			var c ingest.Counts
			for e, err := range ingest.Decode(bytes.NewReader(data), format, ingest.Options{IncludeReadOnly: true}, &c) {
				if err != nil {
					if !errors.Is(err, audit.ErrInvalid) && !strings.Contains(err.Error(), "--format") {
						t.Fatalf("%s: error %v does not match ErrInvalid", format, err)
					}
					break
				}
				if err := e.Normalize(); err != nil {
					t.Fatalf("%s: event %q does not validate: %v", format, e.ID, err)
				}
			}
		}
	})
}
