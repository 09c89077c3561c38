//! The reference frontend: embedded from `templates/frontend/` at build time, or read from a
//! directory (`--frontend-dir`), with a generated `/config.js` and an SPA fallback so that
//! deep links such as `/chat/bob` load the app.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// Files of `templates/frontend/`, compiled into the binary so `chatctl dev` works from
/// anywhere. A unit test checks this list against the directory, so a new file cannot be
/// forgotten.
pub const EMBEDDED: &[(&str, &[u8])] = &[
    (
        "index.html",
        include_bytes!("../../templates/frontend/index.html"),
    ),
    ("app.js", include_bytes!("../../templates/frontend/app.js")),
    (
        "client.js",
        include_bytes!("../../templates/frontend/client.js"),
    ),
    (
        "auth.js",
        include_bytes!("../../templates/frontend/auth.js"),
    ),
    (
        "protocol.js",
        include_bytes!("../../templates/frontend/protocol.js"),
    ),
    (
        "config.js",
        include_bytes!("../../templates/frontend/config.js"),
    ),
    (
        "styles.css",
        include_bytes!("../../templates/frontend/styles.css"),
    ),
    (
        "favicon.svg",
        include_bytes!("../../templates/frontend/favicon.svg"),
    ),
];

const INDEX: &str = "index.html";

#[derive(Debug, Clone)]
pub enum Frontend {
    Embedded,
    Directory(PathBuf),
}

/// Serves the frontend; `config_js` is the generated `/config.js`.
#[derive(Debug)]
pub struct StaticFiles {
    pub frontend: Frontend,
    pub config_js: String,
    /// The gateway's path (`/{stage}`), named when a WebSocket upgrade arrives elsewhere.
    pub stage_path: String,
}

impl StaticFiles {
    async fn read(&self, name: &str) -> Option<Vec<u8>> {
        match &self.frontend {
            Frontend::Embedded => EMBEDDED
                .iter()
                .find(|(file, _)| *file == name)
                .map(|(_, bytes)| bytes.to_vec()),
            Frontend::Directory(dir) => {
                let path = safe_join(dir, name)?;
                match tokio::fs::metadata(&path).await {
                    Ok(meta) if meta.is_file() => tokio::fs::read(&path).await.ok(),
                    _ => None,
                }
            }
        }
    }
}

/// `dir/name` when `name` is a plain relative path (no `..`, no root, no drive).
fn safe_join(dir: &Path, name: &str) -> Option<PathBuf> {
    let relative = Path::new(name);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(relative))
}

pub fn content_type(name: &str) -> &'static str {
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn file_response(name: &str, bytes: Vec<u8>, head: bool) -> Response {
    let length = bytes.len();
    let body = if head {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // A development server: edits to the files must show on reload.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The fallback handler: files, `/config.js`, then `index.html` for any other GET.
pub async fn serve(
    axum::extract::State(files): axum::extract::State<Arc<StaticFiles>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    // A WebSocket client at the wrong path (a mistyped stage) must not get the app's HTML.
    if headers.contains_key(header::UPGRADE) {
        let message = format!(
            "no WebSocket endpoint at {}: connect to {}?name=NAME",
            uri.path(),
            files.stage_path
        );
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "message": message }).to_string(),
        )
            .into_response();
    }
    let head = method == Method::HEAD;
    if method != Method::GET && !head {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let path = uri.path().trim_start_matches('/');
    // Reserved for the gateway: a mistyped @connections path is an error, not the app.
    if path.split('/').any(|segment| segment == "@connections") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let name = if path.is_empty() { INDEX } else { path };
    if name == "config.js" {
        return file_response(name, files.config_js.clone().into_bytes(), head);
    }
    if let Some(bytes) = files.read(name).await {
        return file_response(name, bytes, head);
    }
    // Client-side routes (`/chat/bob`) and reloads get the app, which reads its location.
    match files.read(INDEX).await {
        Some(bytes) => file_response(INDEX, bytes, head),
        None => (StatusCode::NOT_FOUND, "the frontend has no index.html").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/frontend");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_type().unwrap().is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = EMBEDDED.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "templates/frontend changed: update EMBEDDED in src/dev/static_files.rs"
        );
    }

    #[test]
    fn paths_cannot_escape_the_directory() {
        let dir = Path::new("/srv/app");
        assert_eq!(safe_join(dir, "a/b.js"), Some(dir.join("a/b.js")));
        assert_eq!(safe_join(dir, "../etc/passwd"), None);
        assert_eq!(safe_join(dir, "a/../../x"), None);
        assert_eq!(safe_join(dir, "/etc/passwd"), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("styles.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }
}
