// Package use calls a dependency module (github.com/google/uuid) and the standard library (net/url).
package use

import (
	"net/url"

	"github.com/google/uuid"
)

// ID formats an id through uuid.UUID.String.
func ID(s string) string {
	return uuid.MustParse(s).String()
}

// Link formats a URL through (*url.URL).String.
func Link(host string) string {
	u := &url.URL{Scheme: "https", Host: host, Path: "/p"}
	return u.String()
}
