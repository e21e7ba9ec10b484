package nethttp

import (
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
)

// A program that instruments its HTTP server itself (the server's Handler is otelhttp's, or a
// router whose global middleware is otelgin's, otelecho's or otelmux's) gets its SERVER span from
// that instrumentation; ours would be a second SERVER span, its parent. serverOnEnter then stands
// aside: no span, no context, no metrics of ours for the requests of that server (the router rule
// sets, which only rename our span, then find none and do nothing).

// ownPackages are the packages of OpenTelemetry's own HTTP server instrumentation.
var ownPackages = []string{
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin",
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho",
	"go.opentelemetry.io/contrib/instrumentation/github.com/gorilla/mux/otelmux",
}

// routerMiddleware names, per router type, the fields holding the middleware every request of
// that router runs (gin's RouterGroup.Handlers, promoted to the Engine; echo's pre-routing and
// routed middleware; gorilla/mux's middlewares). Their elements are funcs, or interfaces of funcs.
var routerMiddleware = map[string][]string{
	"github.com/gin-gonic/gin.Engine":  {"Handlers"},
	"github.com/labstack/echo/v4.Echo": {"premiddleware", "middleware"},
	"github.com/gorilla/mux.Router":    {"middlewares"},
}

// ownVerdicts caches userInstrumented's verdict per handler: the handler itself when it is a
// pointer (its identity; the map holds it, so as many entries as the program has servers'
// handlers), its type and code when it is a func (funcKey), else its type alone.
var ownVerdicts sync.Map

type funcKey struct {
	t  reflect.Type
	pc uintptr
}

var serverPtrType = reflect.TypeOf((*http.Server)(nil))

// serverOf returns the *http.Server of net/http's serverHandler (a struct of one field, srv),
// nil when sh is not one.
func serverOf(sh any) *http.Server {
	v := reflect.ValueOf(sh)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || v.NumField() != 1 || v.Field(0).Type() != serverPtrType {
		return nil
	}
	return (*http.Server)(v.Field(0).UnsafePointer()) // read only: the field is unexported
}

// userInstrumented reports whether handler, a server's Handler, makes the request's SERVER span
// itself with OpenTelemetry's instrumentation. Reflection runs once per handler (cached).
func userInstrumented(handler http.Handler) bool {
	if handler == nil {
		return false // DefaultServeMux
	}
	v := reflect.ValueOf(handler)
	var key any
	switch v.Kind() {
	case reflect.Pointer:
		key = handler
	case reflect.Func: // otelhttp.NewHandler's is an http.HandlerFunc: its code is what counts
		key = funcKey{v.Type(), v.Pointer()}
	default:
		key = v.Type()
	}
	if verdict, ok := ownVerdicts.Load(key); ok {
		return verdict.(bool)
	}
	own := inspectHandler(v)
	ownVerdicts.Store(key, own)
	return own
}

// inspectHandler does userInstrumented's work; any panic of reflection means "not instrumented".
func inspectHandler(v reflect.Value) (own bool) {
	defer func() {
		if recover() != nil {
			own = false
		}
	}()
	base := v.Type()
	if base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	if isOwn(base.PkgPath()) { // a handler type of the instrumentation itself
		return true
	}
	if v.Kind() == reflect.Func {
		return ownFunc(v)
	}
	fields := routerMiddleware[base.PkgPath()+"."+base.Name()]
	if fields == nil || v.Kind() != reflect.Pointer || v.IsNil() || base.Kind() != reflect.Struct {
		return false
	}
	s := v.Elem()
	for _, name := range fields {
		f := s.FieldByName(name)
		if f.Kind() != reflect.Slice {
			continue
		}
		for i := 0; i < f.Len(); i++ {
			fn := f.Index(i)
			for fn.Kind() == reflect.Interface && !fn.IsNil() {
				fn = fn.Elem()
			}
			if fn.Kind() == reflect.Func && ownFunc(fn) {
				return true
			}
		}
	}
	return false
}

// ownFunc reports whether the func fn is code of ownPackages: otelhttp's handler is the closure
// "…/otelhttp.NewMiddleware.func1.1", otelgin's middleware "…/otelgin.Middleware.func1".
func ownFunc(fn reflect.Value) bool {
	if fn.IsNil() {
		return false
	}
	rf := runtime.FuncForPC(fn.Pointer())
	return rf != nil && isOwn(rf.Name())
}

// isOwn reports whether name (a package path, or a function's full name) is in ownPackages.
func isOwn(name string) bool {
	for _, p := range ownPackages {
		if strings.HasPrefix(name, p) && (len(name) == len(p) || name[len(p)] == '.') {
			return true
		}
	}
	return false
}
