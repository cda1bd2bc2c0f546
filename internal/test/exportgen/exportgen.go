// Package exportgen makes Condeco export sets that look like real ones:
// the samples of day 1 and day 2, and the large exports of the benchmarks.
// Output depends only on the options, so tests and benchmarks repeat.
package exportgen

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
)

// Location is one office of the generated company.
type Location struct {
	ID, Name, Country, Region, City, Address, Postal, TZ string
	Switchboard                                          string // national format
	Active                                               bool
}

// Locations are the offices of day 1.
var Locations = []Location{
	{"LON", "London", "GB", "EMEA", "London", "1 Finsbury Avenue", "EC2M 2PF", "Europe/London", "020 7123 4000", true},
	{"MAN", "Manchester", "United Kingdom", "EMEA", "Manchester", "3 Hardman Street", "M3 3HF", "Europe/London", "0161 123 4000", true},
	{"PAR", "Paris", "FR", "EMEA", "Paris", "8 Rue de Londres", "75009", "Europe/Paris", "01 42 68 53 00", true},
	{"BER", "Berlin", "Germany", "EMEA", "Berlin", "Unter den Linden 21", "10117", "Europe/Berlin", "030 901820", true},
	{"NYC", "New York", "US", "AMER", "New York", "350 Fifth Avenue", "10118", "America/New_York", "212 736 3100", true},
	{"AMS", "Amsterdam", "NL", "EMEA", "Amsterdam", "Keizersgracht 62", "1015 CS", "Europe/Amsterdam", "020 624 1111", true},
}

// UsersHeader is the users header in the spelling of docs/rules.md.
var UsersHeader = []string{"UserID", "UserName", "FirstName", "LastName", "Email", "Telephone", "Mobile", "Country",
	"Location", "Group", "Floor", "Language", "Department", "CostCode", "JobTitle", "AccessLevel", "UserType",
	"Active", "Deleted", "SSO"}

// LocationsHeader is the locations header in the spelling of docs/rules.md.
var LocationsHeader = []string{"LocationID", "Name", "Country", "Region", "City", "Address", "PostalCode", "TimeZone", "Active"}

var (
	firstNames  = []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis", "Radia", "Tim", "Sophie", "Linus", "Hedy", "Claude", "Katherine", "John", "Joan", "Niklaus"}
	lastNames   = []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Ritchie", "Perlman", "Berners-Lee", "Wilson", "Torvalds", "Lamarr", "Shannon", "Johnson", "McCarthy", "Clarke", "Wirth"}
	departments = []string{"Engineering", "Finance", "Sales", "Marketing", "People", "Legal", "Facilities", "Support"}
	titles      = []string{"Engineer", "Analyst", "Manager", "Director", "Associate", "Consultant", "Administrator"}
	languages   = []string{"en-GB", "en-GB", "en-US", "fr", "de", "nl", "English", "French"}
	mobiles     = map[string]mobile{ // by the country as the export writes it
		"GB": {"+44 7911 1", "07911 1", 5}, "United Kingdom": {"+44 7911 1", "07911 1", 5}, "FR": {"+33 6 12 3", "06 12 3", 5},
		"Germany": {"+49 151 1", "0151 1", 7}, "US": {"+1 212 736 ", "(212) 736-", 4}, "NL": {"+31 6 12", "06 12", 6},
	}
)

// mobile is how a country's mobile numbers are written: in international
// form, in national form, and how many digits follow either prefix.
type mobile struct {
	international, national string
	digits                  int
}

func (m mobile) number(r *rand.Rand, international bool) string {
	d := fmt.Sprintf("%0*d", m.digits, r.IntN(pow10(m.digits)))
	if international {
		return m.international + d
	}
	return m.national + d
}

func pow10(n int) int {
	p := 1
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// User makes the i-th user of a company with seed: the same i gives the same user.
func User(seed uint64, i int) []string {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	loc := Locations[i%len(Locations)]
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	id := strconv.Itoa(100000 + i)
	email := fmt.Sprintf("%s.%s.%d@example.com", lower(first), lower(last), i)
	username := email
	if r.IntN(4) == 0 {
		username = "CORP\\" + lower(first[:1]+last) + strconv.Itoa(i) // not an email: the email becomes the userName
	}
	tel := loc.Switchboard // shared office line, national format
	if r.IntN(3) == 0 {
		tel = "" // no desk phone
	}
	mob := ""
	switch n := r.IntN(10); {
	case n < 5:
		mob = mobiles[loc.Country].number(r, true)
	case n < 9:
		mob = mobiles[loc.Country].number(r, false)
	}
	access := "User"
	switch n := r.IntN(200); {
	case n == 0:
		access = "Global Admin"
	case n < 4:
		access = "Location Admin"
	}
	utype := "Internal"
	switch n := r.IntN(100); {
	case n < 5:
		utype = "Vendor"
	case n < 8:
		utype = "External"
	case n < 10:
		utype = "Visitor"
	}
	active := "Yes"
	if r.IntN(40) == 0 {
		active = "No"
	}
	return []string{id, username, first, last, email, tel, mob, loc.Country, loc.ID,
		loc.ID + "-" + departments[r.IntN(len(departments))], strconv.Itoa(r.IntN(12)), languages[r.IntN(len(languages))],
		departments[r.IntN(len(departments))], "CC" + strconv.Itoa(1000+r.IntN(90)), titles[r.IntN(len(titles))],
		access, utype, active, "No", "Yes"}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
		if c == '-' {
			b[i] = '.'
		}
	}
	return string(b)
}

// WriteUsers writes a users export of n generated users.
func WriteUsers(w io.Writer, seed uint64, n int) error {
	return writeRows(w, UsersHeader, func(emit func([]string) error) error {
		for i := 0; i < n; i++ {
			if err := emit(User(seed, i)); err != nil {
				return err
			}
		}
		return nil
	})
}

// WriteUsersNextDay writes the export of the day after WriteUsers(seed, n):
// the first 0.5 % of the users gone, 1 % changed (a new job title), and
// 0.5 % new ones at the end: a day of a large tenant.
func WriteUsersNextDay(w io.Writer, seed uint64, n int) error {
	title := slices.Index(UsersHeader, "JobTitle")
	return writeRows(w, UsersHeader, func(emit func([]string) error) error {
		for i := n / 200; i < n+n/200; i++ {
			row := User(seed, i)
			if i%100 == 50 && i < n {
				row[title] = "Principal " + row[title]
			}
			if err := emit(row); err != nil {
				return err
			}
		}
		return nil
	})
}

// LocationRow is l as a locations export row.
func LocationRow(l Location) []string {
	active := "Yes"
	if !l.Active {
		active = "No"
	}
	return []string{l.ID, l.Name, l.Country, l.Region, l.City, l.Address, l.Postal, l.TZ, active}
}

// WriteLocations writes a locations export of locs.
func WriteLocations(w io.Writer, locs []Location) error {
	return writeRows(w, LocationsHeader, func(emit func([]string) error) error {
		for _, l := range locs {
			if err := emit(LocationRow(l)); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeRows(w io.Writer, header []string, rows func(emit func([]string) error) error) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := csv.NewWriter(bw)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := rows(cw.Write); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
