//! One integration-test binary: every test starts the real sandbox and talks HTTP/TLS to it.

mod support;

mod admin;
