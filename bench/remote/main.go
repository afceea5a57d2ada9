// Command remote load-tests `audit serve` on loopback through the remote
// store, the client every audit command uses against a server.
//
//	go run ./bench/remote                          # the defaults below
//	go run ./bench/remote -preload 1000000 -clients 50 -import 100000
//
// In a fresh temporary directory it starts the server (internal/server,
// as `audit serve` runs it) on 127.0.0.1 over a SQLite store, then:
//
//  1. preload: imports -preload events (requests of 10,000) so that the
//     queries run against a store of some size;
//  2. ingest, alone: for each count of -writers (1 and 4), that many
//     clients append -ingest events between them in POSTs of -batch
//     (1,000) events, each client one POST after the other; then the same
//     number appended in batches of -batch to the server's SQLite store
//     directly, as a baseline without HTTP; then Import (as `audit import` does) sends -ingest more in
//     POSTs of -batch, encoding the next while the server stores the last:
//     events/s of each;
//  3. queries: first each query of the mix alone, from one client (what
//     one costs at this store size); then mixed: -clients clients issue
//     these filtered list queries (as `audit list` does: newest first,
//     -n 50) in a loop while one client imports -import events in POSTs
//     of -batch: requests/s, p50/p90/p99/max latency, errors, and the
//     import's events/s;
//  4. check: reads every event back through the API and checks that each
//     event sent is there exactly once, seqs strictly increasing.
//
// It exits 1 on any error or a lost or duplicated event.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/sample"
	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store/remote"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

