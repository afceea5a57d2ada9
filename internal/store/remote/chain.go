package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// verifyStreamType is what Verify accepts besides JSON: the streamed
// answer of a long verification (server.VerifyStreamType).
const verifyStreamType = "application/x-ndjson"

// Head returns the seq and hash of the server's newest event (GET
// /v1/chain/head).
func (s *Store) Head(ctx context.Context) (int64, string, error) {
	var p audit.ChainPoint
	if err := s.getJSON(ctx, "/v1/chain/head", nil, &p); err != nil {
		return 0, "", s.lacks(err, "GET /v1/chain/head", nil)
	}
	return p.Seq, p.Hash, nil
}

// Checkpoint returns the checkpoint of the server's latest prune (GET
// /v1/chain/checkpoint), the zero Checkpoint when it never pruned.
func (s *Store) Checkpoint(ctx context.Context) (audit.Checkpoint, error) {
	var cp audit.Checkpoint
	if err := s.getJSON(ctx, "/v1/chain/checkpoint", nil, &cp); err != nil {
		return audit.Checkpoint{}, s.lacks(err, "GET /v1/chain/checkpoint", nil)
	}
	return cp, nil
}

// Prune has the server prune (POST /v1/prune), which needs a token with
// the admin role: others fail with an error wrapping audit.ErrForbidden.
func (s *Store) Prune(ctx context.Context, req audit.PruneRequest) (audit.Checkpoint, error) {
	var cp audit.Checkpoint
	if err := s.postJSON(ctx, "/v1/prune", &req, &cp); err != nil {
		return audit.Checkpoint{}, s.lacks(err, "POST /v1/prune", nil)
	}
	return cp, nil
}

// verifyLine is a line of a streamed verify answer: progress, the result,
// or the error that ended it.
type verifyLine struct {
	Progress int64               `json:"progress"`
	Result   *audit.VerifyResult `json:"result"`
	wireError
}

// Verify has the server verify its hash chain with its own integrity key
// (POST /v1/verify); opts.Key is not sent. A chain that does not verify
// fails with the *audit.IntegrityError the server found, which matches
// audit.ErrIntegrity. opts.Progress hears of the events verified as the
// server reports them, and of all of them by the end.
//
// The server streams a long verification (a line of progress a second),
// so the answer never waits long; nothing for IdleTimeout means the
// connection is dead, an error wrapping audit.ErrUnavailable.
func (s *Store) Verify(ctx context.Context, opts audit.VerifyOptions) (audit.VerifyResult, error) {
	body, err := json.Marshal(&opts)
	if err != nil {
		return audit.VerifyResult{}, err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := time.AfterFunc(s.opts.IdleTimeout, cancel)
	defer idle.Stop()
	silent := func(err error) error {
		if ctx.Err() == nil && cctx.Err() != nil {
			return &Error{Base: audit.ErrUnavailable, Server: s.base.Redacted(),
				Msg: "the server sent nothing about the verification for " + s.opts.IdleTimeout.String()}
		}
		return err
	}
	resp, err := s.do(cctx, http.MethodPost, s.endpoint("/v1/verify", nil), bytes.NewReader(body),
		http.Header{"Content-Type": {"application/json"}, "Accept": {verifyStreamType + ", application/json"}})
	if err != nil {
		return audit.VerifyResult{}, s.lacks(silent(err), "POST /v1/verify", nil)
	}
	defer resp.Body.Close()

	var reported int64
	done := func(res audit.VerifyResult) (audit.VerifyResult, error) {
		if opts.Progress != nil && res.Events > reported {
			opts.Progress(int(res.Events - reported))
		}
		return res, nil
	}
	dec := json.NewDecoder(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), verifyStreamType) {
		var res audit.VerifyResult
		if err := dec.Decode(&res); err != nil {
			return audit.VerifyResult{}, silent(s.streamError(err))
		}
		return done(res)
	}
	for {
		var l verifyLine
		err := dec.Decode(&l)
		idle.Reset(s.opts.IdleTimeout)
		switch {
		case errors.Is(err, io.EOF):
			return audit.VerifyResult{}, &Error{Base: audit.ErrUnavailable, Server: s.base.Redacted(),
				Msg: "the verification stream ended without a result"}
		case err != nil:
			if ctx.Err() != nil {
				return audit.VerifyResult{}, ctx.Err()
			}
			return audit.VerifyResult{}, silent(s.streamError(err))
		case l.Error != "":
			status := l.Status
			if status == 0 {
				status = http.StatusInternalServerError
			}
			return audit.VerifyResult{}, s.apiError(status, strconv.Itoa(status)+" "+http.StatusText(status), l.wireError, true)
		case l.Result != nil:
			return done(*l.Result)
		case l.Progress > 0 && opts.Progress != nil:
			opts.Progress(int(l.Progress))
			reported += l.Progress
		}
	}
}
