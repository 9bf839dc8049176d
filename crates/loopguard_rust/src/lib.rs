//! loopguard_rust
