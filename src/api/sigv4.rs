//! AWS Signature Version 4, header form (`Authorization: AWS4-HMAC-SHA256 ...`): verifying
//! what botocore and the AWS CLI (and the other SDKs, which follow the same rules) send to a
//! non-S3 restJson1 service, and signing requests the same way for the project's own clients.
//!
//! The canonical request is rebuilt exactly as botocore builds it for non-S3 services:
//! - URI: the path *as received* (still percent-encoded), dot segments and empty segments
//!   removed, then percent-encoded again with only unreserved characters and `/` left alone.
//!   The double encoding is deliberate: botocore signs the encoded path it sends, so a
//!   `tags/{arn}` label that went out as `arn%3Aaws%3A...` is signed as `arn%253Aaws%253A...`.
//! - query: every key and value percent-decoded and strictly re-encoded, sorted by the encoded
//!   key then the encoded value, `k=` for an empty value.
//! - headers: exactly the client's `SignedHeaders`, values trimmed with inner whitespace runs
//!   collapsed, repeated headers joined with `,`.
//! - payload: the hex SHA-256 of the body. Unsigned payloads are refused: a present
//!   `x-amz-content-sha256` must equal the body's hash.
//!
//! Invariants:
//! - a request is accepted only if its signature was made with the secret of the access key it
//!   names, over this request's method, path, query, signed headers and body, at a time within
//!   `max_skew` of `now`; `host` and the date header are always among the signed headers;
//! - the signature is compared in constant time;
//! - error messages never contain secrets or signatures; the only client text they repeat is
//!   dates, header names and the scope's region. They follow AWS's wording so SDK users
//!   recognise them.
//!
//! Pure logic: the clock and the key store are arguments.

use std::borrow::Cow;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm AWS's SigV4 header form names.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The fixed last element of a credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";
/// `x-amz-date` layout: ISO 8601 basic format in UTC.
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The clock skew AWS tolerates between a request's date and the server's clock.
pub const MAX_SKEW_DEFAULT: Duration = Duration::minutes(15);

/// RFC 3986 unreserved characters stay literal; everything else is `%XX` (uppercase hex).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// botocore's `quote(path, safe='/~')`: unreserved plus the path separator.
const PATH_SAFE: &AsciiSet = &UNRESERVED.remove(b'/');

/// A request as it arrived, before anything decoded or rewrote it.
///
/// Header names are matched case-insensitively; a header sent several times appears once per
/// value, in the order received (axum: iterate the `HeaderMap`, which keeps that order per
/// name; use `OriginalUri` under a nested router so `raw_path` is the path the client signed).
#[derive(Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method, e.g. `PUT`.
    pub method: &'a str,
    /// The path exactly as received, still percent-encoded.
    pub raw_path: &'a str,
    /// The query string after `?`, still percent-encoded; `None` when there was no `?`.
    pub raw_query: Option<&'a str>,
    /// Every header, as (name, value) pairs.
    pub headers: &'a [(String, String)],
    /// The complete body.
    pub body: &'a [u8],
}

/// Who signed an accepted request, and the scope they signed it for.
///
/// The scope is whatever the client used; callers that serve one region or service compare it
/// with [`VerifiedCaller::check_scope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCaller {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// The region from the credential scope, e.g. `us-east-1`.
    pub region: String,
    /// The signing name from the credential scope, e.g. `connect-campaigns`.
    pub service: String,
}

/// Credentials and scope for [`sign`].
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id placed in the credential scope.
    pub access_key_id: &'a str,
    /// The secret the signature is keyed with.
    pub secret_access_key: &'a str,
    /// Region for the credential scope.
    pub region: &'a str,
    /// Signing name for the credential scope, e.g. `connect-campaigns`.
    pub service: &'a str,
    /// The signing time; becomes `x-amz-date`.
    pub now: DateTime<Utc>,
}

/// Why a request's signature was not accepted. Every variant answers HTTP 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header at all.
    #[error("Missing Authentication Token")]
    MissingAuthorization,
    /// The `Authorization` header is not a well-formed SigV4 header; the text says which part.
    #[error("{0}")]
    MalformedAuthorization(&'static str),
    /// The `Authorization` header names a scheme other than `AWS4-HMAC-SHA256`. The scheme is
    /// not echoed: a client that sent a bare token would otherwise see it logged.
    #[error("Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is supported.")]
    UnsupportedAlgorithm,
    /// Neither `x-amz-date` nor `date` is present.
    #[error(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )]
    MissingDate,
    /// The date header is not ISO 8601 basic format (or, for `date`, RFC 1123).
    #[error("Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z').")]
    MalformedDate,
    /// `host` or the date header is missing from `SignedHeaders`.
    #[error("'{0}' must be a 'SignedHeader' in the AWS Authorization.")]
    UnsignedRequiredHeader(&'static str),
    /// A header named in `SignedHeaders` is not in the request.
    #[error("Header '{0}' is listed in SignedHeaders but is not present in the request.")]
    MissingSignedHeader(String),
    /// The credential scope's date is not the request's date.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '{scope_date}' != '{request_date}', from '{request_time}'."
    )]
    ScopeDateMismatch {
        /// `YYYYMMDD` from the credential scope.
        scope_date: String,
        /// `YYYYMMDD` of the request's date header.
        request_date: String,
        /// The request's date, ISO 8601 basic.
        request_time: String,
    },
    /// The access key id is not known.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// `x-amz-content-sha256` is present but is not the body's hash (or is `UNSIGNED-PAYLOAD`).
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHashMismatch,
    /// The signature is not the one the named key makes over this request.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check \
         your AWS Secret Access Key and signing method. Consult the service documentation for \
         details."
    )]
    SignatureMismatch,
    /// The request's date is more than the allowed skew before now.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - {skew}.)")]
    Expired {
        /// The request's date, ISO 8601 basic.
        request_time: String,
        /// The earliest date accepted now.
        earliest: String,
        /// The server's clock.
        now: String,
        /// The allowed skew, e.g. `15 min`.
        skew: String,
    },
    /// The request's date is more than the allowed skew after now.
    #[error(
        "Signature not yet current: {request_time} is still later than {latest} ({now} + {skew}.)"
    )]
    NotYetCurrent {
        /// The request's date, ISO 8601 basic.
        request_time: String,
        /// The latest date accepted now.
        latest: String,
        /// The server's clock.
        now: String,
        /// The allowed skew, e.g. `15 min`.
        skew: String,
    },
    /// The credential scope names another service than the endpoint's (named here).
    #[error("Credential should be scoped to correct service: '{0}'. ")]
    WrongService(String),
    /// The credential scope names another region than the endpoint's; the scope's is named.
    #[error("Credential should be scoped to a valid region, not '{0}'. ")]
    WrongRegion(String),
}

