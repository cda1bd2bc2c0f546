// Package test holds what the tests and benchmarks share, one package a
// job: exportgen (generated exports), faultproxy (a proxy that fails and
// lies), scimmytest (the SCIMMY server the integration tests talk to),
// targetcheck (a server read back and compared with a run), loadtest (a
// server that only answers, for timing) and bench (measuring helpers).
// No program of condeco-sync imports any of them.
//
// Its own test checks the layout of the module: that no import climbs.
package test
