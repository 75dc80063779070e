//! What each forked node does: greet the three others by type, take its own type until three
//! greetings came, report a typed tally to the coordinator.

use std::time::Duration;

use msgqueue::{MessageQueue, Select, Shutdown, Tally, Wait};
use support::cli::{Context, Failure, report_error};

use crate::{COORDINATOR, NAMES, mtype};

// ANCHOR: node
pub fn run_node(queue: &MessageQueue, me: usize, interval: Duration) -> i32 {
    let name = NAMES[me];
    let node = || -> Result<Option<()>, Failure> {
        let shutdown = Shutdown::install()?;
        for to in (0..4).filter(|&to| to != me) {
            let text = format!("{name}: hello {}", NAMES[to]);
            if !shutdown.pause(interval)
                || shutdown
                    .retry(|| queue.send_text(mtype(to), &text, Wait::Block))
                    .context("send")?
                    .is_none()
            {
                return Ok(None);
            }
            println!("{name}: sent type {} (to {}): {text}", mtype(to), NAMES[to]);
        }
        let mut tally = Tally {
            node: me as u32,
            from: [0; 4],
        };
        while tally.from.iter().sum::<u32>() < 3 {
            let select = Select::Exact(mtype(me));
            let Some(message) = shutdown
                .retry(|| queue.receive(select, 256, Wait::Block, false))
                .context("receive")?
            else {
                return Ok(None);
            };
            let text = message.text();
            println!("{name}: received type {}: {text}", message.mtype);
            if let Some(from) = NAMES.iter().position(|&n| text.starts_with(n)) {
                tally.from[from] += 1;
            }
        }
        shutdown
            .retry(|| queue.send_typed(COORDINATOR, &tally, Wait::Block))
            .context("report")?;
        println!("{name}: got my 3 greetings; sent my tally to the coordinator (type 5)");
        Ok(Some(()))
    };
    match node() {
        Ok(Some(())) => 0,
        Ok(None) => 130,
        Err(failure) => {
            report_error(format!("node {name}: {failure}"));
            1
        }
    }
}
// ANCHOR_END: node
