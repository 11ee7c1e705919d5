//! Spine Secure Proxy (`shared/spec/ssp.md`).

use std::net::SocketAddr;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::fhir::{FhirError, OutcomeStyle};
use crate::http::{Acceptor, Body, boxed};
use crate::sandbox::Shared;

#[derive(Clone)]
pub struct SspAcceptor;

impl SspAcceptor {
    pub fn new(shared: &Shared) -> Result<Self, String> {
        let _ = shared;
        Ok(Self)
    }
}

impl Acceptor for SspAcceptor {
    type Stream = tokio::net::TcpStream;
    type Peer = ();
    async fn accept(&self, tcp: tokio::net::TcpStream) -> std::io::Result<(Self::Stream, ())> {
        Ok((tcp, ()))
    }
}

#[derive(Clone)]
pub struct SspService;

impl SspService {
    pub fn new(shared: &Shared) -> Self {
        let _ = shared;
        Self
    }

    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: (),
        remote: SocketAddr,
    ) -> Response<Body> {
        let _ = (peer, remote);
        boxed(
            FhirError::not_implemented(format!("SSP {} is being built", req.uri()))
                .to_response(OutcomeStyle::Ssp),
        )
    }
}
