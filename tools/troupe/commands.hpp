#pragma once
// The inspection subcommands of `troupe` (status, list, get, kill, logs), in
// the manner of `ray status` / `ray list actors`.
#include <CLI/CLI.hpp>

namespace troupe::cli {

/// Adds the subcommands to `app`.
void add_inspection_commands(CLI::App& app);
/// Runs whichever of them was parsed; returns the exit code (non-zero with a
/// one-line error on stderr when something fails).
int run_inspection_command(CLI::App& app);

}  // namespace troupe::cli
