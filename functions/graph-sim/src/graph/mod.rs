//! One Graph request, direct or a `$batch` item: stats, faults, permissions, approval, then its concern's handler.

mod actions;
mod assign;
mod read;
mod route;
mod write;

use serde_json::{Map, Value, json};

use crate::audit::{Actor, Change, Op};
use crate::auth::Caller;
use crate::families::{self, FamilyDef};
use crate::faults::{Draw, Injected};
use crate::odata::{
    GraphReq, GraphResp, Query, ReqIds, Version, bad_request, error, intune_message, no_route, server_error, throttled,
};
use crate::rng::guid_from;
use crate::seed::graph_time;
use crate::state::{Obj, Shared, Tenant, World};

use actions::{
    add_definition_value, add_localized_message, delete_nav_item, patch_localized_message, run_action, run_function,
};
use assign::{add_assignment, delete_assignment};
pub(crate) use read::snapshot;
use read::{get, get_nav, get_nav_item, list};
pub(crate) use route::{Route, Target, route};
use write::{create, delete, patch, put};

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

    /// `@odata.context` of one item of `{id}/{nav}`.
    fn nav_entity_context(&self, def: &FamilyDef, id: &str, nav: &str) -> Value {
        json!(format!("{}{}('{id}')/{nav}/$entity", self.meta(), def.path))
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
    // Audit events name the app by its registration's display name (as the token's `app_displayname`).
    let app_name = req.is_write().then(|| {
        w.apps
            .get(&caller.app_id)
            .and_then(|a| a.display_name.clone())
            .unwrap_or_else(|| "TenantAtlas".into())
    });
    let t = &mut w.tenants[caller.tenant_index];
    t.count_request(&req.method, &template);
    let tenant_id = t.info.id.clone();
    let url = req.url_for_hash();
    let service = routed
        .as_ref()
        .map_or(("directory", 1), |r| families::throttle_service(r.def.name));
    let draw = Draw {
        seed: shared.config.seed,
        tenant: &tenant_id,
        method: &req.method,
        url: &url,
        is_write: req.is_write(),
        batch_item,
        app: &caller.app_id,
        service,
    };
    match t.faults.decide(&mut t.fault_state, &draw, true) {
        Some(Injected::Throttled { retry_after }) => {
            t.stats.throttled += 1;
            return throttled(ids, retry_after);
        }
        Some(Injected::ServerError { status, retry_after }) => {
            t.count_admitted(service);
            t.stats.server_errors += 1;
            return server_error(ids, status, retry_after);
        }
        None => t.count_admitted(service),
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
    let Some(app_name) = app_name.filter(|_| !def.directory) else {
        return dispatch(&cx, t, &route);
    };
    let target_id = match &route.target {
        Target::Collection => None,
        Target::Item(id)
        | Target::Nav(id, _)
        | Target::NavItem(id, ..)
        | Target::SubNav(id, ..)
        | Target::Action(id, _)
        | Target::Function(id, ..) => Some(id.clone()),
    };
    let before = target_id.as_deref().and_then(|id| t.find(def.family, id).cloned());
    let resp = dispatch(&cx, t, &route);
    if (200..300).contains(&resp.status) {
        audit_write(&cx, t, caller, &route, app_name, target_id, before, &resp);
    }
    resp
}

/// Appends the audit event of a write that succeeded (see `audit.rs`).
#[allow(clippy::too_many_arguments)]
fn audit_write(
    cx: &Cx<'_>,
    t: &mut Tenant,
    caller: &Caller,
    route: &Route,
    app_name: String,
    target_id: Option<String>,
    before: Option<Obj>,
    resp: &GraphResp,
) {
    let method = cx.req.method.to_ascii_uppercase();
    let (op, action) = match (&route.target, method.as_str()) {
        (Target::Collection, _) => (Op::Create, None),
        (Target::Item(_), "DELETE") => (Op::Delete, None),
        (Target::Action(_, a), _) => (Op::Action, Some(a.as_str())),
        // PATCH/PUT of the object, or a write to one of its navigations (assignments, settings …).
        _ => (Op::Patch, None),
    };
    let Some(id) = target_id.or_else(|| {
        resp.body
            .as_ref()
            .and_then(|b| b.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }) else {
        return;
    };
    let after = if op == Op::Delete {
        None
    } else {
        t.find(route.def.family, &id).cloned()
    };
    let user = caller
        .user
        .as_deref()
        .and_then(|oid| t.users.iter().find(|u| u.id.eq_ignore_ascii_case(oid)));
    let actor = match user {
        Some(u) => Actor::User {
            upn: u.user_principal_name.clone(),
            user_id: Some(u.id.clone()),
            app_id: caller.app_id.clone(),
            app_name,
        },
        None => Actor::App {
            app_id: caller.app_id.clone(),
            display_name: app_name,
            sp_id: t
                .grants
                .get(&caller.app_id)
                .map(|g| g.sp_id.clone())
                .unwrap_or_default(),
        },
    };
    let change = Change {
        def: route.def,
        op,
        action,
        resource_id: &id,
        before: before.as_ref(),
        after: after.as_ref(),
        actor,
        correlation_id: &cx.ids.client_request_id,
    };
    t.audit(cx.shared.config.audit_delay_ms, change);
}

/// `GET /beta/deviceManagement/operationApprovalPolicies`: the tenant's MAA access policies (read-only
/// here). `approval_required` stands for a policy of every type.
fn approval_policies(w: &mut World, caller: &Caller, req: &GraphReq, ids: &ReqIds) -> GraphResp {
    let t = &mut w.tenants[caller.tenant_index];
    t.count_request(&req.method, "deviceManagement/operationApprovalPolicies");
    t.count_admitted(families::throttle_service("operationApprovalPolicies"));
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
        ("GET", Target::NavItem(id, nav, nid)) => get_nav_item(cx, t, def, id, nav, nid, None),
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
        ("GET", Target::SubNav(id, nav, nid, sub)) => get_nav_item(cx, t, def, id, nav, nid, Some(sub)),
        ("POST", Target::Action(id, action)) => run_action(cx, t, def, id, action),
        ("GET", Target::Function(id, f, params)) => run_function(cx, t, def, id, f, params),
        _ => no_route(cx.ids, route_shape(&route.target), &method, &cx.req.raw_path),
    }
}

fn now() -> String {
    graph_time(time::OffsetDateTime::now_utc())
}

fn body_obj<'a>(cx: &'a Cx<'_>) -> Result<&'a Map<String, Value>, GraphResp> {
    match &cx.req.body {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(cx.bad("Empty Payload. JSON content expected.")),
    }
}

#[cfg(test)]
mod tests {
    use crate::state::MASK;

    #[test]
    fn mask_constant_is_not_a_plausible_secret() {
        assert!(MASK.chars().all(|c| c == '*'));
    }
}
