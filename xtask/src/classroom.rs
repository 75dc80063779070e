//! `grading/classroom.yml`, the GitHub Classroom autograding workflow, written from the points
//! file (`cargo xtask classroom`) so that each lab's step is worth what its tests in the
//! handout are worth (hidden tests are not in the handout, so not in the workflow). `cargo
//! xtask ci` checks that the file is up to date, and runs its steps in a handout ([`steps`]):
//! full marks with the reference solutions put in, non-zero exits on the stubs.

use std::path::Path;

use crate::points::{self, Entry};

/// Where the workflow lives in the instructor's repository (the handout puts it in
/// `.github/workflows/`).
pub const FILE: &str = "grading/classroom.yml";

/// `cargo xtask classroom`: writes the workflow.
pub fn write(root: &Path) -> Result<(), String> {
    let entries = points::load(root)?.ok_or_else(|| format!("no {}", points::FILE))?;
    let path = root.join(FILE);
    std::fs::write(&path, workflow(&points::visible(root, &entries)?))
        .map_err(|err| format!("{}: {err}", path.display()))?;
    println!("wrote {FILE}");
    Ok(())
}

/// Fails when the workflow on disk is not the one the points file gives.
pub fn check(root: &Path, entries: &[Entry]) -> Result<(), String> {
    let found = std::fs::read_to_string(root.join(FILE)).unwrap_or_default();
    if found == workflow(&points::visible(root, entries)?) {
        Ok(())
    } else {
        Err(format!(
            "{FILE} does not match {}: run `cargo xtask classroom`",
            points::FILE
        ))
    }
}

/// The workflow for the handout's graded tests `entries`: checkout, Rust, a cache of the
/// build, one build of what the labs need, one command step per lab (worth the lab's points,
/// all or nothing, as Classroom's command grader scores; each lab graded once, its per-test
/// results.json kept), the reporter, and the results as an artifact.
pub fn workflow(entries: &[Entry]) -> String {
    let labs = points::labs(entries);
    let id = |lab: &str| lab.replace('-', "_");
    let packages: Vec<String> = labs.iter().map(|lab| format!("-p {lab}")).collect();
    let mut out = format!(
        "# GitHub Classroom autograding, written by `cargo xtask classroom` from grading/points.txt.\n\
         # The handout puts it in .github/workflows/classroom.yml. Each lab is one command step,\n\
         # worth the points of the lab's tests in the handout when every one of them passes; its\n\
         # per-test results (Gradescope's results.json format) are kept as an artifact.\n\
         # Do not define tests in Classroom's web page: this workflow is the grader.\n\
         name: Autograding Tests\n\
         'on':\n\
         - push\n\
         - repository_dispatch\n\
         permissions:\n\
         \x20 checks: write\n\
         \x20 actions: read\n\
         \x20 contents: read\n\
         jobs:\n\
         \x20 run-autograding-tests:\n\
         \x20   runs-on: ubuntu-latest\n\
         \x20   if: github.actor != 'github-classroom[bot]'\n\
         \x20   steps:\n\
         \x20   - name: Checkout code\n\
         \x20     uses: actions/checkout@v4\n\
         \x20   - name: Install Rust\n\
         \x20     uses: dtolnay/rust-toolchain@stable\n\
         \x20   - name: Cache the build\n\
         \x20     uses: Swatinem/rust-cache@v2\n\
         \x20   - name: Build the grader and the labs' tests\n\
         \x20     run: cargo build -p xtask && cargo test --no-run {} --test lab\n",
        packages.join(" ")
    );
    for lab in &labs {
        let tests = entries.iter().filter(|e| &e.lab == lab).count();
        let points: u32 = entries
            .iter()
            .filter(|e| &e.lab == lab)
            .map(|e| e.points)
            .sum();
        // Minutes: two per test (the grader's deadline), and some to spare.
        let timeout = (2 * tests + 5).min(60);
        let id = id(lab);
        out.push_str(&format!(
            "    - name: {lab}\n\
             \x20     id: {id}\n\
             \x20     uses: classroom-resources/autograding-command-grader@v1\n\
             \x20     with:\n\
             \x20       test-name: {lab}\n\
             \x20       setup-command: ''\n\
             \x20       command: cargo xtask grade {lab} --json target/results-{lab}.json\n\
             \x20       timeout: {timeout}\n\
             \x20       max-score: {points}\n"
        ));
    }
    out.push_str("    - name: Autograding Reporter\n");
    out.push_str("      uses: classroom-resources/autograding-grading-reporter@v1\n");
    out.push_str("      env:\n");
    for lab in &labs {
        let id = id(lab);
        out.push_str(&format!(
            "        {}_RESULTS: \"${{{{steps.{id}.outputs.result}}}}\"\n",
            id.to_uppercase()
        ));
    }
    out.push_str("      with:\n");
    let runners: Vec<String> = labs.iter().map(|lab| id(lab)).collect();
    out.push_str(&format!("        runners: {}\n", runners.join(",")));
    out.push_str(
        "    - name: Keep the per-test results\n\
         \x20     if: always()\n\
         \x20     uses: actions/upload-artifact@v4\n\
         \x20     with:\n\
         \x20       name: results\n\
         \x20       path: target/results-*.json\n",
    );
    out
}

