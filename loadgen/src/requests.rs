//! goose transactions: pick a prepared request from the traffic, send it stating the
//! status it expects, and count the answer (no JSON tree per response: a 200
//! prediction is checked by counting its `predictions` without keeping them).
//! Requests go through `client` (a lean HTTP/1.1 client whose answers goose records),
//! or through goose's own reqwest path where only goose does what is asked.

use std::sync::OnceLock;

use goose::prelude::*;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::Url;

use crate::client::{self, Answer, Reply, Target};
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
            let body = response.bytes().await.unwrap_or_default();
            Ok(Reply::new(status, &body))
        }
        Err(e) => Err(e.to_string()),
    })
}

async fn send(user: &mut GooseUser, req: Planned<'static>) -> TransactionResult {
    let answer = match route(user, req.path) {
        Route::Client(target, path) => client::send(user, target, path, &req).await?,
        // Boxed: reqwest's future is large, and unboxed it would size (and copy) every
        // transaction's future, though the usual path never takes it.
        Route::Goose(url) => Box::pin(send_with_goose(user, &req, url)).await?,
    };
    count(&req, answer);
    Ok(())
}

/// Our own counters of one request.
fn count(req: &Planned<'static>, answer: Answer) {
    let Ok(Reply {
        status,
        predictions,
    }) = answer
    else {
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
        if predictions != Some(req.rows as usize) {
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
