module example.com/goenv

go 1.23
