//! The browser suite: the operators' web app in headless Chromium, over WebDriver, against the
//! local stack and the Graph simulator. Each test starts its own stack and saves screenshots
//! under `target/e2e-screenshots/`. Run by `cargo xtask test` (after building the web app).

mod stack;

use std::time::Duration;

use stack::{Hook, Stack, poll};

const WS: &str = "/workspaces/ws-demo";
const CONTOSO: &str = "/workspaces/ws-demo/environments/env-contoso";
const FABRIKAM: &str = "/workspaces/ws-demo/environments/env-fabrikam";

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_and_choose_a_workspace() {
    let s = Stack::start("choose-workspace").await;
    s.sign_in("owner@demo.test").await;
    s.find("[data-testid=workspace-ws-demo]").await;
    // Pinning is a real round trip: the button's pressed state comes back from the API.
    s.click("[data-testid=workspace-ws-demo] button[aria-pressed=false]")
        .await;
    s.find("[data-testid=workspace-ws-demo] button[aria-pressed=true]")
        .await;
    s.screenshot("chooser").await;
    // Search is answered by the API: nothing matches, then the workspace is back.
    s.fill("#ws-search", "no such workspace").await;
    s.wait_text(".empty", "No workspace matches").await;
    s.fill("#ws-search", "demo").await;
    s.find("[data-testid=workspace-ws-demo]").await;
    assert_eq!(s.browser.title().await.expect("title"), "Workspaces \u{b7} TenantAtlas");
    s.click("[data-testid=workspace-ws-demo] h2 a").await;
    // The header names the workspace, not its id (issue 19 item 2).
    s.wait_text("[data-testid=current-workspace]", "Demo MSP").await;
    // The tab names the page (issue 19 item 6).
    assert_eq!(s.browser.title().await.expect("title"), "Overview \u{b7} TenantAtlas");
    // Contoso is connected from the start, Fabrikam is not.
    s.find("[data-testid=environment-env-contoso] .badge[data-status=ready]")
        .await;
    s.find("[data-testid=environment-env-fabrikam] .badge[data-status=not_configured]")
        .await;
    s.screenshot("overview").await;
    // The active tab is marked for screen readers, and only it (issue 19 item 6).
    assert_eq!(
        s.find(".wsnav a[aria-current=page]").await.text().await.expect("text"),
        "Overview"
    );
    assert_eq!(
        s.browser
            .find_all(fantoccini::Locator::Css(".wsnav a[aria-current]"))
            .await
            .expect("query")
            .len(),
        1
    );
    // Keyboard: the first Tab reaches the skip link, which moves focus to the page's content.
    s.goto(WS).await;
    s.find("[data-testid=environment-env-contoso]").await;
    s.press('\u{E004}').await;
    let focused = s.browser.active_element().await.expect("focus");
    assert_eq!(focused.text().await.expect("text"), "Skip to content");
    s.press('\u{E007}').await;
    let focused = s.browser.active_element().await.expect("focus");
    assert_eq!(focused.attr("id").await.expect("id").as_deref(), Some("main"));
    // A phone-sized window: the header folds the navigation and the account behind Menu.
    s.assert_fits(390, 844).await;
    assert!(!s.displayed(".wsnav").await && !s.displayed("#sign-out").await);
    s.browser
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .expect("scroll");
    s.screenshot("overview-390").await;
    s.click("#menu-toggle").await;
    s.wait_attr("#menu-toggle", "aria-expanded", "true").await;
    assert!(s.displayed("#sign-out").await);
    s.assert_fits(390, 844).await;
    s.screenshot("overview-390-menu").await;
    s.click(&format!(".wsnav a[href='{WS}/operations']")).await;
    poll("the operations page", stack::DEADLINE, || async {
        (s.current_path().await == format!("{WS}/operations")).then_some(())
    })
    .await;
    // The new page closes the menu; its tab is the current one.
    s.wait_attr("#menu-toggle", "aria-expanded", "false").await;
    assert!(!s.displayed(".wsnav").await);
    assert_eq!(
        s.find(".wsnav a[aria-current=page]")
            .await
            .attr("href")
            .await
            .expect("href")
            .as_deref(),
        Some(format!("{WS}/operations").as_str())
    );
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_a_provider_through_consent() {
    let s = Stack::start("provider-consent").await;
    s.sign_in("owner@demo.test").await;
    s.goto(&format!("{FABRIKAM}/provider")).await;
    s.fill("#tenant", "fabrikam.demo.test").await;
    s.click("[data-testid=create-connection]").await;
    // The consent step lists what consent asks for, read-write permissions included, each with
    // why (issue 19 item 4).
    let requested = "[data-testid=requested-permissions] tr.requested-permission";
    let rw = format!("{requested}[data-permission='DeviceManagementConfiguration.ReadWrite.All']");
    s.wait_text(&rw, "Read and write").await;
    s.wait_text(&rw, "restores").await;
    s.wait_text(&format!("{requested}[data-permission='Group.Read.All']"), "Read")
        .await;
    s.click("[data-testid=start-consent]").await;
    // The connection now waits for consent, in words (issue 19 item 5).
    s.wait_text(".facts", "Consent pending").await;
    assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new());
    s.screenshot("consent").await;
    // The tenant's sign-in page (the simulator's): the Global Administrator signs in and
    // consents; Entra sends the browser back through the callback webhook, which redeems the
    // code and checks the administrator, to this page.
    s.click("[data-testid=open-consent]").await;
    s.click("[data-testid=sign-in-global-admin]").await;
    s.find("[data-testid=consent-result][data-outcome=granted]").await;
    s.click("[data-testid=verify]").await;
    s.wait_attr(
        "[data-testid=live-run] [data-testid=run-progress]",
        "data-state",
        "completed",
    )
    .await;
    s.find("[data-testid=connection-status] .badge[data-status=ready]")
        .await;
    s.find("[data-testid=permission-posture]").await;
    s.screenshot("connected").await;
    // A confirmation dialog holds the keyboard (issue 19 item 6): focus moves into it, Tab and
    // Shift-Tab wrap inside it, Escape closes it and focus returns to the button that opened it.
    s.click("[data-testid=disable]").await;
    s.find("form.confirm[aria-modal=true]").await;
    assert_eq!(s.focused_attr("id").await.as_deref(), Some("disable-confirm"));
    // The confirm button is disabled until the name is typed: Cancel is the last stop.
    s.press_shifted('\u{E004}').await;
    assert_eq!(
        s.browser
            .active_element()
            .await
            .expect("focus")
            .text()
            .await
            .expect("text"),
        "Cancel"
    );
    s.press('\u{E004}').await;
    assert_eq!(s.focused_attr("id").await.as_deref(), Some("disable-confirm"));
    s.press('\u{E00C}').await;
    poll("the dialog to close", stack::DEADLINE, || async {
        (!s.exists("form.confirm").await).then_some(())
    })
    .await;
    poll("focus back on the opener", stack::DEADLINE, || async {
        (s.focused_attr("data-testid").await.as_deref() == Some("disable")).then_some(())
    })
    .await;
    // The workspace's permission posture (second bundle) shows the report just made: Ready,
    // every permission granted.
    s.click(&format!(".wsnav a[href='{WS}/posture']")).await;
    let fabrikam = "section.posture[data-env=env-fabrikam]";
    s.wait_attr(fabrikam, "data-status", "ready").await;
    s.find(&format!("{fabrikam} tr.permission[data-granted=true]")).await;
    assert!(!s.exists(&format!("{fabrikam} tr.permission[data-granted=false]")).await);
    s.screenshot("posture").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_inventory_then_filter_and_open_an_item() {
    let s = Stack::start("inventory").await;
    s.sign_in("owner@demo.test").await;
    s.goto(CONTOSO).await;
    s.click("[data-testid=sync-inventory]").await;
    s.wait_attr(
        "[data-testid=live-run] [data-testid=run-progress]",
        "data-state",
        "completed",
    )
    .await;
    s.find("[data-testid=last-sync] .badge[data-status=ready]").await;
    s.screenshot("environment").await;

    s.goto(&format!("{CONTOSO}/inventory")).await;
    let first = s
        .find("[data-testid=inventory-table] tbody tr td a")
        .await
        .text()
        .await
        .expect("name");
    s.screenshot("list").await;
    // Searching by the first item's name keeps it and drops others.
    s.fill("#inv-search", &first).await;
    s.click("form[role=search] button[type=submit]").await;
    s.wait_text("[data-testid=inventory-table] tbody", &first).await;
    s.click("[data-testid=inventory-table] tbody tr td a").await;
    s.wait_text("h1", &first).await;
    s.find("[data-testid=json]").await;
    s.screenshot("item").await;
    s.close().await;
}

/// Issue 19 item 3: the inventory's table sorts by a header (its `aria-sort` says which way),
/// narrows as you type in a column search once the typing pauses, shows each filter as a chip
/// whose \u{d7} restores the rows, counts what it shows, and downloads the filtered rows as CSV.
#[tokio::test(flavor = "multi_thread")]
async fn inventory_table_sorts_searches_with_chips_and_exports() {
    let s = Stack::start("table").await;
    s.sign_in("owner@demo.test").await;
    s.goto(CONTOSO).await;
    s.click("[data-testid=sync-inventory]").await;
    s.wait_attr(
        "[data-testid=live-run] [data-testid=run-progress]",
        "data-state",
        "completed",
    )
    .await;
    // One family, from the URL: its chip, and a count that matches the rows.
    s.goto(&format!("{CONTOSO}/inventory?family=deviceConfigurations"))
        .await;
    let table = "[data-testid=inventory-table]";
    let rows = format!("{table} tbody tr[data-item]");
    s.find(&rows).await;
    let n = s.count(&rows).await;
    assert!(n >= 3, "{n} rows");
    assert_eq!(
        s.count(&format!("{table} tbody tr[data-family=deviceConfigurations]"))
            .await,
        n
    );
    s.wait_text(&format!("{table} [data-testid=row-count]"), &format!("{n} items"))
        .await;
    s.wait_text(
        &format!("{table} [data-testid=filter-chip]"),
        "Family: Device configuration",
    )
    .await;

    // Sorted by name, ascending; a click on the header reverses it.
    let names = || async {
        let mut out = Vec::new();
        for el in s
            .browser
            .find_all(fantoccini::Locator::Css(&format!("{rows} td:first-child")))
            .await
            .expect("cells")
        {
            out.push(el.text().await.expect("text"));
        }
        out
    };
    let name_th = format!("{table} th:first-child");
    s.wait_attr(&name_th, "aria-sort", "ascending").await;
    let up = names().await;
    let mut sorted = up.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(up, sorted, "ascending by name");
    s.click(&format!("{name_th} button")).await;
    s.wait_attr(&name_th, "aria-sort", "descending").await;
    let down = names().await;
    let mut reversed = up.clone();
    reversed.reverse();
    assert_eq!(down, reversed, "the click reversed the order");
    s.screenshot("sorted").await;

    // A column search narrows the rows once the typing pauses, and shows as a chip.
    let first = up[0].clone();
    s.fill(&format!("{table} input.th-search[data-col='0']"), &first).await;
    poll("the search to narrow the rows", stack::DEADLINE, || async {
        let shown = s.count(&rows).await;
        (shown >= 1 && shown < n).then_some(shown)
    })
    .await;
    let kept = s.count(&rows).await;
    for name in names().await {
        assert!(
            name.to_lowercase().contains(&first.to_lowercase()),
            "{name:?} kept for {first:?}"
        );
    }
    let noun = if kept == 1 { "item" } else { "items" };
    s.wait_text(&format!("{table} [data-testid=row-count]"), &format!("{kept} {noun}"))
        .await;
    let chip = format!("{table} [data-testid=filter-chip]:nth-child(2)");
    s.wait_text(&chip, &format!("Name: {first}")).await;
    s.screenshot("searched").await;

    // The export holds the header and exactly the rows the search kept.
    s.click(&format!("{table} [data-testid=table-export]")).await;
    let csv = s.downloaded("inventory.csv").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "Name,Family,Platform,Assignments,Status,Last seen");
    assert_eq!(lines.len(), kept + 1, "{csv}");
    assert!(lines[1].contains(&first), "{csv}");

    // Removing the chip restores every row and empties the search field.
    s.click(&format!("{chip} button")).await;
    s.wait_count(&rows, n).await;
    s.wait_count(&format!("{table} [data-testid=filter-chip]"), 1).await;
    assert_eq!(
        s.find(&format!("{table} input.th-search[data-col='0']"))
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default(),
        ""
    );
    // Removing the family's chip drops the URL's filter: more families come back.
    s.click(&format!("{table} [data-testid=filter-chip] button")).await;
    poll("every family back", stack::DEADLINE, || async {
        (s.count(&rows).await > n).then_some(())
    })
    .await;
    let url = s.browser.current_url().await.expect("url");
    assert!(!url.query().unwrap_or_default().contains("family="), "{url}");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn run_a_backup_and_watch_it_complete() {
    let s = Stack::start("backup").await;
    s.sign_in("operator@demo.test").await;
    s.goto(&format!("{CONTOSO}/backups")).await;
    s.click("[data-testid=run-backup]").await;
    // Progress shows counts and a percentage while the run moves.
    s.find("[data-testid=live-run] [role=progressbar][aria-valuenow]").await;
    s.wait_text("[data-testid=live-run] [data-testid=run-progress]", "done \u{b7}")
        .await;
    s.wait_attr(
        "[data-testid=live-run] [data-testid=run-progress]",
        "data-state",
        "completed",
    )
    .await;
    s.wait_text("[data-testid=live-run] [data-testid=run-progress]", "100%")
        .await;
    s.find("[data-testid=backup-sets] tr[data-status=complete]").await;
    s.screenshot("completed").await;
    s.click("[data-testid=backup-sets] tr[data-status=complete] td a").await;
    s.click("[data-testid=backup-items] tbody tr td a").await;
    // The captured policy reads as a table of fields; its raw JSON waits behind a toggle.
    s.wait_text("[data-testid=json-fields] tbody", "Display name").await;
    let raw = s.find("[data-testid=raw-json] [data-testid=json]").await;
    assert!(
        !raw.is_displayed().await.expect("displayed"),
        "the raw JSON starts hidden"
    );
    s.click("[data-testid=raw-json] summary").await;
    assert!(
        raw.is_displayed().await.expect("displayed"),
        "the toggle shows the raw JSON"
    );
    s.screenshot("item").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_with_preview_and_typed_confirmation() {
    let s = Stack::start("restore").await;
    s.sign_in("owner@demo.test").await;
    s.backup_now(CONTOSO).await;
    // A bad cron expression: the API's field error names the cron field at fault, under the form's
    // cron field (issue 19 item 6).
    s.select("#sched-kind", "cron").await;
    s.fill("#sched-cron", "61 2 * * *").await;
    s.click("form[aria-label='New schedule'] button[type=submit]").await;
    s.wait_text("#sched-cron-error", "the minute field \u{201c}61\u{201d}")
        .await;
    // Someone deletes a policy in Intune after the backup.
    let gone = s.delete_in_tenant("contoso.demo.test", "deviceConfigurations").await;

    s.click("[data-testid=backup-sets] tr[data-status=complete] td a").await;
    s.click("a[href*='/restores?set=']").await;
    s.check_label("Only the items I choose").await;
    s.check_label(&gone).await;
    s.screenshot("select").await;
    s.click("[data-testid=restore-create]").await;
    s.find("[data-testid=readiness][data-status=ready]").await;
    s.click("[data-testid=run-preview]").await;
    s.wait_text("[data-testid=preview-summary]", "1 create").await;
    s.wait_text("[data-testid=preview-summary]", "0 conflict").await;
    s.wait_text("[data-testid=preview-items] tr[data-action=create]", &gone)
        .await;
    s.wait_text("[data-testid=preview-expiry]", "expires in").await;
    s.screenshot("preview").await;

    // The confirm button stays disabled until the environment's name is typed exactly.
    let title = s.find("h1").await.text().await.expect("title");
    let name = title
        .strip_prefix("Restore into ")
        .expect("the target's name")
        .to_owned();
    let button = s.find("form.confirm button[type=submit]").await;
    s.fill("#restore-confirm-confirm", "not the name").await;
    assert_eq!(button.attr("disabled").await.expect("attr").as_deref(), Some("true"));
    s.fill("#restore-confirm-confirm", &name).await;
    s.screenshot("confirm").await;
    // Clicked once the page has re-rendered it enabled (a click on the disabled button does nothing).
    s.click("form.confirm button[type=submit]:not([disabled])").await;
    s.wait_attr(
        "[data-testid=live-run] [data-testid=run-progress]",
        "data-state",
        "completed",
    )
    .await;
    s.wait_text("[data-testid=restore-outcome]", "Succeeded").await;
    s.find("[data-testid=run-items] [data-outcome=created]").await;
    s.screenshot("results").await;
    s.close().await;
}

/// Issue 19 items 2 and 3: a deep link in a fresh tab names its environment; an item's
/// assignments name their group and filter and its scope tags read by name, not ids; the restore's group mapping picks a target group by typing part of its
/// name and clicking it.
#[tokio::test(flavor = "multi_thread")]
async fn groups_filters_and_scope_tags_read_by_name() {
    let s = Stack::start("names").await;
    s.sign_in("owner@demo.test").await;
    // A deep link opened in a fresh tab: the environment reads by name once its list is read.
    s.forget_environment_names().await;
    s.goto(&format!("{CONTOSO}/inventory")).await;
    s.wait_text(".page-head a", "Contoso (demo)").await;
    let tenant = "contoso.demo.test";
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().expect(k).to_owned();
    let groups = s.sim_objects(tenant, "groups").await;
    // A scope tag and a filter of known names, whatever the seed drew.
    let tag_id = s
        .sim_create(
            tenant,
            "roleScopeTags",
            serde_json::json!({"displayName": "E2E Paris kiosks", "description": ""}),
        )
        .await;
    let filter_id = s
        .sim_create(
            tenant,
            "assignmentFilters",
            serde_json::json!({"displayName": "E2E Corporate devices", "platform": "windows10AndLater",
                "rule": "(device.deviceOwnership -eq \"Corporate\")"}),
        )
        .await;
    let item = s.sim_objects(tenant, "deviceConfigurations").await[0].clone();
    let (item_id, item_name) = (text(&item, "id"), text(&item, "displayName"));
    let (group, other) = (&groups[0], &groups[1]);
    s.sim_patch(
        tenant,
        "deviceConfigurations",
        &item_id,
        serde_json::json!({
            "roleScopeTagIds": ["0", tag_id],
            "assignments": [{"id": format!("{item_id}_{}", text(group, "id")), "target": {
                "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": text(group, "id"),
                "deviceAndAppManagementAssignmentFilterId": filter_id,
                "deviceAndAppManagementAssignmentFilterType": "include"}}],
        }),
    )
    .await;

    s.goto(CONTOSO).await;
    s.click("[data-testid=sync-inventory]").await;
    s.wait_attr(
        "[data-testid=live-run] [data-testid=run-progress]",
        "data-state",
        "completed",
    )
    .await;
    s.goto(&format!("{CONTOSO}/inventory/deviceConfigurations/{item_id}"))
        .await;
    s.wait_text(
        "[data-testid=assignments]",
        &format!("Include {}", text(group, "displayName")),
    )
    .await;
    s.wait_text("[data-testid=assignments]", "filter E2E Corporate devices (include)")
        .await;
    s.wait_text("[data-testid=scope-tags]", "Default, E2E Paris kiosks")
        .await;
    s.screenshot("item-names").await;

    // The restore's group mapping: type part of another group's name, pick it, preview again.
    s.backup_now(CONTOSO).await;
    s.click("[data-testid=backup-sets] tr[data-status=complete] td a").await;
    s.click("a[href*='/restores?set=']").await;
    s.check_label("Only the items I choose").await;
    s.check_label(&item_name).await;
    s.click("[data-testid=restore-create]").await;
    s.click("[data-testid=run-preview]").await;
    s.find("[data-testid=group-mapping]").await;
    let other_name = text(other, "displayName");
    let typed: String = other_name.chars().take(other_name.chars().count() - 1).collect();
    s.fill(&format!("#map-{}", text(group, "id")), &typed).await;
    let option = format!(".group-option[data-id='{}']", text(other, "id"));
    s.wait_text(&option, &other_name).await;
    s.screenshot("group-picker").await;
    s.click(&option).await;
    s.wait_text("[data-testid=picked-group]", &other_name).await;
    s.click("[data-testid=run-preview]").await;
    s.wait_text("[data-testid=group-mapping] tr[data-resolution=chosen]", &other_name)
        .await;
    s.close().await;
}

/// Issue 19 item 3: the restore item picker selects one family with one click, narrows as you
/// type, and marks the item that changed in Intune since the backup as differing from live.
#[tokio::test(flavor = "multi_thread")]
async fn restore_picker_selects_one_family_with_one_click() {
    let s = Stack::start("picker").await;
    s.sign_in("owner@demo.test").await;
    s.backup_now(CONTOSO).await;
    // After the backup, a policy changes in Intune and the inventory syncs the change.
    let changed = s
        .patch_in_tenant(
            "contoso.demo.test",
            "deviceConfigurations",
            serde_json::json!({"description": "changed after the backup"}),
        )
        .await;
    s.goto(CONTOSO).await;
    s.click("[data-testid=sync-inventory]").await;
    s.wait_attr(
        "[data-testid=live-run] [data-testid=run-progress]",
        "data-state",
        "completed",
    )
    .await;

    s.goto(&format!("{CONTOSO}/backups")).await;
    s.click("[data-testid=backup-sets] tr[data-status=complete] td a").await;
    s.click("a[href*='/restores?set=']").await;
    s.check_label("Only the items I choose").await;
    let picker = "[data-testid=item-picker]";
    let family = format!("{picker} fieldset[data-family=deviceConfigurations]");
    s.find(&format!("{family} label[data-key]")).await;
    let in_family = s.count(&format!("{family} label[data-key]")).await;
    let total = s.count(&format!("{picker} label[data-key]")).await;
    assert!(in_family >= 2 && total > in_family, "{in_family} of {total}");
    assert_eq!(s.count(&format!("{picker} input[type=checkbox]:checked")).await, 0);

    // One click on the family's "All": exactly its items are chosen, and the summary says so.
    s.click(&format!("{family} [data-testid=family-all]")).await;
    s.wait_count(&format!("{picker} input[type=checkbox]:checked"), in_family)
        .await;
    assert_eq!(
        s.count(&format!("{family} input[type=checkbox]:checked")).await,
        in_family
    );
    s.wait_text(
        "[data-testid=item-picker-summary]",
        &format!("({in_family} of {total} in the set)"),
    )
    .await;

    // The changed policy, and only it, differs from live; the others are as live has them.
    let marked = format!("{family} label[data-key='deviceConfigurations/{changed}']");
    s.find(&format!("{marked}[data-live=differs]")).await;
    s.wait_text(&marked, "Differs from live").await;
    assert_eq!(s.count(&format!("{picker} [data-live=differs]")).await, 1);
    assert_eq!(s.count(&format!("{picker} [data-live=same]")).await, total - 1);
    s.screenshot("picker").await;

    // The search narrows the list as you type; the choice stays.
    let name = s.find(&marked).await.text().await.expect("name");
    let name = name.replace("Differs from live", "").trim().to_owned();
    s.fill("#item-search", &name).await;
    poll("the search to narrow the list", stack::DEADLINE, || async {
        let shown = s.count(&format!("{picker} label[data-key]")).await;
        (shown < total && shown >= 1).then_some(())
    })
    .await;
    s.find(&marked).await;
    for label in s
        .browser
        .find_all(fantoccini::Locator::Css(&format!("{picker} label[data-key]")))
        .await
        .expect("labels")
    {
        let text = label.text().await.expect("text");
        assert!(
            text.to_lowercase().contains(&name.to_lowercase()),
            "{text:?} shown for {name:?}"
        );
    }
    s.wait_text(
        "[data-testid=item-picker-summary]",
        &format!("({in_family} of {total} in the set)"),
    )
    .await;
    s.screenshot("picker-search").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hub_finds_the_run_and_its_canonical_link_shows_the_mismatch_banner() {
    let s = Stack::start("hub").await;
    s.sign_in("owner@demo.test").await;
    s.goto(CONTOSO).await;
    s.click("[data-testid=sync-inventory]").await;
    let live = s.find("[data-testid=live-run]").await;
    let run = live.attr("data-run").await.expect("attr").expect("the run id");
    // Another environment becomes the selected one.
    s.goto(FABRIKAM).await;
    s.wait_text("[data-testid=selected-environment]", "Fabrikam (demo)")
        .await;
    // The hub's filters live in the URL.
    s.goto(&format!(
        "{WS}/operations?environment_id=env-contoso&operation_type=inventory.sync"
    ))
    .await;
    s.find(&format!("[data-testid=run-table] tr[data-run=\"{run}\"]")).await;
    assert_eq!(
        s.find("#hub-env").await.prop("value").await.expect("value").as_deref(),
        Some("env-contoso")
    );
    s.screenshot("hub").await;
    // The CSV export is fetched with the session's token and saved as a file.
    s.click(".page-head button").await;
    let csv = s.downloaded("operations.csv").await;
    assert!(
        csv.contains(&run) && csv.contains("inventory.sync"),
        "the CSV lists the run: {csv}"
    );
    s.assert_fits(390, 844).await;
    s.screenshot("hub-390").await;
    s.browser.set_window_size(1280, 900).await.expect("resize");
    s.click(&format!("[data-testid=run-table] tr[data-run=\"{run}\"] a"))
        .await;
    s.wait_text("[data-testid=context-mismatch]", "Contoso (demo)").await;
    let url = s.browser.current_url().await.expect("url");
    assert_eq!(url.path(), format!("{WS}/operations/{run}"));
    s.screenshot("run-with-banner").await;
    // The audit log's run target links to that run's page.
    s.goto(&format!("{WS}/audit?action=run.start")).await;
    s.click(&format!("[data-testid=audit-table] a[href='{WS}/operations/{run}']"))
        .await;
    s.find("[data-testid=run-outcome]").await;
    assert_eq!(s.current_path().await, format!("{WS}/operations/{run}"));
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn members_invite_with_field_errors_change_a_role_and_audit() {
    let s = Stack::start("members").await;
    s.sign_in("owner@demo.test").await;
    s.goto(&format!("{WS}/members")).await;
    // The API's problem+json field error lands under the field it names.
    s.fill("#invite-email", "not-an-email").await;
    s.click("form[aria-label='Invite someone'] button[type=submit]").await;
    s.find("#invite-email-error").await;
    assert_eq!(
        s.find("#invite-email")
            .await
            .attr("aria-invalid")
            .await
            .expect("attr")
            .as_deref(),
        Some("true")
    );
    s.screenshot("field-error").await;
    s.fill("#invite-email", "new.person@demo.test").await;
    s.click("form[aria-label='Invite someone'] button[type=submit]").await;
    s.wait_text("[data-testid=invitation-token]", "new.person@demo.test")
        .await;
    // Change the operator's role.
    s.click("button[aria-label='Change role of operator@demo.test']").await;
    let select = s.find("tr[data-member='operator@demo.test'] select").await;
    select.select_by_value("manager").await.expect("choose manager");
    s.click("tr[data-member='operator@demo.test'] button.button:not(.button--quiet)")
        .await;
    s.wait_text("tr[data-member='operator@demo.test']", "manager").await;
    s.screenshot("members").await;
    // On a phone the table scrolls sideways, its row actions stay in view (issue 19 item 6).
    s.assert_fits(390, 844).await;
    let button = "button[aria-label='Change role of manager@demo.test']";
    let fits = s
        .browser
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth;",
            vec![serde_json::json!(button)],
        )
        .await
        .expect("bounds");
    assert_eq!(
        fits,
        serde_json::json!(true),
        "{button} is outside the window at 390 px"
    );
    s.screenshot("members-390").await;
    s.click(button).await;
    s.find("tr[data-member='manager@demo.test'] select").await;
    s.browser.set_window_size(1280, 900).await.expect("resize");
    // Both changes are in the audit log, and the action filter lives in the URL.
    s.goto(&format!("{WS}/audit?action=invitation.create")).await;
    s.wait_text("[data-testid=audit-table] tbody", "invitation.create")
        .await;
    assert_eq!(
        s.find("#audit-action")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("invitation.create")
    );
    // The count says how many events are listed; the action field offers the actions seen.
    let rows = s.count("[data-testid=audit-table] tbody tr").await;
    s.wait_text("[data-testid=row-count]", &format!("{rows} event")).await;
    s.find("#audit-action-list option[value='invitation.create']").await;
    // The list table: newest first; a click on the When header reverses it. The URL's action
    // filter is a chip.
    let when_th = "[data-testid=audit-table] th:first-child";
    s.wait_attr(when_th, "aria-sort", "descending").await;
    s.click(&format!("{when_th} button")).await;
    s.wait_attr(when_th, "aria-sort", "ascending").await;
    s.wait_text(
        "[data-testid=audit-table] [data-testid=filter-chip]",
        "Action: invitation.create",
    )
    .await;
    s.screenshot("audit").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn readonly_sees_no_mutating_controls_and_a_direct_post_is_refused() {
    let s = Stack::start("readonly").await;
    s.sign_in("readonly@demo.test").await;
    s.goto(CONTOSO).await;
    s.wait_text("section[aria-labelledby=sync-title]", "Never synced").await;
    s.find("[data-testid=permission-posture]").await;
    assert!(
        !s.exists("[data-testid=sync-inventory]").await,
        "no sync button for readonly"
    );
    s.screenshot("environment").await;
    s.goto(&format!("{CONTOSO}/backups")).await;
    s.find("#sets-title").await;
    s.find("#sched-title").await;
    assert!(
        !s.exists("[data-testid=run-backup]").await,
        "no backup button for readonly"
    );
    assert!(
        !s.exists("form[aria-label='New schedule']").await,
        "no schedule editor for readonly"
    );
    s.goto(&format!("{CONTOSO}/provider")).await;
    s.find("[data-testid=connection-status]").await;
    assert!(!s.exists("[data-testid=disable]").await && !s.exists("[data-testid=verify]").await);
    // What is missing says why (issue 19 item 4).
    s.wait_text("[data-testid=why-not]", "provider.manage").await;
    s.goto(&format!("{WS}/members")).await;
    s.find("[data-testid=members-table]").await;
    assert!(
        !s.exists("form[aria-label='Invite someone']").await,
        "no invitation form for readonly"
    );
    s.wait_text("[data-testid=why-not]", "members.manage").await;
    // Hiding is not authorization: the API refuses the same action when called directly.
    assert_eq!(
        s.fetch_status(
            "POST",
            "/api/v1/workspaces/ws-demo/environments/env-contoso/inventory/sync"
        )
        .await,
        403
    );
    assert_eq!(
        s.fetch_status("POST", "/api/v1/workspaces/ws-demo/environments/env-contoso/backups")
            .await,
        403
    );
    s.screenshot("members").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outsider_gets_the_not_found_page() {
    let s = Stack::start("outsider").await;
    s.sign_in("outsider@other.test").await;
    assert!(!s.exists("[data-testid=workspace-ws-demo]").await);
    s.goto(WS).await;
    let text = s.wait_text("[data-testid=not-found]", "Page not found").await;
    // Exactly what an unknown address shows: nothing about the workspace.
    assert!(!text.contains("ws-demo") && !text.to_lowercase().contains("permission"));
    assert!(!s.exists(".wsnav").await, "no workspace navigation for a non-member");
    s.goto(CONTOSO).await;
    s.find("[data-testid=not-found]").await;
    s.screenshot("not-found").await;
    s.goto("/no/such/page").await;
    s.find("[data-testid=not-found]").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_baseline_then_a_change_in_the_tenant_becomes_a_finding_that_is_triaged() {
    let s = Stack::start("drift").await;
    s.sign_in("owner@demo.test").await;
    // The golden state: a backup of Contoso, captured as a baseline and assigned to it, all on
    // the baselines page, reached from the workspace navigation.
    s.backup_now(CONTOSO).await;
    s.goto(WS).await;
    s.click(&format!(".wsnav a[href='{WS}/baselines']")).await;
    s.wait_text("h1", "Baselines").await;
    s.fill("#baseline-name", "Contoso gold").await;
    s.select("#baseline-source", "env-contoso").await;
    s.click("input[name=family][value=deviceConfigurations]").await;
    s.click("button#baseline-create:not([disabled])").await;
    let card = "[data-testid=baseline-list] li.baseline";
    s.wait_text(&format!("{card} .card__title"), "Contoso gold").await;
    s.wait_text(&format!("{card} [data-testid=latest-snapshot]"), "No snapshot yet")
        .await;
    s.click(&format!("{card} button.capture-snapshot")).await;
    s.wait_text(&format!("{card} [data-testid=latest-snapshot]"), "Latest snapshot: #1")
        .await;
    s.select(&format!("{card} select.assign-env"), "env-contoso").await;
    s.click(&format!("{card} button.assign:not([disabled])")).await;
    s.wait_text(&format!("{card} li.assignment[data-env=env-contoso]"), "Contoso")
        .await;
    s.screenshot("baselines").await;

    // Alerts, on their page: a signed webhook (its secret shown once) and a rule for new findings.
    let hook = Hook::start().await;
    s.click(&format!(".wsnav a[href='{WS}/alerts']")).await;
    s.wait_text("h1", "Alerts").await;
    s.fill("#destination-name", "SOC webhook").await;
    s.fill("#destination-url", &hook.url).await;
    s.click("button#destination-create").await;
    s.wait_text("[data-testid=destination-secret]", "whsec_").await;
    s.wait_text("[data-testid=destinations-table] tr.destination", "SOC webhook")
        .await;
    s.fill("#rule-name", "New findings").await;
    s.click("input[name=event_type][value='finding.created']").await;
    s.click("input[name=rule_destination]").await;
    s.click("button#rule-create").await;
    s.wait_text("[data-testid=rules-table] tr.rule", "New findings").await;
    s.screenshot("alerts").await;

    // Someone changes a policy through Graph: the change feed finds it within its poll interval.
    s.patch_in_tenant(
        "contoso.demo.test",
        "deviceConfigurations",
        serde_json::json!({"description": "changed outside TenantAtlas"}),
    )
    .await;
    let hub = format!("{WS}/findings?status=open");
    s.reload_until(&hub, "#findings-table tr.finding", Duration::from_secs(90))
        .await;
    s.wait_text("#findings-table", "/description").await;
    s.screenshot("hub").await;

    // The finding reached the webhook, signed; the delivery history says so with its attempt.
    let delivered =
        "[data-testid=deliveries-table] tr.delivery[data-event-type='finding.created'][data-status=delivered]";
    s.reload_until(&format!("{WS}/alerts"), delivered, Duration::from_secs(60))
        .await;
    let got = hook.got();
    assert!(
        got.iter()
            .any(|(kind, sig)| kind == "finding.created" && sig.starts_with("v1=")),
        "the receiver got a signed finding.created: {got:?}"
    );
    s.click(&format!("{delivered} a")).await;
    s.wait_text("[data-testid=attempts-table] tr.attempt[data-ok=true]", "200")
        .await;
    s.find("button#redeliver").await;
    s.screenshot("delivery").await;
    // No SMTP relay here: an email destination's test event lands in the outbox the page shows.
    s.goto(&format!("{WS}/alerts")).await;
    s.select("#destination-kind", "email").await;
    s.fill("#destination-name", "Ops mail").await;
    s.fill("#destination-recipients", "ops@example.com").await;
    s.click("button#destination-create").await;
    let mail = "[data-testid=destinations-table] tr.destination[data-kind=email]";
    s.wait_text(mail, "ops@example.com").await;
    s.click(&format!("{mail} button.send-test")).await;
    let outbox = "[data-testid=outbox] li.outbox-message";
    s.reload_until(&format!("{WS}/alerts"), outbox, Duration::from_secs(30))
        .await;
    s.wait_text(outbox, "ops@example.com").await;
    s.screenshot("outbox").await;

    // Contoso's drift page, from its environment page: the finding with the baseline's value
    // and the tenant's side by side.
    s.goto(CONTOSO).await;
    s.click(&format!("nav.subnav a[href='{CONTOSO}/drift']")).await;
    let row = "[data-testid=drift-findings] tr.finding[data-kind=changed]";
    s.wait_text(row, "/description").await;
    let current = s
        .wait_text(
            &format!("{row} [data-testid=side-by-side] td.current"),
            "changed outside TenantAtlas",
        )
        .await;
    let desired = s.find(&format!("{row} [data-testid=side-by-side] td.desired")).await;
    let desired = desired.text().await.expect("the desired side");
    assert!(
        !desired.contains("changed outside TenantAtlas") && desired != current,
        "desired {desired:?}, current {current:?}"
    );
    s.screenshot("drift").await;
    // The workspace's landing page is its dashboard: Contoso's tile counts the open finding,
    // shows the last backup and the baseline alignment; the trends are drawn, with their numbers.
    s.goto(WS).await;
    let tile = "[data-testid=dashboard] [data-testid=dash-env-contoso]";
    s.wait_text(&format!("{tile} [data-testid=last-backup]"), "ago").await;
    s.wait_text(tile, "baseline objects aligned").await;
    s.find(&format!("{tile} .sev")).await;
    s.find("[data-testid=chart-open] svg polyline").await;
    s.find("[data-testid=chart-backups] svg rect.chart__bar").await;
    s.find("[data-testid=chart-backups] details.chart__numbers table").await;
    s.screenshot("dashboard").await;
    s.goto(&hub).await;
    s.find("#findings-table tr.finding").await;

    // Triage: acknowledged in bulk, then the detail shows it with its history.
    s.click("#findings-table tr.finding input.finding-check").await;
    s.select("#triage-status", "acknowledged").await;
    s.click("button#triage-apply:not([disabled])").await;
    s.wait_text(".triage-result", "1").await;
    s.click("#findings-table tr.finding a").await;
    s.wait_attr(".finding-status", "data-state", "acknowledged").await;
    s.wait_text("body", "changed outside TenantAtlas").await;
    s.screenshot("detail").await;

    // Risk acceptance: the owner requests it on the finding's page; they cannot approve their
    // own request; a manager, signed in apart, approves it and the finding is risk_accepted.
    let finding_page = s.current_path().await;
    s.fill("#exception-justification", "Kiosks are replaced next quarter")
        .await;
    s.fill("#exception-days", "30").await;
    s.click("button#exception-request:not([disabled])").await;
    s.wait_attr("li.exception", "data-status", "requested").await;
    s.wait_text("[data-testid=exceptions]", "another member approves it")
        .await;
    assert!(
        !s.exists("#exception-approve").await,
        "no approve button on one's own request"
    );
    s.sign_out().await;
    s.sign_in("manager@demo.test").await;
    s.goto(&finding_page).await;
    s.click("button#exception-approve:not([disabled])").await;
    s.wait_attr("li.exception", "data-status", "active").await;
    s.wait_attr(".finding-status", "data-state", "risk_accepted").await;
    // The status and its history in words (issue 19 item 5).
    s.wait_attr(".finding-status", "title", "Risk accepted").await;
    assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new());
    s.wait_text("li.exception", "decided by manager@demo.test").await;
    s.screenshot("risk-accepted").await;
    // The workspace's list of risk acceptances (a page of the second bundle) answers who and why.
    s.click(&format!(".wsnav a[href='{WS}/exceptions']")).await;
    let row = "[data-testid=exceptions-table] tr.exception[data-status=active]";
    s.wait_text(row, "Kiosks are replaced next quarter").await;
    s.wait_text(row, "manager@demo.test").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_i_opted_in_for_rings_the_bell_and_links_to_the_run() {
    let s = Stack::start("bell").await;
    s.sign_in("owner@demo.test").await;
    // Opt in from the bell's panel: my completed runs tell me.
    s.goto(WS).await;
    s.click("button#bell").await;
    s.find("[aria-label=Notifications] p.muted").await;
    s.click("input[name=run_completed]").await;
    // Stored: after a reload the box is still ticked.
    poll("the preference to be stored", Duration::from_secs(20), || async {
        s.goto(WS).await;
        s.click("button#bell").await;
        let input = s.find("input[name=run_completed]").await;
        (input.prop("checked").await.ok()?? == "true").then_some(())
    })
    .await;
    s.backup_now(CONTOSO).await;
    s.reload_until(WS, "[data-testid=unread]", Duration::from_secs(30))
        .await;
    s.wait_text("[data-testid=unread]", "1").await;
    s.click("button#bell").await;
    s.wait_text("[data-testid=notifications] li.notification--unread", "completed")
        .await;
    s.screenshot("bell").await;
    // The link opens the workspace's run viewer.
    s.click("[data-testid=notifications] li.notification a").await;
    s.find("[data-testid=run-progress]").await;
    assert!(s.current_path().await.starts_with("/workspaces/ws-demo/operations/"));
    s.click("button#bell").await;
    s.click("button#bell-read-all").await;
    poll("the unread badge to go", Duration::from_secs(10), || async {
        (!s.exists("[data-testid=unread]").await).then_some(())
    })
    .await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn build_an_evidence_pack_and_download_it() {
    let s = Stack::start("evidence").await;
    s.sign_in("owner@demo.test").await;
    s.goto(WS).await;
    s.click(&format!(".wsnav a[href='{WS}/evidence']")).await;
    s.wait_text("h1", "Evidence").await;
    s.click("button#evidence-build").await;
    let ready = "[data-testid=evidence-table] tr.evidence-pack[data-status=ready]";
    s.find(ready).await;
    let id = s
        .find(ready)
        .await
        .attr("data-id")
        .await
        .expect("attr")
        .expect("the pack's id");
    s.screenshot("packs").await;
    s.click(&format!("{ready} button.download")).await;
    let zip = s.downloaded_bytes(&format!("evidence-{id}.zip")).await;
    assert_eq!(&zip[..2], b"PK", "a ZIP");
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_the_demo_environments_then_open_their_mapping_table() {
    let s = Stack::start("compare").await;
    s.sign_in("owner@demo.test").await;
    // Contoso's inventory against Fabrikam's (not connected in the demo: nothing in it).
    s.goto(CONTOSO).await;
    s.click("[data-testid=sync-inventory]").await;
    s.wait_attr(
        "[data-testid=live-run] [data-testid=run-progress]",
        "data-state",
        "completed",
    )
    .await;
    // The compare page (third bundle), from the workspace navigation; sides chosen by name.
    s.goto(WS).await;
    s.click(&format!(".wsnav a[href='{WS}/compare']")).await;
    s.wait_text("h1", "Compare").await;
    s.wait_attr("[data-testid=more-root]", "data-bundle", "atlas-web-promote")
        .await;
    s.wait_text("#side-a-from", "Contoso").await;
    s.select("#side-a-from", "env-contoso").await;
    s.select("#side-b-from", "env-fabrikam").await;
    s.click("[data-testid=compare-run]:not([disabled])").await;
    let counts = s.wait_text("[data-testid=compare-counts]", "Only in A").await;
    let all: u64 = counts
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a total in {counts:?}"));
    assert!(all > 0, "objects compared: {counts}");
    assert!(counts.contains(&format!("Only in A {all}")), "{counts}");
    s.find("[data-testid=compare-families] tbody tr[data-family]").await;
    s.find("[data-testid=compare-objects] tbody tr[data-result]").await;
    assert!(s.current_path().await.ends_with("/compare"));
    s.screenshot("compare").await;

    // The pair's mapping table, from the result: the references Contoso uses, resolved or not.
    s.click("[data-testid=comparison] a[href*='/mappings?']").await;
    s.wait_text("h1", "Mapping table").await;
    s.wait_text("main", "Unmapped references").await;
    s.screenshot("mappings").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_two_policies_with_a_second_member_approving_then_verify() {
    let s = Stack::start("promotion").await;
    s.sign_in("owner@demo.test").await;
    // Fabrikam, the target, connected through consent; Contoso, the source, backed up.
    s.goto(&format!("{FABRIKAM}/provider")).await;
    s.fill("#tenant", "fabrikam.demo.test").await;
    s.click("[data-testid=create-connection]").await;
    s.click("[data-testid=start-consent]").await;
    s.click("[data-testid=open-consent]").await;
    s.click("[data-testid=sign-in-global-admin]").await;
    s.find("[data-testid=consent-result][data-outcome=granted]").await;
    s.click("[data-testid=verify]").await;
    s.find("[data-testid=connection-status] .badge[data-status=ready]")
        .await;
    s.backup_now(CONTOSO).await;

    // A new promotion of two device configurations, picked by family.
    s.goto(WS).await;
    s.click(&format!(".wsnav a[href='{WS}/promotions']")).await;
    s.wait_text("h1", "Promotions").await;
    s.wait_text("#promotion-source", "Contoso").await;
    s.select("#promotion-source", "env-contoso").await;
    s.select("#promotion-target", "env-fabrikam").await;
    s.check_label("Only the items I choose").await;
    let family = ".item-family[data-family=deviceConfigurations]";
    s.click(&format!("{family} label:nth-of-type(1) input")).await;
    s.click(&format!("{family} label:nth-of-type(2) input")).await;
    s.wait_text("[data-testid=item-picker] > legend", "2 of").await;
    s.click("[data-testid=promotion-create]:not([disabled])").await;
    s.find("[data-testid=promotion-plan] [data-testid=preview-items]").await;
    s.wait_attr("[data-testid=promotion-state]", "data-state", "planned")
        .await;
    s.click("[data-testid=action-dry-run]").await;
    s.find("[data-testid=dry-run-checks] li").await;
    // The planner cannot approve: a second member must.
    s.find("[data-testid=waiting-approval]").await;
    assert!(!s.exists("[data-testid=action-approve]").await);
    let promotion = s.current_path().await;
    s.screenshot("planned").await;

    s.sign_out().await;
    s.sign_in("manager@demo.test").await;
    s.goto(&promotion).await;
    s.click("[data-testid=action-approve]:not([disabled])").await;
    s.wait_text("[data-testid=approved-by]", "manager@demo.test").await;
    // Cutover: the target's name typed; the target's backup, then the restore, followed live.
    s.click("[data-testid=promotion-cut-over-open]").await;
    s.fill("#promotion-cut-over-confirm", "Fabrikam (demo)").await;
    s.click("form.confirm button[type=submit]:not([disabled])").await;
    s.find("[data-testid=promotion-cutover] [data-testid=live-run]").await;
    s.wait_text("[data-testid=verify-summary]", "compared").await;
    s.screenshot("verified").await;
    s.close().await;
}

/// Issue 19 item 7: time to first content on a slow link, from a cold cache, and no request made
/// twice by one page load.
#[tokio::test(flavor = "multi_thread")]
async fn first_paint_on_a_slow_link_and_no_request_twice() {
    let s = Stack::start("slow-link").await;
    // A fresh browser profile has nothing cached: this first load is cold.
    let (rtt_ms, kbit_s) = (400, 1500);
    s.throttle(rtt_ms, kbit_s).await;
    s.goto("/workspaces").await;
    let first = s.first_contentful_paint_ms().await;
    s.unthrottle().await;
    // Straight to the output, past the test harness's capture: the figure for docs/benchmarks.md.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stdout(),
        "first_content_ms={first:.0} rtt_ms={rtt_ms} kbit_s={kbit_s}"
    );
    assert!(
        first < 1500.0,
        "first content after {first:.0} ms at {rtt_ms} ms RTT and {kbit_s} kbit/s; the target is 1500 ms"
    );

    s.sign_in("owner@demo.test").await;
    // The shell's bundle, then pages of the lazily loaded bundles (which once asked /me again).
    let overview = s
        .assert_no_request_twice(WS, "[data-testid=environment-env-contoso]")
        .await;
    assert!(
        overview.iter().any(|u| u.ends_with("/api/v1/me")),
        "the resource list holds the API calls: {overview:#?}"
    );
    s.assert_no_request_twice(CONTOSO, "section[aria-labelledby=sync-title]")
        .await;
    s.assert_no_request_twice(&format!("{CONTOSO}/backups"), "#sched-title")
        .await;
    let members = s
        .assert_no_request_twice(&format!("{WS}/members"), "[data-testid=members-table]")
        .await;
    assert!(
        members.iter().any(|u| u.contains("atlas-web-more")),
        "members is a page of the second bundle: {members:#?}"
    );
    let audit = s
        .assert_no_request_twice(&format!("{WS}/audit"), "[data-testid=audit-table], .empty")
        .await;
    assert!(
        !audit.iter().any(|u| u.contains("atlas-web-more")),
        "the audit log is a page of the main bundle, beside the list table: {audit:#?}"
    );
    s.close().await;
}

/// Issue 19 item 5: a partial backup reads the same everywhere an operator meets it: the live
/// run, the backup set in its list and on its page, the run in the hub and on its page (badge and
/// outcome agreeing), and the environment's tile on the workspace's dashboard; no raw internal
/// code (`partially_succeeded`, …) on any of those pages.
#[tokio::test(flavor = "multi_thread")]
async fn a_partial_backup_reads_needs_attention_everywhere() {
    let s = Stack::start("status-words").await;
    s.sign_in("owner@demo.test").await;
    // The tenant refuses one family: the backup captures the rest and is partial.
    s.set_faults(
        "contoso.demo.test",
        serde_json::json!({"forbidden_families": ["deviceCompliancePolicies"]}),
    )
    .await;
    s.backup_now(CONTOSO).await;
    const WORD: &str = "Needs attention";
    let badge = ".badge[data-status=needs_attention]";
    let same_word = |text: String, place: &str| {
        assert!(text.contains(WORD), "{place} says {text:?}, not {WORD:?}");
    };
    same_word(
        s.find(&format!("[data-testid=live-run] {badge}"))
            .await
            .text()
            .await
            .expect("text"),
        "the live run",
    );
    let set = "[data-testid=backup-sets] tr[data-status=partial]";
    same_word(
        s.find(&format!("{set} {badge}")).await.text().await.expect("text"),
        "the set's row",
    );
    assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new(), "on the backups page");
    s.wait_text(set, "by owner@demo.test").await;
    s.click(&format!("{set} td a")).await;
    same_word(
        s.find(&format!(".page-head {badge}")).await.text().await.expect("text"),
        "the set's page",
    );
    assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new(), "on the set's page");

    s.goto(&format!("{WS}/operations?operation_type=backup.capture")).await;
    let row = "[data-testid=run-table] tr[data-type='backup.capture']";
    same_word(
        s.find(&format!("{row} {badge}")).await.text().await.expect("text"),
        "the run's row in the hub",
    );
    // Names, not ids (issue 19 item 2): the environment by its name; the time relative, the
    // exact time to the second in the browser's time zone on hover.
    s.wait_text(row, "Contoso (demo)").await;
    let time = s.find(&format!("{row} time[datetime][title]")).await;
    let relative = time.text().await.expect("text");
    assert!(relative.ends_with(" ago") || relative == "just now", "{relative:?}");
    let exact = time.attr("title").await.expect("attr").unwrap_or_default();
    let shape: String = exact
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert!(
        shape.starts_with("9999-99-99 99:99:99 (UTC") && shape.ends_with("99:99)"),
        "{exact:?}"
    );
    assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new(), "in the hub");
    s.click(&format!("{row} a")).await;
    same_word(
        s.find(&format!(".page-head {badge}")).await.text().await.expect("text"),
        "the run's page",
    );
    s.find(&format!("[data-testid=run-progress] {badge}")).await;
    // The refused family by its Intune admin center name, the Graph name beside it.
    s.wait_text(
        "[data-testid=run-items] tr[data-result=failed]",
        "Compliance policy\ndeviceCompliancePolicies",
    )
    .await;
    s.wait_attr("[data-testid=run-outcome]", "data-outcome", "partially_succeeded")
        .await;
    assert_eq!(
        s.find("[data-testid=run-outcome]").await.text().await.expect("text"),
        "Partially succeeded"
    );
    assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new(), "on the run's page");
    s.screenshot("run").await;

    s.goto(WS).await;
    let tile = "[data-testid=dashboard] [data-testid=dash-env-contoso]";
    same_word(
        s.find(&format!("{tile} [data-testid=last-backup] {badge}"))
            .await
            .text()
            .await
            .expect("text"),
        "the tile's last backup",
    );
    same_word(
        s.find(&format!("{tile} [data-testid=tile-status] {badge}"))
            .await
            .text()
            .await
            .expect("text"),
        "the tile's status",
    );
    assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new(), "on the overview");
    // The selected environment (the backups page's) by its name, as the pages that listed it said.
    s.wait_text("[data-testid=selected-environment]", "Contoso (demo)")
        .await;
    s.screenshot("tile").await;
    s.close().await;
}

/// Issue 19 item 4: a read-only member follows every link the app shows them, from the workspace
/// and its environments down, and none answers 403 — no page shows "You do not have permission",
/// no request it makes is refused. What they may not do is shown disabled with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn a_readonly_member_sees_no_link_that_leads_to_a_403() {
    let s = Stack::start("readonly-links").await;
    // Something to look at: a backup set and its run, a synced inventory.
    s.sign_in("owner@demo.test").await;
    s.backup_now(CONTOSO).await;
    s.sign_out().await;
    s.sign_in("readonly@demo.test").await;

    // The restore pages answer 403 to readonly: the environment shows Restore disabled, with why.
    s.goto(CONTOSO).await;
    let restore = s.find("nav.subnav [data-testid=unavailable]").await;
    assert_eq!(restore.text().await.expect("text"), "Restore");
    let why = restore.attr("title").await.expect("attr").unwrap_or_default();
    assert!(
        why.contains("readonly") && why.contains("restore.preview"),
        "the reason names the role and the capability: {why:?}"
    );
    assert!(!s.exists(&format!("a[href^='{CONTOSO}/restores']")).await);
    s.wait_text("[data-testid=why-not]", "inventory.sync").await;
    assert_eq!(
        s.fetch_status("GET", "/api/v1/workspaces/ws-demo/environments/env-contoso/restores")
            .await,
        403,
        "the page the hidden link led to is refused"
    );
    s.screenshot("environment").await;

    // Every page reachable by links, once per shape of address (ids and family codes stand for
    // any), breadth first from the workspace.
    fn shape(path: &str) -> String {
        path.split('/')
            .map(|seg| {
                if seg.chars().any(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
                    "*"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
    let mut queue = std::collections::VecDeque::from([WS.to_owned(), CONTOSO.to_owned()]);
    let mut seen: std::collections::BTreeSet<String> = queue.iter().map(|p| shape(p)).collect();
    let mut visited = Vec::new();
    while let Some(path) = queue.pop_front() {
        s.goto(&path).await;
        let requests = s.settled_requests().await;
        let refused: Vec<&(String, u16)> = requests.iter().filter(|(_, status)| *status == 403).collect();
        assert!(refused.is_empty(), "{path} made requests answered 403: {refused:?}");
        assert!(
            !s.exists("[data-testid=forbidden]").await,
            "{path} shows the permission error"
        );
        // And, on the way, no page shows a raw internal code (issue 19 item 5).
        assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new(), "on {path}");
        let hrefs = s
            .browser
            .execute(
                "return [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));",
                vec![],
            )
            .await
            .expect("links");
        let hrefs: Vec<String> = serde_json::from_value(hrefs).expect("a list of links");
        for href in hrefs {
            let href = href.split(['?', '#']).next().unwrap_or_default().to_owned();
            if href.starts_with(WS) && seen.insert(shape(&href)) {
                queue.push_back(href);
            }
        }
        visited.push(path);
        assert!(visited.len() <= 80, "more pages than expected: {visited:#?}");
    }
    // The crawl reached the pages that matter, not just the first.
    for page in ["/operations/", "/backups/", "/members", "/findings", "/inventory"] {
        assert!(
            visited.iter().any(|p| p.contains(page)),
            "no page like {page} among {visited:#?}"
        );
    }
    assert!(
        !visited
            .iter()
            .any(|p| p.contains("/restores") || p.ends_with("/audit") || p.ends_with("/evidence")),
        "readonly was offered a link to a page it may not open: {visited:#?}"
    );
    s.close().await;
}

/// Issue 19 item 4, beyond read-only: a manager builds evidence packs but may not change the
/// workspace's evidence settings (an owner's); the save is disabled and says why, and the same PUT
/// sent from the page answers 403.
#[tokio::test(flavor = "multi_thread")]
async fn a_control_the_role_lacks_is_disabled_with_the_reason() {
    let s = Stack::start("role-reason").await;
    s.sign_in("manager@demo.test").await;
    s.goto(&format!("{WS}/evidence")).await;
    s.click("#evidence-settings summary").await;
    let save = s.find("#evidence-settings-save").await;
    assert_eq!(save.attr("disabled").await.expect("attr").as_deref(), Some("true"));
    let why = save.attr("title").await.expect("attr").unwrap_or_default();
    assert!(why.contains("manager") && why.contains("members.manage"), "{why:?}");
    s.wait_text("#evidence-settings [data-testid=why-not]", "members.manage")
        .await;
    assert_eq!(
        s.fetch_status("PUT", "/api/v1/workspaces/ws-demo/evidence/settings")
            .await,
        403
    );
    s.close().await;
}

/// The path the browser is on once it matches `pred` (a full page load may be under way).
async fn path_when(s: &Stack, what: &str, pred: impl Fn(&str) -> bool) -> String {
    poll(what, stack::DEADLINE, || async {
        let p = s.current_path().await;
        pred(&p).then_some(p)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_creates_a_workspace_and_onboards_an_environment_to_its_first_backup() {
    let s = Stack::start("onboarding").await;
    // A user of no workspace lands on the first-run page.
    s.sign_in("newcomer@demo.test").await;
    s.find("form[data-testid=create-workspace]").await;
    assert_eq!(s.current_path().await, "/welcome");
    s.fill("#ws-name", "Northwind MSP").await;
    s.screenshot("welcome").await;
    s.click("form[data-testid=create-workspace] button[type=submit]").await;
    s.wait_text("[data-testid=current-workspace]", "Northwind MSP").await;
    let ws = path_when(&s, "the new workspace's overview", |p| p.starts_with("/workspaces/ws-")).await;
    // Spec 338: the overview says it is workspace-wide.
    s.wait_attr("[data-testid=scope]", "data-scope", "workspace").await;
    s.wait_text("[data-testid=scope]", "Workspace-wide").await;

    // The wizard: the environment and its tenant by domain.
    s.click("[data-testid=add-environment] a").await;
    s.fill("#onb-name", "Fabrikam").await;
    s.fill("#onb-tenant", "fabrikam.demo.test").await;
    s.click("[data-testid=onboarding-start]").await;
    let steps = "[data-testid=onboarding-steps]";
    s.wait_attr(steps, "data-state", "consent").await;
    let draft = format!("{ws}/onboarding/env-fabrikam");
    assert_eq!(s.current_path().await, draft);
    // Resumable: the wizard's page lists the draft not finished yet, which opens it again.
    s.goto(&format!("{ws}/onboarding")).await;
    s.click("[data-testid=draft-env-fabrikam] a").await;
    s.wait_attr(steps, "data-state", "consent").await;
    s.screenshot("consent-step").await;
    // Consent on the tenant's own sign-in page (the simulator's); Entra sends the browser back
    // through the callback to the wizard, which now stands at verify.
    s.click("[data-testid=start-consent]").await;
    s.click("[data-testid=open-consent]").await;
    s.click("[data-testid=sign-in-global-admin]").await;
    s.wait_attr(steps, "data-state", "verify").await;
    assert_eq!(s.current_path().await, draft);
    s.click("[data-testid=onboarding-verify]").await;
    s.find("[data-testid=live-run]").await;
    s.wait_attr(steps, "data-state", "inventory").await;
    s.click("[data-testid=onboarding-inventory]").await;
    s.wait_attr(steps, "data-state", "backup").await;
    s.click("[data-testid=onboarding-backup]").await;
    // The first backup is followed live until it completes.
    s.find("[data-testid=live-run]").await;
    s.wait_attr(steps, "data-state", "done").await;
    s.find("[data-testid=onboarding-done]").await;
    s.find("[data-testid=onboarding-reason] .badge[data-status=ready]")
        .await;
    assert_eq!(s.raw_codes_on_screen().await, Vec::<&str>::new());
    s.screenshot("onboarded").await;
    // The environment is there, connected, with its backup; its pages say they are its own.
    s.click("[data-testid=onboarding-done] a.button").await;
    s.wait_attr("[data-testid=scope]", "data-scope", "environment").await;
    s.wait_text("[data-testid=scope]", "Fabrikam").await;
    s.goto(&format!("{ws}/environments/env-fabrikam/backups")).await;
    s.find("[data-testid=backup-sets] .badge[data-status=ready]").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invited_user_accepts_and_switches_workspaces() {
    let s = Stack::start("invitation").await;
    s.sign_in("owner@demo.test").await;
    s.goto(&format!("{WS}/members")).await;
    s.fill("#invite-email", "newcomer@demo.test").await;
    s.click("form[aria-label='Invite someone'] button[type=submit]").await;
    let link = s
        .find("[data-testid=invitation-link]")
        .await
        .attr("href")
        .await
        .expect("attr")
        .expect("the invitation link");
    let (_, tail) = link.split_once("/invitations/accept").expect("the accept page");
    assert!(tail.starts_with("#token="), "the token travels in the fragment: {link}");
    s.sign_out().await;

    // The invited user has a workspace of their own already.
    s.sign_in("newcomer@demo.test").await;
    s.fill("#ws-name", "Newcomer Lab").await;
    s.click("form[data-testid=create-workspace] button[type=submit]").await;
    s.wait_text("[data-testid=current-workspace]", "Newcomer Lab").await;
    // The link opens the accept page with the token filled in.
    s.goto(&format!("/invitations/accept{tail}")).await;
    s.find("form[data-testid=accept-invitation]").await;
    s.screenshot("accept").await;
    s.click("[data-testid=accept]").await;
    s.wait_text("[data-testid=current-workspace]", "Demo MSP").await;
    assert_eq!(s.current_path().await, WS);
    // Two workspaces now: the header switches between them.
    s.find("[data-testid=workspace-switcher]").await;
    let other = s
        .find("[data-testid=workspace-switcher] option:not([value='']):not([value='ws-demo'])")
        .await
        .attr("value")
        .await
        .expect("attr")
        .expect("the other workspace");
    s.select("[data-testid=workspace-switcher]", &other).await;
    s.wait_text("[data-testid=current-workspace]", "Newcomer Lab").await;
    assert_eq!(s.current_path().await, format!("/workspaces/{other}"));
    s.screenshot("switched").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archived_environment_shows_its_banner_and_refuses_a_backup() {
    let s = Stack::start("archived").await;
    s.sign_in("owner@demo.test").await;
    s.goto(CONTOSO).await;
    s.click(&format!("a[href='{CONTOSO}/settings']")).await;
    s.find("[data-testid=lifecycle][data-lifecycle=active]").await;
    s.click("[data-testid=archive]").await;
    s.find("form.confirm[aria-modal=true]").await;
    s.fill("#archive-confirm", "Contoso (demo)").await;
    s.click("form.confirm button[type=submit]").await;
    s.find("[data-testid=lifecycle][data-lifecycle=archived]").await;
    s.wait_text("[data-testid=lifecycle-banner]", "archived").await;
    // Its pages say why they are read-only, and a backup is refused by the server.
    s.goto(&format!("{CONTOSO}/backups")).await;
    s.wait_attr("[data-testid=lifecycle-banner]", "data-lifecycle", "archived")
        .await;
    s.wait_attr("[data-testid=scope]", "data-scope", "environment").await;
    s.click("[data-testid=run-backup]").await;
    s.wait_text(".form-error", "archived").await;
    assert!(!s.exists("[data-testid=live-run]").await, "no run started");
    assert_eq!(s.fetch_status("POST", &format!("/api/v1{CONTOSO}/backups")).await, 409);
    s.screenshot("archived-backups").await;
    s.goto(&format!("{CONTOSO}/inventory")).await;
    s.wait_attr("[data-testid=lifecycle-banner]", "data-lifecycle", "archived")
        .await;
    // Reactivated, the banner is gone.
    s.goto(&format!("{CONTOSO}/settings")).await;
    s.click("[data-testid=reactivate]").await;
    s.fill("#reactivate-confirm", "Contoso (demo)").await;
    s.click("form.confirm button[type=submit]").await;
    s.find("[data-testid=lifecycle][data-lifecycle=active]").await;
    assert!(!s.exists("[data-testid=lifecycle-banner]").await);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_backups_failed_items_are_retried_and_a_schedule_is_edited() {
    let s = Stack::start("retry-schedule").await;
    s.sign_in("owner@demo.test").await;
    s.set_faults(
        "contoso.demo.test",
        serde_json::json!({"forbidden_families": ["deviceCompliancePolicies"]}),
    )
    .await;
    s.backup_now(CONTOSO).await;
    s.set_faults("contoso.demo.test", serde_json::json!({})).await;
    let set = "[data-testid=backup-sets] tr[data-status=partial]";
    s.click(&format!("{set} td a")).await;
    // Retry: a new capture of only the refused family, followed on its run's page.
    s.click("[data-testid=retry-failed]").await;
    path_when(&s, "the retry's run page", |p| {
        p.starts_with(&format!("{WS}/operations/"))
    })
    .await;
    s.wait_attr("[data-testid=run-outcome]", "data-outcome", "succeeded")
        .await;
    s.wait_text("[data-testid=run-items]", "deviceCompliancePolicies").await;
    assert_eq!(
        s.count("[data-testid=run-items] tbody tr").await,
        1,
        "only the failed family"
    );
    s.screenshot("retried").await;

    // A schedule edited: the bad cron field is named next to it, then paused with a new cron.
    s.goto(&format!("{CONTOSO}/backups")).await;
    s.click("form[aria-label='New schedule'] button[type=submit]").await;
    s.click("[data-testid=schedules] a.button").await;
    s.find("form[data-testid=schedule-form]").await;
    s.fill("#edit-cron", "61 * * * *").await;
    s.click("form[data-testid=schedule-form] button[type=submit]").await;
    s.wait_text("#edit-cron-error", "minute").await;
    s.fill("#edit-cron", "30 2 * * *").await;
    s.click("#edit-enabled").await;
    s.click("form[data-testid=schedule-form] button[type=submit]").await;
    s.find("[data-testid=schedule-saved]").await;
    s.screenshot("schedule").await;
    s.goto(&format!("{CONTOSO}/backups")).await;
    s.wait_text("[data-testid=schedules]", "30 2 * * *").await;
    s.find("[data-testid=schedule-paused]").await;
    s.close().await;
}

/// Issue 18 item 4: a support request from a failed run. The run's page offers "Report a
/// problem"; the form shows what will be sent and confirms with the request's id; the e-mail
/// reaches the support address over SMTP (the SMTP sink the alert tests use) with the run's
/// context and no secret.
#[tokio::test(flavor = "multi_thread")]
async fn a_support_request_from_a_failed_run_arrives_by_email() {
    let sink = atlas_tests::smtp::SmtpSink::start();
    let s = Stack::start_with(
        "support",
        &[
            ("ATLAS_SMTP_URL", sink.url()),
            ("ATLAS_SUPPORT_ADDRESS", "helpdesk@atlas.example".into()),
        ],
    )
    .await;
    s.sign_in("owner@demo.test").await;
    // The tenant refuses one family: the backup's run ends with a failed unit.
    s.set_faults(
        "contoso.demo.test",
        serde_json::json!({"forbidden_families": ["deviceCompliancePolicies"]}),
    )
    .await;
    s.backup_now(CONTOSO).await;
    s.goto(&format!("{WS}/operations?operation_type=backup.capture")).await;
    s.click("[data-testid=run-table] tr[data-type='backup.capture'] a")
        .await;
    s.wait_attr("[data-testid=run-outcome]", "data-outcome", "partially_succeeded")
        .await;
    let run = s.current_path().await.rsplit('/').next().unwrap_or_default().to_owned();
    s.click(".page-head a[href*='/support']").await;
    s.wait_text("[data-testid=support-about-run]", "1 failed").await;
    s.screenshot("form").await;
    s.fill(
        "#support-message",
        "The compliance policies were not backed up. My password=Hunter2 is fine.",
    )
    .await;
    s.click("#support-send").await;
    let id = s.wait_text("[data-testid=support-request-id]", "").await;
    assert!(!id.is_empty());
    s.screenshot("confirmation").await;
    let mail = poll("the support e-mail", stack::DEADLINE, || async {
        sink.received().into_iter().next()
    })
    .await;
    assert_eq!(mail.rcpt_tos, ["helpdesk@atlas.example"]);
    let text = mail.data.replace("=\r\n", "").replace("=3D", "=");
    for want in [
        id.as_str(),
        run.as_str(),
        "deviceCompliancePolicies",
        "owner@demo.test",
        "technical_problem",
    ] {
        assert!(text.contains(want), "{want} in the e-mail: {text}");
    }
    assert!(!text.contains("Hunter2"), "a secret in the e-mail: {text}");
    assert_eq!(sink.received().len(), 1);
    s.close().await;
}

/// Issue 18 item 5: the platform operator searches runs across two workspaces and opens a
/// failure's drill-down; a workspace owner gets 404 on `/system`, from the API and on the page,
/// and no link to it.
#[tokio::test(flavor = "multi_thread")]
async fn a_platform_operator_searches_runs_across_workspaces() {
    let s = Stack::start("system").await;
    // A run in each workspace, each started by its owner.
    s.sign_in("owner@demo.test").await;
    s.backup_now(CONTOSO).await;
    assert!(
        !s.exists("a[href='/system']").await,
        "no console link for a workspace owner"
    );
    assert_eq!(s.fetch_status("GET", "/api/v1/system/runs").await, 404);
    s.goto("/system").await;
    s.find("[data-testid=not-found]").await;
    assert!(!s.exists("[data-testid=system-runs]").await);
    s.sign_out().await;
    // The other workspace's owner builds an evidence pack: a run in ws-other.
    s.sign_in("outsider@other.test").await;
    let to = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as i64;
    let body = serde_json::json!({"from": to - 86_400_000, "to": to});
    assert_eq!(s.post_status("/api/v1/workspaces/ws-other/evidence", body).await, 202);
    s.sign_out().await;

    s.sign_in("platform@demo.test").await;
    s.click("a[href='/system']").await;
    let row = "[data-testid=system-runs] tr[data-ws=ws-demo]";
    s.find(row).await;
    s.find("[data-testid=system-runs] tr[data-ws=ws-other]").await;
    s.screenshot("console").await;
    // Filtered to one workspace: only its runs.
    s.fill("#system-workspace", "ws-demo").await;
    s.press('\u{E007}').await;
    poll("the workspace filter", stack::DEADLINE, || async {
        (s.current_path().await == "/system" && s.count("[data-testid=system-runs] tr[data-ws=ws-other]").await == 0)
            .then_some(())
    })
    .await;
    // The last 24 hours still hold it (the window is sent as `since`).
    s.select("#system-days", "1").await;
    s.find(row).await;
    s.click(&format!("{row} button")).await;
    s.find("[data-testid=system-run-detail]").await;
    s.screenshot("drill-down").await;
    s.close().await;
}
