//! The `coffer` command-line tool (under construction).

fn main() {}
