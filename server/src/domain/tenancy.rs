//! The one tenancy rule: who may be a member of a room, and so who may write in it.
//!
//! A professional may be a member (or the author of a post, a reaction or a pin) of a room
//! of municipality `R` when their own municipality is `R`, or when the two share a
//! wide-area agreement in force. Everything that adds someone to a room asks [`may_join`]:
//! the admin API (`PUT /api/admin/rooms/{id}/members/{user}` and its candidate list),
//! message rooms (`POST /api/rooms/messages` and the directory that offers their members),
//! leaving an agreement (which removes the memberships it no longer allows), and
//! `renraku import` (members, post authors, reactions and pins, checked over the file's own
//! data and the database before anything is written).
//!
//! The rule is a pure function over a municipality type of the caller's choosing: the
//! server's [`MunicipalityId`]s, or the import's mix of existing municipalities and ones
//! the file is about to create. Whether an account is disabled is not part of it: a
//! disabled account stays a member of its rooms (and an export keeps it there), it only
//! cannot be newly added through the API.
//!
//! The database half (reading the agreements in force, and [`crate::db::tenancy::admit_in`]
//! which writers of memberships call inside their transaction) is in `db::tenancy`.

/// The wide-area agreements in force: for each, the municipalities in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreements<M> {
    groups: Vec<Vec<M>>,
}

impl<M> Default for Agreements<M> {
    fn default() -> Self {
        Self { groups: Vec::new() }
    }
}

impl<M: PartialEq + Clone> Agreements<M> {
    /// Each item is one agreement's member municipalities.
    pub fn new(groups: impl IntoIterator<Item = Vec<M>>) -> Self {
        Self {
            groups: groups.into_iter().filter(|g| g.len() > 1).collect(),
        }
    }

    /// The municipalities whose professionals may join a room of `room`: `room` itself
    /// first, then every municipality sharing an agreement with it, each once.
    pub fn reach(&self, room: &M) -> Vec<M> {
        let mut out = vec![room.clone()];
        for group in self.groups.iter().filter(|g| g.contains(room)) {
            for m in group {
                if !out.contains(m) {
                    out.push(m.clone());
                }
            }
        }
        out
    }
}

/// Whether a professional of municipality `person` may be a member of, and write in, a
/// room of municipality `room`.
pub fn may_join<M: PartialEq>(room: &M, person: &M, agreements: &Agreements<M>) -> bool {
    room == person
        || agreements
            .groups
            .iter()
            .any(|g| g.contains(room) && g.contains(person))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_municipality_or_a_shared_agreement_and_nothing_else() {
        let none = Agreements::<u8>::default();
        assert!(may_join(&1, &1, &none));
        assert!(!may_join(&1, &2, &none));
        let a = Agreements::new([vec![1, 2], vec![2, 3]]);
        assert!(may_join(&1, &2, &a) && may_join(&2, &1, &a));
        assert!(may_join(&3, &2, &a));
        // Agreements do not chain: 1 and 3 each share one with 2, not with each other.
        assert!(!may_join(&1, &3, &a));
        assert!(!may_join(&1, &4, &a));
        assert_eq!(a.reach(&2), vec![2, 1, 3]);
        assert_eq!(a.reach(&1), vec![1, 2]);
        assert_eq!(a.reach(&4), vec![4]);
    }
}
