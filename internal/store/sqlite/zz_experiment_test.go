package sqlite

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// realistic shifts batch b of generated events to its own week, with ids
// that follow the time as UUIDv7 ids do.
func realistic(b int) []audit.Event {
	evs := storetest.Events(10000, int64(b))
	for i := range evs {
		evs[i].Time = evs[i].Time.Add(time.Duration(b) * 7 * 24 * time.Hour)
		evs[i].ID = fmt.Sprintf("%012x-%04x-%06d", evs[i].Time.UnixMilli(), b, i)
	}
	return evs
}

func TestZZWriteCSV(t *testing.T) {
	out := os.Getenv("ZZ_CSV")
	if out == "" {
		t.Skip()
	}
	f, _ := os.Create(out)
	w := csv.NewWriter(f)
	chain := audit.NewChain(nil)
	prev := ""
	seq := int64(0)
	for b := 0; b < 100; b++ {
		evs := realistic(b)
		audit.ValidateBatch(evs)
		for _, e := range evs {
			seq++
			e.Seq = seq
			h, _ := chain.NextHex(prev, &e)
			prev = h
			w.Write([]string{fmt.Sprint(seq), e.ID, fmt.Sprint(e.Time.UnixNano()), e.User, e.UserName, string(e.Type), e.Action, e.ResourceType, e.Resource, e.Details, e.IP, string(e.Outcome), h})
		}
	}
	w.Flush()
	f.Close()
}

// ZZ_IDX: semicolon-separated index definitions replacing the schema's.
func TestZZImport(t *testing.T) {
	n := os.Getenv("ZZ_N")
	if n == "" {
		t.Skip()
	}
	var batches int
	fmt.Sscan(n, &batches)
	if idx, ok := os.LookupEnv("ZZ_IDX"); ok {
		m := migrations[0]
		m = m[:strings.Index(m, "CREATE INDEX")]
		migrations = []string{m + idx}
	}
	dir := os.Getenv("ZZ_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(filepath.Join(dir, "imp.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	size := 10000
	if x := os.Getenv("ZZ_BATCH"); x != "" {
		fmt.Sscan(x, &size)
	}
	var flat []audit.Event
	for b := range batches {
		flat = append(flat, realistic(b)...)
	}
	var all [][]audit.Event
	for len(flat) > 0 {
		n := min(size, len(flat))
		all = append(all, flat[:n])
		flat = flat[n:]
	}
	ctx := context.Background()
	start := time.Now()
	for b := range all {
		if _, err := s.Append(ctx, all[b]); err != nil {
			t.Fatal(err)
		}
	}
	d := time.Since(start)
	t.Logf("%d events in %v: %.0f events/s", batches*10000, d.Round(time.Millisecond), float64(batches*10000)/d.Seconds())
}
