// Command audit reviews, exports and watches an audit log.
package main

import (
	"os"

	"github.com/audit-cli/audit/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
