//! What a run could leave behind: System V objects (from /proc/sysvipc, read by the `sysv`
//! crate), FIFOs (under the temp dir and the workspace), and processes running one of the
//! workspace's binaries. CI compares the sets before and after; ids, not counts, because other
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
    collect_fifos(&std::env::temp_dir(), 4, me, &mut objects);
    collect_fifos(workspace, 6, me, &mut objects);
    collect_processes(&workspace.join("target"), me, &mut objects);
    Ok(objects)
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
