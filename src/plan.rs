//! The plan: what `up` would do to each resource, with a human and a JSON rendering.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    /// Present and matching: nothing to do.
    Keep,
}

impl Action {
    fn symbol(self) -> &'static str {
        match self {
            Self::Create => "+ create ",
            Self::Update => "~ update ",
            Self::Replace => "± replace",
            Self::Delete => "- delete ",
            Self::Keep => "  keep   ",
        }
    }
}

/// One changed field of an update: `field: old → new`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

impl FieldChange {
    pub fn new(field: impl Into<String>, old: impl fmt::Display, new: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            old: old.to_string(),
            new: new.to_string(),
        }
    }

    /// A change whose values must not be shown (the backend secret).
    pub fn secret(field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            old: "(sensitive)".to_owned(),
            new: "(sensitive)".to_owned(),
        }
    }
}

/// One resource and what happens to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Resource kind, e.g. `route`, `iam role`.
    pub kind: &'static str,
    /// Resource name or key, e.g. `sendmessage`, `chat-dev-apigw-logs`.
    pub name: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// Why, when it is not obvious (a duplicate, a foreign setting kept…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For a delete or replace of a resource that holds data (a table's items, a user
    /// pool's users): what is lost. Plans and summaries say so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loses_data: Option<String>,
    /// A leftover of an interrupted run (a duplicate of the stack's own resource): deleting
    /// it is repair, not destruction, and needs no confirmation.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub leftover: bool,
}

impl Step {
    pub fn new(kind: &'static str, name: impl Into<String>, action: Action) -> Self {
        Self {
            kind,
            name: name.into(),
            action,
            changes: Vec::new(),
            note: None,
            loses_data: None,
            leftover: false,
        }
    }

    /// `Keep` when `changes` is empty, `Update` otherwise.
    pub fn update_or_keep(
        kind: &'static str,
        name: impl Into<String>,
        changes: Vec<FieldChange>,
    ) -> Self {
        let action = if changes.is_empty() {
            Action::Keep
        } else {
            Action::Update
        };
        Self {
            changes,
            ..Self::new(kind, name, action)
        }
    }

    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Marks a delete or replace as losing `what` (data that cannot be recovered).
    #[must_use]
    pub fn losing_data(mut self, what: impl Into<String>) -> Self {
        self.loses_data = Some(what.into());
        self
    }

    /// Marks a delete as the removal of an interrupted run's leftover.
    #[must_use]
    pub fn as_leftover(mut self) -> Self {
        self.leftover = true;
        self
    }

    /// Whether the step deletes something (a replace deletes, then creates).
    pub fn destroys(&self) -> bool {
        matches!(self.action, Action::Delete | Action::Replace)
    }

    /// Whether `up` must ask before applying the step.
    pub fn needs_consent(&self) -> bool {
        self.destroys() && !self.leftover
    }

    pub fn label(&self) -> String {
        format!("{} {} {}", self.action.symbol(), self.kind, self.name)
    }

    pub fn is_change(&self) -> bool {
        self.action != Action::Keep
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.label())?;
        if let Some(note) = &self.note {
            write!(f, "  ({note})")?;
        }
        for change in &self.changes {
            write!(
                f,
                "\n      {}: {} → {}",
                change.field, change.old, change.new
            )?;
        }
        if let Some(what) = self.loses_data.as_ref().filter(|_| self.destroys()) {
            write!(f, "\n      data lost: {what}")?;
        }
        Ok(())
    }
}

