#pragma once
// The inspection subcommands of `troupe`, in the manner of `ray status` /
// `ray list actors`: status, list, get, kill, logs, and the interactive shell.
// Tables for people, --json for tools (fields: docs/CLI.md).
#include <CLI/CLI.hpp>

namespace troupe::cli {

/// Adds the subcommands to `app`. Call once, before parsing.
void add_inspection_commands(CLI::App& app);
/// Runs whichever of them was parsed; returns the exit code: 0, or 1 with a
/// one-line error on stderr ("troupe: not_found: no actor named 'x'").
int run_inspection_command(CLI::App& app);

}  // namespace troupe::cli
