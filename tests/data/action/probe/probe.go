// Package probe is what a hostile pull request would add: its test tries to reach the Action's
// token and the runner's command files (tests/test_action_untrusted.py).
package probe

import "net/http"

// Status asks url for its status code.
func Status(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}
