package fasthttp

import (
	"reflect"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestJudgedServerIsLeftToTheProgram(t *testing.T) {
	handler := func(*fasthttp.RequestCtx) {}
	own, plain := &fasthttp.Server{Handler: handler}, &fasthttp.Server{Handler: handler}
	calls := 0
	JudgeOnce(own, func() bool { calls++; return true })
	JudgeOnce(own, func() bool { calls++; return false }) // judged already: not asked again
	JudgeOnce(plain, func() bool { return false })
	if calls != 1 {
		t.Fatalf("own judged %d times, want once", calls)
	}
	wrapServer(own)
	wrapServer(plain)
	if funcName(own.Handler) == wrapperName {
		t.Error("the Server the program instruments itself was wrapped")
	}
	if funcName(plain.Handler) != wrapperName {
		t.Errorf("a Server judged not instrumented was left unwrapped (%s, not %s)", funcName(plain.Handler), wrapperName)
	}
}

// A Server served again (Serve, ServeConn once per Fiber app.Test) keeps its one wrapper.
func TestServerIsWrappedOnce(t *testing.T) {
	s := &fasthttp.Server{Handler: func(*fasthttp.RequestCtx) {}}
	wrapServer(s)
	first := reflect.ValueOf(s.Handler).Pointer()
	wrapServer(s)
	if funcName(s.Handler) != wrapperName || reflect.ValueOf(s.Handler).Pointer() != first {
		t.Fatal("the Server's Handler was wrapped again")
	}
}
