package iostreams

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fatih/color"
)

func TestTest(t *testing.T) {
	ios, in, out, errOut := Test()
	if ios.IsStdinTTY() || ios.IsStdoutTTY() || ios.IsStderrTTY() {
		t.Error("Test streams claim to be terminals")
	}
	if ios.ColorEnabled() {
		t.Error("Test streams have color")
	}
	if w := ios.TerminalWidth(); w != 80 {
		t.Errorf("width %d, want 80", w)
	}
	in.WriteString("input")
	b := make([]byte, 5)
	if n, _ := ios.In.Read(b); string(b[:n]) != "input" {
		t.Errorf("In reads %q", b[:n])
	}
	ios.Out.Write([]byte("data"))
	ios.ErrOut.Write([]byte("note"))
	if out.String() != "data" || errOut.String() != "note" {
		t.Errorf("out %q, errOut %q", out, errOut)
	}

	ios.SetStdinTTY(true)
	ios.SetStdoutTTY(true)
	ios.SetStderrTTY(true)
	ios.SetTerminalWidth(132)
	if !ios.IsStdinTTY() || !ios.IsStdoutTTY() || !ios.IsStderrTTY() || ios.TerminalWidth() != 132 {
		t.Error("setters had no effect")
	}
}

func TestSetColorMode(t *testing.T) {
	saved := color.NoColor
	t.Cleanup(func() { color.NoColor = saved })

	for _, tc := range []struct {
		mode     string
		noColor  string
		force    string
		clicolor string
		term     string
		tty      bool
		want     bool
	}{
		// auto follows the terminal...
		{mode: "auto", tty: true, want: true},
		{mode: "auto", tty: false, want: false},
		{mode: "", tty: true, want: true},
		{mode: "", tty: false, want: false},
		// ...unless NO_COLOR is set (to anything but "")...
		{mode: "auto", noColor: "1", tty: true, want: false},
		{mode: "auto", noColor: "", tty: true, want: true},
		// ...or TERM is dumb.
		{mode: "auto", term: "dumb", tty: true, want: false},
		// CLICOLOR_FORCE forces color on without a terminal...
		{mode: "auto", force: "1", tty: false, want: true},
		{mode: "auto", force: "yes", tty: false, want: true},
		{mode: "auto", force: "1", term: "dumb", tty: false, want: true},
		{mode: "auto", force: "0", tty: false, want: false},
		{mode: "auto", force: "0", tty: true, want: true},
		// CLICOLOR=0 turns it off on a terminal, unless forced.
		{mode: "auto", clicolor: "0", tty: true, want: false},
		{mode: "auto", clicolor: "1", tty: true, want: true},
		{mode: "auto", clicolor: "1", tty: false, want: false},
		{mode: "auto", clicolor: "0", force: "1", tty: true, want: true},
		// ...but NO_COLOR wins over it.
		{mode: "auto", noColor: "1", force: "1", tty: true, want: false},
		{mode: "auto", noColor: "1", force: "1", tty: false, want: false},
		// always and never override everything.
		{mode: "always", tty: false, want: true},
		{mode: "always", noColor: "1", tty: false, want: true},
		{mode: "always", term: "dumb", want: true},
		{mode: "never", tty: true, want: false},
		{mode: "never", force: "1", tty: true, want: false},
		{mode: "NEVER", force: "1", tty: true, want: false},
	} {
		t.Setenv("NO_COLOR", tc.noColor)
		t.Setenv("CLICOLOR_FORCE", tc.force)
		t.Setenv("CLICOLOR", tc.clicolor)
		term := tc.term
		if term == "" {
			term = "xterm-256color"
		}
		t.Setenv("TERM", term)
		ios, _, _, _ := Test()
		ios.SetStdoutTTY(tc.tty)
		if err := ios.SetColorMode(tc.mode); err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if got := ios.ColorEnabled(); got != tc.want {
			t.Errorf("%+v: ColorEnabled() = %v, want %v", tc, got, tc.want)
		}
		if color.NoColor != !tc.want {
			t.Errorf("%+v: color.NoColor = %v, want %v", tc, color.NoColor, !tc.want)
		}
	}
}

func TestSetColorModeInvalid(t *testing.T) {
	ios, _, _, _ := Test()
	err := ios.SetColorMode("sometimes")
	if err == nil || err.Error() != `invalid color mode "sometimes" (accepted: auto, always, never)` {
		t.Errorf("err = %v", err)
	}
}

// fakeClock is a settable clock for Progress.
// fakeClock is safe for use by Wait's ticking goroutine.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func startTestProgress(ios *IOStreams, clock *fakeClock) *Progress {
	p := ios.StartProgress("Importing")
	p.now, p.start, p.last = clock.now, clock.now(), clock.now()
	return p
}

func TestProgressNotATerminal(t *testing.T) {
	ios, _, out, errOut := Test()
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	p := startTestProgress(ios, clock)
	for range 10 {
		clock.advance(time.Second)
		p.Add(1000)
	}
	p.Done()
	if out.Len() != 0 || errOut.Len() != 0 {
		t.Errorf("progress without a terminal wrote %q, %q", out, errOut)
	}
}

