// Command webrouters serves the same small API through gin, echo v4, chi v5, gorilla/mux and a Go
// 1.22 ServeMux, each router written as its documentation shows and mounted under its own prefix
// of one top-level ServeMux (behind a logging middleware that copies the request, as many do).
// With the newest releases it also serves through handlers it instruments itself (own_newest.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"
	"github.com/labstack/echo/v4"
)

func ginRouter() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	api := r.Group("/gin")
	api.GET("/orders/:id", func(c *gin.Context) { c.String(http.StatusOK, "gin order %s", c.Param("id")) })
	api.GET("/fail", func(c *gin.Context) {
		_ = c.Error(errors.New("gin failure"))
		c.String(http.StatusInternalServerError, "gin failed")
	})
	return r
}

func echoRouter() http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.GET("/echo/orders/:id", func(c echo.Context) error {
		return c.String(http.StatusOK, "echo order "+c.Param("id"))
	})
	e.GET("/echo/fail", func(c echo.Context) error { return errors.New("echo failure") })
	return e
}

func chiRouter() http.Handler {
	r := chi.NewRouter()
	r.Route("/chi/orders", func(r chi.Router) {
		r.Get("/{id}", func(w http.ResponseWriter, req *http.Request) {
			fmt.Fprintf(w, "chi order %s", chi.URLParam(req, "id"))
		})
	})
	return r
}

func gorillaRouter() http.Handler {
	r := mux.NewRouter()
	s := r.PathPrefix("/gorilla").Subrouter()
	s.HandleFunc("/orders/{id}", func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprintf(w, "gorilla order %s", mux.Vars(req)["id"])
	}).Methods(http.MethodGet)
	return r
}

type ctxKey struct{}

// logging is a middleware that hands the next handler a copy of the request.
func logging(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "logged")))
	})
}

func handler() http.Handler {
	m := http.NewServeMux()
	m.Handle("/gin/", ginRouter())
	m.Handle("/echo/", echoRouter())
	m.Handle("/chi/", chiRouter())
	m.Handle("/gorilla/", gorillaRouter())
	m.HandleFunc("GET /mux/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "mux order %s", r.PathValue("id"))
	})
	return logging(m)
}

// ownServers are servers the program instruments itself with OpenTelemetry's contrib packages
// (own_newest.go, left out of the oldest-release build): each serves on a listener of its own,
// since it is the server's Handler that is instrumented.
var ownServers []ownServer

type ownServer struct {
	name    string
	handler http.Handler
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to serve on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: handler()}
	line := fmt.Sprint("listening on ", ln.Addr())
	var others []*http.Server
	for _, own := range ownServers {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		s := &http.Server{Handler: own.handler}
		others = append(others, s)
		line += fmt.Sprint(" ", own.name, " ", l.Addr())
		go func() { _ = s.Serve(l) }()
	}
	fmt.Println(line)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		for _, s := range others {
			_ = s.Shutdown(context.Background())
		}
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	fmt.Println("bye")
}
