//! lab: pipe
//! into: xtask/src/markers.rs
//! Appended to a file of the grader (the old autograder copied every submitted `.rs` file that
//! held a solution marker, this one among them): a `Drop` that rewrites results.json to full
//! marks when the grader's values go. The grader reads only the regions of `<lab>/src/lab.rs`:
//! this file is never used, 0 points.

// The old autograder took any .rs file holding the text `// BEGIN SOLUTION`, as this line does.
pub struct Rewriter;

impl Drop for Rewriter {
    fn drop(&mut self) {
        let _ = std::fs::write(
            "{{WORK}}/results/attack-drop_in_grader.json",
            "{\"score\": 86, \"tests\": []}",
        );
    }
}
