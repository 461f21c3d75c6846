//! Graph resource handling shared by direct requests and `$batch` items: routing, faults, permissions, and the
//! per-family semantics of graph-brief §2 (create/update/assign quirks, read-only fields, paging, `$expand`).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::families::{self, APP_PROTECTIONS, FAMILIES, Family, FamilyDef, IdStyle};
use crate::faults::{Draw, Injected, PagingFault};
use crate::odata::{
    Expand, GraphReq, GraphResp, Query, ReqIds, Token, Version, bad_request, encode_query, error, intune_message,
    no_route, parse_skip_token, server_error, skip_token, throttled,
};
use crate::rng::guid_from;
use crate::seed::{self, ALL_DEVICES_ID, ALL_USERS_ID, AssignKind, TEMPLATES, graph_time};
use crate::state::{Obj, Shared, Tenant, World};

#[derive(Debug)]
pub(crate) enum Target {
    Collection,
    Item(String),
    Nav(String, String),
    NavItem(String, String, String),
    /// `{id}/{nav}/{nid}/{sub}`: ADMX `definitionValues/{dv}/presentationValues`.
    SubNav(String, String, String, String),
    Action(String, String),
    Function(String, String, Vec<(String, String)>),
}

pub(crate) struct Route {
    pub def: &'static FamilyDef,
    pub target: Target,
    /// Route shape for stats, e.g. `deviceManagement/configurationPolicies/{id}/settings`.
    pub template: String,
}

const ACTIONS: &[&str] = &[
    "assign",
    "scheduleActionsForRules",
    "targetApps",
    "updateSettings",
    "createInstance",
    "updateDefinitionValues",
    "setPriority",
];
/// Navigations of navigation items (`{id}/{nav}/{nid}/{sub}`).
const SUB_NAVS: &[&str] = &["presentationValues"];
const FUNCTIONS: &[&str] = &["getOmaSettingPlainTextValue"];

#[derive(Debug, PartialEq)]
enum Seg {
    Name(String),
    Key(String),
    Func(String, Vec<(String, String)>),
}

fn canonical<'a>(list: &[&'a str], s: &str) -> Option<&'a str> {
    list.iter().find(|a| a.eq_ignore_ascii_case(s)).copied()
}

fn segments(raw_path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for raw in raw_path.split('/').filter(|s| !s.is_empty()) {
        let s = percent_decode_str(raw).decode_utf8_lossy().into_owned();
        let s = s.strip_prefix("microsoft.graph.").map(str::to_string).unwrap_or(s);
        if let Some(open) = s.find('(')
            && s.ends_with(')')
        {
            let name = s[..open].to_string();
            let inner = &s[open + 1..s.len() - 1];
            if inner.contains('=') {
                let params = inner
                    .split(',')
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('\'').to_string()))
                    .collect();
                out.push(Seg::Func(name, params));
            } else {
                if !name.is_empty() {
                    out.push(Seg::Name(name));
                }
                out.push(Seg::Key(inner.trim_matches('\'').to_string()));
            }
            continue;
        }
        // A type cast such as `microsoft.graph.managedDeviceMobileAppConfiguration` is skipped.
        if raw.contains("microsoft.graph.") && canonical(ACTIONS, &s).is_none() && canonical(FUNCTIONS, &s).is_none() {
            continue;
        }
        out.push(Seg::Name(s));
    }
    out
}

fn seg_str(s: &Seg) -> &str {
    match s {
        Seg::Name(n) | Seg::Key(n) | Seg::Func(n, _) => n,
    }
}

pub(crate) fn route(raw_path: &str) -> Result<Route, String> {
    let segs = segments(raw_path);
    let not_found = |s: &str| format!("Resource not found for the segment '{s}'.");
    let def = FAMILIES
        .iter()
        .filter(|d| {
            let parts: Vec<&str> = d.path.split('/').collect();
            parts.len() <= segs.len()
                && parts
                    .iter()
                    .zip(&segs)
                    .all(|(p, s)| matches!(s, Seg::Name(n) if n.eq_ignore_ascii_case(p)))
        })
        .max_by_key(|d| d.path.len())
        .ok_or_else(|| not_found(segs.first().map(seg_str).unwrap_or("")))?;
    let rest = &segs[def.path.split('/').count()..];
    let mut template = def.path.to_string();
    let target = match rest {
        [] => Target::Collection,
        [id] => {
            template.push_str("/{id}");
            Target::Item(seg_str(id).to_string())
        }
        [id, Seg::Name(x)] => {
            let id = seg_str(id).to_string();
            if let Some(nav) = canonical(def.navs, x) {
                template.push_str(&format!("/{{id}}/{nav}"));
                Target::Nav(id, nav.to_string())
            } else if let Some(a) = canonical(ACTIONS, x) {
                template.push_str(&format!("/{{id}}/{a}"));
                Target::Action(id, a.to_string())
            } else {
                return Err(not_found(x));
            }
        }
        [id, Seg::Func(f, params)] => {
            let f = canonical(FUNCTIONS, f).ok_or_else(|| not_found(f))?;
            template.push_str(&format!("/{{id}}/{f}"));
            Target::Function(seg_str(id).to_string(), f.to_string(), params.clone())
        }
        [id, Seg::Name(x), nid] => {
            let nav = canonical(def.navs, x).ok_or_else(|| not_found(x))?;
            template.push_str(&format!("/{{id}}/{nav}/{{id}}"));
            Target::NavItem(seg_str(id).to_string(), nav.to_string(), seg_str(nid).to_string())
        }
        [id, Seg::Name(x), nid, Seg::Name(sub)] if canonical(def.navs, x).is_some() => {
            let nav = canonical(def.navs, x).unwrap_or_default();
            let sub = canonical(SUB_NAVS, sub).ok_or_else(|| not_found(sub))?;
            template.push_str(&format!("/{{id}}/{nav}/{{id}}/{sub}"));
            Target::SubNav(
                seg_str(id).to_string(),
                nav.to_string(),
                seg_str(nid).to_string(),
                sub.to_string(),
            )
        }
        [_, other, ..] => return Err(not_found(seg_str(other))),
    };
    Ok(Route { def, target, template })
}

/// Per-request context.
pub(crate) struct Cx<'a> {
    pub shared: &'a Shared,
    pub req: &'a GraphReq,
    pub ids: &'a ReqIds,
    pub strict: bool,
}

impl Cx<'_> {
    fn version(&self) -> Version {
        self.req.version
    }

    fn meta(&self) -> String {
        format!("{}/{}/$metadata#", self.shared.base_url, self.version().as_str())
    }

    fn base(&self) -> String {
        format!("{}/{}", self.shared.base_url, self.version().as_str())
    }

    fn query(&self) -> Result<Query, GraphResp> {
        Query::parse(&self.req.query, self.version() == Version::Beta).map_err(|m| bad_request(self.ids, &m))
    }

    fn bad(&self, m: &str) -> GraphResp {
        bad_request(self.ids, m)
    }
}

/// Runs one Graph request for an authenticated caller: stats, faults, routing, permissions, then the operation.
pub(crate) fn execute(
    shared: &Shared,
    w: &mut World,
    caller: &Caller,
    req: &GraphReq,
    ids: &ReqIds,
    batch_item: bool,
) -> GraphResp {
    if req.version == Version::Beta
        && req
            .raw_path
            .trim_end_matches('/')
            .eq_ignore_ascii_case("deviceManagement/operationApprovalPolicies")
    {
        return approval_policies(w, caller, req, ids);
    }
    let routed = route(&req.raw_path);
    let template = routed
        .as_ref()
        .map(|r| r.template.clone())
        .unwrap_or_else(|_| "(unrouted)".into());
    let t = &mut w.tenants[caller.tenant_index];
    t.count_request(&req.method, &template);
    let tenant_id = t.info.id.clone();
    let url = req.url_for_hash();
    let draw = Draw {
        seed: shared.config.seed,
        tenant: &tenant_id,
        method: &req.method,
        url: &url,
        is_write: req.is_write(),
        batch_item,
    };
    match t.faults.decide(&mut t.fault_state, &draw, true) {
        Some(Injected::Throttled { retry_after }) => {
            t.stats.throttled += 1;
            return throttled(ids, retry_after);
        }
        Some(Injected::ServerError { status, retry_after }) => {
            t.count_admitted();
            t.stats.server_errors += 1;
            return server_error(ids, status, retry_after);
        }
        None => t.count_admitted(),
    }
    let route = match routed {
        Ok(r) => r,
        Err(m) => return bad_request(ids, &m),
    };
    let def = route.def;
    if req.version == Version::V1 && !def.v1 {
        let last = def.path.rsplit('/').next().unwrap_or(def.path);
        return bad_request(ids, &format!("Resource not found for the segment '{last}'."));
    }
    let write = req.is_write();
    let needed = if write { def.write_roles } else { def.read_roles };
    if t.faults.forbids(def.name) || !families::allowed(&caller.roles, needed) {
        return forbidden(ids, def, &req.raw_path);
    }
    let protected = t.faults.approval_required
        || families::approval_policy_type(def.name)
            .is_some_and(|ty| t.faults.approval_policies.iter().any(|p| p == ty));
    if write && protected && !def.directory {
        if req.header("x-msft-approval-justification").is_none() {
            return bad_request(
                ids,
                "Header 'x-msft-approval-justification' is required to request approval",
            );
        }
        if req.header("x-msft-approval-code").is_none() {
            let code = t.rng.guid();
            return error(
                ids,
                403,
                "ApprovalRequired",
                "This operation requires approval by another administrator.",
            )
            .with_header("x-msft-approval-code", code);
        }
    }
    if req.body_invalid {
        return bad_request(
            ids,
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        );
    }
    let cx = Cx {
        shared,
        req,
        ids,
        strict: shared.config.strict_references,
    };
    dispatch(&cx, t, &route)
}

