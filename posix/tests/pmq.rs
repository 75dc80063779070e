//! pmq_send, pmq_recv and bare_mq, run as the real binaries: priorities, the three ways to wait
//! (mq_receive, poll, mq_notify), each errno line, the one-receiver claim, the signal table, a
//! closed terminal, and user nobody. Each test has queue names of its own
//! (`/ipc-labs-test-<pid>-<n>-<label>`), which a guard removes even when the test fails, and
//! checks at the end that nothing is left at them.

#![forbid(unsafe_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use posix::mq::{Access, Create, Notifications, Queue, attr, mq_notify, text};
use testkit::{
    DEADLINE, Finished, Nobody, OnTerminal, Running, SYS_POLL, assert_help_only,
    assert_refused_out_of_range, run, signal_row, stop_with, wait_until_blocked_in,
};

const SEND: &str = env!("CARGO_BIN_EXE_pmq_send");
const RECV: &str = env!("CARGO_BIN_EXE_pmq_recv");
const BARE: &str = env!("CARGO_BIN_EXE_bare_mq");

/// A queue name of this test's own; dropping it removes whatever is left at the name.
struct TestName(String);

impl TestName {
    fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        Self(format!("/ipc-labs-test-{}-{n}-{label}", std::process::id()))
    }

    fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a queue has the name now.
    fn exists(&self) -> bool {
        let flags = nix::mqueue::MQ_OFlag::O_RDONLY;
        match nix::mqueue::mq_open(self.as_str(), flags, nix::sys::stat::Mode::empty(), None) {
            Ok(mqd) => {
                let _ = nix::mqueue::mq_close(mqd);
                true
            }
            Err(Errno::ENOENT) => false,
            Err(errno) => panic!("mq_open {}: {errno}", self.0),
        }
    }

    /// Creates the queue from the test (small: RLIMIT_MSGQUEUE is per user, for all tests),
    /// holding `messages`, each of priority 0. The handle removes it when dropped.
    fn create(&self, maxmsg: i64, messages: &[&str]) -> Queue {
        let queue = Queue::mq_open(
            self.as_str(),
            Access::Receive,
            Create::New,
            &attr(maxmsg, 64),
            true,
        )
        .expect("create the test's queue");
        let sender = self.open(Access::Send);
        for message in messages {
            sender.mq_send(message.as_bytes(), 0).expect("mq_send");
        }
        queue
    }

    fn open(&self, access: Access) -> Queue {
        Queue::mq_open(self.as_str(), access, Create::Never, &attr(1, 1), true).expect("mq_open")
    }

    fn queued(&self) -> i64 {
        self.open(Access::Receive).mq_getattr().unwrap().curmsgs()
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        let _ = nix::mqueue::mq_unlink(self.as_str());
    }
}

fn command(binary: &str, name: &TestName, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(["--name", name.as_str(), "--msgsize", "64"])
        .args(args);
    command
}

fn send(name: &TestName, args: &[&str], input: &str) -> Finished {
    run(command(SEND, name, args), input)
}

/// Exit 1, nothing but one line on stderr, holding each of `parts`.
fn assert_one_line_failure(finished: &Finished, parts: &[&str]) {
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert_eq!(finished.stderr.lines().count(), 1, "{finished:?}");
    for part in parts {
        assert!(
            finished.stderr.contains(part),
            "no {part:?} in {finished:?}"
        );
    }
}

#[test]
fn bare_mq_receives_the_highest_priority_first_and_leaves_nothing() {
    let finished = run(Command::new(BARE), "");
    assert!(finished.status.success(), "{finished:?}");
    let lines = finished.stdout_lines();
    let name = format!("/ipc-labs-bare-mq-{}", finished_pid(lines[0]));
    assert_eq!(
        lines,
        [
            format!("mq_open: created {name} (mode 0600, at most 10 messages of 64 bytes)"),
            "mq_send: \"low\" with priority 1".to_owned(),
            "mq_send: \"high\" with priority 9".to_owned(),
            "mq_send: \"middle\" with priority 5".to_owned(),
            "mq_getattr: mq_curmsgs=3 mq_msgsize=64 mq_maxmsg=10".to_owned(),
            "mq_receive: \"high\" (priority 9)".to_owned(),
            "mq_receive: \"middle\" (priority 5)".to_owned(),
            "mq_receive: \"low\" (priority 1)".to_owned(),
            format!("mq_close, mq_unlink: {name} is gone"),
        ]
    );
    assert!(!TestName(name).exists());
}

