//go:build xgboost

package main

// linksOpenMP: this build's xgboost trainer runs on libgomp's threads.
const linksOpenMP = true
