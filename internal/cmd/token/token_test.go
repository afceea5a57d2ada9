package token

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

var now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	store *sqlite.Store
	addr  string
}

func newFixture(t *testing.T) *fixture {
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, store: st, addr: path}
}

// opts returns options over the fixture's store and test streams, and
// the buffers of stdout and stderr.
func (fx *fixture) opts() (*TokenOptions, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	o := &TokenOptions{IO: ios, Now: func() time.Time { return now }, Location: time.UTC,
		Store:  func() (audit.Store, error) { return fx.store, nil },
		Config: func() (*config.Config, error) { return &config.Config{Store: fx.addr}, nil },
		Actor:  func() (string, string) { return "ops", "Op Erator" },
		Role:   "read", Expires: "never"}
	return o, out, errOut
}

func TestCreateListRevoke(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)

	o, out, errOut := fx.opts()
	o.Name, o.Role, o.Expires = "cron-exporter", "read", "90d"
	if err := createRun(ctx, o); err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSuffix(out.String(), "\n")
	if !strings.HasPrefix(secret, server.TokenPrefix) || strings.Contains(secret, "\n") {
		t.Fatalf("stdout %q is not one token", out.String())
	}
	if want := "Created token \"cron-exporter\" with role read; it expires 2027-02-24 15:00 UTC.\nIt is shown only this once: keep it now (the store has its hash only).\n"; errOut.String() != want {
		t.Fatalf("stderr %q, want %q", errOut.String(), want)
	}
	tok, err := fx.store.TokenByHash(ctx, server.HashToken(secret))
	if err != nil || tok.Name != "cron-exporter" || tok.Role != audit.RoleRead || !tok.Expires.Equal(now.Add(90*24*time.Hour)) {
		t.Fatalf("stored token %+v, %v", tok, err)
	}

	o, _, _ = fx.opts()
	o.Name, o.Role = "ingest", "write"
	if err := createRun(ctx, o); err != nil {
		t.Fatal(err)
	}
	// The same name again: a usage error.
	o, _, _ = fx.opts()
	o.Name = "ingest"
	if err := createRun(ctx, o); err == nil || !strings.Contains(err.Error(), `a token named "ingest" exists already`) {
		t.Fatalf("duplicate create: %v", err)
	}
	fx.store.TouchToken(ctx, "ingest", now.Add(-time.Hour))

	o, out, _ = fx.opts()
	o.Output = "table"
	if err := listRun(ctx, o); err != nil {
		t.Fatal(err)
	}
	want := `NAME           ROLE   CREATED           EXPIRES           LAST USED
cron-exporter  read   2026-11-26 15:00  2027-02-24 15:00  never
ingest         write  2026-11-26 15:00  never             2026-11-26 14:00
`
	if out.String() != want {
		t.Fatalf("list:\n%s\nwant:\n%s", out, want)
	}
	o, out, _ = fx.opts()
	o.Output = "json"
	if err := listRun(ctx, o); err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out.String()), &list); err != nil || len(list) != 2 {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	if strings.Contains(out.String(), "hash") || strings.Contains(out.String(), tok.Hash) {
		t.Fatalf("list -o json shows the hash:\n%s", out)
	}

	// Later, expired.
	o, out, _ = fx.opts()
	o.Output = "table"
	o.Now = func() time.Time { return now.Add(100 * 24 * time.Hour) }
	listRun(ctx, o)
	if !strings.Contains(out.String(), "2027-02-24 15:00 (expired)") {
		t.Fatalf("list after expiry:\n%s", out)
	}

	o, _, errOut = fx.opts()
	o.Name = "cron-exporter"
	if err := revokeRun(ctx, o); err != nil {
		t.Fatal(err)
	}
	if errOut.String() != "Revoked token \"cron-exporter\": it no longer works.\n" {
		t.Fatalf("revoke stderr %q", errOut)
	}
	if _, err := fx.store.TokenByHash(ctx, server.HashToken(secret)); err == nil {
		t.Fatal("the revoked token still authenticates")
	}
	o, _, _ = fx.opts()
	o.Name = "cron-exporter"
	if err := revokeRun(ctx, o); err == nil || !strings.Contains(err.Error(), `no token named "cron-exporter"`) {
		t.Fatalf("revoke again: %v", err)
	}

	// Every change is a security event, the secret in none.
	var events []audit.Event
	for e, err := range fx.store.Query(ctx, audit.Filter{Types: []audit.Type{audit.TypeSecurity}}) {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if len(events) != 3 {
		t.Fatalf("%d security events, want 3", len(events))
	}
	for i, w := range []struct{ action, resource, details string }{
		{"API Token Created", "cron-exporter", "role read, expires 2027-02-24T15:00:00Z"},
		{"API Token Created", "ingest", "role write, never expires"},
		{"API Token Revoked", "cron-exporter", ""},
	} {
		e := events[i]
		if e.Action != w.action || e.Resource != w.resource || e.Details != w.details || e.User != "ops" ||
			e.UserName != "Op Erator" || e.ResourceType != "api_token" || e.Outcome != audit.OutcomeSuccess {
			t.Errorf("event %d: %+v, want %+v", i, e, w)
		}
		if strings.Contains(e.Details, secret) {
			t.Errorf("event %d holds the secret", i)
		}
	}
}

func TestListEmpty(t *testing.T) {
	fx := newFixture(t)
	o, out, errOut := fx.opts()
	o.Output = "table"
	if err := listRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if out.String() != "" || !strings.Contains(errOut.String(), "No API tokens") {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	o, out, _ = fx.opts()
	o.Output = "json"
	listRun(context.Background(), o)
	if out.String() != "[]\n" {
		t.Fatalf("empty json list %q", out)
	}
}

func TestRemoteStoreRefused(t *testing.T) {
	fx := newFixture(t)
	o, _, _ := fx.opts()
	o.Config = func() (*config.Config, error) { return &config.Config{Store: "https://audit.example.com"}, nil }
	o.Output = "table"
	err := listRun(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "tokens are managed where the server's database is") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseExpires(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"never", time.Time{}},
		{"", time.Time{}},
		{"90d", now.Add(90 * 24 * time.Hour)},
		{"12h", now.Add(12 * time.Hour)},
		{"2w", now.Add(14 * 24 * time.Hour)},
		{"30m", now.Add(30 * time.Minute)},
		{"2027-03-01", time.Date(2027, 3, 1, 0, 0, 0, 0, berlin).UTC()},
		{"2027-03-01T12:00:00Z", time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)},
	} {
		got, err := parseExpires(c.in, now, berlin)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseExpires(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"soon", "-5d", "0d", "2026-01-01", "1d2h", "999999999w", "yesterday"} {
		if _, err := parseExpires(bad, now, berlin); err == nil {
			t.Errorf("parseExpires(%q) succeeded", bad)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"cron-exporter", "ci.deploy", "a", "svc@host", "A_1"} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "has space", "tab\t", strings.Repeat("x", 65), "ünï"} {
		if err := checkName(bad); err == nil {
			t.Errorf("checkName(%q) succeeded", bad)
		}
	}
}
