// Package hooks changes the results of the instrumented dependency and standard-library calls, so a
// test can see that they fired.
package hooks

import (
	"net/url"

	"github.com/google/uuid"
	"github.com/otel-go-autoinst/otel-go-autoinst/rules/api"
)

const magic = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

func uuidStringEnter(call *api.CallContext, id uuid.UUID) {
	call.SetData(id == uuid.MustParse(magic))
}

func uuidStringExit(call *api.CallContext, s string) {
	if call.GetData() == true {
		call.SetReturnVal(0, "hooked:"+s)
	}
}

func urlStringEnter(call *api.CallContext, u *url.URL) {
	if u != nil && u.Host == "hooked.example" {
		call.SetData(u.Host)
	}
}

func urlStringExit(call *api.CallContext, s string) {
	if host, ok := call.GetData().(string); ok {
		call.SetReturnVal(0, s+"#seen-host="+host)
	}
}