func TestProgress(t *testing.T) {
	ios, _, out, errOut := Test()
	ios.SetStderrTTY(true)
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	p := startTestProgress(ios, clock)

	p.Add(500) // too soon: nothing drawn
	if errOut.Len() != 0 {
		t.Fatalf("drew at once: %q", errOut)
	}
	clock.advance(250 * time.Millisecond)
	p.Add(500)
	if got, want := errOut.String(), "\rImporting: 1,000 rows, 4,000/s, 0s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Within the interval: no redraw.
	clock.advance(100 * time.Millisecond)
	p.Add(1)
	if strings.Count(errOut.String(), "\r") != 1 {
		t.Errorf("redrew too often: %q", errOut)
	}
	clock.advance(2*time.Second + 650*time.Millisecond) // 3s in all
	p.Add(1_234_566 - 1_001)
	last := errOut.String()[strings.LastIndex(errOut.String(), "\r"):]
	if want := "\rImporting: 1,234,566 rows, 411,522/s, 3s"; last != want {
		t.Errorf("got %q, want %q", last, want)
	}
	errOut.Reset()
	p.Done()
	if got, want := errOut.String(), "\r"+strings.Repeat(" ", len("Importing: 1,234,566 rows, 411,522/s, 3s"))+"\r"; got != want {
		t.Errorf("Done wrote %q, want %q", got, want)
	}
	errOut.Reset()
	clock.advance(time.Second)
	p.Add(1)
	p.Done()
	if errOut.Len() != 0 || out.Len() != 0 {
		t.Errorf("wrote after Done: %q", errOut)
	}
}

// TestProgressTotal: with the total known, the line says how far and how
// long is left; by rows, or by what a position function counts (bytes).
func TestProgressTotal(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.SetStderrTTY(true)
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	p := startTestProgress(ios, clock)
	p.SetTotal(10_000, nil)
	clock.advance(2 * time.Second)
	p.Add(2_500)
	last := errOut.String()[strings.LastIndex(errOut.String(), "\r"):]
	if want := "\rImporting: 2,500 rows, 1,250/s, 25%, 6s left, 2s"; last != want {
		t.Errorf("by rows: got %q, want %q", last, want)
	}
	var read int64 = 1 << 20
	p.SetTotal(4<<20, func() int64 { return read })
	clock.advance(58 * time.Second) // a minute in all, a quarter read
	p.Add(1)
	last = errOut.String()[strings.LastIndex(errOut.String(), "\r"):]
	if want := "\rImporting: 2,501 rows, 41/s, 25%, 3m00s left, 1m0s"; last != want {
		t.Errorf("by bytes: got %q, want %q", last, want)
	}
}

func TestProgressShorterLineBlanksTheRest(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.SetStderrTTY(true)
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	p := startTestProgress(ios, clock)
	clock.advance(time.Second)
	p.Add(100_000) // rate 100,000/s
	clock.advance(49 * time.Second)
	p.Add(0) // rate 2,000/s: a shorter line
	last := errOut.String()[strings.LastIndex(errOut.String(), "\r"):]
	if want := "\rImporting: 100,000 rows, 2,000/s, 50s "; last != want {
		t.Errorf("got %q, want %q", last, want)
	}
}

func TestProgressNil(t *testing.T) {
	var p *Progress
	p.Add(1)
	p.Done()
}

func TestSystem(t *testing.T) {
	saved := color.NoColor
	t.Cleanup(func() { color.NoColor = saved })
	t.Setenv("COLUMNS", "123")
	ios := System()
	if ios.In == nil || ios.Out == nil || ios.ErrOut == nil {
		t.Fatal("System left a stream nil")
	}
	if !ios.IsStdoutTTY() && !ios.IsStderrTTY() && ios.TerminalWidth() != 123 {
		t.Errorf("width %d without a terminal, want $COLUMNS (123)", ios.TerminalWidth())
	}
	if ios.TerminalWidth() <= 0 {
		t.Errorf("width %d", ios.TerminalWidth())
	}
}

func TestProgressWait(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.SetStderrTTY(true)
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	p := startTestProgress(ios, clock)
	clock.advance(time.Second)
	p.Add(1_000_000)
	p.Wait("writing to the store")
	last := errOut.String()[strings.LastIndex(errOut.String(), "\r"):]
	if want := "\rImporting: 1,000,000 rows, writing to the store, 1s"; last != want {
		t.Errorf("after Wait: got %q, want %q", last, want)
	}
	// The clock runs on with no rows added.
	clock.advance(4 * time.Second)
	p.tick()
	last = errOut.String()[strings.LastIndex(errOut.String(), "\r"):]
	if want := "\rImporting: 1,000,000 rows, writing to the store, 5s"; last != want {
		t.Errorf("a tick later: got %q, want %q", last, want)
	}
	p.Done()
	errOut.Reset()
	p.tick()
	p.Wait("again")
	if errOut.Len() != 0 {
		t.Errorf("wrote after Done: %q", errOut)
	}
}
