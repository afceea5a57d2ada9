package importcmd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/audit-cli/audit/internal/atomicfile"
	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/ingest"
)

// followPoll is how often a followed file is looked at for new lines and
// for rotation; a batch is stored within a second of being written.
const followPoll = 250 * time.Millisecond

// followBatch bounds the lines of one stored batch.
const followBatch = 5000

// followState is where a follower is in its file, saved after each stored
// batch: a restart resumes there, with no gap and no duplicate.
type followState struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
	// Head is the SHA-256 of the file's first headLen bytes (or fewer, up
	// to Offset): a file truncated and written again past Offset between
	// two looks (copytruncate) starts with other bytes.
	Head   string `json:"head,omitempty"`
	Format string `json:"format,omitempty"`
}

// headLen is how much of a followed file's start identifies it.
const headLen = 256

// headSum is the Head of f read up to offset.
func headSum(f *os.File, offset int64) string {
	b := make([]byte, min(offset, headLen))
	n, _ := f.ReadAt(b, 0)
	sum := sha256.Sum256(b[:n])
	return hex.EncodeToString(sum[:])
}

// defaultStatePath is $XDG_STATE_HOME/audit/follow-<hash of the path>.json.
func defaultStatePath(abs string) (string, error) {
	dir, err := cmdutil.StateDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, "follow-"+hex.EncodeToString(sum[:8])+".json"), nil
}

func readState(path string) (followState, error) {
	var st followState
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("the state file %s is not one audit wrote: %v (remove it to start from the beginning)", path, err)
	}
	return st, nil
}

func writeState(path string, st followState) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	b, _ := json.Marshal(st)
	if _, err := f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := f.Finish(); err != nil {
		return err
	}
	return f.Commit(true)
}

func fileID(fi os.FileInfo) (dev, ino uint64) {
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), s.Ino
	}
	return 0, 0
}

// follower stores what is appended to a file (or arrives on standard
// input) batch by batch, until ctx ends; the batch being stored then is
// finished first.
type follower struct {
	opts   *ImportOptions
	st     audit.Store
	iopts  ingest.Options
	format string
	total  ingest.Counts
	added  int
	dups   int
}

// store decodes and stores one batch of whole lines. It runs to its end
// even when ctx is cancelled: a batch is stored entirely or not at all.
func (fw *follower) store(ctx context.Context, lines []byte) error {
	if len(lines) == 0 {
		return nil
	}
	var c ingest.Counts
	events := ingest.Decode(bytes.NewReader(lines), fw.format, fw.iopts, &c)
	if !fw.opts.AllowFuture {
		events = audit.RejectFuture(events, fw.opts.Now)
	}
	res, err := audit.Import(context.WithoutCancel(ctx), fw.st, events)
	if err != nil {
		return err
	}
	fw.total.Read += c.Read
	fw.total.ReadOnly += c.ReadOnly
	fw.total.Unmatched += c.Unmatched
	fw.total.Stages += c.Stages
	fw.added += res.Added
	fw.dups += res.Existing
	return nil
}

// detectFormat fixes the format from the first batch, so that later
// batches are read as the same.
func (fw *follower) detectFormat(lines []byte) error {
	if fw.format == "" || fw.format == "auto" {
		name, err := ingest.DetectFormat(bytes.NewReader(lines))
		if err != nil {
			return err
		}
		fw.format = name
	}
	// audit's own CSV has its header once, and a JSON array one end: only
	// JSON Lines can be read a batch at a time.
	switch fw.format {
	case "csv", "json":
		return cmdutil.FlagErrorf("--follow reads audit's own events as JSON Lines, not --format %s", fw.format)
	case audit.SourceAudit, "jsonl":
		if t := bytes.TrimLeft(lines, " \t\r\n"); len(t) > 0 && t[0] != '{' {
			return cmdutil.FlagErrorf("--follow reads audit's own events as JSON Lines, and line 1 is not a JSON object (CSV and JSON arrays are imported without --follow)")
		}
	}
	return nil
}

