package remote_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cli"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// runCLI runs the real command tree in-process, as the binary would, and
// returns its stdout, stderr and exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f, closeStore := cli.NewFactory(ios)
	root := cli.NewCmdRoot(f)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if cerr := closeStore(); err == nil && cerr != nil {
		err = cerr
	}
	code := cli.Report(ios, err)
	return out.String(), errOut.String(), code
}

// isolateCLI keeps the command line from the user's config and data, pins
// its clock and zone, and configures key as the integrity key.
func isolateCLI(t *testing.T, key []byte) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_NOW", "2026-11-26T15:00:00Z")
	t.Setenv("TZ", "UTC")
	for _, k := range []string{"AUDIT_STORE", "AUDIT_TOKEN", "AUDIT_CONTEXT", "AUDIT_CONFIG", "NO_COLOR", "CLICOLOR_FORCE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	keyFile := filepath.Join(dir, "chain.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "config", "audit", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("integrity:\n  key-file: "+keyFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRemoteCLIStatsVerifyPrune runs stats, stats logins and verify against
// the server's file directly and through the server, and compares: the
// output and exit codes are the same, also for a tampered log (exit 5).
// prune through the server needs an admin token (else exit 4), and the log
// verifies the same way after it.
func TestRemoteCLIStatsVerifyPrune(t *testing.T) {
	isolateCLI(t, testKey)
	ts := startKeyedServer(t, testKey)
	reader := createToken(t, ts.store, "reader", audit.RoleRead, time.Time{})
	events := storetest.KnownWeek()
	// A burst of failed logins: one address trying three users.
	start := time.Date(2026, 11, 19, 3, 10, 0, 0, time.UTC)
	for i := range 6 {
		events = append(events, audit.Event{ID: fmt.Sprintf("burst-%d", i), Time: start.Add(time.Duration(i) * 20 * time.Second),
			User: []string{"admin", "root", "jdavis"}[i%3], Type: audit.TypeLogin, Action: "Login Failed",
			ResourceType: "session", IP: "198.51.100.7", Outcome: audit.OutcomeFailure})
	}
	// In time order, so that prune --before has a stretch of seqs to take.
	slices.SortStableFunc(events, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
	if _, err := ts.client(ts.token).Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	local := []string{"--store", ts.path}
	remote := []string{"--store", ts.url(), "--token", reader}
	same := func(code int, args ...string) string {
		t.Helper()
		lout, lerr, lcode := runCLI(t, append(local, args...)...)
		rout, rerr, rcode := runCLI(t, append(remote, args...)...)
		if lcode != code || rcode != code || rout != lout || rerr != lerr {
			t.Fatalf("%v:\nlocal (exit %d):\n%s%s\nremote (exit %d):\n%s%s", args, lcode, lout, lerr, rcode, rout, rerr)
		}
		return rout
	}

	want := "type,events,failed\nlogin,37,9\nupdate,11,0\nlogout,7,0\ncreate,1,0\ndelete,1,0\nsecurity,1,0\n"
	if out := same(0, "stats", "--by", "type", "--since", "2026-01-01", "-o", "csv"); out != want {
		t.Fatalf("stats --by type -o csv:\n%s\nwant:\n%s", out, want)
	}
	for _, args := range [][]string{
		{"stats", "--period", "2026-W47"},
		{"stats", "--by", "user,type", "-o", "json"},
		{"stats", "--by", "day", "--failed", "-o", "tsv", "--since", "2026-11-16"},
		{"stats", "--by", "hour", "--user", "jdavis", "--top", "3"},
		{"stats", "logins"},
		{"stats", "logins", "--threshold", "3", "--window", "5m", "-o", "json"},
		{"verify", "--head"},
		{"verify", "--from-seq", "10", "--to-seq", "40"},
	} {
		same(0, args...)
	}
	out := same(0, "verify")
	if !strings.HasPrefix(out, fmt.Sprintf("OK: %d events", len(events))) {
		t.Fatalf("verify: %s", out)
	}
	head := strings.TrimSpace(same(0, "verify", "--head"))
	same(0, "verify", "--expect-head", head)

	// prune: a read token is refused, and nothing is pruned.
	out, stderr, code := runCLI(t, append(remote, "prune", "--before", "2026-11-19", "--no-archive", "--yes")...)
	if code != 4 || out != "" || !strings.Contains(stderr, "nothing pruned") || !strings.Contains(stderr, "needs admin") {
		t.Fatalf("prune with a read token: exit %d: %s%s", code, out, stderr)
	}
	archive := filepath.Join(t.TempDir(), "pruned-{until}.jsonl")
	out, stderr, code = runCLI(t, "--store", ts.url(), "--token", ts.token, "prune", "--before", "2026-11-19", "--archive", archive, "--yes")
	if code != 0 || !strings.HasPrefix(out, "pruned ") {
		t.Fatalf("prune with an admin token: exit %d: %s%s", code, out, stderr)
	}
	if _, err := os.Stat(strings.ReplaceAll(archive, "{until}", "2026-11-19")); err != nil {
		t.Fatalf("prune wrote no archive: %v", err)
	}
	if out := same(0, "verify"); !strings.Contains(out, "from the checkpoint at seq") {
		t.Fatalf("verify after prune: %s", out)
	}
	same(0, "verify", "--expect-head", head)

	// Tampering: the same report either way, exit 5.
	ts.tamper("UPDATE events SET details = 'nothing happened' WHERE seq = (SELECT max(seq) - 5 FROM events)")
	if _, stderr, _ := runCLI(t, append(local, "verify")...); !strings.Contains(stderr, "hash mismatch") {
		t.Fatalf("local verify of a tampered log: %s", stderr)
	}
	same(5, "verify")
	same(5, "verify", "--expect-head", head)
}
