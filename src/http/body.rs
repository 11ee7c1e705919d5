//! The response body type: most answers are one buffer, held as it is; only a stream is boxed.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::BoxBody;

use super::BoxError;

/// Every response body the sandbox sends: buffered bytes (a PDS read, an `OperationOutcome`,
/// a Bundle), or a stream (SSP's forwarded answer, the live journal, a document made as it is
/// sent). A buffer is not boxed: boxing it would cost every answer an allocation and a call
/// through a vtable for each frame.
pub struct Body(Kind);

enum Kind {
    /// The whole answer; `None` once it has been sent.
    Buffer(Option<Bytes>),
    Stream(BoxBody<Bytes, BoxError>),
}

impl Body {
    /// A body of one buffer.
    pub(crate) fn buffer(bytes: Bytes) -> Self {
        Self(Kind::Buffer(Some(bytes).filter(|b| !b.is_empty())))
    }

    /// A body sent frame by frame as `stream` makes them.
    pub(crate) fn stream<B>(stream: B) -> Self
    where
        B: http_body::Body<Data = Bytes, Error = BoxError> + Send + Sync + 'static,
    {
        Self(Kind::Stream(BoxBody::new(stream)))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Kind::Buffer(bytes) => f
                .debug_tuple("Body::Buffer")
                .field(&bytes.as_ref().map_or(0, Bytes::len))
                .finish(),
            Kind::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Kind::Buffer(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(stream) => Pin::new(stream).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Buffer(bytes) => bytes.is_none(),
            Kind::Stream(stream) => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Buffer(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Stream(stream) => stream.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_buffer_is_one_frame_with_its_exact_length() {
        let body = Body::buffer(Bytes::from_static(b"{\"resourceType\":\"Patient\"}"));
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(26));
        assert!(!http_body::Body::is_end_stream(&body));
        let bytes = body.collect().await.map(|c| c.to_bytes()).ok();
        assert_eq!(
            bytes.as_deref(),
            Some(&b"{\"resourceType\":\"Patient\"}"[..])
        );
    }

    #[tokio::test]
    async fn an_empty_buffer_has_ended_before_it_is_sent() {
        let body = Body::buffer(Bytes::new());
        assert!(http_body::Body::is_end_stream(&body));
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(0));
        let bytes = body.collect().await.map(|c| c.to_bytes()).ok();
        assert_eq!(bytes.as_deref(), Some(&b""[..]));
    }

    #[tokio::test]
    async fn a_stream_is_passed_through() {
        let inner = http_body_util::Full::new(Bytes::from_static(b"abc"))
            .map_err(|never: std::convert::Infallible| match never {});
        let body = Body::stream(inner);
        let bytes = body.collect().await.map(|c| c.to_bytes()).ok();
        assert_eq!(bytes.as_deref(), Some(&b"abc"[..]));
    }
}
