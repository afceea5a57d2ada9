package eventio

import (
	"reflect"
	"testing"
)

// FuzzDecodeFast checks that the fast path of the JSON Lines decoder
// agrees with encoding/json wherever it takes a record.
//
//	go test ./internal/eventio -run '^$' -fuzz '^FuzzDecodeFast$' -fuzztime 10s
func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{
		`{"id":"b","seq":7,"time":"2026-11-20T10:00:01.123456789+02:00","user":"jdavis","user_name":"John Davis","type":"update","action":"Updated","resource_type":"server","resource":"bbb-node-1","details":"Changed load_multiplier from 1.0 to 1.5","ip":"::ffff:192.168.1.100","outcome":"failure","hash":"00"}`,
		` { "user" : "jö" , "user":"last" , "seq":0 }`,
		`{}`,
		`{"seq":01}`,
		`{"seq":-1}`,
		`{"seq":1e3}`,
		`{"seq":9223372036854775808}`,
		`{"ID":"upper"}`,
		`{"id":"a"} {"id":"b"}`,
		`{"id":"a",}`,
		`{"time":"2026-11-20 10:00:00"}`,
		`{"time":null}`,
		`{"details":"tab	inside"}`,
		`{"details":"a\"b"}`,
		"{\"user\":\"\xff\"}",
		`{"user":"` + "\uFFFD" + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := decodeFast(data)
		if !ok {
			return
		}
		want, err := decodeJSON(data)
		if err != nil {
			t.Fatalf("fast path took %q, encoding/json refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoding %q:\nfast path     %+v\nencoding/json %+v", data, got, want)
		}
	})
}

func TestDecodeFastTakesTheCommonShape(t *testing.T) {
	line := []byte(`{"id":"b","seq":7,"time":"2026-11-20T10:00:01Z","user":"jdavis","user_name":"John Davis","type":"update","action":"Updated","resource_type":"server","resource":"bbb-node-1","details":"x","ip":"10.0.0.1","outcome":"failure","hash":""}`)
	if _, ok := decodeFast(line); !ok {
		t.Fatalf("the fast path refuses an ordinary record: %s", line)
	}
}
