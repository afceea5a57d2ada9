// Command gen-sample writes a sample audit log as JSON Lines or CSV on
// stdout: the six events of the web console's audit-log page (timed
// relative to now) and, with -n, realistic generated history; or that
// history as CloudTrail log files or a Kubernetes audit log.
//
//	go run ./cmd/gen-sample -n 5000 -days 90 > sample.jsonl
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/sample"
)

func main() {
	n := flag.Int("n", 5000, "number of generated events")
	days := flag.Int("days", 90, "spread generated events over this many days before now")
	seed := flag.Int64("seed", 1, "random seed")
	format := flag.String("format", "jsonl", "jsonl, csv, cloudtrail or kubernetes")
	withSeed := flag.Bool("with-seed", true, "add the six example events of the audit-log page")
	flag.Parse()

	if err := run(*n, *days, *seed, *format, *withSeed); err != nil {
		fmt.Fprintln(os.Stderr, "gen-sample:", err)
		os.Exit(1)
	}
}

func run(n, days int, seed int64, format string, withSeed bool) error {
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	var write func(e *audit.Event) error
	flush := func() error { return nil }
	switch format {
	case "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		write = func(e *audit.Event) error { return enc.Encode(e) }
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(audit.Fields); err != nil {
			return err
		}
		write = func(e *audit.Event) error { return cw.Write(e.Values()) }
		flush = func() error { cw.Flush(); return cw.Error() }
	case "cloudtrail":
		write, flush = cloudTrailFiles(w, 1000)
	case "kubernetes":
		write = kubernetesLog(w)
	default:
		return fmt.Errorf("unknown format %q (accepted: jsonl, csv, cloudtrail, kubernetes)", format)
	}
	now := time.Now()
	// The page's six events, in the order of time with the history, so
	// that the newest come first in `audit list`. Before 2:34 PM the
	// page's "today" would lie ahead: the six then happened a day earlier.
	var seedEvents []audit.Event
	if withSeed {
		seedEvents = sample.Seed(now, time.Local)
		if last := seedEvents[len(seedEvents)-1].Time; last.After(now) {
			seedEvents = sample.Seed(now.AddDate(0, 0, -1), time.Local)
		}
	}
	// Generated history ends a day and a half ago, before the page's "today".
	for e := range sample.Generate(n, days, now.Add(-36*time.Hour), seed) {
		for len(seedEvents) > 0 && seedEvents[0].Time.Before(e.Time) {
			if err := write(&seedEvents[0]); err != nil {
				return err
			}
			seedEvents = seedEvents[1:]
		}
		if err := write(&e); err != nil {
			return err
		}
	}
	for i := range seedEvents {
		if err := write(&seedEvents[i]); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return w.Flush()
}
