//! The one list table (issue 19 item 3, "tables that scale"): column headers that sort (with
//! `aria-sort`), a search per searchable column applied as you type (debounced 250 ms), the active
//! filters as chips with a remove ×, a row count and pages of the loaded rows. The page gives rows
//! of cells, each with what it shows, how it sorts and the text its column search reads; filters
//! of the page itself (the URL's, sent to the API) join the chips through `chips`.

use std::rc::Rc;

use gloo_timers::callback::Timeout;
use yew::prelude::*;
use yew::virtual_dom::VTag;

/// How long typing must pause before a column search applies.
pub const DEBOUNCE_MS: u32 = 250;

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub label: &'static str,
    /// Offers a search field under the header.
    pub search: bool,
    /// Right-aligned.
    pub num: bool,
}

impl Column {
    pub const fn new(label: &'static str) -> Self {
        Self {
            label,
            search: false,
            num: false,
        }
    }

    pub const fn searchable(label: &'static str) -> Self {
        Self {
            label,
            search: true,
            num: false,
        }
    }

    pub const fn num(label: &'static str) -> Self {
        Self {
            label,
            search: false,
            num: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub view: Html,
    /// Compared to sort; numbers and times as zero-padded text (see [`sort_num`]).
    pub sort: String,
    /// What the column search matches (case aside) and the CSV export writes.
    pub text: String,
}

impl Cell {
    /// A cell shown, sorted and searched as `text`.
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            view: html! { <>{ text.clone() }</> },
            sort: text.to_lowercase(),
            text,
        }
    }

    /// A cell showing `view`, sorted and searched as `text`.
    pub fn view(view: Html, text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            view,
            sort: text.to_lowercase(),
            text,
        }
    }

    /// Sorted by `key` (see [`sort_num`]) rather than its text.
    pub fn sort_by(mut self, key: String) -> Self {
        self.sort = key;
        self
    }
}

/// A number as text that sorts as the number does (times in ms, counts).
pub fn sort_num(n: i64) -> String {
    // Offset so negatives sort first, then zero-padded.
    format!("{:020}", i128::from(n) + i128::from(i64::MAX) + 1)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    /// `data-*` attributes of the row (name without `data-`), for tests and styles.
    pub data: Vec<(&'static str, String)>,
}

/// A filter the page applies (sent to the API), shown as a chip whose × removes it.
#[derive(Clone, PartialEq)]
pub struct Chip {
    pub label: String,
    pub remove: Callback<()>,
}

#[derive(Properties, PartialEq)]
pub struct DataTableProps {
    pub testid: AttrValue,
    /// What the table calls a row in its count ("items", "events", "runs", "sets").
    pub noun: AttrValue,
    pub columns: Rc<Vec<Column>>,
    pub rows: Rc<Vec<Row>>,
    #[prop_or_default]
    pub chips: Vec<Chip>,
    /// Rows per page.
    #[prop_or(50)]
    pub page_size: usize,
    /// The column sorted first, and whether descending (newest first for times).
    #[prop_or_default]
    pub initial_sort: Option<(usize, bool)>,
    /// More rows exist on the server (a cursor): the count says "loaded".
    #[prop_or_default]
    pub more: bool,
    /// Offers a CSV download of the rows the filters keep (every page), under this file name.
    #[prop_or_default]
    pub export: Option<AttrValue>,
    /// Shown when the filters leave no row.
    #[prop_or(AttrValue::Static("No row matches these filters."))]
    pub empty: AttrValue,
}

/// The rows of `rows` the searches keep, in the sort's order: indexes into `rows`.
pub fn visible(rows: &[Row], searches: &[String], sort: Option<(usize, bool)>) -> Vec<usize> {
    let mut keep: Vec<usize> = (0..rows.len())
        .filter(|&r| {
            searches.iter().enumerate().all(|(c, s)| {
                let s = s.trim().to_lowercase();
                s.is_empty()
                    || rows[r]
                        .cells
                        .get(c)
                        .is_some_and(|cell| cell.text.to_lowercase().contains(&s))
            })
        })
        .collect();
    if let Some((col, desc)) = sort {
        keep.sort_by(|&a, &b| {
            let key = |r: usize| rows[r].cells.get(col).map(|c| c.sort.as_str()).unwrap_or_default();
            let o = key(a).cmp(key(b));
            if desc { o.reverse() } else { o }
        });
    }
    keep
}

/// One CSV field: quoted when it must be, and a leading `=`, `+`, `-` or `@` defused so a
/// spreadsheet never reads it as a formula.
pub fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// The header and the kept rows as CSV.
pub fn to_csv(columns: &[Column], rows: &[Row], keep: &[usize]) -> String {
    let line = |cells: Vec<String>| cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",");
    let mut out = line(columns.iter().map(|c| c.label.to_owned()).collect());
    out.push_str("\r\n");
    for &r in keep {
        out.push_str(&line(rows[r].cells.iter().map(|c| c.text.clone()).collect()));
        out.push_str("\r\n");
    }
    out
}

