// Package iostreams is the one place that touches the process's standard
// input, output and error. It decides once whether each stream is a
// terminal, whether to use color and how wide the terminal is; commands read
// those decisions from an *IOStreams they are given, and tests swap in
// buffers with Test.
package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-colorable"
	"github.com/mattn/go-isatty"
	"golang.org/x/term"
)

// DefaultWidth is the terminal width assumed when it cannot be measured.
const DefaultWidth = 80

// IOStreams holds the standard streams of a run and what is known about
// them: which are terminals, whether output is colored, the terminal width.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY     bool
	stdoutTTY    bool
	stderrTTY    bool
	colorEnabled bool
	termWidth    int

	stdoutFile *os.File // the process's stdout, for a pager; nil in tests
	pagerCmd   string
	pager      *pager
}

// System returns the streams of the process: os.Stdin, os.Stdout and
// os.Stderr, with terminals detected and the width measured (falling back
// to $COLUMNS, then 80). Color starts in "auto" mode; the root command calls
// SetColorMode once its --color flag is known.
func System() *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       colorable.NewColorable(os.Stdout),
		ErrOut:    colorable.NewColorable(os.Stderr),
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),

		stdoutFile: os.Stdout,
	}
	s.termWidth = systemWidth(s.stdoutTTY, s.stderrTTY)
	_ = s.SetColorMode("auto")
	return s
}

// Test returns streams over buffers for tests: in, out and errOut. None is
// a terminal, color is off and the width is 80; the Set methods change that.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, termWidth: DefaultWidth}, in, out, errOut
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// systemWidth measures the terminal on stdout (or stderr when only it is a
// terminal), then tries $COLUMNS, then DefaultWidth.
func systemWidth(stdoutTTY, stderrTTY bool) int {
	for _, c := range []struct {
		tty bool
		f   *os.File
	}{{stdoutTTY, os.Stdout}, {stderrTTY, os.Stderr}} {
		if !c.tty {
			continue
		}
		if w, _, err := term.GetSize(int(c.f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return DefaultWidth
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal: human tables,
// relative times and truncation are for terminals only.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal: progress is
// drawn only there.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides the detection of a terminal on stdin, for tests.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides the detection of a terminal on stdout, for tests.
// Call SetColorMode afterwards if color should follow it.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides the detection of a terminal on stderr, for tests.
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// TerminalWidth returns the width of the terminal in cells.
func (s *IOStreams) TerminalWidth() int { return s.termWidth }

// SetTerminalWidth overrides the terminal width, for tests.
func (s *IOStreams) SetTerminalWidth(w int) { s.termWidth = w }

// ColorEnabled reports whether output may carry ANSI colors, as decided by
// SetColorMode.
func (s *IOStreams) ColorEnabled() bool { return s.colorEnabled }

// ColorModes lists the values SetColorMode accepts.
var ColorModes = []string{"auto", "always", "never"}

// SetColorMode decides, once per run, whether output is colored:
//
//   - "always" and "never" say so, whatever the environment;
//   - "auto" (or "") colors when stdout is a terminal, NO_COLOR is unset or
//     empty, CLICOLOR is not "0" and TERM is not "dumb"; CLICOLOR_FORCE set
//     to anything but "" or "0" colors even when stdout is not a terminal;
//     NO_COLOR wins over CLICOLOR_FORCE, which wins over CLICOLOR=0 (the
//     convention of bixense.com/clicolors).
//
// It sets fatih/color's global NoColor from the decision, so code that
// prints with that package agrees. Another mode is an error.
func (s *IOStreams) SetColorMode(mode string) error {
	var on bool
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "", "auto":
		noColor := os.Getenv("NO_COLOR") != ""
		force := os.Getenv("CLICOLOR_FORCE")
		switch {
		case noColor:
			on = false
		case force != "" && force != "0":
			on = true
		case os.Getenv("CLICOLOR") == "0":
			on = false
		default:
			on = s.stdoutTTY && os.Getenv("TERM") != "dumb"
		}
	case "always":
		on = true
	case "never":
		on = false
	default:
		return fmt.Errorf("invalid color mode %q (accepted: %s)", mode, strings.Join(ColorModes, ", "))
	}
	s.colorEnabled = on
	color.NoColor = !on
	return nil
}
