package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
)

// Holder is who holds the data directory's lock, written into the lock file
// so that a second process can say whom it is waiting for.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// LockedError says that another process works on the data directory.
type LockedError struct {
	Dir    string
	Holder Holder
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("data directory %s is in use by another condeco-sync process", e.Dir)
	}
	return fmt.Sprintf("data directory %s is in use by condeco-sync %s (pid %d on %s, since %s)",
		e.Dir, h.Command, h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
}

// Lock takes the data directory's lock for command, so that two processes
// never work on the same data at once. The lock is an flock on <data>/lock:
// the kernel releases it when the process dies, so a crash leaves no stale
// lock behind. The returned func releases it.
func Lock(data, command string, now time.Time) (unlock func(), err error) {
	if err := artifact.MkdirAll(data); err != nil {
		return nil, err
	}
	// A folder that was there before (made by hand, or by an older
	// version) keeps its mode: it holds personal data, so it is made 0700
	// as a new one is. status says so where this cannot be done.
	if fi, err := os.Stat(data); err == nil && fi.Mode().Perm()&0o077 != 0 {
		os.Chmod(data, artifact.DirPerm)
	}
	path := filepath.Join(data, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, artifact.FilePerm)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Dir: data}
			var h Holder
			if b, rerr := os.ReadFile(path); rerr == nil && json.Unmarshal(b, &h) == nil {
				le.Holder = h
			}
			return nil, le
		}
		return nil, err
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Command: command, Since: now.UTC()})
	f.Truncate(0)
	f.WriteAt(append(b, '\n'), 0)
	f.Sync()
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
