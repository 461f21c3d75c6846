//! Reads: items, navigations and collections with Graph's paging, `$select`/`$expand`/`$filter`/`$orderby`/`$count`.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use super::route::canonical;
use super::{Cx, not_found};
use crate::catalog::{self, TEMPLATES};
use crate::families::{self, APP_PROTECTIONS, Family, FamilyDef};
use crate::faults::PagingFault;
use crate::odata::{
    Expand, GraphReq, GraphResp, Query, ReqIds, Token, Version, encode_query, error, no_route, parse_skip_token,
    skip_token,
};
use crate::rng::guid_from;
use crate::seed;
use crate::state::{Obj, Shared, Tenant};

/// Objects behind a family, including the views (`managedAppPolicies`, `templates`, `organization`).
fn objects<'t>(t: &'t Tenant, def: &'static FamilyDef) -> Vec<(&'static FamilyDef, Cow<'t, Obj>)> {
    match def.family {
        Family::ManagedAppPolicies => APP_PROTECTIONS
            .iter()
            .flat_map(|f| t.objects(*f).iter().map(move |o| (families::def(*f), Cow::Borrowed(o))))
            .collect(),
        Family::IntentTemplates => TEMPLATES
            .iter()
            .map(|tpl| (def, Cow::Owned(template_obj(t, tpl))))
            .collect(),
        Family::Organization => vec![(def, Cow::Owned(organization_obj(t)))],
        Family::GroupPolicyDefinitions => catalog::GP_DEFINITIONS
            .iter()
            .map(|d| (def, Cow::Owned(gp_definition_obj(d))))
            .collect(),
        Family::AuditEvents => t
            .audit
            .visible()
            .into_iter()
            .map(|e| {
                let id = e["id"].as_str().unwrap_or_default().to_string();
                let props = match e {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                (def, Cow::Owned(Obj::new(id, props)))
            })
            .collect(),
        f => t.objects(f).iter().map(|o| (def, Cow::Borrowed(o))).collect(),
    }
}

pub(super) fn find<'t>(t: &'t Tenant, def: &'static FamilyDef, id: &str) -> Option<(&'static FamilyDef, Cow<'t, Obj>)> {
    objects(t, def).into_iter().find(|(_, o)| o.id.eq_ignore_ascii_case(id))
}

fn template_obj(t: &Tenant, tpl: &catalog::Template) -> Obj {
    let count = t
        .objects(Family::Intents)
        .iter()
        .filter(|o| o.props.get("templateId") == Some(&json!(tpl.id)))
        .count();
    let props = json!({
        "@odata.type": "#microsoft.graph.deviceManagementTemplate", "id": tpl.id, "displayName": tpl.display_name,
        "description": null, "versionInfo": "2006", "isDeprecated": false, "intentCount": count,
        "templateType": tpl.template_type, "platformType": "windows10AndLater", "templateSubtype": tpl.subtype,
        "publishedDateTime": "2020-06-01T00:00:00Z"
    });
    let mut o = Obj::new(tpl.id.to_string(), props.as_object().cloned().unwrap_or_default());
    let settings = tpl
        .settings
        .iter()
        .enumerate()
        .map(|(i, (d, v))| seed::intent_setting(guid_from(i as u64 + 1, tpl.id.len() as u64), d, v))
        .collect();
    o.navs.insert("settings".into(), settings);
    o
}

fn gp_definition_obj(d: &catalog::GpDefinition) -> Obj {
    let props = catalog::gp_definition_json(d);
    let mut o = Obj::new(d.id.to_string(), props.as_object().cloned().unwrap_or_default());
    o.navs.insert(
        "presentations".into(),
        d.presentations.iter().map(catalog::gp_presentation_json).collect(),
    );
    o
}

