// Package atomicfile writes a file so that its final path holds either
// nothing (or what it held before) or the complete file, never a part of
// it: the bytes go to a hidden temporary file in the same directory, which
// is synced and then renamed (or hard-linked) into place, and the directory
// is synced too. Readers of an archive, and the cron jobs that make it, can
// trust any file they find.
package atomicfile

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// File is a file being written under a temporary name beside its final
// path. It counts and hashes (SHA-256) what is written.
type File struct {
	path      string // final path
	tmp       string // temporary path, in the same directory
	f         *os.File
	sum       hash.Hash
	size      int64
	committed bool
}

// Create creates the temporary file for path: ".BASE.RANDOM.tmp" beside
// it, with the permissions a new file gets (0666 less the umask).
func Create(path string) (*File, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	for range 100 {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		tmp := filepath.Join(dir, "."+base+"."+hex.EncodeToString(b[:])+".tmp")
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", path, unwrapPath(err))
		}
		return &File{path: path, tmp: tmp, f: f, sum: sha256.New()}, nil
	}
	return nil, fmt.Errorf("cannot write %s: no free temporary name in %s", path, dir)
}

// Path returns the final path of the file.
func (p *File) Path() string { return p.path }

// Write writes to the temporary file.
func (p *File) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.sum.Write(b[:n])
	p.size += int64(n)
	return n, err
}

// Size returns the number of bytes written.
func (p *File) Size() int64 { return p.size }

// SHA256 returns the lowercase hex SHA-256 of the bytes written.
func (p *File) SHA256() string { return hex.EncodeToString(p.sum.Sum(nil)) }

// Finish syncs and closes the temporary file: its bytes are on disk.
func (p *File) Finish() error {
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		p.f = nil
		return unwrapPath(err)
	}
	err := p.f.Close()
	p.f = nil
	return unwrapPath(err)
}

// Abort removes the temporary file unless the file was committed. It is
// safe to call more than once, and on a nil *File.
func (p *File) Abort() {
	if p == nil || p.committed {
		return
	}
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	if p.tmp != "" {
		os.Remove(p.tmp)
		p.tmp = ""
	}
}

// Commit moves the finished temporary file to its final path and syncs the
// directory. Unless replace is set, an existing file there is left alone
// and an error says so: the move is then a hard link, which fails
// atomically when the name is taken, falling back to a check and a rename
// on file systems without hard links.
func (p *File) Commit(replace bool) error {
	if err := p.place(replace); err != nil {
		return err
	}
	if err := SyncDir(filepath.Dir(p.path)); err != nil {
		return fmt.Errorf("cannot sync the directory of %s: %w", p.path, err)
	}
	return nil
}

func (p *File) place(replace bool) error {
	if replace {
		if err := os.Rename(p.tmp, p.path); err != nil {
			return fmt.Errorf("cannot write %s: %w", p.path, unwrapPath(err))
		}
		p.committed = true
		return nil
	}
	err := os.Link(p.tmp, p.path)
	switch {
	case err == nil:
		p.committed = true
		os.Remove(p.tmp) // the file lives on under its final name
		return nil
	case errors.Is(err, fs.ErrExist):
		return ExistsError(p.path)
	}
	if _, err := os.Lstat(p.path); err == nil {
		return ExistsError(p.path)
	}
	if err := os.Rename(p.tmp, p.path); err != nil {
		return fmt.Errorf("cannot write %s: %w", p.path, unwrapPath(err))
	}
	p.committed = true
	return nil
}

// Remove deletes a committed file again, when a later step of the same
// work failed, and syncs its directory.
func (p *File) Remove() {
	if p != nil && p.committed {
		os.Remove(p.path)
		SyncDir(filepath.Dir(p.path))
		p.committed = false
	}
}

// CheckTarget refuses to go on when path exists and may not be replaced,
// or cannot be replaced by a file. Run it before any work is done; Commit
// checks again.
func CheckTarget(path string, replace bool) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, unwrapPath(err))
	}
	if fi.IsDir() {
		return fmt.Errorf("cannot write %s: it is a directory", path)
	}
	if !replace {
		return ExistsError(path)
	}
	return nil
}

// ExistsError is the error for a file that exists and may not be replaced.
func ExistsError(path string) error {
	return fmt.Errorf("%s exists; use --force to replace it", path)
}

// SyncDir makes a rename in dir durable. Systems that cannot sync a
// directory (Windows) are not an error.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return unwrapPath(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return unwrapPath(err)
	}
	return nil
}

// unwrapPath drops the path an *os.PathError or *os.LinkError repeats,
// since the messages name the file themselves.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// CommitAll puts files in place (replacing existing ones only when replace
// is set) and syncs their directories, then does the same for cursor, if
// any, which always replaces its old version. If a step fails before the
// cursor moves, the files already put in place are removed again, so a
// failed run leaves neither an archive nor an advanced cursor behind.
func CommitAll(files []*File, cursor *File, replace bool) error {
	var done []*File
	rollback := func() {
		for _, p := range done {
			if p.committed {
				os.Remove(p.path)
				p.committed = false
			}
		}
		for _, dir := range dirsOf(done) {
			SyncDir(dir)
		}
	}
	for _, p := range files {
		if err := p.place(replace); err != nil {
			rollback()
			return err
		}
		done = append(done, p)
	}
	for _, dir := range dirsOf(done) {
		if err := SyncDir(dir); err != nil {
			rollback()
			return fmt.Errorf("cannot sync directory %s: %w", dir, err)
		}
	}
	if cursor == nil {
		return nil
	}
	if err := cursor.place(true); err != nil {
		rollback()
		return err
	}
	dir := filepath.Dir(cursor.path)
	if err := SyncDir(dir); err != nil {
		// The cursor and the files are in place and agree; only their
		// durability across a crash is in doubt.
		return fmt.Errorf("cursor %s updated, but cannot sync directory %s: %w", cursor.path, dir, err)
	}
	return nil
}

func dirsOf(files []*File) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, p := range files {
		if d := filepath.Dir(p.path); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}
