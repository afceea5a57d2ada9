package reliability

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestRecordCannotStore records into stores that cannot take the event: a
// path below a regular file, a directory, a read-only file system (a fresh
// path and an existing store), a file that is no database, a truncated
// database. Each record exits non-zero with one line on stderr and prints
// no id: a script never takes an event for stored when it is not.
func TestRecordCannotStore(t *testing.T) {
	h := newHarness(t)
	record := []string{"record", "--user", "jdavis", "--type", "login", "--action", "Portal Access", "--ip", "10.0.0.55"}
	check := func(name, store string, wantCode int, says string) {
		t.Helper()
		h2 := *h
		h2.store = store
		r := h2.run(nil, record...)
		t.Run(name, func(t *testing.T) {
			if r.code == 0 || strings.TrimSpace(r.stdout) != "" {
				t.Fatalf("record must fail and print no id\n%s", r)
			}
			wantFailure(t, r, wantCode, says)
			t.Logf("exit %d: %s", r.code, strings.TrimSpace(r.stderr))
		})
	}

	file := filepath.Join(h.dir, "a-file")
	os.WriteFile(file, []byte("not a directory"), 0o600)
	check("path below a regular file", filepath.Join(file, "audit.db"), 3, "not a directory")
	check("store path is a directory", h.dir, 3, "is a directory")
	check("file that is no database", file, 3, "not an audit store")

	// A store cut short: the first page only.
	h.must(nil, "import", seedFile(t))
	h.must(nil, "import", h.eventFile("more.jsonl", "more-", 2000))
	b, err := os.ReadFile(h.store)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(h.dir, "cut.db")
	os.WriteFile(cut, b[:8192], 0o600)
	r := func() result { h2 := *h; h2.store = cut; return h2.run(nil, record...) }()
	if r.code == 0 || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("record into a truncated store must fail and print no id\n%s", r)
	} else {
		t.Logf("truncated store: exit %d: %s", r.code, strings.TrimSpace(r.stderr))
	}

	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		// Unprivileged: a directory without write permission.
		ro := filepath.Join(h.dir, "read-only")
		os.Mkdir(ro, 0o500)
		check("read-only directory", filepath.Join(ro, "audit.db"), 3, "permission denied")
		return
	}
	// As root permissions do not stop a write: a read-only mount does.
	fs := mountTmpfs(t, "1m")
	h2 := *h
	h2.store = filepath.Join(fs, "audit.db")
	h2.must(nil, "import", seedFile(t))
	if out, err := exec.Command("mount", "-o", "remount,ro", fs).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	check("new store on a read-only file system", filepath.Join(fs, "new.db"), 3, "read-only file system")
	check("existing store on a read-only file system", h2.store, 3, "")
}

// TestCommitIsDurableBeforeSuccess checks, with strace, the durability
// argument of docs/reliability.md: the store file is in WAL mode, and
// `audit record` and `audit import` fsync the write-ahead log (the commit,
// with synchronous=FULL) before they print that the events are stored.
// With synchronous=NORMAL the WAL would be synced only at the checkpoint
// when the store is closed, after the success message (the test fails
// with a binary built that way).
func TestCommitIsDurableBeforeSuccess(t *testing.T) {
	h := newHarness(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (apt-get install strace): the fsync order is not checked")
	}
	h.must(nil, "import", seedFile(t))
	db := openStore(t, h.store)
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v), want wal", mode, err)
	}
	// SQLite syncs the header of a new (or restarted) write-ahead log even
	// with synchronous=NORMAL. A reader kept on an old snapshot stops the
	// log from being restarted, so that the traced commands append to it
	// and any sync before their message is the commit's own.
	reader, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	h.must(nil, "record", "--user", "jdavis", "--type", "login", "--id", "durable-0")

	syncs := regexp.MustCompile(`f(data)?sync\(\d+<([^>]*)>\)\s*=\s*0`)
	// record prints the id on stdout, import its summary on stderr.
	success := regexp.MustCompile(`write\([12]<[^>]*>, "([^"]*)`)
	for _, args := range [][]string{
		{"record", "--user", "jdavis", "--type", "login", "--id", "durable-1"},
		{"import", h.eventFile("durable.jsonl", "durable-", 1000)},
	} {
		trace := filepath.Join(h.dir, "strace.out")
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		cmd := exec.CommandContext(ctx, strace, append([]string{"-f", "-y", "-qq", "-e", "trace=fsync,fdatasync,write",
			"-o", trace, h.bin}, args...)...)
		cmd.Dir, cmd.Env = h.dir, h.env(h.store)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Skipf("strace cannot trace here (%v): %s", err, truncate(string(out), 300))
		}
		b, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		walSynced, printed := false, false
		for _, l := range strings.Split(string(b), "\n") {
			if m := syncs.FindStringSubmatch(l); m != nil && strings.HasSuffix(m[2], "-wal") {
				walSynced = true
			}
			if m := success.FindStringSubmatch(l); m != nil && m[1] != "" {
				printed = true
				if !walSynced {
					t.Errorf("audit %s printed %q before any fsync of the write-ahead log:\n%s", args[0], m[1], truncate(string(b), 3000))
				}
				break
			}
		}
		if !printed {
			t.Errorf("audit %s: no success message in the trace:\n%s", args[0], truncate(string(b), 3000))
		}
	}
}
