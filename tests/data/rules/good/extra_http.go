package http

var otelExtra = 1
