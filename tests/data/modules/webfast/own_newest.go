// A Fiber app the program instruments itself with otelfiber's middleware, as its documentation
// shows. The oldest-release build leaves this file out (otelfiber needs a newer Fiber than the
// oldest the fiber rule set supports).

package main

import (
	"github.com/gofiber/contrib/otelfiber/v2"
	"github.com/gofiber/fiber/v2"
)

func init() {
	ownApp = func() *fiber.App {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		app.Use(otelfiber.Middleware())
		app.Get("/own/orders/:id", func(c *fiber.Ctx) error { return c.SendString("otelfiber order " + c.Params("id")) })
		return app
	}
}