// followFile tails path like tail -F: it survives rotation by rename and
// create, and by copytruncate, and keeps its offset in the state file.
func (fw *follower) followFile(ctx context.Context, path, statePath string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if statePath == "" {
		if statePath, err = defaultStatePath(abs); err != nil {
			return cmdutil.FlagErrorf("no --state FILE given and no home directory for the default: %v", err)
		}
	}
	state, err := readState(statePath)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if state.Format != "" && (fw.format == "" || fw.format == "auto") {
		fw.format = state.Format
	}
	var f *os.File
	var offset int64
	open := func() error {
		nf, err := os.Open(abs)
		if err != nil {
			return err
		}
		fi, err := nf.Stat()
		if err != nil {
			nf.Close()
			return err
		}
		dev, ino := fileID(fi)
		offset = 0
		if state.Inode == ino && state.Dev == dev && state.Offset <= fi.Size() && headSum(nf, state.Offset) == state.Head {
			offset = state.Offset // the file of the saved state: resume
		}
		if head := make([]byte, 4); offset == 0 {
			if n, _ := nf.ReadAt(head, 0); ingest.Compression(head[:n]) != "" {
				nf.Close()
				return cmdutil.FlagErrorf("%s is compressed: --follow reads a growing plain file (import a compressed one without --follow)", path)
			}
		}
		if f != nil {
			f.Close()
		}
		f = nf
		state = followState{Path: abs, Dev: dev, Inode: ino, Offset: offset, Head: state.Head, Format: state.Format}
		return nil
	}
	// The file may not exist yet (a log not created until its first line).
	for {
		err := open()
		if err == nil {
			break
		}
		var fe *cmdutil.FlagError
		if errors.As(err, &fe) || !errors.Is(err, os.ErrNotExist) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followPoll):
		}
	}
	defer func() { f.Close() }()

	var pending []byte // a line not yet ended
	buf := make([]byte, 1<<16)
	// drain reads what f holds past offset and stores its whole lines.
	drain := func() error {
		for {
			n, err := f.ReadAt(buf, offset+int64(len(pending)))
			if n > 0 {
				pending = append(pending, buf[:n]...)
			}
			last := bytes.LastIndexByte(pending, '\n')
			if last >= 0 && (countLines(pending[:last+1]) >= followBatch || n < len(buf)) {
				batch := pending[:last+1]
				if err := fw.detectFormat(batch); err != nil {
					return err
				}
				if err := fw.store(context.WithoutCancel(ctx), batch); err != nil {
					return err
				}
				offset += int64(last + 1)
				pending = append(pending[:0], pending[last+1:]...)
				state.Offset, state.Format = offset, fw.format
				if offset <= headLen || state.Head == "" {
					state.Head = headSum(f, offset)
				}
				if err := writeState(statePath, state); err != nil {
					return fmt.Errorf("save the offset in %s: %w", statePath, err)
				}
			}
			if len(pending) > maxFollowLine {
				return fmt.Errorf("%w: %s: a line longer than %d bytes at offset %d", audit.ErrInvalid, path, maxFollowLine, offset)
			}
			if n < len(buf) || err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	for {
		if err := drain(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // SIGTERM: the batch read is stored, the offset saved
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followPoll):
		}
		fi, err := os.Stat(abs)
		cur, _ := f.Stat()
		switch {
		case err != nil:
			// Renamed away, not yet created again: keep reading the old one.
		case !os.SameFile(fi, cur):
			// Rotated by rename and create: finish the old file, then the new.
			if err := drain(); err != nil {
				return err
			}
			pending = pending[:0]
			state.Inode, state.Dev = 0, 0
			if err := open(); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		case fi.Size() < offset || (offset > 0 && headSum(f, offset) != state.Head):
			// Truncated in place (copytruncate), maybe written again
			// already: start again from its top.
			offset, pending, state.Head = 0, pending[:0], ""
		}
	}
}

// maxFollowLine bounds one line of a followed file.
const maxFollowLine = 8 << 20

func countLines(b []byte) int { return bytes.Count(b, []byte{'\n'}) }

// followStdin stores standard input batch by batch as it arrives: a batch
// is what has come when the input pauses for a moment, or followBatch
// lines.
func (fw *follower) followStdin(ctx context.Context, in io.Reader) error {
	type chunk struct {
		lines []byte
		err   error
	}
	ch := make(chan chunk)
	go func() {
		br := bufio.NewReaderSize(in, 1<<16)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 && (err == nil || err == io.EOF) {
				ch <- chunk{lines: line}
			}
			if err != nil {
				ch <- chunk{err: err}
				return
			}
		}
	}()
	var batch []byte
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := fw.detectFormat(batch); err != nil {
			return err
		}
		err := fw.store(ctx, batch)
		batch, n = batch[:0], 0
		return err
	}
	timer := time.NewTimer(time.Hour)
	for {
		select {
		case c := <-ch:
			if c.err != nil {
				if err := flush(); err != nil {
					return err
				}
				if c.err == io.EOF {
					return nil
				}
				return c.err
			}
			if n == 0 {
				timer.Reset(followPoll)
			}
			batch = append(batch, c.lines...)
			n++
			if n >= followBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-timer.C:
			if err := flush(); err != nil {
				return err
			}
		case <-ctx.Done():
			return flush()
		}
	}
}
