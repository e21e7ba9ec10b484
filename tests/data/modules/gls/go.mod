module example.com/gls

go 1.23