/// Hides the inline parts of ADMX values that Graph returns only when expanded: a definition value's
/// `definition` and `presentationValues`, a presentation value's `presentation`.
pub(super) fn shape_nav_items(nav: &str, items: &mut [Value], expand: &[Expand]) {
    let wants = |name: &str| expand.iter().find(|e| e.name.eq_ignore_ascii_case(name));
    match nav {
        "definitionValues" => {
            let pv = wants("presentationValues");
            for item in items {
                let Value::Object(m) = item else { continue };
                if wants("definition").is_none() {
                    m.remove("definition");
                }
                match pv {
                    None => {
                        m.remove("presentationValues");
                    }
                    Some(e) => {
                        if let Some(Value::Array(values)) = m.get_mut("presentationValues") {
                            shape_nav_items("presentationValues", values, &e.nested);
                        }
                    }
                }
            }
        }
        "presentationValues" if wants("presentation").is_none() => {
            for item in items {
                if let Value::Object(m) = item {
                    m.remove("presentation");
                }
            }
        }
        _ => {}
    }
}

fn organization_obj(t: &Tenant) -> Obj {
    let domains: Vec<Value> = t
        .info
        .domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": i == 0,
                   "isInitial": d.ends_with(".onmicrosoft.com"), "name": d, "type": "Managed"})
        })
        .collect();
    let props = json!({
        "@odata.type": "#microsoft.graph.organization", "id": t.info.id, "displayName": t.info.display_name,
        "tenantType": "AAD", "countryLetterCode": "GB", "preferredLanguage": "en", "verifiedDomains": domains,
        "createdDateTime": "2019-03-01T09:00:00Z"
    });
    Obj::new(t.info.id.clone(), props.as_object().cloned().unwrap_or_default())
}

fn check_expand(cx: &Cx<'_>, def: &FamilyDef, q: &Query) -> Result<(), GraphResp> {
    for e in &q.expand {
        if canonical(def.navs, &e.name).is_none() {
            return Err(cx.bad(&format!(
                "Could not find a property named '{}' on type '{}'.",
                e.name, def.base_type
            )));
        }
    }
    Ok(())
}

/// The JSON Graph returns for one object, with computed fields and the requested expansions.
pub(super) fn render(cx: &Cx<'_>, def: &FamilyDef, obj: &Obj, expand: &[Expand], in_list: bool) -> Map<String, Value> {
    let mut m = obj.props.clone();
    let assigned = !obj.assignments().is_empty();
    match def.family {
        Family::ConfigurationPolicies => {
            m.insert(
                "settingCount".into(),
                json!(obj.navs.get("settings").map_or(0, Vec::len)),
            );
            m.insert("isAssigned".into(), json!(assigned));
        }
        Family::IosAppProtections | Family::AndroidAppProtections => {
            m.insert("isAssigned".into(), json!(assigned));
            m.insert(
                "deployedAppCount".into(),
                json!(obj.navs.get("apps").map_or(0, Vec::len)),
            );
        }
        Family::Intents => {
            m.insert("isAssigned".into(), json!(assigned));
        }
        // Lists leave the script body out; ICD re-reads each script by id.
        Family::Scripts | Family::ShellScripts if in_list => {
            m.insert("scriptContent".into(), Value::Null);
        }
        Family::HealthScripts if in_list => {
            m.insert("detectionScriptContent".into(), Value::Null);
            m.insert("remediationScriptContent".into(), Value::Null);
        }
        Family::TargetedAppConfigurations => {
            m.insert("isAssigned".into(), json!(assigned));
            m.insert(
                "deployedAppCount".into(),
                json!(obj.navs.get("apps").map_or(0, Vec::len)),
            );
        }
        Family::EnrollmentConfigurations => {
            let ty = catalog::enrollment_type(m.get("@odata.type").and_then(Value::as_str).unwrap_or_default());
            m.insert("deviceEnrollmentConfigurationType".into(), json!(ty));
        }
        Family::MobileApps => {
            m.insert("isAssigned".into(), json!(assigned));
        }
        // A policy set's status follows its deployment: nothing assigned, nothing to deploy.
        Family::PolicySets => {
            m.insert("status".into(), json!(if assigned { "success" } else { "notAssigned" }));
        }
        Family::NotificationTemplates => {
            let locale = obj
                .navs
                .get("localizedNotificationMessages")
                .and_then(|l| l.iter().find(|x| x["isDefault"] == json!(true)))
                .map_or(Value::Null, |x| x["locale"].clone());
            m.insert("defaultLocale".into(), locale);
        }
        _ => {}
    }
    m.entry("@odata.type")
        .or_insert_with(|| json!(format!("#{}", def.base_type)));
    for e in expand {
        let Some(nav) = canonical(def.navs, &e.name) else {
            continue;
        };
        let mut items = obj.navs.get(nav).cloned().unwrap_or_default();
        if nav == "scheduledActionsForRule"
            && !e
                .nested
                .iter()
                .any(|n| n.name.eq_ignore_ascii_case("scheduledActionConfigurations"))
        {
            for a in &mut items {
                if let Value::Object(a) = a {
                    a.remove("scheduledActionConfigurations");
                }
            }
        }
        shape_nav_items(nav, &mut items, &e.nested);
        // Directory objects expand to at most 20 related objects, with no nextLink (Graph's
        // query parameter docs); the full list is `GET {id}/members`.
        if def.directory {
            items.truncate(20);
        }
        // A single-valued navigation (a role assignment's `roleDefinition`) expands to the object.
        if nav == "roleDefinition" {
            m.insert(
                format!("{nav}@odata.context"),
                json!(format!("{}{}('{}')/{nav}/$entity", cx.meta(), def.path, obj.id)),
            );
            m.insert(nav.to_string(), items.into_iter().next().unwrap_or(Value::Null));
            continue;
        }
        m.insert(
            format!("{nav}@odata.context"),
            json!(format!("{}{}('{}')/{nav}", cx.meta(), def.path, obj.id)),
        );
        m.insert(nav.to_string(), Value::Array(items));
    }
    m
}

