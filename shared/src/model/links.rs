//! Linking an existing Runn customer's records to Clockify's, and removing what the
//! integration imported: the suggestions, a reviewed list of links and rejections, the
//! decisions kept per account, the record of what the integration created, and the
//! reports of these runs. No I/O.

use crate::model::account::Switches;
use crate::model::plan::RecordKind;
use crate::model::report::Capped;
use serde::{Deserialize, Serialize};

/// The kinds of record that can be linked, created and removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Client,
    Project,
    Person,
}

impl LinkKind {
    pub const ALL: [LinkKind; 3] = [LinkKind::Client, LinkKind::Project, LinkKind::Person];

    pub fn label(self) -> &'static str {
        self.record().label()
    }
    pub fn record(self) -> RecordKind {
        match self {
            LinkKind::Client => RecordKind::Client,
            LinkKind::Project => RecordKind::Project,
            LinkKind::Person => RecordKind::Person,
        }
    }
    /// The kind of a record the import creates (the "Unknown" role is none of these).
    pub fn of(kind: RecordKind) -> Option<Self> {
        match kind {
            RecordKind::Client => Some(LinkKind::Client),
            RecordKind::Project => Some(LinkKind::Project),
            RecordKind::Person => Some(LinkKind::Person),
            RecordKind::Role => None,
        }
    }
    /// Whether the switches cover this kind.
    pub fn within(self, kinds: Switches) -> bool {
        match self {
            LinkKind::Client | LinkKind::Project => kinds.clients_and_projects,
            LinkKind::Person => kinds.people,
        }
    }
}

/// How sure a suggestion is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The same e-mail, or the one record of that name (under the linked client).
    Sure,
    /// The one person of that full name, or the one project of that name in any client.
    Likely,
    /// Several Runn records match: listed, never chosen.
    Ambiguous,
    /// The Runn record is linked to another Clockify id, or another Clockify record
    /// matches it too: reported, never applied as it is.
    Conflict,
}

/// A Runn record a suggestion names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub runn_id: i64,
    pub name: String,
}

/// One Clockify record that looks like one already in Runn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suggestion {
    pub kind: LinkKind,
    pub clockify_id: String,
    pub clockify_name: String,
    /// The Runn record to link (none when several match: see `candidates`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runn_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runn_name: Option<String>,
    pub confidence: Confidence,
    pub why: String,
    /// The Runn records that match, when several do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

impl Suggestion {
    pub fn key(&self) -> (LinkKind, String) {
        (self.kind, self.clockify_id.clone())
    }
    /// The Runn record this line links, once a person has kept exactly one: the chosen
    /// record, or the one candidate left.
    pub fn chosen(&self) -> Option<i64> {
        match (self.runn_id, self.candidates.as_slice()) {
            (Some(id), []) => Some(id),
            (Some(id), c) if c.iter().all(|c| c.runn_id == id) => Some(id),
            (None, [one]) => Some(one.runn_id),
            _ => None,
        }
    }
}

/// Counts of suggestions by confidence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestionCounts {
    pub sure: usize,
    pub likely: usize,
    pub ambiguous: usize,
    pub conflict: usize,
}

impl SuggestionCounts {
    pub fn of(suggestions: &[Suggestion]) -> Self {
        let mut c = Self::default();
        for s in suggestions {
            match s.confidence {
                Confidence::Sure => c.sure += 1,
                Confidence::Likely => c.likely += 1,
                Confidence::Ambiguous => c.ambiguous += 1,
                Confidence::Conflict => c.conflict += 1,
            }
        }
        c
    }
    pub fn total(&self) -> usize {
        self.sure + self.likely + self.ambiguous + self.conflict
    }
}

/// A reviewed link: this Clockify record is that Runn record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub kind: LinkKind,
    pub clockify_id: String,
    pub runn_id: i64,
}

/// A suggestion a person rejected: the next import creates the Clockify record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub kind: LinkKind,
    pub clockify_id: String,
}

