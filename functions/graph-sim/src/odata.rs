//! OData plumbing: request/response values shared by direct calls and `$batch` items, error bodies
//! (graph-brief §4.1), query options (`$top`, `$skiptoken`, `$filter`, `$select`, `$expand`, `$count`,
//! `$orderby`) and skip tokens.

use std::cmp::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    Beta,
}

impl Version {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1.0",
            Version::Beta => "beta",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Version> {
        match s {
            "v1.0" => Some(Version::V1),
            "beta" => Some(Version::Beta),
            _ => None,
        }
    }
}

/// One Graph request, from HTTP or from a `$batch` item.
#[derive(Debug)]
pub(crate) struct GraphReq {
    pub method: String,
    pub version: Version,
    /// Path after `/{version}/`, still percent-encoded, without a leading slash.
    pub raw_path: String,
    pub query: Vec<(String, String)>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// A body was sent but is not JSON.
    pub body_invalid: bool,
}

impl GraphReq {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn is_write(&self) -> bool {
        !self.method.eq_ignore_ascii_case("GET")
    }

    pub(crate) fn url_for_hash(&self) -> String {
        let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("/{}/{}?{}", self.version.as_str(), self.raw_path, q.join("&"))
    }
}

#[derive(Debug)]
pub(crate) struct GraphResp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl GraphResp {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        GraphResp {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        GraphResp {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn with_header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// Identifies the request in error bodies and headers.
#[derive(Clone, Debug)]
pub(crate) struct ReqIds {
    pub request_id: String,
    pub client_request_id: String,
}

pub(crate) fn inner_date() -> String {
    let t = crate::seed::graph_time(time::OffsetDateTime::now_utc());
    t[..19].to_string()
}

/// `{"error":{"code","message","innerError":{date, request-id, client-request-id}}}`.
pub(crate) fn error(ids: &ReqIds, status: u16, code: &str, message: &str) -> GraphResp {
    GraphResp::json(
        status,
        json!({"error": {"code": code, "message": message, "innerError": {
            "date": inner_date(), "request-id": ids.request_id, "client-request-id": ids.client_request_id}}}),
    )
}

pub(crate) fn bad_request(ids: &ReqIds, message: &str) -> GraphResp {
    error(ids, 400, "BadRequest", message)
}

pub(crate) fn throttled(ids: &ReqIds, retry_after: Option<String>) -> GraphResp {
    let resp = GraphResp::json(
        429,
        json!({"error": {"code": "TooManyRequests", "message": "Please retry again later.", "innerError": {
            "code": "429", "date": inner_date(), "message": "Please retry after", "request-id": ids.request_id,
            "client-request-id": ids.client_request_id, "status": "429"}}}),
    );
    match retry_after {
        Some(r) => resp.with_header("Retry-After", r),
        None => resp,
    }
}

pub(crate) fn server_error(ids: &ReqIds, status: u16, retry_after: Option<String>) -> GraphResp {
    let (code, message) = match status {
        502 => (
            "BadGateway",
            "The server, while acting as a gateway or proxy, received an invalid response.",
        ),
        503 => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        504 => (
            "GatewayTimeout",
            "The server, while acting as a proxy, did not receive a timely response.",
        ),
        _ => ("InternalServerError", "An internal server error occurred."),
    };
    let resp = error(ids, status, code, message);
    match retry_after {
        Some(r) => resp.with_header("Retry-After", r),
        None => resp,
    }
}

/// Intune's operation-id message tail (graph-brief §4.1).
pub(crate) fn intune_message(ids: &ReqIds, head: &str, path: &str) -> String {
    format!(
        "{head} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {} - Url: https://fef.msua06.manage.microsoft.com/DeviceConfiguration_2507/StatelessDeviceConfigurationFEService/{path}?api-version=5025-07-31 - CustomApiErrorPhrase: ",
        ids.request_id
    )
}

/// The 400 Intune answers for a verb/path its route table lacks.
pub(crate) fn no_route(ids: &ReqIds, template: &str, method: &str, path: &str) -> GraphResp {
    error(
        ids,
        400,
        "No method match route template",
        &format!(
            "No OData route exists that match template {template} with http verb {method} for request /DeviceConfiguration_2507/StatelessDeviceConfigurationFEService/{path}."
        ),
    )
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expand {
    pub name: String,
    pub nested: Vec<Expand>,
}

#[derive(Debug, Default)]
pub(crate) struct Query {
    pub top: Option<usize>,
    pub skip: usize,
    pub skip_token: Option<String>,
    pub filter: Option<Filter>,
    pub select: Option<Vec<String>>,
    pub expand: Vec<Expand>,
    pub count: bool,
    pub orderby: Option<(String, bool)>,
}

const OPTIONS: &[&str] = &[
    "top",
    "skip",
    "skiptoken",
    "filter",
    "select",
    "expand",
    "count",
    "orderby",
    "search",
    "format",
];

impl Query {
    /// Parses system query options. On beta the `$` is optional; on v1.0 a bare name is a custom parameter.
    pub(crate) fn parse(params: &[(String, String)], beta: bool) -> Result<Query, String> {
        let mut q = Query::default();
        for (k, v) in params {
            let name = match k.strip_prefix('$') {
                Some(n) => n.to_ascii_lowercase(),
                None if beta && OPTIONS.contains(&k.to_ascii_lowercase().as_str()) => k.to_ascii_lowercase(),
                None => continue,
            };
            match name.as_str() {
                "top" => {
                    q.top = Some(
                        v.trim()
                            .parse()
                            .map_err(|_| format!("Invalid value '{v}' for $top query option."))?,
                    )
                }
                "skip" => {
                    q.skip = v
                        .trim()
                        .parse()
                        .map_err(|_| format!("Invalid value '{v}' for $skip query option."))?
                }
                "skiptoken" => q.skip_token = Some(v.clone()),
                "filter" => q.filter = Some(Filter::parse(v)?),
                "select" => {
                    q.select = Some(
                        v.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                "expand" => q.expand = parse_expand(v)?,
                "count" => q.count = v.eq_ignore_ascii_case("true"),
                "orderby" => {
                    let mut it = v.split_whitespace();
                    let prop = it.next().unwrap_or_default().to_string();
                    let desc = it.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
                    q.orderby = Some((prop, desc));
                }
                "search" | "format" => {}
                other => return Err(format!("Query option '${other}' is not supported.")),
            }
        }
        Ok(q)
    }

    pub(crate) fn expands(&self, name: &str) -> Option<&Expand> {
        self.expand.iter().find(|e| e.name.eq_ignore_ascii_case(name))
    }
}

/// Splits on `sep` outside parentheses.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

pub(crate) fn parse_expand(v: &str) -> Result<Vec<Expand>, String> {
    let mut out = Vec::new();
    for item in split_top(v, ',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, inner) = match item.find('(') {
            Some(i) if item.ends_with(')') => (&item[..i], Some(&item[i + 1..item.len() - 1])),
            Some(_) => return Err(format!("Invalid $expand clause '{item}'.")),
            None => (item, None),
        };
        let mut nested = Vec::new();
        if let Some(inner) = inner {
            for opt in split_top(inner, ';') {
                if let Some((k, val)) = opt.split_once('=')
                    && k.trim().trim_start_matches('$').eq_ignore_ascii_case("expand")
                {
                    nested.extend(parse_expand(val)?);
                }
            }
        }
        out.push(Expand {
            name: name.trim().to_string(),
            nested,
        });
    }
    Ok(out)
}

/// A small `$filter` subset: comparisons, `startswith`/`endswith`/`contains`, `and`, `or`, `not`, parentheses.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Filter {
    Cmp(String, CmpOp, Value),
    Func(String, String, String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Lit(Value),
    LParen,
    RParen,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("Unterminated string literal in $filter.".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            v.push(*c);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Lit(Value::String(v)));
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '\t' | '(' | ')' | ',' | '\'') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let tok = match word.as_str() {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "null" => Tok::Lit(Value::Null),
                    w if w.starts_with(|c: char| c.is_ascii_digit() || c == '-') && w.parse::<f64>().is_ok() => {
                        Tok::Lit(serde_json::from_str(w).unwrap_or(Value::Null))
                    }
                    _ => Tok::Ident(word),
                };
                out.push(tok);
            }
        }
    }
    Ok(out)
}

struct FilterParser {
    toks: Vec<Tok>,
    pos: usize,
}

impl FilterParser {
    fn peek_ident(&self, word: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, t: Tok) -> Result<(), String> {
        if self.next() == Some(t.clone()) {
            Ok(())
        } else {
            Err(format!("Invalid filter clause: expected {t:?}."))
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_ident("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.primary()?;
        while self.peek_ident("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Tok::LParen) => {
                let f = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(f)
            }
            Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("not") => Ok(Filter::Not(Box::new(self.primary()?))),
            Some(Tok::Ident(w))
                if ["startswith", "endswith", "contains"]
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(&w))
                    && self.toks.get(self.pos) == Some(&Tok::LParen) =>
            {
                self.pos += 1;
                let Some(Tok::Ident(prop)) = self.next() else {
                    return Err("Invalid filter clause.".into());
                };
                self.expect(Tok::Comma)?;
                let Some(Tok::Lit(Value::String(lit))) = self.next() else {
                    return Err("Invalid filter clause: string literal expected.".into());
                };
                self.expect(Tok::RParen)?;
                Ok(Filter::Func(w.to_ascii_lowercase(), prop, lit))
            }
            Some(Tok::Ident(prop)) => {
                let Some(Tok::Ident(op)) = self.next() else {
                    return Err("Invalid filter clause.".into());
                };
                let op = match op.to_ascii_lowercase().as_str() {
                    "eq" => CmpOp::Eq,
                    "ne" => CmpOp::Ne,
                    "gt" => CmpOp::Gt,
                    "ge" => CmpOp::Ge,
                    "lt" => CmpOp::Lt,
                    "le" => CmpOp::Le,
                    other => return Err(format!("Invalid filter clause: unsupported operator '{other}'.")),
                };
                match self.next() {
                    Some(Tok::Lit(v)) => Ok(Filter::Cmp(prop, op, v)),
                    // Unquoted GUIDs and enum members.
                    Some(Tok::Ident(v)) => Ok(Filter::Cmp(prop, op, Value::String(v))),
                    _ => Err("Invalid filter clause: literal expected.".into()),
                }
            }
            _ => Err("Invalid filter clause.".into()),
        }
    }
}

impl Filter {
    pub(crate) fn parse(s: &str) -> Result<Filter, String> {
        let mut p = FilterParser {
            toks: tokenize(s)?,
            pos: 0,
        };
        let f = p.or()?;
        if p.pos != p.toks.len() {
            return Err("Invalid filter clause: unexpected trailing tokens.".into());
        }
        Ok(f)
    }

