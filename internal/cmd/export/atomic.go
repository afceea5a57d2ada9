package export

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

// pendingFile is a file written under a hidden temporary name in the
// directory of its final path, then synced and renamed into place, so
// that the final path holds either nothing (or what it held before) or the
// complete file, never a part of it. It counts and hashes what is written.
type pendingFile struct {
	path      string // final path
	tmp       string // temporary path, in the same directory
	f         *os.File
	sum       hash.Hash
	size      int64
	committed bool
}

// createPending creates the temporary file for path: ".BASE.RANDOM.tmp"
// beside it, with the permissions a new file gets (0666 less the umask).
func createPending(path string) (*pendingFile, error) {
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
		return &pendingFile{path: path, tmp: tmp, f: f, sum: sha256.New()}, nil
	}
	return nil, fmt.Errorf("cannot write %s: no free temporary name in %s", path, dir)
}

// Write writes to the temporary file.
func (p *pendingFile) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.sum.Write(b[:n])
	p.size += int64(n)
	return n, err
}

// SHA256 returns the lowercase hex SHA-256 of the bytes written.
func (p *pendingFile) SHA256() string { return hex.EncodeToString(p.sum.Sum(nil)) }

// finish syncs and closes the temporary file: its bytes are on disk.
func (p *pendingFile) finish() error {
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		return unwrapPath(err)
	}
	err := p.f.Close()
	p.f = nil
	return unwrapPath(err)
}

// abort removes the temporary file unless it was committed. It is safe to
// call more than once.
func (p *pendingFile) abort() {
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

// commit moves the finished temporary file to its final path. Unless
// replace is set, an existing file there is left alone and an error says
// so: the move is then a hard link, which fails atomically when the name
// is taken, falling back to a check and a rename on file systems without
// hard links. The directory is not synced; see syncDir.
func (p *pendingFile) commit(replace bool) error {
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
		return existsError(p.path)
	}
	if _, err := os.Lstat(p.path); err == nil {
		return existsError(p.path)
	}
	if err := os.Rename(p.tmp, p.path); err != nil {
		return fmt.Errorf("cannot write %s: %w", p.path, unwrapPath(err))
	}
	p.committed = true
	return nil
}

// uncommit removes a committed file again, when a later step of the same
// export failed.
func (p *pendingFile) uncommit() {
	if p.committed {
		os.Remove(p.path)
	}
}

// commitAll puts files in place (replacing existing ones only when
// replace is set) and syncs their directories, then does the same for the
// cursor, if any. If a step fails before the cursor moves, the files
// already put in place are removed again, so a failed run leaves neither an
// archive nor an advanced cursor behind.
func commitAll(files []*pendingFile, cursor *pendingFile, replace bool) error {
	var done []*pendingFile
	rollback := func() {
		for _, p := range done {
			p.uncommit()
		}
		for _, dir := range dirsOf(done) {
			syncDir(dir)
		}
	}
	for _, p := range files {
		if err := p.commit(replace); err != nil {
			rollback()
			return err
		}
		done = append(done, p)
	}
	for _, dir := range dirsOf(done) {
		if err := syncDir(dir); err != nil {
			rollback()
			return fmt.Errorf("cannot sync directory %s: %w", dir, err)
		}
	}
	if cursor == nil {
		return nil
	}
	if err := cursor.commit(true); err != nil {
		rollback()
		return err
	}
	dir := filepath.Dir(cursor.path)
	if err := syncDir(dir); err != nil {
		// The cursor and the files are in place and agree; only their
		// durability across a crash is in doubt.
		return fmt.Errorf("cursor %s updated, but cannot sync directory %s: %w", cursor.path, dir, err)
	}
	return nil
}

func dirsOf(files []*pendingFile) []string {
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

// syncDir makes a rename in dir durable. Systems that cannot sync a
// directory (Windows) are not an error.
func syncDir(dir string) error {
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
