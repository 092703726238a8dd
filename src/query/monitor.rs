//! SPEC §6.monitor — being written.
