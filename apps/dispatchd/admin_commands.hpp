// dispatchd's operator commands beside the service: `dispatchd backup` asks a running node for a
// backup and follows it to the end; `dispatchd restore` restores one into a fresh data directory.
#pragma once

#include <string>

namespace dispatch::app {

/// True when `argument` (argv[1]) names one of the commands below.
bool is_admin_command(const std::string& argument);

/// Runs the command argv[1] names; answers the exit status: 0 done, 1 failed (the reason on
/// stderr), 2 bad usage.
int run_admin_command(int argc, char** argv);

} // namespace dispatch::app
