// Command hello prints a greeting; with -serve it answers HTTP requests.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"example.com/hello"
)

func main() {
	serve := flag.String("serve", "", "listen address")
	flag.Parse()
	if *serve != "" {
		if err := http.ListenAndServe(*serve, hello.Handler()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	fmt.Println(hello.Greeting("release"))
}