fn finished_pid(line: &str) -> u32 {
    testkit::number_after(line, "/ipc-labs-bare-mq-")
}

#[test]
fn bare_mq_refuses_a_name_that_exists_and_leaves_that_queue_alone() {
    let name = TestName::new("bare-eexist");
    let _queue = name.create(2, &["someone's"]);
    let mut command = Command::new(BARE);
    command.args(["--name", name.as_str()]);
    let refused = run(command, "");
    assert_one_line_failure(&refused, &[&format!("mq_open {}: EEXIST", name.as_str())]);
    assert_eq!(name.queued(), 1, "the queue and its message are left alone");
}

#[test]
fn help_only_and_out_of_range_values_are_refused() {
    for binary in [SEND, RECV, BARE] {
        assert_help_only(binary);
    }
    let mut priority = Command::new(SEND);
    priority.args(["--priority", "32768"]);
    assert_refused_out_of_range(priority, "--priority");
    let mut count = Command::new(RECV);
    count.args(["--count", "0"]);
    assert_refused_out_of_range(count, "--count");
}

#[test]
fn what_was_sent_comes_out_highest_priority_first_and_the_queue_goes() {
    let name = TestName::new("order");
    let first = send(&name, &["--priority", "1"], "low one\nlow two\n");
    assert!(first.status.success(), "{first:?}");
    assert!(first.stdout.contains(&format!(
        "pmq_send: {} stays with 2 messages for a receiver",
        name.as_str()
    )));
    assert!(
        send(&name, &["--priority", "9"], "urgent\n")
            .status
            .success()
    );
    assert!(
        send(&name, &["--priority", "5"], "middle\n")
            .status
            .success()
    );
    let received = run(command(RECV, &name, &["--count", "4", "--unlink"]), "");
    assert!(received.status.success(), "{received:?}");
    assert_eq!(
        received.stdout_lines(),
        [
            &format!(
                "pmq_recv: opened {}, which another process created (4 queued)",
                name.0
            ),
            "pmq_recv: waiting for messages (mq_receive blocks); Ctrl-C to stop",
            "priority 9: urgent",
            "priority 5: middle",
            "priority 1: low one",
            "priority 1: low two",
            &format!("pmq_recv: removed {} (0 messages discarded)", name.0),
        ]
    );
    assert!(!name.exists());
}

#[test]
fn a_receiver_that_waits_gets_each_message_and_removes_the_queue_it_made() {
    let name = TestName::new("live");
    let mut recv = Running::spawn(command(RECV, &name, &["--count", "2"]));
    recv.expect_line("pmq_recv: created");
    recv.expect_line("mq_receive blocks");
    wait_until_blocked_in(recv.pid(), libc::SYS_mq_timedreceive);
    let sent = send(&name, &["--existing", "--priority", "3"], "one\ntwo\n");
    assert!(sent.status.success(), "{sent:?}");
    assert!(!sent.stdout.contains("stays"), "{sent:?}");
    recv.expect_line("priority 3: one");
    recv.expect_line("priority 3: two");
    let finished = recv.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(finished.stdout.contains("removed"), "{finished:?}");
    assert!(!name.exists());
}

#[test]
fn poll_says_when_nothing_came_in_time() {
    let name = TestName::new("poll-timeout");
    let finished = run(command(RECV, &name, &["--poll", "50"]), "");
    assert!(finished.status.success(), "{finished:?}");
    let lines = finished.stdout_lines();
    assert_eq!(lines[2], "pmq_recv: no message for 50 ms", "{finished:?}");
    assert!(!name.exists());
}

#[test]
fn poll_wakes_when_a_message_arrives() {
    let name = TestName::new("poll-arrives");
    let args = ["--poll", "20000", "--count", "1"];
    let mut recv = Running::spawn(command(RECV, &name, &args));
    recv.expect_line("waiting in poll(2)");
    wait_until_blocked_in(recv.pid(), SYS_POLL);
    assert!(send(&name, &["--priority", "4"], "ping\n").status.success());
    recv.expect_line("priority 4: ping");
    let finished = recv.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(!finished.stdout.contains("no message"), "{finished:?}");
    assert!(!name.exists());
}

