//! seal (under construction).
