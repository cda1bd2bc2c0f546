package transform

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// phones normalises phone numbers to E.164 (rule 7). The library is exact
// but slow (about 12 µs a number: its parser is built on regular
// expressions), so numbers already written in international form are taken
// by a fast path that checks their form only (they are E.164 as written),
// and the others are memoised: many users share an
// office line. A phones is used by one goroutine.
type phones struct {
	cache map[phoneKey]phoneResult
}

type phoneKey struct{ raw, region string }

type phoneResult struct {
	e164 string
	err  error
}

func newPhones() *phones { return &phones{cache: map[phoneKey]phoneResult{}} }

// maxCached bounds the memo: shared office lines repeat, mobiles do not.
const maxCached = 64 << 10

var errNoCountry = errors.New("national number and no country to read it with")

// E164 returns raw in E.164 form, reading a national number as one of
// region (an ISO 3166-1 alpha-2 code). Empty stays empty.
func (p *phones) E164(raw, region string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if e, ok := plainInternational(raw); ok {
		return e, nil
	}
	k := phoneKey{raw, region}
	if r, ok := p.cache[k]; ok {
		return r.e164, r.err
	}
	e, err := parsePhone(raw, region)
	if len(p.cache) < maxCached {
		p.cache[k] = phoneResult{e, err}
	}
	return e, err
}

func parsePhone(raw, region string) (string, error) {
	// Without a country only a number starting with + can be read: even an
	// international prefix such as 00 differs from country to country.
	if region == "" {
		if !strings.HasPrefix(raw, "+") {
			return "", errNoCountry
		}
		region = "ZZ"
	}
	n, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return "", fmt.Errorf("not a phone number (%v)", err)
	}
	// Valid, not merely possible: possible accepts any length a country
	// uses, so "12345" in GB would become +4412345.
	if !phonenumbers.IsValidNumber(n) {
		return "", errors.New("not a valid number for its country")
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// plainInternational recognises "+" followed by 8 to 15 digits, the first
// not 0, with spaces, dashes and dots between them: already E.164 once the
// separators go. "(0)" and other forms go to the library.
func plainInternational(raw string) (string, bool) {
	if raw[0] != '+' {
		return "", false
	}
	var b [16]byte
	b[0] = '+'
	n := 1
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(b) || (n == 1 && c == '0') {
				return "", false
			}
			b[n] = c
			n++
		case c == ' ' || c == '-' || c == '.':
		default:
			return "", false
		}
	}
	if n-1 < 8 {
		return "", false
	}
	return string(b[:n]), true
}
