package load

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// progress reports a load as it goes: a line redrawn on a terminal, and a
// log line every logEvery, with the rate and the time left.
type progress struct {
	log   zerolog.Logger
	term  io.Writer
	total int
	start time.Time

	mu             sync.Mutex
	finished, fail int

	stopc chan struct{}
	wg    sync.WaitGroup
}

const (
	logEvery  = 5 * time.Second
	drawEvery = 250 * time.Millisecond
)

// newProgress starts reporting on a load of about total operations (the
// change set; memberships come on top).
func newProgress(log zerolog.Logger, term io.Writer, total int) *progress {
	p := &progress{log: log, term: term, total: total, start: time.Now(), stopc: make(chan struct{})}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *progress) add(e Entry) {
	p.mu.Lock()
	p.finished++
	if e.Outcome == OutcomeFailed {
		p.fail++
	}
	p.mu.Unlock()
}

func (p *progress) loop() {
	defer p.wg.Done()
	draw := time.NewTicker(drawEvery)
	defer draw.Stop()
	lastLog := time.Now()
	for {
		select {
		case <-p.stopc:
			p.report(true)
			return
		case <-draw.C:
			if time.Since(lastLog) >= logEvery {
				lastLog = time.Now()
				p.report(false)
			} else if p.term != nil {
				p.draw()
			}
		}
	}
}

// figures are the numbers both reports show.
func (p *progress) figures() (finished, failed int, rate float64, left time.Duration) {
	p.mu.Lock()
	finished, failed = p.finished, p.fail
	p.mu.Unlock()
	el := time.Since(p.start).Seconds()
	if el > 0 {
		rate = float64(finished) / el
	}
	if rate > 0 && finished < p.total {
		left = time.Duration(float64(p.total-finished) / rate * float64(time.Second)).Round(time.Second)
	}
	return
}

func (p *progress) draw() {
	n, failed, rate, left := p.figures()
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = min(width, n*width/p.total)
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.term, "\r[%s] %d/%d  %.0f ops/s  %s left  %d failed ", bar, n, p.total, rate, left, failed)
}

func (p *progress) report(final bool) {
	n, failed, rate, left := p.figures()
	if p.term != nil {
		p.draw()
		if final {
			fmt.Fprintln(p.term)
		}
	}
	msg := "load progress"
	if final {
		msg = "load finished sending"
	}
	p.log.Info().Int("done", n).Int("of", p.total).Int("failed", failed).Float64("ops_per_s", float64(int(rate*10))/10).
		Str("left", left.String()).Msg(msg)
}

func (p *progress) stop() {
	close(p.stopc)
	p.wg.Wait()
}
