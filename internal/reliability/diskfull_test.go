package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// fsizeEnv asks the test binary to act as a launcher: set RLIMIT_FSIZE to
// its value and exec the rest of the command line. Writing past that size
// then fails with EFBIG ("file too large"), a faulty disk that needs no
// privileges; Go ignores the SIGXFSZ that comes with it.
const fsizeEnv = "AUDIT_RELIABILITY_EXEC_FSIZE"

func init() {
	limit := os.Getenv(fsizeEnv)
	if limit == "" {
		return
	}
	var n uint64
	if _, err := fmt.Sscan(limit, &n); err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: %v\n", fsizeEnv, limit, err)
		os.Exit(97)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		fmt.Fprintf(os.Stderr, "setrlimit: %v\n", err)
		os.Exit(97)
	}
	i := 1
	for i < len(os.Args) && os.Args[i] != "--" {
		i++
	}
	if i+1 >= len(os.Args) {
		fmt.Fprintln(os.Stderr, "launcher: no command after --")
		os.Exit(97)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, fsizeEnv+"=") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(os.Args[i+1], os.Args[i+1:], env)
	fmt.Fprintf(os.Stderr, "exec %s: %v\n", os.Args[i+1], err)
	os.Exit(97)
}

// limited runs audit ARGS with writes limited to limit bytes a file.
func (h *harness) limited(limit int64, args ...string) result {
	h.t.Helper()
	if runtime.GOOS == "windows" {
		h.t.Skip("RLIMIT_FSIZE is a Unix limit")
	}
	self, err := os.Executable()
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, append([]string{"--", h.bin}, args...)...)
	cmd.Dir = h.dir
	cmd.Env = append(h.env(h.store), fmt.Sprintf("%s=%d", fsizeEnv, limit))
	return runCmd(h.t, cmd, nil, args)
}

// mountTmpfs mounts a tmpfs of the given size (e.g. "1m") for the test, or
// skips it when that is impossible (not root, not Linux, no mount).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("a full disk is simulated with a tmpfs, which needs Linux (the faulty-writer tests cover the property here)")
	}
	if os.Geteuid() != 0 {
		t.Skipf("mounting a %s tmpfs needs root (the faulty-writer tests cover the property here)", size)
	}
	dir := filepath.Join(t.TempDir(), "small-fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs (%v: %s): the faulty-writer tests cover the property here", size, err, strings.TrimSpace(string(out)))
	}
	// Registered after t.TempDir's own cleanup, so it runs before it.
	t.Cleanup(func() {
		if err := exec.Command("umount", dir).Run(); err != nil {
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full, then frees
// leave bytes of it again.
func fill(t *testing.T, dir string, leave int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if err != nil {
			break
		}
	}
	if err := f.Truncate(max(n-leave, 0)); err != nil {
		t.Fatal(err)
	}
}

// dirEntries lists the names in dir, the filler excluded.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		if e.Name() != "filler" {
			names = append(names, e.Name())
		}
	}
	return names
}

// wantFailure checks that r failed with exit code want and a message on
// stderr that says so plainly, containing every part of says.
func wantFailure(t *testing.T, r result, want int, says ...string) {
	t.Helper()
	if r.code != want {
		t.Fatalf("want exit %d\n%s", want, r)
	}
	msg := strings.TrimSpace(r.stderr)
	if !strings.HasPrefix(msg, "audit: ") || strings.Count(msg, "\n") > 0 {
		t.Errorf("want one line \"audit: …\" on stderr, got %q", msg)
	}
	for _, s := range says {
		if !strings.Contains(msg, s) {
			t.Errorf("stderr %q does not say %q", msg, s)
		}
	}
	if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
		t.Errorf("stderr shows a crash: %s", msg)
	}
}

// exportStore fills the harness's store with n events for the export tests.
func exportStore(h *harness, n int) {
	h.t.Helper()
	h.must(nil, "import", h.eventFile("export-src.jsonl", "x-", n))
}

// TestDiskFullExportTmpfs exports onto a 1 MiB tmpfs more than fits: exit
// 1, a message naming the file and "no space left on device", no file at
// the final path, no temporary file left, the cursor not moved; the same
// file system then takes a smaller export, so the failure gave its space
// back.
func TestDiskFullExportTmpfs(t *testing.T) {
	h := newHarness(t)
	fs := mountTmpfs(t, "1m")
	exportStore(h, 20_000) // about 6 MB of CSV
	out := filepath.Join(fs, "audit-all.csv")
	cursor := filepath.Join(fs, "nightly.cursor")

	for _, format := range []string{"csv", "jsonl", "json"} {
		out := strings.TrimSuffix(out, ".csv") + "." + format
		r := h.run(nil, "export", "-o", out, "--manifest", "--cursor-file", cursor)
		wantFailure(t, r, 1, out, "no space left on device")
		if names := dirEntries(t, fs); len(names) != 0 {
			t.Fatalf("a failed %s export left %v on the file system", format, names)
		}
	}
	// Export to a nearly full one: the first bytes fit, the rest not.
	fill(t, fs, 64<<10)
	r := h.run(nil, "export", "-o", out)
	wantFailure(t, r, 1, out, "no space left on device")
	if names := dirEntries(t, fs); len(names) != 0 {
		t.Fatalf("a failed export left %v on the file system", names)
	}
	os.Remove(filepath.Join(fs, "filler"))

	// The space came back: a small export fits, complete.
	h.must(nil, "export", "-o", out, "-n", "100", "--cursor-file", cursor)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lines(string(b))); n != 101 {
		t.Fatalf("the small export has %d lines, want a header and 100 events", n)
	}
	if c, err := os.ReadFile(cursor); err != nil || strings.TrimSpace(string(c)) != "100" {
		t.Fatalf("cursor after the small export: %q, %v; want 100", c, err)
	}
}

