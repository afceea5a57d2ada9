package iostreams

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// ErrPagerQuit is what writes return once the pager has exited, e.g. when
// the user pressed q: the command stops, and that is no error (exit 0,
// nothing said).
var ErrPagerQuit = errors.New("the pager exited")

// PagerCommand is the pager a run uses on a terminal: AUDIT_PAGER, else the
// config file's pager (configured tells whether it has one, "" included),
// else PAGER, else "less -FRX" where less is installed (-F: output that
// fits the screen is printed as usual; -R: colors pass; -X: the screen is
// not cleared). An empty value, or cat, means none.
func PagerCommand(configured bool, config string) string {
	pick := func(v string) string {
		if v = strings.TrimSpace(v); v == "cat" {
			return ""
		}
		return v
	}
	if v, ok := os.LookupEnv("AUDIT_PAGER"); ok {
		return pick(v)
	}
	if configured {
		return pick(config)
	}
	if v, ok := os.LookupEnv("PAGER"); ok {
		return pick(v)
	}
	if _, err := exec.LookPath("less"); err == nil {
		return "less -FRX"
	}
	return ""
}

// SetPager sets the pager StartPager runs; "" turns paging off.
func (s *IOStreams) SetPager(command string) { s.pagerCmd = command }

// StartPager sends standard output through the pager, when stdout is a
// terminal and a pager is set; StopPager must follow. Where the pager
// cannot start, output goes to the terminal as without one.
func (s *IOStreams) StartPager() {
	if s.pagerCmd == "" || !s.stdoutTTY || s.stdoutFile == nil || s.pager != nil {
		return
	}
	cmd := exec.Command("sh", "-c", s.pagerCmd)
	cmd.Env = os.Environ()
	if _, ok := os.LookupEnv("LESS"); !ok {
		cmd.Env = append(cmd.Env, "LESS=FRX") // also for a bare "less"
	}
	if _, ok := os.LookupEnv("LV"); !ok {
		cmd.Env = append(cmd.Env, "LV=-c")
	}
	cmd.Stdout, cmd.Stderr = s.stdoutFile, os.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	cmd.Stdin = r
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return
	}
	r.Close()
	s.pager = &pager{cmd: cmd, w: w, out: s.Out}
	s.Out = s.pager
}

// StopPager ends the output to the pager and waits for the user to leave
// it.
func (s *IOStreams) StopPager() {
	if s.pager == nil {
		return
	}
	s.pager.w.Close()
	s.pager.cmd.Wait()
	s.Out = s.pager.out
	s.pager = nil
}

// pager is the write end of the pipe to a running pager.
type pager struct {
	cmd  *exec.Cmd
	w    *os.File
	out  io.Writer // the stdout before the pager
	quit bool
}

func (p *pager) Write(b []byte) (int, error) {
	if p.quit {
		return 0, ErrPagerQuit
	}
	n, err := p.w.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		p.quit = true
		return n, ErrPagerQuit
	}
	return n, err
}