/// A step of the workflow as the runner sees it: a `run:` step, or a command-grader step.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// `run: <script>`.
    Run(String),
    /// A command-grader step: its name, setup command, command, timeout in minutes and points.
    Graded {
        /// `test-name`.
        name: String,
        /// `setup-command`.
        setup: String,
        /// `command`.
        command: String,
        /// `timeout`, in minutes, as Classroom reads it.
        minutes: u64,
        /// `max-score`.
        points: u32,
    },
}

/// The steps of a workflow in the form [`workflow`] writes, in order: what a runner would run.
pub fn steps(yml: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut graded: Option<Vec<(String, String)>> = None;
    let finish = |fields: Vec<(String, String)>| -> Result<Step, String> {
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim_matches('\'').to_owned())
                .ok_or_else(|| format!("a command-grader step without `{key}`"))
        };
        Ok(Step::Graded {
            name: get("test-name")?,
            setup: get("setup-command")?,
            command: get("command")?,
            minutes: get("timeout")?
                .parse()
                .map_err(|_| "timeout: not a number of minutes".to_owned())?,
            points: get("max-score")?
                .parse()
                .map_err(|_| "max-score: not a number".to_owned())?,
        })
    };
    for line in yml.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("- name:") {
            if let Some(fields) = graded.take() {
                steps.push(finish(fields)?);
            }
        } else if trimmed == "uses: classroom-resources/autograding-command-grader@v1" {
            graded = Some(Vec::new());
        } else if let Some(script) = trimmed.strip_prefix("run: ") {
            steps.push(Step::Run(script.to_owned()));
        } else if let Some(fields) = graded.as_mut()
            && let Some((key, value)) = trimmed.split_once(": ")
        {
            fields.push((key.to_owned(), value.to_owned()));
        }
    }
    if let Some(fields) = graded.take() {
        steps.push(finish(fields)?);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lab_is_a_step_worth_its_points() {
        let entries = points::parse("p", "pipe a 10\npipe b 5\nprocess-states c 7\n").unwrap();
        let yml = workflow(&entries);
        assert!(yml.contains("command: cargo xtask grade pipe --json target/results-pipe.json\n"));
        assert!(yml.contains("max-score: 15\n"));
        assert!(yml.contains("id: process_states\n"));
        assert!(yml.contains("max-score: 7\n"));
        assert!(
            yml.contains("PROCESS_STATES_RESULTS: \"${{steps.process_states.outputs.result}}\"")
        );
        assert!(yml.contains("runners: pipe,process_states\n"));
        assert!(yml.contains("uses: Swatinem/rust-cache@v2"));
        assert!(yml.contains("cargo test --no-run -p pipe -p process-states --test lab\n"));
        // Each lab is graded once: by its step, and by nothing after.
        assert_eq!(yml.matches("cargo xtask grade").count(), 2);
        let steps = steps(&yml).unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[2],
            Step::Graded {
                name: "process-states".into(),
                setup: String::new(),
                command:
                    "cargo xtask grade process-states --json target/results-process-states.json"
                        .into(),
                minutes: 7,
                points: 7,
            }
        );
        assert!(!yml.contains('\t'));
    }
}
