//! `grading/classroom.yml`, the GitHub Classroom autograding workflow, written from the points
//! file (`cargo xtask classroom`) so that each lab's step is worth what its tests are worth.
//! `cargo xtask ci` checks that the file is up to date.

use std::path::Path;

use crate::points::{self, Entry};

/// Where the workflow lives in the instructor's repository (the handout puts it in
/// `.github/workflows/`).
pub const FILE: &str = "grading/classroom.yml";

/// `cargo xtask classroom`: writes the workflow.
pub fn write(root: &Path) -> Result<(), String> {
    let entries = points::load(root)?.ok_or_else(|| format!("no {}", points::FILE))?;
    let path = root.join(FILE);
    std::fs::write(&path, workflow(&entries))
        .map_err(|err| format!("{}: {err}", path.display()))?;
    println!("wrote {FILE}");
    Ok(())
}

/// Fails when the workflow on disk is not the one the points file gives.
pub fn check(root: &Path, entries: &[Entry]) -> Result<(), String> {
    let found = std::fs::read_to_string(root.join(FILE)).unwrap_or_default();
    if found == workflow(entries) {
        Ok(())
    } else {
        Err(format!(
            "{FILE} does not match {}: run `cargo xtask classroom`",
            points::FILE
        ))
    }
}

/// The workflow: checkout, Rust, a build step, one command step per lab (worth the lab's
/// points, all or nothing, as Classroom's command grader scores), the reporter, and the
/// per-test results as results.json in an artifact.
pub fn workflow(entries: &[Entry]) -> String {
    let labs = points::labs(entries);
    let id = |lab: &str| lab.replace('-', "_");
    let mut out = String::from(
        "# GitHub Classroom autograding, written by `cargo xtask classroom` from grading/points.txt.\n\
         # The handout puts it in .github/workflows/classroom.yml. Each lab is one command step,\n\
         # worth the lab's points when every graded test of the lab passes; results.json (the\n\
         # per-test detail, Gradescope's format) is kept as an artifact.\n\
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
         \x20   - name: Build the labs and their tests\n\
         \x20     run: cargo test --workspace --no-run\n",
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
             \x20       command: cargo xtask grade {lab}\n\
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
        "    - name: Per-test results (results.json)\n\
         \x20     if: always()\n\
         \x20     run: cargo xtask grade --json results.json || true\n\
         \x20   - name: Keep results.json\n\
         \x20     if: always()\n\
         \x20     uses: actions/upload-artifact@v4\n\
         \x20     with:\n\
         \x20       name: results\n\
         \x20       path: results.json\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lab_is_a_step_worth_its_points() {
        let entries = points::parse("p", "pipe a 10\npipe b 5\nprocess-states c 7\n").unwrap();
        let yml = workflow(&entries);
        assert!(yml.contains("command: cargo xtask grade pipe\n"));
        assert!(yml.contains("max-score: 15\n"));
        assert!(yml.contains("id: process_states\n"));
        assert!(yml.contains("max-score: 7\n"));
        assert!(
            yml.contains("PROCESS_STATES_RESULTS: \"${{steps.process_states.outputs.result}}\"")
        );
        assert!(yml.contains("runners: pipe,process_states\n"));
        assert!(yml.contains("cargo xtask grade --json results.json"));
        assert!(!yml.contains('\t'));
    }
}