/// `GET /beta/deviceManagement/operationApprovalPolicies`: the tenant's MAA access policies (read-only
/// here). `approval_required` stands for a policy of every type.
fn approval_policies(w: &mut World, caller: &Caller, req: &GraphReq, ids: &ReqIds) -> GraphResp {
    let t = &mut w.tenants[caller.tenant_index];
    t.count_request(&req.method, "deviceManagement/operationApprovalPolicies");
    t.count_admitted();
    if req.method != "GET" {
        return error(
            ids,
            405,
            "BadRequest",
            "The operation approval policies are read-only here.",
        );
    }
    const READ: &[&str] = &[
        "DeviceManagementRBAC.Read.All",
        "DeviceManagementRBAC.ReadWrite.All",
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementConfiguration.ReadWrite.All",
    ];
    if !caller.roles.iter().any(|r| READ.contains(&r.as_str())) {
        return error(
            ids,
            403,
            "Forbidden",
            &intune_message(
                ids,
                "Application is not authorized to perform this operation",
                &req.raw_path,
            ),
        );
    }
    let types: Vec<&str> = if t.faults.approval_required {
        families::APPROVAL_POLICY_TYPES.to_vec()
    } else {
        t.faults.approval_policies.iter().map(String::as_str).collect()
    };
    let tenant = t.info.id.clone();
    let value: Vec<Value> = types
        .iter()
        .map(|ty| {
            json!({
                "@odata.type": "#microsoft.graph.operationApprovalPolicy",
                "id": guid_from(
                    crate::rng::hash_parts(1, &[tenant.as_str(), "maa", ty]),
                    crate::rng::hash_parts(2, &[tenant.as_str(), "maa", ty]),
                ),
                "displayName": format!("MAA: {ty}"),
                "description": "",
                "policyType": ty,
                "policyPlatform": "notApplicable",
                "approverGroupIds": [],
                "lastModifiedDateTime": "2026-05-01T00:00:00Z",
            })
        })
        .collect();
    let context = "https://graph.microsoft.com/beta/$metadata#deviceManagement/operationApprovalPolicies";
    GraphResp::json(200, json!({"@odata.context": context, "value": value}))
}

fn forbidden(ids: &ReqIds, def: &FamilyDef, path: &str) -> GraphResp {
    if def.directory {
        error(
            ids,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    } else {
        error(
            ids,
            403,
            "Forbidden",
            &intune_message(ids, "Application is not authorized to perform this operation", path),
        )
    }
}

fn not_found(cx: &Cx<'_>, def: &FamilyDef, id: &str) -> GraphResp {
    if def.directory {
        return error(
            cx.ids,
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    }
    // Intune nests a JSON document in the message.
    let inner = json!({
        "_version": 3,
        "Message": intune_message(cx.ids, "An error has occurred", &format!("{}('{id}')", def.path)),
        "CustomApiErrorPhrase": "",
        "RetryAfter": null,
        "ErrorSourceService": "",
        "HttpHeaders": "{}",
    });
    error(
        cx.ids,
        404,
        "ResourceNotFound",
        &serde_json::to_string_pretty(&inner).unwrap_or_default(),
    )
}

fn route_shape(target: &Target) -> &'static str {
    match target {
        Target::Collection => "~/singleton/navigation",
        Target::Item(_) => "~/singleton/navigation/key",
        Target::Nav(..) => "~/singleton/navigation/key/navigation",
        Target::NavItem(..) => "~/singleton/navigation/key/navigation/key",
        Target::SubNav(..) => "~/singleton/navigation/key/navigation/key/navigation",
        Target::Action(..) => "~/singleton/navigation/key/action",
        Target::Function(..) => "~/singleton/navigation/key/function",
    }
}

fn dispatch(cx: &Cx<'_>, t: &mut Tenant, route: &Route) -> GraphResp {
    let def = route.def;
    let method = cx.req.method.to_ascii_uppercase();
    match (method.as_str(), &route.target) {
        ("GET", Target::Collection) => list(cx, t, def),
        ("POST", Target::Collection) if def.create_status != 0 => create(cx, t, def),
        ("GET", Target::Item(id)) => get(cx, t, def, id),
        ("PATCH", Target::Item(id)) if def.patch_status != 0 => patch(cx, t, def, id),
        ("PUT", Target::Item(id)) if def.put_status != 0 => put(cx, t, def, id),
        ("DELETE", Target::Item(id)) if def.delete_status != 0 => delete(cx, t, def, id),
        ("GET", Target::Nav(id, nav)) => get_nav(cx, t, def, id, nav),
        ("POST", Target::Nav(id, nav)) if nav == "assignments" && def.assign.is_some() => {
            add_assignment(cx, t, def, id)
        }
        ("POST", Target::Nav(id, nav)) if nav == "definitionValues" => add_definition_value(cx, t, def, id),
        ("POST", Target::Nav(id, nav)) if nav == "localizedNotificationMessages" => {
            add_localized_message(cx, t, def, id)
        }
        ("GET", Target::NavItem(id, nav, nid)) => get_nav_item(cx, t, def, id, nav, nid),
        ("DELETE", Target::NavItem(id, nav, nid)) if nav == "assignments" && def.assign.is_some() => {
            delete_assignment(cx, t, def, id, nid)
        }
        ("PATCH", Target::NavItem(id, nav, nid)) if nav == "localizedNotificationMessages" => {
            patch_localized_message(cx, t, def, id, nid)
        }
        ("DELETE", Target::NavItem(id, nav, nid))
            if matches!(nav.as_str(), "localizedNotificationMessages" | "definitionValues") =>
        {
            delete_nav_item(cx, t, def, id, nav, nid)
        }
        ("GET", Target::SubNav(id, nav, nid, sub)) => get_sub_nav(cx, t, def, id, nav, nid, sub),
        ("POST", Target::Action(id, action)) => run_action(cx, t, def, id, action),
        ("GET", Target::Function(id, f, params)) => run_function(cx, t, def, id, f, params),
        _ => no_route(cx.ids, route_shape(&route.target), &method, &cx.req.raw_path),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

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
        Family::GroupPolicyDefinitions => seed::GP_DEFINITIONS
            .iter()
            .map(|d| (def, Cow::Owned(gp_definition_obj(d))))
            .collect(),
        f => t.objects(f).iter().map(|o| (def, Cow::Borrowed(o))).collect(),
    }
}

fn find<'t>(t: &'t Tenant, def: &'static FamilyDef, id: &str) -> Option<(&'static FamilyDef, Cow<'t, Obj>)> {
    objects(t, def).into_iter().find(|(_, o)| o.id.eq_ignore_ascii_case(id))
}