#[test]
fn notify_starts_a_thread_for_each_message_on_the_empty_queue() {
    let name = TestName::new("notify");
    let mut recv = Running::spawn(command(RECV, &name, &["--notify", "--count", "2"]));
    recv.expect_line("queue empty; registered with mq_notify");
    assert!(
        send(&name, &["--priority", "7"], "first\n")
            .status
            .success()
    );
    recv.expect_line("notified: a message arrived on the empty queue");
    recv.expect_line("priority 7: first");
    // Registered again before the drain: the next message is notified too.
    recv.expect_line("queue empty; registered with mq_notify");
    assert!(send(&name, &[], "second\n").status.success());
    recv.expect_line("notified");
    recv.expect_line("priority 0: second");
    let finished = recv.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert!(!name.exists());
}

#[test]
fn notify_takes_what_was_queued_before_it_registered() {
    let name = TestName::new("notify-queued");
    let _queue = name.create(4, &["early"]);
    let args = ["--notify", "--count", "1", "--existing"];
    let finished = run(command(RECV, &name, &args), "");
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.stdout.contains("priority 0: early"),
        "{finished:?}"
    );
    assert!(!finished.stdout.contains("notified"), "{finished:?}");
}

#[test]
fn a_second_notifier_gets_ebusy_naming_the_registered_process() {
    let name = TestName::new("notify-ebusy");
    let queue = name.create(4, &[]);
    mq_notify(&queue, Notifications::get().unwrap()).expect("the test registers first");
    let refused = run(command(RECV, &name, &["--notify", "--existing"]), "");
    assert_one_line_failure(
        &refused,
        &[
            &format!("mq_notify {}: EBUSY", name.as_str()),
            &format!("process {} is registered", std::process::id()),
        ],
    );
    assert!(refused.stdout.contains("left"), "{refused:?}");
    assert!(
        name.exists(),
        "pmq_recv did not create it, so it must not remove it"
    );
}

#[test]
fn no_notification_while_another_process_waits_in_mq_receive() {
    let name = TestName::new("notify-waiter");
    let mut recv = Running::spawn(command(RECV, &name, &["--notify", "--count", "1"]));
    recv.expect_line("registered with mq_notify");
    // A receiver of the test's own, in a thread, waits in mq_receive.
    let (tid_sender, tid) = mpsc::channel();
    let queue_name = name.0.clone();
    let waiter = thread::spawn(move || {
        let queue = Queue::mq_open(
            &queue_name,
            Access::Receive,
            Create::Never,
            &attr(1, 1),
            false,
        )
        .expect("mq_open");
        tid_sender.send(nix::unistd::gettid()).unwrap();
        let mut buffer = [0; 64];
        let (length, _) = queue.mq_receive(&mut buffer).expect("mq_receive");
        text(&buffer[..length])
    });
    let tid = tid.recv_timeout(DEADLINE).expect("the waiter's thread id");
    wait_until_thread_blocked_in(tid, libc::SYS_mq_timedreceive);
    assert!(
        send(&name, &["--existing"], "for the waiter\n")
            .status
            .success()
    );
    assert_eq!(waiter.join().unwrap(), "for the waiter");
    // The kernel removes a registration when it notifies: it is still pmq_recv's.
    let status = name.open(Access::Receive).status().unwrap();
    assert!(
        status.ends_with(&format!("NOTIFY_PID:{}", recv.pid())),
        "{status}"
    );
    assert!(
        send(&name, &["--existing"], "for pmq_recv\n")
            .status
            .success()
    );
    let finished = recv.wait();
    assert!(finished.status.success(), "{finished:?}");
    assert_eq!(
        finished.stdout.matches("notified").count(),
        1,
        "{finished:?}"
    );
    assert!(finished.stdout.contains("priority 0: for pmq_recv"));
    assert!(!finished.stdout.contains("for the waiter"), "{finished:?}");
    assert!(!name.exists());
}

