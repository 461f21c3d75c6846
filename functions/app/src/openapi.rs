//! The OpenAPI document, derived from the route registry (never written by hand).

use std::sync::OnceLock;

use atlas_api_types::{FieldError, Problem};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr,
    Required, ResponseBuilder, Type, extensions::ExtensionsBuilder, schema::Schema,
};

use crate::registry::{Access, Body, NamedSchema, Route, routes};

pub fn document() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(build(&routes())).expect("the OpenAPI document serializes"))
}

fn method(m: &axum::http::Method) -> HttpMethod {
    match m.as_str() {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        "HEAD" => HttpMethod::Head,
        other => panic!("unsupported method {other} in the registry"),
    }
}

/// `{ws}` segments of a path, in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A response header holding a URL path.
fn location(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(string())
        .description(Some(description))
        .build()
}

pub fn build(routes: &[Route]) -> OpenApi {
    let mut components = ComponentsBuilder::new()
        .schema_from::<Problem>()
        .schema_from::<FieldError>()
        .schema_from::<atlas_domain::Status>()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    let mut paths = PathsBuilder::new();
    for r in routes {
        let mut op = OperationBuilder::new()
            .operation_id(Some(r.function))
            .summary(Some(r.summary))
            .tag(r.tag);
        for p in path_params(r.path) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(p)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(string())),
            );
        }
        for q in r.query {
            let required = if r.required_query.contains(q) {
                Required::True
            } else {
                Required::False
            };
            // A `status` filter takes the canonical vocabulary, like every `status` field.
            let param = ParameterBuilder::new()
                .name(*q)
                .parameter_in(ParameterIn::Query)
                .required(required);
            op = op.parameter(if *q == "status" {
                param.schema(Some(utoipa::openapi::Ref::from_schema_name("Status")))
            } else {
                param.schema(Some(string()))
            });
        }
        // Every route refuses undeclared query keys and malformed path ids with a 400.
        op = op.response(
            "400",
            problem("Malformed input (body, path or query), with the fields at fault"),
        );
        if let Some(req) = r.request {
            let NamedSchema { name, schema, refs } = req();
            components = components.schema(name.clone(), schema).schemas_from_iter(refs);
            let mut content = ContentBuilder::new().schema(Some(Ref::from_schema_name(name)));
            if let Some(ex) = r.example {
                content = content.example(Some(ex()));
            }
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", content.build())
                    .build(),
            ));
            op = op
                .response("413", problem("The body is larger than the limit"))
                .response("415", problem("The body is not application/json"));
        }
        let ok = match r.body {
            Body::Json(f) => {
                let NamedSchema { name, schema, refs } = f();
                components = components.schema(name.clone(), schema).schemas_from_iter(refs);
                ResponseBuilder::new().description("OK").content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name(name))).build(),
                )
            }
            Body::FreeForm(what) => ResponseBuilder::new().description(what).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(
                        ObjectBuilder::new().schema_type(Type::Object).description(Some(what)),
                    ))
                    .build(),
            ),
            Body::OpenApi => ResponseBuilder::new().description("The OpenAPI document").content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::T(Schema::Object(ObjectBuilder::new().build()))))
                    .build(),
            ),
            Body::Empty if r.status == 303 => ResponseBuilder::new()
                .description("See the web app")
                .header("Location", location("Where the browser goes next")),
            Body::Empty => ResponseBuilder::new().description("Done; no content"),
            Body::Csv => ResponseBuilder::new()
                .description("A CSV file")
                .content("text/csv", ContentBuilder::new().schema(Some(string())).build()),
            Body::Zip => ResponseBuilder::new()
                .description("A ZIP file")
                .content("application/zip", ContentBuilder::new().schema(Some(string())).build()),
        };
        // Accepted work is an operation run; the header is its canonical address.
        let ok = if r.status == 202 {
            ok.header("Location", location("The run's canonical address"))
        } else {
            ok
        };
        let ok = ok.build();
        if r.function == crate::support::DEDUPED_200 {
            // The same request again within the dedupe window: the existing one, nothing new.
            op = op.response("200", ok.clone());
        }
        op = op
            .response(r.status.to_string(), ok)
            .response("default", problem("A problem (RFC 9457)"));
        let capability = match r.access {
            Access::Public => "public".to_owned(),
            Access::SignedIn => "signed-in".to_owned(),
            Access::Capability(c) => c.as_str().to_owned(),
            Access::Platform => "platform-operator".to_owned(),
        };
        if r.access != Access::Public {
            op = op
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .response("401", problem("Not signed in"));
        }
        if r.access == Access::Platform {
            op = op.response("404", problem("Not found: not a platform operator"));
        }
        if let Access::Capability(_) = r.access {
            op = op
                .response("403", problem("Missing the capability"))
                .response("404", problem("Not found, or not visible to you"));
        }
        op = op.extensions(Some(
            ExtensionsBuilder::new()
                .add("x-capability", capability)
                .add("x-function", r.function)
                .build(),
        ));
        paths = paths.path(r.path, PathItem::new(method(&r.method), op.build()));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("TenantAtlas API")
                .version(crate::VERSION)
                .description(Some(
                    "Governance for Microsoft Intune: every route, its capability and its problems.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_capability() {
        let doc = serde_json::to_value(build(&routes())).unwrap();
        for r in routes() {
            let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
            assert_eq!(op["operationId"], r.function, "{r:?}");
            assert!(op["x-capability"].is_string(), "{r:?}");
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        // Every `$ref` names a schema the document holds (nested types included).
        fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match v {
                serde_json::Value::Object(m) => {
                    out.extend(m.get("$ref").and_then(|r| r.as_str()));
                    m.values().for_each(|x| refs(x, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").expect("a schema reference");
            assert!(doc["components"]["schemas"][name].is_object(), "{r} does not resolve");
        }
        assert_eq!(
            path_params("/api/v1/workspaces/{ws}/environments/{env}/x"),
            ["ws", "env"]
        );
    }
}
