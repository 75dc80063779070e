//! lab: pipe
//! into: pipe/src/lab.rs
//! Puts the hidden tests and the points into the lab with `include_str!`, to show them in a
//! failing test's output. Unreadable to the student's user: does not compile, 0 points.
    let hidden = include_str!("{{SOURCE}}/private/pipe/lab_full.rs");
    let points = include_str!("{{SOURCE}}/private/points.txt");
    let _ = stages;
    Err(Failure::new(format!("{hidden}{points}")))
