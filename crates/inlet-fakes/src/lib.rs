//! Faithful fakes of the SaaS APIs inlet syncs from, for tests, benchmarks and `inlet demo`.
