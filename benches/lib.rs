//! Benchmarks and sending examples for callhook; nothing to use here.
//!
//! - `benches/instructions.sh` (needs `valgrind`): instructions and
//!   allocations per operation of the cases in `benches/instructions.rs`,
//!   each against its baseline, in one table.
//! - `cargo bench -p callhook-benches --bench render` (also `request`,
//!   `dispatch`): criterion benchmarks against baselines in the same run.
//! - `cargo run -p callhook-benches --example send_blocking` (also
//!   `send_async`, `delivery_loop`): requests sent with real clients to a
//!   receiver on 127.0.0.1.
