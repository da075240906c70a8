//! The numbers: percentiles over recorded latencies, and the exactly-once check of every
//! delivery against what was sent to whom. Pure functions over plain data, unit-tested.

use std::collections::{HashMap, HashSet};

/// Latency percentiles (nanoseconds in, milliseconds out).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentile of sorted data: the smallest value with at least `p`% of the
/// data at or below it. `None` for no data.
pub fn nearest_rank(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn percentiles(mut ns: Vec<u64>) -> Percentiles {
    ns.sort_unstable();
    let ms = |v: Option<u64>| v.map_or(0.0, |v| v as f64 / 1e6);
    Percentiles {
        count: ns.len(),
        p50_ms: ms(nearest_rank(&ns, 50.0)),
        p99_ms: ms(nearest_rank(&ns, 99.0)),
        max_ms: ms(ns.last().copied()),
    }
}

/// The median of a few measurements (the lower middle for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[(v.len() - 1) / 2]
}

/// A post that left a sender: `(sender, seq)` is unique, `at_ns` on the shared clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub sender: u32,
    pub seq: u32,
    pub room: u32,
    pub at_ns: u64,
}

/// A post that reached a receiver, as read from the text of the update it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub receiver: u32,
    pub sender: u32,
    pub seq: u32,
    pub at_ns: u64,
    /// Found in the server's state after a reconnect, not relayed live: the receiver had been
    /// disconnected (or had missed it) and got it late, through the resync.
    pub resync: bool,
}

/// The verdict on one measured run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Check {
    /// Deliveries owed: for every post, every member of its room but the sender.
    pub expected: u64,
    /// Distinct owed deliveries that arrived.
    pub delivered: u64,
    /// Owed deliveries that never arrived, live or through a resync.
    pub missing: u64,
    /// Owed deliveries that arrived late, through a resync after a reconnect (first arrival).
    pub resynced: u64,
    /// Arrivals of a post a receiver already had.
    pub duplicates: u64,
    /// Arrivals at a client that is not in the post's room (or is its sender).
    pub non_member: u64,
    /// Arrivals of a post that was never sent.
    pub unknown: u64,
    /// Arrivals later than the `late_ns` threshold.
    pub late: u64,
    /// Send-to-arrival times of the owed deliveries that arrived (first arrival only).
    pub latency: Percentiles,
}

impl Check {
    /// Nothing lost, nothing doubled, nothing misdelivered.
    pub fn exactly_once(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.non_member == 0 && self.unknown == 0
    }
}

