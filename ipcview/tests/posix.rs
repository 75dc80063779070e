//! POSIX objects, which no example keeps open for long: the test itself opens a message queue
//! (`mq_open`) and a shared memory object (`shm_open`), and ipcview must list both, with this
//! process holding each and the queue's attributes from `mq_getattr`. Both names are unlinked
//! at the end, whatever happens.

#![forbid(unsafe_code)]

mod common;

use common::{objects, process};
use nix::mqueue::{MQ_OFlag, MqAttr, mq_open, mq_unlink};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;

/// Unlinks both names when dropped.
struct Names {
    queue: String,
    shm: String,
}

impl Drop for Names {
    fn drop(&mut self) {
        let _ = mq_unlink(self.queue.as_str());
        let _ = shm_unlink(self.shm.as_str());
    }
}

#[test]
fn a_posix_queue_and_shm_object_held_by_this_process_are_listed() {
    let me = std::process::id() as i32;
    let names = Names {
        queue: format!("/ipcview-test-q-{me}"),
        shm: format!("/ipcview-test-shm-{me}"),
    };
    let attr = MqAttr::new(0, 4, 64, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
    let _queue = mq_open(
        names.queue.as_str(),
        flags,
        Mode::S_IRUSR | Mode::S_IWUSR,
        Some(&attr),
    )
    .expect("mq_open");
    let oflag = nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_EXCL | nix::fcntl::OFlag::O_RDWR;
    let _shm =
        shm_open(names.shm.as_str(), oflag, Mode::S_IRUSR | Mode::S_IWUSR).expect("shm_open");

    let shown = common::json(&["--filter", "posix", "--pid", &me.to_string()]);
    let queue = objects(&shown, "posix-mq")
        .into_iter()
        .find(|o| o["details"]["name"] == names.queue.as_str())
        .unwrap_or_else(|| panic!("no queue {}: {shown:#}", names.queue));
    assert_eq!(queue["mode"], "0600");
    assert_eq!(queue["details"]["max_messages"], 4);
    assert_eq!(queue["details"]["message_size"], 64);
    assert_eq!(queue["details"]["messages"], 0);
    assert_eq!(
        process(queue, me).expect("this process")["role"],
        "reader+writer"
    );

    let path = format!("/dev/shm{}", names.shm);
    let shm = objects(&shown, "posix-shm")
        .into_iter()
        .find(|o| o["details"]["path"] == path.as_str())
        .unwrap_or_else(|| panic!("no {path}: {shown:#}"));
    assert_eq!(shm["details"]["size"], 0);
    assert_eq!(process(shm, me).expect("this process")["role"], "holder");
}
