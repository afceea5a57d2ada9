package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
)

// An error message may quote hostile input; Report shows its control
// characters escaped, keeps the lines of a message written on several,
// and prints nothing for an ExitError.
func TestReport(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		want string
	}{
		{cmdutil.FlagErrorf("--since %s is bad", "\x1b[2J\r7d"), ExitUsage, "audit: --since \\x1b[2J\\r7d is bad\n"},
		{fmt.Errorf("first line\n  second line"), ExitError, "audit: first line\n  second line\n"},
		{&cmdutil.ExitError{Code: 1}, 1, ""},
		{errors.New("plain"), ExitError, "audit: plain\n"},
	} {
		ios, _, _, errOut := iostreams.Test()
		if code := Report(ios, tc.err); code != tc.code {
			t.Errorf("Report(%q) = %d, want %d", tc.err, code, tc.code)
		}
		if errOut.String() != tc.want {
			t.Errorf("Report(%q) printed %q, want %q", tc.err, errOut.String(), tc.want)
		}
	}
}
