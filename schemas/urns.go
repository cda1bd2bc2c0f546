package schemas

// Schema URNs of the resources condeco-sync writes: the names both sides
// of the SCIM wire (the loader, a client; the sandbox, a server) and the
// config must spell alike.
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
