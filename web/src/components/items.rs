//! Picking items of a backup set, grouped by family, with "all" and "none" per family and for the
//! whole set: the restore wizard and a new promotion. Items are `family/id` keys.

use std::collections::BTreeMap;

use atlas_api_types::{BackupItem, BackupSetList};
use yew::prelude::*;

use crate::{families, format};

/// `chosen` holds the chosen `family/id` keys; every box and button writes it.
pub fn item_picker(items: &[BackupItem], chosen: &UseStateHandle<Vec<String>>) -> Html {
    // By the family's label, as operators read it.
    let mut by_family: BTreeMap<(&str, &str), Vec<&BackupItem>> = BTreeMap::new();
    for i in items {
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
    let every: Vec<String> = items.iter().map(key).collect();
    html! {
        <fieldset class="field restore-items" data-testid="item-picker">
            <legend>{ format!("Choose items ({} of {} in the set)", chosen.len(), items.len()) }</legend>
            <p class="actions">
                <button type="button" class="button button--quiet" onclick={set(every.clone(), true)}>{ "Select all" }</button>
                <button type="button" class="button button--quiet" onclick={set(every, false)}>{ "Select none" }</button>
            </p>
            { for by_family.iter().map(|((label, family), list)| {
                let keys: Vec<String> = list.iter().map(|i| key(i)).collect();
                let picked = keys.iter().filter(|k| chosen.contains(k)).count();
                html! {
                    <fieldset class="item-family" data-family={family.to_string()}>
                        <legend>{ format!("{label} ({picked}/{})", keys.len()) }</legend>
                        <p class="actions">
                            <button type="button" class="button button--quiet" onclick={set(keys.clone(), true)}>{ "All" }</button>
                            <button type="button" class="button button--quiet" onclick={set(keys, false)}>{ "None" }</button>
                        </p>
                        { for list.iter().map(|i| {
                            let k = key(i);
                            let on = chosen.contains(&k);
                            let chosen = chosen.clone();
                            let onchange = Callback::from(move |_: Event| {
                                let mut next: Vec<String> = chosen.iter().filter(|c| **c != k).cloned().collect();
                                if !on { next.push(k.clone()); }
                                chosen.set(next);
                            });
                            html! { <label class="check"><input type="checkbox" checked={on} {onchange} />{ format!(" {}", i.name) }</label> }
                        }) }
                    </fieldset>
                }
            }) }
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
