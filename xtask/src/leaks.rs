//! What a run could leave behind: System V objects (from /proc/sysvipc, read by the `sysv`
//! crate), POSIX queues, semaphores and shared memory (the files in /dev/mqueue and /dev/shm),
//! FIFOs (under the temp dir and the workspace), and processes running one of the workspace's
//! binaries. CI compares the sets before and after; ids, not counts, because other
//! objects may come and go.
//!
//! Only what the current user owns counts: on a shared lab server, another user's queue or
//! process must not fail your CI.

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// One line per object that exists now, such as `msg id=3 key=0x0000045a`, `fifo /tmp/x/mfifo`
/// or `process 4242 /work/main/target/debug/recv`. Fails when a System V table exists but
/// cannot be read or parsed: a check that cannot see must not say "nothing leaked".
pub fn snapshot(workspace: &Path) -> Result<BTreeSet<String>, String> {
    let me = nix::unistd::geteuid().as_raw();
    let mut objects = BTreeSet::new();
    for kind in sysv::Kind::ALL {
        let table = Path::new("/proc/sysvipc").join(kind.name());
        if !table.exists() {
            // A kernel without System V IPC has no tables: nothing of that kind can leak.
            continue;
        }
        let listed = sysv::list(kind).map_err(|err| format!("leak check: {err}"))?;
        for object in listed.into_iter().filter(|object| object.owner.uid == me) {
            objects.insert(format!(
                "{} id={} key={}",
                kind.name(),
                object.id,
                object.key
            ));
        }
    }
    collect_posix(me, &mut objects)?;
    collect_fifos(&std::env::temp_dir(), 4, me, &mut objects);
    collect_fifos(workspace, 6, me, &mut objects);
    collect_processes(&workspace.join("target"), me, &mut objects);
    Ok(objects)
}

/// POSIX objects are files: a queue in the mqueue file system (`/dev/mqueue/NAME`), a named
/// semaphore (`/dev/shm/sem.NAME`) and a `shm_open` object (`/dev/shm/NAME`) in the tmpfs. A
/// queue is invisible while no mqueue file system is mounted, so `.ci/run` mounts one; without
/// it, the check says what it cannot see rather than report nothing.
fn collect_posix(me: u32, found: &mut BTreeSet<String>) -> Result<(), String> {
    for (dir, kind) in [("/dev/mqueue", "posix-mq"), ("/dev/shm", "posix-shm")] {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("leak check: no {dir}, so POSIX objects there are not checked");
                continue;
            }
            Err(err) => return Err(format!("leak check: {dir}: {err}")),
        };
        for entry in entries.flatten() {
            if entry.metadata().is_ok_and(|meta| meta.uid() == me) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let kind = if name.starts_with("sem.") {
                    "posix-sem"
                } else {
                    kind
                };
                found.insert(format!("{kind} {dir}/{name}"));
            }
        }
    }
    Ok(())
}

fn collect_fifos(dir: &Path, depth: usize, me: u32, found: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_fifo() {
            if entry.metadata().is_ok_and(|meta| meta.uid() == me) {
                found.insert(format!("fifo {}", path.display()));
            }
        } else if kind.is_dir() && depth > 1 && !skipped(&path) {
            collect_fifos(&path, depth - 1, me, found);
        }
    }
}

/// Processes of ours running a program built in `target`: an example, or a test binary.
fn collect_processes(target: &Path, me: u32, found: &mut BTreeSet<String>) {
    let myself = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == myself || !entry.metadata().is_ok_and(|meta| meta.uid() == me) {
            continue;
        }
        // A process that exits meanwhile, or a kernel thread, has no readable exe: skip it.
        let Ok(exe) = std::fs::read_link(entry.path().join("exe")) else {
            continue;
        };
        if exe.starts_with(target) {
            found.insert(format!("process {pid} {}", exe.display()));
        }
    }
}

/// Build output and git's store hold no FIFOs of ours and are large to walk.
fn skipped(dir: &Path) -> bool {
    matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("target" | ".git" | "node_modules")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `shm_open` object and a named semaphore are plain files in /dev/shm: one of each is
    /// seen, by kind, and gone from the next snapshot once removed.
    #[test]
    fn posix_objects_in_dev_shm_are_seen() {
        let dir = Path::new("/dev/shm");
        if !dir.is_dir() {
            eprintln!("no /dev/shm here: nothing to check");
            return;
        }
        let tag = format!("ipc-labs-leaktest-{}", std::process::id());
        let segment = dir.join(&tag);
        let semaphore = dir.join(format!("sem.{tag}"));
        std::fs::write(&segment, b"").unwrap();
        std::fs::write(&semaphore, b"").unwrap();
        let seen = snapshot(Path::new("/nonexistent-workspace"));
        std::fs::remove_file(&segment).unwrap();
        std::fs::remove_file(&semaphore).unwrap();
        let seen = seen.unwrap();
        assert!(
            seen.contains(&format!("posix-shm {}", segment.display())),
            "{seen:?}"
        );
        assert!(
            seen.contains(&format!("posix-sem {}", semaphore.display())),
            "{seen:?}"
        );
        let after = snapshot(Path::new("/nonexistent-workspace")).unwrap();
        assert!(!after.iter().any(|line| line.contains(&tag)), "{after:?}");
    }
}
