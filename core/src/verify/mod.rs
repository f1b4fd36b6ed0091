//! verify (under construction).
