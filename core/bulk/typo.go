package bulk

import "strings"

// tldTypos are top-level domains that do not exist but are one slip of the
// keyboard from one that does. Real ones that look like slips (.co, .cm,
// .om, .ne) are not here: people do have addresses there.
var tldTypos = map[string]string{
	"con": "com", "cmo": "com", "ocm": "com", "comm": "com", "coom": "com", "vom": "com", "xom": "com",
	"cpm": "com", "cim": "com", "clm": "com", "cok": "com", "c0m": "com", "comn": "com", "cm0": "com",
	"nte": "net", "ner": "net", "nett": "net", "nwt": "net", "met": "net",
	"ogr": "org", "rog": "org", "orgg": "org", "prg": "org", "otg": "org", "ofg": "org",
	"eud": "edu", "deu": "edu", "edi": "edu",
}

// popular are mail domains whose near misses are almost surely typos.
var popular = []string{
	"gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com",
	"protonmail.com", "hotmail.co.uk", "yahoo.co.uk", "comcast.net", "verizon.net",
}

// realNearMisses are real mail domains one edit away from a popular one.
var realNearMisses = map[string]bool{
	"mail.com": true, "gmx.com": true, "ymail.com": true, "email.com": true, "rocketmail.com": true,
}

// domainTypo returns the domain probably meant when d is an obvious typo:
// a top-level domain that does not exist but is one slip from one that does
// (".con"), or one edit (a letter missing, extra, wrong or two swapped)
// away from a popular mail domain ("gmial.com").
func domainTypo(d string) (string, bool) {
	if realNearMisses[d] {
		return "", false
	}
	for _, p := range popular {
		if d == p {
			return "", false
		}
	}
	if i := strings.LastIndexByte(d, '.'); i > 0 {
		if fixed, ok := tldTypos[d[i+1:]]; ok {
			cand := d[:i+1] + fixed
			if p, ok := nearPopular(cand); ok {
				return p, true
			}
			return cand, true
		}
	}
	return nearPopular(d)
}

func nearPopular(d string) (string, bool) {
	for _, p := range popular {
		if d == p || oneEdit(d, p) {
			return p, true
		}
	}
	return "", false
}

// oneEdit reports whether a becomes b by one insertion, deletion,
// substitution or swap of two neighbouring characters.
func oneEdit(a, b string) bool {
	if a == b {
		return false
	}
	la, lb := len(a), len(b)
	if la-lb > 1 || lb-la > 1 {
		return false
	}
	i := 0
	for i < la && i < lb && a[i] == b[i] {
		i++
	}
	switch {
	case la == lb:
		if a[i+1:] == b[i+1:] {
			return true
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	case la > lb:
		return a[i+1:] == b[i:]
	default:
		return a[i:] == b[i+1:]
	}
}