    pub(crate) fn matches(&self, obj: &Map<String, Value>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(obj) && b.matches(obj),
            Filter::Or(a, b) => a.matches(obj) || b.matches(obj),
            Filter::Not(a) => !a.matches(obj),
            Filter::Func(f, prop, lit) => {
                let Some(v) = lookup(obj, prop).and_then(Value::as_str) else {
                    return false;
                };
                let (v, lit) = (v.to_lowercase(), lit.to_lowercase());
                match f.as_str() {
                    "startswith" => v.starts_with(&lit),
                    "endswith" => v.ends_with(&lit),
                    _ => v.contains(&lit),
                }
            }
            Filter::Cmp(prop, op, lit) => {
                let v = lookup(obj, prop).unwrap_or(&Value::Null);
                let ord = compare(v, lit);
                match op {
                    CmpOp::Eq => ord == Some(Ordering::Equal),
                    CmpOp::Ne => ord != Some(Ordering::Equal),
                    CmpOp::Gt => ord == Some(Ordering::Greater),
                    CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                    CmpOp::Lt => ord == Some(Ordering::Less),
                    CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                }
            }
        }
    }
}

fn lookup<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('/');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

/// An ISO 8601 timestamp with offset (`2026-12-05T10:00:00.1234567Z`), cheaply ruled out otherwise.
fn datetime(s: &str) -> Option<time::OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// Strings compare case-insensitively, as Graph's `eq` does for display names; timestamps as instants.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => match (datetime(x), datetime(y)) {
            // DateTimeOffset compares as an instant: `…00Z` and `…00.0000001Z` differ in length.
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        },
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::Number(x), Value::String(y)) | (Value::String(y), Value::Number(x)) => {
            x.as_f64()?.partial_cmp(&y.parse::<f64>().ok()?)
        }
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