// TestDiskFullImportTmpfs imports onto a store on a small tmpfs more than
// fits, and records onto it once it is full: each fails with exit 1 (or 3
// when the store cannot even be opened) and a clear message, and the store
// keeps exactly what it had (one transaction: no half import), verifies,
// and takes the import once there is room again.
func TestDiskFullImportTmpfs(t *testing.T) {
	h := newHarness(t)
	fs := mountTmpfs(t, "2m")
	h.store = filepath.Join(fs, "audit.db")
	h.must(nil, "import", seedFile(t))
	big := h.eventFile("big.jsonl", "big-", 20_000) // about 8 MB in the store

	r := h.run(nil, "import", big)
	wantFailure(t, r, 1, "database or disk is full", "nothing was stored")
	if st := h.stats(); st.rows != 6 {
		t.Fatalf("after the failed import the store holds %d events, want the 6 it had", st.rows)
	}
	if n := h.verify(); n != 6 {
		t.Fatalf("verify counted %d events, want 6", n)
	}

	// Nearly full: a little room, not enough.
	fill(t, fs, 32<<10)
	r = h.run(nil, "import", big)
	wantFailure(t, r, 1, "database or disk is full", "nothing was stored")
	// Full to the last byte: record cannot store its event and says so.
	fill(t, fs, 0)
	r = h.run(nil, "record", "--user", "jdavis", "--type", "login", "--action", "Portal Access")
	if r.code == 0 || strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("record on a full disk must fail and print no id\n%s", r)
	}
	wantFailure(t, r, r.code, "no space left on device")
	t.Logf("record on a full disk: exit %d: %s", r.code, strings.TrimSpace(r.stderr))

	os.Remove(filepath.Join(fs, "filler"))
	if st := h.stats(); st.rows != 6 {
		t.Fatalf("after the failures the store holds %d events, want the 6 it had", st.rows)
	}
	if n := h.verify(); n != 6 {
		t.Fatalf("verify counted %d events, want 6", n)
	}
	small := h.eventFile("small.jsonl", "small-", 500)
	if r := h.must(nil, "import", small); strings.TrimSpace(r.stderr) != "500 read, 500 added, 0 duplicates, 0 read-only skipped" {
		t.Fatalf("import once there is room: %s", r)
	}
	if n := h.verify(); n != 506 {
		t.Fatalf("verify counted %d events, want 506", n)
	}
}

// TestFaultyWriterExport is the export of TestDiskFullExportTmpfs on any
// Unix, without privileges: writes past 256 KiB fail with EFBIG (the
// file-size limit), and standard output is /dev/full. Each export fails
// with exit 1 and a clear message, leaves no file and no temporary file,
// and does not move the cursor.
func TestFaultyWriterExport(t *testing.T) {
	h := newHarness(t)
	exportStore(h, 5_000) // about 1.5 MB of CSV
	outDir := filepath.Join(h.dir, "archive")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cursor := filepath.Join(outDir, "nightly.cursor")
	for _, name := range []string{"audit.csv", "audit.jsonl", "audit.json", "audit.jsonl.gz"} {
		out := filepath.Join(outDir, name)
		r := h.limited(256<<10, "export", "-o", out, "--manifest", "--cursor-file", cursor)
		if name == "audit.jsonl.gz" && r.code == 0 {
			continue // compressed, it may fit
		}
		wantFailure(t, r, 1, out, "file too large")
		if names := dirEntries(t, outDir); len(names) != 0 {
			t.Fatalf("a failed export to %s left %v", name, names)
		}
	}

	if _, err := os.Stat("/dev/full"); err != nil {
		t.Logf("no /dev/full: the standard-output case is skipped")
		return
	}
	devFull, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devFull.Close()
	for _, format := range []string{"csv", "jsonl", "json"} {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		args := []string{"export", "--format", format, "--cursor-file", cursor}
		cmd := h.command(ctx, args...)
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = devFull, &stderr
		err := cmd.Run()
		cancel()
		r := result{args: args, stderr: stderr.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		wantFailure(t, r, 1, "writing standard output", "no space left on device")
		if names := dirEntries(t, outDir); len(names) != 0 {
			t.Fatalf("a failed export to standard output left %v (the cursor must not move)", names)
		}
	}
}

// TestFaultyWriterImport imports into a store whose files may not grow
// past 512 KiB: the write fails mid-import, the import exits 1 saying
// nothing was stored, and the store keeps exactly what it had and
// verifies.
func TestFaultyWriterImport(t *testing.T) {
	h := newHarness(t)
	h.must(nil, "import", seedFile(t))
	big := h.eventFile("big.jsonl", "big-", 10_000)
	r := h.limited(512<<10, "import", big)
	wantFailure(t, r, 1, "nothing was stored")
	t.Logf("import past the file-size limit: %s", strings.TrimSpace(r.stderr))
	if st := h.stats(); st.rows != 6 {
		t.Fatalf("after the failed import the store holds %d events, want the 6 it had", st.rows)
	}
	if n := h.verify(); n != 6 {
		t.Fatalf("verify counted %d events, want 6", n)
	}
	// A record that cannot write fails too, and prints no id.
	h.must(nil, "import", h.eventFile("fill.jsonl", "fill-", 3_000))
	r = h.limited(16<<10, "record", "--user", "jdavis", "--type", "login", "--details", strings.Repeat("x", 8000))
	t.Logf("record past the file-size limit: exit %d: %s", r.code, strings.TrimSpace(r.stderr))
	if r.code == 0 || strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("record that cannot write must fail and print no id\n%s", r)
	}
	if n := h.verify(); n != 3006 {
		t.Fatalf("verify counted %d events, want 3006", n)
	}
}
