//! The semaphore lab's graded tests: the dining philosophers (`lab_semaphore`), run as a real
//! process tree. Each run has its own private set and its own log in a temp directory; the
//! tests read the set's id from the first line and check that it is gone, and read the log
//! themselves (not through the lab's own summary) to check the meals and the neighbours.

#![forbid(unsafe_code)]

use std::process::Command;
use std::sync::OnceLock;

use testkit::{RemoveOnDrop, Running, Sets, TempDir, number_after, sysv_ids};

const LAB: &str = env!("CARGO_BIN_EXE_lab_semaphore");

/// What one run left: its output, its log, and whether its set still exists.
#[derive(Debug)]
struct Dinner {
    stdout: String,
    success: bool,
    log: String,
    set_left: bool,
}

/// Runs `lab_semaphore -n N -k K` with its log in a temp directory. The dinner must end, and
/// print its last line, within testkit's deadline (10 s): a deadlock fails here.
fn dine(philosophers: u16, meals: u32) -> Dinner {
    let dir = TempDir::new("lab-semaphore");
    let log = dir.path().join("philosophers.log");
    let mut command = Command::new(LAB);
    command
        .args(["-n", &philosophers.to_string(), "-k", &meals.to_string()])
        .args(["--eat-us", "100", "--think-us", "100"])
        .arg("--log")
        .arg(&log);
    let mut running = Running::spawn(command);
    let first = running.expect_line("created semaphore set id=");
    let id = number_after(&first, "id=");
    let _cleanup = RemoveOnDrop::<Sets>::new(id);
    running.expect_line("neighbours eating at once");
    let finished = running.wait();
    Dinner {
        stdout: finished.stdout.clone(),
        success: finished.status.success(),
        log: std::fs::read_to_string(&log).unwrap_or_default(),
        set_left: !sysv_ids(sysv::Kind::Sem, |set| set.id == id).is_empty(),
    }
}

/// The graded default: 5 philosophers, 30 meals each, run once for the tests below.
fn default_dinner() -> &'static Dinner {
    static DINNER: OnceLock<Dinner> = OnceLock::new();
    DINNER.get_or_init(|| dine(5, 30))
}

/// One record of the log: (start?, philosopher, time in ns).
fn records(log: &str) -> Vec<(bool, usize, u128)> {
    log.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 3, "a log record is `start|end I T`: {line:?}");
            let start = match fields[0] {
                "start" => true,
                "end" => false,
                other => panic!("unknown record {other:?} in {line:?}"),
            };
            let who = fields[1].parse().unwrap_or_else(|_| panic!("{line:?}"));
            let time = fields[2].parse().unwrap_or_else(|_| panic!("{line:?}"));
            (start, who, time)
        })
        .collect()
}

/// Each philosopher's meals as (start, end) times, checking that starts and ends alternate.
fn meals(log: &str, seats: usize) -> Vec<Vec<(u128, u128)>> {
    let mut meals = vec![Vec::new(); seats];
    let mut eating: Vec<Option<u128>> = vec![None; seats];
    for (start, who, time) in records(log) {
        assert!(who < seats, "philosopher {who} at a table of {seats}");
        match (start, eating[who]) {
            (true, None) => eating[who] = Some(time),
            (false, Some(began)) => {
                assert!(began <= time, "philosopher {who} ends before it starts");
                meals[who].push((began, time));
                eating[who] = None;
            }
            (true, Some(_)) => panic!("philosopher {who} starts eating twice"),
            (false, None) => panic!("philosopher {who} ends a meal it never started"),
        }
    }
    assert!(eating.iter().all(Option::is_none), "a meal never ended");
    meals
}

/// Fails if two neighbours ever eat at once: in the order of the log, and by the times.
fn assert_neighbours_never_overlap(log: &str, seats: usize) {
    let mut eating = vec![false; seats];
    for (index, (start, who, _)) in records(log).into_iter().enumerate() {
        if start {
            let left = (who + seats - 1) % seats;
            let right = (who + 1) % seats;
            assert!(
                !eating[left] && !eating[right],
                "record {index}: philosopher {who} starts eating while a neighbour eats"
            );
        }
        eating[who] = start;
    }
    let meals = meals(log, seats);
    for who in 0..seats {
        let next = (who + 1) % seats;
        for &(a_start, a_end) in &meals[who] {
            for &(b_start, b_end) in &meals[next] {
                assert!(
                    a_end <= b_start || b_end <= a_start,
                    "philosophers {who} and {next} ate at once: {a_start}..{a_end} and \
                     {b_start}..{b_end} ns"
                );
            }
        }
    }
}

#[test]
fn the_dinner_ends_without_deadlock() {
    let dinner = default_dinner();
    assert!(dinner.success, "{dinner:?}");
    assert!(dinner.stdout.contains("dinner over in"), "{dinner:?}");
}

#[test]
fn every_philosopher_eats_k_times() {
    let dinner = default_dinner();
    assert!(dinner.success, "{dinner:?}");
    for (who, meals) in meals(&dinner.log, 5).iter().enumerate() {
        assert!(
            meals.len() >= 30,
            "philosopher {who} ate {} times",
            meals.len()
        );
    }
}

#[test]
fn neighbours_never_eat_at_once() {
    let dinner = default_dinner();
    assert!(dinner.success, "{dinner:?}");
    assert_eq!(records(&dinner.log).len(), 5 * 30 * 2, "{dinner:?}");
    assert_neighbours_never_overlap(&dinner.log, 5);
}

#[test]
fn the_semaphore_set_is_removed() {
    let dinner = default_dinner();
    assert!(dinner.success, "{dinner:?}");
    assert!(!dinner.set_left, "the set is left: {dinner:?}");
}

// BEGIN HIDDEN TESTS
#[test]
fn other_tables_work_too() {
    for (seats, meals_each) in [(2, 40), (3, 30), (9, 15)] {
        let dinner = dine(seats, meals_each);
        assert!(dinner.success, "{dinner:?}");
        assert!(!dinner.set_left, "the set is left: {dinner:?}");
        let seats = usize::from(seats);
        for (who, meals) in meals(&dinner.log, seats).iter().enumerate() {
            assert_eq!(
                meals.len(),
                meals_each as usize,
                "philosopher {who} of {seats}"
            );
        }
        assert_neighbours_never_overlap(&dinner.log, seats);
    }
}
// END HIDDEN TESTS
