//! Picking items of a backup set, grouped by family (by the Intune admin center's names), with a
//! search that narrows the list as you type, "all" and "none" per family and for the whole set,
//! and, where the target's inventory is known, a marker on each item that differs from live (or
//! is not there): the restore wizard and a new promotion. Items are `family/id` keys.

use std::collections::BTreeMap;
use std::rc::Rc;

use atlas_api_types::{BackupItem, BackupSetList, InventoryItem, InventoryStatus};
use yew::prelude::*;

use crate::{families, format};

/// What the target's inventory holds, to compare a backup item with: payload hashes by
/// `family/id` and by `family` + name (a set of another environment matches by name).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Live {
    by_id: BTreeMap<String, String>,
    by_name: BTreeMap<(String, String), String>,
}

/// A backup item against live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveMark {
    Same,
    Differs,
    Missing,
}

impl LiveMark {
    pub fn code(self) -> &'static str {
        match self {
            Self::Same => "same",
            Self::Differs => "differs",
            Self::Missing => "missing",
        }
    }
}

impl Live {
    /// The active items of an inventory (ghosts are not live).
    pub fn from_inventory<'a>(items: impl IntoIterator<Item = &'a InventoryItem>) -> Self {
        let mut live = Self::default();
        for i in items.into_iter().filter(|i| i.state == InventoryStatus::Active) {
            live.by_id
                .insert(format!("{}/{}", i.family, i.id), i.payload_hash.clone());
            live.by_name
                .insert((i.family.clone(), i.name.clone()), i.payload_hash.clone());
        }
        live
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The inventory keeps the first 32 hex digits of the payload's SHA-256, a backup all 64.
    pub fn mark(&self, i: &BackupItem) -> LiveMark {
        let hash = self
            .by_id
            .get(&format!("{}/{}", i.family, i.id))
            .or_else(|| self.by_name.get(&(i.family.clone(), i.name.clone())));
        match hash {
            None => LiveMark::Missing,
            Some(h) if !h.is_empty() && i.hash.starts_with(h.as_str()) => LiveMark::Same,
            Some(_) => LiveMark::Differs,
        }
    }
}

