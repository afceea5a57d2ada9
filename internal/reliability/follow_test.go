package reliability

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// followProc is one `audit import --follow` process.
type followProc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{} // closed when the process has ended
	err    error         // how it ended, once done is closed
}

func (h *harness) startFollow(log, state string) *followProc {
	h.t.Helper()
	cmd := h.command(context.Background(), "import", "--follow", "--state", state, log)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	p := &followProc{cmd: cmd, stderr: &stderr, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	h.t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// appendEvents appends the events PREFIX-from … PREFIX-(to-1) to path, in
// pieces that may end in the middle of a line, as a writer flushing its
// buffer does.
func appendEvents(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	var all bytes.Buffer
	if err := writeEvents(&all, prefix, to, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(all.String(), "\n")[from:to]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, line := range lines {
		half := len(line) / 2
		for _, piece := range []string{line[:half], line[half:]} {
			if _, err := f.WriteString(piece); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// waitStored waits until the store holds want distinct events, each once.
// The bound is generous: a follower stores a batch within a second.
func (h *harness) waitStored(p *followProc, want int) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ids := storedIDs(h.t, h.store)
		for id, n := range ids {
			if n != 1 {
				h.t.Fatalf("event %s stored %d times", id, n)
			}
		}
		if len(ids) == want {
			return
		}
		if len(ids) > want {
			h.t.Fatalf("%d events stored, want %d", len(ids), want)
		}
		select {
		case <-p.done:
			h.t.Fatalf("the follower ended (%v) with %d of %d events stored:\n%s", p.err, len(ids), want, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d of %d events stored after a minute:\n%s", len(ids), want, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFollowRotationAndCrash follows a growing log through both kinds of
// rotation, a SIGKILL with lines written while it was down, and a
// SIGTERM: every line written is stored exactly once and the chain
// verifies.
func TestFollowRotationAndCrash(t *testing.T) {
	h := newHarness(t)
	r := newRand(t)
	log := filepath.Join(h.dir, "app.log")
	state := filepath.Join(h.dir, "follow.json")
	empty := filepath.Join(h.dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.must(nil, "import", empty) // creates the store

	// A log that does not exist yet, then grows.
	p := h.startFollow(log, state)
	appendEvents(t, log, "a-", 0, 30)
	h.waitStored(p, 30)
	appendEvents(t, log, "a-", 30, 60)
	h.waitStored(p, 60)

	// Rotation by rename and create: the lines written to the old file
	// after the rename are read too, then the new file from its start.
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, log+".1", "a-", 60, 70)
	appendEvents(t, log, "b-", 0, 40)
	h.waitStored(p, 110)

	// SIGKILL at a random point while lines are being written; more lines
	// come while it is down; the restart resumes at the saved offset.
	go func() {
		time.Sleep(time.Duration(r.IntN(400)) * time.Millisecond)
		p.cmd.Process.Kill()
	}()
	for i := 40; i < 200; i += 10 {
		appendEvents(t, log, "b-", i, i+10)
		time.Sleep(10 * time.Millisecond)
	}
	<-p.done
	appendEvents(t, log, "b-", 200, 250)
	p = h.startFollow(log, state)
	h.waitStored(p, 320)

	// Rotation by copytruncate: the file is emptied in place and written
	// again, and is read again from its top.
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, log, "c-", 0, 25)
	h.waitStored(p, 345)

	// SIGTERM: the follower stores what it read and exits 0.
	appendEvents(t, log, "c-", 25, 40)
	h.waitStored(p, 360)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("after SIGTERM the follower exited with %v:\n%s", p.err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the follower did not end on SIGTERM:\n%s", p.stderr)
	}
	checkNoLock(t, "import --follow", p.stderr.String())

	ids := storedIDs(t, h.store)
	for prefix, n := range map[string]int{"a-": 70, "b-": 250, "c-": 40} {
		for i := range n {
			id := fmt.Sprintf("%s%07d", prefix, i)
			if ids[id] != 1 {
				t.Errorf("event %s stored %d times, want once", id, ids[id])
			}
		}
	}
	if got := h.verify(); got != 360 {
		t.Errorf("verify reports %d events, want 360", got)
	}
}
