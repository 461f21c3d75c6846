//! `cargo xtask token`: a bearer token for a demo user, from the local issuer of a running
//! `cargo xtask up`. Plain HTTP/1.1 over a `TcpStream`: the server is on loopback and the xtask
//! has no dependencies.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const DEMO_GRANT: &str = "urn:tenantatlas:params:oauth:grant-type:demo-user";

/// The access token for the demo user `email` from the server at `base_url`
/// (e.g. `http://127.0.0.1:8080`).
pub fn token(email: &str, base_url: &str) -> Result<String, String> {
    let base_url = base_url.trim_end_matches('/');
    let base = Base::parse(base_url)?;
    let url = format!("{base_url}/oidc/token");
    let body = format!("grant_type={}&email={}", form_encode(DEMO_GRANT), form_encode(email));
    let request = format!(
        "POST {}/oidc/token HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Accept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        base.path,
        base.authority,
        body.len()
    );
    let not_running = || format!("no TenantAtlas server answers at {base_url}: start it with `cargo xtask up`");
    let addrs = (base.host.as_str(), base.port)
        .to_socket_addrs()
        .map_err(|e| format!("{base_url}: {e}"))?;
    let mut stream = addrs
        .into_iter()
        .find_map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).ok())
        .ok_or_else(not_running)?;
    let io = |e: std::io::Error| format!("{url}: {e}");
    stream.set_read_timeout(Some(Duration::from_secs(15))).map_err(io)?;
    stream.set_write_timeout(Some(Duration::from_secs(15))).map_err(io)?;
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    let (status, body) = parse_response(&raw).ok_or_else(|| format!("{url}: not an HTTP response"))?;
    match status {
        200 => json_string(&body, "access_token").ok_or_else(|| format!("{url}: no access_token in {body}")),
        400 => {
            let error = json_string(&body, "error").unwrap_or_default();
            let detail = json_string(&body, "error_description").unwrap_or_else(|| body.clone());
            if error == "invalid_grant" {
                // The issuer's description names the demo users.
                Err(detail)
            } else {
                Err(format!("{url} refused the request ({error}): {detail}"))
            }
        }
        404 => Err(format!(
            "{url} answered 404: the server at {base_url} has no local sign-in (only `cargo xtask up` serves one)"
        )),
        other => Err(format!("{url} answered {other}: {}", snippet(&body))),
    }
}

struct Base {
    host: String,
    port: u16,
    /// `host:port` as given, for the `Host` header.
    authority: String,
    /// Without a trailing slash; empty at the root.
    path: String,
}

impl Base {
    fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("{url}: the local server is plain http on loopback; give a base URL such as http://127.0.0.1:8080")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url}: unclosed [ in the host"))?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("{url}: {p:?} is not a port"))?,
            None => 80,
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }
}

/// `application/x-www-form-urlencoded` value encoding.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The status code and body of an HTTP/1.1 response read to its end.
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = &raw[split + 4..];
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body.windows(2).position(|w| w == b"\r\n")?;
        let size_line = std::str::from_utf8(&body[..eol]).ok()?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        body = &body[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// The string value of `"key"` in a flat JSON object: enough for the issuer's answers.
fn json_string(json: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let mut rest = &json[json.find(&needle)? + needle.len()..];
    rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?).unwrap_or('\u{fffd}'));
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn snippet(body: &str) -> &str {
    let end = body.char_indices().nth(200).map_or(body.len(), |(i, _)| i);
    &body[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn base_urls_parse() {
        let b = Base::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((b.host.as_str(), b.port, b.path.as_str()), ("127.0.0.1", 8080, ""));
        let b = Base::parse("http://[::1]:9000/app/").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.authority.as_str(), b.path.as_str()),
            ("::1", 9000, "[::1]:9000", "/app")
        );
        assert_eq!(Base::parse("http://localhost").unwrap().port, 80);
        assert!(Base::parse("https://127.0.0.1:8080").is_err());
        assert!(Base::parse("http://h:port").is_err());
    }

    #[test]
    fn values_are_form_encoded() {
        assert_eq!(form_encode("a+b@c.test x:y"), "a%2Bb%40c.test+x%3Ay");
    }

    #[test]
    fn json_strings_are_found_and_unescaped() {
        let j = r#"{"error": "invalid_grant", "error_description":"say \"hi\" \u00e9\\n"}"#;
        assert_eq!(json_string(j, "error").as_deref(), Some("invalid_grant"));
        assert_eq!(json_string(j, "error_description").as_deref(), Some("say \"hi\" é\\n"));
        assert_eq!(json_string(j, "missing"), None);
    }

    #[test]
    fn chunked_responses_are_joined() {
        let raw =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n6;x=1\r\n:\"b\"}\n\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw), Some((200, "{\"a\":\"b\"}\n".to_owned())));
    }

    /// Serves one canned answer and hands back the request it got.
    fn one_shot(answer: &'static str) -> (String, thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // The client's request ends with its form body, which ends with the email.
            while !request.ends_with(b".test") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            s.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (base, handle)
    }

    #[test]
    fn posts_the_demo_grant_and_returns_the_access_token() {
        let body = r#"{"access_token":"aaa.bbb.ccc","token_type":"Bearer","expires_in":3600}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (base, server) = one_shot(answer);
        assert_eq!(token("owner@demo.test", &base).unwrap(), "aaa.bbb.ccc");
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /oidc/token HTTP/1.1\r\n"), "{request}");
        assert!(request.ends_with(
            "grant_type=urn%3Atenantatlas%3Aparams%3Aoauth%3Agrant-type%3Ademo-user&email=owner%40demo.test"
        ));
    }

    #[test]
    fn an_unknown_user_is_told_the_demo_users() {
        let (base, server) = one_shot(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n\
             {\"error\":\"invalid_grant\",\"error_description\":\"x@y.test is not a demo user; the demo users are owner@demo.test\"}",
        );
        let err = token("x@y.test", &base).unwrap_err();
        server.join().unwrap();
        assert!(err.contains("owner@demo.test"), "{err}");
    }

    #[test]
    fn no_server_says_how_to_start_one() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = token("owner@demo.test", &format!("http://127.0.0.1:{port}")).unwrap_err();
        assert!(err.contains("cargo xtask up"), "{err}");
    }
}
