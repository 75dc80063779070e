//! lab: pipe
//! into: pipe/src/lab.rs
//! Makes the instructor's full test file, hidden tests included, a module of the lab (`#[path]`),
//! to print it from a visible test. The student's user cannot read `private/`: it does not
//! compile, and the lab scores 0.
    let _ = stages;
    todo!()
}

#[path = "{{SOURCE}}/private/pipe/lab_full.rs"]
mod stolen_tests;

fn _rest_of_the_function() {
