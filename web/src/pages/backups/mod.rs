//! Backups: run now with live progress, sets (status honest: partial and failed say so), a
//! compare of two sets, and the schedule editor with its next runs and retention. One file per
//! page; the schedules panel is part of the list page.

mod diff;
mod item;
mod list;
mod schedules;
mod set;

pub use diff::BackupDiffPage;
pub use item::BackupItemPage;
pub use list::BackupsPage;
pub use set::BackupSetPage;
