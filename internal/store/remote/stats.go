package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/audit-cli/audit/internal/audit"
)

// The capabilities the server's store lends the remote store. A server
// whose store lacks one answers 501, which fails the call.
var (
	_ audit.Statser    = (*Store)(nil)
	_ audit.ChainStore = (*Store)(nil)
	_ audit.Verifier   = (*Store)(nil)
	_ audit.Pruner     = (*Store)(nil)
)

// Stats has the server count the events (GET /v1/stats). A server whose
// store cannot fails it with an error wrapping audit.ErrNoStats.
func (s *Store) Stats(ctx context.Context, q audit.StatsQuery) (audit.StatsResult, error) {
	// Checked here too: the query string cannot carry everything wrong
	// (a negative Top, say), and the message is the one of a local store.
	if err := q.Validate(); err != nil {
		return audit.StatsResult{}, err
	}
	var res audit.StatsResult
	if err := s.getJSON(ctx, "/v1/stats", q.Values(), &res); err != nil {
		return audit.StatsResult{}, s.lacks(err, "GET /v1/stats", audit.ErrNoStats)
	}
	return res, nil
}

// Bursts has the server find the bursts of failed logins (GET
// /v1/stats/logins). A server whose store cannot fails it with an error
// wrapping audit.ErrNoStats.
func (s *Store) Bursts(ctx context.Context, q audit.BurstQuery) ([]audit.Burst, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var bursts []audit.Burst
	if err := s.getJSON(ctx, "/v1/stats/logins", q.Values(), &bursts); err != nil {
		return nil, s.lacks(err, "GET /v1/stats/logins", audit.ErrNoStats)
	}
	if len(bursts) == 0 {
		bursts = nil
	}
	return bursts, nil
}

// getJSON GETs rawPath with the query q and decodes the JSON answer into v.
func (s *Store) getJSON(ctx context.Context, rawPath string, q url.Values, v any) error {
	resp, err := s.do(ctx, http.MethodGet, s.endpoint(rawPath, q), nil, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return s.streamError(err)
	}
	return nil
}

// postJSON POSTs body as JSON to rawPath and decodes the JSON answer into
// v.
func (s *Store) postJSON(ctx context.Context, rawPath string, body, v any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := s.do(ctx, http.MethodPost, s.endpoint(rawPath, nil), bytes.NewReader(data),
		http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return s.streamError(err)
	}
	return nil
}

// lacks rewrites the error of a server that cannot do what endpoint asks:
// its store lacks the capability (501), or it is an older audit serve
// without the endpoint. Such an error then wraps base (nil: none, a
// runtime failure). Other errors pass unchanged.
func (s *Store) lacks(err error, endpoint string, base error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case e.Status == http.StatusNotImplemented:
	case e.noEndpoint:
		e.Msg = fmt.Sprintf("the server does not offer %s: it runs an older audit serve", endpoint)
	default:
		return err
	}
	e.Base = base
	return err
}
