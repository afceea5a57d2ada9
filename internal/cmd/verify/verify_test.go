package verify

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/sample"
	"github.com/audit-cli/audit/internal/store/sqlite"
	_ "github.com/mattn/go-sqlite3"
)

// now is the pinned clock: Thursday 26 November 2026, 15:00 UTC.
var now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

var key = []byte("verify command test key, 32 byte")

// seeded returns the path of a store holding the six seed events (seq
// 1–6) under key, and their hashes by seq.
func seeded(t *testing.T) (string, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(path, sqlite.Options{ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events := sample.Seed(now, time.UTC)
	if _, err := st.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	hashes := []string{""}
	for _, e := range events {
		hashes = append(hashes, e.Hash)
	}
	return path, hashes
}

func run(t *testing.T, path string, tty bool, configure func(*VerifyOptions)) (string, string, error) {
	t.Helper()
	ios, _, stdout, stderr := iostreams.Test()
	ios.SetStdoutTTY(tty)
	ios.SetStderrTTY(tty)
	st, err := sqlite.Open(path, sqlite.Options{ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := &VerifyOptions{
		IO:       ios,
		Store:    func() (audit.Store, error) { return st, nil },
		Key:      func() ([]byte, error) { return key, nil },
		Now:      func() time.Time { return now },
		Location: time.UTC,
	}
	if configure != nil {
		configure(opts)
	}
	if err := opts.validate(); err != nil {
		return stdout.String(), stderr.String(), err
	}
	err = verifyRun(context.Background(), opts)
	return stdout.String(), stderr.String(), err
}

func tamper(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyOK(t *testing.T) {
	path, hashes := seeded(t)
	for _, tty := range []bool{false, true} {
		out, errOut, err := run(t, path, tty, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := "OK: 6 events, seq 1–6, head " + hashes[6][:12] + "…\n"; out != want {
			t.Errorf("tty %v: stdout %q, want %q", tty, out, want)
		}
		if errOut != "" {
			t.Errorf("tty %v: stderr %q, want nothing (a key is set)", tty, errOut)
		}
	}
}

func TestVerifyNoKeyNote(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(context.Background(), sample.Seed(now, time.UTC)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, tty := range []bool{false, true} {
		ios, _, stdout, stderr := iostreams.Test()
		ios.SetStderrTTY(tty)
		st, _ := sqlite.Open(path, sqlite.Options{})
		opts := &VerifyOptions{IO: ios, Store: func() (audit.Store, error) { return st, nil }, Now: func() time.Time { return now }}
		err := verifyRun(context.Background(), opts)
		st.Close()
		if err != nil || !strings.HasPrefix(stdout.String(), "OK: 6 events") {
			t.Fatalf("tty %v: %q, %v", tty, stdout, err)
		}
		if got := strings.Contains(stderr.String(), "note: no integrity key is configured"); got != tty {
			t.Errorf("tty %v: stderr %q; the note belongs on a terminal only", tty, stderr)
		}
	}
}

func TestVerifyTampered(t *testing.T) {
	path, _ := seeded(t)
	tamper(t, path, "UPDATE events SET details = 'Changed load_multiplier from 1.0 to 1.1' WHERE seq = 6")
	tamper(t, path, "UPDATE events SET user = 'mallory' WHERE seq = 3")
	out, _, err := run(t, path, false, nil)
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	want := "seq 3 (2026-11-26T09:45:00Z, mallory login): hash mismatch — the event was changed"
	if err == nil || err.Error() != want || !errors.Is(err, audit.ErrIntegrity) {
		t.Fatalf("err = %v, want %q matching ErrIntegrity", err, want)
	}
}

func TestVerifyHead(t *testing.T) {
	path, hashes := seeded(t)
	out, errOut, err := run(t, path, false, func(o *VerifyOptions) { o.Head = true })
	if err != nil || out != "6:"+hashes[6]+"\n" || errOut != "" {
		t.Fatalf("--head = %q, %q, %v", out, errOut, err)
	}
	_, errOut, _ = run(t, path, true, func(o *VerifyOptions) { o.Head = true })
	if !strings.Contains(errOut, "audit verify --expect-head 6:"+hashes[6]) {
		t.Fatalf("--head on a terminal: stderr %q, want the hint", errOut)
	}

	// Published, then the tail deleted: only the expected head notices.
	head := strings.TrimSpace(out)
	tamper(t, path, "DELETE FROM events WHERE seq > 4")
	if out, _, err := run(t, path, false, nil); err != nil || !strings.HasPrefix(out, "OK: 4 events") {
		t.Fatalf("verify of a truncated log = %q, %v", out, err)
	}
	_, _, err = run(t, path, false, func(o *VerifyOptions) { o.ExpectHead = head })
	want := "seq 6: the expected head is missing; the log ends at seq 4 — events were deleted from the end (truncated)"
	if err == nil || err.Error() != want || !errors.Is(err, audit.ErrIntegrity) {
		t.Fatalf("--expect-head after truncation: %v, want %q", err, want)
	}
	out, _, err = run(t, path, false, func(o *VerifyOptions) { o.ExpectHead = "3:" + hashes[3] })
	if err != nil || !strings.HasSuffix(out, ", expected head found\n") {
		t.Fatalf("--expect-head 3: %q, %v", out, err)
	}
}

func TestVerifyEmptyHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	st, _ := sqlite.Open(path, sqlite.Options{})
	st.Init(context.Background())
	st.Close()
	out, _, err := run(t, path, false, func(o *VerifyOptions) { o.Head = true })
	if err != nil || out != "0:"+strings.Repeat("0", 64)+"\n" {
		t.Fatalf("--head of an empty log = %q, %v", out, err)
	}
	out, _, err = run(t, path, false, nil)
	if err != nil || out != "OK: 0 events (the log is empty)\n" {
		t.Fatalf("verify of an empty log = %q, %v", out, err)
	}
}

func TestVerifyRanges(t *testing.T) {
	path, hashes := seeded(t)
	out, _, err := run(t, path, false, func(o *VerifyOptions) { o.FromSeq = 4 })
	if want := "OK: 3 events, seq 4–6, head " + hashes[6][:12] + "…, trusting the stored hash of seq 3\n"; err != nil || out != want {
		t.Fatalf("--from-seq 4 = %q, %v; want %q", out, err, want)
	}
	out, _, err = run(t, path, false, func(o *VerifyOptions) { o.Since = "today" })
	if err != nil || !strings.HasPrefix(out, "OK: 4 events, seq 3–6") {
		t.Fatalf("--since today = %q, %v", out, err)
	}
	out, _, err = run(t, path, false, func(o *VerifyOptions) { o.ToSeq = 2 })
	if err != nil || !strings.HasPrefix(out, "OK: 2 events, seq 1–2, head "+hashes[2][:12]) {
		t.Fatalf("--to-seq 2 = %q, %v", out, err)
	}
	// A change before the range is outside it.
	tamper(t, path, "UPDATE events SET user = 'mallory' WHERE seq = 2")
	if _, _, err := run(t, path, false, func(o *VerifyOptions) { o.FromSeq = 4 }); err != nil {
		t.Fatalf("--from-seq 4 after a change at seq 2: %v", err)
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	path, hashes := seeded(t)
	for _, tt := range []struct {
		name      string
		configure func(*VerifyOptions)
		want      string
	}{
		{"bad expect-head", func(o *VerifyOptions) { o.ExpectHead = "6:abc" }, "--expect-head: invalid head"},
		{"bad since", func(o *VerifyOptions) { o.Since = "last tuesday" }, "--since"},
		{"head with more", func(o *VerifyOptions) { o.Head, o.FromSeq = true, 3 }, "--head only prints the head"},
		{"from after to", func(o *VerifyOptions) { o.FromSeq, o.ToSeq = 5, 3 }, "--from-seq 5 is after --to-seq 3"},
		{"expect before range", func(o *VerifyOptions) { o.FromSeq, o.ExpectHead = 5, "2:"+hashes[2] }, "lies before the verified range"},
	} {
		_, _, err := run(t, path, false, tt.configure)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want a FlagError with %q", tt.name, err, tt.want)
		}
	}
}

func TestNewCmdVerify(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Now: func() time.Time { return now },
		Config:   func() (*config.Config, error) { return &config.Config{}, nil },
		Location: func() *time.Location { return time.UTC }}
	var got *VerifyOptions
	cmd := NewCmdVerify(f, func(o *VerifyOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--since", "7d", "--expect-head", "5:" + strings.Repeat("a", 64), "--to-seq", "9"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Since != "7d" || got.ExpectHead != "5:"+strings.Repeat("a", 64) || got.ToSeq != 9 || got.Location != time.UTC {
		t.Fatalf("options = %+v", got)
	}
	if k, err := got.Key(); err != nil || k != nil {
		t.Fatalf("Key() without integrity.key-file = %q, %v", k, err)
	}
}
