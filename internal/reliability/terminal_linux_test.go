package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair of cols columns: audit writes to
// the terminal end as to a real terminal, the test reads the other.
func openPTY(t *testing.T, cols int) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal (%v): the terminal table is checked in-process only", err)
	}
	ioctl := func(f *os.File, req uintptr, arg unsafe.Pointer) error {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); e != 0 {
			return e
		}
		return nil
	}
	var unlock int32
	var n uint32
	if err := ioctl(m, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		m.Close()
		t.Skipf("unlock the pseudo-terminal: %v", err)
	}
	if err := ioctl(m, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		m.Close()
		t.Skipf("name the pseudo-terminal: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open the pseudo-terminal: %v", err)
	}
	ws := struct{ rows, cols, x, y uint16 }{rows: 50, cols: uint16(cols)}
	if err := ioctl(s, syscall.TIOCSWINSZ, unsafe.Pointer(&ws)); err != nil {
		t.Logf("set the terminal size: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// onTerminal runs audit ARGS with stdout on a pseudo-terminal, colors on,
// and returns what the terminal received, with the terminal's own CR LF
// line ends turned back into LF.
func (h *harness) onTerminal(cols int, args ...string) string {
	h.t.Helper()
	return h.onTerminalEnv(cols, nil, args...)
}

// onTerminalEnv is onTerminal with more environment variables (KEY=VALUE
// sets, -KEY unsets).
func (h *harness) onTerminalEnv(cols int, env []string, args ...string) string {
	h.t.Helper()
	m, tty := openPTY(h.t, cols)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := h.command(ctx, args...)
	cmd.Env = append(cmd.Env, "NO_COLOR=", "CLICOLOR_FORCE=", "TERM=xterm-256color", fmt.Sprintf("COLUMNS=%d", cols))
	for _, kv := range env {
		if key, ok := strings.CutPrefix(kv, "-"); ok { // -KEY unsets KEY
			cmd.Env = slices.DeleteFunc(cmd.Env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = tty, &stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	tty.Close() // the child holds it now; EOF (EIO) comes when it exits
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, m)
		done <- err
	}()
	if err := cmd.Wait(); err != nil {
		h.t.Fatalf("audit %s on a terminal: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := <-done; err != nil && !errors.Is(err, syscall.EIO) {
		h.t.Fatalf("read the terminal: %v", err)
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// TestHostileTextOnTerminal lists events whose text holds escape
// sequences, CR, backspace, C1 and bidi controls on a real (pseudo)
// terminal, in color: the terminal receives audit's own color sequences
// and nothing else that could move the cursor, clear or recolor the
// screen, or reorder the text; each event stays on its line.
func TestHostileTextOnTerminal(t *testing.T) {
	h := newHarness(t)
	path, ids := hostileFile(t, h.dir)
	h.must(nil, "import", path)
	for _, args := range [][]string{
		{"list", "-n", "0", "--color", "always"},
		{"list", "-n", "0", "-o", "wide", "--color", "always"},
		{"list", "-n", "0", "--color", "always", "--search", "screen"},
		{"stats", "--by", "user", "--color", "always"},
		{"show", ids[0], "--color", "always"},
	} {
		out := h.onTerminal(100, args...)
		what := "audit " + strings.Join(args, " ") + " on a terminal"
		if !strings.Contains(out, "\x1b[") && args[0] == "list" {
			t.Errorf("%s: no color at all, is it a terminal?\n%q", what, out)
		}
		checkTerminalSafe(t, what, out, false)
		if args[0] == "list" && len(args) == 5 {
			if n := len(lines(out)); n != len(hostile)+1 {
				t.Errorf("%s: %d lines, want a header and one per event: an event broke its line\n%s", what, n, out)
			}
		}
	}
}

// TestPagerOnTerminal: on a terminal, list, show, stats and --help go
// through AUDIT_PAGER (here a script that marks what it was given);
// --no-pager, a config's empty pager, and a pipe bypass it; a pager that
// quits before reading everything is no error.
func TestPagerOnTerminal(t *testing.T) {
	h := newHarness(t)
	h.must(nil, "import", seedFile(t))
	marker := filepath.Join(h.dir, "pager.sh")
	if err := os.WriteFile(marker, []byte("#!/bin/sh\necho '<<paged>>'\ncat\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	quitter := filepath.Join(h.dir, "quit.sh")
	if err := os.WriteFile(quitter, []byte("#!/bin/sh\nexec 0<&-\necho '<<quit>>'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"list"}, {"show", "seed-1"}, {"stats"}, {"list", "--help"}} {
		out := h.onTerminalEnv(100, []string{"AUDIT_PAGER=" + marker}, args...)
		if !strings.HasPrefix(out, "<<paged>>\n") {
			t.Errorf("audit %s on a terminal with AUDIT_PAGER: did not go through it:\n%s", strings.Join(args, " "), out)
		}
		out = h.onTerminalEnv(100, []string{"AUDIT_PAGER=" + marker}, append(args, "--no-pager")...)
		if strings.Contains(out, "<<paged>>") {
			t.Errorf("audit %s --no-pager went through the pager:\n%s", strings.Join(args, " "), out)
		}
	}
	// PAGER is the fallback; a config file's empty pager turns it off.
	if out := h.onTerminalEnv(100, []string{"-AUDIT_PAGER", "PAGER=" + marker}, "list"); !strings.HasPrefix(out, "<<paged>>\n") {
		t.Errorf("PAGER not used:\n%s", out)
	}
	cfg := filepath.Join(h.dir, "config", "audit", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("pager: \"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := h.onTerminalEnv(100, []string{"-AUDIT_PAGER", "PAGER=" + marker}, "list"); strings.Contains(out, "<<paged>>") {
		t.Errorf("pager: \"\" in the config still paged:\n%s", out)
	}
	os.Remove(cfg)
	// Piped: never.
	if r := h.must(nil, "list"); strings.Contains(r.stdout, "<<paged>>") {
		t.Errorf("piped output went through the pager")
	}
	// A pager that quits at once, before the output (far more than a pipe
	// holds) is written: exit 0, no error.
	h.must(nil, "import", h.eventFile("many.jsonl", "many-", 3000))
	out := h.onTerminalEnv(100, []string{"AUDIT_PAGER=" + quitter}, "list", "-n", "0")
	if !strings.Contains(out, "<<quit>>") {
		t.Errorf("the quitting pager did not run:\n%s", out)
	}
}