func main() {
	preload := flag.Int("preload", 200_000, "events in the store before the measurements")
	ingest := flag.Int("ingest", 100_000, "events of the ingest-only phase")
	imports := flag.Int("import", 100_000, "events imported during the mixed phase")
	batch := flag.Int("batch", 1000, "events per POST in the ingest and mixed phases")
	clients := flag.Int("clients", 50, "concurrent query clients in the mixed phase")
	writers := flag.String("writers", "1,4", "comma list: concurrent clients of each ingest run, each posting its share of -ingest")
	dir := flag.String("dir", "", "directory for the store (default: a temporary one, removed after)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the ingest phase to `file`")
	flag.IntVar(&maxQueries, "max-queries", 0, "the server's MaxQueries (0: its default, twice the CPUs; -1: no bound)")
	flag.Parse()
	profile = *cpuprofile
	for _, w := range strings.Split(*writers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: invalid -writers %q\n", *writers)
			os.Exit(2)
		}
		writerCounts = append(writerCounts, n)
	}
	if err := run(*preload, *ingest, *imports, *batch, *clients, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// profile is the file of -cpuprofile.
var profile string

// maxQueries is -max-queries.
var maxQueries int

// writerCounts is -writers.
var writerCounts []int

func run(preload, ingest, imports, batch, clients int, dir string) error {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "audit-remote-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	st, err := sqlite.Open(filepath.Join(dir, "audit.db"), sqlite.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := server.NewTokenSecret()
	if err != nil {
		return err
	}
	if err := st.CreateToken(ctx, audit.Token{Name: "bench", Role: audit.RoleWrite, Hash: server.HashToken(secret), Created: time.Now()}); err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	srv, err := server.New(server.Options{Store: st, Tokens: st, Logger: logger, MaxQueries: maxQueries})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-served }()
	url := "http://" + ln.Addr().String()
	open := func() (*remote.Store, error) { return remote.Open(url, remote.Options{Token: secret}) }

	fmt.Printf("audit serve on %s, SQLite store in %s, %d CPUs, %s\n", url, dir, runtime.NumCPU(), runtime.Version())
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	sent := map[string]bool{}
	gen := func(n int, seed int64) []audit.Event {
		var out []audit.Event
		for e := range sample.Generate(n, 365, now, seed) {
			out = append(out, e)
			sent[e.ID] = true
		}
		return out
	}

	// 1. Preload.
	c, err := open()
	if err != nil {
		return err
	}
	events := gen(preload, 1)
	start := time.Now()
	res, err := c.Import(ctx, seqOf(events))
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	d := time.Since(start)
	fmt.Printf("\npreload: %d events imported in %v (%.0f events/s, POSTs of %d)\n",
		res.Added, d.Round(time.Millisecond), float64(res.Added)/d.Seconds(), remote.DefaultBatchEvents)

	// 2. Ingest alone, in batches, by each number of writers.
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
	}
	for k, writers := range writerCounts {
		events = gen(ingest, int64(10+k))
		start = time.Now()
		var added atomic.Int64
		var werr error
		var wmu sync.Mutex
		var iwg sync.WaitGroup
		share := (len(events) + writers - 1) / writers
		for w := range writers {
			part := events[min(w*share, len(events)):min((w+1)*share, len(events))]
			iwg.Go(func() {
				wc, err := open()
				if err == nil {
					var n int
					n, err = appendBatches(ctx, wc, part, batch)
					added.Add(int64(n))
				}
				if err != nil {
					wmu.Lock()
					werr = err
					wmu.Unlock()
				}
			})
		}
		iwg.Wait()
		if werr != nil {
			return fmt.Errorf("ingest: %w", werr)
		}
		d = time.Since(start)
		fmt.Printf("ingest: %d events appended in POSTs of %d by %d concurrent client(s) (each one POST at a time) in %v: %.0f events/s\n",
			added.Load(), batch, writers, d.Round(time.Millisecond), float64(added.Load())/d.Seconds())
	}
	if profile != "" {
		pprof.StopCPUProfile()
	}

	// 2a. For comparison, the same batches appended directly to the
	// server's SQLite store, without HTTP: the store's own speed at this
	// size (appends slow down as the store grows).
	events = gen(ingest, 5)
	start = time.Now()
	for i := 0; i < len(events); i += batch {
		if _, err := st.Append(ctx, events[i:min(i+batch, len(events))]); err != nil {
			return err
		}
	}
	d = time.Since(start)
	fmt.Printf("        (baseline: %d more appended in batches of %d to the same SQLite store directly, no HTTP: %.0f events/s)\n",
		len(events), batch, float64(len(events))/d.Seconds())

	// 2b. The same through Import, which encodes the next batch while the
	// server stores the last.
	events = gen(ingest, 4)
	ic, err := remote.Open(url, remote.Options{Token: secret, BatchEvents: batch})
	if err != nil {
		return err
	}
	start = time.Now()
	res, err = ic.Import(ctx, seqOf(events))
	if err != nil {
		return fmt.Errorf("ingest by import: %w", err)
	}
	d = time.Since(start)
	fmt.Printf("ingest: %d events imported in POSTs of %d (pipelined) in %v: %.0f events/s\n",
		res.Added, batch, d.Round(time.Millisecond), float64(res.Added)/d.Seconds())

	// 3a. What each query costs alone, at this store size.
	filters, names := queryMix(now)
	fmt.Printf("queries alone, one client, store of %d events (median of 5):\n", len(sent))
	for j, f := range filters {
		var l []time.Duration
		rowsN := 0
		for range 5 {
			t0 := time.Now()
			rowsN = 0
			for _, err := range c.Query(ctx, f) {
				if err != nil {
					return fmt.Errorf("query %s: %w", names[j], err)
				}
				rowsN++
			}
			l = append(l, time.Since(t0))
		}
		slices.Sort(l)
		fmt.Printf("       %-44s %3d rows  %v\n", names[j], rowsN, l[2].Round(100*time.Microsecond))
	}

	// 3. Queries while one client imports.
	events = gen(imports, 3)
	var done atomic.Bool
	var wg sync.WaitGroup
	lat := make([][]time.Duration, clients)
	byFilter := make([][][]time.Duration, clients) // client, filter: latencies
	errs := make(chan error, clients+1)
	var rows atomic.Int64
	for i := range byFilter {
		byFilter[i] = make([][]time.Duration, len(filters))
	}
	start = time.Now()
	for i := range clients {
		wg.Go(func() {
			qc, err := open()
			if err != nil {
				errs <- err
				return
			}
			defer qc.Close()
			for n := i; !done.Load(); n++ {
				f := filters[n%len(filters)]
				t0 := time.Now()
				k := 0
				for _, err := range qc.Query(ctx, f) {
					if err != nil {
						errs <- fmt.Errorf("query %+v: %w", f, err)
						return
					}
					k++
				}
				lat[i] = append(lat[i], time.Since(t0))
				byFilter[i][n%len(filters)] = append(byFilter[i][n%len(filters)], time.Since(t0))
				rows.Add(int64(k))
			}
		})
	}
	var importTime time.Duration
	go func() {
		defer done.Store(true)
		t0 := time.Now()
		if _, err := ic.Import(ctx, seqOf(events)); err != nil {
			errs <- fmt.Errorf("import during queries: %w", err)
		}
		importTime = time.Since(t0)
	}()
	wg.Wait()
	d = time.Since(start)
	close(errs)
	var failures []error
	for err := range errs {
		failures = append(failures, err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))].Round(10 * time.Microsecond)
	}
	fmt.Printf("mixed: %d clients, %d filtered list queries (newest first, limit 51) in %v: %.0f requests/s, %d rows\n",
		clients, len(all), d.Round(time.Millisecond), float64(len(all))/d.Seconds(), rows.Load())
	fmt.Printf("       latency p50 %v  p90 %v  p99 %v  max %v; errors %d\n", pct(0.50), pct(0.90), pct(0.99), pct(1), len(failures))
	fmt.Printf("       meanwhile %d events imported in POSTs of %d in %v: %.0f events/s\n",
		len(events), batch, importTime.Round(time.Millisecond), float64(len(events))/importTime.Seconds())
	for j, name := range names {
		var l []time.Duration
		for i := range byFilter {
			l = append(l, byFilter[i][j]...)
		}
		slices.Sort(l)
		if len(l) > 0 {
			fmt.Printf("       %-44s %4d queries, p50 %v\n", name, len(l), l[len(l)/2].Round(100*time.Microsecond))
		}
	}
	for _, err := range failures {
		fmt.Fprintln(os.Stderr, "error:", err)
	}

	// 4. Every event sent, exactly once, in seq order.
	start = time.Now()
	seen := make(map[string]bool, len(sent))
	var last int64
	var dups, unknown int
	for e, err := range c.Query(ctx, audit.Filter{}) {
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		if e.Seq <= last {
			return fmt.Errorf("check: seq %d after %d", e.Seq, last)
		}
		last = e.Seq
		if seen[e.ID] {
			dups++
		}
		seen[e.ID] = true
		if !sent[e.ID] {
			unknown++
		}
	}
	lost := 0
	for id := range sent {
		if !seen[id] {
			lost++
		}
	}
	fmt.Printf("check: %d events read back through the API in %v; %d sent, %d lost, %d duplicated, %d not sent\n",
		len(seen), time.Since(start).Round(time.Millisecond), len(sent), lost, dups, unknown)
	if lost > 0 || dups > 0 || unknown > 0 || len(failures) > 0 {
		return errors.New("FAILED")
	}
	return nil
}

