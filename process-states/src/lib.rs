//! Process states: watch a real process walk through created, running, blocked, stopped, zombie (work in progress).