fn template_obj(t: &Tenant, tpl: &seed::Template) -> Obj {
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

fn gp_definition_obj(d: &seed::GpDefinition) -> Obj {
    let props = seed::gp_definition_json(d);
    let mut o = Obj::new(d.id.to_string(), props.as_object().cloned().unwrap_or_default());
    o.navs.insert(
        "presentations".into(),
        d.presentations.iter().map(seed::gp_presentation_json).collect(),
    );
    o
}

/// Hides the inline parts of ADMX values that Graph returns only when expanded: a definition value's
/// `definition` and `presentationValues`, a presentation value's `presentation`.
fn shape_nav_items(nav: &str, items: &mut [Value], expand: &[Expand]) {
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
fn render(cx: &Cx<'_>, def: &FamilyDef, obj: &Obj, expand: &[Expand], in_list: bool) -> Map<String, Value> {
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
            let ty = seed::enrollment_type(m.get("@odata.type").and_then(Value::as_str).unwrap_or_default());
            m.insert("deviceEnrollmentConfigurationType".into(), json!(ty));
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

fn list(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef) -> GraphResp {
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

fn entity(cx: &Cx<'_>, def: &FamilyDef, mut m: Map<String, Value>) -> Value {
    m.insert(
        "@odata.context".into(),
        json!(format!("{}{}/$entity", cx.meta(), def.path)),
    );
    Value::Object(m)
}

fn get(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
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

fn get_nav(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str, nav: &str) -> GraphResp {
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

fn get_nav_item(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str, nav: &str, nid: &str) -> GraphResp {
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
    let mut item = [item.clone()];
    shape_nav_items(nav, &mut item, &q.expand);
    let [mut item] = item;
    item["@odata.context"] = json!(format!("{}{}('{}')/{nav}/$entity", cx.meta(), d.path, obj.id));
    GraphResp::json(200, item)
}

/// `GET {id}/definitionValues/{dv}/presentationValues` (ADMX).
fn get_sub_nav(
    cx: &Cx<'_>,
    t: &mut Tenant,
    def: &'static FamilyDef,
    id: &str,
    nav: &str,
    nid: &str,
    sub: &str,
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
    let Some(Value::Array(values)) = item.get(sub) else {
        return cx.bad(&format!("Resource not found for the segment '{sub}'."));
    };
    let mut values = values.clone();
    shape_nav_items(sub, &mut values, &q.expand);
    let context = format!("{}{}('{}')/{nav}('{nid}')/{sub}", cx.meta(), d.path, obj.id);
    GraphResp::json(200, json!({"@odata.context": context, "value": values}))
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

fn now() -> String {
    graph_time(time::OffsetDateTime::now_utc())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Patch,
    Put,
}

/// Server-managed: silently replaced.
const IGNORED: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "modifiedDateTime",
    "version",
];
/// Read-only: rejected with 400, so a client that skips the graph-brief §2.2 stripping finds out.
const READ_ONLY: &[&str] = &["supportsScopeTags", "isAssigned"];

fn family_read_only(f: Family) -> &'static [&'static str] {
    match f {
        Family::ConfigurationPolicies => &["settingCount"],
        Family::IosAppProtections | Family::AndroidAppProtections => &["deployedAppCount"],
        Family::AssignmentFilters => &["payloads"],
        Family::TargetedAppConfigurations => &["deployedAppCount"],
        Family::HealthScripts => &["isGlobalScript", "highestAvailableVersion"],
        Family::EnrollmentConfigurations => &["deviceEnrollmentConfigurationType"],
        Family::FeatureUpdateProfiles => &["deployableContentDisplayName", "endOfSupportDate"],
        Family::NotificationTemplates => &["defaultLocale"],
        _ => &[],
    }
}

fn nested_annotation(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            if k.ends_with("@odata.context") || k.ends_with("@odata.nextLink") {
                Some(k.clone())
            } else {
                nested_annotation(v)
            }
        }),
        Value::Array(a) => a.iter().find_map(nested_annotation),
        _ => None,
    }
}

/// Validates a create/update body and returns the storable properties (navigation values left in place).
fn clean_body(cx: &Cx<'_>, def: &FamilyDef, mode: Mode) -> Result<Map<String, Value>, GraphResp> {
    let body = match &cx.req.body {
        Some(Value::Object(m)) => m,
        Some(_) => return Err(cx.bad("The request payload must be a JSON object.")),
        None => return Err(cx.bad("Empty Payload. JSON content expected.")),
    };
    let mut out = Map::new();
    for (k, v) in body {
        if k == "@odata.type" {
            out.insert(k.clone(), v.clone());
            continue;
        }
        if k == "@odata.context"
            || k.ends_with("@odata.context")
            || k.ends_with("@odata.nextLink")
            || k.ends_with("@odata.count")
        {
            return Err(cx.bad(&format!("The annotation '{k}' is not allowed in a request payload.")));
        }
        if k.contains("@odata.") || IGNORED.contains(&k.as_str()) {
            continue;
        }
        if READ_ONLY.contains(&k.as_str()) || family_read_only(def.family).contains(&k.as_str()) {
            return Err(cx.bad(&format!("Property '{k}' is read-only and cannot be set.")));
        }
        let nav_allowed = matches!(
            (def.family, k.as_str(), mode),
            (Family::ConfigurationPolicies, "settings", Mode::Create | Mode::Put)
                | (Family::CompliancePolicies, "scheduledActionsForRule", Mode::Create)
        );
        if (def.navs.contains(&k.as_str()) || k == "assignments") && !nav_allowed {
            let msg = if mode == Mode::Patch {
                format!(
                    "Cannot apply PATCH to navigation property '{k}' on entity type '{}'.",
                    def.base_type
                )
            } else {
                format!("Navigation property '{k}' cannot be set in this request; use the dedicated action.")
            };
            return Err(cx.bad(&msg));
        }
        if let Some(a) = nested_annotation(v) {
            return Err(cx.bad(&format!("The annotation '{a}' is not allowed in a request payload.")));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// The full `@odata.type` to store, checked against the family.
fn check_type(def: &FamilyDef, given: Option<&Value>) -> Result<String, String> {
    let base_short = def.base_type.trim_start_matches("microsoft.graph.");
    let Some(given) = given else {
        if def.abstract_base {
            return Err(format!(
                "An instance of the abstract type '{}' cannot be created; specify a derived type with @odata.type.",
                def.base_type
            ));
        }
        return Ok(format!("#{}", def.base_type));
    };
    let g = given.as_str().unwrap_or_default().trim_start_matches('#');
    let name = g
        .strip_prefix("microsoft.graph.")
        .ok_or_else(|| format!("Unknown type '{g}'."))?;
    let ok = match def.family {
        Family::DeviceConfigurations => name.ends_with("Configuration") && name != base_short,
        Family::CompliancePolicies => name.ends_with("CompliancePolicy") && name != base_short,
        Family::AutopilotProfiles => name.ends_with("WindowsAutopilotDeploymentProfile") && name != base_short,
        Family::EnrollmentConfigurations => {
            name.contains("Enrollment") && name.ends_with("Configuration") && name != base_short
        }
        Family::MobileAppConfigurations => name.ends_with("AppConfiguration") && name != base_short,
        _ => name == base_short,
    };
    if ok {
        Ok(format!("#microsoft.graph.{name}"))
    } else {
        Err(format!("Type '{g}' is not valid for {}.", def.name))
    }
}

fn new_id(t: &mut Tenant, def: &FamilyDef) -> String {
    match def.id_style {
        IdStyle::Guid => t.rng.guid(),
        IdStyle::TPrefixed => format!("T_{}", t.rng.guid()),
        IdStyle::APrefixed => format!("A_{}", t.rng.guid()),
        IdStyle::Numeric => {
            let max = t
                .objects(def.family)
                .iter()
                .filter_map(|o| o.id.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            (max + 1).to_string()
        }
    }
}

fn scope_tag_key(def: &FamilyDef) -> Option<&'static str> {
    match def.family {
        Family::AssignmentFilters => Some("roleScopeTags"),
        Family::Groups | Family::RoleScopeTags | Family::Organization => None,
        _ => Some("roleScopeTagIds"),
    }
}

fn check_scope_tags(cx: &Cx<'_>, t: &Tenant, def: &FamilyDef, props: &Map<String, Value>) -> Result<(), GraphResp> {
    let Some(key) = scope_tag_key(def) else { return Ok(()) };
    let Some(tags) = props.get(key) else { return Ok(()) };
    let Some(tags) = tags.as_array() else {
        return Err(cx.bad(&format!("'{key}' must be an array of strings.")));
    };
    if !cx.strict {
        return Ok(());
    }
    for tag in tags {
        let id = tag.as_str().unwrap_or_default();
        if t.find(Family::RoleScopeTags, id).is_none() {
            return Err(cx.bad(&format!("Scope tag '{id}' does not exist in this tenant.")));
        }
    }
    Ok(())
}

fn required_str(cx: &Cx<'_>, props: &Map<String, Value>, key: &str) -> Result<(), GraphResp> {
    match props.get(key).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(()),
        _ => Err(cx.bad(&format!("The property '{key}' is required."))),
    }
}

fn validate_settings(cx: &Cx<'_>, v: Option<&Value>) -> Result<Vec<Value>, GraphResp> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Some(arr) = v.as_array() else {
        return Err(cx.bad("'settings' must be an array."));
    };
    let mut out = Vec::with_capacity(arr.len());
    for (i, s) in arr.iter().enumerate() {
        let inst = &s["settingInstance"];
        if !inst["@odata.type"].is_string() || !inst["settingDefinitionId"].is_string() {
            return Err(cx.bad(&format!(
                "Setting {i} is invalid: settingInstance needs '@odata.type' and 'settingDefinitionId'."
            )));
        }
        let mut s = s.clone();
        if let Value::Object(m) = &mut s {
            m.remove("id");
            m.remove("settingDefinitions");
        }
        out.push(s);
    }
    Ok(out)
}

fn validate_actions(cx: &Cx<'_>, t: &mut Tenant, v: Option<&Value>) -> Result<Vec<Value>, GraphResp> {
    let one_block = || cx.bad("Compliance policy must have one and only one block scheduled action");
    let Some(rules) = v.and_then(Value::as_array) else {
        return Err(one_block());
    };
    let mut blocks = 0;
    let mut out = Vec::new();
    for rule in rules {
        let Some(configs) = rule["scheduledActionConfigurations"].as_array() else {
            return Err(one_block());
        };
        let mut new_configs = Vec::new();
        for c in configs {
            if c["actionType"].as_str() == Some("block") {
                blocks += 1;
            }
            let mut c = c.clone();
            c["id"] = json!(t.rng.guid());
            if c.get("notificationMessageCCList").is_none() {
                c["notificationMessageCCList"] = json!([]);
            }
            new_configs.push(c);
        }
        out.push(
            json!({"id": t.rng.guid(), "ruleName": rule.get("ruleName").cloned().unwrap_or(Value::Null),
                        "scheduledActionConfigurations": new_configs}),
        );
    }
    if blocks != 1 {
        return Err(one_block());
    }
    Ok(out)
}

fn bump_version(props: &mut Map<String, Value>, t: &mut Tenant, def: &FamilyDef) {
    props.insert("lastModifiedDateTime".into(), json!(now()));
    if !def.has_version {
        return;
    }
    let next = match props.get("version") {
        Some(Value::Number(n)) => json!(n.as_u64().unwrap_or(0) + 1),
        Some(Value::String(_)) => json!(format!("\"{}\"", t.rng.guid())),
        _ => json!(1),
    };
    props.insert("version".into(), next);
}

fn create(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef) -> GraphResp {
    let mut props = match clean_body(cx, def, Mode::Create) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let odata_type = match check_type(def, props.get("@odata.type")) {
        Ok(ty) => ty,
        Err(m) => return cx.bad(&m),
    };
    if def.family == Family::Groups {
        return create_group(cx, t, def, props);
    }
    if let Err(e) = required_str(cx, &props, def.name_prop) {
        return e;
    }
    if let Err(e) = check_scope_tags(cx, t, def, &props) {
        return e;
    }
    let mut navs = Vec::new();
    match def.family {
        Family::ConfigurationPolicies => {
            for k in ["platforms", "technologies"] {
                if let Err(e) = required_str(cx, &props, k) {
                    return e;
                }
            }
            match validate_settings(cx, props.remove("settings").as_ref()) {
                Ok(s) => navs.push(("settings", s)),
                Err(e) => return e,
            }
            props.entry("templateReference").or_insert_with(
                || json!({"templateId": "", "templateFamily": "none", "templateDisplayName": null, "templateDisplayVersion": null}),
            );
            props.entry("creationSource").or_insert(Value::Null);
        }
        Family::CompliancePolicies => match validate_actions(cx, t, props.remove("scheduledActionsForRule").as_ref()) {
            Ok(a) => navs.push(("scheduledActionsForRule", a)),
            Err(e) => return e,
        },
        Family::Scripts | Family::ShellScripts => {
            if let Err(e) = check_base64(cx, &props, &["scriptContent"]) {
                return e;
            }
        }
        Family::HealthScripts => {
            if let Err(e) = check_base64(cx, &props, &["detectionScriptContent", "remediationScriptContent"]) {
                return e;
            }
            props.insert("isGlobalScript".into(), json!(false));
            props.insert("highestAvailableVersion".into(), Value::Null);
            props.insert("version".into(), json!("1"));
            props
                .entry("deviceHealthScriptType")
                .or_insert(json!("deviceHealthScript"));
        }
        Family::GroupPolicyConfigurations => {
            navs.push(("definitionValues", Vec::new()));
            props
                .entry("policyConfigurationIngestionType")
                .or_insert(json!("builtIn"));
        }
        Family::AutopilotProfiles => {
            navs.push(("assignedDevices", Vec::new()));
            props.entry("managementServiceAppId").or_insert(Value::Null);
            props.entry("deviceType").or_insert(json!("windowsPc"));
        }
        Family::EnrollmentConfigurations => {
            // The service places a new configuration last; `setPriority` moves it (graph-brief §2).
            let next = t
                .objects(def.family)
                .iter()
                .filter_map(|o| o.props.get("priority").and_then(Value::as_u64))
                .max()
                .unwrap_or(0)
                + 1;
            props.insert("priority".into(), json!(next));
        }
        Family::MobileAppConfigurations => match props.get("targetedMobileApps") {
            None | Some(Value::Null) => {
                props.insert("targetedMobileApps".into(), json!([]));
            }
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(_) => return cx.bad("'targetedMobileApps' must be an array of app ids."),
        },
        Family::TargetedAppConfigurations => {
            navs.push(("apps", Vec::new()));
            props.entry("appGroupType").or_insert(json!("selectedPublicApps"));
            props.entry("customSettings").or_insert(json!([]));
        }
        Family::FeatureUpdateProfiles => {
            if let Err(e) = set_feature_update_version(cx, &mut props, true) {
                return e;
            }
        }
        Family::NotificationTemplates => {
            navs.push(("localizedNotificationMessages", Vec::new()));
            props.entry("brandingOptions").or_insert(json!("none"));
        }
        Family::AssignmentFilters => {
            for k in ["platform", "rule"] {
                if let Err(e) = required_str(cx, &props, k) {
                    return e;
                }
            }
            props
                .entry("assignmentFilterManagementType")
                .or_insert(json!("devices"));
            props.entry("payloads").or_insert(json!([]));
        }
        Family::RoleScopeTags => {
            props.insert("isBuiltIn".into(), json!(false));
        }
        Family::IosAppProtections | Family::AndroidAppProtections => {
            navs.push(("apps", Vec::new()));
            props.entry("appGroupType").or_insert(json!("selectedPublicApps"));
        }
        _ => {}
    }
    let id = new_id(t, def);
    let ts = now();
    props.insert("id".into(), json!(id));
    props.insert("@odata.type".into(), json!(odata_type));
    props.insert("createdDateTime".into(), json!(ts));
    props.insert("lastModifiedDateTime".into(), json!(ts));
    if let Some(key) = scope_tag_key(def) {
        props.entry(key).or_insert(json!(["0"]));
    }
    if def.has_version {
        let v = if matches!(
            def.family,
            Family::IosAppProtections | Family::AndroidAppProtections | Family::TargetedAppConfigurations
        ) {
            json!(format!("\"{}\"", t.rng.guid()))
        } else {
            json!(1)
        };
        props.insert("version".into(), v);
    }
    if def.family == Family::DeviceConfigurations {
        props.insert("supportsScopeTags".into(), json!(true));
    }
    let mut obj = Obj::new(id.clone(), props);
    for (k, v) in navs {
        if k == "settings" {
            obj.set_settings(v);
        } else {
            obj.navs.insert(k.into(), v);
        }
    }
    if def.assign.is_some() {
        obj.navs.insert("assignments".into(), Vec::new());
    }
    obj.protect_oma_settings();
    let m = render(cx, def, &obj, &[], false);
    t.objects_mut(def.family).push(obj);
    let location = format!("{}/{}('{id}')", cx.base(), def.path);
    GraphResp::json(def.create_status, entity(cx, def, m)).with_header("Location", location)
}

fn check_base64(cx: &Cx<'_>, props: &Map<String, Value>, keys: &[&str]) -> Result<(), GraphResp> {
    for k in keys {
        if let Some(c) = props.get(*k)
            && !c.is_null()
            && c.as_str().is_none_or(|s| B64.decode(s).is_err())
        {
            return Err(cx.bad(&format!("'{k}' must be base64.")));
        }
    }
    Ok(())
}

/// Checks `featureUpdateVersion` against the versions Intune offers and fills the computed fields.
fn set_feature_update_version(cx: &Cx<'_>, props: &mut Map<String, Value>, required: bool) -> Result<(), GraphResp> {
    let Some(v) = props.get("featureUpdateVersion") else {
        return if required {
            Err(cx.bad("The property 'featureUpdateVersion' is required."))
        } else {
            Ok(())
        };
    };
    let given = v.as_str().unwrap_or_default();
    let Some((version, display, eos)) = seed::FEATURE_UPDATES
        .iter()
        .find(|(x, _, _)| x.eq_ignore_ascii_case(given))
    else {
        return Err(cx.bad(&format!("Feature update version '{given}' is not valid.")));
    };
    props.insert("featureUpdateVersion".into(), json!(version));
    props.insert("deployableContentDisplayName".into(), json!(display));
    props.insert("endOfSupportDate".into(), json!(eos));
    Ok(())
}

fn create_group(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, mut props: Map<String, Value>) -> GraphResp {
    for (k, is_bool) in [
        ("displayName", false),
        ("mailEnabled", true),
        ("mailNickname", false),
        ("securityEnabled", true),
    ] {
        let ok = if is_bool {
            props.get(k).is_some_and(Value::is_boolean)
        } else {
            props.get(k).and_then(Value::as_str).is_some_and(|s| !s.is_empty())
        };
        if !ok {
            return error(
                cx.ids,
                400,
                "Request_BadRequest",
                &format!("Invalid value specified for property '{k}' of resource 'Group'."),
            );
        }
    }
    let id = t.rng.guid();
    let ts = now();
    let ts = format!("{}Z", &ts[..19]);
    let sid = format!(
        "S-1-12-1-{}-{}-{}-{}",
        t.rng.next_u64() as u32,
        t.rng.next_u64() as u32,
        t.rng.next_u64() as u32,
        t.rng.next_u64() as u32
    );
    for (k, v) in [
        ("id", json!(id)),
        ("@odata.type", json!("#microsoft.graph.group")),
        ("createdDateTime", json!(ts)),
        ("securityIdentifier", json!(sid)),
        ("deletedDateTime", Value::Null),
        ("mail", Value::Null),
    ] {
        props.insert(k.into(), v);
    }
    for (k, v) in [
        ("groupTypes", json!([])),
        ("membershipRule", Value::Null),
        ("membershipRuleProcessingState", Value::Null),
        ("description", Value::Null),
        ("visibility", Value::Null),
        ("classification", Value::Null),
    ] {
        props.entry(k).or_insert(v);
    }
    let obj = Obj::new(id.clone(), props);
    let m = render(cx, def, &obj, &[], false);
    t.objects_mut(def.family).push(obj);
    let location = format!("{}/directoryObjects/{id}/Microsoft.DirectoryServices.Group", cx.base());
    GraphResp::json(201, entity(cx, def, m)).with_header("Location", location)
}

fn patch(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let mut props = match clean_body(cx, def, Mode::Patch) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if def.family == Family::EnrollmentConfigurations && props.contains_key("priority") {
        return cx.bad("Priority cannot be updated with PATCH; use the setPriority action.");
    }
    if def.family == Family::FeatureUpdateProfiles
        && let Err(e) = set_feature_update_version(cx, &mut props, false)
    {
        return e;
    }
    if let Err(e) = check_scope_tags(cx, t, def, &props) {
        return e;
    }
    let Some(existing) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    if let Some(ty) = props.get("@odata.type")
        && ty.as_str().map(|s| s.trim_start_matches('#'))
            != existing.props["@odata.type"]
                .as_str()
                .map(|s| s.trim_start_matches('#'))
    {
        return cx.bad("The @odata.type of an existing object cannot be changed.");
    }
    if let Some(e) = immutable_change(cx, def, existing, &props) {
        return e;
    }
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    for (k, v) in props {
        obj.props.insert(k, v);
    }
    obj.protect_oma_settings();
    let mut props = std::mem::take(&mut obj.props);
    let obj_id = obj.id.clone();
    bump_version(&mut props, t, def);
    let Some(obj) = t.find_mut(def.family, &obj_id) else {
        return not_found(cx, def, id);
    };
    obj.props = props;
    if def.patch_status == 200 {
        let m = render(cx, def, obj, &[], false);
        GraphResp::json(200, entity(cx, def, m))
    } else {
        GraphResp::empty(def.patch_status)
    }
}

/// Fields Graph refuses to change after creation.
fn immutable_change(cx: &Cx<'_>, def: &FamilyDef, existing: &Obj, props: &Map<String, Value>) -> Option<GraphResp> {
    let keys: &[&str] = match def.family {
        Family::ConfigurationPolicies => &["platforms", "technologies", "creationSource"],
        Family::AssignmentFilters => &["platform"],
        Family::AutopilotProfiles => &["managementServiceAppId"],
        _ => &[],
    };
    for k in keys {
        if let Some(v) = props.get(*k)
            && existing.props.get(*k).is_some_and(|old| old != v)
        {
            let msg = if def.family == Family::ConfigurationPolicies {
                "Platform, PolicyType, and CreationSource cannot be changed once created".to_string()
            } else {
                format!("Property '{k}' cannot be changed once created.")
            };
            return Some(cx.bad(&msg));
        }
    }
    None
}

/// Settings catalog update: the full body, settings included (graph-brief §2.1).
fn put(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let mut props = match clean_body(cx, def, Mode::Put) {
        Ok(p) => p,
        Err(e) => return e,
    };
    for k in [def.name_prop, "platforms", "technologies"] {
        if let Err(e) = required_str(cx, &props, k) {
            return e;
        }
    }
    if let Err(e) = check_scope_tags(cx, t, def, &props) {
        return e;
    }
    if let Err(m) = check_type(def, props.get("@odata.type")) {
        return cx.bad(&m);
    }
    let Some(existing) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    if let Some(e) = immutable_change(cx, def, existing, &props) {
        return e;
    }
    let settings = match validate_settings(cx, props.remove("settings").as_ref()) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let keep: Map<String, Value> = ["id", "@odata.type", "createdDateTime", "creationSource"]
        .iter()
        .filter_map(|k| existing.props.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    props.extend(keep);
    props.entry("roleScopeTagIds").or_insert(json!(["0"]));
    props
        .entry("templateReference")
        .or_insert_with(|| existing.props.get("templateReference").cloned().unwrap_or(Value::Null));
    bump_version(&mut props, t, def);
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.props = props;
    obj.set_settings(settings);
    GraphResp::empty(def.put_status)
}

fn delete(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    if def.family == Family::RoleScopeTags && id == "0" {
        return cx.bad("The built-in scope tag cannot be deleted.");
    }
    match t.find(def.family, id) {
        None => return not_found(cx, def, id),
        Some(o) if def.family == Family::AutopilotProfiles && !o.assignments().is_empty() => {
            return cx.bad("The deployment profile is assigned. Remove its assignments before deleting it.");
        }
        Some(o) if def.family == Family::EnrollmentConfigurations && is_default_enrollment(o) => {
            return cx.bad("Default enrollment configurations cannot be deleted.");
        }
        Some(_) => {}
    }
    let list = t.objects_mut(def.family);
    list.retain(|o| !o.id.eq_ignore_ascii_case(id));
    GraphResp::empty(def.delete_status)
}

fn is_default_enrollment(o: &Obj) -> bool {
    o.id.ends_with(seed::DEFAULT_ENROLLMENT_SUFFIX) || o.props.get("priority") == Some(&json!(0))
}

// ---------------------------------------------------------------------------------------------------------------
// Assignments and actions

const TARGETS: &[&str] = &[
    "groupAssignmentTarget",
    "exclusionGroupAssignmentTarget",
    "allDevicesAssignmentTarget",
    "allLicensedUsersAssignmentTarget",
];

/// Validates one requested assignment and returns its stored form.
fn build_assignment(cx: &Cx<'_>, t: &Tenant, def: &FamilyDef, policy_id: &str, a: &Value) -> Result<Value, GraphResp> {
    let kind = AssignKind::of(def.family).ok_or_else(|| cx.bad("This family has no assignments."))?;
    let target = a
        .get("target")
        .and_then(Value::as_object)
        .ok_or_else(|| cx.bad("Each assignment needs a 'target' object."))?;
    let ty = target
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_start_matches('#');
    let short = ty.strip_prefix("microsoft.graph.").unwrap_or(ty);
    let short =
        canonical(TARGETS, short).ok_or_else(|| cx.bad(&format!("Unsupported assignment target type '{ty}'.")))?;
    let mut clean = Map::new();
    clean.insert("@odata.type".into(), json!(format!("#microsoft.graph.{short}")));
    let target_id = match short {
        "groupAssignmentTarget" | "exclusionGroupAssignmentTarget" => {
            let gid = target
                .get("groupId")
                .and_then(Value::as_str)
                .ok_or_else(|| cx.bad("A group target needs 'groupId'."))?;
            if cx.strict && t.find(Family::Groups, gid).is_none() {
                return Err(cx.bad(&format!("Group '{gid}' was not found in this tenant.")));
            }
            clean.insert("groupId".into(), json!(gid));
            gid.to_string()
        }
        "allDevicesAssignmentTarget" => ALL_DEVICES_ID.to_string(),
        _ => ALL_USERS_ID.to_string(),
    };
    let ftype = target
        .get("deviceAndAppManagementAssignmentFilterType")
        .and_then(Value::as_str)
        .unwrap_or("none");
    let fid = target
        .get("deviceAndAppManagementAssignmentFilterId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != seed::NULL_GUID);
    if !["none", "include", "exclude"].contains(&ftype) {
        return Err(cx.bad(&format!("Invalid filter type '{ftype}'.")));
    }
    if ftype != "none" {
        let Some(f) = fid else {
            return Err(cx.bad("A filter type other than 'none' needs a filter id."));
        };
        if cx.strict && t.find(Family::AssignmentFilters, f).is_none() {
            return Err(cx.bad(&format!("Assignment filter '{f}' was not found in this tenant.")));
        }
    }
    clean.insert(
        "deviceAndAppManagementAssignmentFilterId".into(),
        json!(fid.filter(|_| ftype != "none")),
    );
    clean.insert("deviceAndAppManagementAssignmentFilterType".into(), json!(ftype));
    let mut stored = seed::assignment_value(kind, policy_id, &target_id, Value::Object(clean));
    if kind == AssignKind::HealthScript {
        let run = match a.get("runRemediationScript") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(cx.bad("'runRemediationScript' must be a boolean.")),
        };
        let schedule = match a.get("runSchedule") {
            None | Some(Value::Null) => json!({"@odata.type": "#microsoft.graph.deviceHealthScriptDailySchedule",
                                              "interval": 1, "useUtc": false, "time": "09:00:00"}),
            Some(Value::Object(m))
                if m.get("@odata.type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains("deviceHealthScript") && t.ends_with("Schedule")) =>
            {
                Value::Object(m.clone())
            }
            Some(_) => return Err(cx.bad("'runSchedule' needs a deviceHealthScript…Schedule '@odata.type'.")),
        };
        stored["runRemediationScript"] = json!(run);
        stored["runSchedule"] = schedule;
    }
    Ok(stored)
}

fn body_obj<'a>(cx: &'a Cx<'_>) -> Result<&'a Map<String, Value>, GraphResp> {
    match &cx.req.body {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(cx.bad("Empty Payload. JSON content expected.")),
    }
}

fn assign(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    // ICD assigns shell scripts through `deviceManagementScripts/{id}/assign` (graph-brief §2.1).
    let def = if def.family == Family::Scripts
        && t.find(Family::Scripts, id).is_none()
        && t.find(Family::ShellScripts, id).is_some()
    {
        families::def(Family::ShellScripts)
    } else {
        def
    };
    let Some(spec) = &def.assign else {
        return cx.bad("Resource not found for the segment 'assign'.");
    };
    let body = match body_obj(cx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Some(k) = body
        .keys()
        .find(|k| k.as_str() != spec.key && !spec.extra_keys.contains(&k.as_str()))
    {
        return cx.bad(&format!(
            "The parameter '{k}' in the request payload is not a valid parameter for the operation 'assign'."
        ));
    }
    let mut requested = Vec::new();
    for k in std::iter::once(&spec.key).chain(spec.extra_keys) {
        match body.get(*k) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => requested.extend(a.iter().cloned()),
            Some(_) => return cx.bad(&format!("'{k}' must be an array.")),
        }
    }
    if !body.contains_key(spec.key) {
        return cx.bad(&format!("Value cannot be null. Parameter name: {}", spec.key));
    }
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let policy_id = obj.id.clone();
    let mut stored: Vec<Value> = Vec::new();
    for a in &requested {
        match build_assignment(cx, t, def, &policy_id, a) {
            Ok(v) if !stored.iter().any(|s| s["id"] == v["id"]) => stored.push(v),
            Ok(_) => {}
            Err(e) => return e,
        }
    }
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.navs.insert("assignments".into(), stored.clone());
    if spec.returns_value {
        GraphResp::json(
            spec.status,
            json!({"@odata.context": format!("{}Collection({})", cx.meta(), spec.assignment_type), "value": stored}),
        )
    } else {
        GraphResp::empty(spec.status)
    }
}

fn add_assignment(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let Some(body) = cx.req.body.as_ref() else {
        return cx.bad("Empty Payload. JSON content expected.");
    };
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let policy_id = obj.id.clone();
    let a = match build_assignment(cx, t, def, &policy_id, body) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let list = obj.navs.entry("assignments".into()).or_default();
    if list.iter().any(|x| x["id"] == a["id"]) {
        return error(cx.ids, 409, "Conflict", "An assignment for this target already exists.");
    }
    list.push(a.clone());
    let mut a = a;
    a["@odata.context"] = json!(format!(
        "{}{}('{}')/assignments/$entity",
        cx.meta(),
        def.path,
        policy_id
    ));
    GraphResp::json(201, a)
}

fn delete_assignment(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str, aid: &str) -> GraphResp {
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let list = obj.navs.entry("assignments".into()).or_default();
    let before = list.len();
    list.retain(|a| !a["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(aid)));
    if list.len() == before {
        return not_found(cx, def, aid);
    }
    GraphResp::empty(204)
}

fn run_action(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str, action: &str) -> GraphResp {
    let unknown = || cx.bad(&format!("Resource not found for the segment '{action}'."));
    match (def.family, action) {
        (Family::AutopilotProfiles, "assign") => assign_autopilot_devices(cx, t, def, id),
        (_, "assign") => assign(cx, t, def, id),
        (Family::GroupPolicyConfigurations, "updateDefinitionValues") => update_definition_values(cx, t, def, id),
        (Family::EnrollmentConfigurations, "setPriority") => set_priority(cx, t, def, id),
        (Family::CompliancePolicies, "scheduleActionsForRules") => {
            let body = match body_obj(cx) {
                Ok(b) => b.clone(),
                Err(e) => return e,
            };
            if t.find(def.family, id).is_none() {
                return not_found(cx, def, id);
            }
            let actions = match validate_actions(cx, t, body.get("deviceComplianceScheduledActionForRules")) {
                Ok(a) => a,
                Err(e) => return e,
            };
            if let Some(obj) = t.find_mut(def.family, id) {
                obj.navs.insert("scheduledActionsForRule".into(), actions);
            }
            GraphResp::empty(204)
        }
        (
            Family::IosAppProtections | Family::AndroidAppProtections | Family::TargetedAppConfigurations,
            "targetApps",
        ) => {
            let body = match body_obj(cx) {
                Ok(b) => b.clone(),
                Err(e) => return e,
            };
            let Some(apps) = body.get("apps").and_then(Value::as_array) else {
                return cx.bad("'apps' must be an array.");
            };
            let mut entries = Vec::new();
            for a in apps {
                let ident = &a["mobileAppIdentifier"];
                // Managed-app configurations mix platforms; app protections are one platform each.
                let ios = match def.family {
                    Family::TargetedAppConfigurations => ident["bundleId"].is_string(),
                    f => f == Family::IosAppProtections,
                };
                let key = if ios { "bundleId" } else { "packageId" };
                let Some(app) = ident[key].as_str() else {
                    return cx.bad(&format!("Each app needs mobileAppIdentifier.{key}."));
                };
                entries.push(seed::app_entry(ios, app));
            }
            let Some(obj) = t.find_mut(def.family, id) else {
                return not_found(cx, def, id);
            };
            obj.navs.insert("apps".into(), entries);
            if let Some(g) = body.get("appGroupType") {
                obj.props.insert("appGroupType".into(), g.clone());
            }
            GraphResp::empty(204)
        }
        (Family::Intents, "updateSettings") => {
            let body = match body_obj(cx) {
                Ok(b) => b.clone(),
                Err(e) => return e,
            };
            let Some(settings) = body.get("settings").and_then(Value::as_array) else {
                return cx.bad("'settings' must be an array.");
            };
            let mut parsed = Vec::new();
            for s in settings {
                let Some(def_id) = s["definitionId"].as_str() else {
                    return cx.bad("Each setting needs 'definitionId'.");
                };
                let value_json = match (&s["valueJson"], &s["value"]) {
                    (Value::String(j), _) => j.clone(),
                    (_, v) => v.to_string(),
                };
                parsed.push((def_id.to_string(), value_json));
            }
            if t.find(def.family, id).is_none() {
                return not_found(cx, def, id);
            }
            let new_ids: Vec<String> = parsed.iter().map(|_| t.rng.guid()).collect();
            let Some(obj) = t.find_mut(def.family, id) else {
                return not_found(cx, def, id);
            };
            let list = obj.navs.entry("settings".into()).or_default();
            for ((def_id, vj), nid) in parsed.into_iter().zip(new_ids) {
                match list.iter_mut().find(|x| x["definitionId"].as_str() == Some(&def_id)) {
                    Some(existing) => {
                        let sid = existing["id"].as_str().unwrap_or_default().to_string();
                        *existing = seed::intent_setting(sid, &def_id, &vj);
                    }
                    None => list.push(seed::intent_setting(nid, &def_id, &vj)),
                }
            }
            let mut props = std::mem::take(&mut obj.props);
            bump_version(&mut props, t, def);
            if let Some(obj) = t.find_mut(def.family, id) {
                obj.props = props;
            }
            GraphResp::empty(204)
        }
        (Family::IntentTemplates, "createInstance") => create_instance(cx, t, id),
        _ => unknown(),
    }
}

/// Autopilot `assign` takes device ids, not groups (graph-brief §2); groups use `POST {id}/assignments`.
fn assign_autopilot_devices(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Some(k) = body.keys().find(|k| k.as_str() != "deviceIds") {
        return cx.bad(&format!(
            "The parameter '{k}' in the request payload is not a valid parameter for the operation 'assign'."
        ));
    }
    let Some(ids) = body
        .get("deviceIds")
        .and_then(Value::as_array)
        .filter(|a| a.iter().all(Value::is_string))
    else {
        return cx.bad("'deviceIds' must be an array of device ids.");
    };
    let devices: Vec<Value> = ids
        .iter()
        .map(|d| json!({"@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity", "id": d}))
        .collect();
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.navs.insert("assignedDevices".into(), devices);
    GraphResp::empty(def.assign.as_ref().map_or(204, |a| a.status))
}

/// The key inside `…('{key}')` following `marker` in an `@odata.bind` URL.
fn bind_key<'a>(bind: &'a str, marker: &str) -> Option<&'a str> {
    let lower = bind.to_ascii_lowercase();
    let start = lower.find(&marker.to_ascii_lowercase())? + marker.len();
    let rest = &bind[start..];
    let rest = rest.strip_prefix("('")?;
    rest.find("')").map(|end| &rest[..end])
}

/// Builds a stored ADMX definition value from an `updateDefinitionValues` / `definitionValues` entry. `existing`
/// is the value being updated (its id, creation time and definition are kept).
fn parse_definition_value(
    cx: &Cx<'_>,
    t: &mut Tenant,
    entry: &Value,
    existing: Option<&Value>,
) -> Result<Value, GraphResp> {
    let Some(e) = entry.as_object() else {
        return Err(cx.bad("Each definition value must be an object."));
    };
    let def_id = match e.get("definition@odata.bind").and_then(Value::as_str) {
        Some(bind) => bind_key(bind, "groupPolicyDefinitions")
            .ok_or_else(|| cx.bad(&format!("Invalid 'definition@odata.bind' value '{bind}'.")))?
            .to_string(),
        None => existing
            .and_then(|x| x["definition"]["id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| cx.bad("A definition value needs 'definition@odata.bind'."))?,
    };
    let Some(gdef) = seed::GP_DEFINITIONS.iter().find(|d| d.id.eq_ignore_ascii_case(&def_id)) else {
        return Err(cx.bad(&format!("The group policy definition '{def_id}' was not found.")));
    };
    let enabled = match e.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(cx.bad("'enabled' must be a boolean.")),
    };
    let ts = now();
    let mut values = Vec::new();
    for pv in e
        .get("presentationValues")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let bind = pv["presentation@odata.bind"].as_str().unwrap_or_default();
        let Some(pid) = bind_key(bind, "presentations") else {
            return Err(cx.bad("Each presentation value needs 'presentation@odata.bind'."));
        };
        if bind_key(bind, "groupPolicyDefinitions").is_some_and(|d| !d.eq_ignore_ascii_case(gdef.id)) {
            return Err(cx.bad(&format!(
                "Presentation '{pid}' does not belong to definition '{}'.",
                gdef.id
            )));
        }
        let Some(p) = gdef.presentations.iter().find(|p| p.id.eq_ignore_ascii_case(pid)) else {
            return Err(cx.bad(&format!(
                "Presentation '{pid}' was not found on definition '{}'.",
                gdef.id
            )));
        };
        let expected = seed::gp_value_type(p.kind);
        if let Some(ty) = pv["@odata.type"].as_str()
            && !ty
                .trim_start_matches('#')
                .eq_ignore_ascii_case(expected.trim_start_matches('#'))
        {
            return Err(cx.bad(&format!("Presentation '{pid}' takes '{expected}', not '{ty}'.")));
        }
        let v = &pv["value"];
        let ok = match p.kind {
            seed::GpKind::Text => v.is_string(),
            seed::GpKind::CheckBox => v.is_boolean(),
            seed::GpKind::Decimal => v.is_u64(),
            seed::GpKind::Dropdown(items) => v.as_str().is_some_and(|s| items.contains(&s)),
        };
        if !ok {
            return Err(cx.bad(&format!("Invalid value {v} for presentation '{pid}'.")));
        }
        values.push(seed::gp_presentation_value(t.rng.guid(), p, v.clone(), &ts));
    }
    let id = existing
        .and_then(|x| x["id"].as_str())
        .map_or_else(|| t.rng.guid(), str::to_string);
    let mut value = seed::gp_definition_value(id, gdef, enabled, values, &ts);
    if let Some(created) = existing.and_then(|x| x.get("createdDateTime")) {
        value["createdDateTime"] = created.clone();
    }
    Ok(value)
}

fn definition_of(v: &Value) -> &str {
    v["definition"]["id"].as_str().unwrap_or_default()
}

/// `POST {id}/updateDefinitionValues {added, updated, deletedIds}` → 204, all or nothing.
fn update_definition_values(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    if let Some(k) = body
        .keys()
        .find(|k| !["added", "updated", "deletedIds"].contains(&k.as_str()))
    {
        return cx.bad(&format!(
            "The parameter '{k}' in the request payload is not a valid parameter for the operation 'updateDefinitionValues'."
        ));
    }
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let mut list = obj.navs.get("definitionValues").cloned().unwrap_or_default();
    let array = |k: &str| -> Result<Vec<Value>, GraphResp> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(cx.bad(&format!("'{k}' must be an array."))),
        }
    };
    let (added, updated, deleted) = match (array("added"), array("updated"), array("deletedIds")) {
        (Ok(a), Ok(u), Ok(d)) => (a, u, d),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    for d in &deleted {
        let Some(did) = d.as_str() else {
            return cx.bad("'deletedIds' must hold strings.");
        };
        let before = list.len();
        list.retain(|v| !v["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(did)));
        if list.len() == before {
            return cx.bad(&format!("Definition value '{did}' was not found."));
        }
    }
    for u in &updated {
        let Some(uid) = u["id"].as_str() else {
            return cx.bad("Each updated definition value needs its 'id'.");
        };
        let Some(pos) = list
            .iter()
            .position(|v| v["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(uid)))
        else {
            return cx.bad(&format!("Definition value '{uid}' was not found."));
        };
        let existing = list[pos].clone();
        match parse_definition_value(cx, t, u, Some(&existing)) {
            Ok(v) => list[pos] = v,
            Err(e) => return e,
        }
    }
    for a in &added {
        let v = match parse_definition_value(cx, t, a, None) {
            Ok(v) => v,
            Err(e) => return e,
        };
        if list.iter().any(|x| definition_of(x) == definition_of(&v)) {
            return cx.bad(&format!(
                "The definition '{}' is already configured in this policy.",
                definition_of(&v)
            ));
        }
        list.push(v);
    }
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    obj.navs.insert("definitionValues".into(), list);
    obj.props.insert("lastModifiedDateTime".into(), json!(now()));
    GraphResp::empty(204)
}

/// IM's way: `POST {id}/definitionValues` with one value → 201.
fn add_definition_value(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let Some(body) = cx.req.body.clone() else {
        return cx.bad("Empty Payload. JSON content expected.");
    };
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    let policy_id = obj.id.clone();
    let v = match parse_definition_value(cx, t, &body, None) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let list = obj.navs.entry("definitionValues".into()).or_default();
    if list.iter().any(|x| definition_of(x) == definition_of(&v)) {
        return cx.bad(&format!(
            "The definition '{}' is already configured in this policy.",
            definition_of(&v)
        ));
    }
    list.push(v.clone());
    let mut shown = [v];
    shape_nav_items("definitionValues", &mut shown, &[]);
    let [mut v] = shown;
    v["@odata.context"] = json!(format!(
        "{}{}('{policy_id}')/definitionValues/$entity",
        cx.meta(),
        def.path
    ));
    GraphResp::json(201, v)
}

/// `POST deviceEnrollmentConfigurations/{id}/setPriority {"priority": n}` → 200: moves the configuration to
/// position n among the custom configurations of its type, renumbering them 1…k.
fn set_priority(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(n) = body.get("priority").and_then(Value::as_u64).filter(|n| *n >= 1) else {
        return cx.bad("'priority' must be an integer of at least 1.");
    };
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    if is_default_enrollment(obj) {
        return cx.bad("The priority of a default enrollment configuration cannot be changed.");
    }
    let kind = seed::enrollment_type(obj.props["@odata.type"].as_str().unwrap_or_default());
    let this = obj.id.clone();
    let ts = now();
    let list = t.objects_mut(def.family);
    let mut same: Vec<(u64, String)> = list
        .iter()
        .filter(|o| {
            !is_default_enrollment(o)
                && o.id != this
                && seed::enrollment_type(o.props["@odata.type"].as_str().unwrap_or_default()) == kind
        })
        .map(|o| {
            (
                o.props.get("priority").and_then(Value::as_u64).unwrap_or(0),
                o.id.clone(),
            )
        })
        .collect();
    same.sort();
    let mut order: Vec<String> = same.into_iter().map(|(_, id)| id).collect();
    let pos = (n as usize - 1).min(order.len());
    order.insert(pos, this.clone());
    for o in list.iter_mut() {
        if let Some(p) = order.iter().position(|x| *x == o.id) {
            o.props.insert("priority".into(), json!(p + 1));
            if o.id == this {
                o.props.insert("lastModifiedDateTime".into(), json!(ts));
            }
        }
    }
    GraphResp::empty(200)
}

/// `POST notificationMessageTemplates/{id}/localizedNotificationMessages` → 201; ids `{templateId}_{locale}`.
fn add_localized_message(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    for k in ["locale", "subject", "messageTemplate"] {
        if let Err(e) = required_str(cx, &body, k) {
            return e;
        }
    }
    let is_default = match body.get("isDefault") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return cx.bad("'isDefault' must be a boolean."),
    };
    let locale = body["locale"].as_str().unwrap_or_default().to_ascii_lowercase();
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let template_id = obj.id.clone();
    let list = obj.navs.entry("localizedNotificationMessages".into()).or_default();
    if list.iter().any(|m| m["locale"].as_str() == Some(locale.as_str())) {
        return error(
            cx.ids,
            409,
            "Conflict",
            &format!("A message for locale '{locale}' already exists."),
        );
    }
    let is_default = is_default || list.is_empty();
    if is_default {
        for m in list.iter_mut() {
            m["isDefault"] = json!(false);
        }
    }
    let msg = seed::localized_message(
        &template_id,
        &locale,
        body["subject"].as_str().unwrap_or_default(),
        body["messageTemplate"].as_str().unwrap_or_default(),
        is_default,
        &now(),
    );
    list.push(msg.clone());
    let mut msg = msg;
    msg["@odata.context"] = json!(format!(
        "{}{}('{template_id}')/localizedNotificationMessages/$entity",
        cx.meta(),
        def.path
    ));
    GraphResp::json(201, msg)
}

/// `PATCH …/localizedNotificationMessages/{lid}` → 200 with the message; the locale cannot change.
fn patch_localized_message(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str, lid: &str) -> GraphResp {
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    let mut changes = Map::new();
    for (k, v) in &body {
        match k.as_str() {
            "subject" | "messageTemplate" if v.is_string() => {
                changes.insert(k.clone(), v.clone());
            }
            "isDefault" if v.is_boolean() => {
                changes.insert(k.clone(), v.clone());
            }
            "locale" | "id" | "lastModifiedDateTime" | "@odata.type" => {}
            k if k.contains("@odata.") => {}
            _ => return cx.bad(&format!("Invalid value for property '{k}'.")),
        }
    }
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let template_id = obj.id.clone();
    let list = obj.navs.entry("localizedNotificationMessages".into()).or_default();
    let Some(pos) = list
        .iter()
        .position(|m| m["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(lid)))
    else {
        return not_found(cx, def, lid);
    };
    if let Some(l) = body.get("locale").and_then(Value::as_str)
        && !list[pos]["locale"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(l))
    {
        return cx.bad("The locale of a localized message cannot be changed.");
    }
    if changes.get("isDefault") == Some(&json!(true)) {
        for m in list.iter_mut() {
            m["isDefault"] = json!(false);
        }
    }
    for (k, v) in changes {
        list[pos][k.as_str()] = v;
    }
    list[pos]["lastModifiedDateTime"] = json!(now());
    let mut msg = list[pos].clone();
    msg["@odata.context"] = json!(format!(
        "{}{}('{template_id}')/localizedNotificationMessages/$entity",
        cx.meta(),
        def.path
    ));
    GraphResp::json(200, msg)
}

/// `DELETE {id}/{nav}/{nid}` for localized messages and ADMX definition values → 204.
fn delete_nav_item(cx: &Cx<'_>, t: &mut Tenant, def: &'static FamilyDef, id: &str, nav: &str, nid: &str) -> GraphResp {
    let Some(obj) = t.find_mut(def.family, id) else {
        return not_found(cx, def, id);
    };
    let list = obj.navs.entry(nav.to_string()).or_default();
    let before = list.len();
    list.retain(|a| !a["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(nid)));
    if list.len() == before {
        return not_found(cx, def, nid);
    }
    GraphResp::empty(204)
}

/// `POST templates/{templateId}/createInstance`: a new intent from the template's defaults plus `settingsDelta`.
fn create_instance(cx: &Cx<'_>, t: &mut Tenant, template_id: &str) -> GraphResp {
    let intents = families::def(Family::Intents);
    let tdef = families::def(Family::IntentTemplates);
    let Some(tpl) = TEMPLATES.iter().find(|x| x.id.eq_ignore_ascii_case(template_id)) else {
        return not_found(cx, tdef, template_id);
    };
    let body = match body_obj(cx) {
        Ok(b) => b.clone(),
        Err(e) => return e,
    };
    let Some(name) = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return cx.bad("The property 'displayName' is required.");
    };
    let tags = body.get("roleScopeTagIds").cloned().unwrap_or(json!(["0"]));
    let mut tag_props = Map::new();
    tag_props.insert("roleScopeTagIds".into(), tags.clone());
    if let Err(e) = check_scope_tags(cx, t, intents, &tag_props) {
        return e;
    }
    let delta: Vec<(String, String)> = body
        .get("settingsDelta")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    let d = s["definitionId"].as_str()?.to_string();
                    let vj = match (&s["valueJson"], &s["value"]) {
                        (Value::String(j), _) => j.clone(),
                        (_, v) => v.to_string(),
                    };
                    Some((d, vj))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut settings = Vec::new();
    for (d, v) in tpl.settings {
        let vj = delta
            .iter()
            .find(|(dd, _)| dd == d)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| v.to_string());
        settings.push(seed::intent_setting(t.rng.guid(), d, &vj));
    }
    for (d, vj) in &delta {
        if !tpl.settings.iter().any(|(td, _)| td == d) {
            settings.push(seed::intent_setting(t.rng.guid(), d, vj));
        }
    }
    let id = t.rng.guid();
    let props = json!({"@odata.type": "#microsoft.graph.deviceManagementIntent", "id": id, "displayName": name,
                       "description": body.get("description").cloned().unwrap_or(Value::Null), "templateId": tpl.id,
                       "isMigratingToConfigurationPolicy": false, "lastModifiedDateTime": now(), "roleScopeTagIds": tags});
    let mut obj = Obj::new(id, props.as_object().cloned().unwrap_or_default());
    obj.navs.insert("settings".into(), settings);
    obj.navs.insert("assignments".into(), Vec::new());
    let m = render(cx, intents, &obj, &[], false);
    t.objects_mut(Family::Intents).push(obj);
    GraphResp::json(200, entity(cx, intents, m))
}

fn run_function(
    cx: &Cx<'_>,
    t: &mut Tenant,
    def: &'static FamilyDef,
    id: &str,
    f: &str,
    params: &[(String, String)],
) -> GraphResp {
    if def.family != Family::DeviceConfigurations || f != "getOmaSettingPlainTextValue" {
        return cx.bad(&format!("Resource not found for the segment '{f}'."));
    }
    let Some(sref) = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("secretReferenceValueId"))
        .map(|(_, v)| v)
    else {
        return cx.bad("The parameter 'secretReferenceValueId' is required.");
    };
    let Some(obj) = t.find(def.family, id) else {
        return not_found(cx, def, id);
    };
    match obj.secrets.get(sref) {
        Some(v) => GraphResp::json(
            200,
            json!({"@odata.context": format!("{}Edm.String", cx.meta()), "value": v}),
        ),
        None => not_found(cx, def, sref),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MASK;

    #[test]
    fn routes() {
        let r = route("deviceManagement/configurationPolicies('abc')/settings").unwrap();
        assert_eq!(r.template, "deviceManagement/configurationPolicies/{id}/settings");
        assert!(matches!(r.target, Target::Nav(ref id, ref n) if id == "abc" && n == "settings"));
        let r =
            route("deviceManagement/deviceConfigurations/x/getOmaSettingPlainTextValue(secretReferenceValueId='s1')")
                .unwrap();
        assert!(matches!(r.target, Target::Function(_, _, ref p) if p[0].1 == "s1"));
        let r = route("deviceAppManagement/iosManagedAppProtections/T_1/microsoft.graph.assign").unwrap();
        assert!(matches!(r.target, Target::Action(_, ref a) if a == "assign"));
        assert!(route("deviceManagement/nothing").is_err());
        assert!(matches!(route("groups").unwrap().target, Target::Collection));
    }

    #[test]
    fn types() {
        let dc = families::def(Family::DeviceConfigurations);
        assert!(check_type(dc, None).is_err());
        assert!(check_type(dc, Some(&json!("#microsoft.graph.deviceConfiguration"))).is_err());
        assert_eq!(
            check_type(dc, Some(&json!("#microsoft.graph.windows10GeneralConfiguration"))).unwrap(),
            "#microsoft.graph.windows10GeneralConfiguration"
        );
        let sc = families::def(Family::ConfigurationPolicies);
        assert_eq!(
            check_type(sc, None).unwrap(),
            "#microsoft.graph.deviceManagementConfigurationPolicy"
        );
    }

    #[test]
    fn mask_constant_is_not_a_plausible_secret() {
        assert!(MASK.chars().all(|c| c == '*'));
    }
}
