//! SPEC §6 plan — being written.
