package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/atomicfile"
	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
)

// now is the pinned clock of the tests: Thursday 26 November 2026, 15:00 UTC.
var now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

// memStore is an audit.Store over a slice, filtering with Filter.Match.
type memStore struct {
	events []audit.Event
	// failAfter, when > 0, makes Query yield an error after that many events.
	failAfter int
}

func (s *memStore) Append(ctx context.Context, events []audit.Event) (audit.AppendResult, error) {
	return audit.AppendResult{}, errors.New("read-only")
}

func (s *memStore) Query(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		evs := slices.Clone(s.events)
		if f.Order == audit.Descending {
			slices.Reverse(evs)
		}
		n := 0
		for _, e := range evs {
			if err := ctx.Err(); err != nil {
				yield(audit.Event{}, fmt.Errorf("query: %w", err))
				return
			}
			if !f.Match(&e) {
				continue
			}
			if f.Limit > 0 && n == f.Limit {
				return
			}
			if s.failAfter > 0 && n == s.failAfter {
				yield(audit.Event{}, errors.New("disk I/O error"))
				return
			}
			n++
			if !yield(e, nil) {
				return
			}
		}
	}
}

func (s *memStore) Get(ctx context.Context, id string) (audit.Event, error) {
	return audit.Event{}, audit.ErrNotFound
}

func (s *memStore) Follow(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return s.Query(ctx, f)
}

func (s *memStore) Close() error { return nil }

// cancelStore cancels the run's context once n events have been handed
// out, as a SIGINT in the middle of an export would.
type cancelStore struct {
	audit.Store
	n      int
	cancel context.CancelFunc
}

func (s *cancelStore) Query(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		i := 0
		for e, err := range s.Store.Query(ctx, f) {
			if !yield(e, err) {
				return
			}
			if i++; i == s.n {
				s.cancel()
			}
		}
	}
}

// testEvents returns n events an hour apart from 2026-11-16 00:00 UTC with
// seq 1..n and a hash chain; details of event 2 start a formula.
func testEvents(n int) []audit.Event {
	chain := audit.NewChain(nil)
	prev := ""
	var evs []audit.Event
	for i := range n {
		e := audit.Event{
			ID:           fmt.Sprintf("ev-%d", i+1),
			Seq:          int64(i + 1),
			Time:         time.Date(2026, 11, 16, i, 0, 0, 0, time.UTC),
			User:         "jdavis",
			UserName:     "John Davis",
			Type:         audit.TypeUpdate,
			Action:       "Updated",
			ResourceType: "server",
			Resource:     "bbb-node-1",
			Details:      fmt.Sprintf("Changed load_multiplier, step %d", i+1),
			IP:           "192.168.1.100",
			Outcome:      audit.OutcomeSuccess,
		}
		if i == 1 {
			e.Details = `=HYPERLINK("http://evil.example","click")`
		}
		h, err := chain.NextHex(prev, &e)
		if err != nil {
			panic(err)
		}
		e.Hash, prev = h, h
		evs = append(evs, e)
	}
	return evs
}

func newOpts(st audit.Store) (*ExportOptions, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return &ExportOptions{
		IO:       ios,
		Store:    func() (audit.Store, error) { return st, nil },
		Now:      func() time.Time { return now },
		Location: time.UTC,
	}, out, errOut
}

// dirNames lists the names in dir, hidden ones included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestExportStdoutCSV(t *testing.T) {
	opts, out, errOut := newOpts(&memStore{events: testEvents(3)})
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	evs := testEvents(3)
	want := "id,seq,time,user,user_name,type,action,resource_type,resource,details,ip,outcome,hash,source\n" +
		"ev-1,1,2026-11-16T00:00:00Z,jdavis,John Davis,update,Updated,server,bbb-node-1,\"Changed load_multiplier, step 1\",192.168.1.100,success," + evs[0].Hash + ",audit\n" +
		"ev-2,2,2026-11-16T01:00:00Z,jdavis,John Davis,update,Updated,server,bbb-node-1,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\",192.168.1.100,success," + evs[1].Hash + ",audit\n" +
		"ev-3,3,2026-11-16T02:00:00Z,jdavis,John Davis,update,Updated,server,bbb-node-1,\"Changed load_multiplier, step 3\",192.168.1.100,success," + evs[2].Hash + ",audit\n"
	if got := out.String(); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr: %q, want nothing", errOut.String())
	}
}

