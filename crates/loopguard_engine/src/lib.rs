//! loopguard_engine
