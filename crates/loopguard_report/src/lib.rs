//! loopguard_report
