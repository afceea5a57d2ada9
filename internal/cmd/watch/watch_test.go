package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

// now is the pinned clock of these tests: Thursday 26 November 2026, 15:00 UTC.
var now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

// syncBuffer is an output that the test reads while watch writes it.
// onWrite, when set, runs before each write is taken.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	onWrite func(p []byte)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	if s.onWrite != nil {
		s.onWrite(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) lines() []string {
	out := strings.TrimSuffix(s.String(), "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// openStore returns a new SQLite store in a temporary directory, polled
// often so that the tests are quick.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// event returns the i-th test event: a security failure every third, an
// update otherwise; its time is i minutes after 14:00.
func event(i int) audit.Event {
	e := audit.Event{
		ID:           fmt.Sprintf("ev-%05d", i),
		Time:         now.Add(-time.Hour + time.Duration(i)*time.Minute),
		User:         "jdavis",
		UserName:     "John Davis",
		Type:         audit.TypeUpdate,
		Action:       "Updated",
		ResourceType: "server",
		Resource:     "bbb-node-1",
		Details:      fmt.Sprintf("change %d", i),
		IP:           "192.168.1.100",
		Outcome:      audit.OutcomeSuccess,
	}
	if i%3 == 0 {
		e.Type, e.Action, e.Outcome = audit.TypeSecurity, "MFA Disabled", audit.OutcomeFailure
	}
	return e
}

func appendEvents(t *testing.T, st audit.Store, from, to int) {
	t.Helper()
	var evs []audit.Event
	for i := from; i <= to; i++ {
		evs = append(evs, event(i))
	}
	if _, err := st.Append(context.Background(), evs); err != nil {
		t.Error(err)
	}
}

func newOptions(st audit.Store) (*WatchOptions, *syncBuffer, *syncBuffer) {
	ios, _, _, _ := iostreams.Test()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	ios.Out, ios.ErrOut = out, errOut
	opts := &WatchOptions{
		IO:       ios,
		Store:    func() (audit.Store, error) { return st, nil },
		Now:      func() time.Time { return now },
		Location: time.UTC,
		Lines:    DefaultLines,
		Output:   cmdutil.OutputFlags{Format: "jsonl"},
		RetryMin: time.Millisecond,
		RetryMax: 20 * time.Millisecond,
	}
	return opts, out, errOut
}

// run starts watchRun and returns a function that waits for its result.
func run(t *testing.T, ctx context.Context, opts *WatchOptions) func() error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- watchRun(ctx, opts) }()
	return func() error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("watch did not end")
			return nil
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// seqs decodes JSON lines and returns their seqs, failing on anything else.
func seqs(t *testing.T, lines []string) []int64 {
	t.Helper()
	var out []int64
	for _, l := range lines {
		var e audit.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not a JSON event: %q: %v", l, err)
		}
		out = append(out, e.Seq)
	}
	return out
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func equal(t *testing.T, got, want []int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("seqs:\n got %v\nwant %v", got, want)
	}
}

func TestBacklogIsTheLastNOldestFirst(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 20)
	opts, out, _ := newOptions(st)
	opts.Lines, opts.LinesSet, opts.Count = 3, true, 3
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), []int64{18, 19, 20})
}

func TestDefaultBacklogIsTen(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 20)
	opts, out, _ := newOptions(st)
	ctx, cancel := context.WithCancel(context.Background())
	wait := run(t, ctx, opts)
	waitFor(t, "10 events", func() bool { return len(out.lines()) >= 10 })
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), seqRange(11, 20))
}

func TestBacklogIsFiltered(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 20)
	opts, out, _ := newOptions(st)
	opts.Filter.Types, opts.Filter.Failed = []string{"security", "login"}, true
	opts.Lines, opts.LinesSet, opts.Count = 3, true, 3
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), []int64{12, 15, 18})
}

func TestNoBacklogFollowsNewEventsInOrder(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 5)
	started := &startedStore{Store: st, following: make(chan struct{})}
	opts, out, _ := newOptions(started)
	opts.Lines, opts.LinesSet = 0, true
	opts.Count = 300
	wait := run(t, context.Background(), opts)
	<-started.following
	// Batches of 1 to 4 events, as concurrent writers would commit them.
	go func() {
		for i, n := 6, 1; i < 6+300; i, n = i+n, n%4+1 {
			appendEvents(t, st, i, min(i+n-1, 6+300-1))
			if i%7 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), seqRange(6, 305))
}

// startedStore closes following when watch first calls Follow: it has
// then taken its starting point, and events recorded from now on are new.
type startedStore struct {
	audit.Store
	once      sync.Once
	following chan struct{}
}

func (s *startedStore) Follow(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	s.once.Do(func() { close(s.following) })
	return s.Store.Follow(ctx, f)
}

