package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/gofrs/flock"
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

// Busy reports who holds the data directory's lock, if another process
// does: the process that is running a stage now. Only asked when
// <data>/lock.holder is there (a process said it holds the lock, or one
// that held it was killed): taking the lock for an instant could
// otherwise turn away a run starting at that very moment.
func Busy(data string) *Holder {
	b, err := os.ReadFile(filepath.Join(data, "lock.holder"))
	if err != nil {
		return nil
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil {
		return nil
	}
	lock := flock.New(filepath.Join(data, "lock"))
	ok, err := lock.TryLock()
	if err != nil {
		return nil
	}
	if ok {
		lock.Unlock() // a holder that was killed: nobody runs now
		return nil
	}
	return &h
}

// Lock takes the data directory's lock for command, so that two processes
// never work on the same data at once. The lock is the operating system's
// on <data>/lock (flock on Unix, LockFileEx on Windows): it is released
// when the process dies, so a crash leaves no stale lock behind. Who holds
// it is written to <data>/lock.holder, a file of its own since Windows
// keeps others from reading a locked file. The returned func releases it.
func Lock(data, command string, now time.Time) (unlock func(), err error) {
	if err := artifact.MkdirAll(data); err != nil {
		return nil, err
	}
	// A folder that was there before (made by hand, or by an older
	// version) keeps its mode: it holds personal data, so it is made 0700
	// as a new one is. status says so where this cannot be done.
	if fi, err := os.Stat(data); err == nil && artifact.OpenToOthers(fi) {
		os.Chmod(data, artifact.DirPerm)
	}
	lock := flock.New(filepath.Join(data, "lock"), flock.SetPermissions(artifact.FilePerm))
	holderPath := filepath.Join(data, "lock.holder")
	ok, err := lock.TryLock()
	if err != nil {
		return nil, err
	}
	if !ok {
		le := &LockedError{Dir: data}
		var h Holder
		if b, rerr := os.ReadFile(holderPath); rerr == nil && json.Unmarshal(b, &h) == nil {
			le.Holder = h
		}
		return nil, le
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Command: command, Since: now.UTC()})
	if err := artifact.WriteBytes(holderPath, append(b, '\n')); err != nil {
		lock.Unlock()
		return nil, err
	}
	return func() {
		os.Remove(holderPath)
		lock.Unlock()
	}, nil
}
