//! loopguard_python
