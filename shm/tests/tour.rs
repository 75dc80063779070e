//! `shm_tour` (the notes' shmctl walk-through): with `--pause`, at each step the nattch it prints
//! is what /proc/sysvipc/shm shows for the segment meanwhile; the answers it prints are the
//! kernel's.

#![forbid(unsafe_code)]

mod common;

use common::{TestKey, id_in, segment_exists, segment_ids};
use testkit::{Running, number_after, run};

const TOUR: &str = env!("CARGO_BIN_EXE_shm_tour");

/// nattch in /proc/sysvipc/shm for segment `id`, if it exists.
fn proc_nattch(id: i32) -> Option<u64> {
    let rows = sysv::list(sysv::Kind::Shm).expect("read /proc/sysvipc/shm");
    rows.iter()
        .find(|row| row.id == id)
        .and_then(|row| row.field("nattch"))
}

#[test]
fn each_printed_nattch_is_what_proc_shows_during_the_pause() {
    let key = TestKey::new("shm-tour-pause");
    let mut tour = Running::spawn(key.command(TOUR, &["--pause", "--children", "3"]));
    let id = id_in(&tour.expect_line("step 1: shmget created segment id="));
    let mut seen = Vec::new();
    for _ in 0..13 {
        let stat = tour.expect_line("IPC_STAT: ");
        tour.expect_line("(paused: press Enter to go on)");
        match stat.contains("fails:") {
            true => assert!(!segment_exists(id), "IPC_STAT failed, so /proc has no {id}"),
            false => {
                let printed: u64 = number_after(&stat, "nattch=");
                assert_eq!(proc_nattch(id), Some(printed), "{stat}");
                seen.push(printed);
            }
        }
        tour.write_line("").unwrap();
    }
    assert_eq!(seen, [0, 1, 2, 3, 2, 1, 0, 1, 1, 1, 1, 1]);
    let finished = tour.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(segment_ids(|object| object.id == id).is_empty());
}

#[test]
fn the_tour_reports_what_ipc_rmid_does() {
    let key = TestKey::new("shm-tour-rmid");
    let finished = run(key.command(TOUR, &["--children", "2"]), "");
    assert!(finished.status.success(), "{finished:?}");
    let out = &finished.stdout;
    for needle in [
        "exited without calling shmdt: the kernel detached it",
        "mode 0640",
        "key IPC_PRIVATE, nattch=1, mode 0640, SHM_DEST yes",
        "the mapping still works: it held \"written before IPC_RMID\"",
        "shmget by the old key: shmget",
        "ENOENT",
        "shmctl(IPC_RMID) a second time succeeded",
        "shmctl(IPC_RMID) once more failed",
        "EINVAL",
    ] {
        assert!(out.contains(needle), "{needle:?} in {out}");
    }
    assert!(
        key.ids().is_empty(),
        "a segment with the test's key is left"
    );
}

/// The KiB numbers of a "memory:" line: the segment's rss, and this process's part, if attached.
fn resident_kib(line: &str) -> (u64, Option<u64>) {
    let segment = number_after(line, "segment rss ");
    let mapped = line
        .contains("in this process's page table")
        .then(|| number_after(line, "KiB, "));
    (segment, mapped)
}

#[test]
fn memory_becomes_resident_on_the_first_touch_not_at_shmget_or_shmat() {
    let key = TestKey::new("shm-tour-rss");
    let finished = run(key.command(TOUR, &["--children", "1"]), "");
    assert!(finished.status.success(), "{finished:?}");
    let lines: Vec<&str> = finished
        .stdout
        .lines()
        .filter(|line| line.contains("memory: "))
        .collect();
    let [created, after_children, attached, touched] = lines[..] else {
        panic!("four memory lines in {}", finished.stdout);
    };
    const HALF_KIB: u64 = 32 * 1024; // half of the 64 MiB segment
    assert_eq!(resident_kib(created), (0, None), "after shmget: {created}");
    let (one_store, _) = resident_kib(after_children);
    assert!(
        (1..HALF_KIB).contains(&one_store),
        "a child's one store makes one page (or one huge page) resident: {after_children}"
    );
    assert_eq!(
        resident_kib(attached),
        (one_store, Some(0)),
        "shmat maps, it makes nothing resident here: {attached}"
    );
    let (segment, mapped) = resident_kib(touched);
    assert!((HALF_KIB..2 * HALF_KIB).contains(&segment), "{touched}");
    assert!(mapped.is_some_and(|kib| kib >= HALF_KIB), "{touched}");
    assert!(key.ids().is_empty());
}
