package schemas

// UnmarshalCSVWithFields is gocsv's per-cell hook (TypeUnmarshalCSVWithFields):
// with it gocsv hands each cell over with its header, and the field is set
// here instead of through reflection, which was a third of decoding an
// export. header is the lower-cased header gocsv matched; a column of no
// field is ignored, as gocsv ignores it without the hook.
// TestRecordsDecodeEveryTag proves every csv tag has its case.
func (r *UserRecord) UnmarshalCSVWithFields(header, value string) error {
	switch header {
	case "userid":
		r.UserID = value
	case "username":
		r.UserName = value
	case "firstname":
		r.FirstName = value
	case "lastname":
		r.LastName = value
	case "email":
		r.Email = value
	case "telephone":
		r.Telephone = value
	case "mobile":
		r.Mobile = value
	case "country":
		r.Country = value
	case "location":
		r.Location = value
	case "group":
		r.Group = value
	case "floor":
		r.Floor = value
	case "language":
		r.Language = value
	case "department":
		r.Department = value
	case "costcode":
		r.CostCode = value
	case "jobtitle":
		r.JobTitle = value
	case "accesslevel":
		r.AccessLevel = value
	case "usertype":
		r.UserType = value
	case "active":
		r.Active = value
	case "deleted":
		r.Deleted = value
	case "sso":
		r.SSO = value
	}
	return nil
}

// UnmarshalCSVWithFields: see UserRecord's.
func (r *LocationRecord) UnmarshalCSVWithFields(header, value string) error {
	switch header {
	case "locationid":
		r.LocationID = value
	case "name":
		r.Name = value
	case "country":
		r.Country = value
	case "region":
		r.Region = value
	case "city":
		r.City = value
	case "address":
		r.Address = value
	case "postalcode":
		r.PostalCode = value
	case "timezone":
		r.TimeZone = value
	case "active":
		r.Active = value
	}
	return nil
}
