//! The verifiable draw, version 2 (pure; `docs/DRAW.md` states it for re-implementers and
//! `infra/verify_draw.py` is an independent implementation of it).
//!
//! Commit, then reveal: a raffle's 32-byte secret seed is chosen when the raffle is
//! created and only `SHA-256(seed)` is published; at draw time the eligible tickets are
//! frozen as a snapshot, hashed, and the winners follow from the seed and the snapshot's
//! hash alone. Nobody can pick a seed that favours someone after seeing the snapshot, and
//! anybody holding the revealed seed and the snapshot can redo the draw.
//!
//! Only integers and SHA-256 are involved, so every language gets the same winners: no
//! floating point, no library RNG whose sampling might change between versions.

use sha2::{Digest, Sha256};

/// Stored with every draw made by [`draw`]; a change to anything below needs a new one.
pub const ALGORITHM: &str = "promo-draw/v2: sha256-ctr, fenwick, weighted-without-replacement";
/// The variant for raffles where one user may win several prizes: each pick removes only
/// the winning ticket, so a holder of many tickets may be picked again.
pub const ALGORITHM_TICKETS: &str =
    "promo-draw/v2: sha256-ctr, fenwick, tickets-without-replacement";
/// Domain separation of the draw key: no other hash of the project starts like this.
const KEY_PREFIX: &[u8] = b"promo-draw/v2\0";

/// The published commitment to a seed: lowercase hex of `SHA-256(seed)`.
pub fn commitment(seed: &[u8; 32]) -> String {
    hex(&Sha256::digest(seed))
}

/// Why a snapshot cannot be drawn from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("user {0} comes after user {1}: a snapshot is sorted by user id, each user once")]
    OutOfOrder(i64, i64),
    #[error("user {0} holds {1} tickets: a snapshot lists only positive counts")]
    NotPositive(i64, i64),
}

/// A snapshot as it is built: entries `(user_id, tickets)` in ascending `user_id`, each
/// user once, tickets > 0, hashed as the canonical text `"{user_id}:{tickets}\n"` per
/// entry (decimal, no padding) so the hash can be recomputed from an export.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    users: Vec<i64>,
    tickets: Vec<u64>,
    hasher: Sha256,
    total: u64,
}

impl Snapshot {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, user_id: i64, tickets: i64) -> Result<(), SnapshotError> {
        if let Some(&last) = self.users.last() {
            if user_id <= last {
                return Err(SnapshotError::OutOfOrder(user_id, last));
            }
        }
        let Some(count) = u64::try_from(tickets).ok().filter(|t| *t > 0) else {
            return Err(SnapshotError::NotPositive(user_id, tickets));
        };
        self.hasher
            .update(format!("{user_id}:{tickets}\n").as_bytes());
        self.users.push(user_id);
        self.tickets.push(count);
        self.total = self.total.saturating_add(count);
        Ok(())
    }

    /// The entries `(user_id, tickets)` in snapshot order.
    pub fn entries(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.users
            .iter()
            .zip(&self.tickets)
            .map(|(user, tickets)| (*user, i64::try_from(*tickets).unwrap_or(i64::MAX)))
    }

    pub fn participants(&self) -> usize {
        self.users.len()
    }

    pub fn tickets(&self) -> u64 {
        self.total
    }

    /// The canonical text that [`Snapshot::hash`] hashes, as it is stored and published.
    pub fn canonical(&self) -> Vec<u8> {
        let mut text = Vec::with_capacity(self.users.len() * 12);
        for (user, tickets) in self.users.iter().zip(&self.tickets) {
            text.extend_from_slice(format!("{user}:{tickets}\n").as_bytes());
        }
        text
    }

    /// Reads a canonical text back; `Err` says which line is not `user:tickets` in order.
    pub fn parse(text: &[u8]) -> Result<Snapshot, String> {
        let mut snapshot = Snapshot::new();
        let text = std::str::from_utf8(text).map_err(|_| "the snapshot is not UTF-8".to_owned())?;
        for (number, line) in text.lines().enumerate() {
            let entry = line.split_once(':').and_then(|(user, tickets)| {
                Some((user.parse::<i64>().ok()?, tickets.parse::<i64>().ok()?))
            });
            let Some((user, tickets)) = entry else {
                return Err(format!("line {} is not user:tickets", number + 1));
            };
            snapshot
                .push(user, tickets)
                .map_err(|e| format!("line {}: {e}", number + 1))?;
        }
        if !text.is_empty() && !text.ends_with('\n') {
            return Err("the last line does not end with a newline".to_owned());
        }
        Ok(snapshot)
    }

    /// Lowercase hex SHA-256 of the canonical text; the snapshot is still usable.
    pub fn hash(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
}

