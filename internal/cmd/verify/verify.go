// Package verify implements `audit verify`: it proves that the audit log
// was not changed, by walking its hash chain (docs/integrity.md).
package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/timeexpr"
)

// VerifyOptions holds what a verify run needs.
type VerifyOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Key      func() ([]byte, error) // the integrity key of the config; nil: none
	Now      func() time.Time
	Location *time.Location

	Since      string
	FromSeq    int64
	ToSeq      int64
	Head       bool
	ExpectHead string
}

// NewCmdVerify returns the verify command. runF replaces verifyRun in tests.
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now}
	opts.Key = f.ChainKey
	cmd := &cobra.Command{
		Use:   "verify [flags]",
		Short: "Prove the audit log unchanged by checking its hash chain",
		Long: `Check the hash chain of the audit log: every event's hash covers the event
and the hash of the one before it, so an event that was changed, deleted,
inserted or moved no longer fits. verify walks the whole log, oldest first,
and either prints

  OK: 1,204,331 events, seq 1–1204331, head 9f2c4e1b7a03…

and exits 0, or names the first event that does not fit and what happened
to it, and exits 5:

  seq 48211 (2026-11-20T14:02:11Z, jdavis update): hash mismatch — the event was changed

A log whose newest events were deleted still verifies: what is left is a
valid chain. To catch that, publish the head now and then where an
intruder cannot reach it (a ticket, a chat channel, a write-once bucket):

  audit verify --head          prints SEQ:HASH of the newest event

and later prove that the history up to it is unchanged and still there:

  audit verify --expect-head SEQ:HASH

With integrity.key-file set in the config the chain is an HMAC under that
key, kept outside the database, so that someone who can write the
database cannot compute valid hashes; verify needs the same key. Without a
key the chain is plain SHA-256: it catches accidents and careless edits,
not a deliberate forger. docs/integrity.md describes the encoding and the
threat model, and has a stand-alone script that verifies an export.

--from-seq and --since verify only from an event on, trusting the stored
hash of the event before it; --to-seq stops early. After audit prune the
log verifies from the checkpoint the prune left.`,
		Example: `  # Nightly: verify the whole log; exit 5 means it was tampered with
  audit verify

  # Publish the head, prove it later
  audit verify --head | tee -a /mnt/worm/audit-heads.txt
  audit verify --expect-head "$(tail -n 1 /mnt/worm/audit-heads.txt)"

  # Only the last week (quick), or from a seq on
  audit verify --since 7d
  audit verify --from-seq 1200000`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Head, "head", false, "print the head (SEQ:HASH of the newest event) to publish, and do not verify")
	fl.StringVar(&opts.ExpectHead, "expect-head", "", "fail unless the chain passes through `SEQ:HASH`, a head printed by --head earlier")
	fl.StringVar(&opts.Since, "since", "", "verify from the first event at or after this `time` (7d, yesterday, 2026-11-20)")
	fl.Int64Var(&opts.FromSeq, "from-seq", 0, "verify from this `SEQ` on, trusting the stored hash of the event before it")
	fl.Int64Var(&opts.ToSeq, "to-seq", 0, "stop after this `SEQ` (default: the head)")
	return cmd
}

