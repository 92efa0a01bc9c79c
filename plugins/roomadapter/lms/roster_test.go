package lms_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/invitegate/gateway/plugins/roomadapter"
	"github.com/invitegate/gateway/plugins/roomadapter/lms"
)

func TestRank(t *testing.T) {
	people := []roomadapter.Person{
		{Email: "sam@uni.test", Name: "Sam Ortiz"}, {Email: "ola@uni.test", Name: "Ola Sam"}, {Email: "zed@uni.test", Name: "Samantha Zed"},
		{Email: "Sally@uni.test", Name: "Sally Park"}, {Email: "bo@uni.test", Name: "Bo"},
	}
	for _, tc := range []struct {
		q     string
		limit int
		want  string
	}{
		{"sa", 0, "Sally@uni.test sam@uni.test zed@uni.test ola@uni.test"}, // emails, then names, then words
		{"SAM", 0, "sam@uni.test zed@uni.test ola@uni.test"},
		{"sa", 2, "Sally@uni.test sam@uni.test"},
		{"park", 0, "Sally@uni.test"},
		{"x", 0, ""},
		{" ", 0, ""},
	} {
		t.Run(tc.q, func(t *testing.T) {
			var got []string
			for _, p := range lms.Rank(people, tc.q, tc.limit) {
				got = append(got, p.Email)
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("Rank(%q) = %v, want %s", tc.q, got, tc.want)
			}
		})
	}
	many := make([]roomadapter.Person, 100)
	for i := range many {
		many[i] = roomadapter.Person{Email: fmt.Sprintf("a%03d@uni.test", i)}
	}
	if n := len(lms.Rank(many, "a", 500)); n != lms.MaxResults {
		t.Fatalf("%d results, want at most %d", n, lms.MaxResults)
	}
}
