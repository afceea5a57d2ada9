package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/audit-cli/audit/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"audit": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs the end-to-end stories in testdata/script with the real
// command tree, against real store files in each script's work directory.
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scripts skipped in -short mode")
	}
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join(testdata, "script"),
		RequireExplicitExec: false,
		// UPDATE_SCRIPTS=1 rewrites the expected files that cmp compares
		// with; review the diff before committing it.
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_DATA_HOME", filepath.Join(env.WorkDir, "data"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "config"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(env.WorkDir, "state"))
			env.Setenv("TESTDATA", testdata)
			// A pinned clock: Thursday 26 November 2026, 15:00 UTC.
			env.Setenv("AUDIT_NOW", "2026-11-26T15:00:00Z")
			env.Setenv("TZ", "UTC")
			env.Setenv("NO_COLOR", "")
			env.Setenv("CLICOLOR_FORCE", "")
			return nil
		},
	})
}
