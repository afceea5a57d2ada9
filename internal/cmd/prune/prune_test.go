package prune

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"os"
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

// now is the pinned clock: Thursday 26 November 2026, 15:00 UTC. The seed
// events are at seq 1 (2025-11-27), 2 (2026-11-25) and 3–6 (today).
var now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

var key = []byte("prune command test key, 32 bytes")

func seeded(t *testing.T) (string, []audit.Event) {
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
	return path, events
}

// run runs prune on the store at path; stdin is what a terminal user types.
func run(t *testing.T, path string, tty bool, stdin string, configure func(*PruneOptions)) (string, string, error) {
	t.Helper()
	ios, in, stdout, stderr := iostreams.Test()
	ios.SetStdinTTY(tty)
	ios.SetStdoutTTY(tty)
	ios.SetStderrTTY(tty)
	in.WriteString(stdin)
	st, err := sqlite.Open(path, sqlite.Options{ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := &PruneOptions{
		IO:       ios,
		Store:    func() (audit.Store, error) { return st, nil },
		Key:      func() ([]byte, error) { return key, nil },
		Now:      func() time.Time { return now },
		Location: time.UTC,
	}
	configure(opts)
	if err := opts.validate(); err != nil {
		return stdout.String(), stderr.String(), err
	}
	err = pruneRun(context.Background(), opts)
	return stdout.String(), stderr.String(), err
}

func seqs(t *testing.T, path string) []int64 {
	t.Helper()
	st, err := sqlite.Open(path, sqlite.Options{ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []int64
	for e, err := range st.Query(context.Background(), audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Seq)
	}
	return out
}

func readArchive(t *testing.T, path string) []audit.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		if r, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	var out []audit.Event
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestPruneScripted(t *testing.T) {
	path, events := seeded(t)
	dir := t.TempDir()
	out, errOut, err := run(t, path, false, "", func(o *PruneOptions) {
		o.Before, o.Archive, o.Yes = "today", filepath.Join(dir, "pruned-{until}-{first}-{last}.jsonl.gz"), true
	})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "pruned-2026-11-26-1-2.jsonl.gz")
	want := "pruned 2 events (seq 1–2, before 2026-11-26T00:00:00Z) into " + archive +
		"; the log then starts at seq 3; checkpoint seq 2, hash " + events[1].Hash[:12] + "…\n"
	if out != want || errOut != "" {
		t.Fatalf("stdout %q, stderr %q; want %q", out, errOut, want)
	}
	if got := seqs(t, path); len(got) != 4 || got[0] != 3 {
		t.Fatalf("seqs after prune = %v, want 3–6", got)
	}
	// The archive is the pruned events, exactly, and a chain of its own
	// that ends at the checkpoint.
	got := readArchive(t, archive)
	if len(got) != 2 || got[0].Seq != 1 || got[1].Hash != events[1].Hash || got[0].Details != events[0].Details {
		t.Fatalf("archive = %+v", got)
	}
	v := audit.NewChainVerifier(key, audit.ChainPoint{})
	for i := range got {
		if err := v.Add(&got[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	// verify starts from the checkpoint now.
	st, _ := sqlite.Open(path, sqlite.Options{ChainKey: key})
	defer st.Close()
	res, err := audit.Verify(context.Background(), st, audit.VerifyOptions{Key: key})
	if err != nil || res.Start != audit.StartCheckpoint || res.StartPoint.Seq != 2 || res.Events != 4 {
		t.Fatalf("Verify after prune = %+v, %v", res, err)
	}
	cp, _ := st.Checkpoint(context.Background())
	if cp.Archive != "pruned-2026-11-26-1-2.jsonl.gz" || len(cp.ArchiveSHA256) != 64 || !cp.Before.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("checkpoint = %+v", cp)
	}

	// Again: nothing older is left.
	out, _, err = run(t, path, false, "", func(o *PruneOptions) {
		o.Before, o.Archive, o.Yes = "today", filepath.Join(dir, "again.jsonl"), true
	})
	if err != nil || out != "nothing to prune: the oldest event, seq 3, is not before 2026-11-26T00:00:00Z\n" {
		t.Fatalf("second prune = %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "again.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a prune with nothing to do wrote an archive")
	}
}

func TestPruneKeepsNewest(t *testing.T) {
	path, _ := seeded(t)
	out, _, err := run(t, path, false, "", func(o *PruneOptions) { o.Before, o.NoArchive, o.Yes = "1s", true, true })
	if err != nil || !strings.HasPrefix(out, "pruned 5 events (seq 1–5, before 2026-11-26T14:59:59Z) without an archive; the log then starts at seq 6") {
		t.Fatalf("prune of everything = %q, %v", out, err)
	}
	out, _, err = run(t, path, false, "", func(o *PruneOptions) { o.Before, o.NoArchive, o.Yes = "1s", true, true })
	if err != nil || out != "nothing to prune: only the newest event, seq 6, is before 2026-11-26T14:59:59Z, and it always stays\n" {
		t.Fatalf("prune of the newest = %q, %v", out, err)
	}
}

func TestPruneDryRun(t *testing.T) {
	path, _ := seeded(t)
	archive := filepath.Join(t.TempDir(), "a.jsonl")
	out, _, err := run(t, path, false, "", func(o *PruneOptions) { o.Before, o.Archive, o.DryRun = "2026-11-26", archive, true })
	want := "would prune 2 events (seq 1–2, before 2026-11-26T00:00:00Z) into " + archive + "; the log then starts at seq 3\n"
	if err != nil || out != want {
		t.Fatalf("--dry-run = %q, %v; want %q", out, err, want)
	}
	if len(seqs(t, path)) != 6 {
		t.Fatal("--dry-run deleted events")
	}
	if _, err := os.Stat(archive); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("--dry-run wrote the archive")
	}
}

func TestPruneConfirm(t *testing.T) {
	for _, tt := range []struct {
		answer string
		pruned bool
	}{{"y\n", true}, {"yes\n", true}, {"n\n", false}, {"\n", false}, {"", false}} {
		path, _ := seeded(t)
		archive := filepath.Join(t.TempDir(), "a.jsonl")
		_, errOut, err := run(t, path, true, tt.answer, func(o *PruneOptions) { o.Before, o.Archive = "today", archive })
		if !strings.Contains(errOut, "Prune 2 events (seq 1–2, before 2026-11-26T00:00:00Z) into "+archive) || !strings.Contains(errOut, "[y/N]") {
			t.Fatalf("answer %q: prompt %q", tt.answer, errOut)
		}
		n := len(seqs(t, path))
		_, statErr := os.Stat(archive)
		if tt.pruned && (err != nil || n != 4 || statErr != nil) {
			t.Fatalf("answer %q: %v, %d events left, archive: %v", tt.answer, err, n, statErr)
		}
		if !tt.pruned && (err == nil || !strings.Contains(err.Error(), "declined") || n != 6 || statErr == nil) {
			t.Fatalf("answer %q: %v, %d events left, archive: %v", tt.answer, err, n, statErr)
		}
	}
}

func TestPruneNeedsYesWhenScripted(t *testing.T) {
	path, _ := seeded(t)
	_, _, err := run(t, path, false, "", func(o *PruneOptions) { o.Before, o.NoArchive = "today", true })
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("err = %v, want a FlagError asking for --yes", err)
	}
}

func TestPruneRefusesTamperedLog(t *testing.T) {
	path, _ := seeded(t)
	db, _ := sql.Open("sqlite3", path)
	if _, err := db.Exec("UPDATE events SET user = 'mallory' WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	archive := filepath.Join(t.TempDir(), "a.jsonl")
	_, _, err := run(t, path, false, "", func(o *PruneOptions) { o.Before, o.Archive, o.Yes = "today", archive, true })
	if !errors.Is(err, audit.ErrIntegrity) || !strings.Contains(err.Error(), "the log does not verify, so nothing was pruned: seq 1 (") {
		t.Fatalf("err = %v, want ErrIntegrity", err)
	}
	if n := len(seqs(t, path)); n != 6 {
		t.Fatalf("%d events left, want 6", n)
	}
	if entries, _ := os.ReadDir(filepath.Dir(archive)); len(entries) != 0 {
		t.Fatalf("files left behind: %v", entries)
	}
}

func TestPruneExistingArchive(t *testing.T) {
	path, _ := seeded(t)
	archive := filepath.Join(t.TempDir(), "a.jsonl")
	os.WriteFile(archive, []byte("keep me\n"), 0o600)
	_, _, err := run(t, path, false, "", func(o *PruneOptions) { o.Before, o.Archive, o.Yes = "today", archive, true })
	if err == nil || !strings.Contains(err.Error(), "exists; use --force") || len(seqs(t, path)) != 6 {
		t.Fatalf("err = %v, want the archive kept and nothing pruned", err)
	}
	if _, _, err := run(t, path, false, "", func(o *PruneOptions) { o.Before, o.Archive, o.Yes, o.Force = "today", archive, true, true }); err != nil {
		t.Fatal(err)
	}
	if got := readArchive(t, archive); len(got) != 2 {
		t.Fatalf("--force archive holds %d events", len(got))
	}
}

func TestPruneUsageErrors(t *testing.T) {
	path, _ := seeded(t)
	for _, tt := range []struct {
		configure func(*PruneOptions)
		want      string
	}{
		{func(o *PruneOptions) { o.Archive = "a.jsonl" }, "--before is required"},
		{func(o *PruneOptions) { o.Before = "30d" }, "--archive FILE is required"},
		{func(o *PruneOptions) { o.Before, o.Archive, o.NoArchive = "30d", "a.jsonl", true }, "contradict"},
		{func(o *PruneOptions) { o.Before, o.Archive = "30d", "a.csv" }, "name it FILE.jsonl"},
		{func(o *PruneOptions) { o.Before, o.Archive = "30d", "a-{period}.jsonl" }, "unknown placeholder {period}"},
		{func(o *PruneOptions) { o.Before, o.Archive, o.Yes = "2026-12-01", "a.jsonl", true }, "is in the future"},
		{func(o *PruneOptions) { o.Before, o.Archive, o.Yes = "next week", "a.jsonl", true }, "--before"},
	} {
		_, _, err := run(t, path, false, "", tt.configure)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want a FlagError with %q", err, tt.want)
		}
	}
}

func TestNewCmdPrune(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Now: func() time.Time { return now },
		Config:   func() (*config.Config, error) { return &config.Config{}, nil },
		Location: func() *time.Location { return time.UTC }}
	var got *PruneOptions
	cmd := NewCmdPrune(f, func(o *PruneOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--before", "365d", "--archive", "/archive/pruned-{until}.jsonl", "--yes"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Before != "365d" || got.Archive != "/archive/pruned-{until}.jsonl" || !got.Yes {
		t.Fatalf("options = %+v", got)
	}
}
