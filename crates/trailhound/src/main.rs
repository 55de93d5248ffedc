//! The `trailhound` command.

use std::process::ExitCode;

/// mimalloc: decoding allocates a few small strings per record across worker threads, and
/// glibc's allocator showed up as ~15% of a hunt's profile (malloc, free, consolidation).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    trailhound::main()
}
