//! ipcview never needs root: run as `nobody` (through `setpriv`), it still lists root's objects
//! from `/proc/sysvipc`, and says "not visible", with the reason, for what the kernel keeps
//! from it: a set's values (semctl needs read permission on a 0600 set) and the system call of
//! root's process (only its owner or root may read `/proc/<pid>/syscall`).

#![forbid(unsafe_code)]

mod common;

use common::{IPCVIEW, by_id, example, process};
use nix::sys::signal::Signal;
use testkit::{Nobody, Running, Segments, Sets, TestKey, run, stop_with};

#[test]
fn another_user_s_segment_and_set_are_listed_with_what_is_not_visible() {
    let Some(nobody) = Nobody::new("iv-nobody") else {
        return;
    };
    let segment_key = TestKey::<Segments>::new("iv-nobody-shm");
    let mut server = Running::spawn(segment_key.command(&example("shm_server"), &[]));
    server.expect_line("waiting for shm_client");
    let server_pid = server.pid().as_raw();
    let segment_id = segment_key.ids()[0];

    let set_key = TestKey::<Sets>::new("iv-nobody-sem");
    let pv = example("pv");
    let created = run(set_key.command(&pv, &["create", "--values", "0"]), "");
    assert!(created.status.success(), "{created:?}");
    let mut waiter = Running::spawn(set_key.command(&pv, &["op", "0-1"]));
    waiter.expect_line("waiting for semaphore 0");
    let set_id = set_key.ids()[0];

    let args = ["--json", "--all-users", "--filter", "shm,sem"];
    let finished = run(nobody.command(IPCVIEW, &args), "");
    assert!(finished.status.success(), "{finished:?}");
    let shown: serde_json::Value = serde_json::from_str(&finished.stdout).expect("JSON");

    let segment = by_id(&shown, "shm", segment_id).expect("root's segment is listed");
    assert_eq!(segment["owner"], "root");
    assert_eq!(segment["mode"], "0600");
    let creator = process(segment, server_pid).expect("its creator is listed");
    assert_eq!(
        creator["comm"], "shm_server",
        "/proc/<pid>/stat is anyone's"
    );
    assert_eq!(creator["blocked_in"], serde_json::Value::Null);
    let why = creator["not_visible"].as_str().expect("a reason");
    assert!(
        why.starts_with(&format!("not visible: /proc/{server_pid}/syscall: EACCES")),
        "{why}"
    );

    let set = by_id(&shown, "sem", set_id).expect("root's set is listed");
    assert_eq!(set["details"]["nsems"], 1, "from /proc/sysvipc/sem");
    assert_eq!(set["details"]["semaphores"], serde_json::Value::Null);
    let why = set["details"]["not_visible"].as_str().expect("a reason");
    assert!(
        why.starts_with("not visible: the values") && why.contains("EACCES"),
        "{why}"
    );

    let text = run(
        nobody.command(IPCVIEW, &["--once", "--all-users", "--filter", "shm"]),
        "",
    );
    assert!(
        text.stdout
            .contains(&format!("not visible: /proc/{server_pid}/syscall: EACCES")),
        "{text:?}"
    );

    stop_with(waiter, Signal::SIGTERM);
    stop_with(server, Signal::SIGTERM);
}
