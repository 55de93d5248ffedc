//! The `trailhound` command.

use std::process::ExitCode;

/// mimalloc: decoding allocates a few small strings per record across worker threads, and
/// glibc's allocator showed up as ~15% of a hunt's profile (malloc, free, consolidation).
///
/// Built with `no_thp`: mimalloc does not `madvise` its memory for transparent huge pages.
/// With them, a page fault zeroes 2 MiB however little of it is used: peak RSS is 70–100 MB
/// lower without them for `hunt --store` (about 11%) and 40–50 MB lower for a hunt without
/// the store on the 2.1M-event benchmark tree, for the same CPU time within this machine's
/// noise (BENCHMARKS.md, 2026-11-25).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    trailhound::main()
}
