package transform

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// countries maps what the export may say (an ISO 3166-1 alpha-2 code or an
// English country name, any case) to the alpha-2 code. English names come
// from x/text's CLDR tables, for every region phonenumbers knows.
var countries = func() map[string]string {
	m := map[string]string{}
	names := display.English.Regions()
	for code := range phonenumbers.GetSupportedRegions() {
		m[strings.ToLower(code)] = code
		if r, err := language.ParseRegion(code); err == nil {
			if n := names.Name(r); n != "" {
				m[strings.ToLower(n)] = code
			}
		}
	}
	for alias, code := range map[string]string{
		"uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
		"usa": "US", "united states of america": "US", "america": "US", "uae": "AE", "holland": "NL",
		"czech republic": "CZ", "south korea": "KR", "korea": "KR", "russia": "RU", "hong kong": "HK",
	} {
		m[alias] = code
	}
	return m
}()

// Country returns the alpha-2 code for s, or false.
func Country(s string) (string, bool) {
	c, ok := countries[strings.ToLower(strings.TrimSpace(s))]
	return c, ok
}

// languageNames maps English language names ("French") to their tags.
var languageNames = func() map[string]string {
	m := map[string]string{}
	names := display.English.Languages()
	for _, t := range display.Supported.Tags() {
		// Base languages only: "fr-BE" is also named "French".
		if b, _ := t.Base(); t.String() != b.String() {
			continue
		}
		if n := names.Name(t); n != "" {
			m[strings.ToLower(n)] = t.String()
		}
	}
	return m
}()

// Language returns s as a BCP 47 tag for SCIM preferredLanguage: a tag as
// given ("en-GB", "fr", "en_US") or an English language name ("French").
func Language(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", true
	}
	if t, ok := languageNames[strings.ToLower(s)]; ok {
		return t, true
	}
	t, err := language.Parse(strings.ReplaceAll(s, "_", "-"))
	if err != nil || t == language.Und {
		return "", false
	}
	return t.String(), true
}

// mixedScript names the script that s mixes with Latin letters, Cyrillic
// or Greek, whose letters can pass for Latin ones ("раypal" with a
// Cyrillic "р" and "а"); "" when it mixes none. Almost every userName is
// ASCII, and is passed over a byte at a time.
func mixedScript(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return ""
	}
	var latin bool
	var other string
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Latin, r):
			latin = true
		case unicode.Is(unicode.Cyrillic, r):
			other = "Cyrillic"
		case unicode.Is(unicode.Greek, r) && other == "":
			other = "Greek"
		}
	}
	if latin {
		return other
	}
	return ""
}
