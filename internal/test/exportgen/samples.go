package exportgen

import (
	"io"
	"strconv"
	"strings"
)

// SampleUsers is the size of the samples' company on day 1.
const SampleUsers = 220

const sampleSeed = 2026

// column indexes of UsersHeader.
const (
	colID = iota
	colUserName
	colFirst
	colLast
	colEmail
	colTel
	colMobile
	colCountry
	colLocation
	_
	_
	_
	colDepartment
	_
	_
	colAccess
	colType
	colActive
	colDeleted
)

// SampleDay writes the samples' export set of day 1 or day 2. Day 2 differs
// from day 1 in every way the business rules care about; each change is
// named here so that the expected plan can be read off this function.
func SampleDay(day int, users, locations io.Writer) error {
	rows := make([][]string, 0, SampleUsers+10)
	for i := 0; i < SampleUsers; i++ {
		rows = append(rows, User(sampleSeed, i))
	}
	id := func(i int) string { return strconv.Itoa(100000 + i) }
	find := func(i int) []string {
		for _, r := range rows {
			if r[colID] == id(i) {
				return r
			}
		}
		panic("no sample user " + id(i))
	}
	// Fixed facts of both days, so that day 2's changes are changes.
	find(20)[colActive] = "No" // inactive on day 1: not created
	find(21)[colActive] = "No" // inactive on day 1, active on day 2: created then
	find(13)[colAccess] = "User"
	for _, i := range []int{3, 10, 11, 12, 13, 14, 15, 16, 17, 18} {
		find(i)[colType] = "Internal"
		find(i)[colActive] = "Yes"
	}
	locs := append([]Location(nil), Locations...)

	if day == 2 {
		r := find(3) // email and username change: one update, same UserID
		r[colEmail] = "renamed.user.3@example.com"
		r[colUserName] = r[colEmail]
		drop := 10                                // missing from the export: deprovisioned
		find(11)[colDeleted] = "Yes"              // deleted in Condeco
		find(12)[colActive] = "No"                // inactive in Condeco: deactivated
		find(13)[colAccess] = "Global Admin"      // gains admin rights at the default location
		find(14)[colMobile] = "+44 7911 100999"   // new mobile
		find(15)[colDepartment] = "Legal"         // new department
		find(16)[colEmail] = "not-an-email"       // bad row: held, not deleted
		find(18)[colTel] = "ext. 4471"            // unusable phone: left out, warned
		find(21)[colActive] = "Yes"               // now active: created
		dup := append([]string(nil), find(17)...) // a new user whose userName clashes with 17's in another case
		dup[colID] = id(SampleUsers + 6)
		dup[colUserName] = strings.ToUpper(find(17)[colEmail])
		dup[colEmail] = "someone.else@example.com"
		var kept [][]string
		for _, r := range rows {
			if r[colID] != id(drop) {
				kept = append(kept, r)
			}
		}
		rows = kept
		for i := SampleUsers; i < SampleUsers+5; i++ { // five joiners
			u := User(sampleSeed, i)
			u[colType], u[colActive] = "Internal", "Yes"
			rows = append(rows, u)
		}
		v := User(sampleSeed, SampleUsers+5) // a visitor: never provisioned
		v[colType] = "Visitor"
		rows = append(rows, v, dup)

		locs = append(locs, Location{"DUB", "Dublin", "Ireland", "EMEA", "Dublin", "2 Grand Canal Square", "D02 A342", "Europe/Dublin", "01 670 1234", true})
		for i := range locs {
			if locs[i].ID == "AMS" {
				locs[i].Name = "Amsterdam Zuid" // renamed: an update
			}
		}
		var keptLocs []Location
		for _, l := range locs {
			if l.ID != "BER" { // gone from Condeco: reported, not deleted
				keptLocs = append(keptLocs, l)
			}
		}
		locs = keptLocs
	}
	if err := writeRows(users, UsersHeader, func(emit func([]string) error) error {
		for _, r := range rows {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return WriteLocations(locations, locs)
}
