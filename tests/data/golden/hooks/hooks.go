// Package hooks holds the hooks of the golden test: they do nothing but what their class needs.
package hooks

import (
	"fmt"
	"net/url"

	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"

	"example.com/golden/cases"
)

// plainEnter may skip the call through a helper: the class stays "full".
func plainEnter(call *api.CallContext, a int, b string) { skipIfNegative(call, a) }

func skipIfNegative(c *api.CallContext, n int) {
	if n < 0 {
		c.SetSkipCall(true)
	}
}
func plainExit(call *api.CallContext, r string) {}

// addEnter hands the CallContext to a helper that never skips: the class is "no-skipcall".
func addEnter(call *api.CallContext, c *cases.Counter, d int) { remember(call, d) }

func remember(c *api.CallContext, d int) { c.SetData(d) }
func addExit(call *api.CallContext, r int)                    {}

func valueEnter(call *api.CallContext, c cases.Counter) {}

func namedExit(call *api.CallContext, sum int, err error) {}

func unnamedEnter(call *api.CallContext, a int, s string) {}
func unnamedExit(call *api.CallContext, r0 string, r1 error) {}

func unnamedParamsEnter(call *api.CallContext, a any, b any) {}

func variadicEnter(call *api.CallContext, prefix string, xs []int) {}

func hostEnter(call *api.CallContext, v *url.URL) {}

func mapEnter(call *api.CallContext, xs any, f any) {}
func mapExit(call *api.CallContext, r any)          {}

func pushEnter(call *api.CallContext, s any, e any) {}
func pushExit(call *api.CallContext, n int)         {}

func outerEnter(call *api.CallContext, n int) {}
func outerExit(call *api.CallContext, r int)  {}
func innerEnter(call *api.CallContext, n int) {}
func innerExit(call *api.CallContext, r int)  {}

func ignoredEnter(call *api.CallContext, n int) {}

func oneLineExit(call *api.CallContext, r bool) {}

var _ = fmt.Sprint

func skippableEnter(call *api.CallContext, n int) {
	if n < 0 {
		call.SetSkipCall(true)
	}
}
