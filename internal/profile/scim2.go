package profile

// scim2 is any SCIM 2.0 service provider: users with externalId and the
// enterprise extension; each location a Group, with a second Group of its
// admins; access is membership of them, changed in PATCHes of up to
// MemberChunk members. Nothing is left to do by hand.
var scim2 = Traits{
	Name:        SCIM2,
	ExternalID:  true,
	Enterprise:  true,
	Locations:   "Groups",
	AdminGroups: true,
	Access:      ByGroups,
}
