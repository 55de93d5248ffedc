//! The `trailhound` command.

use std::process::ExitCode;

fn main() -> ExitCode {
    trailhound::main()
}