impl SigV4Error {
    /// The exception name AWS front ends send in `x-amzn-ErrorType` for this failure.
    pub fn error_type(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthorization => "MissingAuthenticationTokenException",
            SigV4Error::MalformedAuthorization(_)
            | SigV4Error::UnsupportedAlgorithm
            | SigV4Error::MissingDate
            | SigV4Error::MalformedDate
            | SigV4Error::UnsignedRequiredHeader(_)
            | SigV4Error::ScopeDateMismatch { .. } => "IncompleteSignatureException",
            SigV4Error::UnknownAccessKey => "UnrecognizedClientException",
            SigV4Error::MissingSignedHeader(_)
            | SigV4Error::PayloadHashMismatch
            | SigV4Error::SignatureMismatch
            | SigV4Error::Expired { .. }
            | SigV4Error::NotYetCurrent { .. }
            | SigV4Error::WrongService(_)
            | SigV4Error::WrongRegion(_) => "InvalidSignatureException",
        }
    }
}

impl VerifiedCaller {
    /// Checks that the request was signed for this endpoint's `service` and `region`: a
    /// signature is only valid in the scope it names, as at AWS.
    pub fn check_scope(&self, region: &str, service: &str) -> Result<(), SigV4Error> {
        if self.service != service {
            return Err(SigV4Error::WrongService(service.to_owned()));
        }
        if self.region != region {
            return Err(SigV4Error::WrongRegion(self.region.clone()));
        }
        Ok(())
    }
}

/// The headers of an HTTP request as [`SignedRequest::headers`] wants them: every value, in
/// the order received; a value that is not visible ASCII cannot have been signed and is
/// left out.
pub fn header_pairs(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect()
}

/// Checks a request's SigV4 `Authorization` header.
///
/// `lookup` maps an access key id to its secret; it is called at most once. `max_skew` is the
/// largest accepted distance between the request's date and `now`, inclusive
/// ([`MAX_SKEW_DEFAULT`] is what AWS uses).
pub fn verify<S: AsRef<str>>(
    req: &SignedRequest<'_>,
    now: DateTime<Utc>,
    max_skew: Duration,
    lookup: impl FnOnce(&str) -> Option<S>,
) -> Result<VerifiedCaller, SigV4Error> {
    let authorization = match single_header(req.headers, "authorization") {
        Single::Absent => return Err(SigV4Error::MissingAuthorization),
        Single::Repeated => {
            return Err(SigV4Error::MalformedAuthorization(
                "Only one Authorization header may be sent.",
            ))
        }
        Single::One(value) => parse_authorization(value)?,
    };

    let (date_header, request_time) = request_date(req.headers)?;
    let timestamp = request_time.format(AMZ_DATE_FORMAT).to_string();
    if !authorization.signed_headers.contains(&"host") {
        return Err(SigV4Error::UnsignedRequiredHeader("Host"));
    }
    if !authorization.signed_headers.contains(&date_header.name) {
        return Err(SigV4Error::UnsignedRequiredHeader(date_header.display));
    }
    let request_date = timestamp.get(..8).unwrap_or_default();
    if authorization.scope.date != request_date {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: authorization.scope.date.to_owned(),
            request_date: request_date.to_owned(),
            request_time: timestamp,
        });
    }

    let secret = lookup(authorization.access_key_id).ok_or(SigV4Error::UnknownAccessKey)?;
    check_skew(request_time, now, max_skew)?;

    let payload_hash = hex::encode(Sha256::digest(req.body));
    match single_header(req.headers, "x-amz-content-sha256") {
        Single::Absent => {}
        Single::One(claimed) if claimed == payload_hash => {}
        Single::One(_) | Single::Repeated => return Err(SigV4Error::PayloadHashMismatch),
    }

    let string_to_sign = string_to_sign(
        req,
        &authorization.signed_headers,
        &timestamp,
        &authorization.scope,
        &payload_hash,
    )?;
    let mut mac = signing_mac(secret.as_ref(), &authorization.scope);
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&authorization.signature)
        .map_err(|_| SigV4Error::SignatureMismatch)?;

    Ok(VerifiedCaller {
        access_key_id: authorization.access_key_id.to_owned(),
        region: authorization.scope.region.to_owned(),
        service: authorization.scope.service.to_owned(),
    })
}

/// Signs a request in place: replaces any `x-amz-date` and `authorization` headers with fresh
/// ones, signing `host`, `x-amz-date` and, when present, `content-type`.
///
/// `headers` must contain `host` (HTTP clients add it on the wire, but it has to be signed);
/// without it this returns [`SigV4Error::MissingSignedHeader`]. The result is exactly what
/// [`verify`] accepts.
pub fn sign(
    method: &str,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &mut Vec<(String, String)>,
    body: &[u8],
    params: &SigningParams<'_>,
) -> Result<(), SigV4Error> {
    headers.retain(|(name, _)| {
        !name.eq_ignore_ascii_case("authorization") && !name.eq_ignore_ascii_case("x-amz-date")
    });
    let timestamp = params.now.format(AMZ_DATE_FORMAT).to_string();
    headers.push(("x-amz-date".to_owned(), timestamp.clone()));

    let has_content_type = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    // Sorted, as the canonical request requires.
    let signed_headers: &[&str] = if has_content_type {
        &["content-type", "host", "x-amz-date"]
    } else {
        &["host", "x-amz-date"]
    };
    let scope = Scope {
        date: timestamp.get(..8).unwrap_or_default(),
        region: params.region,
        service: params.service,
    };
    let request = SignedRequest {
        method,
        raw_path,
        raw_query,
        headers,
        body,
    };
    let payload_hash = hex::encode(Sha256::digest(body));
    let string_to_sign =
        string_to_sign(&request, signed_headers, &timestamp, &scope, &payload_hash)?;
    let mut mac = signing_mac(params.secret_access_key, &scope);
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());

    let authorization = format!(
        "{ALGORITHM} Credential={}/{}/{}/{}/{SCOPE_TERMINATOR}, SignedHeaders={}, Signature={signature}",
        params.access_key_id,
        scope.date,
        scope.region,
        scope.service,
        signed_headers.join(";"),
    );
    headers.push(("authorization".to_owned(), authorization));
    Ok(())
}

