//! SPEC §6.position — being written.