fn apply_select(m: &mut Map<String, Value>, select: &Option<Vec<String>>, expand: &[Expand]) {
    let Some(sel) = select else { return };
    m.retain(|k, _| {
        let base = k.split('@').next().unwrap_or(k);
        k.starts_with('@')
            || base == "id"
            || sel.iter().any(|s| s.eq_ignore_ascii_case(base))
            || expand.iter().any(|e| e.name.eq_ignore_ascii_case(base))
    });
}

struct PageSpec {
    default: usize,
    max: usize,
    cosmos: bool,
    always_count: bool,
}

fn page_spec(cx: &Cx<'_>, def: &FamilyDef, settings: bool) -> PageSpec {
    let (default, max) = if settings {
        (25, 1000)
    } else {
        (def.page_default, def.page_max)
    };
    let default = cx.shared.config.page_size.unwrap_or(default).max(1);
    let sc = def.family == Family::ConfigurationPolicies;
    PageSpec {
        default,
        max,
        cosmos: sc,
        always_count: sc,
    }
}

/// Pages `items` and wraps them in a collection envelope.
fn collection(
    cx: &Cx<'_>,
    t: &Tenant,
    def: &FamilyDef,
    q: &Query,
    items: Vec<Value>,
    spec: PageSpec,
    context: String,
) -> GraphResp {
    if def.directory && q.top.is_some_and(|n| n == 0 || n > def.page_max) {
        let n = q.top.unwrap_or_default();
        return error(
            cx.ids,
            400,
            "Request_UnsupportedQuery",
            &format!("Invalid page size specified: '{n}'. Must be between 1 and 999 inclusive."),
        );
    }
    let size = q
        .top
        .map(|n| n.clamp(1, spec.max))
        .unwrap_or(spec.default.min(spec.max));
    let first_page = q.skip_token.is_none();
    let offset = match &q.skip_token {
        None => q.skip,
        Some(tok) => match parse_skip_token(tok) {
            Token::Offset(o) => o,
            Token::Dead => {
                let code = if def.directory {
                    "Request_ResourceNotFound"
                } else {
                    "ResourceNotFound"
                };
                return error(cx.ids, 404, code, "The continuation token is invalid or has expired.");
            }
            Token::Invalid => return cx.bad("Invalid skip token."),
        },
    };
    let total = items.len();
    let end = offset.saturating_add(size).min(total);
    let fault = t.faults.paging_for(def.name, offset / size + 1);
    // A short page keeps its first half; its nextLink still starts after the whole page.
    let kept = match fault {
        Some(PagingFault::ShortPage) if end < total => (end - offset) / 2,
        _ => end.saturating_sub(offset),
    };
    let page: Vec<Value> = items.into_iter().skip(offset).take(kept).collect();
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context));
    let count_allowed = !def.directory
        || (first_page
            && cx
                .req
                .header("consistencylevel")
                .is_some_and(|v| v.eq_ignore_ascii_case("eventual")));
    if (q.count || spec.always_count) && count_allowed && !t.faults.no_count {
        body.insert("@odata.count".into(), json!(total));
    }
    if end < total && fault != Some(PagingFault::MissingNextLink) {
        let mut params: Vec<(String, String)> = cx
            .req
            .query
            .iter()
            .filter(|(k, _)| {
                !["$skiptoken", "skiptoken", "$skip", "skip"]
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(k))
            })
            .cloned()
            .collect();
        let dead = fault == Some(PagingFault::DeadNextLink);
        params.push(("$skiptoken".into(), skip_token(end, dead, spec.cosmos)));
        body.insert(
            "@odata.nextLink".into(),
            json!(format!("{}/{}?{}", cx.base(), cx.req.raw_path, encode_query(&params))),
        );
    }
    body.insert("value".into(), Value::Array(page));
    GraphResp::json(200, Value::Object(body))
}

