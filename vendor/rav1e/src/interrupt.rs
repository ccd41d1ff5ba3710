// conveyor: this module is not in upstream rav1e 0.8.1 (see CONVEYOR.md).

//! Stopping an encode that runs on the caller's thread.
//!
//! [`with_check`] runs a closure (an encode through [`Context`]) with a check that
//! the encoder asks as it goes: between superblocks, between rows of the loop
//! filters, in the lookahead. When the check answers `true`, the encoder unwinds at
//! once with an [`Interrupted`] payload (through [`std::panic::resume_unwind`], so
//! no panic hook runs and nothing is printed); the caller catches it with
//! [`std::panic::catch_unwind`] and drops the context.
//!
//! The check is kept in a thread-local, so it is only asked by work on the thread
//! that called [`with_check`]: build rav1e without its `threading` feature (then
//! every stage runs on the caller's thread) for the check to reach the whole encode.
//! Without a check (outside [`with_check`]) the encoder behaves as upstream.
//!
//! [`Context`]: crate::prelude::Context

use std::cell::Cell;

/// The payload an encode unwinds with when its check asked it to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

type CheckPtr = *const (dyn Fn() -> bool + 'static);

thread_local! {
  static CHECK: Cell<Option<CheckPtr>> = const { Cell::new(None) };
  static SITE: Cell<&'static str> = const { Cell::new("") };
}

/// Where the encoder on this thread last asked its check (a function name), for
/// measuring the gaps between asks.
pub fn last_site() -> &'static str {
  SITE.with(Cell::get)
}

/// Puts the previous check back when [`with_check`] returns or unwinds.
struct Restore(Option<CheckPtr>);

impl Drop for Restore {
  fn drop(&mut self) {
    CHECK.with(|c| c.set(self.0));
  }
}

/// Runs `f` with `check` asked by every encoder stage that runs on this thread.
///
/// When `check` returns `true`, the stage asking unwinds with [`Interrupted`]; that
/// unwind leaves `f` (this function does not catch it).
pub fn with_check<R>(check: &dyn Fn() -> bool, f: impl FnOnce() -> R) -> R {
  let ptr: *const (dyn Fn() -> bool + '_) = check;
  // SAFETY: only the lifetime is erased. The pointer is stored in this thread's
  // `CHECK` for the length of `f` only: `Restore` takes it out again when `f`
  // returns or unwinds, before `check`'s borrow ends, so `poll` never calls it
  // after it is gone.
  let ptr: CheckPtr = unsafe { std::mem::transmute(ptr) };
  let _restore = Restore(CHECK.with(|c| c.replace(Some(ptr))));
  f()
}

/// Asks the current check, if any, from `site`; unwinds with [`Interrupted`] when
/// it says stop. Public for code that prepares the encoder's input on the same
/// thread (ravif's colour conversion, vendored in conveyor).
#[inline]
pub fn poll(site: &'static str) {
  let stop = CHECK.with(|c| match c.get() {
    // SAFETY: a pointer in `CHECK` is alive: `with_check` removes it before the
    // borrow it was made from ends.
    Some(check) => {
      SITE.with(|s| s.set(site));
      unsafe { (*check)() }
    }
    None => false,
  });
  if stop {
    std::panic::resume_unwind(Box::new(Interrupted));
  }
}