/// `picks` distinct users drawn from `snapshot`, each pick weighted by tickets among those
/// not picked yet, in pick order (fewer when fewer users hold tickets).
///
/// The stream: `key = SHA-256("promo-draw/v2\0" ‖ seed ‖ snapshot hash as 32 bytes)`, then
/// blocks `SHA-256(key ‖ counter)` for counter = 0, 1, … as 8-byte big-endian, each block
/// read as four big-endian u64 words in order. A pick takes words until one is below
/// `2^64 − (2^64 mod T)` (T = tickets still in play) and uses `word mod T` as a ticket
/// index: the winner is the user whose tickets, counted in snapshot order, hold that index.
pub fn draw(snapshot: &Snapshot, seed: &[u8; 32], picks: usize) -> Vec<(i64, i64)> {
    sample(snapshot, seed, picks, false)
}

/// [`ALGORITHM_TICKETS`]: as [`draw`], but a pick takes only the winning ticket out of
/// play, so one user may win several picks (a raffle that allows multiple wins). Each
/// pick reports the user's tickets in the snapshot.
pub fn draw_tickets(snapshot: &Snapshot, seed: &[u8; 32], picks: usize) -> Vec<(i64, i64)> {
    sample(snapshot, seed, picks, true)
}

/// The draw of `algorithm` (one of [`ALGORITHM`], [`ALGORITHM_TICKETS`]); `None` for
/// another name.
pub fn draw_with(
    algorithm: &str,
    snapshot: &Snapshot,
    seed: &[u8; 32],
    picks: usize,
) -> Option<Vec<(i64, i64)>> {
    match algorithm {
        ALGORITHM => Some(draw(snapshot, seed, picks)),
        ALGORITHM_TICKETS => Some(draw_tickets(snapshot, seed, picks)),
        _ => None,
    }
}

fn sample(snapshot: &Snapshot, seed: &[u8; 32], picks: usize, by_ticket: bool) -> Vec<(i64, i64)> {
    let snapshot_hash = snapshot.hasher.clone().finalize();
    let mut key = Sha256::new();
    key.update(KEY_PREFIX);
    key.update(seed);
    key.update(snapshot_hash);
    let mut words = Words::new(key.finalize().into());
    let mut tree = Fenwick::new(&snapshot.tickets);
    let mut remaining = snapshot.total;
    let mut winners = Vec::with_capacity(if by_ticket {
        picks.min(usize::try_from(remaining).unwrap_or(usize::MAX))
    } else {
        picks.min(snapshot.users.len())
    });
    while winners.len() < picks && remaining > 0 {
        let index = words.below(remaining);
        let at = tree.find(index);
        let tickets = snapshot.tickets[at];
        let taken = if by_ticket { 1 } else { tickets };
        tree.add(at, taken, false);
        remaining -= taken;
        winners.push((
            snapshot.users[at],
            i64::try_from(tickets).unwrap_or(i64::MAX),
        ));
    }
    winners
}

/// Lowercase hex, as seeds, commitments and hashes are published.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 in counter mode as a stream of u64 words.
struct Words {
    key: [u8; 32],
    counter: u64,
    block: [u64; 4],
    used: usize,
}

impl Words {
    fn new(key: [u8; 32]) -> Self {
        Words {
            key,
            counter: 0,
            block: [0; 4],
            used: 4,
        }
    }

    fn next(&mut self) -> u64 {
        if self.used == 4 {
            let mut hasher = Sha256::new();
            hasher.update(self.key);
            hasher.update(self.counter.to_be_bytes());
            let digest = hasher.finalize();
            for (i, word) in self.block.iter_mut().enumerate() {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&digest[8 * i..8 * i + 8]);
                *word = u64::from_be_bytes(bytes);
            }
            self.counter += 1;
            self.used = 0;
        }
        self.used += 1;
        self.block[self.used - 1]
    }

    /// Uniform in `0..n` (`n > 0`) by rejection: no modulo bias.
    fn below(&mut self, n: u64) -> u64 {
        let limit = u64::MAX - (u64::MAX % n + 1) % n;
        loop {
            let word = self.next();
            if word <= limit {
                return word % n;
            }
        }
    }
}

