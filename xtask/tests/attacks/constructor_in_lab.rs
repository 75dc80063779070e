//! lab: pipe
//! into: pipe/src/lab.rs
//! A constructor in `.init_array`, which would run in every program linked with the lab, the
//! grader's test process included. lab.rs forbids `unsafe`: does not compile, 0 points.
    let _ = stages;
    todo!()
}

#[used]
#[unsafe(link_section = ".init_array")]
static BEFORE_MAIN: extern "C" fn() = before_main;

extern "C" fn before_main() {
    println!("test result: ok. 1 passed; 0 failed");
    std::process::exit(0);
}

fn _rest_of_the_function() {
