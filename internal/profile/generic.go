package profile

import "github.com/condeco-sync/condeco-sync/schemas"

// generic is Eptura Visitor's public "Generic SCIM" API, and only what it
// documents (https://api.proxyclick.com/scim/v1): /Users, the core
// attributes, userName equal to the work email, no externalId (a user is
// its userName: the applied state's map from UserID to SCIM id is the
// key), and the city of the user's home location in addresses, by which
// the tenant's multi-location mapping places the user. Locations, access
// and admin rights are the Superuser's to set in the tenant (the to-do
// list), and the tenant sends its own invitations. The public sample
// names SCIM 1.0's core schema, so the wire is SCIM 1.1 unless
// scim.core_schema says otherwise; the server may publish no
// configuration. Eptura's published throttle applies.
var generic = Traits{
	Name:            VisitorGeneric,
	EmailIsUserName: true,
	City:            true,
	Access:          ByHand,
	TenantInvites:   true,
	ConfigOptional:  true,
	CoreSchema:      schemas.SchemaCore10,
	DefaultRPM:      EpturaRPM,
}
