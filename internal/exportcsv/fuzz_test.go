package exportcsv

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/condeco-sync/condeco-sync/schemas"
)

// A users export's header and two rows, the seeds' starting point.
const (
	hdr = "UserID,UserName,FirstName,LastName,Email,Telephone,Country,AccessLevel,UserType,Active,Deleted\n"
	ada = "1,ada@example.com,Ada,Lovelace,ada@example.com,020 7946 0001,GB,User,Internal,true,false\n"
	bob = "2,bob,Bob,Babbage,bob@example.com,,GB,global admin,INTERNAL,yes,no\n"
)

// FuzzDecodeUsers feeds arbitrary bytes as a users export through the
// decoding path: encoding and delimiter detection, the record reader, gocsv
// and row validation. It must never panic or hang; a refused file is a
// FileError naming the file, line and column; every row it accepts passed
// validation, and rows come in the order of their lines.
func FuzzDecodeUsers(f *testing.F) {
	for _, seed := range []string{
		hdr + ada + bob,
		"",
		hdr,
		strings.ReplaceAll(hdr+ada, ",", ";"),
		strings.ReplaceAll(hdr+ada, ",", "\t"),
		"\xEF\xBB\xBF" + hdr + ada,
		"\xFF\xFE" + "U\x00s\x00",
		hdr + "1,\"a\nb\",c,d,e@x.com,,,,,,\n",
		hdr + "1,\"unterminated,c,d,e@x.com,,,,,,\n",
		hdr + "1,a\"b,c,d,e@x.com,,,,,,\n",
		hdr + "1,a@x.com,c\xff,d,a@x.com,,,,,,\n",
		hdr + "1,a@x.com,c,d,a@x.com\n",
		hdr + ada + ada,
		"UserID|UserName|FirstName|LastName|Email\r\n1|a@x.com|A|B|a@x.com\r\n",
		"UserID,UserName,FirstName,LastName,Email,,,,,\n1,,,,,,,,,,\n,b,l,b,e,,,,,",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, users []byte) {
		rr, err := NewReader("users_1.csv", bytes.NewReader(users), 0, schemas.UserRequired, "userid", nil)
		if err != nil {
			fileError(t, err)
			return
		}
		last := int64(1)
		err = Decode(rr, func(line int64, rec *schemas.UserRecord) error {
			if line <= last {
				t.Fatalf("row on line %d after line %d", line, last)
			}
			last = line
			u, rejects := CheckUser(rr, line, rec)
			if (u.Reject == "") != (len(rejects) == 0) {
				t.Fatalf("reject %q with %d rejects", u.Reject, len(rejects))
			}
			if u.Reject == "" && (u.UserID == "" || !schemas.ValidEmail(u.Email) || u.FirstName == "" || u.LastName == "" || u.UserName == "") {
				t.Fatalf("invalid row accepted: %+v", u)
			}
			return nil
		})
		if err != nil {
			fileError(t, err)
		}
		for _, d := range rr.damaged {
			if d.Line < 2 || d.Column < 1 || d.Reason == "" {
				t.Fatalf("damaged row without its place: %+v", d)
			}
		}
	})
}

func fileError(t *testing.T, err error) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != "users_1.csv" || fe.Line < 1 || fe.Column < 1 {
		t.Fatalf("error %v (%T) does not name users_1.csv:line:column", err, err)
	}
}
