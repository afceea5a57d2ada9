// Command watch measures `audit watch` against a store (a new SQLite file
// by default): the latency from `audit record` returning, its event
// committed, to the event's line on watch's stdout, and the CPU an idle
// watch uses.
//
//	go run ./bench/watch                  # 1,000 events, then 60 s idle
//	go run ./bench/watch -events 200 -idle 10s
//	go run ./bench/watch -audit ./audit -cursor
//	go run ./bench/watch -store 'postgres://…?search_path=bench'   # LISTEN/NOTIFY
//
// It builds cmd/audit unless -audit names a binary, and works in a fresh
// temporary directory. Linux only (idle CPU is read from /proc).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("audit", "", "the audit binary (default: build github.com/audit-cli/audit/cmd/audit)")
	events := flag.Int("events", 1000, "events to record one at a time for the latency figures")
	idle := flag.Duration("idle", 60*time.Second, "how long to measure an idle watch's CPU (0: skip)")
	cursor := flag.Bool("cursor", false, "run watch with --cursor-file, as an alerting job would")
	jitter := flag.Duration("jitter", 100*time.Millisecond, "random pause before each record, so that records fall anywhere in the poll interval")
	store := flag.String("store", "", "the store `address` (default: a new SQLite file)")
	flag.Parse()
	if err := run(*bin, *store, *events, *idle, *cursor, *jitter); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin, store string, events int, idle time.Duration, cursor bool, jitter time.Duration) error {
	dir, err := os.MkdirTemp("", "audit-watch-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "audit")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/audit-cli/audit/cmd/audit").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	if store == "" {
		store = filepath.Join(dir, "audit.db")
	}
	run := fmt.Sprintf("%d-", time.Now().UnixNano()) // ids of this run, on a store that has some
	env := append(os.Environ(), "AUDIT_STORE="+store,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "NO_COLOR=1")
	command := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env, c.Dir = env, dir
		return c
	}
	record := func(id string) error {
		out, err := command("record", "--id", id, "--user", "bench", "--type", "update",
			"--action", "Updated", "--resource-type", "server", "--resource", "bbb-node-1").CombinedOutput()
		if err != nil {
			return fmt.Errorf("audit record: %v\n%s", err, out)
		}
		return nil
	}
	if err := record(run + "init"); err != nil {
		return err
	}

	args := []string{"watch", "-n", "0", "-o", "jsonl"}
	if cursor {
		args = append(args, "--cursor-file", filepath.Join(dir, "bench.cursor"))
	}
	watch := command(args...)
	stdout, err := watch.StdoutPipe()
	if err != nil {
		return err
	}
	watch.Stderr = os.Stderr
	if err := watch.Start(); err != nil {
		return err
	}
	defer watch.Process.Kill()

	type arrival struct {
		id string
		at time.Time
	}
	lines := make(chan arrival, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			at := time.Now()
			var e struct{ ID string }
			json.Unmarshal(sc.Bytes(), &e)
			lines <- arrival{e.ID, at}
		}
		close(lines)
	}()
	time.Sleep(500 * time.Millisecond) // let watch take its place

	fmt.Printf("audit watch %s: %d events, one `audit record` at a time\n", strings.Join(args[1:], " "), events)
	var afterReturn, afterStart []time.Duration
	early := 0
	for i := range events {
		time.Sleep(time.Duration(rand.Int64N(int64(jitter) + 1)))
		id := fmt.Sprintf("%sbench-%d", run, i)
		t0 := time.Now()
		if err := record(id); err != nil {
			return err
		}
		t1 := time.Now()
		select {
		case a, ok := <-lines:
			if !ok {
				return fmt.Errorf("watch ended")
			}
			if a.id != id {
				return fmt.Errorf("watch printed %q, want %q", a.id, id)
			}
			d := a.at.Sub(t1)
			if d < 0 {
				early++ // the line came before the recording process had exited
				d = 0
			}
			afterReturn = append(afterReturn, d)
			afterStart = append(afterStart, a.at.Sub(t0))
		case <-time.After(10 * time.Second):
			return fmt.Errorf("event %s not printed within 10 s", id)
		}
	}
	report("record returned → line on stdout", afterReturn)
	report("record started  → line on stdout", afterStart)
	fmt.Printf("  %d of %d lines arrived before `audit record` had exited (counted as 0)\n", early, events)

	if idle > 0 {
		time.Sleep(time.Second)
		before, err := cpuTicks(watch.Process.Pid)
		if err != nil {
			return err
		}
		start := time.Now()
		time.Sleep(idle)
		after, err := cpuTicks(watch.Process.Pid)
		if err != nil {
			return err
		}
		hz := clockTicks()
		cpu := time.Duration(float64(after-before) / hz * float64(time.Second))
		wall := time.Since(start)
		fmt.Printf("idle watch: %v of CPU (utime+stime, %d ticks at %g Hz) in %v of wall time: %.3f%% of a core\n",
			cpu, after-before, hz, wall.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds())
	}
	return nil
}

func report(what string, ds []time.Duration) {
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	fmt.Printf("  %s: p50 %v  p90 %v  p99 %v  max %v\n", what,
		q(0.50).Round(100*time.Microsecond), q(0.90).Round(100*time.Microsecond),
		q(0.99).Round(100*time.Microsecond), ds[len(ds)-1].Round(100*time.Microsecond))
}

// cpuTicks returns utime+stime of a process from /proc/PID/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; count after its ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return utime + stime, nil
}

// clockTicks is the kernel's USER_HZ, as getconf reports it; 100 if not.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if hz, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && hz > 0 {
			return hz
		}
	}
	return 100
}