func TestExportRawReverseLimitJSONL(t *testing.T) {
	opts, out, _ := newOpts(&memStore{events: testEvents(5)})
	opts.Format, opts.Reverse, opts.Limit, opts.Raw = "jsonl", true, 2, true
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out)
	}
	for i, wantSeq := range []int64{5, 4} {
		var e audit.Event
		if err := json.Unmarshal([]byte(lines[i]), &e); err != nil {
			t.Fatal(err)
		}
		if e.Seq != wantSeq {
			t.Errorf("line %d: seq %d, want %d", i+1, e.Seq, wantSeq)
		}
	}
}

func TestExportFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	evs := testEvents(4)
	opts, out, errOut := newOpts(&memStore{events: evs})
	opts.Output = filepath.Join(dir, "audit.csv")
	opts.Verbose = true
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q, want nothing with -o", out.String())
	}
	if want := "exported 4 events (seq 1–4) to " + opts.Output + "\n"; errOut.String() != want {
		t.Errorf("stderr: %q, want %q", errOut.String(), want)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"audit.csv"}) {
		t.Errorf("directory holds %q, want only audit.csv", got)
	}
	f, err := os.Open(opts.Output)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], audit.Fields) {
		t.Errorf("header %q, want %q", recs[0], audit.Fields)
	}
	for i, rec := range recs[1:] {
		want := evs[i].Values()
		for j := range rec {
			rec[j] = output.UnneutralizeCell(rec[j])
		}
		if !slices.Equal(rec, want) {
			t.Errorf("row %d: %q, want %q", i+1, rec, want)
		}
	}
}

func TestExportBOM(t *testing.T) {
	dir := t.TempDir()
	opts, _, _ := newOpts(&memStore{events: testEvents(1)})
	opts.Output = filepath.Join(dir, "a.csv")
	opts.BOM = true
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(opts.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\xef\xbb\xbfid,seq,")) {
		t.Errorf("file starts %q, want a BOM then the header", b[:min(len(b), 12)])
	}
}

func TestExportGzip(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			st := &memStore{events: testEvents(50)}
			opts, _, _ := newOpts(st)
			opts.Output = filepath.Join(dir, "plain."+format)
			if err := exportRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			opts.Output = filepath.Join(dir, "packed."+format+".gz")
			opts.Manifest = true
			if err := exportRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			plain, err := os.ReadFile(filepath.Join(dir, "plain."+format))
			if err != nil {
				t.Fatal(err)
			}
			packed, err := os.ReadFile(opts.Output)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(packed))
			if err != nil {
				t.Fatal(err)
			}
			unpacked, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(unpacked, plain) {
				t.Errorf("gunzipped file differs from the plain export:\n%s\nwant:\n%s", unpacked, plain)
			}
			m := readManifest(t, opts.Output)
			if !m.Gzip || m.Format != format || m.Rows != 50 {
				t.Errorf("manifest gzip=%v format=%q rows=%d, want true %q 50", m.Gzip, m.Format, m.Rows, format)
			}
			if sum := sha256.Sum256(packed); m.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("manifest sha256 %s, want that of the compressed bytes", m.SHA256)
			}
		})
	}
}

func readManifest(t *testing.T, exportPath string) Manifest {
	t.Helper()
	b, err := os.ReadFile(exportPath + ManifestSuffix)
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, b)
	}
	return m
}

