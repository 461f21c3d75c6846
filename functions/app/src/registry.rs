//! The route registry: the single source of truth for every HTTP function — method, path,
//! Lambda function name, the capability it requires (or that it is public), and its handler.
//! The local router, the per-route Lambda binaries, the SAM template and the OpenAPI document
//! are all derived from it, and a test fails when any of them disagrees.

use atlas_domain::Capability;
use axum::http::Method;
use axum::routing::MethodRouter;
use utoipa::openapi::{RefOr, schema::Schema};

use crate::state::AppState;

/// Who may call a route. Every route declares one; there is no default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (health, the OpenAPI document, webhooks that carry their own proof).
    Public,
    /// Any signed-in user; the handler itself scopes what they see.
    SignedIn,
    /// A member of the route's workspace (and environment) holding this capability.
    Capability(Capability),
}

/// What a function may do to the table; the template grants exactly the matching IAM actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TableAccess {
    None,
    Read,
    Write,
}

impl TableAccess {
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            TableAccess::None => &[],
            TableAccess::Read => &["dynamodb:GetItem", "dynamodb:Query"],
            TableAccess::Write => &[
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
            ],
        }
    }
}

/// The documented success body of a route.
#[derive(Clone, Copy)]
pub enum Body {
    /// A JSON body of a schema type: its name and schema.
    Json(fn() -> (String, RefOr<Schema>)),
    /// The OpenAPI document itself.
    OpenApi,
}

pub fn schema<T: utoipa::ToSchema>() -> (String, RefOr<Schema>) {
    (T::name().into_owned(), T::schema())
}

#[derive(Clone)]
pub struct Route {
    pub method: Method,
    /// With `{param}` segments, as both axum and OpenAPI write them.
    pub path: &'static str,
    /// The Lambda function (and binary) name, e.g. `get-health`.
    pub function: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub tag: &'static str,
    pub table: TableAccess,
    /// Queues this route sends work to.
    pub sends: &'static [&'static str],
    pub body: Body,
    pub handler: fn() -> MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.function)
    }
}

/// Declares a route; the method is written once, so the handler cannot be mounted on another.
macro_rules! route {
    ($method:ident $path:literal => $function:literal {
        access: $access:expr,
        summary: $summary:literal,
        tag: $tag:literal,
        table: $table:ident,
        sends: [$($q:literal),* $(,)?],
        body: $body:expr,
        handler: $handler:path $(,)?
    }) => {
        Route {
            method: Method::$method,
            path: $path,
            function: $function,
            access: $access,
            summary: $summary,
            tag: $tag,
            table: TableAccess::$table,
            sends: &[$($q),*],
            body: $body,
            handler: || axum::routing::on(axum::routing::MethodFilter::$method, $handler),
        }
    };
}

/// Every HTTP route of the product.
pub fn routes() -> Vec<Route> {
    use crate::routes::{health, openapi};
    use atlas_api_types::Health;
    vec![
        route!(GET "/api/health" => "get-health" {
            access: Access::Public,
            summary: "Service health: version and which storage and queue serve it",
            tag: "system",
            table: Read,
            sends: [],
            body: Body::Json(schema::<Health>),
            handler: health::get,
        }),
        route!(GET "/api/openapi.json" => "get-openapi" {
            access: Access::Public,
            summary: "This API's OpenAPI document",
            tag: "system",
            table: None,
            sends: [],
            body: Body::OpenApi,
            handler: openapi::get,
        }),
    ]
}

pub fn find(function: &str) -> Option<Route> {
    routes().into_iter().find(|r| r.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn functions_and_method_paths_are_unique() {
        let rs = routes();
        let names: BTreeSet<_> = rs.iter().map(|r| r.function).collect();
        assert_eq!(names.len(), rs.len(), "function names are unique");
        let mp: BTreeSet<_> = rs.iter().map(|r| (r.method.as_str().to_owned(), r.path)).collect();
        assert_eq!(mp.len(), rs.len(), "method + path pairs are unique");
        let steps: BTreeSet<_> = crate::steps::steps().iter().map(|s| s.function).collect();
        assert!(names.is_disjoint(&steps));
    }

    #[test]
    fn names_are_lambda_safe_and_paths_are_under_api() {
        for r in routes() {
            assert!(r.path.starts_with("/api/"), "{r:?}");
            assert!(
                r.function.len() <= 40
                    && r.function
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{r:?}"
            );
            assert!(
                r.function.starts_with(&r.method.as_str().to_lowercase()),
                "function names start with their method: {r:?}"
            );
        }
    }
}
