//! The grading tools end to end, on a tiny fixture lab (one crate, a solution region, a visible
//! and a hidden test): `cargo xtask handout`, `cargo xtask grade` with its deadline, and the
//! Gradescope script `grading/gradescope/run_autograder` writing a valid results.json when it
//! grades the reference, the handout and an empty submission.

#![forbid(unsafe_code)]

#[allow(dead_code)]
#[path = "../src/json.rs"]
mod json;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use json::Value;

const LAB: &str = "pub fn answer() -> u32 {\n    // BEGIN SOLUTION\n    let forty = 40;\n    \
                   forty + 2 // the reference answer\n    // END SOLUTION\n}\n";

const TESTS: &str = "#[test]\nfn answer_is_42() {\n    assert_eq!(demo::lab::answer(), 42);\n}\n\
                     \n// BEGIN HIDDEN TESTS\n#[test]\nfn answer_is_even_hidden() {\n    \
                     assert_eq!(demo::lab::answer() % 2, 0);\n}\n// END HIDDEN TESTS\n";

const SLOW_TESTS: &str = "#[test]\nfn answer_is_42() {\n    assert_eq!(demo::lab::answer(), 42);\n}\n\
                          \n#[test]\nfn never_ends() {\n    loop {\n        \
                          std::thread::park();\n    }\n}\n";

/// A scratch directory, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The instructor's workspace of the fixture lab `demo`.
fn fixture(root: &Path, tests: &str, points: &str) {
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"demo\"]\n",
    );
    write(
        &root.join("demo/Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n",
    );
    write(
        &root.join("demo/src/lib.rs"),
        "//! The demo lab.\npub mod lab;\n",
    );
    write(&root.join("demo/src/lab.rs"), LAB);
    write(&root.join("demo/tests/lab.rs"), tests);
    write(&root.join("grading/points.txt"), points);
    write(
        &root.join("grading/reference/notes.md"),
        "instructor only\n",
    );
    write(&root.join("README.md"), "# demo\n\nA demo.\n");
}

fn xtask(root: &Path, target: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("XTASK_ROOT", root)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs run_autograder on `submission` and returns the parsed results.json.
fn autograde(scratch: &Path, source: &Path, submission: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../grading/gradescope/run_autograder");
    let results = scratch.join("results/results.json");
    let output = Command::new("bash")
        .arg(script)
        .env("IPC_LABS_SOURCE", source)
        .env("IPC_LABS_SUBMISSION", submission)
        .env("IPC_LABS_RESULTS", &results)
        .env("IPC_LABS_XTASK", env!("CARGO_BIN_EXE_xtask"))
        .env("CARGO_TARGET_DIR", scratch.join("target"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let written = std::fs::read_to_string(&results).unwrap();
    json::parse(&written).unwrap_or_else(|err| panic!("{err}: {written}\n{}", text(&output)))
}

fn score(results: &Value) -> f64 {
    match results.get("score") {
        Some(Value::Number(n)) => *n,
        other => panic!("no score: {other:?}"),
    }
}

fn statuses(results: &Value) -> Vec<(String, String)> {
    let Some(Value::Array(tests)) = results.get("tests") else {
        panic!("no tests: {results:?}");
    };
    tests
        .iter()
        .map(|test| {
            assert_eq!(
                test.keys(),
                ["name", "score", "max_score", "status", "output"]
            );
            match (test.get("name"), test.get("status")) {
                (Some(Value::Str(name)), Some(Value::Str(status))) => {
                    (name.clone(), status.clone())
                }
                other => panic!("bad test entry: {other:?}"),
            }
        })
        .collect()
}

#[test]
fn run_autograder_writes_results_for_the_reference_the_handout_and_nothing() {
    let scratch = Scratch::new("autograder");
    let source = scratch.0.join("instructor");
    fixture(
        &source,
        TESTS,
        "# fixture\ndemo answer_is_42 3\ndemo answer_is_even_hidden 2\n",
    );
    let handout = scratch.0.join("handout");
    let made = xtask(
        &source,
        &scratch.0.join("target"),
        &["handout", "--out", handout.to_str().unwrap()],
    );
    assert!(made.status.success(), "{}", text(&made));
    let stub = std::fs::read_to_string(handout.join("demo/src/lab.rs")).unwrap();
    assert!(stub.contains("todo!(\"solve the lab: see book/src/labs/demo.md\")"));
    assert!(!stub.contains("forty"));
    let tests = std::fs::read_to_string(handout.join("demo/tests/lab.rs")).unwrap();
    assert!(tests.contains("answer_is_42") && !tests.contains("hidden"));
    assert!(!handout.join("grading/reference").exists());
    assert!(handout.join("grading/points.txt").is_file());
    assert!(handout.join(".handout").is_file());
    let readme = std::fs::read_to_string(handout.join("README.md")).unwrap();
    assert!(readme.contains("cargo xtask grade"), "{readme}");

    // The students' own grader, in the handout: the visible test fails, the hidden one is not
    // there, and the exit status says below full marks.
    let graded = xtask(&handout, &scratch.0.join("target"), &["grade"]);
    let shown = text(&graded);
    assert!(!graded.status.success(), "{shown}");
    assert!(shown.contains("Score 0/5"), "{shown}");
    assert!(shown.contains("hidden test"), "{shown}");

    let reference = autograde(&scratch.0, &source, &source);
    assert_eq!(score(&reference), 5.0, "{reference:?}");
    assert_eq!(
        statuses(&reference),
        [
            ("demo: answer_is_42".to_owned(), "passed".to_owned()),
            (
                "demo: answer_is_even_hidden".to_owned(),
                "passed".to_owned()
            )
        ]
    );

    let stubbed = autograde(&scratch.0, &source, &handout);
    assert_eq!(score(&stubbed), 0.0, "{stubbed:?}");
    assert!(
        statuses(&stubbed)
            .iter()
            .all(|(_, status)| status == "failed"),
        "{stubbed:?}"
    );

    let empty = scratch.0.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let nothing = autograde(&scratch.0, &source, &empty);
    assert_eq!(score(&nothing), 0.0, "{nothing:?}");
    assert_eq!(statuses(&nothing).len(), 2);
}

#[test]
fn a_hung_test_is_killed_at_its_deadline_and_scores_zero() {
    let scratch = Scratch::new("deadline");
    let root = scratch.0.join("instructor");
    fixture(
        &root,
        SLOW_TESTS,
        "demo answer_is_42 1\ndemo never_ends 4\n",
    );
    let json_file = scratch.0.join("results.json");
    let started = Instant::now();
    let graded = xtask(
        &root,
        &scratch.0.join("target"),
        &[
            "grade",
            "--timeout",
            "2",
            "--json",
            json_file.to_str().unwrap(),
        ],
    );
    let shown = text(&graded);
    assert!(!graded.status.success(), "{shown}");
    assert!(shown.contains("Score 1/5"), "{shown}");
    assert!(shown.contains("timed out after 2 s"), "{shown}");
    // Compiling is not counted; the hung test costs its deadline and a little more.
    assert!(started.elapsed() < Duration::from_secs(60), "{shown}");
    let results = json::parse(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert_eq!(score(&results), 1.0);
    assert_eq!(
        statuses(&results),
        [
            ("demo: answer_is_42".to_owned(), "passed".to_owned()),
            ("demo: never_ends".to_owned(), "failed".to_owned())
        ]
    );
}
