//! goose transactions: pick a prepared request from the traffic, send it stating the
//! status it expects, and count the answer (no JSON tree per response: a 200
//! prediction is checked by counting its `predictions` without keeping them).
//! Requests go through `client` (a lean HTTP/1.1 client whose answers goose records),
//! or through goose's own reqwest path where only goose does what is asked.

use std::sync::OnceLock;

use goose::prelude::*;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::Url;

use crate::client::{self, Answer, Target};
use crate::counters::{Counters, COUNTERS};
use crate::traffic::{Method, Planned, Traffic};

/// The traffic of this run, built before the attack starts.
pub static TRAFFIC: OnceLock<Traffic> = OnceLock::new();

fn traffic() -> &'static Traffic {
    TRAFFIC.get().expect("traffic is built before the attack")
}

/// Every path of the traffic joined to the users' base URL once (goose's
/// `get_request_builder` joins them into a string on every request, which reqwest
/// parses again), and where `client` sends them, if the configuration lets it.
struct Urls {
    base: Url,
    target: Option<Target>,
    paths: Vec<(&'static str, Url, Option<String>)>,
}

static URLS: OnceLock<Urls> = OnceLock::new();

enum Route {
    Client(&'static Target, &'static str),
    Goose(Option<&'static Url>),
}

fn route(user: &GooseUser, path: &str) -> Route {
    let urls = URLS.get_or_init(|| Urls {
        base: user.base_url.clone(),
        target: client::suits(&user.config)
            .then(|| Target::new(&user.base_url))
            .flatten(),
        paths: traffic()
            .paths()
            .filter_map(|p| {
                let url = user.base_url.join(p).ok()?;
                let uri = client::origin_form(&url);
                Some((p, url, uri))
            })
            .collect(),
    });
    // Another base URL (goose's --sticky-follow): goose joins it, as it would anyway.
    if urls.base != user.base_url {
        return Route::Goose(None);
    }
    let Some((_, url, uri)) = urls.paths.iter().find(|(p, _, _)| *p == path) else {
        return Route::Goose(None);
    };
    match (&urls.target, uri) {
        (Some(target), Some(path)) => Route::Client(target, path),
        _ => Route::Goose(Some(url)),
    }
}

/// The end of the JSON string whose opening quote is at `start` (the index of its
/// closing quote).
fn string_end(body: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < body.len() {
        match body[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The number of elements of the array at `start` (its `[`), counted at its own level.
fn array_len(body: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut count, mut empty) = (0usize, 0usize, true);
    let mut i = start + 1;
    while i < body.len() {
        match body[i] {
            b'"' => {
                i = string_end(body, i)?;
                empty = false;
            }
            b'[' | b'{' => {
                depth += 1;
                empty = false;
            }
            b']' | b'}' if depth > 0 => depth -= 1,
            b']' => return Some(if empty { 0 } else { count + 1 }),
            b',' if depth == 0 => count += 1,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => empty = false,
        }
        i += 1;
    }
    None
}

/// The number of predictions in a `/predict` answer (the length of the top-level
/// object's `predictions` array), if it has that shape. A scan of the bytes, with
/// nothing built: parsing every answer cost a fifth of the requests' own work.
pub fn prediction_count(body: &[u8]) -> Option<usize> {
    let skip_ws = |mut i: usize| {
        while body.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    if body.get(i) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let end = string_end(body, i)?;
                let after = skip_ws(end + 1);
                if depth == 1
                    && &body[i + 1..end] == b"predictions"
                    && body.get(after) == Some(&b':')
                {
                    let value = skip_ws(after + 1);
                    return match body.get(value) {
                        Some(b'[') => array_len(body, value),
                        _ => None,
                    };
                }
                i = end;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Through goose's `request` (reqwest), which records it in goose's metrics.
async fn send_with_goose(
    user: &mut GooseUser,
    req: &Planned<'static>,
    url: Option<&Url>,
) -> Result<Answer, Box<TransactionError>> {
    let (method, reqwest_method) = match req.method {
        Method::Get => (GooseMethod::Get, reqwest::Method::GET),
        Method::Post => (GooseMethod::Post, reqwest::Method::POST),
    };
    let mut builder = match url {
        Some(url) => user.client.request(reqwest_method, url.clone()),
        None => user.get_request_builder(&method, req.path)?,
    };
    if let Some(body) = req.body {
        builder = builder
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
    }
    if let Some((name, value)) = req.header {
        builder = builder.header(name, value);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(req.path)
        .name(req.name)
        .expect_status_code(req.expect)
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    Ok(match goose.response {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read the whole body so the connection is reused.
            Ok((status, response.bytes().await.unwrap_or_default()))
        }
        Err(e) => Err(e.to_string()),
    })
}

async fn send(user: &mut GooseUser, req: Planned<'static>) -> TransactionResult {
    let answer = match route(user, req.path) {
        Route::Client(target, path) => client::send(user, target, path, &req).await?,
        Route::Goose(url) => send_with_goose(user, &req, url).await?,
    };
    count(&req, answer);
    Ok(())
}

/// Our own counters of one request.
fn count(req: &Planned<'static>, answer: Answer) {
    let Ok((status, body)) = answer else {
        Counters::add(&COUNTERS.transport_errors, 1);
        return;
    };
    COUNTERS.record_status(status);
    if status != req.expect {
        Counters::add(&COUNTERS.unexpected_status, 1);
    }
    if req.drifted {
        Counters::add(&COUNTERS.drifted_requests, 1);
        Counters::add(&COUNTERS.drifted_rows, req.rows);
    }
    if status == 200 && req.rows > 0 {
        Counters::add(&COUNTERS.rows_predicted, req.rows);
        if prediction_count(&body) != Some(req.rows as usize) {
            Counters::add(&COUNTERS.bad_prediction_bodies, 1);
        }
    }
}

/// 200: one row (`features`) or a batch (`instances`).
pub async fn predict_ok(user: &mut GooseUser) -> TransactionResult {
    send(user, traffic().ok()).await
}

/// One of the mix file's client errors (422, 400, 404 by default), evenly.
pub async fn client_error(user: &mut GooseUser) -> TransactionResult {
    match traffic().client_error() {
        Some(req) => send(user, req).await,
        None => Ok(()),
    }
}

/// A fault injected with the mix file's header (500, 503 by default), evenly.
pub async fn server_error(user: &mut GooseUser) -> TransactionResult {
    send(user, traffic().server_error()).await
}

#[cfg(test)]
mod tests {
    use super::prediction_count;

    #[test]
    fn prediction_count_reads_the_shape_not_the_values() {
        let two =
            br#"{"predictions":[{"class":"setosa","probabilities":{"setosa":1.0}},{"value":2.5}]}"#;
        assert_eq!(prediction_count(two), Some(2));
        assert_eq!(prediction_count(br#"{"predictions":[]}"#), Some(0));
        assert_eq!(prediction_count(br#"{"error":"x","message":"y"}"#), None);
        assert_eq!(prediction_count(b"not json"), None);
    }

    #[test]
    fn prediction_count_finds_the_top_level_key_only() {
        let served = br#"{"predictions":[{"class":"setosa","class_id":0},{"class":"virginica","class_id":2}],"model":{"name":"iris","version":"48a4a3fb1186"}}"#;
        assert_eq!(prediction_count(served), Some(2));
        // The key later, after values that hold the word, brackets and escaped quotes.
        let tricky = br#"{ "model" : {"predictions":[1,2,3]}, "note":"a \"predictions\" [,]",
            "predictions" : [ {"class":"a,b]"} , [1,[2]] , 3 ] }"#;
        assert_eq!(prediction_count(tricky), Some(3));
        assert_eq!(prediction_count(br#"{"predictions":[ ]}"#), Some(0));
        assert_eq!(prediction_count(br#"{"predictions":{"a":1}}"#), None);
        assert_eq!(prediction_count(br#"{"predictions":[1,2"#), None);
        assert_eq!(prediction_count(br#"["predictions",[1]]"#), None);
        assert_eq!(prediction_count(b""), None);
    }

    #[test]
    fn prediction_count_agrees_with_serde_json() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..500 {
            let n = rng.usize(0..9);
            let predictions: Vec<serde_json::Value> = (0..n)
                .map(|i| match rng.u8(0..3) {
                    0 => serde_json::json!({"class": format!("c\"{i}],"), "class_id": i}),
                    1 => {
                        serde_json::json!({"value": rng.f64(), "probabilities": {"a": [0.5, 0.5]}})
                    }
                    _ => serde_json::json!([i, {"x": "}"}]),
                })
                .collect();
            let body =
                serde_json::json!({"model": {"name": "predictions"}, "predictions": predictions});
            let text = if rng.bool() {
                serde_json::to_vec_pretty(&body).unwrap()
            } else {
                serde_json::to_vec(&body).unwrap()
            };
            assert_eq!(
                prediction_count(&text),
                Some(n),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}
