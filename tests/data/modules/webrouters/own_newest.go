// The program's own OpenTelemetry server instrumentation: an API served through otelhttp's
// handler, and a gin engine with otelgin's middleware. The oldest-release build leaves this file
// out (otelgin needs a newer gin than the oldest the gin rule set supports).

package main

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

func init() {
	m := http.NewServeMux()
	m.HandleFunc("GET /own/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "otelhttp order %s", r.PathValue("id"))
	})
	gin.SetMode(gin.ReleaseMode) // no debug lines on stdout before "listening on"
	r := gin.New()
	r.Use(otelgin.Middleware("webrouters"))
	r.GET("/own/orders/:id", func(c *gin.Context) { c.String(http.StatusOK, "otelgin order %s", c.Param("id")) })
	ownServers = append(ownServers,
		ownServer{"otelhttp", otelhttp.NewHandler(m, "orders")},
		ownServer{"otelgin", r},
	)
}