/// The active items of `env`'s inventory, every page (at most 20), for the markers.
pub async fn load_live(ws: &str, env: &str) -> Result<Live, crate::api::ApiError> {
    use crate::api::{self, paths, with_query};
    let mut items: Vec<InventoryItem> = Vec::new();
    let mut cursor = String::new();
    for _ in 0..20 {
        let page = api::get::<atlas_api_types::InventoryPage>(&with_query(
            &paths::inventory(ws, env),
            &[("state", "active"), ("cursor", &cursor)],
        ))
        .await?;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    Ok(Live::from_inventory(&items))
}

/// Whether `name` matches the search: every word, case-insensitively.
pub fn matches(name: &str, search: &str) -> bool {
    let name = name.to_lowercase();
    search.split_whitespace().all(|w| name.contains(&w.to_lowercase()))
}

#[derive(Properties, PartialEq)]
pub struct ItemPickerProps {
    pub items: Rc<Vec<BackupItem>>,
    /// The chosen `family/id` keys; every box and button writes it.
    pub chosen: UseStateHandle<Vec<String>>,
    /// The target's inventory, once loaded; `None` shows no marker.
    #[prop_or_default]
    pub live: Option<Rc<Live>>,
}

/// The picker. "All" and "None" act on the items the search shows.
#[component]
pub fn ItemPicker(props: &ItemPickerProps) -> Html {
    let search = use_state(String::new);
    let chosen = &props.chosen;
    let items: Vec<&BackupItem> = props
        .items
        .iter()
        .filter(|i| matches(&i.name, &search) || matches(families::label(&i.family), &search))
        .collect();
    // By the family's label, as operators read it.
    let mut by_family: BTreeMap<(&str, &str), Vec<&BackupItem>> = BTreeMap::new();
    for i in &items {
        by_family
            .entry((families::label(&i.family), i.family.as_str()))
            .or_default()
            .push(i);
    }
    let key = |i: &BackupItem| format!("{}/{}", i.family, i.id);
    // Sets every key of `keys` chosen (`on`) or not, leaving the others as they are.
    let set = |keys: Vec<String>, on: bool| {
        let chosen = chosen.clone();
        Callback::from(move |_: MouseEvent| {
            let mut next: Vec<String> = chosen.iter().filter(|c| !keys.contains(c)).cloned().collect();
            if on {
                next.extend(keys.iter().cloned());
            }
            chosen.set(next);
        })
    };
    let every: Vec<String> = items.iter().map(|i| key(i)).collect();
    let live = props.live.as_deref().filter(|l| !l.is_empty());
    // The field keeps its own value (no `value` here): a render of a long list must never put
    // back a value older than what is typed since.
    let oninput = {
        let search = search.clone();
        Callback::from(move |e: InputEvent| search.set(crate::components::field::value_of(&e)))
    };
    html! {
        <fieldset class="field restore-items" data-testid="item-picker">
            <legend data-testid="item-picker-summary">{ format!("Choose items ({} of {} in the set)", chosen.len(), props.items.len()) }</legend>
            <p class="item-picker__search">
                <label for="item-search">{ "Search items" }</label>
                <input id="item-search" type="search" {oninput} autocomplete="off"
                    placeholder="Name or family" />
                <span class="muted" data-testid="item-picker-shown">{ format!(" {} shown", items.len()) }</span>
            </p>
            if props.live.is_some() && live.is_none() {
                <p class="muted">{ "Sync the inventory of this environment to see which items differ from live." }</p>
            }
            <p class="actions">
                <button type="button" class="button button--quiet" onclick={set(every.clone(), true)}>{ "Select all" }</button>
                <button type="button" class="button button--quiet" onclick={set(every, false)}>{ "Select none" }</button>
            </p>
            if items.is_empty() {
                <p class="muted">{ "No item matches the search." }</p>
            }
            // In their own element, keyed: a search that drops a family must not shift the
            // search field's place among the fieldset's children (it would be replaced mid-typing).
            <div class="item-families">
            { for by_family.iter().map(|((label, family), list)| {
                let keys: Vec<String> = list.iter().map(|i| key(i)).collect();
                let picked = keys.iter().filter(|k| chosen.contains(k)).count();
                html! {
                    <fieldset class="item-family" key={family.to_string()} data-family={family.to_string()}>
                        <legend>{ format!("{label} ({picked}/{})", keys.len()) }<span class="muted">{ format!(" {family}") }</span></legend>
                        <p class="actions">
                            <button type="button" class="button button--quiet" data-testid="family-all" aria-label={format!("Select all {label}")} onclick={set(keys.clone(), true)}>{ "All" }</button>
                            <button type="button" class="button button--quiet" data-testid="family-none" aria-label={format!("Select none of {label}")} onclick={set(keys, false)}>{ "None" }</button>
                        </p>
                        { for list.iter().map(|i| {
                            let k = key(i);
                            let on = chosen.contains(&k);
                            let mark = live.map(|l| l.mark(i));
                            let chosen = chosen.clone();
                            let onchange = {
                                let k = k.clone();
                                Callback::from(move |_: Event| {
                                    let mut next: Vec<String> = chosen.iter().filter(|c| **c != k).cloned().collect();
                                    if !on { next.push(k.clone()); }
                                    chosen.set(next);
                                })
                            };
                            html! {
                                <label class="check" key={k.clone()} data-key={k} data-live={mark.map(LiveMark::code)}>
                                    <input type="checkbox" checked={on} {onchange} />{ format!(" {}", i.name) }
                                    { match mark {
                                        Some(LiveMark::Differs) => html! { <span class="badge badge--warn" title="The last inventory sync saw this item with other settings">{ "Differs from live" }</span> },
                                        Some(LiveMark::Missing) => html! { <span class="badge badge--info" title="The last inventory sync did not see this item: restoring creates it">{ "Not in live" }</span> },
                                        _ => Html::default(),
                                    } }
                                </label>
                            }
                        }) }
                    </fieldset>
                }
            }) }
            </div>
        </fieldset>
    }
}

/// "Every item in the set" or "Only the items I choose": `all` holds which.
pub fn scope_field(name: &'static str, all: &UseStateHandle<bool>) -> Html {
    let pick = |to: bool| {
        let all = all.clone();
        Callback::from(move |_: Event| all.set(to))
    };
    html! {
        <fieldset class="field">
            <legend>{ "Items" }</legend>
            <label class="check"><input type="radio" {name} checked={**all} onchange={pick(true)} />{ " Every item in the set" }</label>
            <label class="check"><input type="radio" {name} checked={!**all} onchange={pick(false)} />{ " Only the items I choose" }</label>
        </fieldset>
    }
}

/// `(id, "time (status)")` options for a backup set select, led by `first` (no set chosen).
pub fn set_options(sets: Option<&BackupSetList>, first: &str) -> Vec<(String, String)> {
    let mut options = vec![(String::new(), first.to_owned())];
    if let Some(l) = sets {
        options.extend(l.items.iter().map(|s| {
            (
                s.id.clone(),
                format!(
                    "{} ({})",
                    format::time(s.created_ms),
                    crate::components::status_badge::canonical(s.status.as_str()).label()
                ),
            )
        }));
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, name: &str, hash: &str) -> BackupItem {
        BackupItem {
            family: "deviceConfigurations".into(),
            id: id.into(),
            name: name.into(),
            hash: hash.into(),
        }
    }

    #[test]
    fn marks_against_the_inventory_hash_prefix() {
        let mut live = Live::default();
        live.by_id.insert("deviceConfigurations/a".into(), "ab12".into());
        live.by_name
            .insert(("deviceConfigurations".into(), "Other".into()), "ff00".into());
        assert_eq!(live.mark(&item("a", "A", "ab12cd34")), LiveMark::Same);
        assert_eq!(live.mark(&item("a", "A", "ab13cd34")), LiveMark::Differs);
        // Another environment's item matches by family and name.
        assert_eq!(live.mark(&item("x", "Other", "ff00aa")), LiveMark::Same);
        assert_eq!(live.mark(&item("y", "Gone", "ff00aa")), LiveMark::Missing);
    }

    #[test]
    fn search_needs_every_word() {
        assert!(matches("WIN - Firewall - SC 05", "win sc"));
        assert!(matches("WIN - Firewall - SC 05", ""));
        assert!(!matches("WIN - Firewall - SC 05", "win mac"));
    }
}