func TestFiltersApplyToNewEvents(t *testing.T) {
	st := openStore(t)
	if err := st.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	started := &startedStore{Store: st, following: make(chan struct{})}
	opts, out, _ := newOptions(started)
	opts.Filter.Types, opts.Filter.Failed = []string{"security"}, true
	opts.Filter.Users = []string{"JDAV*"}
	opts.Count = 10
	wait := run(t, context.Background(), opts)
	<-started.following
	go func() {
		for i := 1; i <= 30; i++ {
			appendEvents(t, st, i, i)
		}
	}()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), []int64{3, 6, 9, 12, 15, 18, 21, 24, 27, 30})
}

func TestCancelEndsWithoutError(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 2)
	opts, out, _ := newOptions(st)
	ctx, cancel := context.WithCancel(context.Background())
	wait := run(t, ctx, opts)
	waitFor(t, "the backlog", func() bool { return len(out.lines()) == 2 })
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("cancelled watch returned %v, want nil", err)
	}
}

func TestCancelWhileWaitingForTheStore(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "none", "audit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts, _, errOut := newOptions(st)
	ctx, cancel := context.WithCancel(context.Background())
	wait := run(t, ctx, opts)
	waitFor(t, "the note", func() bool { return errOut.String() != "" })
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "no audit store at") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestStoreCreatedAfterStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(path, sqlite.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts, out, errOut := newOptions(st)
	opts.Lines, opts.LinesSet, opts.Count = 0, true, 2
	wait := run(t, context.Background(), opts)
	waitFor(t, "the note", func() bool { return errOut.String() != "" })
	// Another process creates the store: every event in it is new.
	other, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	appendEvents(t, other, 1, 2)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), []int64{1, 2})
	if n := strings.Count(errOut.String(), "\n"); n != 1 {
		t.Errorf("stderr has %d lines, want one note:\n%s", n, errOut)
	}
}

func TestSinceStartsThere(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 40) // 14:01 … 14:40; 40m before 15:00 is 14:20, event 20
	for _, tc := range []struct {
		name  string
		lines int
		set   bool
		want  []int64
	}{
		{"every event since, ignoring the default -n", DefaultLines, false, seqRange(20, 40)},
		{"the last N since, with -n", 3, true, []int64{38, 39, 40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, out, _ := newOptions(st)
			opts.Filter.Since = "40m" // 14:20
			opts.Lines, opts.LinesSet, opts.Count = tc.lines, tc.set, len(tc.want)
			if err := run(t, context.Background(), opts)(); err != nil {
				t.Fatal(err)
			}
			equal(t, seqs(t, out.lines()), tc.want)
		})
	}
}

func TestAfterStartsThere(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 30)
	opts, out, _ := newOptions(st)
	opts.Filter.After = 12
	opts.Count = 18
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), seqRange(13, 30))
}

func readCursor(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCursorFileIsSavedAsItGoes(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 4)
	cursor := filepath.Join(t.TempDir(), "alerts.cursor")
	opts, out, _ := newOptions(st)
	opts.CursorFile, opts.Count = cursor, 6

	// While event k is being written, the cursor holds the seq before it;
	// the first saved seq is the head at start (no backlog by default).
	var mu sync.Mutex
	var bad []string
	out.onWrite = func(p []byte) {
		var e audit.Event
		if err := json.Unmarshal(p, &e); err != nil {
			return
		}
		b, _ := os.ReadFile(cursor)
		mu.Lock()
		defer mu.Unlock()
		if want := fmt.Sprintf("%d\n", e.Seq-1); string(b) != want {
			bad = append(bad, fmt.Sprintf("writing seq %d, cursor %q, want %q", e.Seq, b, want))
		}
	}
	wait := run(t, context.Background(), opts)
	waitFor(t, "the cursor file", func() bool { _, err := os.Stat(cursor); return err == nil })
	if got := readCursor(t, cursor); got != "4\n" {
		t.Fatalf("cursor at start = %q, want the head %q", got, "4\n")
	}
	for i := 5; i <= 10; i++ {
		appendEvents(t, st, i, i)
		waitFor(t, "the event", func() bool { return len(out.lines()) == i-4 })
		waitFor(t, "the cursor", func() bool { return readCursor(t, cursor) == fmt.Sprintf("%d\n", i) })
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), seqRange(5, 10))
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatal(strings.Join(bad, "\n"))
	}

	// A second run resumes right after the cursor: no backlog, no gap.
	appendEvents(t, st, 11, 13)
	opts, out, _ = newOptions(st)
	opts.CursorFile, opts.Count = cursor, 4
	wait = run(t, context.Background(), opts)
	waitFor(t, "the three events", func() bool { return len(out.lines()) == 3 })
	appendEvents(t, st, 14, 14)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), seqRange(11, 14))
	if got := readCursor(t, cursor); got != "14\n" {
		t.Errorf("cursor = %q, want %q", got, "14\n")
	}
}

