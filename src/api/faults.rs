//! Fault injection for load tests and drills: the `x-fault` request header.
//!
//! Only installed when the server runs with `--enable-faults`; otherwise the
//! header is never read. Grammar: `<fault>[;p=<probability>]` where `<fault>` is
//! `500`, `503`, `panic` or `delay=<milliseconds>`.

use std::str::FromStr;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

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

/// Middleware applying the `x-fault` header of the request, if any.
pub async fn inject(request: Request, next: Next) -> Response {
    let Some(value) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let spec = match value
        .to_str()
        .map_err(|_| "the value is not visible ASCII".to_owned())
        .and_then(FaultSpec::from_str)
    {
        Ok(spec) => spec,
        Err(reason) => return ApiError::InvalidFaultHeader(reason).into_response(),
    };
    if !spec.fires() {
        return next.run(request).await;
    }
    match spec.fault {
        Fault::Status(status) => ApiError::InjectedFault(status).into_response(),
        Fault::Panic => panic!("fault injected by the x-fault header"),
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
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
