//! Integration tests against real servers (see tests/run.sh).
