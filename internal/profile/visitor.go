package profile

// visitor is Eptura Visitor as condeco-sync's sandbox models it (no
// public Eptura document describes it): users with externalId, the
// enterprise extension and the visitor extension (scim.extension:
// defaultLocation, locations with a role, sendInvitation); the userName is
// the primary work email; locations at /Locations when the target lists
// it. Access travels on the user, so an update that changes it, and an
// adoption, read the user first: what a person granted in the tenant is
// kept (rule 5). Eptura's published throttle applies.
var visitor = Traits{
	Name:            Visitor,
	ExternalID:      true,
	EmailIsUserName: true,
	Enterprise:      true,
	Locations:       "Locations",
	Access:          OnUser,
	ReadsForAccess:  true,
	ReadsToAdopt:    true,
	DefaultRPM:      EpturaRPM,
}
