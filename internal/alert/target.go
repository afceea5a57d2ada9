package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Target is where alerts go. Send returns nil once the alert is
// delivered; an error wrapping ErrPermanent is not retried.
type Target interface {
	Name() string
	Send(ctx context.Context, a *Alert) error
}

// ErrPermanent marks a failure that another try would repeat (a webhook
// answering 404): the alert goes to the dead letters at once.
var ErrPermanent = errors.New("permanent failure")

// SignatureHeader carries the HMAC-SHA256 of a webhook's body under the
// configured secret: "sha256=" and its lowercase hex.
const SignatureHeader = "X-Audit-Signature"

// Sign returns the value of SignatureHeader for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Exec runs a command for every alert: through /bin/sh -c, with the alert
// as JSON on stdin and its main fields in the environment (AUDIT_ALERT_*,
// and AUDIT_EVENT_* of the event that fired it). Exit status 0 delivers.
type Exec struct {
	Command string
	Timeout time.Duration // 0: 30 s
}

func (x *Exec) Name() string { return "exec " + x.Command }

func (x *Exec) Send(ctx context.Context, a *Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	timeout := x.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", x.Command)
	cmd.Stdin = bytes.NewReader(append(body, '\n'))
	cmd.Env = append(os.Environ(), Env(a)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 200 {
			msg = msg[len(msg)-200:]
		}
		if msg != "" {
			return fmt.Errorf("%v: %s", err, msg)
		}
		return err
	}
	return nil
}

// Env is the environment an exec target gets for a.
func Env(a *Alert) []string {
	env := []string{
		"AUDIT_ALERT_RULE=" + a.Rule, "AUDIT_ALERT_KIND=" + a.Kind, "AUDIT_ALERT_TEXT=" + a.Text,
		"AUDIT_ALERT_COUNT=" + strconv.Itoa(a.Count), "AUDIT_ALERT_GROUP_BY=" + a.GroupBy, "AUDIT_ALERT_GROUP=" + a.Group,
	}
	if e := a.Event(); e != nil {
		env = append(env, "AUDIT_EVENT_ID="+e.ID, "AUDIT_EVENT_SEQ="+strconv.FormatInt(e.Seq, 10),
			"AUDIT_EVENT_TIME="+audit.FormatTime(e.Time), "AUDIT_EVENT_USER="+e.User, "AUDIT_EVENT_TYPE="+string(e.Type),
			"AUDIT_EVENT_ACTION="+e.Action, "AUDIT_EVENT_RESOURCE="+e.Resource, "AUDIT_EVENT_IP="+e.IP,
			"AUDIT_EVENT_OUTCOME="+string(e.Outcome))
	}
	for i, kv := range env {
		env[i] = strings.Map(func(r rune) rune {
			if r == 0 {
				return -1
			}
			return r
		}, kv)
	}
	return env
}

// Webhook POSTs every alert as JSON, its text in the "text" field that
// Slack and Mattermost incoming webhooks show, signed with Secret when set.
// A 2xx answer delivers; 408, 429 and 5xx are tried again (after
// Retry-After when given); other answers are permanent failures.
type Webhook struct {
	URL    string
	Secret []byte
	Client *http.Client // nil: a client with a 10 s timeout
	Agent  string       // User-Agent
}

func (w *Webhook) Name() string { return "webhook " + redactURL(w.URL) }

func (w *Webhook) Send(ctx context.Context, a *Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.Agent != "" {
		req.Header.Set("User-Agent", w.Agent)
	}
	if len(w.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return &httpError{status: resp.Status, after: retryAfter(resp.Header.Get("Retry-After"))}
	default:
		return fmt.Errorf("%w: the webhook answered %s", ErrPermanent, resp.Status)
	}
}

type httpError struct {
	status string
	after  time.Duration
}

func (e *httpError) Error() string             { return "the webhook answered " + e.status }
func (e *httpError) RetryAfter() time.Duration { return e.after }

func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return min(time.Duration(n)*time.Second, 5*time.Minute)
	}
	return 0
}

// redactURL keeps a webhook's secret path out of logs: scheme and host.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "(invalid URL)"
	}
	host, _, _ := strings.Cut(rest, "/")
	if _, h, ok := strings.Cut(host, "@"); ok {
		host = h
	}
	return scheme + "://" + host + "/…"
}

// Syslog writes every alert's text to the system log (facility auth),
// with a priority by what fired: a burst is alert, a failed action
// warning, another security event notice, the rest info. Network and
// Addr are those of syslog.Dial; empty: the local syslog (/dev/log).
type Syslog struct {
	Network, Addr string
	Tag           string
}

func (s *Syslog) Name() string { return "syslog" }

func (s *Syslog) Send(ctx context.Context, a *Alert) error {
	tag := s.Tag
	if tag == "" {
		tag = "audit"
	}
	w, err := syslog.Dial(s.Network, s.Addr, syslog.LOG_AUTH|Priority(a), tag)
	if err != nil {
		return err
	}
	defer w.Close()
	_, err = w.Write([]byte(a.Text))
	return err
}

// Priority is the syslog severity of a.
func Priority(a *Alert) syslog.Priority {
	e := a.Event()
	switch {
	case a.Kind == KindBurst || a.Kind == KindSummary:
		return syslog.LOG_ALERT
	case e != nil && e.Outcome == audit.OutcomeFailure:
		return syslog.LOG_WARNING
	case e != nil && e.Type == audit.TypeSecurity:
		return syslog.LOG_NOTICE
	}
	return syslog.LOG_INFO
}
