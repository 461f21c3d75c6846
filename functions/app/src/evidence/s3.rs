//! The four S3 calls evidence packs need — PutObject (SSE-KMS, Object Lock), GetObject,
//! DeleteObject and a presigned GET — signed with `aws-sigv4` and sent with `reqwest`, instead
//! of `aws-sdk-s3` (ADR 0032: its compile time for three calls).
//!
//! Object keys are `<prefix><ws>/<pack>.zip`; workspace and pack ids are `[A-Za-z0-9_-]`, so a
//! key needs no percent-encoding (checked, not assumed).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{ServiceError, ServiceResult};

/// Where the bucket is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addressing {
    /// `<endpoint>/<bucket>/<key>`: a protocol server (tests), or any custom endpoint.
    Path { endpoint: String },
    /// `https://<bucket>.s3.<region>.amazonaws.com/<key>`: AWS.
    VirtualHost,
}

pub struct S3Store {
    http: reqwest::Client,
    pub bucket: String,
    pub prefix: String,
    region: String,
    addressing: Addressing,
    /// The KMS key objects are encrypted with (SSE-KMS); `None` leaves the bucket's default.
    sse_kms_key_id: Option<String>,
    credentials: SharedCredentialsProvider,
}

/// What a put returned: the object's version (the bucket is versioned under Object Lock).
#[derive(Debug, Clone, Default)]
pub struct Put {
    pub version_id: Option<String>,
}

fn err(what: &str, e: impl std::fmt::Display) -> ServiceError {
    // A network error or 5xx is worth the step's retry; the message names the call.
    ServiceError::Transient(format!("evidence storage (S3 {what}): {e}").into())
}

