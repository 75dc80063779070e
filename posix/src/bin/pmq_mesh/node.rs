//! What each forked node does: install its own stop handling, greet the three others on their
//! queues, take three greetings from its own, report a tally on the coordinator's queue.

use std::time::Duration;

use nix::mqueue::{MqdT, mq_receive, mq_send};
use support::stop::{Stop, StopContext, Stopped};

use crate::NAMES;
use crate::queue::MSGSIZE;

/// Where the tallies go: the fifth queue, after the four nodes'.
pub const TALLIES: usize = 4;

/// What a node reports: who it is, and how many greetings came from each node. Sent as five
/// native-endian u32s, 20 bytes, which the coordinator checks before it believes them.
pub struct Tally {
    pub node: u32,
    pub from: [u32; 4],
}

impl Tally {
    pub const SIZE: usize = 20;

    fn to_bytes(&self) -> Vec<u8> {
        [self.node]
            .iter()
            .chain(&self.from)
            .flat_map(|n| n.to_ne_bytes())
            .collect()
    }

    /// `None` for a message that is not a tally of one of the four nodes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Tally> {
        if bytes.len() != Self::SIZE {
            return None;
        }
        let mut numbers = bytes
            .chunks_exact(4)
            .map(|four| u32::from_ne_bytes(four.try_into().expect("4 bytes")));
        let node = numbers.next()?;
        let from = [
            numbers.next()?,
            numbers.next()?,
            numbers.next()?,
            numbers.next()?,
        ];
        (node < 4).then_some(Tally { node, from })
    }
}

pub fn greet_and_tally(queues: &[MqdT], me: usize, interval: Duration) -> Result<(), Stopped> {
    let name = NAMES[me];
    // The child's own stop handling: until this line, a signal would kill it (it owns nothing).
    let stop = Stop::install()?;
    // ANCHOR: heart
    for to in (0..4).filter(|&to| to != me) {
        stop.sleep(interval)?;
        let text = format!("{name}: hello {}", NAMES[to]);
        // mq_send(3): the queue is the address; 0 is the priority.
        stop.retry(|| mq_send(&queues[to], text.as_bytes(), 0))
            .context(format!("mq_send to {}'s queue", NAMES[to]))?;
        println!("{name}: sent to {}'s queue: {text}", NAMES[to]);
    }
    let mut tally = Tally {
        node: me as u32,
        from: [0; 4],
    };
    let mut buffer = vec![0; MSGSIZE as usize]; // mq_receive wants room for mq_msgsize
    while tally.from.iter().sum::<u32>() < 3 {
        let mut priority = 0;
        let got = stop
            .retry(|| mq_receive(&queues[me], &mut buffer, &mut priority))
            .context("mq_receive on my queue")?;
        let text = String::from_utf8_lossy(&buffer[..got]);
        println!("{name}: received (priority {priority}): {text}");
        if let Some(from) = NAMES.iter().position(|&n| text.starts_with(n)) {
            tally.from[from] += 1;
        }
    }
    // ANCHOR_END: heart
    stop.retry(|| mq_send(&queues[TALLIES], &tally.to_bytes(), 0))
        .context("mq_send to the tallies queue")?;
    println!("{name}: got my 3 greetings; sent my tally to the coordinator's queue");
    Ok(())
}