/// "42 items", or "Showing 51–100 of 142 items" when paged; "loaded" when the server has more.
pub fn count_text(noun: &str, shown: usize, total: usize, start: usize, page: usize, more: bool) -> String {
    let loaded = if more { " loaded" } else { "" };
    if total <= page {
        // "1 item", "1 event": the noun is plural, its singular drops the "s".
        let noun = if total == 1 {
            noun.strip_suffix('s').unwrap_or(noun)
        } else {
            noun
        };
        return format!("{total} {noun}{loaded}");
    }
    format!(
        "Showing {}\u{2013}{} of {total} {noun}{loaded}",
        start + 1,
        start + shown
    )
}

#[component]
pub fn DataTable(props: &DataTableProps) -> Html {
    let n = props.columns.len();
    // What each column's field holds, and what is applied (after the debounce).
    let drafts = use_state(|| vec![String::new(); n]);
    let applied = use_state(|| vec![String::new(); n]);
    let sort = use_state(|| props.initial_sort);
    let page = use_state(|| 0usize);
    let timer = use_mut_ref(|| None::<Timeout>);
    // Each search field keeps its own value (a render never puts back an older one while typing);
    // a chip's × empties one by mounting it again, under a new key.
    let generation = use_state(|| vec![0u32; n]);

    let rows = &props.rows;
    let keep = visible(rows, &applied, *sort);
    let pages = keep.len().div_ceil(props.page_size.max(1)).max(1);
    let current = (*page).min(pages - 1);
    let start = current * props.page_size;
    let shown: Vec<usize> = keep.iter().copied().skip(start).take(props.page_size).collect();

    let apply: Rc<dyn Fn(usize, String, bool)> = {
        let (drafts, applied, page, timer, generation) = (
            drafts.clone(),
            applied.clone(),
            page.clone(),
            timer.clone(),
            generation.clone(),
        );
        Rc::new(move |c: usize, v: String, delay: bool| {
            if !delay {
                let mut g = (*generation).clone();
                if let Some(slot) = g.get_mut(c) {
                    *slot += 1;
                }
                generation.set(g);
            }
            let mut d = (*drafts).clone();
            if let Some(slot) = d.get_mut(c) {
                *slot = v;
            }
            drafts.set(d.clone());
            let (applied, page) = (applied.clone(), page.clone());
            let run = move || {
                applied.set(d);
                page.set(0);
            };
            if delay {
                *timer.borrow_mut() = Some(Timeout::new(DEBOUNCE_MS, run));
            } else {
                timer.borrow_mut().take();
                run();
            }
        })
    };
    let header = |c: usize, col: &Column| {
        let state = match *sort {
            Some((s, false)) if s == c => "ascending",
            Some((s, true)) if s == c => "descending",
            _ => "none",
        };
        let onclick = {
            let (sort, page) = (sort.clone(), page.clone());
            Callback::from(move |_: MouseEvent| {
                let next = match *sort {
                    Some((s, desc)) if s == c => Some((c, !desc)),
                    _ => Some((c, false)),
                };
                sort.set(next);
                page.set(0);
            })
        };
        let arrow = match state {
            "ascending" => "\u{25b2}",
            "descending" => "\u{25bc}",
            _ => "\u{21c5}",
        };
        html! {
            <th scope="col" aria-sort={state} class={classes!(col.num.then_some("num"))}>
                <button type="button" class="th-sort" {onclick} data-col={c.to_string()}>
                    { col.label }<span class="th-sort__arrow" aria-hidden="true">{ arrow }</span>
                </button>
            </th>
        }
    };
    let search_cell = |c: usize, col: &Column| {
        if !col.search {
            return html! { <td></td> };
        }
        let oninput = {
            let apply = apply.clone();
            Callback::from(move |e: InputEvent| apply(c, crate::components::field::value_of(&e), true))
        };
        html! {
            <td><input type="search" class="th-search" data-col={c.to_string()} key={format!("{c}-{}", generation.get(c).copied().unwrap_or_default())}
                aria-label={format!("Search {}", col.label)} placeholder={format!("Search {}", col.label.to_lowercase())} {oninput} /></td>
        }
    };
    let column_chips = props.columns.iter().enumerate().filter_map(|(c, col)| {
        let v = applied.get(c)?.trim().to_owned();
        (!v.is_empty()).then(|| {
            let apply = apply.clone();
            (
                format!("{}: {v}", col.label),
                Callback::from(move |()| apply(c, String::new(), false)),
            )
        })
    });
    let chips: Vec<(String, Callback<()>)> = props
        .chips
        .iter()
        .map(|c| (c.label.clone(), c.remove.clone()))
        .chain(column_chips)
        .collect();
    let any_search = props.columns.iter().any(|c| c.search);
    let count = count_text(&props.noun, shown.len(), keep.len(), start, props.page_size, props.more);
    let go = |to: usize| {
        let page = page.clone();
        Callback::from(move |_: MouseEvent| page.set(to))
    };
    let export = props.export.clone().map(|file| {
        let (columns, rows, keep) = (props.columns.clone(), props.rows.clone(), keep.clone());
        Callback::from(move |_: MouseEvent| {
            crate::components::csv::save(&to_csv(&columns, &rows, &keep), &file, "text/csv");
        })
    });
    html! {
        <div class="data-table" data-testid={props.testid.clone()}>
            <div class="data-table__bar">
                <p class="data-table__count" data-testid="row-count" aria-live="polite">{ count }</p>
                if let Some(onclick) = export {
                    <button type="button" class="button button--quiet" data-testid="table-export" {onclick}>{ "Download CSV" }</button>
                }
                if !chips.is_empty() {
                    <ul class="chips" aria-label="Active filters" data-testid="filter-chips">
                        { for chips.into_iter().map(|(label, remove)| html! {
                            <li class="chip chip--active" data-testid="filter-chip">{ label.clone() }
                                <button type="button" class="chip__remove" aria-label={format!("Remove filter {label}")}
                                    onclick={remove.reform(|_: MouseEvent| ())}>{ "\u{d7}" }</button>
                            </li>
                        }) }
                    </ul>
                }
            </div>
            <div class="table-wrap"><table class="table">
                <thead>
                    <tr>{ for props.columns.iter().enumerate().map(|(c, col)| header(c, col)) }</tr>
                    if any_search {
                        <tr class="data-table__search">{ for props.columns.iter().enumerate().map(|(c, col)| search_cell(c, col)) }</tr>
                    }
                </thead>
                <tbody>
                    { for shown.iter().map(|&r| row_view(&rows[r], &props.columns)) }
                    if keep.is_empty() {
                        <tr><td colspan={n.to_string()} class="muted">{ props.empty.clone() }</td></tr>
                    }
                </tbody>
            </table></div>
            if pages > 1 {
                <nav class="pager" aria-label="Pages">
                    <button type="button" class="button button--quiet" disabled={current == 0} onclick={go(current.saturating_sub(1))}>{ "Previous" }</button>
                    <span>{ format!(" Page {} of {pages} ", current + 1) }</span>
                    <button type="button" class="button button--quiet" disabled={current + 1 >= pages} onclick={go(current + 1)}>{ "Next" }</button>
                </nav>
            }
        </div>
    }
}

