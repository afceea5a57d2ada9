package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/audit-cli/audit/internal/cli"
)

// TestGeneratedFilesUpToDate regenerates docs/cli, docs/man and completions/
// into a temporary directory and compares them with the committed files:
// a command, flag or help text changed without `make docs` fails here.
func TestGeneratedFilesUpToDate(t *testing.T) {
	tmp := t.TempDir()
	if err := generate(tmp); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join("..", "..")
	var stale []string
	for _, d := range []string{cliDir, manDir, completionsDir} {
		want := readDir(t, filepath.Join(tmp, d))
		got := readDir(t, filepath.Join(repo, d))
		for _, name := range union(want, got) {
			w, inWant := want[name]
			g, inGot := got[name]
			switch {
			case !inGot:
				stale = append(stale, d+"/"+name+" is missing")
			case !inWant:
				stale = append(stale, d+"/"+name+" is no longer generated")
			case !bytes.Equal(w, g):
				stale = append(stale, d+"/"+name+" differs: "+firstDiff(g, w))
			}
		}
	}
	if len(stale) > 0 {
		t.Errorf("generated files are stale; run make docs (go run ./cmd/gen-docs) and commit the result:\n  %s", strings.Join(stale, "\n  "))
	}
}

// TestGenerateTwiceSame makes sure that nothing of the moment (a date, a
// map's order) gets into the generated files.
func TestGenerateTwiceSame(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := generate(a); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "0")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	if err := generate(b); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{cliDir, manDir, completionsDir} {
		fa, fb := readDir(t, filepath.Join(a, d)), readDir(t, filepath.Join(b, d))
		if len(fa) == 0 {
			t.Errorf("%s: nothing generated", d)
		}
		for _, name := range union(fa, fb) {
			if !bytes.Equal(fa[name], fb[name]) {
				t.Errorf("%s/%s differs between two runs: %s", d, name, firstDiff(fa[name], fb[name]))
			}
		}
	}
}

// TestGenerateRemovesStaleFiles checks that a page of a removed command
// does not linger.
func TestGenerateRemovesStaleFiles(t *testing.T) {
	tmp := t.TempDir()
	old := filepath.Join(tmp, manDir, "audit-gone.1")
	if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := generate(tmp); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("%s survived regeneration (err %v)", old, err)
	}
	for _, name := range []string{"docs/cli/audit_list.md", "docs/man/audit-list.1", "completions/audit.bash", "completions/audit.zsh", "completions/audit.fish", "completions/audit.ps1"} {
		if _, err := os.Stat(filepath.Join(tmp, name)); err != nil {
			t.Errorf("%s not generated: %v", name, err)
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == dir {
				return fs.SkipDir
			}
			return err
		}
		if e.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func union(a, b map[string][]byte) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range []map[string][]byte{a, b} {
		for n := range m {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: committed %s, generated %s", i+1, short(gl), short(wl))
		}
	}
	return "(same lines, different bytes)"
}

func short(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return strconv.Quote(s)
}

// TestManSections: every page has EXIT STATUS with each code of the one
// exit-code table, ENVIRONMENT and FILES, before SEE ALSO; the root and
// import pages name the producers' tools.
func TestManSections(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(dir, manDir, "*.1"))
	if err != nil || len(pages) < 10 {
		t.Fatalf("%d man pages (%v)", len(pages), err)
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		exit, env, files, also := strings.Index(page, ".SH EXIT STATUS\n"), strings.Index(page, ".SH ENVIRONMENT\n"),
			strings.Index(page, ".SH FILES\n"), strings.Index(page, ".SH SEE ALSO\n")
		if exit < 0 || env < exit || files < env || also < files {
			t.Errorf("%s: sections at %d, %d, %d, %d", filepath.Base(p), exit, env, files, also)
			continue
		}
		for _, c := range cli.ExitCodes {
			if !strings.Contains(page[exit:env], fmt.Sprintf(".TP\n\\fB%d\\fP\n", c.Code)) {
				t.Errorf("%s: EXIT STATUS lacks %d", filepath.Base(p), c.Code)
			}
		}
		if !strings.Contains(page[env:files], "AUDIT_STORE") || !strings.Contains(page[files:also], "config.yaml") {
			t.Errorf("%s: ENVIRONMENT or FILES incomplete", filepath.Base(p))
		}
	}
	for _, name := range []string{"audit.1", "audit-import.1"} {
		b, _ := os.ReadFile(filepath.Join(dir, manDir, name))
		if !strings.Contains(string(b), `\fBjournalctl(1)\fP, \fBausearch(8)\fP`) {
			t.Errorf("%s: SEE ALSO does not name journalctl and ausearch", name)
		}
	}
}
