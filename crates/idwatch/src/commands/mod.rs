//! One module per subcommand; each has `Args` (clap) and `run(&Context, Args)`.

pub mod admins;
pub mod alerts;
pub mod audit;
pub mod bench;
pub mod bench_detect;
pub mod bench_archive;
pub mod bench_sigma;
pub mod collect;
pub mod demo;
pub mod detect;
pub mod export;
pub mod gen;
pub mod hunt;
pub mod import;
pub mod org;
pub mod posture;
pub mod query;
pub mod retain;
pub mod rules;
pub mod seal;
pub mod serve;
pub mod sql;
pub mod stats;
pub mod status;
pub mod verify;