pub(super) fn list(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef) -> GraphResp {
    let q = match cx.query() {
        Ok(q) => q,
        Err(e) => return e,
    };
    if let Err(e) = check_expand(cx, def, &q) {
        return e;
    }
    let mut rendered: Vec<Map<String, Value>> = objects(t, def)
        .iter()
        .map(|(d, o)| render(cx, d, o, &q.expand, true))
        .collect();
    if let Some(f) = &q.filter {
        rendered.retain(|m| f.matches(m));
    }
    if let Some((prop, desc)) = &q.orderby {
        rendered.sort_by(|a, b| {
            let o = crate::odata::compare(a.get(prop).unwrap_or(&Value::Null), b.get(prop).unwrap_or(&Value::Null))
                .unwrap_or(std::cmp::Ordering::Equal);
            if *desc { o.reverse() } else { o }
        });
    }
    let items: Vec<Value> = rendered
        .into_iter()
        .map(|mut m| {
            apply_select(&mut m, &q.select, &q.expand);
            Value::Object(m)
        })
        .collect();
    let spec = page_spec(cx, def, false);
    let context = format!("{}{}", cx.meta(), def.path);
    collection(cx, t, def, &q, items, spec, context)
}

pub(super) fn entity(cx: &Cx<'_>, def: &FamilyDef, mut m: Map<String, Value>) -> Value {
    m.insert(
        "@odata.context".into(),
        json!(format!("{}{}/$entity", cx.meta(), def.path)),
    );
    Value::Object(m)
}

pub(super) fn get(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let q = match cx.query() {
        Ok(q) => q,
        Err(e) => return e,
    };
    let Some((d, obj)) = find(t, def, id) else {
        return not_found(cx, def, id);
    };
    if let Err(e) = check_expand(cx, d, &q) {
        return e;
    }
    let mut m = render(cx, d, &obj, &q.expand, false);
    apply_select(&mut m, &q.select, &q.expand);
    GraphResp::json(200, entity(cx, def, m))
}

