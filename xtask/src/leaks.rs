//! What a run could leave behind: System V objects (from /proc/sysvipc, read by the `sysv`
//! crate) and FIFOs (under the temp dir and the workspace). CI compares the sets before and
//! after; ids, not counts, because other users' objects may come and go.

use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// One line per object that exists now, such as `msg id=3 key=0x0000045a`, `shm id=5
/// key=IPC_PRIVATE` or `fifo /tmp/x/mfifo`.
pub fn snapshot(workspace: &Path) -> BTreeSet<String> {
    let mut objects = BTreeSet::new();
    for kind in sysv::Kind::ALL {
        // A kernel without System V IPC has no tables: nothing of that kind can leak.
        for object in sysv::list(kind).unwrap_or_default() {
            objects.insert(format!(
                "{} id={} key={}",
                kind.name(),
                object.id,
                object.key
            ));
        }
    }
    collect_fifos(&std::env::temp_dir(), 4, &mut objects);
    collect_fifos(workspace, 6, &mut objects);
    objects
}

fn collect_fifos(dir: &Path, depth: usize, found: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_fifo() {
            found.insert(format!("fifo {}", path.display()));
        } else if kind.is_dir() && depth > 1 && !skipped(&path) {
            collect_fifos(&path, depth - 1, found);
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