/// The credential scope minus the access key and terminator.
struct Scope<'a> {
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

/// A parsed `Authorization` header.
struct Authorization<'a> {
    access_key_id: &'a str,
    scope: Scope<'a>,
    /// Lowercase, sorted, unique.
    signed_headers: Vec<&'a str>,
    signature: [u8; 32],
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigV4Error> {
    let value = value.trim();
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm);
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or(SigV4Error::MalformedAuthorization(
                "Authorization header parameters must be of the form name=value.",
            ))?;
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(SigV4Error::MalformedAuthorization(
                    "Authorization header has an unknown parameter; expected Credential, \
                     SignedHeaders and Signature.",
                ))
            }
        };
        if slot.replace(value.trim()).is_some() {
            return Err(SigV4Error::MalformedAuthorization(
                "Authorization header repeats a parameter.",
            ));
        }
    }
    let credential = credential.ok_or(SigV4Error::MalformedAuthorization(
        "Authorization header requires 'Credential' parameter.",
    ))?;
    let signed_headers = signed_headers.ok_or(SigV4Error::MalformedAuthorization(
        "Authorization header requires 'SignedHeaders' parameter.",
    ))?;
    let signature = signature.ok_or(SigV4Error::MalformedAuthorization(
        "Authorization header requires 'Signature' parameter.",
    ))?;

    let (access_key_id, scope) = parse_credential(credential)?;
    Ok(Authorization {
        access_key_id,
        scope,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: parse_signature(signature)?,
    })
}

fn parse_credential(credential: &str) -> Result<(&str, Scope<'_>), SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(SigV4Error::MalformedAuthorization(
            "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request.",
        ));
    };
    if terminator != SCOPE_TERMINATOR {
        return Err(SigV4Error::MalformedAuthorization(
            "Credential should be scoped with a valid terminator: 'aws4_request'.",
        ));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::MalformedAuthorization(
            "Credential scope date must be YYYYMMDD.",
        ));
    }
    if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
        return Err(SigV4Error::MalformedAuthorization(
            "Credential must name an access key id, a region and a service.",
        ));
    }
    Ok((
        access_key_id,
        Scope {
            date,
            region,
            service,
        },
    ))
}

fn parse_signed_headers(list: &str) -> Result<Vec<&str>, SigV4Error> {
    let names: Vec<&str> = list.split(';').collect();
    let well_formed = names.iter().all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
    }) && names.windows(2).all(|pair| pair[0] < pair[1]);
    if !well_formed {
        // Every SDK sends them this way; accepting other orders would mean guessing which
        // order the client hashed.
        return Err(SigV4Error::MalformedAuthorization(
            "SignedHeaders must be lowercase header names, sorted, unique and separated by ';'.",
        ));
    }
    Ok(names)
}

fn parse_signature(signature: &str) -> Result<[u8; 32], SigV4Error> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(signature, &mut bytes).map_err(|_| {
        SigV4Error::MalformedAuthorization("Signature must be 64 hexadecimal characters.")
    })?;
    Ok(bytes)
}

/// Which header carried the request's date.
struct DateHeader {
    name: &'static str,
    display: &'static str,
}

const X_AMZ_DATE: DateHeader = DateHeader {
    name: "x-amz-date",
    display: "X-Amz-Date",
};
const DATE: DateHeader = DateHeader {
    name: "date",
    display: "Date",
};

/// `x-amz-date` wins over `date` when both are sent, as in AWS.
fn request_date(headers: &[(String, String)]) -> Result<(DateHeader, DateTime<Utc>), SigV4Error> {
    match single_header(headers, X_AMZ_DATE.name) {
        Single::One(value) => {
            let time = parse_amz_date(value).ok_or(SigV4Error::MalformedDate)?;
            return Ok((X_AMZ_DATE, time));
        }
        Single::Repeated => return Err(SigV4Error::MalformedDate),
        Single::Absent => {}
    }
    match single_header(headers, DATE.name) {
        Single::One(value) => {
            // botocore writes `Date` in RFC 1123 form (`email.utils.formatdate`).
            let time = parse_amz_date(value)
                .or_else(|| {
                    DateTime::parse_from_rfc2822(value.trim())
                        .ok()
                        .map(|t| t.with_timezone(&Utc))
                })
                .ok_or(SigV4Error::MalformedDate)?;
            Ok((DATE, time))
        }
        Single::Repeated => Err(SigV4Error::MalformedDate),
        Single::Absent => Err(SigV4Error::MissingDate),
    }
}