/// The most links (and, apart, rejections) one request carries: a job's message stays
/// well inside SQS's 256 KiB.
pub const MAX_LINKS: usize = 1000;

/// A reviewed list: the links to apply and the suggestions rejected.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub rejected: Vec<Rejection>,
}

impl LinkRequest {
    /// Refuses a request no person reviewed: too long, or with ids that are no ids; the
    /// refusal names its field (`links` or `rejected`).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.links.len() > MAX_LINKS {
            return Err(("links", format!("at most {MAX_LINKS} links a request")));
        }
        if self.rejected.len() > MAX_LINKS {
            return Err((
                "rejected",
                format!("at most {MAX_LINKS} rejections a request"),
            ));
        }
        let bad_clockify = |id: &str| {
            id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric())
        };
        for l in &self.links {
            if bad_clockify(&l.clockify_id) {
                let why = format!("links: {:?} is not a Clockify id", l.clockify_id);
                return Err(("links", why));
            }
            if l.runn_id <= 0 {
                return Err(("links", format!("links: {} is not a Runn id", l.runn_id)));
            }
        }
        if let Some(r) = self.rejected.iter().find(|r| bad_clockify(&r.clockify_id)) {
            let why = format!("rejected: {:?} is not a Clockify id", r.clockify_id);
            return Err(("rejected", why));
        }
        Ok(())
    }
}

/// What was decided of a suggestion, kept per account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// Linked through `link` (so a removal knows it was not created by the integration).
    Linked {
        runn_id: i64,
    },
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDecision {
    pub kind: LinkKind,
    pub clockify_id: String,
    #[serde(flatten)]
    pub decision: Decision,
    pub run_id: String,
}

/// One record the integration created, kept once Runn's answer (or the look-up after
/// an unclear one) confirmed it: what a removal may archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedRecord {
    pub kind: LinkKind,
    pub runn_id: i64,
    pub clockify_id: String,
    pub name: String,
    pub run_id: String,
}

/// What a suggestions run or a links run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReport {
    /// Suggestions found (a suggestions run; a links run's dry run too).
    pub counts: SuggestionCounts,
    /// The first of them; all of them are paged through by the run's suggestions.
    pub suggestions: Capped<Suggestion>,
    /// Links written (or, in a dry run, to be written), as lines.
    pub linked: Capped<String>,
    /// Links already in place: nothing written for them.
    pub already: usize,
    /// Links not applied, each with why.
    pub skipped: Capped<String>,
    /// Rejections recorded.
    pub rejected: usize,
    pub dry_run: bool,
    pub finished: bool,
    pub writes: usize,
}

/// What a removal covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalRequest {
    pub kinds: Switches,
    /// Archive records given assignments in Runn since the import too.
    #[serde(default)]
    pub include_planned: bool,
    /// Archive records of unknown origin too (created before the record of creates).
    #[serde(default)]
    pub include_unrecorded: bool,
    pub dry_run: bool,
}

/// What a removal did (or, dry, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalReport {
    pub dry_run: bool,
    /// Actuals the integration wrote, deleted (or to delete).
    pub actuals_deleted: usize,
    /// Actuals changed in Runn since the integration wrote them: left, each named.
    pub actuals_changed: Capped<String>,
    /// Records archived (or to archive), by kind, and the first of them.
    pub archived: crate::model::report::Counts,
    pub archived_records: Capped<String>,
    /// Records given assignments in Runn since: left (unless `include_planned`).
    pub planned: Capped<String>,
    /// Records carrying a Clockify reference that the record of creates does not list
    /// ("origin unknown"): left (unless `include_unrecorded`).
    pub unrecorded: Capped<String>,
    /// Clients left because they hold projects the removal does not archive.
    pub kept_clients: Capped<String>,
    /// Records Runn refused to archive, each with why.
    #[serde(default)]
    pub failed: Capped<String>,
    /// The kinds switched off once they were removed (so the next daily run does not
    /// bring them back).
    #[serde(default)]
    pub switched_off: Vec<String>,
    pub finished: bool,
    pub writes: usize,
}
