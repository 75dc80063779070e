//! A panic in the live view puts the terminal back before the panic message is printed, so
//! the message lands on a usable screen. The live view installs `restore_terminal` this way;
//! here a recording stand-in shows the order. (This binary holds one test: the panic hook is
//! the process's own.)

#![forbid(unsafe_code)]

use std::sync::Mutex;

static SEEN: Mutex<Vec<&str>> = Mutex::new(Vec::new());

fn restore() {
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push("terminal restored");
}

#[test]
fn a_panic_restores_the_terminal_before_its_message() {
    std::panic::set_hook(Box::new(|_| {
        SEEN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push("message printed");
    }));
    ipcview::live::restore_on_panic(restore);
    let panicked = std::thread::spawn(|| panic!("a bug in a frame")).join();
    assert!(panicked.is_err());
    let _ = std::panic::take_hook();
    let seen = SEEN.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen, ["terminal restored", "message printed"]);
}
