//! Where an import puts each record, worked out before anything is written, and the
//! tenancy rule (`crate::tenancy`) applied to it.
//!
//! The rule needs each room's and each person's municipality, and the agreements in force.
//! A file's municipality is one already in the database (by external id, else by slug) or
//! one the import creates. A record imported before keeps its municipality (the import
//! updates it in place and never moves it), so the file must place it there too. The
//! agreements in force afterwards are the database's plus the file's own: the import
//! writes both in the same transaction and never removes an agreement's member.

use super::format::{bad, Dataset, ImportError};
use crate::db::import_export::ExternalIds;
use crate::domain::tenancy::{self, Agreements};
use std::collections::{BTreeMap, HashMap};

/// A municipality as the import sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Place<'a> {
    /// Already in the database: its id.
    Existing(i64),
    /// Created by this import: its external id in the file.
    New(&'a str),
}

/// An agreement as the import sees it; a file's agreement imported before adds its members
/// to the existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum AgreementKey<'a> {
    Existing(i64),
    New(&'a str),
}

/// What the database already holds that the rule depends on (read by
/// `db::import_export::placement_facts`).
#[derive(Debug, Default)]
pub(crate) struct Existing {
    pub(crate) municipality_by_slug: HashMap<String, i64>,
    /// The municipality of every organization, user, patient and room, by kind and id.
    pub(crate) homes: HashMap<(&'static str, i64), i64>,
    /// Each agreement's member municipalities.
    pub(crate) agreements: BTreeMap<i64, Vec<i64>>,
}

/// Refuses a data set that would place a record in another municipality than the one it
/// is in, or put anyone in a room (as a member, or as the author of a post, a reaction or
/// a pin) whom the tenancy rule keeps out. Pure: `ids` and `existing` are what the
/// database holds.
pub(crate) fn check(
    d: &Dataset,
    ids: &ExternalIds,
    existing: &Existing,
) -> Result<(), ImportError> {
    let mut places: HashMap<&str, Place> = HashMap::new();
    for m in &d.municipalities {
        let local = ids
            .get("municipality", &m.id)
            .or_else(|| existing.municipality_by_slug.get(&m.slug).copied());
        let place = local.map_or(Place::New(&m.id), Place::Existing);
        places.insert(&m.id, place);
    }
    let place = |path: String, m: &str| {
        places
            .get(m)
            .copied()
            .ok_or_else(|| bad(path, format!("unknown municipality {m:?}")))
    };

    // A record imported before stays where it is.
    let stays = |kind: &'static str, id: &str, path: String, m: &str| {
        let here = place(path.clone(), m)?;
        let home = ids
            .get(kind, id)
            .and_then(|local| existing.homes.get(&(kind, local)));
        match home {
            Some(home) if Place::Existing(*home) != here => Err(bad(
                path,
                format!(
                    "{kind} {id:?} was imported into another municipality; an import does \
                     not move records between municipalities"
                ),
            )),
            _ => Ok(()),
        }
    };
    for (i, o) in d.organizations.iter().enumerate() {
        let path = format!("organizations[{i}].municipality");
        stays("organization", &o.id, path, &o.municipality)?;
    }
    let mut homes: HashMap<&str, Place> = HashMap::new();
    for (i, u) in d.users.iter().enumerate() {
        let path = format!("users[{i}].municipality");
        stays("user", &u.id, path.clone(), &u.municipality)?;
        homes.insert(&u.id, place(path, &u.municipality)?);
    }
    for (i, p) in d.patients.iter().enumerate() {
        let path = format!("patients[{i}].municipality");
        stays("patient", &p.id, path, &p.municipality)?;
    }

    let mut groups: BTreeMap<AgreementKey, Vec<Place>> = existing
        .agreements
        .iter()
        .map(|(a, members)| {
            let members = members.iter().copied().map(Place::Existing).collect();
            (AgreementKey::Existing(*a), members)
        })
        .collect();
    for (i, a) in d.agreements.iter().enumerate() {
        let key = ids
            .get("agreement", &a.id)
            .map_or(AgreementKey::New(&a.id), AgreementKey::Existing);
        let group = groups.entry(key).or_default();
        for (j, m) in a.members.iter().enumerate() {
            let m = place(format!("agreements[{i}].members[{j}]"), m)?;
            if !group.contains(&m) {
                group.push(m);
            }
        }
    }
    let agreements = Agreements::new(groups.into_values());

    for (i, r) in d.rooms.iter().enumerate() {
        let p = format!("rooms[{i}]");
        stays("room", &r.id, format!("{p}.municipality"), &r.municipality)?;
        let room = place(format!("{p}.municipality"), &r.municipality)?;
        let allowed = |path: String, user: &str| {
            let Some(home) = homes.get(user) else {
                return Err(bad(path, format!("unknown user {user:?}")));
            };
            if tenancy::may_join(&room, home, &agreements) {
                return Ok(());
            }
            let theirs = d
                .users
                .iter()
                .find(|u| u.id == user)
                .map_or("", |u| u.municipality.as_str());
            Err(bad(
                path,
                format!(
                    "user {user:?} of municipality {theirs:?} may not be in a room of \
                     {:?}: the two share no wide-area agreement",
                    r.municipality
                ),
            ))
        };
        for (j, m) in r.members.iter().enumerate() {
            allowed(format!("{p}.members[{j}].user"), &m.user)?;
        }
        for (j, post) in r.posts.iter().enumerate() {
            allowed(format!("{p}.posts[{j}].author"), &post.author)?;
        }
        for (j, reaction) in r.reactions.iter().enumerate() {
            allowed(format!("{p}.reactions[{j}].user"), &reaction.user)?;
        }
        for (j, pin) in r.pins.iter().enumerate() {
            allowed(format!("{p}.pins[{j}].by"), &pin.by)?;
        }
    }
    Ok(())
}
