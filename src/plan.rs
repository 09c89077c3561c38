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
}

impl Step {
    pub fn new(kind: &'static str, name: impl Into<String>, action: Action) -> Self {
        Self {
            kind,
            name: name.into(),
            action,
            changes: Vec::new(),
            note: None,
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
        Ok(())
    }
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

    /// Counts of (create, update/replace, delete).
    pub fn summary(&self) -> (usize, usize, usize) {
        let count = |f: fn(Action) -> bool| self.steps.iter().filter(|s| f(s.action)).count();
        (
            count(|a| a == Action::Create),
            count(|a| matches!(a, Action::Update | Action::Replace)),
            count(|a| a == Action::Delete),
        )
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
        let (create, update, delete) = self.summary();
        write!(
            f,
            "plan: {create} to create, {update} to update, {delete} to delete"
        )
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
    fn secret_changes_never_show_values() {
        let change = FieldChange::secret("stage_variables.backendSecret");
        assert_eq!(change.old, "(sensitive)");
        assert_eq!(change.new, "(sensitive)");
    }
}
