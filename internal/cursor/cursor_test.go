package cursor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCursorFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	c := New(path, 0)
	if _, ok, err := c.Load(); ok || err != nil {
		t.Fatalf("missing file: ok=%v err=%v", ok, err)
	}
	for _, seq := range []int64{0, 7, 1 << 40} {
		if err := c.Save(seq); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Load()
		if !ok || err != nil || got != seq {
			t.Fatalf("load after save(%d) = %d, %v, %v", seq, got, ok, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only the cursor", len(entries))
	}
}

func TestCursorFileUnwritable(t *testing.T) {
	c := New(filepath.Join(t.TempDir(), "no-such-dir", "c"), 0)
	if err := c.Save(1); err == nil {
		t.Fatal("save into a missing directory succeeded")
	}
}

// BenchmarkCursorSave measures one save of the cursor, as watch does after
// every printed event, with fsync on every save, at most every 100 ms (the
// default), and never.
func BenchmarkCursorSave(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every time.Duration
	}{
		{"fsync-every-save", time.Nanosecond},
		{"fsync-every-100ms", DefaultCursorSync},
		{"no-fsync", time.Hour},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := New(filepath.Join(b.TempDir(), "c"), bc.every)
			c.lastSync = time.Now()
			for i := 0; b.Loop(); i++ {
				if err := c.Save(int64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
