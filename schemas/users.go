package schemas

import (
	"sort"
	"strings"

	"github.com/zeebo/xxh3"
)

// UserRecord is one row of a Condeco users export as gocsv decodes it. The
// csv tags are the header names lowercased, since headers match without
// regard to case or surrounding spaces. Every cell is kept as text here;
// extract parses and validates it into a RawUser.
type UserRecord struct {
	UserID      string `csv:"userid"`
	UserName    string `csv:"username"`
	FirstName   string `csv:"firstname"`
	LastName    string `csv:"lastname"`
	Email       string `csv:"email"`
	Telephone   string `csv:"telephone"`
	Mobile      string `csv:"mobile"`
	Country     string `csv:"country"`
	Location    string `csv:"location"`
	Group       string `csv:"group"`
	Floor       string `csv:"floor"`
	Language    string `csv:"language"`
	Department  string `csv:"department"`
	CostCode    string `csv:"costcode"`
	JobTitle    string `csv:"jobtitle"`
	AccessLevel string `csv:"accesslevel"`
	UserType    string `csv:"usertype"`
	Active      string `csv:"active"`
	Deleted     string `csv:"deleted"`
	SSO         string `csv:"sso"`
}

// UserRequired lists the users columns without which the file is refused.
var UserRequired = []string{"userid", "username", "firstname", "lastname", "email"}

