//! Fault injection for load tests and drills: the `x-fault` request header.
//!
//! Only read when the server runs with `--enable-faults`; otherwise the header is
//! ignored. Statuses and panics fail the request before its body is read; a delay
//! runs once the request is admitted, inside its timeout, so it drills both. Grammar: `<fault>[;p=<probability>]` where `<fault>` is
//! `500`, `503`, `panic` or `delay=<milliseconds>`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};

use super::error::ApiError;
use super::AppState;

/// The request header read by the injector.
pub const HEADER: &str = "x-fault";
/// Longest delay a header may ask for.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// What to do to the request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Answer with this 5xx status through the normal error path.
    Status(StatusCode),
    /// Panic inside the handler (answered 500 by the panic handler).
    Panic,
    /// Sleep, then serve normally.
    Delay(Duration),
}

/// A parsed `x-fault` header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultSpec {
    pub fault: Fault,
    /// Chance in [0, 1] that the fault fires for this request.
    pub probability: f64,
}

impl FromStr for FaultSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(';').map(str::trim);
        let fault = match parts.next().unwrap_or_default() {
            "500" => Fault::Status(StatusCode::INTERNAL_SERVER_ERROR),
            "503" => Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
            "panic" => Fault::Panic,
            other => match other.strip_prefix("delay=") {
                Some(ms) => {
                    let ms: u64 = ms
                        .parse()
                        .map_err(|_| format!("delay must be whole milliseconds, got {ms:?}"))?;
                    let delay = Duration::from_millis(ms);
                    if delay > MAX_DELAY {
                        return Err(format!("delay is capped at {} ms", MAX_DELAY.as_millis()));
                    }
                    Fault::Delay(delay)
                }
                None => {
                    return Err(format!(
                        "unknown fault {other:?}; use 500, 503, panic or delay=<ms>, optionally followed by ;p=<0..1>"
                    ))
                }
            },
        };
        let mut probability = 1.0;
        for part in parts {
            let p = part
                .strip_prefix("p=")
                .ok_or_else(|| format!("unknown parameter {part:?}; only p=<0..1> is accepted"))?;
            probability = p
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("p must be a number between 0 and 1, got {p:?}"))?;
        }
        Ok(FaultSpec { fault, probability })
    }
}

impl FaultSpec {
    fn fires(&self) -> bool {
        self.probability >= 1.0 || fastrand::f64() < self.probability
    }
}

/// The fault a request asks for, if any: `Ok(None)` without the header or when its
/// probability did not fire; an error for a malformed header.
fn requested(headers: &HeaderMap) -> Result<Option<Fault>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let spec = value
        .to_str()
        .map_err(|_| "the value is not visible ASCII".to_owned())
        .and_then(FaultSpec::from_str)
        .map_err(ApiError::InvalidFaultHeader)?;
    Ok(spec.fires().then_some(spec.fault))
}

/// The fault a request asks for, extracted from its head, before its body is read:
/// `None` unless the server runs with `--enable-faults`. A status or a panic fault fails
/// the request here; a delay is left for the handler to run once admitted.
#[derive(Debug, Clone, Copy)]
pub struct Requested(pub Option<Fault>);

impl FromRequestParts<Arc<AppState>> for Requested {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        if !state.enable_faults {
            return Ok(Requested(None));
        }
        let fault = requested(&parts.headers)?;
        if let Some(fault) = fault {
            fault.fail_early()?;
        }
        Ok(Requested(fault))
    }
}

impl Fault {
    /// Fails the request before its body is read: a status, or a panic.
    pub fn fail_early(self) -> Result<(), ApiError> {
        match self {
            Fault::Status(status) => Err(ApiError::InjectedFault(status)),
            Fault::Panic => panic!("fault injected by the x-fault header"),
            Fault::Delay(_) => Ok(()),
        }
    }

    /// Delays an admitted request (inside its timeout, holding its slot).
    pub async fn delay(self) {
        if let Fault::Delay(delay) = self {
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<FaultSpec, String> {
        s.parse()
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(
            parse("500").unwrap().fault,
            Fault::Status(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert_eq!(
            parse("503").unwrap().fault,
            Fault::Status(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(parse("panic").unwrap().fault, Fault::Panic);
        assert_eq!(
            parse("delay=250").unwrap().fault,
            Fault::Delay(Duration::from_millis(250))
        );
        let p = parse("500; p=0.25").unwrap();
        assert_eq!(p.probability, 0.25);
        assert_eq!(parse("503").unwrap().probability, 1.0);
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "404",
            "200",
            "oops",
            "delay=",
            "delay=-1",
            "delay=1s",
            "delay=600000",
            "500;p=2",
            "500;p=-0.1",
            "500;p=NaN",
            "500;q=1",
            "500;p=",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn probability_zero_never_fires_and_one_always_does() {
        let never = parse("500;p=0").unwrap();
        let always = parse("500;p=1").unwrap();
        for _ in 0..1000 {
            assert!(!never.fires());
            assert!(always.fires());
        }
    }
}
