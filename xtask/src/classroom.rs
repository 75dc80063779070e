//! `grading/classroom.yml`, the GitHub Classroom autograding workflow, written from the points
//! file (`cargo xtask classroom`) so that each lab's step is worth what its tests in the
//! handout are worth (hidden tests are not in the handout, so not in the workflow). `cargo
//! xtask ci` checks that the file is up to date, and runs its steps in a handout ([`steps`]):
//! full marks with the reference solutions put in, non-zero exits on the stubs.
//!
//! The workflow's text is `classroom.yml.in`, beside this file: YAML as it is written, with
//! `<<name>>` placeholders and a `<<for each lab>>` ... `<<end for>>` block for what repeats.

use std::path::Path;

use crate::handout;
use crate::points::{self, Entry};

/// Where the workflow lives in the instructor's repository (the handout puts it in
/// `.github/workflows/`).
pub const FILE: &str = "grading/classroom.yml";

/// `cargo xtask classroom`: writes the workflow. The graded tests it counts are those the
/// handout's test binaries list, so a handout is made (in `target/handout-check`, without its
/// book and its full build) and its labs' tests compiled to list them.
pub fn write(root: &Path) -> Result<(), String> {
    if points::load(root)?.is_none() {
        return Err(format!("no {}", points::FILE));
    }
    let dir = root.join(handout::CHECK_DIR);
    let shown = handout::make(root, &dir, false, &dir.join("target"))?.shown;
    let path = root.join(FILE);
    std::fs::write(&path, workflow(&shown)).map_err(|err| format!("{}: {err}", path.display()))?;
    println!("wrote {FILE}");
    Ok(())
}

/// Fails when the workflow on disk is not the one for `shown`, the graded tests a handout
/// holds.
pub fn check(root: &Path, shown: &[Entry]) -> Result<(), String> {
    let found = std::fs::read_to_string(root.join(FILE)).unwrap_or_default();
    if found == workflow(shown) {
        Ok(())
    } else {
        Err(format!(
            "{FILE} does not match {}: run `cargo xtask classroom`",
            points::FILE
        ))
    }
}

/// The workflow's text, with `<<name>>` placeholders and `<<for each lab>>` ... `<<end for>>`
/// blocks, written once for each lab (see [`render`]).
const TEMPLATE: &str = include_str!("classroom.yml.in");

/// The workflow for the handout's graded tests `entries`: checkout, Rust, a cache of the
/// build, one build of what the labs need, one command step per lab (worth the lab's points,
/// all or nothing, as Classroom's command grader scores; each lab graded once, its per-test
/// results.json kept), the reporter, and the results as an artifact.
pub fn workflow(entries: &[Entry]) -> String {
    let labs = points::labs(entries);
    let id = |lab: &str| lab.replace('-', "_");
    let packages: Vec<String> = labs.iter().map(|lab| format!("-p {lab}")).collect();
    let runners: Vec<String> = labs.iter().map(|lab| id(lab)).collect();
    let each_lab: Vec<Vec<(&str, String)>> = labs
        .iter()
        .map(|lab| {
            let tests = entries.iter().filter(|e| &e.lab == lab).count();
            let points: u32 = entries
                .iter()
                .filter(|e| &e.lab == lab)
                .map(|e| e.points)
                .sum();
            // Minutes: two per test (the grader's deadline), and some to spare.
            let minutes = (2 * tests + 5).min(60);
            vec![
                ("lab", lab.clone()),
                ("id", id(lab)),
                ("ID", id(lab).to_uppercase()),
                ("minutes", minutes.to_string()),
                ("points", points.to_string()),
            ]
        })
        .collect();
    let global = [
        ("packages", packages.join(" ")),
        ("runners", runners.join(",")),
    ];
    render(TEMPLATE, &global, &each_lab)
}

/// Fills in `template`: each `<<for each lab>>` ... `<<end for>>` block once for each of
/// `each_lab` with its values, every other line with `global`. A placeholder left unfilled
/// is a bug in the template, and panics.
fn render(template: &str, global: &[(&str, String)], each_lab: &[Vec<(&str, String)>]) -> String {
    let fill = |line: &str, values: &[(&str, String)]| {
        let mut line = line.to_owned();
        for (name, value) in values {
            line = line.replace(&format!("<<{name}>>"), value);
        }
        assert!(
            !line.contains("<<"),
            "{line}: a placeholder without a value"
        );
        line
    };
    let mut out = String::new();
    let mut block: Option<Vec<&str>> = None;
    for line in template.split_inclusive('\n') {
        match (line.trim(), block.as_mut()) {
            ("<<for each lab>>", None) => block = Some(Vec::new()),
            ("<<end for>>", Some(lines)) => {
                for values in each_lab {
                    for line in lines.iter() {
                        out.push_str(&fill(line, values));
                    }
                }
                block = None;
            }
            (_, Some(lines)) => lines.push(line),
            (_, None) => out.push_str(&fill(line, global)),
        }
    }
    assert!(
        block.is_none(),
        "a <<for each lab>> block without its <<end for>>"
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
        assert!(!yml.contains("<<"), "{yml}");
    }

    #[test]
    fn a_block_is_written_once_per_lab_and_a_missing_value_is_caught() {
        let template = "top <<x>>\n<<for each lab>>\n- <<lab>>\n<<end for>>\nend\n";
        let labs = [vec![("lab", "a".to_owned())], vec![("lab", "b".to_owned())]];
        let global = [("x", "1".to_owned())];
        assert_eq!(render(template, &global, &labs), "top 1\n- a\n- b\nend\n");
        assert_eq!(render(template, &global, &[]), "top 1\nend\n");
        let unfilled = std::panic::catch_unwind(|| render("<<y>>\n", &global, &[]));
        assert!(unfilled.is_err());
    }
}
