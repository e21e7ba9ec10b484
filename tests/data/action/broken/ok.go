package broken

import "net/http"

// Get fetches url.
func Get(url string) (*http.Response, error) {
	return http.Get(url)
}