/// [`wait_until_blocked_in`] for a thread of this test process.
fn wait_until_thread_blocked_in(tid: nix::unistd::Pid, syscall: libc::c_long) {
    let path = format!("/proc/self/task/{tid}/syscall");
    let deadline = Instant::now() + DEADLINE;
    while std::fs::read_to_string(&path)
        .unwrap_or_default()
        .split(' ')
        .next()
        != Some(syscall.to_string().as_str())
    {
        assert!(
            Instant::now() < deadline,
            "thread {tid} never blocked in {syscall}"
        );
        // Waits for a state it can see; the millisecond only spares the CPU.
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_line_longer_than_mq_msgsize_is_refused_whole_with_emsgsize() {
    let name = TestName::new("emsgsize");
    let long = "x".repeat(65);
    let finished = send(&name, &[], &format!("short\n{long}\nnever\n"));
    assert_one_line_failure(
        &finished,
        &[&format!(
            "mq_send {0}: EMSGSIZE: Message too long; line 2 has 65 bytes, more than {0}'s \
             mq_msgsize (64): not sent; the line before it was sent",
            name.as_str()
        )],
    );
    assert!(finished.stdout.contains("sent priority 0: short"));
    assert!(!finished.stdout.contains("never"));
    assert_eq!(name.queued(), 1, "the line before it waits for a receiver");
}

#[test]
fn a_receive_buffer_below_mq_msgsize_is_emsgsize_and_the_message_stays() {
    let name = TestName::new("small-buffer");
    let _queue = name.create(4, &["kept"]);
    let finished = run(command(RECV, &name, &["--existing", "--buffer", "8"]), "");
    assert_one_line_failure(
        &finished,
        &[&format!(
            "mq_receive {0}: EMSGSIZE: Message too long; the buffer has 8 bytes, {0}'s \
             mq_msgsize is 64: the message stays queued",
            name.as_str()
        )],
    );
    assert_eq!(name.queued(), 1);
}

#[test]
fn each_mq_open_errno_gets_its_line() {
    let missing = TestName::new("missing");
    let finished = run(command(RECV, &missing, &["--existing"]), "");
    assert_one_line_failure(
        &finished,
        &[
            &format!("mq_open {}: ENOENT", missing.0),
            "no queue has this name",
        ],
    );
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "no-slash",
            &[],
            &["mq_open no-slash: EINVAL", "starts with '/'"],
        ),
        (
            "/a/b",
            &[],
            &["mq_open /a/b: EACCES", "no '/' after the first"],
        ),
        ("/", &[], &["mq_open /: ENOENT", "'/' alone names no queue"]),
        (
            "/ipc-labs-test-too-big",
            &["--maxmsg", "100000"],
            &["EINVAL", "msg_max"],
        ),
    ];
    for (name, args, parts) in cases {
        let mut command = Command::new(SEND);
        command.args(["--name", name]).args(args);
        assert_one_line_failure(&run(command, ""), parts);
    }
    assert!(!TestName("/ipc-labs-test-too-big".to_owned()).exists());
}

#[test]
fn a_queue_with_a_bigger_mq_msgsize_than_allowed_is_refused_and_left() {
    let name = TestName::new("too-big");
    let _queue = name.create(2, &["x"]);
    let args = ["--existing", "--max-msgsize", "32"];
    let refused = run(command(RECV, &name, &args), "");
    assert_one_line_failure(
        &refused,
        &["refused: its mq_msgsize is 64 bytes, over --max-msgsize 32"],
    );
    assert_eq!(name.queued(), 1);
}

#[test]
fn a_second_receiver_is_refused_and_a_killed_one_frees_its_claim() {
    let name = TestName::new("claim");
    let mut first = Running::spawn(command(RECV, &name, &[]));
    first.expect_line("mq_receive blocks");
    let second = run(command(RECV, &name, &[]), "");
    assert_one_line_failure(
        &second,
        &[
            &format!("flock {}", name.as_str()),
            &format!("process {} receives from this queue already", first.pid()),
        ],
    );
    first.signal(Signal::SIGKILL);
    let killed = first.wait();
    assert_eq!(killed.status.code(), None, "{killed:?}");
    assert!(name.exists(), "SIGKILL runs no cleanup: the queue stays");
    let after = run(command(RECV, &name, &["--poll", "10", "--unlink"]), "");
    assert!(
        after.status.success(),
        "the dead receiver's claim is gone: {after:?}"
    );
    assert!(!name.exists());
}

