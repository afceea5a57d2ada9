package reliability

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// foreignReaders are the other SQLite clients a sysadmin peeks at a store
// with while audit runs: the sqlite3 shell and Python's sqlite3 module.
// Each entry is a command line that counts the events of the store at %s.
func foreignReaders(t *testing.T) [][]string {
	t.Helper()
	var readers [][]string
	if p, err := exec.LookPath("sqlite3"); err == nil {
		readers = append(readers, []string{p, "%s", "SELECT count(*) FROM events"})
	}
	if p, err := exec.LookPath("python3"); err == nil {
		readers = append(readers, []string{p, "-c",
			"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('SELECT count(*) FROM events').fetchone()[0]); c.close()",
			"%s"})
	}
	if len(readers) == 0 {
		t.Skip("!!! neither the sqlite3 shell nor python3 is installed: foreign-reader test SKIPPED (apt-get install sqlite3 python3) !!!")
	}
	return readers
}

// readProcLocks reads /proc/locks in one read(2). The kernel builds each
// read of it from the live list of locks: read in small pieces, as
// os.ReadFile does, a line can be missed when locks before it come and go
// between two pieces (the foreign readers take and drop theirs all the
// time), and a lock that is held looks absent.
func readProcLocks() ([]byte, error) {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n, err := f.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// dbLocks returns the /proc/locks lines that pid holds on the file at path.
func dbLocks(t *testing.T, pid int, path string) []string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	b, err := readProcLocks()
	if err != nil {
		t.Skipf("no /proc/locks: %v", err)
	}
	var held []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		// 1: POSIX  ADVISORY  READ 4996 fe:00:9986051 1073741826 1073742335
		if len(f) >= 6 && f[4] == strconv.Itoa(pid) && strings.HasSuffix(f[5], ":"+strconv.FormatUint(ino, 10)) {
			held = append(held, l)
		}
	}
	return held
}

// openFiles lists the files under dir that pid has open, for a failure
// message.
func openFiles(pid int, dir string) []string {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	var open []string
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, dir) {
			open = append(open, filepath.Base(fd)+" "+target)
		}
	}
	return open
}

// allLocks returns every /proc/locks line on the file at path.
func allLocks(path string) []string {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	ino := ":" + strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10)
	b, _ := readProcLocks()
	var held []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && strings.HasSuffix(f[5], ino) {
			held = append(held, l)
		}
	}
	return held
}

// TestForeignReadersLoseNothing runs `audit serve` taking POSTs, an `audit
// watch` and `audit import` loops on one existing store while the sqlite3
// shell and Python's sqlite3 read it again and again and `audit record`
// writes from other processes. A process that drops its own POSIX locks
// on the database file (by opening and closing it outside SQLite) lets a
// foreign reader think it is the last connection, delete the live WAL, and
// lose every commit made after that. Afterwards every event a writer was
// told was stored is there exactly once and `audit verify` passes; during
// the run serve holds its lock on the database file.
func TestForeignReadersLoseNothing(t *testing.T) {
	h := newHarness(t)
	readers := foreignReaders(t)
	duration := time.Duration(scaled(6, 30)) * time.Second

	// The store exists before serve starts: serve then opens its readers
	// first and its writer on the first POST.
	h.must(nil, "import", seedFile(t))
	seed := h.stats().rows

	ctx, cancel := context.WithTimeout(context.Background(), duration+3*time.Minute)
	defer cancel()
	watch := h.command(ctx, "watch", "--after", fmt.Sprint(seed), "-o", "jsonl")
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { watch.Process.Kill(); watch.Wait() }()
	srv := h.startServe()

	w := newWriterLoops(t, duration)
	deadline, loop, expect := w.deadline, w.loop, w.expect
	loop("POST", func(i int) error {
		prefix := fmt.Sprintf("post%05d-", i)
		var buf bytes.Buffer
		writeEvents(&buf, prefix, 50, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
		res, status, err := post(srv.url, buf.Bytes())
		if err != nil || status != http.StatusOK || res.Added != 50 {
			return fmt.Errorf("status %d, %+v, %v", status, res, err)
		}
		for j := range 50 {
			expect(fmt.Sprintf("%s%07d", prefix, j))
		}
		return nil
	})
	loop("record", func(i int) error {
		id := fmt.Sprintf("rec-%06d", i)
		args := []string{"record", "--id", id, "--user", "jdavis", "--type", "update", "--action", "Updated",
			"--resource-type", "server", "--resource", "bbb-node-1"}
		r := runCmd(t, h.command(ctx, args...), nil, args)
		if r.code != 0 || strings.TrimSpace(r.stdout) != id {
			return fmt.Errorf("%s", r)
		}
		expect(id)
		return nil
	})
	loop("import", func(i int) error {
		prefix := fmt.Sprintf("imp%04d-", i)
		var buf bytes.Buffer
		writeEvents(&buf, prefix, 500, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC))
		r := runCmd(t, h.command(ctx, "import", "-"), &buf, []string{"import", "-"})
		if r.code != 0 {
			return fmt.Errorf("%s", r)
		}
		for j := range 500 {
			expect(fmt.Sprintf("%s%07d", prefix, j))
		}
		return nil
	})
	for k, argv := range readers {
		loop(fmt.Sprintf("reader %d (%s)", k, argv[0]), func(int) error {
			args := make([]string, len(argv))
			for j, a := range argv {
				args[j] = strings.ReplaceAll(a, "%s", h.store)
			}
			out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
			if err != nil && !strings.Contains(string(out), "locked") {
				return fmt.Errorf("%v: %v\n%s", args, err, out)
			}
			time.Sleep(20 * time.Millisecond)
			return nil
		})
	}
	// serve must hold its lock on the database file all along.
	w.wg.Go(func() {
		for time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
			if w.storedCount() > 0 && len(dbLocks(t, srv.cmd.Process.Pid, h.store)) == 0 {
				t.Errorf("audit serve (pid %d) holds no lock on %s: a foreign client may delete its WAL\n"+
					"its open files there: %q\nall locks on it: %q", srv.cmd.Process.Pid, h.store,
					openFiles(srv.cmd.Process.Pid, h.dir), allLocks(h.store))
				return
			}
		}
	})
	w.wait()
	stored := w.stored
	if err := srv.stop(); err != nil {
		t.Errorf("audit serve on SIGTERM: %v\n%s", err, srv.stderr.String())
	}

	ids := storedIDs(t, h.store)
	missing := 0
	for id := range stored {
		if ids[id] != 1 {
			if missing < 5 {
				t.Errorf("event %s was confirmed, and is stored %d times", id, ids[id])
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d confirmed events are not stored exactly once", missing, len(stored))
	}
	if n := h.verify(); n != len(ids) {
		t.Errorf("verify counted %d events, the store holds %d", n, len(ids))
	}
	t.Logf("%d events confirmed and stored once while %d foreign readers read the file", len(stored), len(readers))
}
