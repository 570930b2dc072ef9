// Package difftest checks at run time that a fix keeps what a program does.
//
// Its tests generate loop programs from a small grammar (how the work is
// started, how the loop waits, what its body does), run each under
// testing/synctest before the fix, fix them with the engine, run them again,
// call the cleanup the fix added or extended, and require:
//
//   - the trace each program records, (fake time, event), to be the same up
//     to the cleanup call;
//   - while the cleanup waits, only what the program would have done next
//     (and its deferred calls) to happen;
//   - the cleanup to return, and no goroutine of the program to remain;
//   - a program that was not fixed, reported or not, to be left unchanged.
//
// See TestDifferential and FuzzDifferential.
package difftest
