package atomicfile

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "archive.jsonl")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	f.Write([]byte("hello\n"))
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the final path exists before Commit")
	}
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(false); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	sum := sha256.Sum256([]byte("hello\n"))
	if string(b) != "hello\n" || f.Size() != 6 || f.SHA256() != hex.EncodeToString(sum[:]) || f.Path() != path {
		t.Fatalf("file %q, size %d, sha256 %s", b, f.Size(), f.SHA256())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	f.Remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("Remove left the file")
	}
}

func TestNoReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a")
	os.WriteFile(path, []byte("old"), 0o600)
	if err := CheckTarget(path, false); err == nil || !strings.Contains(err.Error(), "exists; use --force") {
		t.Fatalf("CheckTarget = %v", err)
	}
	if err := CheckTarget(path, true); err != nil {
		t.Fatal(err)
	}
	if err := CheckTarget(dir, true); err == nil {
		t.Fatal("CheckTarget of a directory succeeded")
	}
	f, _ := Create(path)
	f.Write([]byte("new"))
	f.Finish()
	if err := f.Commit(false); err == nil {
		t.Fatal("Commit replaced a file")
	}
	f.Abort()
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("file = %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	f, _ = Create(path)
	f.Write([]byte("new"))
	f.Finish()
	if err := f.Commit(true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("file = %q", b)
	}
}
