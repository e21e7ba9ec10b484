package calc_test

import (
	"fmt"

	"example.com/linkonly/calc"
)

// An example in an external _test package: its test binary links net/http only through the SDK.
func ExampleAdd() {
	fmt.Println(calc.Add(2, 3))
	// Output: 5
}
