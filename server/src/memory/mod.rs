//! The process's memory limit and its division: [`cgroup`] reads the ceiling the kernel
//! enforces (a container's cgroup limit, else the machine's RAM), [`plan`] divides the
//! limit into every budget (the head, ingest in flight, the caches, exemplars, rules and
//! the query pool). `docs/operations.md` ("Running in a container") has the shares and the
//! figures measured with them.

pub mod cgroup;
pub mod plan;

pub use cgroup::Ceiling;
pub use plan::{MemoryPlan, parse_size, size};
