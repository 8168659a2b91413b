//! `TaskBoard`: which daemon tasks run (per org: collect, detect; global: deliver, http,
//! audit), how often each was restarted after failing, and its last error. The daemon writes
//! it, `/metrics` reads it.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One task's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskState {
    /// Running now.
    pub running: bool,
    /// Times it failed and was started again.
    pub restarts: u64,
    /// Its last error.
    pub last_error: Option<String>,
}

/// Every task's state, keyed by (org, task); global tasks use the org `*`.
#[derive(Debug, Default)]
pub struct TaskBoard {
    tasks: Mutex<BTreeMap<(String, String), TaskState>>,
}

impl TaskBoard {
    fn with(&self, org: &str, task: &str, f: impl FnOnce(&mut TaskState)) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        f(tasks
            .entry((org.to_string(), task.to_string()))
            .or_default());
    }

    /// The task started (again).
    pub fn started(&self, org: &str, task: &str) {
        self.with(org, task, |t| t.running = true);
    }

    /// The task ended; with an error it will be restarted.
    pub fn stopped(&self, org: &str, task: &str, error: Option<String>) {
        self.with(org, task, |t| {
            t.running = false;
            if let Some(e) = error {
                t.restarts += 1;
                t.last_error = Some(e);
            }
        });
    }

    /// A copy of every task's state.
    pub fn snapshot(&self) -> BTreeMap<(String, String), TaskState> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
