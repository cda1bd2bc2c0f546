// Package profile says what each kind of target (scim.profile) is: the
// names the config, the diff and the loader share.
package profile

import (
	"strings"

	"github.com/condeco-sync/condeco-sync/schemas"
)

// Profiles (scim.profile): how locations and access reach the target.
const (
	SCIM2   = "scim2"   // any SCIM 2.0 server: locations are Groups, access is membership
	Visitor = "visitor" // Eptura Visitor as the sandbox models it: access travels on the user
	// VisitorGeneric is Eptura Visitor's public "Generic SCIM" API: /Users
	// only, core attributes only; the tenant places users by the city of
	// their address.
	VisitorGeneric = "visitor-generic"
)

// Names lists the profiles, for messages.
var Names = []string{Visitor, VisitorGeneric, SCIM2}

// Wire sizes the plan's request count and the loader share.
const (
	// MemberChunk is how many members one PATCH of a group adds or
	// removes (scim2 profile).
	MemberChunk = 2000
	// BulkChunk is how many creates one /Bulk request carries at most.
	BulkChunk = 100
	// AdminGroupSuffix ends the key (externalId) of a location's admin
	// group: "LON:admins" (scim2 profile).
	AdminGroupSuffix = ":admins"
)

// GenericSends reports whether the visitor-generic profile sends the
// user attribute at path: the public API documents the core attributes,
// not the enterprise extension's.
func GenericSends(path string) bool {
	return path != "" && !strings.HasPrefix(path, schemas.SchemaEnterprise)
}