/// Prefix sums of the tickets still in play, so a pick costs O(log n), not O(n): a
/// million participants and hundreds of picks take well under a second.
struct Fenwick {
    tree: Vec<u64>,
}

impl Fenwick {
    fn new(weights: &[u64]) -> Self {
        let mut tree = vec![0u64; weights.len() + 1];
        for (i, w) in weights.iter().enumerate() {
            let at = i + 1;
            tree[at] = tree[at].saturating_add(*w);
            let parent = at + (at & at.wrapping_neg());
            if parent < tree.len() {
                tree[parent] = tree[parent].saturating_add(tree[at]);
            }
        }
        Fenwick { tree }
    }

    /// Adds (or with `add = false` removes) `amount` at entry `i`.
    fn add(&mut self, i: usize, amount: u64, add: bool) {
        let mut at = i + 1;
        while at < self.tree.len() {
            self.tree[at] = if add {
                self.tree[at].saturating_add(amount)
            } else {
                self.tree[at].saturating_sub(amount)
            };
            at += at & at.wrapping_neg();
        }
    }

    /// The entry whose weights, counted in order, hold ticket `index` (< the total).
    fn find(&self, mut index: u64) -> usize {
        let mut at = 0;
        let mut step = (self.tree.len() - 1).next_power_of_two();
        while step > 0 {
            let next = at + step;
            if next < self.tree.len() && self.tree[next] <= index {
                index -= self.tree[next];
                at = next;
            }
            step >>= 1;
        }
        at.min(self.tree.len().saturating_sub(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(entries: &[(i64, i64)]) -> Snapshot {
        let mut snapshot = Snapshot::new();
        for (user, tickets) in entries {
            snapshot.push(*user, *tickets).expect("valid entry");
        }
        snapshot
    }

    fn seed(n: u64) -> [u8; 32] {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&n.to_be_bytes());
        seed
    }

    #[test]
    fn the_same_seed_and_snapshot_give_the_same_winners_and_another_seed_others() {
        let entries: Vec<(i64, i64)> = (1..=500).map(|u| (u, 1 + u % 7)).collect();
        let a = draw(&snapshot(&entries), &seed(1), 20);
        assert_eq!(a, draw(&snapshot(&entries), &seed(1), 20));
        assert_ne!(a, draw(&snapshot(&entries), &seed(2), 20));
        let mut users: Vec<i64> = a.iter().map(|(u, _)| *u).collect();
        users.sort_unstable();
        users.dedup();
        assert_eq!(users.len(), 20, "without replacement");
    }

    #[test]
    fn changing_one_ticket_changes_the_hash_and_so_the_draw() {
        let entries: Vec<(i64, i64)> = (1..=200).map(|u| (u, 3)).collect();
        let mut tampered = entries.clone();
        tampered[100].1 = 4;
        let (a, b) = (snapshot(&entries), snapshot(&tampered));
        assert_ne!(a.hash(), b.hash());
        assert_ne!(draw(&a, &seed(9), 10), draw(&b, &seed(9), 10));
    }

    #[test]
    fn a_snapshot_refuses_disorder_repeats_and_empty_holdings() {
        let mut s = Snapshot::new();
        s.push(5, 1).expect("first");
        assert_eq!(s.push(5, 2), Err(SnapshotError::OutOfOrder(5, 5)));
        assert_eq!(s.push(3, 2), Err(SnapshotError::OutOfOrder(3, 5)));
        assert_eq!(s.push(7, 0), Err(SnapshotError::NotPositive(7, 0)));
        assert_eq!(s.participants(), 1);
        // The canonical text: "5:1\n".
        assert_eq!(s.hash(), hex(&Sha256::digest(b"5:1\n")));
        assert_eq!(commitment(&[0u8; 32]).len(), 64);
    }

    #[test]
    fn everyone_wins_when_there_are_more_picks_than_holders() {
        let all = draw(&snapshot(&[(1, 1), (2, 5), (3, 2)]), &seed(3), 10);
        let mut users: Vec<i64> = all.iter().map(|(u, _)| *u).collect();
        users.sort_unstable();
        assert_eq!(users, vec![1, 2, 3]);
        assert!(draw(&Snapshot::new(), &seed(3), 5).is_empty());
    }

    /// One pick from holdings 1, 2, 3, 4 over 40,000 seeds: the counts follow the
    /// tickets (χ², 3 degrees of freedom, below 16.27 = p 0.001).
    #[test]
    fn a_pick_is_weighted_by_tickets() {
        let s = snapshot(&[(1, 1), (2, 2), (3, 3), (4, 4)]);
        let runs = 40_000u64;
        let mut counts = [0f64; 4];
        for n in 0..runs {
            let winner = draw(&s, &seed(n), 1)[0].0;
            counts[(winner - 1) as usize] += 1.0;
        }
        let chi2: f64 = counts
            .iter()
            .enumerate()
            .map(|(i, observed)| {
                let expected = runs as f64 * (i + 1) as f64 / 10.0;
                (observed - expected).powi(2) / expected
            })
            .sum();
        assert!(chi2 < 16.27, "χ² = {chi2}, counts {counts:?}");
    }

    /// Second picks too: after the 4-ticket holder wins first, the others share the
    /// rest as 1 : 2 : 3.
    #[test]
    fn later_picks_are_weighted_among_those_not_picked_yet() {
        let s = snapshot(&[(1, 1), (2, 2), (3, 3), (4, 4)]);
        let mut counts = [0f64; 3];
        let mut runs = 0.0;
        for n in 0..60_000u64 {
            let two = draw(&s, &seed(n), 2);
            if two[0].0 == 4 {
                counts[(two[1].0 - 1) as usize] += 1.0;
                runs += 1.0;
            }
        }
        let chi2: f64 = counts
            .iter()
            .enumerate()
            .map(|(i, observed)| {
                let expected = runs * (i + 1) as f64 / 6.0;
                (observed - expected).powi(2) / expected
            })
            .sum();
        assert!(chi2 < 13.82, "χ² = {chi2}, counts {counts:?}");
    }

    #[test]
    fn with_multiple_wins_a_big_holder_wins_several_picks_and_no_ticket_twice() {
        let s = snapshot(&[(1, 1000), (2, 1), (3, 1)]);
        let picks = draw_tickets(&s, &seed(5), 10);
        assert_eq!(picks.len(), 10);
        assert!(
            picks.iter().filter(|(u, _)| *u == 1).count() >= 8,
            "{picks:?}"
        );
        assert!(picks
            .iter()
            .all(|(u, t)| *t == if *u == 1 { 1000 } else { 1 }));
        // Three tickets in all: three picks at most, each ticket once.
        let small = snapshot(&[(1, 2), (2, 1)]);
        let all = draw_tickets(&small, &seed(5), 10);
        assert_eq!(all.iter().filter(|(u, _)| *u == 1).count(), 2);
        assert_eq!(all.iter().filter(|(u, _)| *u == 2).count(), 1);
        assert_eq!(draw_with(ALGORITHM_TICKETS, &s, &seed(5), 10), Some(picks));
        assert_eq!(draw_with("no such algorithm", &s, &seed(5), 10), None);
    }

    #[test]
    fn the_canonical_text_reads_back_to_the_same_snapshot_and_garbage_is_named() {
        let s = snapshot(&[(3, 7), (10, 1), (11, 250)]);
        assert_eq!(s.canonical(), b"3:7\n10:1\n11:250\n".to_vec());
        let back = Snapshot::parse(&s.canonical()).expect("canonical");
        assert_eq!(back.hash(), s.hash());
        assert_eq!(
            back.entries().collect::<Vec<_>>(),
            s.entries().collect::<Vec<_>>()
        );
        assert!(Snapshot::parse(b"").is_ok_and(|e| e.participants() == 0));
        for bad in [&b"3:7\n2:1\n"[..], b"3:x\n", b"3:7", b"3:0\n", b"\xff\n"] {
            assert!(Snapshot::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fenwick_search_finds_the_holder_of_every_ticket() {
        let weights = [3u64, 0, 1, 5, 2];
        let tree = Fenwick::new(&weights);
        let mut expected = Vec::new();
        for (i, w) in weights.iter().enumerate() {
            expected.extend(std::iter::repeat_n(i, *w as usize));
        }
        let found: Vec<usize> = (0..expected.len() as u64).map(|t| tree.find(t)).collect();
        assert_eq!(found, expected);
    }
}
