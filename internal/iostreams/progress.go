package iostreams

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/audit-cli/audit/internal/output"
)

// progressInterval is the least time between two redraws of a progress line.
const progressInterval = 200 * time.Millisecond

// Progress reports a long operation (import, export) on one line of stderr:
// rows done, rows per second, how far and the time left where the total
// is known (SetTotal), and time elapsed, redrawn in place at most five
// times a second. It draws nothing when stderr is not a terminal, nor for an
// operation that ends before the first redraw is due, so pipes, logs and
// quick runs stay clean. A nil *Progress is a valid no-op. It is safe for
// concurrent use.
type Progress struct {
	mu      sync.Mutex
	w       io.Writer // nil: a no-op
	label   string
	now     func() time.Time
	start   time.Time
	last    time.Time // time of the last redraw (start before the first)
	n       int64
	drawn   int // display width of the line last drawn; 0 if none
	stopped bool
	note    string        // set by Wait
	done    chan struct{} // closed by Done to stop Wait's clock
	// total and position, set by SetTotal, give a percentage and the
	// time left.
	total    int64
	position func() int64
}

// SetTotal tells the size of the whole operation: total rows, or with
// position the total of what position counts (bytes of a file read so
// far). The line then shows how far it is and the time left.
func (p *Progress) SetTotal(total int64, position func() int64) {
	if p == nil || total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.position = total, position
}

// howFar is the percentage done and the time left, "" while unknown.
func (p *Progress) howFar(elapsed time.Duration) string {
	if p.total <= 0 {
		return ""
	}
	pos := p.n
	if p.position != nil {
		pos = p.position()
	}
	if pos <= 0 {
		return ", 0%"
	}
	pct := min(pos*100/p.total, 99) // 100% is when it is done
	left := time.Duration(float64(elapsed) * float64(max(p.total-pos, 0)) / float64(pos))
	return fmt.Sprintf(", %d%%, %s left", pct, formatLeft(left))
}

// formatLeft writes the time left as 45s, 3m05s or 1h02m.
func formatLeft(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// StartProgress begins reporting the operation named by label (e.g.
// "Importing") on stderr. Call Add as rows are done and Done at the end.
func (s *IOStreams) StartProgress(label string) *Progress {
	p := &Progress{label: label, now: time.Now}
	if s.stderrTTY {
		p.w = s.ErrOut
	}
	p.start = p.now()
	p.last = p.start
	return p
}

// Add counts n more rows done and redraws the line if it is due.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(n)
	if p.w == nil || p.stopped {
		return
	}
	if t := p.now(); t.Sub(p.last) >= progressInterval {
		p.last = t
		p.draw(t)
	}
}

// Wait is for the last stretch of an operation, once every row is read
// and what remains counts none (a commit, building indexes): the line
// says note instead of a rate, and its clock keeps running until Done.
func (p *Progress) Wait(note string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil || p.stopped || p.done != nil {
		return
	}
	p.note = note
	p.done = make(chan struct{})
	p.redraw()
	go func(done <-chan struct{}) {
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.tick()
			case <-done:
				return
			}
		}
	}(p.done)
}

// tick redraws the line for Wait's clock.
func (p *Progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.redraw()
	}
}

// redraw draws the line unless the operation is too young for a first one.
func (p *Progress) redraw() {
	if t := p.now(); t.Sub(p.start) >= progressInterval {
		p.last = t
		p.draw(t)
	}
}

// Done ends the report and erases the line, leaving the cursor at the start
// of it for the command's own summary. Further calls do nothing.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	if p.done != nil {
		close(p.done)
	}
	if p.w != nil && p.drawn > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.drawn)+"\r")
		p.drawn = 0
	}
}

// draw rewrites the line; spaces blank what a longer previous line left.
func (p *Progress) draw(t time.Time) {
	elapsed := t.Sub(p.start)
	rate := int64(0)
	if secs := elapsed.Seconds(); secs > 0 {
		rate = int64(float64(p.n) / secs)
	}
	line := fmt.Sprintf("%s: %s rows, %s/s%s, %s", p.label, output.GroupDigits(p.n), output.GroupDigits(rate),
		p.howFar(elapsed), elapsed.Truncate(time.Second))
	if p.note != "" {
		line = fmt.Sprintf("%s: %s rows, %s, %s", p.label, output.GroupDigits(p.n), p.note, elapsed.Truncate(time.Second))
	}
	pad := ""
	if len(line) < p.drawn {
		pad = strings.Repeat(" ", p.drawn-len(line))
	}
	fmt.Fprint(p.w, "\r"+line+pad)
	p.drawn = len(line)
}
