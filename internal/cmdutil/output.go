package cmdutil

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
)

// OutputFlags are -o/--output, --template, --no-headers and --raw.
type OutputFlags struct {
	Format    string
	Template  string
	NoHeaders bool
	// Raw turns off the formula neutralisation of csv and tsv cells, as
	// export's --raw does.
	Raw bool
	// WithRaw keeps the producer's original record in json and jsonl.
	WithRaw bool
	// FieldList is --fields as given; Fields the names it resolves to.
	FieldList string
	Fields    []string
	// JQ is a jq expression the JSON of each event goes through.
	JQ string
}

// AddOutputFlags registers the output flags on cmd.
func AddOutputFlags(cmd *cobra.Command, of *OutputFlags) {
	cmd.Flags().StringVarP(&of.Format, "output", "o", "table", "output `format`: "+strings.Join(output.Formats, ", "))
	cmd.Flags().StringVar(&of.Template, "template", "", "Go text/template for -o template, e.g. '{{.User}} {{.IP}}' (fields and functions: audit help templates)")
	cmd.Flags().BoolVar(&of.NoHeaders, "no-headers", false, "omit the header row of table, csv and tsv output")
	cmd.Flags().BoolVar(&of.Raw, "raw", false, "csv/tsv: write cells exactly as recorded, without formula neutralisation")
	cmd.Flags().BoolVar(&of.WithRaw, "with-raw", false, "json/jsonl: include each event's original record from its producer (raw)")
	cmd.Flags().StringVar(&of.FieldList, "fields", "", "print these `fields`, in this order, e.g. user,ip,time (table, wide, csv, tsv, json, jsonl)")
	cmd.Flags().StringVar(&of.JQ, "jq", "", "filter each event's JSON through a jq `expression` (gojq), e.g. '.user + \" \" + .ip'; with -o json, the array")
}

// Resolve applies the configured default output when -o was not given and
// checks the combination of flags.
func (of *OutputFlags) Resolve(f *Factory, cmd *cobra.Command) error {
	if !cmd.Flags().Changed("output") {
		if cfg, err := f.Config(); err == nil && cfg.Output != "" {
			of.Format = cfg.Output
		}
	}
	if !slices.Contains(output.Formats, of.Format) {
		return InvalidValue("--output", of.Format, output.Formats)
	}
	if of.Template != "" && !cmd.Flags().Changed("output") {
		of.Format = "template"
	}
	if of.FieldList != "" {
		fields, err := output.ParseFields(of.FieldList)
		if err != nil {
			return FlagErrorf("--fields: %v", err)
		}
		of.Fields = fields
	}
	if of.JQ != "" {
		if _, err := output.ParseJQ(of.JQ); err != nil {
			return FlagErrorWrap(err)
		}
		if of.Format == "table" && !cmd.Flags().Changed("output") {
			of.Format = "jsonl"
		}
	}
	if of.Format == "template" && of.Template == "" {
		return FlagErrorf("-o template needs --template, e.g. --template '{{.User}} {{.Action}}'")
	}
	return nil
}

// Printer returns the printer for these flags on ios's stdout.
func (of *OutputFlags) Printer(ios *iostreams.IOStreams, now time.Time, loc *time.Location, stream bool) (output.Printer, error) {
	// Color forced onto a pipe (--color always, CLICOLOR_FORCE) asks for the
	// terminal's view, e.g. for `less -R`.
	p, err := output.New(ios.Out, output.Options{
		Format:    of.Format,
		TTY:       ios.IsStdoutTTY() || ios.ColorEnabled(),
		Color:     ios.ColorEnabled(),
		Width:     ios.TerminalWidth(),
		Now:       now,
		Location:  loc,
		NoHeaders: of.NoHeaders,
		WithRaw:   of.WithRaw,
		Template:  of.Template,
		Fields:    of.Fields,
		JQ:        of.JQ,
		Stream:    stream,
		// A cell starting with = + - @ would run as a spreadsheet formula;
		// export guards its CSV the same way (see output.NeutralizeCell).
		Neutralize: (of.Format == "csv" || of.Format == "tsv") && !of.Raw,
	})
	if err != nil {
		if strings.HasPrefix(err.Error(), "--") { // names its flag already
			return nil, FlagErrorWrap(err)
		}
		return nil, FlagErrorWrap(fmt.Errorf("--output: %w", err))
	}
	return p, nil
}

// AddStatsOutputFlags registers the output flags of the stats commands:
// -o (the stats formats) and --no-headers.
func AddStatsOutputFlags(cmd *cobra.Command, format *string, noHeaders *bool) {
	cmd.Flags().StringVarP(format, "output", "o", "table", "output `format`: "+strings.Join(output.StatsFormats, ", "))
	cmd.Flags().BoolVar(noHeaders, "no-headers", false, "omit the header row of table, csv and tsv output")
}

// ResolveStatsOutput takes the configured output when -o is not given and is a
// stats format (a configured "wide" leaves stats in table), and checks -o.
func ResolveStatsOutput(f *Factory, cmd *cobra.Command, format *string) error {
	if !cmd.Flags().Changed("output") && f.Config != nil {
		if cfg, err := f.Config(); err == nil && slices.Contains(output.StatsFormats, cfg.Output) {
			*format = cfg.Output
		}
	}
	if !slices.Contains(output.StatsFormats, *format) {
		return FlagErrorf("invalid --output %q for stats (accepted: %s)", *format, strings.Join(output.StatsFormats, ", "))
	}
	return nil
}

// StatsOutputOptions are the printer options of a stats run; color forced onto a pipe
// asks for the terminal's view, as for list.
func StatsOutputOptions(ios *iostreams.IOStreams, format string, noHeaders bool, now time.Time, loc *time.Location) output.Options {
	return output.Options{
		Format:    format,
		TTY:       ios.IsStdoutTTY() || ios.ColorEnabled(),
		Color:     ios.ColorEnabled(),
		Width:     ios.TerminalWidth(),
		Now:       now,
		Location:  loc,
		NoHeaders: noHeaders,
	}
}
