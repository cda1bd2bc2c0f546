package load

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/scim"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// Retry policy: exponential backoff with jitter on timeouts, connection
// errors and 5xx; Retry-After on 429 and 503.
const (
	maxTries      = 6
	backoffBase   = 250 * time.Millisecond
	backoffMax    = 20 * time.Second
	retryAfterMax = 2 * time.Minute
	throttleWait  = time.Second // a 429 or 503 that names no wait
)

// sender sends one operation's requests with retries, under the loader's
// shared rate limit. A 429 or 503 pauses every worker for Retry-After and
// halves the request rate (once per pause: the answers of one burst count
// once); the rate then climbs back by 2% a success, up to scim.max_rps (or
// to no limit when it is 0).
type sender struct {
	log zerolog.Logger

	limiter *rate.Limiter
	ceiling rate.Limit // scim.max_rps, or rate.Inf

	mu         sync.Mutex
	pauseUntil time.Time
	recent     [64]time.Time // when the last requests were sent, a ring
	next       int

	throttled int // 429/503 answers, for the manifest
	retried   int
}

// ErrBudget is a request not sent because the load has sent
// scim.max_requests_per_run requests.
var ErrBudget = errors.New("the request budget of this load is spent")

// budget is a transport that counts the requests sent, every try and
// look-up counted, and with a max above 0 sends at most max of them,
// refusing the rest with ErrBudget: a tenant's quota of requests a day
// holds whatever the load meets.
type budget struct {
	next http.RoundTripper
	max  int64
	sent atomic.Int64
}

func (b *budget) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.sent.Add(1) > b.max && b.max > 0 {
		b.sent.Add(-1)
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, ErrBudget
	}
	return b.next.RoundTrip(r)
}

func newSender(maxRPS float64, log zerolog.Logger) *sender {
	ceiling := rate.Inf
	if maxRPS > 0 {
		ceiling = rate.Limit(maxRPS)
	}
	burst := max(1, int(math.Ceil(maxRPS)))
	return &sender{log: log, limiter: rate.NewLimiter(ceiling, burst), ceiling: ceiling}
}

// retryable reports whether err may go away if the request is sent again,
// and how long the server asked us to wait first.
func retryable(err error) (retry, throttle bool, wait time.Duration) {
	var se *scim.Error
	var p permanent
	if errors.As(err, &p) || errors.Is(err, ErrBudget) {
		return false, false, 0
	}
	if errors.As(err, &se) {
		switch {
		case se.Status == http.StatusTooManyRequests || se.Status == http.StatusServiceUnavailable:
			wait = se.RetryAfter
			if wait <= 0 {
				wait = throttleWait
			}
			return true, true, min(wait, retryAfterMax)
		case se.Status >= 500:
			return true, false, 0
		}
		return false, false, 0 // any other answer is the server's last word
	}
	if errors.Is(err, context.Canceled) {
		return false, false, 0
	}
	return true, false, 0 // no answer: timeout, refused or dropped connection
}

// answered reports whether err came with an answer from the server: if it
// did not, a request may have been carried out with its answer lost.
func answered(err error) bool {
	var se *scim.Error
	return err == nil || errors.As(err, &se)
}

// status is the HTTP status in err, 0 for none.
func status(err error) int {
	var se *scim.Error
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// do runs one request, fn, until it succeeds, fails for good or runs out
// of tries. fn learns whether an earlier try may have been carried out
// without an answer (lost: true from the start when an earlier attempt of
// the load may have sent it), so that a create can look before it sends
// again.
func (s *sender) do(ctx context.Context, lost bool, fn func(lost bool) error) (tries int, err error) {
	for tries = 1; ; tries++ {
		if err := s.wait(ctx); err != nil {
			return tries - 1, err
		}
		err = fn(lost)
		if err == nil {
			s.recover()
			return tries, nil
		}
		retry, throttle, wait := retryable(err)
		if !retry || tries == maxTries {
			return tries, err
		}
		lost = lost || !answered(err)
		s.mu.Lock()
		s.retried++
		s.mu.Unlock()
		if throttle {
			s.throttle(wait)
		} else {
			wait = backoff(tries)
		}
		s.log.Debug().Err(err).Int("try", tries).Str("wait", wait.String()).Msg("retrying")
		if err := sleep(ctx, wait); err != nil {
			return tries, err
		}
	}
}

// wait holds a request until any pause is over and the rate allows it.
func (s *sender) wait(ctx context.Context) error {
	s.mu.Lock()
	until := s.pauseUntil
	s.recent[s.next%len(s.recent)] = time.Now()
	s.next++
	s.mu.Unlock()
	if d := time.Until(until); d > 0 {
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	return s.limiter.Wait(ctx)
}

// throttle pauses every worker for wait and, unless a pause is already
// running, halves the rate.
func (s *sender) throttle(wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttled++
	now := time.Now()
	paused := now.Before(s.pauseUntil)
	if until := now.Add(wait); until.After(s.pauseUntil) {
		s.pauseUntil = until
	}
	if paused {
		return
	}
	cur := s.limiter.Limit()
	if cur == rate.Inf {
		cur = s.recentRate(now)
	}
	next := max(cur/2, 1)
	s.limiter.SetLimit(next)
	s.limiter.SetBurst(max(1, int(next)))
	s.log.Warn().Str("pause", wait.String()).Float64("rps", math.Round(float64(next))).Msg("the server asks us to slow down")
}

// recentRate is the rate of the last requests sent.
func (s *sender) recentRate(now time.Time) rate.Limit {
	n := min(s.next, len(s.recent))
	if n < 2 {
		return 1
	}
	oldest := s.recent[(s.next-n)%len(s.recent)]
	return rate.Limit(float64(n) / max(now.Sub(oldest).Seconds(), 0.001))
}

// recover raises a lowered rate by 2% after a success.
func (s *sender) recover() {
	cur := s.limiter.Limit()
	if cur == s.ceiling {
		return
	}
	next := cur * 1.02
	if next >= s.ceiling || (s.ceiling == rate.Inf && next > 10000) {
		next = s.ceiling
	}
	s.limiter.SetLimit(next)
	if next != rate.Inf {
		s.limiter.SetBurst(max(1, int(next)))
	}
}

// backoff is the wait before try n+1: exponential, with full jitter so that
// workers that failed together do not retry together.
func backoff(n int) time.Duration {
	d := min(backoffBase<<(n-1), backoffMax)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
