package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/audit-cli/audit/internal/atomicfile"
	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/timeexpr"
)

// ManifestSuffix is appended to the export file's name to name its
// manifest: audit-2026-W47.csv.manifest.json.
const ManifestSuffix = ".manifest.json"

// Manifest describes a finished export file, so that an archive can be
// checked (sha256sum) and matched to the store's hash chain (first and
// last seq and hash). Its JSON is indented, its keys in this order, and it
// holds nothing that changes between two runs over the same events, so a
// re-run writes the same manifest too.
type Manifest struct {
	// File is the base name of the export file, as sha256sum -c wants it.
	File string `json:"file"`
	// SHA256 is the lowercase hex SHA-256 of the file's bytes on disk
	// (compressed, for gzip).
	SHA256 string `json:"sha256"`
	// Bytes is the size of the file.
	Bytes int64 `json:"bytes"`
	// Format is csv, jsonl or json; Gzip tells whether it is compressed.
	Format string `json:"format"`
	Gzip   bool   `json:"gzip"`
	// Neutralized tells whether CSV cells that start a formula carry a
	// leading quote (csv without --raw); BOM whether the CSV starts with a
	// UTF-8 byte order mark.
	Neutralized bool `json:"neutralized"`
	BOM         bool `json:"bom"`
	// Rows is the number of events in the file.
	Rows int64 `json:"rows"`
	// Order is "ascending" (oldest first) or "descending" (--reverse).
	Order string `json:"order"`
	// Period is the --period name, when one was given.
	Period string `json:"period,omitempty"`
	// Since and Until are the time window, RFC 3339 UTC, since inclusive
	// and until exclusive; null for an open end.
	Since *string `json:"since"`
	Until *string `json:"until"`
	// After is the seq the export started after (--after or the cursor
	// file); 0 for the beginning of the log.
	After int64 `json:"after"`
	// Filters are the filter flags as given, by flag name.
	Filters map[string]any `json:"filters"`
	// FirstSeq, LastSeq, FirstHash and LastHash are the seq and hash of the
	// first and the last row of the file; 0 and "" when it has no rows.
	FirstSeq  int64  `json:"first_seq"`
	LastSeq   int64  `json:"last_seq"`
	FirstHash string `json:"first_hash"`
	LastHash  string `json:"last_hash"`
}

// manifestPath returns the manifest's path for the export file at path.
func manifestPath(path string) string { return path + ManifestSuffix }

func newManifest(opts *ExportOptions, tgt target, f audit.Filter, period *timeexpr.Period, s stats, file *atomicfile.File) *Manifest {
	m := &Manifest{
		File:        filepath.Base(tgt.path),
		SHA256:      file.SHA256(),
		Bytes:       file.Size(),
		Format:      tgt.format,
		Gzip:        tgt.gzip,
		Neutralized: tgt.format == "csv" && !opts.Raw,
		BOM:         opts.BOM,
		Rows:        s.rows,
		Order:       "ascending",
		After:       f.After,
		Filters:     filterArgs(opts),
		FirstSeq:    s.firstSeq,
		LastSeq:     s.lastSeq,
		FirstHash:   s.firstHash,
		LastHash:    s.lastHash,
	}
	if f.Order == audit.Descending {
		m.Order = "descending"
	}
	if period != nil {
		m.Period = period.Name
	}
	if !f.Since.IsZero() {
		v := audit.FormatTime(f.Since)
		m.Since = &v
	}
	if !f.Until.IsZero() {
		v := audit.FormatTime(f.Until)
		m.Until = &v
	}
	return m
}

// filterArgs returns the filter flags that were given, by flag name, with
// --limit and --cursor-file: what selected the rows of the file.
func filterArgs(opts *ExportOptions) map[string]any {
	ff := &opts.Filter
	args := map[string]any{}
	lists := []struct {
		name string
		v    []string
	}{
		{"user", ff.Users}, {"type", ff.Types}, {"action", ff.Actions},
		{"resource", ff.Resources}, {"resource-type", ff.ResourceTypes}, {"ip", ff.IPs},
	}
	for _, l := range lists {
		if len(l.v) > 0 {
			args[l.name] = l.v
		}
	}
	texts := []struct{ name, v string }{
		{"outcome", ff.Outcome}, {"since", ff.Since}, {"until", ff.Until},
		{"period", ff.Period}, {"search", ff.Search}, {"cursor-file", opts.CursorFile},
	}
	for _, t := range texts {
		if t.v != "" {
			args[t.name] = t.v
		}
	}
	if ff.Failed {
		args["failed"] = true
	}
	if ff.After > 0 {
		args["after"] = ff.After
	}
	if opts.Limit > 0 {
		args["limit"] = opts.Limit
	}
	return args
}

// writeManifest writes m to a temporary file beside the manifest's path,
// ready to be committed after the export file.
func writeManifest(exportPath string, m *Manifest) (*atomicfile.File, error) {
	path := manifestPath(exportPath)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	p, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	if _, err := p.Write(buf.Bytes()); err != nil {
		p.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, cmdutil.UnwrapPath(err))
	}
	if err := p.Finish(); err != nil {
		p.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return p, nil
}
