// SIGTERM and SIGINT as an ordinary event a thread waits for.
//
// main() blocks both signals before it starts any thread, so every thread
// inherits the mask and none is interrupted by them; the main thread then
// waits for one with sigwait and runs the orderly shutdown itself. No
// handler runs in signal context, so shutdown code may lock and log.
//
//   int main(int argc, char** argv) {
//     coffer::exec::BlockTerminationSignals();   // first, before any thread
//     ... start the server ...
//     int signal = coffer::exec::WaitForTerminationSignal();
//     ... shut down ...
//   }
#ifndef COFFER_COMMON_EXEC_TERMINATION_SIGNAL_H_
#define COFFER_COMMON_EXEC_TERMINATION_SIGNAL_H_

namespace coffer::exec {

// Blocks SIGTERM and SIGINT in the calling thread and the threads it starts
// afterwards. SIGPIPE is ignored process-wide: a peer hanging up is an error
// to handle, not a reason to die.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT is delivered to the process; returns it.
int WaitForTerminationSignal();

}  // namespace coffer::exec

#endif  // COFFER_COMMON_EXEC_TERMINATION_SIGNAL_H_