func TestExportManifest(t *testing.T) {
	dir := t.TempDir()
	evs := testEvents(30) // 2026-11-16 00:00 .. 2026-11-17 05:00
	opts, _, _ := newOpts(&memStore{events: evs})
	opts.Output = filepath.Join(dir, "audit-{period}.csv")
	opts.Manifest = true
	opts.Filter.Period = "2026-11-16"
	opts.Filter.Users = []string{"jdavis"}
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit-2026-11-16.csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	m := readManifest(t, path)
	since, until := "2026-11-16T00:00:00Z", "2026-11-17T00:00:00Z"
	want := Manifest{
		File: "audit-2026-11-16.csv", SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data)),
		Format: "csv", Gzip: false, Neutralized: true, Rows: 24, Order: "ascending",
		Period: "2026-11-16", Since: &since, Until: &until,
		Filters:  map[string]any{"period": "2026-11-16", "user": []any{"jdavis"}},
		FirstSeq: 1, LastSeq: 24, FirstHash: evs[0].Hash, LastHash: evs[23].Hash,
	}
	gotJSON, _ := json.Marshal(m)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("manifest:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"audit-2026-11-16.csv", "audit-2026-11-16.csv.manifest.json"}) {
		t.Errorf("directory holds %q", got)
	}
}

func TestExportInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after int // events read before the cancel; -1: cancelled before the start
		opt   func(*ExportOptions)
	}{
		{"before start", -1, nil},
		{"mid-stream", 3, nil},
		{"mid-stream gzip manifest cursor", 3, func(o *ExportOptions) {
			o.Output += ".gz"
			o.Manifest = true
		}},
		{"after the last event", 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var st audit.Store = &memStore{events: testEvents(10)}
			if tc.after < 0 {
				cancel()
			} else {
				st = &cancelStore{Store: st, n: tc.after, cancel: cancel}
			}
			opts, _, _ := newOpts(st)
			opts.Output = filepath.Join(dir, "out.csv")
			opts.CursorFile = filepath.Join(dir, "cursor")
			if tc.opt != nil {
				tc.opt(opts)
			}
			err := exportRun(ctx, opts)
			if !errors.Is(err, cmdutil.ErrCancel) {
				t.Fatalf("err = %v, want one wrapping cmdutil.ErrCancel", err)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("directory holds %q after an interrupted export, want nothing", names)
			}
		})
	}
}

func TestExportInterruptedStdoutKeepsCursor(t *testing.T) {
	dir := t.TempDir()
	cursor := filepath.Join(dir, "cursor")
	if err := os.WriteFile(cursor, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &cancelStore{Store: &memStore{events: testEvents(10)}, n: 4, cancel: cancel}
	opts, _, _ := newOpts(st)
	opts.Format = "jsonl"
	opts.CursorFile = cursor
	if err := exportRun(ctx, opts); !errors.Is(err, cmdutil.ErrCancel) {
		t.Fatalf("err = %v, want ErrCancel", err)
	}
	if b, _ := os.ReadFile(cursor); string(b) != "2\n" {
		t.Errorf("cursor %q, want it unchanged", b)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"cursor"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestExportStoreErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	opts, _, _ := newOpts(&memStore{events: testEvents(10), failAfter: 5})
	opts.Output = filepath.Join(dir, "out.jsonl")
	opts.CursorFile = filepath.Join(dir, "cursor")
	opts.Manifest = true
	err := exportRun(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "disk I/O error") || errors.Is(err, cmdutil.ErrCancel) {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("directory holds %q after a failed export, want nothing", names)
	}
}

func TestExportRefusesExistingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	if err := os.WriteFile(path, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, _, _ := newOpts(&memStore{events: testEvents(3)})
	opts.Output = path
	opts.CursorFile = filepath.Join(dir, "cursor")
	err := exportRun(context.Background(), opts)
	if err == nil || err.Error() != path+" exists; use --force to replace it" {
		t.Fatalf("err = %v", err)
	}
	var fe *cmdutil.FlagError
	if errors.As(err, &fe) {
		t.Errorf("an existing file is a runtime error (exit 1), not a usage error")
	}
	if b, _ := os.ReadFile(path); string(b) != "precious\n" {
		t.Errorf("existing file changed to %q", b)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"out.csv"}) {
		t.Errorf("directory holds %q", names)
	}

	opts.Force = true
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "id,seq,") {
		t.Errorf("--force did not replace the file: %q", b)
	}
	if b, _ := os.ReadFile(opts.CursorFile); string(b) != "3\n" {
		t.Errorf("cursor %q, want 3", b)
	}
}

