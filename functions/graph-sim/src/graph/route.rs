//! Routing: a Graph URL path to its family and target (collection, item, navigation, action, function).

use percent_encoding::percent_decode_str;

use crate::families::{FAMILIES, FamilyDef};

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
    "update",
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

pub(super) fn canonical<'a>(list: &[&'a str], s: &str) -> Option<&'a str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