pub(super) fn get_nav(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str, nav: &str) -> GraphResp {
    if def.family == Family::CompliancePolicies && nav == "scheduledActionsForRule" {
        return no_route(cx.ids, "~/singleton/navigation/key/navigation", "GET", &cx.req.raw_path);
    }
    let q = match cx.query() {
        Ok(q) => q,
        Err(e) => return e,
    };
    let Some((d, obj)) = find(t, def, id) else {
        return not_found(cx, def, id);
    };
    let mut items: Vec<Value> = obj.navs.get(nav).cloned().unwrap_or_default();
    shape_nav_items(nav, &mut items, &q.expand);
    if let Some(f) = &q.filter {
        items.retain(|v| v.as_object().is_some_and(|m| f.matches(m)));
    }
    if nav == "settings" && q.expands("settingDefinitions").is_some() {
        for s in &mut items {
            s["settingDefinitions"] = json!([]);
        }
    }
    let context = format!("{}{}('{}')/{nav}", cx.meta(), d.path, obj.id);
    if nav == "settings" && d.family == Family::ConfigurationPolicies {
        let spec = PageSpec {
            always_count: true,
            ..page_spec(cx, d, true)
        };
        return collection(cx, t, d, &q, items, spec, context);
    }
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context));
    body.insert("value".into(), Value::Array(items));
    GraphResp::json(200, Value::Object(body))
}

/// `GET {id}/{nav}/{nid}`, and with `sub` `GET {id}/{nav}/{nid}/{sub}` (ADMX
/// `definitionValues/{dv}/presentationValues`).
pub(super) fn get_nav_item(
    cx: &Cx<'_>,
    t: &mut Tenant,
    def: &'static FamilyDef,
    id: &str,
    nav: &str,
    nid: &str,
    sub: Option<&str>,
) -> GraphResp {
    let q = match cx.query() {
        Ok(q) => q,
        Err(e) => return e,
    };
    let Some((d, obj)) = find(t, def, id) else {
        return not_found(cx, def, id);
    };
    let Some(item) = obj.navs.get(nav).and_then(|v| {
        v.iter()
            .find(|i| i["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(nid)))
    }) else {
        return not_found(cx, def, nid);
    };
    let Some(sub) = sub else {
        let mut item = [item.clone()];
        shape_nav_items(nav, &mut item, &q.expand);
        let [mut item] = item;
        item["@odata.context"] = cx.nav_entity_context(d, &obj.id, nav);
        return GraphResp::json(200, item);
    };
    let Some(Value::Array(values)) = item.get(sub) else {
        return cx.bad(&format!("Resource not found for the segment '{sub}'."));
    };
    let mut values = values.clone();
    shape_nav_items(sub, &mut values, &q.expand);
    let context = format!("{}{}('{}')/{nav}('{nid}')/{sub}", cx.meta(), d.path, obj.id);
    GraphResp::json(200, json!({"@odata.context": context, "value": values}))
}

/// What `SimHandle::objects` returns: each object as a beta GET with every navigation expanded.
pub(crate) fn snapshot(shared: &Shared, t: &Tenant, family: &str) -> Option<Vec<Value>> {
    let def = families::by_name(family)?;
    let req = GraphReq {
        method: "GET".into(),
        version: Version::Beta,
        raw_path: def.path.into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
        body_invalid: false,
    };
    let ids = ReqIds {
        request_id: String::new(),
        client_request_id: String::new(),
    };
    let cx = Cx {
        shared,
        req: &req,
        ids: &ids,
        strict: false,
    };
    let expand: Vec<Expand> = def
        .navs
        .iter()
        .map(|n| Expand {
            name: n.to_string(),
            nested: ["scheduledActionConfigurations", "definition", "presentationValues"]
                .iter()
                .map(|name| Expand {
                    name: name.to_string(),
                    nested: vec![Expand {
                        name: "presentation".into(),
                        nested: Vec::new(),
                    }],
                })
                .collect(),
        })
        .collect();
    Some(
        objects(t, def)
            .iter()
            .map(|(d, o)| Value::Object(render(&cx, d, o, &expand, false)))
            .collect(),
    )
}