/// Strict `YYYYMMDDTHHMMSSZ`: chrono's parser alone would accept signs and short fields.
fn parse_amz_date(value: &str) -> Option<DateTime<Utc>> {
    let b = value.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if !shape_ok {
        return None;
    }
    NaiveDateTime::parse_from_str(value, AMZ_DATE_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

fn check_skew(
    request_time: DateTime<Utc>,
    now: DateTime<Utc>,
    max_skew: Duration,
) -> Result<(), SigV4Error> {
    let age = now.signed_duration_since(request_time);
    let fmt = |t: DateTime<Utc>| t.format(AMZ_DATE_FORMAT).to_string();
    if age > max_skew {
        return Err(SigV4Error::Expired {
            request_time: fmt(request_time),
            earliest: fmt(now.checked_sub_signed(max_skew).unwrap_or(request_time)),
            now: fmt(now),
            skew: describe_skew(max_skew),
        });
    }
    if age < -max_skew {
        return Err(SigV4Error::NotYetCurrent {
            request_time: fmt(request_time),
            latest: fmt(now.checked_add_signed(max_skew).unwrap_or(request_time)),
            now: fmt(now),
            skew: describe_skew(max_skew),
        });
    }
    Ok(())
}

/// `15 min` as AWS writes it; seconds when the skew is not whole minutes.
fn describe_skew(skew: Duration) -> String {
    let seconds = skew.num_seconds();
    if seconds % 60 == 0 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

fn string_to_sign(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    timestamp: &str,
    scope: &Scope<'_>,
    payload_hash: &str,
) -> Result<String, SigV4Error> {
    let mut canonical = String::with_capacity(512);
    canonical.push_str(&req.method.to_ascii_uppercase());
    canonical.push('\n');
    canonical.push_str(&canonical_uri(req.raw_path));
    canonical.push('\n');
    canonical.push_str(&canonical_query(req.raw_query.unwrap_or_default()));
    canonical.push('\n');
    for name in signed_headers {
        canonical.push_str(name);
        canonical.push(':');
        let mut values = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .peekable();
        if values.peek().is_none() {
            return Err(SigV4Error::MissingSignedHeader((*name).to_owned()));
        }
        for (i, (_, value)) in values.enumerate() {
            if i > 0 {
                canonical.push(',');
            }
            push_trimmed(&mut canonical, value);
        }
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(payload_hash);

    Ok(format!(
        "{ALGORITHM}\n{timestamp}\n{}/{}/{}/{SCOPE_TERMINATOR}\n{}",
        scope.date,
        scope.region,
        scope.service,
        hex::encode(Sha256::digest(canonical.as_bytes())),
    ))
}

/// botocore's `quote(remove_dot_segments(path), safe='/~')`.
fn canonical_uri(raw_path: &str) -> String {
    percent_encode(remove_dot_segments(raw_path).as_bytes(), PATH_SAFE).to_string()
}

/// RFC 3986 dot-segment removal plus the collapsing of empty segments AWS applies, mirroring
/// botocore's `remove_dot_segments` (a trailing `/` survives unless nothing is left).
fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// Decoding first makes the result independent of how loosely the client encoded; `+` is a
/// literal plus (RFC 3986), not a space, since no SDK sends `+` for a space.
fn canonical_query(raw: &str) -> String {
    let reencode = |s: &str| {
        let decoded: Cow<'_, [u8]> = percent_decode_str(s).into();
        percent_encode(&decoded, UNRESERVED).to_string()
    };
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (reencode(key), reencode(value))
        })
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw.len() + 8);
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// SigV4 `Trimall`: no leading or trailing whitespace, inner runs become one space.
fn push_trimmed(out: &mut String, value: &str) {
    for (i, word) in value.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// The HMAC keyed with the derived signing key for `scope`, ready for the string to sign.
fn signing_mac(secret: &str, scope: &Scope<'_>) -> HmacSha256 {
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), scope.date.as_bytes());
    for part in [scope.region, scope.service, SCOPE_TERMINATOR] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    new_mac(&key)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = new_mac(key);
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of every length (longer ones are hashed first); the error case
    // exists only for fixed-key-size MACs sharing the trait.
    HmacSha256::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length")
}

/// The value of a header that must appear at most once.
enum Single<'a> {
    Absent,
    One(&'a str),
    Repeated,
}

fn single_header<'a>(headers: &'a [(String, String)], name: &str) -> Single<'a> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (None, _) => Single::Absent,
        (Some(value), None) => Single::One(value),
        (Some(_), Some(_)) => Single::Repeated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SUITE_KEY_ID: &str = "AKIDEXAMPLE";
    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn suite_now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap()
    }

    fn suite_lookup(key: &str) -> Option<&'static str> {
        (key == SUITE_KEY_ID).then_some(SUITE_SECRET)
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn suite_authorization(signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders={signed_headers}, Signature={signature}"
        )
    }

    /// Runs one vector of the AWS SigV4 test suite (header form): the request with its
    /// published `Authorization` must verify, and one flipped signature bit must not.
    fn check_suite_vector(
        method: &str,
        target: &str,
        extra_headers: &[(&str, &str)],
        body: &[u8],
        signed_headers: &str,
        signature: &str,
    ) {
        let (raw_path, raw_query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let mut hs = headers(&[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ]);
        hs.extend(headers(extra_headers));
        hs.push((
            "Authorization".into(),
            suite_authorization(signed_headers, signature),
        ));
        let request = |hs| SignedRequest {
            method,
            raw_path,
            raw_query,
            headers: hs,
            body,
        };
        let caller = verify(&request(&hs), suite_now(), MAX_SKEW_DEFAULT, suite_lookup)
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        assert_eq!(
            caller,
            VerifiedCaller {
                access_key_id: SUITE_KEY_ID.into(),
                region: "us-east-1".into(),
                service: "service".into(),
            }
        );

        let mut tampered = signature.to_owned();
        let last = if tampered.ends_with('0') { "1" } else { "0" };
        tampered.replace_range(63.., last);
        let last_header = hs.len() - 1;
        let mut tampered_hs = hs.clone();
        tampered_hs[last_header].1 = suite_authorization(signed_headers, &tampered);
        assert_eq!(
            verify(
                &request(&tampered_hs),
                suite_now(),
                MAX_SKEW_DEFAULT,
                suite_lookup
            ),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn suite_get_vanilla() {
        check_suite_vector(
            "GET",
            "/",
            &[],
            b"",
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
    }

    #[test]
    fn suite_get_vanilla_query_order_key_case() {
        check_suite_vector(
            "GET",
            "/?Param2=value2&Param1=value1",
            &[],
            b"",
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        );
    }

    #[test]
    fn suite_get_vanilla_query_order_encoded() {
        check_suite_vector(
            "GET",
            "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
            &[],
            b"",
            "host;x-amz-date",
            "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
        );
    }

    #[test]
    fn suite_get_vanilla_query_unreserved() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        check_suite_vector(
            "GET",
            &format!("/?{unreserved}={unreserved}"),
            &[],
            b"",
            "host;x-amz-date",
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        );
    }

    #[test]
    fn suite_get_vanilla_utf8_query() {
        check_suite_vector(
            "GET",
            "/?\u{1234}=bar",
            &[],
            b"",
            "host;x-amz-date",
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        );
    }

    #[test]
    fn suite_post_vanilla_query() {
        check_suite_vector(
            "POST",
            "/?Param1=value1",
            &[],
            b"",
            "host;x-amz-date",
            "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
        );
    }

    #[test]
    fn suite_get_utf8() {
        check_suite_vector(
            "GET",
            "/\u{1234}",
            &[],
            b"",
            "host;x-amz-date",
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        );
    }

    #[test]
    fn suite_get_space() {
        check_suite_vector(
            "GET",
            "/example space/",
            &[],
            b"",
            "host;x-amz-date",
            "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
        );
    }

    #[test]
    fn suite_get_unreserved() {
        check_suite_vector(
            "GET",
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            &[],
            b"",
            "host;x-amz-date",
            "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
        );
    }

    #[test]
    fn suite_normalized_paths() {
        let vanilla = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        for path in ["/./", "/example/..", "/example1/example2/../.."] {
            check_suite_vector("GET", path, &[], b"", "host;x-amz-date", vanilla);
        }
        check_suite_vector(
            "GET",
            "//example//",
            &[],
            b"",
            "host;x-amz-date",
            "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
        );
    }

    #[test]
    fn suite_header_values_repeated_and_trimmed() {
        check_suite_vector(
            "GET",
            "/",
            &[
                ("My-Header1", "value2"),
                ("My-Header1", "value2"),
                ("My-Header1", "value1"),
            ],
            b"",
            "host;my-header1;x-amz-date",
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        );
        check_suite_vector(
            "GET",
            "/",
            &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            b"",
            "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        );
    }

    #[test]
    fn suite_post_x_www_form_urlencoded() {
        check_suite_vector(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "13"),
                (
                    "x-amz-content-sha256",
                    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                ),
            ],
            b"Param1=value1",
            "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        );
    }

    #[test]
    fn suite_session_token_is_just_a_signed_header() {
        check_suite_vector(
            "GET",
            "/",
            &[(
                "X-Amz-Security-Token",
                "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
            )],
            b"",
            "host;x-amz-date;x-amz-security-token",
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
        );
    }

    /// [`sign`] signs the same headers botocore does for these operations, so re-signing
    /// `req` with only `unsigned` headers at botocore's clock must give botocore's header.
    fn resign_like_botocore(
        req: &SignedRequest<'_>,
        unsigned: &[(String, String)],
        region: &str,
    ) -> String {
        let mut hs = unsigned.to_vec();
        let params = SigningParams {
            access_key_id: SUITE_KEY_ID,
            secret_access_key: SUITE_SECRET,
            region,
            service: "connect-campaigns",
            now: Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap(),
        };
        sign(
            req.method,
            req.raw_path,
            req.raw_query,
            &mut hs,
            req.body,
            &params,
        )
        .unwrap();
        authorization_of(&hs)
    }

    /// Signed by botocore 1.44.5 through a `connectcampaigns` client (`put_dial_request_batch`,
    /// region us-west-2, clock frozen at 2024-05-01T10:00:00Z, the suite's example key), so the
    /// path, JSON body and signed headers are exactly what the model serializes.
    #[test]
    fn botocore_put_dial_requests() {
        let body = br#"{"dialRequests": [{"clientToken": "tok-1", "phoneNumber": "+14155550123", "expirationTime": "2024-05-01T11:00:00Z", "attributes": {"a": "b c", "\u00fcn\u00ef": "\u00e7\u00f8d\u00e9 \u2713"}}]}"#;
        let hs = headers(&[
            ("content-type", "application/json"),
            ("host", "connect-campaigns.us-west-2.amazonaws.com"),
            ("x-amz-date", "20240501T100000Z"),
            ("authorization", BOTOCORE_PUT_AUTHORIZATION),
        ]);
        let req = SignedRequest {
            method: "PUT",
            raw_path: "/campaigns/6f1c0b7e-3e2a-4a51-9a55-6f7d1d2c3b4a/dial-requests",
            raw_query: None,
            headers: &hs,
            body,
        };
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 10, 3, 0).unwrap();
        let caller = verify(&req, now, MAX_SKEW_DEFAULT, suite_lookup).unwrap();
        assert_eq!(caller.region, "us-west-2");
        assert_eq!(caller.service, "connect-campaigns");
        assert_eq!(
            resign_like_botocore(&req, &hs[..2], "us-west-2"),
            BOTOCORE_PUT_AUTHORIZATION
        );

        let changed = &body[..body.len() - 1];
        let req = SignedRequest {
            body: changed,
            ..req
        };
        assert_eq!(
            verify(&req, now, MAX_SKEW_DEFAULT, suite_lookup),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    const BOTOCORE_PUT_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-west-2/connect-campaigns/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=e3d29d79ec69b305aaa45f5817abd2d2c642b0f2d7211e949166a686c3f702bd";

    /// botocore signs the ARN label *as sent* (`%3A`, `%2F`), so the canonical URI holds
    /// `%253A` and `%252F`; repeated query keys sort by value.
    #[test]
    fn botocore_delete_tags_with_encoded_arn() {
        let hs = headers(&[
            ("host", "connect-campaigns.us-west-2.amazonaws.com"),
            ("x-amz-date", "20240501T100000Z"),
            ("authorization", BOTOCORE_DELETE_AUTHORIZATION),
        ]);
        let req = SignedRequest {
            method: "DELETE",
            raw_path: BOTOCORE_DELETE_PATH,
            raw_query: Some("tagKeys=b&tagKeys=a&tagKeys=x%20y%2Fz"),
            headers: &hs,
            body: b"",
        };
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        assert!(verify(&req, now, MAX_SKEW_DEFAULT, suite_lookup).is_ok());
        assert_eq!(
            resign_like_botocore(&req, &hs[..1], "us-west-2"),
            BOTOCORE_DELETE_AUTHORIZATION
        );

        let decoded_path = BOTOCORE_DELETE_PATH.replace("%3A", ":").replace("%2F", "/");
        let req = SignedRequest {
            raw_path: &decoded_path,
            ..req
        };
        assert_eq!(
            verify(&req, now, MAX_SKEW_DEFAULT, suite_lookup),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    const BOTOCORE_DELETE_PATH: &str = "/tags/arn%3Aaws%3Aconnect-campaigns%3Aus-west-2%3A123456789012%3Acampaign%2F6f1c0b7e-3e2a-4a51-9a55-6f7d1d2c3b4a";
    const BOTOCORE_DELETE_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-west-2/connect-campaigns/aws4_request, SignedHeaders=host;x-amz-date, Signature=cd826e4a9387151aeaafebcd02e71a950b5540966c4b6925168c28c01db9c723";

    fn params(now: DateTime<Utc>) -> SigningParams<'static> {
        SigningParams {
            access_key_id: SUITE_KEY_ID,
            secret_access_key: SUITE_SECRET,
            region: "eu-central-1",
            service: "connect-campaigns",
            now,
        }
    }

    const ARN_PATH: &str =
        "/tags/arn%3Aaws%3Aconnect-campaigns%3Aeu-central-1%3A123456789012%3Acampaign%2Fabc";

    /// A request signed by [`sign`] at `now`, for the error tests to break one piece at a time.
    fn signed_fixture(now: DateTime<Utc>) -> Vec<(String, String)> {
        let mut hs = headers(&[
            ("Host", "localhost:8080"),
            ("Content-Type", "application/json"),
        ]);
        sign(
            "POST",
            ARN_PATH,
            Some("b=2&a=1"),
            &mut hs,
            b"{}",
            &params(now),
        )
        .unwrap();
        hs
    }

    fn fixture_request(hs: &[(String, String)]) -> SignedRequest<'_> {
        SignedRequest {
            method: "POST",
            raw_path: ARN_PATH,
            raw_query: Some("b=2&a=1"),
            headers: hs,
            body: b"{}",
        }
    }

    fn set_header(hs: &mut [(String, String)], name: &str, value: &str) {
        for (n, v) in hs.iter_mut() {
            if n.eq_ignore_ascii_case(name) {
                *v = value.to_owned();
            }
        }
    }

    fn authorization_of(hs: &[(String, String)]) -> String {
        match single_header(hs, "authorization") {
            Single::One(v) => v.to_owned(),
            _ => panic!("fixture has one authorization header"),
        }
    }

    #[test]
    fn sign_then_verify_round_trips_encoded_arn_path() {
        let now = suite_now();
        let hs = signed_fixture(now);
        let auth = authorization_of(&hs);
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/connect-campaigns/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature="
        ));
        let caller = verify(&fixture_request(&hs), now, MAX_SKEW_DEFAULT, suite_lookup).unwrap();
        assert_eq!(caller.region, "eu-central-1");
        assert_eq!(caller.service, "connect-campaigns");
    }

    #[test]
    fn sign_replaces_stale_auth_headers_and_requires_host() {
        let now = suite_now();
        let mut hs = signed_fixture(now - Duration::hours(1));
        sign(
            "POST",
            ARN_PATH,
            Some("b=2&a=1"),
            &mut hs,
            b"{}",
            &params(now),
        )
        .unwrap();
        assert_eq!(hs.len(), 4);
        assert!(verify(&fixture_request(&hs), now, MAX_SKEW_DEFAULT, suite_lookup).is_ok());

        let mut no_host = headers(&[("content-type", "application/json")]);
        assert_eq!(
            sign("GET", "/", None, &mut no_host, b"", &params(now)),
            Err(SigV4Error::MissingSignedHeader("host".into()))
        );
    }

    #[test]
    fn canonical_uri_encodes_the_received_path_again() {
        assert_eq!(
            canonical_uri("/tags/arn%3Aaws%3Aconnect%2Fx"),
            "/tags/arn%253Aaws%253Aconnect%252Fx"
        );
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(canonical_uri("/a b~c$"), "/a%20b~c%24");
    }

    #[test]
    fn canonical_query_decodes_then_strictly_encodes_and_sorts() {
        assert_eq!(
            canonical_query("tagKeys=b&tagKeys=a&empty&x=%7e%2a&sp=a%20b&plus=a+b"),
            "empty=&plus=a%2Bb&sp=a%20b&tagKeys=a&tagKeys=b&x=~%2A"
        );
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("&&a=1&"), "a=1");
    }

    #[test]
    fn rejects_missing_authorization() {
        let hs = headers(&[("host", "h"), ("x-amz-date", "20150830T123600Z")]);
        let err = verify(
            &fixture_request(&hs),
            suite_now(),
            MAX_SKEW_DEFAULT,
            suite_lookup,
        )
        .unwrap_err();
        assert_eq!(err, SigV4Error::MissingAuthorization);
        assert_eq!(err.to_string(), "Missing Authentication Token");
        assert_eq!(err.error_type(), "MissingAuthenticationTokenException");
    }

    #[test]
    fn rejects_other_algorithms_without_echoing_them() {
        let mut hs = signed_fixture(suite_now());
        for value in [
            "Bearer secret-token-123",
            "secret-token-123",
            "AWS4-HMAC-SHA512 Credential=x",
        ] {
            set_header(&mut hs, "authorization", value);
            let err = verify(
                &fixture_request(&hs),
                suite_now(),
                MAX_SKEW_DEFAULT,
                suite_lookup,
            )
            .unwrap_err();
            assert_eq!(err, SigV4Error::UnsupportedAlgorithm);
            assert!(!err.to_string().contains("secret-token"));
            assert_eq!(err.error_type(), "IncompleteSignatureException");
        }
    }

    #[test]
    fn rejects_malformed_authorization() {
        let good = authorization_of(&signed_fixture(suite_now()));
        let signature = good.rsplit_once("Signature=").unwrap().1.to_owned();
        let cases = [
            (
                format!("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature={signature}"),
                "Authorization header requires 'Credential' parameter.",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/connect-campaigns/aws4_request, SignedHeaders=host;x-amz-date".to_owned(),
                "Authorization header requires 'Signature' parameter.",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/connect-campaigns/aws4_request, Signature={signature}"),
                "Authorization header requires 'SignedHeaders' parameter.",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"),
                "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request.",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/connect-campaigns/aws4, SignedHeaders=host;x-amz-date, Signature={signature}"),
                "Credential should be scoped with a valid terminator: 'aws4_request'.",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/eu-central-1/connect-campaigns/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"),
                "Credential scope date must be YYYYMMDD.",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//connect-campaigns/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"),
                "Credential must name an access key id, a region and a service.",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/connect-campaigns/aws4_request, SignedHeaders=x-amz-date;host, Signature={signature}"),
                "SignedHeaders must be lowercase header names, sorted, unique and separated by ';'.",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/connect-campaigns/aws4_request, SignedHeaders=Host;x-amz-date, Signature={signature}"),
                "SignedHeaders must be lowercase header names, sorted, unique and separated by ';'.",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/connect-campaigns/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc".to_owned(),
                "Signature must be 64 hexadecimal characters.",
            ),
            (
                format!("{good}, Signature={signature}"),
                "Authorization header repeats a parameter.",
            ),
            (
                format!("{good}, Extra=1"),
                "Authorization header has an unknown parameter; expected Credential, SignedHeaders and Signature.",
            ),
            (
                format!("{good}, junk"),
                "Authorization header parameters must be of the form name=value.",
            ),
        ];
        for (value, message) in cases {
            let mut hs = signed_fixture(suite_now());
            set_header(&mut hs, "authorization", &value);
            let err = verify(
                &fixture_request(&hs),
                suite_now(),
                MAX_SKEW_DEFAULT,
                suite_lookup,
            )
            .unwrap_err();
            assert_eq!(err, SigV4Error::MalformedAuthorization(message), "{value}");
            assert_eq!(err.to_string(), message);
        }

        let mut hs = signed_fixture(suite_now());
        hs.push(("Authorization".into(), good));
        assert_eq!(
            verify(
                &fixture_request(&hs),
                suite_now(),
                MAX_SKEW_DEFAULT,
                suite_lookup
            ),
            Err(SigV4Error::MalformedAuthorization(
                "Only one Authorization header may be sent."
            ))
        );
    }

    #[test]
    fn rejects_missing_or_malformed_date() {
        let mut hs = signed_fixture(suite_now());
        hs.retain(|(n, _)| n != "x-amz-date");
        assert_eq!(
            verify(
                &fixture_request(&hs),
                suite_now(),
                MAX_SKEW_DEFAULT,
                suite_lookup
            ),
            Err(SigV4Error::MissingDate)
        );
        for bad in [
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20150832T123600Z",
            "+0150830T123600Z",
        ] {
            let mut hs = signed_fixture(suite_now());
            set_header(&mut hs, "x-amz-date", bad);
            assert_eq!(
                verify(
                    &fixture_request(&hs),
                    suite_now(),
                    MAX_SKEW_DEFAULT,
                    suite_lookup
                ),
                Err(SigV4Error::MalformedDate),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_unsigned_host_or_date() {
        let mut hs = signed_fixture(suite_now());
        let auth = authorization_of(&hs)
            .replace("content-type;host;x-amz-date", "content-type;x-amz-date");
        set_header(&mut hs, "authorization", &auth);
        let err = verify(
            &fixture_request(&hs),
            suite_now(),
            MAX_SKEW_DEFAULT,
            suite_lookup,
        )
        .unwrap_err();
        assert_eq!(err, SigV4Error::UnsignedRequiredHeader("Host"));
        assert_eq!(
            err.to_string(),
            "'Host' must be a 'SignedHeader' in the AWS Authorization."
        );

        let mut hs = signed_fixture(suite_now());
        let auth =
            authorization_of(&hs).replace("content-type;host;x-amz-date", "content-type;host");
        set_header(&mut hs, "authorization", &auth);
        assert_eq!(
            verify(
                &fixture_request(&hs),
                suite_now(),
                MAX_SKEW_DEFAULT,
                suite_lookup
            ),
            Err(SigV4Error::UnsignedRequiredHeader("X-Amz-Date"))
        );
    }

    /// botocore, when the request already carries `Date`, signs that header (RFC 1123 on the
    /// wire, ISO 8601 basic in the string to sign) instead of adding `x-amz-date`. Signed by
    /// botocore 1.44.5 for `describe_campaign` against `http://127.0.0.1:8080`.
    #[test]
    fn botocore_date_header_instead_of_x_amz_date() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        let hs = headers(&[
            ("Date", "Wed, 01 May 2024 10:00:00 -0000"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/connect-campaigns/aws4_request, SignedHeaders=date;host, Signature=e53856b707d8e665786cb7c65c434f90fdc69797ea34c3862a22489492658445"),
            ("Host", "127.0.0.1:8080"),
        ]);
        let request = |hs| SignedRequest {
            method: "GET",
            raw_path: "/campaigns/6f1c0b7e-3e2a-4a51-9a55-6f7d1d2c3b4a",
            raw_query: None,
            headers: hs,
            body: b"",
        };
        let caller = verify(&request(&hs), now, MAX_SKEW_DEFAULT, suite_lookup).unwrap();
        assert_eq!(caller.region, "us-east-1");

        let mut unsigned_date = hs.clone();
        let auth = authorization_of(&hs).replace("date;host", "host");
        set_header(&mut unsigned_date, "authorization", &auth);
        assert_eq!(
            verify(
                &request(&unsigned_date),
                now,
                MAX_SKEW_DEFAULT,
                suite_lookup
            ),
            Err(SigV4Error::UnsignedRequiredHeader("Date"))
        );
    }

    #[test]
    fn rejects_signed_header_absent_from_request() {
        let mut hs = signed_fixture(suite_now());
        hs.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        let err = verify(
            &fixture_request(&hs),
            suite_now(),
            MAX_SKEW_DEFAULT,
            suite_lookup,
        )
        .unwrap_err();
        assert_eq!(err, SigV4Error::MissingSignedHeader("content-type".into()));
        assert_eq!(err.error_type(), "InvalidSignatureException");
    }

    #[test]
    fn rejects_scope_date_other_than_request_date() {
        let mut hs = signed_fixture(suite_now());
        set_header(&mut hs, "x-amz-date", "20150831T000100Z");
        let err = verify(
            &fixture_request(&hs),
            suite_now(),
            MAX_SKEW_DEFAULT,
            suite_lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '20150830' != '20150831', from '20150831T000100Z'."
        );
    }

    #[test]
    fn rejects_unknown_access_key_without_naming_it() {
        let hs = signed_fixture(suite_now());
        let err = verify(&fixture_request(&hs), suite_now(), MAX_SKEW_DEFAULT, |_| {
            None::<&str>
        })
        .unwrap_err();
        assert_eq!(err, SigV4Error::UnknownAccessKey);
        assert_eq!(
            err.to_string(),
            "The security token included in the request is invalid."
        );
        assert_eq!(err.error_type(), "UnrecognizedClientException");
    }

    #[test]
    fn rejects_wrong_secret_and_any_change_to_signed_parts() {
        let now = suite_now();
        let hs = signed_fixture(now);
        let err = verify(&fixture_request(&hs), now, MAX_SKEW_DEFAULT, |_| {
            Some("another-secret".to_owned())
        })
        .unwrap_err();
        assert_eq!(err, SigV4Error::SignatureMismatch);
        assert!(err.to_string().starts_with(
            "The request signature we calculated does not match the signature you provided."
        ));
        assert!(!err.to_string().contains(SUITE_SECRET));

        let base = fixture_request(&hs);
        let changed = [
            SignedRequest {
                method: "PUT",
                ..base
            },
            SignedRequest {
                raw_path: "/tags/arn:aws:connect-campaigns:eu-central-1:123456789012:campaign/abc",
                ..base
            },
            SignedRequest {
                raw_query: Some("b=2&a=2"),
                ..base
            },
            SignedRequest {
                raw_query: None,
                ..base
            },
            SignedRequest {
                body: b"{ }",
                ..base
            },
        ];
        for req in changed {
            assert_eq!(
                verify(&req, now, MAX_SKEW_DEFAULT, suite_lookup),
                Err(SigV4Error::SignatureMismatch)
            );
        }
        let mut other_host = hs.clone();
        set_header(&mut other_host, "host", "localhost:8081");
        assert_eq!(
            verify(
                &fixture_request(&other_host),
                now,
                MAX_SKEW_DEFAULT,
                suite_lookup
            ),
            Err(SigV4Error::SignatureMismatch)
        );
        // Unsigned headers may change freely.
        let mut extra = hs.clone();
        extra.push(("user-agent".into(), "something else".into()));
        assert!(verify(
            &fixture_request(&extra),
            now,
            MAX_SKEW_DEFAULT,
            suite_lookup
        )
        .is_ok());
        // Query order and looser encoding do not matter; the decoded values do.
        let req = SignedRequest {
            raw_query: Some("a=%31&b=2"),
            ..base
        };
        assert!(verify(&req, now, MAX_SKEW_DEFAULT, suite_lookup).is_ok());
    }

    #[test]
    fn rejects_content_sha256_that_is_not_the_body_hash() {
        let now = suite_now();
        let mut hs = signed_fixture(now);
        hs.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
        let err = verify(&fixture_request(&hs), now, MAX_SKEW_DEFAULT, suite_lookup).unwrap_err();
        assert_eq!(err, SigV4Error::PayloadHashMismatch);
        assert_eq!(err.error_type(), "InvalidSignatureException");

        let body_hash = hex::encode(Sha256::digest(b"{}"));
        set_header(&mut hs, "x-amz-content-sha256", &body_hash);
        assert!(verify(&fixture_request(&hs), now, MAX_SKEW_DEFAULT, suite_lookup).is_ok());
    }

    #[test]
    fn skew_boundaries_are_inclusive() {
        let signed_at = suite_now();
        let hs = signed_fixture(signed_at);
        let req = fixture_request(&hs);
        let at =
            |offset: Duration| verify(&req, signed_at + offset, MAX_SKEW_DEFAULT, suite_lookup);

        assert!(at(MAX_SKEW_DEFAULT).is_ok());
        assert!(at(-MAX_SKEW_DEFAULT).is_ok());

        let err = at(MAX_SKEW_DEFAULT + Duration::seconds(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z \
             (20150830T125101Z - 15 min.)"
        );
        assert_eq!(err.error_type(), "InvalidSignatureException");

        let err = at(-MAX_SKEW_DEFAULT - Duration::seconds(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z \
             (20150830T122059Z + 15 min.)"
        );

        let err = verify(
            &req,
            signed_at + Duration::seconds(31),
            Duration::seconds(30),
            suite_lookup,
        )
        .unwrap_err();
        assert!(err.to_string().ends_with("- 30 s.)"), "{err}");
    }

    #[test]
    fn scope_must_name_this_endpoints_region_and_service() {
        let caller = |region: &str, service: &str| VerifiedCaller {
            access_key_id: "AKIDEXAMPLE".into(),
            region: region.into(),
            service: service.into(),
        };
        assert_eq!(
            caller("us-east-1", "connect-campaigns").check_scope("us-east-1", "connect-campaigns"),
            Ok(())
        );
        let err = caller("eu-west-1", "connect-campaigns")
            .check_scope("us-east-1", "connect-campaigns")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Credential should be scoped to a valid region, not 'eu-west-1'. "
        );
        assert_eq!(err.error_type(), "InvalidSignatureException");
        let err = caller("eu-west-1", "connect")
            .check_scope("us-east-1", "connect-campaigns")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Credential should be scoped to correct service: 'connect-campaigns'. "
        );
        assert_eq!(err.error_type(), "InvalidSignatureException");
    }
}
