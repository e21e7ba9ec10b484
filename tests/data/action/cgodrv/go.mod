module example.com/cgodrv

go 1.24
