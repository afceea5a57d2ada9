// Package cursor keeps the seq a reader of the log got to (watch, alert
// rules) in a file, replaced atomically, so that a restart resumes there.
package cursor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultCursorSync is how often, at most, the cursor file is forced to
// disk with fsync. Between syncs every save still replaces the file
// atomically, which is all a crash of the process needs; the fsync only
// bounds what a crash of the whole machine can take back (a cursor older by
// up to this long, so events printed again, never events skipped).
const DefaultCursorSync = 100 * time.Millisecond

// File is a cursor file (watch's --cursor-file, an alert rule's): the seq
// of the last event handled, as a decimal number and a newline. Each save writes a temporary file next
// to it and renames it over the cursor, so a reader (or a watch started
// after a crash) sees the old seq or the new one, never a torn write.
type File struct {
	path     string
	tmp      string
	syncEvry time.Duration
	lastSync time.Time
	unsynced bool // renamed since the last fsync
}

// New returns the cursor file at path, fsynced at most every syncEvery
// (0: DefaultCursorSync).
func New(path string, syncEvery time.Duration) *File {
	if syncEvery <= 0 {
		syncEvery = DefaultCursorSync
	}
	dir, base := filepath.Split(path)
	return &File{path: path, tmp: filepath.Join(dir, "."+base+".tmp"), syncEvry: syncEvery}
}

// Load returns the saved seq; ok is false when the file does not exist.
// A file that exists but holds no seq is an error rather than "start from
// the head": guessing would skip events.
func (c *File) Load() (seq int64, ok bool, err error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the cursor file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	seq, err = strconv.ParseInt(s, 10, 64)
	if err != nil || seq < 0 {
		return 0, false, fmt.Errorf("cursor file %s holds %q, not a seq: fix it, or remove it to start from the newest event", c.path, truncate(s, 40))
	}
	return seq, true, nil
}

// Save replaces the cursor with seq. It fsyncs the data and the directory
// when the last fsync is older than the sync interval.
func (c *File) Save(seq int64) error {
	doSync := time.Since(c.lastSync) >= c.syncEvry
	f, err := os.OpenFile(c.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("save the cursor: %w", err)
	}
	_, err = f.WriteString(strconv.FormatInt(seq, 10) + "\n")
	if err == nil && doSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(c.tmp, c.path)
	}
	if err != nil {
		return fmt.Errorf("save the cursor: %w", err)
	}
	c.unsynced = true
	if doSync {
		return c.syncDir()
	}
	return nil
}

// Close makes the last save durable.
func (c *File) Close() error {
	if !c.unsynced {
		return nil
	}
	f, err := os.Open(c.path)
	if err != nil {
		return fmt.Errorf("sync the cursor: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("sync the cursor: %w", err)
	}
	return c.syncDir()
}

// syncDir makes the renames into the cursor's directory durable.
func (c *File) syncDir() error {
	c.lastSync, c.unsynced = time.Now(), false
	d, err := os.Open(filepath.Dir(c.path))
	if err != nil {
		return fmt.Errorf("sync the cursor's directory: %w", err)
	}
	defer d.Close()
	// Some file systems cannot fsync a directory; the rename is then as
	// durable as they make it.
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync the cursor's directory: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