// validate checks the flags that need no clock or store.
func (opts *VerifyOptions) validate() error {
	if opts.FromSeq < 0 || opts.ToSeq < 0 {
		return cmdutil.FlagErrorf("--from-seq and --to-seq take a seq >= 0")
	}
	if opts.ToSeq > 0 && opts.FromSeq > opts.ToSeq {
		return cmdutil.FlagErrorf("--from-seq %d is after --to-seq %d", opts.FromSeq, opts.ToSeq)
	}
	if opts.Head && (opts.ExpectHead != "" || opts.Since != "" || opts.FromSeq != 0 || opts.ToSeq != 0) {
		return cmdutil.FlagErrorf("--head only prints the head; do not combine it with other flags")
	}
	if opts.ExpectHead != "" {
		if _, err := audit.ParseChainPoint(opts.ExpectHead); err != nil {
			return cmdutil.FlagErrorf("--expect-head: %v", err)
		}
	}
	return nil
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var vo audit.VerifyOptions
	if opts.Since != "" {
		t, err := timeexpr.Parse(opts.Since, opts.Now(), opts.Location)
		if err != nil {
			return cmdutil.FlagErrorf("--since: %v", err)
		}
		vo.Since = t
	}
	vo.FromSeq, vo.ToSeq = opts.FromSeq, opts.ToSeq
	if opts.ExpectHead != "" {
		p, err := audit.ParseChainPoint(opts.ExpectHead)
		if err != nil {
			return cmdutil.FlagErrorf("--expect-head: %v", err)
		}
		vo.Expect = &p
	}
	st, err := opts.Store()
	if err != nil {
		return err
	}
	if opts.Head {
		return printHead(ctx, opts, st)
	}
	if opts.Key != nil {
		if vo.Key, err = opts.Key(); err != nil {
			return err
		}
	}

	progress := opts.IO.StartProgress("Verifying")
	vo.Progress = progress.Add
	res, err := audit.Verify(ctx, st, vo)
	progress.Done()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("verify stopped before the end: %w", cmdutil.ErrCancel)
		}
		var ie *audit.IntegrityError
		if errors.As(err, &ie) || errors.Is(err, audit.ErrIntegrity) {
			return err
		}
		if errors.Is(err, audit.ErrInvalid) {
			return cmdutil.FlagErrorWrap(err)
		}
		return err
	}
	fmt.Fprintln(opts.IO.Out, Summary(res))
	if len(vo.Key) == 0 && opts.IO.IsStderrTTY() {
		fmt.Fprintln(opts.IO.ErrOut, "note: no integrity key is configured (integrity.key-file): the chain is plain SHA-256, which catches accidents and careless edits but not someone who recomputes it; see docs/integrity.md")
	}
	return nil
}

// Summary is the line verify prints for a log that verifies:
// "OK: 1,204,331 events, seq 1–1204331, head 9f2c4e1b7a03…", then where it
// started when that is not the genesis, and the expected head.
func Summary(res audit.VerifyResult) string {
	var b strings.Builder
	switch res.Events {
	case 0:
		b.WriteString("OK: 0 events")
		if res.Start == audit.StartGenesis {
			b.WriteString(" (the log is empty)")
		}
	default:
		fmt.Fprintf(&b, "OK: %s, seq %d–%d, head %s", output.Count(res.Events, "event", "events"),
			res.First.Seq, res.Last.Seq, audit.ShortHash(res.Last.Hash))
	}
	switch res.Start {
	case audit.StartCheckpoint:
		fmt.Fprintf(&b, ", from the checkpoint at seq %d", res.StartPoint.Seq)
		if !res.Checkpoint.Before.IsZero() {
			fmt.Fprintf(&b, " (pruned before %s)", audit.FormatTime(res.Checkpoint.Before))
		}
	case audit.StartTrusted:
		fmt.Fprintf(&b, ", trusting the stored hash of seq %d", res.StartPoint.Seq)
	}
	if res.Gaps > 0 {
		fmt.Fprintf(&b, ", %d seqs missing", res.Gaps)
	}
	if res.Expected {
		b.WriteString(", expected head found")
	}
	return b.String()
}

// printHead prints the head as SEQ:HASH; on a terminal, a hint on what to
// do with it goes to stderr.
func printHead(ctx context.Context, opts *VerifyOptions, st audit.Store) error {
	cs, ok := st.(audit.ChainStore)
	if !ok {
		return errors.New("this store does not tell its head")
	}
	seq, h, err := cs.Head(ctx)
	if err != nil {
		return err
	}
	if seq == 0 {
		h = audit.GenesisHex
	}
	p := audit.ChainPoint{Seq: seq, Hash: h}
	fmt.Fprintln(opts.IO.Out, p.String())
	if opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "Publish this where an intruder cannot change it; later\n  audit verify --expect-head %s\nproves the history up to it unchanged.\n", p)
	}
	return nil
}
