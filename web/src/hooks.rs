//! Hooks every page uses: load something from the API (with reload), page through a list, and poll.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::ApiError;

/// What a page shows: loading, the data, or why it failed.
#[derive(Debug, PartialEq)]
pub enum Load<T: ?Sized> {
    Loading,
    Ready(Rc<T>),
    Failed(ApiError),
}

impl<T: ?Sized> Clone for Load<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Loading => Self::Loading,
            Self::Ready(v) => Self::Ready(v.clone()),
            Self::Failed(e) => Self::Failed(e.clone()),
        }
    }
}

impl<T> Load<T> {
    /// Why the load failed, if it did.
    pub fn failed(&self) -> Option<&ApiError> {
        match self {
            Self::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub fn ready(&self) -> Option<&T> {
        match self {
            Self::Ready(v) => Some(v),
            _ => None,
        }
    }
}

pub struct Loaded<T> {
    pub state: Load<T>,
    /// Fetches again, keeping the current data on screen until the answer arrives (no flicker
    /// while polling).
    pub reload: Callback<()>,
}

impl<T> Loaded<T> {
    /// A field error of the failed load (bad filter values), for the filter's control.
    pub fn field_error(&self, name: &str) -> Option<String> {
        match &self.state {
            Load::Failed(e) => e.field(name),
            _ => None,
        }
    }
}

/// A fetch with its future boxed and its answer type erased, so the loading machinery is compiled
/// once per kind of `deps` rather than once per call site.
type Fetch<D> = Rc<dyn Fn(D) -> Erased>;

type Erased = Pin<Box<dyn Future<Output = Result<Rc<dyn Any>, ApiError>>>>;

/// Loads `fetch(deps)` whenever `deps` change; answers to superseded requests are dropped.
#[hook]
pub fn use_load<T, D, F, Fut>(deps: D, fetch: F) -> Loaded<T>
where
    T: 'static,
    D: PartialEq + Clone + 'static,
    F: Fn(D) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let erased: Fetch<D> = Rc::new(move |d| erase::<T>(Box::pin(fetch(d))));
    let (state, reload) = use_load_erased(deps, erased);
    let state = match state {
        Load::Loading => Load::Loading,
        Load::Failed(e) => Load::Failed(e),
        // Only this hook's fetch fills the state, so the answer is always a `T`.
        Load::Ready(v) => v.downcast::<T>().map_or(Load::Loading, Load::Ready),
    };
    Loaded { state, reload }
}

/// The answer of a boxed typed fetch as `Rc<dyn Any>`: compiled once per answer type, where an
/// `async` block in `use_load` would be compiled once per call site.
fn erase<T: 'static>(typed: Pin<Box<dyn Future<Output = Result<T, ApiError>>>>) -> Erased {
    Box::pin(async move { typed.await.map(|v| Rc::new(v) as Rc<dyn Any>) })
}

#[hook]
fn use_load_erased<D>(deps: D, fetch: Fetch<D>) -> (Load<dyn Any>, Callback<()>)
where
    D: PartialEq + Clone + 'static,
{
    let state = use_state(|| Load::<dyn Any>::Loading);
    let generation = use_mut_ref(|| Rc::new(Cell::new(0u32)));
    let tick = use_reducer(|| Tick(0));
    let last_deps = use_mut_ref(|| None::<D>);
    {
        let state = state.clone();
        let generation = generation.borrow().clone();
        use_effect_with((deps, tick.0), move |(deps, _)| {
            let changed = last_deps.borrow().as_ref() != Some(deps);
            if changed {
                *last_deps.borrow_mut() = Some(deps.clone());
                state.set(Load::Loading);
            }
            let mine = generation.get().wrapping_add(1);
            generation.set(mine);
            let request = fetch(deps.clone());
            spawn_local(async move {
                let result = request.await;
                if generation.get() == mine {
                    state.set(match result {
                        Ok(v) => Load::Ready(v),
                        Err(e) => Load::Failed(e),
                    });
                }
            });
        });
    }
    let reload = {
        let tick = tick.dispatcher();
        Callback::from(move |()| tick.dispatch(()))
    };
    ((*state).clone(), reload)
}

/// A counter bumped relative to its current value, so any clone of the dispatcher reloads.
#[derive(PartialEq)]
struct Tick(u32);

impl Reducible for Tick {
    type Action = ();
    fn reduce(self: Rc<Self>, (): ()) -> Rc<Self> {
        Rc::new(Tick(self.0.wrapping_add(1)))
    }
}

/// Calls `tick` every `ms` while `active`.
#[hook]
pub fn use_interval(ms: u32, active: bool, tick: Callback<()>) {
    // The latest callback, so an interval started earlier never calls a stale one.
    let latest = use_mut_ref(|| tick.clone());
    *latest.borrow_mut() = tick;
    let tick = latest;
    use_effect_with(active, move |active| {
        let interval = active.then(|| Interval::new(ms, move || tick.borrow().emit(())));
        move || drop(interval)
    });
}

/// The items a cursor-paged list fetched after its first page ("Load more"), the cursor for the
/// next, and why the last fetch failed.
pub struct More<T: Clone + 'static> {
    state: UseReducerHandle<Paging<T>>,
    /// Fetches the page after the last one shown and appends it.
    pub load: Callback<MouseEvent>,
}

impl<T: Clone + 'static> More<T> {
    pub fn items(&self) -> &[T] {
        &self.state.items
    }

    /// Whether there is a page to load.
    pub fn has_next(&self) -> bool {
        self.state.next.is_some()
    }

    pub fn error(&self) -> Option<ApiError> {
        self.state.error.clone()
    }
}

struct Paging<T> {
    items: Vec<T>,
    next: Option<String>,
    error: Option<ApiError>,
}

enum PagingAction<T> {
    /// A new first page (new filters, a reload): start over from its cursor.
    Reset(Option<String>),
    Loaded(Vec<T>, Option<String>),
    Failed(ApiError),
}

impl<T: Clone> Reducible for Paging<T> {
    type Action = PagingAction<T>;

    fn reduce(self: Rc<Self>, action: PagingAction<T>) -> Rc<Self> {
        let mut s = Paging {
            items: self.items.clone(),
            next: self.next.clone(),
            error: self.error.clone(),
        };
        match action {
            PagingAction::Reset(next) => {
                s.items = Vec::new();
                s.next = next;
            }
            PagingAction::Loaded(items, next) => {
                s.items.extend(items);
                s.next = next;
            }
            PagingAction::Failed(e) => s.error = Some(e),
        }
        Rc::new(s)
    }
}

/// Paging after a first page loaded with [`use_load`]: `first_next` is that page's cursor;
/// `fetch(cursor)` answers a page's items and the cursor after it.
#[hook]
pub fn use_more<T, F, Fut>(first_next: Option<String>, fetch: F) -> More<T>
where
    T: Clone + 'static,
    F: Fn(String) -> Fut + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), ApiError>> + 'static,
{
    let state = use_reducer(|| Paging {
        items: Vec::new(),
        next: None,
        error: None,
    });
    {
        let dispatch = state.dispatcher();
        use_effect_with(first_next, move |n| dispatch.dispatch(PagingAction::Reset(n.clone())));
    }
    let load = {
        let (dispatch, next) = (state.dispatcher(), state.next.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(cursor) = next.clone() else { return };
            let (dispatch, page) = (dispatch.clone(), fetch(cursor));
            spawn_local(async move {
                dispatch.dispatch(match page.await {
                    Ok((items, next)) => PagingAction::Loaded(items, next),
                    Err(e) => PagingAction::Failed(e),
                })
            });
        })
    };
    More { state, load }
}
