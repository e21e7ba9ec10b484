package broken

import "net/http"

// Status returns the status code of url, or an error.
func Status(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var code string = resp.StatusCode
	return code, undefinedHelper(url)
}
