// Package cloudtrail reads AWS CloudTrail records: the {"Records": [...]}
// files CloudTrail delivers to S3, and one record a line (as CloudTrail
// Lake and most log shippers export them).
package cloudtrail

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/ingest"
)

func init() {
	ingest.Register(ingest.Format{Name: audit.SourceCloudTrail, Title: "CloudTrail", Detect: detect, Decode: decode})
}

var recordsFile = regexp.MustCompile(`^\{\s*"Records"\s*:`)

func detect(first []byte) bool {
	return recordsFile.Match(first) || ingest.HasKeys(first, "eventID", "eventName")
}

// record is the part of a CloudTrail record the mapping reads.
type record struct {
	EventVersion string    `json:"eventVersion"`
	EventTime    time.Time `json:"eventTime"`
	EventSource  string    `json:"eventSource"`
	EventName    string    `json:"eventName"`
	EventID      string    `json:"eventID"`
	EventType    string    `json:"eventType"`
	AWSRegion    string    `json:"awsRegion"`
	SourceIP     string    `json:"sourceIPAddress"`
	ReadOnly     *bool     `json:"readOnly"`
	ErrorCode    string    `json:"errorCode"`
	ErrorMessage string    `json:"errorMessage"`
	UserIdentity struct {
		Type           string `json:"type"`
		PrincipalID    string `json:"principalId"`
		ARN            string `json:"arn"`
		UserName       string `json:"userName"`
		InvokedBy      string `json:"invokedBy"`
		SessionContext struct {
			SessionIssuer struct {
				UserName string `json:"userName"`
				ARN      string `json:"arn"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	RequestParameters map[string]json.RawMessage `json:"requestParameters"`
	ResponseElements  map[string]json.RawMessage `json:"responseElements"`
	Resources         []struct {
		ARN  string `json:"ARN"`
		Type string `json:"type"`
	} `json:"resources"`
}

// maxLine bounds one record a line; a Records file is read as a stream,
// a record at most maxRecord.
const (
	maxLine   = 8 << 20
	maxRecord = 8 << 20
)

func decode(br *bufio.Reader, opts ingest.Options, c *ingest.Counts) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		head, _ := br.Peek(64)
		if recordsFile.Match(bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")) {
			decodeFiles(br, opts, c, yield)
			return
		}
		for l, err := range ingest.Lines(br, maxLine) {
			if err != nil {
				yield(audit.Event{}, err)
				return
			}
			if recordsFile.Match(l.Text) {
				// A Records file on one line, among records.
				ok := true
				decodeFiles(bufio.NewReader(bytes.NewReader(l.Text)), opts, c, func(e audit.Event, err error) bool {
					if le, isLE := err.(*ingest.LineError); isLE {
						le.Line = l.N
					}
					ok = yield(e, err)
					return ok
				})
				if !ok {
					return
				}
				continue
			}
			e, keep, err := mapRecord(l.Text, opts, c)
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

// decodeFiles streams the records of one or more {"Records": [...]}
// objects, without holding a whole file.
func decodeFiles(br *bufio.Reader, opts ingest.Options, c *ingest.Counts, yield func(audit.Event, error) bool) {
	js := ingest.NewJSONStream(br, maxRecord)
	n := 0
	fail := func(err error) { yield(audit.Event{}, &ingest.LineError{Record: n + 1, Err: err}) }
	for {
		if _, err := js.Peek(); err == io.EOF {
			return
		}
		if _, err := js.Expect("{"); err != nil {
			fail(fmt.Errorf("want a CloudTrail log file ({\"Records\": [...]}): %v", err))
			return
		}
		if c, _ := js.Peek(); c == '}' {
			js.Expect("}")
			continue
		}
		for {
			key, err := js.Value()
			if err == nil {
				_, err = js.Expect(":")
			}
			switch {
			case err != nil:
			case string(key) == `"Records"`:
				if !records(js, opts, c, &n, fail, yield) {
					return
				}
			default:
				_, err = js.Value() // another key: skipped
			}
			var sep byte
			if err == nil {
				sep, err = js.Expect(",}")
			}
			if err != nil {
				fail(err)
				return
			}
			if sep == '}' {
				break
			}
		}
	}
}

// records reads the array of a Records key; false when decoding ends.
func records(js *ingest.JSONStream, opts ingest.Options, c *ingest.Counts, n *int, fail func(error), yield func(audit.Event, error) bool) bool {
	if _, err := js.Expect("["); err != nil {
		fail(fmt.Errorf("Records: want an array"))
		return false
	}
	if b, err := js.Peek(); err == nil && b == ']' {
		js.Expect("]")
		return true
	}
	for {
		raw, err := js.Value()
		if err != nil {
			fail(err)
			return false
		}
		e, keep, err := mapRecord(raw, opts, c)
		if err != nil {
			fail(err)
			return false
		}
		*n++
		if keep && !yield(e, nil) {
			return false
		}
		sep, err := js.Expect(",]")
		if err != nil {
			fail(err)
			return false
		}
		if sep == ']' {
			return true
		}
	}
}

// mapRecord turns one record into an event; keep is false for a
// read-only call that is skipped.
func mapRecord(data []byte, opts ingest.Options, c *ingest.Counts) (audit.Event, bool, error) {
	var r record
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return audit.Event{}, false, fmt.Errorf("not a CloudTrail record (not a JSON object)")
	}
	if err := ingest.Unmarshal("a CloudTrail record", data, &r); err != nil {
		return audit.Event{}, false, err
	}
	if r.EventID == "" || r.EventName == "" {
		return audit.Event{}, false, fmt.Errorf("not a CloudTrail record (no eventID/eventName)")
	}
	if err := audit.CheckTime("eventTime", r.EventTime); err != nil {
		return audit.Event{}, false, err
	}
	c.Read++
	if isReadOnly(&r) && !opts.IncludeReadOnly {
		c.ReadOnly++
		return audit.Event{}, false, nil
	}
	e := audit.Event{
		ID:           r.EventID,
		Time:         r.EventTime,
		Action:       r.EventName,
		ResourceType: service(r.EventSource),
		Outcome:      audit.OutcomeSuccess,
	}
	e.User, e.UserName = identity(&r)
	e.Type = classify(r.EventName)
	if r.ErrorCode != "" {
		e.Outcome = audit.OutcomeFailure
	}
	if r.EventName == "ConsoleLogin" {
		e.Type = audit.TypeLogin
		var res string
		if json.Unmarshal(r.ResponseElements["ConsoleLogin"], &res) == nil && res != "" && res != "Success" {
			e.Outcome = audit.OutcomeFailure
		}
	}
	var details []string
	if a, err := netip.ParseAddr(r.SourceIP); err == nil {
		e.IP = a.Unmap().String()
	} else if r.SourceIP != "" {
		details = append(details, "via "+r.SourceIP)
	}
	e.Resource = resourceOf(&r)
	if msg := strings.TrimPrefix(r.ErrorCode+": "+r.ErrorMessage, ": "); r.ErrorCode != "" || r.ErrorMessage != "" {
		details = append(details, strings.TrimSuffix(msg, ": "))
	}
	if r.AWSRegion != "" {
		details = append(details, "region "+r.AWSRegion)
	}
	e.Details = strings.Join(details, "; ")
	ingest.Finish(&e, audit.SourceCloudTrail, data)
	return e, true, nil
}

// isReadOnly: the record's own readOnly, else the verb of its name.
func isReadOnly(r *record) bool {
	if r.ReadOnly != nil {
		return *r.ReadOnly
	}
	for _, p := range []string{"Get", "List", "Describe", "Head", "Lookup"} {
		if strings.HasPrefix(r.EventName, p) {
			return true
		}
	}
	return false
}

// identity is the user (a login-like name) and user_name (the ARN) of a
// record.
func identity(r *record) (user, name string) {
	id := &r.UserIdentity
	switch {
	case id.Type == "Root":
		user = "root"
	case id.UserName != "":
		user = id.UserName
	case id.SessionContext.SessionIssuer.UserName != "":
		user = id.SessionContext.SessionIssuer.UserName
	case id.ARN != "":
		user = id.ARN[strings.LastIndexAny(id.ARN, "/:")+1:]
	case id.PrincipalID != "":
		user = id.PrincipalID
	case id.InvokedBy != "":
		user = id.InvokedBy
	default:
		user = "unknown"
	}
	name = id.ARN
	if name == "" {
		name = user
	}
	return user, name
}

// securityNames are the calls that change who may do what, or what is
// recorded.
var securityNames = []string{"AccessKey", "Policy", "MFADevice", "LoginProfile"}

// classify gives the type of a call by its name.
func classify(name string) audit.Type {
	for _, s := range securityNames {
		if strings.Contains(name, s) {
			return audit.TypeSecurity
		}
	}
	switch {
	case name == "StopLogging" || name == "StartLogging" || name == "UpdateTrail" || strings.HasPrefix(name, "AssumeRole"):
		return audit.TypeSecurity
	case hasPrefix(name, "Delete", "Remove", "Terminate"):
		return audit.TypeDelete
	case hasPrefix(name, "Create", "Put", "Run", "Add"):
		return audit.TypeCreate
	}
	return audit.TypeUpdate
}

func hasPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// service is the short name of an event source: s3 for s3.amazonaws.com.
func service(source string) string {
	s, _, _ := strings.Cut(source, ".")
	return s
}

// resourceParams are the request parameters that name the thing a call
// acts on, most specific first.
var resourceParams = []string{"bucketName", "instanceId", "userName", "roleName", "groupName", "policyArn",
	"name", "trailName", "keyId", "functionName", "dBInstanceIdentifier", "tableName", "queueUrl",
	"topicArn", "repositoryName", "clusterName", "secretId", "stackName", "volumeId", "snapshotId"}

func resourceOf(r *record) string {
	for _, p := range resourceParams {
		var s string
		if json.Unmarshal(r.RequestParameters[p], &s) == nil && s != "" {
			return s
		}
	}
	// EC2 lists its instances: {"instancesSet": {"items": [{"instanceId": …}]}}.
	var set struct {
		Items []struct {
			InstanceID string `json:"instanceId"`
		} `json:"items"`
	}
	if json.Unmarshal(r.RequestParameters["instancesSet"], &set) == nil && len(set.Items) > 0 {
		return set.Items[0].InstanceID
	}
	if len(r.Resources) > 0 {
		return r.Resources[0].ARN
	}
	return ""
}