/// Characters kept literal in query values of generated links.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'(')
    .remove(b')')
    .remove(b',')
    .remove(b'\'')
    .remove(b'=')
    .remove(b'/')
    .remove(b':');

pub(crate) fn encode_query(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY_VALUE),
                utf8_percent_encode(v, QUERY_VALUE)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Opaque skip tokens: offset plus a "dead" flag for the truncated-paging fault.
pub(crate) fn skip_token(offset: usize, dead: bool, cosmos: bool) -> String {
    let raw = B64URL.encode(format!("o={offset};d={}", u8::from(dead)));
    if cosmos { format!("[cosmosdb]{raw}") } else { raw }
}

pub(crate) enum Token {
    Offset(usize),
    Dead,
    Invalid,
}

pub(crate) fn parse_skip_token(t: &str) -> Token {
    let t = t.strip_prefix("[cosmosdb]").unwrap_or(t);
    let Some(s) = B64URL.decode(t).ok().and_then(|b| String::from_utf8(b).ok()) else {
        return Token::Invalid;
    };
    let mut offset = None;
    let mut dead = false;
    for part in s.split(';') {
        match part.split_once('=') {
            Some(("o", v)) => offset = v.parse().ok(),
            Some(("d", v)) => dead = v == "1",
            _ => {}
        }
    }
    match (offset, dead) {
        (_, true) => Token::Dead,
        (Some(o), false) => Token::Offset(o),
        (None, false) => Token::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let obj = json!({"displayName": "SG-Intune-Pilot", "isBuiltIn": false, "version": 3,
                         "at": "2026-12-05T10:00:00.5000000Z"})
        .as_object()
        .cloned()
        .unwrap();
        for (f, want) in [
            ("displayName eq 'sg-intune-pilot'", true),
            ("isBuiltIn eq false", true),
            ("isBuiltIn eq true", false),
            ("version gt 2 and startswith(displayName,'SG-')", true),
            ("not (version ge 3) or displayName eq 'x'", false),
            ("displayName eq 'O''Brien'", false),
            ("at gt 2026-12-05T10:00:00Z", true),
            ("at gt 2026-12-05T10:00:00.5000001Z", false),
            ("at ge 2026-12-05T10:00:00.5Z", true),
        ] {
            assert_eq!(Filter::parse(f).unwrap().matches(&obj), want, "{f}");
        }
        assert!(Filter::parse("displayName eq").is_err());
    }

    #[test]
    fn expand_nested() {
        let e = parse_expand("scheduledActionsForRule($expand=scheduledActionConfigurations),assignments").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].nested[0].name, "scheduledActionConfigurations");
    }

    #[test]
    fn skip_tokens_round_trip() {
        assert!(matches!(
            parse_skip_token(&skip_token(25, false, true)),
            Token::Offset(25)
        ));
        assert!(matches!(parse_skip_token(&skip_token(25, true, false)), Token::Dead));
        assert!(matches!(parse_skip_token("garbage!"), Token::Invalid));
    }
}