func seqOf(events []audit.Event) func(func(audit.Event, error) bool) {
	return func(yield func(audit.Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// appendBatches appends events in batches of size, one POST each.
func appendBatches(ctx context.Context, c *remote.Store, events []audit.Event, size int) (int, error) {
	added := 0
	for len(events) > 0 {
		n := min(size, len(events))
		res, err := c.Append(ctx, events[:n])
		if err != nil {
			return added, err
		}
		added += res.Added
		events = events[n:]
	}
	return added, nil
}

// queryMix is what people ask of an audit log: `audit list` with a filter,
// newest first, one page of 50 (and one more, for the "more exist" note).
// It returns the filters and how a user would write them.
func queryMix(now time.Time) ([]audit.Filter, []string) {
	p := func(s string) []netip.Prefix {
		pp, err := audit.ParsePrefix(s)
		if err != nil {
			panic(err)
		}
		return []netip.Prefix{pp}
	}
	week, month := now.Add(-7*24*time.Hour), now.Add(-30*24*time.Hour)
	mix := []struct {
		name string
		f    audit.Filter
	}{
		{"--user jdavis", audit.Filter{Users: []string{"jdavis"}}},
		{"--type login --failed", audit.Filter{Types: []audit.Type{audit.TypeLogin}, Outcome: audit.OutcomeFailure}},
		{"--ip 10.0.0.0/8", audit.Filter{IPs: p("10.0.0.0/8")}},
		{"--since 7d", audit.Filter{Since: week}},
		{"--search cpu", audit.Filter{Search: "cpu"}},
		{"--resource 'bbb-node-*'", audit.Filter{Resources: []string{"bbb-node-*"}}},
		{"--type security --since 30d", audit.Filter{Types: []audit.Type{audit.TypeSecurity}, Since: month}},
		{"--user '*son' --type update", audit.Filter{Users: []string{"*son"}, Types: []audit.Type{audit.TypeUpdate}}},
		{"--ip 185.220.101.4 --failed --since 30d", audit.Filter{IPs: p("185.220.101.4"), Outcome: audit.OutcomeFailure, Since: month}},
		{"(no filter)", audit.Filter{}},
	}
	var fs []audit.Filter
	var names []string
	for _, m := range mix {
		m.f.Order, m.f.Limit = audit.Descending, 51
		fs = append(fs, m.f)
		names = append(names, "list "+m.name)
	}
	return fs, names
}
