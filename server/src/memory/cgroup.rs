//! How much memory this process may use, as the kernel will enforce it: the memory limit
//! of its control group (cgroup v2 `memory.max`, cgroup v1 `memory.limit_in_bytes`), else
//! the machine's RAM (`/proc/meminfo`).
//!
//! A container runtime puts the process in a cgroup whose limit is the container's; the
//! limits of the groups above it apply too, so the lowest one on the way up to the root
//! is the one that counts. "max" (v2) and the huge number v1 writes for "no limit" mean
//! none. Every reader takes a root directory, so the tests run them on sample files.

use std::path::{Path, PathBuf};

/// Values at or above this are "no limit" (cgroup v1 writes 9223372036854771712).
const NO_LIMIT: u64 = 1 << 60;

/// Where the process's memory ceiling comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ceiling {
    /// A cgroup limit: its version (1 or 2), the file that set it, and the bytes.
    Cgroup {
        /// 1 or 2.
        version: u8,
        /// The file read (`…/memory.max` or `…/memory.limit_in_bytes`).
        file: PathBuf,
        /// The limit.
        bytes: u64,
    },
    /// No cgroup limit: the machine's RAM (`MemTotal`).
    Machine {
        /// The RAM.
        bytes: u64,
    },
}

impl Ceiling {
    /// The bytes.
    pub fn bytes(&self) -> u64 {
        match self {
            Self::Cgroup { bytes, .. } | Self::Machine { bytes } => *bytes,
        }
    }
}

/// The ceiling of this process (reads `/proc` and `/sys/fs/cgroup`); `None` when neither a
/// cgroup limit nor `/proc/meminfo` can be read.
pub fn detect() -> Option<Ceiling> {
    detect_in(Path::new("/"))
}

/// [`detect`] with `/` at `root`.
pub fn detect_in(root: &Path) -> Option<Ceiling> {
    let machine = std::fs::read_to_string(root.join("proc/meminfo"))
        .ok()
        .and_then(|t| mem_total(&t));
    let cgroups = std::fs::read_to_string(root.join("proc/self/cgroup")).unwrap_or_default();
    let mounts = std::fs::read_to_string(root.join("proc/self/mountinfo")).unwrap_or_default();
    let mut best: Option<Ceiling> = None;
    for (version, path) in memory_groups(&cgroups) {
        let file_name = if version == 2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        let Some(dir) = group_dir(root, &mounts, version, &path) else {
            continue;
        };
        if let Some((file, bytes)) = lowest_up_to_root(&dir.0, &dir.1, file_name) {
            // A limit above the RAM is no limit in practice.
            if machine.is_some_and(|m| bytes >= m) {
                continue;
            }
            if best.as_ref().is_none_or(|b| bytes < b.bytes()) {
                best = Some(Ceiling::Cgroup {
                    version,
                    file,
                    bytes,
                });
            }
        }
    }
    best.or(machine.map(|bytes| Ceiling::Machine { bytes }))
}

/// A limit file's value: `None` for "max", the v1 "no limit" number, or text that is not a
/// number.
pub fn parse_limit(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return None;
    }
    t.parse::<u64>().ok().filter(|&v| v > 0 && v < NO_LIMIT)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => n.checked_mul(1024),
        Some(_) => None,
    }
}

/// The groups of `/proc/self/cgroup` that can hold a memory limit: `(2, path)` for the
/// unified hierarchy (`0::path`), `(1, path)` for a v1 hierarchy with the memory controller.
pub fn memory_groups(proc_self_cgroup: &str) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            out.push((2, path.to_owned()));
        } else if controllers.split(',').any(|c| c == "memory") {
            out.push((1, path.to_owned()));
        }
    }
    out
}

