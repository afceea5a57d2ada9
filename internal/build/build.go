// Package build holds the version of the binary, set at link time with
// -ldflags "-X github.com/audit-cli/audit/internal/build.Version=…", with a
// fallback to the module version Go records for `go install`.
package build

import "runtime/debug"

// Set by the linker in release builds.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

func init() {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if Version == "" {
		Version = info.Main.Version
		if Version == "" || Version == "(devel)" {
			Version = "dev"
		}
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if Commit == "" {
				Commit = s.Value
				if len(Commit) > 12 {
					Commit = Commit[:12]
				}
			}
		case "vcs.time":
			if Date == "" {
				Date = s.Value
			}
		}
	}
}