func TestCursorFileIgnoresStartFlags(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 10)
	cursor := filepath.Join(t.TempDir(), "c")
	if err := os.WriteFile(cursor, []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, out, _ := newOptions(st)
	opts.CursorFile, opts.Count = cursor, 3
	opts.Lines, opts.LinesSet, opts.Filter.After = 1, true, 2
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), []int64{8, 9, 10})
}

func TestMissingCursorFileWithLines(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 10)
	cursor := filepath.Join(t.TempDir(), "c")
	opts, out, _ := newOptions(st)
	opts.CursorFile, opts.Count = cursor, 2
	opts.Lines, opts.LinesSet = 2, true
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), []int64{9, 10})
	if got := readCursor(t, cursor); got != "10\n" {
		t.Errorf("cursor = %q", got)
	}
}

func TestBadCursorFile(t *testing.T) {
	st := openStore(t)
	for _, content := range []string{"", "seven\n", "-3\n"} {
		cursor := filepath.Join(t.TempDir(), "c")
		if err := os.WriteFile(cursor, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		opts, out, _ := newOptions(st)
		opts.CursorFile = cursor
		err := run(t, context.Background(), opts)()
		if err == nil || !strings.Contains(err.Error(), "not a seq") {
			t.Errorf("cursor %q: err = %v", content, err)
		}
		if out.String() != "" {
			t.Errorf("cursor %q: printed %q", content, out)
		}
	}
}

func TestTerminalTableHasOneHeaderAndFixedColumns(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 5)
	opts, out, _ := newOptions(st)
	opts.IO.SetStdoutTTY(true)
	opts.IO.SetTerminalWidth(100)
	opts.Output.Format = "table"
	opts.Lines, opts.LinesSet, opts.Count = 2, true, 4
	wait := run(t, context.Background(), opts)
	waitFor(t, "the backlog", func() bool { return len(out.lines()) == 3 })
	appendEvents(t, st, 6, 7)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	want := `USER              ACTION                  RESOURCE              IP ADDRESS       TIME
John Davis        Updated — change 4      Server: bbb-node-1    192.168.1.100    Today, 2:04 PM
John Davis        Updated — change 5      Server: bbb-node-1    192.168.1.100    Today, 2:05 PM
John Davis        MFA Disabled… ✗ FAILED  Server: bbb-node-1    192.168.1.100    Today, 2:06 PM
John Davis        Updated — change 7      Server: bbb-node-1    192.168.1.100    Today, 2:07 PM
`
	if got := out.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestPipedTableIsPlain(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 3)
	opts, out, _ := newOptions(st)
	opts.Output.Format = "table"
	opts.Lines, opts.LinesSet, opts.Count = 2, true, 2
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Fatal(err)
	}
	want := "USER\tACTION\tRESOURCE\tIP ADDRESS\tTIME\n" +
		"jdavis\tUpdated — change 2\tServer: bbb-node-1\t192.168.1.100\t2026-11-26T14:02:00Z\n" +
		"jdavis\tMFA Disabled — change 3 (failed)\tServer: bbb-node-1\t192.168.1.100\t2026-11-26T14:03:00Z\n"
	if got := out.String(); got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
}

// failingWriter fails every write with err.
type failingWriter struct{ err error }

func (w failingWriter) Write(p []byte) (int, error) { return 0, w.err }

func TestWriteErrors(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 3)
	// The reader went away: watch ends quietly.
	opts, _, _ := newOptions(st)
	opts.IO.Out = failingWriter{&os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}}
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Errorf("EPIPE: err = %v, want nil", err)
	}
	// Another failure is one.
	opts, _, _ = newOptions(st)
	opts.IO.Out = failingWriter{&os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}}
	if err := run(t, context.Background(), opts)(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("ENOSPC: err = %v", err)
	}
}

// flakyStore fails its first Follows: fail[i] tells after how many events
// the i-th Follow yields an error.
type flakyStore struct {
	audit.Store
	mu    sync.Mutex
	fail  []int
	calls []int64 // f.After of each Follow
}

func (s *flakyStore) Follow(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	s.mu.Lock()
	s.calls = append(s.calls, f.After)
	n := -1
	if len(s.calls) <= len(s.fail) {
		n = s.fail[len(s.calls)-1]
	}
	s.mu.Unlock()
	return func(yield func(audit.Event, error) bool) {
		i := 0
		for e, err := range s.Store.Follow(ctx, f) {
			if i == n {
				yield(audit.Event{}, fmt.Errorf("%w: connection refused", audit.ErrUnavailable))
				return
			}
			i++
			if !yield(e, err) {
				return
			}
		}
		if i == n {
			yield(audit.Event{}, fmt.Errorf("%w: connection refused", audit.ErrUnavailable))
		}
	}
}

