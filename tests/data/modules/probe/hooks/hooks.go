//go:build otelautoinst

// Package hooks records what the instrumented calls look like: every hook prints a "HOOK:" line on
// stdout, interleaved with the program's own "OUT:" lines.
package hooks

import (
	"errors"
	"fmt"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"

	"example.com/probe/target"
)

func say(format string, args ...any) { fmt.Printf("HOOK: "+format+"\n", args...) }

func greetEnter(call *api.CallContext, g *target.Greeter, who string) {
	say("greetEnter recv=%s who=%s func=%s pkg=%s params=%d results=%d p0=%T p1=%v",
		g.Name, who, call.GetFuncName(), call.GetPackageName(), call.ParamCount(), call.ReturnValCount(),
		call.GetParam(0), call.GetParam(1))
}

func greetExit(call *api.CallContext, r0 any, r1 error) {
	say("greetExit r0=%v r1=%v get0=%v", r0, r1, call.GetReturnVal(0))
}

func helloEnter(call *api.CallContext, g target.Greeter) {
	say("helloEnter recv=%s func=%s p0=%T", g.Name, call.GetFuncName(), call.GetParam(0))
}

// misuseEnter and misuseExit hand the CallContext values of the wrong type: the CallContext panics,
// the trampoline recovers, and the call goes on as if the hooks were absent.
func misuseEnter(call *api.CallContext, s string) {
	call.SetParam(0, 42)
	say("misuseEnter not reached")
}

func misuseExit(call *api.CallContext, r0 string) {
	call.SetReturnVal(0, 3.5)
	say("misuseExit not reached")
}

func addEnter(call *api.CallContext, a, b int) {
	say("addEnter a=%d b=%d", a, b)
	call.SetParam(1, 40)
}

func computeEnter(call *api.CallContext, x int) {
	if x == 42 {
		call.SetReturnVal(0, -1)
		call.SetReturnVal(1, errors.New("skipped"))
		call.SetSkipCall(true)
	}
}

func computeExit(call *api.CallContext, r0 int, r1 error) {
	say("computeExit r0=%d r1=%v skip=%v", r0, r1, call.IsSkipCall())
}

func doubleExit(call *api.CallContext, r0 int) {
	call.SetReturnVal(0, r0+1000)
}

func carryEnter(call *api.CallContext, x int) {
	call.SetData(fmt.Sprintf("token-%d", x))
}

func carryExit(call *api.CallContext, r0 int) {
	say("carryExit data=%v r0=%d", call.GetData(), r0)
}

func fragileEnter(call *api.CallContext, s string) {
	panic("fragileEnter panics")
}

func fragileExit(call *api.CallContext, r0 string) {
	var m map[string]int
	m["nil map"] = 1 // a runtime panic
}

func outerEnter(call *api.CallContext, s string) { say("outerEnter") }

func outerExit(call *api.CallContext, r0 string) {
	say("outerExit r0=%s", r0)
	call.SetReturnVal(0, r0+"+outer")
}

func innerEnter(call *api.CallContext, s string) { say("innerEnter") }

func innerExit(call *api.CallContext, r0 string) {
	say("innerExit r0=%s", r0)
	call.SetReturnVal(0, r0+"+inner")
}

func maxEnter(call *api.CallContext, a, b any) {
	say("maxEnter a=%v b=%v get0=%v get1=%v", a, b, call.GetParam(0), call.GetParam(1))
	if a == any(3) {
		call.SetParam(0, 100)
	}
}

func maxExit(call *api.CallContext, r0 any) {
	say("maxExit r0=%v get0=%v", r0, call.GetReturnVal(0))
	if s, ok := r0.(string); ok {
		call.SetReturnVal(0, s+"!")
	}
}

func swapEnter(call *api.CallContext, b any, v any) {
	say("swapEnter recv=%T v=%v get1=%v", b, v, call.GetParam(1))
	if v == any("second") {
		call.SetParam(1, "second-hooked")
	}
}

func swapExit(call *api.CallContext, r0 any) {
	say("swapExit r0=%v", call.GetReturnVal(0))
	if n, ok := r0.(int); ok {
		call.SetReturnVal(0, n+10)
	}
}

func sumEnter(call *api.CallContext, prefix string, nums []int) {
	say("sumEnter prefix=%s nums=%v type=%T", prefix, nums, call.GetParam(1))
	call.SetParam(1, append(nums, 4))
}

func unnamedEnter(call *api.CallContext, blank int, s string) {
	say("unnamedEnter blank=%d s=%s get0=%v", blank, s, call.GetParam(0))
}

func unnamedExit(call *api.CallContext, r0 int, r1 string) {
	say("unnamedExit r0=%d r1=%s", r0, r1)
	call.SetReturnVal(0, r0*10)
}

func boomEnter(call *api.CallContext, n int) { say("boomEnter n=%d", n) }

func boomExit(call *api.CallContext, r0 int) { say("boomExit r0=%d", r0) }

func whereExit(call *api.CallContext, file string, line int) { say("whereExit line=%d", line) }

// wrongMaxEnter declares the type-parameter-typed values of Max as int: they must be any.
func wrongMaxEnter(call *api.CallContext, a, b int) {}

// wrongGreetEnter does not match (*Greeter).Greet: only the bad-input tests name it.
func wrongGreetEnter(call *api.CallContext, g target.Greeter, who int) {}
