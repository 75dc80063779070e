//! What each forked node does: install its own stop handling, greet the three others by type,
//! take its own type until three greetings came, report a typed tally to the coordinator.

use std::time::Duration;

use msgqueue::{Limits, MessageQueue, Select, Tally, with_nul};
use support::stop::{Stop, Stopped};

use crate::{COORDINATOR, NAMES, mtype};

pub fn greet_and_tally(queue: &MessageQueue, me: usize, interval: Duration) -> Result<(), Stopped> {
    let name = NAMES[me];
    // The child's own stop handling: until this line, a signal would kill it (it owns nothing).
    let stop = Stop::install()?;
    // ANCHOR: heart
    for to in (0..4).filter(|&to| to != me) {
        stop.sleep(interval)?;
        let text = format!("{name}: hello {}", NAMES[to]);
        let bytes = with_nul(text.as_bytes());
        stop.retry(|| queue.msgsnd(mtype(to), &bytes, 0))?;
        println!("{name}: sent type {} (to {}): {text}", mtype(to), NAMES[to]);
    }
    let mut tally = Tally {
        node: me as u32,
        from: [0; 4],
    };
    let mine = Select::Exact(mtype(me));
    while tally.from.iter().sum::<u32>() < 3 {
        let message = stop.retry(|| queue.msgrcv(mine, Limits::msgmax(), 0))?;
        let text = message.text();
        println!("{name}: received type {}: {text}", message.mtype);
        if let Some(from) = NAMES.iter().position(|&n| text.starts_with(n)) {
            tally.from[from] += 1;
        }
    }
    // ANCHOR_END: heart
    // ANCHOR: tally
    stop.retry(|| queue.msgsnd_typed(COORDINATOR, &tally, 0))?;
    println!("{name}: got my 3 greetings; sent my tally to the coordinator (type 5)");
    Ok(())
    // ANCHOR_END: tally
}
