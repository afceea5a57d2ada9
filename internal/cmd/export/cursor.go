package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/audit-cli/audit/internal/atomicfile"
	"github.com/audit-cli/audit/internal/cmdutil"
)

// maxCursorFile bounds what readCursor reads: a seq is at most 20 digits.
const maxCursorFile = 64

// readCursor returns the seq stored in the cursor file at path: the last
// event an earlier export wrote. A missing file is 0, the beginning of the
// log; anything but a number >= 0 (and surrounding space) is an error that
// names the file.
func readCursor(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read cursor file %s: %w", path, cmdutil.UnwrapPath(err))
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return 0, fmt.Errorf("cursor file %s is empty: want the seq of the last exported event (delete the file to start from the beginning)", path)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || len(b) > maxCursorFile {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return 0, fmt.Errorf("cursor file %s is malformed (%q): want the seq of the last exported event, a number >= 0", path, s)
	}
	return n, nil
}

// writeCursor writes seq to the cursor's temporary file and syncs it,
// ready to be committed once the export is in place.
func writeCursor(p *atomicfile.File, seq int64) error {
	if _, err := fmt.Fprintf(p, "%d\n", seq); err != nil {
		return fmt.Errorf("writing cursor file %s: %w", p.Path(), cmdutil.UnwrapPath(err))
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("writing cursor file %s: %w", p.Path(), err)
	}
	return nil
}
