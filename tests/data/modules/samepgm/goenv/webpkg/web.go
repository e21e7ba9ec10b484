// Package webpkg links net/http, which the tool instruments: its test binary links the hooks.
package webpkg

import "net/http"

func Status(code int) string { return http.StatusText(code) }
