//! A scrape target farm on loopback: many targets, changing series, faults.
