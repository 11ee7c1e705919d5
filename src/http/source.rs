//! Answers made as they are sent (a generated document of any size), never held whole.

use bytes::Bytes;

/// An answer made as it is sent, for [`super::Pieces::Made`].
pub trait Source: Send + Sync + std::fmt::Debug {
    /// Its length in bytes.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Its bytes from `offset` on: at least one and at most about `max` while `offset` is
    /// before the end, none after.
    fn chunk(&self, offset: usize, max: usize) -> Bytes;
}

/// How much of a [`super::Pieces::Made`] answer one frame carries.
pub(super) const MADE_FRAME: usize = 64 * 1024;
