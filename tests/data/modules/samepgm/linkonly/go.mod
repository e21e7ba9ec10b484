module example.com/linkonly

go 1.23
