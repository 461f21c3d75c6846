//! The registries are the source of truth: the SAM template, the Lambda binaries and the
//! OpenAPI document must agree with them, route for route.

use std::collections::BTreeSet;
use std::path::PathBuf;

use atlas_app::manifest;
use atlas_app::registry::{Access, routes};
use atlas_app::steps::steps;
use serde_yaml::Value;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn template() -> (String, Value) {
    let text = std::fs::read_to_string(repo("infra/template.yaml")).unwrap();
    let yaml: Value = serde_yaml::from_str(&text).expect("the template is YAML");
    (text, yaml)
}

/// Strips a CloudFormation tag (`!Ref X` → `X`).
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

#[test]
fn generated_files_are_up_to_date() {
    let (text, _) = template();
    let spliced = manifest::splice(
        &text,
        manifest::TEMPLATE_BEGIN,
        manifest::TEMPLATE_END,
        &manifest::template_section(),
    )
    .unwrap();
    assert!(spliced == text, "infra/template.yaml is stale: run `cargo xtask gen`");
    let dir = repo(manifest::BIN_DIR);
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let wanted = manifest::bin_sources();
    assert_eq!(
        on_disk,
        wanted.iter().map(|(n, _)| n.clone()).collect(),
        "one binary per function: run `cargo xtask gen`"
    );
    for (name, src) in wanted {
        let have = std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap();
        assert_eq!(have, src, "{name}.rs is stale: run `cargo xtask gen`");
    }
}

#[test]
fn template_registry_and_openapi_agree() {
    let (_, t) = template();
    let resources = t["Resources"].as_mapping().expect("Resources");
    let mut http = BTreeSet::new();
    let mut sqs = BTreeSet::new();
    let mut scheduled = BTreeSet::new();
    let mut binaries = BTreeSet::new();
    for (id, res) in resources {
        if res["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let id = id.as_str().unwrap();
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("every function names its binary");
        assert_eq!(id, manifest::function_id(binary), "logical id follows the binary name");
        assert_eq!(res["Metadata"]["BuildMethod"], "rust-cargolambda");
        binaries.insert(binary.to_owned());
        for (_, ev) in res["Properties"]["Events"]
            .as_mapping()
            .expect("every function has an event")
        {
            let p = &ev["Properties"];
            match ev["Type"].as_str().unwrap() {
                "HttpApi" => {
                    let public = p["Auth"]["Authorizer"] == "NONE";
                    http.insert((
                        p["Method"].as_str().unwrap().to_owned(),
                        p["Path"].as_str().unwrap().to_owned(),
                        binary.to_owned(),
                        public,
                    ));
                }
                "SQS" => {
                    let q = untag(&p["Queue"]).as_str().unwrap().trim_end_matches(".Arn").to_owned();
                    assert_eq!(
                        p["FunctionResponseTypes"][0], "ReportBatchItemFailures",
                        "{binary} reports partial failures"
                    );
                    sqs.insert((q, binary.to_owned()));
                }
                "ScheduleV2" | "Schedule" => {
                    scheduled.insert(binary.to_owned());
                }
                other => panic!("unexpected event type {other} on {binary}"),
            }
        }
    }
    let want_http: BTreeSet<_> = routes()
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_owned(),
                r.function.to_owned(),
                r.access == Access::Public,
            )
        })
        .collect();
    assert_eq!(
        http, want_http,
        "HTTP API events = the route registry (method, path, function, public)"
    );
    let mut want_sqs: BTreeSet<_> = steps()
        .iter()
        .map(|s| (manifest::queue_id(s.queue), s.function.to_owned()))
        .collect();
    want_sqs.extend(
        steps()
            .iter()
            .map(|s| (manifest::dlq_id(s.queue), atlas_app::steps::dead_letter_function(s))),
    );
    assert_eq!(
        sqs, want_sqs,
        "SQS events = the step registry, each queue and its dead-letter consumer"
    );
    for s in steps() {
        let q = &t["Resources"][manifest::queue_id(s.queue).as_str()];
        let dlq = untag(&q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
            .as_str()
            .unwrap();
        assert_eq!(
            dlq,
            format!("{}.Arn", manifest::dlq_id(s.queue)),
            "{} has a dead-letter queue",
            s.queue
        );
    }
    assert_eq!(scheduled, BTreeSet::from([atlas_app::scheduler::FUNCTION.to_owned()]));
    let all: BTreeSet<String> = manifest::functions().into_iter().map(|f| f.name).collect();
    assert_eq!(binaries, all, "every function is in the template, and nothing else");

    let doc = serde_json::to_value(atlas_app::openapi::build(&routes())).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = op["x-capability"] == "public";
            assert_eq!(
                public,
                op.get("security").is_none(),
                "{method} {path}: security matches access"
            );
            documented.insert((
                method.to_uppercase(),
                path.clone(),
                op["operationId"].as_str().unwrap().to_owned(),
                public,
            ));
        }
    }
    assert_eq!(documented, want_http, "OpenAPI = the route registry");
    println!(
        "registry, template and OpenAPI agree on {} routes, {} queue consumers (steps and their dead-letter consumers), 1 scheduler",
        want_http.len(),
        want_sqs.len()
    );
}

#[test]
fn authenticated_routes_use_the_jwt_authorizer() {
    let (_, t) = template();
    let api = &t["Resources"]["HttpApi"]["Properties"]["Auth"];
    assert_eq!(api["DefaultAuthorizer"], "OidcAuthorizer");
    assert!(api["Authorizers"]["OidcAuthorizer"]["JwtConfiguration"].is_mapping());
}
