//! Bookkeeping for `metav1.Condition` lists (`status.conditions`).
//!
//! These follow the rules of apimachinery's `meta.SetStatusCondition`, so an
//! operator written with kubeforge reports conditions the way `kubectl wait
//! --for=condition=...`, Argo CD and other Kubernetes tooling expect:
//!
//! - conditions are keyed by `type`: setting a condition replaces the one with
//!   the same type instead of appending a duplicate;
//! - `lastTransitionTime` records when the *status* last changed, so updating
//!   only the reason, message or observed generation keeps the old time (this
//!   is what makes "Ready for 3h" meaningful and avoids needless status writes).

use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// The three values `metav1.Condition.status` may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell (yet).
    Unknown,
}

impl ConditionStatus {
    /// The wire spelling: `"True"`, `"False"` or `"Unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<bool> for ConditionStatus {
    fn from(value: bool) -> Self {
        if value {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

/// Returned when a string is not one of `True`, `False` or `Unknown`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid condition status {0:?}: expected \"True\", \"False\" or \"Unknown\"")]
pub struct InvalidConditionStatus(pub String);

impl FromStr for ConditionStatus {
    type Err = InvalidConditionStatus;

    /// Parses the exact API spelling; the API server rejects any other case,
    /// so accepting "true" here would only defer the error to the status write.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "True" => Ok(ConditionStatus::True),
            "False" => Ok(ConditionStatus::False),
            "Unknown" => Ok(ConditionStatus::Unknown),
            other => Err(InvalidConditionStatus(other.to_owned())),
        }
    }
}

/// The current time as a `metav1.Time`, the type `lastTransitionTime`
/// needs, so callers need not know which time crate k8s-openapi uses.
pub fn now() -> Time {
    Time(Timestamp::now())
}

/// Builds a condition whose `lastTransitionTime` is now.
///
/// `status` takes a `bool` (`true` → `"True"`) or a [`ConditionStatus`].
/// Pass the object's `metadata.generation` as `observed_generation` so clients
/// can tell whether the condition reflects the latest spec.
pub fn new_condition(
    type_: impl Into<String>,
    status: impl Into<ConditionStatus>,
    reason: impl Into<String>,
    message: impl Into<String>,
    observed_generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into().as_str().to_owned(),
        reason: reason.into(),
        message: message.into(),
        observed_generation,
        last_transition_time: now(),
    }
}

/// Sets `new` in `conditions`, keyed by `type`, and reports whether anything
/// changed (so a reconciler can skip a no-op status update).
///
/// - No condition of that type yet: `new` is appended as is (an unset time,
///   i.e. at or before the Unix epoch, is replaced by now).
/// - The status differs: the whole condition is replaced and the transition
///   time becomes `new`'s time (or now if unset).
/// - Same status: reason, message and observed generation are updated, but
///   the existing `lastTransitionTime` is kept.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) -> bool {
    if new.last_transition_time.0 <= Timestamp::UNIX_EPOCH {
        new.last_transition_time = now();
    }
    let Some(existing) = conditions.iter_mut().find(|c| c.type_ == new.type_) else {
        conditions.push(new);
        return true;
    };

    let mut changed = false;
    if existing.status != new.status {
        existing.status = new.status;
        existing.last_transition_time = new.last_transition_time;
        changed = true;
    }
    if existing.reason != new.reason {
        existing.reason = new.reason;
        changed = true;
    }
    if existing.message != new.message {
        existing.message = new.message;
        changed = true;
    }
    if existing.observed_generation != new.observed_generation {
        existing.observed_generation = new.observed_generation;
        changed = true;
    }
    changed
}

/// Removes the condition of type `type_`; returns whether one was present.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// The condition of type `type_`, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of type `type_` exists with the given status.
pub fn is_condition_status(
    conditions: &[Condition],
    type_: &str,
    status: impl Into<ConditionStatus>,
) -> bool {
    let status = status.into();
    find_condition(conditions, type_).is_some_and(|c| c.status == status.as_str())
}

/// Whether the condition of type `type_` exists and is `"True"`.
pub fn is_condition_true(conditions: &[Condition], type_: &str) -> bool {
    is_condition_status(conditions, type_, ConditionStatus::True)
}