/// How many resources a plan creates, updates and deletes. A replace deletes the old
/// resource and creates a new one, so it counts in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    /// Of which replaced (counted in `create` and in `delete`).
    pub replace: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub stack: String,
    pub region: String,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.is_change())
    }

    pub fn has_changes(&self) -> bool {
        self.changes().next().is_some()
    }

    pub fn summary(&self) -> Summary {
        let count = |f: fn(Action) -> bool| self.steps.iter().filter(|s| f(s.action)).count();
        Summary {
            create: count(|a| matches!(a, Action::Create | Action::Replace)),
            update: count(|a| a == Action::Update),
            delete: count(|a| matches!(a, Action::Delete | Action::Replace)),
            replace: count(|a| a == Action::Replace),
        }
    }

    /// The deletes and replaces `up` must ask about.
    pub fn needing_consent(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.needs_consent())
    }

    /// Deletes and replaces that lose data.
    pub fn data_losses(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| s.destroys() && s.loses_data.is_some())
    }

    /// `- delete  lambda function x`, one line per step `up` must ask about, and what data
    /// would be lost.
    pub fn destruction_text(&self) -> String {
        let mut text = String::new();
        for step in self.needing_consent() {
            text.push_str("\n  ");
            text.push_str(&step.label());
            if let Some(what) = &step.loses_data {
                text.push_str(" — data lost: ");
                text.push_str(what);
            }
        }
        text
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "stack {} in {}", self.stack, self.region)?;
        if !self.has_changes() {
            return write!(f, "no changes: the stack matches the configuration");
        }
        for step in self.changes() {
            writeln!(f, "  {step}")?;
        }
        let Summary {
            create,
            update,
            delete,
            replace,
        } = self.summary();
        write!(
            f,
            "plan: {create} to create, {update} to update, {delete} to delete"
        )?;
        if replace > 0 {
            write!(f, " ({replace} replaced: deleted, then created)")?;
        }
        for step in self.data_losses() {
            write!(
                f,
                "\ndata lost: {} {}: {}",
                step.kind,
                step.name,
                step.loses_data.as_deref().unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_creates_updates_and_deletes() {
        let plan = Plan {
            stack: "chat-dev".into(),
            region: "eu-west-1".into(),
            steps: vec![
                Step::new("iam role", "chat-dev-apigw-logs", Action::Keep),
                Step::new("route", "who", Action::Create),
                Step::update_or_keep(
                    "stage",
                    "dev",
                    vec![FieldChange::new("throttling_burst_limit", 0, 100)],
                ),
                Step::new("websocket api", "chat-dev", Action::Delete)
                    .with_note("duplicate tagged for this stack"),
            ],
        };
        insta::assert_snapshot!(plan.to_string(), @r"
        stack chat-dev in eu-west-1
          + create  route who
          ~ update  stage dev
              throttling_burst_limit: 0 → 100
          - delete  websocket api chat-dev  (duplicate tagged for this stack)
        plan: 1 to create, 1 to update, 1 to delete
        ");
    }

    #[test]
    fn no_changes_says_so() {
        let plan = Plan {
            stack: "chat-dev".into(),
            region: "eu-west-1".into(),
            steps: vec![Step::new("stage", "dev", Action::Keep)],
        };
        assert!(!plan.has_changes());
        assert!(
            plan.to_string()
                .ends_with("no changes: the stack matches the configuration")
        );
    }

    #[test]
    fn a_replace_counts_as_a_delete_and_a_create_and_says_what_data_is_lost() {
        let plan = Plan {
            stack: "chat-dev".into(),
            region: "eu-west-1".into(),
            steps: vec![
                Step::new("dynamodb table", "chat-dev-connections", Action::Replace)
                    .losing_data("its items"),
                Step::new("websocket api", "chat-dev (x)", Action::Delete).as_leftover(),
            ],
        };
        assert_eq!(
            plan.summary(),
            Summary {
                create: 1,
                update: 0,
                delete: 2,
                replace: 1
            }
        );
        insta::assert_snapshot!(plan.to_string(), @r"
        stack chat-dev in eu-west-1
          ± replace dynamodb table chat-dev-connections
              data lost: its items
          - delete  websocket api chat-dev (x)
        plan: 1 to create, 0 to update, 2 to delete (1 replaced: deleted, then created)
        data lost: dynamodb table chat-dev-connections: its items
        ");
        let consent: Vec<_> = plan.needing_consent().map(Step::label).collect();
        assert_eq!(consent, ["± replace dynamodb table chat-dev-connections"]);
    }

    #[test]
    fn secret_changes_never_show_values() {
        let change = FieldChange::secret("stage_variables.backendSecret");
        assert_eq!(change.old, "(sensitive)");
        assert_eq!(change.new, "(sensitive)");
    }
}
