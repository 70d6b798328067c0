//go:build !xgboost

package main

// linksOpenMP: a build without the xgboost trainer has no OpenMP threads.
const linksOpenMP = false
