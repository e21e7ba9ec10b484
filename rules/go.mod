module github.com/otel-go-autoinst/otel-go-autoinst/rules

go 1.23
