package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/profile"
	"github.com/condeco-sync/condeco-sync/internal/test/scimmytest"
	"github.com/condeco-sync/condeco-sync/internal/test/targetcheck"
)

// mapping.users makes a profile's attributes from the row: title from
// Department and JobTitle, preferredLanguage lower-cased, a department
// from a lookup table. The values reach the target exactly, on SCIMMY
// (scim2) and on the sandbox (visitor). An expression that fails on one
// row (a Floor that is no number) holds that user only: it is not sent,
// and warnings.csv and the plan say why.
func TestMappingReachesTheTarget(t *testing.T) {
	users := "UserID,UserName,FirstName,LastName,Email,Language,Department,JobTitle,Floor,Location\n" +
		"1,ada@corp.com,Ada,L,ada@corp.com,en-GB,ENG,Engineer,2,LON\n" +
		"2,bob@corp.com,Bob,B,bob@corp.com,FR,SAL,Manager,5,LON\n" +
		"3,cy@corp.com,Cy,C,cy@corp.com,de,SAL,Clerk,mezzanine,LON\n"
	mapping := map[string]string{
		"title":             `Department + " " + JobTitle + " (floor " + string(int(Floor)) + ")"`,
		"preferredLanguage": `lower(Language)`,
		"department":        `coalesce(lookup("depts", Department), Department)`,
	}
	want := map[string][3]string{ // title, preferredLanguage, department
		"ada@corp.com": {"ENG Engineer (floor 2)", "en-gb", "Engineering"},
		"bob@corp.com": {"SAL Manager (floor 5)", "fr", "SAL"},
	}
	for _, target := range []struct {
		name    string
		start   func(t *testing.T) string
		profile string
		read    func(t *testing.T, url string) targetcheck.State
	}{
		{"scim2", func(t *testing.T) string { return scimServer(t).URL }, profile.SCIM2,
			func(t *testing.T, url string) targetcheck.State { return targetcheck.Read(t, url, scimmytest.Token) }},
		{"visitor", func(t *testing.T) string { return startSandbox(t, t.TempDir()) }, profile.Visitor,
			func(t *testing.T, url string) targetcheck.State {
				return targetcheck.ReadVisitor(t, url, scimmytest.Token)
			}},
	} {
		t.Run(target.name, func(t *testing.T) {
			url := target.start(t)
			f := loadFixture(t, url)
			f.env.Config.SCIM.Profile = target.profile
			f.env.Config.Guards.MinUsers = 1
			f.env.Config.Guards.MaxCreateFraction = 1 // day 2 creates one of two
			f.env.Config.Mapping.Users = mapping
			f.env.Config.Mapping.Tables = map[string]map[string]string{"depts": {"ENG": "Engineering"}}
			f.drop("20261123", users, "LocationID,Name\nLON,London\n")
			run := f.extract()
			must(t, Transform(f.env, run))
			must(t, Diff(f.env, run))
			must(t, Load(context.Background(), f.env, run, LoadOptions{Getenv: getenv}))
			got := target.read(t, url).Users
			if len(got) != 2 {
				t.Errorf("the target holds %d users, want the 2 whose mapping worked", len(got))
			}
			for _, u := range got {
				name, _ := u["userName"].(string)
				title, _ := u["title"].(string)
				lang, _ := u["preferredLanguage"].(string)
				ent, _ := u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
				dept, _ := ent["department"].(string)
				if w := want[name]; [3]string{title, lang, dept} != w {
					t.Errorf("%s: title %q, preferredLanguage %q, department %q; want %q", name, title, lang, dept, w)
				}
			}
			warnings := string(must2(os.ReadFile(filepath.Join(run.Dir, "transform", "warnings.csv"))))
			changes := string(must2(os.ReadFile(filepath.Join(run.Dir, "diff", "changes.csv"))))
			if !strings.Contains(warnings, "user,3,") || !strings.Contains(warnings, "mapping.users.title") ||
				!strings.Contains(changes, `user,3,,hold,,,"held: mapping.users.title: `) || strings.Contains(changes, "^") {
				t.Errorf("the failed mapping is not said:\n%s\n%s", warnings, changes)
			}

			// The next day the title is the JobTitle alone: a change of rules
			// that touches both users of the baseline, and the plan says so
			// (user 3, whose row now maps, is created).
			f.env.Config.Mapping.Users = map[string]string{"title": "JobTitle", "preferredLanguage": "lower(Language)",
				"department": `coalesce(lookup("depts", Department), Department)`}
			f.now = f.now.Add(24 * time.Hour)
			f.drop("20261124", users, "LocationID,Name\nLON,London\n")
			run = f.extract()
			must(t, Transform(f.env, run))
			must(t, Diff(f.env, run))
			summary := string(must2(os.ReadFile(filepath.Join(run.Dir, "diff", "summary.md"))))
			if !strings.Contains(summary, "Rules changed since the baseline's run (mapping): this plan changes 2 of its 2 users") {
				t.Errorf("the plan does not say the mapping changed:\n%s", summary)
			}
			if !strings.Contains(summary, `title: "ENG Engineer (floor 2)" → "Engineer"`) {
				t.Errorf("the plan does not show the title each user gets:\n%s", summary)
			}
		})
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
