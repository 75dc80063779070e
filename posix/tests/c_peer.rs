//! A peer in C (book/src/posix/peer.c) and the Rust programs use the same POSIX objects: a
//! message C sends reaches pmq_recv with its priority, what pmq_send sends reaches C, a post in
//! C shows in psem, and a psem post wakes C. The C file is compiled with `cc` into a directory
//! of each test's own; without a C compiler the tests say so and pass without running.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, MqAttr, mq_close, mq_open, mq_unlink};
use nix::sys::stat::Mode;
use testkit::{Running, TempDir, run, wait_until_blocked_in};

const PEER_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../book/src/posix/peer.c");
const PMQ_SEND: &str = env!("CARGO_BIN_EXE_pmq_send");
const PMQ_RECV: &str = env!("CARGO_BIN_EXE_pmq_recv");
const PSEM: &str = env!("CARGO_BIN_EXE_psem");

/// peer.c compiled in a directory of the test's own, removed with it.
struct Peer {
    dir: TempDir,
}

impl Peer {
    /// `None` (after saying so) when this machine has no `cc`.
    fn build() -> Option<Self> {
        let dir = TempDir::new("c-peer");
        let binary = dir.path().join("peer");
        let compiled = Command::new("cc")
            .args(["-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&binary)
            .arg(PEER_C)
            .args(["-lrt", "-pthread"])
            .output();
        match compiled {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("SKIPPED: no cc on this machine to compile {PEER_C}");
                None
            }
            Err(err) => panic!("cc: {err}"),
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "cc {PEER_C} failed:\n{stderr}");
                assert!(stderr.is_empty(), "cc warned:\n{stderr}");
                Some(Self { dir })
            }
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.path());
        command.args(args);
        command
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("peer")
    }
}

/// A name of this test's own, for a queue or a semaphore; dropping it removes both kinds.
struct Name(String);

impl Name {
    fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        Self(format!("/ipc-labs-test-{label}-{}-{n}", std::process::id()))
    }

    /// Creates a queue with the defaults of pmq_send (10 messages of 8192 bytes), mode 0600.
    fn create_queue(&self) {
        let flags = MQ_OFlag::O_RDWR | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
        let attr = MqAttr::new(0, 10, 8192, 0);
        let mode = Mode::S_IRUSR | Mode::S_IWUSR;
        let queue = mq_open(self.0.as_str(), flags, mode, Some(&attr)).expect("mq_open");
        mq_close(queue).expect("mq_close");
    }

    fn queue_exists(&self) -> bool {
        match mq_open(self.0.as_str(), MQ_OFlag::O_RDONLY, Mode::empty(), None) {
            Ok(queue) => mq_close(queue).is_ok(),
            Err(Errno::ENOENT) => false,
            Err(errno) => panic!("mq_open {}: {errno}", self.0),
        }
    }

    /// glibc keeps a named semaphore in /dev/shm/sem.<name without the slash>.
    fn sem_file(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm/sem.{}", &self.0[1..]))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = mq_unlink(self.0.as_str());
        let _ = std::fs::remove_file(self.sem_file());
    }
}

#[test]
fn c_sends_and_pmq_recv_receives_the_most_urgent_first() {
    let Some(peer) = Peer::build() else { return };
    let name = Name::new("c-send");
    name.create_queue();
    for (priority, text) in [("1", "low"), ("9", "urgent")] {
        let sent = run(peer.command(&["send", &name.0, priority, text]), "");
        assert!(sent.status.success(), "{sent:?}");
        assert_eq!(
            sent.stdout,
            format!("sent with priority {priority}: {text}\n")
        );
    }
    let mut recv = Command::new(PMQ_RECV);
    recv.args(["--name", &name.0, "--existing", "--count", "2"]);
    let received = run(recv, "");
    assert!(received.status.success(), "{received:?}");
    let urgent = received
        .stdout
        .find("priority 9: urgent")
        .expect("the urgent one");
    let low = received
        .stdout
        .find("priority 1: low")
        .expect("the low one");
    assert!(
        urgent < low,
        "the higher priority comes first: {received:?}"
    );
}

