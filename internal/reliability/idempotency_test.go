package reliability

import (
	"strings"
	"testing"
)

// TestReimportThenRecordVerifies is the everyday story behind the crash
// tests' retries: import a file, import it again (nothing new), record one
// more event, and verify. Before the fix in internal/store/sqlite the
// second import raised SQLite's AUTOINCREMENT counter without storing
// anything, the record then skipped a seq, and verify failed with exit 5,
// reporting events deleted from a log nobody had touched.
func TestReimportThenRecordVerifies(t *testing.T) {
	h := newHarness(t)
	file := h.eventFile("events.jsonl", "ev-", 100)
	h.must(nil, "import", file)
	if r := h.must(nil, "import", file); strings.TrimSpace(r.stderr) != "100 read, 0 added, 100 duplicates, 0 read-only skipped" {
		t.Fatalf("second import: %s", r)
	}
	// The same id through record with other content: a conflict, refused,
	// and it must not leave a gap in the seqs either.
	if r := h.run(nil, "record", "--id", "ev-0000007", "--user", "jdavis", "--type", "login"); r.code != 1 ||
		!strings.Contains(r.stderr, `id "ev-0000007" is stored already with a different`) {
		t.Fatalf("want exit 1 naming the conflict\n%s", r)
	}
	h.must(nil, "record", "--user", "jdavis", "--type", "logout")
	if n := h.verify(); n != 101 {
		t.Fatalf("verify counted %d events, want 101", n)
	}
	if st := h.stats(); st.minSeq != 1 || st.maxSeq != 101 {
		t.Fatalf("seqs %d–%d, want 1–101 without a gap", st.minSeq, st.maxSeq)
	}
}
