// Package archtest holds the tests of how Kingmaker's packages depend on
// each other. It has no code of its own.
//
// evaluator, drift and trainer are pure: none of their files (test files
// aside) imports a package of this module, under any build constraint, so
// they can be read, tested and called from workflow code on their own.
// Their tests may import what they like.
package archtest
