package version

import (
	"bytes"
	"testing"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		info Info
		want string
	}{
		{Info{Version: "1.2.0", Commit: "3f2c1a9", Date: "2026-11-26T10:00:00Z"},
			"audit version 1.2.0 (commit 3f2c1a9, built 2026-11-26T10:00:00Z)\n"},
		{Info{Version: "v1.2.0"}, "audit version 1.2.0\n"},
		{Info{Version: "dev", Commit: "3f2c1a9"}, "audit version dev (commit 3f2c1a9)\n"},
		{Info{Version: "v1.3.0-rc.1", Date: "2026-12-01T00:00:00Z"}, "audit version 1.3.0-rc.1 (built 2026-12-01T00:00:00Z)\n"},
	}
	for _, tt := range tests {
		if got := Format(tt.info); got != tt.want {
			t.Errorf("Format(%+v) = %q, want %q", tt.info, got, tt.want)
		}
	}
}

func TestCurrentHasAVersion(t *testing.T) {
	if Current().Version == "" {
		t.Error("Current().Version is empty; want at least \"dev\"")
	}
}

// run executes root with args and returns stdout.
func run(t *testing.T, root *cobra.Command, out *bytes.Buffer, args ...string) string {
	t.Helper()
	out.Reset()
	root.SetOut(out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return out.String()
}

func TestVersionAndFlagAgree(t *testing.T) {
	ios, _, stdout, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	root := &cobra.Command{Use: "audit"}
	root.AddCommand(NewCmdVersion(f, nil))
	SetRootVersion(root)

	var flagOut bytes.Buffer
	byFlag := run(t, root, &flagOut, "--version")
	run(t, root, &flagOut, "version")
	byCmd := stdout.String()
	if byFlag != byCmd {
		t.Errorf("audit --version = %q, audit version = %q; want the same", byFlag, byCmd)
	}
	if want := Format(Current()); byCmd != want {
		t.Errorf("audit version = %q, want %q", byCmd, want)
	}

	stdout.Reset()
	run(t, root, &flagOut, "version", "-v")
	if lines := bytes.Count(stdout.Bytes(), []byte("\n")); lines != 2 {
		t.Errorf("audit version -v printed %d lines, want 2:\n%s", lines, stdout)
	}
}

func TestVersionNeedsNoConfig(t *testing.T) {
	ios, _, stdout, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	root := &cobra.Command{Use: "audit",
		PersistentPreRunE: func(*cobra.Command, []string) error {
			t.Error("the root's setup (config loading) ran for audit version")
			return nil
		}}
	root.AddCommand(NewCmdVersion(f, nil))
	var out bytes.Buffer
	run(t, root, &out, "version")
	if stdout.Len() == 0 {
		t.Error("audit version printed nothing")
	}
}
