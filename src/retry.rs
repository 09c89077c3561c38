//! Bounded retries for the AWS quirks the SDK's standard retry does not cover: IAM
//! propagation (API Gateway and Lambda refuse a fresh role for seconds to minutes),
//! UpdateAccount's fixed 1-per-20-s quota, and apigatewayv2's ConflictException.
//!
//! Every loop has a deadline; the time scale can be shrunk with `CHATCTL_RETRY_SCALE`
//! (e.g. `0.05`) so tests can prove a never-clearing fault ends in a clear error quickly.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ui::Task;

/// What a classifier decides about one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Give up: the error is not one this loop handles.
    Fail,
    /// Retry with exponential backoff.
    Backoff,
    /// Retry after at least this long (a fixed quota).
    AtLeast(Duration),
}

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub deadline: Duration,
    pub initial: Duration,
    pub max: Duration,
}

impl Policy {
    /// IAM → API Gateway / Lambda propagation: Terraform allows 2 minutes.
    pub fn propagation() -> Self {
        Self {
            deadline: scaled(Duration::from_mins(2)),
            initial: scaled(Duration::from_secs(2)),
            max: scaled(Duration::from_secs(15)),
        }
    }

    /// Lambda create/update conflicts and readiness: Terraform allows 5 minutes.
    pub fn lambda() -> Self {
        Self {
            deadline: scaled(Duration::from_mins(5)),
            initial: scaled(Duration::from_secs(1)),
            max: scaled(Duration::from_secs(5)),
        }
    }

    /// apigatewayv2 "try again later" conflicts clear within seconds.
    pub fn conflict() -> Self {
        Self {
            deadline: scaled(Duration::from_mins(1)),
            initial: scaled(Duration::from_millis(500)),
            max: scaled(Duration::from_secs(5)),
        }
    }
}

/// Shrinks (or stretches) every retry window and wait, for tests.
pub const SCALE_ENV: &str = "CHATCTL_RETRY_SCALE";
/// The values [`SCALE_ENV`] may take.
pub const SCALE_RANGE: std::ops::RangeInclusive<f64> = 0.001..=100.0;

/// The scale in `raw` (the variable's value, if set).
pub fn parse_scale(raw: Option<&str>) -> anyhow::Result<f64> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(1.0);
    };
    text.parse::<f64>()
        .ok()
        .filter(|scale| SCALE_RANGE.contains(scale))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{SCALE_ENV} = \"{text}\" is not valid: use a number from {} to {} (it multiplies chatctl's retry and wait windows; 1 is normal), or unset it",
                SCALE_RANGE.start(),
                SCALE_RANGE.end()
            )
        })
}

/// Refuses a bad [`SCALE_ENV`] before a command does anything.
pub fn check_scale() -> anyhow::Result<()> {
    parse_scale(std::env::var(SCALE_ENV).ok().as_deref()).map(|_| ())
}

/// Multiplies a wait by `CHATCTL_RETRY_SCALE` (default 1); never panics, whatever the value.
pub fn scaled(duration: Duration) -> Duration {
    let scale = parse_scale(std::env::var(SCALE_ENV).ok().as_deref()).unwrap_or(1.0);
    Duration::try_from_secs_f64(duration.as_secs_f64() * scale).unwrap_or(duration)
}

/// Runs an AWS `operation` until it succeeds, `classify` says `Fail`, or the deadline
/// passes (then the last error is returned). Waits are shown on `task`.
pub async fn retry<T, E, R, F, Fut>(
    policy: Policy,
    task: Option<&Task>,
    classify: impl Fn(&SdkError<E, R>) -> Verdict,
    operation: F,
) -> Result<T, SdkError<E, R>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    retry_with(
        policy,
        task,
        classify,
        crate::resources::describe,
        operation,
    )
    .await
}

/// [`retry`] for any error type, rendered by `describe` in progress messages.
pub async fn retry_with<T, E, F, Fut>(
    policy: Policy,
    task: Option<&Task>,
    classify: impl Fn(&E) -> Verdict,
    describe: impl Fn(&E) -> String,
    mut operation: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut backoff = policy.initial;
    loop {
        let error = match operation().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let wait = match classify(&error) {
            Verdict::Fail => return Err(error),
            Verdict::Backoff => {
                let wait = backoff;
                backoff = (backoff * 2).min(policy.max);
                wait
            }
            Verdict::AtLeast(minimum) => scaled(minimum).max(backoff),
        };
        if started.elapsed() + wait > policy.deadline {
            return Err(error);
        }
        let text = describe(&error);
        if let Some(task) = task {
            task.waiting(&format!("{text}; retrying in {:.1} s", wait.as_secs_f64()));
        }
        tracing::debug!(error = %text, wait_ms = wait.as_millis(), "retrying");
        tokio::time::sleep(wait).await;
    }
}

/// The service error code of an SDK error (`ConflictException`, …), if the service sent one.
pub fn code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// The service error message of an SDK error, if any.
pub fn message<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().message(),
        _ => None,
    }
}

/// apigatewayv2 mutations fail with ConflictException while another change is in flight;
/// the SDK does not retry it. Terraform retries the same two messages.
pub fn apigatewayv2_conflict<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Verdict {
    let conflict = code(error) == Some("ConflictException")
        && message(error).is_some_and(|m| {
            m.contains("try again later") || m.contains("concurrent modification")
        });
    if conflict {
        Verdict::Backoff
    } else {
        Verdict::Fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn quick() -> Policy {
        Policy {
            deadline: Duration::from_millis(200),
            initial: Duration::from_millis(5),
            max: Duration::from_millis(20),
        }
    }

    #[test]
    fn the_scale_is_bounded_and_named_when_wrong() {
        assert!((parse_scale(None).unwrap() - 1.0).abs() < f64::EPSILON);
        assert!((parse_scale(Some("0.05")).unwrap() - 0.05).abs() < f64::EPSILON);
        for bad in ["0", "-1", "1e300", "NaN", "inf", "fast"] {
            let msg = parse_scale(Some(bad)).unwrap_err().to_string();
            assert!(
                msg.starts_with(&format!("CHATCTL_RETRY_SCALE = \"{bad}\" is not valid")),
                "{msg}"
            );
        }
    }

    #[tokio::test]
    async fn retries_until_success() {
        let attempts = Cell::new(0);
        let result: Result<u32, String> = retry_with(
            quick(),
            None,
            |_| Verdict::Backoff,
            Clone::clone,
            || {
                attempts.set(attempts.get() + 1);
                let n = attempts.get();
                async move {
                    if n < 3 {
                        Err("not yet".to_owned())
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn stops_at_a_fatal_error() {
        let attempts = Cell::new(0);
        let result: Result<(), String> = retry_with(
            quick(),
            None,
            |_| Verdict::Fail,
            Clone::clone,
            || {
                attempts.set(attempts.get() + 1);
                async { Err("fatal".to_owned()) }
            },
        )
        .await;
        assert_eq!(result, Err("fatal".to_owned()));
        assert_eq!(attempts.get(), 1);
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline_with_the_last_error() {
        let started = Instant::now();
        let result: Result<(), String> = retry_with(
            quick(),
            None,
            |_| Verdict::Backoff,
            Clone::clone,
            || async { Err("still failing".to_owned()) },
        )
        .await;
        assert_eq!(result, Err("still failing".to_owned()));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