#[test]
fn another_users_queue_is_eacces_with_its_owner_where_mqueue_is_mounted() {
    let Some(nobody) = Nobody::new("pmq-perm") else {
        return;
    };
    let name = TestName::new("perm");
    let _queue = name.create(2, &[]); // root's, mode 0600
    let args = ["--name", name.as_str(), "--existing"];
    // Without an mqueue mount in sight, the owner cannot be read: the line says how to mount.
    let plain = run(nobody.command(SEND, &args), "");
    let why = match posix::mq::mqueue_mount() {
        Some(_) => "the queue belongs to uid 0 with mode 0600",
        None => "mount -t mqueue",
    };
    assert_one_line_failure(
        &plain,
        &[&format!("mq_open {}: EACCES", name.as_str()), why],
    );
    if !Command::new("unshare")
        .args(["--mount", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("SKIPPED the owner's line: unshare --mount is not permitted here");
        return;
    }
    // The mqueue file system mounted in a mount namespace of the example's own.
    let mount = testkit::TempDir::new("pmq-mount");
    let as_nobody = nobody.command(RECV, &args);
    let mut mounted = Command::new("unshare");
    mounted
        .args([
            "--mount",
            "sh",
            "-c",
            r#"mount -t mqueue none "$0" && exec "$@""#,
        ])
        .arg(mount.path())
        .arg(as_nobody.get_program())
        .args(as_nobody.get_args())
        .current_dir(as_nobody.get_current_dir().unwrap());
    let refused = run(mounted, "");
    assert_one_line_failure(
        &refused,
        &[
            "EACCES",
            "the queue belongs to uid 0 with mode 0600, and you are uid",
        ],
    );
}

#[test]
fn the_signal_table() {
    signal_row(
        "pmq_recv blocked in mq_receive (it created the queue)",
        |signal| {
            let name = TestName::new("sig-recv");
            let mut recv = Running::spawn(command(RECV, &name, &[]));
            recv.expect_line("mq_receive blocks");
            wait_until_blocked_in(recv.pid(), libc::SYS_mq_timedreceive);
            let finished = stop_with(recv, signal);
            assert!(
                finished
                    .stdout
                    .contains(&format!("got {signal} after 0 messages"))
            );
            assert!(!name.exists(), "the queue it created is left");
        },
    );
    signal_row(
        "pmq_recv --notify waiting for the thread (queue not its own)",
        |signal| {
            let name = TestName::new("sig-notify");
            let _queue = name.create(2, &[]);
            let mut recv = Running::spawn(command(RECV, &name, &["--notify", "--existing"]));
            recv.expect_line("registered with mq_notify");
            wait_until_blocked_in(recv.pid(), SYS_POLL);
            stop_with(recv, signal);
            assert!(name.exists(), "a queue it did not create is removed");
        },
    );
    signal_row("pmq_send blocked in mq_send on a full queue", |signal| {
        let name = TestName::new("sig-send-full");
        let _queue = name.create(2, &["a", "b"]);
        let mut sender = Running::spawn(command(SEND, &name, &["--existing"]));
        sender.write_line("one too many").unwrap();
        sender.expect_line("is full; waiting for room");
        wait_until_blocked_in(sender.pid(), libc::SYS_mq_timedsend);
        let finished = stop_with(sender, signal);
        assert!(
            finished
                .stdout
                .contains(&format!("got {signal} after sending 0 messages"))
        );
        assert_eq!(name.queued(), 2, "pmq_send added nothing and took nothing");
    });
    signal_row("pmq_send reading stdin (it created the queue)", |signal| {
        let name = TestName::new("sig-send-stdin");
        let mut sender = Running::spawn(command(SEND, &name, &[]));
        sender.expect_line("sending each line of stdin");
        wait_until_blocked_in(sender.pid(), libc::SYS_read);
        let finished = stop_with(sender, signal);
        assert!(finished.stdout.contains("removed"), "{finished:?}");
        assert!(!name.exists(), "the empty queue it created is left");
    });
}

#[test]
fn a_closed_terminal_stops_both_and_removes_what_they_made() {
    let recv_name = TestName::new("pty-recv");
    let send_name = TestName::new("pty-send");
    for (binary, name) in [(RECV, &recv_name), (SEND, &send_name)] {
        OnTerminal::spawn_closed(command(binary, name, &[])).assert_hung_up();
        assert!(!name.exists(), "{binary} left its queue");
    }
    // A receiver whose window closes while it waits: the message it prints meets EIO.
    let name = TestName::new("pty-recv-live");
    let mut recv = OnTerminal::spawn(command(RECV, &name, &[]));
    recv.expect("mq_receive blocks");
    wait_until_blocked_in(recv.pid(), libc::SYS_mq_timedreceive);
    recv.close_window();
    assert!(
        send(&name, &["--existing"], "into the void\n")
            .status
            .success()
    );
    recv.assert_hung_up();
    assert!(!name.exists());
}