fn row_view(row: &Row, columns: &[Column]) -> Html {
    let mut tr = VTag::new("tr");
    for (k, v) in &row.data {
        tr.add_attribute(data_attr(k), v.clone());
    }
    for (c, cell) in row.cells.iter().enumerate() {
        let num = columns.get(c).is_some_and(|col| col.num);
        tr.add_child(html! { <td class={classes!(num.then_some("num"))}>{ cell.view.clone() }</td> });
    }
    tr.into()
}

/// `data-{k}` as the `'static` name an attribute needs (the few names the pages use).
fn data_attr(k: &str) -> &'static str {
    match k {
        "item" => "data-item",
        "action" => "data-action",
        "outcome" => "data-outcome",
        "run" => "data-run",
        "type" => "data-type",
        "status" => "data-status",
        "family" => "data-family",
        "set" => "data-set",
        _ => "data-row",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(a: &str, n: i64) -> Row {
        Row {
            cells: vec![Cell::text(a), Cell::text(n.to_string()).sort_by(sort_num(n))],
            data: vec![],
        }
    }

    #[test]
    fn searches_narrow_and_sorts_order() {
        let rows = vec![row("Beta", 10), row("alpha", 9), row("Gamma", -1)];
        assert_eq!(
            visible(&rows, &[String::new(), String::new()], Some((0, false))),
            vec![1, 0, 2]
        );
        assert_eq!(
            visible(&rows, &[String::new(), String::new()], Some((0, true))),
            vec![2, 0, 1]
        );
        assert_eq!(
            visible(&rows, &[String::new(), String::new()], Some((1, false))),
            vec![2, 1, 0]
        );
        assert_eq!(visible(&rows, &["a".into(), String::new()], None), vec![0, 1, 2]);
        assert_eq!(visible(&rows, &["  GAM ".into(), String::new()], None), vec![2]);
    }

    #[test]
    fn csv_quotes_and_defuses() {
        let rows = vec![row("a, \"b\"", 1), row("=cmd", -2)];
        let cols = vec![Column::searchable("Name"), Column::num("N")];
        assert_eq!(
            to_csv(&cols, &rows, &[1, 0]),
            "Name,N\r\n'=cmd,'-2\r\n\"a, \"\"b\"\"\",1\r\n"
        );
    }

    #[test]
    fn counts_say_what_is_shown() {
        assert_eq!(count_text("items", 42, 42, 0, 50, false), "42 items");
        assert_eq!(count_text("items", 1, 1, 0, 50, false), "1 item");
        assert_eq!(
            count_text("items", 50, 120, 50, 50, true),
            "Showing 51\u{2013}100 of 120 items loaded"
        );
    }
}
