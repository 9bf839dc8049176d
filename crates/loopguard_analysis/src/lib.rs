//! loopguard_analysis
