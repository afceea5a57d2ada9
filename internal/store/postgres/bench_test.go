package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// BenchmarkAppend measures appends of batches of various sizes from one
// writer and from several at once (each a Store of its own, as separate
// processes or `audit serve` replicas would be). Writers take turns on the
// head row, so events/s is what one database takes in at that batch size.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct{ writers, size int }{{1, 1}, {8, 1}, {8, 100}, {1, 10_000}} {
		b.Run(fmt.Sprintf("writers=%d/batch=%d", c.writers, c.size), func(b *testing.B) {
			dsn := freshSchema(b)
			ctx := context.Background()
			if err := open(b, dsn, testOptions).Init(ctx); err != nil {
				b.Fatal(err)
			}
			var seed atomic.Int64
			write := func(s interface {
				Append(context.Context, []audit.Event) (audit.AppendResult, error)
			}) error {
				_, err := s.Append(ctx, storetest.Events(c.size, seed.Add(1)))
				return err
			}
			if c.writers == 1 {
				s := open(b, dsn, testOptions)
				for b.Loop() {
					if err := write(s); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(max(1, c.writers/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					s := open(b, dsn, testOptions)
					for pb.Next() {
						if err := write(s); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N*c.size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
