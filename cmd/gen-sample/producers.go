package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// The producers' shapes follow the records of testdata/ingest, which come
// from the producers' own documentation: the generated history is written
// as CloudTrail log files or as a Kubernetes API server's audit log, for
// the import benchmarks.

// cloudTrailCall is the API call a generated event of a type becomes.
var cloudTrailCall = map[audit.Type][]struct{ source, name, param string }{
	audit.TypeLogin:    {{"signin.amazonaws.com", "ConsoleLogin", ""}},
	audit.TypeLogout:   {{"ec2.amazonaws.com", "DescribeInstances", ""}, {"s3.amazonaws.com", "GetObject", "bucketName"}},
	audit.TypeCreate:   {{"ec2.amazonaws.com", "RunInstances", "instanceId"}, {"s3.amazonaws.com", "CreateBucket", "bucketName"}},
	audit.TypeUpdate:   {{"ec2.amazonaws.com", "ModifyInstanceAttribute", "instanceId"}, {"lambda.amazonaws.com", "UpdateFunctionConfiguration", "functionName"}},
	audit.TypeDelete:   {{"s3.amazonaws.com", "DeleteBucket", "bucketName"}, {"ec2.amazonaws.com", "TerminateInstances", "instanceId"}},
	audit.TypeSecurity: {{"iam.amazonaws.com", "CreateAccessKey", "userName"}, {"iam.amazonaws.com", "AttachUserPolicy", "userName"}},
}

// cloudTrailFiles writes the events as CloudTrail log files, one
// {"Records": [...]} object a line of up to perFile records, as
// `zcat *.json.gz` of a trail's S3 prefix gives them.
func cloudTrailFiles(w *bufio.Writer, perFile int) (write func(e *audit.Event) error, flush func() error) {
	n := 0
	end := func() error {
		if n > 0 {
			_, err := w.WriteString("]}\n")
			n = 0
			return err
		}
		return nil
	}
	write = func(e *audit.Event) error {
		calls := cloudTrailCall[e.Type]
		call := calls[int(e.Time.UnixNano()/1000)%len(calls)]
		rec := map[string]any{
			"eventVersion": "1.08",
			"userIdentity": map[string]any{
				"type": "IAMUser", "principalId": "AIDA" + strings.ToUpper(fmt.Sprintf("%016x", hash(e.User))),
				"arn": "arn:aws:iam::111122223333:user/" + e.User, "accountId": "111122223333",
				"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": e.User,
			},
			"eventTime":          e.Time.UTC().Format(time.RFC3339),
			"eventSource":        call.source,
			"eventName":          call.name,
			"awsRegion":          "us-east-2",
			"sourceIPAddress":    ipOr(e.IP, "203.0.113.10"),
			"userAgent":          "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64.debian.12",
			"requestParameters":  nil,
			"responseElements":   nil,
			"requestID":          fmt.Sprintf("%08X-%04X-EXAMPLE", hash(e.ID)&0xffffffff, hash(e.ID)>>48),
			"eventID":            uuid(e.ID),
			"readOnly":           e.Type == audit.TypeLogout,
			"eventType":          "AwsApiCall",
			"managementEvent":    true,
			"recipientAccountId": "111122223333",
			"eventCategory":      "Management",
		}
		if call.param != "" {
			v := e.Resource
			if call.param == "userName" || v == "" {
				v = e.User
			}
			rec["requestParameters"] = map[string]any{call.param: v}
		}
		if call.name == "ConsoleLogin" {
			rec["eventType"] = "AwsConsoleSignIn"
			res := "Success"
			if e.Outcome == audit.OutcomeFailure {
				res = "Failure"
				rec["errorMessage"] = "Failed authentication"
			}
			rec["responseElements"] = map[string]any{"ConsoleLogin": res}
		} else if e.Outcome == audit.OutcomeFailure {
			rec["errorCode"] = "AccessDenied"
			rec["errorMessage"] = "User: arn:aws:iam::111122223333:user/" + e.User + " is not authorized to perform: " + call.name
		}
		sep := ","
		if n == 0 {
			sep = `{"Records":[`
		}
		if _, err := w.WriteString(sep); err != nil {
			return err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		if n++; n == perFile {
			return end()
		}
		return nil
	}
	return write, end
}

// kubernetesVerb is the request a generated event of a type becomes.
var kubernetesVerb = map[audit.Type][]struct{ verb, resource, sub string }{
	audit.TypeLogin:    {{"create", "pods", "exec"}},
	audit.TypeLogout:   {{"get", "pods", ""}, {"list", "deployments", ""}},
	audit.TypeCreate:   {{"create", "deployments", ""}, {"create", "configmaps", ""}},
	audit.TypeUpdate:   {{"patch", "deployments", ""}, {"update", "configmaps", ""}},
	audit.TypeDelete:   {{"delete", "pods", ""}, {"delete", "secrets", ""}},
	audit.TypeSecurity: {{"create", "rolebindings", ""}, {"update", "clusterroles", ""}},
}

// kubernetesLog writes the events as the API server's log backend does:
// one audit.k8s.io/v1 Event a line, at the ResponseComplete stage.
func kubernetesLog(w *bufio.Writer) func(e *audit.Event) error {
	return func(e *audit.Event) error {
		calls := kubernetesVerb[e.Type]
		call := calls[int(e.Time.UnixNano()/1000)%len(calls)]
		ns := "team-" + strings.ReplaceAll(strings.ToLower(e.ResourceType), "_", "-")
		name := strings.ToLower(strings.ReplaceAll(e.Resource, " ", "-"))
		if name == "" {
			name = fmt.Sprintf("web-%x", hash(e.ID)&0xfffff)
		}
		uri := "/apis/apps/v1/namespaces/" + ns + "/" + call.resource + "/" + name
		if call.sub != "" {
			uri += "/" + call.sub + "?command=sh&stdin=true&tty=true"
		}
		code := map[string]int{"create": 201, "delete": 200, "get": 200, "list": 200, "patch": 200, "update": 200}[call.verb]
		if call.sub == "exec" {
			code = 101
		}
		if e.Outcome == audit.OutcomeFailure {
			code = 403
		}
		obj := map[string]any{"resource": call.resource, "namespace": ns, "name": name, "apiVersion": "apps/v1"}
		if call.sub != "" {
			obj["subresource"] = call.sub
		}
		ev := map[string]any{
			"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
			"auditID": uuid("k8s" + e.ID), "stage": "ResponseComplete", "requestURI": uri, "verb": call.verb,
			"user":                     map[string]any{"username": e.User, "groups": []string{"system:authenticated"}},
			"sourceIPs":                []string{ipOr(e.IP, "10.0.0.1")},
			"userAgent":                "kubectl/v1.31.5 (linux/amd64) kubernetes/test",
			"objectRef":                obj,
			"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": code},
			"requestReceivedTimestamp": e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"),
			"stageTimestamp":           e.Time.Add(17 * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000000Z"),
			"annotations":              map[string]any{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		_, err = w.Write(b)
		return err
	}
}

func ipOr(ip, def string) string {
	if ip == "" {
		return def
	}
	return ip
}

// uuid is a version-4-shaped UUID made from s, as the producers' ids look.
func uuid(s string) string {
	a, b := hash(s), hash(s+"\x00")
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>52, b&0xffffffffffff)
}

// hash is FNV-1a: stable made-up identifiers from a name.
func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
