// Package contract holds the names that both sides of the SCIM wire, and
// the config, must spell alike: the target profiles and the schema URNs of
// the resources condeco-sync writes. It imports nothing, so the sandbox (a
// server) and the loader (a client) agree without one importing the other.
package contract

// Profiles (scim.profile): how locations and access reach the target.
const (
	ProfileSCIM2   = "scim2"   // any SCIM 2.0 server: locations are Groups, access is membership
	ProfileVisitor = "visitor" // Eptura Visitor as the sandbox models it: access travels on the user
	// ProfileVisitorGeneric is Eptura Visitor's public "Generic SCIM"
	// API: /Users only, core attributes only; the tenant places users by
	// the city of their address.
	ProfileVisitorGeneric = "visitor-generic"
)

// Profiles lists the profiles, for messages.
var Profiles = []string{ProfileVisitor, ProfileVisitorGeneric, ProfileSCIM2}

// Schema URNs of the resources condeco-sync writes.
const (
	SchemaUser = "urn:ietf:params:scim:schemas:core:2.0:User"
	// SchemaCore10 is the core schema Eptura Visitor's public API names
	// (SCIM 1.0): visitor-generic's default scim.core_schema.
	SchemaCore10     = "urn:scim:schemas:core:1.0"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	// SchemaLocation is the schema of a /Locations resource (visitor
	// profile): displayName, externalId (the LocationID), address,
	// timeZone, active.
	SchemaLocation = "urn:condeco-sync:scim:schemas:visitor:1.0:Location"
	// DefaultExtension is the URN of the visitor profile's user extension
	// (scim.extension): defaultLocation, locations, sendInvitation.
	DefaultExtension = "urn:condeco-sync:scim:schemas:extension:visitor:1.0:User"
)

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
	return path != "" && (len(path) < len(SchemaEnterprise) || path[:len(SchemaEnterprise)] != SchemaEnterprise)
}
