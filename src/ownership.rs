//! Ownership: chatctl changes and deletes only what it created, in the region it runs in.
//!
//! Every resource chatctl creates carries the tags `chatctl:stack` and `chatctl:region`
//! ([`crate::config::Names::tags`]), given at creation wherever the API allows it, so there
//! is no untagged window. A resource found by one of the stack's names is then *ours* (our
//! tags), *foreign* (it exists without them) or absent: [`Found`]. A foreign resource is
//! never updated, replaced or deleted: `plan` and `up` stop before any write when they would
//! need it, `down` leaves it and says so.
//!
//! What cannot carry tags belongs to the resource it is part of: a function's URL and
//! resource policy, a role's inline policy and attachments, an API's routes, integrations
//! and stage. Resources made before the region tag existed are handled in
//! docs/decisions.md ("Ownership").

use std::fmt;

use serde::Serialize;

use crate::config::{Names, REGION_TAG, STACK_TAG};

/// What the tags of a resource found by name say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Tagged for this stack and this region.
    Ours,
    /// Tagged for this stack without a region: created before resources carried the region
    /// tag. A regional resource found in this region is ours; for a global one (an IAM
    /// role) the caller decides from what uses it.
    Unscoped,
    /// No `chatctl:stack` tag at all.
    Untagged,
    /// Tagged for another stack, or for this stack in another region.
    Other {
        stack: String,
        region: Option<String>,
    },
}

impl Claim {
    /// Reads the claim from a resource's tags, in whatever shape the SDK returns them.
    pub fn of<I, K, V>(names: &Names, tags: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (mut stack, mut region) = (None, None);
        for (key, value) in tags {
            match key.as_ref() {
                STACK_TAG => stack = Some(value.as_ref().to_owned()),
                REGION_TAG => region = Some(value.as_ref().to_owned()),
                _ => {}
            }
        }
        match (stack, region) {
            (None, _) => Self::Untagged,
            (Some(stack), Some(region)) if stack == names.stack && region == names.region => {
                Self::Ours
            }
            (Some(stack), None) if stack == names.stack => Self::Unscoped,
            (Some(stack), region) => Self::Other { stack, region },
        }
    }

    /// Whether a regional resource (found in the region chatctl runs in) is ours.
    pub fn is_ours_regional(&self) -> bool {
        matches!(self, Self::Ours | Self::Unscoped)
    }

    /// Why a resource with this claim is not ours, for messages.
    pub fn reason(&self) -> String {
        match self {
            Self::Ours | Self::Unscoped => "tagged for this stack".to_owned(),
            Self::Untagged => format!("it has no {STACK_TAG} tag"),
            Self::Other {
                stack,
                region: Some(region),
            } => format!("it belongs to chatctl stack {stack} in {region}"),
            Self::Other {
                stack,
                region: None,
            } => format!("it belongs to chatctl stack {stack}"),
        }
    }
}

/// A resource that has one of the stack's names but is not the stack's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Foreign {
    pub kind: &'static str,
    pub name: String,
    pub arn: String,
    /// Why it is not ours: what its tags say.
    pub reason: String,
}

impl Foreign {
    pub fn new(
        kind: &'static str,
        name: impl Into<String>,
        arn: impl Into<String>,
        claim: &Claim,
    ) -> Self {
        Self {
            kind,
            name: name.into(),
            arn: arn.into(),
            reason: claim.reason(),
        }
    }
}

impl fmt::Display for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}): {}",
            self.kind, self.name, self.arn, self.reason
        )
    }
}

/// A resource looked up by one of the stack's names.
#[derive(Debug, Clone, PartialEq)]
pub enum Found<T> {
    Absent,
    Ours(T),
    Foreign(Foreign),
}

impl<T> Found<T> {
    /// A regional resource that exists: ours when tagged for this stack (with or without
    /// the region tag), foreign otherwise.
    pub fn regional(claim: &Claim, value: T, kind: &'static str, name: &str, arn: &str) -> Self {
        if claim.is_ours_regional() {
            Self::Ours(value)
        } else {
            Self::Foreign(Foreign::new(kind, name, arn, claim))
        }
    }

