//! One module per subcommand; each has `Args` (clap) and `run(&Context, Args)`.

pub mod alerts;
pub mod bench;
pub mod bench_sigma;
pub mod demo;
pub mod gen;
pub mod hunt;
pub mod import;
pub mod query;
pub mod rules;
pub mod stats;
pub mod verify;
