// Package plainpkg links nothing the tool instruments.
package plainpkg

func Twice(n int) int { return 2 * n }