    /// Ours as `Some`; a foreign resource is recorded in `foreign` and is `None` here, so
    /// the plan never touches it.
    pub fn sort(self, foreign: &mut Vec<Foreign>) -> Option<T> {
        match self {
            Self::Absent => None,
            Self::Ours(value) => Some(value),
            Self::Foreign(resource) => {
                foreign.push(resource);
                None
            }
        }
    }

    pub fn ours(&self) -> Option<&T> {
        match self {
            Self::Ours(value) => Some(value),
            _ => None,
        }
    }
}

/// The error `plan` and `up` stop with, before any write, when the plan needs resources
/// that exist under the stack's names without being the stack's.
pub fn conflict_error(stack: &str, region: &str, conflicts: &[&Foreign]) -> anyhow::Error {
    let list = conflicts.iter().fold(String::new(), |mut list, f| {
        use std::fmt::Write as _;
        let _ = write!(list, "\n  {f}");
        list
    });
    anyhow::anyhow!(
        "stack {stack} in {region} needs names that resources chatctl did not create for it already have:{list}\n\
         chatctl changes and deletes only what it created, so nothing was changed. Ways out: \
         give this stack other names (another [app].name in chatctl.toml, or another --stage), \
         or, if these resources are not needed, delete or rename them yourself and run again"
    )
}

/// What `down` says about a foreign resource it leaves.
pub fn left_note(foreign: &Foreign) -> String {
    format!("left {foreign}: chatctl did not create it for this stack")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new("chat-dev", "eu-west-1")
    }

    #[test]
    fn claims_from_tags() {
        let names = names();
        let claim = |tags: &[(&str, &str)]| Claim::of(&names, tags.iter().copied());
        assert_eq!(
            claim(&[(STACK_TAG, "chat-dev"), (REGION_TAG, "eu-west-1")]),
            Claim::Ours
        );
        assert_eq!(claim(&[(STACK_TAG, "chat-dev")]), Claim::Unscoped);
        assert_eq!(claim(&[("team", "x")]), Claim::Untagged);
        assert_eq!(
            claim(&[(STACK_TAG, "chat-dev"), (REGION_TAG, "us-east-1")]),
            Claim::Other {
                stack: "chat-dev".into(),
                region: Some("us-east-1".into())
            }
        );
        assert_eq!(
            claim(&[(STACK_TAG, "other-dev")]).reason(),
            "it belongs to chatctl stack other-dev"
        );
    }

    #[test]
    fn regional_resources_of_this_stack_are_ours_with_or_without_the_region_tag() {
        assert!(Claim::Ours.is_ours_regional());
        assert!(Claim::Unscoped.is_ours_regional());
        assert!(!Claim::Untagged.is_ours_regional());
        let found = Found::regional(&Claim::Untagged, 1, "dynamodb table", "t", "arn:t");
        let mut foreign = Vec::new();
        assert_eq!(found.sort(&mut foreign), None);
        assert_eq!(
            foreign[0].to_string(),
            "dynamodb table t (arn:t): it has no chatctl:stack tag"
        );
    }

    #[test]
    fn the_conflict_error_names_the_resource_its_arn_and_the_ways_out() {
        let foreign = Foreign::new(
            "dynamodb table",
            "chat-dev-connections",
            "arn:aws:dynamodb:eu-west-1:1:table/chat-dev-connections",
            &Claim::Untagged,
        );
        let text = conflict_error("chat-dev", "eu-west-1", &[&foreign]).to_string();
        assert!(text.contains("dynamodb table chat-dev-connections (arn:aws:dynamodb:eu-west-1:1:table/chat-dev-connections)"), "{text}");
        assert!(
            text.contains("[app].name")
                && text.contains("--stage")
                && text.contains("delete or rename"),
            "{text}"
        );
    }
}
