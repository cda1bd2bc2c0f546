package load

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// progress reports a load as it goes: a line redrawn on a terminal, and a
// log line every logEvery, with the rate and the time left. Operations
// (the plan's changes) and membership chunks (one PATCH each) are counted
// apart: done never exceeds of for either, and the time left covers both.
type progress struct {
	log   zerolog.Logger
	term  io.Writer
	start time.Time

	mu                 sync.Mutex
	ops, opsOf         int
	chunks, chunksOf   int
	failed             int
	opsTime, chunkTime time.Duration // spent on each kind so far
	lastMark           time.Time
	inChunks           bool

	stopc chan struct{}
	wg    sync.WaitGroup
}

const (
	logEvery  = 5 * time.Second
	drawEvery = 250 * time.Millisecond
)

// newProgress starts reporting on a load of ops operations; membership
// chunks are added as each phase counts them (addChunks).
func newProgress(log zerolog.Logger, term io.Writer, ops int) *progress {
	now := time.Now()
	p := &progress{log: log, term: term, opsOf: ops, start: now, lastMark: now, stopc: make(chan struct{})}
	p.wg.Add(1)
	go p.loop()
	return p
}

// addChunks adds n membership chunks to send.
func (p *progress) addChunks(n int) {
	p.mu.Lock()
	p.chunksOf += n
	p.mu.Unlock()
}

// add counts n operations (or, with chunk, one membership chunk) done.
func (p *progress) add(chunk bool, n int, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if chunk != p.inChunks { // the time since the last mark went to the other kind
		p.mark(now)
		p.inChunks = chunk
	}
	if chunk {
		p.chunks = min(p.chunks+1, p.chunksOf)
	} else {
		p.ops = min(p.ops+n, p.opsOf)
	}
	if failed {
		p.failed++
	}
}

func (p *progress) mark(now time.Time) {
	if p.inChunks {
		p.chunkTime += now.Sub(p.lastMark)
	} else {
		p.opsTime += now.Sub(p.lastMark)
	}
	p.lastMark = now
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

// figures are the numbers both reports show. The time left is each kind's
// remainder at its own rate so far; chunks not yet begun are reckoned at
// the rate of operations.
type figures struct {
	ops, opsOf, chunks, chunksOf, failed int
	rate                                 float64 // operations and chunks a second
	left                                 time.Duration
}

func (p *progress) figures() figures {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mark(time.Now())
	f := figures{ops: p.ops, opsOf: p.opsOf, chunks: p.chunks, chunksOf: p.chunksOf, failed: p.failed}
	if el := time.Since(p.start).Seconds(); el > 0 {
		f.rate = float64(f.ops+f.chunks) / el
	}
	per := func(done int, spent time.Duration) float64 {
		if done == 0 {
			return 0
		}
		return spent.Seconds() / float64(done)
	}
	opSec := per(f.ops, p.opsTime)
	chunkSec := per(f.chunks, p.chunkTime)
	if chunkSec == 0 {
		chunkSec = opSec
	}
	left := float64(f.opsOf-f.ops)*opSec + float64(f.chunksOf-f.chunks)*chunkSec
	f.left = time.Duration(left * float64(time.Second)).Round(time.Second)
	return f
}

func (p *progress) draw() {
	f := p.figures()
	const width = 30
	filled := 0
	if all := f.opsOf + f.chunksOf; all > 0 {
		filled = min(width, (f.ops+f.chunks)*width/all)
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.term, "\r[%s] %d/%d operations  %d/%d membership PATCHes  %s left  %d failed ", bar, f.ops, f.opsOf, f.chunks, f.chunksOf, f.left, f.failed)
}

func (p *progress) report(final bool) {
	f := p.figures()
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
	p.log.Info().Int("done", f.ops).Int("of", f.opsOf).Int("membership_done", f.chunks).Int("membership_of", f.chunksOf).
		Int("failed", f.failed).Float64("per_s", float64(int(f.rate*10))/10).Str("left", f.left.String()).Msg(msg)
}

func (p *progress) stop() {
	close(p.stopc)
	p.wg.Wait()
}
