// Command webfast serves a Fiber v2 app and a bare fasthttp server, written as their documentation
// shows; the bare server's /call handler calls the Fiber app with the fasthttp client.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

func fiberApp() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error { // a middleware, as most apps have
		c.Set("X-Served-By", "fiber")
		return c.Next()
	})
	api := app.Group("/api")
	api.Get("/orders/:id", func(c *fiber.Ctx) error { return c.SendString("fiber order " + c.Params("id")) })
	api.Get("/fail", func(c *fiber.Ctx) error { return errors.New("fiber failure") })
	return app
}

func bare(fiberAddr string) fasthttp.RequestHandler {
	client := &fasthttp.Client{}
	return func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/hello":
			ctx.SetBodyString("hello")
		case "/call":
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + fiberAddr + "/api/orders/7")
			if err := client.Do(req, resp); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
				return
			}
			ctx.SetBodyString("called: " + string(resp.Body()))
		default:
			ctx.Error("not found", fasthttp.StatusNotFound)
		}
	}
}

// ownApp, when set (own_newest.go, left out of the oldest-release build), is a Fiber app the
// program instruments itself with otelfiber's middleware; it serves on a listener of its own.
var ownApp func() *fiber.App

func main() {
	flag.Parse()
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	app := fiberApp()
	srv := &fasthttp.Server{Handler: bare(fl.Addr().String())}
	line := fmt.Sprint("listening on ", fl.Addr(), " ", bl.Addr())
	var own *fiber.App
	if ownApp != nil {
		ol, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		own = ownApp()
		line += fmt.Sprint(" otelfiber ", ol.Addr())
		go func() { _ = own.Listener(ol) }()
	}
	fmt.Println(line)
	go func() { _ = app.Listener(fl) }()
	go func() { _ = srv.Serve(bl) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	if own != nil {
		_ = own.Shutdown()
	}
	_ = app.Shutdown()
	_ = srv.Shutdown()
	fmt.Println("bye")
}
