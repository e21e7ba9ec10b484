// Package api is what hooks see of an instrumented call.
//
// An onEnter hook has the signature
//
//	func(call *api.CallContext, recv R, p1 P1, ...)
//
// (receiver first for methods, then the parameters in declaration order; a variadic parameter arrives
// as its slice, a value whose type mentions a type parameter arrives as any). An onExit hook has
//
//	func(call *api.CallContext, r0 R0, r1 R1, ...)
//
// A hook may declare any parameter as any. The CallContext, and the parameter and result addresses it
// holds, live in the frame of the instrumented call: a hook must not keep the CallContext after it
// returns. Whether a hook does is read from the compiler's escape analysis at build time, so a hook
// that keeps it costs an allocation per call instead of corrupting memory.
package api

import (
	"fmt"
	"os"
	"reflect"
	"sync"
	_ "unsafe" // for go:linkname
)

// CallContext is one call of an instrumented function.
//
// Its layout is mirrored by the code generated into each instrumented package (the standard library
// cannot import this package); keep the two in step (see trampoline.py).
//
// It is four words, zeroed on every instrumented call: what only some hooks read (parameter and
// result slots, names) is behind frame, set only for the calls whose hooks read it.
type CallContext struct {
	skip  bool
	data  any
	frame *callFrame
}

type callFrame struct {
	params   []any // pointers to the receiver and parameters, in declaration order
	results  []any // pointers to the results
	funcName string
	pkgName  string
}

// NewCallContext builds a CallContext outside of an instrumented call, for testing hooks.
// params and results hold pointers to the values (for example &req).
func NewCallContext(pkgName, funcName string, params, results []any) *CallContext {
	return &CallContext{frame: &callFrame{params: params, results: results, funcName: funcName, pkgName: pkgName}}
}

// noFrame is the frame of a call whose hooks read none of it.
var noFrame callFrame

func frameOf(c *CallContext) *callFrame {
	if c.frame == nil {
		return &noFrame
	}
	return c.frame
}

// SetSkipCall, from onEnter, skips the original function body: the caller gets the results set with
// SetReturnVal (zero values otherwise). onExit hooks still run.
func (c *CallContext) SetSkipCall(skip bool) { c.skip = skip }

// IsSkipCall reports whether an onEnter hook asked to skip the call.
func (c *CallContext) IsSkipCall() bool { return c.skip }

// SetData keeps a value from onEnter for onExit of the same call.
func (c *CallContext) SetData(v any) { c.data = v }

// GetData returns the value SetData kept, or nil.
func (c *CallContext) GetData() any { return c.data }

// GetFuncName returns the instrumented function's name, for methods "Type.Method".
func (c *CallContext) GetFuncName() string { return frameOf(c).funcName }

// GetPackageName returns the import path of the instrumented function's package.
func (c *CallContext) GetPackageName() string { return frameOf(c).pkgName }

// ParamCount returns the number of parameters, the receiver included.
func (c *CallContext) ParamCount() int { return len(frameOf(c).params) }

// ReturnValCount returns the number of results.
func (c *CallContext) ReturnValCount() int { return len(frameOf(c).results) }

// GetParam returns parameter i (the receiver is 0 for methods), or nil when out of range.
func (c *CallContext) GetParam(i int) any { return load(frameOf(c).params, i) }

// SetParam replaces parameter i before the function body runs. It panics (and the trampoline
// recovers, dropping the rest of the hook, and reports it once on stderr) when v is not assignable
// to the parameter's type.
func (c *CallContext) SetParam(i int, v any) { store(frameOf(c).params, i, v, "SetParam") }

// GetReturnVal returns result i, or nil when out of range.
func (c *CallContext) GetReturnVal(i int) any { return load(frameOf(c).results, i) }

// SetReturnVal replaces result i: from onExit it changes what the caller gets, from onEnter with
// SetSkipCall(true) it is what the skipped call returns.
func (c *CallContext) SetReturnVal(i int, v any) { store(frameOf(c).results, i, v, "SetReturnVal") }

func load(slots []any, i int) any {
	if i < 0 || i >= len(slots) {
		return nil
	}
	return reflect.ValueOf(slots[i]).Elem().Interface()
}

func store(slots []any, i int, v any, what string) {
	if i < 0 || i >= len(slots) {
		panic(fmt.Sprintf("otel-go-autoinst: %s(%d): index out of range [0,%d)", what, i, len(slots)))
	}
	dst := reflect.ValueOf(slots[i]).Elem()
	if v == nil {
		dst.SetZero()
		return
	}
	val := reflect.ValueOf(v)
	if !val.Type().AssignableTo(dst.Type()) {
		panic(fmt.Sprintf("otel-go-autoinst: %s(%d): a %s is not assignable to %s", what, i, val.Type(), dst.Type()))
	}
	dst.Set(val)
}

// panicked holds the hooks whose panic was reported (hook name -> struct{}).
var panicked sync.Map

// hookPanicked reports, on stderr and once per hook, that a hook panicked; the trampoline that
// called it has recovered and the instrumented call goes on as if the hook were absent. It is
// called only on that path, by the code generated into each instrumented package (the standard
// library's too, which cannot import this package: it reaches this function by //go:linkname).
//
//go:linkname hookPanicked
func hookPanicked(hook string, value any) {
	if _, seen := panicked.LoadOrStore(hook, struct{}{}); seen {
		return
	}
	fmt.Fprintf(os.Stderr, "otel-go-autoinst: hook %s panicked: %v (further panics of this hook are not logged)\n", hook, value)
}