/// Whether the condition of type `type_` exists and is `"False"`.
///
/// Not the negation of [`is_condition_true`]: a missing or `Unknown`
/// condition is neither true nor false.
pub fn is_condition_false(conditions: &[Condition], type_: &str) -> bool {
    is_condition_status(conditions, type_, ConditionStatus::False)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn cond(type_: &str, status: bool, reason: &str, message: &str, time: Time) -> Condition {
        Condition {
            last_transition_time: time,
            ..new_condition(type_, status, reason, message, Some(1))
        }
    }

    #[test]
    fn new_condition_uses_wire_spelling_and_now() {
        let before = Timestamp::now();
        let c = new_condition("Ready", true, "Available", "all good", Some(3));
        assert_eq!(c.type_, "Ready");
        assert_eq!(c.status, "True");
        assert_eq!(c.reason, "Available");
        assert_eq!(c.message, "all good");
        assert_eq!(c.observed_generation, Some(3));
        assert!(c.last_transition_time.0 >= before);
        assert_eq!(new_condition("A", false, "R", "", None).status, "False");
        assert_eq!(
            new_condition("A", ConditionStatus::Unknown, "R", "", None).status,
            "Unknown"
        );
    }

    #[test]
    fn status_parses_only_api_spelling() {
        assert_eq!("True".parse(), Ok(ConditionStatus::True));
        assert_eq!("Unknown".parse(), Ok(ConditionStatus::Unknown));
        assert_eq!(
            "true".parse::<ConditionStatus>(),
            Err(InvalidConditionStatus("true".into()))
        );
    }

    #[test]
    fn adding_appends() {
        let mut conds = Vec::new();
        assert!(set_condition(
            &mut conds,
            cond("Ready", true, "R", "m", at(100))
        ));
        assert!(set_condition(
            &mut conds,
            cond("Degraded", false, "R", "m", at(200))
        ));
        assert_eq!(conds.len(), 2);
        assert_eq!(conds[0].type_, "Ready");
        assert_eq!(conds[1].type_, "Degraded");
        assert_eq!(conds[1].last_transition_time, at(200));
    }

    #[test]
    fn adding_with_unset_time_stamps_now() {
        let mut conds = Vec::new();
        let before = Timestamp::now();
        set_condition(
            &mut conds,
            cond("Ready", true, "R", "m", Time(Timestamp::UNIX_EPOCH)),
        );
        assert!(conds[0].last_transition_time.0 >= before);
    }

    #[test]
    fn message_only_change_keeps_transition_time() {
        let mut conds = vec![cond("Ready", true, "Old", "old message", at(100))];
        let changed = set_condition(
            &mut conds,
            cond("Ready", true, "New", "new message", at(500)),
        );
        assert!(changed);
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].reason, "New");
        assert_eq!(conds[0].message, "new message");
        assert_eq!(conds[0].last_transition_time, at(100));
    }

    #[test]
    fn observed_generation_change_keeps_transition_time() {
        let mut conds = vec![cond("Ready", true, "R", "m", at(100))];
        let mut newer = cond("Ready", true, "R", "m", at(500));
        newer.observed_generation = Some(7);
        assert!(set_condition(&mut conds, newer));
        assert_eq!(conds[0].observed_generation, Some(7));
        assert_eq!(conds[0].last_transition_time, at(100));
    }

    #[test]
    fn status_flip_changes_transition_time() {
        let mut conds = vec![cond("Ready", true, "R", "m", at(100))];
        assert!(set_condition(
            &mut conds,
            cond("Ready", false, "Broken", "x", at(500))
        ));
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].status, "False");
        assert_eq!(conds[0].reason, "Broken");
        assert_eq!(conds[0].last_transition_time, at(500));
    }

    #[test]
    fn status_flip_with_unset_time_uses_now() {
        let mut conds = vec![cond("Ready", true, "R", "m", at(100))];
        let before = Timestamp::now();
        set_condition(
            &mut conds,
            cond("Ready", false, "R", "m", Time(Timestamp::UNIX_EPOCH)),
        );
        assert!(conds[0].last_transition_time.0 >= before);
        assert!(
            conds[0].last_transition_time.0.duration_since(before) < SignedDuration::from_secs(60)
        );
    }

    #[test]
    fn identical_condition_is_not_a_change() {
        let mut conds = vec![cond("Ready", true, "R", "m", at(100))];
        assert!(!set_condition(
            &mut conds,
            cond("Ready", true, "R", "m", at(900))
        ));
        assert_eq!(conds[0].last_transition_time, at(100));
    }

    #[test]
    fn replacing_by_type_leaves_others_alone() {
        let mut conds = vec![
            cond("Ready", true, "R", "m", at(100)),
            cond("Degraded", false, "R", "m", at(100)),
        ];
        set_condition(&mut conds, cond("Degraded", true, "Slow", "m", at(300)));
        assert_eq!(conds.len(), 2);
        assert_eq!(conds[0], cond("Ready", true, "R", "m", at(100)));
        assert_eq!(conds[1].status, "True");
        assert_eq!(conds[1].last_transition_time, at(300));
    }

    #[test]
    fn find_and_predicates() {
        let conds = vec![
            cond("Ready", true, "R", "m", at(100)),
            cond("Degraded", false, "R", "m", at(100)),
            Condition {
                status: "Unknown".into(),
                ..cond("Synced", true, "R", "m", at(100))
            },
        ];
        assert_eq!(
            find_condition(&conds, "Degraded").map(|c| c.reason.as_str()),
            Some("R")
        );
        assert!(find_condition(&conds, "Missing").is_none());
        assert!(is_condition_true(&conds, "Ready"));
        assert!(!is_condition_true(&conds, "Degraded"));
        assert!(!is_condition_true(&conds, "Missing"));
        assert!(is_condition_false(&conds, "Degraded"));
        assert!(!is_condition_false(&conds, "Synced"));
        assert!(!is_condition_false(&conds, "Missing"));
        assert!(is_condition_status(
            &conds,
            "Synced",
            ConditionStatus::Unknown
        ));
    }

    #[test]
    fn remove_reports_presence() {
        let mut conds = vec![
            cond("Ready", true, "R", "m", at(100)),
            cond("Degraded", false, "R", "m", at(100)),
        ];
        assert!(remove_condition(&mut conds, "Ready"));
        assert!(!remove_condition(&mut conds, "Ready"));
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].type_, "Degraded");
    }
}
