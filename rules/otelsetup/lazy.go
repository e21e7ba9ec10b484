package otelsetup

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The states of a lazyProcessor.
const (
	lazyIdle     int32 = iota // nothing started yet
	lazyStarting              // the first sampled span ended; its goroutine is building the pipeline
	lazyStarted               // the pipeline exists (possibly empty: nothing to export to)
	lazyStopped               // shut down before anything was started: nothing will be
)

// maxPending bounds the spans kept while the pipeline is being built (the batch span processor's
// default queue size): spans beyond it are dropped, as a full queue drops them.
const maxPending = 2048

// lazyProcessor is the TracerProvider's span processor. It starts nothing until a sampled span
// ends: then, exactly once, it builds the export pipeline (exporters, batch span processors, the
// flush on signals) and hands it that span and every later one.
//
// OnEnd never blocks on the build: the goroutine whose span triggered it builds (and so a span
// ended during the build, even on that goroutine, cannot deadlock); spans that end meanwhile on
// other goroutines wait in a bounded list and are handed over once the pipeline exists.
// Shutdown and ForceFlush wait for a build under way (within their context) and then flush.
type lazyProcessor struct {
	build func() []sdktrace.SpanProcessor // called at most once

	state atomic.Int32
	procs atomic.Pointer[[]sdktrace.SpanProcessor] // set once, when the build is done
	ready chan struct{}                            // closed when procs is set

	mu      sync.Mutex // guards pending, and the publication of procs against it
	pending []sdktrace.ReadOnlySpan
}

var _ sdktrace.SpanProcessor = (*lazyProcessor)(nil)

func newLazyProcessor(build func() []sdktrace.SpanProcessor) *lazyProcessor {
	return &lazyProcessor{build: build, ready: make(chan struct{})}
}

// OnStart is called when a span starts: the batch span processor does nothing then, and the span
// is not yet known to be worth exporting, so nothing is started.
func (p *lazyProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if procs := p.procs.Load(); procs != nil {
		for _, q := range *procs {
			q.OnStart(parent, s)
		}
	}
}

// OnEnd hands a sampled span to the pipeline, starting the pipeline first if this is the first.
func (p *lazyProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if s == nil || !s.SpanContext().IsSampled() {
		return // never exported: no reason to start anything
	}
	if procs := p.procs.Load(); procs != nil {
		handOver(*procs, s)
		return
	}
	if p.state.CompareAndSwap(lazyIdle, lazyStarting) {
		p.start(s)
		return
	}
	p.mu.Lock()
	procs := p.procs.Load()
	if procs == nil {
		if p.state.Load() == lazyStarting && len(p.pending) < maxPending {
			p.pending = append(p.pending, s)
		}
		// lazyStopped: shut down before any span was exported; the span goes nowhere.
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	handOver(*procs, s)
}

// start builds the pipeline, publishes it and hands it first and the spans that ended meanwhile.
func (p *lazyProcessor) start(first sdktrace.ReadOnlySpan) {
	defer close(p.ready)
	procs := p.safeBuild()
	p.mu.Lock()
	p.procs.Store(&procs)
	pending := p.pending
	p.pending = nil
	p.state.Store(lazyStarted)
	p.mu.Unlock()
	handOver(procs, first)
	for _, s := range pending {
		handOver(procs, s)
	}
}

// safeBuild is build, with a panic turned into an empty pipeline (tracing goes on, unexported).
func (p *lazyProcessor) safeBuild() (procs []sdktrace.SpanProcessor) {
	defer func() {
		if r := recover(); r != nil {
			logf("starting the span export failed, spans are not exported: %v", r)
			procs = nil
		}
	}()
	return p.build()
}

func handOver(procs []sdktrace.SpanProcessor, s sdktrace.ReadOnlySpan) {
	for _, q := range procs {
		q.OnEnd(s)
	}
}

// wait waits for the build under way (or done) and returns the pipeline.
func (p *lazyProcessor) wait(ctx context.Context) ([]sdktrace.SpanProcessor, error) {
	select {
	case <-p.ready:
		return *p.procs.Load(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Shutdown flushes and stops the pipeline if it was started; if not, it makes sure it never is.
func (p *lazyProcessor) Shutdown(ctx context.Context) error {
	if p.state.CompareAndSwap(lazyIdle, lazyStopped) || p.state.Load() == lazyStopped {
		return nil
	}
	procs, err := p.wait(ctx)
	for _, q := range procs {
		err = errors.Join(err, q.Shutdown(ctx))
	}
	return err
}

// ForceFlush exports what the pipeline holds, if it was started. A processor never started stays
// so: a flush with nothing to export starts nothing (a later span still can).
func (p *lazyProcessor) ForceFlush(ctx context.Context) error {
	switch p.state.Load() {
	case lazyIdle, lazyStopped:
		return nil
	}
	procs, err := p.wait(ctx)
	for _, q := range procs {
		err = errors.Join(err, q.ForceFlush(ctx))
	}
	return err
}
