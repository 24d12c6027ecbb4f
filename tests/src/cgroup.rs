//! A cgroup v1 memory group for tests that run the server under a memory limit, as a
//! container would: made under `/sys/fs/cgroup/memory` (root only), removed on drop.
//! Where the machine does not allow one, [`MemoryGroup::new`] says why and the test skips.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The v1 memory controller's mount point.
const ROOT: &str = "/sys/fs/cgroup/memory";

/// A memory cgroup with a limit.
#[derive(Debug)]
pub struct MemoryGroup {
    dir: PathBuf,
}

impl MemoryGroup {
    /// A new group `name` limited to `limit` bytes (memory and, where the kernel accounts
    /// it, memory plus swap), or why one cannot be made here.
    pub fn new(name: &str, limit: u64) -> Result<Self, String> {
        let root = Path::new(ROOT);
        if !root.join("memory.limit_in_bytes").exists() {
            return Err(format!("no cgroup v1 memory controller at {ROOT}"));
        }
        let dir = root.join(name);
        if dir.exists() {
            let _ = std::fs::remove_dir(&dir);
        }
        std::fs::create_dir(&dir)
            .map_err(|e| format!("cannot make {} (needs root): {e}", dir.display()))?;
        let group = Self { dir };
        group.write("memory.limit_in_bytes", limit)?;
        if group.dir.join("memory.memsw.limit_in_bytes").exists() {
            group.write("memory.memsw.limit_in_bytes", limit)?;
        }
        Ok(group)
    }

    fn write(&self, file: &str, value: u64) -> Result<(), String> {
        let path = self.dir.join(file);
        std::fs::write(&path, value.to_string())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    /// `cmd` run inside the group from its first instruction: a shell moves itself into
    /// the group, then execs `cmd`'s program with its arguments and environment.
    pub fn wrap(&self, cmd: &Command) -> Command {
        let mut out = Command::new("/bin/sh");
        out.arg("-c")
            .arg("echo $$ > \"$0\" && exec \"$@\"")
            .arg(self.dir.join("cgroup.procs"))
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => out.env(k, v),
                None => out.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            out.current_dir(d);
        }
        out
    }

    /// Processes the kernel's OOM killer killed in the group (`oom_kill` of
    /// `memory.oom_control`; 0 on kernels that do not count it).
    pub fn oom_kills(&self) -> u64 {
        self.read("memory.oom_control")
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The most memory the group used (`memory.max_usage_in_bytes`).
    pub fn max_usage(&self) -> u64 {
        self.read("memory.max_usage_in_bytes")
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

impl Drop for MemoryGroup {
    fn drop(&mut self) {
        // Empty once its processes have exited; retried briefly while they are reaped.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
