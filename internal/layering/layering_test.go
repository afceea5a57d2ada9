// Package layering_test holds the rules of CONTRIBUTING.md's package map
// as a test over the imports of every package, so that a change that
// breaks one fails here instead of being found in review.
package layering_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/audit-cli/audit/"

// imports lists every package of the module with what it imports (tests
// left out), from go list.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	return pkgs
}

func under(pkg string, prefixes ...string) bool {
	for _, p := range prefixes {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

func TestLayering(t *testing.T) {
	pkgs := imports(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	// Leaves import nothing of ours; anyone may import them.
	leaves := []string{"internal/suggest", "internal/retry", "internal/atomicfile", "internal/build", "internal/cursor", "internal/usage"}
	// Library packages never reach up into the command line.
	libraries := []string{"internal/audit", "internal/store", "internal/server", "internal/web", "internal/output",
		"internal/eventio", "internal/ingest", "internal/timeexpr", "internal/alert", "internal/filterflags",
		"internal/iostreams", "internal/sample", "internal/config"}
	commandLine := []string{"internal/cli", "internal/cmd", "internal/cmdutil"}
	for pkg, imps := range pkgs {
		for _, imp := range imps {
			ours := strings.HasPrefix(imp, module)
			dep := strings.TrimPrefix(imp, module)
			switch {
			case under(pkg, leaves...) && ours:
				t.Errorf("%s is a leaf but imports %s", pkg, dep)
			case pkg == "internal/audit" && ours && !under(dep, leaves...):
				t.Errorf("the domain package imports %s (only leaves: %v)", dep, leaves)
			case under(pkg, libraries...) && ours && under(dep, commandLine...):
				t.Errorf("library %s imports %s of the command line", pkg, dep)
			case under(pkg, libraries...) && strings.HasPrefix(imp, "github.com/spf13/cobra"):
				t.Errorf("library %s imports cobra", pkg)
			case strings.HasPrefix(imp, "github.com/spf13/viper") && pkg != "internal/config":
				t.Errorf("%s imports viper, which only internal/config uses", pkg)
			case under(dep, "internal/cli") && !slices.Contains([]string{"cmd/audit", "cmd/gen-docs"}, pkg):
				t.Errorf("%s imports internal/cli, the root of the command tree (only cmd/audit and cmd/gen-docs may)", pkg)
			case under(pkg, "internal/cmd") && under(dep, "internal/cmd") && strings.Split(pkg, "/")[2] != strings.Split(dep, "/")[2]:
				t.Errorf("command %s imports command %s: share through cmdutil instead", pkg, dep)
			case under(pkg, "internal/store") && under(dep, "internal/server", "internal/web", "internal/ingest", "internal/alert"):
				t.Errorf("store %s imports %s", pkg, dep)
			case under(pkg, "internal/web") && under(dep, "internal/store", "internal/server"):
				t.Errorf("the web console imports %s: it reads audit.Store and asks its caller to check tokens", dep)
			}
		}
	}
}
