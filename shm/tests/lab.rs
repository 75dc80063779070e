//! The shm lab's graded tests: producers and consumers through a ring buffer in a shared
//! segment (`lab_shm`), run as a real process tree. Each run has its own private segment and
//! set; the tests read their ids from the first lines and check that both are gone. The
//! expected counts and checksums are computed here, from the lab's rules, not taken from the
//! program's own lines.

#![forbid(unsafe_code)]

use std::process::Command;
use std::sync::OnceLock;

use testkit::{RemoveOnDrop, Running, Segments, Sets, number_after, sysv_ids};

const LAB: &str = env!("CARGO_BIN_EXE_lab_shm");

/// What one consumer said it got from one producer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Got {
    count: u64,
    sum: u64,
    out_of_order: u64,
}

/// What one run left.
#[derive(Debug)]
struct Run {
    stdout: String,
    success: bool,
    /// `got[consumer][producer]`.
    got: Vec<Vec<Got>>,
    segment_left: bool,
    set_left: bool,
}

/// Runs `lab_shm` and parses the consumers' lines. The run must end within testkit's deadline.
fn exchange(producers: u32, consumers: u32, items: u32, slots: u32) -> Run {
    let mut command = Command::new(LAB);
    for (flag, value) in [
        ("--producers", producers),
        ("--consumers", consumers),
        ("--items", items),
        ("--slots", slots),
    ] {
        command.arg(flag).arg(value.to_string());
    }
    let mut running = Running::spawn(command);
    let segment = number_after(&running.expect_line("created segment id="), "id=");
    let _segment = RemoveOnDrop::<Segments>::new(segment);
    let set = number_after(&running.expect_line("created semaphore set id="), "id=");
    let _set = RemoveOnDrop::<Sets>::new(set);
    running.expect_line("lab_shm: done in");
    let finished = running.wait();
    let mut got = vec![vec![Got::default(); producers as usize]; consumers as usize];
    for line in finished.stdout_lines() {
        // consumer C from producer P: N items, sum S, out of order K
        let Some(rest) = line.strip_prefix("consumer ") else {
            continue;
        };
        if !rest.contains(" from producer ") {
            continue;
        }
        let consumer: usize = testkit::number_after(line, "consumer ");
        let producer: usize = testkit::number_after(line, "from producer ");
        let entry = Got {
            count: testkit::number_after(line, ": "),
            sum: testkit::number_after(line, "sum "),
            out_of_order: testkit::number_after(line, "out of order "),
        };
        assert_eq!(got[consumer][producer], Got::default(), "twice: {line}");
        got[consumer][producer] = entry;
    }
    Run {
        stdout: finished.stdout.clone(),
        success: finished.status.success(),
        got,
        segment_left: !sysv_ids(sysv::Kind::Shm, |found| found.id == segment).is_empty(),
        set_left: !sysv_ids(sysv::Kind::Sem, |found| found.id == set).is_empty(),
    }
}

/// The graded default: 4 producers, 3 consumers, 100,000 items, 64 slots; run once.
fn default_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| exchange(4, 3, 100_000, 64))
}

/// The lab's rules, written again here: producer p of P makes items/P items (the first
/// items % P one more), item s carrying ((p + 1) << 32) | (s * 2654435761 mod 2^32).
fn expected(producer: u32, producers: u32, items: u32) -> (u64, u64) {
    let count = items / producers + u32::from(producer < items % producers);
    let sum = (0..count).fold(0u64, |sum, seq| {
        let value = (u64::from(producer) + 1) << 32 | u64::from(seq.wrapping_mul(2_654_435_761));
        sum.wrapping_add(value)
    });
    (u64::from(count), sum)
}

fn assert_all_arrive(run: &Run, producers: u32, items: u32) {
    assert!(run.success, "{run:?}");
    let total: u64 = run.got.iter().flatten().map(|got| got.count).sum();
    assert_eq!(total, u64::from(items), "{}", run.stdout);
    for producer in 0..producers {
        let count: u64 = run.got.iter().map(|c| c[producer as usize].count).sum();
        let (wanted, _) = expected(producer, producers, items);
        assert_eq!(count, wanted, "producer {producer}: {}", run.stdout);
    }
}

fn assert_checksums(run: &Run, producers: u32, items: u32) {
    assert!(run.success, "{run:?}");
    for producer in 0..producers {
        let sum = run
            .got
            .iter()
            .fold(0u64, |sum, c| sum.wrapping_add(c[producer as usize].sum));
        let (_, wanted) = expected(producer, producers, items);
        assert_eq!(sum, wanted, "producer {producer}: {}", run.stdout);
    }
}

fn assert_in_order(run: &Run) {
    assert!(run.success, "{run:?}");
    for (consumer, from) in run.got.iter().enumerate() {
        for (producer, got) in from.iter().enumerate() {
            assert_eq!(
                got.out_of_order, 0,
                "consumer {consumer} saw producer {producer}'s items out of order: {}",
                run.stdout
            );
        }
    }
}

#[test]
fn all_100000_items_arrive() {
    assert_all_arrive(default_run(), 4, 100_000);
}

#[test]
fn checksums_are_exact() {
    assert_checksums(default_run(), 4, 100_000);
}

#[test]
fn each_producers_items_stay_in_order() {
    assert_in_order(default_run());
}

#[test]
fn the_segment_and_the_set_are_removed() {
    let run = default_run();
    assert!(run.success, "{run:?}");
    assert!(!run.segment_left, "the segment is left: {run:?}");
    assert!(!run.set_left, "the set is left: {run:?}");
}

// BEGIN HIDDEN TESTS
#[test]
fn a_tiny_ring_and_more_consumers_than_producers() {
    for (producers, consumers, items, slots) in
        [(2, 5, 20_000, 2), (1, 1, 5_000, 1), (7, 2, 9_999, 5)]
    {
        let run = exchange(producers, consumers, items, slots);
        assert_all_arrive(&run, producers, items);
        assert_checksums(&run, producers, items);
        assert_in_order(&run);
        assert!(!run.segment_left && !run.set_left, "{run:?}");
    }
}
// END HIDDEN TESTS