/// The directory of group `path` in the hierarchy of `version`, as `(mount point, the
/// group's directory below it)`: found in `mountinfo` (fields 4 and 5 are the mount's root
/// in the hierarchy and its mount point; after `-`, the file system type and, for v1, the
/// controllers in its options). A container sees its own group as the mount's root, so the
/// mount's root is taken off the group's path.
fn group_dir(root: &Path, mountinfo: &str, version: u8, path: &str) -> Option<(PathBuf, PathBuf)> {
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let rest: Vec<&str> = right.split(' ').collect();
        let (Some(mount_root), Some(point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        let fstype = rest.first().copied().unwrap_or("");
        let matches = match version {
            2 => fstype == "cgroup2",
            _ => {
                fstype == "cgroup"
                    && rest
                        .get(2)
                        .is_some_and(|o| o.split(',').any(|x| x == "memory"))
            }
        };
        if !matches {
            continue;
        }
        let below = path
            .strip_prefix(mount_root.trim_end_matches('/'))
            .unwrap_or(path)
            .trim_start_matches('/');
        let mount = root.join(point.trim_start_matches('/'));
        return Some((mount.clone(), mount.join(below)));
    }
    None
}

/// The lowest value of `file` in `dir` and each directory above it up to `mount`.
fn lowest_up_to_root(mount: &Path, dir: &Path, file: &str) -> Option<(PathBuf, u64)> {
    let mut best: Option<(PathBuf, u64)> = None;
    let mut at = Some(dir);
    while let Some(d) = at {
        let f = d.join(file);
        if let Some(v) = std::fs::read_to_string(&f)
            .ok()
            .and_then(|t| parse_limit(&t))
            && best.as_ref().is_none_or(|(_, b)| v < *b)
        {
            best = Some((f, v));
        }
        if d == mount {
            break;
        }
        at = d.parent().filter(|p| p.starts_with(mount));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    const MEMINFO: &str = "MemTotal:       24576000 kB\nMemFree:        1000 kB\n";

    #[test]
    fn limit_files_and_meminfo_parse() {
        assert_eq!(parse_limit("536870912\n"), Some(512 << 20));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712"), None);
        assert_eq!(parse_limit("0"), None);
        assert_eq!(parse_limit("lots"), None);
        assert_eq!(mem_total(MEMINFO), Some(24_576_000 * 1024));
        assert_eq!(mem_total("MemFree: 3 kB"), None);
    }

    #[test]
    fn groups_of_a_hybrid_and_a_unified_host() {
        let hybrid = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu,cpuacct:/\n0::/\n";
        assert_eq!(
            memory_groups(hybrid),
            vec![(1, "/process_api/abc".to_owned()), (2, "/".to_owned())]
        );
        assert_eq!(
            memory_groups("0::/user.slice/app\n"),
            vec![(2, "/user.slice/app".to_owned())]
        );
    }

    #[test]
    fn cgroup_v2_container_limit() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = dir.path();
        write(r, "proc/meminfo", MEMINFO);
        write(r, "proc/self/cgroup", "0::/\n");
        write(
            r,
            "proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        write(r, "sys/fs/cgroup/memory.max", "268435456\n");
        let c = detect_in(r).expect("ceiling");
        assert_eq!(c.bytes(), 256 << 20);
        assert!(matches!(c, Ceiling::Cgroup { version: 2, .. }), "{c:?}");
    }

    #[test]
    fn cgroup_v2_max_falls_back_to_the_machine() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = dir.path();
        write(r, "proc/meminfo", MEMINFO);
        write(r, "proc/self/cgroup", "0::/app\n");
        write(
            r,
            "proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        write(r, "sys/fs/cgroup/app/memory.max", "max\n");
        assert_eq!(
            detect_in(r),
            Some(Ceiling::Machine {
                bytes: 24_576_000 * 1024
            })
        );
    }

    #[test]
    fn cgroup_v1_takes_the_lowest_limit_up_the_tree() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = dir.path();
        write(r, "proc/meminfo", MEMINFO);
        write(r, "proc/self/cgroup", "4:memory:/docker/abc\n0::/\n");
        write(
            r,
            "proc/self/mountinfo",
            "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n",
        );
        write(
            r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        write(
            r,
            "sys/fs/cgroup/memory/docker/memory.limit_in_bytes",
            "1073741824\n",
        );
        write(
            r,
            "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        let c = detect_in(r).expect("ceiling");
        assert_eq!(c.bytes(), 1 << 30);
        match c {
            Ceiling::Cgroup { version, file, .. } => {
                assert_eq!(version, 1);
                assert!(file.ends_with("docker/memory.limit_in_bytes"), "{file:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cgroup_v1_inside_a_container_sees_its_group_as_the_mount_root() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = dir.path();
        write(r, "proc/meminfo", MEMINFO);
        write(r, "proc/self/cgroup", "4:memory:/docker/abc\n");
        write(
            r,
            "proc/self/mountinfo",
            "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
        );
        write(
            r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "134217728\n",
        );
        assert_eq!(detect_in(r).map(|c| c.bytes()), Some(128 << 20));
    }

    #[test]
    fn a_limit_above_the_ram_is_no_limit() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = dir.path();
        write(r, "proc/meminfo", "MemTotal: 1024 kB\n");
        write(r, "proc/self/cgroup", "0::/\n");
        write(
            r,
            "proc/self/mountinfo",
            "1 0 0:1 / /sys/fs/cgroup rw - cgroup2 c rw\n",
        );
        write(r, "sys/fs/cgroup/memory.max", "4096000\n");
        assert_eq!(detect_in(r), Some(Ceiling::Machine { bytes: 1024 * 1024 }));
        assert_eq!(detect_in(&r.join("nothing")), None);
    }
}
