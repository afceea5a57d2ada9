// Package pgtest starts PostgreSQL clusters of their own for the tests
// that need more than the one shared server .ci/postgres.sh starts: a
// server that speaks TLS only, a primary with a streaming standby made
// with pg_basebackup, a primary killed and a standby promoted. Each cluster
// lives in a temporary directory, listens on a free loopback port, and is
// stopped and deleted when its test ends.
//
// initdb refuses to run as root: as root, the clusters run as the
// `postgres` user that Debian's packages create. Tests skip, saying why,
// where the server's binaries are missing.
package pgtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cluster is one running PostgreSQL server.
type Cluster struct {
	Dir  string // holds data/, the log and anything the test puts there
	Port int

	t     testing.TB
	bin   string
	owner *user.User // nil: ourselves
}

// Config is what a cluster is started with.
type Config struct {
	// Settings are postgresql.conf lines, e.g. "ssl = on".
	Settings []string
	// HBA replaces pg_hba.conf when not empty.
	HBA []string
}

// BinDir returns the directory of initdb, pg_ctl, postgres and
// pg_basebackup, or skips the test.
func BinDir(t testing.TB) string {
	t.Helper()
	dirs := []string{os.Getenv("PG_BINDIR")}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(found)))
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		ok := true
		for _, name := range []string{"initdb", "pg_ctl", "postgres", "pg_basebackup"} {
			if _, err := os.Stat(filepath.Join(d, name)); err != nil {
				ok = false
			}
		}
		if ok {
			return d
		}
	}
	t.Skip("SKIPPED: no PostgreSQL server binaries (initdb, pg_ctl, postgres, pg_basebackup); install Debian's postgresql package or set PG_BINDIR")
	return ""
}

// Start initializes and starts a new cluster.
func Start(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	c := newCluster(t)
	c.run("initdb", "-D", c.Data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	c.configure(cfg)
	c.start()
	return c
}

func newCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: BinDir(t)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("SKIPPED: running as root and there is no postgres user to run a cluster as")
		}
		c.owner = u
	}
	dir, err := os.MkdirTemp("", "audit-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	c.Dir = dir
	t.Cleanup(func() {
		c.Stop()
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.Chown(dir)
	c.Port = freePort(t)
	return c
}

// Data is the cluster's data directory.
func (c *Cluster) Data() string { return filepath.Join(c.Dir, "data") }

// DSN is the address of the cluster's postgres database as the postgres
// user, with the given query parameters (e.g. "sslmode=disable").
func (c *Cluster) DSN(params string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?%s", c.Port, params)
}

// Chown gives a file the cluster's owner, so that the server may read it.
func (c *Cluster) Chown(path string) {
	c.t.Helper()
	if c.owner == nil {
		return
	}
	uid, _ := strconv.Atoi(c.owner.Uid)
	gid, _ := strconv.Atoi(c.owner.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		c.t.Fatal(err)
	}
}

// WriteFile writes a file the server reads (a key, a certificate) into
// Dir, owned by the cluster's owner, and returns its path.
func (c *Cluster) WriteFile(name string, data []byte, perm os.FileMode) string {
	c.t.Helper()
	path := filepath.Join(c.Dir, name)
	if err := os.WriteFile(path, data, perm); err != nil {
		c.t.Fatal(err)
	}
	c.Chown(path)
	return path
}

func (c *Cluster) configure(cfg Config) {
	c.t.Helper()
	settings := append([]string{
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("port = %d", c.Port),
		fmt.Sprintf("unix_socket_directories = '%s'", c.Dir),
		"max_connections = 100",
		"fsync = off",
		"full_page_writes = off",
		"wal_level = replica",
		"max_wal_senders = 10",
		"hot_standby = on",
	}, cfg.Settings...)
	c.appendConf("postgresql.auto.conf", settings)
	if len(cfg.HBA) > 0 {
		path := filepath.Join(c.Data(), "pg_hba.conf")
		if err := os.WriteFile(path, []byte(strings.Join(cfg.HBA, "\n")+"\n"), 0o600); err != nil {
			c.t.Fatal(err)
		}
		c.Chown(path)
	}
}

func (c *Cluster) appendConf(name string, lines []string) {
	c.t.Helper()
	path := filepath.Join(c.Data(), name)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintln(f, strings.Join(lines, "\n"))
	if err := f.Close(); err != nil {
		c.t.Fatal(err)
	}
	c.Chown(path)
}

// Reconfigure adds postgresql.conf lines, for the next start.
func (c *Cluster) Reconfigure(settings ...string) {
	c.t.Helper()
	c.appendConf("postgresql.auto.conf", settings)
}

// Restart starts a stopped cluster again.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.start()
}

func (c *Cluster) start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.Data(), "-l", filepath.Join(c.Dir, "server.log"), "-w", "-t", "60", "start")
}

// Stop stops the cluster at once (mode immediate); stopping a stopped
// cluster does nothing.
func (c *Cluster) Stop() {
	cmd := c.command("pg_ctl", "-D", c.Data(), "-m", "immediate", "-w", "stop")
	cmd.Run()
}

// Kill sends SIGKILL to the postmaster, as a crash of its machine would
// end it: no shutdown, no last word to the standbys. The server's other
// processes notice and exit.
func (c *Cluster) Kill() {
	c.t.Helper()
	pid := c.postmasterPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill the postmaster (pid %d): %v", pid, err)
	}
	// Its children exit when they find it gone; wait for the port to close.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)), 200*time.Millisecond)
		if err != nil {
			return
		}
		conn.Close()
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("the killed server still accepts connections on %d", c.Port)
}

func (c *Cluster) postmasterPID() int {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Data(), "postmaster.pid"))
	if err != nil {
		c.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		c.t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// Standby makes a streaming standby of c with pg_basebackup, on a port of
// its own, with the given settings added (e.g. its application_name
// through primary_conninfo is set: "standby"), and starts it.
func (c *Cluster) Standby(cfg Config) *Cluster {
	c.t.Helper()
	s := newCluster(c.t)
	s.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres", "-D", s.Data(),
		"-X", "stream", "-R", "--no-sync", "-d", "application_name=standby")
	// The primary's settings came along in the backup; a standby
	// promoted with the primary's synchronous_standby_names would wait
	// for a standby of its own at every commit.
	s.appendConf("postgresql.auto.conf", append([]string{
		fmt.Sprintf("port = %d", s.Port),
		fmt.Sprintf("unix_socket_directories = '%s'", s.Dir),
		"synchronous_standby_names = ''",
	}, cfg.Settings...))
	s.start()
	return s
}

// Promote makes a standby the primary and waits until it takes writes.
func (c *Cluster) Promote() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.Data(), "-w", "-t", "60", "promote")
}

// Log returns the server's log, for a test's failure message.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
	return string(b)
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.owner != nil {
		return exec.Command("runuser", append([]string{"-u", c.owner.Username, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (c *Cluster) run(name string, args ...string) {
	c.t.Helper()
	cmd := c.command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out.String(), c.Log())
	}
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