// A manifest that exists stops the export before anything is written.
func TestExportRefusesExistingManifest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	if err := os.WriteFile(path+ManifestSuffix, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, _, _ := newOpts(&memStore{events: testEvents(3)})
	opts.Output, opts.Manifest = path, true
	if err := exportRun(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "manifest.json exists") {
		t.Fatalf("err = %v", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"out.csv.manifest.json"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestExportUnwritableDirectory(t *testing.T) {
	dir := t.TempDir()
	afile := filepath.Join(dir, "afile")
	if err := os.WriteFile(afile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	opts, _, _ := newOpts(&memStore{events: testEvents(3)})
	opts.Output = filepath.Join(afile, "x.csv")
	err := exportRun(context.Background(), opts)
	if err == nil || err.Error() != "cannot write "+opts.Output+": not a directory" {
		t.Fatalf("err = %v", err)
	}
	opts.Output = filepath.Join(dir, "missing", "x.csv")
	err = exportRun(context.Background(), opts)
	if err == nil || err.Error() != "cannot write "+opts.Output+": no such file or directory" {
		t.Fatalf("err = %v", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"afile"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestExportCursor(t *testing.T) {
	dir := t.TempDir()
	cursor := filepath.Join(dir, "nightly.cursor")
	st := &memStore{}
	all := testEvents(9)
	run := func(name string) []int64 {
		t.Helper()
		opts, _, _ := newOpts(st)
		opts.Output = filepath.Join(dir, name)
		opts.CursorFile = cursor
		if err := exportRun(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(opts.Output)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var seqs []int64
		for e, err := range decodeJSONL(f) {
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, e.Seq)
		}
		return seqs
	}
	readCursorFile := func() string {
		b, _ := os.ReadFile(cursor)
		return string(b)
	}
	st.events = all[:4]
	if got := run("1.jsonl"); !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("first run: %v", got)
	}
	if c := readCursorFile(); c != "4\n" {
		t.Errorf("cursor after the first run: %q", c)
	}
	if got := run("2.jsonl"); len(got) != 0 {
		t.Errorf("run without new events: %v", got)
	}
	if c := readCursorFile(); c != "4\n" {
		t.Errorf("cursor after an empty run: %q", c)
	}
	st.events = all
	if got := run("3.jsonl"); !slices.Equal(got, []int64{5, 6, 7, 8, 9}) {
		t.Errorf("third run: %v", got)
	}
	if c := readCursorFile(); c != "9\n" {
		t.Errorf("cursor after the third run: %q", c)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"1.jsonl", "2.jsonl", "3.jsonl", "nightly.cursor"}) {
		t.Errorf("directory holds %q", names)
	}
}

func decodeJSONL(r io.Reader) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		dec := json.NewDecoder(r)
		for dec.More() {
			var e audit.Event
			err := dec.Decode(&e)
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

func TestReadCursor(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		path    string
		want    int64
		wantErr string
	}{
		{filepath.Join(dir, "missing"), 0, ""},
		{write("ok", "42\n"), 42, ""},
		{write("spaces", "  7 \n"), 7, ""},
		{write("zero", "0"), 0, ""},
		{write("empty", ""), 0, "is empty"},
		{write("text", "seq=42\n"), 0, "is malformed (\"seq=42\")"},
		{write("negative", "-1\n"), 0, "is malformed"},
		{write("float", "4.5\n"), 0, "is malformed"},
	} {
		got, err := readCursor(tc.path)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.path, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.path)):
			t.Errorf("%s: err = %v, want one naming the file and %q", tc.path, err, tc.wantErr)
		case got != tc.want:
			t.Errorf("%s: %d, want %d", tc.path, got, tc.want)
		}
	}
}

func TestMalformedCursorStopsExport(t *testing.T) {
	dir := t.TempDir()
	cursor := filepath.Join(dir, "c")
	if err := os.WriteFile(cursor, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, _, _ := newOpts(&memStore{events: testEvents(3)})
	opts.Output = filepath.Join(dir, "out.csv")
	opts.CursorFile = cursor
	if err := exportRun(context.Background(), opts); err == nil || !strings.Contains(err.Error(), cursor) {
		t.Fatalf("err = %v, want one naming %s", err, cursor)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"c"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestExpandPlaceholders(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zone data:", err)
	}
	for _, tc := range []struct {
		pattern    string
		ff         cmdutil.FilterFlags
		loc        *time.Location
		want, fail string
	}{
		{pattern: "/archive/audit-{period}.csv", ff: cmdutil.FilterFlags{Period: "last-week"}, want: "/archive/audit-2026-W47.csv"},
		{pattern: "a-{since}_{until}.csv", ff: cmdutil.FilterFlags{Period: "last-week"}, want: "a-2026-11-16_2026-11-23.csv"},
		{pattern: "a-{period}.csv", ff: cmdutil.FilterFlags{Period: "2026-11"}, want: "a-2026-11.csv"},
		{pattern: "a-{period}.csv", ff: cmdutil.FilterFlags{Since: "2026-11-01", Until: "2026-11-08"}, want: "a-2026-11-01..2026-11-08.csv"},
		{pattern: "a-{period}.csv", ff: cmdutil.FilterFlags{Since: "24h"}, want: "a-2026-11-25..now.csv"},
		{pattern: "a-{period}.csv", ff: cmdutil.FilterFlags{Until: "2026-11-08"}, want: "a-start..2026-11-08.csv"},
		{pattern: "a-{period}.csv", want: "a-all.csv"},
		{pattern: "a-{since}.csv", ff: cmdutil.FilterFlags{Since: "24h"}, want: "a-2026-11-25.csv"},
		// The configured zone decides the dates: 2026-W43 holds the end of
		// summer time in Berlin.
		{pattern: "{period}_{since}_{until}", ff: cmdutil.FilterFlags{Period: "2026-W43"}, loc: berlin, want: "2026-W43_2026-10-19_2026-10-26"},
		{pattern: "{since}", ff: cmdutil.FilterFlags{Since: "2026-10-18T23:30:00Z"}, loc: berlin, want: "2026-10-19"},
		{pattern: "no placeholders {here", want: "no placeholders {here"},
		{pattern: "a-{since}.csv", fail: "uses {since}, but no --since or --period"},
		{pattern: "a-{until}.csv", ff: cmdutil.FilterFlags{Since: "1d"}, fail: "uses {until}, but no --until or --period"},
		{pattern: "a-{date}.csv", fail: "unknown placeholder {date} (accepted: {period}, {since}, {until})"},
		{pattern: "a-{}.csv", fail: "unknown placeholder {}"},
	} {
		loc := tc.loc
		if loc == nil {
			loc = time.UTC
		}
		f, period, err := tc.ff.Filter(now, loc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := expandPlaceholders(tc.pattern, f, period, loc)
		if tc.fail != "" {
			var fe *cmdutil.FlagError
			if err == nil || !strings.Contains(err.Error(), tc.fail) || !errors.As(err, &fe) {
				t.Errorf("%q: err = %v, want a usage error with %q", tc.pattern, err, tc.fail)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.pattern, got, err, tc.want)
		}
	}
}

func TestResolveTarget(t *testing.T) {
	for _, tc := range []struct {
		output, format string
		bom            bool
		want           target
		fail           string
	}{
		{output: "", want: target{format: "csv"}},
		{output: "-", format: "jsonl", want: target{format: "jsonl"}},
		{output: "a.csv", want: target{path: "a.csv", format: "csv"}},
		{output: "a.JSONL", want: target{path: "a.JSONL", format: "jsonl"}},
		{output: "a.json.gz", want: target{path: "a.json.gz", format: "json", gzip: true}},
		{output: "a.csv.gz", bom: true, want: target{path: "a.csv.gz", format: "csv", gzip: true}},
		{output: "a.gz", want: target{path: "a.gz", format: "csv", gzip: true}},
		{output: "a.txt", format: "jsonl", want: target{path: "a.txt", format: "jsonl"}},
		{output: "a.dat", want: target{path: "a.dat", format: "csv"}},
		{output: "a.jsonl", format: "jsonl", want: target{path: "a.jsonl", format: "jsonl"}},
		{output: "a.csv", format: "json", fail: "--format json does not match the file name a.csv"},
		{output: "a.jsonl", bom: true, fail: "--bom is for csv output, not jsonl"},
	} {
		opts := &ExportOptions{Output: tc.output, Format: tc.format, BOM: tc.bom, Location: time.UTC}
		got, err := resolveTarget(opts, audit.Filter{}, nil)
		if tc.fail != "" {
			var fe *cmdutil.FlagError
			if err == nil || !strings.Contains(err.Error(), tc.fail) || !errors.As(err, &fe) {
				t.Errorf("%q %q: err = %v, want a usage error with %q", tc.output, tc.format, err, tc.fail)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q %q: %+v, %v; want %+v", tc.output, tc.format, got, err, tc.want)
		}
	}
}

func TestNewCmdExport(t *testing.T) {
	for _, tc := range []struct {
		args string
		fail string
		want func(*ExportOptions) bool
	}{
		{args: "", want: func(o *ExportOptions) bool { return o.Output == "" && o.Limit == 0 && !o.Reverse }},
		{args: "--period last-week -o /a/audit-{period}.csv --manifest --force -v", want: func(o *ExportOptions) bool {
			return o.Filter.Period == "last-week" && o.Output == "/a/audit-{period}.csv" && o.Manifest && o.Force && o.Verbose
		}},
		{args: "-u jdavis -t login,logout --failed -n 5 --reverse --raw --format JSONL", want: func(o *ExportOptions) bool {
			return slices.Equal(o.Filter.Users, []string{"jdavis"}) && len(o.Filter.Types) == 2 && o.Filter.Failed &&
				o.Limit == 5 && o.Reverse && o.Raw && o.Format == "jsonl"
		}},
		{args: "--cursor-file c --bom -o x.csv", want: func(o *ExportOptions) bool { return o.CursorFile == "c" && o.BOM }},
		{args: "--cursor-file c --reverse", fail: "do not combine it with --reverse"},
		{args: "--cursor-file c --after 3", fail: "do not combine it with --after"},
		{args: "--format yaml", fail: `invalid --format "yaml" (accepted: csv, jsonl, json)`},
		{args: "--manifest", fail: "--manifest needs an output file"},
		{args: "--manifest -o -", fail: "--manifest needs an output file"},
		{args: "-n -1", fail: "invalid --limit -1"},
		{args: "extra", fail: `unexpected argument "extra"`},
	} {
		ios, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Now: func() time.Time { return now },
			Location: func() *time.Location { return time.UTC }}
		var got *ExportOptions
		cmd := NewCmdExport(f, func(o *ExportOptions) error { got = o; return nil })
		var args []string
		if tc.args != "" {
			args = strings.Fields(tc.args)
		}
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if tc.fail != "" {
			var fe *cmdutil.FlagError
			if err == nil || !strings.Contains(err.Error(), tc.fail) || !errors.As(err, &fe) {
				t.Errorf("%q: err = %v, want a usage error with %q", tc.args, err, tc.fail)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !tc.want(got) {
			t.Errorf("%q: options %+v", tc.args, got)
		}
	}
}

// Progress goes to stderr only when it is a terminal and the output a
// file; off a terminal stderr stays empty unless -v asks for the summary.
func TestExportStderr(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tty     bool
		toFile  bool
		verbose bool
		want    string
	}{
		{name: "cron", want: ""},
		{name: "cron verbose", verbose: true, toFile: true, want: "exported 3 events (seq 1–3) to FILE\n"},
		{name: "stdout verbose", verbose: true, want: "exported 3 events (seq 1–3) to standard output\n"},
		{name: "terminal, quick run", tty: true, toFile: true, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, _, errOut := newOpts(&memStore{events: testEvents(3)})
			opts.IO.SetStderrTTY(tc.tty)
			opts.Verbose = tc.verbose
			file := ""
			if tc.toFile {
				file = filepath.Join(t.TempDir(), "out.csv")
				opts.Output = file
			}
			if err := exportRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(tc.want, "FILE", file); errOut.String() != want {
				t.Errorf("stderr %q, want %q", errOut.String(), want)
			}
		})
	}
}

// slowStore delays each event so that the progress line is due.
type slowStore struct {
	audit.Store
	delay time.Duration
}

func (s *slowStore) Query(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for e, err := range s.Store.Query(ctx, f) {
			time.Sleep(s.delay)
			if !yield(e, err) {
				return
			}
		}
	}
}

func TestExportProgressOnTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	opts, _, errOut := newOpts(&slowStore{Store: &memStore{events: testEvents(5)}, delay: 60 * time.Millisecond})
	opts.IO.SetStderrTTY(true)
	opts.Output = filepath.Join(t.TempDir(), "out.csv")
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "\rExporting: ") || !strings.Contains(errOut.String(), " rows, ") {
		t.Errorf("stderr %q, want a progress line", errOut.String())
	}
	if !strings.HasSuffix(errOut.String(), "\r") {
		t.Errorf("stderr %q: the progress line is not erased at the end", errOut.String())
	}
}

// A re-run over the same events writes the same bytes, manifest included.
func TestExportDeterministic(t *testing.T) {
	dir := t.TempDir()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	opts, _, _ := newOpts(&memStore{events: testEvents(40)})
	opts.Output = filepath.Join(dir, "a.jsonl.gz")
	opts.Manifest = true
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	first, firstManifest := read("a.jsonl.gz"), read("a.jsonl.gz.manifest.json")
	opts.Force = true
	if err := exportRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read("a.jsonl.gz"), first) || !bytes.Equal(read("a.jsonl.gz.manifest.json"), firstManifest) {
		t.Error("a re-run wrote different bytes")
	}
}

// A cursor file that cannot be written stops the run before it exports.
func TestExportCursorDirMissing(t *testing.T) {
	for _, toFile := range []bool{true, false} {
		dir := t.TempDir()
		opts, out, _ := newOpts(&memStore{events: testEvents(3)})
		opts.CursorFile = filepath.Join(dir, "missing", "c.cursor")
		if toFile {
			opts.Output = filepath.Join(dir, "out.csv")
		}
		err := exportRun(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), "cursor file: cannot write "+opts.CursorFile) {
			t.Fatalf("err = %v", err)
		}
		if out.Len() != 0 {
			t.Errorf("stdout %q, want nothing", out)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("directory holds %q", names)
		}
	}
}

// When a later file cannot be put in place, the earlier ones are taken
// back: no archive without its manifest, none without the cursor moving.
func TestCommitAllRollsBack(t *testing.T) {
	dir := t.TempDir()
	newFile := func(name, content string) *atomicfile.File {
		p, err := atomicfile.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(p, content); err != nil {
			t.Fatal(err)
		}
		if err := p.Finish(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	data := newFile("a.csv", "data\n")
	manifest := newFile("a.csv.manifest.json", "{}\n")
	cursor := newFile("c.cursor", "9\n")
	// Another run put a manifest in place after the early check.
	if err := os.WriteFile(filepath.Join(dir, "a.csv.manifest.json"), []byte("theirs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.CommitAll([]*atomicfile.File{data, manifest}, cursor, false)
	if err == nil || !strings.Contains(err.Error(), "a.csv.manifest.json exists") {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []*atomicfile.File{data, manifest, cursor} {
		p.Abort()
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"a.csv.manifest.json"}) {
		t.Errorf("directory holds %q, want only the other run's manifest", names)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.csv.manifest.json")); string(b) != "theirs\n" {
		t.Errorf("the other run's manifest was changed to %q", b)
	}
}