// RawUser is one row of extract/users.parquet: an export row typed, with the
// line it came from and, when it failed validation, why. Every decoded row
// is kept, so the raw snapshot is a faithful, auditable copy of the export.
type RawUser struct {
	Line        int64  `parquet:"name=line, type=INT64"`
	UserID      string `parquet:"name=user_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	UserName    string `parquet:"name=user_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	FirstName   string `parquet:"name=first_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	LastName    string `parquet:"name=last_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	Email       string `parquet:"name=email, type=BYTE_ARRAY, convertedtype=UTF8"`
	Telephone   string `parquet:"name=telephone, type=BYTE_ARRAY, convertedtype=UTF8"`
	Mobile      string `parquet:"name=mobile, type=BYTE_ARRAY, convertedtype=UTF8"`
	Country     string `parquet:"name=country, type=BYTE_ARRAY, convertedtype=UTF8"`
	Location    string `parquet:"name=location, type=BYTE_ARRAY, convertedtype=UTF8"`
	Group       string `parquet:"name=group, type=BYTE_ARRAY, convertedtype=UTF8"`
	Floor       string `parquet:"name=floor, type=BYTE_ARRAY, convertedtype=UTF8"`
	Language    string `parquet:"name=language, type=BYTE_ARRAY, convertedtype=UTF8"`
	Department  string `parquet:"name=department, type=BYTE_ARRAY, convertedtype=UTF8"`
	CostCode    string `parquet:"name=cost_code, type=BYTE_ARRAY, convertedtype=UTF8"`
	JobTitle    string `parquet:"name=job_title, type=BYTE_ARRAY, convertedtype=UTF8"`
	AccessLevel string `parquet:"name=access_level, type=BYTE_ARRAY, convertedtype=UTF8"`
	UserType    string `parquet:"name=user_type, type=BYTE_ARRAY, convertedtype=UTF8"`
	Active      bool   `parquet:"name=active, type=BOOLEAN"`
	Deleted     bool   `parquet:"name=deleted, type=BOOLEAN"`
	SSO         string `parquet:"name=sso, type=BYTE_ARRAY, convertedtype=UTF8"`
	Reject      string `parquet:"name=reject, type=BYTE_ARRAY, convertedtype=UTF8"`
}

// Identity is what the uniqueness rules look at in r. A rejected row still
// claims its key but takes no part in the userName check.
func (r *RawUser) Identity() Identity {
	id := Identity{Line: r.Line, Key: r.UserID}
	if r.Reject == "" {
		id.UserName = SCIMUserName(r.UserName, r.Email)
		id.Counted = r.UserType != UserTypeVisitor && !r.Deleted
	}
	return id
}

// SCIMUserName is rule 1: the Condeco username when it is a valid email
// address, otherwise the Condeco email.
func SCIMUserName(username, email string) string {
	if ValidEmail(username) {
		return username
	}
	return email
}

// User is one row of transform/users.parquet: the desired state of one
// Condeco user in the target, keyed by UserID (sent as SCIM externalId).
type User struct {
	UserID          string `parquet:"name=user_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	UserName        string `parquet:"name=user_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	GivenName       string `parquet:"name=given_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	FamilyName      string `parquet:"name=family_name, type=BYTE_ARRAY, convertedtype=UTF8"`
	Email           string `parquet:"name=email, type=BYTE_ARRAY, convertedtype=UTF8"`
	PhoneWork       string `parquet:"name=phone_work, type=BYTE_ARRAY, convertedtype=UTF8"`
	PhoneMobile     string `parquet:"name=phone_mobile, type=BYTE_ARRAY, convertedtype=UTF8"`
	Country         string `parquet:"name=country, type=BYTE_ARRAY, convertedtype=UTF8"`
	Language        string `parquet:"name=language, type=BYTE_ARRAY, convertedtype=UTF8"`
	Title           string `parquet:"name=title, type=BYTE_ARRAY, convertedtype=UTF8"`
	Department      string `parquet:"name=department, type=BYTE_ARRAY, convertedtype=UTF8"`
	CostCenter      string `parquet:"name=cost_center, type=BYTE_ARRAY, convertedtype=UTF8"`
	UserType        string `parquet:"name=user_type, type=BYTE_ARRAY, convertedtype=UTF8"`
	Active          bool   `parquet:"name=active, type=BOOLEAN"`
	Deleted         bool   `parquet:"name=deleted, type=BOOLEAN"`
	Admin           bool   `parquet:"name=admin, type=BOOLEAN"`
	DefaultLocation string `parquet:"name=default_location, type=BYTE_ARRAY, convertedtype=UTF8"`
	SendInvitation  bool   `parquet:"name=send_invitation, type=BOOLEAN"`
	City            string `parquet:"name=city, type=BYTE_ARRAY, convertedtype=UTF8" parquetio:"added"`
	// HomeAdmin is the LocationID of the user's home location when its
	// AccessLevel is in access.home_admin_levels: it is an admin there.
	HomeAdmin string `parquet:"name=home_admin, type=BYTE_ARRAY, convertedtype=UTF8" parquetio:"added"`
	// PhoneInputs is a hash of the export cells the phones were
	// normalised from (0: a number was left out): the next transform
	// reuses the phones of a user whose cells are unchanged. Not compared.
	PhoneInputs int64  `parquet:"name=phone_inputs, type=INT64" parquetio:"added"`
	Held        bool   `parquet:"name=held, type=BOOLEAN"`
	HoldReason  string `parquet:"name=hold_reason, type=BYTE_ARRAY, convertedtype=UTF8"`
	// OutOfScope: the row is outside scope.users. The user is not created,
	// and one provisioned leaves as scope.on_exit says. Not compared.
	OutOfScope bool  `parquet:"name=out_of_scope, type=BOOLEAN" parquetio:"added"`
	Line       int64 `parquet:"name=line, type=INT64"`
	RowHash    int64 `parquet:"name=row_hash, type=INT64"`
	// The applied state (load/state/users.parquet) is also made of Users.
	// There, SCIMID is the user's id in the target and Granted the
	// LocationIDs condeco-sync gave it access to (rule 4 needs them;
	// Admin there is admin rights condeco-sync granted, so rule 5 holds:
	// nothing granted by hand is in it to revoke). Owed lists the
	// LocationIDs a load meant to grant but the target refused: the next
	// diff grants them again. All three are empty in the desired state.
	SCIMID  string `parquet:"name=scim_id, type=BYTE_ARRAY, convertedtype=UTF8"`
	Granted string `parquet:"name=granted, type=BYTE_ARRAY, convertedtype=UTF8"`
	Owed    string `parquet:"name=owed, type=BYTE_ARRAY, convertedtype=UTF8"`
}

// AdminAt is the LocationID where u is an admin ("" for none): the
// default location for an AccessLevel in access.admin_access_levels, its
// home location for one in access.home_admin_levels (the two lists share
// no level, so a user is an admin in one place at most).
func (u *User) AdminAt() string {
	if u.Admin {
		return u.DefaultLocation
	}
	return u.HomeAdmin
}

// GrantedIDs splits Granted into LocationIDs.
func (u *User) GrantedIDs() []string { return SplitIDs(u.Granted) }

// JoinIDs and SplitIDs store a set of LocationIDs in one column, sorted
// and separated by newlines (a LocationID cannot hold one: extract reads
// each cell on one line of its own field).
func JoinIDs(ids []string) string {
	s := append([]string(nil), ids...)
	sort.Strings(s)
	return strings.Join(s, "\n")
}

func SplitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Hash is the row_hash of u: xxh3 over the fields a diff compares. The key,
// the source line, the hold and the write-only invitation flag are left out:
// they are not state of the user in the target.
func (u *User) Hash() int64 { return hashFields(UserFields, u) }

// HashTexts is the hash of ss as row_hash hashes text fields: for what a
// stage derives from cells, to know later whether they changed.
func HashTexts(ss ...string) int64 {
	var stack hashBuffer
	b := stack[:0]
	for _, s := range ss {
		b = appendText(b, s)
	}
	return hashOf(b)
}

// What row_hash hashes is laid out in a buffer on the caller's stack and
// hashed once: each text field length-prefixed, so that ("ab","c") and
// ("a","bc") hash apart, and a flag one byte. xxh3's digest of the buffer
// is that of the same bytes streamed (which this did before, 40 small
// writes a row); one call over the buffer takes half the time. A row
// longer than the buffer grows it on the heap.
type hashBuffer [512]byte

func appendText(b []byte, s string) []byte {
	n := len(s)
	return append(append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24)), s...)
}

func appendFlag(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func hashOf(b []byte) int64 { return int64(xxh3.Hash(b)) }