/// Checks deliveries against posts. `members[room]` lists the clients of each room.
pub fn check(
    sent: &[Sent],
    deliveries: &[Delivery],
    members: &HashMap<u32, Vec<u32>>,
    late_ns: u64,
) -> Check {
    let mut post_index: HashMap<(u32, u32), usize> = HashMap::with_capacity(sent.len());
    let mut expected = 0u64;
    for (i, s) in sent.iter().enumerate() {
        post_index.insert((s.sender, s.seq), i);
        let room = members.get(&s.room).map_or(&[][..], Vec::as_slice);
        expected += room.iter().filter(|&&m| m != s.sender).count() as u64;
    }
    let member_sets: HashMap<u32, HashSet<u32>> = members
        .iter()
        .map(|(room, m)| (*room, m.iter().copied().collect()))
        .collect();
    let mut seen: HashSet<(usize, u32)> = HashSet::with_capacity(deliveries.len());
    let mut out = Check {
        expected,
        ..Check::default()
    };
    let mut latencies = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let Some(&i) = post_index.get(&(d.sender, d.seq)) else {
            out.unknown += 1;
            continue;
        };
        let post = &sent[i];
        let is_member = member_sets
            .get(&post.room)
            .is_some_and(|m| m.contains(&d.receiver));
        if !is_member || d.receiver == post.sender {
            out.non_member += 1;
            continue;
        }
        if !seen.insert((i, d.receiver)) {
            out.duplicates += 1;
            continue;
        }
        if d.resync {
            out.resynced += 1;
        }
        let latency = d.at_ns.saturating_sub(post.at_ns);
        if latency > late_ns {
            out.late += 1;
        }
        latencies.push(latency);
    }
    out.delivered = seen.len() as u64;
    out.missing = out.expected - out.delivered;
    out.latency = percentiles(latencies);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_hundred() {
        let data: Vec<u64> = (1..=100).map(|ms| ms * 1_000_000).collect();
        let p = percentiles(data.into_iter().rev().collect());
        assert_eq!(p.count, 100);
        assert_eq!(p.p50_ms, 50.0);
        assert_eq!(p.p99_ms, 99.0);
        assert_eq!(p.max_ms, 100.0);
    }

    #[test]
    fn nearest_rank_on_small_and_empty_data() {
        assert_eq!(nearest_rank(&[], 50.0), None);
        assert_eq!(nearest_rank(&[7], 99.0), Some(7));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 75.1), Some(4));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 0.0), Some(1));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![]), 0.0);
    }

    /// Room 1 holds clients 0, 1, 2; room 2 holds clients 3, 4. Client 0 posts twice in
    /// room 1, client 3 once in room 2: 2 × 2 + 1 = 5 deliveries are owed.
    fn fixture() -> (Vec<Sent>, Vec<Delivery>, HashMap<u32, Vec<u32>>) {
        let members = HashMap::from([(1, vec![0, 1, 2]), (2, vec![3, 4])]);
        let sent = vec![
            Sent {
                sender: 0,
                seq: 1,
                room: 1,
                at_ns: 1_000,
            },
            Sent {
                sender: 0,
                seq: 2,
                room: 1,
                at_ns: 2_000,
            },
            Sent {
                sender: 3,
                seq: 1,
                room: 2,
                at_ns: 3_000,
            },
        ];
        let d = |receiver, sender, seq, at_ns| Delivery {
            receiver,
            sender,
            seq,
            at_ns,
            resync: false,
        };
        let deliveries = vec![
            d(1, 0, 1, 1_500),
            d(2, 0, 1, 1_700),
            d(1, 0, 2, 2_100),
            d(2, 0, 2, 2_900),
            d(4, 3, 1, 3_400),
        ];
        (sent, deliveries, members)
    }

    #[test]
    fn all_delivered_once_is_clean() {
        let (sent, deliveries, members) = fixture();
        let c = check(&sent, &deliveries, &members, 800);
        assert_eq!(c.expected, 5);
        assert_eq!(c.delivered, 5);
        assert!(c.exactly_once(), "{c:?}");
        assert_eq!(
            c.late, 1,
            "the 900 ns delivery is over the 800 ns threshold"
        );
        assert_eq!(c.latency.count, 5);
        assert_eq!(c.latency.max_ms, 900.0 / 1e6);
    }

    #[test]
    fn detects_a_missing_delivery() {
        let (sent, mut deliveries, members) = fixture();
        deliveries.remove(2);
        let c = check(&sent, &deliveries, &members, u64::MAX);
        assert_eq!((c.missing, c.duplicates, c.non_member), (1, 0, 0));
        assert!(!c.exactly_once());
    }

    #[test]
    fn a_post_that_came_through_a_resync_is_late_not_lost() {
        let (sent, mut deliveries, members) = fixture();
        deliveries[2].resync = true;
        deliveries[2].at_ns = 900_000;
        let c = check(&sent, &deliveries, &members, 800);
        assert!(c.exactly_once(), "{c:?}");
        assert_eq!((c.missing, c.resynced, c.late), (0, 1, 2));
    }

    #[test]
    fn detects_a_duplicate() {
        let (sent, mut deliveries, members) = fixture();
        deliveries.push(deliveries[0]);
        let c = check(&sent, &deliveries, &members, u64::MAX);
        assert_eq!((c.missing, c.duplicates, c.non_member), (0, 1, 0));
        assert!(!c.exactly_once());
    }

    #[test]
    fn detects_a_delivery_to_a_non_member_or_the_sender() {
        let (sent, mut deliveries, members) = fixture();
        // Client 3 is in room 2, not in room 1; client 0 wrote the post itself.
        deliveries.push(Delivery {
            receiver: 3,
            sender: 0,
            seq: 1,
            at_ns: 1_200,
            resync: false,
        });
        deliveries.push(Delivery {
            receiver: 0,
            sender: 0,
            seq: 1,
            at_ns: 1_200,
            resync: false,
        });
        let c = check(&sent, &deliveries, &members, u64::MAX);
        assert_eq!((c.missing, c.duplicates, c.non_member), (0, 0, 2));
        assert!(!c.exactly_once());
    }

    #[test]
    fn detects_a_post_never_sent() {
        let (sent, mut deliveries, members) = fixture();
        deliveries.push(Delivery {
            receiver: 1,
            sender: 0,
            seq: 99,
            at_ns: 1,
            resync: false,
        });
        let c = check(&sent, &deliveries, &members, u64::MAX);
        assert_eq!(c.unknown, 1);
        assert!(!c.exactly_once());
    }
}
