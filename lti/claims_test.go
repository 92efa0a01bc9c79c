package lti

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
)

// extensionsByDecoding is extensionClaims as the decoder sees the
// payload: the reference members must agree with.
func extensionsByDecoding(payload []byte) map[string]string {
	var raw map[string]json.RawMessage
	if json.Unmarshal(payload, &raw) != nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range raw {
		if strings.Contains(k, "://") && !knownClaims[k] && len(v) <= maxExtensionSize {
			out[k] = string(v)
		}
	}
	return out
}

var extensionPayloads = []string{
	`{}`,
	` { } `,
	`{"iss":"x","aud":["a","b"],"exp":17e8,"ok":true,"no":null}`,
	`{"https://www.sakailms.org/spec/lti/claim/extension":{"sakai_role":"maintain","sakai_server":"https://s.example"}}`,
	`{"https://purl.imsglobal.org/spec/lti/claim/roles":["x"],"https://purl.imsglobal.org/spec/lti/claim/lis":{"person_sourcedid":"a"}}`,
	`{"https:\/\/purl.imsglobal.org\/spec\/lti\/claim\/tool_platform":{"guid":"g"},"https:\/\/purl.imsglobal.org\/spec\/lti\/claim\/roles":[]}`,
	`{"a": "}{][\"", "https://x.example/c" : { "s" : "a \"}\" b", "n" : [1, {"d": [2, 3]}, "]"] } ,"b":-1.5e-3}`,
	"{\n\t\"https://x.example/a\":\t\"tab\\tnewline\\n\",\r\n\"https://x.example/b\" :false\n}",
	`{"https://x.example/dup":1,"https://x.example/dup":{"two":2}}`,
	`{"https://x.example/big":"` + strings.Repeat("a", maxExtensionSize) + `","https://x.example/small":"s"}`,
	`{"https://x.example/u":"\u00e9\ud83d\ude00","k\u003a//":"key with an escaped colon"}`,
	`{"https://x.example/e":"",  "https://x.example/o":{},"https://x.example/l":[]}`,
}

func TestExtensionClaimsAgreeWithTheDecoder(t *testing.T) {
	for _, p := range extensionPayloads {
		got, want := extensionClaims([]byte(p)), extensionsByDecoding([]byte(p))
		if !maps.Equal(got, want) {
			t.Errorf("payload %.120s\n got  %v\n want %v", p, got, want)
		}
	}
}

// Past maxExtensions, the first ones in the payload are kept.
func TestExtensionClaimsKeepTheFirst(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"iss":"x"`)
	for i := range maxExtensions + 5 {
		fmt.Fprintf(&b, `,"https://x.example/%02d":%d`, i, i)
	}
	b.WriteString(`}`)
	got := extensionClaims([]byte(b.String()))
	if len(got) != maxExtensions || got["https://x.example/00"] != "0" || got[fmt.Sprintf("https://x.example/%02d", maxExtensions-1)] == "" {
		t.Fatalf("%d extensions kept: %v", len(got), got)
	}
}

func FuzzExtensionClaims(f *testing.F) {
	for _, p := range extensionPayloads {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !json.Valid([]byte(p)) || !strings.HasPrefix(strings.TrimLeft(p, " \t\r\n"), "{") {
			return
		}
		if got, want := extensionClaims([]byte(p)), extensionsByDecoding([]byte(p)); len(want) <= maxExtensions && !maps.Equal(got, want) {
			t.Fatalf("payload %q\n got  %v\n want %v", p, got, want)
		}
	})
}
