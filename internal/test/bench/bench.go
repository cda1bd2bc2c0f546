// Package bench holds what the benchmarks share: the size knob and the
// process's peak resident memory (Linux: the kernel's high-water mark, not
// a sample), for the memory targets.
package bench

import (
	"os"
	"strconv"
	"strings"
)

// Users is the number of users a benchmark generates: def, or
// $BENCH_USERS to try other sizes.
func Users(def int) int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_USERS")); err == nil && n > 0 {
		return n
	}
	return def
}

// ResetPeakRSS sets the high-water mark back to the current resident memory
// (writing 5 to /proc/self/clear_refs).
func ResetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakRSSMB is VmHWM, the peak resident memory since the last
// ResetPeakRSS, in MB; 0 where /proc is not there.
func PeakRSSMB() float64 { return statusMB("VmHWM:") }

// RSSMB is VmRSS, the resident memory now, in MB. A benchmark that
// measures part of a process reports it at the start, so its peak can be
// read against it.
func RSSMB() float64 { return statusMB("VmRSS:") }

// statusMB is the line of /proc/self/status that starts with key, in MB.
func statusMB(key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}
