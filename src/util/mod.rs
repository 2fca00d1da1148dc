//! Small helpers with no media knowledge.

pub(crate) mod log;
pub(crate) mod memhint;
pub(crate) mod time;
