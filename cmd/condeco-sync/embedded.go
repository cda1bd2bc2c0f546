package main

// A release runs where the machine may have neither a time zone database
// (Windows without Go, a container FROM scratch) nor CA certificates (the
// container): both are compiled in, and used only where the system has
// none. schedule.timezone and a TLS connection to the tenant then work
// the same everywhere.
import (
	_ "time/tzdata"

	_ "golang.org/x/crypto/x509roots/fallback"
)
