// Package kubernetes reads the Kubernetes API server's audit log as its
// log backend writes it: audit.k8s.io/v1 Events, one JSON object a line.
package kubernetes

import (
	"bufio"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/ingest"
)

func init() {
	ingest.Register(ingest.Format{Name: audit.SourceKubernetes, Title: "Kubernetes audit", Detect: detect, Decode: decode})
}

func detect(first []byte) bool {
	return ingest.HasKeys(first, "auditID", "stage") || ingest.HasKeys(first, "auditID", "verb")
}

type event struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	SourceIPs []string `json:"sourceIPs"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code    int    `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"responseStatus"`
	RequestReceived time.Time `json:"requestReceivedTimestamp"`
	StageTimestamp  time.Time `json:"stageTimestamp"`
}

const maxLine = 8 << 20

func decode(br *bufio.Reader, opts ingest.Options, c *ingest.Counts) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for l, err := range ingest.Lines(br, maxLine) {
			if err != nil {
				yield(audit.Event{}, err)
				return
			}
			e, keep, err := mapEvent(l.Text, opts, c)
			if err != nil {
				yield(e, &ingest.LineError{Line: l.N, Err: err})
				return
			}
			if keep && !yield(e, nil) {
				return
			}
		}
	}
}

var (
	readVerbs     = []string{"get", "list", "watch"}
	interactive   = []string{"exec", "attach", "portforward"}
	reviews       = []string{"tokenreviews", "subjectaccessreviews", "selfsubjectaccessreviews", "localsubjectaccessreviews", "selfsubjectrulesreviews"}
	rbacResources = []string{"roles", "rolebindings", "clusterroles", "clusterrolebindings"}
)

func mapEvent(data []byte, opts ingest.Options, c *ingest.Counts) (audit.Event, bool, error) {
	var k event
	if err := ingest.Unmarshal("a Kubernetes audit event", data, &k); err != nil {
		return audit.Event{}, false, err
	}
	if k.AuditID == "" || k.Verb == "" {
		return audit.Event{}, false, fmt.Errorf("not a Kubernetes audit event (no auditID/verb)")
	}
	// One event a request: its last stage.
	if k.Stage != "ResponseComplete" && k.Stage != "Panic" {
		c.Stages++
		return audit.Event{}, false, nil
	}
	c.Read++
	var res, sub, ns, name string
	if k.ObjectRef != nil {
		res, sub, ns, name = k.ObjectRef.Resource, k.ObjectRef.Subresource, k.ObjectRef.Namespace, k.ObjectRef.Name
	}
	typ, readOnly := classify(k.Verb, res, sub)
	if readOnly && !opts.IncludeReadOnly {
		c.ReadOnly++
		return audit.Event{}, false, nil
	}
	e := audit.Event{ID: k.AuditID, Type: typ, User: k.User.Username, UserName: k.User.Username, Outcome: audit.OutcomeSuccess}
	e.Time = k.StageTimestamp
	if e.Time.IsZero() {
		e.Time = k.RequestReceived
	}
	if err := audit.CheckTime("stageTimestamp", e.Time); err != nil {
		return audit.Event{}, false, err
	}
	e.Action = k.Verb
	if sub != "" {
		e.Action += " " + sub
	}
	if len(k.SourceIPs) > 0 {
		if a, err := netip.ParseAddr(k.SourceIPs[0]); err == nil {
			e.IP = a.Unmap().String()
		}
	}
	if res != "" {
		e.ResourceType = res
		parts := []string{}
		if ns != "" {
			parts = append(parts, ns)
		}
		parts = append(parts, res)
		if name != "" {
			parts = append(parts, name)
		}
		if sub != "" {
			parts = append(parts, sub)
		}
		e.Resource = strings.Join(parts, "/")
	} else {
		e.ResourceType, e.Resource = "url", k.RequestURI
	}
	var details []string
	if k.ImpersonatedUser != nil && k.ImpersonatedUser.Username != "" {
		details = append(details, "as "+k.ImpersonatedUser.Username)
	}
	if rs := k.ResponseStatus; rs != nil {
		if rs.Code >= 400 {
			e.Outcome = audit.OutcomeFailure
		}
		if rs.Code != 0 {
			st := fmt.Sprintf("HTTP %d", rs.Code)
			if rs.Reason != "" {
				st += " " + rs.Reason
			}
			if rs.Message != "" {
				st += ": " + rs.Message
			}
			details = append(details, st)
		}
	}
	if k.Stage == "Panic" {
		e.Outcome = audit.OutcomeFailure
		details = append(details, "the API server panicked")
	}
	details = append(details, k.RequestURI)
	e.Details = strings.Join(details, "; ")
	ingest.Finish(&e, audit.SourceKubernetes, data)
	return e, true, nil
}

// classify gives the type of a request by its verb and resource, and
// whether it changes nothing.
func classify(verb, res, sub string) (audit.Type, bool) {
	switch {
	case slices.Contains(interactive, sub),
		res == "serviceaccounts" && sub == "token",
		slices.Contains(reviews, res),
		slices.Contains(rbacResources, res) && !slices.Contains(readVerbs, verb):
		return audit.TypeSecurity, false
	case slices.Contains(readVerbs, verb):
		return audit.TypeUpdate, true
	case verb == "create":
		return audit.TypeCreate, false
	case verb == "delete" || verb == "deletecollection":
		return audit.TypeDelete, false
	}
	return audit.TypeUpdate, false // update, patch, and the rest
}
