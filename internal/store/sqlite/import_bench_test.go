package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// BenchmarkImport imports 200,000 events spread over a year into a new
// store, as a first import of a log does (bulk path: indexes and rollups
// built at commit time). go test -bench Import -cpuprofile shows where
// the time goes.
func BenchmarkImport(b *testing.B) {
	events := storetest.SpreadEvents(200_000, 1, 365)
	for b.Loop() {
		s, err := Open(filepath.Join(b.TempDir(), "audit.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		_, err = s.Import(context.Background(), func(yield func(audit.Event, error) bool) {
			for _, e := range events {
				if !yield(e, nil) {
					return
				}
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}

var _ = storetest.Epoch