impl S3Store {
    pub fn new(
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        region: impl Into<String>,
        addressing: Addressing,
        sse_kms_key_id: Option<String>,
        credentials: SharedCredentialsProvider,
    ) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            bucket: bucket.into(),
            prefix: prefix.into(),
            region: region.into(),
            addressing,
            sse_kms_key_id,
            credentials,
        }
    }

    /// `<prefix><ws>/<pack>.zip`.
    pub fn key(&self, ws: &str, pack: &str) -> ServiceResult<String> {
        let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok(ws) || !ok(pack) {
            return Err(ServiceError::Permanent(format!("not an object key part: {ws}/{pack}")));
        }
        Ok(format!("{}{ws}/{pack}.zip", self.prefix))
    }

    fn url(&self, key: &str) -> String {
        match &self.addressing {
            Addressing::Path { endpoint } => format!("{}/{}/{key}", endpoint.trim_end_matches('/'), self.bucket),
            Addressing::VirtualHost => format!("https://{}.s3.{}.amazonaws.com/{key}", self.bucket, self.region),
        }
    }

    fn bucket_url(&self) -> String {
        match &self.addressing {
            Addressing::Path { endpoint } => format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket),
            Addressing::VirtualHost => format!("https://{}.s3.{}.amazonaws.com/", self.bucket, self.region),
        }
    }

    async fn identity(&self) -> ServiceResult<Identity> {
        let c: Credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| err("credentials", e))?;
        Ok(c.into())
    }

    /// Signs `method url` with `headers` (all of them signed) and the body's SHA-256 as
    /// `x-amz-content-sha256`; returns the headers to send, signature included.
    async fn signed_headers(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
        now: SystemTime,
    ) -> ServiceResult<Vec<(String, String)>> {
        let identity = self.identity().await?;
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| err("signing", e))?
            .into();
        let req = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| err("signing", e))?;
        let (instructions, _) = sign(req, &params).map_err(|e| err("signing", e))?.into_parts();
        let mut out = headers.to_vec();
        for (k, v) in instructions.headers() {
            out.push((k.to_owned(), v.to_owned()));
        }
        Ok(out)
    }

    async fn send(
        &self,
        what: &str,
        method: reqwest::Method,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> ServiceResult<reqwest::Response> {
        let signed = self
            .signed_headers(method.as_str(), url, &headers, &body, SystemTime::now())
            .await?;
        let mut req = self.http.request(method, url);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let res = req.body(body).send().await.map_err(|e| err(what, e))?;
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let text = res.text().await.unwrap_or_default();
        let code = xml_tag(&text, "Code").unwrap_or_default();
        let msg = format!("{status} {code}: {}", xml_tag(&text, "Message").unwrap_or_default());
        if status.is_server_error() || status.as_u16() == 429 || code == "SlowDown" {
            Err(err(what, msg))
        } else if status.as_u16() == 404 && (code == "NoSuchKey" || code == "NoSuchVersion" || code.is_empty()) {
            // The object (HEAD answers without a body); a missing bucket is a permanent error.
            Err(ServiceError::NotFound)
        } else {
            Err(ServiceError::Permanent(format!("evidence storage (S3 {what}): {msg}")))
        }
    }

    /// PutObject: SSE-KMS, Object Lock in compliance mode until `retain_until_ms`, and the body's
    /// SHA-256 as its checksum (S3 requires a checksum or Content-MD5 on an Object Lock put).
    pub async fn put(&self, key: &str, bytes: Vec<u8>, retain_until_ms: i64) -> ServiceResult<Put> {
        let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        let mut headers = vec![
            ("content-type".to_owned(), "application/zip".to_owned()),
            ("content-length".to_owned(), bytes.len().to_string()),
            ("x-amz-sdk-checksum-algorithm".to_owned(), "SHA256".to_owned()),
            ("x-amz-checksum-sha256".to_owned(), sha),
            ("x-amz-server-side-encryption".to_owned(), "aws:kms".to_owned()),
            ("x-amz-object-lock-mode".to_owned(), "COMPLIANCE".to_owned()),
            (
                "x-amz-object-lock-retain-until-date".to_owned(),
                chrono::DateTime::from_timestamp_millis(retain_until_ms)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
            ),
        ];
        if let Some(k) = &self.sse_kms_key_id {
            headers.push(("x-amz-server-side-encryption-aws-kms-key-id".to_owned(), k.clone()));
        }
        let url = self.url(key);
        let res = self
            .send("PutObject", reqwest::Method::PUT, &url, headers, bytes)
            .await?;
        Ok(Put {
            version_id: res
                .headers()
                .get("x-amz-version-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }

    /// GetObject: the object's bytes, or `NotFound`.
    pub async fn get(&self, key: &str) -> ServiceResult<Vec<u8>> {
        let url = self.url(key);
        let res = self
            .send("GetObject", reqwest::Method::GET, &url, Vec::new(), Vec::new())
            .await?;
        Ok(res.bytes().await.map_err(|e| err("GetObject", e))?.to_vec())
    }

    /// The object's response headers (HeadObject), or `NotFound`.
    pub async fn head(&self, key: &str) -> ServiceResult<reqwest::header::HeaderMap> {
        let url = self.url(key);
        let res = self
            .send("HeadObject", reqwest::Method::HEAD, &url, Vec::new(), Vec::new())
            .await?;
        Ok(res.headers().clone())
    }

    /// DeleteObject of one version (or, without one, a delete marker). Object Lock refuses a
    /// version before its retention date: that is a `Permanent` error the sweep logs and retries.
    pub async fn delete(&self, key: &str, version_id: Option<&str>) -> ServiceResult<()> {
        let url = match version_id {
            Some(v) => format!("{}?versionId={}", self.url(key), enc(v)),
            None => self.url(key),
        };
        match self
            .send("DeleteObject", reqwest::Method::DELETE, &url, Vec::new(), Vec::new())
            .await
        {
            Ok(_) | Err(ServiceError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A GET of the object presigned for `ttl` (query-string SigV4, `UNSIGNED-PAYLOAD`). With
    /// `filename`, S3 answers `Content-Disposition: attachment; filename="<filename>"` and
    /// `Content-Type: application/zip` (signed `response-*` parameters).
    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        now: SystemTime,
        filename: Option<&str>,
    ) -> ServiceResult<String> {
        let identity = self.identity().await?;
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(ttl);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| err("presigning", e))?
            .into();
        let mut url = self.url(key);
        let mut first = true;
        if let Some(name) = filename {
            url.push_str(&format!(
                "?response-content-disposition={}&response-content-type={}",
                enc(&format!("attachment; filename=\"{name}\"")),
                enc("application/zip")
            ));
            first = false;
        }
        let req = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::UnsignedPayload)
            .map_err(|e| err("presigning", e))?;
        let (instructions, _) = sign(req, &params).map_err(|e| err("presigning", e))?.into_parts();
        let mut out = url;
        for (k, v) in instructions.params() {
            out.push(if first { '?' } else { '&' });
            first = false;
            out.push_str(&enc(k));
            out.push('=');
            out.push_str(&enc(v));
        }
        Ok(out)
    }

    /// Creates the bucket with Object Lock (and so versioning) when it does not exist: what the
    /// template does in AWS, for a protocol server.
    pub async fn ensure_bucket(&self) -> ServiceResult<()> {
        let headers = vec![("x-amz-bucket-object-lock-enabled".to_owned(), "true".to_owned())];
        let url = self.bucket_url();
        match self
            .send("CreateBucket", reqwest::Method::PUT, &url, headers, Vec::new())
            .await
        {
            Ok(_) => Ok(()),
            Err(ServiceError::Permanent(m)) if m.contains("BucketAlreadyOwnedByYou") || m.contains("409") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// RFC 3986 unreserved characters kept, everything else percent-encoded (what SigV4 expects).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented presigned-URL example ("Authenticating Requests: Using Query Parameters",
    /// Signature Version 4): the same credentials, time and object give the same signature.
    #[tokio::test]
    async fn the_presigned_url_matches_the_aws_documented_example() {
        let creds = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "example",
        );
        let s3 = S3Store::new(
            "examplebucket",
            "",
            "us-east-1",
            Addressing::Path {
                endpoint: "https://examplebucket.s3.amazonaws.com".into(),
            },
            None,
            SharedCredentialsProvider::new(creds),
        );
        // The example addresses the object virtual-host style: the URL is built by hand here.
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24T00:00:00Z
        let url = "https://examplebucket.s3.amazonaws.com/test.txt";
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(86_400));
        let identity = s3.identity().await.unwrap();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(at)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let req = SignableRequest::new("GET", url, std::iter::empty(), SignableBody::UnsignedPayload).unwrap();
        let (instructions, _) = sign(req, &params).unwrap().into_parts();
        let sig = instructions
            .params()
            .iter()
            .find(|(k, _)| *k == "X-Amz-Signature")
            .map(|(_, v)| v.to_string());
        assert_eq!(
            sig.as_deref(),
            Some("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        );
        // And ours: the same parameters, encoded into the URL.
        let ours = s3
            .presign_get("test.txt", Duration::from_secs(86_400), at, None)
            .await
            .unwrap();
        assert!(ours.starts_with("https://examplebucket.s3.amazonaws.com/examplebucket/test.txt?"));
        assert!(ours.contains("X-Amz-Expires=86400"), "{ours}");
        assert!(
            ours.contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"),
            "{ours}"
        );
    }

    #[test]
    fn keys_are_checked() {
        let s3 = S3Store::new(
            "b",
            "evidence/",
            "us-east-1",
            Addressing::VirtualHost,
            None,
            SharedCredentialsProvider::new(Credentials::new("a", "b", None, None, "t")),
        );
        assert_eq!(s3.key("ws-demo", "01ABC").unwrap(), "evidence/ws-demo/01ABC.zip");
        assert!(s3.key("ws/../x", "p").is_err());
        assert_eq!(
            s3.url("evidence/ws-demo/01ABC.zip"),
            "https://b.s3.us-east-1.amazonaws.com/evidence/ws-demo/01ABC.zip"
        );
    }
}