func TestRetriesAfterStoreErrors(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 10)
	// Three failures in a row, then two events and a failure, then it works.
	flaky := &flakyStore{Store: st, fail: []int{0, 0, 0, 2}}
	opts, out, errOut := newOptions(flaky)
	opts.Filter.After, opts.Count = 0, 10
	opts.Filter.Since = "2h"
	opts.RetryMax = time.Second
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), seqRange(1, 10))
	if fmt.Sprint(flaky.calls) != "[0 0 0 0 2]" {
		t.Errorf("Follow after = %v, want [0 0 0 0 2]", flaky.calls)
	}
	want := "audit: watch: store unavailable: connection refused\n" +
		"audit: watch: retrying every few seconds; will resume after seq 0\n" +
		"audit: watch: store unavailable: connection refused\n" +
		"audit: watch: retrying every few seconds; will resume after seq 2\n"
	if got := errOut.String(); got != want {
		t.Errorf("stderr:\n%s\nwant once per outage:\n%s", got, want)
	}
}

func TestFatalStoreErrorEndsWatch(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 1)
	opts, _, _ := newOptions(denyingStore{st})
	if err := run(t, context.Background(), opts)(); !errors.Is(err, audit.ErrForbidden) {
		t.Errorf("err = %v, want ErrForbidden", err)
	}
}

type denyingStore struct{ audit.Store }

func (denyingStore) Follow(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		yield(audit.Event{}, fmt.Errorf("%w: role read cannot watch", audit.ErrForbidden))
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		wantErr string
		check   func(t *testing.T, o *WatchOptions)
	}{
		{args: "", check: func(t *testing.T, o *WatchOptions) {
			if o.Lines != 10 || o.LinesSet || o.Count != 0 || o.Output.Format != "table" {
				t.Errorf("defaults: %+v", o)
			}
		}},
		{args: "-n 0 --count 5 -o jsonl --cursor-file c --type security,login --failed", check: func(t *testing.T, o *WatchOptions) {
			if o.Lines != 0 || !o.LinesSet || o.Count != 5 || o.Output.Format != "jsonl" || o.CursorFile != "c" ||
				len(o.Filter.Types) != 2 || !o.Filter.Failed {
				t.Errorf("parsed: %+v", o)
			}
		}},
		{args: "--lines 3", check: func(t *testing.T, o *WatchOptions) {
			if o.Lines != 3 || !o.LinesSet {
				t.Errorf("parsed: %+v", o)
			}
		}},
		{args: "-o json", wantErr: "use -o jsonl"},
		{args: "--until 1h", wantErr: "--until is not supported"},
		{args: "--period today", wantErr: "--period is not supported"},
		{args: "-n -1", wantErr: "invalid --lines"},
		{args: "--count -1", wantErr: "invalid --count"},
		{args: "--cursor-file=", wantErr: "--cursor-file needs"},
		{args: "-o template", wantErr: "needs --template"},
		{args: "extra", wantErr: "takes no arguments"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{
				IOStreams: ios,
				Now:       func() time.Time { return now },
				Location:  func() *time.Location { return time.UTC },
				Config:    func() (*config.Config, error) { return nil, errors.New("no config") },
			}
			var got *WatchOptions
			cmd := NewCmdWatch(f, func(_ context.Context, o *WatchOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tc.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tc.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if !errors.As(err, &fe) {
					t.Errorf("err = %T %v, want a FlagError (exit 2)", err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

// scriptedStore's Follow yields the events of seqs, then waits.
type scriptedStore struct {
	audit.Store
	seqs []int64
}

func (s scriptedStore) Follow(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for _, seq := range s.seqs {
			e := event(int(seq))
			e.Seq = seq
			if seq > f.After && !yield(e, nil) {
				return
			}
		}
		<-ctx.Done()
	}
}

func TestSeqGoingBackIsSkipped(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, 1, 1)
	// A store file replaced by an older copy: seqs 2 and 3 come again.
	opts, out, errOut := newOptions(scriptedStore{st, []int64{1, 2, 3, 2, 3, 4, 5}})
	opts.Lines, opts.LinesSet, opts.Count = 1, true, 5
	if err := run(t, context.Background(), opts)(); err != nil {
		t.Fatal(err)
	}
	equal(t, seqs(t, out.lines()), seqRange(1, 5))
	want := "audit: watch: the store went back to seq 2, before the last printed seq 3 (was its file replaced?): skipping to seq 4\n"
	if errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}