#[test]
fn pmq_send_sends_and_c_receives() {
    let Some(peer) = Peer::build() else { return };
    let name = Name::new("c-recv");
    let mut send = Command::new(PMQ_SEND);
    send.args(["--name", &name.0, "--priority", "5"]);
    let sent = run(send, "hello from Rust\n");
    assert!(sent.status.success(), "{sent:?}");
    let received = run(peer.command(&["recv", &name.0]), "");
    assert!(received.status.success(), "{received:?}");
    assert_eq!(received.stdout, "priority 5: hello from Rust\n");
    assert!(received.stderr.is_empty(), "{received:?}");
}

#[test]
fn c_posts_a_named_semaphore_and_psem_sees_it() {
    let Some(peer) = Peer::build() else { return };
    let name = Name::new("c-post");
    let psem = |args: &[&str]| {
        let mut command = Command::new(PSEM);
        command.args(["--name", &name.0]).args(args);
        run(command, "")
    };
    assert!(psem(&["create", "--value", "0"]).status.success());
    let posted = run(peer.command(&["post", &name.0]), "");
    assert!(posted.status.success(), "{posted:?}");
    assert_eq!(posted.stdout, format!("posted {}\n", name.0));
    let shown = psem(&["show"]);
    assert!(
        shown.stdout.contains(&format!("psem: {}: value 1", name.0)),
        "{shown:?}"
    );
    let taken = psem(&["trywait"]);
    assert!(taken.status.success(), "{taken:?}");
    assert!(psem(&["rm"]).status.success());
    assert!(!name.sem_file().exists());
}

#[test]
fn psem_post_wakes_c_waiting_in_sem_wait() {
    let Some(peer) = Peer::build() else { return };
    let name = Name::new("c-wait");
    let mut create = Command::new(PSEM);
    create.args(["--name", &name.0, "create", "--value", "0"]);
    assert!(run(create, "").status.success());
    let waiting = Running::spawn(peer.command(&["wait", &name.0]));
    // glibc's sem_wait sleeps in futex while the value is 0.
    wait_until_blocked_in(waiting.pid(), libc::SYS_futex);
    let mut post = Command::new(PSEM);
    post.args(["--name", &name.0, "post"]);
    assert!(run(post, "").status.success());
    let woken = waiting.wait();
    assert!(woken.status.success(), "{woken:?}");
    assert_eq!(woken.stdout, format!("took 1 from {}\n", name.0));
}

#[test]
fn the_c_peer_names_the_call_the_object_and_the_errno() {
    let Some(peer) = Peer::build() else { return };
    let name = Name::new("c-missing");
    for (verb, call) in [
        ("recv", "mq_open"),
        ("post", "sem_open"),
        ("wait", "sem_open"),
    ] {
        let failed = run(peer.command(&[verb, &name.0]), "");
        assert_eq!(failed.status.code(), Some(1), "{failed:?}");
        assert_eq!(
            failed.stderr,
            format!(
                "peer: {call} {}: ENOENT: No such file or directory\n",
                name.0
            )
        );
        assert!(failed.stdout.is_empty());
    }
    let failed = run(peer.command(&["send", &name.0, "1", "x"]), "");
    assert!(failed.stderr.contains("ENOENT"), "{failed:?}");
    assert!(!name.queue_exists(), "peer never creates a queue");
    name.create_queue();
    let too_urgent = run(peer.command(&["send", &name.0, "32768", "x"]), "");
    assert_eq!(too_urgent.status.code(), Some(2), "{too_urgent:?}");
    assert_eq!(
        too_urgent.stderr,
        "peer: priority 32768: a number from 0 to 32767\n"
    );
    let usage = run(peer.command(&["fly"]), "");
    assert_eq!(usage.status.code(), Some(2));
    assert!(usage.stderr.starts_with("usage: peer send"), "{usage:?}");
}
